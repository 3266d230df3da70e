// `embpf sections FILE`: what an object holds, in the spirit of `netsh ebpf show sections`.
#include "commands.hpp"
#include "table.hpp"

#include "embpf/api/object_spec.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <set>

namespace embpf::tools {

namespace {

struct SectionsOptions {
    std::string file;
    std::string platform;
    bool json = false;
};

struct HelperUse {
    std::uint32_t id;
    std::string name;
};

std::vector<HelperUse> helpers_used(const ObjectSpec& spec, const ProgramSpec& program) {
    std::set<std::uint32_t> ids;
    for (const isa::Instruction& ins : program.instructions()) {
        if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::helper)) {
            ids.insert(static_cast<std::uint32_t>(ins.imm));
        }
    }
    const platform::ProgramType* type = spec.platform().program_type(program.type);
    std::vector<HelperUse> result;
    for (std::uint32_t id : ids) {
        const platform::HelperPrototype* helper =
            type != nullptr ? spec.platform().helper(*type, id) : spec.platform().helper(id);
        result.push_back({id, helper != nullptr ? helper->name : "unknown(" + std::to_string(id) + ")"});
    }
    return result;
}

std::vector<std::string> maps_used(const ObjectSpec& spec, const ProgramSpec& program) {
    std::vector<std::string> names;
    for (const elf::MapReference& ref : program.definition.map_references) {
        const std::string& name = spec.maps().at(ref.map).name;
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            names.push_back(name);
        }
    }
    return names;
}

std::string map_type_name(const ObjectSpec& spec, const MapSpec& map) {
    if (map.origin == elf::MapOrigin::global_data) {
        return "array (global data)";
    }
    return spec.platform().map_type_name(map.type);
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) {
        text += (text.empty() ? "" : ", ") + item;
    }
    return text;
}

int run_sections(const SectionsOptions& options) {
    const auto chosen_platform = platform_named(options.platform);
    if (!chosen_platform) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(std::filesystem::path(options.file), *chosen_platform);
    if (!spec) {
        std::cerr << "embpf: " << spec.error().message << '\n';
        return kExitFailure;
    }
    if (options.json) {
        nlohmann::ordered_json out;
        out["file"] = options.file;
        out["platform"] = {{"name", spec->platform().name()}, {"reason", spec->platform_choice().reason}};
        out["license"] = spec->license();
        out["programs"] = nlohmann::ordered_json::array();
        for (const ProgramSpec& program : spec->programs()) {
            nlohmann::ordered_json helpers = nlohmann::ordered_json::array();
            for (const HelperUse& helper : helpers_used(*spec, program)) {
                helpers.push_back({{"id", helper.id}, {"name", helper.name}});
            }
            nlohmann::ordered_json entry = {{"section", program.section()},
                                            {"name", program.name()},
                                            {"type", program.type},
                                            {"instructions", program.instructions().size()},
                                            {"maps", maps_used(*spec, program)},
                                            {"helpers", helpers}};
            if (program.definition.unsupported) {
                entry["unsupported"] = *program.definition.unsupported;
            }
            out["programs"].push_back(std::move(entry));
        }
        out["maps"] = nlohmann::ordered_json::array();
        for (const MapSpec& map : spec->maps()) {
            out["maps"].push_back({{"name", map.name},
                                   {"type", map_type_name(*spec, map)},
                                   {"type_id", map.type},
                                   {"key_size", map.key_size},
                                   {"value_size", map.value_size},
                                   {"max_entries", map.max_entries},
                                   {"key_type", map.key_type_name},
                                   {"value_type", map.value_type_name}});
        }
        std::cout << out.dump(2) << '\n';
        return kExitOk;
    }
    std::cout << "Platform: " << spec->platform().name() << " (" << spec->platform_choice().reason << ")\n\n";
    Table programs({"Section", "Name", "Type", "Instructions", "Maps", "Helpers"});
    for (const ProgramSpec& program : spec->programs()) {
        std::vector<std::string> helpers;
        for (const HelperUse& helper : helpers_used(*spec, program)) {
            helpers.push_back(helper.name);
        }
        programs.add({program.section(), program.name(), program.type.empty() ? "(none)" : program.type,
                      std::to_string(program.instructions().size()), join(maps_used(*spec, program)), join(helpers)});
    }
    programs.print(std::cout);
    for (const ProgramSpec& program : spec->programs()) {
        if (program.definition.unsupported) {
            std::cout << program.name() << ": " << *program.definition.unsupported << '\n';
        }
    }
    std::cout << '\n';
    Table maps({"Map", "Type", "Key size", "Value size", "Max entries"});
    for (const MapSpec& map : spec->maps()) {
        if (map.is_inner_template) {
            continue;
        }
        maps.add({map.name, map_type_name(*spec, map), std::to_string(map.key_size), std::to_string(map.value_size),
                  std::to_string(map.max_entries)});
    }
    maps.print(std::cout);
    return kExitOk;
}

} // namespace

void add_sections_command(CLI::App& app, int& status) {
    auto options = std::make_shared<SectionsOptions>();
    CLI::App* command = app.add_subcommand("sections", "List the programs and maps of an eBPF object");
    command->add_option("file", options->file, "eBPF object file (clang -target bpf)")->required();
    command->add_option("--platform", options->platform,
                        "windows, linux or a platform's JSON file (default: chosen from the object)");
    command->add_flag("--json", options->json, "print JSON");
    command->callback([options, &status] { status = run_sections(*options); });
}

} // namespace embpf::tools
