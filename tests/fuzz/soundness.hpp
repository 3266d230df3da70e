// The soundness oracle shared by fuzz_verifier and the "verifier soundness" tests: a program the verifier accepts
// runs in the checked interpreter on several inputs (packets of sizes at the edges of its checks, maps with and
// without the keys it looks up) and must never touch memory it was not given, run past the instruction bound the
// verifier computed, hand a helper memory it may not use, store a pointer where the host can read it, or exit with r0
// outside the hook's range, or read a byte of its stack that nothing wrote (the checked interpreter's initialization
// shadow, with the helpers' write contracts from the platform the verifier reads). Any of those on an accepted program
// is a verifier bug, and so is an accepted program the interpreter cannot even prepare. A packet longer than the hook's
// max_data_size is refused at the runtime's entry, so no run gets one.
#pragma once

#include "program_generator.hpp"

#include "embpf/exec/interpreter.hpp"
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
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::fuzz {

struct SoundnessOptions {
    unsigned runs = 6; ///< inputs each accepted program runs on
    /// The most instructions the runs of one program may take together, counted by the verifier's bound: fewer runs
    /// for a program with a long bound, none above it (nested loops over the packet reach 10^8 and would take a
    /// minute under the sanitizers).
    std::uint64_t max_instructions = 10'000'000;
};

struct SoundnessResult {
    bool accepted = false;
    std::uint64_t bound = 0; ///< the verifier's cost bound (Report::cost_bound), when accepted
    bool ran = false;        ///< accepted and run (not when its bound exceeds SoundnessOptions::max_instructions)
    /// What went wrong and the program's listing; empty when no run found a problem (or the program was refused).
    std::string failure;
    std::string rejection; ///< the verifier's first error, when refused
};

namespace detail {

inline bool inside(std::uint64_t addr, std::uint64_t size, std::uint64_t start, std::uint64_t length) {
    return addr >= start && addr - start <= length && size <= length - (addr - start);
}

inline std::string hex(std::uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

/// One packet buffer: headroom (with the metadata at its end) then the data, allocated to the byte so that
/// AddressSanitizer sees a read one past data_end.
struct PacketBuffer {
    std::unique_ptr<std::uint8_t[]> storage;
    std::size_t capacity = 0;
    std::size_t headroom = 0;
};

/// What the helper wrappers of one checked run see.
struct Run {
    const platform::ProgramType* type = nullptr;
    std::vector<const platform::HelperPrototype*> prototypes; // by wrapper slot
    std::vector<exec::HelperFunction> functions;              // by wrapper slot
    const std::vector<std::shared_ptr<runtime::Map>>* maps = nullptr;
    const std::vector<verifier::MapDescriptor>* descriptors = nullptr;
    std::uint8_t* ctx = nullptr;
    std::size_t ctx_size = 0;
    exec::CheckedOptions options; // the context's fields and the data range
    std::size_t data_region = 0;  // index of the data range in options.regions, or npos
    std::vector<PacketBuffer> packets;
    std::vector<exec::MemoryRegion> handed_out; // map values lookups returned
    std::vector<std::size_t> handed_out_map;    // and the index of the map each came from
    std::uint64_t stack_top = 0;
    std::string violation;       // the first helper call that broke its contract
    std::uint64_t held_lock = 0; // the bpf_spin_lock the program holds
};

/// windows() with Linux's bpf_loop and for_each_map_elem (the generator's callbacks) and bpf_spin_lock and
/// bpf_spin_unlock for every program type.
inline const platform::Platform& fuzz_platform() {
    static const platform::Platform platform = [] {
        platform::Platform p = platform::windows();
        for (const char* name : {"loop", "for_each_map_elem", "spin_lock", "spin_unlock"}) {
            platform::HelperPrototype helper = *platform::linux().helper_by_name(name);
            helper.any_program_type = true;
            if (!p.add_helper(helper)) {
                std::abort(); // the ids are free on windows()
            }
        }
        return p;
    }();
    return platform;
}

inline thread_local Run* t_run = nullptr;
inline thread_local std::uint64_t t_probed_r10 = 0;

inline const runtime::Map* map_at(const Run& run, std::uint64_t address, const verifier::MapDescriptor** descriptor) {
    for (std::size_t i = 0; i < run.maps->size(); ++i) {
        if (reinterpret_cast<std::uintptr_t>((*run.maps)[i].get()) == address) {
            *descriptor = &(*run.descriptors)[i];
            return (*run.maps)[i].get();
        }
    }
    return nullptr;
}

// Where an address lies, for messages.
inline std::string where(const Run& run, std::uint64_t address) {
    if (address <= run.stack_top && run.stack_top - address <= isa::kStackSize * (isa::kMaxCallDepth + 1)) {
        return "r10-" + std::to_string(run.stack_top - address);
    }
    if (address - reinterpret_cast<std::uintptr_t>(run.ctx) < run.ctx_size + 64) {
        return "ctx+" + std::to_string(address - reinterpret_cast<std::uintptr_t>(run.ctx));
    }
    if (run.data_region < run.options.regions.size()) {
        const auto data = reinterpret_cast<std::uintptr_t>(run.options.regions[run.data_region].start);
        if (address - data + 256 < run.options.regions[run.data_region].size + 512) {
            return "data" +
                   (address >= data ? "+" + std::to_string(address - data) : "-" + std::to_string(data - address));
        }
    }
    for (const exec::MemoryRegion& region : run.handed_out) {
        const auto start = reinterpret_cast<std::uintptr_t>(region.start);
        if (address - start < region.size + 64) {
            return "map value+" + std::to_string(address - start);
        }
    }
    return hex(address);
}

// Whether the program may hand [addr, addr + size) to a helper: one stack frame (which one depends on the call depth,
// which helpers do not know), the context's fields, the data range and the map values it got.
inline bool accessible(const Run& run, std::uint64_t addr, std::uint64_t size, bool write) {
    for (std::size_t frame = 1; frame <= isa::kMaxCallDepth + 1; ++frame) {
        if (inside(addr, size, run.stack_top - frame * isa::kStackSize, isa::kStackSize)) {
            return true;
        }
    }
    for (const auto* regions : {&run.options.regions, &run.handed_out}) {
        for (const exec::MemoryRegion& region : *regions) {
            if (inside(addr, size, reinterpret_cast<std::uintptr_t>(region.start), region.size)) {
                return !write || region.writable;
            }
        }
    }
    return false;
}

// The helper's contract from its prototype, checked on the arguments it actually got.
inline std::string check_arguments(const Run& run, const platform::HelperPrototype& helper, const std::uint64_t* args) {
    using platform::ArgKind;
    const verifier::MapDescriptor* map = nullptr;
    for (std::size_t i = 0; i < helper.args.size(); ++i) {
        const std::string arg = "r" + std::to_string(i + 1);
        const std::uint64_t value = args[i];
        const std::uint64_t next = i + 1 < helper.args.size() ? args[i + 1] : 0;
        auto memory = [&](std::uint64_t size, bool write) -> std::string {
            if (accessible(run, value, size, write)) {
                return {};
            }
            return arg + " = " + where(run, value) + " with " + std::to_string(size) + " bytes is not memory the " +
                   "program may " + (write ? "write" : "read");
        };
        std::string problem;
        switch (helper.args[i]) {
        case ArgKind::ptr_to_map:
        case ArgKind::ptr_to_map_of_programs:
            if (map_at(run, value, &map) == nullptr) {
                problem = arg + " = " + where(run, value) + " is not a map";
            }
            break;
        case ArgKind::ptr_to_map_key:
            problem = map != nullptr ? memory(map->key_size, false) : arg + " follows no map";
            break;
        case ArgKind::ptr_to_map_value:
            problem = map != nullptr ? memory(map->value_size, false) : arg + " follows no map";
            break;
        case ArgKind::ptr_to_uninit_map_value:
            problem = map != nullptr ? memory(map->value_size, true) : arg + " follows no map";
            break;
        case ArgKind::ptr_to_readable_mem_or_null:
            if (value == 0 && next == 0) {
                break;
            }
            [[fallthrough]];
        case ArgKind::ptr_to_readable_mem: problem = memory(next, false); break;
        case ArgKind::ptr_to_writable_mem: problem = memory(next, true); break;
        case ArgKind::ptr_to_ctx:
            if (value != reinterpret_cast<std::uintptr_t>(run.ctx)) {
                problem = arg + " = " + where(run, value) + " is not the context";
            }
            break;
        case ArgKind::ptr_to_ctx_or_null:
            if (value != reinterpret_cast<std::uintptr_t>(run.ctx) && value != 0) {
                problem = arg + " = " + where(run, value) + " is neither the context nor null";
            }
            break;
        case ArgKind::ptr_to_spin_lock:
            if (value % 4 != 0) {
                problem = arg + " = " + where(run, value) + " is not aligned for a bpf_spin_lock";
            } else {
                problem = memory(4, true);
            }
            break;
        default: break;
        }
        if (!problem.empty()) {
            return "helper " + helper.name + " (" + std::to_string(helper.id) + "): " + problem;
        }
    }
    return {};
}

// bpf_xdp_adjust_head, which embpf's runtime leaves to the host: it moves the packet into a new buffer so that any
// pointer into the old one, used after the call, is outside every region.
inline std::uint64_t adjust_head(Run& run, const std::uint64_t* args) {
    const platform::ContextDescriptor& context = run.type->context;
    std::uint64_t data = 0;
    std::uint64_t end = 0;
    std::memcpy(&data, run.ctx + context.data, 8);
    std::memcpy(&end, run.ctx + context.data_end, 8);
    const PacketBuffer& old = run.packets.back();
    const auto start = reinterpret_cast<std::uintptr_t>(old.storage.get());
    const auto delta = static_cast<std::int64_t>(args[1]);
    if (delta < -static_cast<std::int64_t>(data - start) || delta > static_cast<std::int64_t>(end - data)) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    // A host's helper never makes the data range longer than the hook hands out: the verifier relies on it.
    if (static_cast<std::int64_t>(end - data) - delta > static_cast<std::int64_t>(run.type->max_data_size)) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    PacketBuffer moved;
    moved.capacity = old.capacity;
    moved.headroom = static_cast<std::size_t>(static_cast<std::int64_t>(data - start) + delta);
    moved.storage.reset(new std::uint8_t[moved.capacity]);
    std::memcpy(moved.storage.get(), old.storage.get(), old.capacity);
    const std::uint64_t new_data = reinterpret_cast<std::uintptr_t>(moved.storage.get()) + moved.headroom;
    const std::uint64_t new_end = reinterpret_cast<std::uintptr_t>(moved.storage.get()) + moved.capacity;
    std::memcpy(run.ctx + context.data, &new_data, 8);
    std::memcpy(run.ctx + context.data_end, &new_end, 8);
    if (context.meta >= 0) {
        std::memcpy(run.ctx + context.meta, &new_data, 8);
    }
    // run_checked reads the regions at every access, so the data range can move while the program runs.
    run.options.regions[run.data_region] = {moved.storage.get() + moved.headroom, moved.capacity - moved.headroom,
                                            true};
    run.packets.push_back(std::move(moved));
    return 0;
}

inline std::uint64_t dispatch(std::size_t slot, const std::uint64_t* args) {
    Run& run = *t_run;
    const platform::HelperPrototype& helper = *run.prototypes[slot];
    if (std::string problem = check_arguments(run, helper, args); !problem.empty()) {
        if (run.violation.empty()) {
            run.violation = std::move(problem);
        }
        return 0; // the real helper would corrupt memory; the run is a failure already
    }
    // bpf_spin_lock's protocol: one held at a time, none while another helper runs, its word the helpers' only (a
    // word the program set would make the lock wait), released before the exit (checked after the run).
    const bool lock_helper = helper.args[0] == platform::ArgKind::ptr_to_spin_lock;
    auto broke = [&](std::string problem) {
        if (run.violation.empty()) {
            run.violation = "helper " + helper.name + ": " + std::move(problem);
        }
        return std::uint64_t{0};
    };
    if (run.held_lock != 0 && !(lock_helper && helper.name == "spin_unlock")) {
        return broke("called while the program holds a bpf_spin_lock");
    }
    if (lock_helper) {
        std::uint32_t word = 0;
        std::memcpy(&word, reinterpret_cast<const void*>(args[0]), 4);
        if (helper.name == "spin_lock") {
            if (word != 0) {
                return broke("the lock's word is " + std::to_string(word) + ", which no holder will clear");
            }
            run.held_lock = args[0];
        } else if (run.held_lock != args[0]) {
            return broke("releases a lock the program does not hold");
        } else if (word != 1) {
            return broke("the lock's word changed while the program held it");
        } else {
            run.held_lock = 0;
        }
    }
    std::uint64_t r0 = 0;
    if (helper.id == kAdjustHead && run.type->name == "xdp") {
        r0 = adjust_head(run, args);
    } else if (helper.name == "memcpy_s" && args[3] <= args[1] &&
               std::max(args[0], args[2]) < std::min(args[0] + args[3], args[2] + args[3])) {
        // Overlapping copies are the helper's business, not the verifier's; keep them out of AddressSanitizer's way.
        std::memmove(reinterpret_cast<void*>(args[0]), reinterpret_cast<const void*>(args[2]), args[3]);
    } else {
        r0 = run.functions[slot](args[0], args[1], args[2], args[3], args[4]);
    }
    if (helper.ret == platform::ReturnKind::ptr_to_map_value_or_null && r0 != 0) {
        const verifier::MapDescriptor* descriptor = nullptr;
        if (map_at(run, args[0], &descriptor) != nullptr) {
            run.handed_out.push_back({reinterpret_cast<const void*>(r0), descriptor->value_size, !descriptor->read_only,
                                      true, descriptor->spin_lock});
            run.handed_out_map.push_back(static_cast<std::size_t>(descriptor - run.descriptors->data()));
        }
    }
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

inline std::uint64_t record_r10(std::uint64_t r1, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    t_probed_r10 = r1;
    return 0;
}

// `r1 = r10; call 1; r0 = 0; exit`: run through the same call path as the program, it tells where the checked
// interpreter keeps its stack, which helpers cannot otherwise know.
inline const exec::Interpreter& probe() {
    static const exec::Interpreter interpreter = [] {
        exec::HelperTable table;
        table.set(1, &record_r10);
        const std::vector<isa::Instruction> code{
            isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::X, 1, 10), isa::make(isa::op::CALL_OP, 0, 0, 0, 1),
            isa::make(isa::op::ALU64 | isa::op::MOV | isa::op::K, 0, 0), isa::make(isa::op::EXIT_OP)};
        return exec::Interpreter::create(code, table).value();
    }();
    return interpreter;
}

[[gnu::noinline]] inline Result<exec::CheckedOutcome>
invoke(const exec::Interpreter& interpreter, void* ctx, std::size_t ctx_size, const exec::CheckedOptions& options) {
    return interpreter.run_checked(ctx, ctx_size, options);
}

inline std::vector<std::uint8_t> key_bytes(std::uint64_t key, std::uint32_t size) {
    std::vector<std::uint8_t> bytes(size, 0);
    if (size != 0) {
        std::memcpy(bytes.data(), &key, std::min<std::size_t>(size, 8));
    }
    return bytes;
}

inline void random_bytes(Entropy& entropy, std::span<std::uint8_t> bytes) {
    const std::uint32_t style = entropy.below(8);
    if (bytes.size() > 256 && style > 1) {
        // A long packet from one seed: a byte of entropy per packet byte would make such runs slow.
        std::uint64_t state = entropy.bits();
        for (std::uint8_t& b : bytes) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            b = static_cast<std::uint8_t>(state >> 56);
        }
        return;
    }
    for (std::uint8_t& b : bytes) {
        b = style == 0 ? 0 : style == 1 ? 0xff : static_cast<std::uint8_t>(entropy.below(256));
    }
}

// Fills the maps: every array entry, most of the keys the program uses in hashes (some keys stay missing), up to
// max_entries values in a queue or a stack.
inline void fill_maps(const GeneratedProgram& program, const std::vector<std::shared_ptr<runtime::Map>>& maps,
                      Entropy& entropy) {
    for (std::size_t m = 0; m < maps.size(); ++m) {
        const auto& map = maps[m];
        const runtime::MapConfig& config = map->config();
        std::vector<std::uint8_t> value(map->host_value_size());
        const bool array = config.kind == platform::MapKind::array || config.kind == platform::MapKind::percpu_array;
        if (m < program.maps.size() && !program.maps[m].frozen_value.empty()) {
            // What the verifier was told the value is, as a loader stores `.rodata`.
            (void)map->host_update(key_bytes(0, 4), program.maps[m].frozen_value, runtime::bpf_any);
            continue;
        }
        if (array) {
            for (std::uint32_t i = 0; i < config.max_entries; ++i) {
                random_bytes(entropy, value);
                (void)map->host_update(key_bytes(i, 4), value, runtime::bpf_any);
            }
            continue;
        }
        if (config.key_size == 0) { // a queue or a stack: empty sometimes, so that pop and peek find nothing
            for (std::uint32_t n = entropy.below(config.max_entries + 1); n > 0; --n) {
                random_bytes(entropy, value);
                (void)map->host_update({}, value, runtime::bpf_any);
            }
            continue;
        }
        for (std::uint64_t key : program.keys) {
            if (entropy.chance(70)) {
                random_bytes(entropy, value);
                (void)map->host_update(key_bytes(key, config.key_size), value, runtime::bpf_any);
            }
        }
    }
}

// Pointer values a program must never leave where the host reads: into its stack, the context, any packet buffer,
// the maps and their values.
inline std::string find_leak(const Run& run, std::span<const std::uint8_t> bytes, const std::string& what) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges{
        {run.stack_top - isa::kStackSize * (isa::kMaxCallDepth + 1), isa::kStackSize * (isa::kMaxCallDepth + 1) + 1},
        {reinterpret_cast<std::uintptr_t>(run.ctx), run.ctx_size + 1}};
    for (const PacketBuffer& packet : run.packets) {
        ranges.emplace_back(reinterpret_cast<std::uintptr_t>(packet.storage.get()), packet.capacity + 1);
    }
    for (const auto& map : *run.maps) {
        ranges.emplace_back(reinterpret_cast<std::uintptr_t>(map.get()), 64);
    }
    for (const exec::MemoryRegion& region : run.handed_out) {
        ranges.emplace_back(reinterpret_cast<std::uintptr_t>(region.start), region.size + 1);
    }
    for (std::size_t i = 0; i + 8 <= bytes.size(); ++i) {
        std::uint64_t value = 0;
        std::memcpy(&value, bytes.data() + i, 8);
        for (const auto& [start, length] : ranges) {
            if (value - start < length) {
                return "a pointer (" + where(run, value) + ") is stored in " + what + " at byte " + std::to_string(i);
            }
        }
    }
    return {};
}

inline std::string scan_for_leaks(const Run& run) {
    const platform::ContextDescriptor& context = run.type->context;
    for (const platform::ContextField& field : context.fields) {
        if (field.writable) {
            std::string leak = find_leak(run, {run.ctx + field.offset, field.size}, "the context field " + field.name);
            if (!leak.empty()) {
                return leak;
            }
        }
    }
    const PacketBuffer& packet = run.packets.back();
    if (std::string leak = find_leak(run, {packet.storage.get(), packet.capacity}, "the packet"); !leak.empty()) {
        return leak;
    }
    for (std::size_t m = 0; m < run.maps->size(); ++m) {
        const runtime::Map& map = *(*run.maps)[m];
        std::vector<std::uint8_t> key(map.config().key_size);
        std::vector<std::uint8_t> next(map.config().key_size);
        std::vector<std::uint8_t> value(map.host_value_size());
        std::span<const std::uint8_t> current{};
        for (std::size_t entries = 0; entries < 4096; ++entries) {
            auto more = map.next_key(current, next);
            if (!more || !*more) {
                break;
            }
            key = next;
            current = key;
            if (auto found = map.host_lookup(key, value); found && *found) {
                std::string leak = find_leak(run, value, "a value of " + map.name());
                if (!leak.empty()) {
                    return leak;
                }
            }
        }
    }
    return {};
}

inline std::string describe_maps(const std::vector<verifier::MapDescriptor>& maps) {
    std::string text;
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const verifier::MapDescriptor& map = maps[i];
        text += "map " + std::to_string(i) + " (" + map.name + "): " + std::string(platform::to_string(map.kind)) +
                ", key " + std::to_string(map.key_size) + ", value " + std::to_string(map.value_size) + ", " +
                std::to_string(map.max_entries) + " entries" + (map.read_only ? ", read-only" : "") + "\n";
    }
    return text;
}

inline std::string hex_bytes(std::span<const std::uint8_t> bytes) {
    std::string text;
    for (std::uint8_t b : bytes) {
        char two[4];
        std::snprintf(two, sizeof two, "%02x", b);
        text += two;
    }
    return text;
}

} // namespace detail

/// Looks at a run before each instruction (exec::CheckedOptions::trace), with what the run handed out so far and
/// r0..r10: what it finds wrong, or an empty string.
using RunObserver = std::function<std::string(const detail::Run& run, std::uint32_t pc, const std::uint64_t* regs)>;

/// Runs `program` as the verifier's acceptance with `bound` would allow, on `runs` inputs drawn from `entropy`;
/// returns what went wrong, or an empty string. The oracle without the verifier, so that its own tests can feed it
/// programs known to be unsafe. `observe`, when given, sees every instruction of every run; its first finding fails
/// the run.
[[nodiscard]] inline std::string run_as_verified(const GeneratedProgram& program, std::uint64_t bound, Entropy& entropy,
                                                 unsigned runs, const RunObserver& observe = {}) {
    const platform::Platform& platform = detail::fuzz_platform();
    const platform::ProgramType* type = platform.program_type(program.type);
    if (type == nullptr) {
        return "no program type " + program.type;
    }
    std::vector<std::shared_ptr<runtime::Map>> maps;
    for (const verifier::MapDescriptor& descriptor : program.maps) {
        runtime::MapConfig config;
        config.name = descriptor.name;
        config.kind = descriptor.kind;
        config.key_size = descriptor.key_size;
        config.value_size = descriptor.value_size;
        config.max_entries = descriptor.max_entries;
        config.spin_lock = descriptor.spin_lock;
        auto map = runtime::create_map(config);
        if (!map) {
            return "the generator described a map the runtime refuses: " + map.error().message;
        }
        maps.push_back(std::move(map).value());
    }
    detail::fill_maps(program, maps, entropy);

    // Map references become addresses, as Object::load resolves them.
    std::vector<isa::Instruction> code = program.instructions;
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

    detail::Run run;
    run.type = type;
    run.maps = &maps;
    run.descriptors = &program.maps;
    const exec::HelperTable real = runtime::helper_table(platform, *type);
    exec::HelperTable table;
    // The type's helpers, and the platform's for every type but those that take callbacks (set below).
    std::vector<std::uint32_t> ids = type->helpers;
    for (const platform::HelperPrototype& helper : platform.helpers()) {
        if (helper.any_program_type && helper.callback() == platform::Callback::none) {
            ids.push_back(helper.id);
        }
    }
    for (std::uint32_t id : ids) {
        const platform::HelperPrototype* prototype = platform.helper(*type, id);
        exec::HelperFunction function = real.get(id);
        const bool own = id == detail::kAdjustHead && type->name == "xdp";
        if (prototype == nullptr || (function == nullptr && !own) ||
            run.prototypes.size() == detail::kWrappers.size()) {
            continue;
        }
        table.set(id, detail::kWrappers[run.prototypes.size()]);
        run.prototypes.push_back(prototype);
        run.functions.push_back(function);
    }
    if (auto unwind = real.unwind()) {
        table.set_unwind(*unwind);
    }
    // The callback helpers run in the interpreter, which calls no wrapper for them.
    for (const platform::HelperPrototype& helper : platform.helpers()) {
        if (helper.callback() != platform::Callback::none && real.get(helper.id) != nullptr) {
            table.set(helper.id, real.get(helper.id));
            table.set_callback(helper.id, helper.callback(), real.next_element());
        }
    }
    auto interpreter = exec::Interpreter::create(code, table, {.packet = exec::packet_layout(*type)});
    if (!interpreter) {
        // Accepted, yet the host could not run it: a helper the runtime does not implement, an instruction the
        // interpreter refuses. Object::load would fail on it the same way.
        return "verifier soundness: accepted, but the interpreter refuses it: " + interpreter.error().message +
               "\nprogram type " + program.type + "\n" + detail::describe_maps(program.maps) +
               isa::disassemble(program.instructions, {.show_pc = true});
    }

    const platform::ContextDescriptor& context = type->context;
    const std::string listing = isa::disassemble(program.instructions, {.show_pc = true});
    for (unsigned i = 0; i < runs; ++i) {
        // The data range: a size at the edge of one of the program's checks, empty, at the hook's limit, or any size
        // up to 100 bytes; sizes past the limit stand for the packets the runtime refuses at entry.
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
        detail::PacketBuffer packet;
        packet.headroom = meta + entropy.below(33);
        packet.capacity = packet.headroom + size;
        packet.storage.reset(new std::uint8_t[std::max<std::size_t>(packet.capacity, 1)]);
        detail::random_bytes(entropy, {packet.storage.get(), packet.capacity});
        std::vector<std::uint8_t> ctx(context.size);
        detail::random_bytes(entropy, ctx);

        run.packets.clear();
        run.handed_out.clear();
        run.handed_out_map.clear();
        run.violation.clear();
        run.held_lock = 0;
        run.options = {};
        run.ctx = ctx.data();
        run.ctx_size = ctx.size();
        run.data_region = std::string::npos;
        const std::uint64_t data = reinterpret_cast<std::uintptr_t>(packet.storage.get()) + packet.headroom;
        const std::uint64_t data_end = data + size;
        const std::uint64_t data_meta = data - meta;
        if (context.data >= 0 && context.data_end >= 0) {
            std::memcpy(ctx.data() + context.data, &data, 8);
            std::memcpy(ctx.data() + context.data_end, &data_end, 8);
            run.data_region = 0;
            run.options.regions.push_back({reinterpret_cast<const void*>(data_meta), size + meta, true});
        }
        if (context.meta >= 0) {
            std::memcpy(ctx.data() + context.meta, &data_meta, 8);
        }
        // The context as its fields: the bytes between them are no one's, and read-only fields stay read-only.
        for (const platform::ContextField& field : context.fields) {
            if (field.readable) {
                run.options.regions.push_back({ctx.data() + field.offset, field.size, field.writable});
            }
        }
        run.options.instruction_budget = bound;
        run.options.check_initialization = true;
        run.options.platform = &platform;
        run.options.program_type = type;
        run.options.map_shape = [](std::uint64_t address) -> std::optional<exec::MapShape> {
            const verifier::MapDescriptor* descriptor = nullptr;
            if (detail::map_at(*detail::t_run, address, &descriptor) == nullptr) {
                return std::nullopt;
            }
            return exec::MapShape{descriptor->key_size, descriptor->value_size, descriptor->kind, 1,
                                  descriptor->spin_lock};
        };
        run.options.helper_result_region = [](std::uint32_t, const std::uint64_t*,
                                              std::uint64_t r0) -> std::optional<exec::MemoryRegion> {
            const detail::Run& current = *detail::t_run;
            if (r0 != 0 && !current.handed_out.empty() &&
                reinterpret_cast<std::uintptr_t>(current.handed_out.back().start) == r0) {
                return current.handed_out.back();
            }
            return std::nullopt;
        };
        run.packets.push_back(std::move(packet));
        if (observe) {
            run.options.trace = [&run, &observe](std::uint32_t pc, const std::uint64_t* regs) {
                if (run.violation.empty()) {
                    if (std::string problem = observe(run, pc, regs); !problem.empty()) {
                        run.violation = "before " + std::to_string(pc) + ": " + std::move(problem);
                    }
                }
            };
        }

        Result<exec::CheckedOutcome> outcome = Error::internal("not run");
        {
            runtime::EpochGuard guard;
            runtime::begin_invocation();
            detail::t_run = &run;
            const exec::CheckedOptions probe_options;
            (void)detail::invoke(detail::probe(), nullptr, 0, probe_options);
            run.stack_top = detail::t_probed_r10;
            // The context goes in as regions (above), so the interpreter gets no context size of its own.
            outcome = detail::invoke(*interpreter, ctx.data(), 0, run.options);
            detail::t_run = nullptr;
        }

        std::string problem;
        if (!run.violation.empty()) {
            problem = run.violation;
        } else if (outcome && run.held_lock != 0) {
            problem = "the program ended holding a bpf_spin_lock";
        } else if (!outcome) {
            problem = "checked run: " + outcome.error().message;
        } else if (const auto r0 = static_cast<std::int64_t>(outcome->r0);
                   r0 < type->return_min || r0 > type->return_max) {
            problem = "r0 = " + std::to_string(r0) + " at exit, outside [" + std::to_string(type->return_min) + ", " +
                      std::to_string(type->return_max) + "]";
        } else {
            problem = detail::scan_for_leaks(run);
        }
        if (!problem.empty()) {
            return "verifier soundness: " + problem + "\nprogram type " + program.type + ", cost bound " +
                   std::to_string(bound) + ", run " + std::to_string(i + 1) + ": data " + std::to_string(size) +
                   " bytes (" +
                   detail::hex_bytes({run.packets.front().storage.get() + run.packets.front().headroom,
                                      std::min<std::size_t>(size, 256)}) +
                   (size > 256 ? "..." : "") + "), metadata " + std::to_string(meta) + " bytes\n" +
                   detail::describe_maps(program.maps) + listing;
        }
    }
    return {};
}

/// Verifies `program`; when the verifier accepts it, runs it (see run_as_verified).
[[nodiscard]] inline SoundnessResult check_soundness(const GeneratedProgram& program, Entropy& entropy,
                                                     const SoundnessOptions& options = {}) {
    SoundnessResult result;
    const platform::Platform& platform = detail::fuzz_platform();
    const platform::ProgramType* type = platform.program_type(program.type);
    if (type == nullptr) {
        result.rejection = "no program type " + program.type;
        return result;
    }
    verifier::ProgramInput input;
    input.name = "generated";
    input.section = program.type;
    input.instructions = program.instructions;
    input.maps = program.maps;
    const verifier::Report report = verifier::verify(input, platform, *type);
    if (!report.verified) {
        if (!report.errors.empty()) {
            result.rejection = std::to_string(report.errors.front().pc) + ": " + report.errors.front().message;
        }
        return result;
    }
    result.accepted = true;
    if (!report.instruction_bound || !report.cost_bound || *report.cost_bound < *report.instruction_bound) {
        result.failure = "verifier: accepted without an instruction bound, or with a cost bound below it\n" +
                         isa::disassemble(program.instructions, {.show_pc = true});
        return result;
    }
    // The checked runs count helper calls by their cost, as the cost bound does: a call covering more memory than
    // the verifier counted stops the run at the budget, a finding.
    result.bound = *report.cost_bound;
    if (result.bound == 0) { // no run is that short, and a budget of 0 would mean none
        result.failure =
            "verifier: an instruction bound of 0\n" + isa::disassemble(program.instructions, {.show_pc = true});
        return result;
    }
    if (result.bound > options.max_instructions) {
        return result;
    }
    const auto runs = static_cast<unsigned>(
        std::clamp<std::uint64_t>(options.max_instructions / result.bound, 1, std::max(options.runs, 1U)));
    result.ran = true;
    result.failure = run_as_verified(program, result.bound, entropy, runs);
    return result;
}

} // namespace embpf::fuzz
