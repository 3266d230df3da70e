// CO-RE (compile once, run everywhere): rewrites the constants clang compiled against a program's own BTF (field
// offsets and sizes, bitfield shifts, type ids and sizes, enum values) so that they hold for a target's types: a
// host's context structs, or a kernel's BTF for Linux programs under test. The semantics are libbpf's: target
// candidates share the local type's name up to a "___flavor" suffix, fields are matched by name (through
// anonymous structs and unions), and every candidate that matches must give the same answer.
#pragma once

#include "embpf/elf/btf.hpp"
#include "embpf/elf/object_file.hpp"
#include "embpf/result.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace embpf::elf {

/// What one CO-RE relocation did to its instruction.
struct CoreOutcome {
    std::uint32_t insn = 0; ///< index into ProgramDefinition::instructions
    btf::CoreKind kind = btf::CoreKind::field_byte_offset;
    std::string access;             ///< the access string as recorded, e.g. "0:3"
    std::string description;        ///< e.g. "struct task.prio: offset 24 -> 4"; names in it are cut to 512 bytes and
                                    ///< each path to 4,096, then "..."
    std::uint64_t local_value = 0;  ///< the value against the local types, which the instruction held
    std::uint64_t target_value = 0; ///< the value against the target's types, which the instruction holds now
    bool applied = false;           ///< whether the instruction changed (false when both values agree)
};

/// Rewrites the instructions of `program` for every relocation in program.core_relocations: the immediate of an
/// ALU or ALU64 instruction with a constant source, the offset of a load or store, the 64-bit immediate of an
/// `lddw`. A load or store of a whole field whose size differs in the target is resized when the field is an
/// unsigned integer or a pointer on both sides, as libbpf does, and refused otherwise.
///
/// A field, type or enumerator missing from the target gives 0 for field_exists, type_exists and
/// enumval_exists and an error for every other kind. Errors name the instruction, the local type and the access
/// string: no candidate in the target, candidates that disagree, an instruction whose value differs from the one
/// the local types give (it was not compiled for this relocation), a value the instruction cannot hold, and
/// malformed BTF on either side. type_matches is Error::unsupported. On error `program` is left unchanged.
[[nodiscard]] Result<std::vector<CoreOutcome>>
apply_core_relocations(ProgramDefinition& program, const btf::Types& local, const btf::Types& target);

/// apply_core_relocations() for the programs of one object: the target's types are indexed by name once, and the
/// work of all relocations together (relocations, candidates tried, members and types compared, and every byte of
/// the access strings read, the paths built and the outcomes kept) is held to max_steps, so that neither many
/// programs nor many relocations nor long names make a load slow or its outcomes large. Both type tables must
/// outlive the relocator.
class CoreRelocator {
  public:
    CoreRelocator(const btf::Types& local, const btf::Types& target);
    ~CoreRelocator();
    CoreRelocator(CoreRelocator&&) noexcept;
    CoreRelocator& operator=(CoreRelocator&&) noexcept;

    /// As apply_core_relocations(); past max_steps every further call fails.
    [[nodiscard]] Result<std::vector<CoreOutcome>> apply(ProgramDefinition& program);
    /// Steps taken so far.
    [[nodiscard]] std::uint64_t steps() const noexcept;

    /// Steps one relocator may take (about a second of matching; a byte kept in an outcome is a step too).
    static constexpr std::uint64_t max_steps = std::uint64_t{1} << 26;

  private:
    class Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace embpf::elf
