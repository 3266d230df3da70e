// `embpf aot FILE.o -o plugin.c`: the object's programs verified and written out as C (native mode), or built into a
// shared object with --shared, for hosts that may not generate code at run time (LoadOptions::engine = aot).
#include "../common/compile_c.hpp"
#include "commands.hpp"

#include "embpf/api/aot.hpp"
#include "embpf/api/object_spec.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

struct AotCommandOptions {
    std::string file;
    std::vector<std::string> programs;
    std::string platform;
    std::string prefix = "embpf_plugin";
    std::string module_symbol;
    std::string output;
    bool shared = false;
    bool no_lines = false;
};

// Writes `text` to `path` through a file beside it renamed into place, so that a build never sees half a file.
bool write_file(const std::filesystem::path& path, const std::string& text) {
    const std::filesystem::path partial = path.string() + ".partial." + std::to_string(::getpid());
    {
        std::ofstream out(partial, std::ios::binary);
        out << text;
        if (!out) {
            std::cerr << "embpf: cannot write " << partial.string() << '\n';
            std::error_code ignored;
            std::filesystem::remove(partial, ignored);
            return false;
        }
    }
    std::error_code error;
    std::filesystem::rename(partial, path, error);
    if (error) {
        std::cerr << "embpf: cannot write " << path.string() << ": " << error.message() << '\n';
        std::filesystem::remove(partial, error);
        return false;
    }
    return true;
}

int run_aot(const AotCommandOptions& options) {
    const auto chosen_platform = platform_named(options.platform);
    if (!chosen_platform) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(std::filesystem::path(options.file), *chosen_platform);
    if (!spec) {
        std::cerr << "embpf: " << spec.error().message << '\n';
        return kExitBadInput;
    }
    if (options.shared && options.output.empty()) {
        std::cerr << "embpf: aot --shared needs -o FILE.so\n";
        return kExitBadInput;
    }
    AotGenerateOptions generate;
    generate.programs = options.programs;
    generate.prefix = options.prefix;
    // A shared object is found by the module's one name (LoadOptions::aot_library).
    generate.module_symbol = options.shared ? "embpf_aot_module" : options.module_symbol;
    generate.lines = !options.no_lines;
    auto generated = generate_aot(*spec, spec->platform(), generate);
    if (!generated) {
        // A program that does not verify: no code, and the verifier's report.
        std::cerr << "embpf: " << generated.error().message << '\n';
        return generated.error().report ? kExitFailure : kExitBadInput;
    }
    if (!options.shared) {
        if (options.output.empty() || options.output == "-") {
            std::cout << generated->source;
            return std::cout ? kExitOk : kExitFailure;
        }
        return write_file(options.output, generated->source) ? kExitOk : kExitFailure;
    }
    const std::filesystem::path output(options.output);
    const std::filesystem::path c_file = output.string() + ".c";
    if (!write_file(c_file, generated->source)) {
        return kExitFailure;
    }
    const std::filesystem::path building = output.string() + ".partial." + std::to_string(::getpid());
    const auto failed = compile_shared(c_file, building);
    std::error_code error;
    std::filesystem::remove(c_file, error);
    if (failed) {
        std::filesystem::remove(building, error);
        std::cerr << "embpf: " << *failed << '\n';
        return kExitFailure;
    }
    std::filesystem::rename(building, output, error);
    if (error) {
        std::cerr << "embpf: cannot write " << output.string() << ": " << error.message() << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

} // namespace

void add_aot_command(CLI::App& app, int& status) {
    auto options = std::make_shared<AotCommandOptions>();
    CLI::App* command =
        app.add_subcommand("aot", "Verify an object's programs and write them out as C (or a shared object) for "
                                  "hosts that run compiled plugins (LoadOptions::engine = aot)");
    command->add_option("file", options->file, "the object file")->required();
    command->add_option("--program", options->programs, "compile only this program (repeatable)");
    command->add_option("--platform", options->platform, "windows, linux or a platform's JSON file");
    command->add_option("--prefix", options->prefix, "what the C symbols start with (a C identifier)");
    command->add_option("--module-symbol", options->module_symbol,
                        "the embpf_aot_module's symbol (default PREFIX_module)");
    command->add_option("-o,--output", options->output, "the C file to write (default: standard output)");
    command->add_flag("--shared", options->shared,
                      "build a shared object with the C compiler ($EMBPF_CC, $CC or cc) instead of writing C");
    command->add_flag("--no-lines", options->no_lines, "no #line directives to the plugin's source");
    command->callback([options, &status] { status = run_aot(*options); });
}

} // namespace embpf::tools
