// The runtime maps and ring buffer: what a map operation costs a program run by the interpreter, and the host.
//
// Program benchmarks assemble a small loop that calls a real helper (map_lookup_elem or map_update_elem) kBatch times
// per run, with the map's address loaded by `lddw` as the loader would resolve it, and run it inside an EpochGuard as
// Program::run does. A second program identical but for the call (loop_only) gives the cost of the loop itself, and the
// summary subtracts it. Host benchmarks call the Map API directly. Every benchmark checks its results: programs run
// checked once first and must return the expected sum, LPM lookups agree with a brute-force longest match, and ring
// buffer consumers see every record in order.

#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/map.hpp"
#include "embpf/runtime/ring_buffer.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <time.h>
#include <unistd.h>

namespace {

using embpf::platform::MapKind;
using embpf::runtime::EpochGuard;
using embpf::runtime::Map;
using embpf::runtime::RingBufferMap;

constexpr std::uint32_t kEntries = 1024;   ///< hash, array and LRU maps: 1 K entries, keys 0..1023
constexpr std::uint64_t kBatch = 64;       ///< map operations per program run or host iteration
constexpr std::uint32_t kLookupHelper = 1; ///< map_lookup_elem
constexpr std::uint32_t kUpdateHelper = 2; ///< map_update_elem

[[noreturn]] void fail(std::string_view what, std::string_view message) {
    std::fprintf(stderr, "embpf_bench_maps: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(message.size()), message.data());
    std::exit(1);
}

/// splitmix64: the same prefixes and probes on every platform and standard library.
class Prng {
  public:
    explicit Prng(std::uint64_t seed) : m_state(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

  private:
    std::uint64_t m_state;
};

/// The value stored under `key` in the hash, array and LRU maps: never 0, so a sum of values proves every lookup hit.
constexpr std::uint64_t value_of(std::uint64_t key) noexcept { return key * 0x9e3779b97f4a7c15ULL + 1; }

std::shared_ptr<Map> make_map(std::string name, MapKind kind, std::uint32_t key_size, std::uint32_t value_size,
                              std::uint32_t max_entries, std::uint32_t flags = 0) {
    embpf::runtime::MapConfig config;
    config.name = std::move(name);
    config.kind = kind;
    config.key_size = key_size;
    config.value_size = value_size;
    config.max_entries = max_entries;
    config.flags = flags;
    auto map = embpf::runtime::create_map(config);
    if (!map.has_value()) {
        fail(config.name, map.error().message);
    }
    return std::move(map).value();
}

/// A 4-byte-key, 8-byte-value map holding value_of(k) for every k < kEntries.
std::shared_ptr<Map> make_filled(std::string name, MapKind kind) {
    auto map = make_map(std::move(name), kind, sizeof(std::uint32_t), sizeof(std::uint64_t), kEntries);
    for (std::uint32_t key = 0; key < kEntries; ++key) {
        const std::uint64_t value = value_of(key);
        if (const long err = map->update(&key, &value, embpf::runtime::bpf_any); err != 0) {
            fail(map->name(), "filling key " + std::to_string(key) + " failed with " + std::to_string(err));
        }
    }
    return map;
}

std::span<const std::uint8_t> bytes_of(const void* p, std::size_t size) {
    return {static_cast<const std::uint8_t*>(p), size};
}

// ---------------------------------------------------------------------------------------------
// Programs.

/// The context of every benchmark program: where its keys start.
struct ProgramContext {
    std::uint64_t start = 0;
};

enum class ProgramOp { lookup, update };

/// A loop of `batch` map operations on keys start, start + 1, ... as clang would compile it: the key (and for updates
/// the value) in a stack slot, the map's address in an lddw. Lookups use key & (kEntries - 1), add up the values they
/// find and return the sum; updates use the key itself as key and value and return the sum of the helper's results
/// (0 when all succeed). Without the call the loop does everything else: a lookup's r0 points at the key slot instead,
/// so the value load still happens.
std::string program_text(ProgramOp op, const Map& map, std::uint64_t batch, bool with_call) {
    const std::string map_address = std::to_string(reinterpret_cast<std::uintptr_t>(&map));
    std::string text;
    text += "r6 = *(u64 *)(r1 + 0)\n";
    text += "r7 = 0\n";
    text += "r8 = " + std::to_string(batch) + "\n";
    text += "loop:\n";
    if (op == ProgramOp::lookup) {
        text += "r1 = r6\n";
        text += "r1 &= " + std::to_string(kEntries - 1) + "\n";
        text += "*(u64 *)(r10 - 8) = r1\n";
        text += "r2 = r10\n";
        text += "r2 += -8\n";
        text += "r1 = " + map_address + " ll\n";
        text += with_call ? "call " + std::to_string(kLookupHelper) + "\n" : std::string("r0 = r2\n");
        text += "if r0 == 0 goto next\n";
        text += "r1 = *(u64 *)(r0 + 0)\n";
        text += "r7 += r1\n";
    } else {
        text += "*(u64 *)(r10 - 8) = r6\n";
        text += "*(u64 *)(r10 - 16) = r6\n";
        text += "r1 = " + map_address + " ll\n";
        text += "r2 = r10\n";
        text += "r2 += -8\n";
        text += "r3 = r10\n";
        text += "r3 += -16\n";
        text += "r4 = 0\n";
        text += with_call ? "call " + std::to_string(kUpdateHelper) + "\n" : std::string("r0 = 0\n");
        text += "r7 += r0\n";
    }
    text += "next:\n";
    text += "r6 += 1\n";
    text += "r8 += -1\n";
    text += "if r8 != 0 goto loop\n";
    text += "r0 = r7\n";
    text += "exit\n";
    return text;
}

/// A program ready to time, with what it must return for a given start key.
struct BenchProgram {
    std::string name;
    std::shared_ptr<Map> map;
    std::optional<embpf::exec::Interpreter> interpreter;
    std::optional<embpf::exec::Jit> jit; ///< the same program as machine code, where the JIT translates for the host
    /// And compiled by the optimizing JIT (in builds with it), told of the array so that its lookups are inline.
    std::optional<embpf::exec::OptimizedJit> optimized;
    std::uint64_t batch = 0;
    std::function<std::uint64_t(std::uint64_t start)> expected;
    /// Where each run's keys start: the run's index times the batch (lookups cycle through the present keys), or a
    /// fresh range from a process-wide counter (updates always insert new keys).
    bool fresh_keys = false;
};

std::atomic<std::uint64_t> g_next_fresh_key{kEntries};

std::uint64_t expected_lookup_sum(std::uint64_t start, std::uint64_t batch, bool with_call) {
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < batch; ++i) {
        const std::uint64_t key = (start + i) & (kEntries - 1);
        sum += with_call ? value_of(key) : key;
    }
    return sum;
}

std::unique_ptr<BenchProgram> make_program(std::string name, std::shared_ptr<Map> map, ProgramOp op,
                                           std::uint64_t batch, bool with_call) {
    auto program = std::make_unique<BenchProgram>();
    program->name = std::move(name);
    program->map = std::move(map);
    program->batch = batch;
    program->fresh_keys = op == ProgramOp::update;
    if (op == ProgramOp::lookup) {
        program->expected = [batch, with_call](std::uint64_t start) {
            return expected_lookup_sum(start, batch, with_call);
        };
    } else {
        program->expected = [](std::uint64_t) { return std::uint64_t{0}; };
    }

    const std::string text = program_text(op, *program->map, batch, with_call);
    auto instructions = embpf::isa::assemble(text);
    if (!instructions.has_value()) {
        fail(program->name, "assemble: " + instructions.error().message);
    }
    embpf::exec::HelperTable helpers;
    helpers.set(kLookupHelper, embpf::runtime::find_helper("map_lookup_elem"));
    helpers.set(kUpdateHelper, embpf::runtime::find_helper("map_update_elem"));
    auto interpreter = embpf::exec::Interpreter::create(instructions.value(), helpers);
    if (!interpreter.has_value()) {
        fail(program->name, "Interpreter::create: " + interpreter.error().message);
    }
    program->interpreter.emplace(std::move(interpreter).value());
    if (embpf::exec::host_jit_target()) {
        auto jit = embpf::exec::Jit::create(instructions.value(), helpers);
        if (!jit.has_value()) {
            fail(program->name, "Jit::create: " + jit.error().message);
        }
        program->jit.emplace(std::move(jit).value());
    }
    if (embpf::exec::optimizer_available()) {
        embpf::exec::OptimizerOptions options{.lookup_helper = kLookupHelper};
        if (const std::optional<embpf::exec::InlineArray> array = program->map->inline_array()) {
            options.arrays.push_back(*array);
        }
        auto optimized = embpf::exec::OptimizedJit::create(instructions.value(), helpers, options);
        if (!optimized.has_value()) {
            fail(program->name, "OptimizedJit::create: " + optimized.error().message);
        }
        program->optimized.emplace(std::move(optimized).value());
    }

    // One checked run first: the only memory the program may touch besides its stack and context is a value a lookup
    // returned. Updates insert keys from the fresh range like the timed runs.
    const std::uint32_t value_size = program->map->config().value_size;
    embpf::exec::CheckedOptions options;
    options.context_writable = false;
    options.instruction_budget = 1'000'000;
    options.helper_result_region = [value_size](std::uint32_t helper, const std::uint64_t*,
                                                std::uint64_t r0) -> std::optional<embpf::exec::MemoryRegion> {
        if (helper != kLookupHelper || r0 == 0) {
            return std::nullopt;
        }
        return embpf::exec::MemoryRegion{reinterpret_cast<const void*>(static_cast<std::uintptr_t>(r0)), value_size,
                                         true};
    };
    for (int round = 0; round < 4; ++round) {
        if ((round == 2 && !program->jit) || (round == 3 && !program->optimized)) {
            continue;
        }
        ProgramContext ctx{program->fresh_keys ? g_next_fresh_key.fetch_add(batch) : 3 * batch};
        std::uint64_t r0 = 0;
        if (round == 0) {
            EpochGuard guard;
            auto outcome = program->interpreter->run_checked(&ctx, sizeof ctx, options);
            if (!outcome.has_value()) {
                fail(program->name, "checked run: " + outcome.error().message);
            }
            r0 = outcome.value().r0;
        } else {
            EpochGuard guard;
            r0 = round == 1   ? program->interpreter->run(&ctx, sizeof ctx)
                 : round == 2 ? program->jit->run(&ctx, sizeof ctx)
                              : program->optimized->run(&ctx, sizeof ctx);
        }
        if (r0 != program->expected(ctx.start)) {
            fail(program->name, std::string(round == 0   ? "checked"
                                            : round == 1 ? "unchecked"
                                            : round == 2 ? "JIT"
                                                         : "optimized") +
                                    " run returned " + std::to_string(r0) + ", expected " +
                                    std::to_string(program->expected(ctx.start)));
        }
    }
    return program;
}

/// Counters every benchmark sets: the map operations (or ring-buffer records) per iteration. kAvgThreads keeps the
/// per-thread value when threads' counters are summed.
void set_ops(benchmark::State& state, std::uint64_t ops) {
    state.counters["ops"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kAvgThreads);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ops));
}

void run_program(benchmark::State& state, const BenchProgram* program, embpf::exec::EngineKind kind) {
    const embpf::exec::Executable& engine =
        kind == embpf::exec::EngineKind::jit         ? static_cast<const embpf::exec::Executable&>(*program->jit)
        : kind == embpf::exec::EngineKind::optimized ? static_cast<const embpf::exec::Executable&>(*program->optimized)
                                                     : *program->interpreter;
    // Threads start half the key space apart; keys advance by the batch each run.
    ProgramContext ctx{static_cast<std::uint64_t>(state.thread_index()) * (kEntries / 2)};
    std::uint64_t result = 0;
    std::uint64_t last_start = 0;
    for (auto _ : state) {
        if (program->fresh_keys) {
            ctx.start = g_next_fresh_key.fetch_add(program->batch, std::memory_order_relaxed);
        }
        last_start = ctx.start;
        {
            EpochGuard guard;
            result = engine.run(&ctx, sizeof ctx);
        }
        benchmark::DoNotOptimize(result);
        if (!program->fresh_keys) {
            ctx.start += program->batch;
        }
    }
    if (state.iterations() > 0 && result != program->expected(last_start)) {
        state.SkipWithError("a program returned a wrong result while timing");
    }
    set_ops(state, program->batch);
}

// ---------------------------------------------------------------------------------------------
// Host-side benchmarks.

void host_epoch_guard(benchmark::State& state) {
    for (auto _ : state) {
        EpochGuard guard;
        benchmark::ClobberMemory();
    }
    set_ops(state, 1);
}

/// Map::lookup (what map_lookup_elem calls), kBatch lookups under one guard.
void host_lookup_pointer(benchmark::State& state, Map* map) {
    std::uint32_t start = static_cast<std::uint32_t>(state.thread_index()) * (kEntries / 2);
    std::uint64_t sum = 0;
    for (auto _ : state) {
        EpochGuard guard;
        for (std::uint32_t i = 0; i < kBatch; ++i) {
            const std::uint32_t key = (start + i) & (kEntries - 1);
            const void* value = map->lookup(&key);
            benchmark::DoNotOptimize(value);
            if (value != nullptr) {
                std::uint64_t v = 0;
                std::memcpy(&v, value, sizeof v);
                sum += v;
            }
        }
        start += kBatch;
    }
    // Every lookup must have hit: the sum is recomputed outside the timed loop.
    std::uint64_t reference = 0;
    std::uint32_t key_start = static_cast<std::uint32_t>(state.thread_index()) * (kEntries / 2);
    for (benchmark::IterationCount n = 0; n < state.iterations(); ++n) {
        reference += expected_lookup_sum(key_start, kBatch, true);
        key_start += kBatch;
    }
    if (sum != reference) {
        state.SkipWithError("a lookup missed while timing");
    }
    set_ops(state, kBatch);
}

/// Map::host_lookup: a checked copy of the value, kBatch per iteration (it takes its own guard).
void host_lookup_copy(benchmark::State& state, Map* map) {
    std::uint32_t start = static_cast<std::uint32_t>(state.thread_index()) * (kEntries / 2);
    std::uint64_t hits = 0;
    for (auto _ : state) {
        for (std::uint32_t i = 0; i < kBatch; ++i) {
            const std::uint32_t key = (start + i) & (kEntries - 1);
            std::uint64_t value = 0;
            auto found = map->host_lookup(bytes_of(&key, sizeof key), {reinterpret_cast<std::uint8_t*>(&value), 8});
            hits += (found.has_value() && found.value() && value == value_of(key)) ? 1 : 0;
            benchmark::DoNotOptimize(value);
        }
        start += kBatch;
    }
    if (hits != static_cast<std::uint64_t>(state.iterations()) * kBatch) {
        state.SkipWithError("a host lookup missed while timing");
    }
    set_ops(state, kBatch);
}

/// Map::update of keys never seen before in a full LRU map: every update evicts. kBatch under one guard.
void host_lru_update(benchmark::State& state, Map* map) {
    long errors = 0;
    for (auto _ : state) {
        const std::uint64_t start = g_next_fresh_key.fetch_add(kBatch, std::memory_order_relaxed);
        EpochGuard guard;
        for (std::uint64_t i = 0; i < kBatch; ++i) {
            const auto key = static_cast<std::uint32_t>(start + i);
            const std::uint64_t value = start + i;
            errors |= map->update(&key, &value, embpf::runtime::bpf_any);
        }
    }
    if (errors != 0) {
        state.SkipWithError("an LRU update failed while timing");
    }
    set_ops(state, kBatch);
}

// ---------------------------------------------------------------------------------------------
// LPM trie.

/// An IPv4 LPM key as programs declare it: struct { __u32 prefixlen; __u8 addr[4]; }.
struct Ipv4Key {
    std::uint32_t prefixlen = 0;
    std::array<std::uint8_t, 4> addr{};
};
static_assert(sizeof(Ipv4Key) == 8);

Ipv4Key ipv4_key(std::uint32_t prefixlen, std::uint32_t address) {
    return {prefixlen,
            {static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
             static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)}};
}

std::uint32_t prefix_mask(std::uint32_t prefixlen) {
    return prefixlen == 0 ? 0 : ~std::uint32_t{0} << (32 - prefixlen);
}

struct LpmFixture {
    std::shared_ptr<Map> map;
    std::vector<std::uint32_t> probes; ///< random addresses, looked up as /32 keys
};

constexpr std::size_t kProbeCount = 1 << 16;

/// A trie of `count` distinct random prefixes /8../32 (the value is the prefix's index), checked against a
/// brute-force longest match on `checked` probes.
LpmFixture build_lpm(std::uint32_t count, std::size_t checked) {
    LpmFixture fixture;
    const std::string name = "lpm_" + std::to_string(count);
    fixture.map = make_map(name, MapKind::lpm_trie, sizeof(Ipv4Key), sizeof(std::uint32_t), count,
                           embpf::runtime::bpf_f_no_prealloc);
    Prng prng(0x1b3f'2c5a'77e0'9d41ULL + count);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> prefixes; // (prefixlen, masked address), by value
    prefixes.reserve(count);
    while (prefixes.size() < count) {
        const std::uint64_t random = prng.next();
        const auto prefixlen = static_cast<std::uint32_t>(8 + (random >> 40) % 25);
        const std::uint32_t address = static_cast<std::uint32_t>(random) & prefix_mask(prefixlen);
        const Ipv4Key key = ipv4_key(prefixlen, address);
        const auto index = static_cast<std::uint32_t>(prefixes.size());
        const long err = fixture.map->update(&key, &index, embpf::runtime::bpf_noexist);
        if (err == 0) {
            prefixes.emplace_back(prefixlen, address);
        } else if (err != -EEXIST) {
            fail(name, "inserting prefix " + std::to_string(index) + " failed with " + std::to_string(err));
        }
    }
    fixture.probes.resize(kProbeCount);
    for (std::uint32_t& probe : fixture.probes) {
        probe = static_cast<std::uint32_t>(prng.next());
    }
    EpochGuard guard;
    for (std::size_t i = 0; i < checked && i < fixture.probes.size(); ++i) {
        const std::uint32_t address = fixture.probes[i];
        std::optional<std::uint32_t> best;
        for (std::uint32_t index = 0; index < count; ++index) {
            const auto [prefixlen, prefix] = prefixes[index];
            if ((address & prefix_mask(prefixlen)) == prefix && (!best || prefixes[*best].first < prefixlen)) {
                best = index;
            }
        }
        const Ipv4Key key = ipv4_key(32, address);
        const void* found = fixture.map->lookup(&key);
        std::optional<std::uint32_t> got;
        if (found != nullptr) {
            std::uint32_t value = 0;
            std::memcpy(&value, found, sizeof value);
            got = value;
        }
        if (got != best) {
            fail(name, "the longest match of probe " + std::to_string(i) + " differs from the brute-force one");
        }
    }
    return fixture;
}

/// Built on first use and kept for the process: 1 M prefixes take a while to insert.
const LpmFixture& lpm_fixture(std::uint32_t count) {
    if (count <= kEntries) {
        static const LpmFixture small = build_lpm(kEntries, kProbeCount / 8);
        return small;
    }
    static const LpmFixture large = build_lpm(1U << 20, 64);
    return large;
}

void host_lpm_lookup(benchmark::State& state, std::uint32_t count) {
    const LpmFixture& fixture = lpm_fixture(count);
    Map& map = *fixture.map;
    std::size_t next = 0;
    std::uint64_t hits = 0;
    for (auto _ : state) {
        EpochGuard guard;
        for (std::uint64_t i = 0; i < kBatch; ++i) {
            const Ipv4Key key = ipv4_key(32, fixture.probes[next++ & (kProbeCount - 1)]);
            const void* value = map.lookup(&key);
            benchmark::DoNotOptimize(value);
            hits += value != nullptr ? 1 : 0;
        }
    }
    if (state.iterations() > 0) {
        const double percent = 100.0 * static_cast<double>(hits) /
                               static_cast<double>(static_cast<std::uint64_t>(state.iterations()) * kBatch);
        state.SetLabel(std::to_string(static_cast<int>(percent + 0.5)) + "% of probes match");
    }
    set_ops(state, kBatch);
}

// ---------------------------------------------------------------------------------------------
// Ring buffer.

constexpr std::uint64_t kRecordSize = 16;
constexpr std::uint32_t kRingSize = 1U << 20;
constexpr std::uint64_t kRecordsPerRun = 1U << 20; ///< per iteration of the two-thread benchmarks

std::shared_ptr<RingBufferMap> make_ring() {
    embpf::runtime::MapConfig config;
    config.name = "ring";
    config.kind = MapKind::ringbuf;
    config.max_entries = kRingSize;
    auto ring = RingBufferMap::create(config);
    if (!ring.has_value()) {
        fail(config.name, ring.error().message);
    }
    return std::move(ring).value();
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

enum class Produce { output, reserve_submit };

/// One 16-byte record carrying its sequence number; false when the ring is full.
bool produce(RingBufferMap& ring, Produce how, std::uint64_t sequence, std::uint64_t flags) {
    const std::array<std::uint64_t, 2> record{sequence, ~sequence};
    if (how == Produce::output) {
        return ring.output(record.data(), kRecordSize, flags) == 0;
    }
    void* sample = ring.reserve(kRecordSize, 0);
    if (sample == nullptr) {
        return false;
    }
    std::memcpy(sample, record.data(), kRecordSize);
    ring.submit(sample, flags);
    return true;
}

/// Checks that records arrive complete and in order.
struct SequenceCheck {
    std::uint64_t next = 0;
    bool ok = true;

    void operator()(std::span<const std::uint8_t> record) {
        std::array<std::uint64_t, 2> fields{};
        if (record.size() != kRecordSize) {
            ok = false;
            return;
        }
        std::memcpy(fields.data(), record.data(), kRecordSize);
        ok = ok && fields[0] == next && fields[1] == ~next;
        ++next;
    }
};

/// Single thread: kBatch records produced, then consumed.
void ring_single_thread(benchmark::State& state, Produce how) {
    auto ring = make_ring();
    SequenceCheck check;
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < kBatch; ++i) {
            if (!produce(*ring, how, sequence++, embpf::runtime::bpf_rb_no_wakeup)) {
                state.SkipWithError("the ring was full");
                break;
            }
        }
        ring->consume(check);
    }
    if (!check.ok || check.next != sequence) {
        state.SkipWithError("records were lost or reordered");
    }
    set_ops(state, kBatch);
}

enum class Consume { poll, spin };

/// The calling thread's CPU time: the producer runs outside the benchmark's timers.
double thread_cpu_ns() noexcept {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

/// One producer thread, the benchmark thread consuming. Producer with wakeups on and a poll()ing consumer is the
/// normal setup; with bpf_rb_no_wakeup the consumer spins on consume() and no eventfd is ever touched.
void ring_two_threads(benchmark::State& state, Produce how, Consume consume) {
    auto ring = make_ring();
    const std::uint64_t flags = consume == Consume::poll ? 0 : embpf::runtime::bpf_rb_no_wakeup;
    SequenceCheck check;
    std::uint64_t base = 0;
    std::uint64_t full = 0;
    double producer_cpu_ns = 0;
    for (auto _ : state) {
        std::thread producer([&ring, how, flags, base, &full, &producer_cpu_ns] {
            const double cpu_start = thread_cpu_ns();
            std::uint64_t waits = 0;
            for (std::uint64_t i = 0; i < kRecordsPerRun;) {
                if (produce(*ring, how, base + i, flags)) {
                    ++i;
                    continue;
                }
                // Full: spin a little for the consumer, and give up the core only when it seems not to be running.
                if (++waits % 64 == 0) {
                    std::this_thread::yield();
                } else {
                    cpu_relax();
                }
            }
            // Read after join.
            full += waits;
            producer_cpu_ns += thread_cpu_ns() - cpu_start;
        });
        const std::uint64_t end = base + kRecordsPerRun;
        while (check.next < end && check.ok) {
            if (consume == Consume::poll) {
                ring->poll(std::chrono::milliseconds(1000), check);
            } else {
                ring->consume(check);
            }
        }
        producer.join();
        base = end;
    }
    if (!check.ok || check.next != base) {
        state.SkipWithError("records were lost or reordered");
    }
    // Counters rather than a label, so that repetitions aggregate them.
    if (state.iterations() > 0) {
        const auto runs = static_cast<double>(state.iterations());
        state.counters["producer_ns"] = benchmark::Counter(producer_cpu_ns / (runs * kRecordsPerRun));
        state.counters["full_retries"] = benchmark::Counter(static_cast<double>(full) / runs);
    }
    set_ops(state, kRecordsPerRun);
}

// ---------------------------------------------------------------------------------------------
// Reporting.

/// Times per iteration of each (benchmark, thread count): the median of the repetitions (a shared machine's noise
/// only ever adds time), or their mean when the median was not reported.
class Timings {
  public:
    struct Entry {
        double cpu_ns = 0;  ///< CPU time per iteration, summed over threads: the cost on one thread
        double real_ns = 0; ///< wall time per iteration of all threads together
        double ops = 0;     ///< operations per iteration
    };

    void record(const benchmark::BenchmarkReporter::Run& run) {
        if (run.error_occurred) {
            return;
        }
        Sum& sum = m_sums[{run.run_name.function_name, run.threads}];
        const auto ops = run.counters.find("ops");
        sum.ops = ops != run.counters.end() ? ops->second.value : 1;
        if (run.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration) {
            sum.cpu += ns(run.GetAdjustedCPUTime(), run);
            sum.real += ns(run.GetAdjustedRealTime(), run);
            ++sum.count;
        } else if (run.aggregate_name == "median") {
            sum.median = Entry{ns(run.GetAdjustedCPUTime(), run), ns(run.GetAdjustedRealTime(), run), sum.ops};
        }
    }

    [[nodiscard]] std::optional<Entry> find(const std::string& benchmark, std::int64_t threads) const {
        const auto found = m_sums.find({benchmark, threads});
        if (found == m_sums.end()) {
            return std::nullopt;
        }
        const Sum& sum = found->second;
        if (sum.median) {
            return sum.median;
        }
        if (sum.count == 0) {
            return std::nullopt;
        }
        const auto count = static_cast<double>(sum.count);
        return Entry{sum.cpu / count, sum.real / count, sum.ops};
    }

  private:
    struct Sum {
        double cpu = 0;
        double real = 0;
        double ops = 1;
        std::size_t count = 0;
        std::optional<Entry> median;
    };

    static double ns(double time, const benchmark::BenchmarkReporter::Run& run) {
        return time * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }

    std::map<std::pair<std::string, std::int64_t>, Sum> m_sums;
};

/// What the summary prints about each benchmark.
struct Described {
    std::string name;
    std::string baseline; ///< the loop_only benchmark to subtract, or empty
};

std::vector<Described>& described() {
    static std::vector<Described> list;
    return list;
}

const Described* description_of(const std::string& name) {
    for (const Described& entry : described()) {
        if (entry.name == name) {
            return &entry;
        }
    }
    return nullptr;
}

/// The console reporter with per-operation columns (CPU ns per operation on one thread, net of the loop when there is
/// a baseline, and millions of operations per wall-clock second over all threads) and a record for the summary.
class SummaryReporter final : public benchmark::ConsoleReporter {
  public:
    using benchmark::ConsoleReporter::ConsoleReporter;

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            m_timings.record(run);
        }
        std::vector<Run> annotated = runs;
        for (Run& run : annotated) {
            const bool central =
                run.run_type == Run::RT_Iteration || run.aggregate_name == "mean" || run.aggregate_name == "median";
            double per_op = 0;
            double net = 0;
            double rate = 0;
            const auto ops = run.counters.find("ops");
            if (central && !run.error_occurred && ops != run.counters.end() && ops->second.value > 0) {
                const double multiplier = benchmark::GetTimeUnitMultiplier(run.time_unit);
                per_op = run.GetAdjustedCPUTime() * 1e9 / multiplier / ops->second.value;
                rate = ops->second.value / (run.GetAdjustedRealTime() / multiplier) / 1e6;
                net = per_op;
                if (const Described* entry = description_of(run.run_name.function_name);
                    entry != nullptr && !entry->baseline.empty()) {
                    if (const auto base = m_timings.find(entry->baseline, run.threads)) {
                        net = per_op - base->cpu_ns / base->ops;
                    }
                }
            }
            run.counters["ns_per_op"] = benchmark::Counter(per_op);
            run.counters["net_ns_per_op"] = benchmark::Counter(net);
            run.counters["Mops_per_s"] = benchmark::Counter(rate);
            run.counters.erase("items_per_second"); // Mops_per_s says it against wall-clock time
            for (auto& counter : run.counters) {
                counter.second.flags = benchmark::Counter::kDefaults;
            }
        }
        benchmark::ConsoleReporter::ReportRuns(annotated);
    }

    [[nodiscard]] const Timings& timings() const noexcept { return m_timings; }

  private:
    Timings m_timings;
};

void print_summary(const Timings& timings) {
    std::printf(
        "\nSummary (median of the repetitions when there are several. ns/op: CPU time per operation on one thread;\n"
        "net: minus the same loop without the call; Mops/s: operations per wall-clock second over all threads;\n"
        "scaling: Mops/s over the 1-thread row)\n");
    std::printf("%-44s %3s %9s %9s %9s %8s\n", "benchmark", "thr", "ns/op", "net ns/op", "Mops/s", "scaling");
    for (const Described& entry : described()) {
        std::optional<Timings::Entry> one;
        for (std::int64_t threads = 1; threads <= 2; ++threads) {
            const auto timing = timings.find(entry.name, threads);
            if (!timing) {
                continue;
            }
            const double per_op = timing->cpu_ns / timing->ops;
            const double rate = timing->ops / timing->real_ns * 1e3;
            std::printf("%-44s %3lld %9.2f ", entry.name.c_str(), static_cast<long long>(threads), per_op);
            const auto base = entry.baseline.empty() ? std::nullopt : timings.find(entry.baseline, threads);
            if (base) {
                std::printf("%9.2f ", per_op - base->cpu_ns / base->ops);
            } else {
                std::printf("%9s ", "-");
            }
            std::printf("%9.2f ", rate);
            if (threads == 1) {
                one = timing;
                std::printf("%8s\n", "-");
            } else if (one) {
                std::printf("%8.2f\n", rate / (one->ops / one->real_ns * 1e3));
            } else {
                std::printf("%8s\n", "-");
            }
        }
    }
}

/// Whether the command line asks for a format other than the console's, which the summary would corrupt.
bool console_output(int argc, char** argv) {
    constexpr std::string_view flag = "--benchmark_format=";
    for (int i = 1; i < argc; ++i) {
        const std::string_view argument = argv[i];
        if (argument.starts_with(flag) && argument.substr(flag.size()) != "console") {
            return false;
        }
    }
    return true;
}

template <typename F, typename... Args>
benchmark::internal::Benchmark* add(const std::string& name, std::string baseline, F function, Args... args) {
    described().push_back({name, std::move(baseline)});
    return benchmark::RegisterBenchmark(name.c_str(), function, args...);
}

} // namespace

int main(int argc, char** argv) {
    const bool console = console_output(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }

    auto hash = make_filled("hash", MapKind::hash);
    auto array = make_filled("array", MapKind::array);
    auto lru = make_filled("lru", MapKind::lru_hash);
    auto lru_host = make_filled("lru_host", MapKind::lru_hash);

    std::vector<std::unique_ptr<BenchProgram>> programs;
    auto program = [&programs](std::string name, std::shared_ptr<Map> map, ProgramOp op, std::uint64_t batch,
                               bool with_call) {
        programs.push_back(make_program(std::move(name), std::move(map), op, batch, with_call));
        return programs.back().get();
    };
    const BenchProgram* loop_only = program("loop_only", hash, ProgramOp::lookup, kBatch, false);
    const BenchProgram* hash_lookup = program("hash_lookup", hash, ProgramOp::lookup, kBatch, true);
    const BenchProgram* once_loop_only = program("once_loop_only", hash, ProgramOp::lookup, 1, false);
    const BenchProgram* hash_once = program("hash_lookup_once", hash, ProgramOp::lookup, 1, true);
    const BenchProgram* array_lookup = program("array_lookup", array, ProgramOp::lookup, kBatch, true);
    const BenchProgram* update_loop_only = program("update_loop_only", lru, ProgramOp::update, kBatch, false);
    const BenchProgram* lru_update = program("lru_update", lru, ProgramOp::update, kBatch, true);

    // Baselines first, so that the console rows after them can show net times.
    using embpf::exec::EngineKind;
    add("BM_Program/loop_only", "", run_program, loop_only, EngineKind::interpreter)->Threads(1)->Threads(2);
    add("BM_Program/hash_lookup", "BM_Program/loop_only", run_program, hash_lookup, EngineKind::interpreter)
        ->Threads(1)
        ->Threads(2);
    add("BM_Program/array_lookup", "BM_Program/loop_only", run_program, array_lookup, EngineKind::interpreter)
        ->Threads(1)
        ->Threads(2);
    if (hash_lookup->jit) { // the same programs as the JIT's machine code
        add("BM_Program/jit/loop_only", "", run_program, loop_only, EngineKind::jit);
        add("BM_Program/jit/hash_lookup", "BM_Program/jit/loop_only", run_program, hash_lookup, EngineKind::jit);
        add("BM_Program/jit/array_lookup", "BM_Program/jit/loop_only", run_program, array_lookup, EngineKind::jit);
    }
    if (hash_lookup->optimized) { // and as the optimizing JIT's, the array's lookups inline
        add("BM_Program/optimized/loop_only", "", run_program, loop_only, EngineKind::optimized);
        add("BM_Program/optimized/hash_lookup", "BM_Program/optimized/loop_only", run_program, hash_lookup,
            EngineKind::optimized);
        add("BM_Program/optimized/array_lookup", "BM_Program/optimized/loop_only", run_program, array_lookup,
            EngineKind::optimized);
    }
    add("BM_Program/once_loop_only", "", run_program, once_loop_only, EngineKind::interpreter)->Threads(1)->Threads(2);
    add("BM_Program/hash_lookup_once", "BM_Program/once_loop_only", run_program, hash_once, EngineKind::interpreter)
        ->Threads(1)
        ->Threads(2);
    add("BM_Program/update_loop_only", "", run_program, update_loop_only, EngineKind::interpreter);
    add("BM_Program/lru_update", "BM_Program/update_loop_only", run_program, lru_update, EngineKind::interpreter);

    add("BM_Host/epoch_guard", "", host_epoch_guard)->Threads(1)->Threads(2);
    add("BM_Host/hash_lookup", "", host_lookup_pointer, hash.get())->Threads(1)->Threads(2);
    add("BM_Host/hash_host_lookup", "", host_lookup_copy, hash.get())->Threads(1)->Threads(2);
    add("BM_Host/array_lookup", "", host_lookup_pointer, array.get());
    add("BM_Host/array_host_lookup", "", host_lookup_copy, array.get());
    add("BM_Host/lru_update", "", host_lru_update, lru_host.get());
    add("BM_Host/lpm_lookup/1K", "", host_lpm_lookup, kEntries);
    add("BM_Host/lpm_lookup/1M", "", host_lpm_lookup, 1U << 20);

    add("BM_Ringbuf/output+consume", "", ring_single_thread, Produce::output);
    add("BM_Ringbuf/reserve_submit+consume", "", ring_single_thread, Produce::reserve_submit);
    add("BM_Ringbuf/2threads/output/poll", "", ring_two_threads, Produce::output, Consume::poll)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    add("BM_Ringbuf/2threads/reserve_submit/poll", "", ring_two_threads, Produce::reserve_submit, Consume::poll)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    add("BM_Ringbuf/2threads/output_no_wakeup/consume_spin", "", ring_two_threads, Produce::output, Consume::spin)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);

    if (!console) {
        benchmark::RunSpecifiedBenchmarks();
    } else {
        auto options = benchmark::ConsoleReporter::OO_Tabular;
        if (isatty(STDOUT_FILENO) != 0) {
            options = benchmark::ConsoleReporter::OO_ColorTabular;
        }
        SummaryReporter reporter(options);
        benchmark::RunSpecifiedBenchmarks(&reporter);
        print_summary(reporter.timings());
    }
    benchmark::Shutdown();
    return 0;
}
