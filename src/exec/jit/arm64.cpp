// The baseline JIT's translation to AArch64: one pass over the program, one machine sequence per instruction.
//
// eBPF registers live in machine registers for the whole run: r0 x7, r1-r5 x0-x4 (the argument registers, so a
// helper call is a plain call and its result moves from x0 to x7), r6-r9 x19-x22 (callee-saved), r10 x25. x26 holds
// the run's state (JitRun); x9-x13 are scratch. The eBPF stack lies in the entry's native frame, and every function
// of the program has the same prologue and epilogue, as on x86-64 (x86_64.cpp).
#include "../metering.hpp"
#include "arm64_encoder.hpp"
#include "jit_code.hpp"

#include "embpf/isa/decode.hpp"

#include <optional>
#include <string>

namespace embpf::exec::detail {
namespace {

using namespace a64;

constexpr Reg kReg[11] = {7, 0, 1, 2, 3, 4, 19, 20, 21, 22, 25};
constexpr Reg kRunReg = 26;
constexpr Reg kT0 = 9; // scratch
constexpr Reg kT1 = 10;
constexpr Reg kT2 = 11;
constexpr Reg kKey = 12; // constant blinding's key, and addresses of far offsets
constexpr Reg kT3 = 13;
constexpr std::int32_t kStackBytes = static_cast<std::int32_t>((isa::kMaxCallDepth + 1) * isa::kStackSize);
// The entry's frame below its saved registers: the run state and every eBPF frame (a multiple of 16).
constexpr std::int32_t kEntryFrame = static_cast<std::int32_t>(sizeof(JitRun)) + kStackBytes;
static_assert(kEntryFrame % 16 == 0);

class Translator {
  public:
    Translator(std::span<const isa::Instruction> program, const HelperTable& helpers, const JitOptions& options,
               const JitSupport& support, std::uint64_t key, JitImage& image)
        : m_program(program), m_helpers(helpers), m_options(options), m_support(support), m_key(key),
          m_blind(options.blind_constants), m_image(image), m_a(image.code) {}

    Result<void> run() {
        const std::vector<std::uint8_t>& marks = m_image.marks;
        entry();
        thunk();
        m_image.lines.reserve(m_program.size());
        for (std::size_t pc = 0; pc < m_program.size(); ++pc) {
            if ((marks[pc] & kJitFunction) != 0) {
                // Only a call runs the prologue: the instruction before may run into the function's first
                // instruction (a jump's target or a callback's may lie inside another function), and that path
                // must skip it, as the interpreter pushes a frame only for a call.
                const std::size_t over = m_a.b();
                m_image.functions[pc] = offset();
                prologue();
                bind(over, m_a.size());
            }
            m_image.labels[pc] = offset();
            m_image.lines.push_back({static_cast<std::uint32_t>(pc), offset()});
            if (auto done = instruction(pc); !done) {
                return done;
            }
            if (isa::is_lddw(m_program[pc])) {
                ++pc;
            }
        }
        m_image.labels[m_program.size()] = offset();
        to_abort(m_a.b());
        bool in_range = true;
        for (const auto& [at, target] : m_image.jumps) {
            in_range = m_a.bind(at, m_image.labels[target]) && in_range;
        }
        for (const auto& [at, target] : m_image.calls) {
            in_range = m_a.bind(at, m_image.functions[target]) && in_range;
        }
        if (!in_range) {
            return Error::unsupported("the program's machine code is too large for AArch64's branches (1 MiB for a "
                                      "conditional branch)");
        }
        for (std::size_t pc = 0; pc < m_program.size(); ++pc) {
            if ((marks[pc] & kJitCallback) != 0) {
                m_image.callbacks.emplace_back(static_cast<std::uint32_t>(pc), m_image.functions[pc]);
            }
        }
        m_image.size = m_a.size();
        return {};
    }

  private:
    std::uint32_t offset() const { return static_cast<std::uint32_t>(m_a.size()); }

    // sp -= bytes / sp += bytes for frames larger than an immediate.
    void grow_stack(std::int32_t bytes) {
        if (bytes >= 4096) {
            m_a.sub_imm(Width::w64, sp, sp, static_cast<std::uint32_t>(bytes) >> 12, true);
        }
        if ((bytes & 0xFFF) != 0) {
            m_a.sub_imm(Width::w64, sp, sp, static_cast<std::uint32_t>(bytes) & 0xFFF);
        }
    }
    void shrink_stack(std::int32_t bytes) {
        if (bytes >= 4096) {
            m_a.add_imm(Width::w64, sp, sp, static_cast<std::uint32_t>(bytes) >> 12, true);
        }
        if ((bytes & 0xFFF) != 0) {
            m_a.add_imm(Width::w64, sp, sp, static_cast<std::uint32_t>(bytes) & 0xFFF);
        }
    }
    // Saves x29, x30 and x19-x28 (96 bytes) as a C function must; restores them.
    void save_callee_saved() {
        m_a.stp_pre(fp, lr, sp, -96);
        m_a.stp(19, 20, sp, 16);
        m_a.stp(21, 22, sp, 32);
        m_a.stp(23, 24, sp, 48);
        m_a.stp(25, 26, sp, 64);
        m_a.stp(27, 28, sp, 80);
        m_a.mov_sp(fp, sp);
    }
    void restore_callee_saved() {
        m_a.ldp(27, 28, sp, 80);
        m_a.ldp(25, 26, sp, 64);
        m_a.ldp(23, 24, sp, 48);
        m_a.ldp(21, 22, sp, 32);
        m_a.ldp(19, 20, sp, 16);
        m_a.ldp_post(fp, lr, sp, 96);
    }

    // uint64_t entry(r1, r2, const JitCode* code), as on x86-64.
    void entry() {
        save_callee_saved();
        grow_stack(kEntryFrame);
        m_a.mov_sp(kRunReg, sp);
        m_a.store(kRunReg, kRunReg, kRunEntrySp, 8);
        m_a.store(xzr, kRunReg, kRunDepth, 8);
        m_a.store(xzr, kRunReg, kRunStop, 8);
        m_a.store(2, kRunReg, kRunCode, 8);
        if (metered()) { // the fourth argument: where the run says it exhausted the budget
            m_a.store(3, kRunReg, kRunExhausted, 8);
            m_a.mov_imm(kT0, m_options.instruction_budget);
            m_a.store(kT0, kRunReg, kRunBudget, 8);
        }
        m_a.add_imm(Width::w64, kReg[10], kRunReg, static_cast<std::uint32_t>(sizeof(JitRun) + kStackBytes) >> 12,
                    true);
        m_a.add_imm(Width::w64, kReg[10], kReg[10], static_cast<std::uint32_t>(sizeof(JitRun) + kStackBytes) & 0xFFF);
        for (const Reg r : {Reg{7}, Reg{2}, Reg{3}, Reg{4}, Reg{19}, Reg{20}, Reg{21}, Reg{22}}) {
            m_a.mov(Width::w64, r, xzr);
        }
        m_image.calls.emplace_back(static_cast<std::uint32_t>(m_a.bl()), 0);
        const std::size_t exit_path = m_a.size();
        m_a.mov(Width::w64, 0, kReg[0]);
        shrink_stack(kEntryFrame);
        restore_callee_saved();
        m_a.ret();
        // The abort: r0 = 0 from anywhere in the run, native frames of callbacks and support functions dropped.
        m_abort = m_a.size();
        m_a.load(kT0, kRunReg, kRunEntrySp, 8);
        m_a.mov_sp(sp, kT0);
        m_a.mov(Width::w64, kReg[0], xzr);
        bind(m_a.b(), exit_path);
        if (metered()) { // the budget's end: the run says so, then aborts
            m_budget_stop = m_a.size();
            m_a.load(kT0, kRunReg, kRunExhausted, 8);
            m_a.mov_imm(kT1, 1);
            m_a.store(kT1, kT0, 0, 8);
            to_abort(m_a.b());
        }
    }

    // uint64_t thunk(r1, r2, r3, r4, r10, JitRun* run): runs run->callee with a callback's frame.
    void thunk() {
        m_image.thunk = offset();
        save_callee_saved();
        m_a.mov(Width::w64, kReg[10], 4);
        m_a.mov(Width::w64, kRunReg, 5);
        for (const Reg r : {Reg{4}, Reg{7}, Reg{19}, Reg{20}, Reg{21}, Reg{22}}) {
            m_a.mov(Width::w64, r, xzr);
        }
        m_a.load(kT0, kRunReg, kRunCallee, 8);
        m_a.blr(kT0);
        m_a.mov(Width::w64, 0, kReg[0]);
        restore_callee_saved();
        m_a.ret();
    }

    // A function saves r6-r9 and its return address (48 bytes: the stack stays aligned to 16).
    void prologue() {
        m_a.stp_pre(19, 20, sp, -48);
        m_a.stp(21, 22, sp, 16);
        m_a.store(lr, sp, 32, 8);
    }
    void epilogue() {
        m_a.load(lr, sp, 32, 8);
        m_a.ldp(21, 22, sp, 16);
        m_a.ldp_post(19, 20, sp, 48);
        m_a.ret();
    }

    void bind(std::size_t at, std::size_t target) { (void)m_a.bind(at, target); } // near: always in range
    void to_abort(std::size_t at) { bind(at, m_abort); } // an unconditional branch: in range from anywhere
    // Branches to the abort when `c` holds (an unconditional branch, so the abort is in range from anywhere).
    void abort_if(Cond c) {
        const std::size_t skip = m_a.b_cond(invert(c));
        to_abort(m_a.b());
        bind(skip, m_a.size());
    }
    bool metered() const { return m_options.instruction_budget != 0; }
    // Metering (engine.hpp): `charge` off the budget, or the run ends when that exceeds what is left.
    void charge(std::uint64_t charge) {
        m_a.load(kT0, kRunReg, kRunBudget, 8);
        Reg amount = xzr;
        if (charge < 4096) {
            m_a.cmp_imm(Width::w64, kT0, static_cast<std::uint32_t>(charge));
        } else {
            m_a.mov_imm(kT1, charge);
            m_a.cmp(Width::w64, kT0, kT1);
            amount = kT1;
        }
        const std::size_t enough = m_a.b_cond(hs);
        bind(m_a.b(), m_budget_stop);
        bind(enough, m_a.size());
        if (amount == xzr) {
            m_a.sub_imm(Width::w64, kT0, kT0, static_cast<std::uint32_t>(charge));
        } else {
            m_a.sub(Width::w64, kT0, kT0, amount);
        }
        m_a.store(kT0, kRunReg, kRunBudget, 8);
    }
    // A jump to instruction pc + 1 + offset, `cond` its condition (or none), charged when metered code takes it
    // backwards.
    void jump_charged(std::size_t pc, std::int64_t offset, std::optional<Cond> cond) {
        const auto target = static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + offset);
        if (!metered() || offset >= 0) {
            jump_to(cond ? m_a.b_cond(*cond) : m_a.b(), target);
            return;
        }
        std::size_t skip = 0;
        if (cond) {
            skip = m_a.b_cond(invert(*cond));
        }
        charge(back_jump_charge(offset));
        jump_to(m_a.b(), target);
        if (cond) {
            bind(skip, m_a.size());
        }
    }
    void abort_if_stopped() {
        m_a.load(kT0, kRunReg, kRunStop, 8);
        const std::size_t skip = m_a.cbz(Width::w64, kT0);
        to_abort(m_a.b());
        bind(skip, m_a.size());
    }
    void jump_to(std::size_t at, std::size_t pc) {
        m_image.jumps.emplace_back(static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(pc));
    }

    // r = value, blinded in the code when constant blinding is on.
    void constant(Reg r, std::uint64_t value) {
        if (m_blind) {
            m_a.mov_imm(r, value ^ m_key);
            m_a.mov_imm(kKey, m_key);
            m_a.logic(Logic::eor, Width::w64, r, r, kKey);
        } else {
            m_a.mov_imm(r, value);
        }
    }
    static std::uint64_t sext(std::int32_t imm) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(imm)); }

    // The address base + offset for accesses whose offset fits no immediate form: in kKey.
    Reg far_address(Reg base, std::int32_t off) {
        m_a.mov_imm(kKey, sext(off));
        m_a.add(Width::w64, kKey, base, kKey);
        return kKey;
    }
    void load(Reg t, Reg base, std::int32_t off, int bytes, bool sign) {
        if (Assembler::fits_scaled(off, bytes) || Assembler::fits_unscaled(off)) {
            m_a.load(t, base, off, bytes, sign);
        } else {
            m_a.mov_imm(kKey, sext(off));
            m_a.load_indexed(t, base, kKey, bytes, sign);
        }
    }
    void store(Reg t, Reg base, std::int32_t off, int bytes) {
        if (Assembler::fits_scaled(off, bytes) || Assembler::fits_unscaled(off)) {
            m_a.store(t, base, off, bytes);
        } else {
            m_a.mov_imm(kKey, sext(off));
            m_a.store_indexed(t, base, kKey, bytes);
        }
    }

    Result<void> instruction(std::size_t pc) {
        const isa::Instruction& ins = m_program[pc];
        switch (isa::op_class(ins.opcode)) {
        case isa::op::ALU:
        case isa::op::ALU64: alu(ins); return {};
        case isa::op::JMP:
        case isa::op::JMP32: return jump(pc, ins);
        case isa::op::LD: return ld(pc, ins);
        case isa::op::LDX: ldx(pc, ins); return {};
        case isa::op::ST: {
            const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
            constant(kT0, sext(ins.imm));
            store(kT0, kReg[ins.dst], ins.offset, bytes);
            return {};
        }
        default: stx(ins); return {};
        }
    }

    void alu(const isa::Instruction& ins) {
        using namespace isa;
        const Width w = op_class(ins.opcode) == op::ALU64 ? Width::w64 : Width::w32;
        const bool k = op_source(ins.opcode) == op::K;
        const Reg dst = kReg[ins.dst];
        const std::uint64_t imm = w == Width::w64 ? sext(ins.imm) : static_cast<std::uint32_t>(ins.imm);
        // The source register, or the immediate in a scratch register.
        auto source = [&]() -> Reg {
            if (!k) {
                return kReg[ins.src & 0xF];
            }
            constant(kT0, imm);
            return kT0;
        };
        const std::uint8_t code = op_code(ins.opcode);
        if (k && !m_blind && (code == op::ADD || code == op::SUB) && ins.imm > -4096 && ins.imm < 4096) {
            const bool add = (code == op::ADD) == (ins.imm >= 0);
            const auto magnitude = static_cast<std::uint32_t>(ins.imm >= 0 ? ins.imm : -ins.imm);
            if (add) {
                m_a.add_imm(w, dst, dst, magnitude);
            } else {
                m_a.sub_imm(w, dst, dst, magnitude);
            }
            return;
        }
        switch (code) {
        case op::ADD: m_a.add(w, dst, dst, source()); return;
        case op::SUB: m_a.sub(w, dst, dst, source()); return;
        case op::OR: m_a.logic(Logic::orr, w, dst, dst, source()); return;
        case op::AND: m_a.logic(Logic::and_, w, dst, dst, source()); return;
        case op::XOR: m_a.logic(Logic::eor, w, dst, dst, source()); return;
        case op::MUL: m_a.mul(w, dst, dst, source()); return;
        case op::MOV:
            if (k) {
                constant(dst, imm);
            } else if (ins.offset != 0) { // movsx
                m_a.sbfm(w, dst, kReg[ins.src], 0, static_cast<std::uint32_t>(ins.offset - 1));
            } else {
                m_a.mov(w, dst, kReg[ins.src]);
            }
            return;
        case op::NEG: m_a.sub(w, dst, xzr, dst); return;
        case op::LSH:
        case op::RSH:
        case op::ARSH:
            if (k) {
                const auto count = static_cast<std::uint32_t>(ins.imm) & (w == Width::w64 ? 63 : 31);
                if (code == op::LSH) {
                    m_a.lsl_imm(w, dst, dst, count);
                } else if (code == op::RSH) {
                    m_a.lsr_imm(w, dst, dst, count);
                } else {
                    m_a.asr_imm(w, dst, dst, count);
                }
            } else {
                m_a.shift(code == op::LSH   ? Shift::lslv
                          : code == op::RSH ? Shift::lsrv
                                            : Shift::asrv,
                          w, dst, dst, kReg[ins.src]);
            }
            return;
        case op::DIV:
        case op::MOD: {
            // A64's division gives 0 for a zero divisor and wraps the most negative by -1, as RFC 9669 defines;
            // the remainder is dst - (dst / src) * src, which is then dst for 0 and 0 for -1.
            const Reg divisor = source();
            const bool sign = ins.offset == 1;
            if (code == op::DIV) {
                if (sign) {
                    m_a.sdiv(w, dst, dst, divisor);
                } else {
                    m_a.udiv(w, dst, dst, divisor);
                }
            } else {
                if (sign) {
                    m_a.sdiv(w, kT1, dst, divisor);
                } else {
                    m_a.udiv(w, kT1, dst, divisor);
                }
                m_a.msub(w, dst, kT1, divisor, dst);
            }
            return;
        }
        case op::END: byte_order(ins, dst); return;
        default: return;
        }
    }

    void byte_order(const isa::Instruction& ins, Reg dst) {
        const bool swap = isa::op_class(ins.opcode) == isa::op::ALU64 || isa::op_source(ins.opcode) == isa::op::X;
        switch (ins.imm) {
        case 16:
            if (swap) {
                m_a.rev16(dst, dst);
            }
            m_a.ubfm(Width::w32, dst, dst, 0, 15); // uxth
            return;
        case 32:
            if (swap) {
                m_a.rev32(dst, dst);
            } else {
                m_a.mov(Width::w32, dst, dst);
            }
            return;
        default:
            if (swap) {
                m_a.rev64(dst, dst);
            }
            return;
        }
    }

    Result<void> jump(std::size_t pc, const isa::Instruction& ins) {
        using namespace isa;
        const bool is64 = op_class(ins.opcode) == op::JMP;
        const Width w = is64 ? Width::w64 : Width::w32;
        const std::uint8_t code = op_code(ins.opcode);
        switch (code) {
        case op::JA: jump_charged(pc, is64 ? ins.offset : ins.imm, std::nullopt); return {};
        case op::EXIT: epilogue(); return {};
        case op::CALL: return call(pc, ins);
        default: break;
        }
        const Reg dst = kReg[ins.dst];
        Reg src = kReg[ins.src & 0xF];
        if (op_source(ins.opcode) == op::K) {
            if (code != op::JSET && !m_blind && ins.imm >= 0 && ins.imm < 4096) {
                m_a.cmp_imm(w, dst, static_cast<std::uint32_t>(ins.imm));
                src = xzr;
            } else {
                constant(kT0, is64 ? sext(ins.imm) : static_cast<std::uint32_t>(ins.imm));
                src = kT0;
            }
        }
        if (src != xzr) {
            if (code == op::JSET) {
                m_a.tst(w, dst, src);
            } else {
                m_a.cmp(w, dst, src);
            }
        }
        Cond cond = eq;
        switch (code) {
        case op::JEQ: cond = eq; break;
        case op::JNE:
        case op::JSET: cond = ne; break;
        case op::JGT: cond = hi; break;
        case op::JGE: cond = hs; break;
        case op::JLT: cond = lo; break;
        case op::JLE: cond = ls; break;
        case op::JSGT: cond = gt; break;
        case op::JSGE: cond = ge; break;
        case op::JSLT: cond = lt; break;
        default: cond = le; break;
        }
        jump_charged(pc, ins.offset, cond);
        return {};
    }

    // Calls `function` (an address) with x0-x4 as they are, r0 = its result.
    void call_address(std::uintptr_t function) {
        m_a.mov_imm(kT0, function);
        m_a.blr(kT0);
        m_a.mov(Width::w64, kReg[0], 0);
    }
    void call_support(std::uintptr_t function) {
        m_a.mov(Width::w64, 5, kRunReg);
        call_address(function);
    }

    Result<void> call(std::size_t pc, const isa::Instruction& ins) {
        using namespace isa;
        if (op_source(ins.opcode) == op::X) {
            m_a.store(kReg[ins.dst], kRunReg, kRunCallxId, 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.callx));
            abort_if_stopped();
            return {};
        }
        switch (static_cast<CallSource>(ins.src)) {
        case CallSource::local:
            if (metered()) {
                charge(m_image.function_lengths[static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm)]);
            }
            m_a.load(kT0, kRunReg, kRunDepth, 8);
            m_a.cmp_imm(Width::w64, kT0, static_cast<std::uint32_t>(isa::kMaxCallDepth));
            abort_if(hs);
            m_a.add_imm(Width::w64, kT0, kT0, 1);
            m_a.store(kT0, kRunReg, kRunDepth, 8);
            m_a.sub_imm(Width::w64, kReg[10], kReg[10], static_cast<std::uint32_t>(isa::kStackSize));
            m_image.calls.emplace_back(static_cast<std::uint32_t>(m_a.bl()),
                                       static_cast<std::uint32_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm));
            m_a.add_imm(Width::w64, kReg[10], kReg[10], static_cast<std::uint32_t>(isa::kStackSize));
            m_a.load(kT0, kRunReg, kRunDepth, 8);
            m_a.sub_imm(Width::w64, kT0, kT0, 1);
            m_a.store(kT0, kRunReg, kRunDepth, 8);
            return {};
        case CallSource::kfunc:
            if (ins.imm == 0) {
                to_abort(m_a.b());
                return {};
            }
            return Error::unsupported(
                "instruction " + std::to_string(pc) + ": kernel function calls (kfunc) are not supported", pc);
        case CallSource::helper: break;
        }
        const auto id = static_cast<std::uint32_t>(ins.imm);
        const HelperFunction function = m_helpers.get(id);
        if (function == nullptr) {
            return Error::invalid(
                "instruction " + std::to_string(pc) + ": call to unknown helper " + std::to_string(ins.imm), pc);
        }
        switch (m_helpers.callback(id)) {
        case platform::Callback::loop:
            m_a.store(kReg[10], kRunReg, kRunR10, 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.loop));
            abort_if_stopped();
            return {};
        case platform::Callback::for_each_map_elem:
            if (m_helpers.next_element() == nullptr) {
                return Error::invalid("instruction " + std::to_string(pc) + ": helper " + std::to_string(id) +
                                          " walks a map, and the helper table has no way to",
                                      pc);
            }
            m_a.store(kReg[10], kRunReg, kRunR10, 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.for_each));
            abort_if_stopped();
            return {};
        case platform::Callback::none: break;
        }
        const std::uint8_t arguments = id < m_helpers.arguments().size() ? m_helpers.arguments()[id] : 5;
        for (std::uint8_t i = arguments; i < 5; ++i) {
            m_a.mov(Width::w64, i, xzr);
        }
        call_address(reinterpret_cast<std::uintptr_t>(function));
        if (m_helpers.unwind() == id) {
            const std::size_t skip = m_a.cbnz(Width::w64, kReg[0]);
            to_abort(m_a.b());
            bind(skip, m_a.size());
        }
        return {};
    }

    Result<void> ld(std::size_t pc, const isa::Instruction& ins) {
        if (isa::is_legacy_packet_load(ins)) {
            if (!m_options.packet) {
                return Error::invalid(
                    "instruction " + std::to_string(pc) +
                        ": a legacy packet load (LD_ABS/LD_IND) needs a program type with a data range",
                    pc);
            }
            packet_load(ins);
            return {};
        }
        if (ins.src != static_cast<std::uint8_t>(isa::LddwSource::imm64) &&
            ins.src != static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            return Error::invalid("instruction " + std::to_string(pc) + ": lddw with pseudo source " +
                                      std::to_string(ins.src) + " must be resolved by the loader before execution",
                                  pc);
        }
        std::uint64_t value = static_cast<std::uint32_t>(ins.imm) |
                              (static_cast<std::uint64_t>(static_cast<std::uint32_t>(m_program[pc + 1].imm)) << 32);
        if (ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            value = static_cast<std::uint64_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm);
        }
        constant(kReg[ins.dst], value);
        return {};
    }

    // Saves r1-r5 (and r0 when `with_r0`) around a support call: 48 bytes, the stack aligned.
    void save_arguments(bool with_r0) {
        m_a.stp_pre(0, 1, sp, -48);
        m_a.stp(2, 3, sp, 16);
        m_a.stp(4, with_r0 ? kReg[0] : Reg{4}, sp, 32);
    }
    void restore_arguments(bool with_r0) {
        m_a.ldp(4, with_r0 ? kReg[0] : kT3, sp, 32);
        m_a.ldp(2, 3, sp, 16);
        m_a.ldp_post(0, 1, sp, 48);
    }

    void packet_load(const isa::Instruction& ins) {
        if (isa::op_mode(ins.opcode) == isa::op::IND) {
            constant(kT1, static_cast<std::uint32_t>(ins.imm));
            m_a.add(Width::w32, kT1, kReg[ins.src], kT1);
            m_a.sbfm(Width::w64, kT1, kT1, 0, 31); // sxtw
        } else {
            constant(kT1, sext(ins.imm));
        }
        save_arguments(false);
        m_a.mov(Width::w64, 0, kReg[6]);
        m_a.mov(Width::w64, 1, kT1);
        m_a.mov_imm(2, isa::size_bytes(isa::op_size(ins.opcode)));
        m_a.mov(Width::w64, 3, kRunReg);
        call_address(reinterpret_cast<std::uintptr_t>(m_support.packet_load));
        restore_arguments(false);
        abort_if_stopped();
    }

    void ldx(std::size_t pc, const isa::Instruction& ins) {
        const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
        const bool sign = isa::op_mode(ins.opcode) == isa::op::MEMSX;
        if ((m_image.marks[pc] & kJitProbe) == 0) {
            load(kReg[ins.dst], kReg[ins.src], ins.offset, bytes, sign);
            return;
        }
        const Reg address = far_address(kReg[ins.src], ins.offset);
        m_a.mov(Width::w64, kT1, address);
        save_arguments(true);
        m_a.mov(Width::w64, 0, kT1);
        m_a.mov_imm(1, static_cast<std::uint32_t>(bytes | (sign ? 0x100 : 0)));
        m_a.mov_imm(kT0, reinterpret_cast<std::uintptr_t>(m_support.probe_load));
        m_a.blr(kT0);
        m_a.mov(Width::w64, kT1, 0);
        restore_arguments(true);
        m_a.mov(Width::w64, kReg[ins.dst], kT1);
    }

    void stx(const isa::Instruction& ins) {
        const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
        const Reg base = kReg[ins.dst];
        const Reg src = kReg[ins.src];
        if (isa::op_mode(ins.opcode) != isa::op::ATOMIC) {
            store(src, base, ins.offset, bytes);
            return;
        }
        // Exclusive load and store in a loop, then a full barrier: sequentially consistent, as the interpreter's.
        const Width w = bytes == 8 ? Width::w64 : Width::w32;
        const Reg address = far_address(base, ins.offset);
        const bool fetch = (ins.imm & isa::op::FETCH) != 0;
        if (ins.imm == isa::op::CMPXCHG) {
            const std::size_t again = m_a.size();
            m_a.ldaxr(w, kT0, address);
            m_a.cmp(w, kT0, kReg[0]);
            const std::size_t differ = m_a.b_cond(ne);
            m_a.stlxr(w, kT2, src, address);
            bind(m_a.cbnz(Width::w32, kT2), again);
            bind(differ, m_a.size());
            m_a.dmb_ish();
            m_a.mov(w, kReg[0], kT0);
            return;
        }
        const std::size_t again = m_a.size();
        m_a.ldaxr(w, kT0, address);
        switch (ins.imm & ~isa::op::FETCH) {
        case isa::op::ATOMIC_ADD: m_a.add(w, kT1, kT0, src); break;
        case isa::op::ATOMIC_OR: m_a.logic(Logic::orr, w, kT1, kT0, src); break;
        case isa::op::ATOMIC_AND: m_a.logic(Logic::and_, w, kT1, kT0, src); break;
        case isa::op::ATOMIC_XOR: m_a.logic(Logic::eor, w, kT1, kT0, src); break;
        default: m_a.mov(w, kT1, src); break; // XCHG
        }
        m_a.stlxr(w, kT2, kT1, address);
        bind(m_a.cbnz(Width::w32, kT2), again);
        m_a.dmb_ish();
        if (fetch || ins.imm == isa::op::XCHG) {
            m_a.mov(w, src, kT0);
        }
    }

    std::span<const isa::Instruction> m_program;
    const HelperTable& m_helpers;
    const JitOptions& m_options;
    const JitSupport& m_support;
    std::uint64_t m_key;
    bool m_blind;
    JitImage& m_image;
    Assembler m_a;
    std::size_t m_abort = 0;
    std::size_t m_budget_stop = 0;
};

} // namespace

Result<void> translate_arm64(std::span<const isa::Instruction> program, const HelperTable& helpers,
                             const JitOptions& options, const JitSupport& support, std::uint64_t blind_key,
                             JitImage& image) {
    return Translator(program, helpers, options, support, blind_key, image).run();
}

} // namespace embpf::exec::detail
