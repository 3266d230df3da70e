// Runs the eBPF conformance cases through a plugin executable, the way the public runner does:
// one process per case, memory as the first argument, program hex on stdin, r0 hex on stdout.
//
//   embpf_conformance PLUGIN DIR [--exclude NAME]... [--required-in-ci SHARED] [-- PLUGIN_OPTIONS...]
//
// Exits 0 when every case passes, 1 on a failure or when no case ran, 77 (skip) when DIR does not
// exist. Under CI (the environment has CI=true) with the directory SHARED present beside the
// checkout, where the suite ships, a missing DIR fails instead of skipping.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Case {
    std::string name;
    std::vector<std::uint64_t> words;
    std::vector<std::uint8_t> memory;
    std::optional<std::uint64_t> result;
    std::optional<std::string> error;
};

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) {
        return {};
    }
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::optional<std::uint64_t> parse_number(const std::string& text) {
    if (text.empty()) {
        return std::nullopt;
    }
    errno = 0;
    char* end = nullptr;
    const bool hex = text.rfind("0x", 0) == 0 || text.rfind("0X", 0) == 0;
    const unsigned long long value = std::strtoull(text.c_str(), &end, hex ? 16 : 10);
    if (errno != 0 || *end != '\0') {
        return std::nullopt;
    }
    return value;
}

std::optional<Case> parse_case(const std::filesystem::path& path, std::string& why) {
    std::ifstream in(path);
    if (!in) {
        why = "cannot open";
        return std::nullopt;
    }
    Case c;
    c.name = path.stem().string();
    std::string section;
    std::string line;
    std::string error_text;
    while (std::getline(in, line)) {
        const std::string text = trim(line);
        if (text.empty() || text[0] == '#') {
            continue;
        }
        if (text.rfind("--", 0) == 0) {
            section = trim(text.substr(2));
            continue;
        }
        if (section == "raw") {
            const auto word = parse_number(text);
            if (!word) {
                why = "bad raw word '" + text + "'";
                return std::nullopt;
            }
            c.words.push_back(*word);
        } else if (section == "mem") {
            std::istringstream bytes(text);
            std::string byte;
            while (bytes >> byte) {
                const auto value = parse_number("0x" + byte);
                if (!value || *value > 0xff) {
                    why = "bad memory byte '" + byte + "'";
                    return std::nullopt;
                }
                c.memory.push_back(static_cast<std::uint8_t>(*value));
            }
        } else if (section == "result") {
            c.result = parse_number(text);
            if (!c.result) {
                why = "bad result '" + text + "'";
                return std::nullopt;
            }
        } else if (section == "error") {
            error_text += (error_text.empty() ? "" : "\n") + text;
            c.error = error_text;
        } else {
            why = "text outside a known section: '" + text + "'";
            return std::nullopt;
        }
    }
    if (c.words.empty() || (!c.result && !c.error)) {
        why = "missing program or expected result";
        return std::nullopt;
    }
    return c;
}

std::string hex_bytes(const std::vector<std::uint8_t>& bytes) {
    std::string text;
    char buffer[8];
    for (std::uint8_t b : bytes) {
        std::snprintf(buffer, sizeof buffer, "%02x  ", b);
        text += buffer;
    }
    return text;
}

std::string program_hex(const std::vector<std::uint64_t>& words) {
    std::vector<std::uint8_t> bytes;
    for (std::uint64_t word : words) {
        for (int i = 0; i < 8; ++i) {
            bytes.push_back(static_cast<std::uint8_t>(word >> (8 * i)));
        }
    }
    return hex_bytes(bytes);
}

struct ProcessResult {
    int status = -1;
    std::string output;
};

// Starts the plugin with `args`, writes `input` to its stdin and collects its stdout.
ProcessResult run_process(const std::vector<std::string>& args, const std::string& input) {
    int to_child[2];
    int from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        return {-1, std::string("pipe: ") + std::strerror(errno)};
    }
    const pid_t pid = fork();
    if (pid < 0) {
        return {-1, std::string("fork: ") + std::strerror(errno)};
    }
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        std::vector<char*> argv;
        for (const std::string& arg : args) {
            argv.push_back(const_cast<char*>(arg.c_str()));
        }
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        std::perror("execv");
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    // Programs are a few KiB at most, below the pipe buffer, so writing all first cannot deadlock.
    const char* data = input.data();
    std::size_t left = input.size();
    while (left > 0) {
        const ssize_t n = write(to_child[1], data, left);
        if (n <= 0) {
            break;
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    close(to_child[1]);
    ProcessResult result;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = read(from_child[0], buffer, sizeof buffer)) > 0) {
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    close(from_child[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: embpf_conformance PLUGIN DIR [--exclude NAME]... [-- PLUGIN_OPTIONS...]\n";
        return 2;
    }
    const std::string plugin = argv[1];
    const std::filesystem::path dir = argv[2];
    std::vector<std::string> excluded;
    std::vector<std::string> plugin_options;
    std::optional<std::filesystem::path> required_in_ci;
    for (int i = 3; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--exclude" && i + 1 < argc) {
            excluded.emplace_back(argv[++i]);
        } else if (arg == "--required-in-ci" && i + 1 < argc) {
            required_in_ci = argv[++i];
        } else if (arg == "--") {
            plugin_options.assign(argv + i + 1, argv + argc);
            break;
        } else {
            std::cerr << "embpf_conformance: unknown argument " << arg << '\n';
            return 2;
        }
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        const char* ci = std::getenv("CI");
        if (required_in_ci && ci != nullptr && std::string(ci) == "true" &&
            std::filesystem::is_directory(*required_in_ci, ec)) {
            std::cout << "conformance: " << dir.string() << " not found, but CI=true and " << required_in_ci->string()
                      << " is present: the suite must run in CI\n";
            return 1;
        }
        std::cout << "conformance: " << dir.string() << " not found; skipped (it ships beside the repository in CI)\n";
        return 77;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".data") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());

    int passed = 0;
    int failed = 0;
    int skipped = 0;
    for (const auto& file : files) {
        const std::string name = file.stem().string();
        if (std::find(excluded.begin(), excluded.end(), name) != excluded.end()) {
            ++skipped;
            continue;
        }
        std::string why;
        const auto c = parse_case(file, why);
        if (!c) {
            std::cout << "FAIL " << name << ": cannot parse case: " << why << '\n';
            ++failed;
            continue;
        }
        std::vector<std::string> args{plugin};
        if (!c->memory.empty()) {
            args.push_back(hex_bytes(c->memory));
        }
        args.insert(args.end(), plugin_options.begin(), plugin_options.end());
        const ProcessResult r = run_process(args, program_hex(c->words));
        const std::string output = trim(r.output);
        std::string problem;
        if (c->result) {
            const auto got =
                r.status == 0 ? parse_number(output.rfind("0x", 0) == 0 ? output : "0x" + output) : std::nullopt;
            if (r.status != 0) {
                problem = "plugin refused (exit " + std::to_string(r.status) + "): " + output;
            } else if (!got) {
                problem = "unreadable output '" + output + "'";
            } else if (*got != *c->result) {
                char buffer[80];
                std::snprintf(buffer, sizeof buffer, "r0 = 0x%llx, expected 0x%llx",
                              static_cast<unsigned long long>(*got), static_cast<unsigned long long>(*c->result));
                problem = buffer;
            }
        } else if (r.status == 0 || output != *c->error) {
            problem = "expected refusal '" + *c->error + "', got exit " + std::to_string(r.status) + ": " + output;
        }
        if (problem.empty()) {
            ++passed;
        } else {
            ++failed;
            std::cout << "FAIL " << name << ": " << problem << '\n';
        }
    }
    std::cout << "conformance: " << passed << " passed, " << failed << " failed";
    if (skipped != 0) {
        std::cout << ", " << skipped << " skipped";
    }
    std::cout << '\n';
    if (passed == 0 && failed == 0) {
        std::cout << "conformance: no case ran in " << dir.string() << "; a run that checks nothing fails\n";
    }
    return failed == 0 && passed > 0 ? 0 : 1;
}
