// libFuzzer target: any bytes are decoded as a program and, when valid, run by the checked
// interpreter on a small input, once with threaded (computed goto) dispatch and once with the
// portable switch. A checked run may refuse or stop, never touch memory it was not given
// (AddressSanitizer watches) and never loop past its budget; both dispatch modes must agree on the
// outcome: r0, error or not (and where), instructions executed and the final context bytes. When
// the checked run ends cleanly, the unchecked (fast) loop of each mode runs the program too and
// must give the same r0 and context bytes. A disagreement is a finding (__builtin_trap).
//
// The helpers (1 and 5 return their first argument) are deterministic, so every program may be
// compared. Programs can observe the address of their stack (r10); the four loops have frames of
// their own, so each run moves the C++ stack by a calibrated amount that puts every loop's stack at
// the same address. The unchecked loop does not clear its stack: the checked runs refuse reads of
// stack bytes nothing wrote, so only programs that read what they wrote reach the unchecked loops.
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/isa/text.hpp"

#include <algorithm>
#include <alloca.h>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

namespace {

std::uint64_t echo(std::uint64_t r1, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return r1; }

constexpr std::size_t kMemorySize = 64;
constexpr std::uint64_t kBudget = 10000;
using Memory = std::array<std::uint8_t, kMemorySize>;
using embpf::exec::Interpreter;

struct Outcome {
    bool ok = false;
    std::uint64_t r0 = 0;
    std::uint64_t instructions = 0;
    std::optional<std::size_t> error_pc{};
    std::string error{};
    Memory memory{};

    bool operator==(const Outcome&) const = default;
};

// What the run compared, printed at exit for tools/fuzz.sh, which fails a run that compared nothing.
struct Stats {
    std::uint64_t compared = 0;           ///< programs whose checked runs were compared across dispatch modes
    std::uint64_t compared_unchecked = 0; ///< of those, programs whose unchecked runs were compared too
    ~Stats() {
        std::fprintf(stderr, "stat::embpf_compared: %llu\nstat::embpf_compared_unchecked: %llu\n",
                     static_cast<unsigned long long>(compared), static_cast<unsigned long long>(compared_unchecked));
    }
} stats;

void finding(const char* what) {
    std::fprintf(stderr, "fuzz_interpreter: %s\n", what);
    __builtin_trap();
}

// The loops: checked and unchecked, each with threaded and with portable dispatch.
enum Loop : std::size_t { checked_threaded, checked_portable, fast_threaded, fast_portable, loop_count };
constexpr bool is_checked(Loop loop) { return loop == checked_threaded || loop == checked_portable; }
constexpr bool is_portable(Loop loop) { return loop == checked_portable || loop == fast_portable; }

// How far each loop's run moves the C++ stack so that all four loops' stacks share one address.
std::array<std::size_t, loop_count> g_shift{};

constexpr std::size_t kStackFill = 64 * 1024; // covers the interpreter's frame with room to spare

[[gnu::noinline]] void fill_stack_below(std::uint8_t pattern) {
    std::uint8_t bytes[kStackFill];
    std::memset(bytes, pattern, sizeof bytes);
    asm volatile("" : : "r"(bytes) : "memory");
}

// Runs `interpreter` in `loop` on `memory` (reset to `input`) with the C++ stack moved down by `shift` bytes and the
// stack below filled with `pattern`. Every run goes through here, so that only the loops' own frames differ.
[[gnu::noinline]] Outcome run(Loop loop, const Interpreter& interpreter, Memory& memory, const Memory& input,
                              std::size_t shift, std::uint8_t pattern = 0) {
    memory = input;
    auto* pad = static_cast<volatile std::uint8_t*>(alloca(shift + 16));
    pad[0] = 0;
    fill_stack_below(pattern);
    Outcome outcome;
    if (is_checked(loop)) {
        embpf::exec::CheckedOptions options;
        options.instruction_budget = kBudget;
        // The unchecked loop does not clear its stack, and a program that reads bytes nothing wrote (which no
        // verified program does) sees whatever lies there: such a run stops here, and only runs that read what they
        // wrote are compared with the unchecked loops.
        options.check_initialization = true;
        auto result = interpreter.run_checked(memory.data(), memory.size(), options);
        if (result) {
            outcome.ok = true;
            outcome.r0 = result->r0;
            outcome.instructions = result->instructions;
            if (outcome.instructions > kBudget) {
                finding("a checked run went past its instruction budget");
            }
        } else {
            outcome.error_pc = result.error().pc;
            outcome.error = result.error().message;
        }
    } else {
        outcome.ok = true;
        outcome.r0 = interpreter.run(memory.data(), memory.size());
    }
    pad[shift] = 0; // keeps the allocation alive across the run
    outcome.memory = memory;
    return outcome;
}

embpf::exec::HelperTable helpers() {
    embpf::exec::HelperTable table;
    table.set(1, &echo);
    table.set(5, &echo);
    table.set_unwind(5);
    return table;
}

struct Pair {
    Interpreter threaded;
    Interpreter portable;
    const Interpreter& in(Loop loop) const { return is_portable(loop) ? portable : threaded; }
};

Pair prepare(const char* text) {
    auto program = embpf::isa::assemble(text);
    if (!program) {
        finding("cannot assemble a calibration program");
    }
    auto threaded = Interpreter::create(*program, {}, {.portable_dispatch = false});
    auto portable = Interpreter::create(*program, {}, {.portable_dispatch = true});
    if (!threaded || !portable) {
        finding("cannot prepare a calibration program");
    }
    return {*threaded, *portable};
}

// Measures each loop's stack address (r10) with the same calls as a real run, sets g_shift so that all four
// coincide, and checks that they do and that the stack fill reaches the unchecked loops' stacks.
void calibrate() {
    const Pair where = prepare("r0 = r10\nexit\n");
    const Pair uninitialized = prepare("r0 = *(u64 *)(r10 - 8)\nexit\n");
    Memory memory{};
    const Memory input{};
    std::array<std::uint64_t, loop_count> top{};
    for (std::size_t i = 0; i < loop_count; ++i) {
        const auto loop = static_cast<Loop>(i);
        top[i] = run(loop, where.in(loop), memory, input, 0).r0;
    }
    const std::uint64_t lowest = *std::min_element(top.begin(), top.end());
    for (std::size_t i = 0; i < loop_count; ++i) {
        g_shift[i] = static_cast<std::size_t>(top[i] - lowest);
        if (g_shift[i] > 1024 * 1024) {
            finding("the loops' stacks lie more than 1 MiB apart; cannot line them up");
        }
    }
    for (std::size_t i = 0; i < loop_count; ++i) {
        const auto loop = static_cast<Loop>(i);
        if (run(loop, where.in(loop), memory, input, g_shift[i]).r0 != lowest) {
            finding("moving the C++ stack does not line up the loops' stacks; the comparison would not be exact");
        }
        if (!is_checked(loop) &&
            (run(loop, uninitialized.in(loop), memory, input, g_shift[i], 0xa5).r0 != 0xa5a5a5a5a5a5a5a5ULL ||
             run(loop, uninitialized.in(loop), memory, input, g_shift[i], 0).r0 != 0)) {
            finding("the stack fill does not reach the unchecked loop's stack; its runs cannot be compared");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    calibrate();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto program = embpf::isa::decode(std::span<const std::uint8_t>(data, size - size % 8));
    if (!program) {
        return 0;
    }
    auto threaded = Interpreter::create(*program, helpers(), {.portable_dispatch = false});
    auto portable = Interpreter::create(*program, helpers(), {.portable_dispatch = true});
    if (threaded.has_value() != portable.has_value()) {
        finding("the dispatch modes disagree on whether the program is valid");
    }
    if (!threaded) {
        return 0;
    }
    const Pair pair{*threaded, *portable};
    Memory input{};
    for (std::size_t i = 0; i < input.size() && i < size; ++i) {
        input[i] = data[size - 1 - i];
    }
    // One context buffer for every run, so that programs reading r1 see the same address.
    Memory memory{};

    const Outcome checked = run(checked_threaded, pair.threaded, memory, input, g_shift[checked_threaded]);
    if (!(run(checked_portable, pair.portable, memory, input, g_shift[checked_portable]) == checked)) {
        finding("checked runs with threaded and portable dispatch disagree");
    }
    ++stats.compared;
    if (!checked.ok) {
        return 0;
    }
    // The checked run ended cleanly within its budget, so the unchecked loops take the same path.
    Outcome expected = checked;
    expected.instructions = 0;
    if (!(run(fast_threaded, pair.threaded, memory, input, g_shift[fast_threaded]) == expected)) {
        finding("the unchecked threaded run disagrees with the checked run");
    }
    if (!(run(fast_portable, pair.portable, memory, input, g_shift[fast_portable]) == expected)) {
        finding("the unchecked portable run disagrees with the checked run");
    }
    ++stats.compared_unchecked;
    return 0;
}
