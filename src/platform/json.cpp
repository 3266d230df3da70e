// Platforms to and from JSON (nlohmann/json, used here only).
#include "embpf/platform/json.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace embpf::platform {

namespace {

using Json = nlohmann::ordered_json;

std::string_view to_string(Writes writes) noexcept {
    switch (writes) {
    case Writes::some: return "some";
    case Writes::all: return "all";
    case Writes::source_if_fits: return "source_if_fits";
    }
    return "unknown";
}

// ---- Writing

// Sets out[name] to `value` where it differs from the structure's default: descriptions stay short.
template <typename T>
void unless_default(Json& out, const char* name, const T& value, const T& default_value) {
    if (value != default_value) {
        out[name] = value;
    }
}

Json prototype_json(const HelperPrototype& helper) {
    const HelperPrototype defaults;
    Json out;
    out["id"] = helper.id;
    out["name"] = helper.name;
    out["return"] = std::string(to_string(helper.ret));
    Json args = Json::array();
    for (std::size_t i = 0; i < helper.arg_count(); ++i) {
        args.push_back(std::string(to_string(helper.args[i])));
    }
    out["args"] = std::move(args);
    unless_default(out, "reallocates_packet", helper.reallocates_packet, defaults.reallocates_packet);
    if (helper.writes != defaults.writes) {
        out["writes"] = std::string(to_string(helper.writes));
    }
    unless_default(out, "reads_writable", helper.reads_writable, defaults.reads_writable);
    unless_default(out, "reads_host_memory", helper.reads_host_memory, defaults.reads_host_memory);
    unless_default(out, "reads_string", helper.reads_string, defaults.reads_string);
    unless_default(out, "sinks_data", helper.sinks_data, defaults.sinks_data);
    unless_default(out, "reads_address", helper.reads_address, defaults.reads_address);
    unless_default(out, "u32_sizes", helper.u32_sizes, defaults.u32_sizes);
    unless_default(out, "any_program_type", helper.any_program_type, defaults.any_program_type);
    unless_default(out, "cost", helper.cost, defaults.cost);
    unless_default(out, "cost_per_byte", helper.cost_per_byte, defaults.cost_per_byte);
    return out;
}

Json field_json(const ContextField& field) {
    const ContextField defaults;
    Json out;
    out["name"] = field.name;
    out["offset"] = field.offset;
    out["size"] = field.size;
    out["kind"] = std::string(to_string(field.kind));
    unless_default(out, "readable", field.readable, defaults.readable);
    unless_default(out, "writable", field.writable, defaults.writable);
    unless_default(out, "size_field", field.size_field, defaults.size_field);
    unless_default(out, "memory_size", field.memory_size, defaults.memory_size);
    unless_default(out, "memory_writable", field.memory_writable, defaults.memory_writable);
    return out;
}

Json type_json(const ProgramType& type) {
    const ProgramType defaults;
    Json out;
    out["name"] = type.name;
    out["section_prefixes"] = type.section_prefixes;
    Json context;
    context["size"] = type.context.size;
    context["data"] = type.context.data;
    context["data_end"] = type.context.data_end;
    context["meta"] = type.context.meta;
    context["pointer_width"] = type.context.pointer_width;
    context["read_only_data"] = type.context.read_only_data;
    context["fields"] = Json::array();
    for (const ContextField& field : type.context.fields) {
        context["fields"].push_back(field_json(field));
    }
    out["context"] = std::move(context);
    out["helpers"] = type.helpers;
    if (!type.own_helpers.empty()) {
        out["own_helpers"] = Json::array();
        for (const HelperPrototype& helper : type.own_helpers) {
            out["own_helpers"].push_back(prototype_json(helper));
        }
    }
    unless_default(out, "return_min", type.return_min, defaults.return_min);
    unless_default(out, "return_max", type.return_max, defaults.return_max);
    unless_default(out, "return_meaning", type.return_meaning, defaults.return_meaning);
    if (type.out_of_range_return) {
        out["out_of_range_return"] = *type.out_of_range_return;
    }
    out["platform_id"] = type.platform_id;
    out["max_data_size"] = type.max_data_size;
    return out;
}

// ---- Reading: each reader throws Bad with the path of what it reads.

struct Bad {
    std::string message;
};

[[noreturn]] void bad(const std::string& path, const std::string& what) { throw Bad{path + ": " + what}; }

std::string member_path(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : path + "." + std::string(name);
}

const Json& object_at(const Json& j, const std::string& path) {
    if (!j.is_object()) {
        bad(path.empty() ? "the document" : path, "expected an object");
    }
    return j;
}

// Refuses members the reader does not know, which are most often misspellings.
void only(const Json& j, const std::string& path, std::initializer_list<std::string_view> known) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
            bad(member_path(path, it.key()), "unknown member");
        }
    }
}

template <typename T>
T integer(const Json& j, const std::string& path) {
    if (!j.is_number_integer()) {
        bad(path, "expected an integer");
    }
    if (j.is_number_unsigned()) {
        const auto value = j.get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
            bad(path, std::to_string(value) + " is out of range");
        }
        return static_cast<T>(value);
    }
    const auto value = j.get<std::int64_t>();
    if (value < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (value > 0 && static_cast<std::uint64_t>(value) > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))) {
        bad(path, std::to_string(value) + " is out of range");
    }
    return static_cast<T>(value);
}

std::string text(const Json& j, const std::string& path) {
    if (!j.is_string()) {
        bad(path, "expected a string");
    }
    return j.get<std::string>();
}

bool boolean(const Json& j, const std::string& path) {
    if (!j.is_boolean()) {
        bad(path, "expected true or false");
    }
    return j.get<bool>();
}

// Reads member `name` into `out` with `read`, when present.
template <typename T, typename Read>
void optional_member(const Json& j, const std::string& path, std::string_view name, T& out, Read read) {
    if (const auto found = j.find(name); found != j.end()) {
        out = read(*found, member_path(path, name));
    }
}

// The enum value `to_string` spells `name`.
template <typename E>
E enum_named(const Json& j, const std::string& path, std::string_view what) {
    const std::string name = text(j, path);
    for (unsigned value = 0; value < 256; ++value) {
        const auto candidate = static_cast<E>(value);
        if (to_string(candidate) == name && name != "unknown") {
            return candidate;
        }
    }
    bad(path, "unknown " + std::string(what) + " \"" + name + "\"");
}

HelperPrototype read_prototype(const Json& j, const std::string& path) {
    object_at(j, path);
    only(j, path,
         {"id", "name", "return", "args", "reallocates_packet", "writes", "reads_writable", "reads_host_memory",
          "reads_string", "sinks_data", "reads_address", "u32_sizes", "any_program_type", "cost", "cost_per_byte"});
    HelperPrototype helper;
    if (!j.contains("id") || !j.contains("name")) {
        bad(path, "a helper needs an id and a name");
    }
    helper.id = integer<std::uint32_t>(j["id"], member_path(path, "id"));
    helper.name = text(j["name"], member_path(path, "name"));
    optional_member(j, path, "return", helper.ret,
                    [](const Json& v, const std::string& p) { return enum_named<ReturnKind>(v, p, "return kind"); });
    if (const auto args = j.find("args"); args != j.end()) {
        const std::string args_path = member_path(path, "args");
        if (!args->is_array() || args->size() > 5) {
            bad(args_path, "expected at most five argument kinds");
        }
        for (std::size_t i = 0; i < args->size(); ++i) {
            helper.args[i] =
                enum_named<ArgKind>((*args)[i], args_path + "[" + std::to_string(i) + "]", "argument kind");
        }
    }
    optional_member(j, path, "reallocates_packet", helper.reallocates_packet, boolean);
    optional_member(j, path, "writes", helper.writes, [](const Json& v, const std::string& p) {
        const std::string name = text(v, p);
        for (const Writes w : {Writes::some, Writes::all, Writes::source_if_fits}) {
            if (to_string(w) == name) {
                return w;
            }
        }
        bad(p, "unknown writes \"" + name + "\" (some, all or source_if_fits)");
    });
    optional_member(j, path, "reads_writable", helper.reads_writable, boolean);
    optional_member(j, path, "reads_host_memory", helper.reads_host_memory, boolean);
    optional_member(j, path, "reads_string", helper.reads_string, boolean);
    optional_member(j, path, "sinks_data", helper.sinks_data, boolean);
    optional_member(j, path, "reads_address", helper.reads_address, boolean);
    optional_member(j, path, "u32_sizes", helper.u32_sizes, boolean);
    optional_member(j, path, "any_program_type", helper.any_program_type, boolean);
    optional_member(j, path, "cost", helper.cost, integer<std::uint32_t>);
    optional_member(j, path, "cost_per_byte", helper.cost_per_byte, integer<std::uint32_t>);
    if (auto valid = validate(helper); !valid) {
        bad(path, valid.error().message);
    }
    return helper;
}

ContextField read_field(const Json& j, const std::string& path) {
    object_at(j, path);
    only(j, path,
         {"name", "offset", "size", "kind", "readable", "writable", "size_field", "memory_size", "memory_writable"});
    ContextField field;
    optional_member(j, path, "name", field.name, text);
    optional_member(j, path, "offset", field.offset, integer<std::uint32_t>);
    optional_member(j, path, "size", field.size, integer<std::uint32_t>);
    optional_member(j, path, "kind", field.kind,
                    [](const Json& v, const std::string& p) { return enum_named<FieldKind>(v, p, "field kind"); });
    optional_member(j, path, "readable", field.readable, boolean);
    optional_member(j, path, "writable", field.writable, boolean);
    optional_member(j, path, "size_field", field.size_field, text);
    optional_member(j, path, "memory_size", field.memory_size, integer<std::uint32_t>);
    optional_member(j, path, "memory_writable", field.memory_writable, boolean);
    return field;
}

template <typename T, typename Read>
std::vector<T> array_of(const Json& j, const std::string& path, Read read) {
    if (!j.is_array()) {
        bad(path, "expected an array");
    }
    std::vector<T> out;
    for (std::size_t i = 0; i < j.size(); ++i) {
        out.push_back(read(j[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
}

ProgramType read_type(const Json& j, const std::string& path) {
    object_at(j, path);
    only(j, path,
         {"name", "section_prefixes", "context", "helpers", "own_helpers", "return_min", "return_max", "return_meaning",
          "out_of_range_return", "platform_id", "max_data_size"});
    ProgramType type;
    optional_member(j, path, "name", type.name, text);
    if (const auto prefixes = j.find("section_prefixes"); prefixes != j.end()) {
        type.section_prefixes = array_of<std::string>(*prefixes, member_path(path, "section_prefixes"), text);
    }
    if (const auto context = j.find("context"); context != j.end()) {
        const std::string context_path = member_path(path, "context");
        object_at(*context, context_path);
        only(*context, context_path, {"size", "data", "data_end", "meta", "pointer_width", "read_only_data", "fields"});
        ContextDescriptor& c = type.context;
        optional_member(*context, context_path, "size", c.size, integer<std::uint32_t>);
        optional_member(*context, context_path, "data", c.data, integer<std::int32_t>);
        optional_member(*context, context_path, "data_end", c.data_end, integer<std::int32_t>);
        optional_member(*context, context_path, "meta", c.meta, integer<std::int32_t>);
        optional_member(*context, context_path, "pointer_width", c.pointer_width, integer<std::uint8_t>);
        optional_member(*context, context_path, "read_only_data", c.read_only_data, boolean);
        if (const auto fields = context->find("fields"); fields != context->end()) {
            c.fields = array_of<ContextField>(*fields, member_path(context_path, "fields"), read_field);
        }
    }
    if (const auto helpers = j.find("helpers"); helpers != j.end()) {
        type.helpers = array_of<std::uint32_t>(*helpers, member_path(path, "helpers"), integer<std::uint32_t>);
    }
    if (const auto own = j.find("own_helpers"); own != j.end()) {
        type.own_helpers = array_of<HelperPrototype>(*own, member_path(path, "own_helpers"), read_prototype);
    }
    optional_member(j, path, "return_min", type.return_min, integer<std::int64_t>);
    optional_member(j, path, "return_max", type.return_max, integer<std::int64_t>);
    optional_member(j, path, "return_meaning", type.return_meaning, text);
    if (const auto out = j.find("out_of_range_return"); out != j.end() && !out->is_null()) {
        type.out_of_range_return = integer<std::int64_t>(*out, member_path(path, "out_of_range_return"));
    }
    optional_member(j, path, "platform_id", type.platform_id, integer<std::uint32_t>);
    optional_member(j, path, "max_data_size", type.max_data_size, integer<std::uint32_t>);
    return type;
}

MapType read_map_type(const Json& j, const std::string& path) {
    object_at(j, path);
    only(j, path, {"id", "name", "kind"});
    MapType type;
    optional_member(j, path, "id", type.id, integer<std::uint32_t>);
    optional_member(j, path, "name", type.name, text);
    if (const auto kind = j.find("kind"); kind != j.end() && !kind->is_null()) {
        type.kind = enum_named<MapKind>(*kind, member_path(path, "kind"), "map kind");
    }
    return type;
}

Platform read_platform(const Json& j) {
    object_at(j, "");
    only(j, "", {"name", "base", "untrusted_plugins", "map_types", "kconfig", "helpers", "program_types"});
    const Platform* base = nullptr;
    if (const auto named = j.find("base"); named != j.end()) {
        const std::string name = text(*named, "base");
        if (name == "windows") {
            base = &windows();
        } else if (name == "linux") {
            base = &linux();
        } else {
            bad("base", "unknown platform \"" + name + "\" (windows or linux)");
        }
    }
    std::string name = base != nullptr ? base->name() : std::string();
    optional_member(j, "", "name", name, text);
    if (name.empty()) {
        bad("name", "a platform needs a name");
    }
    std::vector<MapType> map_types = base != nullptr ? base->map_types() : std::vector<MapType>{};
    if (const auto types = j.find("map_types"); types != j.end()) {
        for (MapType& type : array_of<MapType>(*types, "map_types", read_map_type)) {
            map_types.push_back(std::move(type));
        }
    }
    Platform platform(name, std::move(map_types));
    if (base != nullptr) {
        platform.set_for_untrusted_plugins(base->for_untrusted_plugins());
        for (const HelperPrototype& helper : base->helpers()) {
            if (auto added = platform.add_helper(helper); !added) {
                bad("base", added.error().message);
            }
        }
        for (const ProgramType& type : base->program_types()) {
            if (auto added = platform.add_program_type(type); !added) {
                bad("base", added.error().message);
            }
        }
        for (const auto& [config, value] : base->kconfig()) {
            platform.set_kconfig(config, value);
        }
    }
    if (const auto untrusted = j.find("untrusted_plugins"); untrusted != j.end()) {
        platform.set_for_untrusted_plugins(boolean(*untrusted, "untrusted_plugins"));
    }
    if (const auto kconfig = j.find("kconfig"); kconfig != j.end()) {
        object_at(*kconfig, "kconfig");
        for (auto it = kconfig->begin(); it != kconfig->end(); ++it) {
            platform.set_kconfig(it.key(), text(it.value(), "kconfig." + it.key()));
        }
    }
    if (const auto helpers = j.find("helpers"); helpers != j.end()) {
        if (!helpers->is_array()) {
            bad("helpers", "expected an array");
        }
        for (std::size_t i = 0; i < helpers->size(); ++i) {
            const std::string path = "helpers[" + std::to_string(i) + "]";
            if (auto added = platform.add_helper(read_prototype((*helpers)[i], path)); !added) {
                bad(path, added.error().message);
            }
        }
    }
    if (const auto types = j.find("program_types"); types != j.end()) {
        if (!types->is_array()) {
            bad("program_types", "expected an array");
        }
        for (std::size_t i = 0; i < types->size(); ++i) {
            const std::string path = "program_types[" + std::to_string(i) + "]";
            if (auto added = platform.add_program_type(read_type((*types)[i], path)); !added) {
                bad(path, added.error().message);
            }
        }
    }
    return platform;
}

} // namespace

std::string to_json(const Platform& platform) {
    Json out;
    out["name"] = platform.name();
    out["untrusted_plugins"] = platform.for_untrusted_plugins();
    out["map_types"] = Json::array();
    for (const MapType& type : platform.map_types()) {
        Json entry;
        entry["id"] = type.id;
        entry["name"] = type.name;
        if (type.kind) {
            entry["kind"] = std::string(to_string(*type.kind));
        }
        out["map_types"].push_back(std::move(entry));
    }
    out["kconfig"] = Json::object();
    for (const auto& [name, value] : platform.kconfig()) {
        out["kconfig"][name] = value;
    }
    out["helpers"] = Json::array();
    for (const HelperPrototype& helper : platform.helpers()) {
        out["helpers"].push_back(prototype_json(helper));
    }
    out["program_types"] = Json::array();
    for (const ProgramType& type : platform.program_types()) {
        out["program_types"].push_back(type_json(type));
    }
    return out.dump(2) + "\n";
}

Result<Platform> from_json(std::string_view text) {
    Json document;
    try {
        document = Json::parse(text);
    } catch (const Json::exception& error) { // a syntax error, or a number past a double's range (out_of_range)
        return Error::invalid(std::string("not a JSON document: ") + error.what());
    }
    try {
        return read_platform(document);
    } catch (const Bad& error) {
        return Error::invalid(error.message);
    } catch (const Json::exception& error) {
        return Error::invalid(std::string("a platform description: ") + error.what());
    }
}

} // namespace embpf::platform
