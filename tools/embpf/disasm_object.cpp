// `embpf disasm FILE.o`: the programs of an object as the verifier numbers them, with their subprograms, map and
// global names for relocations, helpers by name and (-S) the C source lines from BTF line info.
#include "commands.hpp"

#include "embpf/api/object_spec.hpp"
#include "embpf/isa/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

// What names each instruction of one program: map and global references, externs, subprograms.
class Names {
  public:
    Names(const ObjectSpec& spec, const ProgramSpec& program) : m_spec(spec), m_program(program) {
        for (const elf::MapReference& ref : program.definition.map_references) {
            m_references[ref.instruction] = reference(ref);
        }
        for (const elf::ExternReference& ref : program.definition.externs) {
            m_references[ref.instruction] =
                ref.name + (ref.addend != 0 ? (ref.addend > 0 ? " + " : " - ") +
                                                  std::to_string(ref.addend > 0 ? ref.addend : -ref.addend)
                                            : "");
        }
        m_functions[0] = program.name();
        for (const elf::Subprogram& sub : program.definition.subprograms) {
            m_functions[sub.start] = sub.name;
        }
        m_type = spec.platform().program_type(program.type);
    }

    // The function that starts at `pc`, or nullptr.
    [[nodiscard]] const std::string* function_at(std::size_t pc) const {
        const auto found = m_functions.find(pc);
        return found != m_functions.end() ? &found->second : nullptr;
    }
    [[nodiscard]] const std::map<std::size_t, std::string>& functions() const noexcept { return m_functions; }

    // The instruction's text, its references named.
    [[nodiscard]] std::string text(std::size_t pc) const {
        const std::vector<isa::Instruction>& code = m_program.instructions();
        const isa::Instruction& ins = code[pc];
        if (const auto found = m_references.find(pc); found != m_references.end() && isa::is_lddw(ins)) {
            return "r" + std::to_string(ins.dst) + " = " + found->second + " ll";
        }
        std::string text = isa::disassemble_instruction(code, pc);
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::helper)) {
            const auto id = static_cast<std::uint32_t>(ins.imm);
            const platform::HelperPrototype* helper =
                m_type != nullptr ? m_spec.platform().helper(*m_type, id) : m_spec.platform().helper(id);
            return "call " + (helper != nullptr ? helper->name : std::string("unknown")) + "#" + std::to_string(id);
        }
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local)) {
            const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            if (const std::string* name = target >= 0 ? function_at(static_cast<std::size_t>(target)) : nullptr) {
                return text + " <" + *name + ">";
            }
        }
        if (isa::is_lddw(ins) && ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
            if (const std::string* name = target >= 0 ? function_at(static_cast<std::size_t>(target)) : nullptr) {
                return text + " <" + *name + ">";
            }
        }
        return text;
    }

  private:
    // A map's name, or a global's (the variable at the offset, else the map's name and the offset).
    [[nodiscard]] std::string reference(const elf::MapReference& ref) const {
        const std::string& map = m_spec.maps().at(ref.map).name;
        if (!ref.value) {
            return "map[" + map + "]";
        }
        for (const elf::Variable& variable : m_spec.variables()) {
            if (variable.map == ref.map && variable.offset == ref.offset) {
                return "&" + variable.name;
            }
        }
        if (m_spec.kconfig_map() == ref.map) {
            for (const elf::KconfigExtern& config : m_spec.kconfig()) {
                if (config.offset == ref.offset) {
                    return "&" + config.name;
                }
            }
        }
        return "&" + map + (ref.offset != 0 ? " + " + std::to_string(ref.offset) : "");
    }

    const ObjectSpec& m_spec;
    const ProgramSpec& m_program;
    const platform::ProgramType* m_type = nullptr;
    std::map<std::size_t, std::string> m_references;
    std::map<std::size_t, std::string> m_functions;
};

// The line records of a program by instruction, the last record of each instruction kept.
std::map<std::size_t, const btf::LineInfo*> lines_by_pc(const ProgramSpec& program) {
    std::map<std::size_t, const btf::LineInfo*> lines;
    for (const btf::LineInfo& line : program.definition.lines) {
        if (line.insn < program.instructions().size()) {
            lines[line.insn] = &line;
        }
    }
    return lines;
}

std::string hex_bytes(const isa::Instruction& ins) {
    std::string out;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&ins);
    for (std::size_t i = 0; i < sizeof ins; ++i) {
        char buffer[4];
        std::snprintf(buffer, sizeof buffer, "%02x", bytes[i]);
        out += (i == 0 ? "" : " ") + std::string(buffer);
    }
    return out;
}

void print_text(const ObjectSpec& spec, const ProgramSpec& program, bool source) {
    const Names names(spec, program);
    const auto lines = lines_by_pc(program);
    std::printf("Disassembly of program %s (section %s, type %s):\n", program.name().c_str(), program.section().c_str(),
                program.type.empty() ? "unknown" : program.type.c_str());
    const std::vector<isa::Instruction>& code = program.instructions();
    const btf::LineInfo* shown = nullptr;
    for (std::size_t pc = 0; pc < code.size(); pc += isa::is_lddw(code[pc]) ? 2 : 1) {
        if (const std::string* function = names.function_at(pc)) {
            std::printf("\n%s:\n", function->c_str());
        }
        if (source) {
            const auto found = lines.find(pc);
            if (found != lines.end() && !found->second->source.empty() &&
                (shown == nullptr || shown->line != found->second->line || shown->file != found->second->file)) {
                std::printf("; %s\n", found->second->source.c_str());
                shown = found->second;
            }
        }
        std::printf("%8zu:\t%s\n", pc, names.text(pc).c_str());
    }
    std::printf("\n");
}

nlohmann::ordered_json program_json(const ObjectSpec& spec, const ProgramSpec& program) {
    const Names names(spec, program);
    const auto lines = lines_by_pc(program);
    nlohmann::ordered_json out;
    out["name"] = program.name();
    out["section"] = program.section();
    out["type"] = program.type;
    nlohmann::ordered_json functions = nlohmann::ordered_json::array();
    const std::vector<isa::Instruction>& code = program.instructions();
    for (auto it = names.functions().begin(); it != names.functions().end(); ++it) {
        const auto next = std::next(it);
        const std::size_t end = next != names.functions().end() ? next->first : code.size();
        functions.push_back({{"name", it->second}, {"start", it->first}, {"length", end - it->first}});
    }
    out["functions"] = std::move(functions);
    nlohmann::ordered_json instructions = nlohmann::ordered_json::array();
    for (std::size_t pc = 0; pc < code.size(); pc += isa::is_lddw(code[pc]) ? 2 : 1) {
        nlohmann::ordered_json line;
        line["pc"] = pc;
        line["text"] = names.text(pc);
        line["bytes"] =
            hex_bytes(code[pc]) +
            (isa::is_lddw(code[pc]) && pc + 1 < code.size() ? " " + hex_bytes(code[pc + 1]) : std::string());
        if (const auto found = lines.find(pc); found != lines.end()) {
            line["source"] = {{"file", found->second->file},
                              {"line", found->second->line},
                              {"column", found->second->column},
                              {"text", found->second->source}};
        }
        instructions.push_back(std::move(line));
    }
    out["instructions"] = std::move(instructions);
    return out;
}

} // namespace

bool is_elf(std::span<const std::uint8_t> bytes) {
    return bytes.size() >= 4 && bytes[0] == 0x7F && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F';
}

int disassemble_object(const ObjectDisasmOptions& options, std::span<const std::uint8_t> bytes) {
    const auto chosen_platform = platform_named(options.platform);
    if (!chosen_platform) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(bytes, *chosen_platform);
    if (!spec) {
        std::cerr << options.file << ": " << spec.error().message << '\n';
        return kExitFailure;
    }
    std::vector<const ProgramSpec*> chosen;
    std::string names;
    for (const ProgramSpec& program : spec->programs()) {
        names += (names.empty() ? "" : ", ") + program.name() + " (" + program.section() + ")";
        if ((options.section.empty() || program.section() == options.section) &&
            (options.program.empty() || program.name() == options.program)) {
            chosen.push_back(&program);
        }
    }
    if (chosen.empty()) {
        std::cerr << options.file << ": "
                  << (options.program.empty() && options.section.empty()
                          ? std::string("the object has no programs")
                          : "no program " +
                                (options.program.empty() ? "in section " + options.section
                                                         : "named " + options.program) +
                                (names.empty() ? std::string() : "; the object has " + names))
                  << '\n';
        return kExitFailure;
    }
    if (options.json) {
        nlohmann::ordered_json out;
        out["file"] = options.file;
        out["programs"] = nlohmann::ordered_json::array();
        for (const ProgramSpec* program : chosen) {
            out["programs"].push_back(program_json(*spec, *program));
        }
        std::cout << out.dump(2) << '\n';
        return kExitOk;
    }
    for (const ProgramSpec* program : chosen) {
        print_text(*spec, *program, options.source);
    }
    return kExitOk;
}

} // namespace embpf::tools
