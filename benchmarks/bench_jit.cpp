// The JITs' costs besides the speed of their code (bench_interpreter.cpp times that): how long translation (the
// baseline JIT) and compilation (the optimizing JIT, LLVM) take per program and per instruction, how long a host
// waits from an object file to a program ready to run, and what a call into an empty program costs.
//
// The object is programs/inet_checksum.c built for eBPF (99 instructions), loaded on a platform with a program type
// whose context is the benchmark context (bench_ctx.h) with its data range.
#include "bench_ctx.h"
#include "bench_platform.hpp"

#include "embpf/embpf.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "embpf_bench_jit: %s\n", what.c_str());
    std::exit(1);
}

using embpf::bench::bench_platform;
using embpf::bench::HostBenchCtx;

embpf::Object load(embpf::exec::EngineKind engine) {
    auto spec = embpf::ObjectSpec::open(std::string(EMBPF_BENCH_JIT_OBJECT), &bench_platform());
    if (!spec) {
        fail(spec.error().message);
    }
    auto object = embpf::Object::load(*spec, bench_platform(), {.engine = engine});
    if (!object) {
        fail(object.error().message);
    }
    return std::move(object).value();
}

/// A TCP segment of 1,480 bytes in an IPv4 packet behind an Ethernet header.
std::vector<std::uint8_t> packet() {
    std::vector<std::uint8_t> bytes(14 + 1500, 0);
    bytes[12] = 0x08; // IPv4
    std::uint8_t* ip = bytes.data() + 14;
    ip[0] = 0x45;
    ip[2] = 1500 >> 8;
    ip[3] = 1500 & 0xFF;
    ip[9] = 6; // TCP
    for (std::size_t i = 34; i < bytes.size(); ++i) {
        bytes[i] = static_cast<std::uint8_t>(i * 7);
    }
    return bytes;
}

// From the object file to a program ready to run: open, verify, prepare (interpreter or JIT).
void BM_LoadObject(benchmark::State& state, embpf::exec::EngineKind engine) {
    for (auto _ : state) {
        embpf::Object object = load(engine);
        benchmark::DoNotOptimize(object);
    }
    const embpf::Object object = load(engine);
    const embpf::Program program = object.program("inet_checksum").value();
    if (program.engine() != engine) {
        state.SkipWithError(("the program runs in another engine: " + program.engine_fallback()).c_str());
    }
    state.counters["insns"] = static_cast<double>(program.instructions().size());
}
BENCHMARK_CAPTURE(BM_LoadObject, interpreter, embpf::exec::EngineKind::interpreter)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_LoadObject, jit, embpf::exec::EngineKind::jit)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_LoadObject, optimized, embpf::exec::EngineKind::optimized)->Unit(benchmark::kMicrosecond);

// Translation alone, of a program of `state.range(0)` instructions: the object's program repeated (its exits and
// jumps stay inside each copy), so that the cost per instruction shows at scale.
void BM_Translate(benchmark::State& state, embpf::exec::EngineKind engine) {
    const embpf::Object object = load(embpf::exec::EngineKind::interpreter);
    const auto one = object.program("inet_checksum").value().instructions();
    std::vector<embpf::isa::Instruction> code;
    while (code.size() + one.size() <= static_cast<std::size_t>(state.range(0))) {
        code.insert(code.end(), one.begin(), one.end());
    }
    for (auto _ : state) {
        if (engine == embpf::exec::EngineKind::jit) {
            auto translated = embpf::exec::Jit::create(code);
            if (!translated) {
                state.SkipWithError(translated.error().message.c_str());
                break;
            }
            benchmark::DoNotOptimize(translated);
        } else if (engine == embpf::exec::EngineKind::optimized) {
            auto compiled = embpf::exec::OptimizedJit::create(code);
            if (!compiled) {
                state.SkipWithError(compiled.error().message.c_str());
                break;
            }
            benchmark::DoNotOptimize(compiled);
        } else {
            auto decoded = embpf::exec::Interpreter::create(code);
            benchmark::DoNotOptimize(decoded);
        }
    }
    state.counters["insns"] = static_cast<double>(code.size());
    state.counters["ns_per_insn"] =
        benchmark::Counter(static_cast<double>(code.size()) * 1e-9,
                           benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_Translate, jit, embpf::exec::EngineKind::jit)
    ->Arg(100)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Translate, optimized, embpf::exec::EngineKind::optimized)
    ->Arg(100)
    ->Arg(10'000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Translate, interpreter, embpf::exec::EngineKind::interpreter)
    ->Arg(100)
    ->Arg(10'000)
    ->Unit(benchmark::kMicrosecond);

// A call into an empty program (r0 = 0; exit): the engine's entry and exit alone.
void BM_EmptyCall(benchmark::State& state, embpf::exec::EngineKind kind) {
    const auto code = embpf::isa::assemble("r0 = 0\nexit\n").value();
    const auto interpreter = embpf::exec::Interpreter::create(code).value();
    std::optional<embpf::exec::Jit> machine;
    std::optional<embpf::exec::OptimizedJit> optimized;
    const embpf::exec::Executable* engine = &interpreter;
    if (kind == embpf::exec::EngineKind::jit) {
        engine = &machine.emplace(embpf::exec::Jit::create(code).value());
    } else if (kind == embpf::exec::EngineKind::optimized) {
        auto compiled = embpf::exec::OptimizedJit::create(code);
        if (!compiled) {
            state.SkipWithError(compiled.error().message.c_str());
            return;
        }
        engine = &optimized.emplace(std::move(compiled).value());
    }
    std::uint64_t ctx = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(engine->run(&ctx, sizeof ctx));
    }
}
BENCHMARK_CAPTURE(BM_EmptyCall, interpreter, embpf::exec::EngineKind::interpreter);
BENCHMARK_CAPTURE(BM_EmptyCall, jit, embpf::exec::EngineKind::jit);
BENCHMARK_CAPTURE(BM_EmptyCall, optimized, embpf::exec::EngineKind::optimized);

// Program::run of the object's program on the packet: the invocation protocol (entry checks, epoch) and the code.
void BM_ProgramRun(benchmark::State& state, embpf::exec::EngineKind engine) {
    const embpf::Object object = load(engine);
    const embpf::Program program = object.program("inet_checksum").value();
    const std::vector<std::uint8_t> bytes = packet();
    HostBenchCtx ctx{bytes.data(), bytes.data() + bytes.size(), 0, 0};
    const std::uint64_t expected = program.run(&ctx, sizeof ctx).value();
    if ((expected >> 32) != 740) { // the segment's 740 words were summed
        state.SkipWithError("the program did not sum the segment");
    }
    if (engine == embpf::exec::EngineKind::automatic) {
        // Timed once promoted: the optimizing JIT's code behind the check a run makes for tiering.
        for (std::uint64_t i = 0; i < embpf::LoadOptions{}.promote_after; ++i) {
            benchmark::DoNotOptimize(program.run(&ctx, sizeof ctx));
        }
        if (!program.wait_for_promotion(std::chrono::minutes(1))) {
            state.SkipWithError(("the program was not promoted: " + program.engine_fallback()).c_str());
        }
    }
    for (auto _ : state) {
        auto r0 = program.run(&ctx, sizeof ctx);
        benchmark::DoNotOptimize(r0);
    }
}
BENCHMARK_CAPTURE(BM_ProgramRun, interpreter, embpf::exec::EngineKind::interpreter);
BENCHMARK_CAPTURE(BM_ProgramRun, jit, embpf::exec::EngineKind::jit);
BENCHMARK_CAPTURE(BM_ProgramRun, optimized, embpf::exec::EngineKind::optimized);
BENCHMARK_CAPTURE(BM_ProgramRun, automatic, embpf::exec::EngineKind::automatic);

} // namespace

BENCHMARK_MAIN();
