// Per-CPU maps and slots: each thread writes its own slot, the host reads and writes all of them.
#include "runtime/map_testing.hpp"

#include <cerrno>
#include <set>
#include <thread>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

template <typename F>
void on_slot(std::uint32_t slot, F&& body) {
    std::thread thread([&] {
        set_current_slot(slot);
        CHECK(current_slot() == slot);
        body();
    });
    thread.join();
}

} // namespace

TEST_CASE("runtime percpu: two threads with different slots write their own values; the host sees all slots") {
    for (MapKind kind : {MapKind::percpu_array, MapKind::percpu_hash, MapKind::lru_percpu_hash}) {
        CAPTURE(embpf::platform::to_string(kind));
        MapConfig config = shape(kind, 4, 4, 8, 0, "hits");
        config.slots = 2;
        auto map = make(config);
        CHECK(map->per_cpu());
        CHECK(map->host_value_size() == 16); // 2 slots x round_up(4, 8)
        const std::uint32_t key = 3;
        std::thread first([&] {
            set_current_slot(0);
            const std::uint32_t value = 10;
            CHECK(map->update(&key, &value, bpf_any) == 0);
        });
        first.join();
        std::thread second([&] {
            set_current_slot(1);
            EpochGuard guard;
            auto* mine = static_cast<std::uint32_t*>(map->lookup(&key));
            REQUIRE(mine != nullptr);
            // The key exists (percpu hashes: created by the first thread with zeros in the other slots).
            CHECK(*mine == 0);
            const std::uint32_t value = 20;
            CHECK(map->update(&key, &value, bpf_exist) == 0);
            CHECK(*mine == 20); // per-CPU values are updated in place
        });
        second.join();

        struct Slots {
            std::uint32_t slot0, pad0, slot1, pad1;
        };
        auto all = host_get<Slots>(*map, key);
        REQUIRE(all.has_value());
        CHECK(all->slot0 == 10);
        CHECK(all->slot1 == 20);

        const Slots written{111, 0, 222, 0};
        REQUIRE(map->host_update(bytes(key), bytes(written), bpf_any).has_value());
        on_slot(1, [&] {
            EpochGuard guard;
            CHECK(*static_cast<std::uint32_t*>(map->lookup(&key)) == 222);
        });
        on_slot(2, [&] { // slot 2 of a 2-slot map is slot 0
            EpochGuard guard;
            CHECK(*static_cast<std::uint32_t*>(map->lookup(&key)) == 111);
        });

        std::uint32_t one_slot = 0;
        auto wrong = map->host_lookup(bytes(key), writable(one_slot));
        REQUIRE_FALSE(wrong.has_value());
        CHECK(wrong.error().message == "map hits: value of 4 bytes, expected 16 (2 slots x 8 bytes)");
        CHECK(map->memory_size() == map_memory_estimate(config).value());
    }
}

TEST_CASE("runtime percpu: lookup_and_erase copies the calling slot; a new key starts with zeros elsewhere") {
    MapConfig config = shape(MapKind::percpu_hash, 4, 8, 8);
    config.slots = 3;
    auto map = make(config);
    const std::uint32_t key = 1;
    on_slot(2, [&] {
        const std::uint64_t value = 77;
        CHECK(map->update(&key, &value, bpf_noexist) == 0);
        CHECK(map->update(&key, &value, bpf_noexist) == -EEXIST);
    });
    std::uint64_t all[3] = {1, 1, 1};
    REQUIRE(map->host_lookup(bytes(key), writable(all)).value());
    CHECK(all[0] == 0);
    CHECK(all[1] == 0);
    CHECK(all[2] == 77);
    on_slot(2, [&] {
        std::uint64_t out = 0;
        CHECK(map->lookup_and_erase(&key, &out) == 0);
        CHECK(out == 77);
    });
    CHECK(map->entry_count() == 0);
}

TEST_CASE("runtime slots: fresh threads get distinct slots while there are enough; pinning overrides") {
    const std::uint32_t saved = slot_count();
    set_slot_count(64);
    std::set<std::uint32_t> seen;
    std::mutex mutex;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            const std::uint32_t slot = current_slot();
            CHECK(slot < 64);
            CHECK(current_slot() == slot); // stable
            {
                std::lock_guard lock(mutex);
                seen.insert(slot);
            }
            ++ready;
            while (!go) {
                std::this_thread::yield();
            }
        });
    }
    while (ready < 4) {
        std::this_thread::yield();
    }
    go = true;
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(seen.size() == 4);
    on_slot(1000, [] { CHECK(current_slot() == 1000); });
    set_slot_count(0);
    CHECK(slot_count() >= 1);
    set_slot_count(saved);
    // A map created with slots = 0 takes the process-wide count.
    auto map = make(shape(MapKind::percpu_array, 4, 8, 1));
    CHECK(map->config().slots == saved);
}

TEST_SUITE_END();
