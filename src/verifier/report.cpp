// The report's text and JSON forms, and map descriptions from an object's definitions.
#include "embpf/verifier/verifier.hpp"

#include <cstdio>
#include <string_view>

namespace embpf::verifier {

namespace {

void append_diagnostic(std::string& out, const Diagnostic& d) {
    if (d.source) {
        out += "; " + d.source->file + ":" + std::to_string(d.source->line) + "\n";
        if (!d.source->source.empty()) {
            out += ";   " + d.source->source + "\n";
        }
    }
    out += std::to_string(d.pc) + ": " + d.message;
    if (!d.assertion.empty()) {
        out += " (" + d.assertion + ")";
    }
    out += "\n";
}

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buffer;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void append_json_diagnostics(std::string& out, const std::vector<Diagnostic>& list) {
    out += "[";
    for (std::size_t i = 0; i < list.size(); ++i) {
        const Diagnostic& d = list[i];
        out += i == 0 ? "\n    {" : ",\n    {";
        out += "\"pc\": " + std::to_string(d.pc) + ", \"file\": ";
        if (d.source) {
            append_json_string(out, d.source->file);
            out += ", \"line\": " + std::to_string(d.source->line) + ", \"source\": ";
            append_json_string(out, d.source->source);
        } else {
            out += "null, \"line\": null, \"source\": null";
        }
        out += ", \"message\": ";
        append_json_string(out, d.message);
        out += ", \"assertion\": ";
        append_json_string(out, d.assertion);
        out += "}";
    }
    out += list.empty() ? "]" : "\n  ]";
}

} // namespace

std::string Report::text(Level level) const {
    std::string out;
    if (verified) {
        out += "Verification succeeded\n";
        if (instruction_bound) {
            out += "Program terminates within " + std::to_string(*instruction_bound) + " instructions\n";
        }
        if (cost_bound && cost_bound != instruction_bound) {
            out += "Counting helper calls at their cost, a run costs at most " + std::to_string(*cost_bound) +
                   " instructions\n";
        }
    } else {
        out += "Verification failed\nVerification report:\n";
        for (const Diagnostic& d : errors) {
            append_diagnostic(out, d);
        }
    }
    if (level != Level::normal && !warnings.empty()) {
        out += "Warnings:\n";
        for (const Diagnostic& d : warnings) {
            append_diagnostic(out, d);
        }
    }
    if (level == Level::verbose && !states.empty()) {
        out += "States:\n";
        for (const std::string& state : states) {
            out += state;
            if (!state.empty() && state.back() != '\n') {
                out += '\n';
            }
        }
    }
    if (!verified) {
        out += std::to_string(errors.size()) + " errors\n";
    }
    return out;
}

std::string Report::json() const {
    std::string out = "{\n  \"program\": ";
    append_json_string(out, program);
    out += ",\n  \"section\": ";
    append_json_string(out, section);
    out += ",\n  \"type\": ";
    append_json_string(out, type);
    out += ",\n  \"verdict\": ";
    out += verified ? "\"verified\"" : "\"rejected\"";
    out += ",\n  \"instruction_bound\": ";
    out += instruction_bound ? std::to_string(*instruction_bound) : "null";
    out += ",\n  \"cost_bound\": ";
    out += cost_bound ? std::to_string(*cost_bound) : "null";
    out += ",\n  \"errors\": ";
    append_json_diagnostics(out, errors);
    out += ",\n  \"warnings\": ";
    append_json_diagnostics(out, warnings);
    out += ",\n  \"microseconds\": " + std::to_string(duration.count()) + "\n}";
    return out;
}

SpinLockPlace spin_lock_of(const elf::MapDefinition& map, platform::MapKind kind) {
    SpinLockPlace place;
    if (map.spin_locks.size() > 1) {
        place.problem = "map " + map.name + ": its value holds " + std::to_string(map.spin_locks.size()) +
                        " bpf_spin_lock fields; a value holds one at most";
    } else if (map.spin_locks.size() == 1) {
        const std::uint32_t at = map.spin_locks.front();
        const bool read_only = map.read_only || (map.map_flags & (1U << 7)) != 0; // BPF_F_RDONLY_PROG
        if (kind != platform::MapKind::hash && kind != platform::MapKind::array &&
            kind != platform::MapKind::cgroup_storage) {
            place.problem = "map " + map.name + ": a map of kind " + std::string(platform::to_string(kind)) +
                            " cannot hold a bpf_spin_lock";
        } else if (at % 4 != 0 || std::uint64_t{at} + 4 > map.value_size || read_only) {
            place.problem = "map " + map.name + ": its bpf_spin_lock at offset " + std::to_string(at) +
                            " is not 4 aligned bytes of a writable value";
        } else {
            place.offset = at;
        }
    }
    return place;
}

Result<std::vector<MapDescriptor>> describe_maps(std::span<const elf::MapDefinition> maps,
                                                 const platform::Platform& platform) {
    std::vector<MapDescriptor> out;
    out.reserve(maps.size());
    for (const elf::MapDefinition& map : maps) {
        MapDescriptor d;
        d.name = map.name;
        if (map.origin == elf::MapOrigin::global_data) {
            d.kind = platform::MapKind::array;
        } else {
            auto kind = platform.map_kind(map.type);
            if (!kind && kind.error().kind == ErrorKind::unsupported) {
                d.unsupported = "map " + map.name + ": " + kind.error().message;
            } else if (!kind) {
                Error error = std::move(kind).error();
                error.message = "map " + map.name + ": " + error.message;
                return error;
            } else {
                d.kind = *kind;
            }
        }
        d.key_size = map.key_size;
        d.value_size = map.value_size;
        d.max_entries = map.max_entries;
        if (map.inner_map && *map.inner_map < maps.size()) {
            d.inner = *map.inner_map;
        }
        d.any_size = (map.map_flags & (1U << 12)) != 0; // BPF_F_INNER_MAP
        // `.rodata` and `.kconfig`, and maps programs may only read (BPF_F_RDONLY_PROG).
        d.read_only = map.read_only || (map.map_flags & (1U << 7)) != 0;
        if (map.read_only && map.origin == elf::MapOrigin::global_data) {
            d.frozen_value = map.initial_value;
        }
        SpinLockPlace lock = spin_lock_of(map, d.kind);
        d.spin_lock = lock.offset;
        if (!lock.problem.empty()) {
            d.unsupported = std::move(lock.problem);
        }
        out.push_back(std::move(d));
    }
    return out;
}

} // namespace embpf::verifier
