// Internals shared by the map implementations: a spin lock, sizes, messages and the factories create_map calls.
#pragma once

#include "embpf/runtime/map.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>

namespace embpf::runtime::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// A test-and-test-and-set lock for short writer sections (the kernel's raw spinlocks play this part). It yields
/// after a while, since a user-mode lock holder can be preempted.
class SpinLock {
  public:
    void lock() noexcept {
        while (m_locked.exchange(true, std::memory_order_acquire)) {
            for (unsigned spins = 0; m_locked.load(std::memory_order_relaxed); ++spins) {
                if (spins < 128) {
                    cpu_relax();
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    [[nodiscard]] bool try_lock() noexcept { return !m_locked.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

  private:
    std::atomic<bool> m_locked{false};
};

/// A SpinLock over an atomic flag that lives elsewhere (a member of a public class).
class SpinLockRef {
  public:
    explicit SpinLockRef(std::atomic<bool>& flag) noexcept : m_flag(flag) {
        while (m_flag.exchange(true, std::memory_order_acquire)) {
            for (unsigned spins = 0; m_flag.load(std::memory_order_relaxed); ++spins) {
                if (spins < 128) {
                    cpu_relax();
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    ~SpinLockRef() { m_flag.store(false, std::memory_order_release); }
    SpinLockRef(const SpinLockRef&) = delete;
    SpinLockRef& operator=(const SpinLockRef&) = delete;

  private:
    std::atomic<bool>& m_flag;
};

[[nodiscard]] constexpr std::size_t round_up8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

[[nodiscard]] inline std::uint32_t load_u32(const void* p) noexcept {
    std::uint32_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// A 64-bit finalizer (every input bit moves every output bit): hashes of keys and values.
[[nodiscard]] std::uint64_t mix64(std::uint64_t x) noexcept;
/// A random seed for a map's hashes, so that a program cannot choose keys that collide.
[[nodiscard]] std::uint64_t random_seed() noexcept;

/// A hash of n bytes, from `h` (a seed mixed with the size): 8 bytes at a time, then the tail.
[[nodiscard]] inline std::uint64_t hash_bytes(const std::byte* bytes, std::size_t n, std::uint64_t h) noexcept {
    while (n >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes, 8);
        h = std::rotl(h ^ mix64(word), 27) * 0x9e3779b97f4a7c15ULL;
        bytes += 8;
        n -= 8;
    }
    std::uint64_t tail = 0;
    for (std::size_t i = 0; i < n; ++i) {
        tail |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[i])} << (8 * i);
    }
    return mix64(h ^ tail);
}

/// "0x1f".
[[nodiscard]] std::string hex(std::uint64_t value);

/// The per-CPU value stride: what one slot takes in a per-CPU value.
[[nodiscard]] constexpr std::size_t percpu_stride(std::uint32_t value_size) noexcept { return round_up8(value_size); }

/// Whether the kind keeps one value per slot.
[[nodiscard]] constexpr bool is_percpu(platform::MapKind kind) noexcept { return platform::is_per_cpu(kind); }

/// Linux's check of update flags: bpf_f_lock needs a spin lock embpf does not support, and anything above bpf_exist
/// (bpf_noexist | bpf_exist included) is invalid.
[[nodiscard]] constexpr long check_update_flags(std::uint64_t flags) noexcept {
    if ((flags & bpf_f_lock) != 0 || flags > bpf_exist) {
        return -EINVAL;
    }
    return 0;
}

// The factories create_map dispatches to. They expect a validated config with slots resolved.
[[nodiscard]] Result<std::shared_ptr<Map>> create_hash_map(const MapConfig& config);
[[nodiscard]] Result<std::shared_ptr<Map>> create_array_map(const MapConfig& config);
[[nodiscard]] Result<std::shared_ptr<Map>> create_lpm_trie(const MapConfig& config);
[[nodiscard]] Result<std::shared_ptr<Map>> create_queue_stack(const MapConfig& config);
[[nodiscard]] Result<std::shared_ptr<Map>> create_bloom_filter(const MapConfig& config);
/// A bloom filter's hash functions (map_extra's low 4 bits, 5 when 0) and bits (a power of two), as Linux has them.
[[nodiscard]] std::uint32_t bloom_hashes(const MapConfig& config) noexcept;
[[nodiscard]] std::uint64_t bloom_bits(const MapConfig& config) noexcept;

// Up-front allocations, for map_memory_estimate (they match memory_size() of a new map).
[[nodiscard]] std::size_t hash_map_memory(const MapConfig& config) noexcept;
[[nodiscard]] std::size_t lpm_trie_memory(const MapConfig& config) noexcept;
[[nodiscard]] std::size_t ring_buffer_memory(const MapConfig& config) noexcept;

/// "map NAME: out of memory (N bytes)".
[[nodiscard]] Error out_of_memory(const MapConfig& config, std::size_t bytes);

/// Makes freshly allocated (zeroed) map memory resident before any program runs: each page written once, and regions
/// of 2 MiB or more backed by huge pages where the kernel allows. Left lazy, a program's first read of a page would
/// fault or read the kernel's shared zero page, each some 100 times slower than the instruction it is counted as,
/// and a program scattering reads over 1 GiB of maps would keep its host for minutes within its instruction bound.
/// The memory was counted against LoadOptions::memory_limit when the map was created either way.
void commit_memory(void* data, std::size_t bytes) noexcept;

} // namespace embpf::runtime::detail
