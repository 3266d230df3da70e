// The ELF reader against objects compiled in the build, checked with llvm-objdump's view of the
// same objects, and against a corpus of broken objects.
#include "embpf/elf/object_file.hpp"
#include "embpf/isa/decode.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace embpf;

namespace {

const std::string kDir = EMBPF_TEST_ELF_DIR;

std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// llvm-objdump -d -r -l, per function: each slot's bytes, the relocation on it, the source line.
struct DumpSlot {
    std::uint64_t word = 0;
    std::string relocation_type;
    std::string relocation_symbol;
    int line = 0;
};
using Dump = std::map<std::string, std::vector<DumpSlot>>; // function name -> slots

std::uint64_t word_of(const std::vector<unsigned>& bytes, std::size_t first) {
    std::uint64_t word = 0;
    for (int b = 7; b >= 0; --b) {
        word = (word << 8) | bytes[first + static_cast<std::size_t>(b)];
    }
    return word;
}

Dump parse_objdump(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    Dump dump;
    std::string function;
    int line = 0;
    std::size_t last_instruction = 0; // first slot of the latest instruction line (a lddw takes two)
    std::string text;
    while (std::getline(in, text)) {
        if (text.size() > 2 && text.back() == ':' && text.find(" <") != std::string::npos && text[0] != ' ') {
            const auto open = text.find('<');
            const std::string name = text.substr(open + 1, text.rfind('>') - open - 1);
            if (name.rfind("LBB", 0) != 0) {
                function = name;
            }
            continue;
        }
        if (text.rfind("; ", 0) == 0) {
            const auto colon = text.rfind(':');
            if (colon != std::string::npos) {
                line = std::atoi(text.c_str() + colon + 1);
            }
            continue;
        }
        if (text.find("R_BPF_") != std::string::npos && !function.empty() && !dump[function].empty()) {
            std::istringstream fields(text);
            std::string offset, type, symbol;
            fields >> offset >> type >> symbol;
            dump[function][last_instruction].relocation_type = type;
            dump[function][last_instruction].relocation_symbol = symbol;
            continue;
        }
        const auto colon = text.find(":\t");
        if (colon == std::string::npos || function.empty()) {
            continue;
        }
        std::istringstream hex(text.substr(colon + 2, text.find('\t', colon + 2) - colon - 2));
        std::vector<unsigned> bytes;
        std::string byte;
        while (hex >> byte) {
            bytes.push_back(static_cast<unsigned>(std::stoul(byte, nullptr, 16)));
        }
        last_instruction = dump[function].size();
        for (std::size_t first = 0; first + 8 <= bytes.size(); first += 8) {
            dump[function].push_back({word_of(bytes, first), "", "", line});
        }
    }
    return dump;
}

const elf::ProgramDefinition* find_program(const elf::ObjectFile& object, const std::string& name) {
    for (const auto& program : object.programs) {
        if (program.name == name) {
            return &program;
        }
    }
    return nullptr;
}

const elf::MapDefinition* find_map(const elf::ObjectFile& object, const std::string& name) {
    for (const auto& map : object.maps) {
        if (map.name == name) {
            return &map;
        }
    }
    return nullptr;
}

// Checks `length` linked instructions starting at `start` against objdump's slots for `function`:
// unrelocated slots are identical; relocated ones keep their opcode and registers.
void check_against_dump(const elf::ObjectFile& object, const elf::ProgramDefinition& program, const Dump& dump,
                        const std::string& function, std::size_t start) {
    CAPTURE(program.name);
    CAPTURE(function);
    REQUIRE(dump.count(function) == 1);
    const auto& slots = dump.at(function);
    REQUIRE(start + slots.size() <= program.instructions.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
        CAPTURE(i);
        CAPTURE(slots[i].relocation_symbol);
        const isa::Instruction expected = isa::from_words(std::vector<std::uint64_t>{slots[i].word})[0];
        const isa::Instruction& got = program.instructions[start + i];
        if (slots[i].relocation_type.empty()) {
            const bool pc_relative_call = got.opcode == isa::op::CALL_OP && got.src == 1;
            if (!pc_relative_call) {
                CHECK(got == expected);
            }
            continue;
        }
        CHECK(got.opcode == expected.opcode);
        CHECK(got.dst == expected.dst);
        const std::string& symbol = slots[i].relocation_symbol;
        if (slots[i].relocation_type == "R_BPF_64_64") {
            auto ref = std::find_if(program.map_references.begin(), program.map_references.end(),
                                    [&](const elf::MapReference& r) { return r.instruction == start + i; });
            REQUIRE(ref != program.map_references.end());
            const std::string& map_name = object.maps.at(ref->map).name;
            // A section symbol names the section (global data); otherwise the map or variable.
            bool names_it = map_name == symbol;
            for (const auto& variable : object.variables) {
                names_it = names_it || (variable.name == symbol && variable.map == ref->map && ref->value &&
                                        variable.offset == ref->offset);
            }
            CHECK_MESSAGE(names_it, "relocation against " << symbol << " became a reference to " << map_name);
            CHECK(got.src == (ref->value ? 6 : 5));
            ++i; // the second slot now carries the value offset
        } else if (slots[i].relocation_type == "R_BPF_64_32") {
            // Against a function symbol the callee is that function; against the section symbol of
            // .text (static callees) it is whichever function the original offset pointed at.
            const auto target = static_cast<std::int64_t>(start + i) + 1 + got.imm;
            auto sub =
                std::find_if(program.subprograms.begin(), program.subprograms.end(), [&](const elf::Subprogram& s) {
                    return symbol == ".text" ? static_cast<std::int64_t>(s.start) == target : s.name == symbol;
                });
            REQUIRE(sub != program.subprograms.end());
            CHECK(got.src == 1);
            CHECK(target == static_cast<std::int64_t>(sub->start));
        } else {
            FAIL("unexpected relocation " << slots[i].relocation_type);
        }
    }
}

} // namespace

TEST_CASE("elf reader: a libbpf-style object with BTF maps, global data and subprograms") {
    const std::string path = kDir + "/libbpf_style.o";
    auto object = elf::read_object(std::filesystem::path(path));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    CHECK(object->license == "GPL");
    CHECK_FALSE(object->has_windows_tag);
    REQUIRE(object->btf != nullptr);

    const auto* counts = find_map(*object, "counts");
    REQUIRE(counts != nullptr);
    CHECK(counts->origin == elf::MapOrigin::btf);
    CHECK(counts->type == 1); // BPF_MAP_TYPE_HASH
    CHECK(counts->key_size == 4);
    CHECK(counts->value_size == 8);
    CHECK(counts->max_entries == 128);
    CHECK(counts->key_type_name == "__u32");
    CHECK(counts->value_type_name == "__u64");

    const auto* stats = find_map(*object, "stats_map");
    REQUIRE(stats != nullptr);
    CHECK(stats->type == 2); // BPF_MAP_TYPE_ARRAY
    CHECK(stats->value_size == 16);
    CHECK(stats->value_type_name == "struct stats");

    const auto* rodata = find_map(*object, ".rodata");
    const auto* data = find_map(*object, ".data");
    const auto* bss = find_map(*object, ".bss");
    REQUIRE(rodata != nullptr);
    REQUIRE(data != nullptr);
    REQUIRE(bss != nullptr);
    CHECK(rodata->read_only);
    CHECK_FALSE(data->read_only);
    CHECK(data->value_size == 4);
    CHECK(data->initial_value == std::vector<std::uint8_t>{7, 0, 0, 0});
    CHECK(bss->value_size == 8);
    CHECK(bss->initial_value == std::vector<std::uint8_t>(8, 0));
    // .rodata holds config_port (53) and the bpf_printk format string.
    const std::string rodata_text(rodata->initial_value.begin(), rodata->initial_value.end());
    CHECK(rodata_text.find("dropping port %d") != std::string::npos);

    std::map<std::string, const elf::Variable*> variables;
    for (const auto& variable : object->variables) {
        variables[variable.name] = &variable;
    }
    REQUIRE(variables.count("config_port") == 1);
    CHECK(object->maps[variables["config_port"]->map].name == ".rodata");
    CHECK(variables["config_port"]->size == 4);
    std::uint32_t port = 0;
    std::memcpy(&port, rodata->initial_value.data() + variables["config_port"]->offset, 4);
    CHECK(port == 53);
    CHECK(variables["config_port"]->type_id != 0);
    REQUIRE(variables.count("threshold") == 1);
    CHECK(object->maps[variables["threshold"]->map].name == ".data");
    REQUIRE(variables.count("packets_seen") == 1);
    CHECK(object->maps[variables["packets_seen"]->map].name == ".bss");

    REQUIRE(object->programs.size() == 1);
    const auto& program = object->programs[0];
    CHECK(program.name == "xdp_count");
    CHECK(program.section == "xdp");
    CHECK_FALSE(program.unsupported.has_value());
    std::vector<std::string> subprograms;
    for (const auto& sub : program.subprograms) {
        subprograms.push_back(sub.name);
    }
    std::sort(subprograms.begin(), subprograms.end());
    CHECK(subprograms == std::vector<std::string>{"classify", "hash_port"});
    CHECK(isa::validate(program.instructions).has_value());

    const Dump dump = parse_objdump(kDir + "/libbpf_style.objdump");
    check_against_dump(*object, program, dump, "xdp_count", 0);
    for (const auto& sub : program.subprograms) {
        check_against_dump(*object, program, dump, sub.name, sub.start);
        CHECK(sub.length == dump.at(sub.name).size());
    }

    // Line info: every BTF line record agrees with the DWARF line objdump shows for that slot.
    REQUIRE_FALSE(program.lines.empty());
    std::vector<int> dwarf_lines(program.instructions.size(), 0);
    auto fill = [&](const std::string& function, std::size_t start) {
        for (std::size_t i = 0; i < dump.at(function).size(); ++i) {
            dwarf_lines[start + i] = dump.at(function)[i].line;
        }
    };
    fill("xdp_count", 0);
    for (const auto& sub : program.subprograms) {
        fill(sub.name, sub.start);
    }
    bool saw_hash_port_body = false;
    for (const auto& line : program.lines) {
        CAPTURE(line.insn);
        REQUIRE(line.insn < program.instructions.size());
        CHECK(line.file.find("libbpf_style.c") != std::string::npos);
        if (line.line != 0) { // line 0 marks compiler-generated code, which DWARF leaves on the previous line
            CHECK(static_cast<int>(line.line) == dwarf_lines[line.insn]);
        }
        saw_hash_port_body = saw_hash_port_body || line.source.find("marker: hash_port body") != std::string::npos;
    }
    CHECK(saw_hash_port_body);
    // Function info names the entry and both subprograms at their linked positions.
    std::vector<std::string> functions;
    for (const auto& func : program.functions) {
        functions.push_back(func.name);
    }
    std::sort(functions.begin(), functions.end());
    CHECK(functions == std::vector<std::string>{"classify", "hash_port", "xdp_count"});
    CHECK(program.func_type_id != 0);
}

TEST_CASE("elf reader: several programs in one section share a .text subprogram") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/multi_program.o"));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    CHECK(object->license == "Dual BSD/GPL");
    REQUIRE(object->programs.size() == 3);
    const Dump dump = parse_objdump(kDir + "/multi_program.objdump");
    for (const char* name : {"first", "second", "third"}) {
        const auto* program = find_program(*object, name);
        REQUIRE(program != nullptr);
        CHECK(program->section == (std::string(name) == "third" ? "tc" : "xdp"));
        REQUIRE(program->subprograms.size() == 1);
        CHECK(program->subprograms[0].name == "shared_helper");
        CHECK(program->instructions.size() == dump.at(name).size() + dump.at("shared_helper").size());
        check_against_dump(*object, *program, dump, name, 0);
        check_against_dump(*object, *program, dump, "shared_helper", program->subprograms[0].start);
    }
}

namespace {

// Where a section's header and contents are, read straight from the ELF64 header, so that tests can
// damage one field.
struct SectionLocation {
    std::size_t header = 0;
    std::size_t offset = 0;
    std::size_t size = 0;
};

template <typename T>
T read_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

std::optional<SectionLocation> locate_section(const std::vector<std::uint8_t>& bytes, const std::string& name) {
    const auto shoff = read_at<std::uint64_t>(bytes, 0x28);
    const auto shentsize = read_at<std::uint16_t>(bytes, 0x3a);
    const auto shnum = read_at<std::uint16_t>(bytes, 0x3c);
    const auto shstrndx = read_at<std::uint16_t>(bytes, 0x3e);
    const std::size_t names = read_at<std::uint64_t>(bytes, shoff + shstrndx * shentsize + 0x18);
    for (std::size_t i = 0; i < shnum; ++i) {
        const std::size_t header = shoff + i * shentsize;
        const char* section_name =
            reinterpret_cast<const char*>(bytes.data()) + names + read_at<std::uint32_t>(bytes, header);
        if (name == section_name) {
            return SectionLocation{header, read_at<std::uint64_t>(bytes, header + 0x18),
                                   read_at<std::uint64_t>(bytes, header + 0x20)};
        }
    }
    return std::nullopt;
}

struct BrokenCase {
    const char* name;
    void (*damage)(std::vector<std::uint8_t>&);
    const char* expected; // a phrase the error must contain
};

void set_u16(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint16_t value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

void set_u64(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint64_t value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// Rewrites the type of the first relocation in .relxdp (r_info = symbol << 32 | type).
void set_first_relocation(std::vector<std::uint8_t>& bytes, std::uint64_t symbol, std::uint32_t type) {
    const auto rel = locate_section(bytes, ".relxdp");
    REQUIRE(rel.has_value());
    set_u64(bytes, rel->offset + 8, (symbol << 32) | type);
}

std::uint64_t first_relocation_symbol(const std::vector<std::uint8_t>& bytes) {
    const auto rel = locate_section(bytes, ".relxdp");
    REQUIRE(rel.has_value());
    return read_at<std::uint64_t>(bytes, rel->offset + 8) >> 32;
}

const BrokenCase kBroken[] = {
    {"empty file", [](std::vector<std::uint8_t>& b) { b.clear(); }, "not an ELF"},
    {"not ELF", [](std::vector<std::uint8_t>& b) { b[1] = 'X'; }, "bad magic"},
    {"truncated to the header", [](std::vector<std::uint8_t>& b) { b.resize(64); }, ""},
    {"truncated in half", [](std::vector<std::uint8_t>& b) { b.resize(b.size() / 2); }, ""},
    {"32-bit class", [](std::vector<std::uint8_t>& b) { b[4] = 1; }, "64-bit"},
    {"big-endian", [](std::vector<std::uint8_t>& b) { b[5] = 2; }, "big-endian"},
    {"wrong machine", [](std::vector<std::uint8_t>& b) { set_u16(b, 18, 62); }, "wrong machine 62"},
    {"executable, not relocatable", [](std::vector<std::uint8_t>& b) { set_u16(b, 16, 2); }, "ET_REL"},
    {"unknown relocation type",
     [](std::vector<std::uint8_t>& b) { set_first_relocation(b, first_relocation_symbol(b), 77); },
     "unknown relocation type 77"},
    {"relocation against a missing symbol", [](std::vector<std::uint8_t>& b) { set_first_relocation(b, 5000, 1); },
     "missing symbol 5000"},
    {"bad BTF magic",
     [](std::vector<std::uint8_t>& b) {
         const auto btf = locate_section(b, ".BTF");
         REQUIRE(btf.has_value());
         b[btf->offset] ^= 0xff;
     },
     ".BTF"},
    {"section data past the end of the file",
     [](std::vector<std::uint8_t>& b) {
         const auto xdp = locate_section(b, "xdp");
         REQUIRE(xdp.has_value());
         set_u64(b, xdp->header + 0x20, b.size() * 4);
     },
     ""},
    {"section headers that overlap",
     [](std::vector<std::uint8_t>& b) {
         // Every PROGBITS section made to hold the first half of the file: a small file read many times over.
         const auto shoff = read_at<std::uint64_t>(b, 0x28);
         const auto shentsize = read_at<std::uint16_t>(b, 0x3a);
         const auto shnum = read_at<std::uint16_t>(b, 0x3c);
         for (std::size_t i = 0; i < shnum; ++i) {
             const std::size_t header = shoff + i * shentsize;
             if (read_at<std::uint32_t>(b, header + 4) == 1) {
                 set_u64(b, header + 0x18, 0);
                 set_u64(b, header + 0x20, (b.size() / 2) & ~std::size_t{7});
             }
         }
     },
     "the sections hold more bytes together than the file has"},
    {"program section of odd size",
     [](std::vector<std::uint8_t>& b) {
         const auto xdp = locate_section(b, "xdp");
         REQUIRE(xdp.has_value());
         set_u64(b, xdp->header + 0x20, xdp->size - 3);
     },
     ""},
};

} // namespace

TEST_CASE("elf reader: broken objects give errors, never crashes") {
    const auto original = read_bytes(kDir + "/libbpf_style.o");
    for (const BrokenCase& c : kBroken) {
        CAPTURE(c.name);
        auto bytes = original;
        c.damage(bytes);
        auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
        REQUIRE_FALSE(object.has_value());
        CHECK_FALSE(object.error().message.empty());
        CHECK_MESSAGE(object.error().message.find(c.expected) != std::string::npos, object.error().message);
    }
}

TEST_CASE("elf reader: global-data sections are limited together, not only each") {
    auto bytes = read_bytes(kDir + "/libbpf_style.o");
    const auto bss = locate_section(bytes, ".bss");
    REQUIRE(bss.has_value());
    // .bss costs nothing in the file: 16 MiB is allowed for one section, but not beside .data and .rodata.
    set_u64(bytes, bss->header + 0x20, std::uint64_t{16} << 20);
    auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_FALSE(object.has_value());
    CHECK_MESSAGE(object.error().message.find("global-data sections hold more than 16777216 bytes together") !=
                      std::string::npos,
                  object.error().message);
}

TEST_CASE("elf reader: an object file past 64 MiB is refused before it is read") {
    std::vector<std::uint8_t> bytes((std::size_t{64} << 20) + 1, 0);
    auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_FALSE(object.has_value());
    CHECK_MESSAGE(object.error().message.find("the object file has 67108865 bytes, more than the 67108864") !=
                      std::string::npos,
                  object.error().message);
}

TEST_CASE("elf reader: a directory is refused by name, not read") {
    auto object = elf::read_object(std::filesystem::path(kDir));
    REQUIRE_FALSE(object.has_value());
    CHECK_MESSAGE(object.error().message.find("is a directory, not an object file") != std::string::npos,
                  object.error().message);
}

TEST_CASE("elf reader: a missing file names the path") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/does-not-exist.o"));
    REQUIRE_FALSE(object.has_value());
    CHECK(object.error().message.find("does-not-exist.o") != std::string::npos);
}

TEST_CASE("elf reader: inputs the fuzzer once broke it with are errors or objects now") {
    const std::filesystem::path dir = std::filesystem::path(EMBPF_TEST_SOURCE_DIR) / "fuzz" / "regressions" / "elf";
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        CAPTURE(entry.path().string());
        const auto bytes = read_bytes(entry.path().string());
        auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
        CHECK((object.has_value() || !object.error().message.empty()));
        ++count;
    }
    CHECK(count > 0);
}

// A program array initialized with a function symbol without a name (the fuzzer's input): no program can be found
// by that name, so the object is refused rather than read with an entry that names nothing.
TEST_CASE("elf reader: a program array entry must name its program") {
    const std::filesystem::path path = std::filesystem::path(EMBPF_TEST_SOURCE_DIR) / "fuzz" / "regressions" / "elf" /
                                       "unnamed-function-in-program-array";
    const auto bytes = read_bytes(path.string());
    auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_FALSE(object.has_value());
    CHECK(object.error().message.find("jump is initialized with a symbol without a name, which is neither a map nor "
                                      "a program") != std::string::npos);
}

TEST_CASE("elf reader: legacy Linux map definitions and a BTF map of maps") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/map_kinds.o"));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const auto* legacy = find_map(*object, "legacy_counts");
    REQUIRE(legacy != nullptr);
    CHECK(legacy->origin == elf::MapOrigin::legacy_linux);
    CHECK(legacy->type == 2);
    CHECK(legacy->key_size == 4);
    CHECK(legacy->value_size == 8);
    CHECK(legacy->max_entries == 16);

    const auto* outer = find_map(*object, "outer");
    REQUIRE(outer != nullptr);
    CHECK(outer->type == 12); // BPF_MAP_TYPE_ARRAY_OF_MAPS
    CHECK(outer->max_entries == 4);
    REQUIRE(outer->inner_map.has_value());
    const auto& inner = object->maps.at(*outer->inner_map);
    CHECK(inner.is_inner_template);
    CHECK(inner.type == 2);
    CHECK(inner.max_entries == 8);
    CHECK(inner.value_size == 8);

    // Both map references of the program resolve, one to each definition.
    REQUIRE(object->programs.size() == 1);
    std::vector<std::string> referenced;
    for (const auto& ref : object->programs[0].map_references) {
        referenced.push_back(object->maps.at(ref.map).name);
    }
    std::sort(referenced.begin(), referenced.end());
    CHECK(referenced == std::vector<std::string>{"legacy_counts", "outer"});
}

TEST_CASE("elf reader: a map definition that contradicts itself is refused, naming the map") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/contradiction.o"));
    REQUIRE_FALSE(object.has_value());
    CHECK(object.error().message.find("confused") != std::string::npos);
    CHECK(object.error().message.find("key_size 8 contradicts") != std::string::npos);
}

TEST_CASE("elf reader: the samples' 28-byte map records and static functions in a program section") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/legacy_samples.o"));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const auto* port_a = find_map(*object, "port_a");
    const auto* counts = find_map(*object, "counts");
    const auto* outer = find_map(*object, "outer");
    REQUIRE((port_a != nullptr && counts != nullptr && outer != nullptr));
    CHECK(port_a->origin == elf::MapOrigin::legacy_linux);
    CHECK(port_a->type == 2);
    CHECK(port_a->max_entries == 8);
    CHECK_FALSE(port_a->inner_map.has_value()); // numa_node is not an inner map
    CHECK(counts->type == 1);
    CHECK(counts->value_size == 8);
    CHECK(counts->max_entries == 64);
    REQUIRE(outer->inner_map.has_value());
    CHECK(object->maps.at(*outer->inner_map).name == "port_a");

    // Both functions of the socket section are programs; the static one is also the global one's subprogram.
    const auto* global_program = find_program(*object, "global_program");
    const auto* static_program = find_program(*object, "static_program");
    REQUIRE(global_program != nullptr);
    REQUIRE(static_program != nullptr);
    CHECK(static_program->section == "socket");
    CHECK(static_program->subprograms.empty());
    REQUIRE(global_program->subprograms.size() == 1);
    CHECK(global_program->subprograms[0].name == "static_program");
}

TEST_CASE("elf reader: iproute2's 36-byte map records name inner maps by id") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/legacy_iproute2.o"));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const auto* calls = find_map(*object, "calls");
    const auto* inner = find_map(*object, "maglev_inner");
    const auto* maglev = find_map(*object, "maglev");
    REQUIRE((calls != nullptr && inner != nullptr && maglev != nullptr));
    CHECK(calls->type == 3);
    CHECK(calls->pinning == 2);
    CHECK_FALSE(calls->inner_map.has_value());
    CHECK(inner->id == 7);
    CHECK(inner->value_size == 16);
    CHECK(maglev->key_size == 2);
    CHECK(maglev->inner_id == 7);
    REQUIRE(maglev->inner_map.has_value());
    CHECK(object->maps.at(*maglev->inner_map).name == "maglev_inner");
    const auto* program = find_program(*object, "tail_one");
    REQUIRE(program != nullptr);
    CHECK(program->section == "2/1");
}

TEST_CASE("elf reader: hundreds of maps named by id and of global-data sections read as each alone") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/many_records.o"));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    std::size_t outers = 0;
    for (const elf::MapDefinition& map : object->maps) {
        if (map.name.rfind("outer_", 0) != 0) {
            continue;
        }
        ++outers;
        CAPTURE(map.name);
        CHECK(map.id == 2000 + std::stoul(map.name.substr(6)));
        CHECK(map.inner_id == 1000);
        REQUIRE(map.inner_map.has_value());
        CHECK(object->maps.at(*map.inner_map).name == "inner_last"); // of two maps with one id, the last
    }
    CHECK(outers == 192);
    std::size_t variables = 0;
    for (const elf::Variable& variable : object->variables) {
        if (variable.name.rfind("variable_", 0) != 0) {
            continue;
        }
        ++variables;
        CAPTURE(variable.name);
        const elf::MapDefinition& map = object->maps.at(variable.map);
        CHECK(map.name == ".data.s" + variable.name.substr(9));
        CHECK(variable.offset == 0);
        CHECK(variable.size == 4);
        CHECK(variable.type_id != 0); // its DATASEC found among hundreds
        REQUIRE(map.initial_value.size() == 4);
        std::uint32_t value = 0;
        std::memcpy(&value, map.initial_value.data(), 4);
        CHECK(value == std::stoul(variable.name.substr(9)));
    }
    CHECK(variables == 192);
}

TEST_CASE("elf reader: a map record of an unknown layout is read only when its extra bytes are zero") {
    auto object = elf::read_object(std::filesystem::path(kDir + "/legacy_unknown.o"));
    REQUIRE_FALSE(object.has_value());
    CHECK_MESSAGE(object.error().message.find("maps: definition of odd is 24 bytes") != std::string::npos,
                  object.error().message);
    CHECK_MESSAGE(object.error().message.find("byte 20 past struct bpf_map_def is not zero") != std::string::npos,
                  object.error().message);

    // With the extra field zero, the record is a bpf_map_def followed by padding.
    auto bytes = read_bytes(kDir + "/legacy_unknown.o");
    const auto maps = locate_section(bytes, "maps");
    REQUIRE(maps.has_value());
    REQUIRE(maps->size == 24);
    std::memset(bytes.data() + maps->offset + 20, 0, 4);
    auto zeroed = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_MESSAGE(zeroed.has_value(), (zeroed ? "" : zeroed.error().message));
    REQUIRE(zeroed->maps.size() == 1);
    CHECK(zeroed->maps[0].type == 2);
    CHECK(zeroed->maps[0].max_entries == 1);
}

TEST_CASE("elf reader: e_machine 0, as older LLVM wrote it, reads as EM_BPF") {
    auto bytes = read_bytes(kDir + "/libbpf_style.o");
    auto reference = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE(reference.has_value());
    set_u16(bytes, 18, 0);
    auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    REQUIRE(object->programs.size() == reference->programs.size());
    for (std::size_t i = 0; i < object->programs.size(); ++i) {
        CHECK(object->programs[i].name == reference->programs[i].name);
        CHECK(object->programs[i].instructions.size() == reference->programs[i].instructions.size());
    }
}

TEST_CASE("elf reader: an older LLVM's object (e_machine 0, RELA with type-0 map relocations) reads like today's") {
    const auto original = read_bytes(kDir + "/legacy_samples.o");
    auto reference = elf::read_object(std::span<const std::uint8_t>(original));
    REQUIRE(reference.has_value());
    // Rewrite .relsocket as a RELA section at the end of the file: each 16-byte Elf64_Rel becomes a 24-byte
    // Elf64_Rela with addend 0, and map relocations (R_BPF_64_64, type 1) get type 0, as that LLVM wrote them.
    auto bytes = original;
    const auto rel = locate_section(bytes, ".relsocket");
    REQUIRE(rel.has_value());
    REQUIRE(rel->size % 16 == 0);
    const std::size_t table = bytes.size();
    std::size_t map_relocations = 0;
    for (std::size_t i = 0; i < rel->size / 16; ++i) {
        const auto offset = read_at<std::uint64_t>(original, rel->offset + i * 16);
        auto info = read_at<std::uint64_t>(original, rel->offset + i * 16 + 8);
        if ((info & 0xffffffff) == 1) {
            info &= ~std::uint64_t{0xffffffff};
            ++map_relocations;
        }
        bytes.resize(bytes.size() + 24);
        set_u64(bytes, table + i * 24, offset);
        set_u64(bytes, table + i * 24 + 8, info);
        set_u64(bytes, table + i * 24 + 16, 0);
    }
    CHECK(map_relocations >= 2);
    std::uint32_t rela_type = 4; // SHT_RELA
    std::memcpy(bytes.data() + rel->header + 4, &rela_type, 4);
    set_u64(bytes, rel->header + 0x18, table);
    set_u64(bytes, rel->header + 0x20, (rel->size / 16) * 24);
    set_u64(bytes, rel->header + 0x38, 24);
    set_u16(bytes, 18, 0); // e_machine
    auto object = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    REQUIRE(object->programs.size() == reference->programs.size());
    for (std::size_t p = 0; p < object->programs.size(); ++p) {
        const auto& got = object->programs[p];
        const auto& want = reference->programs[p];
        CHECK(got.name == want.name);
        CHECK(got.instructions == want.instructions);
        REQUIRE(got.map_references.size() == want.map_references.size());
        for (std::size_t m = 0; m < got.map_references.size(); ++m) {
            CHECK(got.map_references[m].map == want.map_references[m].map);
            CHECK(got.map_references[m].instruction == want.map_references[m].instruction);
        }
    }
    // A RELA addend is refused: the BPF target's relocations carry none.
    set_u64(bytes, table + 16, 8);
    auto refused = elf::read_object(std::span<const std::uint8_t>(bytes));
    REQUIRE_FALSE(refused.has_value());
    CHECK_MESSAGE(refused.error().message.find("has addend 8") != std::string::npos, refused.error().message);
}
