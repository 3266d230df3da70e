// The analysis: a worklist fixpoint over the graph (joins at merge points, widening at loop heads), one descending
// step, then a final pass that checks every instruction, counts loop iterations and assembles the report.
#include "embpf/verifier/verifier.hpp"

#include "cfg.hpp"
#include "facts.hpp"
#include "semantics.hpp"

#include "embpf/isa/decode.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <set>
#include <tuple>

namespace embpf::verifier {

namespace {

using namespace detail;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);
// Visits of a loop head that join before widening starts.
constexpr std::size_t kJoinsBeforeWidening = 2;

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > ~std::uint64_t{0} - b ? ~std::uint64_t{0} : a + b;
}
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    if (a != 0 && b > ~std::uint64_t{0} / a) {
        return ~std::uint64_t{0};
    }
    return a * b;
}

// Whether the last instruction of `block` that writes register r moves a constant into it.
bool sets_constant(std::span<const isa::Instruction> code, const Block& block, std::uint8_t r) {
    bool constant = false;
    for (std::size_t pc = block.first; pc <= block.last; pc += isa::is_lddw(code[pc]) ? 2 : 1) {
        const isa::Instruction& ins = code[pc];
        const std::uint8_t cls = isa::op_class(ins.opcode);
        if (ins.opcode == isa::op::CALL_OP) {
            if (r <= 5) {
                constant = false;
            }
        } else if ((cls == isa::op::ALU || cls == isa::op::ALU64 || cls == isa::op::LDX || cls == isa::op::LD) &&
                   ins.dst == r) {
            constant = (cls == isa::op::ALU || cls == isa::op::ALU64) && isa::op_code(ins.opcode) == isa::op::MOV &&
                       isa::op_source(ins.opcode) == isa::op::K && ins.offset == 0;
        }
    }
    return constant;
}

// The register whose value at the block's entry the value of `r` at its last instruction comes from, through copies
// and operations with constants (`r4 <<= 32; r1 = r4; r1 >>= 32; if r1 == 0`: r4), or nullopt when anything else
// writes it first.
std::optional<std::uint8_t> entry_register(std::span<const isa::Instruction> code, const Block& block, std::uint8_t r) {
    std::vector<std::size_t> pcs;
    for (std::size_t pc = block.first; pc < block.last; pc += isa::is_lddw(code[pc]) ? 2 : 1) {
        pcs.push_back(pc);
    }
    for (auto it = pcs.rbegin(); it != pcs.rend(); ++it) {
        const isa::Instruction& ins = code[*it];
        const std::uint8_t cls = isa::op_class(ins.opcode);
        if (ins.opcode == isa::op::CALL_OP) {
            if (r <= 5) {
                return std::nullopt;
            }
            continue;
        }
        if ((cls == isa::op::LDX || cls == isa::op::LD) && ins.dst == r) {
            return std::nullopt;
        }
        if ((cls != isa::op::ALU && cls != isa::op::ALU64) || ins.dst != r) {
            continue;
        }
        const bool from_register = isa::op_source(ins.opcode) == isa::op::X;
        if (isa::op_code(ins.opcode) == isa::op::MOV) {
            if (!from_register || ins.offset != 0) {
                return std::nullopt; // a constant (or a sign extension)
            }
            r = ins.src;
        } else if (from_register) {
            return std::nullopt;
        }
    }
    return r;
}

// The argument registers (r1-r5) that a helper call in `block` reads as they were at the block's entry: a size set to
// a constant on each path into the block (`r2 = 23; goto print` and `r2 = 17; goto print`, each after writing as many
// bytes of a buffer) tells how much of the buffer that path wrote. Likewise the registers a 64-bit addition or
// subtraction reads as the block's entry had them: an offset set on each path (`r1 = 8` or `r1 = 24`, then
// `r2 += r1`) stays two aligned offsets, not every number between.
std::vector<std::uint8_t> entry_operands(std::span<const isa::Instruction> code, const Block& block) {
    std::vector<std::uint8_t> out;
    std::array<bool, isa::kRegisterCount> written{};
    for (std::size_t pc = block.first; pc <= block.last; pc += isa::is_lddw(code[pc]) ? 2 : 1) {
        const isa::Instruction& ins = code[pc];
        const std::uint8_t cls = isa::op_class(ins.opcode);
        if (ins.opcode == isa::op::CALL_OP) {
            if (ins.src == static_cast<std::uint8_t>(isa::CallSource::helper)) {
                for (std::uint8_t r = 1; r <= 5; ++r) {
                    if (!written[r] && std::find(out.begin(), out.end(), r) == out.end()) {
                        out.push_back(r);
                    }
                }
            }
            for (std::uint8_t r = 0; r <= 5; ++r) {
                written[r] = true;
            }
        } else if ((cls == isa::op::ALU || cls == isa::op::ALU64 || cls == isa::op::LDX || cls == isa::op::LD) &&
                   ins.dst < written.size()) {
            if (cls == isa::op::ALU64 && isa::op_source(ins.opcode) == isa::op::X &&
                (isa::op_code(ins.opcode) == isa::op::ADD || isa::op_code(ins.opcode) == isa::op::SUB) &&
                ins.src < written.size() && !written[ins.src] &&
                std::find(out.begin(), out.end(), ins.src) == out.end()) {
                out.push_back(ins.src);
            }
            written[ins.dst] = true;
        }
    }
    return out;
}

// The registers live at each block's entry: read on some path before anything writes them. A state entering a block
// forgets the others (they become uninitialized), so that states differing only in registers no path reads again are
// one state, and the zones hold fewer variables. Uses are taken wide and writes narrow, so that a mistake here can
// only make a register uninitialized where the program reads it, a refusal, never a wrong acceptance: every helper
// call reads the arguments its prototype names (all five when the platform has no prototype), a call to a
// subprogram reads r1-r9 (its caller's r6-r9 are restored after it), atomics write nothing.
using RegisterSet = std::uint16_t;

std::vector<RegisterSet> live_registers(const Cfg& cfg, std::span<const isa::Instruction> code,
                                        const platform::Platform& platform, const platform::ProgramType& type) {
    constexpr RegisterSet kArguments = 0x3E; // r1-r5
    const auto bit = [](unsigned r) { return static_cast<RegisterSet>(r < 11 ? 1U << r : 0U); };
    std::vector<RegisterSet> use(cfg.blocks.size(), 0);
    std::vector<RegisterSet> def(cfg.blocks.size(), 0);
    for (std::size_t b = 0; b < cfg.blocks.size(); ++b) {
        std::vector<std::size_t> pcs;
        for (std::size_t pc = cfg.blocks[b].first; pc <= cfg.blocks[b].last; pc += isa::is_lddw(code[pc]) ? 2 : 1) {
            pcs.push_back(pc);
        }
        RegisterSet u = 0; // backwards: reads before writes of the part after pc
        RegisterSet d = 0;
        for (auto it = pcs.rbegin(); it != pcs.rend(); ++it) {
            const isa::Instruction& ins = code[*it];
            const std::uint8_t cls = isa::op_class(ins.opcode);
            RegisterSet reads = 0;
            RegisterSet writes = 0;
            if (isa::is_alu(ins.opcode)) {
                writes = bit(ins.dst);
                if (isa::op_code(ins.opcode) != isa::op::MOV) {
                    reads |= bit(ins.dst);
                }
                if (isa::op_source(ins.opcode) == isa::op::X) {
                    reads |= bit(ins.src);
                }
            } else if (cls == isa::op::LDX) {
                reads = bit(ins.src);
                writes = bit(ins.dst);
            } else if (cls == isa::op::ST) {
                reads = bit(ins.dst);
            } else if (cls == isa::op::STX) {
                reads = bit(ins.dst) | bit(ins.src);
                if (isa::op_mode(ins.opcode) == isa::op::ATOMIC) {
                    reads |= bit(0); // cmpxchg reads r0; an atomic's writes (fetch, r0) are left out
                }
            } else if (isa::is_lddw(ins)) {
                writes = bit(ins.dst);
            } else if (cls == isa::op::LD) {
                reads = bit(6); // LD_ABS/LD_IND read the context in r6, LD_IND its index
                if (isa::op_mode(ins.opcode) == isa::op::IND) {
                    reads |= bit(ins.src);
                }
                writes = bit(0);
            } else if (ins.opcode == isa::op::EXIT_OP) {
                reads = bit(0);
            } else if (ins.opcode == isa::op::CALL_OP || ins.opcode == isa::op::CALLX_OP) {
                if (ins.opcode == isa::op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::helper)) {
                    const platform::HelperPrototype* helper =
                        platform.helper(type, static_cast<std::uint32_t>(ins.imm));
                    reads = helper == nullptr ? kArguments : 0;
                    for (unsigned a = 0; helper != nullptr && a < helper->args.size(); ++a) {
                        if (helper->args[a] == platform::ArgKind::none) {
                            break;
                        }
                        reads |= bit(a + 1);
                    }
                    writes = bit(0) | kArguments;
                } else {
                    reads = 0x3FE | bit(ins.dst); // r1-r9, and callx's target
                }
            } else if (isa::is_jmp(ins.opcode) && isa::is_branch(ins.opcode) && ins.opcode != isa::op::JA_OP &&
                       ins.opcode != isa::op::JA32_OP) {
                reads = bit(ins.dst);
                if (isa::op_source(ins.opcode) == isa::op::X) {
                    reads |= bit(ins.src);
                }
            }
            u = static_cast<RegisterSet>((u & ~writes) | reads);
            d = static_cast<RegisterSet>(d | writes);
        }
        use[b] = u;
        def[b] = d;
    }
    std::vector<RegisterSet> live(cfg.blocks.size(), 0);
    for (bool changed = true; changed;) {
        changed = false;
        for (auto it = cfg.rpo.rbegin(); it != cfg.rpo.rend(); ++it) {
            const std::size_t b = *it;
            RegisterSet out = 0;
            for (const Edge& edge : cfg.blocks[b].successors) {
                out |= live[edge.to];
            }
            const auto in = static_cast<RegisterSet>(use[b] | (out & ~def[b]));
            if (in != live[b]) {
                live[b] = in;
                changed = true;
            }
        }
    }
    return live;
}

class Analysis {
  public:
    Analysis(const Cfg& cfg, std::span<const isa::Instruction> code, Semantics& semantics, const Options& options,
             std::vector<RegisterSet> live)
        : m_cfg(cfg), m_code(code), m_sem(semantics), m_options(options), m_live(std::move(live)),
          m_in(cfg.blocks.size()), m_visits(cfg.blocks.size()), m_iterations(cfg.loops.size(), 0),
          m_call_cost(cfg.blocks.size(), 0) {
        t_zone_overflow = false; // no zone of this analysis is over kMaxZoneVars yet
        if (options.facts) {
            m_facts.resize(code.size());
        }
        m_loop_of_head.assign(cfg.blocks.size(), kNone);
        // Widening stops at the constants the program compares with (and their neighbours) before giving up a
        // bound: `for (i = 0; i != 64; i++)` keeps i <= 63. Then at bounds that keep counters from wrapping.
        m_thresholds = {-1, 0, 1, 0xFFFF, 0xFFFFFFFFLL, Bound{1} << 62};
        for (const isa::Instruction& ins : code) {
            const std::uint8_t cls = isa::op_class(ins.opcode);
            if ((cls == isa::op::JMP || cls == isa::op::JMP32) && isa::is_branch(ins.opcode) &&
                isa::op_source(ins.opcode) == isa::op::K && ins.opcode != isa::op::JA_OP) {
                for (const Bound d : {Bound{-1}, Bound{0}, Bound{1}}) {
                    m_thresholds.push_back(Bound{ins.imm} + d);
                    m_thresholds.push_back(-(Bound{ins.imm} + d)); // lower bounds are stored negated
                }
            }
        }
        std::sort(m_thresholds.begin(), m_thresholds.end());
        m_thresholds.erase(std::unique(m_thresholds.begin(), m_thresholds.end()), m_thresholds.end());
        for (std::size_t l = 0; l < cfg.loops.size(); ++l) {
            m_loop_of_head[cfg.loops[l].head] = l;
        }
        // A helper call that runs a callback heads the loop through it. Its counter counts the callback's calls when
        // nothing else jumps back to the call, and the helper's limit bounds it (Semantics::enter_callback).
        m_callback_counter.resize(cfg.blocks.size());
        for (std::size_t b = 0; b < cfg.blocks.size(); ++b) {
            const std::size_t l = m_loop_of_head[b];
            if (l == kNone || !cfg.callbacks.contains(cfg.blocks[b].last)) {
                continue;
            }
            const bool only_callbacks =
                std::all_of(cfg.blocks[b].predecessors.begin(), cfg.blocks[b].predecessors.end(), [&](std::size_t p) {
                    return std::all_of(
                        cfg.blocks[p].successors.begin(), cfg.blocks[p].successors.end(),
                        [&](const Edge& e) { return e.to != b || !e.back || e.kind == EdgeKind::callback_ret; });
                });
            if (only_callbacks) {
                m_callback_counter[b] = loop_var(l);
            }
        }
        // A flag set to a constant on the paths into a block whose closing conditional jump tests it (`r3 = 0` after
        // a packet check, `r3 = -22` after its failure, then `if r3 != 0`) partitions the states entering the block:
        // joined, the packet fact would no longer follow the flag. Not inside loops, where states kept apart and
        // joined again by the limit on shapes change from one round to the next and the analysis would not converge,
        // nor for registers no predecessor sets to a constant (a chain of `if r1 == K` tests).
        // Likewise the registers a helper call or a 64-bit add or subtract in the block reads as the block's entry
        // had them (entry_operands): a size set per path, each having written as many bytes; an offset set per path.
        m_partition.resize(cfg.blocks.size());
        for (std::size_t b = 0; b < cfg.blocks.size(); ++b) {
            if (cfg.blocks[b].loop != kNone) {
                continue;
            }
            auto partition_on = [&](std::optional<std::uint8_t> r) {
                if (r &&
                    std::any_of(cfg.blocks[b].predecessors.begin(), cfg.blocks[b].predecessors.end(),
                                [&](std::size_t p) { return sets_constant(code, cfg.blocks[p], *r); }) &&
                    std::find(m_partition[b].begin(), m_partition[b].end(), reg_var(*r)) == m_partition[b].end()) {
                    m_partition[b].push_back(reg_var(*r));
                }
            };
            for (const std::uint8_t r : entry_operands(code, cfg.blocks[b])) {
                partition_on(r);
            }
            const isa::Instruction& last = code[cfg.blocks[b].last];
            const std::uint8_t cls = isa::op_class(last.opcode);
            if ((cls != isa::op::JMP && cls != isa::op::JMP32) || !isa::is_branch(last.opcode) ||
                last.opcode == isa::op::JA_OP || last.opcode == isa::op::JA32_OP) {
                continue;
            }
            // The flag may reach the test through copies and shifts (`r1 = r4; r1 <<= 32; r1 >>= 32`): the register
            // it comes from at the block's entry partitions.
            partition_on(entry_register(code, cfg.blocks[b], last.dst));
            if (isa::op_source(last.opcode) == isa::op::X && last.src != last.dst) {
                partition_on(entry_register(code, cfg.blocks[b], last.src));
            }
        }
    }

    void run() {
        m_in[0].push_back(m_sem.initial());
        std::set<std::size_t> work{0}; // by reverse-postorder index
        std::size_t steps = 0;
        const std::size_t limit = 64 * m_cfg.blocks.size() + 1000;
        while (!work.empty()) {
            const std::size_t b = m_cfg.rpo[*work.begin()];
            work.erase(work.begin());
            if (++steps > limit) {
                m_findings.push_back({m_cfg.blocks[b].first, "The analysis did not converge", ""});
                break;
            }
            if (over_memory(b, m_bytes)) {
                return;
            }
            if (over_budget(b)) {
                return;
            }
            auto outs = transfer(b);
            if (over_budget(b)) {
                return;
            }
            for (std::size_t e = 0; e < outs.size(); ++e) {
                const Edge& edge = m_cfg.blocks[b].successors[e];
                if (outs[e].empty()) {
                    continue;
                }
                if (propagate(edge.to, std::move(outs[e]))) {
                    work.insert(m_cfg.blocks[edge.to].order);
                }
            }
        }
        // One descending step: every block's input recomputed from its predecessors' outputs, without widening.
        std::vector<States> next(m_cfg.blocks.size());
        next[0].push_back(m_sem.initial());
        std::size_t next_bytes = footprint(next[0]); // kept beside m_in until the step ends
        for (const std::size_t b : m_cfg.rpo) {
            if (m_in[b].empty()) {
                continue;
            }
            if (over_memory(b, m_bytes + next_bytes) || over_budget(b)) {
                return;
            }
            auto outs = transfer(b);
            if (over_budget(b)) {
                return;
            }
            for (std::size_t e = 0; e < outs.size(); ++e) {
                for (State& s : outs[e]) {
                    const std::size_t to = m_cfg.blocks[b].successors[e].to;
                    forget_dead(s, to);
                    s.zone.compact();
                    const std::size_t before = footprint(next[to]);
                    add_state(next[to], std::move(s), m_partition[to], m_cfg.blocks[to].loop != kNone,
                              m_sem.alike_maps());
                    keep(next_bytes, before, footprint(next[to]));
                }
            }
        }
        m_in = std::move(next);
        m_bytes = next_bytes;
        // The checking pass.
        m_sem.set_sink(&m_findings);
        m_checking = true;
        for (const std::size_t b : m_cfg.rpo) {
            if (!m_in[b].empty()) {
                if (over_budget(b)) {
                    m_sem.set_sink(nullptr);
                    m_checking = false;
                    return;
                }
                (void)transfer(b);
                if (over_budget(b)) {
                    m_sem.set_sink(nullptr);
                    m_checking = false;
                    return;
                }
            }
        }
        m_sem.set_sink(nullptr);
        m_checking = false;
    }

    // The states kept per block grow with the blocks and the square of the variables (a stack written byte by byte
    // has hundreds): past the budget the program is refused before it costs the host its memory.
    bool over_memory(std::size_t b, std::size_t bytes) {
        if (t_zone_overflow) {
            m_findings.push_back({m_cfg.blocks[b].first, "Program is too large to analyse",
                                  "related variables <= " + std::to_string(kMaxZoneVars)});
            m_too_large = true;
            return true;
        }
        if (bytes <= m_options.memory_limit) {
            return false;
        }
        m_findings.push_back({m_cfg.blocks[b].first, "Program is too large to analyse",
                              "analysis states <= " + std::to_string(m_options.memory_limit) + " bytes"});
        m_too_large = true;
        return true;
    }

    // The analysis' time: each quadratic step on its relations counts (t_zone_work). Past the budget the program is
    // refused before it keeps the host's loader for minutes.
    bool over_budget(std::size_t b) {
        if (m_options.work_limit == 0 || t_zone_work - m_work_start <= m_options.work_limit) {
            return false;
        }
        m_findings.push_back({m_cfg.blocks[b].first, "Program is too complex to analyse",
                              "analysis work <= " + std::to_string(m_options.work_limit)});
        m_too_large = true;
        return true;
    }

    [[nodiscard]] std::vector<Finding>& findings() { return m_findings; }
    [[nodiscard]] const std::vector<std::string>& states() const { return m_states; }
    /// Options::facts: by pc, the join of the facts of every state the checking pass ran the instruction in.
    [[nodiscard]] std::vector<InstructionFacts>& facts() { return m_facts; }
    void set_exact_maps(std::vector<bool> exact) { m_exact_maps = std::move(exact); }
    [[nodiscard]] bool reached(std::size_t b) const { return !m_in[b].empty(); }

    struct Bounds {
        std::uint64_t instructions = 0; ///< helper calls counted as one instruction
        std::uint64_t cost = 0;         ///< helper calls counted as platform::helper_call_cost
    };

    /// The most instructions a run executes, and what it costs, or nullopt with findings for the loops without a
    /// bound.
    std::optional<Bounds> bounds() {
        bool bounded = true;
        for (std::size_t l = 0; l < m_cfg.loops.size(); ++l) {
            if (reached(m_cfg.loops[l].head) && m_iterations[l] == ~std::uint64_t{0}) {
                const std::size_t pc = m_cfg.blocks[m_cfg.loops[l].head].first;
                m_findings.push_back({pc, "Loop at " + std::to_string(pc) + " has no bound on its iterations",
                                      "iterations(" + std::to_string(pc) + ") < infinity"});
                bounded = false;
            }
        }
        if (!bounded) {
            return std::nullopt;
        }
        auto bound = [&](bool calls) {
            std::vector<std::uint64_t> cost(m_cfg.loops.size(), 0);
            for (std::size_t l = 0; l < m_cfg.loops.size(); ++l) {
                const std::uint64_t path = longest(l, cost, calls);
                cost[l] = saturating_mul(saturating_add(m_iterations[l], 1), path);
            }
            return longest(kNone, cost, calls);
        };
        return Bounds{bound(false), bound(true)};
    }

  private:
    // The loop directly inside `region` (kNone: the program) that holds block b, or kNone when b is in none.
    std::size_t child_loop(std::size_t b, std::size_t region) const {
        std::size_t l = m_cfg.blocks[b].loop;
        std::size_t child = kNone;
        while (l != kNone && l != region) {
            child = l;
            l = m_cfg.loops[l].parent;
        }
        return child;
    }

    // The longest path through a loop's body from its head (or through the program from its entry), inner loops
    // counted at their cost, helper calls at theirs when `calls` (else as one instruction).
    // A loop's blocks only are visited (the bodies of all loops together are bounded, the loops times the blocks are
    // not: 32,000 loops in a row once took 11 s).
    std::uint64_t longest(std::size_t region, const std::vector<std::uint64_t>& cost, bool calls) {
        auto inside = [&](std::size_t b) { return region == kNone || m_cfg.in_loop(region, b); };
        const std::size_t head = region == kNone ? 0 : m_cfg.loops[region].head;
        const std::vector<std::size_t>& blocks = region == kNone ? m_cfg.rpo : m_cfg.loops[region].body;
        std::vector<std::uint64_t>& dist = m_dist;
        dist.resize(m_cfg.blocks.size());
        for (const std::size_t b : blocks) {
            dist[b] = 0;
        }
        std::uint64_t best = 0;
        for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
            const std::size_t b = *it;
            if (!reached(b) || !inside(b)) {
                continue;
            }
            const std::size_t child = (region != kNone && b == head) ? kNone : child_loop(b, region);
            std::uint64_t weight = 0;
            std::uint64_t after = 0;
            auto follow = [&](const Edge& edge) {
                if (!reached(edge.to) || !inside(edge.to) || (edge.back && edge.to == head && region != kNone)) {
                    return;
                }
                std::size_t to = edge.to;
                const std::size_t inner = child_loop(to, region);
                if (inner != kNone) {
                    to = m_cfg.loops[inner].head;
                }
                after = std::max(after, dist[to]);
            };
            if (child != kNone) {
                if (m_cfg.loops[child].head != b) {
                    continue; // inside an inner loop: its head stands for it
                }
                weight = cost[child];
                for (const std::size_t x : m_cfg.loops[child].body) {
                    if (!reached(x)) {
                        continue;
                    }
                    for (const Edge& edge : m_cfg.blocks[x].successors) {
                        if (!m_cfg.in_loop(child, edge.to)) {
                            follow(edge);
                        }
                    }
                }
            } else {
                weight = saturating_add(m_cfg.blocks[b].weight, calls ? m_call_cost[b] : 0);
                for (const Edge& edge : m_cfg.blocks[b].successors) {
                    follow(edge);
                }
            }
            dist[b] = saturating_add(weight, after);
            if (b == head) {
                best = dist[b];
            }
        }
        return best;
    }

    // Runs block b on each of its input states; the states leaving by each successor edge.
    std::vector<States> transfer(std::size_t b) {
        const Block& block = m_cfg.blocks[b];
        std::vector<States> outs(block.successors.size());
        for (const State& input : m_in[b]) {
            State s = input;
            // What the block's helper calls cost beyond an instruction each, from this state: the most any state
            // costs is the block's (a run passes through the block in a state one of them describes).
            std::uint64_t call_cost = 0;
            m_sem.set_cost_sink(m_checking ? &call_cost : nullptr);
            std::size_t pc = block.first;
            for (;; pc += isa::is_lddw(m_code[pc]) ? 2 : 1) {
                trace(pc, "before", s);
                if (m_checking && !m_facts.empty()) {
                    join_facts(m_facts[pc], facts_of(s, m_exact_maps));
                }
                if (pc == block.last) {
                    break;
                }
                m_sem.step(s, pc);
                trace(pc, "after", s);
                if (s.bottom()) {
                    break;
                }
                if (m_options.work_limit != 0 && t_zone_work - m_work_start > m_options.work_limit) {
                    m_sem.set_cost_sink(nullptr);
                    return std::vector<States>(block.successors.size()); // over budget: the caller stops
                }
            }
            if (s.bottom()) {
                m_sem.set_cost_sink(nullptr);
                m_call_cost[b] = std::max(m_call_cost[b], call_cost);
                continue;
            }
            const isa::Instruction& ins = m_code[pc];
            for (std::size_t e = 0; e < block.successors.size(); ++e) {
                const Edge& edge = block.successors[e];
                // The last edge takes the block's state itself (nothing reads it after): one copy fewer.
                State out = e + 1 == block.successors.size() ? std::move(s) : s;
                switch (edge.kind) {
                case EdgeKind::taken: m_sem.assume(out, pc, true); break;
                case EdgeKind::not_taken: m_sem.assume(out, pc, false); break;
                case EdgeKind::call: m_sem.enter_call(out, pc); break;
                case EdgeKind::ret: m_sem.leave_call(out, pc); break;
                case EdgeKind::callback: m_sem.enter_callback(out, pc, m_callback_counter[b]); break;
                case EdgeKind::callback_ret: m_sem.leave_callback(out, pc); break;
                case EdgeKind::fallthrough:
                    if (ins.opcode != isa::op::JA_OP && ins.opcode != isa::op::JA32_OP) {
                        m_sem.step(out, pc);
                    }
                    break;
                }
                if (out.bottom()) {
                    continue;
                }
                enter_edge(out, b, edge);
                trace(pc, "after, to " + std::to_string(m_cfg.blocks[edge.to].first), out);
                if (!out.bottom()) {
                    outs[e].push_back(std::move(out));
                }
            }
            if (block.successors.empty()) {
                if (ins.opcode == isa::op::EXIT_OP && block.frame == 0) {
                    m_sem.check_exit(s, pc);
                } else if (ins.opcode != isa::op::EXIT_OP) {
                    m_sem.step(s, pc); // a call refused for its depth, or the last instruction
                }
            }
            m_sem.set_cost_sink(nullptr);
            m_call_cost[b] = std::max(m_call_cost[b], call_cost);
        }
        return outs;
    }

    void trace(std::size_t pc, const std::string& when, const State& s) {
        if (m_checking && m_options.level == Level::verbose) {
            m_states.push_back(std::to_string(pc) + " " + when + ": " + to_string(s));
        }
    }

    // Loop counters along an edge: reset entering a loop, counted on its back edge, dropped leaving it. Each loop has
    // two: one counting up and one counting down, so that both `i += 1` and `n -= 1` loops relate their variable to a
    // counter by a difference (i - up and n - down stay constant).
    void enter_edge(State& s, std::size_t from, const Edge& edge) {
        // The loops around `from` but not around `to`: below their innermost common loop.
        std::size_t left = m_cfg.blocks[from].loop;
        std::size_t kept = m_cfg.blocks[edge.to].loop;
        auto depth = [&](std::size_t l) { return l == kNone ? 0 : m_cfg.loops[l].depth; };
        while (depth(kept) > depth(left)) {
            kept = m_cfg.loops[kept].parent;
        }
        while (left != kept) {
            if (depth(left) > depth(kept)) {
                s.zone.forget(loop_var(left));
                s.zone.forget(loop_down_var(left));
                left = m_cfg.loops[left].parent;
            } else {
                kept = m_cfg.loops[kept].parent;
            }
        }
        const std::size_t l = m_loop_of_head[edge.to];
        if (l == kNone) {
            return;
        }
        if (edge.back) {
            s.zone.assign(loop_var(l), loop_var(l), 1);
            s.zone.assign(loop_down_var(l), loop_down_var(l), -1);
            if (m_checking) {
                const Bound up = s.zone.interval(loop_var(l)).hi;
                const Bound down = s.zone.interval(loop_down_var(l)).lo;
                const Bound count = std::min(up, down == kNegInf ? kInf : -down);
                m_iterations[l] =
                    std::max(m_iterations[l],
                             count == kInf ? ~std::uint64_t{0} : static_cast<std::uint64_t>(std::max<Bound>(count, 0)));
            }
        } else {
            s.zone.set(loop_var(l), {0, 0});
            s.zone.set(loop_down_var(l), {0, 0});
        }
    }

    // Registers no path from block t reads before writing become uninitialized as a state enters t.
    void forget_dead(State& s, std::size_t t) const {
        for (int r = 0; r < 10; ++r) {
            if ((m_live[t] & (1U << r)) == 0 && s.regs[r].kind != Kind::uninit) {
                s.regs[r] = {};
                s.zone.forget(reg_var(r));
            }
        }
    }

    // Joins `incoming` into block t's input; true when it grew.
    bool propagate(std::size_t t, States incoming) {
        States merged = m_in[t];
        for (State& s : incoming) {
            forget_dead(s, t);
            add_state(merged, std::move(s), m_partition[t], m_cfg.blocks[t].loop != kNone, m_sem.alike_maps());
        }
        if (m_loop_of_head[t] != kNone && ++m_visits[t] > kJoinsBeforeWidening) {
            for (State& s : merged) {
                for (const State& old : m_in[t]) {
                    if (old.same_shape(s)) {
                        // The counters of the loops around this one do not change in it: their bounds come from
                        // the entry and are kept as joined (widened, a callback's counter, bounded only where its
                        // loop calls back, would lose its bound inside an inner loop for good).
                        std::vector<std::pair<Var, Interval>> outer;
                        for (std::size_t l = m_cfg.loops[m_loop_of_head[t]].parent; l != kNone;
                             l = m_cfg.loops[l].parent) {
                            outer.emplace_back(loop_var(l), s.zone.interval(loop_var(l)));
                            outer.emplace_back(loop_down_var(l), s.zone.interval(loop_down_var(l)));
                        }
                        s = widen(old, s, m_thresholds, m_sem.alike_maps());
                        for (const auto& [var, bounds] : outer) {
                            if (bounds.hi != kInf) {
                                s.zone.constrain(var, kZero, bounds.hi);
                            }
                            if (bounds.lo != kNegInf) {
                                s.zone.constrain(kZero, var, -bounds.lo);
                            }
                        }
                        break;
                    }
                }
            }
        }
        if (merged == m_in[t]) {
            return false;
        }
        for (State& s : merged) {
            s.zone.compact(); // kept until the analysis ends: no spare room
        }
        keep(m_bytes, footprint(m_in[t]), footprint(merged));
        m_in[t] = std::move(merged);
        return true;
    }

    // The bytes a block's states keep: each state, its zone's matrix, its cells and caller frames, and what each of
    // those four allocations costs the allocator.
    static std::size_t footprint(const States& states) {
        constexpr std::size_t kAllocation = 16;
        std::size_t bytes = 0;
        for (const State& s : states) {
            bytes += sizeof(State) + s.zone.bytes() + s.cells.capacity() * sizeof(Cell) +
                     s.saved.capacity() * sizeof(s.saved[0]) + 4 * kAllocation;
        }
        return bytes;
    }

    // Memory the analysis keeps costs more than its copy: its pages are fresh. Bytes kept count once more in the work
    // (a unit per 8 bytes, as a copy counts a unit per entry).
    static void keep(std::size_t& kept, std::size_t before, std::size_t after) {
        if (after > before) {
            t_zone_work += (after - before) / sizeof(Bound);
        }
        kept = kept - before + after;
    }

    const Cfg& m_cfg;
    std::span<const isa::Instruction> m_code;
    Semantics& m_sem;
    const Options& m_options;
    std::vector<RegisterSet> m_live; // by block: the registers live at its entry
    std::vector<States> m_in;
    std::vector<std::size_t> m_visits;
    std::vector<std::size_t> m_loop_of_head;
    std::vector<std::optional<Var>> m_callback_counter; // by block: a callback loop's counter (see the constructor)
    std::vector<std::vector<Var>> m_partition;          // by block: the variables its closing branch tests
    std::vector<std::uint64_t> m_iterations;
    std::vector<std::uint64_t> m_call_cost; // by block: its helper calls' cost beyond an instruction each
    std::vector<Bound> m_thresholds;
    std::vector<Finding> m_findings;
    std::vector<std::string> m_states;
    std::vector<InstructionFacts> m_facts; // Options::facts, by pc
    std::vector<bool> m_exact_maps;        // facts: the maps a map's index names exactly (exact_maps)
    bool m_checking = false;
    std::size_t m_bytes = 0;           // footprint() of m_in
    bool m_too_large = false;          // the memory or work budget stopped the analysis: no result but the refusal
    std::vector<std::uint64_t> m_dist; // longest()'s distances, by block
    std::uint64_t m_work_start = t_zone_work; // Options::work_limit counts t_zone_work from here

  public:
    [[nodiscard]] bool too_large() const noexcept { return m_too_large; }
    [[nodiscard]] std::uint64_t work() const noexcept { return t_zone_work - m_work_start; }
};

// A report names at most this many errors and as many warnings: a program may fail at every instruction.
constexpr std::size_t kMaxDiagnostics = 1000;
// Of a source line and its file, a diagnostic keeps at most this many bytes (BTF strings may be megabytes long).
constexpr std::size_t kMaxSourceBytes = 1024;

// The line an instruction comes from: the last record at or before it (with a line number), by bisection when the
// records are in instruction order (as the ELF reader gives them).
std::optional<btf::LineInfo> source_of(std::span<const btf::LineInfo> lines, bool sorted, std::size_t pc) {
    const btf::LineInfo* best = nullptr;
    if (sorted) {
        auto it = std::upper_bound(lines.begin(), lines.end(), pc,
                                   [](std::size_t at, const btf::LineInfo& line) { return at < line.insn; });
        while (it != lines.begin()) {
            --it;
            if (it->line != 0) {
                best = &*it;
                break;
            }
        }
    } else {
        for (const btf::LineInfo& line : lines) {
            if (line.insn <= pc && line.line != 0 && (best == nullptr || line.insn >= best->insn)) {
                best = &line;
            }
        }
    }
    if (best == nullptr) {
        return std::nullopt;
    }
    btf::LineInfo out;
    out.insn = best->insn;
    out.line = best->line;
    out.column = best->column;
    auto cut = [](const std::string& text) {
        return text.size() <= kMaxSourceBytes ? text : text.substr(0, kMaxSourceBytes) + "...";
    };
    out.file = cut(best->file);
    out.source = cut(best->source);
    return out;
}

// `externs`: the lddws of values the host gives at load (elf::ExternReference), which only object files have.
Report verify_program(const ProgramInput& input, std::span<const elf::ExternReference> externs,
                      const platform::Platform& platform, const platform::ProgramType& type, const Options& options) {
    const auto start = std::chrono::steady_clock::now();
    Report report;
    report.program = input.name;
    report.section = input.section;
    report.type = type.name;
    auto finish = [&]() -> Report {
        for (std::vector<Diagnostic>* list : {&report.errors, &report.warnings}) {
            std::sort(list->begin(), list->end(), [](const Diagnostic& a, const Diagnostic& b) {
                return std::tie(a.pc, a.message, a.assertion) < std::tie(b.pc, b.message, b.assertion);
            });
            list->erase(std::unique(list->begin(), list->end(),
                                    [](const Diagnostic& a, const Diagnostic& b) {
                                        return a.pc == b.pc && a.message == b.message && a.assertion == b.assertion;
                                    }),
                        list->end());
        }
        for (std::vector<Diagnostic>* list : {&report.errors, &report.warnings}) {
            if (list->size() > kMaxDiagnostics) {
                const std::size_t more = list->size() - kMaxDiagnostics;
                const std::size_t pc = (*list)[kMaxDiagnostics].pc;
                list->resize(kMaxDiagnostics);
                list->push_back({pc, "And " + std::to_string(more) + " more", "", std::nullopt});
            }
        }
        const bool sorted =
            std::is_sorted(input.lines.begin(), input.lines.end(),
                           [](const btf::LineInfo& a, const btf::LineInfo& b) { return a.insn < b.insn; });
        for (Diagnostic& d : report.errors) {
            d.source = source_of(input.lines, sorted, d.pc);
        }
        for (Diagnostic& d : report.warnings) {
            d.source = source_of(input.lines, sorted, d.pc);
        }
        report.verified = report.errors.empty();
        if (!report.verified) {
            report.instruction_bound.reset();
            report.cost_bound.reset();
        }
        report.duration =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
        return std::move(report);
    };
    const std::span<const isa::Instruction> code = input.instructions;
    if (code.empty()) {
        report.errors.push_back({0, "The program has no instructions", "", std::nullopt});
        return finish();
    }
    if (auto valid = isa::validate(code); !valid) {
        report.errors.push_back({valid.error().pc.value_or(0), valid.error().message, "", std::nullopt});
        return finish();
    }
    // Which lddw loads which map.
    std::vector<std::optional<MapLoad>> loads(code.size());
    for (const elf::MapReference& ref : input.map_references) {
        if (ref.instruction >= code.size() || ref.map >= input.maps.size()) {
            report.errors.push_back({std::min(ref.instruction, code.size() - 1), "lddw refers to no map of the program",
                                     "map reference", std::nullopt});
            continue;
        }
        loads[ref.instruction] = MapLoad{ref.map, ref.value, ref.offset};
    }
    if (input.map_references.empty()) {
        for (std::size_t pc = 0; pc + 1 < code.size(); ++pc) {
            if (!isa::is_lddw(code[pc])) {
                continue;
            }
            const auto src = static_cast<isa::LddwSource>(code[pc].src);
            const bool map = src == isa::LddwSource::map_fd || src == isa::LddwSource::map_index;
            const bool value = src == isa::LddwSource::map_value_fd || src == isa::LddwSource::map_value_index;
            if ((map || value) && static_cast<std::uint32_t>(code[pc].imm) < input.maps.size()) {
                loads[pc] = MapLoad{static_cast<std::uint32_t>(code[pc].imm), value,
                                    static_cast<std::uint32_t>(code[pc + 1].imm)};
            }
            ++pc;
        }
    }
    // A map embpf cannot make, named or held by a map the program names, refuses the program.
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        std::optional<std::size_t> map;
        if (loads[pc]) {
            map = loads[pc]->map;
        }
        for (std::size_t depth = 0; map && *map < input.maps.size() && depth <= input.maps.size(); ++depth) {
            if (!input.maps[*map].unsupported.empty()) {
                report.errors.push_back({pc, input.maps[*map].unsupported, "supported(map)", std::nullopt});
                break;
            }
            map = input.maps[*map].inner;
        }
    }
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        if (loads[pc] && loads[pc]->value &&
            loads[pc]->offset >= std::max<std::uint32_t>(input.maps[loads[pc]->map].value_size, 1)) {
            report.errors.push_back({pc, "lddw points outside the value of map " + input.maps[loads[pc]->map].name,
                                     "offset < value_size", std::nullopt});
        }
    }
    if (!report.errors.empty()) {
        return finish();
    }
    const Cfg cfg = build_cfg(code, [&](std::uint32_t id) {
        const platform::HelperPrototype* helper = platform.helper(type, id);
        if (helper == nullptr || helper->callback() == platform::Callback::none) {
            return 0;
        }
        const auto arg = std::find(helper->args.begin(), helper->args.end(), platform::ArgKind::ptr_to_func);
        return static_cast<int>(arg - helper->args.begin()) + 1;
    });
    report.analysed_instructions = cfg.analysed;
    for (const CfgProblem& problem : cfg.problems) {
        report.errors.push_back({problem.pc, problem.message, problem.assertion, std::nullopt});
    }
    if (cfg.blocks.empty() || cfg.too_large) {
        return finish();
    }
    std::vector<std::optional<bool>> extern_loads(code.size());
    for (const elf::ExternReference& ref : externs) {
        if (ref.instruction < code.size()) {
            extern_loads[ref.instruction] = ref.kernel_symbol;
        }
    }
    Semantics semantics(code, platform, type, input.maps, std::move(loads), std::move(extern_loads));
    semantics.set_callbacks(cfg.callbacks);
    Analysis analysis(cfg, code, semantics, options, live_registers(cfg, code, platform, type));
    if (options.facts) {
        analysis.set_exact_maps(exact_maps(input.maps, semantics.alike_maps()));
    }
    analysis.run();
    report.analysis_work = analysis.work();
    if (analysis.too_large()) {
        for (Finding& f : analysis.findings()) {
            report.errors.push_back({f.pc, std::move(f.message), std::move(f.assertion), std::nullopt});
        }
        return finish();
    }
    const auto bounds = analysis.bounds();
    for (Finding& f : analysis.findings()) {
        (f.warning ? report.warnings : report.errors)
            .push_back({f.pc, std::move(f.message), std::move(f.assertion), std::nullopt});
    }
    if (bounds) {
        report.instruction_bound = bounds->instructions;
        report.cost_bound = bounds->cost;
    }
    report.reads_packet_meta = semantics.reads_packet_meta();
    report.probe_loads = semantics.probe_loads();
    for (const auto& [pc, offset] : semantics.context_loads()) {
        if (offset == Semantics::kPlainLoad) {
            continue;
        }
        if (offset == Semantics::kMixedLoads || offset < std::numeric_limits<std::int16_t>::min() ||
            offset > std::numeric_limits<std::int16_t>::max()) {
            // The instruction runs as a load of the host's 8-byte pointer: every run reaching it must load that field
            // from the context at one offset from the register.
            report.errors.push_back({pc,
                                     "A load of a 32-bit packet pointer field of the context must load that field, "
                                     "from the context at one offset, in every run",
                                     "ctx_field_load(" + std::to_string(pc) + ")", std::nullopt});
            continue;
        }
        report.context_loads.push_back({pc, static_cast<std::int16_t>(offset)});
    }
    // Warnings: instructions no run reaches.
    std::vector<bool> covered(code.size());
    for (std::size_t b = 0; b < cfg.blocks.size(); ++b) {
        if (analysis.reached(b)) {
            for (std::size_t pc = cfg.blocks[b].first; pc <= cfg.blocks[b].last; ++pc) {
                covered[pc] = true;
            }
            if (isa::is_lddw(code[cfg.blocks[b].last])) {
                covered[cfg.blocks[b].last + 1] = true;
            }
        }
    }
    for (std::size_t pc = 0; pc < code.size(); ++pc) {
        if (!covered[pc] && (pc == 0 || covered[pc - 1])) {
            report.warnings.push_back({pc, "Unreachable code", "", std::nullopt});
        }
    }
    if (options.level == Level::verbose) {
        report.states = analysis.states();
    }
    if (options.facts && report.errors.empty()) {
        report.facts = std::move(analysis.facts());
        forget_shift_pairs(report.facts, code);
    }
    return finish();
}

Report verify_input(const ProgramInput& input, std::span<const elf::ExternReference> externs,
                    const platform::Platform& platform, const platform::ProgramType& type, const Options& options) {
    try {
        return verify_program(input, externs, platform, type, options);
    } catch (const std::bad_alloc&) {
        // The analysis' memory is bounded by the program's size (Program is too large to analyse), but a host may
        // have less: the load fails, the host goes on.
        Report report;
        report.program = input.name;
        report.section = input.section;
        report.type = type.name;
        report.errors.push_back({0, "Out of memory while analysing the program", "", std::nullopt});
        return report;
    }
}

} // namespace

std::vector<isa::Instruction> rewrite_context_loads(std::span<const isa::Instruction> code, const Report& report) {
    std::vector<isa::Instruction> out(code.begin(), code.end());
    for (const Report::ContextLoad& load : report.context_loads) {
        if (load.pc < out.size() && isa::op_class(out[load.pc].opcode) == isa::op::LDX) {
            isa::Instruction& ins = out[load.pc];
            ins.opcode = static_cast<std::uint8_t>(isa::op::LDX | isa::op::MEM | isa::op::DW);
            ins.offset = load.offset;
        }
    }
    return out;
}

Report verify(const ProgramInput& input, const platform::Platform& platform, const platform::ProgramType& type,
              const Options& options) {
    return verify_input(input, {}, platform, type, options);
}

Report verify(const elf::ProgramDefinition& program, std::span<const MapDescriptor> maps,
              const platform::Platform& platform, const platform::ProgramType& type, const Options& options) {
    ProgramInput input{program.name,           program.section, program.instructions,
                       program.map_references, program.lines,   maps};
    Report report = verify_input(input, program.externs, platform, type, options);
    if (program.unsupported) {
        report.verified = false;
        report.instruction_bound.reset();
        report.cost_bound.reset();
        report.facts.clear();
        report.errors.insert(report.errors.begin(), {0, *program.unsupported, "", std::nullopt});
    }
    return report;
}

} // namespace embpf::verifier
