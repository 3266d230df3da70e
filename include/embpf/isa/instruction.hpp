// The eBPF instruction encoding of RFC 9669: opcode fields, pseudo sources and the 8-byte slot.
#pragma once

#include <cstddef>
#include <cstdint>

namespace embpf::isa {

/// One 8-byte instruction slot exactly as it is stored (little-endian hosts): a wide `lddw` takes two.
struct Instruction {
    std::uint8_t opcode = 0;
    std::uint8_t dst : 4 = 0;
    std::uint8_t src : 4 = 0;
    std::int16_t offset = 0;
    std::int32_t imm = 0;

    bool operator==(const Instruction&) const = default;
};
static_assert(sizeof(Instruction) == 8, "an instruction slot is 8 bytes");

inline constexpr int kRegisterCount = 11;       ///< r0..r10
inline constexpr int kFramePointer = 10;        ///< r10, read-only
inline constexpr std::size_t kStackSize = 512;  ///< bytes of stack per frame
inline constexpr std::size_t kMaxCallDepth = 8; ///< nested bpf-to-bpf calls below the entry frame

/// Opcode fields. Names follow RFC 9669.
namespace op {
// Instruction classes (low 3 bits).
inline constexpr std::uint8_t LD = 0x00;
inline constexpr std::uint8_t LDX = 0x01;
inline constexpr std::uint8_t ST = 0x02;
inline constexpr std::uint8_t STX = 0x03;
inline constexpr std::uint8_t ALU = 0x04;
inline constexpr std::uint8_t JMP = 0x05;
inline constexpr std::uint8_t JMP32 = 0x06;
inline constexpr std::uint8_t ALU64 = 0x07;

// Source bit of arithmetic and jump instructions.
inline constexpr std::uint8_t K = 0x00;
inline constexpr std::uint8_t X = 0x08;

// Arithmetic operations (high 4 bits).
inline constexpr std::uint8_t ADD = 0x00;
inline constexpr std::uint8_t SUB = 0x10;
inline constexpr std::uint8_t MUL = 0x20;
inline constexpr std::uint8_t DIV = 0x30;
inline constexpr std::uint8_t OR = 0x40;
inline constexpr std::uint8_t AND = 0x50;
inline constexpr std::uint8_t LSH = 0x60;
inline constexpr std::uint8_t RSH = 0x70;
inline constexpr std::uint8_t NEG = 0x80;
inline constexpr std::uint8_t MOD = 0x90;
inline constexpr std::uint8_t XOR = 0xa0;
inline constexpr std::uint8_t MOV = 0xb0;
inline constexpr std::uint8_t ARSH = 0xc0;
inline constexpr std::uint8_t END = 0xd0;
// Byte-order source of END: to little endian (K) or big endian (X); in ALU64 with K it is bswap.
inline constexpr std::uint8_t TO_LE = 0x00;
inline constexpr std::uint8_t TO_BE = 0x08;

// Jump operations (high 4 bits).
inline constexpr std::uint8_t JA = 0x00;
inline constexpr std::uint8_t JEQ = 0x10;
inline constexpr std::uint8_t JGT = 0x20;
inline constexpr std::uint8_t JGE = 0x30;
inline constexpr std::uint8_t JSET = 0x40;
inline constexpr std::uint8_t JNE = 0x50;
inline constexpr std::uint8_t JSGT = 0x60;
inline constexpr std::uint8_t JSGE = 0x70;
inline constexpr std::uint8_t CALL = 0x80;
inline constexpr std::uint8_t EXIT = 0x90;
inline constexpr std::uint8_t JLT = 0xa0;
inline constexpr std::uint8_t JLE = 0xb0;
inline constexpr std::uint8_t JSLT = 0xc0;
inline constexpr std::uint8_t JSLE = 0xd0;

// Memory access sizes (bits 3-4).
inline constexpr std::uint8_t W = 0x00;
inline constexpr std::uint8_t H = 0x08;
inline constexpr std::uint8_t B = 0x10;
inline constexpr std::uint8_t DW = 0x18;

// Memory access modes (bits 5-7).
inline constexpr std::uint8_t IMM = 0x00;
inline constexpr std::uint8_t ABS = 0x20;
inline constexpr std::uint8_t IND = 0x40;
inline constexpr std::uint8_t MEM = 0x60;
inline constexpr std::uint8_t MEMSX = 0x80;
inline constexpr std::uint8_t ATOMIC = 0xc0;

// Atomic operations, in the imm field.
inline constexpr std::int32_t FETCH = 0x01;
inline constexpr std::int32_t ATOMIC_ADD = 0x00;
inline constexpr std::int32_t ATOMIC_OR = 0x40;
inline constexpr std::int32_t ATOMIC_AND = 0x50;
inline constexpr std::int32_t ATOMIC_XOR = 0xa0;
inline constexpr std::int32_t XCHG = 0xe0 | FETCH;
inline constexpr std::int32_t CMPXCHG = 0xf0 | FETCH;

// Frequently used whole opcodes.
inline constexpr std::uint8_t LDDW = LD | IMM | DW;      // 0x18
inline constexpr std::uint8_t CALL_OP = JMP | CALL | K;  // 0x85
inline constexpr std::uint8_t CALLX_OP = JMP | CALL | X; // 0x8d
inline constexpr std::uint8_t EXIT_OP = JMP | EXIT;      // 0x95
inline constexpr std::uint8_t JA_OP = JMP | JA;          // 0x05
inline constexpr std::uint8_t JA32_OP = JMP32 | JA;      // 0x06, "gotol": the offset is in imm
} // namespace op

/// Pseudo sources of `lddw` (the src field): what the 64-bit immediate refers to.
enum class LddwSource : std::uint8_t {
    imm64 = 0,        ///< a plain 64-bit constant
    map_fd = 1,       ///< imm = map fd; becomes a map handle
    map_value_fd = 2, ///< imm = map fd, next imm = offset into the map's value
    variable = 3,     ///< imm = variable id
    code_address = 4, ///< imm = instruction offset (a function pointer for callbacks)
    map_index = 5,    ///< imm = map index
    map_value_index = 6,
};

/// Source of `call` (the src field).
enum class CallSource : std::uint8_t {
    helper = 0, ///< imm = helper id
    local = 1,  ///< imm = pc-relative offset of a bpf-to-bpf callee
    kfunc = 2,  ///< imm = BTF id of a kernel function
};

[[nodiscard]] constexpr std::uint8_t op_class(std::uint8_t opcode) noexcept { return opcode & 0x07; }
[[nodiscard]] constexpr std::uint8_t op_code(std::uint8_t opcode) noexcept { return opcode & 0xf0; }
[[nodiscard]] constexpr std::uint8_t op_source(std::uint8_t opcode) noexcept { return opcode & 0x08; }
[[nodiscard]] constexpr std::uint8_t op_size(std::uint8_t opcode) noexcept { return opcode & 0x18; }
[[nodiscard]] constexpr std::uint8_t op_mode(std::uint8_t opcode) noexcept { return opcode & 0xe0; }

/// Width in bytes of a memory size field.
[[nodiscard]] constexpr int size_bytes(std::uint8_t size_field) noexcept {
    switch (size_field) {
    case op::B: return 1;
    case op::H: return 2;
    case op::W: return 4;
    default: return 8;
    }
}

[[nodiscard]] constexpr bool is_lddw(const Instruction& ins) noexcept { return ins.opcode == op::LDDW; }
/// LD_ABS or LD_IND of 1, 2 or 4 bytes (the legacy packet loads of socket filters and classifiers), with the fields the
/// form leaves unused at zero: dst (r0 is implied), offset, and for LD_ABS src. The register numbers are not checked.
[[nodiscard]] constexpr bool is_legacy_packet_load(const Instruction& ins) noexcept {
    const std::uint8_t mode = ins.opcode & 0xe0;
    const std::uint8_t size = ins.opcode & 0x18;
    return (ins.opcode & 0x07) == op::LD && (mode == op::ABS || mode == op::IND) && size != op::DW && ins.dst == 0 &&
           ins.offset == 0 && (mode == op::IND || ins.src == 0);
}
[[nodiscard]] constexpr bool is_alu(std::uint8_t opcode) noexcept {
    return op_class(opcode) == op::ALU || op_class(opcode) == op::ALU64;
}
[[nodiscard]] constexpr bool is_jmp(std::uint8_t opcode) noexcept {
    return op_class(opcode) == op::JMP || op_class(opcode) == op::JMP32;
}
/// Conditional or unconditional jumps with a target (not call or exit).
[[nodiscard]] constexpr bool is_branch(std::uint8_t opcode) noexcept {
    return is_jmp(opcode) && op_code(opcode) != op::CALL && op_code(opcode) != op::EXIT;
}
/// The jump distance in slots, relative to the next slot (ja32 keeps it in imm).
[[nodiscard]] constexpr std::int64_t branch_offset(const Instruction& ins) noexcept {
    return ins.opcode == op::JA32_OP ? ins.imm : ins.offset;
}

/// The full 64-bit immediate of a `lddw` from its two slots.
[[nodiscard]] constexpr std::uint64_t lddw_imm(const Instruction& first, const Instruction& second) noexcept {
    return static_cast<std::uint32_t>(first.imm) |
           (static_cast<std::uint64_t>(static_cast<std::uint32_t>(second.imm)) << 32);
}

/// Builds an instruction slot; the building blocks of tests and code generators.
[[nodiscard]] constexpr Instruction make(std::uint8_t opcode, int dst = 0, int src = 0, std::int16_t offset = 0,
                                         std::int32_t imm = 0) noexcept {
    Instruction ins;
    ins.opcode = opcode;
    ins.dst = static_cast<std::uint8_t>(dst & 0x0f);
    ins.src = static_cast<std::uint8_t>(src & 0x0f);
    ins.offset = offset;
    ins.imm = imm;
    return ins;
}

} // namespace embpf::isa
