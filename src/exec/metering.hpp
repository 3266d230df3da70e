// Metering's static charges (engine.hpp), shared by every engine so that each charges the same. Internal to the exec
// stage.
#pragma once

#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace embpf::exec::detail {

/// By instruction index: at a function's first instruction (the program's start, a local call's target, a
/// callback's) the function's length, up to the next function's first instruction or the end of the program; 0
/// elsewhere. What a local call into the function, or an invocation of it as a callback, charges.
inline std::vector<std::uint32_t> function_lengths(std::span<const isa::Instruction> program) {
    std::vector<std::uint8_t> entry(program.size(), 0);
    if (!program.empty()) {
        entry[0] = 1;
    }
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const isa::Instruction& ins = program[pc];
        std::int64_t target = -1;
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local)) {
            target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
        } else if (isa::is_lddw(ins) && ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
        }
        if (target >= 0 && static_cast<std::size_t>(target) < program.size()) {
            entry[static_cast<std::size_t>(target)] = 1;
        }
        if (isa::is_lddw(ins)) {
            ++pc;
        }
    }
    std::vector<std::uint32_t> lengths(program.size(), 0);
    std::size_t end = program.size();
    for (std::size_t pc = program.size(); pc-- > 0;) {
        if (entry[pc] != 0) {
            lengths[pc] = static_cast<std::uint32_t>(end - pc);
            end = pc;
        }
    }
    return lengths;
}

/// Whether `program` can be metered: every function in one piece, no jump out of it into another one and no function
/// running into the next. The charges count a function's instructions by its place in the program, and a call (or a
/// callback) that jumped into another function's code would run it uncharged: such programs are refused when a
/// budget is asked for. Compilers lay out every program so.
inline Result<void> check_metered_layout(std::span<const isa::Instruction> program) {
    const std::vector<std::uint32_t> lengths = function_lengths(program);
    std::size_t start = 0;
    std::size_t end = program.empty() ? 0 : lengths[0];
    for (std::size_t pc = 0; pc < program.size();) {
        if (lengths[pc] != 0) {
            start = pc;
            end = pc + lengths[pc];
        }
        const isa::Instruction& ins = program[pc];
        const std::size_t next = pc + (isa::is_lddw(ins) ? 2 : 1);
        if (isa::is_branch(ins.opcode)) {
            const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + isa::branch_offset(ins);
            if (target < static_cast<std::int64_t>(start) || target >= static_cast<std::int64_t>(end)) {
                return Error::unsupported("instruction " + std::to_string(pc) +
                                              " jumps out of its function: a program whose functions are not each "
                                              "in one piece cannot be metered (an instruction budget)",
                                          pc);
            }
        }
        const bool ends =
            ins.opcode == isa::op::EXIT_OP || ins.opcode == isa::op::JA_OP || ins.opcode == isa::op::JA32_OP;
        if (next >= end && !ends) {
            return Error::unsupported("instruction " + std::to_string(pc) +
                                          ": its function runs into the next one, and a program whose functions "
                                          "are not each in one piece cannot be metered (an instruction budget)",
                                      pc);
        }
        pc = next;
    }
    return {};
}

/// What a taken jump at `pc` by `offset` charges: the instructions from its target to itself when it goes back, 0
/// when it goes forward.
constexpr std::uint64_t back_jump_charge(std::int64_t offset) noexcept {
    return offset < 0 ? static_cast<std::uint64_t>(-offset) : 0;
}

} // namespace embpf::exec::detail
