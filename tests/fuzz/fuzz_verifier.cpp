// libFuzzer target: the input's bytes choose a random eBPF program for eBPF for Windows' xdp or bind hook (see
// program_generator.hpp); when the verifier accepts it, the checked interpreter runs it on several inputs and any
// out-of-bounds access, run past the instruction bound, bad helper argument, leaked pointer or r0 outside the hook's
// range aborts with the program's listing.
#include "program_generator.hpp"
#include "soundness.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    embpf::fuzz::Entropy entropy(std::span<const std::uint8_t>(data, size));
    const embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
    const embpf::fuzz::SoundnessResult result = embpf::fuzz::check_soundness(program, entropy, {.runs = 8});
    if (!result.failure.empty()) {
        std::fprintf(stderr, "%s\n", result.failure.c_str());
        std::fflush(stderr);
        __builtin_trap();
    }
    return 0;
}
