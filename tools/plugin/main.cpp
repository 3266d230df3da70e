// embpf-plugin: runs one program for the eBPF conformance runner.
//
//   embpf-plugin [MEM_HEX] [--engine interpreter|jit|optimized|automatic|aot] [--mode checked|fast]
//                [--instruction-budget N]
//
// The program's bytes come as hex on stdin; r0 is printed in hex on stdout. A refused program
// exits non-zero with the reason on stdout, as the runner expects.
#include "../common/compile_c.hpp"
#include "../common/hex.hpp"
#include "embpf/exec/aot.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/decode.hpp"

#include <CLI/CLI.hpp>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace {

// The conformance suite's helper 5 returns its first argument; a zero result ends the program.
std::uint64_t unwind_helper(std::uint64_t r1, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return r1; }

int refuse(const std::string& message) {
    std::cout << message << '\n';
    return 1;
}

// r0, or the refusal of a run the metering budget stopped.
int print(const embpf::exec::RunOutcome& outcome) {
    if (outcome.budget_exhausted) {
        return refuse("instruction budget exhausted");
    }
    std::printf("%llx\n", static_cast<unsigned long long>(outcome.r0));
    return 0;
}

// The aot engine: the program written out as C, built by the system's C compiler into a shared object, opened and
// run. The objects are kept in a cache directory by the code's fingerprint ($EMBPF_AOT_CACHE, else a directory of the
// user's under the temporary directory), so that the suite compiles each case once.
int run_aot(const std::vector<embpf::isa::Instruction>& program, const embpf::exec::HelperTable& helpers, void* ctx,
            std::size_t ctx_size) {
    namespace fs = std::filesystem;
    const embpf::exec::AotOptions options{.symbol = "conformance_case"};
    auto source = embpf::exec::generate_c(program, helpers, options);
    if (!source) {
        return refuse(source.error().message);
    }
    fs::path cache;
    if (const char* dir = std::getenv("EMBPF_AOT_CACHE"); dir != nullptr && *dir != '\0') {
        cache = dir;
    } else {
        cache = fs::temp_directory_path() / ("embpf-aot-cache-" + std::to_string(::getuid()));
    }
    std::error_code error;
    fs::create_directories(cache, error);
    // Keyed by the code and by how it is built (the compiler and its flags).
    std::string key = source->fingerprint + '\n' + embpf::tools::c_compiler();
    for (const std::string& flag : embpf::tools::c_flags()) {
        key += '\n' + flag;
    }
    const std::string name =
        embpf::exec::sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
    const fs::path library = cache / (name + ".so");
    if (!fs::exists(library)) {
        const std::array<embpf::exec::AotModuleEntry, 1> entries = {
            embpf::exec::AotModuleEntry{"conformance_case", ".text", "", options.symbol, *source}};
        const std::string text =
            embpf::exec::aot_module_source(entries, "", "conformance", "embpf_aot_module", "a conformance case");
        // Written and built under names of this process's, then renamed: runs in parallel never see half a file.
        const std::string unique = "." + std::to_string(::getpid());
        const fs::path c_file = cache / (name + unique + ".c");
        const fs::path building = cache / (name + unique + ".so");
        {
            std::ofstream out(c_file);
            out << text;
            if (!out) {
                return refuse("cannot write " + c_file.string());
            }
        }
        const auto failed = embpf::tools::compile_shared(c_file, building);
        fs::remove(c_file, error);
        if (failed) {
            fs::remove(building, error);
            return refuse("aot: " + *failed);
        }
        fs::rename(building, library, error);
        if (error) {
            return refuse("cannot store " + library.string() + ": " + error.message());
        }
    }
    auto opened = embpf::exec::AotLibrary::open(library);
    if (!opened) {
        return refuse(opened.error().message);
    }
    const embpf_aot_program* compiled = opened->find("conformance_case");
    if (compiled == nullptr) {
        return refuse(library.string() + " holds no program conformance_case");
    }
    auto bound = embpf::exec::AotProgram::create(*compiled, program, helpers, options, opened->owner());
    if (!bound) {
        return refuse(bound.error().message);
    }
    return print({bound->run(ctx, ctx_size), false});
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Runs one eBPF program for the conformance suite: program hex on stdin, r0 in hex on stdout."};
    std::string memory_hex;
    std::string engine = "interpreter";
    std::uint64_t budget = 100'000'000;
    app.add_option("memory", memory_hex, "input memory, each byte as two hex digits");
    app.add_option("--engine", engine, "execution engine")
        ->check(CLI::IsMember({"interpreter", "jit", "optimized", "automatic", "aot"}));
    app.add_option("--budget", budget, "instruction budget of the checked run (0: none)");
    std::string mode = "checked";
    app.add_option("--mode", mode,
                   "checked: bounds-checked run (default); fast: the unchecked path of verified programs")
        ->check(CLI::IsMember({"checked", "fast"}));
    bool blind = false;
    app.add_flag("--blind-constants", blind, "jit: blind the program's constants in the machine code");
    std::uint64_t metering = 0;
    app.add_option(
        "--instruction-budget", metering,
        "metering budget of fast, jit and optimized runs (exec/engine.hpp; 0: none): a run it stops is refused");
    bool portable = false;
    app.add_flag("--portable-dispatch", portable, "use the interpreter's portable switch dispatch");
    CLI11_PARSE(app, argc, argv);

    const std::string program_hex{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    const auto program_bytes = embpf::tools::parse_hex(program_hex);
    if (!program_bytes) {
        return refuse("program: stdin is not a sequence of hex bytes");
    }
    auto memory = embpf::tools::parse_hex(memory_hex);
    if (!memory) {
        return refuse("memory: argument is not a sequence of hex bytes");
    }
    auto program = embpf::isa::decode(std::span<const std::uint8_t>(*program_bytes));
    if (!program) {
        return refuse(program.error().message);
    }
    embpf::exec::HelperTable helpers;
    helpers.set(5, &unwind_helper);
    helpers.set_unwind(5);
    void* ctx = memory->empty() ? nullptr : memory->data();
    if (engine == "aot") { // C built by the system's compiler, run as the interpreter's fast loop runs: no checks
        if (metering != 0) {
            return refuse("aot: compiled code is not metered (--instruction-budget)");
        }
        return run_aot(*program, helpers, ctx, memory->size());
    }
    if (engine == "jit") { // machine code runs as the interpreter's fast loop does: no checks
        auto jit = embpf::exec::Jit::create(*program, std::move(helpers),
                                            {.blind_constants = blind, .instruction_budget = metering});
        if (!jit) {
            return refuse(jit.error().message);
        }
        return print(jit->run_metered(ctx, memory->size()));
    }
    if (engine == "automatic") {
        // What a program loaded with `automatic` runs over its life: its baseline (the JIT's code, or the
        // interpreter's fast loop where the JIT does not translate), then, where the optimizing JIT compiles it, LLVM's
        // code on a fresh copy of the memory. The two must agree, the budget's stop included.
        const std::vector<std::uint8_t> initial = *memory;
        embpf::exec::RunOutcome baseline;
        if (auto jit = embpf::exec::Jit::create(*program, helpers,
                                                {.blind_constants = blind, .instruction_budget = metering})) {
            baseline = jit->run_metered(ctx, memory->size());
        } else {
            auto interpreter = embpf::exec::Interpreter::create(
                *program, helpers, {.portable_dispatch = portable, .instruction_budget = metering});
            if (!interpreter) {
                return refuse(interpreter.error().message);
            }
            baseline = interpreter->run_metered(ctx, memory->size());
        }
        auto optimized =
            embpf::exec::OptimizedJit::create(*program, std::move(helpers), {.instruction_budget = metering});
        if (!optimized) {
            return print(baseline); // not promoted: it stays in the baseline
        }
        *memory = initial;
        const embpf::exec::RunOutcome promoted = optimized->run_metered(ctx, memory->size());
        if (promoted.r0 != baseline.r0 || promoted.budget_exhausted != baseline.budget_exhausted) {
            char message[160];
            std::snprintf(
                message, sizeof message, "automatic: the optimized code returned %llx%s, the baseline %llx%s",
                static_cast<unsigned long long>(promoted.r0), promoted.budget_exhausted ? " (budget exhausted)" : "",
                static_cast<unsigned long long>(baseline.r0), baseline.budget_exhausted ? " (budget exhausted)" : "");
            return refuse(message);
        }
        return print(baseline);
    }
    if (engine == "optimized") { // LLVM's code, for verified programs as the JIT's
        auto optimized =
            embpf::exec::OptimizedJit::create(*program, std::move(helpers), {.instruction_budget = metering});
        if (!optimized) {
            return refuse(optimized.error().message);
        }
        return print(optimized->run_metered(ctx, memory->size()));
    }
    auto interpreter = embpf::exec::Interpreter::create(
        *program, std::move(helpers), {.portable_dispatch = portable, .instruction_budget = metering});
    if (!interpreter) {
        return refuse(interpreter.error().message);
    }
    if (mode == "fast") {
        return print(interpreter->run_metered(ctx, memory->size()));
    }
    embpf::exec::CheckedOptions options;
    options.instruction_budget = budget;
    auto outcome = interpreter->run_checked(ctx, memory->size(), options);
    if (!outcome) {
        return refuse(outcome.error().message);
    }
    std::printf("%llx\n", static_cast<unsigned long long>(outcome->r0));
    return 0;
}
