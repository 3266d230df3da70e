// The optimizing JIT: verified eBPF lowered to LLVM IR, optimized and compiled by LLVM's ORC JIT. An optional part of
// the build (CMake's EMBPF_WITH_LLVM, on where LLVM 19 is installed).
#pragma once

#include "embpf/exec/engine.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/result.hpp"
#include "embpf/verifier/verifier.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace embpf::exec {

/// The largest program the optimizing JIT compiles: LLVM's time and memory grow faster than a program's size, and a
/// larger program runs in the tier below.
inline constexpr std::size_t kMaxOptimizedInstructions = std::size_t{1} << 15;
/// And of jumps: LLVM's time grows faster still with a program's branches. (Once optimized, a program whose SSA
/// values live across too many blocks is refused too, before LLVM generates its code.)
inline constexpr std::size_t kMaxOptimizedJumps = 2048;

/// Whether this build has the optimizing JIT.
[[nodiscard]] bool optimizer_available() noexcept;

struct OptimizerOptions {
    /// The data range's fields, for LD_ABS/LD_IND (InterpreterOptions::packet).
    std::optional<PacketLayout> packet{};
    /// The loads that read through a host address (InterpreterOptions::probe_loads).
    std::vector<std::uint32_t> probe_loads{};
    /// LLVM's optimization level for the IR passes, 0 to 3 (O0-O3); the code generator always optimizes.
    unsigned level = 2;
    /// Keep the optimized IR as text (OptimizedJit::ir), for listings.
    bool keep_ir = false;
    /// Metering (engine.hpp): each run's budget, charged where every engine charges it; 0 meters nothing.
    std::uint64_t instruction_budget = 0;
    /// What the verifier proved of the program (verifier::Report::facts, verified with verifier::Options::facts), by
    /// instruction index of `program` as given to create, which reads them and keeps nothing of them; empty: nothing.
    /// The code relies on them, and LLVM with it:
    ///   - a load or store through a register they prove to point at one offset of the stack addresses the frame
    ///     itself, which lets LLVM keep the frame's slots in registers;
    ///   - each load, store and atomic is placed in the region the facts give it (stack, context, packet, the
    ///     context's memory regions, map values, helpers' allocations) and LLVM takes accesses of different regions
    ///     never to overlap, nor any of them the engine's own state: a store to the packet leaves what was read of the
    ///     context known. The host hands a run regions apart (a context, packet and memory regions that overlap none
    ///     of each other, the maps' memory or the stack), as the verifier assumes;
    ///   - a load outside the stack reads a value in the range the facts give the register it fills, and each loop's
    ///     head holds its registers in the ranges proven there (LLVM's assumptions);
    ///   - a null check of a pointer into the stack, a map's value or a helper's allocation that the facts prove is
    ///     not null is no check.
    /// Facts that do not hold make the code compute something else: they must be the verifier's, of this code.
    std::span<const verifier::InstructionFacts> facts{};
    /// The helper id whose function is the maps' lookup (map_lookup_elem), and the arrays whose lookups through it
    /// are computed inline. A call of that helper on a map of `arrays` (tested at run time; LLVM drops the test where
    /// it knows the map, as it does for an lddw of one) never leaves the program's code.
    std::optional<std::uint32_t> lookup_helper{};
    std::vector<InlineArray> arrays{};
};

namespace detail {
struct OptimizedCode;
}

/// A program compiled by LLVM. Each eBPF function becomes an LLVM function whose registers are SSA values and whose
/// 512-byte frame is its own, which LLVM's passes then optimize as they would C: registers allocated across the
/// program, zero-extensions folded, branches made selects, small functions inlined. Compiling takes tens of
/// milliseconds (half a second for a program of 8,000 instructions), not microseconds: the baseline Jit is the tier
/// that is ready at once.
///
/// It runs programs as the interpreter's unchecked loop does (Interpreter::run), with the same guards (call depth,
/// callx targets, the data range of LD_ABS/LD_IND, the unwind helper), each ending a run with 0, and the same
/// results for every program that reads no register the verifier holds uninitialized (a function starts with its
/// caller's registers, a callback with r0 and r5-r9 at 0, as in the baseline JIT). Frames lie as the interpreter lays
/// them out, each 512 bytes below its caller's. Helpers are called through the same table.
///
/// Some valid programs it does not compile (it fails with unsupported, and a loader runs them in the tier below): a
/// jump from one function into another, a function that runs past its last instruction, kernel function calls,
/// programs larger than kMaxOptimizedInstructions or kMaxOptimizedJumps, and programs whose SSA values live across too
/// many blocks once optimized. These bounds keep out the shapes known to take LLVM minutes, not every slow one:
/// straight-line code through two pointers LLVM cannot tell apart compiles at about 0.8 ms per instruction, and deep
/// loop nests in time cubic in their depth. A host loading programs it does not trust should prefer the baseline JIT,
/// or LoadOptions::engine = automatic, which compiles in a background thread while the program runs in the baseline.
class OptimizedJit final : public Executable {
  public:
    /// Validates, lowers and compiles `program` (the requirements of Interpreter::create). Fails with unsupported in
    /// a build without LLVM.
    [[nodiscard]] static Result<OptimizedJit> create(std::span<const isa::Instruction> program,
                                                     HelperTable helpers = {}, const OptimizerOptions& options = {});

    [[nodiscard]] std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    [[nodiscard]] EngineKind kind() const noexcept override { return EngineKind::optimized; }
    /// run(), and whether OptimizerOptions::instruction_budget stopped it.
    [[nodiscard]] RunOutcome run_metered(void* ctx, std::size_t ctx_size = 0) const noexcept override;
    [[nodiscard]] std::uint64_t instruction_budget() const noexcept override;

    /// The optimized IR (OptimizerOptions::keep_ir), or empty.
    [[nodiscard]] std::string_view ir() const noexcept;
    [[nodiscard]] std::span<const isa::Instruction> program() const noexcept;

  private:
    explicit OptimizedJit(std::shared_ptr<const detail::OptimizedCode> code) : m_code(std::move(code)) {}
    std::shared_ptr<const detail::OptimizedCode> m_code;
};

} // namespace embpf::exec
