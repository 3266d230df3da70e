// The LLVM-syntax assembler and disassembler: one row per instruction form, both directions.
#include "embpf/isa/text.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using embpf::isa::Instruction;
using embpf::isa::make;
namespace op = embpf::isa::op;

struct Row {
    std::string_view text;
    std::vector<Instruction> slots;
};

Row row(std::string_view text, std::initializer_list<Instruction> slots) { return {text, slots}; }
Row row(std::string_view text, Instruction slot) { return {text, {slot}}; }

constexpr std::uint8_t alu64(std::uint8_t code, std::uint8_t source) { return op::ALU64 | code | source; }
constexpr std::uint8_t alu32(std::uint8_t code, std::uint8_t source) { return op::ALU | code | source; }
constexpr std::uint8_t jmp64(std::uint8_t code, std::uint8_t source) { return op::JMP | code | source; }
constexpr std::uint8_t jmp32(std::uint8_t code, std::uint8_t source) { return op::JMP32 | code | source; }

/// The second slot of a `lddw`.
Instruction high(std::int32_t imm) { return make(0, 0, 0, 0, imm); }

Instruction from_word(std::uint64_t word) {
    return make(static_cast<std::uint8_t>(word), static_cast<int>((word >> 8) & 0xf),
                static_cast<int>((word >> 12) & 0xf), static_cast<std::int16_t>(static_cast<std::uint16_t>(word >> 16)),
                static_cast<std::int32_t>(static_cast<std::uint32_t>(word >> 32)));
}

// Every instruction form, in the spelling the disassembler prints.
const std::vector<Row>& rows() {
    static const std::vector<Row> table = {
        // ALU64, immediate and register sources.
        row("r0 = 2", make(alu64(op::MOV, op::K), 0, 0, 0, 2)),
        row("r1 = r2", make(alu64(op::MOV, op::X), 1, 2)),
        row("r0 += 1", make(alu64(op::ADD, op::K), 0, 0, 0, 1)),
        row("r0 += -1", make(alu64(op::ADD, op::K), 0, 0, 0, -1)),
        row("r3 += r4", make(alu64(op::ADD, op::X), 3, 4)),
        row("r0 -= 7", make(alu64(op::SUB, op::K), 0, 0, 0, 7)),
        row("r0 -= r1", make(alu64(op::SUB, op::X), 0, 1)),
        row("r5 *= -3", make(alu64(op::MUL, op::K), 5, 0, 0, -3)),
        row("r5 *= r6", make(alu64(op::MUL, op::X), 5, 6)),
        row("r2 /= 10", make(alu64(op::DIV, op::K), 2, 0, 0, 10)),
        row("r2 /= r3", make(alu64(op::DIV, op::X), 2, 3)),
        row("r4 |= 255", make(alu64(op::OR, op::K), 4, 0, 0, 255)),
        row("r4 |= r9", make(alu64(op::OR, op::X), 4, 9)),
        row("r6 &= 65535", make(alu64(op::AND, op::K), 6, 0, 0, 65535)),
        row("r6 &= r7", make(alu64(op::AND, op::X), 6, 7)),
        row("r7 <<= 32", make(alu64(op::LSH, op::K), 7, 0, 0, 32)),
        row("r7 <<= r8", make(alu64(op::LSH, op::X), 7, 8)),
        row("r8 >>= 3", make(alu64(op::RSH, op::K), 8, 0, 0, 3)),
        row("r8 >>= r0", make(alu64(op::RSH, op::X), 8, 0)),
        row("r9 %= 13", make(alu64(op::MOD, op::K), 9, 0, 0, 13)),
        row("r9 %= r1", make(alu64(op::MOD, op::X), 9, 1)),
        row("r1 ^= -1", make(alu64(op::XOR, op::K), 1, 0, 0, -1)),
        row("r1 ^= r10", make(alu64(op::XOR, op::X), 1, 10)),
        row("r1 s>>= 35", make(alu64(op::ARSH, op::K), 1, 0, 0, 35)),
        row("r1 s>>= r2", make(alu64(op::ARSH, op::X), 1, 2)),
        row("r0 s/= r1", make(alu64(op::DIV, op::X), 0, 1, 1)),
        row("r0 s/= -7", make(alu64(op::DIV, op::K), 0, 0, 1, -7)),
        row("r0 s%= 5", make(alu64(op::MOD, op::K), 0, 0, 1, 5)),
        row("r0 s%= r3", make(alu64(op::MOD, op::X), 0, 3, 1)),
        row("r0 = -r0", make(alu64(op::NEG, op::K), 0)),
        row("r10 = -2147483648", make(alu64(op::MOV, op::K), 10, 0, 0, INT32_MIN)),
        row("r1 = (s8)r2", make(alu64(op::MOV, op::X), 1, 2, 8)),
        row("r1 = (s16)r2", make(alu64(op::MOV, op::X), 1, 2, 16)),
        row("r1 = (s32)r2", make(alu64(op::MOV, op::X), 1, 2, 32)),

        // ALU32.
        row("w0 = 2", make(alu32(op::MOV, op::K), 0, 0, 0, 2)),
        row("w0 = -1", make(alu32(op::MOV, op::K), 0, 0, 0, -1)),
        row("w1 = w2", make(alu32(op::MOV, op::X), 1, 2)),
        row("w0 += 2147483647", make(alu32(op::ADD, op::K), 0, 0, 0, INT32_MAX)),
        row("w0 += w1", make(alu32(op::ADD, op::X), 0, 1)),
        row("w2 -= 3", make(alu32(op::SUB, op::K), 2, 0, 0, 3)),
        row("w2 -= w3", make(alu32(op::SUB, op::X), 2, 3)),
        row("w5 *= -1640531535", make(alu32(op::MUL, op::K), 5, 0, 0, -1640531535)),
        row("w5 *= w2", make(alu32(op::MUL, op::X), 5, 2)),
        row("w0 /= 1000", make(alu32(op::DIV, op::K), 0, 0, 0, 1000)),
        row("w0 /= w2", make(alu32(op::DIV, op::X), 0, 2)),
        row("w0 |= 4", make(alu32(op::OR, op::K), 0, 0, 0, 4)),
        row("w0 |= w3", make(alu32(op::OR, op::X), 0, 3)),
        row("w3 &= 64", make(alu32(op::AND, op::K), 3, 0, 0, 64)),
        row("w4 &= w5", make(alu32(op::AND, op::X), 4, 5)),
        row("w3 <<= 4", make(alu32(op::LSH, op::K), 3, 0, 0, 4)),
        row("w3 <<= w1", make(alu32(op::LSH, op::X), 3, 1)),
        row("w4 >>= 7", make(alu32(op::RSH, op::K), 4, 0, 0, 7)),
        row("w4 >>= w9", make(alu32(op::RSH, op::X), 4, 9)),
        row("w6 %= 7", make(alu32(op::MOD, op::K), 6, 0, 0, 7)),
        row("w6 %= w7", make(alu32(op::MOD, op::X), 6, 7)),
        row("w5 ^= -1", make(alu32(op::XOR, op::K), 5, 0, 0, -1)),
        row("w4 ^= w5", make(alu32(op::XOR, op::X), 4, 5)),
        row("w1 s>>= 24", make(alu32(op::ARSH, op::K), 1, 0, 0, 24)),
        row("w1 s>>= w2", make(alu32(op::ARSH, op::X), 1, 2)),
        row("w0 s/= w1", make(alu32(op::DIV, op::X), 0, 1, 1)),
        row("w0 s/= 3", make(alu32(op::DIV, op::K), 0, 0, 1, 3)),
        row("w0 s%= w1", make(alu32(op::MOD, op::X), 0, 1, 1)),
        row("w0 s%= -9", make(alu32(op::MOD, op::K), 0, 0, 1, -9)),
        row("w0 = -w0", make(alu32(op::NEG, op::K), 0)),
        row("w7 = -w7", make(alu32(op::NEG, op::K), 7)),
        row("w1 = (s8)w2", make(alu32(op::MOV, op::X), 1, 2, 8)),
        row("w1 = (s16)w2", make(alu32(op::MOV, op::X), 1, 2, 16)),

        // Byte swaps: ALU END (K = to little endian, X = to big endian) and ALU64 END (bswap).
        row("r0 = le16 r0", make(alu32(op::END, op::TO_LE), 0, 0, 0, 16)),
        row("r1 = le32 r1", make(alu32(op::END, op::TO_LE), 1, 0, 0, 32)),
        row("r2 = le64 r2", make(alu32(op::END, op::TO_LE), 2, 0, 0, 64)),
        row("r0 = be16 r0", make(alu32(op::END, op::TO_BE), 0, 0, 0, 16)),
        row("r3 = be32 r3", make(alu32(op::END, op::TO_BE), 3, 0, 0, 32)),
        row("r6 = be64 r6", make(alu32(op::END, op::TO_BE), 6, 0, 0, 64)),
        row("r0 = bswap16 r0", make(alu64(op::END, op::TO_LE), 0, 0, 0, 16)),
        row("r0 = bswap32 r0", make(alu64(op::END, op::TO_LE), 0, 0, 0, 32)),
        row("r9 = bswap64 r9", make(alu64(op::END, op::TO_LE), 9, 0, 0, 64)),

        // lddw, plain and with each pseudo source.
        row("r1 = 1234605616436508552 ll", {make(op::LDDW, 1, 0, 0, 0x55667788), high(0x11223344)}),
        row("r5 = -9223372036854775808 ll", {make(op::LDDW, 5, 0, 0, 0), high(INT32_MIN)}),
        row("r2 = -4294967295 ll", {make(op::LDDW, 2, 0, 0, 1), high(-1)}),
        row("r0 = -1 ll", {make(op::LDDW, 0, 0, 0, -1), high(-1)}),
        row("r0 = 0 ll", {make(op::LDDW, 0), high(0)}),
        row("r2 = 4294967296 ll", {make(op::LDDW, 2), high(1)}),
        row("r1 = map_fd(3) ll", {make(op::LDDW, 1, 1, 0, 3), high(0)}),
        row("r1 = map_value_fd(3, 16) ll", {make(op::LDDW, 1, 2, 0, 3), high(16)}),
        row("r3 = var(7) ll", {make(op::LDDW, 3, 3, 0, 7), high(0)}),
        row("r2 = code(+5) ll", {make(op::LDDW, 2, 4, 0, 5), high(0)}),
        row("r2 = code(-9) ll", {make(op::LDDW, 2, 4, 0, -9), high(0)}),
        row("r1 = map_by_idx(0) ll", {make(op::LDDW, 1, 5, 0, 0), high(0)}),
        row("r1 = map_value_by_idx(0, 8) ll", {make(op::LDDW, 1, 6, 0, 0), high(8)}),

        // Loads, sign-extending loads, stores of registers and of immediates.
        row("r0 = *(u8 *)(r1 + 2)", make(op::LDX | op::MEM | op::B, 0, 1, 2)),
        row("r0 = *(u16 *)(r1 - 4)", make(op::LDX | op::MEM | op::H, 0, 1, -4)),
        row("r3 = *(u32 *)(r2 + 0)", make(op::LDX | op::MEM | op::W, 3, 2, 0)),
        row("r4 = *(u64 *)(r10 - 32768)", make(op::LDX | op::MEM | op::DW, 4, 10, INT16_MIN)),
        row("r4 = *(u64 *)(r1 + 32767)", make(op::LDX | op::MEM | op::DW, 4, 1, INT16_MAX)),
        row("r0 = *(s8 *)(r1 + 2)", make(op::LDX | op::MEMSX | op::B, 0, 1, 2)),
        row("r0 = *(s16 *)(r1 - 6)", make(op::LDX | op::MEMSX | op::H, 0, 1, -6)),
        row("r7 = *(s32 *)(r8 + 12)", make(op::LDX | op::MEMSX | op::W, 7, 8, 12)),
        row("*(u8 *)(r1 + 7) = r3", make(op::STX | op::MEM | op::B, 1, 3, 7)),
        row("*(u16 *)(r1 + 4) = r2", make(op::STX | op::MEM | op::H, 1, 2, 4)),
        row("*(u32 *)(r10 - 4) = r1", make(op::STX | op::MEM | op::W, 10, 1, -4)),
        row("*(u64 *)(r10 - 8) = r0", make(op::STX | op::MEM | op::DW, 10, 0, -8)),
        row("*(u8 *)(r2 + 0) = 3", make(op::ST | op::MEM | op::B, 2, 0, 0, 3)),
        row("*(u16 *)(r2 + 2) = -1", make(op::ST | op::MEM | op::H, 2, 0, 2, -1)),
        row("*(u32 *)(r10 - 4) = 100000", make(op::ST | op::MEM | op::W, 10, 0, -4, 100000)),
        row("*(u64 *)(r10 - 8) = 5", make(op::ST | op::MEM | op::DW, 10, 0, -8, 5)),

        // Atomics, 64 and 32 bits.
        row("lock *(u64 *)(r1 + 0) += r2", make(op::STX | op::ATOMIC | op::DW, 1, 2, 0, op::ATOMIC_ADD)),
        row("lock *(u64 *)(r1 + 8) |= r2", make(op::STX | op::ATOMIC | op::DW, 1, 2, 8, op::ATOMIC_OR)),
        row("lock *(u64 *)(r1 - 8) &= r2", make(op::STX | op::ATOMIC | op::DW, 1, 2, -8, op::ATOMIC_AND)),
        row("lock *(u64 *)(r1 + 0) ^= r2", make(op::STX | op::ATOMIC | op::DW, 1, 2, 0, op::ATOMIC_XOR)),
        row("r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)",
            make(op::STX | op::ATOMIC | op::DW, 1, 2, 0, op::ATOMIC_ADD | op::FETCH)),
        row("r3 = atomic_fetch_or((u64 *)(r1 + 8), r3)",
            make(op::STX | op::ATOMIC | op::DW, 1, 3, 8, op::ATOMIC_OR | op::FETCH)),
        row("r2 = atomic_fetch_and((u64 *)(r1 + 8), r2)",
            make(op::STX | op::ATOMIC | op::DW, 1, 2, 8, op::ATOMIC_AND | op::FETCH)),
        row("r2 = atomic_fetch_xor((u64 *)(r1 + 8), r2)",
            make(op::STX | op::ATOMIC | op::DW, 1, 2, 8, op::ATOMIC_XOR | op::FETCH)),
        row("r2 = xchg_64(r1 + 16, r2)", make(op::STX | op::ATOMIC | op::DW, 1, 2, 16, op::XCHG)),
        row("r0 = cmpxchg_64(r1 + 24, r0, r3)", make(op::STX | op::ATOMIC | op::DW, 1, 3, 24, op::CMPXCHG)),
        row("lock *(u32 *)(r1 + 0) += w2", make(op::STX | op::ATOMIC | op::W, 1, 2, 0, op::ATOMIC_ADD)),
        row("lock *(u32 *)(r1 + 0) |= w2", make(op::STX | op::ATOMIC | op::W, 1, 2, 0, op::ATOMIC_OR)),
        row("lock *(u32 *)(r2 + 0) &= w4", make(op::STX | op::ATOMIC | op::W, 2, 4, 0, op::ATOMIC_AND)),
        row("lock *(u32 *)(r1 - 4) ^= w2", make(op::STX | op::ATOMIC | op::W, 1, 2, -4, op::ATOMIC_XOR)),
        row("w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)",
            make(op::STX | op::ATOMIC | op::W, 1, 2, 0, op::ATOMIC_ADD | op::FETCH)),
        row("w2 = atomic_fetch_or((u32 *)(r1 + 4), w2)",
            make(op::STX | op::ATOMIC | op::W, 1, 2, 4, op::ATOMIC_OR | op::FETCH)),
        row("w2 = atomic_fetch_and((u32 *)(r1 + 4), w2)",
            make(op::STX | op::ATOMIC | op::W, 1, 2, 4, op::ATOMIC_AND | op::FETCH)),
        row("w7 = atomic_fetch_xor((u32 *)(r2 + 0), w7)",
            make(op::STX | op::ATOMIC | op::W, 2, 7, 0, op::ATOMIC_XOR | op::FETCH)),
        row("w2 = xchg32_32(r1 + 0, w2)", make(op::STX | op::ATOMIC | op::W, 1, 2, 0, op::XCHG)),
        row("w0 = cmpxchg32_32(r1 + 0, w0, w2)", make(op::STX | op::ATOMIC | op::W, 1, 2, 0, op::CMPXCHG)),

        // Unconditional jumps.
        row("goto +3", make(op::JA_OP, 0, 0, 3)),
        row("goto -2", make(op::JA_OP, 0, 0, -2)),
        row("goto +0", make(op::JA_OP)),
        row("goto -32768", make(op::JA_OP, 0, 0, INT16_MIN)),
        row("gotol +3", make(op::JA32_OP, 0, 0, 0, 3)),
        row("gotol -100000", make(op::JA32_OP, 0, 0, 0, -100000)),

        // Conditional jumps: every condition, 64 and 32 bits, immediate and register.
        row("if r1 == 7 goto +3", make(jmp64(op::JEQ, op::K), 1, 0, 3, 7)),
        row("if r1 == r2 goto +3", make(jmp64(op::JEQ, op::X), 1, 2, 3)),
        row("if r1 != 0 goto -1", make(jmp64(op::JNE, op::K), 1, 0, -1, 0)),
        row("if r1 != r2 goto +1", make(jmp64(op::JNE, op::X), 1, 2, 1)),
        row("if r1 > 100 goto +1", make(jmp64(op::JGT, op::K), 1, 0, 1, 100)),
        row("if r1 > r2 goto +1", make(jmp64(op::JGT, op::X), 1, 2, 1)),
        row("if r1 >= 12 goto +2", make(jmp64(op::JGE, op::K), 1, 0, 2, 12)),
        row("if r1 >= r2 goto +2", make(jmp64(op::JGE, op::X), 1, 2, 2)),
        row("if r3 < 5 goto +0", make(jmp64(op::JLT, op::K), 3, 0, 0, 5)),
        row("if r3 < r4 goto +0", make(jmp64(op::JLT, op::X), 3, 4, 0)),
        row("if r3 <= 5 goto +4", make(jmp64(op::JLE, op::K), 3, 0, 4, 5)),
        row("if r3 <= r4 goto +4", make(jmp64(op::JLE, op::X), 3, 4, 4)),
        row("if r1 s> -5 goto +1", make(jmp64(op::JSGT, op::K), 1, 0, 1, -5)),
        row("if r1 s> r2 goto +1", make(jmp64(op::JSGT, op::X), 1, 2, 1)),
        row("if r1 s>= -5 goto +1", make(jmp64(op::JSGE, op::K), 1, 0, 1, -5)),
        row("if r1 s>= r2 goto +1", make(jmp64(op::JSGE, op::X), 1, 2, 1)),
        row("if r3 s< -5 goto +1", make(jmp64(op::JSLT, op::K), 3, 0, 1, -5)),
        row("if r3 s< r0 goto +1", make(jmp64(op::JSLT, op::X), 3, 0, 1)),
        row("if r3 s<= 2147483647 goto +1", make(jmp64(op::JSLE, op::K), 3, 0, 1, INT32_MAX)),
        row("if r3 s<= r0 goto +1", make(jmp64(op::JSLE, op::X), 3, 0, 1)),
        row("if r5 & 8 goto +6", make(jmp64(op::JSET, op::K), 5, 0, 6, 8)),
        row("if r5 & r6 goto +6", make(jmp64(op::JSET, op::X), 5, 6, 6)),
        row("if w1 == 7 goto -3", make(jmp32(op::JEQ, op::K), 1, 0, -3, 7)),
        row("if w1 == w2 goto +1", make(jmp32(op::JEQ, op::X), 1, 2, 1)),
        row("if w1 != -1 goto +1", make(jmp32(op::JNE, op::K), 1, 0, 1, -1)),
        row("if w1 != w2 goto +1", make(jmp32(op::JNE, op::X), 1, 2, 1)),
        row("if w1 > 999 goto +1", make(jmp32(op::JGT, op::K), 1, 0, 1, 999)),
        row("if w1 > w2 goto +1", make(jmp32(op::JGT, op::X), 1, 2, 1)),
        row("if w1 >= 3 goto +1", make(jmp32(op::JGE, op::K), 1, 0, 1, 3)),
        row("if w1 >= w2 goto +1", make(jmp32(op::JGE, op::X), 1, 2, 1)),
        row("if w2 < 100 goto +1", make(jmp32(op::JLT, op::K), 2, 0, 1, 100)),
        row("if w3 < w4 goto +1", make(jmp32(op::JLT, op::X), 3, 4, 1)),
        row("if w2 <= 100 goto +1", make(jmp32(op::JLE, op::K), 2, 0, 1, 100)),
        row("if w3 <= w4 goto +1", make(jmp32(op::JLE, op::X), 3, 4, 1)),
        row("if w3 s> 7 goto +1", make(jmp32(op::JSGT, op::K), 3, 0, 1, 7)),
        row("if w1 s> w2 goto +1", make(jmp32(op::JSGT, op::X), 1, 2, 1)),
        row("if w3 s>= 7 goto +1", make(jmp32(op::JSGE, op::K), 3, 0, 1, 7)),
        row("if w1 s>= w2 goto +1", make(jmp32(op::JSGE, op::X), 1, 2, 1)),
        row("if w3 s< -7 goto +2", make(jmp32(op::JSLT, op::K), 3, 0, 2, -7)),
        row("if w1 s< w3 goto +4", make(jmp32(op::JSLT, op::X), 1, 3, 4)),
        row("if w3 s<= -7 goto +2", make(jmp32(op::JSLE, op::K), 3, 0, 2, -7)),
        row("if w1 s<= w3 goto +4", make(jmp32(op::JSLE, op::X), 1, 3, 4)),
        row("if w3 & 4 goto +1", make(jmp32(op::JSET, op::K), 3, 0, 1, 4)),
        row("if w3 & w4 goto +1", make(jmp32(op::JSET, op::X), 3, 4, 1)),

        // Legacy packet loads.
        row("r0 = *(u32 *)skb[0]", make(op::LD | op::ABS | op::W, 0, 0, 0, 0)),
        row("r0 = *(u16 *)skb[12]", make(op::LD | op::ABS | op::H, 0, 0, 0, 12)),
        row("r0 = *(u8 *)skb[-1048576]", make(op::LD | op::ABS | op::B, 0, 0, 0, -1048576)),
        row("r0 = *(u32 *)skb[r8]", make(op::LD | op::IND | op::W, 0, 8, 0, 0)),
        row("r0 = *(u16 *)skb[r7 + 14]", make(op::LD | op::IND | op::H, 0, 7, 0, 14)),
        row("r0 = *(u8 *)skb[r1 - 2]", make(op::LD | op::IND | op::B, 0, 1, 0, -2)),

        // Calls and exit.
        row("call 1", make(op::CALL_OP, 0, 0, 0, 1)),
        row("call -1", make(op::CALL_OP, 0, 0, 0, -1)),
        row("call pc+30", make(op::CALL_OP, 0, 1, 0, 30)),
        row("call pc-4", make(op::CALL_OP, 0, 1, 0, -4)),
        row("call pc+0", make(op::CALL_OP, 0, 1, 0, 0)),
        row("call kfunc 1234", make(op::CALL_OP, 0, 2, 0, 1234)),
        row("callx r2", make(op::CALLX_OP, 2)),
        row("exit", make(op::EXIT_OP)),

        // Slots that are no instruction form round-trip as raw words.
        row(".quad 0x00000000000000ff", make(0xff)),
        row(".quad 0xffffffffffffffff", make(0xff, 15, 15, -1, -1)),
        row(".quad 0x0000000000000b07", make(alu64(op::ADD, op::K), 11)),
    };
    return table;
}

std::string assemble_error(std::string_view text) {
    const auto result = embpf::isa::assemble(text);
    REQUIRE_MESSAGE(!result.has_value(), "expected an error for: " << text);
    CHECK(result.error().kind == embpf::ErrorKind::invalid_input);
    return result.error().message;
}

std::vector<Instruction> assemble_ok(std::string_view text) {
    auto result = embpf::isa::assemble(text);
    REQUIRE_MESSAGE(result.has_value(), text << " -> " << (result.has_value() ? "" : result.error().message));
    return std::move(result).value();
}

} // namespace

TEST_CASE("text: every instruction form assembles to its encoding and disassembles back") {
    for (const auto& r : rows()) {
        CAPTURE(r.text);
        CHECK(assemble_ok(r.text) == r.slots);
        CHECK(embpf::isa::disassemble(r.slots) == std::string(r.text) + "\n");
        CHECK(embpf::isa::disassemble_instruction(r.slots, 0) == r.text);
    }
}

TEST_CASE("text: the whole table as one program round-trips") {
    std::string text;
    std::vector<Instruction> program;
    for (const auto& r : rows()) {
        text += std::string(r.text) + "\n";
        program.insert(program.end(), r.slots.begin(), r.slots.end());
    }
    CHECK(assemble_ok(text) == program);
    CHECK(embpf::isa::disassemble(program) == text);
}

TEST_CASE("text: encodings match the byte layout of the conformance suite") {
    // Words from the conformance data (8 instruction bytes read little-endian) and llvm-objdump output.
    const std::vector<std::pair<std::uint64_t, std::string_view>> cases = {
        {0x0000000000021071, "r0 = *(u8 *)(r1 + 2)"},
        {0x00000002000001b4, "w1 = 2"},
        {0xfffffffd00000004, "w0 += -3"},
        {0x000000000000100c, "w0 += w1"},
        {0x00000010000000d7, "r0 = bswap16 r0"},
        {0x0000000900001085, "call pc+9"},
        {0x0000000f00060055, "if r0 != 15 goto +6"},
        {0x000000000000028d, "callx r2"},
        {0x0000000000000095, "exit"},
        {0x00000000000051db, "lock *(u64 *)(r1 + 0) += r5"},
        {0x00000050000042c3, "lock *(u32 *)(r2 + 0) &= w4"},
        {0x000000e1000051db, "r5 = xchg_64(r1 + 0, r5)"},
    };
    for (const auto& entry : cases) {
        const auto& word = entry.first;
        const auto& text = entry.second;
        CAPTURE(text);
        const std::vector<Instruction> program{from_word(word)};
        CHECK(embpf::isa::disassemble_instruction(program, 0) == text);
        CHECK(assemble_ok(text) == program);
    }
}

TEST_CASE("text: accepted spellings beyond the printed ones") {
    const std::vector<std::pair<std::string_view, std::string_view>> cases = {
        // llvm-objdump with alu32 prints 32-bit register names for loads and stores below 64 bits.
        {"w0 = *(u32 *)(r1 + 0)", "r0 = *(u32 *)(r1 + 0)"},
        {"w1 = *(u8 *)(r2 + 7)", "r1 = *(u8 *)(r2 + 7)"},
        {"*(u32 *)(r10 - 4) = w1", "*(u32 *)(r10 - 4) = r1"},
        {"*(u16 *)(r2 + 0) = w3", "*(u16 *)(r2 + 0) = r3"},
        {"w1 = *(s8 *)(r2 + 0)", "r1 = *(s8 *)(r2 + 0)"},
        // Immediates in hex, unsigned 32-bit, with an explicit sign.
        {"r0 = 0x10", "r0 = 16"},
        {"r0 = 0xffffffff", "r0 = -1"},
        {"w0 = 4294967295", "w0 = -1"},
        {"r0 += +5", "r0 += 5"},
        {"r0 = -0x80000000", "r0 = -2147483648"},
        {"r1 = 0xffffffffffffffff ll", "r1 = -1 ll"},
        {"r1 = 18446744073709551615 ll", "r1 = -1 ll"},
        {"r1 = 0X1122334455667788 ll", "r1 = 1234605616436508552 ll"},
        {"*(u64 *)(r10 - 8) = 0xff", "*(u64 *)(r10 - 8) = 255"},
        {"if r1 s> -0x5 goto 1", "if r1 s> -5 goto +1"},
        {"r1 = map_value_fd(0x3, 0x10) ll", "r1 = map_value_fd(3, 16) ll"},
        {"call 0x10", "call 16"},
        {"call pc + 3", "call pc+3"},
        // Memory operands without spaces, without an offset, with a signed offset.
        {"r0 = *(u64 *)(r1+8)", "r0 = *(u64 *)(r1 + 8)"},
        {"r0 = *(u64 *)(r1)", "r0 = *(u64 *)(r1 + 0)"},
        {"r0 = *(u64 *)(r1 + -8)", "r0 = *(u64 *)(r1 - 8)"},
        {"r0 = *(u64 *)(r1 - -8)", "r0 = *(u64 *)(r1 + 8)"},
        {"r0 = *(u64 *)(r1 - 0x8000)", "r0 = *(u64 *)(r1 - 32768)"},
        // Whitespace is free where tokens stay apart.
        {"  \tr0   =   r1  ", "r0 = r1"},
        {"r0=r1", "r0 = r1"},
        {"r0+=-1", "r0 += -1"},
        {"if r1>=r2 goto+3", "if r1 >= r2 goto +3"},
        {"w0=-w0", "w0 = -w0"},
        {"r0 = cmpxchg_64(r1+0,r0,r2)", "r0 = cmpxchg_64(r1 + 0, r0, r2)"},
        // Atomic value registers in either spelling.
        {"lock *(u32 *)(r1 + 0) += r2", "lock *(u32 *)(r1 + 0) += w2"},
        {"w2 = atomic_fetch_add((u64 *)(r1 + 0), w2)", "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)"},
        // Byte swaps in either register spelling.
        {"w0 = be16 w0", "r0 = be16 r0"},
        // Offsets of jumps without a sign, and the raw directive in decimal.
        {"goto 3", "goto +3"},
        {"gotol 0", "gotol +0"},
        {".quad 149", "exit"},
        {"r2 = code(5) ll", "r2 = code(+5) ll"},
    };
    for (const auto& entry : cases) {
        const auto& input = entry.first;
        const auto& printed = entry.second;
        CAPTURE(input);
        const auto program = assemble_ok(input);
        CHECK(embpf::isa::disassemble(program) == std::string(printed) + "\n");
    }
}

TEST_CASE("text: labels resolve to offsets from the next slot") {
    SUBCASE("forward and backward jumps") {
        const auto program = assemble_ok("start:\n"
                                         "  r0 = 0\n"
                                         "loop:\n"
                                         "  r0 += 1\n"
                                         "  if r0 < 10 goto loop\n"
                                         "  if w0 == 10 goto done\n"
                                         "  goto start\n"
                                         "done:\n"
                                         "  exit\n");
        CHECK(embpf::isa::disassemble(program) == "r0 = 0\n"
                                                  "r0 += 1\n"
                                                  "if r0 < 10 goto -2\n"
                                                  "if w0 == 10 goto +1\n"
                                                  "goto -5\n"
                                                  "exit\n");
    }
    SUBCASE("lddw counts two slots") {
        const auto program = assemble_ok("goto end\n"
                                         "r1 = 1 ll\n"
                                         "r2 = map_fd(1) ll\n"
                                         "end: exit\n");
        CHECK(embpf::isa::disassemble_instruction(program, 0) == "goto +4");
    }
    SUBCASE("a label on the line of its instruction, several labels on one slot") {
        const auto program = assemble_ok("a: b: r0 = 1\n"
                                         "c: goto a\n"
                                         "   goto b\n"
                                         "   gotol c\n"
                                         "LBB0_1: .L2: exit\n"
                                         "   goto LBB0_1\n"
                                         "   goto .L2\n");
        CHECK(embpf::isa::disassemble(program) == "r0 = 1\n"
                                                  "goto -2\n"
                                                  "goto -3\n"
                                                  "gotol -3\n"
                                                  "exit\n"
                                                  "goto -2\n"
                                                  "goto -3\n");
    }
    SUBCASE("local calls and code addresses by label") {
        const auto program = assemble_ok("  call helper_fn\n"
                                         "  r2 = code(callback) ll\n"
                                         "  call 5\n"
                                         "  exit\n"
                                         "helper_fn:\n"
                                         "  r0 = 0\n"
                                         "  exit\n"
                                         "callback:\n"
                                         "  call helper_fn\n"
                                         "  exit\n");
        CHECK(embpf::isa::disassemble(program) == "call pc+4\n"
                                                  "r2 = code(+5) ll\n"
                                                  "call 5\n"
                                                  "exit\n"
                                                  "r0 = 0\n"
                                                  "exit\n"
                                                  "call pc-3\n"
                                                  "exit\n");
    }
    SUBCASE("a label at the end of the program, a label named like a mnemonic, a label named pc") {
        const auto program = assemble_ok("goto exit\n"
                                         "call pc\n"
                                         "pc: exit:\n");
        CHECK(embpf::isa::disassemble(program) == "goto +1\ncall pc+0\n");
    }
    SUBCASE("jumps reach exactly the 16-bit limit") {
        std::string text = "goto far\n";
        for (int i = 0; i < 32767; ++i) {
            text += "exit\n";
        }
        text += "far: exit\n";
        const auto program = assemble_ok(text);
        CHECK(embpf::isa::disassemble_instruction(program, 0) == "goto +32767");
        std::string wide = "gotol far\n";
        for (int i = 0; i < 40000; ++i) {
            wide += "exit\n";
        }
        wide += "far: exit\n";
        CHECK(embpf::isa::disassemble_instruction(assemble_ok(wide), 0) == "gotol +40000");
    }
}

TEST_CASE("text: comments, blank lines and line endings") {
    const auto program = assemble_ok("# a comment line\n"
                                     "\n"
                                     "   \t\n"
                                     "; another\n"
                                     "// and another\n"
                                     "r0 = 1 # trailing\n"
                                     "r0 += 2 ; trailing\n"
                                     "r0 /= 3 // trailing\n"
                                     "r0 s/= 3 //\n"
                                     "label: # only a label\r\n"
                                     "exit\r\n"
                                     "exit");
    CHECK(embpf::isa::disassemble(program) == "r0 = 1\nr0 += 2\nr0 /= 3\nr0 s/= 3\nexit\nexit\n");
    CHECK(assemble_ok("").empty());
    CHECK(assemble_ok("\n\n# nothing\n").empty());
    CHECK(assemble_ok("only_a_label:\n").empty());
}

TEST_CASE("text: assembler errors name the line and the problem") {
    const std::vector<std::pair<std::string_view, std::string_view>> cases = {
        {"exit\nfrobnicate r0\n", "line 2: unknown instruction 'frobnicate'"},
        {"r11 = 1", "line 1: bad register 'r11' (registers are r0-r10 and w0-w10)"},
        {"r0 = r12", "line 1: bad register 'r12' (registers are r0-r10 and w0-w10)"},
        {"r0 = r01", "line 1: bad register 'r01' (registers are r0-r10 and w0-w10)"},
        {"r0 = 4294967296", "line 1: immediate 4294967296 does not fit in 32 bits (add 'll' for lddw)"},
        {"r0 += -2147483649", "line 1: immediate -2147483649 does not fit in 32 bits"},
        {"\n\nr0 = 99999999999999999999 ll",
         "line 3: bad number '99999999999999999999' (decimal or 0x hex, at most 64 bits)"},
        {"r0 = -9223372036854775809 ll", "line 1: immediate -9223372036854775809 does not fit in 64 bits"},
        {"r0 = *(u64 *)(r1 + 32768)", "line 1: offset 32768 does not fit in 16 bits"},
        {"*(u8 *)(r1 - 32769) = 1", "line 1: offset -32769 does not fit in 16 bits"},
        {"goto +32768", "line 1: offset 32768 does not fit in 16 bits"},
        {"gotol -2147483649", "line 1: offset -2147483649 does not fit in 32 bits"},
        {"exit\ngoto nowhere", "line 2: undefined label 'nowhere'"},
        {"x:\nexit\nx: exit", "line 3: duplicate label 'x' (first defined on line 1)"},
        {"12: exit",
         "line 1: numeric label '12' (a label starts with a letter, '_' or '.'; pc prefixes are not accepted)"},
        {"r1: exit", "line 1: label 'r1' is spelled like a register"},
        {"r0 = w1", "line 1: the source register must be rN, found w1"},
        {"w0 += r1", "line 1: the source register must be wN, found r1"},
        {"if r1 > w2 goto +1", "line 1: the second operand must be rN, found w2"},
        {"w1 = 5 ll", "line 1: lddw loads a 64-bit register, not w1"},
        {"w1 = map_fd(1) ll", "line 1: lddw loads a 64-bit register, not w1"},
        {"w1 = (s32)w2", "line 1: expected a sign-extending cast (s8 or s16), found 's32'"},
        {"r0 = -r1", "line 1: neg must negate its destination register in place"},
        {"r0 = be16 r1", "line 1: be16 must swap its destination register in place"},
        {"r0 = be8 r0", "line 1: unknown expression 'be8' after '='"},
        {"r2 = atomic_fetch_add((u64 *)(r1 + 0), r3)",
         "line 1: the fetched value goes to the operand register: write r3 on both sides"},
        {"r1 = cmpxchg_64(r1 + 0, r0, r2)", "line 1: cmpxchg writes r0, not r1"},
        {"r0 = cmpxchg_64(r1 + 0, r1, r2)", "line 1: cmpxchg compares with r0, not r1"},
        {"lock *(u16 *)(r1 + 0) += r2", "line 1: atomic operations take u32 or u64"},
        {"lock *(u64 *)(r1 + 0) -= r2", "line 1: expected an atomic operator (+=, |=, &=, ^=), found '-='"},
        {"*(s8 *)(r1 + 0) = 1", "line 1: expected an access type (u8, u16, u32 or u64), found 's8'"},
        {"r0 = *(s64 *)(r1 + 0)", "line 1: expected an access type (u8, u16, u32, u64, s8, s16 or s32), found 's64'"},
        {"r0 = *(u64 *)(w1 + 0)", "line 1: the address register must be rN, found w1"},
        {"r0 = *(u64 *)(r1 + 0", "line 1: expected ')', found end of line"},
        {"exit now", "line 1: unexpected 'now' after the instruction"},
        {"r0 = 1 $", "line 1: unexpected character '$'"},
        {"r0 = \x01", "line 1: unexpected character '\\x01'"},
        {"r0 <- 1", "line 1: expected an assignment operator after r0, found '<'"},
        {"if r0 ~ 1 goto +1", "line 1: unexpected character '~'"},
        {"if r0 = 1 goto +1", "line 1: expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &), found '='"},
        {"if r0 == 1 goto r1", "line 1: expected a jump offset or a label, found 'r1'"},
        {"if r0 == 1 goto", "line 1: expected a jump offset or a label, found end of line"},
        {"goto", "line 1: expected a jump offset or a label, found end of line"},
        {"call r1", "line 1: expected a jump offset or a label, found 'r1'"},
        {"callx w1", "line 1: the callx register must be rN, found w1"},
        {"r0 = 1x", "line 1: bad number '1x' (decimal or 0x hex, at most 64 bits)"},
        {"r0 = 0x", "line 1: bad number '0x' (decimal or 0x hex, at most 64 bits)"},
        {"*", "line 1: expected '(', found end of line"},
        {"=", "line 1: expected an instruction, found '='"},
        {"r0", "line 1: expected an assignment operator after r0, found end of line"},
        {"r0 =", "line 1: expected a value after '=', found end of line"},
        {".quad", "line 1: expected a number, found end of line"},
        {"r1 = *(u8 *)skb[0]", "line 1: legacy packet loads write r0, not r1"},
        {"w0 = *(u8 *)skb[0]", "line 1: legacy packet loads write r0, not w0"},
        {"r0 = *(u64 *)skb[0]", "line 1: legacy packet loads read u8, u16 or u32"},
        {"r0 = *(s16 *)skb[r1]", "line 1: legacy packet loads read u8, u16 or u32"},
        {"r0 = *(u8 *)skb(0)", "line 1: expected '[', found '('"},
        {"r0 = *(u8 *)skb[r1 + 4294967296]", "line 1: offset 4294967296 does not fit in 32 bits"},
    };
    for (const auto& entry : cases) {
        const auto& text = entry.first;
        const auto& message = entry.second;
        CAPTURE(text);
        CHECK(assemble_error(text) == message);
    }
}

TEST_CASE("text: label offsets out of range are errors") {
    std::string text = "goto far\n";
    for (int i = 0; i < 32768; ++i) {
        text += "exit\n";
    }
    text += "far: exit\n";
    CHECK(assemble_error(text) == "line 1: label 'far' is out of reach (offset 32768 does not fit in 16 bits)");
}

TEST_CASE("text: slots that are no instruction form print as raw words") {
    const std::vector<std::pair<Instruction, std::string_view>> cases = {
        {make(alu64(op::ADD, op::K), 0, 1, 0, 1), ".quad 0x0000000100001007"},      // K form with a source register
        {make(alu64(op::ADD, op::X), 0, 1, 0, 1), ".quad 0x000000010000100f"},      // X form with an immediate
        {make(alu64(op::ADD, op::K), 0, 0, 1, 1), ".quad 0x0000000100010007"},      // offset on a plain add
        {make(alu64(op::MOV, op::K), 0, 0, 8, 1), ".quad 0x00000001000800b7"},      // movsx needs a register
        {make(alu32(op::MOV, op::X), 1, 2, 32), ".quad 0x00000000002021bc"},        // no 32-bit movsx in ALU32
        {make(alu64(op::MOV, op::X), 1, 2, 7), ".quad 0x00000000000721bf"},         // bad movsx width
        {make(alu64(op::DIV, op::K), 0, 0, 2, 1), ".quad 0x0000000100020037"},      // div offset other than 0 and 1
        {make(alu64(op::NEG, op::X), 0), ".quad 0x000000000000008f"},               // neg has no X form
        {make(alu64(op::END, op::TO_BE), 0, 0, 0, 16), ".quad 0x00000010000000df"}, // no ALU64 END X
        {make(alu32(op::END, op::TO_LE), 0, 0, 0, 8), ".quad 0x00000008000000d4"},  // bad swap width
        {make(op::ALU64 | 0xe0), ".quad 0x00000000000000e7"},
        {make(op::ALU | 0xf0 | op::X), ".quad 0x00000000000000fc"},
        {make(op::JA_OP, 0, 0, 1, 1), ".quad 0x0000000100010005"},   // goto with an immediate
        {make(op::JA32_OP, 0, 0, 1, 1), ".quad 0x0000000100010006"}, // gotol with an offset
        {make(op::JMP | op::JA | op::X), ".quad 0x000000000000000d"},
        {make(op::JMP32 | op::CALL), ".quad 0x0000000000000086"},
        {make(op::CALL_OP, 0, 3, 0, 1), ".quad 0x0000000100003085"}, // unknown call source
        {make(op::CALL_OP, 1, 0, 0, 1), ".quad 0x0000000100000185"},
        {make(op::CALLX_OP, 0, 0, 0, 2), ".quad 0x000000020000008d"}, // register in imm, as old LLVM did
        {make(op::EXIT_OP, 0, 0, 0, 1), ".quad 0x0000000100000095"},
        {make(op::JMP32 | op::EXIT), ".quad 0x0000000000000096"},
        {make(op::JMP | 0xe0), ".quad 0x00000000000000e5"},
        {make(jmp64(op::JEQ, op::K), 1, 2, 1, 1), ".quad 0x0000000100012115"},
        {make(op::LD | op::ABS | op::DW), ".quad 0x0000000000000038"},   // legacy packet loads read 1, 2 or 4 bytes
        {make(op::LD | op::ABS | op::W, 1), ".quad 0x0000000000000120"}, // ... into r0
        {make(op::LDX | op::MEMSX | op::DW, 0, 1), ".quad 0x0000000000001099"},
        {make(op::LDX | op::MEM | op::W, 0, 1, 0, 1), ".quad 0x0000000100001061"},
        {make(op::ST | op::MEM | op::W, 1, 2, 0, 1), ".quad 0x0000000100002162"},
        {make(op::STX | op::ATOMIC | op::B, 1, 2), ".quad 0x00000000000021d3"},
        {make(op::STX | op::ATOMIC | op::DW, 1, 2, 0, 0x10), ".quad 0x00000010000021db"},
        {make(op::STX | op::MEMSX | op::W, 1, 2), ".quad 0x0000000000002183"},
        {make(alu64(op::MOV, op::K), 11, 0, 0, 1), ".quad 0x0000000100000bb7"},
        {make(alu64(op::MOV, op::X), 1, 15), ".quad 0x000000000000f1bf"},
        {make(op::LDDW, 1, 7), ".quad 0x0000000000007118"}, // unknown pseudo source
    };
    for (const auto& entry : cases) {
        const auto& ins = entry.first;
        const auto& text = entry.second;
        CAPTURE(text);
        const std::vector<Instruction> program{ins, make(op::EXIT_OP)};
        CHECK(embpf::isa::disassemble_instruction(program, 0) == text);
        CHECK(embpf::isa::disassemble(program) == std::string(text) + "\nexit\n");
        CHECK(assemble_ok(text) == std::vector<Instruction>{ins});
    }
}

TEST_CASE("text: a lddw never reads past the program or a bad second slot") {
    const std::vector<Instruction> last{make(op::EXIT_OP), make(op::LDDW, 1, 0, 0, 5)};
    CHECK(embpf::isa::disassemble(last) == "exit\n.quad 0x0000000500000118\n");
    CHECK(embpf::isa::disassemble_instruction(last, 1) == ".quad 0x0000000500000118");

    const std::vector<Instruction> bad_second{make(op::LDDW, 1, 0, 0, 5), make(op::EXIT_OP)};
    CHECK(embpf::isa::disassemble(bad_second) == ".quad 0x0000000500000118\nexit\n");

    const std::vector<Instruction> map_fd_with_offset{make(op::LDDW, 1, 1, 0, 3), high(4)};
    CHECK(embpf::isa::disassemble(map_fd_with_offset) == ".quad 0x0000000300001118\n.quad 0x0000000400000000\n");

    CHECK(embpf::isa::disassemble_instruction(last, 2).empty());
    CHECK(embpf::isa::disassemble_instruction({}, 0).empty());
    CHECK(embpf::isa::disassemble({}).empty());
}

TEST_CASE("text: show_pc numbers slots as llvm-objdump does") {
    const auto program = assemble_ok("r1 = 1 ll\nr0 = 0\nexit\n");
    CHECK(embpf::isa::disassemble(program, {.show_pc = true}) == "       0:\tr1 = 1 ll\n"
                                                                 "       2:\tr0 = 0\n"
                                                                 "       3:\texit\n");
}

TEST_CASE("text: random slots round-trip through text") {
    // Slots biased towards real opcodes and small fields, so most of them hit an instruction form.
    std::mt19937_64 rng(12345);
    std::vector<std::uint8_t> opcodes;
    for (const auto& r : rows()) {
        opcodes.push_back(r.slots[0].opcode);
    }
    for (int round = 0; round < 2000; ++round) {
        std::vector<Instruction> program;
        const auto length = 1 + rng() % 12;
        for (std::size_t i = 0; i < length; ++i) {
            const std::uint64_t bits = rng();
            Instruction ins = from_word(bits);
            if (bits % 4 != 0) {
                ins.opcode = opcodes[bits % opcodes.size()];
                ins.dst = static_cast<std::uint8_t>((bits >> 8) % 12);
                ins.src = static_cast<std::uint8_t>((bits >> 12) % (ins.opcode == op::LDDW ? 8 : 12));
                if ((bits >> 20) % 2 == 0) {
                    ins.offset = static_cast<std::int16_t>((bits >> 24) % 3 == 0 ? 0 : (bits >> 24) % 40);
                }
                if ((bits >> 21) % 2 == 0) {
                    ins.imm = static_cast<std::int32_t>((bits >> 40) % 3 == 0 ? 0 : (bits >> 40) % 70);
                }
                if ((bits >> 22) % 3 == 0 && ins.opcode == op::LDDW) {
                    program.push_back(ins);
                    ins = high(static_cast<std::int32_t>(bits >> 48));
                }
            }
            program.push_back(ins);
        }
        const std::string text = embpf::isa::disassemble(program);
        CAPTURE(text);
        const auto reassembled = embpf::isa::assemble(text);
        REQUIRE(reassembled.has_value());
        CHECK(reassembled.value() == program);
    }
}

TEST_CASE("text: the assembler never crashes on garbage") {
    const std::vector<std::string_view> samples = {
        "r0 = *(u64 *)(r1 + 99999999999999999999999999)",
        "if if if",
        "goto goto",
        "lock lock",
        "r0 = atomic_fetch_add(",
        "r0 = atomic_fetch_add((u64 *)(r1 + 0), r0",
        "r0 = xchg_64(r1 + 0 r0)",
        "r0 = cmpxchg32_32(r1 + 0, w0",
        "r0 = map_value_fd(1) ll",
        "r0 = code() ll",
        "r0 = code(+1)",
        "r0 = (s8",
        "r0 = (u8)r1",
        "call kfunc",
        "call pc+",
        "call pc-0x",
        "s>>= s>>= s<",
        "::::",
        ": exit",
        "a:b:c:d:",
        "-",
        "r0 = --1",
        "r0 = - - r0",
        "\xff\xfe\xfd",
        std::string_view("\0exit", 5),
        "r0 = 1 ll ll",
        ".quad 0x1ffffffffffffffff",
        ".quad -0x8000000000000001",
    };
    for (const auto sample : samples) {
        CAPTURE(sample);
        const auto result = embpf::isa::assemble(sample);
        if (!result.has_value()) {
            CHECK(result.error().message.rfind("line ", 0) == 0);
        }
    }

    // Random mixtures of the assembler's own vocabulary and stray bytes.
    const std::vector<std::string_view> vocabulary = {
        "r0",      "w1",
        "r10",     "r11",
        "=",       "+=",
        "s>>=",    "s/=",
        "-",       "+",
        "*",       "(",
        ")",       "u64",
        "s8",      ",",
        "ll",      "lock",
        "goto",    "gotol",
        "if",      "call",
        "callx",   "exit",
        "pc",      "kfunc",
        "0x",      "7",
        "-1",      "99999999999999999999",
        ":",       "lbl",
        "be16",    "atomic_fetch_or",
        "xchg_64", "cmpxchg_64",
        "map_fd",  "code",
        ".quad",   "#",
        "\n",      "\t",
        "\x80",
    };
    std::mt19937 rng(7);
    for (int round = 0; round < 5000; ++round) {
        std::string text;
        const auto length = rng() % 16;
        for (std::size_t i = 0; i < length; ++i) {
            text += vocabulary[rng() % vocabulary.size()];
            if (rng() % 2 == 0) {
                text += ' ';
            }
        }
        const auto result = embpf::isa::assemble(text);
        if (result.has_value()) {
            // Whatever assembles must print as text that assembles to the same slots.
            const auto again = embpf::isa::assemble(embpf::isa::disassemble(result.value()));
            REQUIRE(again.has_value());
            CHECK(again.value() == result.value());
        } else {
            CHECK(result.error().message.rfind("line ", 0) == 0);
        }
    }
}
