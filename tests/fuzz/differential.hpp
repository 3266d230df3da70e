// The differential oracle shared by fuzz_jit and the "exec jit differential" tests: a program the verifier accepts (the
// soundness oracle's generated programs, on its platform and with its maps) runs in the interpreter's unchecked loop
// (Interpreter::run) and in each JIT tier (Jit::run without and with constant blinding, OptimizedJit::run where the
// build has it) on the same inputs, and every engine must end with the same r0, the same context and packet bytes, the
// same map contents and the same helper calls. Any difference is a bug of the JIT (or of the interpreter), and so is a
// program the interpreter takes and the JIT refuses.
//
// Each engine gets maps of its own, created and filled alike (hashes with bpf_f_zero_seed, so that their order and
// for_each_map_elem's walk are the same), and code whose map references name them: a verified program cannot tell
// one map's address from another's. Maps keep what the runs of one program wrote from one input to the next, in every
// engine alike. The context and the packet buffers are the same memory for every engine, restored before each run, so
// that the pointers the context holds compare as bytes. The helpers are the runtime's, through wrappers that record
// each call (its id, its arguments, its result, pointers named by what they point into) and that make the ones whose
// results are not reproducible reproducible: get_prandom_u32 draws from a stream seeded per input, the clocks count,
// and bpf_xdp_adjust_head (the host's, not the runtime's) moves the packet into the next buffer of a pool that is the
// same for every engine.
//
// The hooks' r0 keeps a bit or two of what a generated program computed, often none; the engines therefore run the
// program's accumulator variant (accumulator_variant: r9, where the generator folds every result, xor-ed into r0 at
// each exit of the main function) whenever the verifier accepts it on a copy of the type whose r0 may be any number,
// which it does for nearly every program (only r0 at the exits changes, so its safety is the program's).
// mutate_instructions gives the instructions the generator never emits (signed division, sign-extending moves and
// loads, byte swaps, gotol) to the JIT too.
//
// With DifferentialOptions::aot, the programs written out as C (exec::generate_c) and built by the system's C compiler
// are compared too, as "aot": the C of the same code the JIT tiers translate, with the verifier's facts (stack accesses
// at one known offset address the frame array directly) and the map references read from the environment
// (AotOptions::references), which holds the addresses of the AOT engine's own maps. Compiling C is slow (tens of
// milliseconds a file), so the oracle does not compile: DifferentialOptions::aot_code hands it the compiled code for
// the C it would have written (named by its fingerprint), which aot_differential.hpp's AotBatch builds for many
// programs at once (prepare_differential, then finish_differential once the code is built).
#pragma once

#include "program_generator.hpp"
#include "soundness.hpp"

#include "embpf/exec/aot.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/map.hpp"
#include "embpf/verifier/verifier.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::fuzz {

/// The AOT engine's code: a compiled program (its descriptor) and what keeps it loaded, or why there is none.
struct AotCompiled {
    const embpf_aot_program* program = nullptr;
    std::shared_ptr<const void> owner{};
    std::string where; ///< the C file and function, for reports
    std::string error; ///< when `program` is null: why (the compiler's messages, ...)
};

struct DifferentialOptions {
    unsigned runs = 6; ///< inputs each accepted program runs on, in every engine
    /// The most instructions the runs of one program may take together in one engine, counted by the verifier's bound
    /// (SoundnessOptions::max_instructions): fewer runs for a program with a long bound, none above it.
    std::uint64_t max_instructions = 10'000'000;
    bool blind_constants = true; ///< also compare the JIT with JitOptions::blind_constants
    bool optimized = true;       ///< also compare the optimizing JIT, in builds that have it
    /// Run the program with the generator's accumulator (r9, into which every piece folds what it computed) xor-ed
    /// into r0 at each exit of the main function (accumulator_variant), when the verifier accepts that variant too
    /// (on a copy of the type whose r0 may be anything): the hooks' r0 keeps a bit or two of it, or none, so that
    /// most of what a program computes would never be compared.
    bool observe_accumulator = true;
    /// The JIT tiers translate these instead of the program's instructions (map references as in
    /// GeneratedProgram::instructions): the oracle's self-test, which must report the difference.
    std::optional<std::vector<isa::Instruction>> jit_instructions{};
    /// Metering (exec/engine.hpp): every engine runs with this budget, and must stop (or not) at the same point,
    /// with the same r0 and memory; 0 for none.
    std::uint64_t instruction_budget = 0;
    /// Counts the inputs on which the budget stopped the runs (in every engine alike), when not null.
    std::uint64_t* exhausted_runs = nullptr;
    /// Also compare the AOT engine ("aot"): the C exec::generate_c writes of the code the JIT tiers translate, with the
    /// verifier's facts (when that code is the verified program) and the map references as AotOptions::references,
    /// built by the system's C compiler. Not with an instruction_budget: compiled C is not metered.
    bool aot = false;
    /// The compiled code of the C the oracle would have written (AotSource::fingerprint names it); needed with `aot`.
    /// aot_differential.hpp's AotBatch gives it.
    std::function<AotCompiled(const exec::AotSource&)> aot_code{};
    /// The AOT engine compiles these instead of what the JIT tiers translate (map references as in
    /// GeneratedProgram::instructions): the self-test of the oracle's AOT engine, which must report the difference.
    std::optional<std::vector<isa::Instruction>> aot_instructions{};
    /// Counts the programs the AOT engine does not translate (generate_c's unsupported: a jump between functions,
    /// a function that runs past its end), which are compared without it, when not null.
    std::uint64_t* aot_unsupported = nullptr;
};

struct DifferentialResult {
    /// The verifier accepted the program run: the accumulator variant (on the "<type> observed" copy of its type), or
    /// the program itself when the variant was not (or not asked for).
    bool accepted = false;
    bool compared = false; ///< accepted, prepared in every engine and compared on at least one input
    bool observed = false; ///< the engines ran the accumulator variant (DifferentialOptions::observe_accumulator)
    unsigned inputs = 0;   ///< inputs on which every engine ran and was compared
    std::uint64_t bound = 0;
    /// The first difference, with the program's listing and the input; empty when the engines agreed (or the program
    /// was refused).
    std::string difference;
    std::string rejection; ///< the verifier's first error, when refused
};

namespace differential {

/// What a wrapper does besides calling the runtime's helper.
enum class Special : std::uint8_t { none, adjust_head, random, clock, memcpy_s, spin_lock };

inline constexpr std::size_t kPoolSize = 8;   // packet buffers of one input: bpf_xdp_adjust_head moves to the next
inline constexpr std::size_t kTraceText = 48; // helper calls a report shows

/// A program type's helper table: the runtime's helpers behind wrappers, for the type and the platform's helpers that
/// any type may call, as soundness.hpp builds it; the callback helpers run in the engines themselves.
struct Helpers {
    exec::HelperTable table;
    std::vector<const platform::HelperPrototype*> prototypes; // by wrapper slot
    std::vector<exec::HelperFunction> functions;              // by wrapper slot
    std::vector<Special> specials;                            // by wrapper slot
};

/// The helpers' view of one engine's run.
struct EngineRun {
    const platform::ProgramType* type = nullptr;
    const Helpers* helpers = nullptr;
    const std::vector<std::shared_ptr<runtime::Map>>* maps = nullptr;
    std::uint8_t* ctx = nullptr;
    std::size_t ctx_size = 0;
    std::vector<std::unique_ptr<std::uint8_t[]>>* pool = nullptr; // the same buffers for every engine
    std::size_t capacity = 0;                                     // of each buffer
    std::size_t current = 0;                                      // the buffer the data range lies in
    std::size_t used = 1;                                         // buffers the run used
    std::uint64_t random = 0;
    std::uint64_t clock = 0;
    std::uint64_t calls = 0;
    std::uint64_t trace_hash = 0;
    std::string trace; // the first kTraceText calls
};

inline thread_local EngineRun* t_engine = nullptr;

inline std::string hex(std::uint64_t value) { return detail::hex(value); }

/// A value as the same in every engine: maps by index, the context and the packet buffers (the same memory for every
/// engine) by offset, numbers as they are, and other pointers (the stack, map values) as "ptr".
inline std::string canonical(const EngineRun& run, std::uint64_t value) {
    for (std::size_t i = 0; i < run.maps->size(); ++i) {
        if (value == reinterpret_cast<std::uintptr_t>((*run.maps)[i].get())) {
            return "map" + std::to_string(i);
        }
    }
    if (value - reinterpret_cast<std::uintptr_t>(run.ctx) <= run.ctx_size) {
        return "ctx+" + std::to_string(value - reinterpret_cast<std::uintptr_t>(run.ctx));
    }
    for (std::size_t k = 0; k < run.pool->size(); ++k) {
        const auto start = reinterpret_cast<std::uintptr_t>((*run.pool)[k].get());
        if (start != 0 && value - start <= run.capacity) {
            return "packet" + std::to_string(k) + "+" + std::to_string(value - start);
        }
    }
    if (value < (std::uint64_t{1} << 32) || value >= ~std::uint64_t{0} - (std::uint64_t{1} << 32)) {
        return hex(value);
    }
    return "ptr";
}

inline void record(EngineRun& run, const platform::HelperPrototype& helper, const std::uint64_t* args,
                   std::uint64_t r0) {
    // The optimizing JIT computes lookups in plain arrays in the program's code, without a call: no engine's record
    // has them (their results are compared all the same, through what the program does with them).
    if (helper.name == "map_lookup_elem" && run.maps != nullptr &&
        std::any_of(run.maps->begin(), run.maps->end(), [&](const std::shared_ptr<runtime::Map>& map) {
            return reinterpret_cast<std::uintptr_t>(map.get()) == args[0] && map->inline_array().has_value();
        })) {
        return;
    }
    std::string line = helper.name + "(";
    for (std::size_t i = 0; i < helper.args.size() && helper.args[i] != platform::ArgKind::none; ++i) {
        line += (i == 0 ? "" : ", ") + canonical(run, args[i]);
    }
    line += ") = " + canonical(run, r0);
    for (const char c : line) {
        run.trace_hash = (run.trace_hash ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
    }
    run.trace_hash = (run.trace_hash ^ 0xff) * 0x100000001b3ULL;
    if (run.calls < kTraceText) {
        run.trace += "    " + line + "\n";
    }
    ++run.calls;
}

// bpf_xdp_adjust_head as soundness.hpp's host does it, but into the pool's next buffer, which is at the same address in
// every engine.
inline std::uint64_t adjust_head(EngineRun& run, const std::uint64_t* args) {
    const platform::ContextDescriptor& context = run.type->context;
    std::uint64_t data = 0;
    std::uint64_t end = 0;
    std::memcpy(&data, run.ctx + context.data, 8);
    std::memcpy(&end, run.ctx + context.data_end, 8);
    const std::uint8_t* old = (*run.pool)[run.current].get();
    const auto start = reinterpret_cast<std::uintptr_t>(old);
    const auto delta = static_cast<std::int64_t>(args[1]);
    const auto einval = static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    if (delta < -static_cast<std::int64_t>(data - start) || delta > static_cast<std::int64_t>(end - data)) {
        return einval;
    }
    if (static_cast<std::int64_t>(end - data) - delta > static_cast<std::int64_t>(run.type->max_data_size)) {
        return einval;
    }
    if (run.used == run.pool->size()) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(ENOMEM));
    }
    auto& moved = (*run.pool)[run.used];
    if (!moved) {
        moved.reset(new std::uint8_t[std::max<std::size_t>(run.capacity, 1)]);
    }
    std::memcpy(moved.get(), old, run.capacity);
    const std::uint64_t new_data = reinterpret_cast<std::uintptr_t>(moved.get()) + (data - start) + delta;
    const std::uint64_t new_end = reinterpret_cast<std::uintptr_t>(moved.get()) + run.capacity;
    std::memcpy(run.ctx + context.data, &new_data, 8);
    std::memcpy(run.ctx + context.data_end, &new_end, 8);
    if (context.meta >= 0) {
        std::memcpy(run.ctx + context.meta, &new_data, 8);
    }
    run.current = run.used++;
    return 0;
}

inline std::uint64_t dispatch(std::size_t slot, const std::uint64_t* args) {
    EngineRun& run = *t_engine;
    std::uint64_t r0 = 0;
    switch (run.helpers->specials[slot]) {
    case Special::adjust_head: r0 = adjust_head(run, args); break;
    case Special::random:
        run.random = run.random * 6364136223846793005ULL + 1442695040888963407ULL;
        r0 = run.random >> 32;
        break;
    case Special::clock: r0 = run.clock += 1'000'003; break;
    case Special::memcpy_s:
        if (args[3] <= args[1] && std::max(args[0], args[2]) < std::min(args[0] + args[3], args[2] + args[3])) {
            // Overlapping: which bytes win would depend on where each engine keeps its stack.
            std::memmove(reinterpret_cast<void*>(args[0]), reinterpret_cast<const void*>(args[2]), args[3]);
            break;
        }
        r0 = run.helpers->functions[slot](args[0], args[1], args[2], args[3], args[4]);
        break;
    case Special::spin_lock: {
        std::uint32_t word = 0;
        std::memcpy(&word, reinterpret_cast<const void*>(args[0]), 4);
        if (word != 0) {
            // Taken already (a program the soundness oracle would fail): the runtime's helper would wait for ever.
            r0 = 0;
            break;
        }
        r0 = run.helpers->functions[slot](args[0], args[1], args[2], args[3], args[4]);
        break;
    }
    case Special::none: r0 = run.helpers->functions[slot](args[0], args[1], args[2], args[3], args[4]); break;
    }
    record(run, *run.helpers->prototypes[slot], args, r0);
    return r0;
}

template <std::size_t Slot>
std::uint64_t wrapper(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t r4, std::uint64_t r5) {
    const std::uint64_t args[5] = {r1, r2, r3, r4, r5};
    return dispatch(Slot, args);
}
template <std::size_t... I>
constexpr std::array<exec::HelperFunction, sizeof...(I)> make_wrappers(std::index_sequence<I...>) {
    return {&wrapper<I>...};
}
inline constexpr auto kWrappers = make_wrappers(std::make_index_sequence<64>{});

/// What one engine's run left behind.
struct Outcome {
    std::uint64_t r0 = 0;
    bool exhausted = false; // the instruction budget stopped the run
    std::vector<std::uint8_t> ctx;
    std::vector<std::vector<std::uint8_t>> packets; // the pool's buffers the run used, in order
    std::vector<std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>> maps; // sorted entries
    std::uint64_t calls = 0;
    std::uint64_t trace_hash = 0;
    std::string trace;
};

/// One engine: its maps, its helper table's view, the code it runs.
struct Engine {
    std::string name;
    std::vector<std::shared_ptr<runtime::Map>> maps;
    std::unique_ptr<exec::Executable> executable;
};

inline std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>> dump_map(const runtime::Map& map) {
    std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>> entries;
    std::vector<std::uint8_t> key(map.config().key_size);
    std::vector<std::uint8_t> next(map.config().key_size);
    std::vector<std::uint8_t> value(map.host_value_size());
    bool first = true;
    for (std::size_t n = 0; n < 4096; ++n) {
        auto more = map.next_key(first ? std::span<const std::uint8_t>{} : std::span<const std::uint8_t>(key), next);
        if (!more || !*more) {
            break;
        }
        first = false;
        key = next;
        if (auto found = map.host_lookup(key, value); found && *found) {
            entries.emplace_back(key, value);
        }
    }
    std::sort(entries.begin(), entries.end());
    return entries;
}

inline std::string
describe_entries(const std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>& entries) {
    std::string text;
    for (const auto& [key, value] : entries) {
        text += "    " + detail::hex_bytes(key) + ": " + detail::hex_bytes(value) + "\n";
    }
    return entries.empty() ? "    (empty)\n" : text;
}

// The bytes around the first difference of two buffers, for a report.
inline std::string first_difference(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b,
                                    const std::string& name_a, const std::string& name_b) {
    std::size_t at = 0;
    while (at < a.size() && at < b.size() && a[at] == b[at]) {
        ++at;
    }
    const std::size_t from = at < 16 ? 0 : at - 16;
    auto window = [&](std::span<const std::uint8_t> bytes) {
        return from < bytes.size()
                   ? detail::hex_bytes(bytes.subspan(from, std::min<std::size_t>(48, bytes.size() - from)))
                   : std::string();
    };
    return "byte " + std::to_string(at) + " (sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
           "); from byte " + std::to_string(from) + ":\n    " + name_a + ": " + window(a) + "\n    " + name_b + ": " +
           window(b) + "\n";
}

inline std::string compare(const Outcome& a, const Outcome& b, const std::string& name_a, const std::string& name_b,
                           const std::vector<verifier::MapDescriptor>& descriptors) {
    if (a.r0 != b.r0) {
        return "r0: " + name_a + " " + hex(a.r0) + " (" + std::to_string(static_cast<std::int64_t>(a.r0)) + "), " +
               name_b + " " + hex(b.r0) + " (" + std::to_string(static_cast<std::int64_t>(b.r0)) + ")\n";
    }
    if (a.exhausted != b.exhausted) {
        return std::string("instruction budget exhausted: ") + name_a + " " + (a.exhausted ? "yes" : "no") + ", " +
               name_b + " " + (b.exhausted ? "yes" : "no") + "\n";
    }
    if (a.ctx != b.ctx) {
        return "the context, " + first_difference(a.ctx, b.ctx, name_a, name_b);
    }
    if (a.packets.size() != b.packets.size()) {
        return "packet buffers used (bpf_xdp_adjust_head): " + name_a + " " + std::to_string(a.packets.size()) + ", " +
               name_b + " " + std::to_string(b.packets.size()) + "\n";
    }
    for (std::size_t k = 0; k < a.packets.size(); ++k) {
        if (a.packets[k] != b.packets[k]) {
            return "packet buffer " + std::to_string(k) + " (headroom, then the data), " +
                   first_difference(a.packets[k], b.packets[k], name_a, name_b);
        }
    }
    for (std::size_t m = 0; m < a.maps.size(); ++m) {
        if (a.maps[m] != b.maps[m]) {
            const std::string name = m < descriptors.size() ? descriptors[m].name : std::to_string(m);
            return "map " + std::to_string(m) + " (" + name + "), entries as key: value\n  " + name_a + ":\n" +
                   describe_entries(a.maps[m]) + "  " + name_b + ":\n" + describe_entries(b.maps[m]);
        }
    }
    if (a.calls != b.calls || a.trace_hash != b.trace_hash) {
        return "helper calls (" + std::to_string(a.calls) + " and " + std::to_string(b.calls) + "; the first " +
               std::to_string(kTraceText) + " shown)\n  " + name_a + ":\n" + a.trace + "  " + name_b + ":\n" + b.trace;
    }
    return {};
}

/// Map references become the addresses of `maps`, as Object::load resolves them, and the context loads the verifier
/// rewrote become loads of the host's pointers.
inline std::vector<isa::Instruction> resolve(std::vector<isa::Instruction> code,
                                             const std::vector<std::shared_ptr<runtime::Map>>& maps,
                                             const verifier::Report& report) {
    for (std::size_t pc = 0; pc + 1 < code.size(); ++pc) {
        if (isa::is_lddw(code[pc]) && code[pc].src == static_cast<std::uint8_t>(isa::LddwSource::map_index)) {
            const auto index = static_cast<std::size_t>(static_cast<std::uint32_t>(code[pc].imm));
            const std::uint64_t address = index < maps.size() ? reinterpret_cast<std::uintptr_t>(maps[index].get()) : 0;
            code[pc].src = static_cast<std::uint8_t>(isa::LddwSource::imm64);
            code[pc].imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(address));
            code[pc + 1].imm = static_cast<std::int32_t>(static_cast<std::uint32_t>(address >> 32));
        }
        if (isa::is_lddw(code[pc])) {
            ++pc;
        }
    }
    if (!report.context_loads.empty()) {
        code = verifier::rewrite_context_loads(code, report);
    }
    return code;
}

/// What the AOT engine translates: the code (map references resolved to `maps`, context loads rewritten) and the
/// options generate_c gets. The map references' lddws are AotOptions::references, so that the same C serves any maps:
/// the runtime reads their addresses from the lddws' immediates.
struct AotInput {
    std::vector<isa::Instruction> code;
    exec::AotOptions options;
};

inline AotInput aot_input(const GeneratedProgram& program, const verifier::Report& report,
                          const DifferentialOptions& options, const platform::ProgramType& type,
                          const std::vector<std::shared_ptr<runtime::Map>>& maps, std::string symbol) {
    const std::vector<isa::Instruction>& source = options.aot_instructions   ? *options.aot_instructions
                                                  : options.jit_instructions ? *options.jit_instructions
                                                                             : program.instructions;
    AotInput input;
    input.options.symbol = std::move(symbol);
    input.options.packet = exec::packet_layout(type);
    input.options.probe_loads = report.probe_loads;
    for (std::size_t pc = 0; pc + 1 < source.size(); ++pc) {
        if (isa::is_lddw(source[pc])) {
            if (source[pc].src == static_cast<std::uint8_t>(isa::LddwSource::map_index)) {
                input.options.references.push_back(static_cast<std::uint32_t>(pc));
                input.options.reference_maps.push_back(static_cast<std::uint32_t>(source[pc].imm));
            }
            ++pc;
        }
    }
    // The facts are the verifier's of the verified program: of no other code.
    if (!options.aot_instructions && !options.jit_instructions) {
        input.options.facts = report.facts;
    }
    // Told of the arrays as a loader tells it (ProgramState::aot_options), so that their lookups are computed in the
    // code: the generated types' lookup helper is the runtime's map_lookup_elem, id 1.
    input.options.lookup_helper = 1;
    for (const std::shared_ptr<runtime::Map>& map : maps) {
        if (std::optional<exec::InlineArray> array = map->inline_array()) {
            input.options.arrays.push_back(*array);
        }
    }
    input.code = resolve(source, maps, report);
    return input;
}

/// The Helpers of `type`, built once: a HelperTable holds a slot for every id up to the highest (xdp's
/// bpf_xdp_adjust_head is 65536), so that building and copying one costs more than running most programs.
inline const Helpers& helpers_for(const platform::Platform& platform, const platform::ProgramType& type) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<Helpers>, std::less<>> cache;
    const std::lock_guard lock(mutex);
    auto& slot = cache[type.name];
    if (slot) {
        return *slot;
    }
    auto helpers = std::make_unique<Helpers>();
    const exec::HelperTable real = runtime::helper_table(platform, type);
    std::vector<std::uint32_t> ids = type.helpers;
    for (const platform::HelperPrototype& helper : platform.helpers()) {
        if (helper.any_program_type && helper.callback() == platform::Callback::none) {
            ids.push_back(helper.id);
        }
    }
    for (std::uint32_t id : ids) {
        const platform::HelperPrototype* prototype = platform.helper(type, id);
        exec::HelperFunction function = real.get(id);
        const bool own = id == detail::kAdjustHead && type.name == "xdp";
        if (prototype == nullptr || (function == nullptr && !own) || helpers->prototypes.size() == kWrappers.size()) {
            continue;
        }
        Special special = Special::none;
        if (own) {
            special = Special::adjust_head;
        } else if (prototype->name == "get_prandom_u32") {
            special = Special::random;
        } else if (prototype->name.starts_with("ktime_get") || prototype->name == "jiffies64") {
            special = Special::clock;
        } else if (prototype->name == "memcpy_s") {
            special = Special::memcpy_s;
        } else if (prototype->name == "spin_lock") {
            special = Special::spin_lock;
        }
        helpers->table.set(id, kWrappers[helpers->prototypes.size()]);
        helpers->prototypes.push_back(prototype);
        helpers->functions.push_back(function);
        helpers->specials.push_back(special);
    }
    if (auto unwind = real.unwind()) {
        helpers->table.set_unwind(*unwind);
    }
    for (const platform::HelperPrototype& helper : platform.helpers()) {
        if (helper.callback() != platform::Callback::none && real.get(helper.id) != nullptr) {
            helpers->table.set(helper.id, real.get(helper.id));
            helpers->table.set_callback(helper.id, helper.callback(), real.next_element());
        }
    }
    slot = std::move(helpers);
    return *slot;
}

/// `code` with `r0 ^= r9; exit` in place of each exit of the main function (the instructions before the first
/// subprogram or callback), placed right after the main function, every jump, call and code address across it moved;
/// nullopt when a jump would no longer reach.
inline std::optional<std::vector<isa::Instruction>> accumulator_variant(const std::vector<isa::Instruction>& code) {
    constexpr int kAccumulator = 9; // program_generator.hpp's kAcc
    std::size_t end = code.size();
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        const isa::Instruction& ins = code[pc];
        const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
        const bool address = isa::is_lddw(ins) && ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address);
        const bool local =
            ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local);
        if ((address || local) && target >= 0 && static_cast<std::size_t>(target) < end) {
            end = static_cast<std::size_t>(target);
        }
        if (isa::is_lddw(ins)) {
            ++pc;
        }
    }
    const auto moved = [end](std::int64_t pc) { return pc < static_cast<std::int64_t>(end) ? pc : pc + 2; };
    std::vector<isa::Instruction> out;
    out.reserve(code.size() + 2);
    const auto tail = [&out] {
        out.push_back(isa::make(isa::op::ALU64 | isa::op::XOR | isa::op::X, 0, kAccumulator));
        out.push_back(isa::make(isa::op::EXIT_OP));
    };
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        if (pc == end) {
            tail();
        }
        isa::Instruction ins = code[pc];
        const auto at = static_cast<std::int64_t>(pc);
        const bool address = isa::is_lddw(ins) && ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address);
        const bool local =
            ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local);
        if (ins.opcode == isa::op::EXIT_OP && pc < end) {
            ins = isa::make(isa::op::JA_OP, 0, 0, 0, 0);
            const std::int64_t offset = static_cast<std::int64_t>(end) - (at + 1);
            if (offset > std::numeric_limits<std::int16_t>::max()) {
                return std::nullopt;
            }
            ins.offset = static_cast<std::int16_t>(offset);
        } else if (address || local) {
            ins.imm = static_cast<std::int32_t>(moved(at + 1 + ins.imm) - (moved(at) + 1));
        } else if (isa::is_branch(ins.opcode)) {
            const std::int64_t offset = moved(at + 1 + isa::branch_offset(ins)) - (moved(at) + 1);
            if (ins.opcode == isa::op::JA32_OP) {
                ins.imm = static_cast<std::int32_t>(offset);
            } else if (offset < std::numeric_limits<std::int16_t>::min() ||
                       offset > std::numeric_limits<std::int16_t>::max()) {
                return std::nullopt;
            } else {
                ins.offset = static_cast<std::int16_t>(offset);
            }
        }
        out.push_back(ins);
        if (isa::is_lddw(code[pc]) && pc + 1 < code.size()) {
            out.push_back(code[++pc]);
        }
    }
    if (end == code.size()) {
        tail();
    }
    return out;
}

/// The soundness oracle's platform with a copy of each program type, named "<type> observed", whose r0 may be any
/// number: the accumulator variants verify there.
inline const platform::Platform& observed_platform() {
    static const platform::Platform platform = [] {
        platform::Platform p = detail::fuzz_platform();
        for (const char* name : {"xdp", "bind"}) {
            platform::ProgramType type = *p.program_type(name);
            type.name += " observed";
            type.section_prefixes.clear();
            type.return_min = std::numeric_limits<std::int64_t>::min();
            type.return_max = std::numeric_limits<std::int64_t>::max();
            type.out_of_range_return.reset();
            if (!p.add_program_type(type)) {
                std::abort();
            }
        }
        return p;
    }();
    return platform;
}

// With `facts`, the report has what the optimizing JIT compiles with (OptimizerOptions::facts).
inline verifier::Report verify(const platform::Platform& platform, const platform::ProgramType& type,
                               const GeneratedProgram& program, std::span<const isa::Instruction> code, bool facts) {
    verifier::ProgramInput input;
    input.name = "generated";
    input.section = program.type;
    input.instructions = code;
    input.maps = program.maps;
    return verifier::verify(input, platform, type, {.facts = facts});
}

} // namespace differential

/// Turns up to `count` instructions of `code` into kin the generator never (or seldom) emits, so that their
/// translations are compared too: another operation of an ALU instruction's class and source (signed division and
/// modulo, sign-extending moves, byte swaps, divisors whose sign extension is 2^63 or more), a sign-extending load for
/// a load, `gotol` for a `goto`, another atomic operation for an atomic one (fetch-and-or, -and, -xor). An instruction
/// whose mutation would not be valid stays as it was; whether the program is still safe is the verifier's to say.
/// Returns the instructions changed.
inline unsigned mutate_instructions(std::vector<isa::Instruction>& code, Entropy& entropy, unsigned count) {
    namespace op = isa::op;
    std::vector<std::size_t> candidates;
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        const isa::Instruction& ins = code[pc];
        const std::uint8_t cls = isa::op_class(ins.opcode);
        if (isa::is_alu(ins.opcode) || ins.opcode == op::JA_OP ||
            (cls == op::LDX && isa::op_mode(ins.opcode) == op::MEM && isa::op_size(ins.opcode) != op::DW) ||
            (cls == op::STX && isa::op_mode(ins.opcode) == op::ATOMIC && ins.imm != op::CMPXCHG)) {
            candidates.push_back(pc);
        }
        if (isa::is_lddw(ins)) {
            ++pc;
        }
    }
    unsigned changed = 0;
    for (unsigned n = 0; n < count && !candidates.empty(); ++n) {
        const std::size_t pc = candidates[entropy.below(static_cast<std::uint32_t>(candidates.size()))];
        const isa::Instruction before = code[pc];
        isa::Instruction& ins = code[pc];
        const std::uint8_t cls = isa::op_class(ins.opcode);
        if (ins.opcode == op::JA_OP) {
            ins = isa::make(op::JA32_OP, 0, 0, 0, ins.offset);
        } else if (cls == op::STX) {
            // Any atomic operation but cmpxchg (which reads r0); the fetching ones write their source register.
            static constexpr std::array<std::int32_t, 9> kAtomics{op::ATOMIC_ADD,
                                                                  op::ATOMIC_OR,
                                                                  op::ATOMIC_AND,
                                                                  op::ATOMIC_XOR,
                                                                  op::ATOMIC_ADD | op::FETCH,
                                                                  op::XCHG,
                                                                  op::ATOMIC_OR | op::FETCH,
                                                                  op::ATOMIC_AND | op::FETCH,
                                                                  op::ATOMIC_XOR | op::FETCH};
            ins.imm = kAtomics[entropy.below(static_cast<std::uint32_t>(kAtomics.size()))];
        } else if (cls == op::LDX) {
            ins.opcode = static_cast<std::uint8_t>(op::LDX | op::MEMSX | isa::op_size(ins.opcode));
        } else {
            static constexpr std::array<std::uint8_t, 13> kOps{op::ADD, op::SUB, op::MUL, op::DIV, op::OR,
                                                               op::AND, op::LSH, op::RSH, op::NEG, op::MOD,
                                                               op::XOR, op::MOV, op::ARSH};
            const bool is64 = cls == op::ALU64;
            const std::uint32_t choice = entropy.below(static_cast<std::uint32_t>(kOps.size() + 2));
            if (choice >= kOps.size()) {
                // A byte swap of the destination: bswap (ALU64), or le/be (ALU).
                const bool big = !is64 && choice == kOps.size() + 1;
                static constexpr std::array<std::int32_t, 3> kWidths{16, 32, 64};
                ins = isa::make(static_cast<std::uint8_t>(cls | op::END | (big ? op::X : op::K)), ins.dst, 0, 0,
                                kWidths[entropy.below(3)]);
            } else {
                const std::uint8_t code_op = kOps[choice];
                const std::uint8_t source = code_op == op::NEG ? op::K : isa::op_source(ins.opcode);
                ins.opcode = static_cast<std::uint8_t>(cls | code_op | source);
                ins.offset = 0;
                if (code_op == op::NEG) {
                    ins.src = 0;
                    ins.imm = 0;
                } else if (code_op == op::DIV || code_op == op::MOD) {
                    ins.offset = static_cast<std::int16_t>(entropy.below(2));
                    if (source == op::K && entropy.chance(25)) {
                        // A divisor of 2^63 or more once sign-extended (a C compiler folded x % C wrongly for one).
                        static constexpr std::array<std::int32_t, 4> kLarge{std::numeric_limits<std::int32_t>::min(),
                                                                            -1, -2, -1000003};
                        ins.imm = kLarge[entropy.below(static_cast<std::uint32_t>(kLarge.size()))];
                    }
                } else if (code_op == op::MOV && source == op::X) {
                    static constexpr std::array<std::int16_t, 4> kExtensions{0, 8, 16, 32};
                    ins.offset = kExtensions[entropy.below(is64 ? 4 : 3)];
                }
            }
        }
        if (isa::validate(code)) {
            changed += before == ins ? 0 : 1;
        } else {
            code[pc] = before;
        }
    }
    return changed;
}

/// Runs `program` in the interpreter and the JIT tiers on `runs` inputs drawn from `entropy` and compares them (see the
/// file's comment), with `report` (probe_loads, context_loads) as the verifier's acceptance gave it; returns the first
/// difference, or an empty string. `inputs` counts the inputs compared; `compared` is false when the host has no JIT.
/// The oracle without the verifier, so that its own tests can feed it any program.
[[nodiscard]] inline std::string compare_engines(const GeneratedProgram& program, const verifier::Report& report,
                                                 std::uint64_t bound, Entropy& entropy, unsigned runs,
                                                 const DifferentialOptions& options, unsigned* inputs = nullptr,
                                                 bool* compared = nullptr) {
    using namespace differential;
    if (inputs != nullptr) {
        *inputs = 0;
    }
    if (compared != nullptr) {
        *compared = false;
    }
    const platform::Platform& platform = detail::fuzz_platform();
    const platform::ProgramType* type = platform.program_type(program.type);
    if (type == nullptr) {
        return "no program type " + program.type;
    }
    const std::string listing = isa::disassemble(program.instructions, {.show_pc = true});
    std::string aot_where; // the AOT engine's C, for reports
    auto failure = [&](const std::string& what) {
        return "jit differential: " + what + "\nprogram type " + program.type + ", cost bound " +
               std::to_string(bound) + "\n" + detail::describe_maps(program.maps) + listing +
               (options.jit_instructions
                    ? "the JIT tiers translate:\n" + isa::disassemble(*options.jit_instructions, {.show_pc = true})
                    : std::string()) +
               (options.aot_instructions
                    ? "the AOT engine translates:\n" + isa::disassemble(*options.aot_instructions, {.show_pc = true})
                    : std::string()) +
               (aot_where.empty() ? std::string() : "the AOT engine's C: " + aot_where + "\n");
    };

    EngineRun run;
    run.type = type;
    run.helpers = &helpers_for(platform, *type);
    const exec::HelperTable& table = run.helpers->table;

    // The engines, each with maps of its own, filled alike from the same entropy.
    std::vector<Engine> engines;
    engines.push_back({"interpreter", {}, nullptr});
    if (exec::host_jit_target()) {
        engines.push_back({"jit", {}, nullptr});
        if (options.blind_constants) {
            engines.push_back({"jit with blinded constants", {}, nullptr});
        }
    }
    if (options.optimized && exec::optimizer_available()) {
        engines.push_back({"optimized", {}, nullptr});
    }
    if (options.aot && options.instruction_budget == 0) {
        if (!options.aot_code) {
            return failure("DifferentialOptions::aot without aot_code: nothing builds the AOT engine's C");
        }
        engines.push_back({"aot", {}, nullptr});
    }
    if (engines.size() == 1) {
        return {}; // nothing to compare with
    }
    Entropy filled = entropy;
    for (Engine& engine : engines) {
        for (const verifier::MapDescriptor& descriptor : program.maps) {
            runtime::MapConfig config;
            config.name = descriptor.name;
            config.kind = descriptor.kind;
            config.key_size = descriptor.key_size;
            config.value_size = descriptor.value_size;
            config.max_entries = descriptor.max_entries;
            config.spin_lock = descriptor.spin_lock;
            const bool array =
                descriptor.kind == platform::MapKind::array || descriptor.kind == platform::MapKind::percpu_array;
            if (!array && descriptor.key_size != 0) {
                config.flags |= runtime::bpf_f_zero_seed; // the same order in every engine's copy
            }
            auto map = runtime::create_map(config);
            if (!map) {
                return failure("the generator described a map the runtime refuses: " + map.error().message);
            }
            engine.maps.push_back(std::move(map).value());
        }
        filled = entropy;
        detail::fill_maps(program, engine.maps, filled);
    }
    entropy = filled;

    const std::optional<exec::PacketLayout> layout = exec::packet_layout(*type);
    for (std::size_t e = 0; e < engines.size(); ++e) {
        Engine& engine = engines[e];
        const std::vector<isa::Instruction> code =
            resolve(e == 0 || !options.jit_instructions ? program.instructions : *options.jit_instructions, engine.maps,
                    report);
        if (e == 0) {
            auto interpreter = exec::Interpreter::create(code, table,
                                                         {.packet = layout,
                                                          .probe_loads = report.probe_loads,
                                                          .instruction_budget = options.instruction_budget});
            if (!interpreter) {
                return failure("accepted, but the interpreter refuses it: " + interpreter.error().message);
            }
            engine.executable = std::make_unique<exec::Interpreter>(std::move(interpreter).value());
            continue;
        }
        if (engine.name == "optimized") {
            // Told of the arrays as a loader tells it, so that their lookups are computed in the code.
            exec::OptimizerOptions optimizer{
                .packet = layout, .probe_loads = report.probe_loads, .instruction_budget = options.instruction_budget};
            if (!options.jit_instructions) {
                optimizer.facts = report.facts; // empty when the report was made without them
            }
            const auto& prototypes = run.helpers->prototypes;
            if (std::any_of(prototypes.begin(), prototypes.end(), [](const platform::HelperPrototype* prototype) {
                    return prototype->id == 1 && prototype->name == "map_lookup_elem";
                })) {
                optimizer.lookup_helper = 1;
                for (const std::shared_ptr<runtime::Map>& map : engine.maps) {
                    if (std::optional<exec::InlineArray> array = map->inline_array()) {
                        optimizer.arrays.push_back(*array);
                    }
                }
            }
            auto optimized = exec::OptimizedJit::create(code, table, optimizer);
            if (!optimized) {
                return failure("the interpreter takes it, but the optimizing JIT refuses it: " +
                               optimized.error().message);
            }
            engine.executable = std::make_unique<exec::OptimizedJit>(std::move(optimized).value());
            continue;
        }
        if (engine.name == "aot") {
            differential::AotInput input =
                differential::aot_input(program, report, options, *type, engine.maps, "embpf_program");
            auto source = exec::generate_c(input.code, table, input.options);
            if (!source && source.error().kind == ErrorKind::unsupported) {
                if (options.aot_unsupported != nullptr) {
                    ++*options.aot_unsupported;
                }
                continue; // compared without it
            }
            if (!source) {
                return failure("the interpreter takes it, but the AOT compiler refuses it: " + source.error().message);
            }
            AotCompiled compiled = options.aot_code(*source);
            if (compiled.program == nullptr) {
                return failure("the AOT engine's C did not build: " + compiled.error);
            }
            auto aot = exec::AotProgram::create(*compiled.program, input.code, table, input.options,
                                                std::move(compiled.owner));
            if (!aot) {
                return failure("the AOT engine cannot bind its code (" + compiled.where + "): " + aot.error().message);
            }
            aot_where = compiled.where;
            engine.executable = std::make_unique<exec::AotProgram>(std::move(aot).value());
            continue;
        }
        auto jit = exec::Jit::create(code, table,
                                     {.packet = layout,
                                      .probe_loads = report.probe_loads,
                                      .blind_constants = engine.name != "jit",
                                      .instruction_budget = options.instruction_budget});
        if (!jit) {
            return failure("the interpreter takes it, but the " + engine.name + " refuses it: " + jit.error().message);
        }
        engine.executable = std::make_unique<exec::Jit>(std::move(jit).value());
    }

    std::erase_if(engines, [](const Engine& engine) { return engine.executable == nullptr; });

    // What the maps hold before each run, for reports: read from every engine's maps alike, in case reading them
    // counts as a use (an LRU hash's order).
    std::vector<std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>>> maps_before;
    for (std::size_t e = engines.size(); e-- > 0;) { // ends with the interpreter's
        maps_before.clear();
        for (const auto& map : engines[e].maps) {
            maps_before.push_back(dump_map(*map));
        }
    }
    const platform::ContextDescriptor& context = type->context;
    for (unsigned i = 0; i < runs; ++i) {
        // The input, drawn as soundness.hpp draws it: a data range at the edge of one of the program's checks, empty,
        // at the hook's limit or of any size up to 100 bytes, metadata and headroom in front of it, random bytes.
        std::size_t size = entropy.below(101);
        if (!program.packet_sizes.empty() && entropy.chance(60)) {
            size = program.packet_sizes[entropy.below(static_cast<std::uint32_t>(program.packet_sizes.size()))];
        } else if (entropy.chance(10)) {
            size = 0;
        } else if (entropy.chance(10)) {
            size = type->max_data_size - entropy.below(2);
        } else if (entropy.chance(5)) {
            size = type->max_data_size + 1 + entropy.below(1U << 17);
        }
        if (size > type->max_data_size) {
            continue; // the runtime refuses it before the program runs
        }
        const std::size_t meta = context.meta >= 0 ? entropy.below(17) : 0;
        const std::size_t headroom = meta + entropy.below(33);
        const std::size_t capacity = headroom + size;
        std::vector<std::uint8_t> original_packet(capacity);
        detail::random_bytes(entropy, original_packet);
        std::vector<std::uint8_t> original_ctx(context.size);
        detail::random_bytes(entropy, original_ctx);
        const std::uint64_t seed = entropy.bits();

        // The same memory for every engine: the context and the pool of packet buffers, allocated to the byte.
        std::vector<std::unique_ptr<std::uint8_t[]>> pool(kPoolSize);
        pool[0].reset(new std::uint8_t[std::max<std::size_t>(capacity, 1)]);
        std::vector<std::uint8_t> ctx(context.size);
        const std::uint64_t data = reinterpret_cast<std::uintptr_t>(pool[0].get()) + headroom;
        const std::uint64_t data_end = data + size;
        const std::uint64_t data_meta = data - meta;
        if (context.data >= 0 && context.data_end >= 0) {
            std::memcpy(original_ctx.data() + context.data, &data, 8);
            std::memcpy(original_ctx.data() + context.data_end, &data_end, 8);
        }
        if (context.meta >= 0) {
            std::memcpy(original_ctx.data() + context.meta, &data_meta, 8);
        }

        auto describe_maps_before = [&] {
            std::string text;
            for (std::size_t m = 0; m < maps_before.size(); ++m) {
                text += "  map " + std::to_string(m) + ":\n" + describe_entries(maps_before[m]);
            }
            return text;
        };
        std::vector<Outcome> outcomes(engines.size());
        for (std::size_t e = 0; e < engines.size(); ++e) {
            if (capacity != 0) {
                std::memcpy(pool[0].get(), original_packet.data(), capacity);
            }
            for (std::size_t k = 1; k < pool.size(); ++k) {
                if (pool[k]) {
                    std::memset(pool[k].get(), 0, std::max<std::size_t>(capacity, 1));
                }
            }
            ctx = original_ctx;
            run.maps = &engines[e].maps;
            run.ctx = ctx.data();
            run.ctx_size = ctx.size();
            run.pool = &pool;
            run.capacity = capacity;
            run.current = 0;
            run.used = 1;
            run.random = seed;
            run.clock = seed & 0xffffffffffULL;
            run.calls = 0;
            run.trace_hash = 0xcbf29ce484222325ULL;
            run.trace.clear();
            Outcome& outcome = outcomes[e];
            {
                runtime::EpochGuard guard;
                runtime::begin_invocation();
                t_engine = &run;
                const exec::RunOutcome ran = engines[e].executable->run_metered(ctx.data(), ctx.size());
                outcome.r0 = ran.r0;
                outcome.exhausted = ran.budget_exhausted;
                t_engine = nullptr;
            }
            outcome.ctx = ctx;
            for (std::size_t k = 0; k < run.used; ++k) {
                outcome.packets.emplace_back(pool[k].get(), pool[k].get() + capacity);
            }
            for (const auto& map : engines[e].maps) {
                outcome.maps.push_back(dump_map(*map));
            }
            outcome.calls = run.calls;
            outcome.trace_hash = run.trace_hash;
            outcome.trace = std::move(run.trace);
            run.trace = {};
        }
        for (std::size_t e = 1; e < engines.size(); ++e) {
            const std::string difference =
                compare(outcomes[0], outcomes[e], engines[0].name, engines[e].name, program.maps);
            if (!difference.empty()) {
                return failure("the " + engines[e].name + " and the interpreter differ in " + difference + "run " +
                               std::to_string(i + 1) + ": data " + std::to_string(size) + " bytes (" +
                               detail::hex_bytes(std::span<const std::uint8_t>(original_packet)
                                                     .subspan(headroom, std::min<std::size_t>(size, 256))) +
                               (size > 256 ? "..." : "") + "), metadata " + std::to_string(meta) + " bytes, headroom " +
                               std::to_string(headroom) + " bytes, context " + detail::hex_bytes(original_ctx) +
                               ", random seed " + hex(seed) + "\nmaps before the run (entries as key: value):\n" +
                               describe_maps_before());
            }
        }
        if (options.exhausted_runs != nullptr && outcomes[0].exhausted) {
            ++*options.exhausted_runs;
        }
        maps_before = std::move(outcomes[0].maps);
        if (inputs != nullptr) {
            ++*inputs;
        }
        if (compared != nullptr) {
            *compared = true;
        }
    }
    return {};
}

/// A program verified for the oracle (prepare_differential), ready for finish_differential to compare the engines on.
struct PreparedDifferential {
    DifferentialResult result;   ///< accepted, observed, bound and rejection so far
    GeneratedProgram program;    ///< what the engines run: the accumulator variant, or the generated program
    std::string generated_type;  ///< the generated program's type
    verifier::Report report;     ///< the verifier's of `program`
    DifferentialOptions options; ///< with the variant's jit_instructions and aot_instructions
    unsigned runs = 0;           ///< inputs to draw
    bool ready = false;          ///< accepted, with a bound short enough to compare
};

/// Verifies `program` (its accumulator variant when that is accepted, see the file's comment) and decides how many
/// inputs the engines run; the first half of check_differential, which AotBatch splits so that the C of many programs
/// is built at once.
[[nodiscard]] inline PreparedDifferential prepare_differential(const GeneratedProgram& program,
                                                               const DifferentialOptions& options = {}) {
    PreparedDifferential prepared;
    DifferentialResult& result = prepared.result;
    prepared.generated_type = program.type;
    prepared.options = options;
    const platform::Platform& platform = detail::fuzz_platform();
    const platform::ProgramType* type = platform.program_type(program.type);
    if (type == nullptr) {
        result.rejection = "no program type " + program.type;
        return prepared;
    }
    // The accumulator variant when the verifier accepts it (its safety is the program's: only r0 at the exits
    // changes), else the program itself: one verification for most programs.
    verifier::Report& report = prepared.report;
    // The optimizing JIT and the AOT engine compile with the verifier's facts, as a loader has them do; not when they
    // translate other code than the verified program (the oracle's self-test), of which the facts say nothing.
    const bool facts = (options.optimized || options.aot) && !options.jit_instructions;
    if (options.observe_accumulator) {
        auto code = differential::accumulator_variant(program.instructions);
        std::optional<std::vector<isa::Instruction>> jit_code;
        std::optional<std::vector<isa::Instruction>> aot_code;
        if (options.jit_instructions) {
            jit_code = differential::accumulator_variant(*options.jit_instructions);
        }
        if (options.aot_instructions) {
            aot_code = differential::accumulator_variant(*options.aot_instructions);
        }
        const platform::ProgramType* observed =
            differential::observed_platform().program_type(program.type + " observed");
        if (code && observed != nullptr && (!options.jit_instructions || jit_code) &&
            (!options.aot_instructions || aot_code)) {
            prepared.program = program;
            prepared.program.instructions = std::move(*code);
            report = differential::verify(differential::observed_platform(), *observed, prepared.program,
                                          prepared.program.instructions, facts);
            if (report.verified) {
                prepared.options.jit_instructions = std::move(jit_code);
                prepared.options.aot_instructions = std::move(aot_code);
                result.observed = true;
            }
        }
    }
    if (!result.observed) {
        prepared.program = program;
        report = differential::verify(platform, *type, program, program.instructions, facts);
        if (!report.verified) {
            if (!report.errors.empty()) {
                result.rejection = std::to_string(report.errors.front().pc) + ": " + report.errors.front().message;
            }
            return prepared;
        }
    }
    result.accepted = true;
    if (!report.cost_bound || *report.cost_bound == 0 || *report.cost_bound > options.max_instructions) {
        return prepared; // no bound (the soundness oracle's finding), or runs too long to compare
    }
    result.bound = *report.cost_bound;
    prepared.runs = static_cast<unsigned>(
        std::clamp<std::uint64_t>(options.max_instructions / result.bound, 1, std::max(options.runs, 1U)));
    prepared.ready = true;
    return prepared;
}

/// Compares the engines on a prepared program (compare_engines), inputs drawn from `entropy`.
[[nodiscard]] inline DifferentialResult finish_differential(const PreparedDifferential& prepared, Entropy& entropy) {
    DifferentialResult result = prepared.result;
    if (!prepared.ready) {
        return result;
    }
    result.difference = compare_engines(prepared.program, prepared.report, result.bound, entropy, prepared.runs,
                                        prepared.options, &result.inputs, &result.compared);
    if (!result.difference.empty() && result.observed) {
        result.difference += "(the engines ran the program above, the accumulator variant of the generated program: "
                             "each exit of its main function xors r9 into r0; it verifies as \"" +
                             prepared.generated_type + " observed\", whose r0 may be any number)\n";
    }
    return result;
}

/// Verifies `program`; when the verifier accepts it, compares the engines on it (see compare_engines), or on its
/// accumulator variant when that is accepted too.
[[nodiscard]] inline DifferentialResult check_differential(const GeneratedProgram& program, Entropy& entropy,
                                                           const DifferentialOptions& options = {}) {
    return finish_differential(prepare_differential(program, options), entropy);
}

} // namespace embpf::fuzz
