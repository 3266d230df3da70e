// The entry every execution engine shares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace embpf::exec {

/// The signature of a helper: five 64-bit arguments in r1-r5, the result in r0.
using HelperFunction = std::uint64_t (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t);

/// The engines: the interpreter, the baseline JIT (one pass, ready at once), the optimizing JIT (LLVM), and
/// ahead-of-time compiled code. `automatic` is a choice made at load (LoadOptions::engine): the baseline JIT first,
/// the optimizing JIT once a program has run often enough to pay for its compilation. No Executable reports it: a
/// program so loaded runs in one of the others at any time.
enum class EngineKind { interpreter, jit, optimized, aot, automatic };

[[nodiscard]] constexpr std::string_view to_string(EngineKind kind) noexcept {
    switch (kind) {
    case EngineKind::interpreter: return "interpreter";
    case EngineKind::jit: return "jit";
    case EngineKind::optimized: return "optimized";
    case EngineKind::aot: return "aot";
    case EngineKind::automatic: return "automatic";
    }
    return "unknown";
}

/// The engine `name` names (to_string's names), or nullopt.
[[nodiscard]] constexpr std::optional<EngineKind> engine_named(std::string_view name) noexcept {
    for (const EngineKind kind :
         {EngineKind::interpreter, EngineKind::jit, EngineKind::optimized, EngineKind::aot, EngineKind::automatic}) {
        if (to_string(kind) == name) {
            return kind;
        }
    }
    return std::nullopt;
}

/// An array map whose lookups compiled code (OptimizerOptions::arrays) computes itself instead of calling the helper: a
/// lookup of key k (the 4 bytes at the key pointer) gives `values + k * stride` when k < max_entries, else null,
/// exactly what the map's own lookup gives. The values stay where they are for as long as the code runs (an array
/// allocates them once, at creation). runtime::Map::inline_array describes one.
struct InlineArray {
    std::uint64_t map = 0;         ///< the map's address, as the program's lddw loads it and the helper receives it
    std::uint64_t values = 0;      ///< the address of the value of key 0
    std::uint64_t stride = 0;      ///< bytes from one value to the next
    std::uint32_t max_entries = 0; ///< keys 0 to max_entries - 1 have values
};

/// What a run returned, and whether the instruction budget stopped it (then r0 is 0).
struct RunOutcome {
    std::uint64_t r0 = 0;
    bool budget_exhausted = false;
};

/// Metering (InterpreterOptions::instruction_budget, JitOptions::instruction_budget): a per-run budget that every
/// engine charges at the same points by the same rule, so that a run stops at the same instruction in each.
///
/// - A taken jump whose target is at or before it (a loop's back-edge) charges the instructions from its target to
///   itself inclusive: `pc - target + 1`, the static length of the loop body, an upper bound of what one iteration
///   of a loop laid out as compilers lay them out executes. A jump not taken, or forward, charges nothing.
/// - A local (bpf-to-bpf) call, and each invocation of a callback by bpf_loop or for_each_map_elem, charges the
///   length of the function it enters: from its first instruction to the next function's first instruction (the
///   program's start, a local call's target or a callback's, in program order) or to the end of the program.
/// - Nothing else is charged: the first walk through the entry function, helper calls (callx too), exits.
///
/// Each charge is checked where it is made, before the jump or call proceeds: when it exceeds what is left of the
/// budget, the run stops at once with r0 = 0, as the engines' guards stop a run, and RunOutcome::budget_exhausted
/// says so. What a budget bounds: every charge is at least 1, so a run stops after at most `budget` charges, and
/// between two charges every frame only moves forward. For programs laid out as compilers lay them out (a loop's
/// body between its head and its back-edge, each function's code in one piece) a run executes at most `budget`
/// plus the program's length instructions: straight-line code of the entry function may run up to the program's
/// length past the budget. Metering counts no helper's own cost (a helper call is one instruction): the verifier's
/// bound and CheckedOptions::instruction_budget (which counts every instruction executed, and helper calls by the
/// memory they cover) do. A budget of 0 meters nothing, and an engine made without one runs its unmetered code, as
/// fast as before.

/// A program prepared by an engine. run() is the one entry: r1 = ctx, r2 = ctx_size, r10 = the top
/// of a fresh stack. It is safe to call from many threads at once.
class Executable {
  public:
    Executable() = default;
    Executable(const Executable&) = default;
    Executable& operator=(const Executable&) = default;
    virtual ~Executable() = default;

    [[nodiscard]] virtual std::uint64_t run(void* ctx, std::size_t ctx_size = 0) const noexcept = 0;
    [[nodiscard]] virtual EngineKind kind() const noexcept = 0;
    /// run(), and whether the engine's instruction budget (metering, above) stopped the run. An engine without a
    /// budget never stops for one.
    [[nodiscard]] virtual RunOutcome run_metered(void* ctx, std::size_t ctx_size = 0) const noexcept {
        return {run(ctx, ctx_size), false};
    }
    /// The budget each run gets (metering, above); 0: none.
    [[nodiscard]] virtual std::uint64_t instruction_budget() const noexcept { return 0; }
};

} // namespace embpf::exec
