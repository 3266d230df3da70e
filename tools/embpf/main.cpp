// embpf: the command-line tool over the embpf library.
#include "commands.hpp"

#include "embpf/platform/json.hpp"

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

namespace embpf::tools {

std::optional<const platform::Platform*> platform_named(const std::string& name) {
    if (name.empty()) {
        return nullptr;
    }
    if (name == "windows") {
        return &platform::windows();
    }
    if (name == "linux") {
        return &platform::linux();
    }
    // A platform description (platform::to_json), kept for the process.
    static std::deque<platform::Platform> read;
    const auto text = read_file(name, std::size_t{64} << 20);
    if (!text) {
        std::cerr << "embpf: --platform takes windows, linux or a platform's JSON file\n";
        return std::nullopt;
    }
    auto described = platform::from_json(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
    if (!described) {
        std::cerr << "embpf: " << name << ": " << described.error().message << '\n';
        return std::nullopt;
    }
    return &read.emplace_back(std::move(described).value());
}

std::optional<std::vector<std::uint8_t>> read_file(const std::string& path, std::size_t limit) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
        std::cerr << "embpf: " << path << " is a directory\n";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "embpf: cannot open " << path << ": " << std::strerror(errno) << '\n';
        return std::nullopt;
    }
    std::vector<std::uint8_t> bytes;
    char buffer[65536];
    while (in) {
        in.read(buffer, sizeof buffer);
        bytes.insert(bytes.end(), buffer, buffer + in.gcount());
        if (bytes.size() > limit) {
            std::cerr << "embpf: " << path << " is longer than " << limit << " bytes\n";
            return std::nullopt;
        }
    }
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
    embpf::tools::add_gen_command(app, status);
    embpf::tools::add_show_command(app, status);
    embpf::tools::add_aot_command(app, status);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : embpf::tools::kExitBadInput;
    }
    return status;
}
