// The LLVM-syntax text form of eBPF. The assembler and the disassembler read the same operator tables, so a
// spelling exists in both directions or in neither.
//
// Spellings follow `llvm-objdump -d` for `clang -target bpf` (LLVM 14; LLVM 17+ for the v4 forms). Where LLVM's text
// is ambiguous or has no form, these are the choices:
//   - A local (bpf-to-bpf) call prints as `call pc+N` / `call pc-N`, because llvm-objdump prints `call N` for both a
//     local call and a helper call. The assembler also takes `call <label>`; a bare number is always a helper id.
//   - A kfunc call (src 2) prints as `call kfunc N`, N being the BTF id in imm.
//   - `callx rN` keeps the register in the dst field, as the conformance suite encodes it.
//   - A `lddw` with a pseudo source prints as `rD = <form> ll` with <form> one of `map_fd(N)`, `map_value_fd(N, OFF)`,
//     `var(N)`, `code(+N)`, `map_by_idx(N)`, `map_value_by_idx(N, OFF)`: N is the first slot's imm, OFF the second
//     slot's imm, and `code`'s offset is relative to the slot after the first one, as the kernel reads it (the
//     assembler also takes a label there). A plain `lddw` prints its value in signed 64-bit decimal, as
//     llvm-objdump does; the assembler also takes unsigned and hex values.
//   - Loads and stores print the value register as `rN` at every width, where llvm-objdump with alu32 prints `wN`
//     below 64 bits; the assembler takes both spellings (the encoding is the same).
//   - A slot that is none of these forms (unknown opcode, nonzero reserved field, register above r10, a `lddw`
//     without a valid second slot) prints as `.quad 0x<16 hex digits>`, the slot read as a little-endian word. The
//     assembler takes `.quad` back, so assemble(disassemble(p)) == p for every program p.
//   - Legacy packet loads print as llvm-objdump prints them: `r0 = *(u16 *)skb[12]` (LD_ABS) and
//     `r0 = *(u8 *)skb[r7]` (LD_IND); an LD_IND with a nonzero imm, which LLVM never emits, prints `skb[r7 + 14]`.
//   - With show_pc each line starts with the slot index right-aligned in 8 columns, `:` and a tab, as in
//     llvm-objdump. disassemble_instruction() past the end of the program gives an empty string.
#include "embpf/isa/text.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace embpf::isa {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Tables shared by both directions.

struct AluOp {
    std::uint8_t code;
    std::int16_t offset; // 1 selects the signed variant of div and mod
    std::string_view text;
};
// MOV, NEG and END have their own shapes and are handled apart.
constexpr std::array kAluOps{
    AluOp{op::ADD, 0, "+="},    AluOp{op::SUB, 0, "-="}, AluOp{op::MUL, 0, "*="},  AluOp{op::DIV, 0, "/="},
    AluOp{op::DIV, 1, "s/="},   AluOp{op::OR, 0, "|="},  AluOp{op::AND, 0, "&="},  AluOp{op::LSH, 0, "<<="},
    AluOp{op::RSH, 0, ">>="},   AluOp{op::MOD, 0, "%="}, AluOp{op::MOD, 1, "s%="}, AluOp{op::XOR, 0, "^="},
    AluOp{op::ARSH, 0, "s>>="},
};

struct JumpOp {
    std::uint8_t code;
    std::string_view text;
};
constexpr std::array kJumpOps{
    JumpOp{op::JEQ, "=="}, JumpOp{op::JGT, ">"},   JumpOp{op::JGE, ">="},   JumpOp{op::JSET, "&"},
    JumpOp{op::JNE, "!="}, JumpOp{op::JSGT, "s>"}, JumpOp{op::JSGE, "s>="}, JumpOp{op::JLT, "<"},
    JumpOp{op::JLE, "<="}, JumpOp{op::JSLT, "s<"}, JumpOp{op::JSLE, "s<="},
};

struct AtomicOp {
    std::int32_t code;
    std::string_view lock_text;  // `lock *(u64 *)(r1 + 0) += r2`
    std::string_view fetch_name; // `atomic_fetch_add(...)`
};
constexpr std::array kAtomicOps{
    AtomicOp{op::ATOMIC_ADD, "+=", "atomic_fetch_add"},
    AtomicOp{op::ATOMIC_OR, "|=", "atomic_fetch_or"},
    AtomicOp{op::ATOMIC_AND, "&=", "atomic_fetch_and"},
    AtomicOp{op::ATOMIC_XOR, "^=", "atomic_fetch_xor"},
};

struct ByteSwap {
    std::uint8_t opcode;
    std::int32_t width;
    std::string_view name;
};
constexpr std::array kByteSwaps{
    ByteSwap{op::ALU | op::END | op::TO_LE, 16, "le16"},      ByteSwap{op::ALU | op::END | op::TO_LE, 32, "le32"},
    ByteSwap{op::ALU | op::END | op::TO_LE, 64, "le64"},      ByteSwap{op::ALU | op::END | op::TO_BE, 16, "be16"},
    ByteSwap{op::ALU | op::END | op::TO_BE, 32, "be32"},      ByteSwap{op::ALU | op::END | op::TO_BE, 64, "be64"},
    ByteSwap{op::ALU64 | op::END | op::TO_LE, 16, "bswap16"}, ByteSwap{op::ALU64 | op::END | op::TO_LE, 32, "bswap32"},
    ByteSwap{op::ALU64 | op::END | op::TO_LE, 64, "bswap64"},
};

struct PseudoLddw {
    LddwSource source;
    std::string_view name;
    bool takes_offset; // the second slot's imm is an offset, printed as a second argument
};
// `code` is absent: its argument is a pc-relative target, not a plain number.
constexpr std::array kPseudoLddws{
    PseudoLddw{LddwSource::map_fd, "map_fd", false},
    PseudoLddw{LddwSource::map_value_fd, "map_value_fd", true},
    PseudoLddw{LddwSource::variable, "var", false},
    PseudoLddw{LddwSource::map_index, "map_by_idx", false},
    PseudoLddw{LddwSource::map_value_index, "map_value_by_idx", true},
};
constexpr std::string_view kCodeAddress = "code";

struct MemSize {
    std::uint8_t field;
    std::string_view bits;
};
constexpr std::array kMemSizes{MemSize{op::B, "8"}, MemSize{op::H, "16"}, MemSize{op::W, "32"}, MemSize{op::DW, "64"}};

constexpr std::string_view kRawDirective = ".quad";

// ---------------------------------------------------------------------------------------------------------------
// Disassembler.

struct Decoded {
    std::string text;
    std::size_t slots = 1;
};

[[nodiscard]] bool valid_register(int reg) noexcept { return reg <= kFramePointer; }

[[nodiscard]] std::string reg_name(int reg, bool wide) { return (wide ? "r" : "w") + std::to_string(reg); }

/// `+3`, `-2`, `+0`: the explicit sign llvm-objdump gives jump offsets.
[[nodiscard]] std::string signed_text(std::int64_t value) { return (value >= 0 ? "+" : "") + std::to_string(value); }

/// `r1 + 2` / `r10 - 8`, without parentheses (xchg and cmpxchg print it bare).
[[nodiscard]] std::string address_text(int base, std::int16_t offset) {
    const std::int64_t off = offset;
    return reg_name(base, true) + (off < 0 ? " - " + std::to_string(-off) : " + " + std::to_string(off));
}

[[nodiscard]] std::string_view size_bits(std::uint8_t size_field) {
    for (const auto& size : kMemSizes) {
        if (size.field == size_field) {
            return size.bits;
        }
    }
    return "64";
}

[[nodiscard]] std::uint64_t slot_word(const Instruction& ins) noexcept {
    return static_cast<std::uint64_t>(ins.opcode) | (static_cast<std::uint64_t>(ins.dst) << 8) |
           (static_cast<std::uint64_t>(ins.src) << 12) |
           (static_cast<std::uint64_t>(static_cast<std::uint16_t>(ins.offset)) << 16) |
           (static_cast<std::uint64_t>(static_cast<std::uint32_t>(ins.imm)) << 32);
}

[[nodiscard]] Instruction slot_from_word(std::uint64_t word) noexcept {
    return make(static_cast<std::uint8_t>(word & 0xff), static_cast<int>((word >> 8) & 0x0f),
                static_cast<int>((word >> 12) & 0x0f),
                static_cast<std::int16_t>(static_cast<std::uint16_t>(word >> 16)),
                static_cast<std::int32_t>(static_cast<std::uint32_t>(word >> 32)));
}

[[nodiscard]] std::string raw_text(const Instruction& ins) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%016llx", static_cast<unsigned long long>(slot_word(ins)));
    return std::string(kRawDirective) + " " + buffer;
}

[[nodiscard]] std::string disassemble_alu(const Instruction& ins) {
    const bool wide = op_class(ins.opcode) == op::ALU64;
    const bool x = op_source(ins.opcode) == op::X;
    const std::uint8_t code = op_code(ins.opcode);
    if (!valid_register(ins.dst)) {
        return raw_text(ins);
    }
    const std::string dst = reg_name(ins.dst, wide);
    switch (code) {
    case op::NEG:
        if (x || ins.src != 0 || ins.offset != 0 || ins.imm != 0) {
            return raw_text(ins);
        }
        return dst + " = -" + dst;
    case op::END:
        if (ins.src != 0 || ins.offset != 0) {
            return raw_text(ins);
        }
        for (const auto& swap : kByteSwaps) {
            if (swap.opcode == ins.opcode && swap.width == ins.imm) {
                // LLVM spells byte swaps with 64-bit register names even in the ALU class.
                const std::string reg = reg_name(ins.dst, true);
                return reg + " = " + std::string(swap.name) + " " + reg;
            }
        }
        return raw_text(ins);
    case op::MOV:
        if (!x) {
            if (ins.src != 0 || ins.offset != 0) {
                return raw_text(ins);
            }
            return dst + " = " + std::to_string(ins.imm);
        }
        if (ins.imm != 0 || !valid_register(ins.src)) {
            return raw_text(ins);
        }
        if (ins.offset == 0) {
            return dst + " = " + reg_name(ins.src, wide);
        }
        if (ins.offset == 8 || ins.offset == 16 || (wide && ins.offset == 32)) {
            return dst + " = (s" + std::to_string(ins.offset) + ")" + reg_name(ins.src, wide);
        }
        return raw_text(ins);
    default: break;
    }
    for (const auto& alu : kAluOps) {
        if (alu.code != code || alu.offset != ins.offset) {
            continue;
        }
        if (x) {
            if (ins.imm != 0 || !valid_register(ins.src)) {
                return raw_text(ins);
            }
            return dst + " " + std::string(alu.text) + " " + reg_name(ins.src, wide);
        }
        if (ins.src != 0) {
            return raw_text(ins);
        }
        return dst + " " + std::string(alu.text) + " " + std::to_string(ins.imm);
    }
    return raw_text(ins);
}

[[nodiscard]] std::string disassemble_jump(const Instruction& ins) {
    const bool wide = op_class(ins.opcode) == op::JMP;
    const bool x = op_source(ins.opcode) == op::X;
    const std::uint8_t code = op_code(ins.opcode);
    switch (code) {
    case op::JA:
        if (x || ins.dst != 0 || ins.src != 0) {
            return raw_text(ins);
        }
        if (wide) {
            return ins.imm == 0 ? "goto " + signed_text(ins.offset) : raw_text(ins);
        }
        return ins.offset == 0 ? "gotol " + signed_text(ins.imm) : raw_text(ins);
    case op::CALL:
        if (!wide || ins.offset != 0) {
            return raw_text(ins);
        }
        if (x) {
            if (ins.src != 0 || ins.imm != 0 || !valid_register(ins.dst)) {
                return raw_text(ins);
            }
            return "callx " + reg_name(ins.dst, true);
        }
        if (ins.dst != 0) {
            return raw_text(ins);
        }
        switch (static_cast<CallSource>(ins.src)) {
        case CallSource::helper: return "call " + std::to_string(ins.imm);
        case CallSource::local: return "call pc" + signed_text(ins.imm);
        case CallSource::kfunc: return "call kfunc " + std::to_string(ins.imm);
        }
        return raw_text(ins);
    case op::EXIT:
        if (!wide || x || ins.dst != 0 || ins.src != 0 || ins.offset != 0 || ins.imm != 0) {
            return raw_text(ins);
        }
        return "exit";
    default: break;
    }
    for (const auto& jump : kJumpOps) {
        if (jump.code != code) {
            continue;
        }
        if (!valid_register(ins.dst)) {
            return raw_text(ins);
        }
        std::string text = "if " + reg_name(ins.dst, wide) + " " + std::string(jump.text) + " ";
        if (x) {
            if (ins.imm != 0 || !valid_register(ins.src)) {
                return raw_text(ins);
            }
            text += reg_name(ins.src, wide);
        } else {
            if (ins.src != 0) {
                return raw_text(ins);
            }
            text += std::to_string(ins.imm);
        }
        return text + " goto " + signed_text(ins.offset);
    }
    return raw_text(ins);
}

[[nodiscard]] Decoded disassemble_lddw(std::span<const Instruction> program, std::size_t pc) {
    const Instruction& ins = program[pc];
    if (ins.offset != 0 || !valid_register(ins.dst) || ins.src > static_cast<int>(LddwSource::map_value_index) ||
        pc + 1 >= program.size()) {
        return {raw_text(ins)};
    }
    const Instruction& next = program[pc + 1];
    if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.offset != 0) {
        return {raw_text(ins)};
    }
    const std::string dst = reg_name(ins.dst, true);
    const auto source = static_cast<LddwSource>(ins.src);
    if (source == LddwSource::imm64) {
        return {dst + " = " + std::to_string(static_cast<std::int64_t>(lddw_imm(ins, next))) + " ll", 2};
    }
    if (source == LddwSource::code_address) {
        if (next.imm != 0) {
            return {raw_text(ins)};
        }
        return {dst + " = " + std::string(kCodeAddress) + "(" + signed_text(ins.imm) + ") ll", 2};
    }
    for (const auto& pseudo : kPseudoLddws) {
        if (pseudo.source != source) {
            continue;
        }
        std::string args = std::to_string(ins.imm);
        if (pseudo.takes_offset) {
            args += ", " + std::to_string(next.imm);
        } else if (next.imm != 0) {
            return {raw_text(ins)};
        }
        return {dst + " = " + std::string(pseudo.name) + "(" + args + ") ll", 2};
    }
    return {raw_text(ins)};
}

[[nodiscard]] std::string disassemble_atomic(const Instruction& ins) {
    const std::uint8_t size = op_size(ins.opcode);
    if ((size != op::W && size != op::DW) || !valid_register(ins.dst) || !valid_register(ins.src)) {
        return raw_text(ins);
    }
    const bool wide = size == op::DW;
    const std::string bits(size_bits(size));
    const std::string address = address_text(ins.dst, ins.offset);
    const std::string value = reg_name(ins.src, wide);
    for (const auto& atomic : kAtomicOps) {
        if (ins.imm == atomic.code) {
            return "lock *(u" + bits + " *)(" + address + ") " + std::string(atomic.lock_text) + " " + value;
        }
        if (ins.imm == (atomic.code | op::FETCH)) {
            return value + " = " + std::string(atomic.fetch_name) + "((u" + bits + " *)(" + address + "), " + value +
                   ")";
        }
    }
    const std::string width_prefix = wide ? "" : "32";
    if (ins.imm == op::XCHG) {
        return value + " = xchg" + width_prefix + "_" + bits + "(" + address + ", " + value + ")";
    }
    if (ins.imm == op::CMPXCHG) {
        const std::string r0 = reg_name(0, wide);
        return r0 + " = cmpxchg" + width_prefix + "_" + bits + "(" + address + ", " + r0 + ", " + value + ")";
    }
    return raw_text(ins);
}

[[nodiscard]] std::string disassemble_memory(const Instruction& ins) {
    const std::uint8_t cls = op_class(ins.opcode);
    const std::uint8_t mode = op_mode(ins.opcode);
    const std::string bits(size_bits(op_size(ins.opcode)));
    if (!valid_register(ins.dst) || !valid_register(ins.src)) {
        return raw_text(ins);
    }
    switch (cls) {
    case op::LDX:
        if (ins.imm != 0 || (mode != op::MEM && mode != op::MEMSX) ||
            (mode == op::MEMSX && op_size(ins.opcode) == op::DW)) {
            return raw_text(ins);
        }
        return reg_name(ins.dst, true) + " = *(" + (mode == op::MEMSX ? "s" : "u") + bits + " *)(" +
               address_text(ins.src, ins.offset) + ")";
    case op::ST:
        if (mode != op::MEM || ins.src != 0) {
            return raw_text(ins);
        }
        return "*(u" + bits + " *)(" + address_text(ins.dst, ins.offset) + ") = " + std::to_string(ins.imm);
    case op::STX:
        if (mode == op::ATOMIC) {
            return disassemble_atomic(ins);
        }
        if (mode != op::MEM || ins.imm != 0) {
            return raw_text(ins);
        }
        return "*(u" + bits + " *)(" + address_text(ins.dst, ins.offset) + ") = " + reg_name(ins.src, true);
    default: return raw_text(ins);
    }
}

// LD_ABS and LD_IND: r0 = the packet's bytes at imm (or src + imm), in network order.
[[nodiscard]] std::string disassemble_packet_load(const Instruction& ins) {
    if (!is_legacy_packet_load(ins)) {
        return raw_text(ins);
    }
    const std::string type = "r0 = *(u" + std::string(size_bits(op_size(ins.opcode))) + " *)skb[";
    if (op_mode(ins.opcode) == op::ABS) {
        return type + std::to_string(ins.imm) + "]";
    }
    if (ins.imm == 0) {
        return type + reg_name(ins.src, true) + "]";
    }
    return type + reg_name(ins.src, true) + (ins.imm < 0 ? " - " : " + ") +
           std::to_string(ins.imm < 0 ? -static_cast<std::int64_t>(ins.imm) : ins.imm) + "]";
}

[[nodiscard]] Decoded disassemble_at(std::span<const Instruction> program, std::size_t pc) {
    const Instruction& ins = program[pc];
    switch (op_class(ins.opcode)) {
    case op::LD: return is_lddw(ins) ? disassemble_lddw(program, pc) : Decoded{disassemble_packet_load(ins)};
    case op::LDX:
    case op::ST:
    case op::STX: return {disassemble_memory(ins)};
    case op::ALU:
    case op::ALU64: return {disassemble_alu(ins)};
    default: return {disassemble_jump(ins)};
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Assembler: a lexer per line, a recursive-descent parser per statement, then label fixups.

enum class TokenKind { identifier, number, punct, end };

struct Token {
    TokenKind kind = TokenKind::end;
    std::string_view text;
};

[[nodiscard]] constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
[[nodiscard]] constexpr bool is_ident_start(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
}
[[nodiscard]] constexpr bool is_ident_char(char c) noexcept { return is_ident_start(c) || is_digit(c); }
[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Longest match wins; the `s`-prefixed signed operators are tried before `s` is taken as an identifier.
constexpr std::array<std::string_view, 34> kPuncts{
    "s>>=", "<<=", ">>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<", "==", "!=", ">=", "<=", "+=", "-=", "*=", "/=",
    "|=",   "&=",  "%=",  "^=",  "=",   ">",   "<",   "&",  "*",  "(",  ")",  ",",  "+",  "-",  ":",  "[",  "]",
};

[[nodiscard]] std::string quote(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\x%02x", byte);
            out += buffer;
        } else {
            out += c;
        }
    }
    return out + "'";
}

[[nodiscard]] std::string_view strip_comment(std::string_view line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' || line[i] == ';' || (line[i] == '/' && i + 1 < line.size() && line[i + 1] == '/')) {
            return line.substr(0, i);
        }
    }
    return line;
}

/// Splits a comment-free line into tokens; on an unknown character returns the message instead.
[[nodiscard]] std::variant<std::vector<Token>, std::string> tokenize(std::string_view line) {
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < line.size()) {
        const char c = line[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        std::string_view punct;
        for (const auto candidate : kPuncts) {
            if (candidate.size() > punct.size() && line.substr(i, candidate.size()) == candidate) {
                punct = candidate;
            }
        }
        if (!punct.empty() && (c != 's' || punct.size() > 1)) {
            tokens.push_back({TokenKind::punct, line.substr(i, punct.size())});
            i += punct.size();
            continue;
        }
        if (is_ident_start(c) || is_digit(c)) {
            std::size_t end = i + 1;
            while (end < line.size() && is_ident_char(line[end])) {
                ++end;
            }
            tokens.push_back({is_digit(c) ? TokenKind::number : TokenKind::identifier, line.substr(i, end - i)});
            i = end;
            continue;
        }
        return "unexpected character " + quote(line.substr(i, 1));
    }
    return tokens;
}

/// The value of a decimal or `0x` hexadecimal literal, or nothing when malformed or above 2^64-1.
[[nodiscard]] std::optional<std::uint64_t> parse_magnitude(std::string_view text) {
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty()) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (const char c : text) {
        unsigned digit = 0;
        if (is_digit(c)) {
            digit = static_cast<unsigned>(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else if (base == 16 && c >= 'A' && c <= 'F') {
            digit = static_cast<unsigned>(c - 'A' + 10);
        } else {
            return std::nullopt;
        }
        if (value > (UINT64_MAX - digit) / base) {
            return std::nullopt;
        }
        value = value * base + digit;
    }
    return value;
}

enum class RegisterSyntax { not_register, valid, invalid };

struct Register {
    int index = 0;
    bool wide = true; ///< spelled rN rather than wN
};

/// Whether an identifier names a register: `r0`..`r10` and `w0`..`w10`. `r11` or `r01` look like registers but
/// are not; they are reported rather than taken for label names.
[[nodiscard]] RegisterSyntax classify_register(std::string_view text, Register& out) {
    if (text.size() < 2 || (text[0] != 'r' && text[0] != 'w')) {
        return RegisterSyntax::not_register;
    }
    const std::string_view digits = text.substr(1);
    for (const char c : digits) {
        if (!is_digit(c)) {
            return RegisterSyntax::not_register;
        }
    }
    if (digits.size() > 2 || (digits.size() == 2 && digits[0] == '0')) {
        return RegisterSyntax::invalid;
    }
    int index = 0;
    for (const char c : digits) {
        index = index * 10 + (c - '0');
    }
    if (index > kFramePointer) {
        return RegisterSyntax::invalid;
    }
    out = {index, text[0] == 'r'};
    return RegisterSyntax::valid;
}

/// A literal with its sign kept apart, so that range checks never overflow.
struct Number {
    bool negative = false;
    std::uint64_t magnitude = 0;
    std::string_view digits;

    [[nodiscard]] std::string text() const {
        std::string out(negative ? "-" : "");
        out += digits;
        return out;
    }
    [[nodiscard]] bool fits_signed(int bits) const {
        const std::uint64_t limit = std::uint64_t{1} << (bits - 1);
        return negative ? magnitude <= limit : magnitude < limit;
    }
    /// Two's complement of the value, valid when fits_signed(64) or (!negative).
    [[nodiscard]] std::uint64_t bits64() const { return negative ? std::uint64_t{0} - magnitude : magnitude; }
};

enum class FixupKind {
    offset16, ///< the offset field of a jump
    imm32,    ///< the imm of `gotol`, a local call or `lddw code(...)`
};

/// A jump target: an offset in slots, or a label resolved once every line is read.
struct Target {
    std::int64_t offset = 0;
    std::string_view label;
};

struct Address {
    int base = 0;
    std::int16_t offset = 0;
};

struct MemType {
    std::uint8_t size = op::DW;
    bool is_signed = false;
};

struct Statement {
    std::array<Instruction, 2> slots{};
    std::size_t slot_count = 1;
    std::string_view label; ///< when set, the target of slots[0] still has to be resolved
    FixupKind fixup = FixupKind::offset16;
};

class LineParser {
  public:
    explicit LineParser(std::vector<Token> tokens) : m_tokens(std::move(tokens)) {}

    /// Consumes `name:` definitions at the start of the line.
    bool parse_labels(std::vector<std::string_view>& labels) {
        while (true) {
            const Token& name = peek();
            if (!is_punct(peek(1), ":")) {
                return true;
            }
            if (name.kind == TokenKind::number) {
                return fail("numeric label " + quote(name.text) +
                            " (a label starts with a letter, '_' or '.'; pc prefixes are not accepted)");
            }
            if (name.kind != TokenKind::identifier) {
                return fail("expected a label name before ':'");
            }
            Register reg;
            if (classify_register(name.text, reg) != RegisterSyntax::not_register) {
                return fail("label " + quote(name.text) + " is spelled like a register");
            }
            labels.push_back(name.text);
            m_pos += 2;
        }
    }

    [[nodiscard]] bool at_end() const { return peek().kind == TokenKind::end; }

    [[nodiscard]] std::optional<Statement> parse_statement() {
        auto statement = parse_instruction();
        if (statement && !at_end()) {
            return fail_none("unexpected " + describe(peek()) + " after the instruction");
        }
        return statement;
    }

    [[nodiscard]] const std::string& error() const { return m_error; }

  private:
    // -- token access ---------------------------------------------------------------------------------------------

    [[nodiscard]] const Token& peek(std::size_t ahead = 0) const {
        static const Token end_token{};
        return m_pos + ahead < m_tokens.size() ? m_tokens[m_pos + ahead] : end_token;
    }
    const Token& advance() {
        const Token& token = peek();
        if (m_pos < m_tokens.size()) {
            ++m_pos;
        }
        return token;
    }
    [[nodiscard]] static bool is_punct(const Token& token, std::string_view text) {
        return token.kind == TokenKind::punct && token.text == text;
    }
    [[nodiscard]] static bool is_ident(const Token& token, std::string_view text) {
        return token.kind == TokenKind::identifier && token.text == text;
    }
    [[nodiscard]] static std::string describe(const Token& token) {
        return token.kind == TokenKind::end ? std::string("end of line") : quote(token.text);
    }
    [[nodiscard]] bool starts_number(std::size_t ahead = 0) const {
        const Token& token = peek(ahead);
        return token.kind == TokenKind::number || is_punct(token, "-") || is_punct(token, "+");
    }
    [[nodiscard]] bool starts_register(std::size_t ahead = 0) const {
        Register reg;
        const Token& token = peek(ahead);
        return token.kind == TokenKind::identifier &&
               classify_register(token.text, reg) != RegisterSyntax::not_register;
    }

    bool fail(std::string message) {
        if (m_error.empty()) {
            m_error = std::move(message);
        }
        return false;
    }
    std::nullopt_t fail_none(std::string message) {
        fail(std::move(message));
        return std::nullopt;
    }
    bool expect(std::string_view punct) {
        if (is_punct(peek(), punct)) {
            advance();
            return true;
        }
        return fail("expected '" + std::string(punct) + "', found " + describe(peek()));
    }
    bool expect_ident(std::string_view name) {
        if (is_ident(peek(), name)) {
            advance();
            return true;
        }
        return fail("expected '" + std::string(name) + "', found " + describe(peek()));
    }

    // -- operands -------------------------------------------------------------------------------------------------

    std::optional<Register> parse_register() {
        const Token& token = peek();
        Register reg;
        const RegisterSyntax syntax =
            token.kind == TokenKind::identifier ? classify_register(token.text, reg) : RegisterSyntax::not_register;
        if (syntax == RegisterSyntax::invalid) {
            return fail_none("bad register " + quote(token.text) + " (registers are r0-r10 and w0-w10)");
        }
        if (syntax == RegisterSyntax::not_register) {
            return fail_none("expected a register, found " + describe(token));
        }
        advance();
        return reg;
    }

    std::optional<Register> parse_register_of_width(bool wide, std::string_view what) {
        auto reg = parse_register();
        if (reg && reg->wide != wide) {
            return fail_none(std::string(what) + " must be " + (wide ? "rN" : "wN") + ", found " +
                             reg_name(reg->index, reg->wide));
        }
        return reg;
    }

    /// An optional sign, then a decimal or hexadecimal literal.
    std::optional<Number> parse_number() {
        Number number;
        if (is_punct(peek(), "-") || is_punct(peek(), "+")) {
            number.negative = advance().text == "-";
        }
        const Token& token = peek();
        if (token.kind != TokenKind::number) {
            return fail_none("expected a number, found " + describe(token));
        }
        const auto magnitude = parse_magnitude(token.text);
        if (!magnitude) {
            return fail_none("bad number " + quote(token.text) + " (decimal or 0x hex, at most 64 bits)");
        }
        advance();
        number.magnitude = *magnitude;
        number.digits = token.text;
        return number;
    }

    /// A 32-bit immediate: signed, or unsigned up to 0xffffffff (which wraps, as in LLVM's assembler).
    std::optional<std::int32_t> parse_imm32() {
        const auto number = parse_number();
        if (!number) {
            return std::nullopt;
        }
        if (number->negative ? !number->fits_signed(32) : number->magnitude > UINT32_MAX) {
            return fail_none("immediate " + number->text() + " does not fit in 32 bits");
        }
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(number->bits64()));
    }

    std::optional<std::uint64_t> parse_imm64(const Number& number) {
        if (number.negative && !number.fits_signed(64)) {
            return fail_none("immediate " + number.text() + " does not fit in 64 bits");
        }
        return number.bits64();
    }

    /// A signed offset in slots (`+3`, `-2`, `3`) or a label.
    std::optional<Target> parse_target(FixupKind kind) {
        if (starts_number()) {
            const auto number = parse_number();
            if (!number) {
                return std::nullopt;
            }
            const int bits = kind == FixupKind::offset16 ? 16 : 32;
            if (!number->fits_signed(bits)) {
                return fail_none("offset " + number->text() + " does not fit in " + std::to_string(bits) + " bits");
            }
            return Target{static_cast<std::int64_t>(number->bits64()), {}};
        }
        const Token& token = peek();
        if (token.kind != TokenKind::identifier || starts_register()) {
            return fail_none("expected a jump offset or a label, found " + describe(token));
        }
        advance();
        return Target{0, token.text};
    }

    /// `r1 + 2`, `r10 - 8`, `r1`: the base register and offset of a memory operand, without parentheses.
    std::optional<Address> parse_address_body() {
        const auto base = parse_register_of_width(true, "the address register");
        if (!base) {
            return std::nullopt;
        }
        const auto offset = parse_register_offset(16);
        if (!offset) {
            return std::nullopt;
        }
        return Address{base->index, static_cast<std::int16_t>(*offset)};
    }

    /// `+ 2`, `- 8` or nothing (0) after a register: an offset of at most `bits` bits, signed.
    std::optional<std::int32_t> parse_register_offset(int bits) {
        if (!is_punct(peek(), "+") && !is_punct(peek(), "-")) {
            return 0;
        }
        const bool minus = advance().text == "-";
        auto number = parse_number();
        if (!number) {
            return std::nullopt;
        }
        number->negative = number->negative != minus;
        if (!number->fits_signed(bits)) {
            return fail_none("offset " + number->text() + " does not fit in " + std::to_string(bits) + " bits");
        }
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(number->bits64()));
    }

    std::optional<Address> parse_address() {
        if (!expect("(")) {
            return std::nullopt;
        }
        auto address = parse_address_body();
        if (!address || !expect(")")) {
            return std::nullopt;
        }
        return address;
    }

    /// `(u32 *)`: the access type of a memory operand.
    std::optional<MemType> parse_mem_type(bool allow_signed) {
        if (!expect("(")) {
            return std::nullopt;
        }
        const Token& token = peek();
        std::optional<MemType> type;
        if (token.kind == TokenKind::identifier && token.text.size() >= 2 &&
            (token.text[0] == 'u' || (allow_signed && token.text[0] == 's'))) {
            for (const auto& size : kMemSizes) {
                if (token.text.substr(1) == size.bits && !(token.text[0] == 's' && size.field == op::DW)) {
                    type = MemType{size.field, token.text[0] == 's'};
                }
            }
        }
        if (!type) {
            return fail_none("expected an access type (" +
                             std::string(allow_signed ? "u8, u16, u32, u64, s8, s16 or s32" : "u8, u16, u32 or u64") +
                             "), found " + describe(token));
        }
        advance();
        if (!expect("*") || !expect(")")) {
            return std::nullopt;
        }
        return type;
    }

    // -- statements -----------------------------------------------------------------------------------------------

    static Statement single(Instruction ins) {
        Statement statement;
        statement.slots[0] = ins;
        return statement;
    }

    static Statement with_target(Instruction ins, const Target& target, FixupKind kind) {
        Statement statement = single(ins);
        statement.label = target.label;
        statement.fixup = kind;
        return statement;
    }

    std::optional<Statement> parse_instruction() {
        const Token& first = peek();
        if (is_punct(first, "*")) {
            return parse_store();
        }
        if (first.kind != TokenKind::identifier) {
            return fail_none("expected an instruction, found " + describe(first));
        }
        if (starts_register()) {
            const auto dst = parse_register();
            return dst ? parse_register_statement(*dst) : std::nullopt;
        }
        const std::string_view mnemonic = advance().text;
        if (mnemonic == "exit") {
            return single(make(op::EXIT_OP));
        }
        if (mnemonic == "goto" || mnemonic == "gotol") {
            const bool wide = mnemonic == "gotol";
            const auto kind = wide ? FixupKind::imm32 : FixupKind::offset16;
            const auto target = parse_target(kind);
            if (!target) {
                return std::nullopt;
            }
            const auto ins = wide ? make(op::JA32_OP, 0, 0, 0, static_cast<std::int32_t>(target->offset))
                                  : make(op::JA_OP, 0, 0, static_cast<std::int16_t>(target->offset));
            return with_target(ins, *target, kind);
        }
        if (mnemonic == "call") {
            return parse_call();
        }
        if (mnemonic == "callx") {
            const auto reg = parse_register_of_width(true, "the callx register");
            return reg ? std::optional(single(make(op::CALLX_OP, reg->index))) : std::nullopt;
        }
        if (mnemonic == "if") {
            return parse_conditional_jump();
        }
        if (mnemonic == "lock") {
            return parse_lock();
        }
        if (mnemonic == kRawDirective) {
            const auto number = parse_number();
            if (!number) {
                return std::nullopt;
            }
            const auto word = parse_imm64(*number);
            return word ? std::optional(single(slot_from_word(*word))) : std::nullopt;
        }
        return fail_none("unknown instruction " + quote(mnemonic));
    }

    std::optional<Statement> parse_call() {
        if (is_ident(peek(), "kfunc") && starts_number(1)) {
            advance();
            const auto id = parse_imm32();
            return id ? std::optional(single(make(op::CALL_OP, 0, static_cast<int>(CallSource::kfunc), 0, *id)))
                      : std::nullopt;
        }
        const bool pc_relative = is_ident(peek(), "pc") && (is_punct(peek(1), "+") || is_punct(peek(1), "-"));
        if (pc_relative || (!starts_number() && peek().kind == TokenKind::identifier)) {
            if (pc_relative) {
                advance();
            }
            const auto target = parse_target(FixupKind::imm32);
            if (!target) {
                return std::nullopt;
            }
            const auto ins =
                make(op::CALL_OP, 0, static_cast<int>(CallSource::local), 0, static_cast<std::int32_t>(target->offset));
            return with_target(ins, *target, FixupKind::imm32);
        }
        const auto id = parse_imm32();
        return id ? std::optional(single(make(op::CALL_OP, 0, static_cast<int>(CallSource::helper), 0, *id)))
                  : std::nullopt;
    }

    std::optional<Statement> parse_conditional_jump() {
        const auto dst = parse_register();
        if (!dst) {
            return std::nullopt;
        }
        const Token& op_token = peek();
        const JumpOp* jump = nullptr;
        for (const auto& candidate : kJumpOps) {
            if (is_punct(op_token, candidate.text)) {
                jump = &candidate;
            }
        }
        if (jump == nullptr) {
            return fail_none("expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found " +
                             describe(op_token));
        }
        advance();
        const std::uint8_t cls = dst->wide ? op::JMP : op::JMP32;
        Instruction ins;
        if (starts_register()) {
            const auto src = parse_register_of_width(dst->wide, "the second operand");
            if (!src) {
                return std::nullopt;
            }
            ins = make(cls | jump->code | op::X, dst->index, src->index);
        } else {
            const auto imm = parse_imm32();
            if (!imm) {
                return std::nullopt;
            }
            ins = make(cls | jump->code | op::K, dst->index, 0, 0, *imm);
        }
        if (!expect_ident("goto")) {
            return std::nullopt;
        }
        const auto target = parse_target(FixupKind::offset16);
        if (!target) {
            return std::nullopt;
        }
        ins.offset = static_cast<std::int16_t>(target->offset);
        return with_target(ins, *target, FixupKind::offset16);
    }

    /// `lock *(u64 *)(r1 + 0) += r2`
    std::optional<Statement> parse_lock() {
        if (!expect("*")) {
            return std::nullopt;
        }
        const auto type = parse_mem_type(false);
        if (!type) {
            return std::nullopt;
        }
        if (type->size != op::W && type->size != op::DW) {
            return fail_none("atomic operations take u32 or u64");
        }
        const auto address = parse_address();
        if (!address) {
            return std::nullopt;
        }
        const Token& op_token = peek();
        for (const auto& atomic : kAtomicOps) {
            if (is_punct(op_token, atomic.lock_text)) {
                advance();
                const auto value = parse_register();
                if (!value) {
                    return std::nullopt;
                }
                return single(
                    make(op::STX | op::ATOMIC | type->size, address->base, value->index, address->offset, atomic.code));
            }
        }
        return fail_none("expected an atomic operator (+=, |=, &=, ^=), found " + describe(op_token));
    }

    /// `*(u32 *)(r10 - 4) = r1` or `= 5`
    std::optional<Statement> parse_store() {
        advance(); // '*'
        const auto type = parse_mem_type(false);
        if (!type) {
            return std::nullopt;
        }
        const auto address = parse_address();
        if (!address || !expect("=")) {
            return std::nullopt;
        }
        if (starts_register()) {
            const auto value = parse_register();
            return value ? std::optional(single(
                               make(op::STX | op::MEM | type->size, address->base, value->index, address->offset)))
                         : std::nullopt;
        }
        const auto imm = parse_imm32();
        return imm ? std::optional(single(make(op::ST | op::MEM | type->size, address->base, 0, address->offset, *imm)))
                   : std::nullopt;
    }

    std::optional<Statement> parse_register_statement(const Register& dst) {
        const Token& op_token = peek();
        if (is_punct(op_token, "=")) {
            advance();
            return parse_assignment(dst);
        }
        for (const auto& alu : kAluOps) {
            if (!is_punct(op_token, alu.text)) {
                continue;
            }
            advance();
            const std::uint8_t cls = dst.wide ? op::ALU64 : op::ALU;
            if (starts_register()) {
                const auto src = parse_register_of_width(dst.wide, "the source register");
                return src ? std::optional(single(make(cls | alu.code | op::X, dst.index, src->index, alu.offset)))
                           : std::nullopt;
            }
            const auto imm = parse_imm32();
            return imm ? std::optional(single(make(cls | alu.code | op::K, dst.index, 0, alu.offset, *imm)))
                       : std::nullopt;
        }
        return fail_none("expected an assignment operator after " + reg_name(dst.index, dst.wide) + ", found " +
                         describe(op_token));
    }

    std::optional<Statement> parse_assignment(const Register& dst) {
        const std::uint8_t alu_class = dst.wide ? op::ALU64 : op::ALU;
        const Token& token = peek();
        if (is_punct(token, "-") && starts_register(1)) {
            advance();
            const auto src = parse_register_of_width(dst.wide, "the negated register");
            if (!src) {
                return std::nullopt;
            }
            if (src->index != dst.index) {
                return fail_none("neg must negate its destination register in place");
            }
            return single(make(alu_class | op::NEG | op::K, dst.index));
        }
        if (starts_number()) {
            const auto number = parse_number();
            if (!number) {
                return std::nullopt;
            }
            if (is_ident(peek(), "ll")) {
                advance();
                if (!dst.wide) {
                    return fail_none("lddw loads a 64-bit register, not " + reg_name(dst.index, false));
                }
                const auto value = parse_imm64(*number);
                return value ? std::optional(lddw(dst.index, LddwSource::imm64, static_cast<std::int32_t>(*value),
                                                  static_cast<std::int32_t>(*value >> 32)))
                             : std::nullopt;
            }
            if (number->negative ? !number->fits_signed(32) : number->magnitude > UINT32_MAX) {
                return fail_none("immediate " + number->text() + " does not fit in 32 bits (add 'll' for lddw)");
            }
            const auto imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(number->bits64()));
            return single(make(alu_class | op::MOV | op::K, dst.index, 0, 0, imm));
        }
        if (starts_register()) {
            const auto src = parse_register_of_width(dst.wide, "the source register");
            return src ? std::optional(single(make(alu_class | op::MOV | op::X, dst.index, src->index))) : std::nullopt;
        }
        if (is_punct(token, "(")) {
            return parse_sign_extending_move(dst);
        }
        if (is_punct(token, "*")) {
            return parse_load(dst);
        }
        if (token.kind != TokenKind::identifier) {
            return fail_none("expected a value after '=', found " + describe(token));
        }
        const std::string_view name = advance().text;
        for (const auto& swap : kByteSwaps) {
            if (swap.name == name) {
                const auto src = parse_register();
                if (!src) {
                    return std::nullopt;
                }
                if (src->index != dst.index) {
                    return fail_none(std::string(name) + " must swap its destination register in place");
                }
                return single(make(swap.opcode, dst.index, 0, 0, swap.width));
            }
        }
        for (const auto& atomic : kAtomicOps) {
            if (atomic.fetch_name == name) {
                return parse_atomic_fetch(dst, atomic.code);
            }
        }
        if (name == "xchg_64" || name == "xchg32_32") {
            return parse_exchange(dst, name == "xchg_64" ? op::DW : op::W);
        }
        if (name == "cmpxchg_64" || name == "cmpxchg32_32") {
            return parse_compare_exchange(dst, name == "cmpxchg_64" ? op::DW : op::W);
        }
        if (name == kCodeAddress) {
            return parse_code_address(dst);
        }
        for (const auto& pseudo : kPseudoLddws) {
            if (pseudo.name == name) {
                return parse_pseudo_lddw(dst, pseudo);
            }
        }
        return fail_none("unknown expression " + quote(name) + " after '='");
    }

    static Statement lddw(int dst, LddwSource source, std::int32_t imm, std::int32_t next_imm) {
        Statement statement;
        statement.slots[0] = make(op::LDDW, dst, static_cast<int>(source), 0, imm);
        statement.slots[1] = make(0, 0, 0, 0, next_imm);
        statement.slot_count = 2;
        return statement;
    }

    bool expect_lddw_suffix(const Register& dst) {
        if (!expect(")") || !expect_ident("ll")) {
            return false;
        }
        if (!dst.wide) {
            return fail("lddw loads a 64-bit register, not " + reg_name(dst.index, false));
        }
        return true;
    }

    /// `map_fd(3)`, `map_value_fd(3, 16)`, ... followed by `ll`.
    std::optional<Statement> parse_pseudo_lddw(const Register& dst, const PseudoLddw& pseudo) {
        if (!expect("(")) {
            return std::nullopt;
        }
        const auto imm = parse_imm32();
        if (!imm) {
            return std::nullopt;
        }
        std::int32_t offset = 0;
        if (pseudo.takes_offset) {
            const auto second = expect(",") ? parse_imm32() : std::nullopt;
            if (!second) {
                return std::nullopt;
            }
            offset = *second;
        }
        if (!expect_lddw_suffix(dst)) {
            return std::nullopt;
        }
        return lddw(dst.index, pseudo.source, *imm, offset);
    }

    /// `code(+5) ll` or `code(label) ll`: the address of a callback function.
    std::optional<Statement> parse_code_address(const Register& dst) {
        if (!expect("(")) {
            return std::nullopt;
        }
        const auto target = parse_target(FixupKind::imm32);
        if (!target || !expect_lddw_suffix(dst)) {
            return std::nullopt;
        }
        Statement statement = lddw(dst.index, LddwSource::code_address, static_cast<std::int32_t>(target->offset), 0);
        statement.label = target->label;
        statement.fixup = FixupKind::imm32;
        return statement;
    }

    /// `(s8)r2`
    std::optional<Statement> parse_sign_extending_move(const Register& dst) {
        advance(); // '('
        const Token& cast = peek();
        int bits = 0;
        if (is_ident(cast, "s8")) {
            bits = 8;
        } else if (is_ident(cast, "s16")) {
            bits = 16;
        } else if (is_ident(cast, "s32") && dst.wide) {
            bits = 32;
        } else {
            return fail_none("expected a sign-extending cast (" +
                             std::string(dst.wide ? "s8, s16 or s32" : "s8 or s16") + "), found " + describe(cast));
        }
        advance();
        if (!expect(")")) {
            return std::nullopt;
        }
        const auto src = parse_register_of_width(dst.wide, "the source register");
        return src ? std::optional(single(make((dst.wide ? op::ALU64 : op::ALU) | op::MOV | op::X, dst.index,
                                               src->index, static_cast<std::int16_t>(bits))))
                   : std::nullopt;
    }

    /// `*(u8 *)(r1 + 2)` or `*(s8 *)(r1 + 2)`; or the legacy packet loads `*(u16 *)skb[12]`, `*(u8 *)skb[r7 + 2]`
    std::optional<Statement> parse_load(const Register& dst) {
        advance(); // '*'
        const auto type = parse_mem_type(true);
        if (!type) {
            return std::nullopt;
        }
        if (peek().kind == TokenKind::identifier && peek().text == "skb") {
            return parse_packet_load(dst, *type);
        }
        const auto address = parse_address();
        if (!address) {
            return std::nullopt;
        }
        const std::uint8_t mode = type->is_signed ? op::MEMSX : op::MEM;
        return single(make(op::LDX | mode | type->size, dst.index, address->base, address->offset));
    }

    /// `skb[12]` (LD_ABS) or `skb[r7]`, `skb[r7 + 2]` (LD_IND), after `r0 = *(uN *)`.
    std::optional<Statement> parse_packet_load(const Register& dst, const MemType& type) {
        advance(); // skb
        if (dst.index != 0 || !dst.wide) {
            return fail_none("legacy packet loads write r0, not " + reg_name(dst.index, dst.wide));
        }
        if (type.is_signed || type.size == op::DW) {
            return fail_none("legacy packet loads read u8, u16 or u32");
        }
        if (!expect("[")) {
            return std::nullopt;
        }
        if (!starts_register()) {
            const auto imm = parse_imm32();
            if (!imm || !expect("]")) {
                return std::nullopt;
            }
            return single(make(op::LD | op::ABS | type.size, 0, 0, 0, *imm));
        }
        const auto src = parse_register_of_width(true, "the offset register");
        if (!src) {
            return std::nullopt;
        }
        const auto imm = parse_register_offset(32);
        if (!imm || !expect("]")) {
            return std::nullopt;
        }
        return single(make(op::LD | op::IND | type.size, 0, src->index, 0, *imm));
    }

    /// `r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)`
    std::optional<Statement> parse_atomic_fetch(const Register& dst, std::int32_t code) {
        if (!expect("(")) {
            return std::nullopt;
        }
        const auto type = parse_mem_type(false);
        if (!type) {
            return std::nullopt;
        }
        if (type->size != op::W && type->size != op::DW) {
            return fail_none("atomic operations take u32 or u64");
        }
        const auto address = parse_address();
        if (!address || !expect(",")) {
            return std::nullopt;
        }
        const auto value = parse_fetch_register(dst);
        if (!value || !expect(")")) {
            return std::nullopt;
        }
        return single(
            make(op::STX | op::ATOMIC | type->size, address->base, value->index, address->offset, code | op::FETCH));
    }

    /// The register an atomic reads its operand from and writes the old value to; the text names it twice.
    std::optional<Register> parse_fetch_register(const Register& dst) {
        const auto value = parse_register();
        if (value && value->index != dst.index) {
            return fail_none("the fetched value goes to the operand register: write " +
                             reg_name(value->index, value->wide) + " on both sides");
        }
        return value;
    }

    /// `r2 = xchg_64(r1 + 0, r2)`
    std::optional<Statement> parse_exchange(const Register& dst, std::uint8_t size) {
        if (!expect("(")) {
            return std::nullopt;
        }
        const auto address = parse_address_body();
        if (!address || !expect(",")) {
            return std::nullopt;
        }
        const auto value = parse_fetch_register(dst);
        if (!value || !expect(")")) {
            return std::nullopt;
        }
        return single(make(op::STX | op::ATOMIC | size, address->base, value->index, address->offset, op::XCHG));
    }

    /// `r0 = cmpxchg_64(r1 + 0, r0, r2)`: the comparand and the result are always r0.
    std::optional<Statement> parse_compare_exchange(const Register& dst, std::uint8_t size) {
        if (dst.index != 0) {
            return fail_none("cmpxchg writes r0, not " + reg_name(dst.index, dst.wide));
        }
        if (!expect("(")) {
            return std::nullopt;
        }
        const auto address = parse_address_body();
        if (!address || !expect(",")) {
            return std::nullopt;
        }
        const auto comparand = parse_register();
        if (!comparand) {
            return std::nullopt;
        }
        if (comparand->index != 0) {
            return fail_none("cmpxchg compares with r0, not " + reg_name(comparand->index, comparand->wide));
        }
        if (!expect(",")) {
            return std::nullopt;
        }
        const auto value = parse_register();
        if (!value || !expect(")")) {
            return std::nullopt;
        }
        return single(make(op::STX | op::ATOMIC | size, address->base, value->index, address->offset, op::CMPXCHG));
    }

    std::vector<Token> m_tokens;
    std::size_t m_pos = 0;
    std::string m_error;
};

struct LabelDefinition {
    std::size_t slot = 0;
    std::size_t line = 0;
};

struct Fixup {
    std::size_t slot = 0;
    std::size_t line = 0;
    std::string_view label;
    FixupKind kind = FixupKind::offset16;
};

[[nodiscard]] Error line_error(std::size_t line, const std::string& message) {
    return Error::invalid("line " + std::to_string(line) + ": " + message);
}

} // namespace

Result<std::vector<Instruction>> assemble(std::string_view text) {
    std::vector<Instruction> program;
    std::map<std::string_view, LabelDefinition> labels;
    std::vector<Fixup> fixups;
    std::size_t line_number = 0;
    std::size_t line_start = 0;
    while (line_start < text.size()) {
        ++line_number;
        const std::size_t newline = text.find('\n', line_start);
        const std::size_t line_end = newline == std::string_view::npos ? text.size() : newline;
        const std::string_view line = strip_comment(text.substr(line_start, line_end - line_start));
        line_start = line_end + 1;

        auto tokens = tokenize(line);
        if (auto* message = std::get_if<std::string>(&tokens)) {
            return line_error(line_number, *message);
        }
        LineParser parser(std::get<std::vector<Token>>(std::move(tokens)));
        std::vector<std::string_view> defined;
        if (!parser.parse_labels(defined)) {
            return line_error(line_number, parser.error());
        }
        for (const auto name : defined) {
            const auto [it, inserted] = labels.emplace(name, LabelDefinition{program.size(), line_number});
            if (!inserted) {
                return line_error(line_number, "duplicate label " + quote(name) + " (first defined on line " +
                                                   std::to_string(it->second.line) + ")");
            }
        }
        if (parser.at_end()) {
            continue;
        }
        const auto statement = parser.parse_statement();
        if (!statement) {
            return line_error(line_number, parser.error());
        }
        if (!statement->label.empty()) {
            fixups.push_back({program.size(), line_number, statement->label, statement->fixup});
        }
        program.insert(program.end(), statement->slots.begin(), statement->slots.begin() + statement->slot_count);
    }

    for (const auto& fixup : fixups) {
        const auto it = labels.find(fixup.label);
        if (it == labels.end()) {
            return line_error(fixup.line, "undefined label " + quote(fixup.label));
        }
        // Offsets count from the slot after the instruction's first slot, for jumps, calls and `code(...)` alike.
        const auto distance = static_cast<std::int64_t>(it->second.slot) - static_cast<std::int64_t>(fixup.slot + 1);
        Instruction& ins = program[fixup.slot];
        if (fixup.kind == FixupKind::offset16) {
            if (distance < INT16_MIN || distance > INT16_MAX) {
                return line_error(fixup.line, "label " + quote(fixup.label) + " is out of reach (offset " +
                                                  std::to_string(distance) + " does not fit in 16 bits)");
            }
            ins.offset = static_cast<std::int16_t>(distance);
        } else {
            if (distance < INT32_MIN || distance > INT32_MAX) {
                return line_error(fixup.line, "label " + quote(fixup.label) + " is out of reach (offset " +
                                                  std::to_string(distance) + " does not fit in 32 bits)");
            }
            ins.imm = static_cast<std::int32_t>(distance);
        }
    }
    return program;
}

std::string disassemble_instruction(std::span<const Instruction> program, std::size_t pc) {
    if (pc >= program.size()) {
        return {};
    }
    return disassemble_at(program, pc).text;
}

std::string disassemble(std::span<const Instruction> program, const DisassembleOptions& options) {
    std::string out;
    for (std::size_t pc = 0; pc < program.size();) {
        if (options.show_pc) {
            char prefix[32];
            std::snprintf(prefix, sizeof prefix, "%8zu:\t", pc);
            out += prefix;
        }
        Decoded decoded = disassemble_at(program, pc);
        out += decoded.text;
        out += '\n';
        pc += decoded.slots;
    }
    return out;
}

} // namespace embpf::isa
