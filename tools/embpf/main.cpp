// embpf: the command-line tool over the embpf library.
#include "commands.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace embpf::tools {

const platform::Platform* platform_named(const std::string& name) {
    if (name == "windows") {
        return &platform::windows();
    }
    if (name == "linux") {
        return &platform::linux();
    }
    return nullptr;
}

std::optional<std::vector<std::uint8_t>> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "embpf: cannot open " << path << ": " << std::strerror(errno) << '\n';
        return std::nullopt;
    }
    std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) {
        std::cerr << "embpf: cannot read " << path << '\n';
        return std::nullopt;
    }
    return bytes;
}

} // namespace embpf::tools

int main(int argc, char** argv) {
    CLI::App app{"embpf: verified eBPF plugins for user-mode hosts"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "embpf 0.1.0");
    int status = embpf::tools::kExitOk;
    embpf::tools::add_isa_commands(app, status);
    embpf::tools::add_sections_command(app, status);
    embpf::tools::add_run_command(app, status);
    embpf::tools::add_verify_command(app, status);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : embpf::tools::kExitBadInput;
    }
    return status;
}
