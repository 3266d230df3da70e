// Hook<Ctx> and Link: the cost of invoking a hook (empty, one program, four programs) against a direct
// Program::run, in the interpreter and in the JIT (with and without run statistics), and the latency of
// Link::replace while no one invokes.
#include "embpf/embpf.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct BenchRequest {
    std::uint64_t value;
    std::uint32_t flags;
    std::uint32_t pad;
};

const embpf::platform::Platform& bench_platform() {
    static const embpf::platform::Platform host = [] {
        embpf::platform::Platform p = embpf::platform::windows();
        embpf::platform::ProgramType type;
        type.name = "bench_hook";
        type.section_prefixes = {"bench_hook"};
        type.context = embpf::platform::ContextLayout<BenchRequest>()
                           .field(&BenchRequest::value, "value")
                           .field(&BenchRequest::flags, "flags")
                           .descriptor();
        type.return_min = 0;
        type.return_max = 2;
        if (auto added = p.add_program_type(type); !added) {
            std::fprintf(stderr, "bench_hooks: %s\n", added.error().message.c_str());
            std::exit(1);
        }
        return p;
    }();
    return host;
}

embpf::Object load_object(embpf::exec::EngineKind engine) {
    auto spec = embpf::ObjectSpec::open(std::string(EMBPF_BENCH_HOOK_OBJECT), &bench_platform());
    if (!spec) {
        std::fprintf(stderr, "bench_hooks: %s\n", spec.error().message.c_str());
        std::exit(1);
    }
    auto loaded = embpf::Object::load(*spec, bench_platform(), {.engine = engine});
    if (!loaded) {
        std::fprintf(stderr, "bench_hooks: %s\n", loaded.error().message.c_str());
        std::exit(1);
    }
    return std::move(loaded).value();
}

/// The object's programs in the interpreter (false) or the JIT (true).
const embpf::Object& bench_object(bool jit = false) {
    static const embpf::Object interpreted = load_object(embpf::exec::EngineKind::interpreter);
    static const embpf::Object compiled = load_object(embpf::exec::EngineKind::jit);
    return jit ? compiled : interpreted;
}

const embpf::platform::ProgramType& bench_type() { return *bench_platform().program_type("bench_hook"); }

// Program::run in the interpreter or the JIT, with run statistics off (what every run pays: one load of a flag) or on
// (Registry::enable_stats: two clock reads and two atomic additions).
void BM_DirectRun(benchmark::State& state) {
    const embpf::Program program = bench_object(state.range(0) != 0).program("pass_small").value();
    const bool stats = state.range(1) != 0;
    state.SetLabel(std::string(state.range(0) != 0 ? "jit" : "interpreter") + (stats ? ", stats on" : ""));
    embpf::Registry::enable_stats(stats);
    BenchRequest request{7, 1, 0};
    for (auto _ : state) {
        benchmark::DoNotOptimize(program.run(&request, sizeof request));
    }
    embpf::Registry::enable_stats(false);
}
BENCHMARK(BM_DirectRun)->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1});

void BM_HookInvoke(benchmark::State& state) {
    embpf::Hook<BenchRequest> hook(bench_type());
    std::vector<embpf::Link> links;
    const bool jit = state.range(1) != 0;
    for (std::int64_t i = 0; i < state.range(0); ++i) {
        links.push_back(hook.attach(bench_object(jit).program(i % 2 == 0 ? "pass_small" : "pass_odd").value()).value());
    }
    BenchRequest request{7, 1, 0};
    for (auto _ : state) {
        benchmark::DoNotOptimize(hook.invoke(request));
    }
    state.SetLabel(std::to_string(state.range(0)) + " links" + (jit ? ", jit" : ""));
}
BENCHMARK(BM_HookInvoke)->Args({0, 0})->Args({1, 0})->Args({4, 0})->Args({1, 1})->Args({4, 1});

void BM_LinkReplace(benchmark::State& state) {
    embpf::Hook<BenchRequest> hook(bench_type());
    const embpf::Program a = bench_object().program("pass_small").value();
    const embpf::Program b = bench_object().program("pass_odd").value();
    std::vector<embpf::Link> others;
    for (std::int64_t i = 0; i < state.range(0); ++i) {
        others.push_back(hook.attach(a).value());
    }
    embpf::Link link = hook.attach(a).value();
    bool flip = false;
    for (auto _ : state) {
        benchmark::DoNotOptimize(link.replace(flip ? a : b));
        flip = !flip;
    }
    state.SetLabel(std::to_string(state.range(0) + 1) + " links");
}
BENCHMARK(BM_LinkReplace)->Arg(0)->Arg(3);

} // namespace

BENCHMARK_MAIN();
