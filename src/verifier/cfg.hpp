// The control-flow graph the analysis runs over, kept apart from the abstract domains: basic blocks of one program
// with every bpf-to-bpf call inlined (a subprogram gets its blocks once per call chain, so each is analysed with its
// caller's state), the loops found from dominators, and the order to visit blocks in.
#pragma once

#include "embpf/isa/instruction.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace embpf::verifier::detail {

inline constexpr std::size_t kMaxFrames = 8;

enum class EdgeKind : std::uint8_t {
    fallthrough, ///< to the next instruction, or an unconditional jump
    taken,       ///< a conditional jump's condition held
    not_taken,   ///< it did not
    call,        ///< into a subprogram: a new frame
    ret,         ///< from a subprogram's exit back after its call
    callback,    ///< from a helper call into the callback it runs: a new frame, the helper's arguments kept
    callback_ret ///< from the callback's exit back to the helper call, which may call it again
};

struct Edge {
    std::size_t to = 0;
    EdgeKind kind = EdgeKind::fallthrough;
    bool back = false; ///< closes a loop whose head is `to`
};

struct Block {
    std::size_t first = 0; ///< first instruction index
    std::size_t last = 0;  ///< last instruction index (inclusive; a lddw's first slot)
    std::size_t frame = 0; ///< call depth: 0 for the program, 1 for what it calls, ...
    std::vector<Edge> successors;
    std::vector<std::size_t> predecessors;
    std::size_t weight = 0;                          ///< instructions it executes
    std::size_t loop = static_cast<std::size_t>(-1); ///< innermost loop containing it
    std::size_t order = 0;                           ///< reverse-postorder index
};

struct Loop {
    std::size_t head = 0;          ///< block
    std::vector<std::size_t> body; ///< blocks, the head included, in reverse postorder
    std::size_t parent = static_cast<std::size_t>(-1);
    std::size_t depth = 1; ///< 1 for a loop in no other, its parent's + 1 inside one
};

/// Loops may nest this deep (subprograms inlined: their loops nest in their callers'). Deeper nesting is refused:
/// what the analysis does per block and per edge climbs the loops around it.
inline constexpr std::size_t kMaxLoopDepth = 32;

struct CfgProblem {
    std::size_t pc = 0;
    std::string message;
    std::string assertion;
};

struct Cfg {
    std::vector<Block> blocks; ///< blocks[0] is the entry
    std::vector<Loop> loops;   ///< innermost first
    std::vector<std::size_t> rpo;
    std::vector<CfgProblem> problems; ///< call depth exceeded, irreducible flow, too large
    std::size_t analysed = 0;         ///< instructions of all blocks: each subprogram counted once per call
    bool too_large = false;           ///< a limit stopped the build: the graph is incomplete, nothing to analyse
    /// Helper calls that run a callback (bpf_loop, for_each_map_elem), by pc: the callback's first instruction, as
    /// the `lddw` just before the call names it. The call is a block of its own and the head of a loop through the
    /// callback (the runtime calls it some number of times, the helper bounds how many).
    std::map<std::size_t, std::size_t> callbacks;

    /// Whether block b lies in loop l: l is b's innermost loop or one around it.
    [[nodiscard]] bool in_loop(std::size_t l, std::size_t b) const noexcept {
        std::size_t x = blocks[b].loop;
        while (x != static_cast<std::size_t>(-1) && loops[x].depth > loops[l].depth) {
            x = loops[x].parent;
        }
        return x == l;
    }
};

/// For a helper id, the register (1-5) in which the helper takes a callback, or 0 when it takes none.
using CallbackRegister = std::function<int(std::uint32_t helper)>;

/// Builds the graph of a validated program.
[[nodiscard]] Cfg build_cfg(std::span<const isa::Instruction> code, const CallbackRegister& callback_register = {});

} // namespace embpf::verifier::detail
