// libFuzzer target: the ELF reader must turn any bytes into an object or an error. An object it
// returns must hold together: every index it hands out (maps, instructions, variables, line and
// function info) points at something that exists, map references are the `lddw`s they name, and
// every program's instructions survive the disassembler and the assembler unchanged. A broken
// invariant is a finding (__builtin_trap).
#include "embpf/elf/object_file.hpp"
#include "embpf/isa/text.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

// What the run checked, printed at exit for tools/fuzz.sh, which fails a run that checked nothing.
struct Stats {
    std::uint64_t objects = 0;  ///< objects the reader returned, all checked
    std::uint64_t programs = 0; ///< programs round-tripped through the text form
    ~Stats() {
        std::fprintf(stderr, "stat::embpf_compared: %llu\nstat::embpf_programs_round_tripped: %llu\n",
                     static_cast<unsigned long long>(objects), static_cast<unsigned long long>(programs));
    }
} stats;

void finding(const char* what, const std::string& where) {
    std::fprintf(stderr, "fuzz_elf: %s: %s\n", where.c_str(), what);
    __builtin_trap();
}

constexpr std::uint8_t kLddw = 0x18;

void check_maps(const embpf::elf::ObjectFile& object) {
    for (const auto& map : object.maps) {
        if (map.inner_map && *map.inner_map >= object.maps.size()) {
            finding("inner map index past the last map", map.name);
        }
        for (const auto& entry : map.initial_entries) {
            if (entry.map && *entry.map >= object.maps.size()) {
                finding("initial entry names a map past the last one", map.name);
            }
            if (entry.map.has_value() == !entry.program.empty()) {
                finding("initial entry must name exactly one map or one program", map.name);
            }
        }
        if (map.origin == embpf::elf::MapOrigin::global_data) {
            if (map.initial_value.size() != map.value_size || map.max_entries != 1 || map.key_size != 4) {
                finding("global-data map is not one entry holding its section", map.name);
            }
        } else if (!map.initial_value.empty() || map.read_only) {
            finding("only global data has an initial value or is read-only", map.name);
        }
    }
    for (const auto& variable : object.variables) {
        if (variable.map >= object.maps.size()) {
            finding("variable in a map past the last one", variable.name);
        }
        const auto& map = object.maps[variable.map];
        if (map.origin != embpf::elf::MapOrigin::global_data ||
            std::uint64_t{variable.offset} + variable.size > map.value_size) {
            finding("variable lies outside its global-data map", variable.name);
        }
    }
}

void check_program(const embpf::elf::ObjectFile& object, const embpf::elf::ProgramDefinition& program) {
    const auto& code = program.instructions;
    if (code.empty()) {
        finding("program without instructions", program.name);
    }
    for (const auto& sub : program.subprograms) {
        if (sub.start == 0 || sub.length == 0 || sub.start > code.size() || sub.length > code.size() - sub.start) {
            finding("subprogram outside the program", program.name + "/" + sub.name);
        }
    }
    for (const auto& ref : program.map_references) {
        if (ref.instruction + 1 >= code.size() || code[ref.instruction].opcode != kLddw ||
            ref.map >= object.maps.size() || static_cast<std::size_t>(code[ref.instruction].imm) != ref.map) {
            finding("map reference is not the lddw of a known map", program.name);
        }
        const auto& map = object.maps[ref.map];
        const bool global = map.origin == embpf::elf::MapOrigin::global_data;
        if (ref.value != global ||
            (ref.value && (ref.offset > map.value_size ||
                           static_cast<std::uint32_t>(code[ref.instruction + 1].imm) != ref.offset))) {
            finding("map reference does not match its map", program.name);
        }
    }
    for (std::size_t i = 0; i < program.lines.size(); ++i) {
        if (program.lines[i].insn >= code.size() || (i > 0 && program.lines[i - 1].insn > program.lines[i].insn)) {
            finding("line info outside the program or out of order", program.name);
        }
    }
    for (const auto& function : program.functions) {
        if (function.insn >= code.size()) {
            finding("function info outside the program", program.name);
        }
    }
    for (const auto& relocation : program.core_relocations) {
        if (relocation.insn >= code.size()) {
            finding("CO-RE relocation outside the program", program.name);
        }
    }
    // What the reader links must read back through the text form unchanged.
    const std::string text = embpf::isa::disassemble(code);
    auto again = embpf::isa::assemble(text);
    if (!again) {
        std::fprintf(stderr, "%s\n%s\n", text.c_str(), again.error().message.c_str());
        finding("the assembler refuses the disassembler's text", program.name);
    }
    if (*again != code) {
        finding("disassembling and assembling changes the instructions", program.name);
    }
    ++stats.programs;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto object = embpf::elf::read_object(std::span<const std::uint8_t>(data, size));
    if (!object) {
        if (object.error().message.empty()) {
            finding("an error without a message", "object");
        }
        return 0;
    }
    ++stats.objects;
    check_maps(*object);
    for (const auto& program : object->programs) {
        check_program(*object, program);
    }
    return 0;
}
