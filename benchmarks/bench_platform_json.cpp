// Writes the benchmark programs' platform (bench_platform.hpp) as JSON, for `embpf aot --platform FILE.json`: the
// build compiles the programs ahead of time as the hook the benchmark verifies them as (BM_<name>/aot).
//
//     embpf_bench_platform_json OUTPUT.json
#include "bench_platform.hpp"
#include "embpf/platform/json.hpp"

#include <cstdio>
#include <fstream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: embpf_bench_platform_json OUTPUT.json\n");
        return 2;
    }
    std::ofstream out(argv[1], std::ios::binary);
    out << embpf::platform::to_json(embpf::bench::bench_platform()) << '\n';
    return out ? 0 : 1;
}
