// Per-CPU execution slots in user mode. A kernel runs a program on a CPU and per-CPU maps give each CPU its own
// value; here each thread that runs programs owns a slot, per-CPU maps keep one value per slot, and
// bpf_get_smp_processor_id returns the slot.
//
// Assignment: on its first use a thread takes the slot that the fewest live threads hold (the lowest such index), and
// gives it back when it exits; so while no more threads than slots run programs, every thread has a slot of its own.
// With more threads than slots, threads share slots: per-CPU values are then shared too, and updates through pointers
// from lookup() race as they would on one CPU with preemption. A host that knows its worker threads pins them with
// set_current_slot() and sizes maps with MapConfig::slots or set_slot_count().
#pragma once

#include <cstdint>

namespace embpf::runtime {

namespace detail {
inline constexpr std::uint32_t no_slot = 0xffffffffU;
inline thread_local constinit std::uint32_t t_slot = no_slot;
[[nodiscard]] std::uint32_t assign_slot() noexcept;
} // namespace detail

/// The process-wide number of slots: what a map created with `MapConfig::slots == 0` gets, and the range automatic
/// assignment draws from. Defaults to std::thread::hardware_concurrency() (at least 1).
[[nodiscard]] std::uint32_t slot_count() noexcept;

/// Sets the process-wide slot count; 0 restores the default. Existing maps and threads keep what they have.
void set_slot_count(std::uint32_t count) noexcept;

/// The calling thread's slot, assigned on first use. A map with n slots uses `current_slot() % n`.
[[nodiscard]] inline std::uint32_t current_slot() noexcept {
    const std::uint32_t slot = detail::t_slot;
    return slot != detail::no_slot ? slot : detail::assign_slot();
}

/// Pins the calling thread to `slot` (a host's worker i takes slot i), releasing the slot it was assigned.
void set_current_slot(std::uint32_t slot) noexcept;

} // namespace embpf::runtime
