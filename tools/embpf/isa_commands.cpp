// `embpf asm` and `embpf disasm`: the text form of eBPF programs.
#include "commands.hpp"

#include "embpf/isa/decode.hpp"
#include "embpf/isa/text.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

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

int run_disasm(const DisasmOptions& options) {
    const auto bytes = read_file(options.input);
    if (!bytes) {
        return kExitBadInput;
    }
    auto program = isa::decode(std::span<const std::uint8_t>(*bytes));
    if (!program) {
        std::cerr << options.input << ": " << program.error().message << '\n';
        return kExitFailure;
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
    CLI::App* disassemble = app.add_subcommand("disasm", "Disassemble raw eBPF instruction bytes");
    disassemble->add_option("file", disasm_options->input, "raw instruction bytes (8 per slot)")->required();
    disassemble->add_flag("--pc", disasm_options->show_pc, "prefix each line with its slot index");
    disassemble->callback([disasm_options, &status] { status = run_disasm(*disasm_options); });
}

} // namespace embpf::tools
