// What the optimizing JIT's compiled code and its support functions share. Internal to the exec stage.
#pragma once

#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace embpf::exec::detail {

struct OptimizedCode;

/// One run's state, in the entry's frame. The compiled code reads and writes its fields at their offsets.
struct OptimizedRun {
    std::uint64_t stop = 0;  ///< set when the run ends now with r0 = 0 (a guard, the unwind helper)
    std::uint64_t depth = 0; ///< frames below the entry frame (local calls and callbacks)
    const OptimizedCode* code = nullptr;
    std::uint64_t budget = 0;    ///< metered code: what is left of the run's instruction budget
    std::uint64_t exhausted = 0; ///< metered code: set with `stop` when a charge exceeded the budget
};
inline constexpr unsigned kOptimizedRunStop = 0;
inline constexpr unsigned kOptimizedRunDepth = 1;
inline constexpr unsigned kOptimizedRunBudget = 3;
inline constexpr unsigned kOptimizedRunExhausted = 4;

/// A compiled eBPF function: r0-r9 as it starts, its frame's top (r10), the run.
using OptimizedFunction = std::uint64_t (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                            std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                            void*, OptimizedRun*);

/// The functions the compiled code calls for what it does not do itself (their addresses are constants in the IR).
struct OptimizedSupport {
    /// bpf_loop and for_each_map_elem: r1-r5, the caller's frame's top (r10), and the run.
    std::uint64_t (*loop)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, void*,
                          OptimizedRun*);
    std::uint64_t (*for_each)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, void*,
                              OptimizedRun*);
    /// callx: r1-r5, the helper id, the run.
    std::uint64_t (*callx)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                           OptimizedRun*);
    /// LD_ABS/LD_IND: the context (r6), the offset, the size, the run; out of the data range it sets the stop.
    std::uint64_t (*packet_load)(std::uint64_t, std::int64_t, std::uint64_t, OptimizedRun*);
    /// A probe load: the address and the width (InterpreterOptions::probe_loads).
    std::uint64_t (*probe_load)(std::uint64_t, std::int32_t);
};

/// What compiling gives: the entry, the callbacks' functions by instruction index, the IR when kept, and the
/// compiled code's owner (its memory is released when the owner is).
struct Compiled {
    std::uint64_t (*entry)(std::uint64_t, std::uint64_t, OptimizedRun*) = nullptr;
    std::vector<std::pair<std::uint32_t, OptimizedFunction>> callbacks;
    std::string ir;
    std::shared_ptr<void> owner;
};

/// Lowers a validated program to LLVM IR, optimizes it and compiles it for the host.
[[nodiscard]] Result<Compiled> compile_optimized(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                                 const OptimizerOptions& options, const OptimizedSupport& support);

/// The compiled program, with what its support functions read.
struct OptimizedCode {
    std::vector<isa::Instruction> program;
    std::vector<HelperFunction> helpers;
    std::vector<std::uint8_t> helper_arguments;
    std::optional<std::uint32_t> unwind;
    NextMapElement next_element = nullptr;
    std::optional<PacketLayout> packet;
    std::uint64_t budget = 0;                    ///< OptimizerOptions::instruction_budget
    std::vector<std::uint32_t> function_lengths; ///< metering's charges of callbacks (metering.hpp), when metered
    Compiled compiled;
};

} // namespace embpf::exec::detail
