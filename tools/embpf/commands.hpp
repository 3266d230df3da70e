// Subcommands of the embpf tool. Each adds itself to the app and runs when chosen.
#pragma once

#include "embpf/platform/platform.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace embpf::tools {

/// Exit statuses shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

void add_isa_commands(CLI::App& app, int& status);
void add_sections_command(CLI::App& app, int& status);
void add_run_command(CLI::App& app, int& status);
void add_verify_command(CLI::App& app, int& status);
void add_gen_command(CLI::App& app, int& status);
void add_show_command(CLI::App& app, int& status);
void add_aot_command(CLI::App& app, int& status);

/// `embpf gen skeleton`: the C++ header of an object (gen_skeleton.cpp).
struct SkeletonOptions {
    std::string file;
    std::string name;                      ///< the namespace (default: the file's stem as an identifier)
    std::string platform;                  ///< windows, linux or a JSON file; empty: the object's own choice
    std::vector<std::string> ring_records; ///< MAP=TYPE: a ring buffer's record type from the object's BTF
    std::string output;
};
int run_gen_skeleton(const SkeletonOptions& options);

/// `embpf disasm` of an object file.
struct ObjectDisasmOptions {
    std::string file;
    std::string platform;
    std::string section; ///< only the programs of this section
    std::string program; ///< only the program of this name
    bool source = false; ///< -S: each C source line before its instructions
    bool json = false;
};
/// Whether `bytes` start as an ELF file does.
bool is_elf(std::span<const std::uint8_t> bytes);
/// Lists the chosen programs of the object in `bytes`.
int disassemble_object(const ObjectDisasmOptions& options, std::span<const std::uint8_t> bytes);

/// The platform a --platform option names: "windows", "linux" or a platform's JSON file (platform::from_json); nullptr
/// for an empty name, to let the object choose. std::nullopt (after printing why on stderr) when the file does not
/// read or describe a platform.
std::optional<const platform::Platform*> platform_named(const std::string& name);

/// Reads a whole file of at most `limit` bytes; std::nullopt (after printing why on stderr) when it cannot, when it
/// is a directory or when it is longer.
std::optional<std::vector<std::uint8_t>> read_file(const std::string& path, std::size_t limit = std::size_t{1} << 30);

} // namespace embpf::tools
