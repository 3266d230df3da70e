// The C++ declarations of an object's BTF types for `embpf gen skeleton`: the structs, unions and enums its maps and
// globals use, each with the layout the object gives it, checked by static_assert where the header is compiled.
#pragma once

#include "embpf/elf/btf.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace embpf::tools {

/// `name` as a C++ identifier: characters other than letters, digits and '_' become '_', a leading digit gets a '_'
/// in front, and keywords and the macros compilers and C libraries predefine (`linux`, `major`, `errno`) get one
/// behind; empty when `name` is.
[[nodiscard]] std::string cpp_identifier(std::string_view name);

/// A unique member name in one scope: `name` made an identifier, with a number behind when the scope has it.
[[nodiscard]] std::string unique_in(std::set<std::string>& used, std::string_view name);

/// Size and alignment of a C++ type the writer declares or spells.
struct CppLayout {
    std::uint64_t size = 0;
    std::uint64_t align = 1;
};

/// A type as the writer spells it. Names the writer declares in the skeleton's namespace are marked in `text`
/// (kNameBegin ... kNameEnd) so that a scope where a member has such a name can qualify them: in C++ `counter
/// counter;` changes the meaning of `counter` in the struct, which is an error.
struct CppType {
    std::string text;
    CppLayout layout;
};

inline constexpr char kNameBegin = '\x01';
inline constexpr char kNameEnd = '\x02';

/// One member of a struct the writer lays out (a global variable of a section, for the skeleton's section structs).
/// Bytes no member covers become padding.
struct PlannedMember {
    std::string name;         ///< a C++ identifier
    std::uint32_t type = 0;   ///< BTF type, 0 for bytes
    std::uint64_t offset = 0; ///< in bytes
    std::uint64_t size = 0;   ///< the bytes it covers
};

class CppTypeWriter {
  public:
    /// `ns`: the namespace the declarations go in. `reserved`: names in it the writer must not give a type.
    CppTypeWriter(const btf::Types& types, std::string ns, std::set<std::string> reserved);

    /// The C++ type of BTF type `id` held by value, declaring the structs, unions and enums it needs; std::nullopt
    /// when it has none (void, a function, a forward declaration, a cycle). `context` names an anonymous struct,
    /// union or enum that needs a name of its own (`<map>_value`).
    [[nodiscard]] std::optional<CppType> spell(std::uint32_t id, std::string_view context);
    /// The spelling of `type` in a scope whose members have these names (see CppType).
    [[nodiscard]] std::string render(const CppType& type, const std::set<std::string>& members) const;
    [[nodiscard]] std::string render(std::string_view text, const std::set<std::string>& members) const;

    /// Declares `struct name` holding `members` at their offsets, `size` bytes in all, as the writer declares BTF
    /// structs (explicit padding where the C++ layout would not put a member where the object has it); a byte array
    /// for a member whose type has no C++ spelling. For the skeleton's global-data sections.
    void declare_struct(const std::string& name, const std::string& comment, const std::vector<PlannedMember>& members,
                        std::uint64_t size);

    /// The declarations so far, in an order where each follows what it uses.
    [[nodiscard]] const std::string& declarations() const noexcept { return m_out; }
    /// Whether a declaration uses an anonymous struct inside a union, which C++ compilers take as an extension.
    [[nodiscard]] bool uses_anonymous_structs() const noexcept { return m_anonymous_structs; }

  public:
    struct Item; ///< a member as a struct's body declares it (skeleton_types.cpp)

  private:
    struct Body;

    [[nodiscard]] std::optional<CppType> spell_at(std::uint32_t id, std::string_view context, int depth);
    [[nodiscard]] std::optional<CppType> spell_aggregate(std::uint32_t id, std::string_view context, int depth);
    [[nodiscard]] std::optional<CppType> spell_enum(std::uint32_t id, std::string_view context);
    [[nodiscard]] std::optional<CppType> spell_typedef(std::uint32_t id, int depth);
    [[nodiscard]] std::string take_name(std::string_view wanted, std::string_view suffix);
    [[nodiscard]] std::vector<Item> items_of(const btf::Type& aggregate, std::uint64_t base_bits) const;
    [[nodiscard]] std::optional<Body> plan(const std::vector<Item>& items, bool is_union, std::uint64_t base_bits,
                                           std::uint64_t size, bool packed, std::string_view owner,
                                           std::set<std::string>& members, int indent, int depth);
    [[nodiscard]] std::optional<Body> plan_packed_if_needed(const std::vector<Item>& items, bool is_union,
                                                            std::uint64_t size, std::string_view owner,
                                                            const std::set<std::string>& members, int depth);
    void emit_aggregate(const std::string& name, const std::string& comment, bool is_union, const Body& body,
                        std::uint64_t size);

    const btf::Types& m_types;
    std::string m_ns;
    std::set<std::string> m_used;
    std::map<std::uint32_t, std::optional<CppType>> m_done; // aggregates and enums by id
    std::map<std::uint32_t, std::string> m_aliases;         // typedefs declared with `using`
    std::set<std::uint32_t> m_in_progress;
    std::string m_out;
    bool m_anonymous_structs = false;
};

} // namespace embpf::tools
