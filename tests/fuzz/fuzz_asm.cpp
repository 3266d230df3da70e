// libFuzzer target: the assembler takes any text; what it accepts disassembles and assembles back
// to the same instructions, and disassembles again to the same text. A difference is a finding
// (__builtin_trap). The corpus starts from disassembled programs (tools/fuzz.sh).
#include "embpf/isa/text.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

// What the run checked, printed at exit for tools/fuzz.sh, which fails a run that checked nothing.
struct Stats {
    std::uint64_t round_trips = 0; ///< texts the assembler accepted, all round-tripped
    ~Stats() { std::fprintf(stderr, "stat::embpf_compared: %llu\n", static_cast<unsigned long long>(round_trips)); }
} stats;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto program = embpf::isa::assemble(text);
    if (!program) {
        return 0;
    }
    const std::string listing = embpf::isa::disassemble(*program);
    auto again = embpf::isa::assemble(listing);
    if (!again) {
        std::fprintf(stderr, "%s\n%s\n", listing.c_str(), again.error().message.c_str());
        __builtin_trap();
    }
    if (*again != *program || embpf::isa::disassemble(*again) != listing) {
        __builtin_trap();
    }
    ++stats.round_trips;
    return 0;
}
