// libFuzzer target: the input's bytes choose a random eBPF program for eBPF for Windows' xdp or bind hook (see
// program_generator.hpp); when the verifier accepts it, the checked interpreter runs it on several inputs and any
// out-of-bounds access, run past the instruction bound, bad helper argument, leaked pointer or r0 outside the hook's
// range aborts with the program's listing.
//
// EMBPF_FUZZ_IGNORE="text|text" reports failures containing one of the texts once each and goes on: a long campaign
// can look past a finding already reported and not fixed yet.
#include "program_generator.hpp"
#include "soundness.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace {

std::vector<std::string> ignored() {
    std::vector<std::string> texts;
    const char* value = std::getenv("EMBPF_FUZZ_IGNORE");
    for (std::string rest = value != nullptr ? value : ""; !rest.empty();) {
        const std::size_t bar = rest.find('|');
        texts.push_back(rest.substr(0, bar));
        rest = bar == std::string::npos ? "" : rest.substr(bar + 1);
    }
    return texts;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::vector<std::string> kIgnored = ignored();
    static std::set<std::string> seen;
    embpf::fuzz::Entropy entropy(std::span<const std::uint8_t>(data, size));
    const embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
    const embpf::fuzz::SoundnessResult result = embpf::fuzz::check_soundness(program, entropy, {.runs = 8});
    if (result.failure.empty()) {
        return 0;
    }
    for (const std::string& text : kIgnored) {
        if (!text.empty() && result.failure.find(text) != std::string::npos) {
            if (seen.insert(text).second) {
                std::fprintf(stderr, "ignored (EMBPF_FUZZ_IGNORE), reported once:\n%s\n", result.failure.c_str());
            }
            return 0;
        }
    }
    std::fprintf(stderr, "%s\n", result.failure.c_str());
    std::fflush(stderr);
    __builtin_trap();
}
