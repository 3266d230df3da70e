// What each instruction does to an abstract state, and what it must be proven to respect. Knows the program type,
// the helper prototypes and the maps; knows nothing of the graph the states flow through.
#pragma once

#include "state.hpp"

#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace embpf::verifier::detail {

struct Finding {
    std::size_t pc = 0;
    std::string message;
    std::string assertion;
    bool warning = false; ///< true for what the program may do and the hook tolerates; false for an error
};

/// A pseudo `lddw` resolved: which map, and whether it loads the map or a pointer into its value.
struct MapLoad {
    std::size_t map = 0;
    bool value = false;
    std::uint32_t offset = 0;
};

/// The offsets a pointer may carry. Objects a program can point to lie at or above 64 KiB (the host's context and
/// packet: checked at every entry; maps, frames and records: allocated by the runtime) and below 2^47, so within
/// these offsets an address neither wraps nor becomes 0, and pointers into one object compare as their offsets do.
inline constexpr Bound kMinPointerOffset = -(Bound{1} << 15);
inline constexpr Bound kMaxPointerOffset = Bound{1} << 29;

class Semantics {
  public:
    Semantics(std::span<const isa::Instruction> code, const platform::Platform& platform,
              const platform::ProgramType& type, std::span<const MapDescriptor> maps,
              std::vector<std::optional<MapLoad>> loads, std::vector<std::optional<bool>> externs = {});

    /// Findings go here while set; the fixpoint runs without, the final pass with.
    void set_sink(std::vector<Finding>* sink) noexcept { m_sink = sink; }
    /// While set, each helper call adds to it what it costs beyond one instruction (platform::helper_call_cost).
    void set_cost_sink(std::uint64_t* sink) noexcept { m_cost = sink; }

    [[nodiscard]] State initial() const;
    /// For each map, the least index of a map the semantics cannot tell from it: the same kind, key and value sizes,
    /// per-CPU slots, rights, constant value and inner template (alike itself). Only the number of entries may differ,
    /// which counts in the far-memory judgement of all maps together, never per map.
    [[nodiscard]] AlikeMaps alike_maps() const noexcept { return m_alike; }
    /// Some reachable instruction loads the context's data_meta field (Report::reads_packet_meta).
    [[nodiscard]] bool reads_packet_meta() const noexcept { return m_reads_meta; }
    /// The loads that read through a host address (Report::probe_loads), found by the final pass, in order.
    [[nodiscard]] std::vector<std::uint32_t> probe_loads() const {
        return {m_probe_loads.begin(), m_probe_loads.end()};
    }
    /// By pc, what the final pass saw each load of a context with 32-bit packet pointer fields do: the offset that
    /// reads a field's host pointer (Report::context_loads), or kPlainLoad (some run loads something else there), or
    /// kMixedLoads (runs need different offsets, or one reads a field and another something else).
    static constexpr std::int32_t kPlainLoad = std::numeric_limits<std::int32_t>::min();
    static constexpr std::int32_t kMixedLoads = std::numeric_limits<std::int32_t>::max();
    [[nodiscard]] const std::map<std::uint32_t, std::int32_t>& context_loads() const noexcept {
        return m_context_loads;
    }
    /// Any instruction that is not a jump, an exit or a local call.
    void step(State& state, std::size_t pc) const;
    /// A conditional jump, taken or not; the state becomes bottom when that cannot happen.
    void assume(State& state, std::size_t pc, bool taken) const;
    /// A local call's new frame, and the return from one (at the callee's exit `pc`).
    void enter_call(State& state, std::size_t pc) const;
    void leave_call(State& state, std::size_t pc) const;
    /// The callbacks of helper calls (bpf_loop, for_each_map_elem) as the graph found them: call pc -> the
    /// subprogram's first instruction. The call is checked to pass that subprogram.
    void set_callbacks(std::map<std::size_t, std::size_t> callbacks) { m_callbacks = std::move(callbacks); }
    /// A helper call runs its callback once more (the index below `counter`'s limit, when the call is a loop's head):
    /// a new frame with the callback's arguments, the caller's r1-r9 kept. Bottom when the call would not call back.
    void enter_callback(State& state, std::size_t pc, std::optional<Var> counter) const;
    /// The callback returns (at its exit `pc`) to the helper call, which has its arguments again.
    void leave_callback(State& state, std::size_t pc) const;
    /// The program's exit.
    void check_exit(State& state, std::size_t pc) const;
    /// At an exit (of the program or a callback): no bpf_spin_lock is held.
    void check_unlocked(State& state, std::size_t pc) const;
    /// Every ring-buffer record the program reserved has been submitted or discarded.
    void check_released(State& state, std::size_t pc) const;

  private:
    void report(std::size_t pc, std::string message, std::string assertion = {}) const;
    void warn(std::size_t pc, std::string message) const;
    bool usable(State& s, std::size_t pc, int r) const;
    void set_packet_bounds(State& s) const;
    void alu(State& s, std::size_t pc, const isa::Instruction& ins) const;
    void load(State& s, std::size_t pc, const isa::Instruction& ins) const;
    void store(State& s, std::size_t pc, const isa::Instruction& ins) const;
    void atomic(State& s, std::size_t pc, const isa::Instruction& ins) const;
    void lddw(State& s, std::size_t pc) const;
    void packet_load(State& s, std::size_t pc, const isa::Instruction& ins) const;
    void call(State& s, std::size_t pc, const isa::Instruction& ins) const;

    struct Width {
        Bound bytes = 0; ///< a constant width, or
        int reg = -1;    ///< the register holding it
    };
    /// Proves [r.offset + k, + width) inside r's region; assumes it afterwards. False when r is no pointer to memory.
    bool check_bounds(State& s, std::size_t pc, int r, Bound k, Width width, const std::string& assertion) const;
    /// The bytes of the string at stack pointer rN, its NUL included, when the analysis knows where it ends: every
    /// byte before the NUL written, the NUL a known byte of a constant spilled there.
    [[nodiscard]] std::optional<Bound> known_string(const State& s, int r) const;
    /// Memory a helper reads or writes (`write`), or an instruction's access. A write initializes the first
    /// `written` bytes of the stack it covers (at most the width) and leaves the rest as unknown as before.
    /// `pointers`: a read whose bytes go to the host's sink only (HelperPrototype::sinks_data) may cover spilled
    /// pointers.
    bool check_memory(State& s, std::size_t pc, int r, Bound k, Width width, bool write, bool helper,
                      Bound written = kInf, bool pointers = false) const;
    /// The bytes a helper's write contract proves written into its memory argument `arg` of `size` bytes.
    [[nodiscard]] Bound proven_written(const State& s, const platform::HelperPrototype& helper, std::size_t arg,
                                       Interval size) const;
    void stack_write(State& s, std::int32_t lo, std::int32_t hi, bool exact) const;
    /// A new frame: registers `first`..r9 kept in it and uninitialized, r0 too; the frame's stack unwritten.
    void push_frame(State& s, int first) const;
    /// The frame ends: pointers into it are stale, the kept registers come back (those not kept: uninitialized).
    void pop_frame(State& s) const;
    [[nodiscard]] std::optional<std::size_t> callback_target(std::size_t pc) const;
    /// Pointers of `kind` become stale; with an object, only those that may point into it.
    void invalidate(State& s, Kind kind, Stale why, std::uint32_t object = kSomeObject) const;
    /// A helper at pc hands out an object: pointers to what it handed out before now point to some object.
    void new_object(State& s, std::size_t pc) const;
    /// A null check of register r, and of every copy of the same lookup's result.
    void null_checked(State& s, int r, bool is_null) const;
    /// Pointer arithmetic must leave the offset within [kMinPointerOffset, kMaxPointerOffset].
    void check_offset(State& s, std::size_t pc, int r) const;
    [[nodiscard]] bool extension_pair(std::size_t shift, const Interval& value) const;
    void set_number(State& s, int r, Interval range) const;
    /// rDST := the low 32 bits of rSRC's value (a number): `wDST = wSRC`, or `rDST <<= 32; rDST >>= 32`.
    void zero_extend(State& s, int dst, int src) const;
    /// `rX <<= 32; rX >>= 32` at shift and shift + 1, which nothing jumps between.
    [[nodiscard]] bool zero_extension_pair(std::size_t shift) const;
    void refine(State& s, Var a, Var b, std::uint8_t code, bool taken, bool is32, bool pointers) const;
    [[nodiscard]] std::string access(int r, Bound k, Width width) const;
    [[nodiscard]] std::int32_t frame_base(const State& s) const noexcept {
        return -kFrameSize * static_cast<std::int32_t>(s.frame());
    }

    /// A memory region of the context (platform::FieldKind::memory): region r is Kind::packet with aux r + 1.
    struct Region {
        Bound offset = 0;      ///< of its pointer field
        Bound size_field = -1; ///< offset of its size field, or -1 for a constant size
        Bound size_width = 0;  ///< that field's width
        Bound most = 0;        ///< its size (constant) or the most its size field may say
        bool writable = false;
        Var size_var = 0; ///< the zone's variable for its size, shared by regions of one size field
        std::string name;
    };

    std::span<const isa::Instruction> m_code;
    const platform::Platform& m_platform;
    const platform::ProgramType& m_type;
    std::vector<Region> m_regions;
    std::span<const MapDescriptor> m_maps;
    std::vector<std::uint32_t> m_alike;
    mutable bool m_reads_meta = false;
    mutable std::set<std::uint32_t> m_probe_loads;
    mutable std::map<std::uint32_t, std::int32_t> m_context_loads;
    mutable bool m_translated_load = false; // the load step() runs reads a 32-bit packet pointer field
    /// Records what a load at pc does in the final pass (context_loads), when the context's fields need it.
    void note_load(std::size_t pc, std::int32_t offset) const;
    std::vector<std::optional<MapLoad>> m_loads;
    /// By pc: a `lddw` of an extern the host gives at load, true when it is a host address (a `__ksym`).
    std::vector<std::optional<bool>> m_externs;
    std::vector<Finding>* m_sink = nullptr;
    std::uint64_t* m_cost = nullptr;
    bool m_far = false;          // the maps the program can reach take platform::kFarMemoryBytes or more
    std::vector<bool> m_targets; // instructions some jump lands on
    std::map<std::size_t, std::size_t> m_callbacks; // helper call -> its callback's first instruction
};

} // namespace embpf::verifier::detail
