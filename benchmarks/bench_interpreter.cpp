// The interpreter, the baseline JIT and the optimizing JIT against native code on the same C programs
// (programs/*.c).
//
// Each program is built twice: by clang for eBPF, embedded into this binary at build time, and by the
// host C compiler. Before anything is timed, every program runs checked, unchecked and in each JIT on its
// benchmark input and on variants of it (truncated buffers, other packets) and must agree with its
// native build and, where one is known, with a reference answer. Each program then has a benchmark per engine,
// BM_<name>/native, BM_<name>/interpreter, BM_<name>/jit and BM_<name>/optimized (in builds with LLVM), and a
// summary table compares them at the end of the run. BM_<name>/interpreter_metered and BM_<name>/jit_metered time
// the same engines with metering (exec/engine.hpp) under a budget no run reaches; the summary gives their ratio.
// BM_<name>/optimized_facts times the optimizing JIT's code compiled with the verifier's facts, for the programs that
// verify as a hook's with the benchmark's context (bench_platform). BM_<name>/aot times native mode: the program as the
// C `embpf aot` wrote, compiled into this binary by the build (with the verifier's facts of bench_platform) and bound
// to the program with exec::AotProgram, which checks that the code is this program's. packet_parse, crc32 and
// insertion_sort do not verify there, and `embpf aot` refuses them: their C is written unverified, without facts
// (bench_aot_unverified.cpp), and checked against the native build like the JITs' code of them.

#include "bench_ctx.h"
#include "bench_platform.hpp"
#include "embedded_programs.hpp"

#include "embpf/exec/aot.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#ifdef EMBPF_BENCH_AOT
// The benchmark programs compiled ahead of time (benchmarks/CMakeLists.txt): by `embpf aot --prefix
// embpf_bench_aot_<name>` those that verify as the benchmark's hook (EMBPF_BENCH_AOT_PROGRAMS), with the verifier's
// facts; by embpf_bench_aot_unverified the others, unverified and without facts.
extern "C" {
extern const embpf_aot_module embpf_bench_aot_fnv1a_module;
extern const embpf_aot_module embpf_bench_aot_packet_parse_module;
extern const embpf_aot_module embpf_bench_aot_inet_checksum_module;
extern const embpf_aot_module embpf_bench_aot_crc32_module;
extern const embpf_aot_module embpf_bench_aot_insertion_sort_module;
extern const embpf_aot_module embpf_bench_aot_xorshift_collatz_module;
}
#endif

namespace {

using NativeProgram = std::uint64_t (*)(embpf_bench_ctx*);

/// splitmix64: inputs are the same on every platform and standard library.
class Prng {
  public:
    explicit Prng(std::uint64_t seed) : m_state(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    void fill(std::span<std::uint8_t> bytes) noexcept {
        for (std::uint8_t& byte : bytes) {
            byte = static_cast<std::uint8_t>(next() >> 56);
        }
    }

  private:
    std::uint64_t m_state;
};

/// A program's input: a buffer in 8-byte aligned storage, starting `headroom` bytes in, and the two
/// scalar parameters of the context.
class Input {
  public:
    explicit Input(std::size_t size = 0, std::size_t headroom = 0)
        : m_storage((headroom + size + 7) / 8 + 1), m_headroom(headroom), m_size(size) {}

    [[nodiscard]] std::uint8_t* data() noexcept {
        return reinterpret_cast<std::uint8_t*>(m_storage.data()) + m_headroom;
    }
    [[nodiscard]] std::span<std::uint8_t> bytes() noexcept { return {data(), m_size}; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }

    /// The context over the first `length` bytes of the buffer.
    [[nodiscard]] embpf_bench_ctx context(std::size_t length) noexcept {
        const auto start = reinterpret_cast<std::uintptr_t>(data());
        return {start, start + std::min(length, m_size), seed, count};
    }
    [[nodiscard]] embpf_bench_ctx context() noexcept { return context(m_size); }

    std::uint64_t seed = 0;
    std::uint64_t count = 0;

  private:
    std::vector<std::uint64_t> m_storage;
    std::size_t m_headroom;
    std::size_t m_size;
};

/// One input of the differential check, with the answer when it is known independently.
struct Case {
    std::string label;
    Input input;
    std::size_t length = SIZE_MAX; ///< how much of the buffer the context covers
    std::function<bool(std::uint64_t)> expect = {};
};

struct ProgramSpec {
    std::string name;
    std::span<const std::uint8_t> (*code)() noexcept;
    NativeProgram native;
    Input input; ///< the benchmark input
    std::function<bool(std::uint64_t)> expect = {};
    std::vector<Case> extra_cases = {};
};

// ---------------------------------------------------------------------------------------------
// Inputs and reference answers.

std::function<bool(std::uint64_t)> equals(std::uint64_t expected) {
    return [expected](std::uint64_t result) { return result == expected; };
}

Input random_bytes(Prng& prng, std::size_t size) {
    Input input(size);
    prng.fill(input.bytes());
    return input;
}

Input text_input(std::string_view text) {
    Input input(text.size());
    std::memcpy(input.data(), text.data(), text.size());
    return input;
}

std::uint64_t reference_fnv1a(std::span<const std::uint8_t> bytes) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (std::uint8_t byte : bytes) {
        hash = (hash ^ byte) * 0x100000001b3ULL;
    }
    return hash;
}

std::uint64_t reference_crc32(std::span<const std::uint8_t> bytes) {
    std::uint32_t crc = 0xffffffffU;
    for (std::uint8_t byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ ((crc & 1U) != 0 ? 0xedb88320U : 0U);
        }
    }
    return ~crc;
}

std::uint64_t reference_sort(std::span<const std::uint8_t> bytes, std::size_t count) {
    std::vector<std::uint32_t> keys(count);
    std::memcpy(keys.data(), bytes.data(), count * sizeof(std::uint32_t));
    std::sort(keys.begin(), keys.end());
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        sum += static_cast<std::uint64_t>(keys[i]) * (i + 1);
    }
    return sum;
}

void put16(std::uint8_t* at, unsigned value) {
    at[0] = static_cast<std::uint8_t>(value >> 8);
    at[1] = static_cast<std::uint8_t>(value);
}

void put32(std::uint8_t* at, std::uint32_t value) {
    put16(at, value >> 16);
    put16(at + 2, value & 0xffffU);
}

/// The one's-complement sum of big-endian 16-bit words, not yet complemented.
std::uint32_t ones_sum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        sum += static_cast<std::uint32_t>(bytes[i]) << 8;
        if (i + 1 < bytes.size()) {
            sum += bytes[i + 1];
        }
    }
    while (sum > 0xffff) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

constexpr std::size_t kEthernetBytes = 14;
constexpr std::size_t kVlanBytes = 4;
constexpr std::size_t kIpv4Bytes = 20;
constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

/// An Ethernet frame with one 802.1Q tag, an IPv4 header and a TCP segment (with MSS, SACK-permitted,
/// timestamp and window-scale options) or a UDP datagram with a random payload; `ip_length` bytes
/// from the IPv4 header on, all checksums right. The frame starts 2 bytes into aligned storage.
Input make_packet(Prng& prng, std::uint8_t protocol, std::size_t ip_length) {
    Input input(kEthernetBytes + kVlanBytes + ip_length, 2);
    std::uint8_t* frame = input.data();
    prng.fill(input.bytes());
    const std::array<std::uint8_t, 12> macs{0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    std::memcpy(frame, macs.data(), macs.size());
    put16(frame + 12, 0x8100);
    put16(frame + 14, 100); // VLAN id
    put16(frame + 16, 0x0800);

    std::uint8_t* ip = frame + kEthernetBytes + kVlanBytes;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, static_cast<unsigned>(ip_length));
    put16(ip + 4, 0x1c46);
    put16(ip + 6, 0x4000); // don't fragment
    ip[8] = 64;
    ip[9] = protocol;
    put16(ip + 10, 0);
    put32(ip + 12, 0x0a000001); // 10.0.0.1
    put32(ip + 16, 0xc0a80114); // 192.168.1.20
    put16(ip + 10, ~ones_sum({ip, kIpv4Bytes}) & 0xffffU);

    std::uint8_t* l4 = ip + kIpv4Bytes;
    const std::size_t l4_length = ip_length - kIpv4Bytes;
    std::size_t checksum_at = 0;
    if (protocol == kTcp) {
        put16(l4, 443);
        put16(l4 + 2, 51514);
        put32(l4 + 4, 0x3e2a9c51);
        put32(l4 + 8, 0x91b4d203);
        l4[12] = 10 << 4; // 40-byte header: 20 bytes of options
        l4[13] = 0x18;    // PSH | ACK
        put16(l4 + 14, 502);
        put16(l4 + 16, 0);
        put16(l4 + 18, 0);
        const std::array<std::uint8_t, 20> options{2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x12, 0x34,
                                                   0x56, 0x78, 0,    0,    0, 0, 1, 3,  3,    7};
        std::memcpy(l4 + 20, options.data(), options.size());
        checksum_at = 16;
    } else {
        put16(l4, 53);
        put16(l4 + 2, 40000);
        put16(l4 + 4, static_cast<unsigned>(l4_length));
        put16(l4 + 6, 0);
        checksum_at = 6;
    }
    std::array<std::uint8_t, 12> pseudo{};
    std::memcpy(pseudo.data(), ip + 12, 8);
    pseudo[9] = protocol;
    put16(pseudo.data() + 10, static_cast<unsigned>(l4_length));
    const std::uint32_t sum = ones_sum({l4, l4_length}, ones_sum(pseudo));
    put16(l4 + checksum_at, ~sum & 0xffffU);
    return input;
}

bool is_valid_checksum(std::uint64_t result) { return (result & 0xffffU) == 0xffffU && result != 0xffffU; }

// ---------------------------------------------------------------------------------------------
// The programs.

constexpr std::uint64_t kSeed = 0x5eed'b16b'00b5'f00dULL;
constexpr std::size_t kHashBytes = 1024;
constexpr std::size_t kSortKeys = 64;
constexpr std::size_t kPacketIpBytes = 1500;
constexpr std::uint64_t kCollatzRounds = 64;

std::vector<ProgramSpec> make_programs() {
    Prng prng(kSeed);
    std::vector<ProgramSpec> programs;

    {
        ProgramSpec spec{"fnv1a", embpf::bench::code::fnv1a, embpf_native_fnv1a, random_bytes(prng, kHashBytes)};
        spec.expect = equals(reference_fnv1a(spec.input.bytes()));
        spec.extra_cases.push_back({"\"a\"", text_input("a"), SIZE_MAX, equals(0xaf63dc4c8601ec8cULL)});
        programs.push_back(std::move(spec));
    }
    {
        ProgramSpec spec{"packet_parse", embpf::bench::code::packet_parse, embpf_native_packet_parse,
                         make_packet(prng, kTcp, kPacketIpBytes)};
        spec.expect = [](std::uint64_t result) { return (result & 15) == 1; };
        spec.extra_cases.push_back({"UDP packet", make_packet(prng, kUdp, 512), SIZE_MAX,
                                    [](std::uint64_t result) { return (result & 15) == 2; }});
        Input corrupt = make_packet(prng, kTcp, 60);
        corrupt.data()[kEthernetBytes + kVlanBytes + 8] ^= 1; // the TTL, under the header checksum
        spec.extra_cases.push_back({"bad IPv4 checksum", std::move(corrupt), SIZE_MAX, equals(11)});
        programs.push_back(std::move(spec));
    }
    {
        ProgramSpec spec{"inet_checksum", embpf::bench::code::inet_checksum, embpf_native_inet_checksum,
                         make_packet(prng, kTcp, kPacketIpBytes)};
        spec.expect = is_valid_checksum;
        spec.extra_cases.push_back(
            {"UDP packet, odd length", make_packet(prng, kUdp, 533), SIZE_MAX, is_valid_checksum});
        Input corrupt = make_packet(prng, kTcp, 300);
        corrupt.data()[200] ^= 0x40;
        spec.extra_cases.push_back({"corrupt payload", std::move(corrupt), SIZE_MAX,
                                    [](std::uint64_t result) { return !is_valid_checksum(result); }});
        programs.push_back(std::move(spec));
    }
    {
        ProgramSpec spec{"crc32", embpf::bench::code::crc32, embpf_native_crc32, random_bytes(prng, kHashBytes)};
        spec.expect = equals(reference_crc32(spec.input.bytes()));
        spec.extra_cases.push_back({"\"123456789\"", text_input("123456789"), SIZE_MAX, equals(0xcbf43926U)});
        programs.push_back(std::move(spec));
    }
    {
        ProgramSpec spec{"insertion_sort", embpf::bench::code::insertion_sort, embpf_native_insertion_sort,
                         random_bytes(prng, kSortKeys * sizeof(std::uint32_t))};
        spec.input.count = kSortKeys;
        spec.expect = equals(reference_sort(spec.input.bytes(), kSortKeys));
        Input descending(kSortKeys * sizeof(std::uint32_t));
        for (std::size_t i = 0; i < kSortKeys; ++i) {
            const auto key = static_cast<std::uint32_t>(kSortKeys - i);
            std::memcpy(descending.data() + i * sizeof key, &key, sizeof key);
        }
        descending.count = kSortKeys;
        const std::uint64_t descending_answer = reference_sort(descending.bytes(), kSortKeys);
        spec.extra_cases.push_back({"descending keys", std::move(descending), SIZE_MAX, equals(descending_answer)});
        programs.push_back(std::move(spec));
    }
    {
        ProgramSpec spec{"xorshift_collatz", embpf::bench::code::xorshift_collatz, embpf_native_xorshift_collatz,
                         Input()};
        spec.input.seed = prng.next();
        spec.input.count = kCollatzRounds;
        for (std::uint64_t rounds = 0; rounds < 8; ++rounds) {
            Case extra{"seeded, " + std::to_string(rounds) + " rounds", Input()};
            extra.input.seed = prng.next();
            extra.input.count = rounds;
            spec.extra_cases.push_back(std::move(extra));
        }
        programs.push_back(std::move(spec));
    }
    return programs;
}

// ---------------------------------------------------------------------------------------------
// Preparation and the differential check.

/// The metered rows' budget: more than any run here charges, so that they time the charging alone.
constexpr std::uint64_t kMeteringBudget = std::uint64_t{1} << 62;

struct Prepared {
    std::string name;
    NativeProgram native = nullptr;
    NativeProgram native_clang = nullptr; ///< the clang build, where there is one
    std::vector<embpf::isa::Instruction> instructions;
    std::unique_ptr<embpf::exec::Interpreter> interpreter;
    std::unique_ptr<embpf::exec::Jit> jit;                ///< null on a machine the JIT does not translate for
    std::unique_ptr<embpf::exec::OptimizedJit> optimized; ///< null in a build without the optimizing JIT
    /// The same with metering (exec/engine.hpp) under a budget no run reaches: what charging costs.
    std::unique_ptr<embpf::exec::Interpreter> metered_interpreter;
    std::unique_ptr<embpf::exec::Jit> metered_jit;
    std::unique_ptr<embpf::exec::OptimizedJit> metered_optimized;
    /// The optimizing JIT with the verifier's facts, for the programs that verify as a hook's (bench_platform): null
    /// for the others.
    std::unique_ptr<embpf::exec::OptimizedJit> facts_optimized;
    /// The program compiled ahead of time into this binary, in builds with the embpf tool: null in the others.
    std::unique_ptr<embpf::exec::AotProgram> aot;
    Input input;
    std::uint64_t expected = 0; ///< the result on the benchmark input
    std::uint64_t executed = 0; ///< eBPF instructions executed per run on it
};

[[noreturn]] void fail(const std::string& program, const std::string& message) {
    std::fprintf(stderr, "embpf_bench: %s: %s\n", program.c_str(), message.c_str());
    std::exit(1);
}

std::string hex(std::uint64_t value) {
    std::array<char, 24> text{};
    std::snprintf(text.data(), text.size(), "0x%016llx", static_cast<unsigned long long>(value));
    return text.data();
}

using embpf::bench::bench_platform;

/// Runs the interpreter checked and unchecked and the native build on one input; returns the result
/// and the number of instructions, or exits when they disagree or the checked run faults.
std::pair<std::uint64_t, std::uint64_t> check_case(const Prepared& program, const std::string& label, Input& input,
                                                   std::size_t length,
                                                   const std::function<bool(std::uint64_t)>& expect) {
    embpf_bench_ctx ctx = input.context(length);
    const std::size_t covered = static_cast<std::size_t>(ctx.data_end - ctx.data);
    embpf::exec::CheckedOptions options;
    options.regions.push_back({input.data(), covered, false});
    options.context_writable = false;
    options.instruction_budget = 100'000'000;

    const std::uint64_t native = program.native(&ctx);
    if (program.native_clang != nullptr) {
        if (const std::uint64_t clang = program.native_clang(&ctx); clang != native) {
            fail(program.name,
                 label + ": the clang build returned " + hex(clang) + ", the host compiler's " + hex(native));
        }
    }
    const auto checked = program.interpreter->run_checked(&ctx, sizeof ctx, options);
    if (!checked.has_value()) {
        const auto& error = checked.error();
        const bool names_pc = error.pc && !error.message.starts_with("pc ");
        fail(program.name, label + ": the checked run failed" +
                               (names_pc ? " at pc " + std::to_string(*error.pc) : std::string()) + ": " +
                               error.message);
    }
    const std::uint64_t fast = program.interpreter->run(&ctx, sizeof ctx);
    if (checked.value().r0 != native || fast != native) {
        fail(program.name, label + ": the interpreter returned " + hex(checked.value().r0) + " (checked) and " +
                               hex(fast) + " (unchecked), the native build " + hex(native));
    }
    if (program.jit) {
        if (const std::uint64_t jit = program.jit->run(&ctx, sizeof ctx); jit != native) {
            fail(program.name, label + ": the JIT returned " + hex(jit) + ", the native build " + hex(native));
        }
    }
    if (program.facts_optimized) {
        if (const std::uint64_t optimized = program.facts_optimized->run(&ctx, sizeof ctx); optimized != native) {
            fail(program.name, label + ": the optimizing JIT with the verifier's facts returned " + hex(optimized) +
                                   ", the native build " + hex(native));
        }
    }
    if (program.aot) {
        if (const std::uint64_t aot = program.aot->run(&ctx, sizeof ctx); aot != native) {
            fail(program.name,
                 label + ": the compiled code (aot) returned " + hex(aot) + ", the native build " + hex(native));
        }
    }
    if (program.optimized) {
        if (const std::uint64_t optimized = program.optimized->run(&ctx, sizeof ctx); optimized != native) {
            fail(program.name,
                 label + ": the optimizing JIT returned " + hex(optimized) + ", the native build " + hex(native));
        }
    }
    for (const embpf::exec::Executable* metered :
         {static_cast<const embpf::exec::Executable*>(program.metered_interpreter.get()),
          static_cast<const embpf::exec::Executable*>(program.metered_jit.get()),
          static_cast<const embpf::exec::Executable*>(program.metered_optimized.get())}) {
        if (metered == nullptr) {
            continue;
        }
        if (const embpf::exec::RunOutcome outcome = metered->run_metered(&ctx, sizeof ctx);
            outcome.r0 != native || outcome.budget_exhausted) {
            fail(program.name, label + ": the metered " + std::string(to_string(metered->kind())) + " returned " +
                                   hex(outcome.r0) + (outcome.budget_exhausted ? " (budget exhausted)" : "") +
                                   ", the native build " + hex(native));
        }
    }
    if (expect && !expect(native)) {
        fail(program.name, label + ": the result " + hex(native) + " is not the known answer");
    }
    return {native, checked.value().instructions};
}

/// The clang build of program `name` (BM_<name>/native_clang), or null.
NativeProgram clang_native(std::string_view name) {
#ifdef EMBPF_BENCH_CLANG_NATIVE
    const std::pair<std::string_view, NativeProgram> builds[] = {
        {"fnv1a", embpf_native_clang_fnv1a},
        {"packet_parse", embpf_native_clang_packet_parse},
        {"inet_checksum", embpf_native_clang_inet_checksum},
        {"crc32", embpf_native_clang_crc32},
        {"insertion_sort", embpf_native_clang_insertion_sort},
        {"xorshift_collatz", embpf_native_clang_xorshift_collatz},
    };
    for (const auto& [program, build] : builds) {
        if (program == name) {
            return build;
        }
    }
#else
    (void)name;
#endif
    return nullptr;
}

/// A program's compiled module (BM_<name>/aot) and how it was written.
struct AotModule {
    const embpf_aot_module* module = nullptr; ///< null: none in this build
    /// Written by `embpf aot`, verified and with the verifier's facts; else by embpf_bench_aot_unverified, without.
    bool verified = false;
};

/// The compiled module of program `name`.
AotModule aot_module(std::string_view name) {
#ifdef EMBPF_BENCH_AOT
    const std::pair<std::string_view, AotModule> modules[] = {
        {"fnv1a", {&embpf_bench_aot_fnv1a_module, true}},
        {"packet_parse", {&embpf_bench_aot_packet_parse_module, false}},
        {"inet_checksum", {&embpf_bench_aot_inet_checksum_module, true}},
        {"crc32", {&embpf_bench_aot_crc32_module, false}},
        {"insertion_sort", {&embpf_bench_aot_insertion_sort_module, false}},
        {"xorshift_collatz", {&embpf_bench_aot_xorshift_collatz_module, true}},
    };
    for (const auto& [program, module] : modules) {
        if (program == name) {
            return module;
        }
    }
#else
    (void)name;
#endif
    return {};
}

std::unique_ptr<Prepared> prepare(ProgramSpec& spec) {
    auto program = std::make_unique<Prepared>();
    program->name = spec.name;
    program->native = spec.native;
    program->native_clang = clang_native(spec.name);

    auto decoded = embpf::isa::decode(spec.code());
    if (!decoded.has_value()) {
        fail(spec.name, "decode: " + decoded.error().message);
    }
    program->instructions = std::move(decoded).value();
    auto interpreter = embpf::exec::Interpreter::create(program->instructions);
    if (!interpreter.has_value()) {
        fail(spec.name, "Interpreter::create: " + interpreter.error().message);
    }
    program->interpreter = std::make_unique<embpf::exec::Interpreter>(std::move(interpreter).value());
    program->metered_interpreter = std::make_unique<embpf::exec::Interpreter>(
        embpf::exec::Interpreter::create(program->instructions, {}, {.instruction_budget = kMeteringBudget}).value());
    if (embpf::exec::host_jit_target()) {
        auto jit = embpf::exec::Jit::create(program->instructions);
        if (!jit.has_value()) {
            fail(spec.name, "Jit::create: " + jit.error().message);
        }
        program->jit = std::make_unique<embpf::exec::Jit>(std::move(jit).value());
        program->metered_jit = std::make_unique<embpf::exec::Jit>(
            embpf::exec::Jit::create(program->instructions, {}, {.instruction_budget = kMeteringBudget}).value());
    }
    // Verified as the benchmark's hook: the facts of the optimizing JIT's second build and of the compiled code.
    embpf::verifier::ProgramInput verifier_input;
    verifier_input.name = spec.name;
    verifier_input.section = "bench/" + spec.name;
    verifier_input.instructions = program->instructions;
    const embpf::platform::Platform& platform = bench_platform();
    const embpf::platform::ProgramType& bench_type = *platform.program_type("bench");
    const embpf::verifier::Report report =
        embpf::verifier::verify(verifier_input, platform, bench_type, {.facts = true});
    if (embpf::exec::optimizer_available()) {
        auto optimized = embpf::exec::OptimizedJit::create(program->instructions);
        if (!optimized.has_value()) {
            fail(spec.name, "OptimizedJit::create: " + optimized.error().message);
        }
        program->optimized = std::make_unique<embpf::exec::OptimizedJit>(std::move(optimized).value());
        program->metered_optimized = std::make_unique<embpf::exec::OptimizedJit>(
            embpf::exec::OptimizedJit::create(program->instructions, {}, {.instruction_budget = kMeteringBudget})
                .value());
        if (report.verified) {
            auto with_facts = embpf::exec::OptimizedJit::create(program->instructions, {}, {.facts = report.facts});
            if (!with_facts.has_value()) {
                fail(spec.name, "OptimizedJit::create with facts: " + with_facts.error().message);
            }
            program->facts_optimized = std::make_unique<embpf::exec::OptimizedJit>(std::move(with_facts).value());
        }
    }
    if (const auto [module, verified] = aot_module(spec.name); module != nullptr) {
        // As the loader binds it (ProgramState::aot_options): the hook's data range, the verifier's facts; as
        // embpf_bench_aot_unverified wrote it: the hook's data range alone.
        if (verified && !report.verified) {
            fail(spec.name, "compiled ahead of time, but it does not verify here");
        }
        if (!verified && report.verified) {
            fail(spec.name, "compiled ahead of time unverified, but it verifies here: compile it with its facts "
                            "(EMBPF_BENCH_AOT_PROGRAMS in benchmarks/CMakeLists.txt)");
        }
        if (auto checked = embpf::exec::check_aot_module(*module); !checked || module->program_count != 1) {
            fail(spec.name,
                 "the compiled module: " + (checked ? std::string("not one program") : checked.error().message));
        }
        embpf::exec::AotOptions options;
        options.packet = embpf::exec::packet_layout(bench_type);
        if (verified) {
            options.probe_loads = report.probe_loads;
            options.facts = report.facts;
        }
        auto bound = embpf::exec::AotProgram::create(*module->programs[0], program->instructions, {}, options);
        if (!bound.has_value()) {
            fail(spec.name, "AotProgram::create: " + bound.error().message);
        }
        program->aot = std::make_unique<embpf::exec::AotProgram>(std::move(bound).value());
    }

    // Truncated copies of the benchmark input take every early exit of the bounds checks; the checked
    // run's only region is the truncated buffer, so a read past data_end fails the check.
    const std::size_t size = spec.input.size();
    for (std::size_t length = 0; length < size && length <= 96; ++length) {
        check_case(*program, "first " + std::to_string(length) + " bytes", spec.input, length, {});
    }
    if (size > 97) {
        check_case(*program, "first " + std::to_string(size - 1) + " bytes", spec.input, size - 1, {});
    }
    for (Case& extra : spec.extra_cases) {
        check_case(*program, extra.label, extra.input, extra.length, extra.expect);
    }
    const auto [result, executed] = check_case(*program, "benchmark input", spec.input, SIZE_MAX, spec.expect);
    program->expected = result;
    program->executed = executed;
    program->input = std::move(spec.input);
    return program;
}

// ---------------------------------------------------------------------------------------------
// The benchmarks.

/// Counters shared by both rows of a program: the eBPF instructions per run, and the time per run
/// divided by them in nanoseconds (an inverted rate of insns * 1e-9 per iteration gives exactly that).
void set_counters(benchmark::State& state, const Prepared& program) {
    const auto executed = static_cast<double>(program.executed);
    state.counters["insns"] = benchmark::Counter(executed);
    state.counters["ns_per_insn"] = benchmark::Counter(executed * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                            benchmark::Counter::kInvert);
}

void run_native(benchmark::State& state, Prepared* program, NativeProgram native) {
    embpf_bench_ctx ctx = program->input.context();
    std::uint64_t result = 0;
    for (auto _ : state) {
        // The compiler must assume the context and the buffer changed, so nothing is hoisted.
        benchmark::DoNotOptimize(ctx);
        result = native(&ctx);
        benchmark::DoNotOptimize(result);
    }
    if (result != program->expected) {
        state.SkipWithError("the result changed while timing");
    }
    set_counters(state, *program);
}

void run_engine(benchmark::State& state, Prepared* program, const embpf::exec::Executable& engine) {
    embpf_bench_ctx ctx = program->input.context();
    std::uint64_t result = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(ctx);
        result = engine.run(&ctx, sizeof ctx);
        benchmark::DoNotOptimize(result);
    }
    if (result != program->expected) {
        state.SkipWithError("the result changed while timing");
    }
    set_counters(state, *program);
}

// ---------------------------------------------------------------------------------------------
// Reporting.

constexpr std::string_view kNative = "native";
constexpr std::string_view kInterpreter = "interpreter";
constexpr std::string_view kJit = "jit";
constexpr std::string_view kOptimized = "optimized";
constexpr std::string_view kNativeClang = "native_clang";
constexpr std::string_view kInterpreterMetered = "interpreter_metered";
constexpr std::string_view kJitMetered = "jit_metered";
constexpr std::string_view kOptimizedMetered = "optimized_metered";
constexpr std::string_view kOptimizedFacts = "optimized_facts";
constexpr std::string_view kAot = "aot";

/// Mean CPU time per run of each benchmark, in nanoseconds.
class Timings {
  public:
    void record(const benchmark::BenchmarkReporter::Run& run) {
        if (run.error_occurred) {
            return;
        }
        Entry& entry = m_entries[run.run_name.function_name];
        const double ns = cpu_ns(run);
        if (run.run_type == benchmark::BenchmarkReporter::Run::RT_Iteration) {
            entry.iteration_sum += ns;
            ++entry.iteration_count;
        } else if (run.aggregate_name == "mean") {
            entry.mean = ns;
        }
    }

    /// The mean of the repetitions (or the reported mean when only aggregates are reported); 0 when
    /// the benchmark did not run.
    [[nodiscard]] double mean_ns(const std::string& benchmark) const {
        const auto found = m_entries.find(benchmark);
        if (found == m_entries.end()) {
            return 0;
        }
        const Entry& entry = found->second;
        if (entry.mean > 0) {
            return entry.mean;
        }
        return entry.iteration_count > 0 ? entry.iteration_sum / static_cast<double>(entry.iteration_count) : 0;
    }

    static double cpu_ns(const benchmark::BenchmarkReporter::Run& run) {
        return run.GetAdjustedCPUTime() * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
    }

  private:
    struct Entry {
        double iteration_sum = 0;
        std::size_t iteration_count = 0;
        double mean = 0;
    };
    std::map<std::string, Entry> m_entries;
};

std::string benchmark_name(std::string_view program, std::string_view engine) {
    return "BM_" + std::string(program) + "/" + std::string(engine);
}

/// The console reporter, with a `vs_native` column (interpreter time over the program's native time,
/// 1 on the native rows, 0 when the native benchmark has not run) and a record of every timing for
/// the summary.
class SummaryReporter final : public benchmark::ConsoleReporter {
  public:
    using benchmark::ConsoleReporter::ConsoleReporter;

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            m_timings.record(run);
        }
        std::vector<Run> annotated = runs;
        for (Run& run : annotated) {
            const std::string& name = run.run_name.function_name;
            const auto slash = name.rfind('/');
            // Ratios of spreads (stddev, cv) mean nothing: those rows show 0.
            const bool central =
                run.run_type == Run::RT_Iteration || run.aggregate_name == "mean" || run.aggregate_name == "median";
            double ratio = 0;
            if (central && !run.error_occurred && slash != std::string::npos) {
                if (name.substr(slash + 1) == kNative) {
                    ratio = 1;
                } else {
                    const double native = m_timings.mean_ns(name.substr(0, slash + 1) + std::string(kNative));
                    ratio = native > 0 ? Timings::cpu_ns(run) / native : 0;
                }
            }
            run.counters["vs_native"] = benchmark::Counter(ratio);
            // The values are final by now; without the rate flags the console prints ns_per_insn as
            // the plain number of nanoseconds it is, not with a seconds unit.
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

void print_summary(const std::vector<std::unique_ptr<Prepared>>& programs, const Timings& timings) {
    std::printf("\nSummary (CPU time per run, mean over repetitions; insns = eBPF instructions executed per run)\n");
    std::printf("%-18s %6s %10s %15s %9s %13s %10s %11s %8s %11s %8s\n", "program", "slots", "insns/run",
                "interp ns/run", "ns/insn", "native ns/run", "interp/nat", "jit ns/run", "jit/nat", "opt ns/run",
                "opt/nat");
    double log_interp = 0;
    double log_jit = 0;
    double log_optimized = 0;
    int counted = 0;
    int optimized_counted = 0;
    double worst_optimized = 0;
    for (const auto& program : programs) {
        const double interpreter = timings.mean_ns(benchmark_name(program->name, kInterpreter));
        const double native = timings.mean_ns(benchmark_name(program->name, kNative));
        const double jit = timings.mean_ns(benchmark_name(program->name, kJit));
        const double optimized = timings.mean_ns(benchmark_name(program->name, kOptimized));
        if (interpreter <= 0 && native <= 0) {
            continue;
        }
        const auto executed = static_cast<double>(program->executed);
        std::printf("%-18s %6zu %10llu ", program->name.c_str(), program->instructions.size(),
                    static_cast<unsigned long long>(program->executed));
        if (interpreter > 0) {
            std::printf("%15.1f %9.3f ", interpreter, interpreter / executed);
        } else {
            std::printf("%15s %9s ", "-", "-");
        }
        if (native > 0) {
            std::printf("%13.1f ", native);
        } else {
            std::printf("%13s ", "-");
        }
        if (interpreter > 0 && native > 0) {
            std::printf("%10.2f ", interpreter / native);
        } else {
            std::printf("%10s ", "-");
        }
        if (jit > 0 && native > 0) {
            std::printf("%11.1f %8.2f ", jit, jit / native);
        } else {
            std::printf("%11s %8s ", "-", "-");
        }
        if (optimized > 0 && native > 0) {
            std::printf("%11.1f %8.2f\n", optimized, optimized / native);
            log_optimized += std::log(optimized / native);
            worst_optimized = std::max(worst_optimized, optimized / native);
            ++optimized_counted;
        } else {
            std::printf("%11s %8s\n", "-", "-");
        }
        if (interpreter > 0 && native > 0 && jit > 0) {
            log_interp += std::log(interpreter / native);
            log_jit += std::log(jit / native);
            ++counted;
        }
    }
    if (counted > 0) {
        std::printf("geomean over %d programs: interpreter %.2fx native, jit %.2fx native\n", counted,
                    std::exp(log_interp / counted), std::exp(log_jit / counted));
    }
    if (optimized_counted > 0) {
        std::printf("optimized: geomean %.2fx native over %d programs, the slowest %.2fx\n",
                    std::exp(log_optimized / optimized_counted), optimized_counted, worst_optimized);
    }
    // LLVM's own native code: what the optimizing JIT adds to it, and where the host compiler's code differs.
    double log_over_clang = 0;
    int clang_counted = 0;
    for (const auto& program : programs) {
        const double native = timings.mean_ns(benchmark_name(program->name, kNative));
        const double clang = timings.mean_ns(benchmark_name(program->name, kNativeClang));
        const double optimized = timings.mean_ns(benchmark_name(program->name, kOptimized));
        if (clang <= 0 || native <= 0) {
            continue;
        }
        std::printf("%-18s clang native %9.1f ns/run, clang/native %5.2f", program->name.c_str(), clang,
                    clang / native);
        if (optimized > 0) {
            std::printf(", optimized/clang %5.2f", optimized / clang);
            log_over_clang += std::log(optimized / clang);
            ++clang_counted;
        }
        std::printf("\n");
    }
    if (clang_counted > 0) {
        std::printf("optimized: geomean %.2fx clang's native code over %d programs\n",
                    std::exp(log_over_clang / clang_counted), clang_counted);
    }
    // The verifier's facts: the optimizing JIT's code with them against its code without, where a program verifies.
    std::string with_facts;
    for (const auto& program : programs) {
        const double base = timings.mean_ns(benchmark_name(program->name, kOptimized));
        const double facts = timings.mean_ns(benchmark_name(program->name, kOptimizedFacts));
        if (base > 0 && facts > 0) {
            with_facts += " " + program->name + " " + std::to_string(facts / base).substr(0, 4);
        }
    }
    if (!with_facts.empty()) {
        std::printf("optimized with/without the verifier's facts:%s\n", with_facts.c_str());
    }
    // Native mode: the compiled C against the native build of the same source.
    double log_aot = 0;
    int aot_counted = 0;
    std::string aot_line;
    for (const auto& program : programs) {
        const double native = timings.mean_ns(benchmark_name(program->name, kNative));
        const double aot = timings.mean_ns(benchmark_name(program->name, kAot));
        if (native > 0 && aot > 0) {
            log_aot += std::log(aot / native);
            ++aot_counted;
            aot_line += " " + program->name + " " + std::to_string(aot / native).substr(0, 4);
        }
    }
    if (aot_counted > 0) {
        std::printf("aot/native: geomean %.2f over %d programs;%s\n", std::exp(log_aot / aot_counted), aot_counted,
                    aot_line.c_str());
    }
    // Metering's cost: each metered row against its unmetered engine.
    for (const auto& [plain, metered] : {std::pair{kInterpreter, kInterpreterMetered}, std::pair{kJit, kJitMetered},
                                         std::pair{kOptimized, kOptimizedMetered}}) {
        double log_ratio = 0;
        int rows = 0;
        std::string line;
        for (const auto& program : programs) {
            const double base = timings.mean_ns(benchmark_name(program->name, plain));
            const double charged = timings.mean_ns(benchmark_name(program->name, metered));
            if (base > 0 && charged > 0) {
                log_ratio += std::log(charged / base);
                ++rows;
                line += " " + program->name + " " + std::to_string(charged / base).substr(0, 4);
            }
        }
        if (rows > 0) {
            std::printf("metered/unmetered %s: geomean %.3f over %d programs;%s\n", std::string(plain).c_str(),
                        std::exp(log_ratio / rows), rows, line.c_str());
        }
    }
}

/// Whether the command line asks for a format other than the console's, which the summary would
/// corrupt: then the default reporters run alone.
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

} // namespace

int main(int argc, char** argv) {
    const bool console = console_output(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }

    std::vector<ProgramSpec> specs = make_programs();
    std::vector<std::unique_ptr<Prepared>> programs;
    for (ProgramSpec& spec : specs) {
        programs.push_back(prepare(spec));
    }
    // Native first, so that the interpreter row can show its ratio as soon as it is reported.
    for (const auto& program : programs) {
        benchmark::RegisterBenchmark(benchmark_name(program->name, kNative).c_str(), run_native, program.get(),
                                     program->native);
        if (program->native_clang != nullptr) {
            benchmark::RegisterBenchmark(benchmark_name(program->name, kNativeClang).c_str(), run_native, program.get(),
                                         program->native_clang);
        }
        benchmark::RegisterBenchmark(
            benchmark_name(program->name, kInterpreter).c_str(),
            [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->interpreter); });
        if (program->jit) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kJit).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->jit); });
        }
        if (program->aot) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kAot).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->aot); });
        }
        if (program->optimized) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kOptimized).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->optimized); });
        }
        benchmark::RegisterBenchmark(
            benchmark_name(program->name, kInterpreterMetered).c_str(),
            [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->metered_interpreter); });
        if (program->metered_jit) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kJitMetered).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->metered_jit); });
        }
        if (program->facts_optimized) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kOptimizedFacts).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->facts_optimized); });
        }
        if (program->metered_optimized) {
            benchmark::RegisterBenchmark(
                benchmark_name(program->name, kOptimizedMetered).c_str(),
                [p = program.get()](benchmark::State& state) { run_engine(state, p, *p->metered_optimized); });
        }
    }

    if (!console) {
        benchmark::RunSpecifiedBenchmarks();
    } else {
        auto options = benchmark::ConsoleReporter::OO_Tabular;
        if (isatty(STDOUT_FILENO) != 0) {
            options = benchmark::ConsoleReporter::OO_ColorTabular;
        }
        SummaryReporter reporter(options);
        benchmark::RunSpecifiedBenchmarks(&reporter);
        print_summary(programs, reporter.timings());
    }
    benchmark::Shutdown();
    return 0;
}
