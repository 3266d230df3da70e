// Epoch-based reclamation: nothing retired is reclaimed while a guard that was open at retirement is still open.
#include "embpf/runtime/epoch.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

struct Tracked {
    explicit Tracked(std::atomic<int>& counter) : deleted(counter) {}
    ~Tracked() { ++deleted; }
    std::atomic<int>& deleted;
};

struct Node {
    Retired retired;
    std::atomic<int>* reclaimed;
};

void reclaim_node(Retired* retired) {
    auto* node = reinterpret_cast<Node*>(retired);
    ++*node->reclaimed;
    delete node;
}

} // namespace

TEST_CASE("runtime epoch: guards nest") {
    CHECK_FALSE(in_epoch_guard());
    {
        EpochGuard outer;
        CHECK(in_epoch_guard());
        {
            EpochGuard inner;
            CHECK(in_epoch_guard());
        }
        CHECK(in_epoch_guard());
    }
    CHECK_FALSE(in_epoch_guard());
}

TEST_CASE("runtime epoch: a retirement waits for guards open at the time, not for later ones") {
    std::atomic<int> deleted{0};
    std::atomic<int> phase{0};
    std::thread reader([&] {
        EpochGuard guard;
        phase = 1;
        while (phase != 2) {
            std::this_thread::yield();
        }
    });
    while (phase != 1) {
        std::this_thread::yield();
    }
    retire_delete(new Tracked(deleted));
    for (int i = 0; i < 10; ++i) {
        try_reclaim();
    }
    CHECK(deleted == 0);

    // A guard opened after the retirement does not hold it back... but the reader's does.
    std::thread late([&] {
        EpochGuard guard;
        try_reclaim();
    });
    late.join();
    CHECK(deleted == 0);

    phase = 2;
    reader.join();
    synchronize();
    CHECK(deleted == 1);
    CHECK(pending_retirements() == 0);
}

TEST_CASE("runtime epoch: retirements are batched and reclaimed without synchronize") {
    std::atomic<int> reclaimed{0};
    for (int i = 0; i < 10'000; ++i) {
        retire_node(&(new Node{{}, &reclaimed})->retired, &reclaim_node);
    }
    // With no guard open anywhere, the batches were reclaimed as they filled.
    CHECK(reclaimed > 10'000 - 512);
    synchronize();
    CHECK(reclaimed == 10'000);
}

TEST_CASE("runtime epoch: synchronize inside a guard does not wait for itself; thread exit hands retirements over") {
    std::atomic<int> deleted{0};
    {
        EpochGuard guard;
        retire_delete(new Tracked(deleted));
        synchronize(); // returns: it cannot wait for the caller's own guard
        CHECK(deleted == 0);
    }
    synchronize();
    CHECK(deleted == 1);

    std::thread worker([&] {
        for (int i = 0; i < 3; ++i) {
            retire_delete(new Tracked(deleted));
        }
    });
    worker.join(); // fewer than a batch: handed over at thread exit
    synchronize();
    CHECK(deleted == 4);
}

TEST_CASE("runtime epoch: inside a guard reclaiming is tried twice at most, all it can achieve there") {
    // The guard's own announcement lets the epoch advance once at most until the outermost guard ends: later tries
    // would only take the reclaimer's lock and fence every thread (a plugin whose updates keep failing made one each).
    std::atomic<int> deleted{0};
    const detail::EpochRecord* record = nullptr;
    {
        EpochGuard guard;
        record = detail::t_epoch_record;
        REQUIRE(record != nullptr);
        CHECK(record->guard_reclaims == 0);
        for (int i = 0; i < 1000; ++i) {
            retire_delete(new Tracked(deleted));
            try_reclaim();
        }
        CHECK(record->guard_reclaims == 2);
        {
            EpochGuard inner; // nested: the same outermost guard
            synchronize();
            CHECK(record->guard_reclaims == 2);
        }
        CHECK(deleted == 0); // retired inside the guard: none can be reclaimed before it ends
    }
    {
        EpochGuard again; // a new outermost guard tries again
        CHECK(record->guard_reclaims == 0);
        try_reclaim();
        CHECK(record->guard_reclaims == 1);
    }
    synchronize();
    CHECK(deleted == 1000);
}

TEST_CASE("runtime epoch: many threads entering and leaving guards while others retire") {
    std::atomic<int> reclaimed{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            while (!stop) {
                EpochGuard guard;
                EpochGuard nested;
            }
        });
    }
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
        writers.emplace_back([&] {
            for (int i = 0; i < 20'000; ++i) {
                retire_node(&(new Node{{}, &reclaimed})->retired, &reclaim_node);
            }
        });
    }
    for (auto& writer : writers) {
        writer.join();
    }
    stop = true;
    for (auto& thread : threads) {
        thread.join();
    }
    synchronize();
    CHECK(reclaimed == 40'000);
}

TEST_SUITE_END();
