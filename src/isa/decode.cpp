#include "embpf/isa/decode.hpp"

#include <cstring>
#include <string>

namespace embpf::isa {

namespace {

std::string hex8(std::uint8_t value) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text = "0x";
    text += digits[value >> 4];
    text += digits[value & 0x0f];
    return text;
}

Error at(std::size_t pc, const std::string& what) {
    return Error::invalid("instruction " + std::to_string(pc) + ": " + what, pc);
}

// The fields of one instruction that a given form leaves unused must be zero (RFC 9669 section 3).
struct Unused {
    bool dst = false;
    bool src = false;
    bool offset = false;
    bool imm = false;
};

Result<void> check_unused(std::size_t pc, const Instruction& ins, Unused unused) {
    if (unused.dst && ins.dst != 0) {
        return at(pc, "reserved dst field is " + std::to_string(ins.dst) + ", must be 0");
    }
    if (unused.src && ins.src != 0) {
        return at(pc, "reserved src field is " + std::to_string(ins.src) + ", must be 0");
    }
    if (unused.offset && ins.offset != 0) {
        return at(pc, "reserved offset field is " + std::to_string(ins.offset) + ", must be 0");
    }
    if (unused.imm && ins.imm != 0) {
        return at(pc, "reserved imm field is " + std::to_string(ins.imm) + ", must be 0");
    }
    return {};
}

Result<void> check_register(std::size_t pc, const char* field, int reg) {
    if (reg >= kRegisterCount) {
        return at(pc, std::string("invalid ") + field + " register r" + std::to_string(reg));
    }
    return {};
}

Result<void> check_writable(std::size_t pc, int reg) {
    if (reg == kFramePointer) {
        return at(pc, "r10 is the read-only frame pointer");
    }
    return {};
}

Result<void> validate_alu(std::size_t pc, const Instruction& ins) {
    const bool is64 = op_class(ins.opcode) == op::ALU64;
    const std::uint8_t code = op_code(ins.opcode);
    const bool reg_source = op_source(ins.opcode) == op::X;
    if (auto r = check_register(pc, "dst", ins.dst); !r) {
        return r;
    }
    if (auto r = check_writable(pc, ins.dst); !r) {
        return r;
    }
    switch (code) {
    case op::NEG:
        if (reg_source) {
            return at(pc, "unknown opcode " + hex8(ins.opcode) + " (neg takes no source register)");
        }
        return check_unused(pc, ins, {.src = true, .offset = true, .imm = true});
    case op::END:
        if (is64 && reg_source) {
            return at(pc, "unknown opcode " + hex8(ins.opcode) + " (bswap has no big-endian form)");
        }
        if (ins.imm != 16 && ins.imm != 32 && ins.imm != 64) {
            return at(pc, "byte swap width " + std::to_string(ins.imm) + " is not 16, 32 or 64");
        }
        return check_unused(pc, ins, {.src = true, .offset = true});
    case op::ADD:
    case op::SUB:
    case op::MUL:
    case op::OR:
    case op::AND:
    case op::LSH:
    case op::RSH:
    case op::XOR:
    case op::ARSH:
    case op::DIV:
    case op::MOD:
    case op::MOV: break;
    default: return at(pc, "unknown opcode " + hex8(ins.opcode));
    }
    // Offset selects signed division (1) or, for MOV from a register, a sign-extending move.
    bool offset_ok = ins.offset == 0;
    if (code == op::DIV || code == op::MOD) {
        offset_ok = ins.offset == 0 || ins.offset == 1;
    } else if (code == op::MOV && reg_source) {
        offset_ok = ins.offset == 0 || ins.offset == 8 || ins.offset == 16 || (is64 && ins.offset == 32);
    }
    if (!offset_ok) {
        return at(pc, "invalid offset " + std::to_string(ins.offset) + " for opcode " + hex8(ins.opcode));
    }
    if (reg_source) {
        if (auto r = check_register(pc, "src", ins.src); !r) {
            return r;
        }
        return check_unused(pc, ins, {.imm = true});
    }
    return check_unused(pc, ins, {.src = true});
}

Result<void> validate_jmp(std::span<const Instruction> program, std::size_t pc, const Instruction& ins) {
    const bool is32 = op_class(ins.opcode) == op::JMP32;
    const std::uint8_t code = op_code(ins.opcode);
    const bool reg_source = op_source(ins.opcode) == op::X;
    switch (code) {
    case op::JA:
        if (reg_source) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        return is32 ? check_unused(pc, ins, {.dst = true, .src = true, .offset = true})
                    : check_unused(pc, ins, {.dst = true, .src = true, .imm = true});
    case op::CALL:
        if (is32) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        if (reg_source) { // callx: the helper id is in the dst register
            if (auto r = check_register(pc, "dst", ins.dst); !r) {
                return r;
            }
            return check_unused(pc, ins, {.src = true, .offset = true, .imm = true});
        }
        if (ins.src > static_cast<std::uint8_t>(CallSource::kfunc)) {
            return at(pc, "invalid call source " + std::to_string(ins.src));
        }
        if (auto r = check_unused(pc, ins, {.dst = true, .offset = true}); !r) {
            return r;
        }
        if (ins.src == static_cast<std::uint8_t>(CallSource::local)) {
            const auto target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            if (target < 0 || target >= static_cast<std::int64_t>(program.size())) {
                return at(pc, "call target " + std::to_string(target) + " is outside the program (" +
                                  std::to_string(program.size()) + " slots)");
            }
        }
        return {};
    case op::EXIT:
        if (is32 || reg_source) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        return check_unused(pc, ins, {.dst = true, .src = true, .offset = true, .imm = true});
    case op::JEQ:
    case op::JGT:
    case op::JGE:
    case op::JSET:
    case op::JNE:
    case op::JSGT:
    case op::JSGE:
    case op::JLT:
    case op::JLE:
    case op::JSLT:
    case op::JSLE: break;
    default: return at(pc, "unknown opcode " + hex8(ins.opcode));
    }
    if (auto r = check_register(pc, "dst", ins.dst); !r) {
        return r;
    }
    if (reg_source) {
        if (auto r = check_register(pc, "src", ins.src); !r) {
            return r;
        }
        return check_unused(pc, ins, {.imm = true});
    }
    return check_unused(pc, ins, {.src = true});
}

Result<void> validate_memory(std::span<const Instruction> program, std::size_t pc, const Instruction& ins) {
    const std::uint8_t cls = op_class(ins.opcode);
    const std::uint8_t mode = op_mode(ins.opcode);
    const std::uint8_t size = op_size(ins.opcode);
    if (cls == op::LD) {
        if (mode == op::ABS || mode == op::IND) {
            if (size == op::DW) {
                return at(pc, "unknown opcode " + hex8(ins.opcode) + " (legacy packet loads read 1, 2 or 4 bytes)");
            }
            if (mode == op::IND) {
                if (auto r = check_register(pc, "src", ins.src); !r) {
                    return r;
                }
            }
            return check_unused(pc, ins, {.dst = true, .src = mode == op::ABS, .offset = true});
        }
        if (ins.opcode != op::LDDW) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        if (pc + 1 >= program.size()) {
            return at(pc, "lddw is missing its second slot");
        }
        const Instruction& next = program[pc + 1];
        if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.offset != 0) {
            return at(pc + 1, "second slot of lddw must have zero opcode, registers and offset");
        }
        if (ins.src > static_cast<std::uint8_t>(LddwSource::map_value_index)) {
            return at(pc, "invalid lddw source " + std::to_string(ins.src));
        }
        if (auto r = check_register(pc, "dst", ins.dst); !r) {
            return r;
        }
        if (auto r = check_writable(pc, ins.dst); !r) {
            return r;
        }
        if (ins.src == static_cast<std::uint8_t>(LddwSource::code_address)) {
            const auto target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            if (target < 0 || target >= static_cast<std::int64_t>(program.size())) {
                return at(pc, "code address " + std::to_string(target) + " is outside the program");
            }
        }
        return check_unused(pc, ins, {.offset = true});
    }
    if (auto r = check_register(pc, "dst", ins.dst); !r) {
        return r;
    }
    if (cls == op::LDX) {
        if (mode != op::MEM && !(mode == op::MEMSX && size != op::DW)) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        if (auto r = check_writable(pc, ins.dst); !r) {
            return r;
        }
        if (auto r = check_register(pc, "src", ins.src); !r) {
            return r;
        }
        return check_unused(pc, ins, {.imm = true});
    }
    if (cls == op::ST) {
        if (mode != op::MEM) {
            return at(pc, "unknown opcode " + hex8(ins.opcode));
        }
        return check_unused(pc, ins, {.src = true});
    }
    // STX
    if (auto r = check_register(pc, "src", ins.src); !r) {
        return r;
    }
    if (mode == op::MEM) {
        return check_unused(pc, ins, {.imm = true});
    }
    if (mode != op::ATOMIC || (size != op::W && size != op::DW)) {
        return at(pc, "unknown opcode " + hex8(ins.opcode));
    }
    switch (ins.imm) {
    case op::ATOMIC_ADD:
    case op::ATOMIC_OR:
    case op::ATOMIC_AND:
    case op::ATOMIC_XOR:
    case op::ATOMIC_ADD | op::FETCH:
    case op::ATOMIC_OR | op::FETCH:
    case op::ATOMIC_AND | op::FETCH:
    case op::ATOMIC_XOR | op::FETCH:
    case op::XCHG:
    case op::CMPXCHG: break;
    default: return at(pc, "invalid atomic operation " + std::to_string(ins.imm));
    }
    if ((ins.imm & op::FETCH) != 0 && ins.imm != op::CMPXCHG) {
        if (auto r = check_writable(pc, ins.src); !r) {
            return r;
        }
    }
    return {};
}

bool falls_through(const Instruction& ins) {
    return ins.opcode != op::EXIT_OP && ins.opcode != op::JA_OP && ins.opcode != op::JA32_OP;
}

} // namespace

Result<void> validate_instruction(std::span<const Instruction> program, std::size_t pc) {
    const Instruction& ins = program[pc];
    switch (op_class(ins.opcode)) {
    case op::ALU:
    case op::ALU64: return validate_alu(pc, ins);
    case op::JMP:
    case op::JMP32: return validate_jmp(program, pc, ins);
    default: return validate_memory(program, pc, ins);
    }
}

Result<void> validate(std::span<const Instruction> program) {
    if (program.empty()) {
        return Error::invalid("the program is empty");
    }
    // First pass: which slots start an instruction (the second half of a lddw does not).
    std::vector<bool> is_start(program.size(), true);
    std::size_t last = 0;
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        if (auto r = validate_instruction(program, pc); !r) {
            return r;
        }
        last = pc;
        if (is_lddw(program[pc])) {
            is_start[++pc] = false;
        }
    }
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        if (!is_start[pc]) {
            continue;
        }
        const Instruction& ins = program[pc];
        std::int64_t target = -1;
        const char* what = nullptr;
        if (is_branch(ins.opcode)) {
            target = static_cast<std::int64_t>(pc) + 1 + branch_offset(ins);
            what = "jump";
        } else if (ins.opcode == op::CALL_OP && ins.src == static_cast<std::uint8_t>(CallSource::local)) {
            target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            what = "call";
        } else if (is_lddw(ins) && ins.src == static_cast<std::uint8_t>(LddwSource::code_address)) {
            target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            what = "code address";
        } else {
            continue;
        }
        if (target < 0 || target >= static_cast<std::int64_t>(program.size())) {
            return at(pc, std::string(what) + " to " + std::to_string(target) + " is outside the program (" +
                              std::to_string(program.size()) + " slots)");
        }
        if (!is_start[static_cast<std::size_t>(target)]) {
            return at(pc, std::string(what) + " to " + std::to_string(target) + " lands in the second slot of a lddw");
        }
    }
    if (falls_through(program[last])) {
        return at(last, "the program can run past its last instruction (it must end with exit or a jump)");
    }
    return {};
}

std::vector<Instruction> from_words(std::span<const std::uint64_t> words) {
    std::vector<Instruction> program(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
        std::uint8_t bytes[8];
        for (int b = 0; b < 8; ++b) {
            bytes[b] = static_cast<std::uint8_t>(words[i] >> (8 * b));
        }
        std::memcpy(&program[i], bytes, sizeof bytes);
    }
    return program;
}

std::uint64_t to_word(const Instruction& ins) noexcept {
    std::uint8_t bytes[8];
    std::memcpy(bytes, &ins, sizeof bytes);
    std::uint64_t word = 0;
    for (int b = 7; b >= 0; --b) {
        word = (word << 8) | bytes[b];
    }
    return word;
}

Result<std::vector<Instruction>> decode(std::span<const std::uint8_t> bytes) {
    if (bytes.size() % sizeof(Instruction) != 0) {
        return Error::invalid("program size " + std::to_string(bytes.size()) +
                              " is not a multiple of 8 bytes (truncated instruction at slot " +
                              std::to_string(bytes.size() / sizeof(Instruction)) + ")");
    }
    std::vector<Instruction> program(bytes.size() / sizeof(Instruction));
    if (!program.empty()) {
        std::memcpy(program.data(), bytes.data(), bytes.size());
    }
    if (auto r = validate(program); !r) {
        return std::move(r).error();
    }
    return program;
}

Result<std::vector<Instruction>> decode(std::span<const std::byte> bytes) {
    return decode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

int required_version(const Instruction& ins) noexcept {
    const std::uint8_t cls = op_class(ins.opcode);
    const std::uint8_t code = op_code(ins.opcode);
    if (ins.opcode == op::JA32_OP) {
        return 4;
    }
    if (is_alu(ins.opcode)) {
        if ((code == op::DIV || code == op::MOD) && ins.offset == 1) {
            return 4;
        }
        if (code == op::MOV && ins.offset != 0) {
            return 4;
        }
        if (code == op::END && cls == op::ALU64) {
            return 4;
        }
        return 1;
    }
    if (cls == op::LDX && op_mode(ins.opcode) == op::MEMSX) {
        return 4;
    }
    if (cls == op::JMP32 || (cls == op::STX && op_mode(ins.opcode) == op::ATOMIC)) {
        return 3;
    }
    if (cls == op::JMP && (code == op::JLT || code == op::JLE || code == op::JSLT || code == op::JSLE)) {
        return 2;
    }
    return 1;
}

} // namespace embpf::isa
