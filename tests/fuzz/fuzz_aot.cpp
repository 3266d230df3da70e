// A bounded fuzzing campaign of the AOT engine: random eBPF programs for eBPF for Windows' xdp or bind hook
// (program_generator.hpp, half of them with instructions the generator does not emit, mutate_instructions), verified,
// written out as C (exec::generate_c, with the verifier's facts and the map references read from the environment),
// built by the system's C compiler and run beside the interpreter and the JIT tiers on the same inputs
// (differential.hpp, aot_differential.hpp). Any difference in r0, the context, the packet, the maps or the helper
// calls, C the compiler refuses, or a crash fails the campaign.
//
// Not a libFuzzer target, unlike its neighbours: libFuzzer hands a target one input at a time, and each program would
// then cost a run of the C compiler (tens of milliseconds, against well under one for everything else the oracle
// does), so that a minute would compare a few hundred programs. The campaign instead draws programs from seeds, a
// batch at a time, builds each batch's C in a few files with several compilers at once, and then compares every
// program of the batch: thousands of programs a minute. What it gives up is libFuzzer's coverage feedback, which
// fuzz_jit keeps for the same generator and oracle without the AOT engine.
//
//   embpf_fuzz_aot [--seconds S] [--programs N] [--seed BASE] [--batch B] [--findings DIR]
//
// Programs come from the seeds BASE, BASE + 1, ... (BASE from the clock unless given; printed first), in batches of B
// (256), until N programs (0: no limit) or S seconds (0: no limit; the batch under way finishes). A program that
// shows a difference is reproduced by `--seed <its seed> --programs 1`. With --findings, each difference's report is
// written to DIR/<seed>.txt and the campaign goes on; without, it stops after the batch of the first difference.
// At the end it prints, for tools/fuzz.sh, stat::embpf_compared, stat::embpf_accepted, stat::embpf_inputs_compared
// and stat::embpf_aot_compiled. Exit status: 0 when every engine agreed, 1 on a difference or a failed build, 2 on a
// bad argument.
#include "aot_differential.hpp"
#include "differential.hpp"
#include "program_generator.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Arguments {
    double seconds = 0;
    std::uint64_t programs = 0;
    std::uint64_t seed = 0;
    bool seeded = false;
    std::size_t batch = 256;
    const char* findings = nullptr;
};

bool parse(int argc, char** argv, Arguments& arguments) {
    for (int i = 1; i < argc; ++i) {
        const std::string name = argv[i];
        if (i + 1 >= argc) {
            return false;
        }
        const char* value = argv[++i];
        char* end = nullptr;
        if (name == "--seconds") {
            arguments.seconds = std::strtod(value, &end);
        } else if (name == "--programs") {
            arguments.programs = std::strtoull(value, &end, 0);
        } else if (name == "--seed") {
            arguments.seed = std::strtoull(value, &end, 0);
            arguments.seeded = true;
        } else if (name == "--batch") {
            arguments.batch = static_cast<std::size_t>(std::strtoull(value, &end, 0));
        } else if (name == "--findings") {
            arguments.findings = value;
            end = const_cast<char*>(value) + std::strlen(value);
        } else {
            return false;
        }
        if (end == nullptr || *end != '\0' || end == value) {
            return false;
        }
    }
    return arguments.batch != 0;
}

} // namespace

int main(int argc, char** argv) {
    Arguments arguments;
    if (!parse(argc, argv, arguments)) {
        std::fprintf(stderr, "usage: %s [--seconds S] [--programs N] [--seed BASE] [--batch B] [--findings DIR]\n",
                     argv[0]);
        return 2;
    }
    if (!arguments.seeded) {
        arguments.seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    }
    std::printf("fuzz_aot: seeds from %llu\n", static_cast<unsigned long long>(arguments.seed));
    std::fflush(stdout);
    if (const std::string& problem = embpf::fuzz::aot_compiler_problem(); !problem.empty()) {
        std::fprintf(stderr, "fuzz_aot: no C compiler builds generated C here (set EMBPF_CC or CC): %s\n",
                     problem.c_str());
        return 1;
    }
    const auto started = std::chrono::steady_clock::now();
    const auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    std::uint64_t generated = 0;
    std::uint64_t accepted = 0;
    std::uint64_t compared = 0;
    std::uint64_t inputs = 0;
    std::uint64_t compiled = 0;
    std::uint64_t facts_used = 0;
    std::uint64_t assumptions = 0;
    std::uint64_t unsupported = 0;
    std::uint64_t differences = 0;
    double compiling = 0;
    bool failed = false;
    while (!failed && (arguments.programs == 0 || generated < arguments.programs) &&
           (arguments.seconds <= 0 || elapsed() < arguments.seconds)) {
        embpf::fuzz::AotBatch batch;
        std::vector<std::uint64_t> seeds;
        for (std::size_t k = 0; k < arguments.batch && (arguments.programs == 0 || generated < arguments.programs);
             ++k) {
            const std::uint64_t seed = arguments.seed + generated++;
            embpf::fuzz::Entropy entropy(seed);
            embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
            if (entropy.chance(50)) {
                embpf::fuzz::mutate_instructions(program.instructions, entropy, 1 + entropy.below(4));
            }
            embpf::fuzz::DifferentialOptions options;
            options.runs = 8;
            options.aot_unsupported = &unsupported;
            static_cast<void>(batch.add(program, entropy, options));
            seeds.push_back(seed);
        }
        if (const std::optional<std::string> error = batch.build()) {
            std::fprintf(stderr, "fuzz_aot: the batch of seeds %llu to %llu did not build: %s\n",
                         static_cast<unsigned long long>(seeds.front()), static_cast<unsigned long long>(seeds.back()),
                         error->c_str());
            failed = true;
            break;
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const embpf::fuzz::DifferentialResult result = batch.run(i);
            accepted += result.accepted ? 1 : 0;
            compared += result.compared ? 1 : 0;
            inputs += result.inputs;
            if (result.difference.empty()) {
                continue;
            }
            ++differences;
            const std::string report = "seed " + std::to_string(seeds[i]) + ": " + result.difference;
            if (arguments.findings != nullptr) {
                const std::string path = std::string(arguments.findings) + "/" + std::to_string(seeds[i]) + ".txt";
                if (std::FILE* out = std::fopen(path.c_str(), "w")) {
                    std::fputs(report.c_str(), out);
                    std::fclose(out);
                }
                std::fprintf(stderr, "fuzz_aot: a difference, seed %llu (%s)\n",
                             static_cast<unsigned long long>(seeds[i]), path.c_str());
            } else {
                std::fprintf(stderr, "%s\n", report.c_str());
                failed = true;
            }
        }
        compiled += batch.stats().distinct;
        facts_used += batch.stats().facts_used;
        assumptions += batch.stats().assumptions;
        compiling += batch.stats().compile_seconds;
        std::printf("fuzz_aot: %llu programs, %llu compared on %llu inputs, %llu differences, %.0f s\n",
                    static_cast<unsigned long long>(generated), static_cast<unsigned long long>(compared),
                    static_cast<unsigned long long>(inputs), static_cast<unsigned long long>(differences), elapsed());
        std::fflush(stdout);
    }
    std::printf(
        "fuzz_aot: %llu programs generated, %llu accepted, %llu compared on %llu inputs; %llu C functions "
        "compiled (%llu of them using the verifier's facts; %llu ranges assumed, checked), %llu not translated; "
        "%.1f s compiling, %.1f s in all; %llu differences\n",
        static_cast<unsigned long long>(generated), static_cast<unsigned long long>(accepted),
        static_cast<unsigned long long>(compared), static_cast<unsigned long long>(inputs),
        static_cast<unsigned long long>(compiled), static_cast<unsigned long long>(facts_used),
        static_cast<unsigned long long>(assumptions), static_cast<unsigned long long>(unsupported), compiling,
        elapsed(), static_cast<unsigned long long>(differences));
    std::printf("stat::embpf_compared: %llu\nstat::embpf_accepted: %llu\nstat::embpf_inputs_compared: %llu\n"
                "stat::embpf_aot_compiled: %llu\n",
                static_cast<unsigned long long>(compared), static_cast<unsigned long long>(accepted),
                static_cast<unsigned long long>(inputs), static_cast<unsigned long long>(compiled));
    return failed || differences != 0 ? 1 : 0;
}
