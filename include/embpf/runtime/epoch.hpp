// Epoch-based reclamation: memory a writer unlinks from a map stays readable until every program invocation that
// might still hold a pointer into it has returned.
//
// The scheme (Fraser's EBR, in the form RCU users know): a global epoch counter; each thread announces the epoch it
// saw when it enters its outermost EpochGuard and clears the announcement when it leaves. A writer unlinks an object
// and retires it; a retired object is stamped with the global epoch and freed once the global epoch is two ahead of
// the stamp. The epoch only advances when every thread inside a guard has announced the current epoch, so two
// advances after the stamp prove that every guard open at retirement time has closed. Retirements are batched per
// thread and stamped when the batch is handed over, so the cost is amortized and retire() never allocates.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace embpf::runtime {

/// The link an object embeds to be retired without allocating (see retire_node).
struct Retired {
    Retired* next = nullptr;
    void (*reclaim)(Retired*) = nullptr;
    std::uint64_t epoch = 0;
};

namespace detail {

/// One per thread that ever entered a guard or retired something; recycled when the thread exits, never freed.
struct alignas(64) EpochRecord {
    std::atomic<std::uint64_t> announced{0}; ///< 0 outside every guard, else the global epoch seen at entry
    std::uint32_t depth = 0;                 ///< guard nesting; owner thread only
    std::uint32_t bag_size = 0;              ///< retirements not yet handed to the reclaimer; owner only
    std::uint32_t guard_reclaims = 0;        ///< reclaims tried inside the current outermost guard; owner only
    Retired* bag_head = nullptr;
    Retired* bag_tail = nullptr;
    std::atomic<bool> in_use{false};
    EpochRecord* next = nullptr; ///< registry link, written once before the record is published
};

/// Starts at 1: an announcement of 0 means "outside every guard".
inline constinit std::atomic<std::uint64_t> g_epoch{1};
/// Set once, before main, when the process could register for expedited membarrier: guards then announce with a plain
/// store and the reclaimer makes every thread run a full fence before it reads announcements (an asymmetric fence, as
/// liburcu's membarrier flavour does). Otherwise each outermost guard pays a sequentially consistent store.
inline constinit std::atomic<bool> g_asymmetric_fence{false};
inline thread_local constinit EpochRecord* t_epoch_record = nullptr;

/// The calling thread's record, registering the thread on first use.
[[nodiscard]] EpochRecord* epoch_register() noexcept;

} // namespace detail

/// Marks the calling thread as reading shared map memory. Every program invocation runs inside one; pointers obtained
/// from a map inside the guard stay valid until the outermost guard of the thread is destroyed. Nestable. Entering the
/// outermost guard costs one sequentially consistent store; inner guards cost an increment.
class EpochGuard {
  public:
    EpochGuard() noexcept : m_record(detail::t_epoch_record) {
        if (m_record == nullptr) [[unlikely]] {
            m_record = detail::epoch_register();
        }
        if (m_record->depth++ == 0) {
            m_record->guard_reclaims = 0;
            // A stale (smaller) epoch is harmless: it can only hold back reclamation. The store must be seq_cst so
            // that the loads of map pointers that follow cannot be ordered before it.
            const std::uint64_t epoch = detail::g_epoch.load(std::memory_order_relaxed);
            if (detail::g_asymmetric_fence.load(std::memory_order_relaxed)) {
                m_record->announced.store(epoch, std::memory_order_relaxed);
                std::atomic_signal_fence(std::memory_order_seq_cst); // the reclaimer's membarrier orders the rest
            } else {
                m_record->announced.store(epoch, std::memory_order_seq_cst);
            }
        }
    }
    ~EpochGuard() {
        if (--m_record->depth == 0) {
            m_record->announced.store(0, std::memory_order_release);
        }
    }
    EpochGuard(const EpochGuard&) = delete;
    EpochGuard& operator=(const EpochGuard&) = delete;

  private:
    detail::EpochRecord* m_record;
};

/// Whether the calling thread is inside an EpochGuard.
[[nodiscard]] inline bool in_epoch_guard() noexcept {
    const detail::EpochRecord* record = detail::t_epoch_record;
    return record != nullptr && record->depth > 0;
}

/// Hands `node` (embedded in an object the caller has already unlinked from every shared structure) to the reclaimer:
/// `reclaim(node)` runs once every thread that was inside a guard at this call has left that guard. Never allocates;
/// may run the reclaim functions of earlier retirements on the calling thread.
void retire_node(Retired* node, void (*reclaim)(Retired*)) noexcept;

/// The same for an object without an embedded node: allocates one. Should that allocation fail, it waits for a grace
/// period and deletes at once when called outside a guard, and leaks `p` when called inside one (where waiting would
/// wait for itself).
void retire(void* p, void (*deleter)(void*)) noexcept;

/// retire() with `delete static_cast<T*>(p)` as the deleter.
template <typename T>
void retire_delete(T* p) noexcept {
    retire(static_cast<void*>(p), [](void* q) { delete static_cast<T*>(q); });
}

/// Reclaims what can be reclaimed now without waiting: hands over the calling thread's batch, advances the epoch as
/// far as the open guards allow and runs the reclaim functions that became safe.
void try_reclaim() noexcept;

/// Waits until everything retired so far on the calling thread, and everything other threads had handed over, is
/// reclaimed (for tests and teardown). Inside a guard it cannot wait for itself: it then only does try_reclaim().
void synchronize() noexcept;

/// Retirements not yet reclaimed: those handed to the reclaimer plus the calling thread's batch (diagnostics, tests).
[[nodiscard]] std::size_t pending_retirements() noexcept;

} // namespace embpf::runtime
