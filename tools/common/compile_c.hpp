// Compiling generated C with the system's C compiler: what `embpf aot --shared`, `embpf-plugin --engine aot` and the
// tests use to turn exec::generate_c's output into a shared object. The compiler is $EMBPF_CC, else $CC, else cc.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace embpf::tools {

/// The C compiler to run: $EMBPF_CC, $CC or cc (one word: a command with arguments is not split).
[[nodiscard]] inline std::string c_compiler() {
    for (const char* name : {"EMBPF_CC", "CC"}) {
        if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
            return value;
        }
    }
    return "cc";
}

/// The flags generated C is compiled with: optimized, position-independent, every warning of -Wall -Wextra an error;
/// then those of $EMBPF_AOT_CFLAGS (words separated by spaces), such as -fsanitize=undefined.
[[nodiscard]] inline std::vector<std::string> c_flags() {
    std::vector<std::string> flags = {"-std=c11", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror"};
    if (const char* extra = std::getenv("EMBPF_AOT_CFLAGS"); extra != nullptr) {
        std::string word;
        for (const char* c = extra;; ++c) {
            if (*c == ' ' || *c == '\0') {
                if (!word.empty()) {
                    flags.push_back(word);
                }
                word.clear();
                if (*c == '\0') {
                    break;
                }
            } else {
                word += *c;
            }
        }
    }
    return flags;
}

/// Runs `arguments` (arguments[0] found on PATH), its standard output and error into `log`; its exit status, or
/// nullopt when it could not run or was killed.
[[nodiscard]] inline std::optional<int> run_command(const std::vector<std::string>& arguments,
                                                    const std::filesystem::path& log) {
    std::vector<char*> argv;
    for (const std::string& argument : arguments) {
        argv.push_back(const_cast<char*>(argument.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        return std::nullopt;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return std::nullopt;
        }
    }
    if (!WIFEXITED(status)) {
        return std::nullopt;
    }
    return WEXITSTATUS(status);
}

/// Compiles the C file `source` into the shared object `output`; the compiler's messages when it fails.
[[nodiscard]] inline std::optional<std::string> compile_shared(const std::filesystem::path& source,
                                                               const std::filesystem::path& output,
                                                               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> command = {c_compiler()};
    for (const std::string& flag : c_flags()) {
        command.push_back(flag);
    }
    for (const std::string& flag : extra) {
        command.push_back(flag);
    }
    command.insert(command.end(), {"-shared", "-o", output.string(), source.string()});
    const std::filesystem::path log = output.string() + ".log";
    const std::optional<int> status = run_command(command, log);
    std::string messages;
    if (std::ifstream in(log); in) {
        messages.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::error_code ignored;
    std::filesystem::remove(log, ignored);
    if (!status) {
        return "cannot run the C compiler " + command[0] + " (set EMBPF_CC or CC)";
    }
    if (*status != 0) {
        return command[0] + " failed (exit " + std::to_string(*status) + "):\n" + messages;
    }
    return std::nullopt;
}

} // namespace embpf::tools
