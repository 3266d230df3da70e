// The hook the benchmark programs verify as: linux() with a program type whose context is bench_ctx.h's, its data
// range as pointers (embpf_bench_jit loads through it; embpf_bench compiles the optimizing JIT with its facts).
#pragma once

#include "bench_ctx.h"
#include "embpf/platform/context_layout.hpp"
#include "embpf/platform/platform.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace embpf::bench {

/// The benchmark context as the host sees it: the same layout, its data range as pointers.
struct HostBenchCtx {
    const std::uint8_t* data;
    const std::uint8_t* data_end;
    std::uint64_t seed;
    std::uint64_t count;
};
static_assert(sizeof(HostBenchCtx) == sizeof(embpf_bench_ctx));

inline const platform::Platform& bench_platform() {
    static const platform::Platform host = [] {
        platform::Platform p = platform::linux();
        platform::ProgramType type;
        type.name = "bench";
        type.section_prefixes = {"bench/"};
        type.context = platform::ContextLayout<HostBenchCtx>()
                           .data_range(&HostBenchCtx::data, &HostBenchCtx::data_end)
                           .field(&HostBenchCtx::seed, "seed")
                           .field(&HostBenchCtx::count, "count")
                           .descriptor();
        type.max_data_size = 65535;
        if (auto added = p.add_program_type(type); !added) {
            std::fprintf(stderr, "the benchmark's program type: %s\n", added.error().message.c_str());
            std::exit(1);
        }
        return p;
    }();
    return host;
}

} // namespace embpf::bench
