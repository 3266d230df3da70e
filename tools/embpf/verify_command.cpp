// `embpf verify FILE`: the verifier's report for each program of an object, like `netsh ebpf show verification`.
#include "commands.hpp"

#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/runtime/slot.hpp"
#include "embpf/verifier/verifier.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace embpf::tools {

namespace {

struct VerifyOptions {
    std::string file;
    std::string section;
    std::string program;
    std::string type;
    std::string default_type;
    std::string platform;
    std::string level = "normal";
    bool json = false;
};

verifier::Level level_named(const std::string& name) {
    if (name == "verbose") {
        return verifier::Level::verbose;
    }
    if (name == "informational") {
        return verifier::Level::informational;
    }
    return verifier::Level::normal;
}

// A program the verifier cannot be asked about still gets a report, so that one such program does not hide the
// verdicts of the others.
verifier::Report rejected(const ProgramSpec& program, std::string type, std::string message) {
    verifier::Report report;
    report.program = program.name();
    report.section = program.section();
    report.type = std::move(type);
    report.errors.push_back({0, std::move(message), "", std::nullopt});
    return report;
}

int run_verify(const VerifyOptions& options) {
    const auto chosen_platform = platform_named(options.platform);
    if (!chosen_platform) {
        return kExitBadInput;
    }
    auto spec = ObjectSpec::open(std::filesystem::path(options.file), *chosen_platform);
    if (!spec) {
        std::cerr << "embpf: " << spec.error().message << '\n';
        return kExitBadInput;
    }
    const platform::Platform& platform = spec->platform();
    const auto type_named = [&platform](const std::string& name) -> const platform::ProgramType* {
        const platform::ProgramType* type = platform.program_type(name);
        if (type == nullptr) {
            std::string known;
            for (const platform::ProgramType& t : platform.program_types()) {
                known += (known.empty() ? "" : ", ") + t.name;
            }
            std::cerr << "embpf: platform " << platform.name() << " has no program type " << name << " (it has "
                      << known << ")\n";
        }
        return type;
    };
    const platform::ProgramType* forced_type = nullptr;
    if (!options.type.empty() && (forced_type = type_named(options.type)) == nullptr) {
        return kExitBadInput;
    }
    if (!options.default_type.empty()) {
        if (type_named(options.default_type) == nullptr) {
            return kExitBadInput;
        }
        for (ProgramSpec& program : spec->programs()) {
            if (program.type.empty()) {
                program.type = options.default_type;
            }
        }
    }
    std::vector<const ProgramSpec*> selected;
    for (const ProgramSpec& program : spec->programs()) {
        if ((options.program.empty() || program.name() == options.program) &&
            (options.section.empty() || program.section() == options.section)) {
            selected.push_back(&program);
        }
    }
    if (selected.empty()) {
        std::cerr << "embpf: " << options.file << " has no program"
                  << (options.program.empty() ? "" : " named " + options.program)
                  << (options.section.empty() ? "" : " in section " + options.section) << '\n';
        return kExitBadInput;
    }
    auto maps = spec->map_descriptors(platform);
    if (!maps) {
        std::cerr << "embpf: " << maps.error().message << '\n';
        return kExitBadInput;
    }
    for (verifier::MapDescriptor& map : *maps) {
        map.slots = runtime::slot_count(); // as a load with the default LoadOptions::slots creates them
    }

    const verifier::Level level = level_named(options.level);
    std::vector<verifier::Report> reports;
    // The object's budget, as Object::load with the default LoadOptions counts it: programs past it are not verified.
    AnalysisBudget budget(LoadOptions{}, maps->size());
    std::optional<std::string> over_budget;
    for (const ProgramSpec* program : selected) {
        const platform::ProgramType* type = forced_type != nullptr ? forced_type : platform.program_type(program->type);
        if (over_budget) {
            reports.push_back(rejected(*program, type != nullptr ? type->name : program->type, *over_budget));
        } else if (program->definition.unsupported) {
            reports.push_back(
                rejected(*program, type != nullptr ? type->name : program->type, *program->definition.unsupported));
        } else if (type == nullptr) {
            reports.push_back(rejected(*program, "",
                                       "no program type of platform " + platform.name() + " matches section " +
                                           program->section() + " (choose one with --type or --default-type)"));
        } else {
            reports.push_back(verifier::verify(program->definition, *maps, platform, *type,
                                               {.level = level, .work_limit = budget.work_left()}));
            if (auto over = budget.charge(reports.back())) {
                over_budget = "not verified: " + *over;
            }
        }
    }
    bool all_verified = true;
    for (const verifier::Report& report : reports) {
        all_verified = all_verified && report.verified;
    }

    if (options.json) {
        nlohmann::ordered_json out;
        out["file"] = options.file;
        out["platform"] = {{"name", platform.name()}, {"reason", spec->platform_choice().reason}};
        out["programs"] = nlohmann::ordered_json::array();
        for (const verifier::Report& report : reports) {
            out["programs"].push_back(nlohmann::ordered_json::parse(report.json()));
        }
        std::cout << out.dump(2) << '\n';
    } else {
        // A lone program's output is the report alone, as netsh prints it, so that tools reading one match both.
        const bool headers = reports.size() > 1;
        for (std::size_t i = 0; i < reports.size(); ++i) {
            const verifier::Report& report = reports[i];
            if (headers) {
                std::cout << (i == 0 ? "" : "\n") << "Program " << report.program << " (section " << report.section
                          << ", type " << (report.type.empty() ? "(none)" : report.type) << "):\n";
            }
            std::cout << report.text(level);
        }
    }
    return all_verified ? kExitOk : kExitFailure;
}

} // namespace

void add_verify_command(CLI::App& app, int& status) {
    auto options = std::make_shared<VerifyOptions>();
    CLI::App* command = app.add_subcommand("verify", "Verify the programs of an eBPF object and print the reports");
    command->add_option("file", options->file, "eBPF object file")->required();
    command->add_option("--section", options->section, "verify only the programs of this section");
    command->add_option("--program", options->program, "verify only the program of this name");
    command->add_option("--type", options->type, "program type to verify as (default: chosen from the section)");
    command->add_option("--default-type", options->default_type,
                        "program type of the programs whose section names none (as a loader such as tc chooses it)");
    command->add_option("--platform", options->platform,
                        "windows, linux or a platform's JSON file (default: chosen from the object)");
    command->add_option("--level", options->level, "how much the report says (default: normal)")
        ->check(CLI::IsMember({"normal", "informational", "verbose"}));
    command->add_flag("--json", options->json, "print JSON");
    command->callback([options, &status] { status = run_verify(*options); });
}

} // namespace embpf::tools
