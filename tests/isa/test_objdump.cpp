// Our disassembler against llvm-objdump on code clang compiled (see tests/isa/tests.cmake and tests/isa/bpf/).
#include "embpf/isa/text.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using embpf::isa::Instruction;

/// One code section as llvm-objdump printed it: instruction text by slot index.
struct DumpedSection {
    std::map<std::size_t, std::string> lines;
};

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

/// Parses `llvm-objdump -d --no-show-raw-insn` output into sections of `pc: text`.
std::map<std::string, DumpedSection> parse_objdump(const std::filesystem::path& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::map<std::string, DumpedSection> sections;
    DumpedSection* current = nullptr;
    const std::string section_prefix = "Disassembly of section ";
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(section_prefix, 0) == 0) {
            std::string name = line.substr(section_prefix.size());
            if (!name.empty() && name.back() == ':') {
                name.pop_back();
            }
            current = &sections[name];
            continue;
        }
        // Instruction lines are `<spaces><decimal pc>:\t<text>`; symbol headers (`0000... <f>:`) have no tab.
        const auto colon = line.find(":\t");
        if (current == nullptr || colon == std::string::npos) {
            continue;
        }
        const std::string pc_text = trim(line.substr(0, colon));
        if (pc_text.empty() || pc_text.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        std::string text = trim(line.substr(colon + 2));
        // Drop the `<LBB0_2>` annotation llvm-objdump appends to jump targets.
        if (!text.empty() && text.back() == '>' && text.front() != '<') {
            const auto annotation = text.rfind(" <");
            if (annotation != std::string::npos) {
                text = trim(text.substr(0, annotation));
            }
        }
        current->lines[std::stoul(pc_text)] = text;
    }
    return sections;
}

std::vector<Instruction> read_slots(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() % 8 == 0);
    std::vector<Instruction> slots;
    for (std::size_t i = 0; i < bytes.size(); i += 8) {
        const auto* b = &bytes[i];
        slots.push_back(embpf::isa::make(
            b[0], b[1] & 0x0f, b[1] >> 4, static_cast<std::int16_t>(static_cast<std::uint16_t>(b[2] | (b[3] << 8))),
            static_cast<std::int32_t>(static_cast<std::uint32_t>(b[4]) | (static_cast<std::uint32_t>(b[5]) << 8) |
                                      (static_cast<std::uint32_t>(b[6]) << 16) |
                                      (static_cast<std::uint32_t>(b[7]) << 24))));
    }
    return slots;
}

bool is_load_or_store(const std::string& text) {
    const bool memory = text.find("*(") != std::string::npos;
    const bool atomic = text.rfind("lock ", 0) == 0 || text.find("atomic_fetch_") != std::string::npos;
    return memory && !atomic;
}

/// Erases the documented differences between our text and llvm-objdump's: local calls (`call pc+N`, which
/// llvm-objdump prints as `call N`) and 32-bit register names in loads and stores (we print `rN` at every width).
std::string normalize(std::string text) {
    if (text.rfind("call pc", 0) == 0 && text.size() > 8) {
        text = "call " + std::string(text[7] == '-' ? "-" : "") + text.substr(8);
    }
    if (is_load_or_store(text)) {
        for (std::size_t i = 0; i + 1 < text.size(); ++i) {
            const bool word_start = i == 0 || text[i - 1] == ' ' || text[i - 1] == '(';
            if (word_start && text[i] == 'w' && text[i + 1] >= '0' && text[i + 1] <= '9') {
                text[i] = 'r';
            }
        }
    }
    return text;
}

/// The file name tests.cmake gives a section's bytes: string(MAKE_C_IDENTIFIER) of the section name.
std::string section_file_id(const std::string& section) {
    std::string id = section;
    for (auto& c : id) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!keep) {
            c = '_';
        }
    }
    return id;
}

} // namespace

TEST_CASE("objdump: our disassembly matches llvm-objdump on compiled programs") {
    const std::filesystem::path dir = EMBPF_TEST_ISA_DIR;
    std::set<std::string> objects;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".objdump") {
            objects.insert(entry.path().stem().string());
        }
    }
    // tests.cmake builds four objects; finding none would make the test pass without checking anything.
    REQUIRE(objects.size() >= 4);

    std::size_t compared = 0;
    for (const auto& object : objects) {
        const auto sections = parse_objdump(dir / (object + ".objdump"));
        REQUIRE_MESSAGE(!sections.empty(), object);
        for (const auto& [section_name, dumped] : sections) {
            const std::string where = object + ".o " + section_name;
            CAPTURE(where);
            const auto program = read_slots(dir / (object + "." + section_file_id(section_name) + ".bin"));
            REQUIRE(!program.empty());

            // Walk the program as our disassembler splits it; every instruction start must be one of objdump's.
            const std::string ours = embpf::isa::disassemble(program);
            std::istringstream our_lines(ours);
            std::string our_text;
            std::size_t pc = 0;
            std::size_t lines = 0;
            while (std::getline(our_lines, our_text)) {
                CAPTURE(pc);
                CHECK(our_text == embpf::isa::disassemble_instruction(program, pc));
                const auto it = dumped.lines.find(pc);
                REQUIRE_MESSAGE(it != dumped.lines.end(), "llvm-objdump has no instruction at this pc");
                if (it->second != "<unknown>") {
                    CHECK(normalize(our_text) == normalize(it->second));
                    ++compared;
                }
                pc += embpf::isa::is_lddw(program[pc]) && our_text.rfind(".quad", 0) != 0 ? 2 : 1;
                ++lines;
            }
            CHECK(pc == program.size());
            CHECK(lines == dumped.lines.size());

            // Our text assembles back to the exact bytes clang produced.
            const auto reassembled = embpf::isa::assemble(ours);
            REQUIRE_MESSAGE(reassembled.has_value(), (reassembled.has_value() ? "" : reassembled.error().message));
            CHECK(reassembled.value() == program);
        }
    }
    CHECK(compared > 300);
}
