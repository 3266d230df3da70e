// The optimizing JIT's entry, its support functions, and what a build without LLVM has instead.
#include "embpf/exec/optimized.hpp"

#include "../metering.hpp"
#include "../probe.hpp"
#include "../support.hpp"
#include "embpf/isa/decode.hpp"
#include "optimized_code.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace embpf::exec {

namespace detail {
namespace {

std::uint64_t stop(OptimizedRun* run) {
    run->stop = 1;
    return 0;
}

// Metering: an invocation of the callback at `index` charges its length; past the budget the run ends.
bool charge_callback(OptimizedRun* run, std::uint64_t index) {
    const OptimizedCode& code = *run->code;
    if (code.budget == 0) {
        return true;
    }
    const std::uint64_t charge = code.function_lengths[index];
    if (charge > run->budget) {
        run->exhausted = 1;
        stop(run);
        return false;
    }
    run->budget -= charge;
    return true;
}

OptimizedFunction callback_function(const OptimizedCode& code, std::uint64_t index) {
    const auto& callbacks = code.compiled.callbacks;
    const auto found = std::lower_bound(callbacks.begin(), callbacks.end(), index,
                                        [](const auto& entry, std::uint64_t i) { return entry.first < i; });
    return found != callbacks.end() && found->first == index ? found->second : nullptr;
}

// Runs the callback `callee` with r1-r4 as given and r0, r5-r9 at 0 (as the baseline JIT does), its frame's top at
// `top`.
std::uint64_t call_back(OptimizedFunction callee, void* top, OptimizedRun* run, std::uint64_t r1, std::uint64_t r2,
                        std::uint64_t r3, std::uint64_t r4) {
    return callee(0, r1, r2, r3, r4, 0, 0, 0, 0, 0, top, run);
}

// bpf_loop(nr_loops, callback, ctx, flags), as the interpreter runs it: flags other than 0 are -EINVAL, more than
// platform::kMaxCallbackLoops loops -E2BIG, a frame past the deepest ends the run.
std::uint64_t loop(std::uint64_t nr_loops, std::uint64_t index, std::uint64_t ctx, std::uint64_t flags, std::uint64_t,
                   void* r10, OptimizedRun* run) {
    if (flags != 0) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    const OptimizedFunction callee = callback_function(*run->code, index);
    if (run->depth >= isa::kMaxCallDepth || callee == nullptr) {
        return stop(run);
    }
    if (static_cast<std::uint32_t>(nr_loops) > platform::kMaxCallbackLoops) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(E2BIG));
    }
    void* const top = static_cast<std::uint8_t*>(r10) - isa::kStackSize; // the callback's r10
    const std::uint64_t limit = static_cast<std::uint32_t>(nr_loops);
    ++run->depth;
    std::uint64_t calls = 0;
    while (calls < limit) {
        if (!charge_callback(run, index)) {
            return 0;
        }
        const std::uint64_t i = calls++;
        const std::uint64_t r0 = call_back(callee, top, run, i, ctx, 0, 0);
        if (run->stop != 0) {
            return 0;
        }
        if (r0 != 0) {
            break;
        }
    }
    --run->depth;
    return calls;
}

// for_each_map_elem(map, callback, ctx, flags): the callback runs with (map, key, value, ctx) for each element, the
// key a copy at the bottom of its frame, until it returns non-zero; the result is the elements visited.
std::uint64_t for_each(std::uint64_t map, std::uint64_t index, std::uint64_t ctx, std::uint64_t flags, std::uint64_t,
                       void* r10, OptimizedRun* run) {
    if (flags != 0) {
        return static_cast<std::uint64_t>(-static_cast<std::int64_t>(EINVAL));
    }
    const OptimizedFunction callee = callback_function(*run->code, index);
    if (run->depth >= isa::kMaxCallDepth || callee == nullptr) {
        return stop(run);
    }
    auto* const top = static_cast<std::uint8_t*>(r10) - isa::kStackSize; // the callback's r10
    std::uint8_t* const key_at = top - isa::kStackSize;                  // the bottom of its frame
    alignas(8) std::uint8_t key[platform::kMaxCallbackKey];
    ++run->depth;
    std::uint64_t calls = 0;
    for (;;) {
        const MapElement next = run->code->next_element(map, calls, calls == 0 ? nullptr : key, key);
        if (next.value == nullptr) {
            break;
        }
        if (!charge_callback(run, index)) {
            return 0;
        }
        ++calls;
        std::memcpy(key_at, key, std::min<std::size_t>(next.key_size, platform::kMaxCallbackKey));
        const std::uint64_t r0 = call_back(callee, top, run, map, reinterpret_cast<std::uintptr_t>(key_at),
                                           reinterpret_cast<std::uintptr_t>(next.value), ctx);
        if (run->stop != 0) {
            return 0;
        }
        if (r0 != 0) {
            break;
        }
    }
    --run->depth;
    return calls;
}

// callx: the helper whose id the program computed; an id without one ends the run, as the unwind helper's 0 does.
std::uint64_t callx(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t r4, std::uint64_t r5,
                    std::uint64_t id, OptimizedRun* run) {
    const OptimizedCode& code = *run->code;
    const std::optional<std::uint64_t> r0 =
        call_by_id(code.helpers, code.helper_arguments, code.unwind, id, r1, r2, r3, r4, r5);
    return r0 ? *r0 : stop(run);
}

std::uint64_t packet_load(std::uint64_t r6, std::int64_t offset, std::uint64_t size, OptimizedRun* run) {
    const std::optional<std::uint64_t> value = packet_bytes(r6, *run->code->packet, offset, size);
    return value ? *value : stop(run);
}

constexpr OptimizedSupport kSupport{&loop, &for_each, &callx, &packet_load, &probe_load};

} // namespace

#ifndef EMBPF_WITH_LLVM
Result<Compiled> compile_optimized(std::span<const isa::Instruction>, const HelperTable&, const OptimizerOptions&,
                                   const OptimizedSupport&) {
    return Error::unsupported("the optimizing JIT is not in this build (it needs LLVM 19: EMBPF_WITH_LLVM)");
}
#endif

} // namespace detail

bool optimizer_available() noexcept {
#ifdef EMBPF_WITH_LLVM
    return true;
#else
    return false;
#endif
}

Result<OptimizedJit> OptimizedJit::create(std::span<const isa::Instruction> program, HelperTable helpers,
                                          const OptimizerOptions& options) {
    if (auto valid = isa::validate(program); !valid) {
        return std::move(valid).error();
    }
    for (const std::uint32_t pc : options.probe_loads) {
        if (pc >= program.size() || isa::op_class(program[pc].opcode) != isa::op::LDX) {
            return Error::invalid("probe load at instruction " + std::to_string(pc) + ": not a load of the program");
        }
    }
    if (options.packet && options.packet->pointer_width != 4 && options.packet->pointer_width != 8) {
        return Error::invalid("packet layout: pointer width " + std::to_string(options.packet->pointer_width) +
                              " is neither 4 nor 8");
    }
    if (program.size() > kMaxOptimizedInstructions) {
        return Error::unsupported("the optimizing JIT compiles programs of up to " +
                                  std::to_string(kMaxOptimizedInstructions) + " instructions, not " +
                                  std::to_string(program.size()));
    }
    const auto jumps = static_cast<std::size_t>(std::count_if(
        program.begin(), program.end(), [](const isa::Instruction& ins) { return isa::is_branch(ins.opcode); }));
    if (jumps > kMaxOptimizedJumps) {
        return Error::unsupported("the optimizing JIT compiles programs of up to " +
                                  std::to_string(kMaxOptimizedJumps) + " jumps, not " + std::to_string(jumps));
    }
    if (!options.arrays.empty()) {
        if (!options.lookup_helper || helpers.get(*options.lookup_helper) == nullptr ||
            helpers.callback(*options.lookup_helper) != platform::Callback::none ||
            helpers.unwind() == *options.lookup_helper ||
            (*options.lookup_helper < helpers.arguments().size() && helpers.arguments()[*options.lookup_helper] < 2)) {
            return Error::invalid("inline arrays need the lookup helper's id, a plain helper of the table");
        }
        for (const InlineArray& array : options.arrays) {
            if (array.map == 0 || array.values == 0) {
                return Error::invalid("an inline array needs the map's address and its values' address");
            }
        }
    }
    if (!options.facts.empty() && options.facts.size() != program.size()) {
        return Error::invalid("facts of " + std::to_string(options.facts.size()) + " instructions for a program of " +
                              std::to_string(program.size()));
    }
    if (options.instruction_budget != 0) {
        if (auto layout = detail::check_metered_layout(program); !layout) {
            return std::move(layout).error();
        }
    }
    if (options.level > 3) {
        return Error::invalid("optimization level " + std::to_string(options.level) + " is not 0 to 3");
    }
    auto compiled = detail::compile_optimized(program, helpers, options, detail::kSupport);
    if (!compiled) {
        return std::move(compiled).error();
    }
    auto code = std::make_shared<detail::OptimizedCode>();
    code->program.assign(program.begin(), program.end());
    code->helpers.assign(helpers.functions().begin(), helpers.functions().end());
    code->helper_arguments.assign(helpers.arguments().begin(), helpers.arguments().end());
    code->unwind = helpers.unwind();
    code->next_element = helpers.next_element();
    code->packet = options.packet;
    code->budget = options.instruction_budget;
    if (code->budget != 0) {
        code->function_lengths = detail::function_lengths(program);
    }
    code->compiled = std::move(compiled).value();
    std::sort(code->compiled.callbacks.begin(), code->compiled.callbacks.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return OptimizedJit(std::move(code));
}

std::uint64_t OptimizedJit::run(void* ctx, std::size_t ctx_size) const noexcept {
    detail::OptimizedRun run{0, 0, m_code.get(), m_code->budget, 0};
    return m_code->compiled.entry(reinterpret_cast<std::uintptr_t>(ctx), ctx_size, &run);
}

RunOutcome OptimizedJit::run_metered(void* ctx, std::size_t ctx_size) const noexcept {
    detail::OptimizedRun run{0, 0, m_code.get(), m_code->budget, 0};
    const std::uint64_t r0 = m_code->compiled.entry(reinterpret_cast<std::uintptr_t>(ctx), ctx_size, &run);
    return {r0, run.exhausted != 0};
}

std::uint64_t OptimizedJit::instruction_budget() const noexcept { return m_code->budget; }

std::string_view OptimizedJit::ir() const noexcept { return m_code->compiled.ir; }
std::span<const isa::Instruction> OptimizedJit::program() const noexcept { return m_code->program; }

} // namespace embpf::exec
