// The interpreter: runs a pre-decoded program, fast for verified programs or checked for others.
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::exec {

/// One element of a map for for_each_map_elem: its value's address (nullptr when there is no element) and its key
/// size.
struct MapElement {
    void* value = nullptr;
    std::uint32_t key_size = 0;
};

/// The element of the map at `map` (its address as a program holds it) after the one whose key is `previous_key`
/// (nullptr: the first), its key copied to `key_out` (room for platform::kMaxCallbackKey bytes). `calls` is
/// how many elements the walk visited: at the map's max_entries it ends (nullptr), as the verifier's bound assumes.
using NextMapElement = MapElement (*)(std::uint64_t map, std::uint64_t calls, const void* previous_key, void* key_out);

/// Helper functions by id, as a program's `call imm` names them.
class HelperTable {
  public:
    /// Registers (or replaces) helper `id`. A function given `arguments` < 5 (a host's function, which its
    /// prototype declares with that many) receives 0 for the registers past them: whatever the program left there
    /// (a pointer the verifier does not check, since no argument names it) never reaches it.
    void set(std::uint32_t id, HelperFunction function, std::uint8_t arguments = 5);
    /// When helper `id` returns 0 the program stops at once with r0 = 0 (the conformance suite's
    /// "unwind" helper).
    void set_unwind(std::uint32_t id) { m_unwind = id; }
    /// Helper `id` runs a callback (platform::Callback): the interpreter runs it itself, in frames of the run, and
    /// the function registered for the id serves only calls it cannot intercept. for_each_map_elem walks a map with
    /// `next` (required for it).
    void set_callback(std::uint32_t id, platform::Callback kind, NextMapElement next = nullptr) {
        m_callbacks.push_back({id, kind});
        if (next != nullptr) {
            m_next_element = next;
        }
    }
    [[nodiscard]] platform::Callback callback(std::uint32_t id) const noexcept {
        for (const auto& [callback_id, kind] : m_callbacks) {
            if (callback_id == id) {
                return kind;
            }
        }
        return platform::Callback::none;
    }
    [[nodiscard]] NextMapElement next_element() const noexcept { return m_next_element; }

    [[nodiscard]] HelperFunction get(std::uint32_t id) const noexcept {
        return id < m_functions.size() ? m_functions[id] : nullptr;
    }
    [[nodiscard]] std::optional<std::uint32_t> unwind() const noexcept { return m_unwind; }
    [[nodiscard]] std::span<const HelperFunction> functions() const noexcept { return m_functions; }
    /// The registers each id's function receives (set's `arguments`), by id.
    [[nodiscard]] std::span<const std::uint8_t> arguments() const noexcept { return m_arguments; }

  private:
    std::vector<HelperFunction> m_functions;
    std::vector<std::uint8_t> m_arguments;
    std::optional<std::uint32_t> m_unwind;
    std::vector<std::pair<std::uint32_t, platform::Callback>> m_callbacks;
    NextMapElement m_next_element = nullptr;
};

/// Memory a checked run may touch besides the stack and the context.
struct MemoryRegion {
    const void* start = nullptr;
    std::size_t size = 0;
    bool writable = false;
    /// False for memory that holds nothing yet (a ring-buffer record): with the initialization shadow on, its bytes
    /// are readable only once written, as stack bytes are.
    bool initialized = true;
    /// A map value's `struct bpf_spin_lock`, at this offset: its 4 bytes are bpf_spin_lock's and bpf_spin_unlock's
    /// (whose argument must be exactly them); a checked run neither writes them nor lets a helper write them.
    std::optional<std::uint32_t> spin_lock{};
};

/// The key and value sizes of the map at an address, for the initialization shadow's view of map helpers, and its
/// kind, for the checks of helper arguments.
struct MapShape {
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::optional<platform::MapKind> kind{};
    std::uint32_t slots = 1;                  ///< per-CPU maps: the slots each value has, for what an update costs
    std::optional<std::uint32_t> spin_lock{}; ///< where its values hold their bpf_spin_lock (MemoryRegion::spin_lock)
};

/// Memory a helper's result gives the program (a map value, a ring-buffer record), if any: called by checked runs
/// after each helper call with the helper id, r1-r5 and r0.
using HelperResultRegion =
    std::function<std::optional<MemoryRegion>(std::uint32_t helper, const std::uint64_t* args, std::uint64_t r0)>;

struct CheckedOptions {
    std::vector<MemoryRegion> regions{}; ///< extra memory the program may access
    bool context_writable = true;        ///< whether [ctx, ctx + ctx_size) may be written
    /// Stop before executing more than this many instructions, each helper call counted as
    /// platform::helper_call_cost of the memory its arguments cover (when `platform` and `program_type` give its
    /// prototype; else as one); 0 = no limit.
    std::uint64_t instruction_budget = 0;
    /// Regions helpers hand out during the run become accessible for the rest of it.
    HelperResultRegion helper_result_region{};

    /// The initialization shadow: a byte of the stack (or of a region that is not `initialized`) may be read, by the
    /// program or by a helper it hands the memory to, only after it was written. A read of an unwritten byte stops
    /// the run with an error: the verifier promises that no verified program does it. Off by default, because
    /// run_checked also runs unverified programs, whose zeroed stack is defined, and because without the helpers'
    /// contracts (below) every buffer a helper fills would read as unwritten.
    bool check_initialization = false;
    /// The helpers' contracts, looked up as the verifier does (`platform->helper(*program_type, id)`): a call marks
    /// its writable argument written by the prototype's `writes` (Writes::some marks nothing) and must not hand a
    /// helper unwritten bytes to read. A helper without a prototype reads and writes nothing as far as the shadow
    /// knows.
    const platform::Platform* platform = nullptr;
    const platform::ProgramType* program_type = nullptr;
    /// The key and value sizes of the map at an address (for map key and value arguments), if it is a map.
    std::function<std::optional<MapShape>(std::uint64_t map)> map_shape{};
    /// A map a helper's result names (an inner map from a lookup in a map of maps): a map argument for the rest of
    /// the run.
    std::function<std::optional<MapShape>(std::uint32_t helper, const std::uint64_t* args, std::uint64_t r0)>
        helper_result_map{};
    /// With `platform` and `program_type`, every helper call's arguments are checked against the helper's prototype
    /// before it runs: memory arguments must be memory the run may read (or write) for their whole size, the context
    /// argument the context, map arguments maps `map_shape` or `helper_result_map` knows, of a kind the helper
    /// takes (platform::accepts_map), records to submit or discard records this run reserved and still holds, and
    /// strings must end inside readable memory. A refused argument stops the run with an error, as a refused load
    /// does. Callbacks are refused. Without a prototype (no platform, or a helper it does not declare) nothing is
    /// checked.
    bool check_helper_arguments = true;
    /// Byte ranges [offset, offset + size) of the context that the program may read but not write (the data range's
    /// pointer fields, which the entry checks vouched for).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> context_read_only{};
    /// 32-bit context fields (offset in the context, offset of the host's 8-byte pointer): a 4-byte load of such a
    /// field loads that pointer instead (platform::ContextDescriptor::pointer_width 4), as the loader's rewrite of a
    /// verified program's loads does.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> context_translations{};
    /// Called before each instruction the run executes, with its index and r0..r10 (for tests that compare runs with
    /// what the verifier proved, verifier::Report::facts). Off when empty.
    std::function<void(std::uint32_t pc, const std::uint64_t* registers)> trace{};
};

/// What a checked run did.
struct CheckedOutcome {
    std::uint64_t r0 = 0;
    /// Instructions executed, each helper call counted as platform::helper_call_cost when CheckedOptions gives its
    /// prototype (as one otherwise).
    std::uint64_t instructions = 0;
};

/// Where a program type's context holds its data range, for the legacy packet loads (LD_ABS, LD_IND), which read
/// the packet of the context in r6.
struct PacketLayout {
    std::uint32_t data = 0;         ///< offset of the data pointer field in the context
    std::uint32_t data_end = 0;     ///< offset of the data_end pointer field
    std::uint8_t pointer_width = 8; ///< 8, or 4 for Linux's 32-bit fields (zero-extended)
};

struct InterpreterOptions {
    /// Dispatch with a portable switch instead of threaded code (computed goto); for testing the
    /// fallback that builds without GCC or Clang extensions use.
    bool portable_dispatch = false;
    /// The data range's fields. A program with LD_ABS/LD_IND needs it; such a load of bytes outside the range (or at
    /// a negative offset) ends the program with r0 = 0, as Linux does.
    std::optional<PacketLayout> packet{};
    /// The loads (LDX instruction indices) that read through a host address: verifier::Report::probe_loads. Each
    /// reads as probe_read does, without faulting: an address the process cannot read loads 0. Checked runs do not
    /// confine them to the run's regions either: they read the host by design.
    std::vector<std::uint32_t> probe_loads{};
    /// Metering (engine.hpp): the budget every run() gets, charged at back-edges, local calls and callback
    /// invocations; a run that exhausts it stops with 0 (run_metered() tells). 0, the default: no metering, and the
    /// unmetered loop runs. run_checked() ignores it: CheckedOptions::instruction_budget counts every instruction.
    std::uint64_t instruction_budget = 0;
};

/// The PacketLayout of `type`'s context (where the host's context holds its pointers: ContextDescriptor::host_offset),
/// or nullopt when it has no data range.
[[nodiscard]] std::optional<PacketLayout> packet_layout(const platform::ProgramType& type) noexcept;

namespace detail {
struct InterpreterCode;
}

/// A program pre-decoded for interpretation. Copies share the decoded code; running is const and
/// thread-safe.
class Interpreter final : public Executable {
  public:
    /// Validates and pre-decodes `program`. Every `call imm` must name a helper in `helpers`, and
    /// every `lddw` must be a plain constant (the loader resolves map references before this).
    [[nodiscard]] static Result<Interpreter> create(std::span<const isa::Instruction> program, HelperTable helpers = {},
                                                    const InterpreterOptions& options = {});

    /// Runs a verified program: no memory checks, only the metering budget if one was given. A verified program always
    /// ends with `exit`; should a guard fire anyway (call depth, unknown `callx` target), the result is 0.
    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    /// run(), and whether InterpreterOptions::instruction_budget stopped it.
    [[nodiscard]] RunOutcome run_metered(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    [[nodiscard]] std::uint64_t instruction_budget() const noexcept override;

    /// Runs any valid program with every load, store and atomic checked against the stack frames
    /// in use, the context and `options.regions`, and with an optional instruction budget. The
    /// first violation stops the run with an error naming the pc, the address and the size. With
    /// `options.check_initialization`, reads of memory nothing wrote are violations too.
    [[nodiscard]] Result<CheckedOutcome> run_checked(void* ctx, std::size_t ctx_size,
                                                     const CheckedOptions& options = {}) const;

    [[nodiscard]] EngineKind kind() const noexcept override { return EngineKind::interpreter; }
    [[nodiscard]] std::span<const isa::Instruction> program() const noexcept;

  private:
    explicit Interpreter(std::shared_ptr<const detail::InterpreterCode> code) : m_code(std::move(code)) {}
    std::shared_ptr<const detail::InterpreterCode> m_code;
};

} // namespace embpf::exec
