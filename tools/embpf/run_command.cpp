// `embpf run FILE`: load an object, build a program's context, run it and show what it left in its maps.
#include "../common/hex.hpp"
#include "commands.hpp"

#include "embpf/api/object.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/ring_buffer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>

namespace embpf::tools {

namespace {

struct RunOptions {
    bool all = false; ///< every entry of an array, zero values too
    std::string file;
    std::string program;
    std::string section;
    std::string platform;
    std::string data_hex;
    std::string data_path;
    std::string ctx_hex;
    std::uint64_t repeat = 1;
    bool json = false;
    bool unverified = false;
    std::string engine = "interpreter";
    std::uint64_t promote_after = LoadOptions{}.promote_after; ///< LoadOptions::promote_after
    std::uint64_t instruction_budget = 0;                      ///< LoadOptions::instruction_budget
    std::vector<std::string> externs;                          ///< NAME=VALUE
};

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    for (std::uint8_t b : bytes) {
        text += digits[b >> 4];
        text += digits[b & 0xf];
    }
    return text;
}

// A map may hold gigabytes: the tool shows its first entries (and records) and counts the others.
constexpr std::size_t kMaxShown = 256;

// The name the program type gives r0 (ProgramType::return_meaning, "XDP_ABORTED=0, XDP_DROP=1, ..."), or "".
std::string return_name(const platform::ProgramType& type, std::uint64_t r0) {
    const std::string& meaning = type.return_meaning;
    for (std::size_t at = 0; at < meaning.size();) {
        const std::size_t end = std::min(meaning.find(',', at), meaning.size());
        const std::string_view item = std::string_view(meaning).substr(at, end - at);
        at = end + 1;
        const std::size_t equals = item.find('=');
        if (equals == std::string_view::npos) {
            continue;
        }
        std::string_view name = item.substr(0, equals);
        while (!name.empty() && name.front() == ' ') {
            name.remove_prefix(1);
        }
        std::int64_t value = 0;
        const std::string_view digits = item.substr(equals + 1);
        const auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (parsed.ec == std::errc{} && !name.empty() && static_cast<std::uint64_t>(value) == r0) {
            return std::string(name);
        }
    }
    return {};
}

// Maps whose every key holds a value from creation: their zero values say nothing, and are hidden without --all.
bool every_key_present(platform::MapKind kind) {
    return kind == platform::MapKind::array || kind == platform::MapKind::percpu_array;
}

// The program named `name` (or the first of `section`), and the programs it needs: those the program arrays it uses
// are initialized with (`.values = {[0] = &next}`), and theirs. The others are dropped from the spec, so that a
// program that fails verification does not keep this one from running (as libbpf's per-program autoload does).
Result<std::string> keep_needed(ObjectSpec& spec, const std::string& name, const std::string& section) {
    std::vector<ProgramSpec>& programs = spec.programs();
    const auto chosen = std::find_if(programs.begin(), programs.end(), [&](const ProgramSpec& p) {
        return (name.empty() || p.name() == name) && (section.empty() || p.section() == section);
    });
    if (chosen == programs.end()) {
        return Error::invalid("has no program" + (name.empty() ? std::string() : " named " + name) +
                              (section.empty() ? std::string() : " in section " + section));
    }
    std::vector<std::string> needed{chosen->name()};
    for (std::size_t i = 0; i < needed.size(); ++i) {
        const auto program =
            std::find_if(programs.begin(), programs.end(), [&](const ProgramSpec& p) { return p.name() == needed[i]; });
        if (program == programs.end()) {
            continue; // named by a program array and not in the object: the load says so
        }
        for (const elf::MapReference& ref : program->definition.map_references) {
            for (const elf::MapDefinition::InitialEntry& entry : spec.maps().at(ref.map).initial_entries) {
                if (!entry.program.empty() && std::find(needed.begin(), needed.end(), entry.program) == needed.end()) {
                    needed.push_back(entry.program);
                }
            }
        }
    }
    std::string kept = chosen->name();
    const auto dropped = [&](const std::string& program) {
        return std::find(needed.begin(), needed.end(), program) == needed.end();
    };
    std::erase_if(programs, [&](const ProgramSpec& p) { return dropped(p.name()); });
    // Program arrays the kept programs do not use may still name dropped programs: those entries go with them.
    for (MapSpec& map : spec.maps()) {
        std::erase_if(map.initial_entries, [&](const elf::MapDefinition::InitialEntry& entry) {
            return !entry.program.empty() && dropped(entry.program);
        });
    }
    return kept;
}

nlohmann::ordered_json map_contents(const MapHandle& map, bool all) {
    nlohmann::ordered_json out;
    out["name"] = map.name();
    out["type"] = std::string(platform::to_string(map.kind()));
    if (map.kind() == platform::MapKind::ringbuf) {
        nlohmann::ordered_json records = nlohmann::ordered_json::array();
        std::size_t more = 0;
        static_cast<runtime::RingBufferMap&>(*map.runtime_map()).consume([&](std::span<const std::uint8_t> record) {
            if (records.size() < kMaxShown) {
                records.push_back(to_hex(record));
            } else {
                ++more;
            }
        });
        out["records"] = records;
        if (more != 0) {
            out["more_records"] = more;
        }
        return out;
    }
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    const runtime::Map& runtime_map = *map.runtime_map();
    std::vector<std::uint8_t> key(runtime_map.config().key_size);
    std::vector<std::uint8_t> next(runtime_map.config().key_size);
    std::span<const std::uint8_t> current{};
    std::size_t more = 0;
    std::size_t zeros = 0;
    const bool hide_zeros = !all && every_key_present(map.kind());
    for (;;) {
        auto found = runtime_map.next_key(current, next);
        if (!found) {
            out["error"] = found.error().message;
            break;
        }
        if (!*found) {
            break;
        }
        key = next;
        current = key;
        auto value = map.lookup(key);
        if (!value || !*value) {
            continue;
        }
        if (hide_zeros && std::all_of((*value)->begin(), (*value)->end(), [](std::uint8_t b) { return b == 0; })) {
            ++zeros;
            continue;
        }
        if (entries.size() >= kMaxShown) {
            ++more;
            continue;
        }
        entries.push_back({{"key", to_hex(key)}, {"value", to_hex(**value)}});
    }
    out["entries"] = entries;
    if (more != 0) {
        out["more_entries"] = more;
    }
    if (zeros != 0) {
        out["zero_entries"] = zeros;
    }
    return out;
}

int run_program(const RunOptions& options) {
    const auto chosen_platform = platform_named(options.platform);
    if (!chosen_platform) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(std::filesystem::path(options.file), *chosen_platform);
    if (!spec) {
        std::cerr << "embpf: " << spec.error().message << '\n';
        return kExitBadInput;
    }
    auto chosen = keep_needed(*spec, options.program, options.section);
    if (!chosen) {
        std::cerr << "embpf: " << options.file << " " << chosen.error().message << '\n';
        return kExitBadInput;
    }
    // Programs are verified, unless asked to run unverified in the checked interpreter (for debugging).
    LoadOptions load{.unverified = options.unverified,
                     .engine = exec::engine_named(options.engine).value_or(exec::EngineKind::interpreter),
                     .promote_after = options.promote_after,
                     .instruction_budget = options.instruction_budget};
    for (const std::string& definition : options.externs) {
        const std::size_t equals = std::min(definition.find('='), definition.size());
        std::uint64_t value = 0;
        const char* const first = definition.data() + std::min(equals + 1, definition.size());
        const char* const last = definition.data() + definition.size();
        const bool hex = last - first > 2 && first[0] == '0' && (first[1] == 'x' || first[1] == 'X');
        const auto parsed = std::from_chars(hex ? first + 2 : first, last, value, hex ? 16 : 10);
        if (equals == definition.size() || equals == 0 || first == last || parsed.ec != std::errc{} ||
            parsed.ptr != last) {
            std::cerr << "embpf: --extern " << definition << ": expected NAME=VALUE, VALUE a 64-bit number\n";
            return kExitBadInput;
        }
        load.externs[definition.substr(0, equals)] = value;
    }
    auto object = Object::load(*spec, load);
    if (!object) {
        std::cerr << "embpf: " << object.error().message << '\n';
        return kExitFailure;
    }
    auto program = object->program(*chosen);
    if (!program) {
        std::cerr << "embpf: " << program.error().message << '\n';
        return kExitFailure;
    }
    const std::string fallback = program->engine_fallback();
    if (!fallback.empty()) {
        std::cerr << "embpf: " << fallback << "; it runs in the " << to_string(program->engine()) << " engine\n";
    }

    std::vector<std::uint8_t> data_bytes;
    if (!options.data_hex.empty()) {
        auto parsed = parse_hex(options.data_hex);
        if (!parsed) {
            std::cerr << "embpf: --data-hex is not a sequence of hex bytes\n";
            return kExitBadInput;
        }
        data_bytes = std::move(*parsed);
    } else if (!options.data_path.empty()) {
        // One byte past the largest packet any type takes is enough to refuse a longer one (or /dev/zero).
        auto read = read_file(options.data_path, std::size_t{1} << 30);
        if (!read) {
            return kExitBadInput;
        }
        data_bytes = std::move(*read);
    }
    const platform::ContextDescriptor& context = program->type().context;
    std::vector<std::uint8_t> ctx;
    if (!options.ctx_hex.empty()) {
        auto parsed = parse_hex(options.ctx_hex);
        if (!parsed) {
            std::cerr << "embpf: --ctx-hex is not a sequence of hex bytes\n";
            return kExitBadInput;
        }
        if (parsed->size() > context.size) {
            std::cerr << "embpf: --ctx-hex must be at most " << context.size << " hex bytes for a "
                      << program->type().name << " context\n";
            return kExitBadInput;
        }
        ctx = std::move(*parsed);
    }
    ctx.resize(context.host_size(), 0); // where the struct's packet fields are 32-bit, the pointers follow it
    const bool has_data = context.data >= 0 && context.data_end >= 0;
    if (has_data && data_bytes.size() > program->type().max_data_size) {
        std::cerr << "embpf: the packet has " << data_bytes.size() << " bytes; a " << program->type().name
                  << " program takes at most " << program->type().max_data_size << " (max_data_size)\n";
        return kExitBadInput;
    }
    std::vector<std::uint8_t> packet = data_bytes;
    packet.reserve(1); // an empty packet still has an address
    if (has_data) {
        if (auto set = platform::set_data_range(context, ctx, packet.data(), packet.data() + packet.size()); !set) {
            std::cerr << "embpf: " << set.error().message << "\n";
            return kExitFailure;
        }
    } else if (!data_bytes.empty()) {
        std::cerr << "embpf: " << program->type().name << " programs have no data range for --data\n";
        return kExitBadInput;
    }

    std::vector<std::string> lines;
    auto previous = runtime::set_trace_sink([&](std::string_view line) { lines.emplace_back(line); });
    std::vector<double> times;
    std::uint64_t r0 = 0;
    std::optional<Error> failure;
    const std::vector<std::uint8_t> initial_ctx = ctx;
    for (std::uint64_t i = 0; i < std::max<std::uint64_t>(options.repeat, 1); ++i) {
        ctx = initial_ctx;
        const auto begin = std::chrono::steady_clock::now();
        auto result = program->run(ctx.data(), ctx.size());
        const auto end = std::chrono::steady_clock::now();
        if (!result) {
            failure = result.error();
            break;
        }
        r0 = *result;
        times.push_back(std::chrono::duration<double, std::nano>(end - begin).count());
    }
    runtime::set_trace_sink(std::move(previous));
    std::sort(times.begin(), times.end());
    const double median = times.empty() ? 0.0 : times[times.size() / 2];
    // A promotion that failed in the background, during the runs.
    const bool automatic = load.engine == exec::EngineKind::automatic;
    if (const std::string now = program->engine_fallback(); now != fallback) {
        std::cerr << "embpf: " << now << "; it runs in the " << to_string(program->engine()) << " engine\n";
    }

    if (options.json) {
        nlohmann::ordered_json out;
        out["program"] = program->name();
        out["section"] = program->section();
        out["type"] = program->type().name;
        out["verified"] = program->verified();
        if (failure) {
            out["error"] = failure->message;
        } else {
            out["r0"] = r0;
            if (const std::string name = return_name(program->type(), r0); !name.empty()) {
                out["r0_meaning"] = name;
            }
        }
        out["runs"] = times.size();
        out["engine"] = std::string(to_string(program->engine()));
        if (automatic) {
            out["promotion"] = std::string(to_string(program->promotion()));
        }
        if (program->instruction_budget() != 0) {
            out["budget_exhausted"] = program->budget_exhausted();
        }
        out["median_ns"] = median;
        out["trace"] = lines;
        out["maps"] = nlohmann::ordered_json::array();
        for (const std::string& name : object->map_names()) {
            out["maps"].push_back(map_contents(object->map(name).value(), options.all));
        }
        std::cout << out.dump(2) << '\n';
        return failure ? kExitFailure : kExitOk;
    }
    std::cout << "Program " << program->name() << " (" << program->type().name << ", section " << program->section()
              << "), "
              << (program->verified() ? "verified: terminates within " +
                                            std::to_string(program->verification().instruction_bound.value_or(0)) +
                                            " instructions (costs at most " +
                                            std::to_string(program->verification().cost_bound.value_or(0)) + ")\n"
                                      : std::string("not verified: run in the checked interpreter\n"));
    if (failure) {
        std::cout << "Stopped: " << failure->message << '\n';
    } else {
        const std::string name = return_name(program->type(), r0);
        std::cout << "r0 = " << r0 << " (0x" << std::hex << r0 << std::dec << (name.empty() ? "" : ", " + name)
                  << ")\n";
        std::cout << "median " << median << " ns per run over " << times.size() << " run(s)\n";
    }
    if (automatic) {
        std::cout << "engine " << to_string(program->engine()) << " after " << times.size()
                  << " run(s) (automatic; promotion: " << to_string(program->promotion()) << ")\n";
    }
    if (program->instruction_budget() != 0) {
        std::cout << "instruction budget " << program->instruction_budget() << ": stopped "
                  << program->budget_exhausted() << " of " << times.size() << " run(s)\n";
    }
    for (const std::string& line : lines) {
        std::cout << "trace: " << line << '\n';
    }
    for (const std::string& name : object->map_names()) {
        const auto contents = map_contents(object->map(name).value(), options.all);
        std::cout << "map " << name << " (" << contents["type"].get<std::string>() << ")";
        if (contents.contains("records")) {
            std::cout << ": " << contents["records"].size() << " record(s)\n";
            for (const auto& record : contents["records"]) {
                std::cout << "  " << record.get<std::string>() << '\n';
            }
            if (contents.contains("more_records")) {
                std::cout << "  ... and " << contents["more_records"].get<std::size_t>() << " more record(s)\n";
            }
        } else {
            std::cout << ": " << contents["entries"].size() << " entr"
                      << (contents["entries"].size() == 1 ? "y" : "ies") << '\n';
            for (const auto& entry : contents["entries"]) {
                std::cout << "  " << entry["key"].get<std::string>() << " => " << entry["value"].get<std::string>()
                          << '\n';
            }
            if (contents.contains("more_entries")) {
                std::cout << "  ... and " << contents["more_entries"].get<std::size_t>() << " more entries\n";
            }
            if (contents.contains("zero_entries")) {
                std::cout << "  (" << contents["zero_entries"].get<std::size_t>()
                          << " entries of zeros not shown: --all shows them)\n";
            }
        }
    }
    return failure ? kExitFailure : kExitOk;
}

} // namespace

void add_run_command(CLI::App& app, int& status) {
    auto options = std::make_shared<RunOptions>();
    CLI::App* command = app.add_subcommand("run", "Run a program of an eBPF object on a context and show its maps");
    command->add_option("file", options->file, "eBPF object file")->required();
    auto* program = command->add_option("--program", options->program, "program name (default: the first)");
    command->add_option("--section", options->section, "program section")->excludes(program);
    command->add_option("--platform", options->platform,
                        "windows, linux or a platform's JSON file (default: chosen from the object)");
    auto* data_hex = command->add_option("--data-hex", options->data_hex, "packet (data range) bytes in hex");
    command->add_option("--data", options->data_path, "file whose bytes are the packet")->excludes(data_hex);
    command->add_option("--ctx-hex", options->ctx_hex, "raw context bytes in hex, zero-filled to the context size");
    command->add_option("--repeat", options->repeat, "number of runs (default 1)");
    command->add_flag("--json", options->json, "print JSON");
    command->add_flag("--all", options->all, "show every entry of an array, those holding zeros too");
    command->add_flag("--unverified", options->unverified,
                      "skip verification; every memory access is checked at run time instead");
    command->add_option("--engine", options->engine, "engine of verified programs (default: interpreter)")
        ->check(CLI::IsMember({"interpreter", "jit", "optimized", "automatic"}));
    command->add_option("--promote-after", options->promote_after,
                        "automatic: the runs after which the optimizing JIT compiles the program in the background "
                        "(default 1000; 0: right after the load)");
    command->add_option("--instruction-budget", options->instruction_budget,
                        "metering: the budget of each run, charged at loop back-edges, local calls and callbacks; a "
                        "run that exhausts it returns 0 (default 0: none)");
    command->add_option("--extern", options->externs,
                        "NAME=VALUE: the value of an extern the object leaves to its host (a __ksym, an assembly "
                        "symbol); decimal or 0x hex");
    command->callback([options, &status] { status = run_program(*options); });
}

} // namespace embpf::tools
