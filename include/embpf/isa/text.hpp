// The textual form of eBPF in LLVM syntax, as `llvm-objdump -d` prints it for `-target bpf`.
#pragma once

#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::isa {

/// Assembles LLVM-syntax text, one instruction per line. Lines may carry `label:` definitions, and
/// jumps and local calls may name a label instead of an offset. `#`, `;` and `//` start comments.
/// Errors give the line number and what could not be parsed.
[[nodiscard]] Result<std::vector<Instruction>> assemble(std::string_view text);

/// The text of the instruction at `pc` (a `lddw` reads its second slot too), without a newline.
[[nodiscard]] std::string disassemble_instruction(std::span<const Instruction> program, std::size_t pc);

struct DisassembleOptions {
    bool show_pc = false; ///< prefix each line with its slot index, as llvm-objdump does
};

/// One line per instruction, each ending in a newline; a `lddw` is one line covering two slots.
[[nodiscard]] std::string disassemble(std::span<const Instruction> program, const DisassembleOptions& options = {});

} // namespace embpf::isa
