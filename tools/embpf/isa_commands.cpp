// `embpf asm` and `embpf disasm`: the text form of eBPF programs.
#include "commands.hpp"

#include "embpf/exec/jit.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/isa/text.hpp"

#ifdef EMBPF_HAVE_CAPSTONE
#include <capstone/capstone.h>
#endif

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

struct AsmOptions {
    std::string input;
    std::string output;
    bool hex = false;
};

struct DisasmOptions {
    std::string input;
    bool show_pc = false;
    bool jit = false;
    bool raw = false;             ///< raw instruction bytes, even when the file is an object
    ObjectDisasmOptions object{}; ///< an object file's listing
};

int run_asm(const AsmOptions& options) {
    const auto source = read_file(options.input);
    if (!source) {
        return kExitBadInput;
    }
    auto program = isa::assemble(std::string_view(reinterpret_cast<const char*>(source->data()), source->size()));
    if (!program) {
        std::cerr << options.input << ": " << program.error().message << '\n';
        return kExitFailure;
    }
    if (options.hex || options.output.empty()) {
        for (const isa::Instruction& ins : *program) {
            std::printf("%016llx\n", static_cast<unsigned long long>(isa::to_word(ins)));
        }
        return kExitOk;
    }
    std::ofstream out(options.output, std::ios::binary);
    out.write(reinterpret_cast<const char*>(program->data()),
              static_cast<std::streamsize>(program->size() * sizeof(isa::Instruction)));
    if (!out) {
        std::cerr << "embpf: cannot write " << options.output << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

// Where a listed program calls a helper: the listing shows the call, nothing runs it.
std::uint64_t listed_helper(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return 0; }

// Prints the machine code of [begin, end) of the JIT's code, one instruction a line (Capstone), or as bytes.
void print_machine_code(std::span<const std::uint8_t> code, std::size_t begin, std::size_t end, std::uint64_t address) {
#ifdef EMBPF_HAVE_CAPSTONE
    csh handle = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK) {
        cs_insn* insns = nullptr;
        const std::size_t count = cs_disasm(handle, code.data() + begin, end - begin, address + begin, 0, &insns);
        std::size_t listed = begin;
        for (std::size_t i = 0; i < count; ++i) {
            std::printf("    %6zx:  %-8s %s\n", static_cast<std::size_t>(insns[i].address - address), insns[i].mnemonic,
                        insns[i].op_str);
            listed += insns[i].size;
        }
        cs_free(insns, count);
        cs_close(&handle);
        if (listed == end) {
            return;
        }
        begin = listed; // what Capstone could not decode follows as bytes
    }
#else
    (void)address;
#endif
    for (std::size_t at = begin; at < end; at += 16) {
        std::printf("    %6zx: ", at);
        for (std::size_t i = at; i < std::min(end, at + 16); ++i) {
            std::printf(" %02x", code[i]);
        }
        std::printf("\n");
    }
}

// `disasm --jit`: each instruction with the machine code the baseline JIT makes of it. Map references (pseudo lddw)
// list as their constants, helpers as calls to a placeholder: the code is listed, never run.
int list_jit(const DisasmOptions& options, std::vector<isa::Instruction> program) {
    exec::HelperTable helpers;
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        isa::Instruction& ins = program[pc];
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::helper) &&
            ins.imm >= 0) {
            helpers.set(static_cast<std::uint32_t>(ins.imm), &listed_helper);
        }
        if (isa::is_lddw(ins) && ins.src != static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            ins.src = static_cast<std::uint8_t>(isa::LddwSource::imm64);
        }
    }
    auto jit = exec::Jit::create(program, std::move(helpers));
    if (!jit) {
        std::cerr << options.input << ": " << jit.error().message << '\n';
        return kExitFailure;
    }
    const std::span<const std::uint8_t> code = jit->machine_code();
    const std::span<const exec::JitLine> lines = jit->lines();
    std::printf("; entry, abort and callback thunk\n");
    print_machine_code(code, 0, lines.empty() ? code.size() : lines.front().offset, 0);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::size_t end = i + 1 < lines.size() ? lines[i + 1].offset : code.size();
        std::printf("%s%s\n", options.show_pc ? (std::to_string(lines[i].pc) + ": ").c_str() : "",
                    isa::disassemble_instruction(program, lines[i].pc).c_str());
        print_machine_code(code, lines[i].offset, end, 0);
    }
    return kExitOk;
}

int run_disasm(const DisasmOptions& options) {
    const auto bytes = read_file(options.input);
    if (!bytes) {
        return kExitBadInput;
    }
    if (!options.raw && is_elf(*bytes)) {
        if (options.jit) {
            std::cerr << options.input << ": --jit lists raw instruction bytes (with --raw); an object's programs "
                      << "are listed as eBPF\n";
            return kExitBadInput;
        }
        ObjectDisasmOptions object = options.object;
        object.file = options.input;
        return disassemble_object(object, *bytes);
    }
    const bool object_only = !options.object.section.empty() || !options.object.program.empty() ||
                             options.object.source || options.object.json || !options.object.platform.empty();
    if (object_only) {
        std::cerr << options.input << ": --section, --program, -S, --json and --platform list an object file's "
                  << "programs; this is " << (options.raw ? "read as raw instruction bytes (--raw)" : "no ELF file")
                  << '\n';
        return kExitBadInput;
    }
    auto program = isa::decode(std::span<const std::uint8_t>(*bytes));
    if (!program) {
        std::cerr << options.input << ": " << program.error().message << '\n';
        return kExitFailure;
    }
    if (options.jit) {
        return list_jit(options, *program);
    }
    std::cout << isa::disassemble(*program, {.show_pc = options.show_pc});
    return kExitOk;
}

} // namespace

void add_isa_commands(CLI::App& app, int& status) {
    auto asm_options = std::make_shared<AsmOptions>();
    CLI::App* assemble = app.add_subcommand("asm", "Assemble LLVM-syntax eBPF text into instruction bytes");
    assemble->add_option("file", asm_options->input, "assembler source")->required();
    assemble->add_option("-o,--output", asm_options->output, "write raw instruction bytes here");
    assemble->add_flag("--hex", asm_options->hex, "print one 64-bit word per slot instead");
    assemble->callback([asm_options, &status] { status = run_asm(*asm_options); });

    auto disasm_options = std::make_shared<DisasmOptions>();
    CLI::App* disassemble =
        app.add_subcommand("disasm", "Disassemble the programs of an eBPF object, or raw instruction bytes");
    disassemble
        ->add_option("file", disasm_options->input, "an eBPF object (ELF), or raw instruction bytes (8 per slot)")
        ->required();
    disassemble->add_option("--section", disasm_options->object.section, "only the programs of this section");
    disassemble->add_option("--program", disasm_options->object.program, "only the program of this name");
    disassemble->add_flag("-S,--source", disasm_options->object.source,
                          "show each C source line (BTF line info) before its instructions");
    disassemble->add_flag("--json", disasm_options->object.json, "print the listing as JSON");
    disassemble->add_option(
        "--platform", disasm_options->object.platform,
        "name helpers as this platform does: windows, linux or a platform's JSON file (default: the object's)");
    disassemble->add_flag("--raw", disasm_options->raw, "read the file as raw instruction bytes even if it is ELF");
    disassemble->add_flag("--pc", disasm_options->show_pc, "prefix each line with its slot index (raw bytes)");
    disassemble->add_flag("--jit", disasm_options->jit,
                          "show the machine code the baseline JIT makes of each instruction");
    disassemble->callback([disasm_options, &status] { status = run_disasm(*disasm_options); });
}

} // namespace embpf::tools
