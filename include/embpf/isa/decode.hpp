// Decoding and structural validation of eBPF programs.
#pragma once

#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace embpf::isa {

/// Reads instruction slots from little-endian bytes; the length must be a multiple of 8.
/// The result is validated (see validate()).
[[nodiscard]] Result<std::vector<Instruction>> decode(std::span<const std::byte> bytes);
[[nodiscard]] Result<std::vector<Instruction>> decode(std::span<const std::uint8_t> bytes);

/// The instruction slots of a program as 64-bit words (the bytes of each slot read little-endian).
[[nodiscard]] std::vector<Instruction> from_words(std::span<const std::uint64_t> words);
[[nodiscard]] std::uint64_t to_word(const Instruction& ins) noexcept;

/// Checks that every slot is an instruction of RFC 9669 (conformance v4 with `callx`): known opcode,
/// registers in range, reserved fields zero, jumps and local calls landing on an instruction (never
/// the second slot of a `lddw`, never outside), a complete final `lddw`, and a program that cannot
/// fall off its end. Errors name the instruction index.
[[nodiscard]] Result<void> validate(std::span<const Instruction> program);

/// Checks the instruction at `pc` in isolation: its fields, not where its jumps land.
[[nodiscard]] Result<void> validate_instruction(std::span<const Instruction> program, std::size_t pc);

/// The lowest ISA version (1-4) that has this instruction.
[[nodiscard]] int required_version(const Instruction& ins) noexcept;

} // namespace embpf::isa
