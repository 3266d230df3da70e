// A platform for tests: a copy of a platform whose helpers a test replaces by its own functions, with a clock and a
// random source that move only as the test says. Programs loaded on it run what the test chose, under the contract
// the verifier checked for the real helper.
#pragma once

#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace embpf::testing {

/// What replaces a helper: r1-r5 in (0 past the helper's arguments), r0 out. Called from the threads that run the
/// program, maybe several at once; it must not throw (the program's thread terminates if it does).
using Helper = std::function<std::uint64_t(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t r4,
                                           std::uint64_t r5)>;

/// The most helpers all live TestPlatforms may replace together.
inline constexpr std::size_t kMaxHelperOverrides = 64;

/// A clock that moves only when the test moves it: what the time helpers (ktime_get_ns and the others) return on a
/// TestPlatform after use_clock(). Safe to move from one thread while programs read it on others.
class Clock {
  public:
    explicit Clock(std::uint64_t start_ns = 1'000'000'000) noexcept : m_ns(start_ns) {}
    [[nodiscard]] std::uint64_t now() const noexcept { return m_ns.load(std::memory_order_relaxed); }
    void set(std::uint64_t ns) noexcept { m_ns.store(ns, std::memory_order_relaxed); }
    void advance(std::chrono::nanoseconds by) noexcept {
        m_ns.fetch_add(static_cast<std::uint64_t>(by.count()), std::memory_order_relaxed);
    }

  private:
    std::atomic<std::uint64_t> m_ns;
};

/// A seeded random source: the same seed gives the same numbers in the same order (bpf_get_prandom_u32 on a
/// TestPlatform after use_random()). Thread-safe; with several threads drawing, which thread gets which number is up
/// to the scheduler.
class Random {
  public:
    explicit Random(std::uint64_t seed = 1) noexcept : m_counter(seed) {}
    void reseed(std::uint64_t seed) noexcept { m_counter.store(seed, std::memory_order_relaxed); }
    [[nodiscard]] std::uint32_t next() noexcept;

  private:
    std::atomic<std::uint64_t> m_counter;
};

/// A copy of `base` for a test. Load objects on platform(); replace helpers before the load that should see them
/// (an object keeps the platform as it was when it loaded). Objects loaded on it must not run after it is gone: the
/// helpers it replaced then return 0 (or, once 64 more replacements were made, another TestPlatform's function).
class TestPlatform {
  public:
    explicit TestPlatform(const platform::Platform& base);
    ~TestPlatform();
    TestPlatform(const TestPlatform&) = delete;
    TestPlatform& operator=(const TestPlatform&) = delete;

    [[nodiscard]] const platform::Platform& platform() const noexcept { return m_platform; }
    /// The copy itself, to add host helpers or program types to it.
    [[nodiscard]] platform::Platform& platform() noexcept { return m_platform; }

    /// Runs `function` for the helper `name` (as the platform names it, without `bpf_`) in programs loaded from now
    /// on. An error when the platform has no such helper, when it returns an address, takes a callback or a spin
    /// lock (Platform::replace_implementation), or when kMaxHelperOverrides are in use.
    [[nodiscard]] Result<void> override_helper(std::string_view name, Helper function);

    /// The time helpers the platform has (ktime_get_ns, ktime_get_boot_ns, ktime_get_coarse_ns, ktime_get_tai_ns,
    /// ktime_get_ms, ktime_get_boot_ms, jiffies64 in milliseconds) read clock(), set to `start_ns`.
    [[nodiscard]] Result<void> use_clock(std::uint64_t start_ns = 1'000'000'000);
    /// get_prandom_u32 draws from random(), seeded with `seed`.
    [[nodiscard]] Result<void> use_random(std::uint64_t seed = 1);
    [[nodiscard]] Clock& clock() noexcept { return m_clock; }
    [[nodiscard]] Random& random() noexcept { return m_random; }

  private:
    platform::Platform m_platform;
    Clock m_clock;
    Random m_random;
    std::vector<std::size_t> m_slots; // the trampolines this platform's overrides took
};

} // namespace embpf::testing
