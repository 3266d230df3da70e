#include "cfg.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

namespace embpf::verifier::detail {

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);
// Inlining repeats a subprogram per call chain; past this a program is refused rather than analysed for minutes.
constexpr std::size_t kMaxBlocks = 200000;
constexpr std::size_t kMaxAnalysed = 65536;

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
    explicit Builder(std::span<const isa::Instruction> code) : m_code(code) {}

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
        // The instructions the function reaches, and where blocks start.
        std::vector<bool> reached(m_code.size());
        std::vector<bool> leader(m_code.size() + 1);
        std::vector<std::size_t> work{entry};
        leader[entry] = true;
        while (!work.empty()) {
            const std::size_t pc = work.back();
            work.pop_back();
            if (pc >= m_code.size() || reached[pc]) {
                continue;
            }
            reached[pc] = true;
            const isa::Instruction& ins = m_code[pc];
            const std::size_t next = next_pc(m_code, pc);
            if (ins.opcode == isa::op::EXIT_OP) {
                continue;
            }
            if (is_goto(ins)) {
                const std::size_t target = jump_target(ins, pc);
                leader[target] = true;
                leader[next] = true;
                work.push_back(target);
                continue;
            }
            if (is_conditional(ins)) {
                const std::size_t target = jump_target(ins, pc);
                leader[target] = true;
                leader[next] = true;
                work.push_back(target);
                work.push_back(next);
                continue;
            }
            if (is_local_call(ins)) {
                leader[next] = true;
            }
            work.push_back(next);
        }
        // One block per leader.
        std::map<std::size_t, std::size_t> block_at;
        for (std::size_t pc = 0; pc < m_code.size(); ++pc) {
            if (!reached[pc] || !leader[pc]) {
                continue;
            }
            if (m_cfg.blocks.size() >= kMaxBlocks) {
                m_cfg.problems.push_back({entry, "Program is too large to analyse", "blocks <= 200000"});
                m_cfg.too_large = true;
                return kNone;
            }
            Block block;
            block.first = pc;
            block.frame = frame;
            std::size_t last = pc;
            for (std::size_t at = pc;;) {
                last = at;
                const isa::Instruction& ins = m_code[at];
                const std::size_t next = next_pc(m_code, at);
                if (ins.opcode == isa::op::EXIT_OP || isa::is_branch(ins.opcode) || is_local_call(ins) ||
                    ins.opcode == isa::op::JA32_OP || next >= m_code.size() || leader[next]) {
                    break;
                }
                at = next;
            }
            block.last = last;
            for (std::size_t at = pc; at <= last; at = next_pc(m_code, at)) {
                ++block.weight;
            }
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
            block_at[pc] = m_cfg.blocks.size();
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
        std::map<std::size_t, std::size_t> loop_of_head;
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
                auto [it, fresh] = loop_of_head.emplace(edge.to, m_cfg.loops.size());
                if (fresh) {
                    Loop loop;
                    loop.head = edge.to;
                    loop.contains.assign(n, false);
                    loop.contains[edge.to] = true;
                    loop.body.push_back(edge.to);
                    m_cfg.loops.push_back(std::move(loop));
                }
                Loop& loop = m_cfg.loops[it->second];
                std::vector<std::size_t> work{b};
                while (!work.empty()) {
                    const std::size_t x = work.back();
                    work.pop_back();
                    if (loop.contains[x]) {
                        continue;
                    }
                    loop.contains[x] = true;
                    loop.body.push_back(x);
                    for (const std::size_t p : m_cfg.blocks[x].predecessors) {
                        if (m_cfg.blocks[p].order != kNone) {
                            work.push_back(p);
                        }
                    }
                }
            }
        }
        // Innermost first; each block's innermost loop; each loop's parent.
        std::vector<std::size_t> index(m_cfg.loops.size());
        for (std::size_t i = 0; i < index.size(); ++i) {
            index[i] = i;
        }
        std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) {
            return m_cfg.loops[a].body.size() < m_cfg.loops[b].body.size();
        });
        std::vector<Loop> sorted;
        for (const std::size_t i : index) {
            sorted.push_back(std::move(m_cfg.loops[i]));
        }
        m_cfg.loops = std::move(sorted);
        for (std::size_t l = 0; l < m_cfg.loops.size(); ++l) {
            for (const std::size_t b : m_cfg.loops[l].body) {
                if (m_cfg.blocks[b].loop == kNone) {
                    m_cfg.blocks[b].loop = l;
                }
            }
            for (std::size_t outer = l + 1; outer < m_cfg.loops.size(); ++outer) {
                if (m_cfg.loops[outer].contains[m_cfg.loops[l].head]) {
                    m_cfg.loops[l].parent = outer;
                    break;
                }
            }
        }
    }

    std::span<const isa::Instruction> m_code;
    Cfg m_cfg;
};

} // namespace

Cfg build_cfg(std::span<const isa::Instruction> code) { return Builder(code).build(); }

} // namespace embpf::verifier::detail
