// The baseline JIT's translation to x86-64: one pass over the program, one machine sequence per instruction.
//
// eBPF registers live in machine registers for the whole run: r0 rax, r1-r5 rdi rsi rdx rcx r8 (the System V argument
// registers, so a helper call is a plain call), r6-r9 rbx r13 r14 r15 (callee-saved), r10 rbp. r12 holds the run's
// state (JitRun); r9, r10 and r11 are scratch. The eBPF stack (every frame's 512 bytes) lies in the entry's native
// frame. Every function of the program (the entry, local call targets, callbacks) has the same prologue and
// epilogue: it saves r6-r9, so `exit` returns the same way wherever it is.
#include "../metering.hpp"
#include "jit_code.hpp"
#include "x86_64_encoder.hpp"

#include "embpf/isa/decode.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace embpf::exec::detail {
namespace {

using namespace x86;

constexpr Reg kReg[11] = {rax, rdi, rsi, rdx, rcx, r8, rbx, r13, r14, r15, rbp};
constexpr Reg kArgs[5] = {rdi, rsi, rdx, rcx, r8};
constexpr Reg kRunReg = r12;
constexpr std::int32_t kStackBytes = static_cast<std::int32_t>((isa::kMaxCallDepth + 1) * isa::kStackSize);
// The entry's frame below its six pushes: the run state, every eBPF frame, and 8 bytes that align the stack to 16
// (the caller's return address and six pushes leave it at 8 mod 16).
constexpr std::int32_t kEntryFrame = static_cast<std::int32_t>(sizeof(JitRun)) + kStackBytes + 8;
constexpr std::size_t kNone = ~std::size_t{0};

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
                const std::size_t over = m_a.jmp();
                m_image.functions[pc] = offset();
                prologue();
                m_a.bind(over, m_a.size());
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
        // Nothing runs past the last instruction (validation), but should anything, it ends the run.
        m_image.labels[m_program.size()] = offset();
        to_abort(m_a.jmp());
        if (m_a.size() > static_cast<std::size_t>(INT32_MAX)) {
            return Error::unsupported("the program's machine code is too large for x86-64's 32-bit jumps (2 GiB)");
        }
        for (const auto& [field, target] : m_image.jumps) {
            m_a.bind(field, m_image.labels[target]);
        }
        for (const auto& [field, target] : m_image.calls) {
            m_a.bind(field, m_image.functions[target]);
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

    // uint64_t entry(r1, r2, const JitCode* code): the run's state and stack, r3-r9 zeroed, the program's first
    // function called; then the epilogue, which an abort reaches too.
    void entry() {
        for (const Reg r : {rbp, rbx, r12, r13, r14, r15}) {
            m_a.push(r);
        }
        m_a.arith(Arith::sub, Width::w64, rsp, kEntryFrame);
        m_a.mov(Width::w64, kRunReg, rsp);
        m_a.store(kRunReg, kRunEntrySp, rsp, 8);
        m_a.store_imm(kRunReg, kRunDepth, 0, 8);
        m_a.store_imm(kRunReg, kRunStop, 0, 8);
        m_a.store(kRunReg, kRunCode, rdx, 8);
        if (metered()) { // the fourth argument: where the run says it exhausted the budget
            m_a.store(kRunReg, kRunExhausted, rcx, 8);
            m_a.mov_imm(r11, m_options.instruction_budget);
            m_a.store(kRunReg, kRunBudget, r11, 8);
        }
        m_a.lea(rbp, rsp, static_cast<std::int32_t>(sizeof(JitRun)) + kStackBytes);
        for (const Reg r : {rax, rdx, rcx, r8, rbx, r13, r14, r15}) {
            m_a.arith(Arith::xor_, Width::w32, r, r);
        }
        m_image.calls.emplace_back(static_cast<std::uint32_t>(m_a.call_rel()), 0);
        const std::size_t exit_path = m_a.size();
        m_a.arith(Arith::add, Width::w64, rsp, kEntryFrame);
        for (const Reg r : {r15, r14, r13, r12, rbx, rbp}) {
            m_a.pop(r);
        }
        m_a.ret();
        // The abort: r0 = 0 from anywhere in the run, native frames of callbacks and support functions dropped.
        m_abort = m_a.size();
        m_a.load(rsp, kRunReg, kRunEntrySp, 8);
        m_a.arith(Arith::xor_, Width::w32, rax, rax);
        m_a.bind(m_a.jmp(), exit_path);
        if (metered()) { // the budget's end: the run says so, then aborts
            m_budget_stop = m_a.size();
            m_a.load(r11, kRunReg, kRunExhausted, 8);
            m_a.store_imm(r11, 0, 1, 8);
            to_abort(m_a.jmp());
        }
    }

    // uint64_t thunk(r1, r2, r3, r4, r10, JitRun* run): runs the function at run->callee with a callback's frame
    // (its r10 given), for the callback helpers' support functions.
    void thunk() {
        m_image.thunk = static_cast<std::uint32_t>(m_a.size());
        for (const Reg r : {rbp, rbx, r12, r13, r14, r15}) {
            m_a.push(r);
        }
        m_a.arith(Arith::sub, Width::w64, rsp, 8);
        m_a.mov(Width::w64, rbp, r8);
        m_a.mov(Width::w64, kRunReg, r9);
        for (const Reg r : {rax, r8, rbx, r13, r14, r15}) { // r0, r5-r9: nothing of the host's reaches the callback
            m_a.arith(Arith::xor_, Width::w32, r, r);
        }
        m_a.call(kRunReg, kRunCallee);
        m_a.arith(Arith::add, Width::w64, rsp, 8);
        for (const Reg r : {r15, r14, r13, r12, rbx, rbp}) {
            m_a.pop(r);
        }
        m_a.ret();
    }

    // A function saves r6-r9 and keeps the stack aligned to 16 for the calls it makes.
    void prologue() {
        for (const Reg r : {rbx, r13, r14, r15}) {
            m_a.push(r);
        }
        m_a.arith(Arith::sub, Width::w64, rsp, 8);
    }
    void epilogue() {
        m_a.arith(Arith::add, Width::w64, rsp, 8);
        for (const Reg r : {r15, r14, r13, rbx}) {
            m_a.pop(r);
        }
        m_a.ret();
    }

    void to_abort(std::size_t field) { m_a.bind(field, m_abort); }
    void jump_to(std::size_t field, std::size_t pc) {
        m_image.jumps.emplace_back(static_cast<std::uint32_t>(field), static_cast<std::uint32_t>(pc));
    }
    bool metered() const { return m_options.instruction_budget != 0; }
    // Metering (engine.hpp): `charge` off the budget, or the run ends when that exceeds what is left.
    void charge(std::uint64_t charge) {
        m_a.arith_mem(Arith::sub, Width::w64, kRunReg, kRunBudget, static_cast<std::int32_t>(charge));
        m_a.bind(m_a.jcc(below), m_budget_stop);
    }
    // A jump to instruction `target`, `cond` its condition (or none), charged when metered code takes it backwards.
    void jump_charged(std::size_t pc, std::int64_t offset, std::optional<Cond> cond) {
        const auto target = static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + offset);
        if (!metered() || offset >= 0) {
            jump_to(cond ? m_a.jcc(*cond) : m_a.jmp(), target);
            return;
        }
        std::size_t skip = kNone;
        if (cond) {
            skip = m_a.jcc(static_cast<Cond>(*cond ^ 1));
        }
        charge(back_jump_charge(offset));
        jump_to(m_a.jmp(), target);
        if (skip != kNone) {
            m_a.bind(skip, m_a.size());
        }
    }
    // Ends the run with 0 when a support function set JitRun::stop.
    void abort_if_stopped() {
        m_a.arith_mem(Arith::cmp, Width::w64, kRunReg, kRunStop, 0);
        to_abort(m_a.jcc(not_equal));
    }

    // r11 = value, the value blinded in the code when constant blinding is on.
    void constant(Reg r, std::uint64_t value) {
        if (m_blind) {
            m_a.movabs(r, value ^ m_key);
            m_a.movabs(r10, m_key);
            m_a.arith(Arith::xor_, Width::w64, r, r10);
        } else {
            m_a.mov_imm(r, value);
        }
    }
    static std::uint64_t sext(std::int32_t imm) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(imm)); }

    Result<void> instruction(std::size_t pc) {
        const isa::Instruction& ins = m_program[pc];
        switch (isa::op_class(ins.opcode)) {
        case isa::op::ALU:
        case isa::op::ALU64: alu(ins); return {};
        case isa::op::JMP:
        case isa::op::JMP32: return jump(pc, ins);
        case isa::op::LD: return ld(pc, ins);
        case isa::op::LDX: ldx(pc, ins); return {};
        case isa::op::ST: st(ins); return {};
        default: stx(ins); return {};
        }
    }

    void alu(const isa::Instruction& ins) {
        using namespace isa;
        const Width w = op_class(ins.opcode) == op::ALU64 ? Width::w64 : Width::w32;
        const bool k = op_source(ins.opcode) == op::K;
        const Reg dst = kReg[ins.dst];
        const Reg src = kReg[ins.src & 0xF];
        // The immediate as the operation reads it: sign-extended for 64 bits, as 32 bits for 32.
        const std::uint64_t imm = w == Width::w64 ? sext(ins.imm) : static_cast<std::uint32_t>(ins.imm);
        auto binary = [&](Arith op) {
            if (!k) {
                m_a.arith(op, w, dst, src);
            } else if (m_blind) {
                constant(r11, imm);
                m_a.arith(op, w, dst, r11);
            } else {
                m_a.arith(op, w, dst, ins.imm);
            }
        };
        switch (op_code(ins.opcode)) {
        case op::ADD: binary(Arith::add); return;
        case op::SUB: binary(Arith::sub); return;
        case op::OR: binary(Arith::or_); return;
        case op::AND: binary(Arith::and_); return;
        case op::XOR: binary(Arith::xor_); return;
        case op::MUL:
            if (!k) {
                m_a.imul(w, dst, src);
            } else if (m_blind) {
                constant(r11, imm);
                m_a.imul(w, dst, r11);
            } else {
                m_a.imul(w, dst, dst, ins.imm);
            }
            return;
        case op::MOV:
            if (!k && ins.offset != 0) {
                m_a.movsx(w, dst, src, ins.offset);
            } else if (!k) {
                m_a.mov(w, dst, src);
            } else {
                constant(dst, imm);
            }
            return;
        case op::NEG: m_a.neg(w, dst); return;
        case op::LSH: shift(Shift::shl, w, k, dst, src, ins.imm); return;
        case op::RSH: shift(Shift::shr, w, k, dst, src, ins.imm); return;
        case op::ARSH: shift(Shift::sar, w, k, dst, src, ins.imm); return;
        case op::DIV:
        case op::MOD: divide(op_code(ins.opcode) == op::MOD, ins.offset == 1, w, k, dst, src, imm); return;
        case op::END: byte_order(ins, dst); return;
        default: return; // validation admits nothing else
        }
    }

    void shift(Shift op, Width w, bool k, Reg dst, Reg src, std::int32_t imm) {
        if (k) {
            m_a.shift(op, w, dst, static_cast<std::uint8_t>(imm & (w == Width::w64 ? 63 : 31)));
            return;
        }
        // The count must be in cl, and r4 lives in rcx.
        if (dst == rcx) {
            m_a.mov(Width::w64, r11, rcx);
            if (src != rcx) {
                m_a.mov(Width::w64, rcx, src);
            }
            m_a.shift_cl(op, w, r11);
            m_a.mov(Width::w64, rcx, r11);
            return;
        }
        if (src != rcx) {
            m_a.mov(Width::w64, r11, rcx);
            m_a.mov(Width::w64, rcx, src);
        }
        m_a.shift_cl(op, w, dst);
        if (src != rcx) {
            m_a.mov(Width::w64, rcx, r11);
        }
    }

    // Division and remainder as RFC 9669 defines them for every divisor: x / 0 = 0, x % 0 = x, and for the signed
    // forms x / -1 = -x, x % -1 = 0 (where the machine's idiv would fault on the most negative x).
    void divide(bool mod, bool sign, Width w, bool k, Reg dst, Reg src, std::uint64_t imm) {
        auto by_zero = [&] {
            if (mod) {
                if (w == Width::w32) {
                    m_a.mov(Width::w32, dst, dst);
                }
            } else {
                m_a.arith(Arith::xor_, Width::w32, dst, dst);
            }
        };
        auto by_minus_one = [&] {
            if (mod) {
                m_a.arith(Arith::xor_, Width::w32, dst, dst);
            } else {
                m_a.neg(w, dst);
            }
        };
        std::size_t zero = kNone;
        std::size_t minus_one = kNone;
        if (k) {
            const bool is_zero = w == Width::w64 ? imm == 0 : static_cast<std::uint32_t>(imm) == 0;
            const bool is_minus_one =
                w == Width::w64 ? imm == ~std::uint64_t{0} : static_cast<std::uint32_t>(imm) == 0xFFFFFFFFu;
            if (is_zero) {
                by_zero();
                return;
            }
            if (sign && is_minus_one) {
                by_minus_one();
                return;
            }
            constant(r11, imm);
        } else {
            m_a.mov(Width::w64, r11, src);
            m_a.test(w, r11, r11);
            zero = m_a.jcc(equal);
            if (sign) {
                m_a.arith(Arith::cmp, w, r11, -1);
                minus_one = m_a.jcc(equal);
            }
        }
        m_a.mov(Width::w64, r9, rax);
        m_a.mov(Width::w64, r10, rdx);
        if (dst != rax) {
            m_a.mov(Width::w64, rax, dst);
        }
        if (sign) {
            m_a.sign_extend_ax(w);
            m_a.idiv(w, r11);
        } else if (w == Width::w64) {
            // A 64-bit div costs several times a 32-bit one: when both operands fit 32 bits, the 32-bit one gives
            // the same quotient and remainder (as compilers for x86-64 do).
            m_a.mov(Width::w64, rdx, rax);
            m_a.arith(Arith::or_, Width::w64, rdx, r11);
            m_a.shift(Shift::shr, Width::w64, rdx, 32);
            const std::size_t wide = m_a.jcc(not_equal);
            m_a.arith(Arith::xor_, Width::w32, rdx, rdx);
            m_a.div(Width::w32, r11);
            const std::size_t divided = m_a.jmp();
            m_a.bind(wide, m_a.size());
            m_a.arith(Arith::xor_, Width::w32, rdx, rdx);
            m_a.div(Width::w64, r11);
            m_a.bind(divided, m_a.size());
        } else {
            m_a.arith(Arith::xor_, Width::w32, rdx, rdx);
            m_a.div(w, r11);
        }
        m_a.mov(Width::w64, r11, mod ? rdx : rax);
        m_a.mov(Width::w64, rax, r9);
        m_a.mov(Width::w64, rdx, r10);
        m_a.mov(Width::w64, dst, r11);
        if (k) {
            return;
        }
        const std::size_t done = m_a.jmp();
        m_a.bind(zero, m_a.size());
        by_zero();
        std::size_t done_zero = kNone;
        if (sign) {
            done_zero = m_a.jmp();
            m_a.bind(minus_one, m_a.size());
            by_minus_one();
        }
        m_a.bind(done, m_a.size());
        if (done_zero != kNone) {
            m_a.bind(done_zero, m_a.size());
        }
    }

    // Conversions to little-endian are truncations on this little-endian machine; to big-endian and bswap swap.
    void byte_order(const isa::Instruction& ins, Reg dst) {
        const bool swap = isa::op_class(ins.opcode) == isa::op::ALU64 || isa::op_source(ins.opcode) == isa::op::X;
        switch (ins.imm) {
        case 16:
            if (swap) {
                m_a.bswap(Width::w32, dst);
                m_a.shift(Shift::shr, Width::w32, dst, 16);
            } else {
                m_a.movzx16(dst, dst);
            }
            return;
        case 32:
            if (swap) {
                m_a.bswap(Width::w32, dst);
            } else {
                m_a.mov(Width::w32, dst, dst);
            }
            return;
        default:
            if (swap) {
                m_a.bswap(Width::w64, dst);
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
        if (op_source(ins.opcode) == op::X) {
            if (code == op::JSET) {
                m_a.test(w, dst, kReg[ins.src]);
            } else {
                m_a.arith(Arith::cmp, w, dst, kReg[ins.src]);
            }
        } else if (m_blind) {
            constant(r11, is64 ? sext(ins.imm) : static_cast<std::uint32_t>(ins.imm));
            if (code == op::JSET) {
                m_a.test(w, dst, r11);
            } else {
                m_a.arith(Arith::cmp, w, dst, r11);
            }
        } else if (code == op::JSET) {
            m_a.test(w, dst, ins.imm);
        } else {
            m_a.arith(Arith::cmp, w, dst, ins.imm);
        }
        Cond cond = equal;
        switch (code) {
        case op::JEQ: cond = equal; break;
        case op::JNE:
        case op::JSET: cond = not_equal; break;
        case op::JGT: cond = above; break;
        case op::JGE: cond = above_equal; break;
        case op::JLT: cond = below; break;
        case op::JLE: cond = below_equal; break;
        case op::JSGT: cond = greater; break;
        case op::JSGE: cond = greater_equal; break;
        case op::JSLT: cond = less; break;
        default: cond = less_equal; break; // JSLE
        }
        jump_charged(pc, ins.offset, cond);
        return {};
    }

    Result<void> call(std::size_t pc, const isa::Instruction& ins) {
        using namespace isa;
        if (op_source(ins.opcode) == op::X) { // callx: the helper id in dst, checked by the support function
            m_a.store(kRunReg, kRunCallxId, kReg[ins.dst], 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.callx));
            abort_if_stopped();
            return {};
        }
        switch (static_cast<CallSource>(ins.src)) {
        case CallSource::local: {
            if (metered()) {
                charge(m_image.function_lengths[static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm)]);
            }
            m_a.arith_mem(Arith::cmp, Width::w64, kRunReg, kRunDepth, static_cast<std::int32_t>(isa::kMaxCallDepth));
            to_abort(m_a.jcc(above_equal));
            m_a.arith_mem(Arith::add, Width::w64, kRunReg, kRunDepth, 1);
            m_a.arith(Arith::sub, Width::w64, rbp, static_cast<std::int32_t>(isa::kStackSize));
            m_image.calls.emplace_back(static_cast<std::uint32_t>(m_a.call_rel()),
                                       static_cast<std::uint32_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm));
            m_a.arith(Arith::add, Width::w64, rbp, static_cast<std::int32_t>(isa::kStackSize));
            m_a.arith_mem(Arith::sub, Width::w64, kRunReg, kRunDepth, 1);
            return {};
        }
        case CallSource::kfunc:
            if (ins.imm == 0) { // a weak kernel function the loader found absent: the run ends
                to_abort(m_a.jmp());
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
            m_a.store(kRunReg, kRunR10, rbp, 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.loop));
            abort_if_stopped();
            return {};
        case platform::Callback::for_each_map_elem:
            if (m_helpers.next_element() == nullptr) {
                return Error::invalid("instruction " + std::to_string(pc) + ": helper " + std::to_string(id) +
                                          " walks a map, and the helper table has no way to",
                                      pc);
            }
            m_a.store(kRunReg, kRunR10, rbp, 8);
            call_support(reinterpret_cast<std::uintptr_t>(m_support.for_each));
            abort_if_stopped();
            return {};
        case platform::Callback::none: break;
        }
        // A function given fewer than five arguments receives 0 past them (HelperTable::set).
        const std::uint8_t arguments = id < m_helpers.arguments().size() ? m_helpers.arguments()[id] : 5;
        for (std::uint8_t i = arguments; i < 5; ++i) {
            m_a.arith(Arith::xor_, Width::w32, kArgs[i], kArgs[i]);
        }
        m_a.movabs(r11, reinterpret_cast<std::uintptr_t>(function));
        m_a.call(r11);
        if (m_helpers.unwind() == id) { // the unwind helper (tail calls): 0 ends the run
            m_a.test(Width::w64, rax, rax);
            to_abort(m_a.jcc(equal));
        }
        return {};
    }
    // A support function taking r1-r5 and the run.
    void call_support(std::uintptr_t function) {
        m_a.mov(Width::w64, r9, kRunReg);
        m_a.movabs(r11, function);
        m_a.call(r11);
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
            value = static_cast<std::uint64_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm); // its instruction index
        }
        constant(kReg[ins.dst], value);
        return {};
    }

    // LD_ABS/LD_IND: r0 = the packet's bytes at the offset (big-endian), through the support function, r1-r5 kept.
    void packet_load(const isa::Instruction& ins) {
        if (isa::op_mode(ins.opcode) == isa::op::IND) {
            m_a.mov(Width::w32, r11, kReg[ins.src]);
            if (m_blind) {
                m_a.mov(Width::w64, r9, r11);
                constant(r11, static_cast<std::uint32_t>(ins.imm));
                m_a.arith(Arith::add, Width::w32, r11, r9);
            } else {
                m_a.arith(Arith::add, Width::w32, r11, ins.imm);
            }
            m_a.movsx(Width::w64, r11, r11, 32);
        } else {
            constant(r11, sext(ins.imm));
        }
        for (const Reg r : kArgs) {
            m_a.push(r);
        }
        m_a.arith(Arith::sub, Width::w64, rsp, 8);
        m_a.mov(Width::w64, rdi, rbx);
        m_a.mov(Width::w64, rsi, r11);
        m_a.mov_imm(rdx, isa::size_bytes(isa::op_size(ins.opcode)));
        m_a.mov(Width::w64, rcx, kRunReg);
        m_a.movabs(r11, reinterpret_cast<std::uintptr_t>(m_support.packet_load));
        m_a.call(r11);
        m_a.arith(Arith::add, Width::w64, rsp, 8);
        for (int i = 4; i >= 0; --i) {
            m_a.pop(kArgs[i]);
        }
        abort_if_stopped();
    }

    void ldx(std::size_t pc, const isa::Instruction& ins) {
        const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
        const bool sign = isa::op_mode(ins.opcode) == isa::op::MEMSX;
        if ((m_image.marks[pc] & kJitProbe) == 0) {
            m_a.load(kReg[ins.dst], kReg[ins.src], ins.offset, bytes, sign);
            return;
        }
        // A probe load: through the support function, r0-r5 kept.
        m_a.lea(r11, kReg[ins.src], ins.offset);
        constexpr Reg saved[6] = {rax, rdi, rsi, rdx, rcx, r8};
        for (const Reg r : saved) {
            m_a.push(r);
        }
        m_a.mov(Width::w64, rdi, r11);
        m_a.mov_imm(rsi, static_cast<std::uint32_t>(bytes | (sign ? 0x100 : 0)));
        m_a.movabs(r11, reinterpret_cast<std::uintptr_t>(m_support.probe_load));
        m_a.call(r11);
        m_a.mov(Width::w64, r11, rax);
        for (int i = 5; i >= 0; --i) {
            m_a.pop(saved[i]);
        }
        m_a.mov(Width::w64, kReg[ins.dst], r11);
    }

    void st(const isa::Instruction& ins) {
        const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
        if (m_blind) {
            constant(r11, sext(ins.imm));
            m_a.store(kReg[ins.dst], ins.offset, r11, bytes);
        } else {
            m_a.store_imm(kReg[ins.dst], ins.offset, ins.imm, bytes);
        }
    }

    void stx(const isa::Instruction& ins) {
        const int bytes = static_cast<int>(isa::size_bytes(isa::op_size(ins.opcode)));
        const Reg base = kReg[ins.dst];
        const Reg src = kReg[ins.src];
        if (isa::op_mode(ins.opcode) != isa::op::ATOMIC) {
            m_a.store(base, ins.offset, src, bytes);
            return;
        }
        const Width w = bytes == 8 ? Width::w64 : Width::w32;
        auto fetch_loop = [&](Arith op) {
            m_a.lea(r9, base, ins.offset);
            m_a.mov(Width::w64, r11, src);
            m_a.store(kRunReg, kRunScratch, rax, 8);
            m_a.load(rax, r9, 0, bytes);
            const std::size_t again = m_a.size();
            m_a.mov(Width::w64, r10, rax);
            m_a.arith(op, w, r10, r11);
            m_a.rm0f(0xB1, w, r9, 0, r10, true);
            m_a.bind(m_a.jcc(not_equal), again);
            m_a.mov(Width::w64, r11, rax);
            m_a.load(rax, kRunReg, kRunScratch, 8);
            m_a.mov(Width::w64, src, r11);
        };
        switch (ins.imm) {
        case isa::op::ATOMIC_ADD: m_a.rm(0x01, w, base, ins.offset, src, true); return;
        case isa::op::ATOMIC_OR: m_a.rm(0x09, w, base, ins.offset, src, true); return;
        case isa::op::ATOMIC_AND: m_a.rm(0x21, w, base, ins.offset, src, true); return;
        case isa::op::ATOMIC_XOR: m_a.rm(0x31, w, base, ins.offset, src, true); return;
        case isa::op::ATOMIC_ADD | isa::op::FETCH: m_a.rm0f(0xC1, w, base, ins.offset, src, true); return;
        case isa::op::ATOMIC_OR | isa::op::FETCH: fetch_loop(Arith::or_); return;
        case isa::op::ATOMIC_AND | isa::op::FETCH: fetch_loop(Arith::and_); return;
        case isa::op::ATOMIC_XOR | isa::op::FETCH: fetch_loop(Arith::xor_); return;
        case isa::op::XCHG: m_a.rm(0x87, w, base, ins.offset, src); return;
        default: // CMPXCHG: r0 holds the expected value and receives the old one
            m_a.rm0f(0xB1, w, base, ins.offset, src, true);
            if (w == Width::w32) {
                m_a.mov(Width::w32, rax, rax);
            }
            return;
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

Result<void> translate_x86_64(std::span<const isa::Instruction> program, const HelperTable& helpers,
                              const JitOptions& options, const JitSupport& support, std::uint64_t blind_key,
                              JitImage& image) {
    return Translator(program, helpers, options, support, blind_key, image).run();
}

} // namespace embpf::exec::detail
