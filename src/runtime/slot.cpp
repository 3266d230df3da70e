// Slot assignment: the least-held slot on first use, given back at thread exit (see slot.hpp).
#include "embpf/runtime/slot.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace embpf::runtime {
namespace {

constexpr std::uint32_t max_counted = 1U << 16;

struct SlotTable {
    std::mutex mutex;
    std::vector<std::uint32_t> holders;       // live threads per slot; under mutex
    std::atomic<std::uint32_t> configured{0}; // 0: the hardware default
    std::atomic<std::uint32_t> fallback{0};   // round robin when the table cannot grow
};

SlotTable& table() noexcept {
    static SlotTable* const instance = new SlotTable();
    return *instance;
}

std::uint32_t hardware_slots() noexcept {
    static const std::uint32_t count = [] {
        const unsigned n = std::thread::hardware_concurrency();
        return n == 0 ? 1U : static_cast<std::uint32_t>(n);
    }();
    return count;
}

struct SlotOwner {
    std::uint32_t counted = detail::no_slot; // the slot this thread is counted in, if any
    ~SlotOwner();
};
thread_local SlotOwner t_owner;
thread_local bool t_exited = false;

void release_counted() noexcept {
    if (t_exited || t_owner.counted == detail::no_slot) {
        return;
    }
    SlotTable& t = table();
    std::lock_guard lock(t.mutex);
    if (t_owner.counted < t.holders.size() && t.holders[t_owner.counted] > 0) {
        --t.holders[t_owner.counted];
    }
    t_owner.counted = detail::no_slot;
}

// Under the table's mutex.
bool count_in(SlotTable& t, std::uint32_t slot) noexcept {
    if (slot >= max_counted) {
        return false; // pinned far out of range: not worth a table entry
    }
    try {
        if (t.holders.size() <= slot) {
            t.holders.resize(static_cast<std::size_t>(slot) + 1, 0);
        }
    } catch (...) {
        return false;
    }
    ++t.holders[slot];
    return true;
}

SlotOwner::~SlotOwner() {
    release_counted();
    t_exited = true;
}

} // namespace

std::uint32_t slot_count() noexcept {
    const std::uint32_t configured = table().configured.load(std::memory_order_relaxed);
    return configured != 0 ? configured : hardware_slots();
}

void set_slot_count(std::uint32_t count) noexcept { table().configured.store(count, std::memory_order_relaxed); }

std::uint32_t detail::assign_slot() noexcept {
    if (t_slot != no_slot) {
        return t_slot;
    }
    const std::uint32_t count = slot_count();
    SlotTable& t = table();
    std::uint32_t slot = no_slot;
    if (!t_exited) {
        std::lock_guard lock(t.mutex);
        std::uint32_t best = 0;
        std::uint32_t best_holders = 0xffffffffU;
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint32_t holders = i < t.holders.size() ? t.holders[i] : 0;
            if (holders < best_holders) {
                best = i;
                best_holders = holders;
                if (holders == 0) {
                    break;
                }
            }
        }
        if (count_in(t, best)) {
            slot = best;
            t_owner.counted = best;
        }
    }
    if (slot == no_slot) {
        slot = t.fallback.fetch_add(1, std::memory_order_relaxed) % count;
    }
    t_slot = slot;
    return slot;
}

void set_current_slot(std::uint32_t slot) noexcept {
    if (slot == detail::no_slot) {
        slot = 0;
    }
    release_counted();
    if (!t_exited) {
        SlotTable& t = table();
        std::lock_guard lock(t.mutex);
        if (count_in(t, slot)) {
            t_owner.counted = slot;
        }
    }
    detail::t_slot = slot;
}

} // namespace embpf::runtime
