// The optimizing JIT's compiler: verified eBPF lowered to LLVM IR, optimized by LLVM's pass pipeline and compiled by
// its ORC JIT. Built only with LLVM (EMBPF_WITH_LLVM).
#ifdef EMBPF_WITH_LLVM

#include "../metering.hpp"
#include "optimized_code.hpp"

#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/ConstantRange.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <pthread.h>

#include <array>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <string>
#include <vector>

namespace embpf::exec::detail {
namespace {

using isa::Instruction;
namespace op = isa::op;

std::string to_message(llvm::Error error) { return llvm::toString(std::move(error)); }

// The process's one LLJIT, made on first use: programs are modules of its main library, each with the resource
// tracker that frees its code. LLVM's pass pipeline and target machine are not made for concurrent use, so one
// compilation, or one release of a program's code, runs at a time (under `lock`; recursive, because a compilation
// that fails releases what it added).
struct Orc {
    std::recursive_mutex lock;
    std::unique_ptr<llvm::orc::LLJIT> jit;
    std::unique_ptr<llvm::TargetMachine> machine; // for the optimizer's view of the target
    std::string error;
    std::uint64_t next_id = 0;
};

Orc& orc() {
    static Orc* instance = [] {
        auto* o = new Orc; // never destroyed: code of programs that outlive static destruction stays valid
        // fork() waits for a compilation under way: LLVM's state in the child is then whole, and its lock free (a
        // child that forked mid-compilation would wait for ever on a lock no thread of its holds). The child's one
        // thread is not the owner the lock records (its thread id changed), so the child makes the lock anew.
        pthread_atfork([] { orc().lock.lock(); }, [] { orc().lock.unlock(); },
                       [] { new (&orc().lock) std::recursive_mutex(); });
        llvm::InitializeNativeTarget();
        llvm::InitializeNativeTargetAsmPrinter();
        auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
        if (!builder) {
            o->error = to_message(builder.takeError());
            return o;
        }
        builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
        auto machine = builder->createTargetMachine();
        if (!machine) {
            o->error = to_message(machine.takeError());
            return o;
        }
        o->machine = std::move(*machine);
        auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*builder)).create();
        if (!jit) {
            o->error = to_message(jit.takeError());
            return o;
        }
        o->jit = std::move(*jit);
        return o;
    }();
    return *instance;
}

// The most arrays a lookup whose map the lowering does not know is switched over (Lowering::inline_lookups).
constexpr std::size_t kMaxLookupSwitch = 8;

// The bound on phis times blocks of the optimized IR (compile_optimized).
constexpr std::uint64_t kMaxPhiBlocks = 500'000;

constexpr std::uint8_t kFunction = 1;
constexpr std::uint8_t kCallback = 2;
constexpr std::uint8_t kProbe = 4;

std::size_t width_of(const Instruction& ins) { return isa::is_lddw(ins) ? 2 : 1; }

// The memory regions a run's accesses may reach, which never overlap: the run's stack, the host's context, packet and
// context memory regions, map values, helpers' allocations (the host hands a run regions apart, as the verifier
// assumes), and the run state the compiled code keeps (which no access of the program's reaches).
enum Region : std::uint8_t { kStack, kContext, kPacket, kMemory, kMapValue, kAllocation, kRunState, kRegions };

std::optional<Region> region_of(verifier::RegisterFact::Kind kind) {
    using Kind = verifier::RegisterFact::Kind;
    switch (kind) {
    case Kind::stack: return kStack;
    case Kind::context: return kContext;
    case Kind::packet: return kPacket;
    case Kind::memory: return kMemory;
    case Kind::map_value: return kMapValue;
    case Kind::allocation: return kAllocation;
    default: return std::nullopt; // a probe read through a host address, or nothing known
    }
}

// The values a register the verifier proved a number may hold, as one range (the hull of what its signed and unsigned
// intervals leave); nullopt for other registers and when nothing is known.
std::optional<llvm::ConstantRange> number_range(const verifier::RegisterFact& fact) {
    if (fact.kind != verifier::RegisterFact::Kind::number) {
        return std::nullopt;
    }
    const llvm::ConstantRange unsigned_range =
        llvm::ConstantRange::getNonEmpty(llvm::APInt(64, fact.umin), llvm::APInt(64, fact.umax) + 1);
    const llvm::ConstantRange signed_range =
        llvm::ConstantRange::getNonEmpty(llvm::APInt(64, static_cast<std::uint64_t>(fact.smin), true),
                                         llvm::APInt(64, static_cast<std::uint64_t>(fact.smax), true) + 1);
    llvm::ConstantRange range = unsigned_range.intersectWith(signed_range);
    if (range.isFullSet() || range.isEmptySet()) { // empty: the facts contradict themselves; assume nothing
        return std::nullopt;
    }
    return range;
}

// One program's lowering: each eBPF function an LLVM function of r1-r5, its frame's top and the run.
class Lowering {
  public:
    Lowering(llvm::LLVMContext& context, llvm::Module& module, std::span<const Instruction> program,
             const HelperTable& helpers, const OptimizerOptions& options, const OptimizedSupport& support,
             std::string prefix)
        : m_ctx(context), m_module(module), m_program(program), m_helpers(helpers), m_options(options),
          m_support(support), m_prefix(std::move(prefix)), m_b(context), m_i64(llvm::Type::getInt64Ty(context)),
          m_i32(llvm::Type::getInt32Ty(context)), m_i8(llvm::Type::getInt8Ty(context)),
          m_ptr(llvm::PointerType::getUnqual(context)) {
        std::vector<llvm::Type*> parameters(10, m_i64);
        parameters.push_back(m_ptr);
        parameters.push_back(m_ptr);
        m_function_type = llvm::FunctionType::get(m_i64, parameters, false);
        m_helper_type = llvm::FunctionType::get(m_i64, {m_i64, m_i64, m_i64, m_i64, m_i64}, false);
        for (const InlineArray& array : options.arrays) {
            m_arrays.try_emplace(array.map, &array);
        }
        // One alias scope a region: an access the facts place in one is in its scope and in none of the others'.
        llvm::MDBuilder md(context);
        llvm::MDNode* domain = md.createAnonymousAliasScopeDomain("embpf.regions");
        static constexpr std::array<const char*, kRegions> kNames = {"stack",     "context",       "packet",   "memory",
                                                                     "map_value", "helper_memory", "run_state"};
        std::array<llvm::Metadata*, kRegions> scopes{};
        for (std::size_t r = 0; r < kRegions; ++r) {
            scopes[r] = md.createAnonymousAliasScope(domain, kNames[r]);
        }
        for (std::size_t r = 0; r < kRegions; ++r) {
            std::vector<llvm::Metadata*> others;
            for (std::size_t o = 0; o < kRegions; ++o) {
                if (o != r) {
                    others.push_back(scopes[o]);
                }
            }
            m_scope[r] = llvm::MDNode::get(context, {scopes[r]});
            m_not_scope[r] = llvm::MDNode::get(context, others);
        }
    }

    // The entry's name, and each callback's (by instruction index).
    Result<void> lower(std::string& entry, std::vector<std::pair<std::uint32_t, std::string>>& callbacks) {
        if (auto marked = mark(); !marked) {
            return marked;
        }
        if (m_options.instruction_budget != 0) {
            m_function_lengths = function_lengths(m_program);
        }
        for (std::size_t i = 0; i < m_starts.size(); ++i) {
            const std::uint32_t start = m_starts[i];
            const bool callback = (m_marks[start] & kCallback) != 0;
            const std::string name = m_prefix + (callback ? "_callback_" : "_function_") + std::to_string(start);
            auto* function = llvm::Function::Create(
                m_function_type, callback ? llvm::GlobalValue::ExternalLinkage : llvm::GlobalValue::InternalLinkage,
                name, m_module);
            function->addFnAttr(llvm::Attribute::NoUnwind);
            m_functions[start] = function;
            if (callback) {
                callbacks.emplace_back(start, name);
            }
        }
        for (std::size_t i = 0; i < m_starts.size(); ++i) {
            const std::uint32_t end =
                i + 1 < m_starts.size() ? m_starts[i + 1] : static_cast<std::uint32_t>(m_program.size());
            if (auto lowered = lower_function(m_starts[i], end); !lowered) {
                return lowered;
            }
        }
        entry = m_prefix + "_entry";
        auto* type = llvm::FunctionType::get(m_i64, {m_i64, m_i64, m_ptr}, false);
        auto* function = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, entry, m_module);
        function->addFnAttr(llvm::Attribute::NoUnwind);
        m_b.SetInsertPoint(llvm::BasicBlock::Create(m_ctx, "entry", function));
        // The run's stack: the entry frame on top, each call level's frame 512 bytes below its caller's, as the
        // interpreter lays them out.
        auto* stack =
            m_b.CreateAlloca(llvm::ArrayType::get(m_i8, (isa::kMaxCallDepth + 1) * isa::kStackSize), nullptr, "stack");
        stack->setAlignment(llvm::Align(16));
        std::vector<llvm::Value*> args(10, m_b.getInt64(0));
        args[1] = function->getArg(0);
        args[2] = function->getArg(1);
        args.push_back(m_b.CreateGEP(m_i8, stack, m_b.getInt64((isa::kMaxCallDepth + 1) * isa::kStackSize)));
        args.push_back(function->getArg(2));
        llvm::Value* r0 = m_b.CreateCall(m_function_type, m_functions.at(0), args);
        m_b.CreateRet(r0);
        return {};
    }

  private:
    // The functions (the program's start, local call targets, callbacks) and the probe loads.
    Result<void> mark() {
        m_marks.assign(m_program.size(), 0);
        m_marks[0] |= kFunction;
        for (const std::uint32_t pc : m_options.probe_loads) {
            m_marks[pc] |= kProbe;
        }
        for (std::size_t pc = 0; pc < m_program.size(); pc += width_of(m_program[pc])) {
            const Instruction& ins = m_program[pc];
            if (ins.opcode == op::CALL_OP && ins.src == static_cast<std::uint8_t>(isa::CallSource::local)) {
                m_marks[pc + 1 + static_cast<std::size_t>(static_cast<std::int64_t>(ins.imm))] |= kFunction;
            }
            if (isa::is_lddw(ins) && ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
                m_marks[static_cast<std::size_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm)] |= kFunction | kCallback;
            }
        }
        for (std::uint32_t pc = 0; pc < m_program.size(); ++pc) {
            if ((m_marks[pc] & kFunction) != 0) {
                m_starts.push_back(pc);
            }
        }
        return {};
    }

    Result<void> lower_function(std::uint32_t start, std::uint32_t end) {
        llvm::Function* function = m_functions.at(start);
        m_function = function;
        m_fp = function->getArg(10);
        m_run = function->getArg(11);
        m_abort = nullptr;
        m_exhausted = nullptr;
        m_blocks.clear();
        m_loop_heads.clear();
        auto* entry = llvm::BasicBlock::Create(m_ctx, "entry", function);
        m_b.SetInsertPoint(entry);
        for (int r = 0; r < 10; ++r) {
            m_regs[r] = m_b.CreateAlloca(m_i64, nullptr, "r" + std::to_string(r));
        }
        // A function starts with the caller's registers (a callback with r1-r5 its helper gives and 0 in the others),
        // as the interpreter runs it; the verifier lets it read only r1-r5 and r10.
        for (int r = 0; r < 10; ++r) {
            m_b.CreateStore(function->getArg(static_cast<unsigned>(r)), m_regs[r]);
        }
        m_callee_frame = m_b.CreateGEP(m_i8, m_fp, m_b.getInt64(-static_cast<std::int64_t>(isa::kStackSize)));
        // Blocks start at the function's start, at jump targets and after jumps and exits.
        block(start);
        for (std::uint32_t pc = start; pc < end;) {
            const Instruction& ins = m_program[pc];
            const auto next = static_cast<std::uint32_t>(pc + width_of(ins));
            const std::uint8_t cls = isa::op_class(ins.opcode);
            if (isa::is_branch(ins.opcode)) {
                const std::int64_t target = static_cast<std::int64_t>(pc) + 1 + isa::branch_offset(ins);
                if (target < start || target >= end) {
                    return Error::unsupported("instruction " + std::to_string(pc) +
                                                  ": a jump out of its function (the optimizing JIT compiles "
                                                  "functions apart)",
                                              pc);
                }
                block(static_cast<std::uint32_t>(target));
                if (target <= pc) {
                    m_loop_heads.insert(static_cast<std::uint32_t>(target));
                }
                if (next < end) {
                    block(next);
                }
            } else if ((cls == op::JMP && isa::op_code(ins.opcode) == op::EXIT) && next < end) {
                block(next);
            }
            const bool ends = (cls == op::JMP || cls == op::JMP32) &&
                              (ins.opcode == op::EXIT_OP || ins.opcode == op::JA_OP || ins.opcode == op::JA32_OP);
            if (next >= end && !ends) {
                return Error::unsupported(
                    "instruction " + std::to_string(pc) + ": the function runs past its last instruction", pc);
            }
            pc = next;
        }
        m_b.CreateBr(m_blocks.at(start));
        for (std::uint32_t pc = start; pc < end;) {
            const Instruction& ins = m_program[pc];
            if (auto found = m_blocks.find(pc); found != m_blocks.end()) {
                if (m_b.GetInsertBlock()->getTerminator() == nullptr && m_b.GetInsertBlock() != found->second) {
                    m_b.CreateBr(found->second);
                }
                m_b.SetInsertPoint(found->second);
                if (m_loop_heads.count(pc) != 0) {
                    assume_ranges(pc);
                }
            } else if (m_b.GetInsertBlock()->getTerminator() != nullptr) {
                // Code no jump reaches after an exit or a jump: a block of its own, which LLVM removes.
                m_b.SetInsertPoint(llvm::BasicBlock::Create(m_ctx, "dead", function));
            }
            if (auto lowered = instruction(pc, ins); !lowered) {
                return lowered;
            }
            pc += static_cast<std::uint32_t>(width_of(ins));
        }
        return {};
    }

    // At a loop's head, the ranges the verifier proved of the registers that hold numbers there (the bounds of its
    // counters, from which the analysis proved the loop ends), for LLVM to assume.
    void assume_ranges(std::uint32_t pc) {
        for (int r = 0; r < isa::kFramePointer; ++r) {
            const verifier::RegisterFact* known = fact(pc, r);
            const std::optional<llvm::ConstantRange> range = known != nullptr ? number_range(*known) : std::nullopt;
            if (!range) {
                continue;
            }
            // v in [lower, upper), wrapping: v - lower < upper - lower, unsigned.
            llvm::Value* offset = m_b.CreateSub(get(r), m_b.getInt(range->getLower()));
            m_b.CreateAssumption(m_b.CreateICmpULT(offset, m_b.getInt(range->getUpper() - range->getLower())));
        }
    }

    // Register `r` holds before the instruction at `pc` a pointer the facts prove is not null: into the run's stack, a
    // map's value or a helper's allocation (memory of the runtime's, whose addresses lie far above 0), at an offset
    // near its start. The host's regions are left out: a host may hand over an empty packet at address 0.
    bool proven_non_null(std::uint32_t pc, int r) const {
        using Kind = verifier::RegisterFact::Kind;
        const verifier::RegisterFact* known = fact(pc, r);
        if (known == nullptr || known->may_be_null ||
            (known->kind != Kind::stack && known->kind != Kind::map_value && known->kind != Kind::allocation)) {
            return false;
        }
        constexpr auto kStack = static_cast<std::int64_t>((isa::kMaxCallDepth + 1) * isa::kStackSize);
        constexpr std::int64_t kNear = std::int64_t{1} << 31;
        return known->offset_min >= -4096 - kStack && known->offset_max <= kNear;
    }

    llvm::BasicBlock* block(std::uint32_t pc) {
        auto [found, inserted] = m_blocks.try_emplace(pc, nullptr);
        if (inserted) {
            found->second = llvm::BasicBlock::Create(m_ctx, "pc" + std::to_string(pc), m_function);
        }
        return found->second;
    }

    // The block that ends the run: the stop set, 0 returned (every caller returns at once on the stop).
    llvm::BasicBlock* abort_block() {
        if (m_abort == nullptr) {
            llvm::IRBuilderBase::InsertPointGuard guard(m_b);
            m_abort = llvm::BasicBlock::Create(m_ctx, "abort", m_function);
            m_b.SetInsertPoint(m_abort);
            store_run(kOptimizedRunStop, m_b.getInt64(1));
            m_b.CreateRet(m_b.getInt64(0));
        }
        return m_abort;
    }
    // Continues if `condition` is false, else ends the run.
    void abort_if(llvm::Value* condition) {
        auto* next = llvm::BasicBlock::Create(m_ctx, "go", m_function);
        m_b.CreateCondBr(condition, abort_block(), next);
        m_b.SetInsertPoint(next);
    }
    // Metering: continues when what is left of the budget covers `n`, which it then takes; else the run ends with
    // the budget exhausted (engine.hpp).
    void charge(std::uint64_t n) {
        if (m_exhausted == nullptr) {
            llvm::IRBuilderBase::InsertPointGuard guard(m_b);
            m_exhausted = llvm::BasicBlock::Create(m_ctx, "exhausted", m_function);
            m_b.SetInsertPoint(m_exhausted);
            store_run(kOptimizedRunExhausted, m_b.getInt64(1));
            m_b.CreateBr(abort_block());
        }
        llvm::Value* left = load_run(kOptimizedRunBudget);
        auto* charged = llvm::BasicBlock::Create(m_ctx, "charged", m_function);
        m_b.CreateCondBr(m_b.CreateICmpUGT(m_b.getInt64(n), left), m_exhausted, charged);
        m_b.SetInsertPoint(charged);
        store_run(kOptimizedRunBudget, m_b.CreateSub(left, m_b.getInt64(n)));
    }
    // The block a taken jump to `target` from `pc` goes to: a back-edge of metered code charges first.
    llvm::BasicBlock* jump_to(std::uint32_t pc, std::uint32_t target) {
        if (m_options.instruction_budget == 0 || target > pc) {
            return m_blocks.at(target);
        }
        llvm::IRBuilderBase::InsertPointGuard guard(m_b);
        auto* back = llvm::BasicBlock::Create(m_ctx, "back_edge", m_function);
        m_b.SetInsertPoint(back);
        charge(pc - target + 1);
        m_b.CreateBr(m_blocks.at(target));
        return back;
    }
    void abort_if_stopped() { abort_if(m_b.CreateICmpNE(load_run(kOptimizedRunStop), m_b.getInt64(0))); }
    llvm::Value* run_field(unsigned index) { return m_b.CreateConstGEP1_64(m_i64, m_run, index); }
    llvm::Value* load_run(unsigned index) { return in_region(m_b.CreateLoad(m_i64, run_field(index)), kRunState); }
    void store_run(unsigned index, llvm::Value* value) {
        in_region(m_b.CreateStore(value, run_field(index)), kRunState);
    }
    // Marks a memory access as one of `region`'s, which no access of another region's may alias.
    template <typename Access>
    Access* in_region(Access* access, Region region) {
        access->setMetadata(llvm::LLVMContext::MD_alias_scope, m_scope[region]);
        access->setMetadata(llvm::LLVMContext::MD_noalias, m_not_scope[region]);
        return access;
    }
    // The same for the load, store or atomic at `pc`, from the region the facts place it in.
    template <typename Access>
    Access* in_region(Access* access, std::uint32_t pc) {
        if (const std::optional<Region> region = access_region(pc)) {
            in_region(access, *region);
        }
        return access;
    }
    // The region the facts place the load, store or atomic at `pc` in.
    std::optional<Region> access_region(std::uint32_t pc) const {
        if (m_options.facts.empty()) {
            return std::nullopt;
        }
        const std::optional<verifier::AccessFact> fact = verifier::access_fact(m_options.facts, m_program, pc);
        return fact ? region_of(fact->region) : std::nullopt;
    }
    // What the verifier proved of register `r` before the instruction at `pc`; nullptr without facts there.
    const verifier::RegisterFact* fact(std::uint32_t pc, int r) const {
        if (pc >= m_options.facts.size() || !m_options.facts[pc].reached) {
            return nullptr;
        }
        return &m_options.facts[pc].registers[static_cast<std::size_t>(r)];
    }

    llvm::Value* get(int r) {
        if (r == isa::kFramePointer) {
            return m_b.CreatePtrToInt(m_fp, m_i64);
        }
        return m_b.CreateLoad(m_i64, m_regs[r]);
    }
    void set(int r, llvm::Value* value) { m_b.CreateStore(value, m_regs[r]); }
    // The address `base + offset` that the instruction at `pc` reads or writes. Through a register the verifier proved
    // to point at one offset from this function's r10, it is the frame's own address, so that the frame's use shows
    // (a pointer made an integer hides it from LLVM, which must then keep every slot in memory).
    llvm::Value* address(std::uint32_t pc, int base, std::int16_t offset) {
        if (base == isa::kFramePointer) {
            return offset == 0 ? m_fp : m_b.CreateGEP(m_i8, m_fp, m_b.getInt64(offset));
        }
        if (const std::optional<std::int64_t> at = stack_offset(pc, base)) {
            return m_b.CreateGEP(m_i8, m_fp, m_b.getInt64(*at + offset));
        }
        llvm::Value* pointer = m_b.CreateIntToPtr(get(base), m_ptr);
        return offset == 0 ? pointer : m_b.CreateGEP(m_i8, pointer, m_b.getInt64(offset));
    }
    // The offset from this function's r10 that register `r` holds before the instruction at `pc`, when the facts prove
    // it one offset in a frame of the run (its own or a caller's).
    std::optional<std::int64_t> stack_offset(std::uint32_t pc, int r) const {
        if (pc >= m_options.facts.size() || !m_options.facts[pc].reached) {
            return std::nullopt;
        }
        const verifier::RegisterFact& fact = m_options.facts[pc].registers[static_cast<std::size_t>(r)];
        if (fact.kind != verifier::RegisterFact::Kind::stack || fact.may_be_null ||
            fact.frame == verifier::RegisterFact::Frame::unknown || fact.offset_min != fact.offset_max) {
            return std::nullopt;
        }
        // Within the run's stack: at most its frames below the entry's top.
        constexpr std::int64_t kStack = (isa::kMaxCallDepth + 1) * isa::kStackSize;
        if (fact.offset_min < -kStack || fact.offset_min > kStack) {
            return std::nullopt;
        }
        return fact.offset_min;
    }
    llvm::Value* constant(std::uint64_t address, llvm::Type* type = nullptr) {
        (void)type;
        return llvm::ConstantExpr::getIntToPtr(m_b.getInt64(address), m_ptr);
    }
    static std::uint64_t sext(std::int32_t imm) { return static_cast<std::uint64_t>(static_cast<std::int64_t>(imm)); }

    Result<void> instruction(std::uint32_t pc, const Instruction& ins) {
        switch (isa::op_class(ins.opcode)) {
        case op::ALU:
        case op::ALU64: alu(ins); return {};
        case op::JMP:
        case op::JMP32: return jump(pc, ins);
        case op::LD: return ld(pc, ins);
        case op::LDX: ldx(pc, ins); return {};
        case op::ST:
        case op::STX: store(pc, ins); return {};
        default: break;
        }
        return Error::internal("instruction " + std::to_string(pc) + ": an opcode validation let through");
    }

    void alu(const Instruction& ins) {
        const bool is64 = isa::op_class(ins.opcode) == op::ALU64;
        const bool k = isa::op_source(ins.opcode) == op::K;
        const std::uint8_t code = isa::op_code(ins.opcode);
        llvm::Type* type = is64 ? m_i64 : m_i32;
        if (code == op::END) {
            byte_order(ins, is64);
            return;
        }
        llvm::Value* d = get(ins.dst);
        llvm::Value* s =
            k ? (is64 ? m_b.getInt64(sext(ins.imm)) : m_b.getInt32(static_cast<std::uint32_t>(ins.imm))) : get(ins.src);
        if (!is64) {
            d = m_b.CreateTrunc(d, m_i32);
            if (!k) {
                s = m_b.CreateTrunc(s, m_i32);
            }
        }
        const unsigned bits = is64 ? 64 : 32;
        llvm::Value* r = nullptr;
        switch (code) {
        case op::ADD: r = m_b.CreateAdd(d, s); break;
        case op::SUB: r = m_b.CreateSub(d, s); break;
        case op::MUL: r = m_b.CreateMul(d, s); break;
        case op::OR: r = m_b.CreateOr(d, s); break;
        case op::AND: r = m_b.CreateAnd(d, s); break;
        case op::XOR: r = m_b.CreateXor(d, s); break;
        case op::LSH: r = m_b.CreateShl(d, m_b.CreateAnd(s, llvm::ConstantInt::get(type, bits - 1))); break;
        case op::RSH: r = m_b.CreateLShr(d, m_b.CreateAnd(s, llvm::ConstantInt::get(type, bits - 1))); break;
        case op::ARSH: r = m_b.CreateAShr(d, m_b.CreateAnd(s, llvm::ConstantInt::get(type, bits - 1))); break;
        case op::NEG: r = m_b.CreateNeg(d); break;
        case op::MOV:
            if (!k && ins.offset != 0) { // movsx: the low 8, 16 or 32 bits sign-extended
                llvm::Value* low = m_b.CreateTrunc(get(ins.src), llvm::Type::getIntNTy(m_ctx, ins.offset));
                r = m_b.CreateSExt(low, type);
            } else {
                r = s;
            }
            break;
        case op::DIV:
        case op::MOD: r = divide(code == op::MOD, ins.offset == 1, type, d, s); break;
        default: r = d; break; // validation admits no other operation
        }
        set(ins.dst, is64 ? r : m_b.CreateZExt(r, m_i64));
    }

    // Division and remainder as eBPF defines them: by 0 the quotient is 0 and the remainder the dividend; signed by
    // -1 the quotient is the negation (wrapping) and the remainder 0. The divisor LLVM sees is never one of those.
    llvm::Value* divide(bool remainder, bool is_signed, llvm::Type* type, llvm::Value* d, llvm::Value* s) {
        llvm::Value* zero = llvm::ConstantInt::get(type, 0);
        llvm::Value* one = llvm::ConstantInt::get(type, 1);
        llvm::Value* by_zero = m_b.CreateICmpEQ(s, zero);
        if (!is_signed) {
            llvm::Value* safe = m_b.CreateSelect(by_zero, one, s);
            return remainder ? m_b.CreateSelect(by_zero, d, m_b.CreateURem(d, safe))
                             : m_b.CreateSelect(by_zero, zero, m_b.CreateUDiv(d, safe));
        }
        llvm::Value* by_minus_one = m_b.CreateICmpEQ(s, llvm::ConstantInt::getSigned(type, -1));
        llvm::Value* safe = m_b.CreateSelect(m_b.CreateOr(by_zero, by_minus_one), one, s);
        if (remainder) {
            return m_b.CreateSelect(by_zero, d, m_b.CreateSelect(by_minus_one, zero, m_b.CreateSRem(d, safe)));
        }
        return m_b.CreateSelect(by_zero, zero,
                                m_b.CreateSelect(by_minus_one, m_b.CreateNeg(d), m_b.CreateSDiv(d, safe)));
    }

    // To little-endian is a truncation on the little-endian hosts LLVM compiles for here; to big-endian and bswap
    // swap the bytes.
    void byte_order(const Instruction& ins, bool is64) {
        const bool swap = is64 || isa::op_source(ins.opcode) == op::X;
        const unsigned bits = ins.imm == 16 ? 16 : ins.imm == 32 ? 32 : 64;
        llvm::Value* v = get(ins.dst);
        if (bits < 64) {
            v = m_b.CreateTrunc(v, llvm::Type::getIntNTy(m_ctx, bits));
        }
        if (swap) {
            v = m_b.CreateUnaryIntrinsic(llvm::Intrinsic::bswap, v);
        }
        set(ins.dst, bits < 64 ? m_b.CreateZExt(v, m_i64) : v);
    }

    Result<void> jump(std::uint32_t pc, const Instruction& ins) {
        const bool is64 = isa::op_class(ins.opcode) == op::JMP;
        const std::uint8_t code = isa::op_code(ins.opcode);
        const auto target = static_cast<std::uint32_t>(static_cast<std::int64_t>(pc) + 1 + isa::branch_offset(ins));
        switch (code) {
        case op::JA: m_b.CreateBr(jump_to(pc, target)); return {};
        case op::EXIT: m_b.CreateRet(get(0)); return {};
        case op::CALL: return call(pc, ins);
        default: break;
        }
        if (is64 && (code == op::JEQ || code == op::JNE) && isa::op_source(ins.opcode) == op::K && ins.imm == 0 &&
            proven_non_null(pc, ins.dst)) { // a null check of a pointer that cannot be null
            m_b.CreateBr(code == op::JNE ? jump_to(pc, target) : m_blocks.at(pc + 1));
            return {};
        }
        llvm::Value* d = get(ins.dst);
        llvm::Value* s = isa::op_source(ins.opcode) == op::X ? get(ins.src) : m_b.getInt64(sext(ins.imm));
        if (!is64) {
            d = m_b.CreateTrunc(d, m_i32);
            s = m_b.CreateTrunc(s, m_i32);
        }
        llvm::Value* taken = nullptr;
        switch (code) {
        case op::JEQ: taken = m_b.CreateICmpEQ(d, s); break;
        case op::JNE: taken = m_b.CreateICmpNE(d, s); break;
        case op::JSET: taken = m_b.CreateICmpNE(m_b.CreateAnd(d, s), llvm::ConstantInt::get(d->getType(), 0)); break;
        case op::JGT: taken = m_b.CreateICmpUGT(d, s); break;
        case op::JGE: taken = m_b.CreateICmpUGE(d, s); break;
        case op::JLT: taken = m_b.CreateICmpULT(d, s); break;
        case op::JLE: taken = m_b.CreateICmpULE(d, s); break;
        case op::JSGT: taken = m_b.CreateICmpSGT(d, s); break;
        case op::JSGE: taken = m_b.CreateICmpSGE(d, s); break;
        case op::JSLT: taken = m_b.CreateICmpSLT(d, s); break;
        default: taken = m_b.CreateICmpSLE(d, s); break; // JSLE
        }
        m_b.CreateCondBr(taken, jump_to(pc, target), m_blocks.at(pc + 1));
        return {};
    }

    Result<void> call(std::uint32_t pc, const Instruction& ins) {
        if (isa::op_source(ins.opcode) == op::X) { // callx: the helper id in dst, checked by the support function
            auto* type = llvm::FunctionType::get(m_i64, {m_i64, m_i64, m_i64, m_i64, m_i64, m_i64, m_ptr}, false);
            set(0, m_b.CreateCall(type, constant(reinterpret_cast<std::uintptr_t>(m_support.callx)),
                                  {get(1), get(2), get(3), get(4), get(5), get(ins.dst), m_run}));
            abort_if_stopped();
            return {};
        }
        switch (static_cast<isa::CallSource>(ins.src)) {
        case isa::CallSource::local: return local_call(pc, ins);
        case isa::CallSource::kfunc:
            if (ins.imm == 0) { // a weak kernel function the loader found absent: the run ends
                m_b.CreateBr(abort_block());
                m_b.SetInsertPoint(llvm::BasicBlock::Create(m_ctx, "dead", m_function));
                return {};
            }
            return Error::unsupported(
                "instruction " + std::to_string(pc) + ": kernel function calls (kfunc) are not supported", pc);
        case isa::CallSource::helper: break;
        }
        const auto id = static_cast<std::uint32_t>(ins.imm);
        const HelperFunction function = m_helpers.get(id);
        if (function == nullptr) {
            return Error::invalid(
                "instruction " + std::to_string(pc) + ": call to unknown helper " + std::to_string(ins.imm), pc);
        }
        auto* support_type = llvm::FunctionType::get(m_i64, {m_i64, m_i64, m_i64, m_i64, m_i64, m_ptr, m_ptr}, false);
        switch (m_helpers.callback(id)) {
        case platform::Callback::loop:
            set(0, m_b.CreateCall(support_type, constant(reinterpret_cast<std::uintptr_t>(m_support.loop)),
                                  {get(1), get(2), get(3), get(4), get(5), m_fp, m_run}));
            abort_if_stopped();
            return {};
        case platform::Callback::for_each_map_elem:
            if (m_helpers.next_element() == nullptr) {
                return Error::invalid("instruction " + std::to_string(pc) + ": helper " + std::to_string(id) +
                                          " walks a map, and the helper table has no way to",
                                      pc);
            }
            set(0, m_b.CreateCall(support_type, constant(reinterpret_cast<std::uintptr_t>(m_support.for_each)),
                                  {get(1), get(2), get(3), get(4), get(5), m_fp, m_run}));
            abort_if_stopped();
            return {};
        case platform::Callback::none: break;
        }
        // A function given fewer than five arguments receives 0 past them (HelperTable::set).
        const std::uint8_t arguments = id < m_helpers.arguments().size() ? m_helpers.arguments()[id] : 5;
        std::vector<llvm::Value*> args;
        for (int i = 0; i < 5; ++i) {
            args.push_back(i < arguments ? get(i + 1) : m_b.getInt64(0));
        }
        if (m_options.lookup_helper == id && !m_options.arrays.empty()) {
            inline_lookups(pc, function, args);
            return {};
        }
        llvm::Value* r0 = m_b.CreateCall(m_helper_type, constant(reinterpret_cast<std::uintptr_t>(function)), args);
        set(0, r0);
        if (m_helpers.unwind() == id) { // the unwind helper (tail calls): 0 ends the run
            abort_if(m_b.CreateICmpEQ(r0, m_b.getInt64(0)));
        }
        return {};
    }

    // A lookup in one of OptimizerOptions::arrays computed here, in any other map through the helper. Where an lddw of
    // the block put the map in r1, the lowering knows which it is; elsewhere a switch on r1 over a few arrays (LLVM
    // folds it where it learns the map) or, past kMaxLookupSwitch arrays, the helper: a switch of thousands of cases
    // at each of thousands of lookups would take LLVM minutes. The key is the 4 bytes at r2, as the map reads it; out
    // of range, the result is null.
    void inline_lookups(std::uint32_t pc, HelperFunction function, const std::vector<llvm::Value*>& args) {
        auto call = [&] {
            set(0, m_b.CreateCall(m_helper_type, constant(reinterpret_cast<std::uintptr_t>(function)), args));
        };
        auto compute = [&](const InlineArray& array) {
            llvm::Value* key = m_b.CreateZExt(
                m_b.CreateFreeze(m_b.CreateAlignedLoad(m_i32, address(pc, 2, 0), llvm::Align(1))), m_i64);
            llvm::Value* value =
                m_b.CreateAdd(m_b.getInt64(array.values), m_b.CreateMul(key, m_b.getInt64(array.stride)));
            llvm::Value* in_range = m_b.CreateICmpULT(key, m_b.getInt64(array.max_entries));
            set(0, m_b.CreateSelect(in_range, value, m_b.getInt64(0)));
        };
        if (const std::optional<std::uint64_t> map = known_r1(pc)) {
            const auto found = m_arrays.find(*map);
            if (found != m_arrays.end()) {
                compute(*found->second);
            } else {
                call();
            }
            return;
        }
        if (m_arrays.size() > kMaxLookupSwitch) {
            call();
            return;
        }
        auto* done = llvm::BasicBlock::Create(m_ctx, "looked_up", m_function);
        auto* other = llvm::BasicBlock::Create(m_ctx, "lookup_call", m_function);
        llvm::SwitchInst* maps = m_b.CreateSwitch(get(1), other, static_cast<unsigned>(m_arrays.size()));
        for (const auto& [map, array] : m_arrays) {
            auto* inline_block = llvm::BasicBlock::Create(m_ctx, "lookup_inline", m_function);
            maps->addCase(m_b.getInt64(map), inline_block);
            m_b.SetInsertPoint(inline_block);
            compute(*array);
            m_b.CreateBr(done);
        }
        m_b.SetInsertPoint(other);
        call();
        m_b.CreateBr(done);
        m_b.SetInsertPoint(done);
    }

    // The constant r1 holds before the instruction at `pc`, when an lddw of its block loaded it and nothing in the
    // block after it may have written r1 (a call may: r1-r5 are the callee's).
    std::optional<std::uint64_t> known_r1(std::uint32_t pc) const {
        auto block = m_blocks.upper_bound(pc);
        if (block == m_blocks.begin()) {
            return std::nullopt;
        }
        --block;
        std::optional<std::uint64_t> r1;
        for (std::uint32_t q = block->first; q < pc; q += static_cast<std::uint32_t>(width_of(m_program[q]))) {
            const Instruction& ins = m_program[q];
            const std::uint8_t cls = isa::op_class(ins.opcode);
            if (isa::is_lddw(ins) && ins.dst == 1 && ins.src == static_cast<std::uint8_t>(isa::LddwSource::imm64)) {
                r1 = isa::lddw_imm(ins, m_program[q + 1]);
            } else if (((cls == op::ALU || cls == op::ALU64 || cls == op::LDX || cls == op::LD) && ins.dst == 1) ||
                       cls == op::JMP || cls == op::JMP32 || (cls == op::LD && !isa::is_lddw(ins)) ||
                       (cls == op::STX && isa::op_mode(ins.opcode) == op::ATOMIC && ins.src == 1)) {
                r1.reset(); // written, perhaps (a call, a legacy packet load, an atomic's fetch)
            }
        }
        return r1;
    }

    // A bpf-to-bpf call: a frame of the caller's for the callee, the depth the interpreter allows, the stop checked
    // on return (a guard deeper down ended the run).
    Result<void> local_call(std::uint32_t pc, const Instruction& ins) {
        const auto target = static_cast<std::uint32_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm);
        if (m_options.instruction_budget != 0) {
            charge(m_function_lengths.at(target));
        }
        llvm::Value* depth = load_run(kOptimizedRunDepth);
        abort_if(m_b.CreateICmpUGE(depth, m_b.getInt64(isa::kMaxCallDepth)));
        store_run(kOptimizedRunDepth, m_b.CreateAdd(depth, m_b.getInt64(1)));
        std::vector<llvm::Value*> args;
        for (int r = 0; r < 10; ++r) {
            args.push_back(get(r));
        }
        args.push_back(m_callee_frame);
        args.push_back(m_run);
        llvm::Value* r0 = m_b.CreateCall(m_function_type, m_functions.at(target), args);
        store_run(kOptimizedRunDepth, depth);
        set(0, r0);
        abort_if_stopped();
        return {};
    }

    Result<void> ld(std::uint32_t pc, const Instruction& ins) {
        if (isa::is_legacy_packet_load(ins)) {
            if (!m_options.packet) {
                return Error::invalid(
                    "instruction " + std::to_string(pc) +
                        ": a legacy packet load (LD_ABS/LD_IND) needs a program type with a data range",
                    pc);
            }
            llvm::Value* offset = m_b.getInt64(sext(ins.imm));
            if (isa::op_mode(ins.opcode) == op::IND) { // (s32)(src + imm)
                offset = m_b.CreateSExt(
                    m_b.CreateTrunc(m_b.CreateAdd(get(ins.src), m_b.getInt64(sext(ins.imm))), m_i32), m_i64);
            }
            auto* type = llvm::FunctionType::get(m_i64, {m_i64, m_i64, m_i64, m_ptr}, false);
            const auto size = static_cast<std::uint64_t>(isa::size_bytes(isa::op_size(ins.opcode)));
            set(0, m_b.CreateCall(type, constant(reinterpret_cast<std::uintptr_t>(m_support.packet_load)),
                                  {get(6), offset, m_b.getInt64(size), m_run}));
            abort_if_stopped();
            return {};
        }
        if (ins.src != static_cast<std::uint8_t>(isa::LddwSource::imm64) &&
            ins.src != static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            return Error::invalid("instruction " + std::to_string(pc) + ": lddw with pseudo source " +
                                      std::to_string(ins.src) + " must be resolved by the loader before execution",
                                  pc);
        }
        std::uint64_t value = isa::lddw_imm(ins, m_program[pc + 1]);
        if (ins.src == static_cast<std::uint8_t>(isa::LddwSource::code_address)) {
            value = static_cast<std::uint64_t>(static_cast<std::int64_t>(pc) + 1 + ins.imm); // its instruction index
        }
        set(ins.dst, m_b.getInt64(value));
        return {};
    }

    void ldx(std::uint32_t pc, const Instruction& ins) {
        const int bytes = isa::size_bytes(isa::op_size(ins.opcode));
        const bool sign = isa::op_mode(ins.opcode) == op::MEMSX;
        if ((m_marks[pc] & kProbe) != 0) {
            auto* type = llvm::FunctionType::get(m_i64, {m_i64, m_i32}, false);
            llvm::Value* at = m_b.CreateAdd(get(ins.src), m_b.getInt64(sext(ins.offset)));
            set(ins.dst, m_b.CreateCall(type, constant(reinterpret_cast<std::uintptr_t>(m_support.probe_load)),
                                        {at, m_b.getInt32(static_cast<std::uint32_t>(bytes | (sign ? 0x100 : 0)))}));
            return;
        }
        llvm::Type* type = llvm::Type::getIntNTy(m_ctx, static_cast<unsigned>(bytes * 8));
        const std::optional<Region> region = access_region(pc);
        llvm::LoadInst* load = m_b.CreateAlignedLoad(type, address(pc, ins.src, ins.offset), llvm::Align(1));
        if (region) {
            in_region(load, *region);
        }
        llvm::Value* value = load;
        if (!region || *region == kStack) {
            // Frozen: bytes no store wrote (a frame's, which the verifier never lets a program read) would be undef to
            // LLVM, and a branch on undef lets it assume anything; frozen, they are some fixed value, as they are in
            // the interpreter.
            value = m_b.CreateFreeze(load);
        } else if (const std::optional<llvm::ConstantRange> range = loaded_range(pc, ins.dst, bytes * 8, sign)) {
            // Memory outside the run's stack, which LLVM never sees written or left unwritten, is never undef: the
            // load stays unfrozen, and LLVM knows the values the verifier proved it reads.
            load->setMetadata(llvm::LLVMContext::MD_range,
                              llvm::MDBuilder(m_ctx).createRange(range->getLower(), range->getUpper()));
        }
        if (bytes < 8) {
            value = sign ? m_b.CreateSExt(value, m_i64) : m_b.CreateZExt(value, m_i64);
        }
        set(ins.dst, value);
    }

    // The values of the `bits` bits the load at `pc` reads, from the facts of `dst` after it (the bits extended, with
    // their sign or without): nullopt when the facts do not narrow them.
    std::optional<llvm::ConstantRange> loaded_range(std::uint32_t pc, int dst, int bits, bool sign) const {
        const verifier::RegisterFact* after = fact(pc + 1, dst);
        std::optional<llvm::ConstantRange> range = after != nullptr ? number_range(*after) : std::nullopt;
        if (!range) {
            return std::nullopt;
        }
        const auto width = static_cast<std::uint32_t>(bits);
        if (width < 64) {
            const llvm::ConstantRange loadable =
                sign ? llvm::ConstantRange(llvm::APInt::getSignedMinValue(width).sext(64),
                                           llvm::APInt::getSignedMinValue(width).zext(64))
                     : llvm::ConstantRange(llvm::APInt(64, 0), llvm::APInt::getOneBitSet(64, width));
            range = range->intersectWith(loadable).truncate(width);
        }
        if (range->isFullSet() || range->isEmptySet()) {
            return std::nullopt;
        }
        return range;
    }

    void store(std::uint32_t pc, const Instruction& ins) {
        const int bytes = isa::size_bytes(isa::op_size(ins.opcode));
        llvm::Type* type = llvm::Type::getIntNTy(m_ctx, static_cast<unsigned>(bytes * 8));
        if (isa::op_mode(ins.opcode) == op::ATOMIC) {
            atomic(pc, ins, type, bytes);
            return;
        }
        llvm::Value* value = isa::op_class(ins.opcode) == op::ST ? m_b.getInt64(sext(ins.imm)) : get(ins.src);
        if (bytes < 8) {
            value = m_b.CreateTrunc(value, type);
        }
        in_region(m_b.CreateAlignedStore(value, address(pc, ins.dst, ins.offset), llvm::Align(1)), pc);
    }

    void atomic(std::uint32_t pc, const Instruction& ins, llvm::Type* type, int bytes) {
        llvm::Value* at = address(pc, ins.dst, ins.offset);
        llvm::Value* s = get(ins.src);
        if (bytes < 8) {
            s = m_b.CreateTrunc(s, type);
        }
        const auto order = llvm::AtomicOrdering::SequentiallyConsistent;
        const llvm::MaybeAlign align(static_cast<std::uint64_t>(bytes));
        auto widen = [&](llvm::Value* v) { return bytes < 8 ? m_b.CreateZExt(v, m_i64) : v; };
        if (ins.imm == op::CMPXCHG) {
            llvm::Value* expected = get(0);
            if (bytes < 8) {
                expected = m_b.CreateTrunc(expected, type);
            }
            llvm::Value* pair = in_region(m_b.CreateAtomicCmpXchg(at, expected, s, align, order, order), pc);
            set(0, widen(m_b.CreateExtractValue(pair, 0)));
            return;
        }
        llvm::AtomicRMWInst::BinOp operation = llvm::AtomicRMWInst::Xchg;
        switch (ins.imm & ~op::FETCH) {
        case op::ATOMIC_ADD: operation = llvm::AtomicRMWInst::Add; break;
        case op::ATOMIC_OR: operation = llvm::AtomicRMWInst::Or; break;
        case op::ATOMIC_AND: operation = llvm::AtomicRMWInst::And; break;
        case op::ATOMIC_XOR: operation = llvm::AtomicRMWInst::Xor; break;
        default: operation = llvm::AtomicRMWInst::Xchg; break; // XCHG
        }
        llvm::Value* old = in_region(m_b.CreateAtomicRMW(operation, at, s, align, order), pc);
        if ((ins.imm & op::FETCH) != 0) {
            set(ins.src, widen(old));
        }
    }

    llvm::LLVMContext& m_ctx;
    llvm::Module& m_module;
    std::span<const Instruction> m_program;
    const HelperTable& m_helpers;
    const OptimizerOptions& m_options;
    const OptimizedSupport& m_support;
    std::string m_prefix;
    llvm::IRBuilder<> m_b;
    llvm::Type* m_i64;
    llvm::Type* m_i32;
    llvm::Type* m_i8;
    llvm::PointerType* m_ptr;
    llvm::FunctionType* m_function_type = nullptr;
    llvm::FunctionType* m_helper_type = nullptr;

    std::vector<std::uint8_t> m_marks;
    std::vector<std::uint32_t> m_starts;
    std::map<std::uint32_t, llvm::Function*> m_functions;

    // The function being lowered.
    llvm::Function* m_function = nullptr;
    llvm::Value* m_fp = nullptr;
    llvm::Value* m_run = nullptr;
    llvm::Value* m_callee_frame = nullptr;
    llvm::AllocaInst* m_regs[10] = {};
    llvm::BasicBlock* m_abort = nullptr;
    llvm::BasicBlock* m_exhausted = nullptr;
    std::map<std::uint32_t, llvm::BasicBlock*> m_blocks;
    std::set<std::uint32_t> m_loop_heads;                 // the targets of backward jumps
    std::vector<std::uint32_t> m_function_lengths;        // metering's charges of local calls, when metered
    std::map<std::uint64_t, const InlineArray*> m_arrays; // OptimizerOptions::arrays by map, the first of each
    std::array<llvm::MDNode*, kRegions> m_scope{};        // each region's alias scope
    std::array<llvm::MDNode*, kRegions> m_not_scope{};    // the scopes of the others
};

llvm::OptimizationLevel optimization_level(unsigned level) {
    switch (level) {
    case 0: return llvm::OptimizationLevel::O0;
    case 1: return llvm::OptimizationLevel::O1;
    case 2: return llvm::OptimizationLevel::O2;
    default: return llvm::OptimizationLevel::O3;
    }
}

void optimize(llvm::Module& module, llvm::TargetMachine& machine, unsigned level) {
    llvm::LoopAnalysisManager loops;
    llvm::FunctionAnalysisManager functions;
    llvm::CGSCCAnalysisManager sccs;
    llvm::ModuleAnalysisManager modules;
    llvm::PassBuilder builder(&machine);
    builder.registerModuleAnalyses(modules);
    builder.registerCGSCCAnalyses(sccs);
    builder.registerFunctionAnalyses(functions);
    builder.registerLoopAnalyses(loops);
    builder.crossRegisterProxies(loops, functions, sccs, modules);
    llvm::ModulePassManager passes = level == 0 ? builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                                                : builder.buildPerModuleDefaultPipeline(optimization_level(level));
    passes.run(module, modules);
}

} // namespace

Result<Compiled> compile_optimized(std::span<const isa::Instruction> program, const HelperTable& helpers,
                                   const OptimizerOptions& options, const OptimizedSupport& support) {
    Orc& o = orc();
    if (!o.jit) {
        return Error::unsupported("the optimizing JIT cannot compile for this machine: " + o.error);
    }
    const std::lock_guard lock(o.lock);
    const std::string prefix = "embpf_" + std::to_string(o.next_id++);
    auto context = std::make_unique<llvm::LLVMContext>();
    auto module = std::make_unique<llvm::Module>(prefix, *context);
    module->setDataLayout(o.jit->getDataLayout());
    module->setTargetTriple(o.jit->getTargetTriple().str());
    std::string entry;
    std::vector<std::pair<std::uint32_t, std::string>> callback_names;
    {
        Lowering lowering(*context, *module, program, helpers, options, support, prefix);
        if (auto lowered = lowering.lower(entry, callback_names); !lowered) {
            return std::move(lowered).error();
        }
    }
    std::string problems;
    llvm::raw_string_ostream problem_stream(problems);
    if (llvm::verifyModule(*module, &problem_stream)) {
        return Error::internal("the optimizing JIT made invalid IR: " + problems);
    }
    optimize(*module, *o.machine, options.level);
    // The code generator's time grows with the SSA values live across blocks (a program keeping many stack slots
    // alive across thousands of branches takes LLVM seconds to minutes): past a bound the program stays in the tier
    // below. Compilers' programs are far within it (the largest of Cilium's, 8,000 instructions: about 500 phis in
    // 740 blocks).
    std::uint64_t phis = 0;
    std::uint64_t blocks = 0;
    for (const llvm::Function& function : *module) {
        for (const llvm::BasicBlock& block : function) {
            ++blocks;
            phis += static_cast<std::uint64_t>(std::distance(block.phis().begin(), block.phis().end()));
        }
    }
    if (phis * blocks > kMaxPhiBlocks) {
        return Error::unsupported("the program is too complex for the optimizing JIT: " + std::to_string(phis) +
                                  " phis in " + std::to_string(blocks) + " blocks once optimized (at most " +
                                  std::to_string(kMaxPhiBlocks) + " as their product)");
    }
    Compiled compiled;
    if (options.keep_ir) {
        llvm::raw_string_ostream ir(compiled.ir);
        module->print(ir, nullptr);
    }
    llvm::orc::ResourceTrackerSP tracker = o.jit->getMainJITDylib().createResourceTracker();
    if (auto error = o.jit->addIRModule(tracker, llvm::orc::ThreadSafeModule(std::move(module), std::move(context)))) {
        return Error::runtime("the optimizing JIT could not add the program: " + to_message(std::move(error)));
    }
    // From here on the tracker's code is released with `owner`, on failure too.
    compiled.owner = std::shared_ptr<void>(nullptr, [tracker](void*) {
        const std::lock_guard release(orc().lock);
        llvm::consumeError(tracker->remove());
    });
    auto address = o.jit->lookup(entry);
    if (!address) {
        return Error::runtime("the optimizing JIT could not compile the program: " + to_message(address.takeError()));
    }
    compiled.entry = address->toPtr<std::uint64_t (*)(std::uint64_t, std::uint64_t, OptimizedRun*)>();
    for (const auto& [index, name] : callback_names) {
        auto callback = o.jit->lookup(name);
        if (!callback) {
            return Error::runtime("the optimizing JIT could not compile callback " + std::to_string(index) + ": " +
                                  to_message(callback.takeError()));
        }
        compiled.callbacks.emplace_back(index, callback->toPtr<OptimizedFunction>());
    }
    return compiled;
}

} // namespace embpf::exec::detail

#endif // EMBPF_WITH_LLVM
