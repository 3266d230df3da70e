// BTF types as C++ declarations for `embpf gen skeleton`. A struct is laid out as the host's compiler will lay it
// out (members at the next offset their alignment allows, bitfields in units of their type, as the SysV and BPF ABIs
// share), and explicit padding goes where the object puts a member further on; when only packing can reproduce the
// object's layout the struct is declared under `#pragma pack(1)` with every gap explicit, and when nothing can (a
// bitfield the rules would place elsewhere, overlapping members) it becomes an array of its bytes. The header checks
// every size and offset with static_assert, so a layout this code gets wrong fails where it is compiled.
#include "skeleton_types.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace embpf::tools {

namespace {

// Keywords, alternative tokens, and macros the GNU dialects, glibc and the C++ library predefine in lower case: a
// member or type of one of these names would not compile. `std` and `embpf` are here because a member of that name
// would hide the namespaces the generated code spells types with.
constexpr std::array<std::string_view, 112> kReservedWords = {
    "alignas",     "alignof",   "and",        "and_eq",    "asm",      "auto",         "bitand",
    "bitor",       "bool",      "break",      "case",      "catch",    "char",         "char8_t",
    "char16_t",    "char32_t",  "class",      "compl",     "concept",  "const",        "consteval",
    "constexpr",   "constinit", "const_cast", "continue",  "co_await", "co_return",    "co_yield",
    "decltype",    "default",   "delete",     "do",        "double",   "dynamic_cast", "else",
    "enum",        "explicit",  "export",     "extern",    "false",    "float",        "for",
    "friend",      "goto",      "if",         "inline",    "int",      "long",         "mutable",
    "namespace",   "new",       "noexcept",   "not",       "not_eq",   "nullptr",      "operator",
    "or",          "or_eq",     "private",    "protected", "public",   "register",     "reinterpret_cast",
    "requires",    "return",    "short",      "signed",    "sizeof",   "static",       "static_assert",
    "static_cast", "struct",    "switch",     "template",  "this",     "thread_local", "throw",
    "true",        "try",       "typedef",    "typeid",    "typename", "union",        "unsigned",
    "using",       "virtual",   "void",       "volatile",  "wchar_t",  "while",        "xor",
    "xor_eq",      "linux",     "unix",       "i386",      "major",    "minor",        "makedev",
    "errno",       "assert",    "offsetof",   "stdin",     "stdout",   "stderr",       "NULL",
    "EOF",         "BUFSIZ",    "alloca",     "std",       "embpf",    "_Bool",        "_Complex",
};

bool reserved_word(std::string_view name) {
    return std::find(kReservedWords.begin(), kReservedWords.end(), name) != kReservedWords.end();
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit) {
    return unit == 0 ? value : (value + unit - 1) / unit * unit;
}

std::string marked(std::string_view name) { return kNameBegin + std::string(name) + kNameEnd; }

CppType bytes_type(std::uint64_t size) { return {"std::array<std::uint8_t, " + std::to_string(size) + ">", {size, 1}}; }

std::string indent_by(int depth) { return std::string(static_cast<std::size_t>(depth) * 4, ' '); }

bool is_aggregate(const btf::Type* type) {
    return type != nullptr && (type->kind == btf::Kind::struct_ || type->kind == btf::Kind::union_);
}

} // namespace

std::string cpp_identifier(std::string_view name) {
    std::string out;
    for (const char c : name) {
        const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += word ? c : '_';
    }
    if (!out.empty() && out[0] >= '0' && out[0] <= '9') {
        out.insert(out.begin(), '_');
    }
    if (reserved_word(out)) {
        out += '_';
    }
    return out;
}

std::string unique_in(std::set<std::string>& used, std::string_view name) {
    const std::string base = cpp_identifier(name.empty() ? std::string_view("unnamed") : name);
    std::string candidate = base;
    for (int n = 2; used.count(candidate) != 0; ++n) {
        candidate = base + "_" + std::to_string(n);
    }
    used.insert(candidate);
    return candidate;
}

/// A member as the struct's body declares it: one of the BTF type's members (those of anonymous struct members of a
/// struct, and of anonymous union members of a union, lifted into it, since C++ reaches them alike), or an anonymous
/// member kept as a block of its own.
struct CppTypeWriter::Item {
    std::string name; ///< the BTF name; `ident` is its C++ name in the scope
    std::string ident;
    std::uint32_t type = 0;
    std::uint64_t bit_offset = 0; ///< from the start of the declared struct
    std::uint32_t bits = 0;       ///< a bitfield's width, 0 for a whole member
    std::uint64_t bytes = 0;      ///< type 0: the bytes it covers
    bool block = false;           ///< an anonymous struct or union member: `children` lie in it
    bool block_is_union = false;
    std::uint64_t block_size = 0;
    std::vector<Item> children;
};

struct CppTypeWriter::Body {
    std::vector<std::string> lines;
    CppLayout layout;
    std::vector<std::pair<std::string, std::uint64_t>> offsets; ///< named whole members, from the struct's start
    bool misaligned = false;                                    ///< only packing puts a member where the object has it
    bool packed = false;                                        ///< planned for `#pragma pack(1)`: every gap explicit
};

CppTypeWriter::CppTypeWriter(const btf::Types& types, std::string ns, std::set<std::string> reserved)
    : m_types(types), m_ns(std::move(ns)), m_used(std::move(reserved)) {}

std::string CppTypeWriter::take_name(std::string_view wanted, std::string_view suffix) {
    const std::string base = cpp_identifier(wanted.empty() ? std::string_view("anonymous") : wanted);
    if (m_used.count(base) == 0) {
        m_used.insert(base);
        return base;
    }
    return unique_in(m_used, base + std::string(suffix));
}

std::string CppTypeWriter::render(std::string_view text, const std::set<std::string>& members) const {
    const bool qualify_all = members.count(m_ns) != 0;
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != kNameBegin) {
            out += text[i];
            continue;
        }
        const std::size_t end = text.find(kNameEnd, i);
        const std::string_view name = text.substr(i + 1, end - i - 1);
        if (qualify_all || members.count(std::string(name)) != 0) {
            out += "::" + m_ns + "::";
        }
        out += name;
        i = end;
    }
    return out;
}

std::string CppTypeWriter::render(const CppType& type, const std::set<std::string>& members) const {
    return render(type.text, members);
}

std::optional<CppType> CppTypeWriter::spell(std::uint32_t id, std::string_view context) {
    return spell_at(id, context, 0);
}

std::optional<CppType> CppTypeWriter::spell_at(std::uint32_t id, std::string_view context, int depth) {
    const btf::Type* type = m_types.get(id);
    if (type == nullptr || depth > btf::Types::max_depth * 2) {
        return std::nullopt;
    }
    switch (type->kind) {
    case btf::Kind::int_: {
        const bool is_signed = (type->int_encoding & btf::int_signed) != 0;
        if (type->size == 1 && (type->int_encoding & btf::int_bool) != 0) {
            return CppType{"bool", {1, 1}};
        }
        // clang marks plain `char` by its name, not by the char encoding.
        if (type->size == 1 && ((type->int_encoding & btf::int_char) != 0 || type->name == "char")) {
            return CppType{"char", {1, 1}};
        }
        if (type->size == 1 || type->size == 2 || type->size == 4 || type->size == 8) {
            const std::string bits = std::to_string(type->size * 8);
            return CppType{is_signed ? "std::int" + bits + "_t" : "std::uint" + bits + "_t", {type->size, type->size}};
        }
        return bytes_type(type->size); // __int128: its bytes
    }
    case btf::Kind::ptr: return CppType{"std::uint64_t", {8, 8}}; // an address in the plugin's view, not the host's
    case btf::Kind::float_:
        if (type->size == 4) {
            return CppType{"float", {4, 4}};
        }
        if (type->size == 8) {
            return CppType{"double", {8, 8}};
        }
        return bytes_type(type->size);
    case btf::Kind::array: {
        auto element = spell_at(type->elem_type, context, depth + 1);
        if (!element) {
            return std::nullopt;
        }
        return CppType{"std::array<" + element->text + ", " + std::to_string(type->nelems) + ">",
                       {element->layout.size * type->nelems, element->layout.align}};
    }
    case btf::Kind::struct_:
    case btf::Kind::union_: return spell_aggregate(id, context, depth);
    case btf::Kind::enum_:
    case btf::Kind::enum64: return spell_enum(id, context);
    case btf::Kind::typedef_: return spell_typedef(id, depth);
    case btf::Kind::const_:
    case btf::Kind::volatile_:
    case btf::Kind::restrict_:
    case btf::Kind::type_tag: return spell_at(type->ref, context, depth + 1);
    default: return std::nullopt; // void, func, func_proto, fwd, var, datasec, decl_tag
    }
}

std::optional<CppType> CppTypeWriter::spell_typedef(std::uint32_t id, int depth) {
    if (const auto alias = m_aliases.find(id); alias != m_aliases.end()) {
        const std::uint32_t target = m_types.resolve(id);
        return CppType{marked(alias->second), m_done.at(target)->layout};
    }
    const btf::Type* type = m_types.get(id);
    const std::uint32_t target_id = m_types.resolve(id);
    const btf::Type* target = m_types.get(target_id);
    const bool named_kind =
        is_aggregate(target) ||
        (target != nullptr && (target->kind == btf::Kind::enum_ || target->kind == btf::Kind::enum64));
    if (!named_kind) {
        return spell_at(type->ref, type->name, depth + 1); // an integer, pointer or array: its C++ type says it all
    }
    // An anonymous struct, union or enum takes the typedef's name (`typedef struct { ... } process_info;`).
    auto spelled = spell_at(target_id, type->name, depth + 1);
    if (!spelled || spelled->text == marked(cpp_identifier(type->name))) {
        return spelled;
    }
    const std::string alias = cpp_identifier(type->name);
    if (alias.empty() || m_used.count(alias) != 0 || !m_done.count(target_id) || !m_done.at(target_id)) {
        return spelled; // the name is another type's: spell the target
    }
    m_used.insert(alias);
    m_aliases.emplace(id, alias);
    m_out += "using " + alias + " = " + render(spelled->text, {}) + ";\n\n";
    return CppType{marked(alias), spelled->layout};
}

std::optional<CppType> CppTypeWriter::spell_enum(std::uint32_t id, std::string_view context) {
    if (const auto done = m_done.find(id); done != m_done.end()) {
        return done->second;
    }
    const btf::Type& type = *m_types.get(id);
    if (type.size != 1 && type.size != 2 && type.size != 4 && type.size != 8) {
        m_done.emplace(id, std::nullopt);
        return std::nullopt;
    }
    const std::string name = type.name.empty() ? take_name(context, "_enum") : take_name(type.name, "_enum");
    const bool is_signed = type.kind_flag; // BTF marks signed enums; unsigned ones hold zero-extended values
    const std::string bits = std::to_string(type.size * 8);
    std::string out = "// enum " + (type.name.empty() ? "(anonymous in the object) " + name : type.name) + ", " +
                      std::to_string(type.size) + (type.size == 1 ? " byte\n" : " bytes\n") + "enum class " + name +
                      " : " + (is_signed ? "std::int" : "std::uint") + bits + "_t {\n";
    std::set<std::string> enumerators;
    for (const btf::Enumerator& enumerator : type.enumerators) {
        std::string value;
        if (is_signed) {
            value = enumerator.value == std::numeric_limits<std::int64_t>::min()
                        ? "(-9223372036854775807LL - 1)"
                        : std::to_string(enumerator.value) + (type.size == 8 ? "LL" : "");
        } else {
            const std::uint64_t mask = type.size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (type.size * 8)) - 1;
            value =
                std::to_string(static_cast<std::uint64_t>(enumerator.value) & mask) + (type.size == 8 ? "ULL" : "U");
        }
        out += "    " + unique_in(enumerators, enumerator.name) + " = " + value + ",\n";
    }
    out += "};\nstatic_assert(sizeof(" + name + ") == " + std::to_string(type.size) + ");\n\n";
    m_out += out;
    CppType result{marked(name), {type.size, type.size}};
    m_done.emplace(id, result);
    return result;
}

std::vector<CppTypeWriter::Item> CppTypeWriter::items_of(const btf::Type& aggregate, std::uint64_t base_bits) const {
    const bool is_union = aggregate.kind == btf::Kind::union_;
    std::vector<Item> items;
    for (const btf::Member& member : aggregate.members) {
        Item item;
        item.name = member.name;
        item.type = member.type;
        item.bit_offset = base_bits + member.bit_offset;
        item.bits = member.bitfield_size;
        const btf::Type* resolved = m_types.get(m_types.resolve(member.type));
        // Without kind_flag a bitfield is told by its int type's bits (the BTF of older compilers).
        if (item.bits == 0 && resolved != nullptr && resolved->kind == btf::Kind::int_ && resolved->int_bits != 0 &&
            (resolved->int_bits != resolved->size * 8 || resolved->int_offset != 0)) {
            item.bits = resolved->int_bits;
            item.bit_offset += resolved->int_offset;
        }
        if (member.name.empty()) {
            if (!is_aggregate(resolved)) {
                continue; // an unnamed bitfield: bits the layout skips
            }
            const bool inner_union = resolved->kind == btf::Kind::union_;
            if (inner_union == is_union && (!is_union || member.bit_offset == 0)) {
                auto lifted = items_of(*resolved, item.bit_offset);
                items.insert(items.end(), lifted.begin(), lifted.end());
                continue;
            }
            item.block = true;
            item.block_is_union = inner_union;
            item.block_size = resolved->size;
            item.children = items_of(*resolved, item.bit_offset);
        }
        items.push_back(std::move(item));
    }
    if (!is_union) {
        std::stable_sort(items.begin(), items.end(),
                         [](const Item& a, const Item& b) { return a.bit_offset < b.bit_offset; });
    }
    return items;
}

namespace {

void name_items(std::vector<CppTypeWriter::Item>& items, std::set<std::string>& members);

} // namespace

std::optional<CppTypeWriter::Body> CppTypeWriter::plan(const std::vector<Item>& items, bool is_union,
                                                       std::uint64_t base_bits, std::uint64_t size, bool packed,
                                                       std::string_view owner, std::set<std::string>& members,
                                                       int indent, int depth) {
    if (depth > btf::Types::max_depth) {
        return std::nullopt;
    }
    Body body;
    body.packed = packed;
    const std::string pad = indent_by(indent);
    std::uint64_t pos_bits = 0; // the end of what is declared so far, from the block's start
    std::uint64_t widest = 0;   // unions: the largest member
    const auto padding = [&](std::uint64_t bytes) {
        body.lines.push_back(pad + "std::uint8_t " + unique_in(members, "_pad") + "[" + std::to_string(bytes) + "];");
    };
    for (const Item& item : items) {
        if (item.bit_offset < base_bits) {
            return std::nullopt;
        }
        const std::uint64_t rel_bits = item.bit_offset - base_bits;
        if (item.bits != 0) {
            // A bitfield, in units of its integer type as the C ABI places them.
            const btf::Type* storage = m_types.get(m_types.resolve(item.type));
            std::optional<CppType> spelled;
            if (storage != nullptr && (storage->kind == btf::Kind::enum_ || storage->kind == btf::Kind::enum64)) {
                // An enum class bitfield narrower than its enum draws a warning: its integer type instead.
                const std::string bits = std::to_string(storage->size * 8);
                spelled = CppType{(storage->kind_flag ? "std::int" : "std::uint") + bits + "_t",
                                  {storage->size, storage->size}};
            } else {
                spelled = spell_at(item.type, std::string(owner) + "_" + item.name, depth + 1);
            }
            // Packed, a bitfield may start at any bit, and compilers differ on whether it may then cross its type's
            // unit: only those that stay inside one are declared, which every compiler places alike.
            if (is_union || storage == nullptr || !spelled || spelled->layout.align != spelled->layout.size ||
                item.bits > storage->size * 8) {
                return std::nullopt;
            }
            const std::uint64_t unit = storage->size * 8;
            const auto straddles = [unit](std::uint64_t at, std::uint64_t width) {
                return at / unit != (at + width - 1) / unit;
            };
            const auto place = [&](std::uint64_t at, std::uint64_t width) {
                return !packed && straddles(at, width) ? round_up(at, unit) : at;
            };
            const std::string type = render(*spelled, members);
            if (rel_bits < pos_bits || (packed && straddles(rel_bits, item.bits))) {
                return std::nullopt;
            }
            if (place(pos_bits, item.bits) != rel_bits) {
                // Bits the object skips: an unnamed bitfield of the same type, which must not move either.
                const std::uint64_t gap = rel_bits - pos_bits;
                if (gap >= unit || straddles(pos_bits, gap) || place(rel_bits, item.bits) != rel_bits) {
                    return std::nullopt;
                }
                body.lines.push_back(pad + type + " : " + std::to_string(gap) + ";");
            }
            body.lines.push_back(pad + type + " " + item.ident + " : " + std::to_string(item.bits) + ";");
            pos_bits = rel_bits + item.bits;
            body.layout.align = std::max(body.layout.align, packed ? std::uint64_t{1} : storage->size);
            continue;
        }
        CppLayout layout;
        std::vector<std::string> lines;
        if (item.block) {
            auto inner = plan(item.children, item.block_is_union, item.bit_offset, item.block_size, packed, owner,
                              members, indent + 1, depth + 1);
            if (!inner) {
                return std::nullopt;
            }
            if (inner->misaligned) {
                body.misaligned = true;
                return body;
            }
            m_anonymous_structs = m_anonymous_structs || !item.block_is_union;
            layout = inner->layout;
            lines.push_back(pad + (item.block_is_union ? "union {" : "struct {"));
            lines.insert(lines.end(), inner->lines.begin(), inner->lines.end());
            lines.push_back(pad + "};");
            body.offsets.insert(body.offsets.end(), inner->offsets.begin(), inner->offsets.end());
        } else {
            std::optional<CppType> spelled = item.type == 0
                                                 ? bytes_type(item.bytes)
                                                 : spell_at(item.type, std::string(owner) + "_" + item.name, depth + 1);
            if (!spelled) {
                auto bytes = m_types.size_of(item.type);
                if (!bytes) {
                    return std::nullopt;
                }
                spelled = bytes_type(*bytes);
            }
            layout = spelled->layout;
            if (layout.size == 0) {
                body.lines.push_back(pad + "// " + item.ident + ": a flexible array, no bytes of its own");
                continue;
            }
            lines.push_back(pad + render(*spelled, members) + " " + item.ident + ";");
            if (!item.ident.empty()) {
                body.offsets.emplace_back(item.ident, item.bit_offset / 8);
            }
        }
        const std::uint64_t align = packed ? 1 : layout.align;
        if (rel_bits % 8 != 0) {
            return std::nullopt;
        }
        const std::uint64_t offset = rel_bits / 8;
        if (is_union) {
            if (offset != 0) {
                return std::nullopt;
            }
            widest = std::max(widest, layout.size);
        } else {
            const std::uint64_t at = round_up(pos_bits, 8) / 8;
            if (offset < at) {
                return std::nullopt; // overlapping members
            }
            if (offset % align != 0) {
                body.misaligned = true;
                return body;
            }
            if (round_up(at, align) != offset) {
                padding(offset - at);
            }
            pos_bits = (offset + layout.size) * 8;
        }
        body.lines.insert(body.lines.end(), lines.begin(), lines.end());
        body.layout.align = std::max(body.layout.align, align);
    }
    std::uint64_t end = is_union ? widest : round_up(pos_bits, 8) / 8;
    if (end > size) {
        return std::nullopt;
    }
    if (round_up(end, body.layout.align) != size) {
        if (end < size) {
            padding(is_union ? size : size - end);
            end = size;
        }
        if (round_up(end, body.layout.align) != size) {
            body.misaligned = true;
        }
    }
    body.layout.size = size;
    return body;
}

namespace {

void name_items(std::vector<CppTypeWriter::Item>& items, std::set<std::string>& members) {
    for (CppTypeWriter::Item& item : items) {
        if (item.block) {
            name_items(item.children, members);
        } else if (!item.name.empty()) {
            item.ident = unique_in(members, item.name);
        }
    }
}

} // namespace

std::optional<CppTypeWriter::Body> CppTypeWriter::plan_packed_if_needed(const std::vector<Item>& items, bool is_union,
                                                                        std::uint64_t size, std::string_view owner,
                                                                        const std::set<std::string>& members,
                                                                        int depth) {
    for (const bool packed : {false, true}) {
        std::set<std::string> scope = members; // padding takes names in it
        std::optional<Body> body = plan(items, is_union, 0, size, packed, owner, scope, 1, depth);
        if (!body || !body->misaligned) {
            return body;
        }
    }
    return std::nullopt;
}

void CppTypeWriter::emit_aggregate(const std::string& name, const std::string& comment, bool is_union, const Body& body,
                                   std::uint64_t size) {
    std::string out = comment;
    const bool packed = body.packed;
    if (packed) {
        out += "#pragma pack(push, 1)\n";
    }
    out += std::string(is_union ? "union " : "struct ") + name + " {\n";
    for (const std::string& line : body.lines) {
        out += line + "\n";
    }
    out += "};\n";
    if (packed) {
        out += "#pragma pack(pop)\n";
    }
    out += "static_assert(sizeof(" + name + ") == " + std::to_string(size) + ");\n";
    for (const auto& [member, offset] : body.offsets) {
        out += "static_assert(offsetof(" + name + ", " + member + ") == " + std::to_string(offset) + ");\n";
    }
    m_out += out + "\n";
}

std::optional<CppType> CppTypeWriter::spell_aggregate(std::uint32_t id, std::string_view context, int depth) {
    if (const auto done = m_done.find(id); done != m_done.end()) {
        return done->second;
    }
    if (m_in_progress.count(id) != 0) {
        return std::nullopt; // a struct that holds itself: hostile BTF
    }
    const btf::Type& type = *m_types.get(id);
    const bool is_union = type.kind == btf::Kind::union_;
    const std::string name =
        type.name.empty() ? take_name(context, "") : take_name(type.name, is_union ? "_union" : "_struct");
    m_in_progress.insert(id);
    std::vector<Item> items = items_of(type, 0);
    std::set<std::string> members;
    name_items(items, members);
    const std::string comment = "// " + std::string(is_union ? "union " : "struct ") +
                                (type.name.empty() ? "(anonymous in the object) " + name : type.name) + ", " +
                                std::to_string(type.size) + " bytes\n";
    std::optional<Body> body = plan_packed_if_needed(items, is_union, type.size, name, members, depth);
    m_in_progress.erase(id);
    CppType result{marked(name), {type.size, 1}};
    if (body) {
        emit_aggregate(name, comment, is_union, *body, type.size);
        result.layout.align = body->layout.align;
    } else {
        m_out += comment +
                 "// Its layout (bitfields or overlapping members) has no C++ declaration here: its bytes.\n" +
                 "struct " + name + " {\n    std::array<std::uint8_t, " + std::to_string(type.size) +
                 "> bytes;\n};\nstatic_assert(sizeof(" + name + ") == " + std::to_string(type.size) + ");\n\n";
    }
    m_done.emplace(id, result);
    return result;
}

void CppTypeWriter::declare_struct(const std::string& name, const std::string& comment,
                                   const std::vector<PlannedMember>& planned, std::uint64_t size) {
    std::vector<Item> items;
    for (const PlannedMember& member : planned) {
        Item item;
        item.name = member.name;
        item.type = member.type;
        item.bit_offset = member.offset * 8;
        item.bytes = member.size;
        items.push_back(std::move(item));
    }
    std::set<std::string> members;
    name_items(items, members);
    std::optional<Body> body = plan_packed_if_needed(items, false, size, name, members, 0);
    if (!body) {
        // Variables that overlap (aliases of one another): the section as bytes.
        m_out += comment + "struct " + name + " {\n    std::array<std::uint8_t, " + std::to_string(size) +
                 "> bytes;\n};\nstatic_assert(sizeof(" + name + ") == " + std::to_string(size) + ");\n\n";
        return;
    }
    emit_aggregate(name, comment, false, *body, size);
}

} // namespace embpf::tools
