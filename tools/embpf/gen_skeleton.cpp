// `embpf gen skeleton FILE.o`: a C++ header with the object embedded, its BTF types declared as C++ types, and two
// classes over the typed API: `Spec` (the object opened, its globals' initial values as structs to set) and `Object`
// (loaded: each map bound as Map<K, V>, RingBuffer<T> or MapHandle by its kind, each program as a Program, each
// global-data section as GlobalData<T>). Binding happens once, at the load, so a host reaches everything through plain
// members, and a type that does not fit is a compile error in the host rather than a failed lookup.
#include "commands.hpp"
#include "skeleton_types.hpp"

#include "embpf/api/object_spec.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace embpf::tools {

namespace {

struct SkeletonSection {
    std::string name;   ///< ".data"
    std::string type;   ///< "Data"
    std::string member; ///< "data"
    std::uint64_t size = 0;
    bool read_only = false;
    std::vector<PlannedMember> variables;
};

struct SkeletonMap {
    std::string name;
    std::string member;
    std::string type; ///< the member's type, marked (CppType)
    std::string bind; ///< the expression that binds it from `loaded`
    std::string comment;
};

// ".data.counters" -> "DataCounters": the struct of a section's globals.
std::string section_type(std::string_view section) {
    std::string out;
    bool upper = true;
    for (const char c : section) {
        if (c == '.' || c == '_' || c == '-') {
            upper = true;
            continue;
        }
        out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
        upper = false;
    }
    return cpp_identifier(out);
}

// ".data.counters" -> "data_counters": the member that holds it.
std::string section_member(std::string_view section) {
    while (!section.empty() && section.front() == '.') {
        section.remove_prefix(1);
    }
    return cpp_identifier(section);
}

std::string string_literal(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

std::string map_comment(const MapSpec& map, const std::string& kind) {
    if (kind == "ringbuf") {
        return map.name + ": a ring buffer of " + std::to_string(map.max_entries) + " bytes";
    }
    std::string text = map.name + ": " + kind + " of " + std::to_string(map.max_entries) +
                       (map.max_entries == 1 ? " entry" : " entries");
    const auto part = [](const std::string& type, std::uint32_t size) {
        return type.empty() ? std::to_string(size) + " bytes" : type;
    };
    if (map.key_size != 0) {
        text += "; key " + part(map.key_type_name, map.key_size);
    }
    if (map.value_size != 0) {
        text += (map.key_size != 0 ? ", value " : "; value ") + part(map.value_type_name, map.value_size);
    }
    return text;
}

class SkeletonWriter {
  public:
    SkeletonWriter(const ObjectSpec& spec, std::span<const std::uint8_t> bytes, const SkeletonOptions& options,
                   std::string name, const platform::Platform* platform)
        : m_spec(spec), m_bytes(bytes), m_options(options), m_name(std::move(name)), m_platform(platform) {}

    Result<std::string> write();

  private:
    void collect_sections();
    Result<void> collect_maps(CppTypeWriter& types);
    [[nodiscard]] CppType key_or_value(CppTypeWriter& types, std::uint32_t type_id, std::uint32_t size,
                                       const std::string& context) const;
    [[nodiscard]] bool built_in_platform() const {
        return m_platform != nullptr && (m_options.platform == "windows" || m_options.platform == "linux");
    }
    void write_spec_class(std::ostream& out) const;
    void write_object_class(std::ostream& out, const CppTypeWriter& types) const;
    void write_bind(std::ostream& out, const CppTypeWriter& types) const;
    void write_load(std::ostream& out) const;
    void write_bytes(std::ostream& out) const;
    void write_open(std::ostream& out) const;

    const ObjectSpec& m_spec;
    std::span<const std::uint8_t> m_bytes;
    const SkeletonOptions& m_options;
    std::string m_name;
    const platform::Platform* m_platform; ///< from --platform; nullptr for the object's own choice
    std::vector<SkeletonSection> m_sections;
    std::vector<SkeletonMap> m_maps;
    std::vector<std::pair<std::string, const ProgramSpec*>> m_programs; ///< by member name
};

void SkeletonWriter::collect_sections() {
    std::set<std::string> types{"Spec", "Object"};
    std::set<std::string> members{"maps", "programs"};
    for (std::size_t i = 0; i < m_spec.maps().size(); ++i) {
        const MapSpec& map = m_spec.maps()[i];
        if (map.origin != elf::MapOrigin::global_data || i == m_spec.kconfig_map() || map.initial_value.empty()) {
            continue;
        }
        SkeletonSection section;
        section.name = map.name;
        section.size = map.initial_value.size();
        section.read_only = map.read_only;
        for (const elf::Variable& variable : m_spec.variables()) {
            // Variables whose names are no identifiers (a function's static `limit.admin`) stay the section's bytes.
            if (variable.map != i || variable.size == 0 || cpp_identifier(variable.name) != variable.name) {
                continue;
            }
            PlannedMember member{variable.name, variable.type_id, variable.offset, variable.size};
            const auto btf_size = m_spec.btf() && variable.type_id != 0 ? m_spec.btf()->size_of(variable.type_id)
                                                                        : Result<std::uint64_t>(Error::invalid(""));
            if (!btf_size || *btf_size != variable.size) {
                member.type = 0; // no BTF, or BTF that disagrees with the symbol: its bytes
            }
            section.variables.push_back(std::move(member));
        }
        if (section.variables.empty()) {
            continue; // string literals (.rodata.str1.1) and the like: nothing a host names
        }
        section.type = unique_in(types, section_type(map.name));
        section.member = unique_in(members, section_member(map.name));
        m_sections.push_back(std::move(section));
    }
}

CppType SkeletonWriter::key_or_value(CppTypeWriter& types, std::uint32_t type_id, std::uint32_t size,
                                     const std::string& context) const {
    if (type_id != 0 && m_spec.btf()) {
        const auto btf_size = m_spec.btf()->size_of(type_id);
        if (btf_size && *btf_size == size) {
            if (auto spelled = types.spell(type_id, context)) {
                return *spelled;
            }
        }
    }
    return {"std::array<std::uint8_t, " + std::to_string(size) + ">", {size, 1}};
}

Result<void> SkeletonWriter::collect_maps(CppTypeWriter& types) {
    // --ring-record MAP=TYPE: the record type of a ring buffer, which BTF does not tie to the map.
    std::map<std::string, std::pair<std::uint32_t, std::string>> records; // by map: the type, the option
    for (const std::string& option : m_options.ring_records) {
        const std::size_t equals = option.find('=');
        if (equals == std::string::npos) {
            return Error::invalid("--ring-record " + option + ": write MAP=TYPE");
        }
        const std::string map = option.substr(0, equals);
        const std::string type = option.substr(equals + 1);
        const MapSpec* found = m_spec.map(map);
        if (found == nullptr) {
            return Error::invalid("--ring-record " + option + ": the object has no map " + map);
        }
        std::optional<std::uint32_t> id;
        if (m_spec.btf()) {
            for (const btf::Kind kind : {btf::Kind::typedef_, btf::Kind::struct_, btf::Kind::union_, btf::Kind::int_}) {
                if (!id) {
                    id = m_spec.btf()->find(type, kind);
                }
            }
        }
        if (!id) {
            return Error::invalid("--ring-record " + option + ": the object's BTF has no type " + type);
        }
        records[map] = {*id, option};
    }
    std::set<std::string> members;
    for (std::size_t i = 0; i < m_spec.maps().size(); ++i) {
        const MapSpec& map = m_spec.maps()[i];
        if (map.origin == elf::MapOrigin::global_data || map.is_inner_template || i == m_spec.kconfig_map()) {
            continue;
        }
        SkeletonMap entry;
        entry.name = map.name;
        entry.member = unique_in(members, map.name);
        auto kind = m_spec.platform().map_kind(map.type);
        const std::string kind_name =
            kind ? std::string(platform::to_string(*kind)) : m_spec.platform().map_type_name(map.type);
        entry.comment = map_comment(map, kind_name);
        const std::string context = cpp_identifier(map.name);
        const auto key = [&] { return key_or_value(types, map.key_type_id, map.key_size, context + "_key").text; };
        const auto value = [&] {
            return key_or_value(types, map.value_type_id, map.value_size, context + "_value").text;
        };
        const std::string name = string_literal(map.name);
        using platform::MapKind;
        const auto record = records.find(map.name);
        if (record != records.end() && (!kind || *kind != MapKind::ringbuf)) {
            return Error::invalid("--ring-record " + record->second.second + ": the map is a " + kind_name +
                                  ", not a ring buffer");
        }
        if (kind && (*kind == MapKind::hash || *kind == MapKind::array || *kind == MapKind::lru_hash ||
                     *kind == MapKind::lpm_trie)) {
            const std::string k = key();
            const std::string v = value();
            entry.type = "embpf::Map<" + k + ", " + v + ">";
            entry.bind = "loaded.map<" + k + ", " + v + ">(" + name + ")";
        } else if (kind && platform::is_per_cpu(*kind)) {
            const std::string k = key();
            const std::string v = value();
            entry.type = "embpf::Map<" + k + ", embpf::PerCpu<" + v + ">>";
            entry.bind = "loaded.map<" + k + ", embpf::PerCpu<" + v + ">>(" + name + ")";
            entry.comment += ", one per CPU";
        } else if (kind && (*kind == MapKind::queue || *kind == MapKind::stack)) {
            const std::string v = value();
            entry.type = "embpf::Map<void, " + v + ">";
            entry.bind = "loaded.map<void, " + v + ">(" + name + ")";
        } else if (kind && *kind == MapKind::ringbuf && record != records.end()) {
            auto spelled = types.spell(record->second.first, context + "_record");
            if (!spelled) {
                return Error::invalid("--ring-record " + record->second.second + ": the type has no C++ declaration");
            }
            entry.type = "embpf::RingBuffer<" + spelled->text + ">";
            entry.bind = "loaded.ring_buffer<" + spelled->text + ">(" + name + ")";
            entry.comment += "; its records are " + m_spec.btf()->name_of(record->second.first);
        } else {
            entry.type = "embpf::MapHandle";
            entry.bind = "loaded.map(" + name + ")";
            if (kind && *kind == MapKind::ringbuf) {
                entry.comment += ". BTF does not give its records a type: embpf::RingBuffer<T>::bind(maps." +
                                 entry.member + ") reads them as T's (or generate the header with --ring-record " +
                                 map.name + "=TYPE).";
            }
        }
        m_maps.push_back(std::move(entry));
    }
    return {};
}

// `text` as `///` comment lines indented by `indent`, wrapped before column 120.
std::string doc_comment(std::string_view text, int indent) {
    const std::string lead = std::string(static_cast<std::size_t>(indent), ' ') + "/// ";
    std::string out;
    std::string line = lead;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find(' ', at);
        end = end == std::string_view::npos ? text.size() : end;
        const std::string_view word = text.substr(at, end - at);
        if (line.size() > lead.size() && line.size() + 1 + word.size() > 120) {
            out += line + "\n";
            line = lead;
        }
        line += (line.size() > lead.size() ? " " : "") + std::string(word);
        at = end + 1;
    }
    return out + line + "\n";
}

void SkeletonWriter::write_spec_class(std::ostream& out) const {
    out << "class Object;\n\n"
        << doc_comment("The object opened and not yet loaded: set the globals' initial values (and edit object_spec(): "
                       "map sizes, program types), then load(). The globals are the members below, which load() "
                       "stores in object_spec() over what ObjectSpec::set_global wrote there. A Spec loads as often as "
                       "the host wants, each load a new Object.",
                       0)
        << "class Spec {\n  public:\n";
    if (m_platform == nullptr) {
        out << doc_comment("Opens the embedded object for `platform`; without one, for the platform the object names "
                           "(eBPF for Windows' tag: windows(), otherwise linux()).",
                           4);
    } else if (built_in_platform()) {
        out << doc_comment("Opens the embedded object for `platform`; without one, for embpf::platform::" +
                               m_options.platform + "(), which it was generated for.",
                           4);
    } else {
        out << doc_comment("Opens the embedded object for `platform`: the host's platform " + m_platform->name() +
                               " (its hooks and helpers declared on it), which it was generated for.",
                           4);
    }
    out << "    [[nodiscard]] static embpf::Result<Spec> open(const embpf::platform::Platform* platform = "
           "nullptr);\n\n";
    for (const SkeletonSection& section : m_sections) {
        out << doc_comment("The initial values of the globals of " + section.name +
                               ", stored in the object at the load" +
                               (section.read_only ? " (where the verifier reads them as constants)." : "."),
                           4)
            << "    " << section.type << " " << section.member << "{};\n";
    }
    if (!m_sections.empty()) {
        out << "\n";
    }
    out << "    [[nodiscard]] embpf::ObjectSpec& object_spec() noexcept { return m_spec; }\n"
        << "    [[nodiscard]] const embpf::ObjectSpec& object_spec() const noexcept { return m_spec; }\n\n"
        << doc_comment("Loads the object with the globals above: every program verified, then every map and program "
                       "bound by name (Object::bind).",
                       4)
        << "    [[nodiscard]] embpf::Result<Object> load(const embpf::LoadOptions& options = {});\n\n"
        << "  private:\n"
        << "    explicit Spec(embpf::ObjectSpec opened) : m_spec(std::move(opened)) {}\n\n"
        << "    embpf::ObjectSpec m_spec;\n};\n\n";
}

void SkeletonWriter::write_object_class(std::ostream& out, const CppTypeWriter& types) const {
    std::set<std::string> map_members;
    for (const SkeletonMap& map : m_maps) {
        map_members.insert(map.member);
    }
    out << doc_comment("The object loaded: its maps, programs and globals bound to their C++ types. Members are "
                       "handles: copies share the map or program, which lives while any handle holds it, also after "
                       "the Object is gone.",
                       0)
        << "class Object {\n  public:\n    struct Maps {\n";
    for (const SkeletonMap& map : m_maps) {
        out << doc_comment(map.comment, 8) << "        " << types.render(map.type, map_members) << " " << map.member
            << ";\n";
    }
    out << "    };\n    struct Programs {\n";
    for (const auto& [member, program] : m_programs) {
        out << doc_comment(program->name() + ": section " + program->section() +
                               (program->type.empty() ? "" : ", type " + program->type),
                           8)
            << "        embpf::Program " << member << ";\n";
    }
    out << "    };\n\n    Maps maps;\n    Programs programs;\n";
    for (const SkeletonSection& section : m_sections) {
        out << doc_comment("The globals of " + section.name + " as the programs see them" +
                               (section.read_only ? " (read-only: read())." : ": read() and write()."),
                           4)
            << "    embpf::GlobalData<" << section.type << "> " << section.member << ";\n";
    }
    out << "\n"
        << doc_comment("Binds the maps, programs and globals of an object loaded from object_file (Spec::load does); "
                       "an error names the first that does not bind (a program that uses what this build lacks, a map "
                       "whose definition the host changed in the spec).",
                       4)
        << "    [[nodiscard]] static embpf::Result<Object> bind(embpf::Object loaded);\n\n"
        << doc_comment("The object underneath, for what the members above do not reach.", 4)
        << "    [[nodiscard]] const embpf::Object& object() const noexcept { return m_object; }\n\n"
        << "  private:\n    Object(embpf::Object loaded, Maps bound_maps, Programs bound_programs";
    for (const SkeletonSection& section : m_sections) {
        out << ",\n           embpf::GlobalData<" << section.type << "> bound_" << section.member;
    }
    out << ")\n        : maps(std::move(bound_maps)),\n          programs(std::move(bound_programs)),\n";
    for (const SkeletonSection& section : m_sections) {
        out << "          " << section.member << "(std::move(bound_" << section.member << ")),\n";
    }
    out << "          m_object(std::move(loaded)) {}\n\n    embpf::Object m_object;\n};\n\n";
}

void SkeletonWriter::write_bind(std::ostream& out, const CppTypeWriter& types) const {
    // Every handle first, each failure returned as it is (it names the map or program). Types named like a local of
    // the function are spelled with their namespace.
    std::set<std::string> locals{"loaded", "bound_maps", "bound_programs"};
    for (const SkeletonMap& map : m_maps) {
        locals.insert("map_" + map.member);
    }
    for (const auto& [member, program] : m_programs) {
        locals.insert("program_" + member);
    }
    for (const SkeletonSection& section : m_sections) {
        locals.insert("section_" + section.member);
    }
    out << "inline embpf::Result<Object> Object::bind(embpf::Object loaded) {\n";
    const auto bind = [&](const std::string& local, const std::string& expression) {
        out << "    auto " << local << " = " << types.render(expression, locals) << ";\n"
            << "    if (!" << local << ") {\n        return std::move(" << local << ").error();\n    }\n";
    };
    for (const SkeletonMap& map : m_maps) {
        bind("map_" + map.member, map.bind);
    }
    for (const auto& [member, program] : m_programs) {
        bind("program_" + member, "loaded.program(" + string_literal(program->name()) + ")");
    }
    for (const SkeletonSection& section : m_sections) {
        bind("section_" + section.member,
             "embpf::global_data<" + section.type + ">(loaded, " + string_literal(section.name) + ")");
    }
    out << "    Maps bound_maps{";
    for (const SkeletonMap& map : m_maps) {
        out << "\n        ." << map.member << " = std::move(*map_" << map.member << "),";
    }
    out << (m_maps.empty() ? "" : "\n    ") << "};\n    Programs bound_programs{";
    for (const auto& [member, program] : m_programs) {
        out << "\n        ." << member << " = std::move(*program_" << member << "),";
    }
    out << (m_programs.empty() ? "" : "\n    ") << "};\n"
        << "    return Object(std::move(loaded), std::move(bound_maps), std::move(bound_programs)";
    for (const SkeletonSection& section : m_sections) {
        out << ",\n                  std::move(*section_" << section.member << ")";
    }
    out << ");\n}\n\n";
}

void SkeletonWriter::write_load(std::ostream& out) const {
    out << "inline embpf::Result<Object> Spec::load(const embpf::LoadOptions& options) {\n";
    for (const SkeletonSection& section : m_sections) {
        out << "    if (auto written = embpf::write_section(m_spec, " << string_literal(section.name) << ", "
            << section.member << "); !written) {\n        return std::move(written).error();\n    }\n";
    }
    out << "    auto loaded = embpf::Object::load(m_spec, options);\n"
        << "    if (!loaded) {\n        return std::move(loaded).error();\n    }\n"
        << "    return Object::bind(std::move(*loaded));\n}\n\n";
}

void SkeletonWriter::write_bytes(std::ostream& out) const {
    out << doc_comment("The object file " + std::filesystem::path(m_options.file).filename().string() +
                           ", embedded: the skeleton reads nothing from disk.",
                       0)
        << "alignas(8) inline constexpr std::uint8_t object_file[" << m_bytes.size() << "] = {";
    char hex[8];
    for (std::size_t i = 0; i < m_bytes.size(); ++i) {
        out << (i % 16 == 0 ? "\n    " : " ");
        std::snprintf(hex, sizeof hex, "0x%02x,", m_bytes[i]);
        out << hex;
    }
    out << "\n};\n\n";
}

void SkeletonWriter::write_open(std::ostream& out) const {
    out << "inline embpf::Result<Spec> Spec::open(const embpf::platform::Platform* platform) {\n";
    if (built_in_platform()) {
        out << "    if (platform == nullptr) {\n        platform = &embpf::platform::" << m_options.platform
            << "();\n    }\n";
    } else if (m_platform != nullptr) {
        out << "    if (platform == nullptr) {\n        return embpf::Error::invalid("
            << string_literal(m_name + " was generated for the host platform " + m_platform->name() +
                              ": open it with that platform")
            << ");\n    }\n";
    }
    out << "    auto opened = embpf::ObjectSpec::open(std::span<const std::uint8_t>(object_file), platform);\n"
        << "    if (!opened) {\n        return std::move(opened).error();\n    }\n"
        << "    Spec spec(std::move(*opened));\n";
    for (const SkeletonSection& section : m_sections) {
        out << "    if (auto read = embpf::read_section(spec.m_spec, " << string_literal(section.name) << ", spec."
            << section.member << "); !read) {\n        return std::move(read).error();\n    }\n";
    }
    out << "    return spec;\n}\n\n"
        << doc_comment("Opens and loads the embedded object in one step, for hosts that set no global before the "
                       "load.",
                       0)
        << "[[nodiscard]] inline embpf::Result<Object> load(const embpf::platform::Platform* platform = nullptr,\n"
        << "                                                const embpf::LoadOptions& options = {}) {\n"
        << "    auto spec = Spec::open(platform);\n"
        << "    if (!spec) {\n        return std::move(spec).error();\n    }\n"
        << "    return spec->load(options);\n}\n\n";
}

Result<std::string> SkeletonWriter::write() {
    collect_sections();
    std::set<std::string> program_members;
    for (const ProgramSpec& program : m_spec.programs()) {
        m_programs.emplace_back(unique_in(program_members, program.name()), &program);
    }
    std::set<std::string> reserved{"Spec", "Object", "object_file", "load"};
    for (const SkeletonSection& section : m_sections) {
        reserved.insert(section.type);
    }
    static const btf::Types no_types;
    CppTypeWriter types(m_spec.btf() ? *m_spec.btf() : no_types, m_name, reserved);
    if (auto collected = collect_maps(types); !collected) {
        return std::move(collected).error();
    }
    for (const SkeletonSection& section : m_sections) {
        types.declare_struct(section.type,
                             "// The globals of section " + section.name + ", " + std::to_string(section.size) +
                                 " bytes, at their offsets.\n",
                             section.variables, section.size);
    }

    std::ostringstream out;
    const std::string file = std::filesystem::path(m_options.file).filename().string();
    out << "// " << m_name << ".skel.hpp, written by `embpf gen skeleton` from " << file << ".\n"
        << "// Generate it again rather than edit it. The object embedded, its types as C++ types, and the classes a\n"
        << "// host loads it through:\n//\n";
    // How a host uses it, with this object's names where it has them.
    std::vector<std::pair<std::string, std::string>> usage{
        {"auto spec = " + m_name + "::Spec::open();", "the object, embedded below"}};
    if (!m_sections.empty()) {
        usage.emplace_back("spec->" + m_sections.front().member + ".<global> = ...;",
                           "initial values, before the load");
    }
    usage.emplace_back("auto object = spec->load();", "every program verified, every map bound");
    usage.emplace_back("object->maps.<map>.lookup(key);", "embpf::Map<K, V>, RingBuffer<T> or MapHandle");
    if (!m_programs.empty()) {
        usage.emplace_back("object->programs." + m_programs.front().first + ".run(&ctx, sizeof ctx);", "");
    }
    if (!m_sections.empty()) {
        usage.emplace_back("object->" + m_sections.front().member + ".read().<global>;", "as the programs left it");
    }
    std::size_t width = 0;
    for (const auto& [code, note] : usage) {
        width = std::max(width, code.size());
    }
    for (const auto& [code, note] : usage) {
        out << "//     " << code;
        if (!note.empty()) {
            out << std::string(width - code.size() + 2, ' ') << "// " << note;
        }
        out << "\n";
    }
    out << "#pragma once\n\n#include <embpf/embpf.hpp>\n\n"
        << "#include <array>\n#include <cstddef>\n#include <cstdint>\n#include <span>\n#include <utility>\n\n";
    if (types.uses_anonymous_structs()) {
        // C's anonymous structs inside unions, which GCC and Clang take in C++ too.
        out << "#if defined(__GNUC__)\n#pragma GCC diagnostic push\n#pragma GCC diagnostic ignored \"-Wpedantic\"\n"
            << "#endif\n#if defined(__clang__)\n#pragma clang diagnostic ignored \"-Wgnu-anonymous-struct\"\n"
            << "#pragma clang diagnostic ignored \"-Wnested-anon-types\"\n#endif\n\n";
    }
    out << "namespace " << m_name << " {\n\n" << types.render(types.declarations(), {});
    // The API first, the object's bytes last: what a reader of the header looks for comes before them.
    write_spec_class(out);
    write_object_class(out, types);
    write_bind(out, types);
    write_load(out);
    write_bytes(out);
    write_open(out);
    out << "} // namespace " << m_name << "\n";
    if (types.uses_anonymous_structs()) {
        out << "\n#if defined(__GNUC__)\n#pragma GCC diagnostic pop\n#endif\n";
    }
    return out.str();
}

} // namespace

int run_gen_skeleton(const SkeletonOptions& options) {
    const auto chosen = platform_named(options.platform);
    if (!chosen) {
        return kExitBadInput;
    }
    const auto bytes = read_file(options.file);
    if (!bytes) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(std::span<const std::uint8_t>(*bytes), *chosen);
    if (!spec) {
        std::cerr << "embpf: " << options.file << ": " << spec.error().message << '\n';
        return kExitBadInput;
    }
    std::string name = options.name;
    if (name.empty()) {
        name = cpp_identifier(std::filesystem::path(options.file).stem().string());
    } else if (cpp_identifier(name) != name) {
        std::cerr << "embpf: --name " << name << " is not a C++ identifier (try " << cpp_identifier(name) << ")\n";
        return kExitBadInput;
    }
    auto header = SkeletonWriter(*spec, *bytes, options, name, *chosen).write();
    if (!header) {
        std::cerr << "embpf: " << header.error().message << '\n';
        return kExitBadInput;
    }
    if (options.output.empty()) {
        std::cout << *header;
        return kExitOk;
    }
    std::ofstream out(options.output, std::ios::binary);
    out << *header;
    out.close();
    if (!out) {
        std::cerr << "embpf: cannot write " << options.output << '\n';
        return kExitFailure;
    }
    return kExitOk;
}

} // namespace embpf::tools
