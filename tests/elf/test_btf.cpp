// The BTF and .BTF.ext parsers: on sections clang emitted for tests/elf/btf/*.c (see tests/elf/tests.cmake), on
// handcrafted and corrupted sections, and on every single-bit corruption of a real section.
#include "embpf/elf/btf.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using embpf::ErrorKind;
using embpf::btf::CoreKind;
using embpf::btf::Ext;
using embpf::btf::Kind;
using embpf::btf::Type;
using embpf::btf::Types;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_u32(Bytes& bytes, std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) {
        bytes.at(at + i) = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

void push_u32(Bytes& bytes, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) {
        bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

std::uint32_t info_word(Kind kind, std::uint32_t vlen, bool kind_flag = false) {
    return (kind_flag ? 0x80000000u : 0u) | (static_cast<std::uint32_t>(kind) << 24) | vlen;
}

/// Writes a `.BTF` section: the 24-byte header, then the type records, then the strings.
class BtfBuilder {
  public:
    /// Offset of `text` in the string section, added on first use.
    std::uint32_t str(std::string_view text) {
        if (text.empty()) {
            return 0;
        }
        const auto found = m_strings.find(std::string(text) + '\0');
        if (found != std::string::npos && (found == 0 || m_strings[found - 1] == '\0')) {
            return static_cast<std::uint32_t>(found);
        }
        const auto offset = static_cast<std::uint32_t>(m_strings.size());
        m_strings += text;
        m_strings += '\0';
        return offset;
    }

    /// Appends a type record; returns its id.
    std::uint32_t type(std::uint32_t name_off, std::uint32_t info, std::uint32_t size_or_type,
                       std::initializer_list<std::uint32_t> trailing = {}) {
        push_u32(m_types, name_off);
        push_u32(m_types, info);
        push_u32(m_types, size_or_type);
        for (const std::uint32_t word : trailing) {
            push_u32(m_types, word);
        }
        return ++m_count;
    }

    std::uint32_t int_type(std::string_view name, std::uint32_t size, bool is_signed = true) {
        return type(str(name), info_word(Kind::int_, 0), size, {(is_signed ? 1u << 24 : 0u) | (size * 8)});
    }
    std::uint32_t ref_type(Kind kind, std::string_view name, std::uint32_t ref) {
        return type(str(name), info_word(kind, 0), ref);
    }
    std::uint32_t array(std::uint32_t elem, std::uint32_t index, std::uint32_t nelems) {
        return type(0, info_word(Kind::array, 0), 0, {elem, index, nelems});
    }

    [[nodiscard]] Bytes build() const {
        Bytes out;
        out.push_back(0x9f);
        out.push_back(0xeb);
        out.push_back(1); // version
        out.push_back(0); // flags
        push_u32(out, 24);
        push_u32(out, 0);
        push_u32(out, static_cast<std::uint32_t>(m_types.size()));
        push_u32(out, static_cast<std::uint32_t>(m_types.size()));
        push_u32(out, static_cast<std::uint32_t>(m_strings.size()));
        out.insert(out.end(), m_types.begin(), m_types.end());
        out.insert(out.end(), m_strings.begin(), m_strings.end());
        return out;
    }

  private:
    Bytes m_types;
    std::string m_strings{std::string(1, '\0')};
    std::uint32_t m_count = 0;
};

/// Writes a `.BTF.ext` section with the 32-byte header; each block is {rec_size, {sec, count, records...}...}.
Bytes build_ext(const Bytes& func_block, const Bytes& line_block, const Bytes& core_block) {
    Bytes out{0x9f, 0xeb, 1, 0};
    push_u32(out, 32);
    const auto size = [](const Bytes& block) { return static_cast<std::uint32_t>(block.size()); };
    push_u32(out, 0);
    push_u32(out, size(func_block));
    push_u32(out, size(func_block));
    push_u32(out, size(line_block));
    push_u32(out, size(func_block) + size(line_block));
    push_u32(out, size(core_block));
    out.insert(out.end(), func_block.begin(), func_block.end());
    out.insert(out.end(), line_block.begin(), line_block.end());
    out.insert(out.end(), core_block.begin(), core_block.end());
    return out;
}

Bytes words(std::initializer_list<std::uint32_t> values) {
    Bytes out;
    for (const std::uint32_t value : values) {
        push_u32(out, value);
    }
    return out;
}

/// A `.BTF` section from raw type records and a raw string section.
Bytes raw_btf(const Bytes& type_bytes, const std::string& strings) {
    Bytes out{0x9f, 0xeb, 1, 0};
    push_u32(out, 24);
    push_u32(out, 0);
    push_u32(out, static_cast<std::uint32_t>(type_bytes.size()));
    push_u32(out, static_cast<std::uint32_t>(type_bytes.size()));
    push_u32(out, static_cast<std::uint32_t>(strings.size()));
    out.insert(out.end(), type_bytes.begin(), type_bytes.end());
    out.insert(out.end(), strings.begin(), strings.end());
    return out;
}

Types parse_types(const Bytes& bytes) {
    auto types = Types::parse(bytes);
    REQUIRE_MESSAGE(types.has_value(), types.error().message);
    return std::move(types).value();
}

/// Runs every query on every type id (and a few past the end): each must terminate without touching bad memory.
/// Returns the longest name printed, which must stay bounded however the types refer to each other.
std::size_t exercise(const Types& types) {
    std::size_t longest = 0;
    const auto last = static_cast<std::uint32_t>(types.count() + 2);
    for (std::uint32_t id = 0; id < last; ++id) {
        (void)types.resolve(id);
        (void)types.size_of(id);
        longest = std::max(longest, types.name_of(id).size());
    }
    return longest;
}

#ifdef EMBPF_TEST_BTF_DIR

Bytes read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Bytes section_bytes(std::string_view object, std::string_view suffix) {
    return read_bytes(std::filesystem::path(EMBPF_TEST_BTF_DIR) / (std::string(object) + std::string(suffix)));
}

Types load_types(std::string_view object) { return parse_types(section_bytes(object, ".btf")); }

Ext load_ext(std::string_view object, const Types& types) {
    auto ext = Ext::parse(section_bytes(object, ".btf.ext"), types);
    REQUIRE_MESSAGE(ext.has_value(), ext.error().message);
    return std::move(ext).value();
}

/// The 1-based number of the line of tests/elf/btf/<file> that contains `marker`.
std::uint32_t marker_line(std::string_view file, std::string_view marker) {
    std::ifstream in(std::filesystem::path(EMBPF_TEST_BTF_SOURCE_DIR) / std::string(file));
    REQUIRE(in.good());
    std::string line;
    std::uint32_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find(marker) != std::string::npos) {
            return number;
        }
    }
    FAIL("marker " << marker << " not found in " << file);
    return 0;
}

const embpf::btf::Member& member(const Type& type, std::string_view name) {
    for (const auto& m : type.members) {
        if (m.name == name) {
            return m;
        }
    }
    FAIL("no member " << name << " in " << type.name);
    return type.members.front();
}

const Type& named(const Types& types, std::string_view name, Kind kind) {
    const auto id = types.find(name, kind);
    REQUIRE_MESSAGE(id.has_value(), "no " << embpf::btf::to_string(kind) << " " << name);
    return *types.get(*id);
}

#endif

} // namespace

TEST_SUITE_BEGIN("btf");

#ifdef EMBPF_TEST_BTF_DIR

TEST_CASE("btf: struct with bitfields and a typedef chain") {
    const Types types = load_types("types");
    const auto id = types.find("process_info", Kind::struct_);
    REQUIRE(id.has_value());
    const Type& info = *types.get(*id);
    CHECK(types.name_of(*id) == "struct process_info");
    CHECK(types.size_of(*id).value() == 24);
    CHECK(info.kind_flag); // clang sets it when a struct has bitfields

    struct Row {
        const char* name;
        std::uint32_t bit_offset;
        std::uint32_t bitfield_size;
        const char* type_name;
        const char* resolved_name;
    };
    const Row rows[] = {
        {"pid", 0, 0, "pid_type", "unsigned int"},        {"flags", 32, 3, "unsigned int", "unsigned int"},
        {"state", 35, 5, "unsigned int", "unsigned int"}, {"priority", 40, 12, "int", "int"},
        {"comm", 56, 0, "char[16]", "char[16]"},
    };
    REQUIRE(info.members.size() == std::size(rows));
    for (std::size_t i = 0; i < std::size(rows); ++i) {
        CAPTURE(rows[i].name);
        const auto& m = info.members[i];
        CHECK(m.name == rows[i].name);
        CHECK(m.bit_offset == rows[i].bit_offset);
        CHECK(m.bitfield_size == rows[i].bitfield_size);
        CHECK(types.name_of(m.type) == rows[i].type_name);
        CHECK(types.name_of(types.resolve(m.type)) == rows[i].resolved_name);
    }

    // pid_type -> u32 -> __u32 -> unsigned int, each typedef named as written.
    std::uint32_t link = info.members[0].type;
    for (const char* name : {"pid_type", "u32", "__u32"}) {
        const Type* type = types.get(link);
        REQUIRE(type != nullptr);
        CHECK(type->kind == Kind::typedef_);
        CHECK(type->name == name);
        link = type->ref;
    }
    const Type* base = types.get(link);
    REQUIRE(base != nullptr);
    CHECK(base->kind == Kind::int_);
    CHECK(base->name == "unsigned int");
    CHECK(base->size == 4);
    CHECK(base->int_bits == 32);
    CHECK((base->int_encoding & embpf::btf::int_signed) == 0);
    CHECK(types.resolve(info.members[0].type) == link);

    const Type& character = named(types, "char", Kind::int_);
    CHECK(character.size == 1);
    CHECK((character.int_encoding & embpf::btf::int_signed) != 0);
    const auto comm = types.get(member(info, "comm").type);
    REQUIRE(comm != nullptr);
    CHECK(comm->kind == Kind::array);
    CHECK(comm->nelems == 16);
    CHECK(types.get(comm->index_type)->name == "__ARRAY_SIZE_TYPE__");
}

TEST_CASE("btf: members of struct handler: names and sizes") {
    const Types types = load_types("types");
    const Type& handler = named(types, "handler", Kind::struct_);
    CHECK(types.size_of(*types.find("handler", Kind::struct_)).value() == 184);
    struct Row {
        const char* member;
        const char* type_name;
        const char* resolved_name;
        std::uint64_t size;
    };
    const Row rows[] = {
        {"callback", "callback_fn", "int (*)(const char *, int)", 8},
        {"counter", "const volatile int *", "const volatile int *", 8},
        {"bits", "union value_bits", "union value_bits", 8},
        {"tint", "enum color", "enum color", 4},
        {"span", "enum wide", "enum wide", 8},
        {"infos", "struct process_info[2][3]", "struct process_info[2][3]", 144},
    };
    REQUIRE(handler.members.size() == std::size(rows));
    for (const Row& row : rows) {
        const std::string context = row.member;
        CAPTURE(context);
        const auto type = member(handler, row.member).type;
        CHECK(types.name_of(type) == row.type_name);
        CHECK(types.name_of(types.resolve(type)) == row.resolved_name);
        const auto size = types.size_of(type);
        REQUIRE_MESSAGE(size.has_value(), size.error().message);
        CHECK(*size == row.size);
    }
    // Through the pointer: the function prototype behind callback_fn.
    const Type* pointer = types.get(types.resolve(member(handler, "callback").type));
    REQUIRE(pointer != nullptr);
    REQUIRE(pointer->kind == Kind::ptr);
    const Type* proto = types.get(pointer->ref);
    REQUIRE(proto != nullptr);
    CHECK(proto->kind == Kind::func_proto);
    REQUIRE(proto->params.size() == 2);
    CHECK(types.name_of(proto->ref) == "int");
    CHECK(types.name_of(proto->params[0].type) == "const char *");
    CHECK(!types.size_of(pointer->ref).has_value()); // a function has no size
}

TEST_CASE("btf: union and enums") {
    const Types types = load_types("types");
    const Type& bits = named(types, "value_bits", Kind::union_);
    CHECK(bits.size == 8);
    REQUIRE(bits.members.size() == 3);
    for (const auto& m : bits.members) {
        CHECK(m.bit_offset == 0);
    }
    CHECK(types.name_of(bits.members[0].type) == "uint64_t");
    CHECK(types.name_of(bits.members[1].type) == "uint32_t[2]");
    CHECK(types.name_of(bits.members[2].type) == "unsigned char[8]");

    const Type& color = named(types, "color", Kind::enum_);
    CHECK(color.size == 4);
    REQUIRE(color.enumerators.size() == 3);
    CHECK(color.enumerators[0].name == "color_red");
    CHECK(color.enumerators[0].value == 0);
    CHECK(color.enumerators[1].value == 1);
    CHECK(color.enumerators[2].name == "color_blue");
    // -1: clang 14 writes an unsigned enum (kind_flag clear), newer clang a signed one; the bits are the same.
    CHECK(static_cast<std::uint32_t>(color.enumerators[2].value) == 0xffffffffu);

    // A 64-bit enumerator: clang 15+ emits enum64; clang 14 an 8-byte enum with the value cut to 32 bits.
    auto wide = types.find("wide", Kind::enum64);
    if (!wide) {
        wide = types.find("wide", Kind::enum_);
    }
    REQUIRE(wide.has_value());
    const Type& wide_type = *types.get(*wide);
    CHECK(wide_type.size == 8);
    CHECK(types.size_of(*wide).value() == 8);
    REQUIRE(wide_type.enumerators.size() == 2);
    CHECK(wide_type.enumerators[1].name == "wide_big");
    if (wide_type.kind == Kind::enum64) {
        CHECK(wide_type.enumerators[1].value == 0x100000000LL);
    }
}

TEST_CASE("btf: a BTF-defined map in .maps") {
    const Types types = load_types("types");
    const Type& var = named(types, "proc_map", Kind::var);
    CHECK(var.linkage == embpf::btf::linkage_global);
    const Type* map = types.get(types.resolve(var.ref));
    REQUIRE(map != nullptr);
    REQUIRE(map->kind == Kind::struct_);
    CHECK(map->name.empty());
    CHECK(map->size == 32);

    // __uint(name, val) is a pointer to an array of val ints; __type(name, T) a pointer to T.
    const auto pointee = [&](std::string_view name) {
        const Type* pointer = types.get(member(*map, name).type);
        REQUIRE(pointer != nullptr);
        REQUIRE(pointer->kind == Kind::ptr);
        return pointer->ref;
    };
    CHECK(types.get(pointee("type"))->nelems == 1);
    CHECK(types.get(pointee("max_entries"))->nelems == 16);
    CHECK(types.name_of(member(*map, "key").type) == "__u32 *");

    const auto key = pointee("key");
    CHECK(types.name_of(key) == "__u32");
    const Type* key_type = types.get(types.resolve(key));
    REQUIRE(key_type != nullptr);
    CHECK(key_type->kind == Kind::int_);
    CHECK((key_type->int_encoding & embpf::btf::int_signed) == 0);
    CHECK(types.size_of(key).value() == 4);

    const auto value = pointee("value");
    CHECK(types.name_of(value) == "struct process_info");
    CHECK(types.size_of(value).value() == 24);

    const Type& maps = named(types, ".maps", Kind::datasec);
    REQUIRE(maps.vars.size() == 1);
    CHECK(types.get(maps.vars[0].type)->name == "proc_map");
    CHECK(maps.vars[0].size == 32);
}

TEST_CASE("btf: globals in data sections") {
    const Types types = load_types("types");
    struct Row {
        const char* section;
        const char* var;
        const char* declaration;
        std::uint32_t size;
    };
    const Row rows[] = {
        {".data", "counter_data", "int counter_data", 4},
        {".rodata", "greeting", "const char greeting[6]", 6},
        {".bss", "handler_bss", "struct handler handler_bss", 184},
        {".bss", "ticks", "volatile uint64_t ticks", 8},
    };
    for (const Row& row : rows) {
        const std::string context = row.var;
        CAPTURE(context);
        const Type& section = named(types, row.section, Kind::datasec);
        bool found = false;
        for (const auto& v : section.vars) {
            const Type* var = types.get(v.type);
            REQUIRE(var != nullptr);
            CHECK(var->kind == Kind::var);
            if (var->name == row.var) {
                found = true;
                CHECK(v.size == row.size);
                CHECK(types.name_of(v.type) == row.declaration);
                CHECK(types.size_of(v.type).value() == row.size);
            }
        }
        CHECK(found);
    }
    CHECK(types.name_of(*types.find(".data", Kind::datasec)) == "datasec .data");
}

TEST_CASE("btf: functions, func_info and line info") {
    const Types types = load_types("funcs");
    struct Row {
        const char* name;
        std::uint32_t linkage;
        const char* declaration;
    };
    const Row rows[] = {
        {"square", embpf::btf::linkage_static, "int square(int)"},
        {"add3", embpf::btf::linkage_static, "long add3(long, long, long)"},
        {"entry", embpf::btf::linkage_global, "int entry(void *)"},
        {"second_entry", embpf::btf::linkage_global, "int second_entry(void *)"},
    };
    for (const Row& row : rows) {
        const std::string context = row.name;
        CAPTURE(context);
        const auto id = types.find(row.name, Kind::func);
        REQUIRE(id.has_value());
        CHECK(types.get(*id)->linkage == row.linkage);
        CHECK(types.name_of(*id) == row.declaration);
        const Type* proto = types.get(types.get(*id)->ref);
        REQUIRE(proto != nullptr);
        CHECK(proto->kind == Kind::func_proto);
    }
    const Type& add3_proto = *types.get(named(types, "add3", Kind::func).ref);
    REQUIRE(add3_proto.params.size() == 3);
    CHECK(add3_proto.params[2].name == "c");

    const Ext ext = load_ext("funcs", types);
    CHECK(ext.section("nonexistent") == nullptr);
    std::set<std::string> section_names;
    for (const auto& info : ext.sections()) {
        section_names.insert(info.section);
    }
    CHECK(section_names == std::set<std::string>{".text", "prog", "prog/second"});

    // Subprograms live in .text in source order; each program starts its own section.
    const auto* text = ext.section(".text");
    REQUIRE(text != nullptr);
    REQUIRE(text->funcs.size() == 2);
    CHECK(text->funcs[0].name == "square");
    CHECK(text->funcs[0].insn == 0);
    CHECK(text->funcs[1].name == "add3");
    CHECK(text->funcs[1].insn > 0);
    CHECK(types.get(text->funcs[1].type_id)->kind == Kind::func);
    for (const char* section : {"prog", "prog/second"}) {
        const std::string context = section;
        CAPTURE(context);
        const auto* info = ext.section(section);
        REQUIRE(info != nullptr);
        REQUIRE(info->funcs.size() == 1);
        CHECK(info->funcs[0].insn == 0);
        CHECK(info->relocations.empty());
    }
    CHECK(ext.section("prog")->funcs[0].name == "entry");
    CHECK(ext.section("prog/second")->funcs[0].name == "second_entry");

    // Line info: the first record of a program is its opening line; square's body has its own record.
    const auto* prog = ext.section("prog");
    REQUIRE(!prog->lines.empty());
    const auto& first = prog->lines.front();
    CHECK(first.insn == 0);
    CHECK(first.file.ends_with("funcs.c"));
    CHECK(first.line == marker_line("funcs.c", "BTF-MARKER: entry"));
    CHECK(first.source.find("BTF-MARKER: entry") != std::string::npos);

    const std::uint32_t body_line = marker_line("funcs.c", "BTF-MARKER: square body");
    bool found_body = false;
    std::uint32_t previous_insn = 0;
    for (const auto& line : text->lines) {
        CHECK(line.insn >= previous_insn); // clang emits them in instruction order
        previous_insn = line.insn;
        CHECK(line.file.ends_with("funcs.c"));
        if (line.line == body_line) {
            found_body = true;
            CHECK(line.source.find("value * value") != std::string::npos);
            CHECK(line.insn < text->funcs[1].insn); // inside square
        }
    }
    CHECK(found_body);
}

TEST_CASE("btf: a CO-RE relocation") {
    const Types types = load_types("core");
    const Ext ext = load_ext("core", types);
    const auto* prog = ext.section("prog");
    REQUIRE(prog != nullptr);
    REQUIRE(prog->relocations.size() == 1);
    const auto& relocation = prog->relocations[0];
    CHECK(relocation.kind == CoreKind::field_byte_offset);
    CHECK(relocation.access == "0:1");
    CHECK(types.name_of(relocation.type_id) == "struct S");
    CHECK(embpf::btf::to_string(relocation.kind) == "field_byte_offset");
    REQUIRE(prog->funcs.size() == 1);
    CHECK(prog->funcs[0].name == "read_b");
    CHECK(relocation.insn >= prog->funcs[0].insn);
    const Type& s = named(types, "S", Kind::struct_);
    CHECK(s.members[1].name == "b");
    CHECK(s.members[1].bit_offset == 32);
}

TEST_CASE("btf: every single-bit corruption of a real section parses or fails cleanly") {
    for (const char* object : {"types", "funcs", "core"}) {
        const std::string context = object;
        CAPTURE(context);
        const Bytes btf = section_bytes(object, ".btf");
        const Bytes ext = section_bytes(object, ".btf.ext");
        const Types original = parse_types(btf);
        std::size_t parsed = 0;
        std::size_t rejected = 0;
        std::size_t longest_name = 0;
        std::size_t empty_messages = 0;
        for (std::size_t at = 0; at < btf.size(); ++at) {
            for (int bit = 0; bit < 8; ++bit) {
                Bytes mutated = btf;
                mutated[at] ^= static_cast<std::uint8_t>(1u << bit);
                auto types = Types::parse(mutated);
                if (!types) {
                    ++rejected;
                    empty_messages += types.error().message.empty() ? 1 : 0;
                    continue;
                }
                ++parsed;
                longest_name = std::max(longest_name, exercise(*types));
                (void)Ext::parse(ext, *types);
            }
        }
        for (std::size_t at = 0; at < ext.size(); ++at) {
            for (int bit = 0; bit < 8; ++bit) {
                Bytes mutated = ext;
                mutated[at] ^= static_cast<std::uint8_t>(1u << bit);
                auto parsed_ext = Ext::parse(mutated, original);
                if (!parsed_ext) {
                    empty_messages += parsed_ext.error().message.empty() ? 1 : 0;
                }
            }
        }
        // Every prefix of the sections, as a truncated object would give.
        for (std::size_t length = 0; length < btf.size(); ++length) {
            (void)Types::parse(std::span(btf).first(length));
        }
        for (std::size_t length = 0; length < ext.size(); ++length) {
            (void)Ext::parse(std::span(ext).first(length), original);
        }
        CHECK(parsed > 0);
        CHECK(rejected > 0);
        CHECK(longest_name < 64 * 1024);
        CHECK(empty_messages == 0);
    }
}

#endif

TEST_CASE("btf: handcrafted section") {
    BtfBuilder b;
    const auto int_id = b.int_type("int", 4);
    const auto char_id = b.int_type("char", 1);
    const auto const_char = b.ref_type(Kind::const_, "", char_id);
    const auto ptr_const_char = b.ref_type(Kind::ptr, "", const_char);
    const auto const_ptr = b.ref_type(Kind::const_, "", b.ref_type(Kind::ptr, "", char_id));
    const auto array4 = b.array(int_id, int_id, 4);
    const auto ptr_array = b.ref_type(Kind::ptr, "", array4);
    const auto array_ptr = b.array(ptr_const_char, int_id, 3);
    const auto proto = b.type(0, info_word(Kind::func_proto, 2), int_id, {b.str("x"), int_id, 0, 0});
    const auto fn_ptr = b.ref_type(Kind::ptr, "", proto);
    const auto fwd = b.type(b.str("later"), info_word(Kind::fwd, 0, true), 0);
    const auto void_ptr = b.ref_type(Kind::ptr, "", 0);
    const auto enum64 = b.type(b.str("big"), info_word(Kind::enum64, 2, true), 8,
                               {b.str("minus"), 0xfffffffe, 0xffffffff, b.str("huge"), 0, 1});
    const auto signed_enum = b.type(b.str("small"), info_word(Kind::enum_, 1, true), 4, {b.str("neg"), 0xffffffff});
    const auto float_id = b.type(b.str("double"), info_word(Kind::float_, 0), 8);
    const auto tag = b.ref_type(Kind::type_tag, "user", int_id);
    const auto tag_ptr = b.ref_type(Kind::ptr, "", tag);
    const auto decl_tag = b.type(b.str("hint"), info_word(Kind::decl_tag, 0), proto, {0xffffffff});
    const auto restrict_ptr = b.ref_type(Kind::restrict_, "", void_ptr);
    const auto empty_proto = b.type(0, info_word(Kind::func_proto, 0), 0);
    const Types types = parse_types(b.build());

    CHECK(types.count() == empty_proto + 1);
    CHECK(types.get(0)->kind == Kind::void_);
    CHECK(types.get(static_cast<std::uint32_t>(types.count())) == nullptr);

    struct Row {
        std::uint32_t id;
        const char* name;
        std::optional<std::uint64_t> size;
    };
    const Row rows[] = {
        {0, "void", std::nullopt},
        {int_id, "int", 4},
        {ptr_const_char, "const char *", 8},
        {const_ptr, "char *const", 8},
        {array4, "int[4]", 16},
        {ptr_array, "int (*)[4]", 8},
        {array_ptr, "const char *[3]", 24},
        {proto, "int (int, ...)", std::nullopt},
        {fn_ptr, "int (*)(int, ...)", 8},
        {fwd, "union later", std::nullopt},
        {void_ptr, "void *", 8},
        {enum64, "enum big", 8},
        {signed_enum, "enum small", 4},
        {float_id, "double", 8},
        {tag_ptr, "__attribute__((btf_type_tag(\"user\"))) int *", 8},
        {decl_tag, "__attribute__((btf_decl_tag(\"hint\"))) int (int, ...)", std::nullopt},
        {restrict_ptr, "void *restrict", 8},
        {empty_proto, "void (void)", std::nullopt},
    };
    for (const Row& row : rows) {
        const std::string context = row.name;
        CAPTURE(context);
        CHECK(types.name_of(row.id) == row.name);
        const auto size = types.size_of(row.id);
        CHECK(size.has_value() == row.size.has_value());
        if (size && row.size) {
            CHECK(*size == *row.size);
        }
    }

    const Type* big = types.get(enum64);
    REQUIRE(big->enumerators.size() == 2);
    CHECK(big->enumerators[0].value == -2);
    CHECK(big->enumerators[1].value == 0x100000000LL);
    CHECK(types.get(signed_enum)->enumerators[0].value == -1);
    CHECK(types.get(decl_tag)->component_idx == -1);
    CHECK(types.get(proto)->params[0].name == "x");
    CHECK(types.resolve(tag) == int_id);
    CHECK(types.resolve(const_char) == char_id);
    CHECK(types.find("small", Kind::enum_) == signed_enum);
    CHECK(!types.find("small", Kind::struct_).has_value());

    CHECK(types.string_at(0) == "");
    CHECK(types.string_at(b.str("minus")) == "minus");
    CHECK(types.string_at(b.str("minus") + 2) == "nus");
    CHECK(!types.string_at(static_cast<std::uint32_t>(types.strings().size())).has_value());
    CHECK(!types.string_at(0xffffffff).has_value());

    const Types empty;
    CHECK(empty.count() == 1);
    CHECK(empty.name_of(0) == "void");
    CHECK(empty.string_at(0) == "");
}

TEST_CASE("btf: cycles, dangling ids and huge arrays give safe answers") {
    BtfBuilder b;
    const auto int_id = b.int_type("int", 4);
    const auto self_typedef = b.ref_type(Kind::typedef_, "loop", 1 + int_id); // refers to itself
    const auto a = b.ref_type(Kind::typedef_, "a", self_typedef + 2);         // a -> b -> a
    const auto bb = b.ref_type(Kind::const_, "", a);
    const auto self_const = b.ref_type(Kind::const_, "", bb + 1);
    const auto self_ptr = b.ref_type(Kind::ptr, "", self_const + 1);
    const auto dangling_ptr = b.ref_type(Kind::ptr, "", 999);
    const auto dangling_typedef = b.ref_type(Kind::typedef_, "gone", 999);
    const auto huge = b.array(int_id, int_id, 0xffffffff);
    const auto huge_chars = b.array(b.int_type("char", 1), int_id, 0x40000000);
    const auto nested = b.array(b.array(int_id, int_id, 0x10000), int_id, 0x10000);
    const auto dangling_array = b.array(999, 999, 2);
    const auto self_array = b.array(dangling_array + 1, int_id, 1);
    const Types types = parse_types(b.build());

    CHECK(types.resolve(self_typedef) == self_typedef);
    CHECK(!types.size_of(self_typedef).has_value());
    CHECK(types.size_of(self_typedef).error().message.find("deeper") != std::string::npos);
    CHECK(types.name_of(self_typedef) == "loop");
    const auto end = types.resolve(a);
    CHECK((end == a || end == bb));
    CHECK(!types.size_of(bb).has_value());
    CHECK(types.name_of(bb).find("const a") == 0);
    CHECK(types.name_of(self_const).find("...") != std::string::npos);
    CHECK(!types.size_of(self_const).has_value());
    CHECK(types.size_of(self_ptr).value() == 8); // a pointer's size never needs its target
    CHECK(types.name_of(self_ptr).find("...") != std::string::npos);

    CHECK(types.get(999) == nullptr);
    CHECK(types.name_of(dangling_ptr) == "<bad type 999> *");
    CHECK(types.name_of(999) == "<bad type 999>");
    CHECK(types.size_of(dangling_ptr).value() == 8);
    CHECK(types.resolve(dangling_typedef) == 999);
    CHECK(types.size_of(dangling_typedef).error().message.find("does not exist") != std::string::npos);
    CHECK(!types.size_of(dangling_array).has_value());
    CHECK(!types.size_of(self_array).has_value());

    const auto huge_size = types.size_of(huge);
    REQUIRE(!huge_size.has_value());
    CHECK(huge_size.error().message.find("overflow") != std::string::npos);
    CHECK(types.size_of(huge_chars).value() == 0x40000000);
    CHECK(!types.size_of(nested).has_value());
    CHECK(types.name_of(huge) == "int[4294967295]");
}

TEST_CASE("btf: name_of stays bounded on a self-referencing prototype") {
    // A func_proto whose 1000 parameters are pointers back to it: naive printing would never finish.
    constexpr std::uint32_t proto_id = 1;
    constexpr std::uint32_t ptr_id = 2;
    Bytes type_bytes = words({0, info_word(Kind::func_proto, 1000), ptr_id});
    for (int i = 0; i < 1000; ++i) {
        push_u32(type_bytes, 0);
        push_u32(type_bytes, ptr_id);
    }
    const Bytes tail = words({0, info_word(Kind::ptr, 0), proto_id});
    type_bytes.insert(type_bytes.end(), tail.begin(), tail.end());
    const Types types = parse_types(raw_btf(type_bytes, std::string(1, '\0')));
    const std::string name = types.name_of(ptr_id);
    CHECK(name.size() < 64 * 1024);
    CHECK(name.find("...") != std::string::npos);
    CHECK(types.size_of(ptr_id).value() == 8);
    CHECK(exercise(types) < 64 * 1024);
}

TEST_CASE("btf: corrupted .BTF sections are rejected with a clear message") {
    BtfBuilder b;
    const auto int_id = b.int_type("int", 4);
    b.type(b.str("foo"), info_word(Kind::struct_, 2), 8, {b.str("a"), int_id, 0, b.str("b"), int_id, 32});
    const Bytes valid = b.build();
    REQUIRE(Types::parse(valid).has_value());
    constexpr std::size_t types_at = 24;             // the header is 24 bytes
    constexpr std::size_t struct_at = types_at + 16; // after the int's record
    const auto strings_at = static_cast<std::size_t>(24 + 16 + 12 + 24);
    const std::size_t strings_end = valid.size(); // the last byte is the NUL of the last string

    struct Case {
        const char* name;
        Bytes bytes;
        const char* expected;
    };
    const auto with = [&](auto&& edit) {
        Bytes bytes = valid;
        edit(bytes);
        return bytes;
    };
    const Case cases[] = {
        {"empty", {}, "too few"},
        {"truncated header", Bytes(valid.begin(), valid.begin() + 12), "exceeds the section"},
        {"bad magic", with([](Bytes& v) { v[0] = 0x12; }), "bad magic"},
        {"big-endian", with([](Bytes& v) { std::swap(v[0], v[1]); }), "big-endian BTF is not supported"},
        {"version", with([](Bytes& v) { v[2] = 2; }), "version 2"},
        {"header length too small", with([](Bytes& v) { put_u32(v, 4, 8); }), "header length 8"},
        {"header length too large", with([](Bytes& v) { put_u32(v, 4, 0x7fffffff); }), "exceeds the section"},
        {"type section past the end", with([](Bytes& v) { put_u32(v, 12, 4096); }), "type section"},
        {"type offset overflow", with([](Bytes& v) { put_u32(v, 8, 0xfffffff0); }), "type section"},
        {"string section past the end", with([](Bytes& v) { put_u32(v, 20, 0xffffffff); }), "string section"},
        {"overlapping sections", with([](Bytes& v) { put_u32(v, 16, 4); }), "overlaps"},
        {"string section without leading NUL", with([&](Bytes& v) { v[strings_at] = 'x'; }), "NUL byte"},
        {"type name past the strings", with([&](Bytes& v) { put_u32(v, struct_at, 9999); }),
         "name offset 9999 is outside the string section"},
        {"member name past the strings", with([&](Bytes& v) { put_u32(v, struct_at + 12 + 12, 9999); }),
         "type 2 (struct foo) at byte 16 of the type section: member 1 name offset 9999 is outside"},
        {"unterminated string", with([&](Bytes& v) { v.at(strings_end - 1) = 'z'; }), "not NUL-terminated"},
        {"vlen overflow", with([&](Bytes& v) { put_u32(v, struct_at + 4, info_word(Kind::struct_, 0xffff)); }),
         "vlen 65535: its members need 786420 bytes"},
        {"unknown kind", with([&](Bytes& v) { put_u32(v, struct_at + 4, 25u << 24); }), "unknown kind 25"},
        {"kind zero", with([&](Bytes& v) { put_u32(v, struct_at + 4, 0); }), "unknown kind 0"},
        {"partial type record", with([&](Bytes& v) { put_u32(v, 12, 16 + 8); }), "needs 12 bytes"},
        {"int size", with([](Bytes& v) { put_u32(v, types_at + 8, 3); }), "int size 3"},
        {"int bits", with([](Bytes& v) { put_u32(v, types_at + 12, 33); }), "cannot hold 33 bits"},
        {"enum size", with([&](Bytes& v) {
             put_u32(v, struct_at + 4, info_word(Kind::enum_, 2));
             put_u32(v, struct_at + 8, 3);
         }),
         "enum size 3"},
    };
    for (const Case& c : cases) {
        const std::string case_name = c.name;
        CAPTURE(case_name);
        const auto result = Types::parse(c.bytes);
        REQUIRE(!result.has_value());
        CHECK_MESSAGE(result.error().message.find(c.expected) != std::string::npos, result.error().message);
        CHECK(result.error().message.rfind("BTF: ", 0) == 0);
    }
    CHECK(Types::parse(with([](Bytes& v) { std::swap(v[0], v[1]); })).error().kind == ErrorKind::unsupported);
    CHECK(Types::parse(with([](Bytes& v) { v[0] = 0; })).error().kind == ErrorKind::invalid_input);
}

TEST_CASE("btf: names that repeat a long string cannot exhaust memory") {
    // 40000 members all named by one 100 KB string would copy 4 GB out of a 580 KB section: refused.
    const std::string long_name(100 * 1024, 'n');
    Bytes type_bytes = words({0, info_word(Kind::int_, 0), 4, 32});
    for (int s = 0; s < 8; ++s) {
        const Bytes header = words({0, info_word(Kind::struct_, 5000), 4});
        type_bytes.insert(type_bytes.end(), header.begin(), header.end());
        for (int i = 0; i < 5000; ++i) {
            const Bytes m = words({1, 1, 0});
            type_bytes.insert(type_bytes.end(), m.begin(), m.end());
        }
    }
    const auto result = Types::parse(raw_btf(type_bytes, std::string(1, '\0') + long_name + '\0'));
    REQUIRE(!result.has_value());
    CHECK(result.error().message.find("repeats long strings") != std::string::npos);
}

TEST_CASE("btf: .BTF.ext records, handcrafted") {
    BtfBuilder b;
    const auto int_id = b.int_type("int", 4);
    const auto proto = b.type(0, info_word(Kind::func_proto, 0), int_id);
    const auto func = b.type(b.str("main"), info_word(Kind::func, embpf::btf::linkage_global), proto);
    const auto text = b.str(".text");
    const auto xdp = b.str("xdp");
    const auto file = b.str("/src/prog.c");
    const auto source = b.str("int main(void) {");
    const auto access = b.str("0:2:1");
    const Types types = parse_types(b.build());

    const Bytes func_block = words({8, xdp, 1, 0, func, text, 1, 16, func});
    const Bytes line_block = words({16, xdp, 2, 0, file, source, (7u << 10) | 5, 8, file, source, 8u << 10});
    const Bytes core_block = words({16, xdp, 1, 24, int_id, access, 9});
    const Bytes valid = build_ext(func_block, line_block, core_block);
    const auto ext = Ext::parse(valid, types);
    REQUIRE_MESSAGE(ext.has_value(), ext.error().message);
    REQUIRE(ext->sections().size() == 2);
    CHECK(ext->sections()[0].section == "xdp");
    const auto* x = ext->section("xdp");
    REQUIRE(x != nullptr);
    REQUIRE(x->funcs.size() == 1);
    CHECK(x->funcs[0] == embpf::btf::FuncInfo{0, func, "main"});
    REQUIRE(x->lines.size() == 2);
    CHECK(x->lines[0] == embpf::btf::LineInfo{0, "/src/prog.c", "int main(void) {", 7, 5});
    CHECK(x->lines[1].insn == 1);
    CHECK(x->lines[1].line == 8);
    CHECK(x->lines[1].column == 0);
    REQUIRE(x->relocations.size() == 1);
    CHECK(x->relocations[0] == embpf::btf::CoreRelocation{3, int_id, "0:2:1", CoreKind::type_size});
    CHECK(ext->section(".text")->funcs[0].insn == 2);

    // Records larger than the ones we know (a newer producer) are read by their known prefix.
    const auto wide = Ext::parse(build_ext(words({12, xdp, 1, 0, func, 0xdeadbeef}), {}, {}), types);
    REQUIRE(wide.has_value());
    CHECK(wide->section("xdp")->funcs[0].name == "main");

    // The header of older objects stops before core_relo_off.
    Bytes short_header = build_ext(func_block, {}, {});
    put_u32(short_header, 4, 24);
    put_u32(short_header, 8, 8); // func_info now starts 8 bytes later relative to the shorter header
    const auto old = Ext::parse(short_header, types);
    REQUIRE_MESSAGE(old.has_value(), old.error().message);
    CHECK(old->section("xdp")->funcs.size() == 1);

    struct Case {
        const char* name;
        Bytes bytes;
        const char* expected;
    };
    const auto with = [&](auto&& edit) {
        Bytes bytes = valid;
        edit(bytes);
        return bytes;
    };
    const std::size_t func_at = 32;
    const std::size_t line_at = func_at + func_block.size();
    const std::size_t core_at = line_at + line_block.size();
    const Case cases[] = {
        {"empty", {}, "too few"},
        {"bad magic", with([](Bytes& v) { v[1] = 0; }), "bad magic"},
        {"big-endian", with([](Bytes& v) { std::swap(v[0], v[1]); }), "big-endian BTF is not supported"},
        {"header length", with([](Bytes& v) { put_u32(v, 4, 16); }), "header length 16 is smaller than 24"},
        {"func_info past the end", with([](Bytes& v) { put_u32(v, 12, 0xfffffff0); }), "func_info (offset"},
        {"line_info offset overflow", with([](Bytes& v) { put_u32(v, 16, 0xffffffff); }), "ends past the end"},
        {"tiny block", with([](Bytes& v) { put_u32(v, 12, 2); }), "too short to hold its record size"},
        {"line record size", with([&](Bytes& v) { put_u32(v, line_at, 8); }),
         ".BTF.ext: line_info record size 8 is smaller than 16"},
        {"func record size", with([&](Bytes& v) { put_u32(v, func_at, 4); }), "record size 4 is smaller than 8"},
        {"record count overflow", with([&](Bytes& v) { put_u32(v, line_at + 8, 0xffffffff); }),
         "line_info of section \"xdp\": 4294967295 records of 16 bytes need"},
        {"partial section header", with([&](Bytes& v) { put_u32(v, 12, 8); }), "a section header needs 8 bytes"},
        {"section name", with([&](Bytes& v) { put_u32(v, func_at + 4, 99999); }), "section name offset 99999"},
        {"func type missing", with([&](Bytes& v) { put_u32(v, func_at + 16, 77); }), "type 77 does not exist"},
        {"func type not a func", with([&](Bytes& v) { put_u32(v, func_at + 16, int_id); }),
         "type 1 (int) is not a func"},
        {"unaligned instruction", with([&](Bytes& v) { put_u32(v, func_at + 12, 13); }), "not a multiple of 8"},
        {"file name", with([&](Bytes& v) { put_u32(v, line_at + 16, 99999); }), "file name offset 99999"},
        {"source line", with([&](Bytes& v) { put_u32(v, line_at + 20, 99999); }), "source line offset 99999"},
        {"core kind", with([&](Bytes& v) { put_u32(v, core_at + 24, 13); }), "unknown CO-RE relocation kind 13"},
        {"core type", with([&](Bytes& v) { put_u32(v, core_at + 16, 1234); }), "type 1234 does not exist"},
        {"core access", with([&](Bytes& v) { put_u32(v, core_at + 20, 99999); }), "access string offset 99999"},
    };
    for (const Case& c : cases) {
        const std::string case_name = c.name;
        CAPTURE(case_name);
        const auto result = Ext::parse(c.bytes, types);
        REQUIRE(!result.has_value());
        CHECK_MESSAGE(result.error().message.find(c.expected) != std::string::npos, result.error().message);
        CHECK(result.error().message.rfind(".BTF.ext: ", 0) == 0);
    }
}

TEST_SUITE_END();
