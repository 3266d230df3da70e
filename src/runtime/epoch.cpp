// Epoch-based reclamation (see epoch.hpp for the scheme and why it is safe).
//
// Memory orders: announcements, the epoch, the map pointers readers load and the stores that unlink are all seq_cst,
// so that in the single total order either a reader's announcement precedes the scan that would free what it reads,
// or the unlink precedes the reader's load (and the reader cannot reach the object). Everything that reclaims runs
// under one mutex, so stamps in the limbo list never decrease and the list is freed from its head.
#include "embpf/runtime/epoch.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>

namespace embpf::runtime {
namespace {

using detail::EpochRecord;

/// A thread hands its batch over once it holds this many retirements (or at try_reclaim/synchronize/exit).
constexpr std::uint32_t batch_size = 64;
/// Past this many, a thread waits for the reclaimer's mutex instead of trying it.
constexpr std::uint32_t force_size = 8 * batch_size;

struct Global {
    std::mutex mutex;
    Retired* limbo_head = nullptr; // stamps non-decreasing from head to tail
    Retired* limbo_tail = nullptr;
    std::size_t limbo_size = 0;
    std::atomic<EpochRecord*> records{nullptr};
};

// Never destroyed: threads may retire and reclaim during static destruction.
Global& global() noexcept {
    static Global* const instance = new Global();
    return *instance;
}

// Set while this thread runs reclaim functions: retirements they make wait in the bag instead of recursing.
thread_local bool t_reclaiming = false;
// Set once the thread-exit hook has run: a guard after it (from another thread_local's destructor) still works, but
// its record is never recycled and its retirements are handed over at once.
thread_local bool t_exited = false;

struct ThreadExit {
    EpochRecord* record = nullptr;
    ~ThreadExit();
};
thread_local ThreadExit t_exit;

// Under g.mutex.
void hand_over(Global& g, EpochRecord& record) noexcept {
    if (record.bag_head == nullptr) {
        return;
    }
    const std::uint64_t stamp = detail::g_epoch.load(std::memory_order_seq_cst);
    for (Retired* node = record.bag_head; node != nullptr; node = node->next) {
        node->epoch = stamp;
    }
    if (g.limbo_tail != nullptr) {
        g.limbo_tail->next = record.bag_head;
    } else {
        g.limbo_head = record.bag_head;
    }
    g.limbo_tail = record.bag_tail;
    g.limbo_size += record.bag_size;
    record.bag_head = record.bag_tail = nullptr;
    record.bag_size = 0;
}

#if defined(__SANITIZE_THREAD__)
#define EMBPF_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EMBPF_THREAD_SANITIZER 1
#endif
#endif

// Registers for expedited private membarrier before main, while the process has one thread. ThreadSanitizer does
// not model membarrier, so under it guards keep their sequentially consistent stores.
struct AsymmetricFence {
    AsymmetricFence() noexcept {
#ifndef EMBPF_THREAD_SANITIZER
        const long commands = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
        if (commands > 0 && (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
            syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
            detail::g_asymmetric_fence.store(true, std::memory_order_seq_cst);
        }
#endif
    }
};
const AsymmetricFence g_asymmetric_fence_setup;

// The reader side of an announcement made with a plain store: every running thread executes a full fence, so each
// reader's announcement is visible now, or its later loads see what was unlinked before this call.
void heavy_fence() noexcept {
    if (detail::g_asymmetric_fence.load(std::memory_order_seq_cst)) {
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    }
}

// Under g.mutex: one step when every thread inside a guard has seen the current epoch.
bool try_advance(Global& g) noexcept {
    heavy_fence();
    const std::uint64_t epoch = detail::g_epoch.load(std::memory_order_seq_cst);
    for (EpochRecord* record = g.records.load(std::memory_order_acquire); record != nullptr; record = record->next) {
        const std::uint64_t announced = record->announced.load(std::memory_order_seq_cst);
        if (announced != 0 && announced != epoch) {
            return false;
        }
    }
    detail::g_epoch.store(epoch + 1, std::memory_order_seq_cst);
    return true;
}

// Under g.mutex: unlinks the nodes whose stamp is two epochs old.
Retired* take_ready(Global& g) noexcept {
    const std::uint64_t epoch = detail::g_epoch.load(std::memory_order_seq_cst);
    Retired* ready = nullptr;
    Retired** tail = &ready;
    while (g.limbo_head != nullptr && g.limbo_head->epoch + 2 <= epoch) {
        Retired* node = g.limbo_head;
        g.limbo_head = node->next;
        node->next = nullptr;
        *tail = node;
        tail = &node->next;
        --g.limbo_size;
    }
    if (g.limbo_head == nullptr) {
        g.limbo_tail = nullptr;
    }
    return ready;
}

void run(Retired* list) noexcept {
    const bool outer = !t_reclaiming;
    t_reclaiming = true;
    while (list != nullptr) {
        Retired* next = list->next;
        list->reclaim(list);
        list = next;
    }
    if (outer) {
        t_reclaiming = false;
    }
}

/// Hands over `record`'s batch (when given), advances up to twice and reclaims what became safe. Without `wait` it
/// gives up when another thread holds the reclaimer's mutex.
void collect(EpochRecord* record, bool wait) noexcept {
    Global& g = global();
    Retired* ready = nullptr;
    {
        std::unique_lock lock(g.mutex, std::defer_lock);
        if (wait) {
            lock.lock();
        } else if (!lock.try_lock()) {
            return;
        }
        if (record != nullptr) {
            hand_over(g, *record);
        }
        if (g.limbo_head != nullptr) {
            for (int step = 0; step < 2 && try_advance(g); ++step) {
            }
            ready = take_ready(g);
        }
    }
    run(ready);
}

ThreadExit::~ThreadExit() {
    if (record == nullptr) {
        return;
    }
    collect(record, true);
    t_exited = true;
    detail::t_epoch_record = nullptr;
    record->announced.store(0, std::memory_order_release);
    record->depth = 0;
    record->in_use.store(false, std::memory_order_release);
    record = nullptr;
}

EpochRecord* record_of_caller() noexcept {
    EpochRecord* record = detail::t_epoch_record;
    return record != nullptr ? record : detail::epoch_register();
}

} // namespace

detail::EpochRecord* detail::epoch_register() noexcept {
    if (t_epoch_record != nullptr) {
        return t_epoch_record;
    }
    Global& g = global();
    EpochRecord* found = nullptr;
    for (EpochRecord* record = g.records.load(std::memory_order_acquire); record != nullptr; record = record->next) {
        if (!record->in_use.load(std::memory_order_relaxed) &&
            !record->in_use.exchange(true, std::memory_order_acquire)) {
            found = record;
            break;
        }
    }
    if (found == nullptr) {
        found = new (std::nothrow) EpochRecord();
        if (found == nullptr) {
            // A thread that cannot get 64 bytes cannot take part in reclamation safely.
            std::abort();
        }
        found->in_use.store(true, std::memory_order_relaxed);
        EpochRecord* head = g.records.load(std::memory_order_relaxed);
        do {
            found->next = head;
        } while (!g.records.compare_exchange_weak(head, found, std::memory_order_release, std::memory_order_relaxed));
    }
    t_epoch_record = found;
    if (!t_exited) {
        t_exit.record = found;
    }
    return found;
}

void retire_node(Retired* node, void (*reclaim)(Retired*)) noexcept {
    EpochRecord* record = record_of_caller();
    node->reclaim = reclaim;
    node->next = nullptr;
    if (record->bag_tail != nullptr) {
        record->bag_tail->next = node;
    } else {
        record->bag_head = node;
    }
    record->bag_tail = node;
    ++record->bag_size;
    if (t_exited) {
        collect(record, true);
    } else if (record->bag_size >= batch_size && !t_reclaiming) {
        collect(record, record->bag_size >= force_size);
    }
}

namespace {
struct BoxedRetired {
    Retired node; // first: the reclaimer gets back to the box from it
    void* object;
    void (*deleter)(void*);
};
static_assert(std::is_standard_layout_v<BoxedRetired>);

void reclaim_boxed(Retired* node) noexcept {
    auto* box = reinterpret_cast<BoxedRetired*>(node);
    box->deleter(box->object);
    delete box;
}
} // namespace

void retire(void* p, void (*deleter)(void*)) noexcept {
    auto* box = new (std::nothrow) BoxedRetired{{}, p, deleter};
    if (box != nullptr) {
        retire_node(&box->node, &reclaim_boxed);
        return;
    }
    if (!in_epoch_guard()) {
        synchronize();
        deleter(p);
    }
}

namespace {

// Inside a guard the caller's own announcement holds the epoch back: it can advance once at most before the
// outermost guard ends, so after two attempts nothing more can become reclaimable, and further ones would only take
// the reclaimer's lock and make every thread of the process fence (a plugin whose updates keep failing would pay
// that on each one).
void collect_in_guard(EpochRecord* record) noexcept {
    if (record->guard_reclaims >= 2) {
        return;
    }
    ++record->guard_reclaims;
    collect(record, true);
}

} // namespace

void try_reclaim() noexcept {
    if (t_reclaiming) {
        return;
    }
    EpochRecord* record = record_of_caller();
    if (record->depth > 0) {
        collect_in_guard(record);
        return;
    }
    collect(record, true);
}

void synchronize() noexcept {
    if (t_reclaiming) {
        return;
    }
    EpochRecord* record = record_of_caller();
    if (record->depth > 0) {
        collect_in_guard(record);
        return;
    }
    Global& g = global();
    std::uint64_t last_stamp = 0;
    {
        std::lock_guard lock(g.mutex);
        hand_over(g, *record);
        if (g.limbo_tail == nullptr) {
            return;
        }
        last_stamp = g.limbo_tail->epoch;
    }
    // Done once nothing stamped at or before last_stamp is left (stamps only grow along the list).
    for (unsigned round = 0;; ++round) {
        Retired* ready = nullptr;
        bool done = false;
        {
            std::lock_guard lock(g.mutex);
            if (g.limbo_head != nullptr) {
                for (int step = 0; step < 2 && try_advance(g); ++step) {
                }
                ready = take_ready(g);
            }
            done = g.limbo_head == nullptr || g.limbo_head->epoch > last_stamp;
        }
        run(ready);
        if (done) {
            return;
        }
        if (round < 64) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
}

std::size_t pending_retirements() noexcept {
    Global& g = global();
    std::size_t pending = 0;
    {
        std::lock_guard lock(g.mutex);
        pending = g.limbo_size;
    }
    if (const EpochRecord* record = detail::t_epoch_record) {
        pending += record->bag_size;
    }
    return pending;
}

} // namespace embpf::runtime
