#include "cfg.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>

namespace embpf::verifier::detail {

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);
// Inlining repeats a subprogram per call chain; past this a program is refused rather than analysed for minutes.
constexpr std::size_t kMaxBlocks = 200000;
constexpr std::size_t kMaxAnalysed = 65536;
// The blocks of all loop bodies together, each block counted once per loop around it.
constexpr std::size_t kMaxLoopBlocks = std::size_t{1} << 22;

bool is_local_call(const isa::Instruction& ins) {
    return ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local);
}

bool is_conditional(const isa::Instruction& ins) {
    const std::uint8_t cls = isa::op_class(ins.opcode);
    if (cls != isa::op::JMP && cls != isa::op::JMP32) {
        return false;
    }
    const std::uint8_t code = isa::op_code(ins.opcode);
    return code != isa::op::JA && code != isa::op::CALL && code != isa::op::EXIT;
}

bool is_goto(const isa::Instruction& ins) { return ins.opcode == isa::op::JA_OP || ins.opcode == isa::op::JA32_OP; }

std::size_t jump_target(const isa::Instruction& ins, std::size_t pc) {
    const std::int64_t distance = is_local_call(ins) ? ins.imm : isa::branch_offset(ins);
    return static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + distance);
}

std::size_t next_pc(std::span<const isa::Instruction> code, std::size_t pc) {
    return pc + (isa::is_lddw(code[pc]) ? 2 : 1);
}

class Builder {
  public:
    Builder(std::span<const isa::Instruction> code, const CallbackRegister& callback_register)
        : m_code(code), m_callback_register(callback_register) {}

    Cfg build() {
        std::vector<std::size_t> exits;
        instantiate(0, 0, exits);
        if (!m_cfg.problems.empty() && m_cfg.blocks.empty()) {
            return std::move(m_cfg);
        }
        order();
        find_loops();
        return std::move(m_cfg);
    }

  private:
    // Adds the blocks of the function starting at `entry` in frame `frame`; returns its entry block and lists the
    // blocks ending in its exits.
    std::size_t instantiate(std::size_t entry, std::size_t frame, std::vector<std::size_t>& exits) {
        std::map<std::size_t, std::size_t> block_at;
        for (const Extent& extent : extents_of(entry)) {
            if (m_cfg.blocks.size() >= kMaxBlocks) {
                m_cfg.problems.push_back({entry, "Program is too large to analyse", "blocks <= 200000"});
                m_cfg.too_large = true;
                return kNone;
            }
            Block block;
            block.first = extent.first;
            block.last = extent.last;
            block.weight = extent.weight;
            block.frame = frame;
            m_cfg.analysed += block.weight;
            // Each call inlines its subprogram, and the analysis keeps a state per block: the instructions of all
            // inlined copies bound both its time and its memory (the corpus' largest program has 8,473).
            if (m_cfg.analysed > kMaxAnalysed) {
                m_cfg.problems.push_back(
                    {entry, "Program is too large to analyse",
                     "instructions with every subprogram counted per call <= " + std::to_string(kMaxAnalysed)});
                m_cfg.too_large = true;
                return kNone;
            }
            block_at[extent.first] = m_cfg.blocks.size();
            m_cfg.blocks.push_back(std::move(block));
        }
        const std::size_t entry_block = block_at.at(entry);
        std::vector<std::size_t> mine;
        for (const auto& entry_pair : block_at) {
            mine.push_back(entry_pair.second);
        }
        for (const std::size_t b : mine) {
            const std::size_t last = m_cfg.blocks[b].last;
            const isa::Instruction& ins = m_code[last];
            const std::size_t next = next_pc(m_code, last);
            if (ins.opcode == isa::op::EXIT_OP) {
                exits.push_back(b);
            } else if (is_goto(ins)) {
                link(b, block_at.at(jump_target(ins, last)), EdgeKind::fallthrough);
            } else if (is_conditional(ins)) {
                link(b, block_at.at(jump_target(ins, last)), EdgeKind::taken);
                link(b, block_at.at(next), EdgeKind::not_taken);
            } else if (callback_register(ins) != 0) {
                const std::size_t after = block_at.at(next);
                const std::optional<std::size_t> target = callback_of(last, callback_register(ins));
                if (!target) {
                    link(b, after, EdgeKind::fallthrough); // the call is refused: its callback is unknown
                    continue;
                }
                if (frame + 1 >= kMaxFrames) {
                    m_cfg.problems.push_back({last, "Call depth exceeds 8", "depth <= 8"});
                    continue;
                }
                std::vector<std::size_t> callee_exits;
                const std::size_t callee = instantiate(*target, frame + 1, callee_exits);
                if (callee == kNone) {
                    return kNone;
                }
                m_cfg.callbacks[last] = *target;
                link(b, callee, EdgeKind::callback);
                for (const std::size_t exit : callee_exits) {
                    link(exit, b, EdgeKind::callback_ret);
                }
                link(b, after, EdgeKind::fallthrough); // the helper returns
            } else if (is_local_call(ins)) {
                if (frame + 1 >= kMaxFrames) {
                    m_cfg.problems.push_back({last, "Call depth exceeds 8", "depth <= 8"});
                    continue;
                }
                std::vector<std::size_t> callee_exits;
                const std::size_t callee = instantiate(jump_target(ins, last), frame + 1, callee_exits);
                if (callee == kNone) {
                    return kNone;
                }
                link(b, callee, EdgeKind::call);
                const std::size_t after = block_at.at(next);
                for (const std::size_t exit : callee_exits) {
                    link(exit, after, EdgeKind::ret);
                }
            } else {
                link(b, block_at.at(next), EdgeKind::fallthrough);
            }
        }
        return entry_block;
    }

    // The register in which the helper call `ins` takes a callback, or 0.
    int callback_register(const isa::Instruction& ins) const {
        if (!m_callback_register || ins.opcode != isa::op::CALL_OP ||
            ins.src != static_cast<std::uint8_t>(isa::CallSource::helper)) {
            return 0;
        }
        return m_callback_register(static_cast<std::uint32_t>(ins.imm));
    }

    // The subprogram the call at `call` passes in register r: the `lddw r, <function>` in the straight-line
    // instructions before it (at most 32), as compilers emit it. Anything else that writes r first, or a jump, call
    // or exit on the way, leaves it unknown. The analysis checks that r holds this function on every path.
    std::optional<std::size_t> callback_of(std::size_t call, int r) const {
        std::size_t pc = call;
        for (int seen = 0; seen < 32 && pc > 0; ++seen) {
            --pc;
            if (pc > 0 && isa::is_lddw(m_code[pc - 1])) {
                --pc; // the second slot of an lddw
                const isa::Instruction& ins = m_code[pc];
                if (ins.dst != r) {
                    continue;
                }
                if (ins.src != static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
                    return std::nullopt;
                }
                const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + ins.imm;
                if (target < 0 || target >= static_cast<std::int64_t>(m_code.size())) {
                    return std::nullopt;
                }
                return static_cast<std::size_t>(target);
            }
            const isa::Instruction& ins = m_code[pc];
            const std::uint8_t cls = isa::op_class(ins.opcode);
            if (cls == isa::op::JMP || cls == isa::op::JMP32) {
                return std::nullopt;
            }
            const bool writes =
                ((cls == isa::op::ALU || cls == isa::op::ALU64 || cls == isa::op::LDX || cls == isa::op::LD) &&
                 ins.dst == r) ||
                (cls == isa::op::STX && isa::op_mode(ins.opcode) == isa::op::ATOMIC);
            if (writes) {
                return std::nullopt;
            }
        }
        return std::nullopt;
    }

    // A block of a function: its first and last instruction and how many it executes.
    struct Extent {
        std::size_t first = 0;
        std::size_t last = 0;
        std::size_t weight = 0;
    };

    // The blocks of the function starting at `entry`, by first instruction: found once per function, in time
    // proportional to the instructions it reaches (a subprogram called 20,000 times with millions of instructions no
    // path reaches once took minutes, its whole length walked per call).
    const std::vector<Extent>& extents_of(std::size_t entry) {
        auto [found, fresh] = m_extents.try_emplace(entry);
        if (!fresh) {
            return found->second;
        }
        // Marks for this search only: the epoch tells them from earlier searches' marks.
        ++m_epoch;
        m_reached.resize(m_code.size() + 1, 0);
        m_leader.resize(m_code.size() + 1, 0);
        std::vector<std::size_t> leaders;
        auto lead = [&](std::size_t pc) {
            if (m_leader[pc] != m_epoch) {
                m_leader[pc] = m_epoch;
                leaders.push_back(pc);
            }
        };
        std::vector<std::size_t> work{entry};
        lead(entry);
        while (!work.empty()) {
            const std::size_t pc = work.back();
            work.pop_back();
            if (pc >= m_code.size() || m_reached[pc] == m_epoch) {
                continue;
            }
            m_reached[pc] = m_epoch;
            const isa::Instruction& ins = m_code[pc];
            const std::size_t next = next_pc(m_code, pc);
            if (ins.opcode == isa::op::EXIT_OP) {
                continue;
            }
            if (is_goto(ins)) {
                const std::size_t target = jump_target(ins, pc);
                lead(target);
                lead(next);
                work.push_back(target);
                continue;
            }
            if (is_conditional(ins)) {
                const std::size_t target = jump_target(ins, pc);
                lead(target);
                lead(next);
                work.push_back(target);
                work.push_back(next);
                continue;
            }
            if (is_local_call(ins)) {
                lead(next);
            }
            if (callback_register(ins) != 0) {
                lead(pc); // a block of its own: the head of the loop through its callback
                lead(next);
            }
            work.push_back(next);
        }
        std::sort(leaders.begin(), leaders.end());
        std::vector<Extent>& extents = found->second;
        for (const std::size_t pc : leaders) {
            if (pc >= m_code.size() || m_reached[pc] != m_epoch) {
                continue;
            }
            Extent extent;
            extent.first = pc;
            std::size_t last = pc;
            for (std::size_t at = pc;;) {
                last = at;
                ++extent.weight;
                const isa::Instruction& ins = m_code[at];
                const std::size_t next = next_pc(m_code, at);
                if (ins.opcode == isa::op::EXIT_OP || isa::is_branch(ins.opcode) || is_local_call(ins) ||
                    ins.opcode == isa::op::JA32_OP || next >= m_code.size() || m_leader[next] == m_epoch) {
                    break;
                }
                at = next;
            }
            extent.last = last;
            extents.push_back(extent);
        }
        return extents;
    }

    void link(std::size_t from, std::size_t to, EdgeKind kind) {
        m_cfg.blocks[from].successors.push_back({to, kind, false});
        m_cfg.blocks[to].predecessors.push_back(from);
    }

    void order() {
        const std::size_t n = m_cfg.blocks.size();
        std::vector<std::uint8_t> state(n, 0);
        std::vector<std::size_t> post;
        post.reserve(n);
        // Iterative depth-first search: (block, next successor to look at).
        std::vector<std::pair<std::size_t, std::size_t>> stack{{0, 0}};
        state[0] = 1;
        while (!stack.empty()) {
            auto& [b, i] = stack.back();
            if (i < m_cfg.blocks[b].successors.size()) {
                const std::size_t to = m_cfg.blocks[b].successors[i++].to;
                if (state[to] == 0) {
                    state[to] = 1;
                    stack.emplace_back(to, 0);
                }
            } else {
                post.push_back(b);
                stack.pop_back();
            }
        }
        m_cfg.rpo.assign(post.rbegin(), post.rend());
        for (std::size_t i = 0; i < m_cfg.rpo.size(); ++i) {
            m_cfg.blocks[m_cfg.rpo[i]].order = i;
        }
        for (std::size_t b = 0; b < n; ++b) {
            if (state[b] == 0) {
                m_cfg.blocks[b].order = kNone; // no path reaches it (a subprogram's exit after an endless loop)
            }
        }
    }

    // Dominators (Cooper, Harvey and Kennedy's iteration), then natural loops of the back edges.
    void find_loops() {
        const std::size_t n = m_cfg.blocks.size();
        std::vector<std::size_t> idom(n, kNone);
        idom[0] = 0;
        auto intersect = [&](std::size_t a, std::size_t b) {
            while (a != b) {
                while (m_cfg.blocks[a].order > m_cfg.blocks[b].order) {
                    a = idom[a];
                }
                while (m_cfg.blocks[b].order > m_cfg.blocks[a].order) {
                    b = idom[b];
                }
            }
            return a;
        };
        for (bool changed = true; changed;) {
            changed = false;
            for (std::size_t i = 1; i < m_cfg.rpo.size(); ++i) {
                const std::size_t b = m_cfg.rpo[i];
                std::size_t dom = kNone;
                for (const std::size_t p : m_cfg.blocks[b].predecessors) {
                    if (idom[p] == kNone || m_cfg.blocks[p].order == kNone) {
                        continue;
                    }
                    dom = dom == kNone ? p : intersect(p, dom);
                }
                if (dom != idom[b]) {
                    idom[b] = dom;
                    changed = true;
                }
            }
        }
        auto dominates = [&](std::size_t a, std::size_t b) {
            for (;;) {
                if (a == b) {
                    return true;
                }
                if (b == 0 || idom[b] == kNone) {
                    return false;
                }
                b = idom[b];
            }
        };
        // The back edges by head: a loop's body is found in one search from all of its back edges' sources.
        std::map<std::size_t, std::vector<std::size_t>> sources; // head -> blocks closing a loop to it
        for (std::size_t b = 0; b < n; ++b) {
            if (m_cfg.blocks[b].order == kNone) {
                continue;
            }
            for (Edge& edge : m_cfg.blocks[b].successors) {
                if (m_cfg.blocks[edge.to].order > m_cfg.blocks[b].order) {
                    continue; // forward in the order: not a retreating edge
                }
                if (!dominates(edge.to, b)) {
                    m_cfg.problems.push_back({m_cfg.blocks[edge.to].first,
                                              "Irreducible control flow: a loop is entered other than at its head",
                                              "reducible"});
                    continue;
                }
                edge.back = true;
                sources[edge.to].push_back(b);
            }
        }
        // Nested loops repeat their blocks in every loop around them: the blocks of all bodies together are bounded
        // before they are listed (16,000 nested loops once took 2.4 GB).
        std::vector<std::size_t> mark(n, kNone); // the loop whose search reached the block last
        std::size_t listed = 0;
        for (const auto& [head, from] : sources) {
            const std::size_t index = m_cfg.loops.size();
            Loop loop;
            loop.head = head;
            loop.body.push_back(head);
            mark[head] = index;
            std::vector<std::size_t> work(from.begin(), from.end());
            while (!work.empty()) {
                const std::size_t x = work.back();
                work.pop_back();
                if (mark[x] == index) {
                    continue;
                }
                mark[x] = index;
                loop.body.push_back(x);
                if (++listed > kMaxLoopBlocks) {
                    m_cfg.problems.push_back(
                        {m_cfg.blocks[head].first, "Program is too large to analyse",
                         "blocks of every loop, counted per loop <= " + std::to_string(kMaxLoopBlocks)});
                    m_cfg.too_large = true;
                    m_cfg.loops.clear();
                    return;
                }
                for (const std::size_t p : m_cfg.blocks[x].predecessors) {
                    if (m_cfg.blocks[p].order != kNone) {
                        work.push_back(p);
                    }
                }
            }
            std::sort(loop.body.begin(), loop.body.end(),
                      [&](std::size_t a, std::size_t b) { return m_cfg.blocks[a].order < m_cfg.blocks[b].order; });
            m_cfg.loops.push_back(std::move(loop));
        }
        // Innermost first (natural loops of distinct heads are nested or apart, so a loop's body is larger than every
        // loop inside it); each block's innermost loop; each loop's parent: the first loop after it that holds a
        // block of it, found through `top` (the outermost loop found so far around a loop, paths compressed).
        std::stable_sort(m_cfg.loops.begin(), m_cfg.loops.end(),
                         [](const Loop& a, const Loop& b) { return a.body.size() < b.body.size(); });
        std::vector<std::size_t> top(m_cfg.loops.size());
        for (std::size_t l = 0; l < top.size(); ++l) {
            top[l] = l;
        }
        auto outermost = [&](std::size_t l) {
            std::size_t root = l;
            while (top[root] != root) {
                root = top[root];
            }
            while (top[l] != root) {
                const std::size_t next = top[l];
                top[l] = root;
                l = next;
            }
            return root;
        };
        for (std::size_t l = 0; l < m_cfg.loops.size(); ++l) {
            for (const std::size_t b : m_cfg.loops[l].body) {
                const std::size_t inner = m_cfg.blocks[b].loop;
                if (inner == kNone) {
                    m_cfg.blocks[b].loop = l;
                    continue;
                }
                const std::size_t root = outermost(inner);
                if (root != l) {
                    m_cfg.loops[root].parent = l;
                    top[root] = l;
                }
            }
        }
        // Depths, outermost first (a parent comes after its loops).
        for (std::size_t l = m_cfg.loops.size(); l-- > 0;) {
            Loop& loop = m_cfg.loops[l];
            loop.depth = loop.parent == kNone ? 1 : m_cfg.loops[loop.parent].depth + 1;
            if (loop.depth > kMaxLoopDepth) {
                m_cfg.problems.push_back({m_cfg.blocks[loop.head].first, "Program is too large to analyse",
                                          "loops nest <= " + std::to_string(kMaxLoopDepth) + " deep"});
                m_cfg.too_large = true;
                m_cfg.loops.clear();
                return;
            }
        }
    }

    std::span<const isa::Instruction> m_code;
    const CallbackRegister& m_callback_register;
    Cfg m_cfg;
    std::map<std::size_t, std::vector<Extent>> m_extents; // extents_of(), by entry
    std::vector<std::uint32_t> m_reached, m_leader;       // by instruction: the epoch of the search that marked it
    std::uint32_t m_epoch = 0;
};

} // namespace

Cfg build_cfg(std::span<const isa::Instruction> code, const CallbackRegister& callback_register) {
    return Builder(code, callback_register).build();
}

} // namespace embpf::verifier::detail
