// libFuzzer target: the input's bytes choose a random eBPF program for eBPF for Windows' xdp or bind hook (see
// program_generator.hpp); when the verifier accepts it, the checked interpreter runs it on several inputs and any
// out-of-bounds access, read of stack bytes nothing wrote (by the helpers' write contracts), run past the instruction
// bound, bad helper argument, leaked pointer, r0 outside the hook's range, or an accepted program the interpreter
// refuses aborts with the program's listing.
//
// EMBPF_FUZZ_FINDINGS=DIR keeps going instead: each failing input is written to DIR/<hash>.bin with its report in
// DIR/<hash>.txt, so that a long campaign collects every finding rather than stopping at the first one.
//
// An input stands for a program only under the generator it was found with: once program_generator.hpp changes, the
// inputs in tests/fuzz/regressions/verifier/ are other programs (still a good corpus). The reduced programs in
// tests/verifier/test_soundness.cpp are the lasting record of each finding.
#include "program_generator.hpp"
#include "soundness.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace {

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
    const embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
    const embpf::fuzz::SoundnessResult result = embpf::fuzz::check_soundness(program, entropy, {.runs = 8});
    if (result.failure.empty()) {
        return 0;
    }
    if (kFindings != nullptr) {
        keep(kFindings, input, result.failure);
        return 0;
    }
    std::fprintf(stderr, "%s\n", result.failure.c_str());
    std::fflush(stderr);
    __builtin_trap();
}
