#include "embpf/exec/interpreter.hpp"

#include "embpf/isa/decode.hpp"
#include "interpreter_ops.hpp"
#include "metering.hpp"
#include "probe.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>

#ifdef __linux__
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#if (defined(__GNUC__) || defined(__clang__)) && !defined(EMBPF_NO_COMPUTED_GOTO)
#define EMBPF_HAVE_COMPUTED_GOTO 1
#endif

namespace embpf::exec {

void HelperTable::set(std::uint32_t id, HelperFunction function, std::uint8_t arguments) {
    if (id >= m_functions.size()) {
        m_functions.resize(static_cast<std::size_t>(id) + 1, nullptr);
        m_arguments.resize(static_cast<std::size_t>(id) + 1, 5);
    }
    m_functions[id] = function;
    m_arguments[id] = std::min<std::uint8_t>(arguments, 5);
}

namespace detail {

/// A pre-decoded instruction: the handler (a label address or an Op) and the operands.
struct Slot {
    std::uintptr_t handler;
    std::uint8_t dst;
    std::uint8_t src;
    std::int16_t off;
    std::int32_t imm;
};
static_assert(sizeof(Slot) == 16);

struct Frame {
    const Slot* return_to;
    std::uint64_t saved[5]; // r6-r9, r10
    /// A callback's frame (bpf_loop, for_each_map_elem): its first slot, which the helper call runs again while
    /// the callback returns 0; null for a local call.
    const Slot* callback;
    std::uint64_t calls; ///< the calls made so far, the running one included: what the helper returns
    std::uint64_t limit; ///< bpf_loop: nr_loops
    std::uint64_t ctx;
    std::uint64_t map;                                      ///< for_each_map_elem: the map (0 for bpf_loop)
    alignas(8) std::uint8_t key[platform::kMaxCallbackKey]; ///< for_each_map_elem: the element's key
};

enum class Fault {
    none,
    out_of_bounds,
    misaligned_atomic,
    budget,
    call_depth,
    unknown_helper,
    fell_off,
    absent_function,      ///< a call to a weak kernel function the loader found absent (`call kfunc 0`)
    uninitialized,        ///< the program read a byte nothing wrote
    helper_uninitialized, ///< a helper was handed unwritten bytes to read
    helper_argument,      ///< a helper argument its prototype does not allow
    lock_protocol,        ///< a helper called while a bpf_spin_lock is held, or a second lock taken
};

/// How an instruction touches memory: atomics read what they update.
enum class Access { read, write, update };

/// What a run needs besides the code: helpers and the regions a checked run may touch.
struct RunEnv {
    const HelperFunction* helpers;
    const std::uint8_t* helper_arguments; ///< HelperTable::arguments
    std::size_t helper_count;
    std::uint32_t unwind_id;
    bool has_unwind;
    NextMapElement next_element; ///< for_each_map_elem's walk
    std::size_t slot_count;      ///< a checked run's callbacks must start inside the code
    // The context's data range fields, for LD_ABS/LD_IND (see PacketLayout).
    std::uint32_t packet_data;
    std::uint32_t packet_data_end;
    std::uint8_t packet_pointer_width;
    const std::uint32_t* function_lengths; ///< metering's charges of calls (metering.hpp), for metered runs
};

// Calls helper `id` with r1-r5, or 0 past the registers its function receives (HelperTable::set).
inline std::uint64_t call_helper(const RunEnv& env, std::uint32_t id, const std::uint64_t* reg) {
    const std::uint8_t arguments = env.helper_arguments[id];
    if (arguments >= 5) [[likely]] {
        return env.helpers[id](reg[1], reg[2], reg[3], reg[4], reg[5]);
    }
    std::array<std::uint64_t, 5> a{};
    for (std::uint8_t i = 0; i < arguments; ++i) {
        a[i] = reg[1 + i];
    }
    return env.helpers[id](a[0], a[1], a[2], a[3], a[4]);
}

// [addr, addr + size) inside [start, start + length), without overflow.
inline bool inside(std::uint64_t addr, std::size_t size, std::uint64_t start, std::uint64_t length) {
    return addr >= start && addr - start <= length && size <= length - (addr - start);
}

/// Per-run mutable state, used by checked runs and to report faults.
struct RunState {
    const CheckedOptions* options = nullptr;
    std::uint64_t ctx = 0;
    std::uint64_t ctx_size = 0;
    std::uint64_t budget = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t executed = 0;
    Fault fault = Fault::none;
    std::size_t fault_pc = 0;
    std::uint64_t fault_address = 0;
    std::size_t fault_size = 0;
    bool fault_write = false;
    bool read_only = false; ///< the refused write hit memory the run may only read

    /// Memory helpers handed out during this run, by start, with the shadow flags of those that start uninitialized
    /// (empty for the others). Found by bisection: a run may be handed millions (a lookup a loop iteration).
    struct HelperRegion {
        MemoryRegion region;
        std::vector<std::uint8_t> written;
    };
    std::map<std::uint64_t, HelperRegion> helper_regions;
    bool helper_regions_overlap = false; ///< two regions overlap (never seen): then every region is tried

    /// The region of CheckedOptions::regions holding [addr, addr + size), or nullptr: the first that holds it, found
    /// by bisection over the regions sorted once per run when there are many and they do not overlap.
    const MemoryRegion* option_region(std::uint64_t addr, std::size_t size) {
        const std::vector<MemoryRegion>& regions = options->regions;
        if (regions.size() > 8 && !options_sorted) {
            options_sorted = true;
            for (const MemoryRegion& region : regions) {
                sorted_options.push_back(&region);
            }
            std::sort(sorted_options.begin(), sorted_options.end(), [](const MemoryRegion* a, const MemoryRegion* b) {
                return reinterpret_cast<std::uintptr_t>(a->start) < reinterpret_cast<std::uintptr_t>(b->start);
            });
            for (std::size_t i = 1; i < sorted_options.size(); ++i) {
                const auto low = reinterpret_cast<std::uintptr_t>(sorted_options[i - 1]->start);
                if (reinterpret_cast<std::uintptr_t>(sorted_options[i]->start) - low < sorted_options[i - 1]->size) {
                    sorted_options.clear(); // overlapping regions: the first in order decides, as below
                    break;
                }
            }
        }
        if (!sorted_options.empty()) {
            auto it = std::upper_bound(sorted_options.begin(), sorted_options.end(), addr,
                                       [](std::uint64_t a, const MemoryRegion* region) {
                                           return a < reinterpret_cast<std::uintptr_t>(region->start);
                                       });
            if (it == sorted_options.begin()) {
                return nullptr;
            }
            return contains(**std::prev(it), addr, size) ? *std::prev(it) : nullptr;
        }
        for (const MemoryRegion& region : regions) {
            if (contains(region, addr, size)) {
                return &region;
            }
        }
        return nullptr;
    }
    bool options_sorted = false;
    std::vector<const MemoryRegion*> sorted_options; ///< empty when few or overlapping

    /// The helper region holding [addr, addr + size), or nullptr.
    HelperRegion* helper_region(std::uint64_t addr, std::size_t size) {
        if (!helper_regions_overlap) {
            auto it = helper_regions.upper_bound(addr);
            if (it == helper_regions.begin()) {
                return nullptr;
            }
            --it;
            return contains(it->second.region, addr, size) ? &it->second : nullptr;
        }
        for (auto& [start, entry] : helper_regions) {
            if (contains(entry.region, addr, size)) {
                return &entry;
            }
        }
        return nullptr;
    }
    /// The region, of CheckedOptions::regions or a helper's, holding [addr, addr + size), or nullptr.
    const MemoryRegion* region_at(std::uint64_t addr, std::size_t size) {
        if (const MemoryRegion* found = option_region(addr, size)) {
            return found;
        }
        const HelperRegion* entry = helper_region(addr, size);
        return entry != nullptr ? &entry->region : nullptr;
    }
    static bool contains(const MemoryRegion& region, std::uint64_t addr, std::size_t size) {
        return inside(addr, size, reinterpret_cast<std::uintptr_t>(region.start), region.size);
    }
    void add_helper_region(const MemoryRegion& region) {
        const auto start = reinterpret_cast<std::uintptr_t>(region.start);
        HelperRegion entry{region,
                           std::vector<std::uint8_t>(shadow && !region.initialized ? region.size : 0, std::uint8_t{0})};
        auto [it, fresh] = helper_regions.try_emplace(start, std::move(entry));
        if (!fresh) {
            // The same memory again (a value looked up twice) keeps what the run wrote to it; other memory at the
            // same address (a new record where a released one was) starts anew.
            if (it->second.region.size != region.size || !region.initialized || !it->second.region.initialized) {
                it->second = std::move(entry);
            }
        }
        auto overlaps = [](const HelperRegion& low, std::uint64_t high_start) {
            const auto low_start = reinterpret_cast<std::uintptr_t>(low.region.start);
            return high_start - low_start < low.region.size;
        };
        if (it != helper_regions.begin() && overlaps(std::prev(it)->second, start)) {
            helper_regions_overlap = true;
        }
        if (auto next = std::next(it); next != helper_regions.end() && overlaps(it->second, next->first)) {
            helper_regions_overlap = true;
        }
    }

    // The initialization shadow (CheckedOptions::check_initialization): one flag per byte of the stack, and per byte
    // of each helper region that starts uninitialized (empty for the others).
    bool shadow = false;
    std::uint64_t stack_base = 0;            ///< the lowest address of the whole stack (every frame)
    std::vector<std::uint8_t> stack_written; ///< sized only when the shadow is on: fast runs pay nothing
    std::uint32_t fault_helper = 0;          ///< the helper of a helper_uninitialized fault

    void note_helper_result(std::uint32_t helper, const std::uint64_t* args, std::uint64_t r0) {
        if (options->helper_result_map && r0 != 0) {
            if (auto map = options->helper_result_map(helper, args, r0)) {
                result_maps.try_emplace(r0, *map);
                return;
            }
        }
        if (const platform::HelperPrototype* prototype = prototype_of_helper(helper);
            prototype != nullptr && prototype->ret == platform::ReturnKind::ptr_to_alloc_mem_or_null && r0 != 0) {
            open_records.insert(r0);
        }
        if (options->helper_result_region) {
            if (auto region = options->helper_result_region(helper, args, r0)) {
                add_helper_region(*region);
            }
        }
    }

    // The shadow flags of [addr, addr + size), or nullptr when no shadow covers them (initialized memory). The caller
    // has checked that the range lies inside the stack or inside one region.
    std::uint8_t* shadow_of(std::uint64_t addr, std::size_t size) {
        if (addr >= stack_base && addr - stack_base <= stack_written.size() &&
            size <= stack_written.size() - (addr - stack_base)) {
            return stack_written.data() + (addr - stack_base);
        }
        if (HelperRegion* entry = helper_region(addr, size); entry != nullptr && !entry->written.empty()) {
            return entry->written.data() + (addr - reinterpret_cast<std::uintptr_t>(entry->region.start));
        }
        return nullptr;
    }
    bool is_written(std::uint64_t addr, std::size_t size) {
        const std::uint8_t* flags = shadow_of(addr, size);
        return flags == nullptr || std::all_of(flags, flags + size, [](std::uint8_t f) { return f != 0; });
    }
    void mark_written(std::uint64_t addr, std::size_t size) {
        if (std::uint8_t* flags = shadow_of(addr, size)) {
            std::fill(flags, flags + size, std::uint8_t{1});
        }
    }
    // for_each_map_elem hands a callback an element: its value becomes memory of the run, its key copy is written.
    void callback_element(std::uint64_t map, void* value, std::uint64_t key_copy, std::size_t key_size) {
        mark_written(key_copy, key_size);
        std::optional<MapShape> shape = options->map_shape ? options->map_shape(map) : std::nullopt;
        if (shape) {
            add_helper_region(MemoryRegion{value, shape->value_size, true, true, shape->spin_lock});
        }
    }
    // A helper whose sizes are 32-bit (HelperPrototype::u32_sizes) reads only their low 32 bits: the checks read them
    // so too (r1-r5 mean nothing after a call).
    void truncate_sizes(std::uint32_t helper, std::uint64_t* args) const {
        const platform::HelperPrototype* prototype = prototype_of_helper(helper);
        if (prototype == nullptr || !prototype->u32_sizes) {
            return;
        }
        for (std::size_t i = 0; i < prototype->args.size(); ++i) {
            if (prototype->args[i] == platform::ArgKind::const_size ||
                prototype->args[i] == platform::ArgKind::const_size_or_zero) {
                args[i] = static_cast<std::uint32_t>(args[i]);
            }
        }
    }
    const platform::HelperPrototype* prototype_of_helper(std::uint32_t helper) const {
        if (options->platform == nullptr || options->program_type == nullptr) {
            return nullptr;
        }
        return options->platform->helper(*options->program_type, helper);
    }
    // A frame a local call enters holds nothing yet, whatever an earlier call at the same depth left there.
    void enter_frame(std::uint64_t frame_r10) {
        if (shadow) {
            std::fill_n(stack_written.data() + (frame_r10 - isa::kStackSize - stack_base), isa::kStackSize,
                        std::uint8_t{0});
        }
    }

    // The helper's contract against the shadow: what it reads must be written, what it writes becomes written.
    // Returns false (with the fault set) when it would read unwritten bytes.
    bool helper_reads_written(std::uint32_t helper, const std::uint64_t* args, std::ptrdiff_t pc);
    void helper_wrote(std::uint32_t helper, const std::uint64_t* args);

    // CheckedOptions::check_helper_arguments: the arguments against the helper's prototype, before the call; then
    // what the call released (submitted or discarded records) and what its result names (inner maps).
    bool helper_arguments_valid(const RunEnv& env, std::uint32_t helper, const std::uint64_t* args, std::ptrdiff_t pc,
                                std::uint64_t stack_top, std::size_t depth);
    void helper_released(std::uint32_t helper, const std::uint64_t* args);
    // What the call costs beyond one instruction (platform::helper_call_cost), from the memory its arguments cover;
    // 0 without a prototype. Strings are measured only when their arguments were checked to end.
    std::uint64_t helper_extra_cost(std::uint32_t helper, const std::uint64_t* args) const;
    // Counts it in `count` (the instructions the run executed) against the budget: false (with the fault set) when
    // the call would exceed it.
    bool charge_helper(std::uint32_t helper, const std::uint64_t* args, std::ptrdiff_t pc, std::uint64_t& count) {
        const std::uint64_t extra = helper_extra_cost(helper, args);
        count = count > std::numeric_limits<std::uint64_t>::max() - extra ? std::numeric_limits<std::uint64_t>::max()
                                                                          : count + extra;
        if (count > budget) {
            set_fault(Fault::budget, pc, 0, 0, false);
            return false;
        }
        return true;
    }
    std::unordered_map<std::uint64_t, MapShape> result_maps; ///< inner maps helpers named during the run
    std::unordered_set<std::uint64_t> open_records;          ///< starts of records reserved and not released
    /// The run holds a bpf_spin_lock: as the verifier, a checked run lets it call no helper but bpf_spin_unlock
    /// meanwhile (a helper that blocks, or runs a program that takes the lock, would wait for ever).
    bool holding_lock = false;
    std::uint32_t fault_argument = 0; ///< the argument of a helper_argument fault
    const char* fault_expected = "";  ///< what that argument had to be

    /// Where the host's pointer lies for a 4-byte load at `addr` of a 32-bit field that holds one
    /// (CheckedOptions::context_translations); 0 for any other address.
    [[nodiscard]] std::uint64_t translated_field(std::uint64_t addr) const noexcept {
        if (ctx == 0 || addr < ctx || addr - ctx >= ctx_size) {
            return 0;
        }
        for (const auto& [field, host] : options->context_translations) {
            if (addr - ctx == field) {
                return ctx + host;
            }
        }
        return 0;
    }

    void set_fault(Fault kind, std::ptrdiff_t pc, std::uint64_t address, std::size_t size, bool write) {
        fault = kind;
        fault_pc = static_cast<std::size_t>(pc);
        fault_address = address;
        fault_size = size;
        fault_write = write;
    }
};

namespace {

// Checks an access of a checked run; on refusal says whether the memory exists but is read-only.
bool access_allowed(const RunEnv&, RunState& state, std::uint64_t addr, std::size_t size, bool write,
                    std::uint64_t stack_top, std::size_t depth) {
    const std::uint64_t stack_used = (depth + 1) * isa::kStackSize;
    if (inside(addr, size, stack_top - stack_used, stack_used)) {
        state.read_only = false;
        return true;
    }
    bool writable = false;
    if (state.ctx != 0 && inside(addr, size, state.ctx, state.ctx_size)) {
        writable = state.options->context_writable;
        for (const auto& [offset, length] : state.options->context_read_only) {
            if (addr < state.ctx + offset + length && state.ctx + offset < addr + size) {
                writable = false;
            }
        }
    } else {
        const MemoryRegion* found = state.region_at(addr, size);
        if (found == nullptr) {
            return false;
        }
        writable = found->writable;
        if (write && found->spin_lock) {
            const std::uint64_t lock = reinterpret_cast<std::uintptr_t>(found->start) + *found->spin_lock;
            if (addr < lock + 4 && lock < addr + size) {
                writable = false; // a word set here would make every bpf_spin_lock of it wait for ever
            }
        }
    }
    state.read_only = write && !writable;
    return !state.read_only;
}

// Every check of a checked run's load, store or atomic: bounds, then the initialization shadow.
Fault check_access(const RunEnv& env, RunState& state, std::uint64_t addr, std::size_t size, Access access,
                   std::uint64_t stack_top, std::size_t depth) {
    if (!access_allowed(env, state, addr, size, access != Access::read, stack_top, depth)) {
        return Fault::out_of_bounds;
    }
    if (state.shadow) {
        if (access != Access::write && !state.is_written(addr, size)) {
            return Fault::uninitialized;
        }
        state.mark_written(addr, size);
    }
    return Fault::none;
}

const platform::HelperPrototype* prototype_of(const CheckedOptions& options, std::uint32_t helper) {
    if (options.platform == nullptr || options.program_type == nullptr) {
        return nullptr;
    }
    return options.platform->helper(*options.program_type, helper);
}

// The size a memory argument covers: its size argument, or the key or value size of the map before it.
// map_peek_elem on a bloom filter reads its value (the value tested) instead of writing it.
bool tests_bloom_filter(const std::optional<MapShape>& map) {
    return map && map->kind == platform::MapKind::bloom_filter;
}

std::uint64_t argument_size(platform::ArgKind kind, std::size_t i, const std::uint64_t* args,
                            const std::optional<MapShape>& map) {
    using platform::ArgKind;
    switch (kind) {
    case ArgKind::ptr_to_map_key: return map ? map->key_size : 0;
    case ArgKind::ptr_to_map_value:
    case ArgKind::ptr_to_uninit_map_value: return map ? map->value_size : 0;
    case ArgKind::ptr_to_map_value_or_null: return map && args[i] != 0 ? map->value_size : 0;
    case ArgKind::ptr_to_readable_mem:
    case ArgKind::ptr_to_readable_mem_or_null:
    case ArgKind::ptr_to_writable_mem: return i + 1 < 5 ? args[i + 1] : 0;
    default: return 0;
    }
}

std::optional<MapShape> map_argument(const CheckedOptions& options, platform::ArgKind kind, std::uint64_t value) {
    if ((kind == platform::ArgKind::ptr_to_map || kind == platform::ArgKind::ptr_to_map_of_programs) &&
        options.map_shape) {
        return options.map_shape(value);
    }
    return std::nullopt;
}

} // namespace

bool RunState::helper_arguments_valid(const RunEnv& env, std::uint32_t helper, const std::uint64_t* args,
                                      std::ptrdiff_t pc, std::uint64_t stack_top, std::size_t depth) {
    using platform::ArgKind;
    const platform::HelperPrototype* prototype =
        options->check_helper_arguments ? prototype_of_helper(helper) : nullptr;
    if (prototype == nullptr) {
        return true;
    }
    auto refuse = [&](std::size_t i, const char* expected) {
        set_fault(Fault::helper_argument, pc, args[i], 0, false);
        fault_helper = helper;
        fault_argument = static_cast<std::uint32_t>(i + 1);
        fault_expected = expected;
        return false;
    };
    auto memory = [&](std::uint64_t addr, std::uint64_t size, bool write) {
        return size == 0 || (size <= (std::uint64_t{1} << 32) &&
                             access_allowed(env, *this, addr, static_cast<std::size_t>(size), write, stack_top, depth));
    };
    const bool lock_helper = prototype->args[0] == ArgKind::ptr_to_spin_lock;
    if (holding_lock && !(lock_helper && prototype->name == "spin_unlock")) {
        set_fault(Fault::lock_protocol, pc, 0, 0, false);
        fault_helper = helper;
        return false;
    }
    std::optional<MapShape> map;
    for (std::size_t i = 0; i < prototype->args.size() && i < 5; ++i) {
        const ArgKind kind = prototype->args[i];
        const std::uint64_t value = args[i];
        switch (kind) {
        case ArgKind::ptr_to_ctx:
            if (value != ctx) {
                return refuse(i, "the context pointer");
            }
            break;
        case ArgKind::ptr_to_ctx_or_null:
            if (value != ctx && value != 0) {
                return refuse(i, "the context pointer or null");
            }
            break;
        case ArgKind::ptr_to_spin_lock: {
            // Exactly a map value's lock: any other word the helper would spin on could be one nobody clears.
            const MemoryRegion* region = region_at(value, 4);
            if (region == nullptr || !region->spin_lock ||
                value != reinterpret_cast<std::uintptr_t>(region->start) + *region->spin_lock) {
                return refuse(i, "the bpf_spin_lock of a map value");
            }
            break;
        }
        case ArgKind::host_object:
            if (value != 0 && memory(value, 1, false)) {
                return refuse(i, "a host object's address, not memory the program holds");
            }
            break;
        case ArgKind::ptr_to_map:
        case ArgKind::ptr_to_map_of_programs: {
            std::optional<MapShape> shape = options->map_shape ? options->map_shape(value) : std::nullopt;
            if (const auto inner = result_maps.find(value); !shape && inner != result_maps.end()) {
                shape = inner->second;
            }
            if (!shape || !shape->kind) {
                return refuse(i, "a map of the program");
            }
            if (kind == ArgKind::ptr_to_map_of_programs ? *shape->kind != platform::MapKind::prog_array
                                                        : !platform::accepts_map(*prototype, *shape->kind)) {
                return refuse(i, "a map of a kind this helper takes");
            }
            map = shape;
            break;
        }
        // Memory arguments: their size as argument_size() reads it for the initialization shadow.
        case ArgKind::ptr_to_map_value_or_null:
            if (value == 0) {
                break;
            }
            [[fallthrough]];
        case ArgKind::ptr_to_map_key:
        case ArgKind::ptr_to_map_value:
        case ArgKind::ptr_to_uninit_map_value:
            if (!map || !memory(value, argument_size(kind, i, args, map),
                                kind == ArgKind::ptr_to_uninit_map_value && !tests_bloom_filter(map))) {
                return refuse(i, kind == ArgKind::ptr_to_map_key ? "readable memory of the map's key size"
                                 : kind == ArgKind::ptr_to_uninit_map_value
                                     ? "writable memory of the map's value size"
                                     : "readable memory of the map's value size");
            }
            break;
        case ArgKind::ptr_to_readable_mem:
        case ArgKind::ptr_to_readable_mem_or_null:
        case ArgKind::ptr_to_writable_mem:
            if (!(kind == ArgKind::ptr_to_readable_mem_or_null && value == 0) &&
                !memory(value, argument_size(kind, i, args, map), kind == ArgKind::ptr_to_writable_mem)) {
                return refuse(i, kind == ArgKind::ptr_to_writable_mem
                                     ? "writable memory of the size in the next argument"
                                     : "readable memory of the size in the next argument");
            }
            break;
        case ArgKind::ptr_to_alloc_mem:
            if (!open_records.contains(value)) {
                return refuse(i, "a record this run reserved and still holds");
            }
            break;
        case ArgKind::ptr_to_const_str: {
            // Byte by byte, up to a page: the string must end inside memory the run may read.
            bool ended = false;
            for (std::uint64_t k = 0; k < 4096 && !ended; ++k) {
                if (!access_allowed(env, *this, value + k, 1, false, stack_top, depth)) {
                    break;
                }
                ended = *reinterpret_cast<const char*>(static_cast<std::uintptr_t>(value + k)) == 0;
            }
            if (!ended) {
                return refuse(i, "a string that ends in a NUL inside readable memory");
            }
            break;
        }
        case ArgKind::ptr_to_func:
            // The callback helpers check it themselves: an instruction of the program.
            if (value >= env.slot_count) {
                return refuse(i, "the address of a function of the program");
            }
            break;
        case ArgKind::ptr_to_stack_or_null:
            if (value != 0 &&
                !inside(value, 1, stack_top - (depth + 1) * isa::kStackSize, (depth + 1) * isa::kStackSize)) {
                return refuse(i, "a pointer into the stack, or null");
            }
            break;
        default: break;
        }
    }
    if (lock_helper) {
        holding_lock = prototype->name == "spin_lock";
    }
    return true;
}

std::uint64_t RunState::helper_extra_cost(std::uint32_t helper, const std::uint64_t* args) const {
    using platform::ArgKind;
    const platform::HelperPrototype* prototype = prototype_of_helper(helper);
    if (prototype == nullptr) {
        return 0;
    }
    std::optional<MapShape> map;
    std::uint64_t bytes = 0;
    auto covers = [&](std::uint64_t n) { bytes = bytes > ~std::uint64_t{0} - n ? ~std::uint64_t{0} : bytes + n; };
    for (std::size_t i = 0; i < prototype->args.size() && i < 5; ++i) {
        const ArgKind kind = prototype->args[i];
        if (kind == ArgKind::ptr_to_map || kind == ArgKind::ptr_to_map_of_programs) {
            map = options->map_shape ? options->map_shape(args[i]) : std::nullopt;
            if (const auto inner = result_maps.find(args[i]); !map && inner != result_maps.end()) {
                map = inner->second;
            }
        } else if (kind == ArgKind::const_alloc_size_or_zero) {
            covers(args[i]);
        } else if (kind == ArgKind::ptr_to_const_str && options->check_helper_arguments) {
            covers(std::strlen(reinterpret_cast<const char*>(static_cast<std::uintptr_t>(args[i]))) + 1);
        } else {
            covers(argument_size(kind, i, args, map));
        }
    }
    if (map && map->kind) {
        const bool update = std::any_of(prototype->args.begin(), prototype->args.end(), [](ArgKind a) {
            return a == ArgKind::ptr_to_map_value || a == ArgKind::ptr_to_map_value_or_null;
        });
        covers(platform::map_call_bytes(*map->kind, map->key_size, map->value_size, map->slots, update));
    }
    return platform::helper_extra_cost(bytes, prototype->cost, prototype->cost_per_byte);
}

void RunState::helper_released(std::uint32_t helper, const std::uint64_t* args) {
    const platform::HelperPrototype* prototype =
        options->check_helper_arguments ? prototype_of_helper(helper) : nullptr;
    if (prototype == nullptr) {
        return;
    }
    for (std::size_t i = 0; i < prototype->args.size() && i < 5; ++i) {
        if (prototype->args[i] != platform::ArgKind::ptr_to_alloc_mem) {
            continue;
        }
        // Submitted or discarded: the record is the reader's now, and no longer memory of the run.
        open_records.erase(args[i]);
        helper_regions.erase(args[i]);
    }
}

bool RunState::helper_reads_written(std::uint32_t helper, const std::uint64_t* args, std::ptrdiff_t pc) {
    using platform::ArgKind;
    const platform::HelperPrototype* prototype = shadow ? prototype_of(*options, helper) : nullptr;
    if (prototype == nullptr) {
        return true;
    }
    std::optional<MapShape> map;
    for (std::size_t i = 0; i < prototype->args.size(); ++i) {
        const ArgKind kind = prototype->args[i];
        if (auto shape = map_argument(*options, kind, args[i])) {
            map = shape;
        }
        const bool reads = kind == ArgKind::ptr_to_map_key || kind == ArgKind::ptr_to_map_value ||
                           kind == ArgKind::ptr_to_map_value_or_null ||
                           (kind == ArgKind::ptr_to_uninit_map_value && tests_bloom_filter(map)) ||
                           kind == ArgKind::ptr_to_readable_mem ||
                           (kind == ArgKind::ptr_to_readable_mem_or_null && args[i] != 0) ||
                           (kind == ArgKind::ptr_to_writable_mem && prototype->reads_writable);
        const std::uint64_t size = argument_size(kind, i, args, map);
        if (reads && size != 0 && !is_written(args[i], static_cast<std::size_t>(size))) {
            set_fault(Fault::helper_uninitialized, pc, args[i], static_cast<std::size_t>(size), false);
            fault_helper = helper;
            return false;
        }
    }
    return true;
}

void RunState::helper_wrote(std::uint32_t helper, const std::uint64_t* args) {
    using platform::ArgKind;
    const platform::HelperPrototype* prototype = shadow ? prototype_of(*options, helper) : nullptr;
    if (prototype == nullptr || prototype->writes == platform::Writes::some) {
        return;
    }
    std::optional<MapShape> map;
    for (std::size_t i = 0; i < prototype->args.size(); ++i) {
        const ArgKind kind = prototype->args[i];
        if (auto shape = map_argument(*options, kind, args[i])) {
            map = shape;
        }
        if ((kind != ArgKind::ptr_to_writable_mem && kind != ArgKind::ptr_to_uninit_map_value) ||
            (kind == ArgKind::ptr_to_uninit_map_value && tests_bloom_filter(map))) {
            continue;
        }
        std::uint64_t size = argument_size(kind, i, args, map);
        if (prototype->writes == platform::Writes::source_if_fits) {
            // N is the size of the next memory argument; more than fits, and the helper writes nothing.
            std::uint64_t source = size + 1;
            for (std::size_t j = i + 1; j + 1 < prototype->args.size(); ++j) {
                if (platform::is_memory_arg(prototype->args[j])) {
                    source = args[j + 1];
                    break;
                }
            }
            if (source > size) {
                return;
            }
            size = source;
        }
        mark_written(args[i], static_cast<std::size_t>(size));
        return;
    }
}

namespace {

template <typename T>
T* as_ptr(std::uint64_t addr) {
    return reinterpret_cast<T*>(static_cast<std::uintptr_t>(addr));
}
template <typename T>
T load(std::uint64_t addr) {
    T value;
    std::memcpy(&value, as_ptr<const void>(addr), sizeof(T));
    return value;
}
template <typename T>
void store(std::uint64_t addr, T value) {
    std::memcpy(as_ptr<void>(addr), &value, sizeof(T));
}

#ifdef __linux__
// The process's id, asked once and again in a child after fork (which must never read its parent).
std::atomic<pid_t> g_own_pid{0};
pid_t own_pid() {
    static const bool registered = [] {
        pthread_atfork(nullptr, nullptr, [] { g_own_pid.store(0, std::memory_order_relaxed); });
        return true;
    }();
    (void)registered;
    pid_t pid = g_own_pid.load(std::memory_order_relaxed);
    if (pid == 0) {
        pid = getpid();
        g_own_pid.store(pid, std::memory_order_relaxed);
    }
    return pid;
}
#endif

} // namespace

std::uint64_t probe_load(std::uint64_t addr, std::int32_t width) {
    const auto size = static_cast<std::size_t>(width & 0xFF);
    std::uint64_t value = 0;
#ifdef __linux__
    iovec local{&value, size};
    iovec remote{as_ptr<void>(addr), size};
    if (process_vm_readv(own_pid(), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(size)) {
        return 0;
    }
#else
    (void)addr;
    return 0;
#endif
    if ((width & 0x100) != 0 && size < 8 && (value >> (8 * size - 1)) != 0) {
        value |= ~std::uint64_t{0} << (8 * size);
    }
    return value; // little-endian: the low bytes were read
}

namespace {

// Arithmetic with the results RFC 9669 defines for every input (no host undefined behaviour).
inline std::uint64_t alu_add64(std::uint64_t a, std::uint64_t b) { return a + b; }
inline std::uint64_t alu_sub64(std::uint64_t a, std::uint64_t b) { return a - b; }
inline std::uint64_t alu_mul64(std::uint64_t a, std::uint64_t b) { return a * b; }
inline std::uint64_t alu_or64(std::uint64_t a, std::uint64_t b) { return a | b; }
inline std::uint64_t alu_and64(std::uint64_t a, std::uint64_t b) { return a & b; }
inline std::uint64_t alu_xor64(std::uint64_t a, std::uint64_t b) { return a ^ b; }
inline std::uint64_t alu_lsh64(std::uint64_t a, std::uint64_t b) { return a << (b & 63); }
inline std::uint64_t alu_rsh64(std::uint64_t a, std::uint64_t b) { return a >> (b & 63); }
inline std::uint64_t alu_arsh64(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(a) >> (b & 63));
}
inline std::uint64_t alu_div64(std::uint64_t a, std::uint64_t b) { return b == 0 ? 0 : a / b; }
inline std::uint64_t alu_mod64(std::uint64_t a, std::uint64_t b) { return b == 0 ? a : a % b; }
inline std::uint64_t alu_sdiv64(std::uint64_t a, std::uint64_t b) {
    if (b == 0) {
        return 0;
    }
    if (static_cast<std::int64_t>(b) == -1) {
        return 0 - a; // INT64_MIN / -1 wraps to INT64_MIN
    }
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(a) / static_cast<std::int64_t>(b));
}
inline std::uint64_t alu_smod64(std::uint64_t a, std::uint64_t b) {
    if (b == 0) {
        return a;
    }
    if (static_cast<std::int64_t>(b) == -1) {
        return 0;
    }
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(a) % static_cast<std::int64_t>(b));
}

inline std::uint32_t alu_add32(std::uint32_t a, std::uint32_t b) { return a + b; }
inline std::uint32_t alu_sub32(std::uint32_t a, std::uint32_t b) { return a - b; }
inline std::uint32_t alu_mul32(std::uint32_t a, std::uint32_t b) { return a * b; }
inline std::uint32_t alu_or32(std::uint32_t a, std::uint32_t b) { return a | b; }
inline std::uint32_t alu_and32(std::uint32_t a, std::uint32_t b) { return a & b; }
inline std::uint32_t alu_xor32(std::uint32_t a, std::uint32_t b) { return a ^ b; }
inline std::uint32_t alu_lsh32(std::uint32_t a, std::uint32_t b) { return a << (b & 31); }
inline std::uint32_t alu_rsh32(std::uint32_t a, std::uint32_t b) { return a >> (b & 31); }
inline std::uint32_t alu_arsh32(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(a) >> (b & 31));
}
inline std::uint32_t alu_div32(std::uint32_t a, std::uint32_t b) { return b == 0 ? 0 : a / b; }
inline std::uint32_t alu_mod32(std::uint32_t a, std::uint32_t b) { return b == 0 ? a : a % b; }
inline std::uint32_t alu_sdiv32(std::uint32_t a, std::uint32_t b) {
    if (b == 0) {
        return 0;
    }
    if (static_cast<std::int32_t>(b) == -1) {
        return 0u - a;
    }
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(a) / static_cast<std::int32_t>(b));
}
inline std::uint32_t alu_smod32(std::uint32_t a, std::uint32_t b) {
    if (b == 0) {
        return a;
    }
    if (static_cast<std::int32_t>(b) == -1) {
        return 0;
    }
    return static_cast<std::uint32_t>(static_cast<std::int32_t>(a) % static_cast<std::int32_t>(b));
}

inline bool cmp_eq64(std::uint64_t a, std::uint64_t b) { return a == b; }
inline bool cmp_ne64(std::uint64_t a, std::uint64_t b) { return a != b; }
inline bool cmp_gt64(std::uint64_t a, std::uint64_t b) { return a > b; }
inline bool cmp_ge64(std::uint64_t a, std::uint64_t b) { return a >= b; }
inline bool cmp_lt64(std::uint64_t a, std::uint64_t b) { return a < b; }
inline bool cmp_le64(std::uint64_t a, std::uint64_t b) { return a <= b; }
inline bool cmp_set64(std::uint64_t a, std::uint64_t b) { return (a & b) != 0; }
inline bool cmp_sgt64(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::int64_t>(a) > static_cast<std::int64_t>(b);
}
inline bool cmp_sge64(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::int64_t>(a) >= static_cast<std::int64_t>(b);
}
inline bool cmp_slt64(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::int64_t>(a) < static_cast<std::int64_t>(b);
}
inline bool cmp_sle64(std::uint64_t a, std::uint64_t b) {
    return static_cast<std::int64_t>(a) <= static_cast<std::int64_t>(b);
}
inline bool cmp_eq32(std::uint32_t a, std::uint32_t b) { return a == b; }
inline bool cmp_ne32(std::uint32_t a, std::uint32_t b) { return a != b; }
inline bool cmp_gt32(std::uint32_t a, std::uint32_t b) { return a > b; }
inline bool cmp_ge32(std::uint32_t a, std::uint32_t b) { return a >= b; }
inline bool cmp_lt32(std::uint32_t a, std::uint32_t b) { return a < b; }
inline bool cmp_le32(std::uint32_t a, std::uint32_t b) { return a <= b; }
inline bool cmp_set32(std::uint32_t a, std::uint32_t b) { return (a & b) != 0; }
inline bool cmp_sgt32(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a) > static_cast<std::int32_t>(b);
}
inline bool cmp_sge32(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a) >= static_cast<std::int32_t>(b);
}
inline bool cmp_slt32(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a) < static_cast<std::int32_t>(b);
}
inline bool cmp_sle32(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a) <= static_cast<std::int32_t>(b);
}

inline std::uint16_t bswap(std::uint16_t v) { return static_cast<std::uint16_t>((v >> 8) | (v << 8)); }
inline std::uint32_t bswap(std::uint32_t v) { return __builtin_bswap32(v); }
inline std::uint64_t bswap(std::uint64_t v) { return __builtin_bswap64(v); }

// The byte-order conversions truncate to their width, then swap if the host's order differs.
template <typename T>
std::uint64_t to_le(std::uint64_t v) {
    const T narrow = static_cast<T>(v);
    return std::endian::native == std::endian::little ? narrow : bswap(narrow);
}
template <typename T>
std::uint64_t to_be(std::uint64_t v) {
    const T narrow = static_cast<T>(v);
    return std::endian::native == std::endian::big ? narrow : bswap(narrow);
}

#ifdef EMBPF_HAVE_COMPUTED_GOTO
#define EMBPF_LOOP_THREADED
#define EMBPF_LOOP_NAME execute_threaded
#include "interpreter_loop.inc"
#undef EMBPF_LOOP_NAME
#undef EMBPF_LOOP_THREADED
#endif

#define EMBPF_LOOP_NAME execute_switch
#include "interpreter_loop.inc"
#undef EMBPF_LOOP_NAME

} // namespace

/// The decoded program with one threaded copy per mode.
struct InterpreterCode {
    std::vector<isa::Instruction> program;
    std::vector<HelperFunction> helpers;
    std::vector<std::uint8_t> helper_arguments;
    RunEnv env{};
    bool threaded = false;
    std::vector<Slot> fast;    // handlers of the unchecked loop
    std::vector<Slot> checked; // handlers of the checked loop
    std::vector<Slot> metered; // handlers of the metered loop, when instruction_budget is not 0
    std::vector<std::uint32_t> function_lengths;
    std::uint64_t budget = 0;
};

namespace {

constexpr Op alu_op(std::uint8_t code, bool is64, bool reg_source, std::int16_t offset) {
    auto pick = [&](Op op64k) {
        // The 64-bit ops come in K/X pairs followed by the same layout for 32 bits.
        constexpr int width_stride = static_cast<int>(Op::ADD32_K) - static_cast<int>(Op::ADD64_K);
        return static_cast<Op>(static_cast<int>(op64k) + (is64 ? 0 : width_stride) + (reg_source ? 1 : 0));
    };
    switch (code) {
    case isa::op::ADD: return pick(Op::ADD64_K);
    case isa::op::SUB: return pick(Op::SUB64_K);
    case isa::op::MUL: return pick(Op::MUL64_K);
    case isa::op::DIV: return pick(offset == 1 ? Op::SDIV64_K : Op::DIV64_K);
    case isa::op::MOD: return pick(offset == 1 ? Op::SMOD64_K : Op::MOD64_K);
    case isa::op::OR: return pick(Op::OR64_K);
    case isa::op::AND: return pick(Op::AND64_K);
    case isa::op::LSH: return pick(Op::LSH64_K);
    case isa::op::RSH: return pick(Op::RSH64_K);
    case isa::op::ARSH: return pick(Op::ARSH64_K);
    case isa::op::XOR: return pick(Op::XOR64_K);
    case isa::op::MOV:
        if (reg_source && offset != 0) {
            if (is64) {
                return offset == 8 ? Op::MOVSX64_8 : offset == 16 ? Op::MOVSX64_16 : Op::MOVSX64_32;
            }
            return offset == 8 ? Op::MOVSX32_8 : Op::MOVSX32_16;
        }
        return pick(Op::MOV64_K);
    case isa::op::NEG: return is64 ? Op::NEG64 : Op::NEG32;
    default: return Op::FELL_OFF;
    }
}

constexpr Op jump_op(std::uint8_t code, bool is64, bool reg_source) {
    auto pick = [&](Op op64k) {
        constexpr int width_stride = static_cast<int>(Op::JEQ32_K) - static_cast<int>(Op::JEQ64_K);
        return static_cast<Op>(static_cast<int>(op64k) + (is64 ? 0 : width_stride) + (reg_source ? 1 : 0));
    };
    switch (code) {
    case isa::op::JEQ: return pick(Op::JEQ64_K);
    case isa::op::JGT: return pick(Op::JGT64_K);
    case isa::op::JGE: return pick(Op::JGE64_K);
    case isa::op::JSET: return pick(Op::JSET64_K);
    case isa::op::JNE: return pick(Op::JNE64_K);
    case isa::op::JSGT: return pick(Op::JSGT64_K);
    case isa::op::JSGE: return pick(Op::JSGE64_K);
    case isa::op::JLT: return pick(Op::JLT64_K);
    case isa::op::JLE: return pick(Op::JLE64_K);
    case isa::op::JSLT: return pick(Op::JSLT64_K);
    case isa::op::JSLE: return pick(Op::JSLE64_K);
    default: return Op::FELL_OFF;
    }
}

Op atomic_op(bool is64, std::int32_t imm) {
    const Op base = is64 ? Op::ATOMIC64_ADD : Op::ATOMIC32_ADD;
    int index = 0;
    switch (imm) {
    case isa::op::ATOMIC_ADD: index = 0; break;
    case isa::op::ATOMIC_OR: index = 1; break;
    case isa::op::ATOMIC_AND: index = 2; break;
    case isa::op::ATOMIC_XOR: index = 3; break;
    case isa::op::ATOMIC_ADD | isa::op::FETCH: index = 4; break;
    case isa::op::ATOMIC_OR | isa::op::FETCH: index = 5; break;
    case isa::op::ATOMIC_AND | isa::op::FETCH: index = 6; break;
    case isa::op::ATOMIC_XOR | isa::op::FETCH: index = 7; break;
    case isa::op::XCHG: index = 8; break;
    default: index = 9; break; // CMPXCHG; validation admits nothing else
    }
    return static_cast<Op>(static_cast<int>(base) + index);
}

Result<Op> select_op(std::span<const isa::Instruction> program, std::size_t pc, const HelperTable& helpers) {
    using namespace isa;
    const Instruction& ins = program[pc];
    const std::uint8_t cls = op_class(ins.opcode);
    const std::uint8_t code = op_code(ins.opcode);
    const bool reg_source = op_source(ins.opcode) == op::X;
    switch (cls) {
    case op::ALU:
    case op::ALU64:
        if (code == op::END) {
            if (cls == op::ALU64) {
                return ins.imm == 16 ? Op::BSWAP16 : ins.imm == 32 ? Op::BSWAP32 : Op::BSWAP64;
            }
            if (reg_source) {
                return ins.imm == 16 ? Op::BE16 : ins.imm == 32 ? Op::BE32 : Op::BE64;
            }
            return ins.imm == 16 ? Op::LE16 : ins.imm == 32 ? Op::LE32 : Op::LE64;
        }
        return alu_op(code, cls == op::ALU64, reg_source, ins.offset);
    case op::JMP:
    case op::JMP32:
        switch (code) {
        case op::JA: return cls == op::JMP ? Op::JA : Op::JA32;
        case op::EXIT: return Op::EXIT;
        case op::CALL: {
            if (reg_source) {
                return Op::CALLX;
            }
            switch (static_cast<CallSource>(ins.src)) {
            case CallSource::local: return Op::CALL_LOCAL;
            case CallSource::kfunc:
                if (ins.imm == 0) {
                    return Op::CALL_ABSENT; // a weak kernel function the loader found absent
                }
                return Error::unsupported(
                    "instruction " + std::to_string(pc) + ": kernel function calls (kfunc) are not supported", pc);
            case CallSource::helper: break;
            }
            const auto id = static_cast<std::uint32_t>(ins.imm);
            if (helpers.get(id) == nullptr) {
                return Error::invalid(
                    "instruction " + std::to_string(pc) + ": call to unknown helper " + std::to_string(ins.imm), pc);
            }
            switch (helpers.callback(id)) {
            case platform::Callback::loop: return Op::CALL_LOOP;
            case platform::Callback::for_each_map_elem:
                if (helpers.next_element() == nullptr) {
                    return Error::invalid("instruction " + std::to_string(pc) + ": helper " + std::to_string(id) +
                                              " walks a map, and the helper table has no way to",
                                          pc);
                }
                return Op::CALL_FOR_EACH;
            case platform::Callback::none: break;
            }
            return helpers.unwind() == id ? Op::CALL_HELPER_UNWIND : Op::CALL_HELPER;
        }
        default: return jump_op(code, cls == op::JMP, reg_source);
        }
    case op::LD:
        if (isa::is_legacy_packet_load(ins)) {
            const bool indirect = op_mode(ins.opcode) == op::IND;
            switch (op_size(ins.opcode)) {
            case op::B: return indirect ? Op::LD_IND_B : Op::LD_ABS_B;
            case op::H: return indirect ? Op::LD_IND_H : Op::LD_ABS_H;
            default: return indirect ? Op::LD_IND_W : Op::LD_ABS_W;
            }
        }
        if (ins.src != static_cast<std::uint8_t>(LddwSource::imm64) &&
            ins.src != static_cast<std::uint8_t>(LddwSource::code_address)) {
            return Error::invalid("instruction " + std::to_string(pc) + ": lddw with pseudo source " +
                                      std::to_string(ins.src) + " must be resolved by the loader before execution",
                                  pc);
        }
        return Op::LDDW;
    case op::LDX: {
        const bool sx = op_mode(ins.opcode) == op::MEMSX;
        switch (op_size(ins.opcode)) {
        case op::B: return sx ? Op::LDXSX_B : Op::LDX_B;
        case op::H: return sx ? Op::LDXSX_H : Op::LDX_H;
        case op::W: return sx ? Op::LDXSX_W : Op::LDX_W;
        default: return Op::LDX_DW;
        }
    }
    case op::ST:
        switch (op_size(ins.opcode)) {
        case op::B: return Op::ST_B;
        case op::H: return Op::ST_H;
        case op::W: return Op::ST_W;
        default: return Op::ST_DW;
        }
    default: // STX
        if (op_mode(ins.opcode) == op::ATOMIC) {
            return atomic_op(op_size(ins.opcode) == op::DW, ins.imm);
        }
        switch (op_size(ins.opcode)) {
        case op::B: return Op::STX_B;
        case op::H: return Op::STX_H;
        case op::W: return Op::STX_W;
        default: return Op::STX_DW;
        }
    }
}

void thread_code(std::vector<Slot>& slots, const std::vector<Op>& ops, const void* const* labels) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
        const auto op = static_cast<std::size_t>(ops[i]);
        slots[i].handler = labels != nullptr ? reinterpret_cast<std::uintptr_t>(labels[op]) : op;
    }
}

} // namespace
} // namespace detail

Result<Interpreter> Interpreter::create(std::span<const isa::Instruction> program, HelperTable helpers,
                                        const InterpreterOptions& options) {
    using detail::Op;
    if (auto valid = isa::validate(program); !valid) {
        return std::move(valid).error();
    }
    for (const std::uint32_t pc : options.probe_loads) {
        if (pc >= program.size()) {
            return Error::invalid("probe load at instruction " + std::to_string(pc) + ", past the program's " +
                                  std::to_string(program.size()) + " instructions");
        }
    }
    auto code = std::make_shared<detail::InterpreterCode>();
    code->program.assign(program.begin(), program.end());
    // One sentinel slot past the end, so that no path can run off the code.
    std::vector<Op> ops(program.size() + 1, Op::FELL_OFF);
    std::vector<detail::Slot> slots(program.size() + 1, detail::Slot{});
    std::vector<bool> probe(program.size(), false); // InterpreterOptions::probe_loads, by pc
    for (const std::uint32_t pc : options.probe_loads) {
        if (pc < probe.size()) {
            probe[pc] = true;
        }
    }
    for (std::size_t pc = 0; pc < program.size(); ++pc) {
        const isa::Instruction& ins = program[pc];
        detail::Slot& slot = slots[pc];
        slot.dst = ins.dst;
        slot.src = ins.src;
        slot.off = ins.offset;
        slot.imm = ins.imm;
        if (isa::is_lddw(ins)) {
            slots[pc + 1].imm = program[pc + 1].imm;
            if (ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
                // A callback's address: its instruction index, which the callback helpers run from.
                slot.imm = static_cast<std::int32_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm);
                slots[pc + 1].imm = 0;
            }
        }
        auto op = detail::select_op(program, pc, helpers);
        if (!op) {
            return std::move(op).error();
        }
        if (isa::is_legacy_packet_load(ins) && !options.packet) {
            return Error::invalid("instruction " + std::to_string(pc) +
                                      ": a legacy packet load (LD_ABS/LD_IND) needs a program type with a data range",
                                  pc);
        }
        ops[pc] = *op;
        if (probe[pc]) {
            if (isa::op_class(ins.opcode) != isa::op::LDX) {
                return Error::invalid("instruction " + std::to_string(pc) + ": a probe load must be a load (LDX)", pc);
            }
            ops[pc] = Op::LDX_PROBE;
            slot.imm = static_cast<std::int32_t>(isa::size_bytes(isa::op_size(ins.opcode))) |
                       (isa::op_mode(ins.opcode) == isa::op::MEMSX ? 0x100 : 0);
        }
        if (isa::is_lddw(ins)) {
            ++pc; // the second slot keeps FELL_OFF: nothing jumps there
        }
    }
    code->helpers.assign(helpers.functions().begin(), helpers.functions().end());
    code->env.helpers = code->helpers.data();
    code->helper_arguments.assign(helpers.arguments().begin(), helpers.arguments().end());
    code->env.helper_arguments = code->helper_arguments.data();
    code->env.helper_count = code->helpers.size();
    code->env.has_unwind = helpers.unwind().has_value();
    code->env.unwind_id = helpers.unwind().value_or(0);
    code->env.next_element = helpers.next_element();
    code->env.slot_count = program.size();
    if (options.packet) {
        if (options.packet->pointer_width != 4 && options.packet->pointer_width != 8) {
            return Error::invalid("packet layout: pointer width " + std::to_string(options.packet->pointer_width) +
                                  " is neither 4 nor 8");
        }
        code->env.packet_data = options.packet->data;
        code->env.packet_data_end = options.packet->data_end;
        code->env.packet_pointer_width = options.packet->pointer_width;
    }
    code->budget = options.instruction_budget;
    if (code->budget != 0) {
        if (auto layout = detail::check_metered_layout(program); !layout) {
            return std::move(layout).error();
        }
        code->function_lengths = detail::function_lengths(program);
        code->env.function_lengths = code->function_lengths.data();
        code->metered = slots;
    }
    code->fast = slots;
    code->checked = std::move(slots);
#ifdef EMBPF_HAVE_COMPUTED_GOTO
    code->threaded = !options.portable_dispatch;
#else
    (void)options;
#endif
    const void* const* fast_labels = nullptr;
    const void* const* checked_labels = nullptr;
    const void* const* metered_labels = nullptr;
#ifdef EMBPF_HAVE_COMPUTED_GOTO
    if (code->threaded) {
        detail::execute_threaded<false>(nullptr, code->env, 0, 0, nullptr, &fast_labels);
        detail::execute_threaded<true>(nullptr, code->env, 0, 0, nullptr, &checked_labels);
        if (code->budget != 0) {
            detail::execute_threaded<false, true>(nullptr, code->env, 0, 0, nullptr, &metered_labels);
        }
    }
#endif
    detail::thread_code(code->fast, ops, fast_labels);
    detail::thread_code(code->checked, ops, checked_labels);
    detail::thread_code(code->metered, ops, metered_labels);
    return Interpreter(std::move(code));
}

std::uint64_t Interpreter::run(void* ctx, std::size_t ctx_size) const noexcept {
    if (m_code->budget != 0) {
        return run_metered(ctx, ctx_size).r0;
    }
    detail::RunState state;
    const auto r1 = reinterpret_cast<std::uintptr_t>(ctx);
#ifdef EMBPF_HAVE_COMPUTED_GOTO
    if (m_code->threaded) {
        return detail::execute_threaded<false>(m_code->fast.data(), m_code->env, r1, ctx_size, &state, nullptr);
    }
#endif
    return detail::execute_switch<false>(m_code->fast.data(), m_code->env, r1, ctx_size, &state, nullptr);
}

RunOutcome Interpreter::run_metered(void* ctx, std::size_t ctx_size) const noexcept {
    if (m_code->budget == 0) {
        return {run(ctx, ctx_size), false};
    }
    detail::RunState state;
    state.budget = m_code->budget;
    const auto r1 = reinterpret_cast<std::uintptr_t>(ctx);
    std::uint64_t r0 = 0;
#ifdef EMBPF_HAVE_COMPUTED_GOTO
    if (m_code->threaded) {
        r0 = detail::execute_threaded<false, true>(m_code->metered.data(), m_code->env, r1, ctx_size, &state, nullptr);
    } else
#endif
    {
        r0 = detail::execute_switch<false, true>(m_code->metered.data(), m_code->env, r1, ctx_size, &state, nullptr);
    }
    return {r0, state.fault == detail::Fault::budget};
}

std::uint64_t Interpreter::instruction_budget() const noexcept { return m_code->budget; }

namespace {

std::string hex(std::uint64_t value) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    do {
        text.insert(text.begin(), digits[value & 0xf]);
        value >>= 4;
    } while (value != 0);
    return "0x" + text;
}

std::string signed_offset(std::int64_t delta) {
    return (delta < 0 ? " - " : " + ") + std::to_string(delta < 0 ? -delta : delta);
}

// Where an address lies relative to the memory a checked run knows, for the error message.
std::string describe_address(const detail::RunState& state, std::uint64_t address) {
    std::string text = hex(address);
    const std::uint64_t stack_size = (isa::kMaxCallDepth + 1) * isa::kStackSize;
    if (state.stack_base != 0 && address - state.stack_base < stack_size) {
        return text + " (r10 - " + std::to_string(state.stack_base + stack_size - address) + " of the first frame)";
    }
    if (state.ctx != 0 && address - state.ctx + 4096 < state.ctx_size + 8192) {
        text += " (ctx" + signed_offset(static_cast<std::int64_t>(address - state.ctx)) + ", ctx is " +
                std::to_string(state.ctx_size) + " bytes)";
    }
    return text;
}

} // namespace

Result<CheckedOutcome> Interpreter::run_checked(void* ctx, std::size_t ctx_size, const CheckedOptions& options) const {
    detail::RunState state;
    state.options = &options;
    state.shadow = options.check_initialization;
    if (state.shadow) {
        state.stack_written.assign((isa::kMaxCallDepth + 1) * isa::kStackSize, 0);
    }
    state.ctx = reinterpret_cast<std::uintptr_t>(ctx);
    state.ctx_size = ctx == nullptr ? 0 : ctx_size;
    if (options.instruction_budget != 0) {
        state.budget = options.instruction_budget;
    }
    const auto r1 = reinterpret_cast<std::uintptr_t>(ctx);
    std::uint64_t r0 = 0;
#ifdef EMBPF_HAVE_COMPUTED_GOTO
    if (m_code->threaded) {
        r0 = detail::execute_threaded<true>(m_code->checked.data(), m_code->env, r1, ctx_size, &state, nullptr);
    } else
#endif
    {
        r0 = detail::execute_switch<true>(m_code->checked.data(), m_code->env, r1, ctx_size, &state, nullptr);
    }
    const std::string where = "pc " + std::to_string(state.fault_pc) + ": ";
    switch (state.fault) {
    case detail::Fault::none: return CheckedOutcome{r0, state.executed};
    case detail::Fault::out_of_bounds:
        if (state.read_only) {
            return Error::runtime(where + "write of " + std::to_string(state.fault_size) +
                                      " bytes to read-only memory at " + describe_address(state, state.fault_address),
                                  state.fault_pc);
        }
        return Error::runtime(where + "out-of-bounds " + (state.fault_write ? "write" : "read") + " of " +
                                  std::to_string(state.fault_size) + " bytes at " +
                                  describe_address(state, state.fault_address),
                              state.fault_pc);
    case detail::Fault::misaligned_atomic:
        return Error::runtime(where + "misaligned atomic access of " + std::to_string(state.fault_size) + " bytes at " +
                                  describe_address(state, state.fault_address),
                              state.fault_pc);
    case detail::Fault::budget:
        return Error::runtime(where + "instruction budget of " + std::to_string(options.instruction_budget) +
                                  " exhausted",
                              state.fault_pc);
    case detail::Fault::call_depth:
        return Error::runtime(where + "call depth exceeds " + std::to_string(isa::kMaxCallDepth) + " nested calls",
                              state.fault_pc);
    case detail::Fault::unknown_helper:
        return Error::runtime(where + "callx to unknown helper " + std::to_string(state.fault_address), state.fault_pc);
    case detail::Fault::uninitialized:
        return Error::runtime(where + "read of " + std::to_string(state.fault_size) + " bytes at " +
                                  describe_address(state, state.fault_address) + " that nothing wrote (uninitialized)",
                              state.fault_pc);
    case detail::Fault::helper_uninitialized:
        return Error::runtime(where + "helper " + std::to_string(state.fault_helper) + " reads " +
                                  std::to_string(state.fault_size) + " bytes at " +
                                  describe_address(state, state.fault_address) + " that nothing wrote (uninitialized)",
                              state.fault_pc);
    case detail::Fault::helper_argument: {
        const platform::HelperPrototype* prototype = detail::prototype_of(options, state.fault_helper);
        return Error::runtime(where + "helper " + std::to_string(state.fault_helper) +
                                  (prototype != nullptr ? " (" + prototype->name + ")" : std::string()) + " argument " +
                                  std::to_string(state.fault_argument) + " (" +
                                  describe_address(state, state.fault_address) + ") must be " + state.fault_expected,
                              state.fault_pc);
    }
    case detail::Fault::lock_protocol: {
        const platform::HelperPrototype* prototype = detail::prototype_of(options, state.fault_helper);
        return Error::runtime(where + "helper " + std::to_string(state.fault_helper) +
                                  (prototype != nullptr ? " (" + prototype->name + ")" : std::string()) +
                                  " called while the program holds a bpf_spin_lock: nothing but bpf_spin_unlock may "
                                  "be called then",
                              state.fault_pc);
    }
    case detail::Fault::fell_off:
        return Error::runtime(where + "execution ran past the end of the program", state.fault_pc);
    case detail::Fault::absent_function:
        return Error::runtime(where + "call to a weak kernel function the platform does not provide", state.fault_pc);
    }
    return Error::internal("unknown fault");
}

std::span<const isa::Instruction> Interpreter::program() const noexcept { return m_code->program; }

std::optional<PacketLayout> packet_layout(const platform::ProgramType& type) noexcept {
    const platform::ContextDescriptor& ctx = type.context;
    if (ctx.data < 0 || ctx.data_end < 0) {
        return std::nullopt;
    }
    // The host's pointers, 8 bytes wide also where the program's struct has 32-bit fields for them.
    return PacketLayout{static_cast<std::uint32_t>(ctx.host_offset(ctx.data)),
                        static_cast<std::uint32_t>(ctx.host_offset(ctx.data_end)), 8};
}

} // namespace embpf::exec
