// libFuzzer target: the assembler takes any text; what it accepts disassembles and assembles back
// to the same instructions.
#include "embpf/isa/text.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto program = embpf::isa::assemble(text);
    if (!program) {
        return 0;
    }
    const std::string listing = embpf::isa::disassemble(*program);
    auto again = embpf::isa::assemble(listing);
    if (!again || *again != *program) {
        __builtin_trap();
    }
    return 0;
}
