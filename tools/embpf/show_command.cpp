// `embpf show programs|maps|links`: what a running host holds, read through the introspection endpoint it started
// (embpf/api/introspection.hpp), in the spirit of `netsh ebpf show programs` and `bpftool prog show`.
#include "commands.hpp"
#include "table.hpp"

#include "embpf/api/introspection.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

using Json = nlohmann::ordered_json;

struct ShowOptions {
    std::string what; ///< programs, maps or links
    std::string socket;
    std::int64_t pid = 0;
    bool json = false;
    std::uint32_t timeout_ms = 5000;
};

bool process_alive(std::int64_t pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

// The socket of the one live host in the default directory; std::nullopt (after saying why) when there is none or
// more than one.
std::optional<std::string> only_host() {
    const std::string directory = default_introspection_directory();
    std::vector<std::pair<std::int64_t, std::string>> hosts;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
        const std::filesystem::path& path = entry.path();
        const std::string stem = path.stem().string();
        if (path.extension() != ".sock" || stem.empty() || stem.size() > 18 ||
            stem.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::int64_t pid = std::stoll(stem);
        if (process_alive(pid)) { // a host that was killed leaves its socket behind
            hosts.emplace_back(pid, path.string());
        }
    }
    if (hosts.size() == 1) {
        return hosts.front().second;
    }
    if (hosts.empty()) {
        std::cerr << "embpf: no embpf host listens in " << directory
                  << " (a host opts in with embpf::IntrospectionServer::start); name a socket with --socket\n";
        return std::nullopt;
    }
    std::sort(hosts.begin(), hosts.end());
    std::cerr << "embpf: " << hosts.size() << " hosts listen in " << directory << "; choose one with --pid:";
    for (const auto& host : hosts) {
        std::cerr << ' ' << host.first;
    }
    std::cerr << '\n';
    return std::nullopt;
}

// A name as the terminal may show it: control characters (a newline that would forge a row, an escape sequence) as
// \xNN. Names come from plugins' objects.
std::string printable(const std::string& text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 15];
        } else {
            out += c;
        }
    }
    return out;
}

// How deep an answer nests arrays and objects, counted over its text (strings skipped); parsing and printing
// recurse once a level, and an answer is the host's, which may be anyone listening at the path.
std::size_t nesting(const std::string& text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

// A scalar of an answer as a table cell: "-" for null or missing.
std::string cell(const Json& item, const char* key) {
    if (!item.is_object()) {
        return "-";
    }
    const auto it = item.find(key);
    if (it == item.end() || it->is_null()) {
        return "-";
    }
    if (it->is_string()) {
        return printable(it->get<std::string>());
    }
    if (it->is_boolean()) {
        return it->get<bool>() ? "yes" : "no";
    }
    return it->dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::uint64_t number(const Json& item, const char* key) {
    if (!item.is_object()) {
        return 0;
    }
    const auto it = item.find(key);
    return it != item.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

void print_programs(const Json& answer, std::ostream& out) {
    Table table({"ID", "Name", "Type", "Engine", "Runs", "Run time (ns)", "Avg (ns)"});
    for (const Json& program : answer["programs"]) {
        std::string engine = cell(program, "engine");
        if (program.is_object() && program.contains("verified") && program["verified"] == false) {
            engine += " (unverified)";
        }
        const std::uint64_t runs = number(program, "run_count");
        table.add({cell(program, "id"), cell(program, "name"), cell(program, "type"), engine,
                   cell(program, "run_count"), cell(program, "run_time_ns"),
                   runs == 0 ? std::string("-") : std::to_string(number(program, "run_time_ns") / runs)});
    }
    table.print(out);
    if (const auto stats = answer.find("stats_enabled"); stats != answer.end() && *stats == false) {
        out << "\nRun statistics are off in this host: runs are counted while it holds them on "
               "(embpf::Registry::enable_stats, or an IntrospectionServer started with stats).\n";
    }
}

void print_maps(const Json& answer, std::ostream& out) {
    Table table({"ID", "Name", "Kind", "Key", "Value", "Max entries", "Entries", "Memory"});
    for (const Json& map : answer["maps"]) {
        table.add({cell(map, "id"), cell(map, "name"), cell(map, "kind"), cell(map, "key_size"),
                   cell(map, "value_size"), cell(map, "max_entries"), cell(map, "entries"), cell(map, "memory")});
    }
    table.print(out);
}

void print_links(const Json& answer, std::ostream& out) {
    Table table({"ID", "Hook", "Program ID", "Program", "Priority"});
    for (const Json& link : answer["links"]) {
        table.add({cell(link, "id"), cell(link, "hook"), cell(link, "program_id"), cell(link, "program"),
                   cell(link, "priority")});
    }
    table.print(out);
}

int show(const ShowOptions& options) {
    std::string path = options.socket;
    if (path.empty() && options.pid != 0) {
        if (options.pid < 0) {
            std::cerr << "embpf: --pid takes a process id\n";
            return kExitBadInput;
        }
        path = default_introspection_path(options.pid);
    }
    if (path.empty()) {
        auto found = only_host();
        if (!found) {
            return kExitFailure;
        }
        path = *found;
    }
    auto text = introspect(path, options.what, std::chrono::milliseconds(options.timeout_ms));
    if (!text) {
        std::cerr << "embpf: " << text.error().message << '\n';
        return kExitFailure;
    }
    // No host answer of embpf's nests past 3 levels.
    constexpr std::size_t kMaxNesting = 16;
    if (nesting(*text) > kMaxNesting) {
        std::cerr << "embpf: the host at " << path << " answered JSON nested deeper than " << kMaxNesting
                  << " levels\n";
        return kExitFailure;
    }
    const Json answer = Json::parse(*text, nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) {
        std::cerr << "embpf: the host at " << path << " answered something other than a JSON object\n";
        return kExitFailure;
    }
    if (const auto error = answer.find("error"); error != answer.end()) {
        std::cerr << "embpf: the host at " << path << " answered: " << cell(answer, "error") << '\n';
        return kExitFailure;
    }
    if (const auto list = answer.find(options.what); list == answer.end() || !list->is_array()) {
        std::cerr << "embpf: the host at " << path << " answered without a list of " << options.what << '\n';
        return kExitFailure;
    }
    // The answer is the host's: one whose values have other types than embpf's says so rather than ending the tool.
    try {
        if (options.json) {
            std::cout << answer.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
        } else if (options.what == "programs") {
            print_programs(answer, std::cout);
        } else if (options.what == "maps") {
            print_maps(answer, std::cout);
        } else {
            print_links(answer, std::cout);
        }
    } catch (const Json::exception& error) {
        std::cerr << "embpf: the host at " << path << " answered JSON of another shape: " << error.what() << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

} // namespace

void add_show_command(CLI::App& app, int& status) {
    auto options = std::make_shared<ShowOptions>();
    CLI::App* command =
        app.add_subcommand("show", "Show the programs, maps or links of a running host through its introspection "
                                   "endpoint (embpf::IntrospectionServer)");
    command->add_option("what", options->what, "programs, maps or links")
        ->required()
        ->check(CLI::IsMember({"programs", "maps", "links"}));
    auto* socket = command->add_option("--socket", options->socket, "the host's socket");
    command
        ->add_option("--pid", options->pid,
                     "the host's process id, for a host listening at its default socket "
                     "($XDG_RUNTIME_DIR/embpf/PID.sock or /tmp/embpf-UID/PID.sock)")
        ->excludes(socket);
    command->add_flag("--json", options->json, "print the host's answer as JSON");
    command->add_option("--timeout", options->timeout_ms, "milliseconds to wait for the answer (default 5000)")
        ->check(CLI::Range(1U, 3'600'000U));
    command->callback([options, &status] { status = show(*options); });
}

} // namespace embpf::tools
