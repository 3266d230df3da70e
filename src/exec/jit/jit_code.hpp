// What the baseline JIT's code and its support functions share: the run's state, the translated image, and the
// functions the machine code calls for what it does not do inline. Internal to the exec stage.
#pragma once

#include "../probe.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace embpf::exec::detail {

struct JitCode;

/// One run's state, in the entry's frame; the machine code holds its address in a callee-saved register and reads
/// the fields at fixed offsets (kRun*).
struct JitRun {
    std::uint64_t entry_sp = 0; ///< the stack pointer the entry's epilogue starts from: an abort unwinds to it
    std::uint64_t depth = 0;    ///< frames below the entry frame (local calls and callbacks)
    std::uint64_t r10 = 0;      ///< r10 at a callback helper's call
    std::uint64_t stop = 0;     ///< set by a support function: the run ends now with r0 = 0
    const JitCode* code = nullptr;
    std::uint64_t callx_id = 0; ///< the helper id of a callx
    std::uint64_t callee = 0;   ///< the function the callback thunk calls
    std::uint64_t scratch = 0;  ///< a register's spill slot for sequences that need one more
    /// Metered code only (JitOptions::instruction_budget): what is left of the budget, and where the run says
    /// that it exhausted it (the entry's fourth argument). Unmetered code leaves both as they are.
    std::uint64_t budget = 0;
    std::uint64_t* exhausted = nullptr;
};
inline constexpr std::int32_t kRunEntrySp = 0;
inline constexpr std::int32_t kRunDepth = 8;
inline constexpr std::int32_t kRunR10 = 16;
inline constexpr std::int32_t kRunStop = 24;
inline constexpr std::int32_t kRunCode = 32;
inline constexpr std::int32_t kRunCallxId = 40;
inline constexpr std::int32_t kRunCallee = 48;
inline constexpr std::int32_t kRunScratch = 56;
inline constexpr std::int32_t kRunBudget = 64;
inline constexpr std::int32_t kRunExhausted = 72;
static_assert(sizeof(JitRun) == 80 && offsetof(JitRun, budget) == kRunBudget &&
              offsetof(JitRun, exhausted) == kRunExhausted);

/// The functions the machine code calls (their addresses are baked into it).
struct JitSupport {
    /// bpf_loop(nr_loops, callback, ctx, flags) and for_each_map_elem(map, callback, ctx, flags): r1-r5 and the run.
    std::uint64_t (*loop)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, JitRun*);
    std::uint64_t (*for_each)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, JitRun*);
    /// callx: r1-r5 and the run (the id in JitRun::callx_id).
    std::uint64_t (*callx)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, JitRun*);
    /// LD_ABS/LD_IND: the context (r6), the offset, the size; out of the data range it sets JitRun::stop.
    std::uint64_t (*packet_load)(std::uint64_t, std::int64_t, std::uint64_t, JitRun*);
    /// A probe load: the address and the width (as InterpreterOptions::probe_loads's loads encode it).
    std::uint64_t (*probe_load)(std::uint64_t, std::int32_t);
};

/// A translation: the code (its first byte the entry), where each instruction starts, where the callback
/// functions start (by instruction index) and where the callback thunk is; and the translator's scratch. One image
/// per thread is reused from one translation to the next, so that its memory is touched once.
struct JitImage {
    std::vector<std::uint8_t> code; ///< the first `size` bytes are the code
    std::size_t size = 0;
    std::vector<JitLine> lines;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> callbacks; ///< instruction index, offset of its entry
    std::uint32_t thunk = 0;

    std::vector<std::uint32_t> labels;                          ///< instruction index: its code
    std::vector<std::uint32_t> functions;                       ///< function entry's instruction index: its prologue
    std::vector<std::uint8_t> marks;                            ///< instruction index: JitMark bits
    std::vector<std::pair<std::uint32_t, std::uint32_t>> jumps; ///< rel32 field, target instruction
    std::vector<std::pair<std::uint32_t, std::uint32_t>> calls; ///< rel32 field, target function
    /// Metered translations: what a call into each function charges (metering.hpp's function_lengths); empty
    /// otherwise.
    std::vector<std::uint32_t> function_lengths;
};

/// JitImage::marks bits: the instruction starts a function (the program's start, a local call's target, a
/// callback), a callback, or is a probe load.
inline constexpr std::uint8_t kJitFunction = 1;
inline constexpr std::uint8_t kJitCallback = 2;
inline constexpr std::uint8_t kJitProbe = 4;

/// Empties `image` for a translation of `program` (its scratch kept) and marks its functions, callbacks and probe
/// loads: what every target's translator starts from.
void begin_translation(std::span<const isa::Instruction> program, const JitOptions& options, JitImage& image);

/// Translates a validated program for x86-64 into `image`. `blind_key` is the key of constant blinding (JitOptions).
[[nodiscard]] Result<void> translate_x86_64(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                            const JitOptions& options, const JitSupport& support,
                                            std::uint64_t blind_key, JitImage& image);

/// The same for AArch64.
[[nodiscard]] Result<void> translate_arm64(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                           const JitOptions& options, const JitSupport& support,
                                           std::uint64_t blind_key, JitImage& image);

/// The translated program in executable memory, with what its support functions read.
struct JitCode {
    JitCode() = default;
    JitCode(const JitCode&) = delete;
    JitCode& operator=(const JitCode&) = delete;
    ~JitCode();

    std::vector<isa::Instruction> program;
    std::vector<HelperFunction> helpers;
    std::vector<std::uint8_t> helper_arguments;
    std::optional<std::uint32_t> unwind;
    NextMapElement next_element = nullptr;
    std::optional<PacketLayout> packet;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> callbacks; ///< instruction index, address of its entry
    std::uint64_t thunk = 0;
    std::vector<JitLine> lines;
    void* memory = nullptr; ///< the mapping
    std::size_t mapped = 0;
    std::size_t code_size = 0;
    std::uint64_t budget = 0;                    ///< JitOptions::instruction_budget
    std::vector<std::uint32_t> function_lengths; ///< metered code: JitImage::function_lengths
};

} // namespace embpf::exec::detail
