#include "embpf/api/object.hpp"

#include "state.hpp"

#include "embpf/elf/core.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/invocation.hpp"
#include "embpf/runtime/map.hpp"
#include "embpf/runtime/slot.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_set>

namespace embpf {

namespace {

std::string map_what(const MapSpec& spec) { return "map " + spec.name; }

// A map of an earlier load may stand for `spec` (LoadOptions::reuse_maps) when it has the shape `wanted` describes.
Result<void> reuse_map(const MapSpec& spec, const runtime::MapConfig& wanted,
                       const std::shared_ptr<runtime::Map>& map) {
    if (!map) {
        return Error::invalid(map_what(spec) + ": LoadOptions::reuse_maps names no map for it");
    }
    if (spec.read_only) {
        return Error::invalid(map_what(spec) + " is read-only to programs (its bytes are the object's constants) and " +
                              "is never shared with another load");
    }
    const runtime::MapConfig& have = map->config();
    const auto differs = [&](const char* what, std::uint64_t a, std::uint64_t b) -> Result<void> {
        return Error::invalid(map_what(spec) + ": the map to reuse (" + have.name + ") has " + what + " " +
                              std::to_string(b) + ", the object's definition " + std::to_string(a));
    };
    const std::uint32_t wanted_slots = wanted.slots != 0 ? wanted.slots : runtime::slot_count();
    const std::pair<const char*, std::pair<std::uint64_t, std::uint64_t>> fields[] = {
        {"kind", {static_cast<std::uint64_t>(wanted.kind), static_cast<std::uint64_t>(have.kind)}},
        {"key size", {wanted.key_size, have.key_size}},
        {"value size", {wanted.value_size, have.value_size}},
        {"max_entries", {wanted.max_entries, have.max_entries}},
        {"flags", {wanted.flags, have.flags}},
        {"map_extra", {wanted.map_extra, have.map_extra}},
        {"spin lock offset", {wanted.spin_lock.value_or(~0U), have.spin_lock.value_or(~0U)}},
    };
    for (const auto& [what, values] : fields) {
        if (values.first != values.second) {
            return differs(what, values.first, values.second);
        }
    }
    if (platform::is_per_cpu(wanted.kind) && wanted_slots != have.slots) {
        return differs("per-CPU slots", wanted_slots, have.slots);
    }
    if ((wanted.inner == nullptr) != (have.inner == nullptr) ||
        (wanted.inner &&
         (wanted.inner->kind != have.inner->kind || wanted.inner->key_size != have.inner->key_size ||
          wanted.inner->value_size != have.inner->value_size || wanted.inner->max_entries != have.inner->max_entries ||
          wanted.inner->flags != have.inner->flags || wanted.inner->spin_lock != have.inner->spin_lock))) {
        return Error::invalid(map_what(spec) + ": the map to reuse (" + have.name +
                              ") holds inner maps of another shape than the object's definition");
    }
    if (map->frozen()) {
        return Error::invalid(map_what(spec) + ": the map to reuse (" + have.name + ") is frozen");
    }
    return {};
}

Result<platform::MapKind> kind_of(const MapSpec& spec, const platform::Platform& platform) {
    if (spec.origin == elf::MapOrigin::global_data) {
        return platform::MapKind::array;
    }
    auto kind = platform.map_kind(spec.type);
    if (!kind) {
        Error error = std::move(kind).error();
        error.message = map_what(spec) + ": " + error.message;
        return error;
    }
    return kind;
}

// Whether `code` calls a helper that tail-calls (one that does not return when it succeeds).
bool tail_calls(const std::vector<isa::Instruction>& code, const platform::Platform& platform,
                const platform::ProgramType& type) {
    return std::any_of(code.begin(), code.end(), [&](const isa::Instruction& ins) {
        if (ins.opcode != isa::op::CALL_OP || ins.src != static_cast<std::uint8_t>(isa::CallSource::helper)) {
            return false;
        }
        const platform::HelperPrototype* helper = platform.helper(type, static_cast<std::uint32_t>(ins.imm));
        return helper != nullptr && helper->ret == platform::ReturnKind::no_return_on_success;
    });
}

Result<runtime::MapConfig> config_of(const std::vector<MapSpec>& specs, std::size_t index,
                                     const platform::Platform& platform, const LoadOptions& options) {
    const MapSpec& spec = specs[index];
    auto kind = kind_of(spec, platform);
    if (!kind) {
        return std::move(kind).error();
    }
    runtime::MapConfig config;
    config.name = spec.name;
    config.kind = *kind;
    config.key_size = spec.key_size;
    config.value_size = spec.value_size;
    config.max_entries = spec.max_entries;
    config.flags = spec.map_flags;
    config.map_extra = spec.map_extra;
    // A hash every load shares lets a plugin choose keys that fall into one bucket, and make each lookup walk all of
    // them (a lookup is charged a fixed number of probes): an object's hash maps are seeded at random whatever it
    // asks, on every platform. A host that wants the zero seed creates its map itself (runtime::create_map).
    config.flags &= ~runtime::bpf_f_zero_seed;
    config.slots = options.slots;
    config.spin_lock = verifier::spin_lock_of(spec, *kind).offset; // the lock the verifier lets programs take
    if (spec.inner_map) {
        if (*spec.inner_map >= specs.size() || *spec.inner_map == index) {
            return Error::invalid(map_what(spec) + ": its inner map is not a map of the object");
        }
        // One level: an inner map that names an inner map of its own would nest (or loop, m0 -> m1 -> m0).
        if (specs[*spec.inner_map].inner_map) {
            return Error::invalid(map_what(spec) + ": its inner map " + specs[*spec.inner_map].name +
                                  " names an inner map of its own; maps of maps hold maps without inner maps");
        }
        auto inner = config_of(specs, *spec.inner_map, platform, options);
        if (!inner) {
            return std::move(inner).error();
        }
        config.inner = std::make_shared<const runtime::MapConfig>(std::move(inner).value());
    }
    return config;
}

// The size of a map's key or value type, for the typed bindings to check against.
std::optional<std::uint32_t> btf_size(const ObjectSpec& spec, std::uint32_t type_id) {
    if (!spec.btf() || type_id == 0) {
        return std::nullopt;
    }
    auto size = spec.btf()->size_of(type_id);
    if (!size) {
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(*size); // BTF sizes are at most UINT32_MAX
}

// Makes the lddw at `pc` load `value`, a plain 64-bit constant.
void set_lddw(std::vector<isa::Instruction>& code, std::size_t pc, std::uint64_t value) {
    code[pc].src = static_cast<std::uint8_t>(isa::LddwSource::imm64);
    code[pc].imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
    code[pc + 1].imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(value >> 32));
}

// The struct the program's first parameter points to, as its BTF says (through typedefs and qualifiers), or nullptr.
const btf::Type* context_struct(const btf::Types& types, std::string_view function) {
    const std::optional<std::uint32_t> func = types.find(function, btf::Kind::func);
    const btf::Type* f = func ? types.get(*func) : nullptr;
    const btf::Type* proto = f != nullptr ? types.get(f->ref) : nullptr;
    if (proto == nullptr || proto->kind != btf::Kind::func_proto || proto->params.empty()) {
        return nullptr;
    }
    const btf::Type* pointer = types.get(types.resolve(proto->params[0].type));
    if (pointer == nullptr || pointer->kind != btf::Kind::ptr) {
        return nullptr;
    }
    const btf::Type* target = types.get(types.resolve(pointer->ref));
    return target != nullptr && target->kind == btf::Kind::struct_ ? target : nullptr;
}

// Each member of the program's context struct (per its BTF) that names a field of the hook's context starts where
// the hook's field does: else the program was compiled against another layout than the host's. (Sizes may differ:
// older headers declare some fields wider, a flexible array has none, and the verifier holds every access to the
// hook's fields anyway.) A program with CO-RE relocations is skipped: its offsets follow the target's types.
Result<void> check_context_btf(const btf::Types& types, const elf::ProgramDefinition& program,
                               const platform::ProgramType& type) {
    const btf::Type* context = program.core_relocations.empty() ? context_struct(types, program.name) : nullptr;
    if (context == nullptr) {
        return {};
    }
    for (const btf::Member& member : context->members) {
        const platform::ContextField* field = member.name.empty() ? nullptr : type.context.field(member.name);
        if (field == nullptr || member.bitfield_size != 0) {
            continue;
        }
        if (member.bit_offset % 8 != 0 || member.bit_offset / 8 != field->offset) {
            return Error::invalid("its context struct " + context->name + " has " + member.name + " at byte " +
                                  std::to_string(member.bit_offset / 8) + ", the " + type.name +
                                  " hook's context at byte " + std::to_string(field->offset) +
                                  ": it was compiled against another layout than the host's");
        }
    }
    return {};
}

Error in_program(const std::string& program, Error error) {
    error.message = "program " + program + ": " + error.message;
    return error;
}

// The programs of an object read their platform (program types, helper prototypes) whenever they run: the object
// keeps it alive. The built-in platforms live for the whole process; any other is copied.
std::shared_ptr<const platform::Platform> keep(const platform::Platform& platform) {
    if (&platform == &platform::windows() || &platform == &platform::linux()) {
        return std::shared_ptr<const platform::Platform>(std::shared_ptr<void>(), &platform);
    }
    return std::make_shared<const platform::Platform>(platform);
}

} // namespace

std::uint64_t AnalysisBudget::work_left() const noexcept {
    return m_max_work == 0 ? 0
                           : std::clamp<std::uint64_t>(m_max_work - std::min(m_work, m_max_work), 1,
                                                       verifier::Options{}.work_limit);
}

std::optional<std::string> AnalysisBudget::charge(const verifier::Report& report) {
    m_work += report.analysis_work + LoadOptions::work_per_program + LoadOptions::work_per_map * m_maps;
    m_analysed += report.analysed_instructions;
    if (m_max_work != 0 && m_work > m_max_work) {
        return "the object's programs need more than " + std::to_string(m_max_work) +
               " units of analysis work together (LoadOptions::max_analysis_work)";
    }
    if (m_max_analysed != 0 && m_analysed > m_max_analysed) {
        return "the object's programs need more than " + std::to_string(m_max_analysed) +
               " instructions analysed together (LoadOptions::max_analysed_instructions)";
    }
    return std::nullopt;
}

Result<Object> Object::load(const ObjectSpec& spec, const LoadOptions& options) {
    return load(spec, spec.platform(), options);
}

Result<Object> Object::load(const ObjectSpec& spec, const platform::Platform& platform, const LoadOptions& options) {
    // Every allocation a load makes (maps sized by the object, the verifier's states) may fail on a host with little
    // memory: the load fails with an error and everything else stays as it was.
    try {
        return load_object(spec, platform, options);
    } catch (const std::bad_alloc&) {
        return Error::runtime("out of memory while loading the object");
    }
}

Result<Object> Object::load_object(const ObjectSpec& spec, const platform::Platform& platform,
                                   const LoadOptions& options) {
    auto state = std::make_shared<detail::ObjectState>();
    state->platform = keep(platform);
    return load_on(spec, state, options);
}

Result<Object> Object::load_on(const ObjectSpec& spec, std::shared_ptr<detail::ObjectState> state,
                               const LoadOptions& options) {
    const platform::Platform& platform = *state->platform;
    std::vector<verifier::MapDescriptor> descriptors;
    if (!options.unverified) {
        auto described = spec.map_descriptors(platform); // `.kconfig` externs read as the platform's constants
        if (!described) {
            return std::move(described).error();
        }
        descriptors = std::move(described).value();
    }
    auto kconfig = spec.kconfig_value(platform); // what the `.kconfig` map holds, verified or not
    if (!kconfig) {
        return std::move(kconfig).error();
    }

    // Maps first: programs refer to them by index. Their creation is counted here; what they allocate later (hash
    // elements of maps that grow) is counted by the maps themselves against the same budget.
    if (options.memory_limit != 0) {
        state->budget = std::make_shared<runtime::MemoryBudget>(options.memory_limit);
    }
    std::vector<std::shared_ptr<runtime::Map>> maps(spec.maps().size());
    for (std::size_t i = 0; i < spec.maps().size(); ++i) {
        const MapSpec& map_spec = spec.maps()[i];
        if (!descriptors.empty()) {
            // What an update of a per-CPU map costs depends on its slots (the templates' maps get as many).
            descriptors[i].slots = options.slots != 0 ? options.slots : runtime::slot_count();
        }
        if (map_spec.is_inner_template) {
            continue; // only a shape for the maps its outer map will hold
        }
        auto config = config_of(spec.maps(), i, platform, options);
        if (!config) {
            return std::move(config).error();
        }
        if (const auto reused = options.reuse_maps.find(map_spec.name); reused != options.reuse_maps.end()) {
            auto shared = reuse_map(map_spec, *config, reused->second);
            if (!shared) {
                return std::move(shared).error();
            }
            maps[i] = reused->second;
            state->maps.emplace_back(
                map_spec.name, MapHandle(reused->second, false, map_spec.key_type_name, map_spec.value_type_name,
                                         btf_size(spec, map_spec.key_type_id), btf_size(spec, map_spec.value_type_id)));
            continue;
        }
        config->budget = state->budget;
        auto estimate = runtime::map_memory_estimate(*config);
        if (!estimate) {
            Error error = std::move(estimate).error();
            error.message = map_what(map_spec) + ": " + error.message;
            return error;
        }
        const std::size_t need = *estimate;
        if (options.memory_limit != 0 && need > options.memory_limit - std::min(options.memory_limit, state->memory)) {
            return Error::invalid(map_what(map_spec) + " needs " + std::to_string(need) + " bytes; with the " +
                                  std::to_string(state->memory) + " bytes of the maps before it that exceeds the " +
                                  "object's memory limit of " + std::to_string(options.memory_limit) + " bytes");
        }
        auto map = runtime::create_map(*config);
        if (!map) {
            Error error = std::move(map).error();
            error.message = map_what(map_spec) + ": " + error.message;
            return error;
        }
        state->memory += (*map)->memory_size();
        if (state->budget && !state->budget->charge((*map)->memory_size())) {
            return Error::invalid(map_what(map_spec) + " takes " + std::to_string((*map)->memory_size()) +
                                  " bytes; with the maps before it that exceeds the object's memory limit of " +
                                  std::to_string(options.memory_limit) + " bytes");
        }
        if (map_spec.origin == elf::MapOrigin::global_data) {
            const std::uint32_t zero = 0;
            auto written = (*map)->host_update({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero},
                                               i == spec.kconfig_map() ? *kconfig : map_spec.initial_value, 0);
            if (!written) {
                return Error::internal(map_what(map_spec) +
                                       ": cannot store its initial value: " + written.error().message);
            }
            if (map_spec.read_only) {
                // `.rodata`: what the verifier reads from the value holds for good.
                if (auto frozen = (*map)->freeze(); !frozen) {
                    return Error::internal(map_what(map_spec) + ": cannot freeze it: " + frozen.error().message);
                }
            }
        }
        maps[i] = *map;
        state->maps.emplace_back(
            map_spec.name, MapHandle(*map, map_spec.read_only, map_spec.key_type_name, map_spec.value_type_name,
                                     btf_size(spec, map_spec.key_type_id), btf_size(spec, map_spec.value_type_id)));
    }

    // The compiled code LoadOptions::engine = aot binds the programs to (none for generate_aot's load).
    const embpf_aot_module* module = nullptr;
    const bool aot = options.engine == exec::EngineKind::aot && !state->keep_facts;
    if (aot) {
        if (options.unverified) {
            return Error::invalid("engine aot runs verified programs only: a program loaded unverified runs in the "
                                  "checked interpreter");
        }
        if (options.instruction_budget != 0) {
            return Error::invalid("engine aot: compiled code is not metered (LoadOptions::instruction_budget)");
        }
        if (!options.aot_library.empty()) {
            auto library = exec::AotLibrary::open(options.aot_library);
            if (!library) {
                return std::move(library).error();
            }
            state->aot_library = library->owner();
            module = &library->module();
        } else if (options.aot_module != nullptr) {
            if (auto checked = exec::check_aot_module(*options.aot_module); !checked) {
                return std::move(checked).error();
            }
            module = options.aot_module;
        } else {
            return Error::invalid("engine aot runs compiled code: give LoadOptions::aot_module (the module of the C "
                                  "embpf aot wrote, compiled into the host) or LoadOptions::aot_library (a shared "
                                  "object embpf aot --shared built)");
        }
        const std::string built_from = module->object_hash != nullptr ? module->object_hash : "";
        if (!built_from.empty() && !spec.hash().empty() && built_from != spec.hash()) {
            return Error::invalid("the compiled code was generated from another object (SHA-256 " +
                                  built_from.substr(0, 16) + "..., this object's " + spec.hash().substr(0, 16) +
                                  "...): generate it again from this object with embpf aot");
        }
    }

    AnalysisBudget budget(options, descriptors.size()); // what the programs' analyses may do together
    std::optional<elf::CoreRelocator> relocator;        // the target's types indexed once for every program
    std::map<const platform::ProgramType*, exec::HelperTable> helper_tables; // one per program type
    for (const ProgramSpec& program_spec : spec.programs()) {
        const std::string& name = program_spec.name();
        if (program_spec.definition.unsupported) {
            state->unavailable.emplace(name,
                                       in_program(name, Error::unsupported(*program_spec.definition.unsupported)));
            continue;
        }
        // A program naming an extern the host gave no value does not load; the object's others do.
        const auto no_value =
            std::find_if(program_spec.definition.externs.begin(), program_spec.definition.externs.end(),
                         [&options](const elf::ExternReference& ref) { return !options.externs.contains(ref.name); });
        if (no_value != program_spec.definition.externs.end()) {
            state->unavailable.emplace(
                name, in_program(name, Error::invalid("extern " + no_value->name +
                                                      " has no value: the host gives it in LoadOptions::externs")));
            continue;
        }
        auto program = std::make_shared<detail::ProgramState>();
        program->id = detail::next_program_id();
        program->platform = state->platform;
        program->name = name;
        program->section = program_spec.section();
        program->type = platform.program_type(program_spec.type);
        if (program->type == nullptr) {
            return in_program(name, Error::invalid(program_spec.type.empty()
                                                       ? "section " + program_spec.section() +
                                                             " names no program type of platform " + platform.name() +
                                                             "; set ProgramSpec::type"
                                                       : "program type " + program_spec.type +
                                                             " is not part of platform " + platform.name()));
        }
        elf::ProgramDefinition definition = program_spec.definition;
        if (!definition.core_relocations.empty()) {
            if (options.target_btf && spec.btf()) {
                if (!relocator) {
                    relocator.emplace(*spec.btf(), *options.target_btf);
                }
                auto outcomes = relocator->apply(definition);
                if (!outcomes) {
                    return in_program(name, std::move(outcomes).error());
                }
                for (const elf::CoreOutcome& outcome : *outcomes) {
                    program->relocation_report.push_back(std::to_string(outcome.insn) + ": " + outcome.description);
                }
            } else {
                program->relocation_report.push_back(std::to_string(definition.core_relocations.size()) +
                                                     " CO-RE relocations kept their compiled offsets: no target "
                                                     "BTF was given (LoadOptions::target_btf)");
            }
        }
        // A program whose BTF describes its context struct was compiled against that layout: where it names a field
        // of the hook's context, the two must agree.
        if (spec.btf()) {
            if (auto agreed = check_context_btf(*spec.btf(), program_spec.definition, *program->type); !agreed) {
                return in_program(name, std::move(agreed).error());
            }
        }
        if (!options.unverified) {
            // The optimizing JIT compiles with what the verifier proved (OptimizerOptions::facts).
            program->report = verifier::verify(definition, descriptors, platform, *program->type,
                                               {.level = options.verifier_level,
                                                .work_limit = budget.work_left(),
                                                .facts = options.engine == exec::EngineKind::optimized ||
                                                         options.engine == exec::EngineKind::automatic ||
                                                         options.engine == exec::EngineKind::aot || state->keep_facts});
            program->facts = std::move(program->report.facts); // the report's copy goes (Program::verification())
            program->report.facts = {};
            if (auto over = budget.charge(program->report)) {
                return in_program(name, Error::invalid(std::move(*over)));
            }
            if (!program->report.verified) {
                // The report's own first line says it failed: the message says so once.
                std::string text = program->report.text(options.verifier_level);
                constexpr std::string_view header = "Verification failed\n";
                if (text.starts_with(header)) {
                    text.erase(0, header.size());
                }
                Error failed = Error::invalid("verification failed\n" + text);
                if (!program->report.errors.empty()) {
                    failed.pc = program->report.errors.front().pc;
                }
                failed.report = std::make_shared<const verifier::Report>(program->report);
                return in_program(name, std::move(failed));
            }
            const std::uint64_t bound = program->report.cost_bound.value_or(~std::uint64_t{0});
            if (options.max_instructions != 0 && bound > options.max_instructions) {
                return in_program(name, Error::invalid("a run may cost " + std::to_string(bound) +
                                                       " instructions (helper calls counted by the memory they "
                                                       "cover), more than LoadOptions::max_instructions (" +
                                                       std::to_string(options.max_instructions) + ")"));
            }
            // A chain runs up to 33 tail-calling programs and then one more: each that tail-calls gets a 33rd of the
            // limit, so that a whole chain costs at most twice the limit.
            const std::uint64_t share = std::max<std::uint64_t>(options.max_instructions / runtime::kMaxTailCalls, 1);
            if (options.max_instructions != 0 && bound > share &&
                tail_calls(definition.instructions, platform, *program->type)) {
                return in_program(name,
                                  Error::invalid("a run may cost " + std::to_string(bound) +
                                                 " instructions, more than LoadOptions::max_instructions / " +
                                                 std::to_string(runtime::kMaxTailCalls) + " (" + std::to_string(share) +
                                                 ") for a program that tail-calls: a chain of tail calls "
                                                 "costs at most twice the limit"));
            }
            program->verified = true;
        }
        // Map references become the addresses the helpers and loads use.
        std::vector<isa::Instruction> code = definition.instructions;
        std::unordered_set<const runtime::Map*> named; // program->maps, found without a scan per reference
        // A definition a host edited may name any instruction: only a lddw's two slots take an address.
        const auto is_lddw_at = [&code](std::size_t pc) { return pc + 1 < code.size() && isa::is_lddw(code[pc]); };
        for (const elf::ExternReference& ref : definition.externs) {
            // Only a lddw the verifier read as an extern (source `variable`) takes the host's value (and a map
            // reference on the same lddw, which the verifier reads as the map, replaces it below).
            if (!is_lddw_at(ref.instruction) ||
                definition.instructions[ref.instruction].src != static_cast<std::uint8_t>(isa::LddwSource::variable)) {
                return in_program(name, Error::invalid("extern " + ref.name + " names no extern lddw of the program"));
            }
            set_lddw(code, ref.instruction,
                     options.externs.find(ref.name)->second + // each has one (above)
                         static_cast<std::uint64_t>(ref.addend));
        }
        for (const elf::MapReference& ref : definition.map_references) {
            if (!is_lddw_at(ref.instruction) || ref.map >= maps.size()) {
                return in_program(name, Error::invalid("map reference " + std::to_string(ref.instruction) +
                                                       " names no lddw of the program or no map of the object"));
            }
            const std::shared_ptr<runtime::Map>& map = maps.at(ref.map);
            if (!map) {
                return in_program(name,
                                  Error::invalid("refers to the inner map template " + spec.maps()[ref.map].name));
            }
            std::uint64_t address = reinterpret_cast<std::uintptr_t>(map.get());
            if (ref.value) {
                const std::uint32_t zero = 0;
                auto* value = static_cast<std::uint8_t*>(map->lookup(&zero));
                if (value == nullptr || ref.offset > map->config().value_size) {
                    return in_program(name, Error::invalid("a reference into " + spec.maps()[ref.map].name +
                                                           " lies outside its value"));
                }
                address = reinterpret_cast<std::uintptr_t>(value + ref.offset);
            }
            set_lddw(code, ref.instruction, address);
            program->references.push_back(static_cast<std::uint32_t>(ref.instruction));
            program->reference_maps.push_back(ref.value ? verifier::RegisterFact::kNoIndex
                                                        : static_cast<std::uint32_t>(ref.map));
            if (named.insert(map.get()).second) {
                program->maps.push_back(map);
            }
            // A program array serves one program type, fixed by its first user, as on Linux.
            if (map->kind() == platform::MapKind::prog_array) {
                if (auto bound = static_cast<runtime::ProgramArrayMap&>(*map).bind_program_type(*program->type);
                    !bound) {
                    return in_program(name, std::move(bound).error());
                }
            }
        }
        // Loads of 32-bit packet pointer fields read the host's pointers behind the struct.
        if (!program->report.context_loads.empty()) {
            code = verifier::rewrite_context_loads(code, program->report);
        }
        if (auto helpers_ok = runtime::check_helpers(code, platform, *program->type); !helpers_ok) {
            return in_program(name, std::move(helpers_ok).error());
        }
        auto [table, fresh_table] = helper_tables.try_emplace(program->type);
        if (fresh_table) {
            table->second = runtime::helper_table(platform, *program->type);
        }
        // Loads through the host addresses a tracing hook hands over read as probes (none when unverified: such a
        // program's loads are ordinary ones, which the unverified run_checked confines to its regions).
        program->instruction_budget = options.instruction_budget;
        auto interpreter = exec::Interpreter::create(code, table->second,
                                                     {.packet = exec::packet_layout(*program->type),
                                                      .probe_loads = program->report.probe_loads,
                                                      .instruction_budget = program->instruction_budget});
        if (!interpreter) {
            return in_program(name, std::move(interpreter).error());
        }
        program->interpreter.emplace(std::move(interpreter).value());
        program->helpers = table->second;
        program->swap_executable(std::make_unique<exec::Interpreter>(*program->interpreter));
        if (aot && program->verified) {
            // The compiled code of this program, bound only if it is the code this load's program generates.
            const embpf_aot_program* compiled = nullptr;
            for (std::uint32_t i = 0; i < module->program_count; ++i) {
                if (name == module->programs[i]->name) {
                    compiled = module->programs[i];
                    break;
                }
            }
            if (compiled == nullptr) {
                return in_program(name, Error::invalid("the compiled module has no code for it: generate the code "
                                                       "again from this object with embpf aot"));
            }
            auto bound =
                exec::AotProgram::create(*compiled, code, program->helpers, program->aot_options(), state->aot_library);
            if (!bound) {
                return in_program(name, std::move(bound).error());
            }
            program->aot = std::make_shared<const exec::AotProgram>(std::move(bound).value());
        }
        // `automatic` starts in the baseline JIT, ready at once; the optimizing JIT's code comes later. generate_aot's
        // load has no compiled code yet: its programs stay in the interpreter.
        const exec::EngineKind first = options.engine == exec::EngineKind::automatic ? exec::EngineKind::jit
                                       : state->keep_facts                           ? exec::EngineKind::interpreter
                                                                                     : options.engine;
        if (first != exec::EngineKind::interpreter) {
            // The engine asked for, or the tier below with the reason it does not run (never a failed load): the
            // optimizing JIT falls back to the baseline JIT, the JIT to the interpreter.
            if (auto used = program->install(first); !used) {
                program->engine_fallback = used.error().message;
                if (first == exec::EngineKind::optimized) {
                    if (auto baseline = program->install(exec::EngineKind::jit); !baseline) {
                        program->engine_fallback += "; " + baseline.error().message;
                    }
                }
            }
        }
        if (options.engine == exec::EngineKind::automatic) {
            program->arm_promotion(options);
        } else if (!state->keep_facts) {
            program->facts = {}; // they served the compilation (hundreds of bytes an instruction): not kept
        }
        // A checked run may touch the global data it refers to, and what helpers hand out.
        std::unordered_set<std::size_t> data_maps; // one region each, however many references
        for (const elf::MapReference& ref : definition.map_references) {
            if (ref.value && data_maps.insert(ref.map).second) {
                const std::uint32_t zero = 0;
                const runtime::Map& map = *maps[ref.map];
                program->checked.regions.push_back({const_cast<runtime::Map&>(map).lookup(&zero),
                                                    map.config().value_size, !spec.maps()[ref.map].read_only, true,
                                                    map.config().spin_lock});
            }
        }
        // Checked runs check every helper argument against the helper's prototype (the contract the verifier
        // checks for verified programs): the platform and the type are the program's own (ProgramState::platform),
        // and live as long as it. The maps a program may name are its own and the inner maps its lookups return.
        program->checked.platform = &platform;
        program->checked.program_type = program->type;
        auto shape_of = [](const runtime::Map& map) {
            return exec::MapShape{map.config().key_size, map.config().value_size, map.config().kind,
                                  std::max<std::uint32_t>(map.config().slots, 1), map.config().spin_lock};
        };
        // By address, for a search per helper call that takes a map (a program may name tens of thousands).
        std::vector<std::pair<std::uint64_t, exec::MapShape>> shapes;
        shapes.reserve(program->maps.size());
        for (const std::shared_ptr<runtime::Map>& map : program->maps) {
            shapes.emplace_back(reinterpret_cast<std::uintptr_t>(map.get()), shape_of(*map));
        }
        std::sort(shapes.begin(), shapes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        program->checked.map_shape = [shapes =
                                          std::move(shapes)](std::uint64_t address) -> std::optional<exec::MapShape> {
            const auto found = std::lower_bound(shapes.begin(), shapes.end(), address,
                                                [](const auto& entry, std::uint64_t a) { return entry.first < a; });
            if (found == shapes.end() || found->first != address) {
                return std::nullopt;
            }
            return found->second;
        };
        program->checked.helper_result_map = [&platform, type = program->type,
                                              shape_of](std::uint32_t id, const std::uint64_t* args,
                                                        std::uint64_t r0) -> std::optional<exec::MapShape> {
            const platform::HelperPrototype* prototype = platform.helper(*type, id);
            if (prototype == nullptr || prototype->ret != platform::ReturnKind::ptr_to_map_value_or_null) {
                return std::nullopt;
            }
            // The checks before the call made args[0] a map; a map of maps' value is an inner map.
            const auto* outer = reinterpret_cast<const runtime::Map*>(static_cast<std::uintptr_t>(args[0]));
            if (outer->kind() != platform::MapKind::array_of_maps && outer->kind() != platform::MapKind::hash_of_maps) {
                return std::nullopt;
            }
            return shape_of(*reinterpret_cast<const runtime::Map*>(static_cast<std::uintptr_t>(r0)));
        };
        // The data range's pointer fields stay as the entry checks found them (and where the program's struct has
        // 32-bit fields for them, those too). Unverified programs load those fields as they are: a checked run reads
        // each such load from the host's pointer.
        const platform::ContextDescriptor& context = program->type->context;
        for (const std::int32_t field : {context.data, context.data_end, context.meta}) {
            if (field >= 0) {
                program->checked.context_read_only.emplace_back(static_cast<std::uint32_t>(field),
                                                                context.pointer_width);
                if (context.pointer_width == 4) {
                    const auto host = static_cast<std::uint32_t>(context.host_offset(field));
                    program->checked.context_read_only.emplace_back(host, 8);
                    program->checked.context_translations.emplace_back(static_cast<std::uint32_t>(field), host);
                }
            }
        }
        // So do the memory regions' pointers and sizes.
        program->regions = runtime::region_fields(context);
        for (const runtime::RegionField& region : program->regions) {
            program->checked.context_read_only.emplace_back(region.pointer, 8);
            if (region.size_field >= 0) {
                program->checked.context_read_only.emplace_back(static_cast<std::uint32_t>(region.size_field),
                                                                region.size_width);
            }
        }
        program->checked.helper_result_region =
            [&platform, type = program->type](std::uint32_t id, const std::uint64_t* args,
                                              std::uint64_t r0) -> std::optional<exec::MemoryRegion> {
            const platform::HelperPrototype* prototype = platform.helper(*type, id);
            if (prototype == nullptr || r0 == 0) {
                return std::nullopt;
            }
            void* start = reinterpret_cast<void*>(static_cast<std::uintptr_t>(r0));
            if (prototype->ret == platform::ReturnKind::ptr_to_map_value_or_null ||
                prototype->ret == platform::ReturnKind::ptr_to_map_value) {
                const auto* map = reinterpret_cast<const runtime::Map*>(static_cast<std::uintptr_t>(args[0]));
                return exec::MemoryRegion{start, map->config().value_size, true, true, map->config().spin_lock};
            }
            if (prototype->ret == platform::ReturnKind::ptr_to_alloc_mem_or_null) {
                return exec::MemoryRegion{start, static_cast<std::size_t>(args[1]), true};
            }
            return std::nullopt;
        };
        state->programs.emplace(name, std::move(program));
    }
    // Entries the object's definitions initialize: inner maps of maps of maps, programs of program arrays.
    for (std::size_t i = 0; i < spec.maps().size(); ++i) {
        for (const MapSpec::InitialEntry& entry : spec.maps()[i].initial_entries) {
            const std::string what = map_what(spec.maps()[i]) + " entry " + std::to_string(entry.index);
            const std::uint32_t key = entry.index;
            const std::span<const std::uint8_t> key_bytes(reinterpret_cast<const std::uint8_t*>(&key), sizeof key);
            Result<void> set;
            if (entry.map) {
                auto* outer = dynamic_cast<runtime::MapOfMaps*>(maps[i].get());
                if (outer == nullptr || !maps.at(*entry.map)) {
                    return Error::invalid(what + ": initialized with a map, but it is not a map of maps");
                }
                set = outer->set_inner(key_bytes, maps[*entry.map]);
            } else {
                auto program = state->programs.find(entry.program);
                if (maps[i]->kind() != platform::MapKind::prog_array || program == state->programs.end()) {
                    return Error::invalid(what + ": initialized with program " + entry.program +
                                          ", which is not a loaded program or not in a program array");
                }
                set = static_cast<runtime::ProgramArrayMap&>(*maps[i]).set_program(entry.index, program->second,
                                                                                   program->second->type);
            }
            if (!set) {
                Error error = std::move(set).error();
                error.message = what + ": " + error.message;
                return error;
            }
        }
    }
    // Promotions right after the load (LoadOptions::promote_after 0) start once the whole object has loaded: a load
    // that fails compiles nothing.
    if (options.engine == exec::EngineKind::automatic && options.promote_after == 0) {
        for (const auto& entry : state->programs) {
            entry.second->request_promotion();
        }
    }
    detail::track(state);
    return Object(std::move(state));
}

Object::~Object() = default;

Result<Program> Object::program(std::string_view name) const {
    if (auto it = m_state->programs.find(name); it != m_state->programs.end()) {
        return Program(it->second, m_state);
    }
    if (auto it = m_state->unavailable.find(name); it != m_state->unavailable.end()) {
        return it->second;
    }
    return Error::invalid("the object has no program named " + std::string(name));
}

std::vector<std::string> Object::program_names() const {
    std::vector<std::string> names;
    for (const auto& entry : m_state->programs) {
        names.push_back(entry.first);
    }
    return names;
}

Result<MapHandle> Object::map(std::string_view name) const {
    for (const auto& entry : m_state->maps) {
        if (entry.first == name) {
            return entry.second;
        }
    }
    return Error::invalid("the object has no map named " + std::string(name));
}

std::vector<std::string> Object::map_names() const {
    std::vector<std::string> names;
    for (const auto& entry : m_state->maps) {
        names.push_back(entry.first);
    }
    return names;
}

std::size_t Object::memory_size() const noexcept {
    std::size_t bytes = 0;
    for (const auto& entry : m_state->maps) {
        bytes += entry.second.memory_size();
    }
    return bytes;
}

const platform::Platform& Object::platform() const noexcept { return *m_state->platform; }

namespace detail {

Result<std::unique_ptr<const exec::Executable>> ProgramState::prepare(exec::EngineKind kind) const {
    using Code = std::unique_ptr<const exec::Executable>;
    if (!verified) {
        return Error::invalid("program " + name + ": loaded unverified, it runs only in the checked interpreter");
    }
    switch (kind) {
    case exec::EngineKind::interpreter: return Code(std::make_unique<exec::Interpreter>(*interpreter));
    case exec::EngineKind::jit: {
        auto jit = exec::Jit::create(interpreter->program(), helpers,
                                     {.packet = exec::packet_layout(*type),
                                      .probe_loads = report.probe_loads,
                                      .instruction_budget = instruction_budget});
        if (!jit) {
            Error error = std::move(jit).error();
            error.message = "program " + name + ": the jit engine cannot run it: " + error.message;
            return error;
        }
        return Code(std::make_unique<exec::Jit>(std::move(jit).value()));
    }
    case exec::EngineKind::optimized: {
        auto optimized = exec::OptimizedJit::create(interpreter->program(), helpers, optimizer_options());
        if (!optimized) {
            Error error = std::move(optimized).error();
            error.message = "program " + name + ": the optimized engine cannot run it: " + error.message;
            return error;
        }
        return Code(std::make_unique<exec::OptimizedJit>(std::move(optimized).value()));
    }
    case exec::EngineKind::aot:
        if (!aot) {
            return Error::unsupported("program " + name +
                                      ": it has no compiled code (engine aot is chosen at load: LoadOptions::engine "
                                      "with aot_module or aot_library)");
        }
        return Code(std::make_unique<exec::AotProgram>(*aot));
    case exec::EngineKind::automatic:
        return Error::invalid("program " + name +
                              ": automatic is chosen when a program is loaded (LoadOptions::engine), not after");
    }
    return Error::internal("program " + name + ": an unknown engine");
}

Result<void> ProgramState::install(exec::EngineKind kind) const {
    auto code = prepare(kind);
    if (!code) {
        return std::move(code).error();
    }
    swap_executable(std::move(code).value());
    return {};
}

Result<void> ProgramState::use_engine(exec::EngineKind kind) const {
    if (kind == exec::EngineKind::automatic) {
        return prepare(kind).error(); // a load's choice: refused, and the program's tiering is left as it is
    }
    // The host's choice ends the promotion before anything is compiled, so that one finishing meanwhile is thrown
    // away; and the swap is made under the lock, so that none is made between this check and it.
    {
        const std::lock_guard lock(engine_mutex);
        if (promotion.load(std::memory_order_relaxed) != Promotion::none) {
            promotion.store(Promotion::overridden, std::memory_order_relaxed);
            promotion_changed.notify_all();
        }
    }
    auto code = prepare(kind);
    if (!code) {
        return std::move(code).error();
    }
    const exec::Executable* old = nullptr;
    {
        const std::lock_guard lock(engine_mutex);
        old = exchange_executable(std::move(code).value());
    }
    retire(old);
    return {};
}

exec::AotOptions ProgramState::aot_options() const {
    exec::AotOptions options;
    options.packet = exec::packet_layout(*type);
    options.probe_loads = report.probe_loads;
    options.references = references;
    options.reference_maps = reference_maps;
    options.facts = facts;
    // Array lookups the code computes, as the optimizing JIT's: the code is the same whatever the host's lookup helper
    // is; the environment describes arrays only where it is the maps' own.
    options.lookup_helper = kLookupHelper;
    options.arrays = own_lookup_arrays().value_or(std::vector<exec::InlineArray>{});
    return options;
}

exec::OptimizerOptions ProgramState::optimizer_options() const {
    exec::OptimizerOptions options{.packet = exec::packet_layout(*type),
                                   .probe_loads = report.probe_loads,
                                   .instruction_budget = instruction_budget,
                                   .facts = facts};
    // Lookups in the program's arrays are computed in its code where the lookup helper is the maps' own.
    if (auto arrays = own_lookup_arrays()) {
        options.lookup_helper = kLookupHelper;
        options.arrays = std::move(*arrays);
    }
    return options;
}

std::optional<std::vector<exec::InlineArray>> ProgramState::own_lookup_arrays() const {
    const exec::HelperFunction lookup = helpers.get(kLookupHelper);
    if (lookup == nullptr || (lookup != runtime::find_helper("map_lookup_elem") &&
                              lookup != runtime::find_helper("map_lookup_elem", true))) {
        return std::nullopt;
    }
    std::vector<exec::InlineArray> arrays;
    for (const std::shared_ptr<runtime::Map>& map : maps) {
        if (std::optional<exec::InlineArray> array = map->inline_array()) {
            arrays.push_back(*array);
        }
    }
    return arrays;
}

} // namespace detail

// --- Program ---------------------------------------------------------------------------------------

const std::string& Program::name() const noexcept { return m_state->name; }
std::uint32_t Program::id() const noexcept { return m_state->id; }
exec::EngineKind Program::engine() const noexcept { return m_state->kind(); }

Result<void> Program::use_engine(exec::EngineKind kind) const { return m_state->use_engine(kind); }
std::string Program::engine_fallback() const {
    const std::lock_guard lock(m_state->engine_mutex);
    return m_state->engine_fallback;
}
Promotion Program::promotion() const noexcept { return m_state->promotion.load(std::memory_order_acquire); }
bool Program::wait_for_promotion(std::chrono::milliseconds timeout) const {
    // A century at most: the deadline must not overflow the clock (milliseconds::max() would end the wait at once).
    timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::hours(24 * 365 * 100));
    std::unique_lock lock(m_state->engine_mutex);
    m_state->promotion_changed.wait_for(lock, timeout, [&] {
        const Promotion now = m_state->promotion.load(std::memory_order_relaxed);
        return now != Promotion::counting && now != Promotion::compiling;
    });
    return m_state->promotion.load(std::memory_order_relaxed) == Promotion::promoted;
}
std::uint64_t Program::instruction_budget() const noexcept { return m_state->instruction_budget; }
std::uint64_t Program::budget_exhausted() const noexcept {
    return m_state->budget_exhausted.load(std::memory_order_relaxed);
}
const std::string& Program::section() const noexcept { return m_state->section; }
const platform::ProgramType& Program::type() const noexcept { return *m_state->type; }
std::span<const isa::Instruction> Program::instructions() const noexcept { return m_state->interpreter->program(); }
bool Program::verified() const noexcept { return m_state->verified; }
const verifier::Report& Program::verification() const noexcept { return m_state->report; }
const std::vector<std::string>& Program::relocation_report() const noexcept { return m_state->relocation_report; }

Result<std::uint64_t> Program::run(void* ctx, std::size_t ctx_size) const {
    auto outcome = run_chain(ctx, ctx_size, 0, false);
    if (!outcome) {
        return std::move(outcome).error();
    }
    return outcome->r0;
}

Result<std::uint64_t> Program::run(void* ctx, std::size_t ctx_size, PacketRoom room) const {
    auto outcome = run_chain(ctx, ctx_size, 0, false, room);
    if (!outcome) {
        return std::move(outcome).error();
    }
    return outcome->r0;
}

namespace {

// Linux's __sk_buff (the 32-bit packet fields): its test run takes len and protocol from the packet, as the kernel
// builds an skb from data_in, so that a socket filter sees the length it would.
void set_skb_fields(const platform::ContextDescriptor& context, std::span<std::uint8_t> ctx,
                    std::span<const std::uint8_t> packet) {
    if (context.pointer_width != 4) {
        return;
    }
    const auto put = [&](std::string_view name, std::uint32_t value) {
        const platform::ContextField* field = context.field(name);
        if (field != nullptr && field->size == 4 && field->kind == platform::FieldKind::scalar &&
            field->offset + 4 <= ctx.size()) {
            std::memcpy(ctx.data() + field->offset, &value, sizeof value);
        }
    };
    put("len", static_cast<std::uint32_t>(packet.size()));
    if (packet.size() >= 14) {
        std::uint16_t ether_type = 0; // in network order, as it lies in the frame
        std::memcpy(&ether_type, packet.data() + 12, sizeof ether_type);
        put("protocol", ether_type);
    }
}

} // namespace

Result<TestRunResult> Program::test_run(const TestRunOptions& options) const {
    const platform::ProgramType& type = *m_state->type;
    const platform::ContextDescriptor& context = type.context;
    const bool has_data = context.data >= 0 && context.data_end >= 0;
    if (!has_data && !options.data_in.empty()) {
        return in_program(m_state->name, Error::invalid("a " + type.name + " program has no data range for data_in"));
    }
    if (options.data_in.size() > type.max_data_size) {
        return in_program(m_state->name, Error::invalid("data_in has " + std::to_string(options.data_in.size()) +
                                                        " bytes; a " + type.name + " program takes at most " +
                                                        std::to_string(type.max_data_size) + " (max_data_size)"));
    }
    if (options.ctx_in.size() > context.size) {
        return in_program(m_state->name,
                          Error::invalid("ctx_in has " + std::to_string(options.ctx_in.size()) + " bytes; a " +
                                         type.name + " context has " + std::to_string(context.size)));
    }
    // The host's context, 8-byte aligned for the pointers behind a struct of 32-bit fields.
    std::vector<std::uint64_t> words((context.host_size() + 7) / 8 + 1, 0);
    const std::span<std::uint8_t> ctx(reinterpret_cast<std::uint8_t*>(words.data()), context.host_size());
    std::copy(options.ctx_in.begin(), options.ctx_in.end(), ctx.begin());
    // Memory regions are test_run's to hand over, as the packet is: ctx_in holds no address for a program to use.
    // A region of a constant size gets zeroed bytes of its own; one sized by a field is empty.
    std::vector<std::vector<std::uint8_t>> region_memory;
    for (const runtime::RegionField& region : m_state->regions) {
        const auto set = [&](std::uint32_t at, std::size_t width) {
            return std::any_of(ctx.begin() + at, ctx.begin() + at + width, [](std::uint8_t b) { return b != 0; });
        };
        if (set(region.pointer, 8) ||
            (region.size_field >= 0 && set(static_cast<std::uint32_t>(region.size_field), region.size_width))) {
            return in_program(m_state->name,
                              Error::invalid("ctx_in sets the pointer or size of the memory region " + region.name +
                                             ": test_run hands over no memory of the "
                                             "caller's"));
        }
        // Its own zeroed bytes (one byte for an empty region, whose pointer must still be a real address).
        region_memory.emplace_back(region.size_field < 0 ? std::max<std::size_t>(region.most, 1) : 1, 0);
        const std::uint64_t address = reinterpret_cast<std::uintptr_t>(region_memory.back().data());
        std::memcpy(ctx.data() + region.pointer, &address, 8);
    }
    const std::size_t length = options.data_in.size();
    // The packet between kTestRunRoom bytes of room on either side (an empty one still has an address).
    std::vector<std::uint8_t> buffer(kTestRunRoom + std::max<std::size_t>(length, 1) + kTestRunRoom);
    std::uint8_t* const packet = buffer.data() + kTestRunRoom;
    std::copy(options.data_in.begin(), options.data_in.end(), packet);
    const auto clear_pointers = [&] {
        for (const std::int32_t field : {context.data, context.data_end, context.meta}) {
            if (field >= 0) {
                std::fill_n(ctx.begin() + field, context.pointer_width, std::uint8_t{0});
            }
        }
    };
    if (has_data) {
        clear_pointers();
        if (auto set = platform::set_data_range(context, ctx, packet, packet + length); !set) {
            return in_program(m_state->name, std::move(set).error());
        }
        set_skb_fields(context, ctx, {packet, length});
    }
    // The packet's range as the context holds it, which must lie in the buffer (packet helpers move it only there).
    const auto first = reinterpret_cast<std::uintptr_t>(buffer.data());
    const auto in_buffer = [&]() -> Result<platform::DataRange> {
        const auto range = platform::data_range(context, ctx);
        if (!range || range->data < first || range->data > range->data_end || range->data_end > first + buffer.size()) {
            return in_program(m_state->name, Error::runtime("the run left the packet's pointers outside its buffer"));
        }
        return *range;
    };
    TestRunResult result;
    const std::uint32_t repeat = std::max<std::uint32_t>(options.repeat, 1);
    const auto begin = std::chrono::steady_clock::now();
    for (std::uint32_t i = 0; i < repeat; ++i) {
        // The room is the buffer's, wherever an earlier run left the packet in it: runs after one that grew it have
        // less.
        PacketRoom room;
        if (has_data) {
            auto placed = in_buffer();
            if (!placed) {
                return std::move(placed).error();
            }
            room = {placed->data - first, first + buffer.size() - placed->data_end};
        }
        auto outcome = run_chain(ctx.data(), ctx.size(), options.instruction_budget, options.checked, room);
        if (!outcome) {
            return std::move(outcome).error();
        }
        result.retval = outcome->r0;
        result.instructions = outcome->instructions;
    }
    result.duration = (std::chrono::steady_clock::now() - begin) / repeat;
    const std::uint8_t* data = packet;
    const std::uint8_t* data_end = packet + length;
    if (has_data) {
        // Where the packet helpers left the packet, within the buffer.
        auto placed = in_buffer();
        if (!placed) {
            return std::move(placed).error();
        }
        data = reinterpret_cast<const std::uint8_t*>(placed->data);
        data_end = reinterpret_cast<const std::uint8_t*>(placed->data_end);
        clear_pointers();
    }
    for (const runtime::RegionField& region : m_state->regions) {
        std::fill_n(ctx.begin() + region.pointer, 8, std::uint8_t{0}); // test_run's own buffers: no address out
    }
    result.ctx_out.assign(ctx.begin(), ctx.begin() + context.size);
    result.data_out.assign(data, data_end);
    return result;
}

Result<exec::CheckedOutcome> Program::run_checked(void* ctx, std::size_t ctx_size,
                                                  std::uint64_t instruction_budget) const {
    return run_chain(ctx, ctx_size, instruction_budget, true);
}

Result<exec::CheckedOutcome> Program::run_chain(void* ctx, std::size_t ctx_size, std::uint64_t budget, bool checked,
                                                std::optional<PacketRoom> room) const {
    const PacketRoom given = room.value_or(PacketRoom{});
    return runtime::invoke(*m_state, ctx, ctx_size,
                           {checked, budget, given.headroom, given.tailroom, room.has_value()});
}

namespace detail {

Result<exec::CheckedOutcome> ProgramState::step(void* ctx, std::size_t ctx_size, const runtime::EntryRegions& entry,
                                                const runtime::InvocationOptions& invocation) const {
    if (!run_stats_on()) [[likely]] {
        return run_step(ctx, ctx_size, entry, invocation);
    }
    const auto begin = std::chrono::steady_clock::now();
    auto outcome = run_step(ctx, ctx_size, entry, invocation);
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - begin);
    stats.time_ns.fetch_add(static_cast<std::uint64_t>(elapsed.count()), std::memory_order_relaxed);
    stats.count.fetch_add(1, std::memory_order_relaxed);
    return outcome;
}

Result<exec::CheckedOutcome> ProgramState::run_step(void* ctx, std::size_t ctx_size, const runtime::EntryRegions& entry,
                                                    const runtime::InvocationOptions& invocation) const {
    if (verified && !invocation.checked) {
        if (promotion.load(std::memory_order_relaxed) == Promotion::counting) [[unlikely]] {
            count_run();
        }
        const exec::Executable* code = executable.load(std::memory_order_acquire);
        if (instruction_budget == 0) {
            return exec::CheckedOutcome{code->run(ctx, ctx_size), 0};
        }
        const exec::RunOutcome outcome = code->run_metered(ctx, ctx_size);
        if (outcome.budget_exhausted) {
            budget_exhausted.fetch_add(1, std::memory_order_relaxed);
        }
        return exec::CheckedOutcome{outcome.r0, 0};
    }
    exec::CheckedOptions options = checked;
    options.instruction_budget = invocation.instruction_budget;
    // The hook's data range ([data, data_end) of an XDP packet, a bind's app id) is memory the program may use.
    if (entry.data) {
        options.regions.push_back(*entry.data);
    }
    options.regions.insert(options.regions.end(), entry.memory.begin(), entry.memory.end());
    auto outcome = interpreter->run_checked(ctx, ctx_size, options);
    if (!outcome) {
        return in_program(name, std::move(outcome).error());
    }
    return outcome;
}

} // namespace detail

// --- MapHandle ------------------------------------------------------------------------------------

const std::string& MapHandle::name() const noexcept { return m_map->config().name; }
std::uint32_t MapHandle::id() const noexcept { return m_map->id(); }
platform::MapKind MapHandle::kind() const noexcept { return m_map->config().kind; }
std::uint32_t MapHandle::key_size() const noexcept { return m_map->config().key_size; }
std::uint32_t MapHandle::value_size() const noexcept { return m_map->config().value_size; }
std::uint32_t MapHandle::max_entries() const noexcept { return m_map->config().max_entries; }
std::size_t MapHandle::memory_size() const noexcept { return m_map->memory_size(); }

Result<std::optional<std::vector<std::uint8_t>>> MapHandle::lookup(std::span<const std::uint8_t> key) const {
    std::vector<std::uint8_t> value(m_map->host_value_size());
    auto found = m_map->host_lookup(key, value);
    if (!found) {
        return std::move(found).error();
    }
    if (!*found) {
        return std::optional<std::vector<std::uint8_t>>();
    }
    return std::optional<std::vector<std::uint8_t>>(std::move(value));
}

Result<void> MapHandle::update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                               std::uint64_t flags) {
    if (m_frozen) {
        return Error::invalid("map " + name() + " is read-only (.rodata is frozen after load)").with_errno(EPERM);
    }
    return m_map->host_update(key, value, flags);
}

Result<bool> MapHandle::erase(std::span<const std::uint8_t> key) {
    if (m_frozen) {
        return Error::invalid("map " + name() + " is read-only (.rodata is frozen after load)").with_errno(EPERM);
    }
    return m_map->host_erase(key);
}

Result<void> MapHandle::set_program(std::uint32_t index, const Program& program) {
    if (kind() != platform::MapKind::prog_array) {
        return Error::invalid("map " + name() + " is not a program array");
    }
    return static_cast<runtime::ProgramArrayMap&>(*m_map).set_program(index, program.m_state, program.m_state->type);
}

Result<std::vector<std::vector<std::uint8_t>>> MapHandle::keys() const {
    std::vector<std::vector<std::uint8_t>> keys;
    std::vector<std::uint8_t> next(key_size());
    std::vector<std::uint8_t> current;
    for (;;) {
        auto more = m_map->next_key(current, next);
        if (!more) {
            return std::move(more).error();
        }
        if (!*more) {
            return keys;
        }
        keys.push_back(next);
        current = next;
        if (keys.size() > static_cast<std::size_t>(max_entries()) + 1) {
            return Error::internal("map " + name() + ": iteration does not end");
        }
    }
}

} // namespace embpf
