// generate_aot: an object's programs verified as a load verifies them and written out as one C file.
#include "embpf/api/aot.hpp"

#include "state.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace embpf {
namespace {

// `name` as part of a C identifier: letters, digits and underscores kept, anything else an underscore.
std::string identifier_part(std::string_view name) {
    std::string out;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out.empty() ? "_" : out;
}

// The names the prelude (exec::aot_prelude) defines: its identifiers that start with embpf_ or EMBPF_.
std::set<std::string, std::less<>> prelude_names() {
    std::set<std::string, std::less<>> names;
    const std::string prelude = exec::aot_prelude();
    const auto is_word = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    for (std::size_t at = 0; at < prelude.size();) {
        if (!is_word(prelude[at])) {
            ++at;
            continue;
        }
        std::size_t end = at;
        while (end < prelude.size() && is_word(prelude[end])) {
            ++end;
        }
        const std::string word = prelude.substr(at, end - at);
        if (word.starts_with("embpf_") || word.starts_with("EMBPF_")) {
            names.insert(word);
        }
        at = end;
    }
    return names;
}

std::string describe(const verifier::Report& report) {
    std::string text = "verified as " + report.type;
    if (report.instruction_bound) {
        text += "; a run executes at most " + std::to_string(*report.instruction_bound) + " instructions";
    }
    if (report.cost_bound) {
        text += " and costs at most " + std::to_string(*report.cost_bound);
    }
    return text;
}

} // namespace

Result<AotGenerated> generate_aot(const ObjectSpec& original, const platform::Platform& platform,
                                  const AotGenerateOptions& options) {
    if (!exec::is_c_identifier(options.prefix)) {
        return Error::invalid("the symbol prefix '" + options.prefix + "' is no C identifier");
    }
    AotGenerated generated;
    generated.module_symbol = options.module_symbol.empty() ? options.prefix + "_module" : options.module_symbol;
    if (!exec::is_c_identifier(generated.module_symbol)) {
        return Error::invalid("the module symbol '" + generated.module_symbol + "' is no C identifier");
    }
    ObjectSpec spec = original;
    if (!options.programs.empty()) {
        for (const std::string& name : options.programs) {
            if (spec.program(name) == nullptr) {
                return Error::invalid("the object has no program named " + name);
            }
        }
        std::erase_if(spec.programs(), [&](const ProgramSpec& program) {
            return std::find(options.programs.begin(), options.programs.end(), program.name()) ==
                   options.programs.end();
        });
    }
    if (spec.programs().empty()) {
        return Error::invalid("the object has no programs to compile");
    }
    LoadOptions load = options.load;
    load.engine = exec::EngineKind::aot;
    load.aot_module = nullptr;
    load.aot_library.clear();
    load.unverified = false;
    load.instruction_budget = 0;
    auto state = std::make_shared<detail::ObjectState>();
    if (&platform == &platform::windows() || &platform == &platform::linux()) {
        state->platform = std::shared_ptr<const platform::Platform>(std::shared_ptr<void>(), &platform);
    } else {
        state->platform = std::make_shared<const platform::Platform>(platform);
    }
    state->keep_facts = true;
    auto object = Object::load_on(spec, state, load);
    if (!object) {
        return std::move(object).error();
    }

    // Two programs of one name would be one program to the loader (and one descriptor to the runtime).
    std::set<std::string, std::less<>> names;
    for (const ProgramSpec& program_spec : spec.programs()) {
        if (!names.insert(program_spec.name()).second) {
            return Error::invalid("the object has two programs named " + program_spec.name() +
                                  ": compiled code finds programs by name");
        }
    }
    // Every name the file defines is defined once: the prelude's, the module's and each program's (its function, its
    // static functions and its descriptor), whatever the programs are called.
    std::set<std::string, std::less<>> taken = prelude_names();
    taken.insert(generated.module_symbol);
    taken.insert(generated.module_symbol + "_programs");
    std::vector<exec::AotModuleEntry> entries;
    for (const ProgramSpec& program_spec : spec.programs()) {
        const std::string& name = program_spec.name();
        if (const auto unavailable = state->unavailable.find(name); unavailable != state->unavailable.end()) {
            return unavailable->second;
        }
        const auto found = state->programs.find(name);
        if (found == state->programs.end()) {
            return Error::internal("program " + name + " was not loaded");
        }
        const detail::ProgramState& program = *found->second;
        exec::AotOptions aot = program.aot_options();
        if (options.lines) {
            for (const btf::LineInfo& line : program_spec.definition.lines) {
                aot.lines.push_back({line.insn, line.file, line.line});
            }
        }
        const std::string base = options.prefix + "_" + identifier_part(name);
        std::string symbol;
        std::optional<exec::AotSource> source;
        for (std::size_t n = 1; !source; ++n) {
            symbol = n == 1 ? base : base + "_" + std::to_string(n);
            if (taken.contains(symbol) || taken.contains(symbol + "_program")) {
                continue;
            }
            aot.symbol = symbol;
            auto written = exec::generate_c(program.interpreter->program(), program.helpers, aot);
            if (!written) {
                Error error = std::move(written).error();
                error.message = "program " + name + ": " + error.message;
                return error;
            }
            if (std::none_of(written->names.begin(), written->names.end(),
                             [&taken](const std::string& defined) { return taken.contains(defined); })) {
                source = std::move(written).value();
            }
        }
        taken.insert(source->names.begin(), source->names.end());
        taken.insert(symbol + "_program");
        entries.push_back({name, program.section, describe(program.report), symbol, std::move(*source)});
        generated.programs.push_back(name);
    }
    generated.source =
        exec::aot_module_source(entries, spec.hash(), platform.name(), generated.module_symbol,
                                "Generated by embpf aot: the verified programs of an object, as C.\n"
                                "Compile it into the host (or with embpf aot --shared) and load the object with "
                                "LoadOptions::engine = aot.\nDo not edit: a load binds only code whose fingerprint "
                                "is its own.");
    return generated;
}

} // namespace embpf
