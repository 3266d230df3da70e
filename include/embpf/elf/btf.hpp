// The BPF Type Format: the `.BTF` section (types and their names) and the `.BTF.ext` section (func info,
// line info and CO-RE relocations) as clang emits them for `-target bpf -g`.
//
// Both parsers read raw section bytes, so the ELF reader hands them the section contents and tests and fuzzers
// can feed them anything: every offset, length and count in the input is checked, and a malformed section is
// an Error::invalid naming what is wrong and where. Only little-endian BTF is read (the BPF target's order).
#pragma once

#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::btf {

/// BTF_KIND_*; the values are those of the format. `void_` is type id 0, never a record in the section.
enum class Kind : std::uint8_t {
    void_ = 0,
    int_ = 1,
    ptr,
    array,
    struct_,
    union_,
    enum_,
    fwd,
    typedef_,
    volatile_,
    const_,
    restrict_,
    func,
    func_proto,
    var,
    datasec,
    float_,
    decl_tag,
    type_tag,
    enum64,
};

/// Lower-case name of a kind as messages print it: "int", "struct", "func_proto", ...
[[nodiscard]] std::string_view to_string(Kind kind) noexcept;

/// Bits of Type::int_encoding.
inline constexpr std::uint8_t int_signed = 1;
inline constexpr std::uint8_t int_char = 2;
inline constexpr std::uint8_t int_bool = 4;

/// Linkage of a func (Type::linkage): static, global, extern. A var uses 0 static, 1 global, 2 extern too.
inline constexpr std::uint32_t linkage_static = 0;
inline constexpr std::uint32_t linkage_global = 1;
inline constexpr std::uint32_t linkage_extern = 2;

/// A member of a struct or union. `bitfield_size` is 0 for members that are not bitfields.
struct Member {
    std::string name;
    std::uint32_t type = 0;
    std::uint32_t bit_offset = 0;
    std::uint32_t bitfield_size = 0;
    bool operator==(const Member&) const = default;
};

/// An enumerator of an enum or enum64. Values of unsigned enums (kind_flag clear) are zero-extended, so an
/// unsigned 64-bit value above INT64_MAX reads back as negative here: cast to uint64_t.
struct Enumerator {
    std::string name;
    std::int64_t value = 0;
    bool operator==(const Enumerator&) const = default;
};

/// A parameter of a func_proto. A last parameter with type 0 and no name stands for `...`.
struct Param {
    std::string name;
    std::uint32_t type = 0;
    bool operator==(const Param&) const = default;
};

/// A variable of a datasec: the var's type id and where it lies in the data section.
struct DataSecVar {
    std::uint32_t type = 0;
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    bool operator==(const DataSecVar&) const = default;
};

/// One BTF type, decoded. Fields a kind does not use stay zero or empty.
struct Type {
    Kind kind = Kind::void_;
    std::string name;
    bool kind_flag = false;
    std::uint32_t size = 0; ///< int, struct, union, enum, enum64, datasec, float
    std::uint32_t ref = 0;  ///< ptr, typedef, volatile, const, restrict, type_tag, var, decl_tag: the type they refer
                            ///< to; func: its func_proto; func_proto: the return type
    std::uint8_t int_encoding = 0;       ///< int: int_signed | int_char | int_bool
    std::uint8_t int_offset = 0;         ///< int: bit offset of the value within `size` bytes
    std::uint8_t int_bits = 0;           ///< int: number of value bits
    std::uint32_t elem_type = 0;         ///< array
    std::uint32_t index_type = 0;        ///< array
    std::uint32_t nelems = 0;            ///< array
    std::uint32_t linkage = 0;           ///< func, var
    std::int32_t component_idx = 0;      ///< decl_tag: member or parameter index, -1 for the type or function itself
    std::vector<Member> members;         ///< struct, union
    std::vector<Enumerator> enumerators; ///< enum, enum64
    std::vector<Param> params;           ///< func_proto
    std::vector<DataSecVar> vars;        ///< datasec
};

/// The types of a `.BTF` section, by type id (0 is void), and its string section.
class Types {
  public:
    /// An empty type table: only void.
    Types();

    /// Parses a whole `.BTF` section. Type ids that refer past the last type are kept as they are: get()
    /// returns nullptr for them and the queries below treat them as errors, so a consumer never reads out of
    /// bounds.
    [[nodiscard]] static Result<Types> parse(std::span<const std::uint8_t> section);

    /// The type with this id (0 is void), or nullptr when the id is out of range.
    [[nodiscard]] const Type* get(std::uint32_t id) const noexcept;
    /// Number of type ids, void included.
    [[nodiscard]] std::size_t count() const noexcept;

    /// Skips typedef, const, volatile, restrict and type_tag. Gives up after a chain of max_depth links (a
    /// cycle in hostile input) and then returns the id where it stopped, which is still a modifier.
    [[nodiscard]] std::uint32_t resolve(std::uint32_t id) const noexcept;

    /// Size in bytes: int, enum, enum64, float, struct, union and datasec as recorded, pointers 8, arrays
    /// nelems * element size, through modifiers, typedefs, vars and decl_tags. An error for void, func,
    /// func_proto, fwd, a dangling id, a chain deeper than max_depth and a size above UINT32_MAX (the limit
    /// of BTF sizes and of the kernel).
    [[nodiscard]] Result<std::uint64_t> size_of(std::uint32_t id) const;

    /// The first type of this kind with this name.
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view name, Kind kind) const;

    /// The type as C writes it: "int", "unsigned int", "struct process_info", "char[16]", "u32 *",
    /// "const char *", "int (*)(const char *, int)"; typedefs by their name. A func prints as its declaration
    /// ("int square(int)"), a var as its definition ("const char greeting[6]"). Never fails: dangling ids
    /// print as "<bad type N>" and overly deep or large types are cut short with "...".
    [[nodiscard]] std::string name_of(std::uint32_t id) const;

    /// The NUL-terminated string at this offset of the string section; nullopt when the offset is outside it
    /// or the string is not terminated inside it. Offset 0 is always the empty string.
    [[nodiscard]] std::optional<std::string_view> string_at(std::uint32_t offset) const;
    /// The whole string section.
    [[nodiscard]] std::string_view strings() const noexcept;

    /// Longest chain of references resolve() and size_of() follow; the kernel's limit.
    static constexpr int max_depth = 32;

  private:
    std::vector<Type> m_types;
    std::string m_strings;
};

/// A func_info record: the function starting at instruction `insn` (an index, not a byte offset) of a section
/// has BTF type `type_id` (a func) and this name.
struct FuncInfo {
    std::uint32_t insn = 0;
    std::uint32_t type_id = 0;
    std::string name;
    bool operator==(const FuncInfo&) const = default;
};

/// A line_info record: instruction `insn` of a section comes from this source file, line and column; `source`
/// is the text of that line as clang recorded it.
struct LineInfo {
    std::uint32_t insn = 0;
    std::string file;
    std::string source;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    bool operator==(const LineInfo&) const = default;
};

/// enum bpf_core_relo_kind.
enum class CoreKind : std::uint32_t {
    field_byte_offset = 0,
    field_byte_size,
    field_exists,
    field_signed,
    field_lshift_u64,
    field_rshift_u64,
    type_id_local,
    type_id_target,
    type_exists,
    type_size,
    enumval_exists,
    enumval_value,
    type_matches,
};

/// Snake-case name of a CO-RE relocation kind: "field_byte_offset", ...
[[nodiscard]] std::string_view to_string(CoreKind kind) noexcept;

/// A CO-RE relocation: instruction `insn` needs `kind` of the access `access` (e.g. "0:1") into local type
/// `type_id`, computed against the target's types.
struct CoreRelocation {
    std::uint32_t insn = 0;
    std::uint32_t type_id = 0;
    std::string access;
    CoreKind kind = CoreKind::field_byte_offset;
    bool operator==(const CoreRelocation&) const = default;
};

/// Everything `.BTF.ext` says about one program section (".text", "xdp", ...).
struct SectionInfo {
    std::string section;
    std::vector<FuncInfo> funcs;
    std::vector<LineInfo> lines;
    std::vector<CoreRelocation> relocations;
};

/// The contents of a `.BTF.ext` section, by program section in the order they first appear.
class Ext {
  public:
    /// Parses a whole `.BTF.ext` section. Its strings (section names, file names, source lines, access strings)
    /// live in the string section of the object's `.BTF`, hence `types`; func_info and CO-RE type ids must be
    /// types of it, and a func_info's type a func.
    [[nodiscard]] static Result<Ext> parse(std::span<const std::uint8_t> section, const Types& types);

    /// The records of this program section, or nullptr when the section has none.
    [[nodiscard]] const SectionInfo* section(std::string_view name) const noexcept;
    [[nodiscard]] const std::vector<SectionInfo>& sections() const noexcept;

  private:
    std::vector<SectionInfo> m_sections;
};

} // namespace embpf::btf
