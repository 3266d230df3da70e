// libFuzzer target: the input's bytes choose a random eBPF program for eBPF for Windows' xdp or bind hook, as
// fuzz_verifier's do (program_generator.hpp); when the verifier accepts it, the interpreter's unchecked loop and the
// JIT, without and with constant blinding, run it on several inputs (differential.hpp), and any difference in r0, the
// context, the packet, the maps or the helper calls, a program the interpreter takes and the JIT refuses, or a crash
// aborts with the program's listing and the input. Half of the programs first get a few instructions the generator does
// not emit (mutate_instructions: signed division, sign-extending moves and loads, byte swaps, gotol).
//
// EMBPF_FUZZ_FINDINGS=DIR keeps going instead: each failing input is written to DIR/<hash>.bin with its report in
// DIR/<hash>.txt, so that a long campaign collects every finding rather than stopping at the first one.
//
// fuzz_verifier's corpus serves this target as well: an input stands for the same program in both.
#include "differential.hpp"
#include "program_generator.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace {

// What the run compared, printed at exit for tools/fuzz.sh, which fails a run that compared nothing.
struct Stats {
    std::uint64_t accepted = 0; ///< programs the verifier accepted
    std::uint64_t compared = 0; ///< of those, programs run and compared in every engine
    std::uint64_t inputs = 0;   ///< inputs compared, over all programs
    std::uint64_t mutated = 0;  ///< programs with mutated instructions (accepted or not)
    ~Stats() {
        std::fprintf(stderr,
                     "stat::embpf_compared: %llu\nstat::embpf_accepted: %llu\nstat::embpf_inputs_compared: %llu\n"
                     "stat::embpf_mutated: %llu\n",
                     static_cast<unsigned long long>(compared), static_cast<unsigned long long>(accepted),
                     static_cast<unsigned long long>(inputs), static_cast<unsigned long long>(mutated));
    }
} stats;

void keep(const char* dir, std::span<const std::uint8_t> input, const std::string& failure) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (std::uint8_t b : input) {
        hash = (hash ^ b) * 0x100000001b3ULL;
    }
    char name[32];
    std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(hash));
    const std::string base = std::string(dir) + "/" + name;
    if (std::FILE* bin = std::fopen((base + ".bin").c_str(), "wb")) {
        std::fwrite(input.data(), 1, input.size(), bin);
        std::fclose(bin);
    }
    if (std::FILE* txt = std::fopen((base + ".txt").c_str(), "w")) {
        std::fputs(failure.c_str(), txt);
        std::fclose(txt);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const char* const kFindings = std::getenv("EMBPF_FUZZ_FINDINGS");
    const std::span<const std::uint8_t> input(data, size);
    embpf::fuzz::Entropy entropy(input);
    embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
    // Half of the programs get instructions the generator does not emit (mutate_instructions).
    if (entropy.chance(50)) {
        stats.mutated += embpf::fuzz::mutate_instructions(program.instructions, entropy, 1 + entropy.below(4)) > 0;
    }
    const embpf::fuzz::DifferentialResult result = embpf::fuzz::check_differential(program, entropy, {.runs = 8});
    stats.accepted += result.accepted ? 1 : 0;
    stats.compared += result.compared ? 1 : 0;
    stats.inputs += result.inputs;
    if (result.difference.empty()) {
        return 0;
    }
    if (kFindings != nullptr) {
        keep(kFindings, input, result.difference);
        return 0;
    }
    std::fprintf(stderr, "%s\n", result.difference.c_str());
    std::fflush(stderr);
    __builtin_trap();
}
