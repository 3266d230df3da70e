// What verification costs: eBPF for Windows xdp programs of about 50, 1,000 and 10,000 instructions, and a counter
// loop of 10 and 1,000,000 iterations; the first three again with Options::facts.
//
// The small program is a hand-written packet parser (Ethernet, 802.1Q, IPv4 with options, TCP or UDP). The medium and
// large ones come from the soundness generator (tests/fuzz/program_generator.hpp) with no planted errors: bounds
// checks, map lookups, helpers, branches and loops; the first of a few fixed seeds whose program the verifier accepts
// is used. The counter loops hash their counter; the verifier must accept them with an instruction bound that covers
// every iteration. A program the verifier refuses, or a loop bound that is too small, stops the benchmark with an
// error instead of a time.

#include "fuzz/program_generator.hpp"

#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using embpf::verifier::MapDescriptor;

struct Subject {
    std::vector<embpf::isa::Instruction> code;
    std::vector<MapDescriptor> maps;
    std::string error; ///< why there is nothing to time
};

embpf::verifier::Report verify(const Subject& subject, bool facts = false) {
    const embpf::platform::Platform& platform = embpf::platform::windows();
    embpf::verifier::ProgramInput input;
    input.name = "bench";
    input.section = "xdp";
    input.instructions = subject.code;
    input.maps = subject.maps;
    embpf::verifier::Options options;
    options.facts = facts;
    return embpf::verifier::verify(input, platform, *platform.program_type("xdp"), options);
}

std::string first_error(const embpf::verifier::Report& report) {
    return report.errors.empty() ? std::string("refused")
                                 : std::to_string(report.errors.front().pc) + ": " + report.errors.front().message;
}

Subject assembled(const std::string& text) {
    Subject subject;
    auto code = embpf::isa::assemble(text);
    if (!code) {
        subject.error = code.error().message;
    } else {
        subject.code = std::move(code).value();
    }
    return subject;
}

// XDP_PASS, except for a DNS query (UDP to port 53) or a TCP SYN: XDP_DROP from a source port below 1024, else XDP_TX.
const std::string kPacketParser = R"(
    r6 = r1
    r2 = *(u64 *)(r6 + 0)
    r3 = *(u64 *)(r6 + 8)
    r0 = 1
    r4 = r2
    r4 += 14
    if r4 > r3 goto out
    r5 = *(u16 *)(r2 + 12)
    r7 = 14
    if r5 != 0x81 goto ip
    r4 = r2
    r4 += 18
    if r4 > r3 goto out
    r5 = *(u16 *)(r2 + 16)
    r7 = 18
ip:
    if r5 != 0x8 goto out
    r8 = r2
    r8 += r7
    r4 = r8
    r4 += 20
    if r4 > r3 goto out
    r9 = *(u8 *)(r8 + 0)
    r9 &= 15
    if r9 < 5 goto out
    r9 <<= 2
    r1 = *(u8 *)(r8 + 9)
    r8 += r9
    r4 = r8
    r4 += 8
    if r4 > r3 goto out
    if r1 == 17 goto udp
    if r1 != 6 goto out
    r4 = r8
    r4 += 20
    if r4 > r3 goto out
    r5 = *(u8 *)(r8 + 13)
    r5 &= 18
    if r5 == 2 goto ports
    goto out
udp:
    r5 = *(u16 *)(r8 + 2)
    r5 = be16 r5
    if r5 != 53 goto out
ports:
    r0 = 2
    r4 = *(u16 *)(r8 + 0)
    r4 = be16 r4
    if r4 < 1024 goto out
    r0 = 3
out:
    exit
)";

// A hash over a counter: 5 instructions per iteration.
Subject counter_loop(std::int64_t iterations) {
    return assembled("r6 = 0\n"
                     "r0 = 84696351\n"
                     "loop:\n"
                     "r0 ^= r6\n"
                     "r0 *= 16777619\n"
                     "r0 &= 0xffffff\n"
                     "r6 += 1\n"
                     "if r6 < " +
                     std::to_string(iterations) +
                     " goto loop\n"
                     "r0 &= 1\n"
                     "r0 += 1\n"
                     "exit\n");
}

// The first accepted program of `instructions` slots or more among a few fixed seeds.
Subject generated(std::size_t instructions) {
    Subject subject;
    for (std::uint64_t seed = 1000; seed < 1016; ++seed) {
        embpf::fuzz::Entropy entropy(seed);
        embpf::fuzz::GeneratorOptions options;
        options.type = "xdp";
        options.min_instructions = instructions;
        options.mistake_percent = 0;
        options.countdown_loops = false;
        options.early_exits = false;
        embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy, options);
        subject.code = std::move(program.instructions);
        subject.maps = std::move(program.maps);
        const embpf::verifier::Report report = verify(subject);
        if (report.verified) {
            subject.error.clear();
            return subject;
        }
        subject.error = "no seed gave an accepted program; the last: " + first_error(report);
    }
    return subject;
}

void run(benchmark::State& state, const Subject& subject, std::optional<std::uint64_t> min_bound = std::nullopt,
         bool facts = false) {
    if (!subject.error.empty()) {
        state.SkipWithError(subject.error.c_str());
        return;
    }
    const embpf::verifier::Report first = verify(subject);
    if (!first.verified || !first.instruction_bound) {
        state.SkipWithError(("refused: " + first_error(first)).c_str());
        return;
    }
    if (min_bound && *first.instruction_bound < *min_bound) {
        state.SkipWithError(
            ("instruction bound " + std::to_string(*first.instruction_bound) + " below " + std::to_string(*min_bound))
                .c_str());
        return;
    }
    for (auto _ : state) {
        embpf::verifier::Report report = verify(subject, facts);
        benchmark::DoNotOptimize(report);
    }
    const auto size = static_cast<double>(subject.code.size());
    state.counters["insns"] = size;
    state.counters["bound"] = static_cast<double>(*first.instruction_bound);
    state.counters["insns/s"] =
        benchmark::Counter(size * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_verify_packet_parser(benchmark::State& state) {
    static const Subject subject = assembled(kPacketParser);
    run(state, subject);
}

void BM_verify_generated_1k(benchmark::State& state) {
    static const Subject subject = generated(1000);
    run(state, subject);
}

void BM_verify_generated_10k(benchmark::State& state) {
    static const Subject subject = generated(10000);
    run(state, subject);
}

// The same with Options::facts: what gathering the facts for an optimizing compiler adds.
void BM_verify_packet_parser_facts(benchmark::State& state) {
    static const Subject subject = assembled(kPacketParser);
    run(state, subject, std::nullopt, true);
}

void BM_verify_generated_1k_facts(benchmark::State& state) {
    static const Subject subject = generated(1000);
    run(state, subject, std::nullopt, true);
}

void BM_verify_generated_10k_facts(benchmark::State& state) {
    static const Subject subject = generated(10000);
    run(state, subject, std::nullopt, true);
}

void BM_verify_counter_loop(benchmark::State& state) {
    const Subject subject = counter_loop(state.range(0));
    // Two instructions before the loop, five per iteration, three after.
    run(state, subject, 2 + 5 * static_cast<std::uint64_t>(state.range(0)) + 3);
}

} // namespace

BENCHMARK(BM_verify_packet_parser)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_generated_1k)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_generated_10k)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_packet_parser_facts)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_generated_1k_facts)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_generated_10k_facts)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_verify_counter_loop)->Arg(10)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
