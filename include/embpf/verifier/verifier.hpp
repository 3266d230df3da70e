// The verifier: proves that a program cannot crash, hang or read outside what its host hands it, for one program
// type of a platform. Abstract interpretation over the program's control-flow graph with a relational numeric
// domain; the domains stay inside src/verifier. This header is the report and the entry point.
#pragma once

#include "embpf/elf/object_file.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/result.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace embpf::verifier {

/// How much a report says.
enum class Level : std::uint8_t {
    normal,        ///< the verdict, the instruction bound, the errors
    informational, ///< also warnings (unreachable code, ...)
    verbose,       ///< also the abstract state before and after each instruction
};

/// A map as the verifier sees it: its kind and sizes, never the map itself.
struct MapDescriptor {
    std::string name;
    platform::MapKind kind = platform::MapKind::array;
    std::uint32_t key_size = 0;
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0;
    /// Maps of maps: the descriptor (index into the same list) of the maps it holds.
    std::optional<std::size_t> inner;
    /// Read-only to programs (`.rodata`): stores into its value are refused.
    bool read_only = false;
    /// A read-only map's value as the program will see it (`.rodata`), for the constant strings helpers read (a
    /// format must end in a NUL inside the value) and the numbers loads read from it (a map of one entry). Empty
    /// when unknown: then no string in it is accepted and no load from it is known.
    std::vector<std::uint8_t> frozen_value;
    /// Per-CPU maps: the slots each value has (the map's MapConfig::slots once created). Inserting an element clears
    /// every slot, so an update costs the value size times this (platform::map_call_bytes). Object::load and
    /// `embpf verify` set it; 1 otherwise.
    std::uint32_t slots = 1;
    /// An inner-map template flagged BPF_F_INNER_MAP: the maps a host puts into its outer map may have any number of
    /// entries, so what they take is unknown (the maps are then taken as larger than the caches).
    bool any_size = false;
    /// Why embpf cannot make this map (a map type the platform names but embpf does not implement), or empty. The
    /// object still describes and verifies: a program that refers to the map (or holds it inside a map of maps) is
    /// refused with this message.
    std::string unsupported{};
    /// Where its value holds its `struct bpf_spin_lock`, if it has one (a hash or array map, global data): programs
    /// reach those 4 bytes only through bpf_spin_lock and bpf_spin_unlock, and map updates leave them be.
    std::optional<std::uint32_t> spin_lock{};
};

/// One finding, at one instruction.
struct Diagnostic {
    std::size_t pc = 0;
    std::string message;   ///< what is wrong: "Upper bound must be at most packet_size"
    std::string assertion; ///< the property that could not be proven: "valid_access(r1.offset+12, width=2)"
    std::optional<btf::LineInfo> source; ///< the source line the instruction came from, when the object has BTF
};

/// What the verifier proved about one register before one instruction, on every run that reaches it (Options::facts):
/// the join over every state the analysis keeps there and every call chain that leads there. A fact never claims more
/// than holds on all of them: kinds that differ join to `unknown`, intervals to their hull.
struct RegisterFact {
    enum class Kind : std::uint8_t {
        unknown,    ///< nothing may be assumed: never written, not read again before written, unusable, or kinds that
                    ///< differ on different paths
        number,     ///< a scalar: [smin, smax] and [umin, umax]
        context,    ///< the context struct; offset from its start
        stack,      ///< offset from this function's r10 (r10 itself is 0, its own frame [-512, 0), its callers' frames
                    ///< above 0, each 512 bytes)
        packet,     ///< the data range; offset from `data` (data_end has end_min = end_max = 0, data_meta a negative
                    ///< offset)
        memory,     ///< a memory region of the context (platform::FieldKind::memory) numbered `index`; offset from its
                    ///< start
        map_value,  ///< a map's value; offset from its start; `index` describes the map
        map,        ///< a map itself (lddw, an inner map from a map of maps); offset 0; `index` describes it
        allocation, ///< memory a helper allocated (a ring-buffer record), `index` bytes; offset from its start
        function,   ///< a subprogram's address (a callback); `index` is its first instruction
    };
    /// Stack pointers: which frame the address lies in. The verifier's offsets are addresses relative to the entry's
    /// r10, each call's frame 512 bytes below its caller's, so this follows from the offset: `own` when every address
    /// lies in [r10 - 512, r10] (r10 included, a pointer a caller handed down that equals r10 too), `caller` when every
    /// one lies above r10 (a caller's frame, handed down by a bpf-to-bpf call). An access through an `own` pointer may
    /// still reach past r10 into a caller's frame: access_fact classifies the bytes accessed.
    enum class Frame : std::uint8_t { unknown, own, caller };
    static constexpr std::uint32_t kNoIndex = 0xFFFFFFFF;

    Kind kind = Kind::unknown;
    /// Pointers: the register may hold 0 instead (a lookup's result before its null check). False is a fact: non-null.
    bool may_be_null = false;
    Frame frame = Frame::unknown; ///< stack only
    /// map and map_value: `index` is the map itself (a map the program names by lddw that no other map is alike and
    /// that is no map of maps' inner template). Otherwise `index` only describes the map: one of its kind and sizes
    /// (MapDescriptor), perhaps another map (alike maps joined, an inner map a map of maps holds).
    bool exact_map = false;
    /// map, map_value: the MapDescriptor index describing the map (kNoIndex when paths disagree); memory: the region;
    /// allocation: its size in bytes; function: its first instruction. kNoIndex for other kinds.
    std::uint32_t index = kNoIndex;
    /// Numbers: the 64-bit value read as signed and as unsigned (the widest intervals when nothing is known).
    std::int64_t smin = std::numeric_limits<std::int64_t>::min();
    std::int64_t smax = std::numeric_limits<std::int64_t>::max();
    std::uint64_t umin = 0;
    std::uint64_t umax = std::numeric_limits<std::uint64_t>::max();
    /// Pointers that are not null: the address minus the region's start (see Kind; stack: minus this function's r10).
    std::int64_t offset_min = std::numeric_limits<std::int64_t>::min();
    std::int64_t offset_max = std::numeric_limits<std::int64_t>::max();
    /// packet: the address minus data_end (the widest interval for other kinds).
    std::int64_t end_min = std::numeric_limits<std::int64_t>::min();
    std::int64_t end_max = std::numeric_limits<std::int64_t>::max();

    [[nodiscard]] bool is_pointer() const noexcept { return kind != Kind::unknown && kind != Kind::number; }
    friend bool operator==(const RegisterFact&, const RegisterFact&) = default;
};

/// The facts before one instruction.
struct InstructionFacts {
    /// Some run may reach the instruction (false for unreachable code and for the second slot of a lddw: then every
    /// register is unknown).
    bool reached = false;
    std::array<RegisterFact, isa::kRegisterCount> registers{}; ///< r0..r10
    friend bool operator==(const InstructionFacts&, const InstructionFacts&) = default;
};

/// The memory a load, store or atomic accesses, from its base register's fact and its offset (access_fact).
struct AccessFact {
    RegisterFact::Kind region = RegisterFact::Kind::unknown; ///< the base register's kind
    /// Stack accesses: `own` when every byte accessed lies in this function's frame [r10 - 512, r10), `caller` when
    /// every byte lies at or above r10.
    RegisterFact::Frame frame = RegisterFact::Frame::unknown;
    bool exact_map = false;
    std::uint32_t index = RegisterFact::kNoIndex;
    /// The first byte accessed, as an offset in the region (the base's offset plus the instruction's).
    std::int64_t offset_min = std::numeric_limits<std::int64_t>::min();
    std::int64_t offset_max = std::numeric_limits<std::int64_t>::max();
    std::uint32_t width = 0; ///< bytes accessed
};

/// The outcome of verifying one program.
struct Report {
    std::string program;
    std::string section;
    std::string type; ///< the program type's name
    bool verified = false;
    /// Every run executes at most this many instructions (calls to subprograms counted, helpers not). Set when the
    /// program verified.
    std::optional<std::uint64_t> instruction_bound;
    /// What a run costs at most, in instructions with each helper call counted by the memory it covers
    /// (platform::helper_call_cost: a call copying a 4 MiB map value counts as 524,289): the bound on its time, which
    /// `LoadOptions::max_instructions` limits and checked runs count their budget in. Set with instruction_bound.
    std::optional<std::uint64_t> cost_bound;
    /// The program reads its context's data_meta field: every entry then requires the field to lie at most
    /// platform::kMaxPacketMetaSize bytes in front of data (a host without metadata sets it to data).
    bool reads_packet_meta = false;
    /// The loads (instruction indices) that read through a host address a tracing hook handed the program (a kernel
    /// object's address in the kernel, which fentry, tp_btf and lsm programs read fields of directly): engines run
    /// them as probe reads, which load 0 where the process cannot read (exec::InterpreterOptions::probe_loads).
    std::vector<std::uint32_t> probe_loads;
    /// A load of one of the context's 32-bit packet pointer fields (platform::ContextDescriptor::pointer_width 4).
    struct ContextLoad {
        std::uint32_t pc = 0;
        std::int16_t offset = 0; ///< the offset that makes the instruction read the field's host pointer
        friend bool operator==(const ContextLoad&, const ContextLoad&) = default;
    };
    /// Such loads, in order: engines run each as an 8-byte load of the pointer the host's context holds
    /// (ContextDescriptor::host_offset) at this offset from the same register (rewrite_context_loads). Every run
    /// reaching such an instruction has the context in that register, at the same offset.
    std::vector<ContextLoad> context_loads;
    std::vector<Diagnostic> errors;
    std::vector<Diagnostic> warnings;
    /// Level::verbose: the abstract states before and after each reachable instruction (`5 before: ...`,
    /// `5 after: ...`, `7 after, to 12: ...` for the edge of a jump), once per state the analysis keeps there.
    std::vector<std::string> states;
    /// Options::facts, when the program verified: by instruction index, what holds before it (one entry per
    /// instruction, each lddw's second slot not reached) in the code engines run (rewrite_context_loads: a load of a
    /// 32-bit packet pointer field gives the packet pointer). Empty otherwise.
    std::vector<InstructionFacts> facts;
    std::chrono::microseconds duration{0};
    /// The instructions the analysis covered, every subprogram counted once per call (at most 65,536): a measure of
    /// the verification's cost, which a host loading many programs may add up.
    std::uint64_t analysed_instructions = 0;
    /// The work the analysis did (Options::work_limit).
    std::uint64_t analysis_work = 0;

    /// The report as `embpf verify` prints it:
    ///   Verification succeeded / Program terminates within N instructions / (when helper calls cost more)
    ///   `Counting helper calls at their cost, a run costs at most M instructions`, or
    ///   Verification failed / Verification report: / for each error `; file:line`, `;   source`,
    ///   `pc: message (assertion)` / `N errors`.
    [[nodiscard]] std::string text(Level level = Level::normal) const;
    /// The same as one JSON object: program, section, type, verdict ("verified" or "rejected"), instruction_bound and
    /// cost_bound (null when unknown), errors and warnings (pc, file, line, source, message, assertion), microseconds.
    [[nodiscard]] std::string json() const;
};

struct Options {
    Level level = Level::normal;
    /// The memory the analysis may keep in abstract states, in bytes. A program that needs more is refused with
    /// "Program is too large to analyse" (every program of the ebpf-samples corpus fits). The analysis
    /// briefly holds up to twice this.
    std::size_t memory_limit = std::size_t{256} << 20;
    /// The work the analysis may do, in its own units (Report::analysis_work: the square of the dimension of each
    /// quadratic step on its relations, a state copied, a constraint closed, two states joined or compared, and eight
    /// times the dimension of each step over one variable's row and column; some 1.2 to 1.6 ns each here). A program
    /// that needs more is refused with "Program is too complex to analyse". 2^30 unless the caller says otherwise
    /// (the costliest program of the ebpf-samples corpus needs 618 million); 0 for no limit.
    std::uint64_t work_limit = std::uint64_t{1} << 30;
    /// Fill Report::facts: what the analysis proved about each register before each instruction, for an optimizing
    /// compiler. Gathered during the pass that checks the program; off, it costs nothing.
    bool facts = false;
};

/// What is verified: the code as the loader linked it (map references still pseudo `lddw`s).
struct ProgramInput {
    std::string name;
    std::string section;
    std::span<const isa::Instruction> instructions;
    std::span<const elf::MapReference> map_references;
    std::span<const btf::LineInfo> lines;
    std::span<const MapDescriptor> maps; ///< indexed by MapReference::map
};

/// The code a verified program runs: `code` with each of the report's context_loads made an 8-byte load of the host's
/// pointer (a copy; `code` as it is when the report has none).
[[nodiscard]] std::vector<isa::Instruction> rewrite_context_loads(std::span<const isa::Instruction> code,
                                                                  const Report& report);

/// What the load, store or atomic at `pc` of `code` accesses, from `facts` (Report::facts): nullopt when the
/// instruction is none of those or no run reaches it.
[[nodiscard]] std::optional<AccessFact> access_fact(std::span<const InstructionFacts> facts,
                                                    std::span<const isa::Instruction> code, std::size_t pc);

/// Verifies one program as a program of `type`. Bad input (an invalid instruction, a reference to no map) is an
/// error of the report, not a failure of the call.
[[nodiscard]] Report verify(const ProgramInput& input, const platform::Platform& platform,
                            const platform::ProgramType& type, const Options& options = {});

/// The same for a program of an object file, whose map references index `maps`.
[[nodiscard]] Report verify(const elf::ProgramDefinition& program, std::span<const MapDescriptor> maps,
                            const platform::Platform& platform, const platform::ProgramType& type,
                            const Options& options = {});

/// Where the value of `map` (of `kind`, as the platform reads its type) holds the `struct bpf_spin_lock` programs may
/// take: one lock, 4 aligned bytes of a writable hash or array value. Otherwise why it holds none they may take (more
/// than one, another kind, misplaced: describe_maps refuses the map's programs with it); both empty without a lock.
/// The verifier's MapDescriptor::spin_lock and the loader's runtime::MapConfig::spin_lock both come from here.
struct SpinLockPlace {
    std::optional<std::uint32_t> offset;
    std::string problem;
};
[[nodiscard]] SpinLockPlace spin_lock_of(const elf::MapDefinition& map, platform::MapKind kind);

/// Describes an object's maps under a platform, in the same order. Inner-map templates are described too, so that
/// maps of maps can name them. Fails for a map type the platform does not know; one it knows that embpf does not
/// implement is described as MapDescriptor::unsupported.
[[nodiscard]] Result<std::vector<MapDescriptor>> describe_maps(std::span<const elf::MapDefinition> maps,
                                                               const platform::Platform& platform);

} // namespace embpf::verifier
