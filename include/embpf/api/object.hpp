// Object, Program and MapHandle: a loaded eBPF object and RAII handles to its parts.
#pragma once

#include "embpf/api/object_spec.hpp"
#include "embpf/exec/aot_abi.h"
#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/result.hpp"
#include "embpf/verifier/verifier.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace embpf {

class Program;
class Registry;

namespace runtime {
class Map;
} // namespace runtime

namespace detail {
struct ProgramState;
struct ObjectState;
} // namespace detail

// The typed facades over MapHandle, defined in api/map.hpp and api/ring_buffer.hpp.
template <typename K, typename V>
class Map;
template <typename T>
class RingBuffer;

#ifndef EMBPF_DEFAULT_ENGINE
#define EMBPF_DEFAULT_ENGINE interpreter
#endif

struct AotGenerateOptions;
struct AotGenerated;
/// Defined in api/aot.hpp.
[[nodiscard]] Result<AotGenerated> generate_aot(const ObjectSpec& spec, const platform::Platform& platform,
                                                const AotGenerateOptions& options);

struct LoadOptions {
    /// Load without verification and run programs only in the checked interpreter, where every memory access is
    /// checked at run time. For conformance testing and debugging: nothing loaded this way is called safe.
    bool unverified = false;
    /// How much the report in a verification error (and Program::verification()) says.
    verifier::Level verifier_level = verifier::Level::normal;
    /// The engine that runs verified programs: the interpreter, the baseline JIT's machine code, the optimizing
    /// JIT's (LLVM; it compiles for milliseconds, in the loading thread), or `automatic`: the baseline JIT at once,
    /// then the optimizing JIT's code, compiled in the background once the program has run `promote_after` times
    /// (Program::promotion()). A program the engine cannot run (a machine the JIT does not translate for, a build
    /// without LLVM, a program the optimizing JIT refuses) runs in the tier below (optimized, then jit, then
    /// interpreter), with the reason in Program::engine_fallback(): the load never fails for it, nor does a run for a
    /// promotion that failed. Unverified programs run in the checked interpreter. The interpreter unless the library
    /// was built with another default (CMake's EMBPF_DEFAULT_ENGINE).
    ///
    /// `aot` runs code compiled ahead of time (`embpf aot`), from aot_module or aot_library below, for hosts that may
    /// not generate code at run time: the load verifies each program as always and binds it to its compiled code only
    /// when that code is exactly what the load's program generates (exec::AotProgram::create: the same instructions,
    /// helpers and verified facts), so that code built from another object, another version of it, another platform
    /// or other `.rodata` values is refused with the load, never run. A program the module lacks fails the load.
    /// Compiled code is not metered: `aot` with instruction_budget is refused.
    exec::EngineKind engine = exec::EngineKind::EMBPF_DEFAULT_ENGINE;
    /// With engine = aot: the object's programs compiled into the host (the embpf_aot_module of the C file `embpf aot`
    /// wrote, or that embpf_add_plugin(... AOT) built). It must live as long as the object's programs.
    const embpf_aot_module* aot_module = nullptr;
    /// With engine = aot: a shared object `embpf aot --shared` built, opened with dlopen (and kept open while a
    /// program of the object lives) instead of aot_module.
    std::filesystem::path aot_library{};
    /// With `automatic`: the unchecked runs of a program (Program::run, hooks, tail calls into it; not run_checked)
    /// after which the optimizing JIT compiles it, in the process's one background thread, one program at a time,
    /// and its code replaces the baseline's atomically, under running invocations. 1,000 by default, so that the
    /// compilation (tens of milliseconds) is spent on the programs that run often. 0: every program of the object is
    /// compiled right after the load, in the background. A process that exits while a program compiles waits for
    /// that compilation; those still queued are dropped.
    std::uint64_t promote_after = 1000;
    /// The most bytes all maps of the object may allocate together, at load and while programs run (a hash map that
    /// would grow past it refuses the update with -ENOMEM). 1 GiB unless the host says otherwise, so that an object
    /// cannot make its host allocate what the object's definitions ask for; 0 for no limit.
    std::size_t memory_limit = std::size_t{1} << 30;
    /// The most instructions one run of a program may cost, as the verifier bounds it (Report::cost_bound: calls into
    /// subprograms counted, each helper call as one instruction plus one per 8 bytes of the memory it covers
    /// (platform::helper_call_cost), tail-called programs not): a verified program whose bound is larger is refused,
    /// so that no program can keep the host's thread for long. A program that tail-calls may cost a 33rd of it
    /// (runtime::kMaxTailCalls), so that a whole chain costs at most twice the limit. 2^30 (about a second in the
    /// interpreter) unless the host says otherwise; 0 for no limit.
    std::uint64_t max_instructions = std::uint64_t{1} << 30;
    /// Metering (exec/engine.hpp): the budget each unchecked run of a program gets in whichever engine runs it,
    /// charged at loop back-edges, local calls and callback invocations; a run that exhausts it stops with r0 = 0
    /// (for a hook, that program's verdict is 0) and is counted in Program::budget_exhausted(). For hosts that want a
    /// hard limit per run below the verifier's bound (max_instructions). Each program of a tail-call chain gets the
    /// budget afresh. Checked runs (Program::run_checked) ignore it: their own budget counts every instruction
    /// executed and each helper call's cost. 0, the default: no metering, and the engines run unmetered code.
    std::uint64_t instruction_budget = 0;
    /// The most instructions the verifier may analyse for all programs of the object together
    /// (Report::analysed_instructions): verifying takes time in proportion, about a second per 50,000 here. 2^19
    /// unless the host says otherwise (the costliest object of the ebpf-samples corpus needs 135,660); 0 for no limit.
    std::uint64_t max_analysed_instructions = std::uint64_t{1} << 19;
    /// The most work the verifier may do for all programs of the object together (Report::analysis_work,
    /// verifier::Options::work_limit, and work_per_program for each program): what bounds the time a load takes,
    /// some 3 s here at the limit. 2^31 unless the host says otherwise (the costliest object of the ebpf-samples
    /// corpus needs 1.96 billion); 0 for no limit.
    std::uint64_t max_analysis_work = std::uint64_t{1} << 31;
    /// What loading a program costs besides its analysis (setting up the verifier and the interpreter, checking
    /// its helpers), in units of analysis work: about 10 us, so that an object of many tiny programs is held to
    /// max_analysis_work too (131,072 programs at the default).
    static constexpr std::uint64_t work_per_program = std::uint64_t{1} << 14;
    /// And for each map of the object, what the verifier's look at it costs in every program (its kind among alike
    /// maps, its share of the memory the maps take): an object of tens of thousands of maps and as many programs is
    /// held to max_analysis_work too.
    static constexpr std::uint64_t work_per_map = 32;
    /// Execution slots of per-CPU maps; 0 for the number of hardware threads.
    std::uint32_t slots = 0;
    /// The types CO-RE relocations are resolved against (the host's context types, or a kernel's BTF for Linux
    /// programs under test). Without it programs keep the offsets they were compiled with.
    std::shared_ptr<const btf::Types> target_btf{};
    /// The values of the externs the object leaves to its host (elf::ExternReference: a `__ksym`'s address, a symbol
    /// an assembly `lddw` names), by name. The verifier proves a program safe for any value, so these are facts of
    /// the host's own; a program naming an extern without a value here does not load. (`.kconfig` externs come from
    /// the platform; `__weak` externs nothing defines are 0.)
    std::map<std::string, std::uint64_t, std::less<>> externs{};
    /// Maps of objects loaded before, by the name of the map of this object they stand for
    /// (MapHandle::runtime_map()): the new object's programs share them instead of new maps, so that what they hold
    /// (a counter, a ring buffer a host consumes) survives a reload, as libbpf's bpf_map__reuse_fd and cilium/ebpf's
    /// MapReplacements. Each must have the kind, key and value sizes, max_entries, flags, per-CPU slots, lock and
    /// inner-map shape the object's definition asks for (the load fails naming the difference); maps read-only to
    /// programs (`.rodata`, `.kconfig`), whose bytes the verifier takes as the object's constants, are never shared.
    std::map<std::string, std::shared_ptr<runtime::Map>, std::less<>> reuse_maps{};
};

/// What the programs of one object may spend on verification together, as Object::load counts it
/// (LoadOptions::max_analysis_work, with work_per_program and work_per_map for each program, and
/// LoadOptions::max_analysed_instructions); for tools that verify an object's programs without loading them too.
class AnalysisBudget {
  public:
    AnalysisBudget(const LoadOptions& options, std::size_t maps) noexcept
        : m_max_work(options.max_analysis_work), m_max_analysed(options.max_analysed_instructions), m_maps(maps) {}

    /// What the next program's analysis may do (verifier::Options::work_limit): what the object's budget leaves, at
    /// least 1 (0 would mean no limit) and no more than one program may take; 0 when the object has no limit.
    [[nodiscard]] std::uint64_t work_left() const noexcept;
    /// Counts a program's analysis; the reason when the programs so far exceed the budget.
    [[nodiscard]] std::optional<std::string> charge(const verifier::Report& report);

  private:
    std::uint64_t m_max_work;
    std::uint64_t m_max_analysed;
    std::size_t m_maps;
    std::uint64_t m_work = 0;
    std::uint64_t m_analysed = 0;
};

/// A map of a loaded object. Copies share the map; the map lives while any handle or program holds it.
class MapHandle {
  public:
    [[nodiscard]] const std::string& name() const noexcept;
    /// The map's id, unique in the process (Registry lists maps by it).
    [[nodiscard]] std::uint32_t id() const noexcept;
    [[nodiscard]] platform::MapKind kind() const noexcept;
    [[nodiscard]] std::uint32_t key_size() const noexcept;
    [[nodiscard]] std::uint32_t value_size() const noexcept;
    [[nodiscard]] std::uint32_t max_entries() const noexcept;
    /// The bytes the map has allocated now: its storage, and for hash maps the elements replaced or deleted that
    /// running programs may still read (at most runtime::kRetiredAllowance beyond max_entries and the spares).
    [[nodiscard]] std::size_t memory_size() const noexcept;
    /// Read-only to programs (`.rodata`): the host may read it, not change it.
    [[nodiscard]] bool frozen() const noexcept { return m_frozen; }
    /// The BTF names of the key and value types, empty when the object has none.
    [[nodiscard]] const std::string& key_type_name() const noexcept { return m_key_type; }
    [[nodiscard]] const std::string& value_type_name() const noexcept { return m_value_type; }
    /// The sizes of those BTF types (per-CPU maps: of one slot's value); nullopt when the object has no BTF for them.
    [[nodiscard]] std::optional<std::uint32_t> key_btf_size() const noexcept { return m_key_btf_size; }
    [[nodiscard]] std::optional<std::uint32_t> value_btf_size() const noexcept { return m_value_btf_size; }

    /// Copies the value of `key` (per-CPU maps: every slot's value, each rounded up to 8 bytes); nullopt when the
    /// map has no such key.
    [[nodiscard]] Result<std::optional<std::vector<std::uint8_t>>> lookup(std::span<const std::uint8_t> key) const;
    [[nodiscard]] Result<void> update(std::span<const std::uint8_t> key, std::span<const std::uint8_t> value,
                                      std::uint64_t flags = 0);
    /// Deletes `key`; false when there was none.
    [[nodiscard]] Result<bool> erase(std::span<const std::uint8_t> key);
    /// Puts `program` at `index` of a program array, for tail calls.
    [[nodiscard]] Result<void> set_program(std::uint32_t index, const Program& program);
    /// Every key in the map's iteration order.
    [[nodiscard]] Result<std::vector<std::vector<std::uint8_t>>> keys() const;

    /// The runtime map underneath, for the typed facades (Map<K,V>, RingBuffer<T>).
    [[nodiscard]] const std::shared_ptr<runtime::Map>& runtime_map() const noexcept { return m_map; }

  private:
    friend class Object;
    friend class Registry;
    MapHandle(std::shared_ptr<runtime::Map> map, bool frozen, std::string key_type, std::string value_type,
              std::optional<std::uint32_t> key_btf_size, std::optional<std::uint32_t> value_btf_size)
        : m_map(std::move(map)), m_frozen(frozen), m_key_type(std::move(key_type)), m_value_type(std::move(value_type)),
          m_key_btf_size(key_btf_size), m_value_btf_size(value_btf_size) {}

    std::shared_ptr<runtime::Map> m_map;
    bool m_frozen = false;
    std::string m_key_type;
    std::string m_value_type;
    std::optional<std::uint32_t> m_key_btf_size;
    std::optional<std::uint32_t> m_value_btf_size;
};

/// The bytes of the host's buffer around a context's data range that xdp_adjust_head and xdp_adjust_tail may grow the
/// packet into (Program::run with a room).
struct PacketRoom {
    std::size_t headroom = 0; ///< in front of data
    std::size_t tailroom = 0; ///< behind data_end
};

/// The room Program::test_run leaves in front of the packet and behind it (Linux's XDP_PACKET_HEADROOM).
inline constexpr std::size_t kTestRunRoom = 256;

/// What Program::test_run runs a program on, as Linux's bpf_prog_test_run_opts.
struct TestRunOptions {
    /// The packet (the data range), for types that have one: copied into a buffer of test_run's own. At most the
    /// type's max_data_size bytes.
    std::span<const std::uint8_t> data_in{};
    /// The context struct as the program sees it (ContextDescriptor::size bytes at most; the rest is 0). Its packet
    /// pointer fields are test_run's to set, and so are Linux's __sk_buff len and protocol (from the packet, as the
    /// kernel's test run sets them); the pointers and sizes of its memory regions (FieldKind::memory) must be 0: a
    /// region of a constant size gets zeroed bytes, one sized by a field is empty.
    std::span<const std::uint8_t> ctx_in{};
    /// Runs, one after the other on the same packet and context (0 counts as 1); duration is their average.
    std::uint32_t repeat = 1;
    /// Runs in the checked interpreter (Program::run_checked), with this instruction budget for each run when not 0.
    bool checked = false;
    std::uint64_t instruction_budget = 0;
};

/// What Program::test_run saw.
struct TestRunResult {
    /// The verdict of the last run as the hook reads it: r0, or for a type that reads an out-of-range value as its
    /// fallback (ProgramType::out_of_range_return: XDP_ABORTED), the fallback, where Linux's test run returns r0.
    std::uint64_t retval = 0;
    std::vector<std::uint8_t> data_out{}; ///< the packet after the last run
    std::vector<std::uint8_t> ctx_out{};  ///< the context struct after it (packet and region pointers 0)
    std::chrono::nanoseconds duration{0}; ///< the average time of one run
    std::uint64_t instructions = 0;       ///< checked runs: the instructions of the last run
};

/// Where the promotion of a program loaded with EngineKind::automatic stands (Program::promotion()). Its baseline is
/// the baseline JIT, or the interpreter on a machine the JIT does not translate for.
enum class Promotion : std::uint8_t {
    none,       ///< not loaded with `automatic`
    counting,   ///< runs in the baseline, counting its runs up to LoadOptions::promote_after
    compiling,  ///< the optimizing JIT compiles it in the background (or it waits its turn); it runs in the baseline
    promoted,   ///< runs the optimizing JIT's code
    failed,     ///< stays in the engine it runs in for good; Program::engine_fallback() says why
    overridden, ///< Program::use_engine chose its engine after the load: no promotion replaces that choice
};

[[nodiscard]] constexpr std::string_view to_string(Promotion promotion) noexcept {
    switch (promotion) {
    case Promotion::none: return "none";
    case Promotion::counting: return "counting";
    case Promotion::compiling: return "compiling";
    case Promotion::promoted: return "promoted";
    case Promotion::failed: return "failed";
    case Promotion::overridden: return "overridden";
    }
    return "unknown";
}

/// A program of a loaded object, prepared for its engine. Copies share it; it keeps its maps alive.
class Program {
  public:
    friend class MapHandle;

    [[nodiscard]] const std::string& name() const noexcept;
    /// The program's id, unique in the process (Registry lists programs by it).
    [[nodiscard]] std::uint32_t id() const noexcept;
    [[nodiscard]] const std::string& section() const noexcept;
    [[nodiscard]] const platform::ProgramType& type() const noexcept;
    /// The instructions as loaded: map references resolved, CO-RE relocations applied.
    [[nodiscard]] std::span<const isa::Instruction> instructions() const noexcept;
    /// False for programs loaded with LoadOptions::unverified.
    [[nodiscard]] bool verified() const noexcept;
    /// The engine that runs the program's unchecked runs now (never `automatic`: the tier such a program is in).
    [[nodiscard]] exec::EngineKind engine() const noexcept;
    /// Runs the program with engine `kind` from now on, for every handle and program array that holds it: the
    /// engine's code replaces the current one atomically, and runs under way finish with the code they started.
    /// `interpreter`, `jit` (the baseline JIT, on machines it translates for) and `optimized` (builds with LLVM);
    /// `aot` is unsupported, and `automatic` is a choice of the load. A program loaded unverified runs only in the
    /// checked interpreter. The host's choice is final: for a program loaded with `automatic`, the call ends its
    /// promotion (Promotion::overridden), even when it fails, and a compilation under way is thrown away.
    [[nodiscard]] Result<void> use_engine(exec::EngineKind kind) const;
    /// Why the program does not run in the engine LoadOptions::engine asked for (it runs in the tier below then);
    /// empty when it does. With `automatic`, why it runs in the interpreter rather than the baseline JIT, and why it
    /// will not be promoted (a build without LLVM, the optimizing JIT's refusal): set at the
    /// load, or by the background compilation when it fails, so that it may grow while the program runs.
    [[nodiscard]] std::string engine_fallback() const;
    /// Where the promotion of a program loaded with `automatic` stands; Promotion::none for the other engines.
    [[nodiscard]] Promotion promotion() const noexcept;
    /// Waits until the program is promoted or will not be (Promotion::failed, Promotion::overridden), at most
    /// `timeout` (milliseconds::max(): as long as it takes); true when it runs the optimizing JIT's code. A program
    /// still counting needs runs (on other threads) to be promoted: waiting does not run it. For hosts that want the
    /// optimized code in place before a burst of traffic, and tests; a run never waits for a promotion.
    [[nodiscard]] bool wait_for_promotion(std::chrono::milliseconds timeout) const;
    /// The budget LoadOptions::instruction_budget gives each run (0: none), and how many runs it stopped since the
    /// program was loaded, over every handle, hook and program array that ran it.
    [[nodiscard]] std::uint64_t instruction_budget() const noexcept;
    [[nodiscard]] std::uint64_t budget_exhausted() const noexcept;
    /// The verifier's report (its instruction bound, warnings); empty for programs loaded unverified.
    [[nodiscard]] const verifier::Report& verification() const noexcept;
    /// What CO-RE did to the program, one line per relocation; empty when it had none.
    [[nodiscard]] const std::vector<std::string>& relocation_report() const noexcept;

    /// Runs the program once on a context of `ctx_size` bytes, following tail calls. Unverified programs run in the
    /// checked interpreter: a fault stops the run with an error naming the instruction and the address.
    ///
    /// The entry checks what the verifier assumes and cannot see, and refuses with an error naming the limit: a
    /// context smaller than the type's context size; a context pointer below 65536; for types with a data range
    /// (data/data_end fields), data past data_end, data below 65536, or a range longer than the type's
    /// max_data_size. Runs nest (a host helper may run a program) at most runtime::kMaxInvocationDepth deep; each
    /// nested run has its own tail-call chain.
    [[nodiscard]] Result<std::uint64_t> run(void* ctx, std::size_t ctx_size) const;
    /// Like run(), with the context the host's alone for this run (no other thread reads it meanwhile): the packet
    /// helpers xdp_adjust_head and xdp_adjust_tail may then move its data range (writing its pointers), growing it
    /// into `room` (bytes of the host's buffer in front of data and behind data_end). Without it they fail. The room
    /// is counted from the pointers the context holds when the run begins: a host that runs again on a context whose
    /// packet moved gives the room left around it now, not the room it gave first. The room is bytes the program may
    /// write: one that shares a byte with the context or its memory regions is refused.
    [[nodiscard]] Result<std::uint64_t> run(void* ctx, std::size_t ctx_size, PacketRoom room) const;
    /// Like run(), but always in the checked interpreter (verified or not), counting the instructions executed (each
    /// helper call as platform::helper_call_cost of the memory it covers, as Report::cost_bound does) and stopping
    /// before the budget is exceeded when `instruction_budget` is not 0.
    [[nodiscard]] Result<exec::CheckedOutcome> run_checked(void* ctx, std::size_t ctx_size,
                                                           std::uint64_t instruction_budget = 0) const;

    /// Runs the program on a context built from `options` (Linux's BPF_PROG_TEST_RUN): the struct from ctx_in, the
    /// packet from data_in in a buffer of its own, anywhere in memory, its pointers set as the platform's context
    /// holds them (platform::set_data_range), with kTestRunRoom bytes of room in front of it and behind it that
    /// xdp_adjust_head and xdp_adjust_tail may grow it into; data_out is the packet where the program left it. For
    /// every program type, of any platform; an error names what the type does not take (a packet for a type without a
    /// data range, a context or packet too long) or how a run failed.
    [[nodiscard]] Result<TestRunResult> test_run(const TestRunOptions& options) const;

  private:
    friend class Object;
    friend class Registry;
    Program(std::shared_ptr<const detail::ProgramState> state, std::shared_ptr<const detail::ObjectState> object)
        : m_state(std::move(state)), m_object(std::move(object)) {}
    [[nodiscard]] Result<exec::CheckedOutcome> run_chain(void* ctx, std::size_t ctx_size, std::uint64_t budget,
                                                         bool checked,
                                                         std::optional<PacketRoom> room = std::nullopt) const;
    std::shared_ptr<const detail::ProgramState> m_state;
    // The object it came from, kept while the handle lives: the object's program arrays are emptied when the last
    // handle to it goes, so the tail calls of a program the host still holds keep their targets.
    std::shared_ptr<const detail::ObjectState> m_object;
};

/// A loaded object: its maps created, its programs resolved and prepared. Move-only; handles taken from it
/// share what they need, so they stay valid after the Object is gone. The object's program arrays keep their
/// programs while the Object or a Program handle taken from it lives (a Link holds one); after that they are emptied
/// (a MapHandle alone does not keep them), as Linux empties a program array when its last file descriptor closes.
class Object {
  public:
    /// Loads `spec` for its platform (ObjectSpec::platform()).
    [[nodiscard]] static Result<Object> load(const ObjectSpec& spec, const LoadOptions& options = {});
    /// Loads `spec` for `platform`. The object keeps a copy of it (the built-in platforms are used as they are): the
    /// platform may go before the object and its programs.
    [[nodiscard]] static Result<Object> load(const ObjectSpec& spec, const platform::Platform& platform,
                                             const LoadOptions& options = {});

    Object(Object&&) noexcept = default;
    Object& operator=(Object&&) noexcept = default;
    Object(const Object&) = delete;
    Object& operator=(const Object&) = delete;
    ~Object();

    /// The program named `name`; an error names the feature when the program uses one this build lacks.
    [[nodiscard]] Result<Program> program(std::string_view name) const;
    [[nodiscard]] std::vector<std::string> program_names() const;
    [[nodiscard]] Result<MapHandle> map(std::string_view name) const;
    /// The map `name` bound as a typed Map<K, V>, its sizes checked once here (defined in api/map.hpp).
    template <typename K, typename V>
    [[nodiscard]] Result<Map<K, V>> map(std::string_view name) const;
    /// The ring buffer map `name` bound as a typed RingBuffer<T> (defined in api/ring_buffer.hpp).
    template <typename T>
    [[nodiscard]] Result<RingBuffer<T>> ring_buffer(std::string_view name) const;
    [[nodiscard]] std::vector<std::string> map_names() const;
    /// Bytes allocated by the object's maps now (the sum of their MapHandle::memory_size()).
    [[nodiscard]] std::size_t memory_size() const noexcept;
    [[nodiscard]] const platform::Platform& platform() const noexcept;

  private:
    friend Result<AotGenerated> generate_aot(const ObjectSpec& spec, const platform::Platform& platform,
                                             const AotGenerateOptions& options);
    [[nodiscard]] static Result<Object> load_object(const ObjectSpec& spec, const platform::Platform& platform,
                                                    const LoadOptions& options);
    explicit Object(std::shared_ptr<detail::ObjectState> state) : m_state(std::move(state)) {}
    [[nodiscard]] static Result<Object> load_on(const ObjectSpec& spec, std::shared_ptr<detail::ObjectState> state,
                                                const LoadOptions& options);
    std::shared_ptr<detail::ObjectState> m_state;
};

} // namespace embpf
