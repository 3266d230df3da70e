#include "embpf/testing/platform.hpp"

#include "embpf/runtime/epoch.hpp"

#include <array>
#include <mutex>
#include <string>
#include <utility>

namespace embpf::testing {
namespace {

using u64 = std::uint64_t;

// A helper is a plain function pointer in the engines' tables, so an override runs through one of a fixed set of
// trampolines, each reading the function of its slot. A slot's function is retired through the epoch when its
// platform goes: a run inside a call to it keeps it until the run ends.
std::array<std::atomic<const Helper*>, kMaxHelperOverrides> g_functions{};
std::mutex g_slot_mutex;
std::array<bool, kMaxHelperOverrides> g_taken{};
std::size_t g_next_slot = 0; // slots are handed out in turn, so a freed one is taken again as late as possible

template <std::size_t I>
u64 trampoline(u64 r1, u64 r2, u64 r3, u64 r4, u64 r5) noexcept {
    const Helper* function = g_functions[I].load(std::memory_order_acquire);
    return function != nullptr ? (*function)(r1, r2, r3, r4, r5) : 0;
}

template <std::size_t... I>
constexpr std::array<platform::HelperImplementation, kMaxHelperOverrides> trampolines(std::index_sequence<I...>) {
    return {&trampoline<I>...};
}
constexpr auto kTrampolines = trampolines(std::make_index_sequence<kMaxHelperOverrides>{});

std::optional<std::size_t> take_slot() {
    std::lock_guard lock(g_slot_mutex);
    for (std::size_t i = 0; i < kMaxHelperOverrides; ++i) {
        const std::size_t slot = (g_next_slot + i) % kMaxHelperOverrides;
        if (!g_taken[slot]) {
            g_taken[slot] = true;
            g_next_slot = slot + 1;
            return slot;
        }
    }
    return std::nullopt;
}

void free_slot(std::size_t slot) noexcept {
    if (const Helper* function = g_functions[slot].exchange(nullptr, std::memory_order_acq_rel)) {
        runtime::retire_delete(const_cast<Helper*>(function));
    }
    std::lock_guard lock(g_slot_mutex);
    g_taken[slot] = false;
}

} // namespace

std::uint32_t Random::next() noexcept {
    // splitmix64 over a counter: one atomic add a number, the same sequence for the same seed.
    u64 z = m_counter.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed) + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::uint32_t>((z ^ (z >> 31)) >> 32);
}

TestPlatform::TestPlatform(const platform::Platform& base) : m_platform(base) {}

TestPlatform::~TestPlatform() {
    for (std::size_t slot : m_slots) {
        free_slot(slot);
    }
}

Result<void> TestPlatform::override_helper(std::string_view name, Helper function) {
    if (!function) {
        return Error::invalid("helper " + std::string(name) + ": the override is an empty function");
    }
    const auto slot = take_slot();
    if (!slot) {
        return Error::invalid("helper " + std::string(name) + ": " + std::to_string(kMaxHelperOverrides) +
                              " helper overrides are in use by live TestPlatforms");
    }
    if (auto replaced = m_platform.replace_implementation(name, kTrampolines[*slot]); !replaced) {
        free_slot(*slot);
        return replaced;
    }
    g_functions[*slot].store(new Helper(std::move(function)), std::memory_order_release);
    m_slots.push_back(*slot);
    return {};
}

Result<void> TestPlatform::use_clock(std::uint64_t start_ns) {
    m_clock.set(start_ns);
    Clock* clock = &m_clock;
    const auto ns = [clock](u64, u64, u64, u64, u64) { return clock->now(); };
    const auto ms = [clock](u64, u64, u64, u64, u64) { return clock->now() / 1'000'000u; };
    bool any = false;
    for (const auto& [name, function] : {std::pair<std::string_view, Helper>{"ktime_get_ns", ns},
                                         {"ktime_get_boot_ns", ns},
                                         {"ktime_get_coarse_ns", ns},
                                         {"ktime_get_tai_ns", ns},
                                         {"ktime_get_ms", ms},
                                         {"ktime_get_boot_ms", ms},
                                         {"jiffies64", ms}}) {
        if (m_platform.helper_by_name(name) == nullptr) {
            continue; // not a helper of this platform
        }
        if (auto done = override_helper(name, function); !done) {
            return done;
        }
        any = true;
    }
    if (!any) {
        return Error::invalid("platform " + m_platform.name() + " has no time helper to read a test clock");
    }
    return {};
}

Result<void> TestPlatform::use_random(std::uint64_t seed) {
    m_random.reseed(seed);
    Random* random = &m_random;
    return override_helper("get_prandom_u32", [random](u64, u64, u64, u64, u64) -> u64 { return random->next(); });
}

} // namespace embpf::testing
