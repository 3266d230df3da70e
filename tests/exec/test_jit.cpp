// The JITs against the interpreter: every program runs on Interpreter::run, on the baseline JIT (plain and with
// constant blinding) and on the optimizing JIT where the build has it, and all must give the same r0 and leave the
// same memory. With Capstone, the machine code
// of chosen instructions is disassembled and compared with the expected x86-64 text, and whole translations must
// decode without an invalid byte.
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/isa/text.hpp"

#include <doctest/doctest.h>

#if defined(EMBPF_HAVE_CAPSTONE)
#if __has_include(<capstone/capstone.h>)
#include <capstone/capstone.h>
#else
#include <capstone.h>
#endif
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

// Helper 9 of the tests below: the stack's misalignment at the call, rsp + 8 (its value before the call pushed the
// return address) mod 16, which the System V ABI wants 0. A C++ function could not tell: its compiler assumes the
// alignment.
#if defined(__x86_64__)
extern "C" std::uint64_t embpf_test_stack_misalignment(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                                       std::uint64_t);
asm(".pushsection .text\n"
    ".globl embpf_test_stack_misalignment\n"
    ".type embpf_test_stack_misalignment, @function\n"
    "embpf_test_stack_misalignment:\n"
    "    lea 8(%rsp), %rax\n"
    "    and $15, %eax\n"
    "    ret\n"
    ".size embpf_test_stack_misalignment, .-embpf_test_stack_misalignment\n"
    ".popsection\n");
#else
static std::uint64_t embpf_test_stack_misalignment(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                                                   std::uint64_t) {
    return 0;
}
#endif

namespace {

namespace isa = embpf::isa;
using embpf::ErrorKind;
using embpf::Result;
using embpf::exec::HelperTable;
using embpf::exec::Interpreter;
using embpf::exec::Jit;
using embpf::exec::JitLine;
using embpf::exec::JitOptions;
using embpf::exec::MapElement;
using embpf::exec::OptimizedJit;
using embpf::exec::PacketLayout;
using embpf::platform::Callback;

// The JIT translates for x86-64 and AArch64 Linux: every test here is skipped elsewhere.
const bool kNoJit = !embpf::exec::host_jit_target().has_value();

// ---------------------------------------------------------------------------------------------------------------------
// Helpers the programs call. 1 weighted sum of r1-r5, 2 constant 42, 3 load u64 at r1, 4 store r2 at r1, 5 identity of
// r1 (the unwind helper), 6 records its five arguments (registered with 2 arguments), 7 records them too (0
// arguments), 8 records them (5 arguments), 9 the stack's misalignment (above). 181 bpf_loop and 164
// for_each_map_elem: their functions are never reached (the engines run the callbacks themselves) and would return a
// sentinel.

constexpr std::uint32_t kLoop = 181;
constexpr std::uint32_t kForEach = 164;
constexpr std::uint64_t kNotIntercepted = 0xBAD0BAD0;

std::uint64_t weighted_sum(std::uint64_t a1, std::uint64_t a2, std::uint64_t a3, std::uint64_t a4, std::uint64_t a5) {
    return a1 + 10 * a2 + 100 * a3 + 1000 * a4 + 10000 * a5;
}
std::uint64_t forty_two(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return 42; }
std::uint64_t load_u64(std::uint64_t address, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    std::uint64_t value = 0;
    std::memcpy(&value, reinterpret_cast<const void*>(static_cast<std::uintptr_t>(address)), sizeof value);
    return value;
}
std::uint64_t store_u64(std::uint64_t address, std::uint64_t value, std::uint64_t, std::uint64_t, std::uint64_t) {
    std::memcpy(reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)), &value, sizeof value);
    return 1;
}
std::uint64_t identity(std::uint64_t a1, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) { return a1; }
std::uint64_t not_intercepted(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    return kNotIntercepted;
}

// What the recording helpers received, last call first: observed after each run.
std::array<std::uint64_t, 5> g_recorded{};
std::uint64_t record(std::uint64_t a1, std::uint64_t a2, std::uint64_t a3, std::uint64_t a4, std::uint64_t a5) {
    g_recorded = {a1, a2, a3, a4, a5};
    return a1 ^ (a2 << 1) ^ (a3 << 2) ^ (a4 << 3) ^ (a5 << 4);
}

// for_each_map_elem's maps: the program holds a TestMap's address; elements are keyed by their u32 index.
struct TestMap {
    std::uint32_t count = 0;
    std::array<std::uint64_t, 8> values{};
};
MapElement next_element(std::uint64_t map, std::uint64_t calls, const void* previous_key, void* key_out) {
    const auto* m = reinterpret_cast<TestMap*>(static_cast<std::uintptr_t>(map));
    std::uint32_t index = 0;
    if (previous_key != nullptr) {
        std::memcpy(&index, previous_key, sizeof index);
        ++index;
    }
    if (index >= m->count || calls >= m->count) {
        return {nullptr, 4};
    }
    std::memcpy(key_out, &index, sizeof index);
    return {const_cast<std::uint64_t*>(&m->values[index]), 4};
}

HelperTable standard_helpers() {
    HelperTable helpers;
    helpers.set(1, &weighted_sum);
    helpers.set(2, &forty_two);
    helpers.set(3, &load_u64);
    helpers.set(4, &store_u64);
    helpers.set(5, &identity);
    helpers.set_unwind(5);
    helpers.set(6, &record, 2);
    helpers.set(7, &record, 0);
    helpers.set(8, &record, 5);
    helpers.set(9, &embpf_test_stack_misalignment);
    helpers.set(kLoop, &not_intercepted);
    helpers.set_callback(kLoop, Callback::loop);
    helpers.set(kForEach, &not_intercepted);
    helpers.set_callback(kForEach, Callback::for_each_map_elem, &next_element);
    return helpers;
}

// ---------------------------------------------------------------------------------------------------------------------
// Text helpers

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}
std::string reg(int r, bool wide = true) { return (wide ? "r" : "w") + std::to_string(r); }
std::string lddw(int r, std::uint64_t value) { return reg(r) + " = " + hex(value) + " ll\n"; }
std::string address(int base, int offset) {
    return reg(base) + (offset < 0 ? " - " + std::to_string(-offset) : " + " + std::to_string(offset));
}
std::string store64(int base, int offset, int r) {
    return "*(u64 *)(" + address(base, offset) + ") = " + reg(r) + "\n";
}
bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}
std::vector<std::uint8_t> le64(std::initializer_list<std::uint64_t> words) {
    std::vector<std::uint8_t> bytes;
    for (const std::uint64_t w : words) {
        for (int i = 0; i < 8; ++i) {
            bytes.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
        }
    }
    return bytes;
}
std::uint64_t word_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
    std::uint64_t value = 0;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

// The first difference between two byte buffers, as the 8-byte words around it; empty when equal.
std::string difference(const std::vector<std::uint8_t>& expected, const std::vector<std::uint8_t>& actual) {
    if (expected.size() != actual.size()) {
        return "sizes differ: " + std::to_string(expected.size()) + " vs " + std::to_string(actual.size());
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
        if (expected[i] != actual[i]) {
            const std::size_t word = i / 8 * 8;
            std::string text = "first difference at byte " + std::to_string(i);
            if (word + 8 <= expected.size()) {
                text += " (word at " + std::to_string(word) + ": interpreter " + hex(word_at(expected, word)) +
                        ", jit " + hex(word_at(actual, word)) + ")";
            }
            return text;
        }
    }
    return {};
}

std::vector<isa::Instruction> assemble(const std::string& text) {
    auto program = isa::assemble(text);
    if (!program.has_value()) {
        FAIL_CHECK("assemble refused: ", program.error().message, "\nprogram:\n", text);
        return {};
    }
    return std::move(program).value();
}

// ---------------------------------------------------------------------------------------------------------------------
// The differential harness

struct Env {
    HelperTable helpers = standard_helpers();
    std::optional<PacketLayout> packet{};
    std::vector<std::uint32_t> probe_loads{};
    std::function<void()> reset{};                        ///< before each run
    std::function<std::vector<std::uint8_t>()> observe{}; ///< state besides the context, after each run
    std::optional<std::uint64_t> expected{};              ///< r0, when known by hand
    /// Also run the optimizing JIT. The register matrices below run it on a few registers only: its registers are
    /// LLVM's values, so that which eBPF registers an operation names selects no other code, and compiling each of
    /// thousands of programs with LLVM would take minutes.
    bool optimized = true;
};

struct Outcome {
    std::uint64_t r0 = 0;
    std::vector<std::uint8_t> memory;
    std::vector<std::uint8_t> observed;
};

template <typename Engine>
Outcome run_engine(const Engine& engine, const std::vector<std::uint8_t>& memory, const Env& env) {
    Outcome outcome;
    outcome.memory = memory;
    if (env.reset) {
        env.reset();
    }
    outcome.r0 = engine.run(outcome.memory.empty() ? nullptr : outcome.memory.data(), outcome.memory.size());
    if (env.observe) {
        outcome.observed = env.observe();
    }
    return outcome;
}

void compare(const Outcome& reference, const Outcome& actual, const Env& env) {
    CHECK_MESSAGE(actual.r0 == reference.r0, "r0: interpreter ", hex(reference.r0), ", jit ", hex(actual.r0));
    const std::string diff = difference(reference.memory, actual.memory);
    CHECK_MESSAGE(diff.empty(), "context memory: ", diff);
    if (env.observe) {
        const std::string observed = difference(reference.observed, actual.observed);
        CHECK_MESSAGE(observed.empty(), "observed state: ", observed);
    }
}

/// Runs `program` on the interpreter, on the JIT (plain and blinded) and on the optimizing JIT where the build has it,
/// each on its own copy of `memory`: the JIT runs must give the interpreter's r0, context memory and observed state.
/// Returns the interpreter's outcome.
std::optional<Outcome> differential(const std::string& name, const std::vector<isa::Instruction>& program,
                                    const std::string& text, const std::vector<std::uint8_t>& memory,
                                    const Env& env = {}) {
    INFO("case: ", name);
    const std::string shown = text.size() > 3000 ? text.substr(0, 3000) + "\n..." : text;
    INFO("program:\n", shown);
    if (program.empty()) {
        return std::nullopt;
    }
    const auto interpreter =
        Interpreter::create(program, env.helpers, {.packet = env.packet, .probe_loads = env.probe_loads});
    if (!interpreter.has_value()) {
        FAIL_CHECK("Interpreter::create refused: ", interpreter.error().message);
        return std::nullopt;
    }
    const Outcome reference = run_engine(*interpreter, memory, env);
    if (env.expected) {
        CHECK_MESSAGE(reference.r0 == *env.expected, "interpreter r0 ", hex(reference.r0), ", expected ",
                      hex(*env.expected));
    }
    for (const bool blind : {false, true}) {
        INFO("constant blinding: ", blind);
        const auto jit = Jit::create(program, env.helpers,
                                     {.packet = env.packet, .probe_loads = env.probe_loads, .blind_constants = blind});
        if (!jit.has_value()) {
            FAIL_CHECK("Jit::create refused: ", jit.error().message);
            continue;
        }
        compare(reference, run_engine(*jit, memory, env), env);
    }
    if (env.optimized && embpf::exec::optimizer_available()) {
        INFO("the optimizing JIT");
        const auto optimized =
            OptimizedJit::create(program, env.helpers, {.packet = env.packet, .probe_loads = env.probe_loads});
        if (!optimized.has_value()) {
            FAIL_CHECK("OptimizedJit::create refused: ", optimized.error().message);
        } else {
            compare(reference, run_engine(*optimized, memory, env), env);
        }
    }
    return reference;
}

std::optional<Outcome> differential(const std::string& name, const std::string& text,
                                    const std::vector<std::uint8_t>& memory = {}, const Env& env = {}) {
    return differential(name, assemble(text), text, memory, env);
}

Env expecting(std::uint64_t r0) {
    Env env;
    env.expected = r0;
    return env;
}

// ---------------------------------------------------------------------------------------------------------------------
// Value sets

constexpr std::uint64_t kInt64Min = 0x8000000000000000;
constexpr std::uint64_t s64(std::int64_t value) { return static_cast<std::uint64_t>(value); }

const std::vector<std::uint64_t> kEdgeValues = {
    0,
    1,
    2,
    3,
    7,
    31,
    32,
    63,
    64,
    65,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0x100000000,
    0x100000001,
    0x7FFFFFFFFFFFFFFF,
    kInt64Min,
    0x8000000000000001,
    0xFFFFFFFF80000000,
    s64(-7),
    s64(-2),
    s64(-1),
    0x123456789ABCDEF0,
    0xFEDCBA9876543210,
};

const std::vector<std::int32_t> kEdgeImmediates = {
    0, 1, -1, 2, 7, -7, 31, 32, 63, 64, 65, -3, 127, 128, -128, -129, 0x7FFFFFFF, INT32_MIN, 0x12345678, -0x12345678,
};

const char* const kAluOps[] = {"+=", "-=", "*=", "/=", "s/=", "%=", "s%=", "|=", "&=", "^=", "<<=", ">>=", "s>>="};

// The context of the register-matrix programs: one 80-byte row per block, r0-r9 at 8 * r (the base register's slot
// stays 0).
constexpr int kRow = 80;

// The base register of a program that exercises `a` and `b`: the first of r9, r8, r7, r6 that is neither.
int base_register(int a, int b) {
    for (const int r : {9, 8, 7, 6}) {
        if (r != a && r != b) {
            return r;
        }
    }
    return 6;
}
// Every register but the base gets a distinct value.
std::string initialize_registers(int base) {
    std::string text = reg(base) + " = r1\n";
    for (int r = 0; r <= 9; ++r) {
        if (r != base) {
            text += lddw(r, (0x0101010101010101ULL * static_cast<std::uint64_t>(r + 1)) ^ 0xA5A5000000000000ULL);
        }
    }
    return text;
}
std::string dump_registers(int base, int row) {
    std::string text;
    for (int r = 0; r <= 9; ++r) {
        if (r != base) {
            text += store64(base, row * kRow + 8 * r, r);
        }
    }
    return text;
}

} // namespace

TEST_SUITE_BEGIN("exec jit");

// =====================================================================================================================
// ALU

TEST_CASE("exec jit: every ALU operation, register form, on edge values" * doctest::skip(kNoJit)) {
    for (const char* op : kAluOps) {
        for (const bool wide : {true, false}) {
            std::string text = "r6 = r1\n";
            int slot = 0;
            for (const std::uint64_t a : kEdgeValues) {
                for (const std::uint64_t b : kEdgeValues) {
                    text += lddw(7, a) + lddw(8, b) + reg(7, wide) + " " + op + " " + reg(8, wide) + "\n" +
                            store64(6, 8 * slot++, 7);
                }
            }
            text += "r0 = r7\nexit\n";
            differential(std::string(op) + (wide ? " 64" : " 32"), text,
                         std::vector<std::uint8_t>(8 * static_cast<std::size_t>(slot)));
        }
    }
}

TEST_CASE("exec jit: every ALU operation, immediate form, on edge values" * doctest::skip(kNoJit)) {
    for (const char* op : kAluOps) {
        for (const bool wide : {true, false}) {
            std::string text = "r6 = r1\n";
            int slot = 0;
            for (const std::uint64_t a : kEdgeValues) {
                for (const std::int32_t imm : kEdgeImmediates) {
                    text += lddw(7, a) + reg(7, wide) + " " + op + " " + std::to_string(imm) + "\n" +
                            store64(6, 8 * slot++, 7);
                }
            }
            text += "r0 = r7\nexit\n";
            differential(std::string(op) + (wide ? " 64 imm" : " 32 imm"), text,
                         std::vector<std::uint8_t>(8 * static_cast<std::size_t>(slot)));
        }
    }
}

// Every destination and source register, so that the machine registers division and shifts use (rax, rdx, rcx: r0,
// r3, r4) meet every other: the result and every other register must be the interpreter's.
TEST_CASE("exec jit: every ALU operation on every register pair" * doctest::skip(kNoJit)) {
    struct Pair {
        std::uint64_t a;
        std::uint64_t b;
    };
    const std::vector<Pair> pairs = {
        {0xFEDCBA9876543210, 3},                  // plain
        {kInt64Min, s64(-1)},                     // INT64_MIN / -1
        {0xFFFFFFFF80000000, 0x00000005FFFFFFFF}, // INT32_MIN / -1 in 32 bits
        {0x0000000100000007, 0},                  // by zero
        {100, 0x0000000100000000},                // zero in 32 bits only
        {s64(-100), 63},                          // shift by 63
        {0x00000000DEADBEEF, 36},                 // a shift count masked
        {s64(-9), s64(-4)},                       // signed both
    };
    for (const char* op : kAluOps) {
        for (const bool wide : {true, false}) {
            for (int dst = 0; dst <= 9; ++dst) {
                for (int src = 0; src <= 9; ++src) {
                    const int base = base_register(dst, src);
                    std::string text = initialize_registers(base);
                    int row = 0;
                    for (const Pair& p : pairs) {
                        text += lddw(dst, p.a);
                        if (src != dst) {
                            text += lddw(src, p.b);
                        }
                        text += reg(dst, wide) + " " + op + " " + reg(src, wide) + "\n" + dump_registers(base, row++);
                    }
                    text += "r0 = 1\nexit\n";
                    Env env;
                    env.optimized = dst <= 1 && (src == 2 || src == dst);
                    differential(reg(dst, wide) + " " + op + " " + reg(src, wide), text,
                                 std::vector<std::uint8_t>(static_cast<std::size_t>(kRow * row)), env);
                }
            }
        }
    }
}

TEST_CASE("exec jit: every ALU operation with an immediate on every register" * doctest::skip(kNoJit)) {
    const std::vector<std::uint64_t> values = {0xFEDCBA9876543210, kInt64Min, 0xFFFFFFFF80000000, 5, s64(-5)};
    const std::vector<std::int32_t> immediates = {0, 1, -1, 3, -3, 31, 32, 63, 64, INT32_MIN, 0x7FFFFFFF};
    for (const char* op : kAluOps) {
        for (const bool wide : {true, false}) {
            for (int dst = 0; dst <= 9; ++dst) {
                const int base = base_register(dst, dst);
                std::string text = initialize_registers(base);
                int row = 0;
                for (const std::uint64_t a : values) {
                    for (const std::int32_t imm : immediates) {
                        text += lddw(dst, a) + reg(dst, wide) + " " + op + " " + std::to_string(imm) + "\n" +
                                dump_registers(base, row++);
                    }
                }
                text += "r0 = 1\nexit\n";
                Env env;
                env.optimized = dst <= 1;
                differential(reg(dst, wide) + " " + op + " imm", text,
                             std::vector<std::uint8_t>(static_cast<std::size_t>(kRow * row)), env);
            }
        }
    }
}

TEST_CASE("exec jit: the register pairs of division and shifts, with known results" * doctest::skip(kNoJit)) {
    // r3 is rdx and r4 rcx (the count register); r0 is rax, which div and idiv use.
    struct Row {
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r3 = 100\nr4 = 7\nr3 /= r4\nr0 = r3\nexit", 14},
        {"r3 = 100\nr4 = 7\nr3 %= r4\nr0 = r3\nexit", 2},
        {"r0 = 100\nr3 = 7\nr0 %= r3\nexit", 2},
        {"r0 = 100\nr3 = 7\nr0 /= r3\nr0 += r3\nexit", 21},
        {"r0 = -100\nr3 = 7\nr0 s/= r3\nr0 += r3\nexit", s64(-7)},
        {"r3 = -100\nr0 = 7\nr3 s%= r0\nr0 = r3\nexit", s64(-2)},
        {"r3 = 100\nr3 /= r3\nr0 = r3\nexit", 1},
        {"r0 = 100\nr0 %= r0\nexit", 0},
        {"r0 = 100\nr3 = 0\nr0 %= r3\nr0 += r3\nexit", 100},
        {"r0 = 100\nr3 = 0\nr0 /= r3\nr0 += r3\nexit", 0},
        {"r4 = 3\nr4 <<= r4\nr0 = r4\nexit", 24},
        {"w4 = 33\nw4 <<= w4\nr0 = r4\nexit", 66},
        {"r1 = 1\nr4 = 40\nr1 <<= r4\nr0 = r1\nr0 += r4\nexit", (1ULL << 40) + 40},
        {"r4 = 0x800\nr2 = 4\nr4 >>= r2\nr0 = r4\nr0 += r2\nexit", 0x84},
        {"r4 = -64\nr2 = 2\nr4 s>>= r2\nr0 = r4\nexit", s64(-16)},
        {"r0 = 1\nr4 = 63\nr0 <<= r4\nexit", kInt64Min},
        {"r0 = 1\nr4 = 64\nr0 <<= r4\nexit", 1},
        {"w0 = 1\nw4 = 32\nw0 <<= w4\nexit", 1},
        {"r3 = 7\nr4 = 1\nr3 <<= r4\nr0 = r3\nr0 += r4\nexit", 15},
        {"r0 = 0x8000000000000000 ll\nr0 s/= -1\nexit", kInt64Min},
        {"r0 = 0x8000000000000000 ll\nr4 = -1\nr0 s%= r4\nr0 += r4\nexit", s64(-1)},
        {"w3 = -2147483648\nw4 = -1\nw3 s/= w4\nr0 = r3\nexit", 0x80000000},
        {"w3 = -2147483648\nw4 = -1\nw3 s%= w4\nr0 = r3\nexit", 0},
        {"w3 = -2147483648\nw3 s/= -1\nr0 = r3\nexit", 0x80000000},
        {"r3 = 0x1ffffffff ll\nw3 %= 0\nr0 = r3\nexit", 0xffffffff},
        {"r3 = 0x1ffffffff ll\nr3 %= 0\nr0 = r3\nexit", 0x1ffffffff},
        {"r3 = 0x1ffffffff ll\nr3 /= 0\nr0 = r3\nexit", 0},
        {"r3 = -1\nr3 /= -1\nr0 = r3\nexit", 1},
        {"w3 = -1\nw3 /= -1\nr0 = r3\nexit", 1},
        {"w3 = -7\nw3 s%= -1\nr0 = r3\nexit", 0},
        {"r3 = -7\nr3 s/= -1\nr0 = r3\nexit", 7},
    };
    for (const Row& row : rows) {
        differential(row.text, row.text, {}, expecting(row.expected));
    }
}

TEST_CASE("exec jit: mov, movsx, neg and byte swaps on every register pair" * doctest::skip(kNoJit)) {
    const std::vector<std::uint64_t> values = {
        0x8182838485868788, 0x7F, 0x80, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0x1122334455667788, s64(-1), 0};
    const char* const swaps[] = {"le16 ", "le32 ",    "le64 ",    "be16 ",   "be32 ",
                                 "be64 ", "bswap16 ", "bswap32 ", "bswap64 "};
    for (int dst = 0; dst <= 9; ++dst) {
        for (int src = 0; src <= 9; ++src) {
            const int base = base_register(dst, src);
            std::string text = initialize_registers(base);
            int row = 0;
            auto emit = [&](const std::string& operation) {
                for (const std::uint64_t v : values) {
                    text += lddw(dst, ~v) + lddw(src, v) + operation + "\n" + dump_registers(base, row++);
                }
            };
            emit(reg(dst) + " = " + reg(src));
            emit(reg(dst, false) + " = " + reg(src, false));
            emit(reg(dst) + " = (s8)" + reg(src));
            emit(reg(dst) + " = (s16)" + reg(src));
            emit(reg(dst) + " = (s32)" + reg(src));
            emit(reg(dst, false) + " = (s8)" + reg(src, false));
            emit(reg(dst, false) + " = (s16)" + reg(src, false));
            if (src == dst) {
                emit(reg(dst) + " = -" + reg(dst));
                emit(reg(dst, false) + " = -" + reg(dst, false));
                for (const char* swap : swaps) {
                    emit(reg(dst) + " = " + swap + reg(dst));
                }
            }
            text += "r0 = 1\nexit\n";
            differential("mov " + reg(dst) + ", " + reg(src), text,
                         std::vector<std::uint8_t>(static_cast<std::size_t>(kRow * row)));
        }
    }
}

TEST_CASE("exec jit: mov and lddw of immediates, with known results" * doctest::skip(kNoJit)) {
    struct Row {
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r0 = -1\nexit", s64(-1)},
        {"w0 = -1\nexit", 0xffffffff},
        {"r0 = 0x7fffffff\nexit", 0x7fffffff},
        {"r0 = -2147483648\nexit", 0xffffffff80000000},
        {"w0 = -2147483648\nexit", 0x80000000},
        {"r9 = 0x1122334455667788 ll\nr0 = r9\nexit", 0x1122334455667788},
        {"r5 = 0xffffffff ll\nr0 = r5\nexit", 0xffffffff},
        {"r4 = 0xffffffff80000000 ll\nr0 = r4\nexit", 0xffffffff80000000},
        {"r3 = 0x100000000 ll\nr0 = r3\nexit", 0x100000000},
        {"r0 = 0 ll\nexit", 0},
        {"r0 = 0x8000000000000000 ll\nexit", kInt64Min},
        {"r2 = 0x180\nw0 = (s8)w2\nexit", 0xffffff80},
        {"r2 = 0x180000000 ll\nr0 = (s32)r2\nexit", 0xffffffff80000000},
        {"r0 = 0x1122334455667788 ll\nr0 = be16 r0\nexit", 0x8877},
        {"r0 = 0x1122334455667788 ll\nr0 = be32 r0\nexit", 0x88776655},
        {"r0 = 0x1122334455667788 ll\nr0 = be64 r0\nexit", 0x8877665544332211},
        {"r0 = 0x1122334455667788 ll\nr0 = le16 r0\nexit", 0x7788},
        {"r0 = 0x1122334455667788 ll\nr0 = le32 r0\nexit", 0x55667788},
        {"r0 = 0x1122334455667788 ll\nr0 = le64 r0\nexit", 0x1122334455667788},
        {"r0 = 0x1122334455667788 ll\nr0 = bswap16 r0\nexit", 0x8877},
        {"r0 = 0x1122334455667788 ll\nr0 = bswap32 r0\nexit", 0x88776655},
        {"r0 = 0x1122334455667788 ll\nr0 = bswap64 r0\nexit", 0x8877665544332211},
    };
    for (const Row& row : rows) {
        differential(row.text, row.text, {}, expecting(row.expected));
    }
    // Every register receives every kind of constant.
    for (int r = 0; r <= 9; ++r) {
        const int base = base_register(r, r);
        std::string text = initialize_registers(base);
        int row = 0;
        for (const std::uint64_t v : kEdgeValues) {
            text += lddw(r, v) + dump_registers(base, row++);
            text += reg(r) + " = " + std::to_string(static_cast<std::int32_t>(v)) + "\n" + dump_registers(base, row++);
            text += reg(r, false) + " = " + std::to_string(static_cast<std::int32_t>(v)) + "\n" +
                    dump_registers(base, row++);
        }
        text += "r0 = 1\nexit\n";
        differential("constants in " + reg(r), text, std::vector<std::uint8_t>(static_cast<std::size_t>(kRow * row)));
    }
}

// =====================================================================================================================
// Jumps

TEST_CASE("exec jit: every conditional jump, 32 and 64 bits, register and immediate" * doctest::skip(kNoJit)) {
    const char* const conditions[] = {"==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"};
    const std::vector<std::uint64_t> values = {
        0,          1,          s64(-1),     kInt64Min,          0x7FFFFFFFFFFFFFFF, 0x7FFFFFFF,
        0x80000000, 0xFFFFFFFF, 0x100000000, 0xFFFFFFFF00000000, 0x17FFFFFFF,        0xFFFFFFFF7FFFFFFF,
        s64(-2),    2};
    const std::vector<std::int32_t> immediates = {0, 1, -1, 2, -2, INT32_MIN, 0x7FFFFFFF, 127, -128, -129, 128};
    for (const char* cond : conditions) {
        for (const bool wide : {true, false}) {
            // Register form: r7 against r8, r0 (rax) against r4 (rcx), r3 (rdx) against r5, r9 against itself.
            for (const auto& [a, b] : {std::pair{7, 8}, std::pair{0, 4}, std::pair{3, 5}, std::pair{9, 9}}) {
                std::string text = "r6 = r1\n";
                int slot = 0;
                for (const std::uint64_t x : values) {
                    for (const std::uint64_t y : values) {
                        text += lddw(a, x) + lddw(b, y) + "r2 = 1\nif " + reg(a, wide) + " " + cond + " " +
                                reg(b, wide) + " goto +1\nr2 = 0\n" + store64(6, 8 * slot++, 2);
                    }
                }
                text += "r0 = r2\nexit\n";
                differential(std::string("if ") + reg(a, wide) + " " + cond + " " + reg(b, wide), text,
                             std::vector<std::uint8_t>(8 * static_cast<std::size_t>(slot)));
            }
            std::string text = "r6 = r1\n";
            int slot = 0;
            for (const std::uint64_t x : values) {
                for (const std::int32_t imm : immediates) {
                    text += lddw(0, x) + "r2 = 1\nif " + reg(0, wide) + " " + cond + " " + std::to_string(imm) +
                            " goto +1\nr2 = 0\n" + store64(6, 8 * slot++, 2);
                }
            }
            text += "r0 = r2\nexit\n";
            differential(std::string("if ") + reg(0, wide) + " " + cond + " imm", text,
                         std::vector<std::uint8_t>(8 * static_cast<std::size_t>(slot)));
        }
    }
}

TEST_CASE("exec jit: unconditional jumps, backward jumps and loops" * doctest::skip(kNoJit)) {
    struct Row {
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r0 = 1\ngoto +1\nr0 = 2\nexit", 1},
        {"r0 = 1\ngoto +2\nr0 = 2 ll\nexit", 1},
        {"r0 = 1\ngotol +1\nr0 = 2\nexit", 1},
        {"r0 = 0\ngotol +2\nr0 += 1\nexit\nr0 += 2\ngotol -4", 3},
        {"r0 = 0\nr1 = 10\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit", 55},
        {"r0 = 0\nw1 = 100\nloop:\nr0 += r1\nw1 -= 1\nif w1 s> 0 goto loop\nexit", 5050},
        {"r0 = 0\nr9 = 1000\nloop:\nr0 += 3\nr9 += -1\nif r9 > 0 goto loop\nexit", 3000},
        {"r0 = 0\nr1 = 0\nouter:\nr2 = 0\ninner:\nr0 += r2\nr2 += 1\nif r2 < 5 goto inner\nr1 += 1\nif r1 < 4 goto "
         "outer\nexit",
         40},
    };
    for (const Row& row : rows) {
        differential(row.text, row.text, {}, expecting(row.expected));
    }
}

// =====================================================================================================================
// Memory

namespace {

struct MemorySize {
    const char* unsigned_type;
    const char* signed_type; ///< nullptr for u64
    int bytes;
};
constexpr MemorySize kSizes[] = {{"u8", "s8", 1}, {"u16", "s16", 2}, {"u32", "s32", 4}, {"u64", nullptr, 8}};

std::string load(int dst, const char* type, int base, int offset) {
    return reg(dst) + " = *(" + type + " *)(" + address(base, offset) + ")\n";
}
std::string store(const char* type, int base, int offset, const std::string& value) {
    return "*(" + std::string(type) + " *)(" + address(base, offset) + ") = " + value + "\n";
}

} // namespace

TEST_CASE("exec jit: loads and stores of every size on the context, every base register" * doctest::skip(kNoJit)) {
    // Bytes 0-1199 are data; the loads are written to 1200 and up.
    std::vector<std::uint8_t> memory(1200 + 8 * 40);
    for (std::size_t i = 0; i < 1200; ++i) {
        memory[i] = static_cast<std::uint8_t>(0x80 + i * 37);
    }
    for (int base = 0; base <= 9; ++base) {
        // The context in `base`; r6 keeps it too unless `base` is r6, then r7 does.
        const int keep = base == 6 ? 7 : 6;
        for (int value = 0; value <= 9; ++value) {
            if (value == base || value == keep) {
                continue;
            }
            std::string text = reg(keep) + " = r1\n" + reg(base) + " = r1\n";
            // Stores of a register, short and long displacements, each in a 16-byte cell of its own whose other
            // bytes keep the pattern (a store of the wrong width shows), then loads of each size into `value`.
            int cell = 0;
            for (const int region : {0, 64, 128, 192, 1008}) {
                for (const MemorySize& size : kSizes) {
                    const int at = region + 16 * (cell % 4) + 1 + cell % 3;
                    text += lddw(value, 0xF1E2D3C4B5A69788 + static_cast<std::uint64_t>(at)) +
                            store(size.unsigned_type, base, at, reg(value));
                    ++cell;
                }
            }
            int slot = 0;
            for (const MemorySize& size : kSizes) {
                for (const int disp : {1, 100, 130, 500, 1100}) {
                    text += load(value, size.unsigned_type, base, disp) + store64(keep, 1200 + 8 * slot++, value);
                }
                if (size.signed_type != nullptr) {
                    for (const int disp : {2, 7, 300, 1090}) {
                        text += load(value, size.signed_type, base, disp) + store64(keep, 1200 + 8 * slot++, value);
                    }
                }
            }
            // Stores of immediates, each in a cell of its own too.
            cell = 0;
            for (const MemorySize& size : kSizes) {
                for (const std::int32_t imm : {-1, 0x7F, 0x80, 0x1234, 0x7FFF8001, INT32_MIN}) {
                    text += store(size.unsigned_type, base, 600 + 16 * cell + cell % 5, std::to_string(imm));
                    ++cell;
                }
            }
            text += "r0 = *(u64 *)(" + address(keep, 8) + ")\nexit\n";
            differential("memory through " + reg(base) + " with " + reg(value), text, memory);
        }
    }
}

TEST_CASE("exec jit: loads and stores on the stack, copied back to the context" * doctest::skip(kNoJit)) {
    for (int value = 0; value <= 9; ++value) {
        if (value == 6) {
            continue;
        }
        std::string text = "r6 = r1\n";
        int slot = 0;
        for (const MemorySize& size : kSizes) {
            for (const int disp : {-1, -2, -4, -8, -100, -128, -129, -256, -511, -512}) {
                const int at = std::min(disp, -size.bytes); // the whole access inside the frame
                text += lddw(value, 0x8899AABBCCDDEEFF ^ static_cast<std::uint64_t>(-disp)) +
                        store(size.unsigned_type, 10, at, reg(value));
                text += load(value, size.unsigned_type, 10, at) + store64(6, 8 * slot++, value);
                if (size.signed_type != nullptr) {
                    text += load(value, size.signed_type, 10, at) + store64(6, 8 * slot++, value);
                }
                text += store(size.unsigned_type, 10, at, "-2") + load(value, size.unsigned_type, 10, at) +
                        store64(6, 8 * slot++, value);
            }
        }
        // A store of each size amid a known pattern: the bytes around it keep theirs.
        for (const MemorySize& size : kSizes) {
            for (const int at : {-21, -24, -30 + size.bytes}) {
                for (const int word : {-32, -24, -16, -8}) {
                    text += lddw(value, 0x5A5A5A5A5A5A5A5AULL + static_cast<std::uint64_t>(-word)) +
                            store("u64", 10, word, reg(value));
                }
                text += lddw(value, 0x0102030405060708) + store(size.unsigned_type, 10, at, reg(value));
                text += store(size.unsigned_type, 10, at - size.bytes, "-3");
                for (const int word : {-32, -24, -16, -8}) {
                    text += load(value, "u64", 10, word) + store64(6, 8 * slot++, value);
                }
            }
        }
        // The whole frame, byte by byte through a pointer held in a register.
        text += "r2 = r10\nr2 += -512\nr3 = 0\nfill:\n*(u8 *)(r2 + 0) = r3\nr3 += 7\nr2 += 1\nif r2 != r10 goto fill\n";
        text += "r0 = *(u64 *)(r10 - 512)\n" + store64(6, 8 * slot, 0);
        text += "r0 = *(u64 *)(r10 - 8)\n" + store64(6, 8 * (slot + 1), 0) + "r0 = *(u32 *)(r10 - 260)\nexit\n";
        slot += 2;
        differential("stack through " + reg(value), text,
                     std::vector<std::uint8_t>(8 * static_cast<std::size_t>(slot)));
    }
}

TEST_CASE("exec jit: sign-extending and zero-extending loads, with known results" * doctest::skip(kNoJit)) {
    const std::vector<std::uint8_t> bytes = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    struct Row {
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r0 = *(u8 *)(r1 + 7)\nexit", 0x88},
        {"r0 = *(u16 *)(r1 + 6)\nexit", 0x8877},
        {"r0 = *(u32 *)(r1 + 4)\nexit", 0x88776655},
        {"r0 = *(u64 *)(r1 + 0)\nexit", 0x8877665544332211},
        {"r0 = *(s8 *)(r1 + 7)\nexit", 0xffffffffffffff88},
        {"r0 = *(s8 *)(r1 + 0)\nexit", 0x11},
        {"r0 = *(s16 *)(r1 + 6)\nexit", 0xffffffffffff8877},
        {"r0 = *(s32 *)(r1 + 4)\nexit", 0xffffffff88776655},
        {"r0 = -1\nr0 = *(u8 *)(r1 + 1)\nexit", 0x22},
        {"r9 = r1\nr9 += 8\nr0 = *(s16 *)(r9 - 2)\nexit", 0xffffffffffff8877},
        {"r5 = r1\nr5 = *(u32 *)(r5 + 0)\nr0 = r5\nexit", 0x44332211},
    };
    for (const Row& row : rows) {
        Env env = expecting(row.expected);
        differential(row.text, row.text, bytes, env);
    }
}

// =====================================================================================================================
// Atomics

TEST_CASE("exec jit: atomics of every kind on register pairs" * doctest::skip(kNoJit)) {
    struct Atomic {
        const char* name;
        std::function<std::string(int base, int src, int offset, bool wide)> text;
        bool cmpxchg;
    };
    auto lock = [](const char* op) {
        return [op](int base, int src, int offset, bool wide) {
            return std::string("lock *(u") + (wide ? "64" : "32") + " *)(" + address(base, offset) + ") " + op + " " +
                   reg(src, wide) + "\n";
        };
    };
    auto fetch = [](const char* name) {
        return [name](int base, int src, int offset, bool wide) {
            return reg(src, wide) + " = " + name + "((u" + (wide ? "64" : "32") + " *)(" + address(base, offset) +
                   "), " + reg(src, wide) + ")\n";
        };
    };
    const std::vector<Atomic> atomics = {
        {"add", lock("+="), false},
        {"or", lock("|="), false},
        {"and", lock("&="), false},
        {"xor", lock("^="), false},
        {"fetch_add", fetch("atomic_fetch_add"), false},
        {"fetch_or", fetch("atomic_fetch_or"), false},
        {"fetch_and", fetch("atomic_fetch_and"), false},
        {"fetch_xor", fetch("atomic_fetch_xor"), false},
        {"xchg",
         [](int base, int src, int offset, bool wide) {
             return reg(src, wide) + " = " + (wide ? "xchg_64(" : "xchg32_32(") + address(base, offset) + ", " +
                    reg(src, wide) + ")\n";
         },
         false},
        {"cmpxchg",
         [](int base, int src, int offset, bool wide) {
             return reg(0, wide) + " = " + (wide ? "cmpxchg_64(" : "cmpxchg32_32(") + address(base, offset) + ", " +
                    reg(0, wide) + ", " + reg(src, wide) + ")\n";
         },
         true},
    };
    // r9 keeps the context; `base` holds it for the atomic (r0 too); `src` (r0 too) holds the operand.
    std::vector<std::uint8_t> memory = le64({0x8000000180000001, 0x00000000FFFFFFFF, 0x123456789ABCDEF0, 0});
    memory.resize(64 + 8 * 10 * 12);
    for (const Atomic& atomic : atomics) {
        for (const bool wide : {true, false}) {
            for (int base = 0; base <= 8; ++base) {
                for (int src = 0; src <= 8; ++src) {
                    if (src == base) {
                        continue;
                    }
                    std::string text = "r9 = r1\n";
                    for (int r = 0; r <= 8; ++r) {
                        text += lddw(r, 0x0000000300000005ULL * static_cast<std::uint64_t>(r + 1));
                    }
                    int row = 0;
                    auto dump = [&] {
                        for (int r = 0; r <= 8; ++r) {
                            text += store64(9, 64 + row * kRow + 8 * r, r);
                        }
                        ++row;
                    };
                    for (const int offset : {0, 8, 16}) {
                        for (const int variant : {0, 1}) {
                            text += reg(base) + " = r9\n";
                            text += lddw(src, variant == 0 ? 0x00000002FFFFFFF0 : 0xFFFFFFFF00000003);
                            if (atomic.cmpxchg && base != 0) {
                                // Variant 0 expects the word there (success; in 32 bits the upper half of r0
                                // differs), variant 1 another value (failure).
                                text += "r0 = *(u64 *)(r9 + " + std::to_string(offset) + ")\n";
                                if (variant == 1) {
                                    text += "r0 += 1\n";
                                } else if (!wide) {
                                    text += "r0 += 0x7fffffff\nr0 += 0x7fffffff\nr0 += 2\n";
                                }
                            }
                            text += atomic.text(base, src, offset, wide);
                            // No pointer reaches the dump (r0 as a cmpxchg's address holds the old value now).
                            if (!(atomic.cmpxchg && base == 0)) {
                                text += reg(base) + " = 0\n";
                            }
                            dump();
                        }
                    }
                    text += "r0 = *(u64 *)(r9 + 0)\nexit\n";
                    Env env;
                    env.optimized = base <= 1 && src <= 2; // r0 as the address, as the operand, and neither
                    differential(std::string(atomic.name) + (wide ? " 64" : " 32") + " at " + reg(base) + " with " +
                                     reg(src),
                                 text, memory, env);
                }
            }
        }
    }
}

TEST_CASE("exec jit: atomics with known results, r0 as address and as operand" * doctest::skip(kNoJit)) {
    const std::vector<std::uint8_t> memory = le64({0x100000005, 0x1fffffff0, 0});
    struct Row {
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r2 = 0x10\nlock *(u64 *)(r1 + 8) += r2\nr0 = *(u64 *)(r1 + 8)\nexit", 0x200000000},
        {"r2 = 0x10\nlock *(u32 *)(r1 + 8) += w2\nr0 = *(u64 *)(r1 + 8)\nexit", 0x100000000},
        {"r2 = 0x10\nr2 = atomic_fetch_add((u64 *)(r1 + 8), r2)\nr0 = r2\nexit", 0x1fffffff0},
        {"r2 = 0x200000010 ll\nw2 = atomic_fetch_add((u32 *)(r1 + 8), w2)\nr0 = r2\nexit", 0xfffffff0},
        {"r2 = 0x20000000f ll\nr2 = atomic_fetch_or((u64 *)(r1 + 8), r2)\nr0 = *(u64 *)(r1 + 8)\nexit", 0x3ffffffff},
        {"r2 = 0x20000000f ll\nw2 = atomic_fetch_and((u32 *)(r1 + 8), w2)\nr0 = r2\nexit", 0xfffffff0},
        {"r2 = 0x10000000f ll\nw2 = atomic_fetch_xor((u32 *)(r1 + 8), w2)\nr0 = *(u64 *)(r1 + 8)\nexit", 0x1ffffffff},
        // r0 as the fetched operand: it receives the old value.
        {"r0 = 0x10\nr0 = atomic_fetch_add((u64 *)(r1 + 0), r0)\nexit", 0x100000005},
        {"r0 = 0xff\nr0 = atomic_fetch_or((u64 *)(r1 + 0), r0)\nr2 = *(u64 *)(r1 + 0)\nr0 <<= 8\nr0 += r2\nexit",
         (0x100000005ULL << 8) + 0x1000000ff},
        {"w0 = 6\nw0 = atomic_fetch_xor((u32 *)(r1 + 0), w0)\nr2 = *(u64 *)(r1 + 0)\nr0 <<= 36\nr0 += r2\nexit",
         (5ULL << 36) + 0x100000003},
        {"r0 = 7\nr0 = xchg_64(r1 + 0, r0)\nr2 = *(u64 *)(r1 + 0)\nr0 <<= 4\nr0 += r2\nexit",
         (0x100000005ULL << 4) + 7},
        {"w0 = 7\nw0 = xchg32_32(r1 + 0, w0)\nr2 = *(u64 *)(r1 + 0)\nr0 <<= 36\nr0 += r2\nexit",
         (5ULL << 36) + 0x100000007},
        // cmpxchg with r0 as the new value too: success stores it again.
        {"r0 = 0x100000005 ll\nr0 = cmpxchg_64(r1 + 0, r0, r0)\nexit", 0x100000005},
        {"r0 = 0x700000005 ll\nw0 = cmpxchg32_32(r1 + 0, w0, w0)\nr2 = *(u64 *)(r1 + 0)\nr0 <<= 36\nr0 += r2\nexit",
         (5ULL << 36) + 0x100000005},
        {"r0 = 4\nr0 = cmpxchg_64(r1 + 0, r0, r0)\nexit", 0x100000005},
        // cmpxchg32 success with r0's upper half set: the result is zero-extended.
        {"r0 = 0x700000005 ll\nr2 = 9\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nexit", 5},
        {"r0 = 0x700000005 ll\nr2 = 9\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nr0 = *(u64 *)(r1 + 0)\nexit", 0x100000009},
        {"r0 = 6\nr2 = 9\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nexit", 5},
        // r0 as the address of a cmpxchg: the expected value is the address itself.
        {"r0 = r1\nr9 = r1\nr2 = 9\nr0 = cmpxchg_64(r0 + 0, r0, r2)\nexit", 0x100000005},
        {"r0 = r1\nr9 = r1\n*(u64 *)(r0 + 16) = r0\nr2 = 9\nr0 = cmpxchg_64(r0 + 16, r0, r2)\nr0 -= r9\nr3 = *(u64 "
         "*)(r9 + 16)\nr0 += r3\nexit",
         9},
        // r0 as the address of the other atomics.
        {"r0 = r1\nr2 = 3\nlock *(u64 *)(r0 + 0) += r2\nr0 = *(u64 *)(r1 + 0)\nexit", 0x100000008},
        {"r0 = r1\nr2 = 3\nr2 = atomic_fetch_and((u64 *)(r0 + 8), r2)\nr0 = *(u64 *)(r1 + 8)\nr0 += r2\nexit",
         0x1fffffff0},
        {"r0 = r1\nr2 = 3\nr2 = xchg_64(r0 + 8, r2)\nr0 = *(u64 *)(r1 + 8)\nr0 += r2\nexit", 0x1fffffff3},
        // The operand register is the address register's neighbour in the machine (r3 rdx, r4 rcx).
        {"r3 = r1\nr4 = 2\nr4 = atomic_fetch_or((u64 *)(r3 + 0), r4)\nr0 = *(u64 *)(r3 + 0)\nr0 += r4\nexit",
         0x100000007 + 0x100000005},
        // On the stack.
        {"r1 = 3\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nlock *(u64 *)(r10 - 8) += r1\nr0 = *(u64 *)(r10 - 8)\nexit", 7},
        {"r1 = 0x1000000ff ll\n*(u64 *)(r10 - 8) = r1\nw1 = 0x0f\nw1 = atomic_fetch_xor((u32 *)(r10 - 8), w1)\nr0 = "
         "*(u64 *)(r10 - 8)\nr0 += r1\nexit",
         0x1000000f0 + 0xff},
        {"r1 = 5\n*(u64 *)(r10 - 16) = r1\nr0 = 5\nr2 = 11\nr0 = cmpxchg_64(r10 - 16, r0, r2)\nr3 = *(u64 *)(r10 - "
         "16)\nr0 += r3\nexit",
         16},
    };
    for (const Row& row : rows) {
        differential(row.text, row.text, memory, expecting(row.expected));
    }
}

// =====================================================================================================================
// Calls

TEST_CASE("exec jit: local calls keep r6-r9 and r10, and pass the stack" * doctest::skip(kNoJit)) {
    struct Row {
        const char* name;
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r1-r5 reach the callee",
         "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall f\nexit\nf:\nr0 = r5\nr0 *= 10\nr0 += r4\nr0 *= 10\nr0 += "
         "r3\nr0 *= 10\nr0 += r2\nr0 *= 10\nr0 += r1\nexit",
         54321},
        {"the callee's r6-r9 do not reach the caller",
         "r6 = 6\nr7 = 7\nr8 = 8\nr9 = 9\ncall f\nr0 = r6\nr0 *= 10\nr0 += r7\nr0 *= 10\nr0 += r8\nr0 *= 10\nr0 += "
         "r9\nexit\nf:\nr6 = 60\nr7 = 70\nr8 = 80\nr9 = 90\ncall g\nr0 = r9\nexit\ng:\nr6 = 1\nr7 = 2\nr8 = 3\nr9 = "
         "4\nexit",
         6789},
        {"each frame has its own r10",
         "r1 = 42\n*(u64 *)(r10 - 8) = r1\ncall f\nr0 = *(u64 *)(r10 - 8)\nexit\nf:\n*(u64 *)(r10 - 8) = 7\nr0 = "
         "*(u64 *)(r10 - 8)\nexit",
         42},
        {"a callee writes its caller's stack through a pointer",
         "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 - 8)\nexit\nf:\n*(u64 *)(r1 "
         "+ 0) = 99\nexit",
         99},
        {"the callee's frame is 512 bytes below", "r1 = r10\ncall f\nexit\nf:\nr0 = r1\nr0 -= r10\nexit", 512},
        {"r0 returns", "call f\nr0 += 1\nexit\nf:\nr0 = 41\nexit", 42},
        {"call pc+2", "r0 = 1\ncall pc+2\nr0 += 10\nexit\nr0 = 5\nexit", 15},
        {"nested calls", "call f\nexit\nf:\ncall g\nr0 *= 2\nexit\ng:\nr0 = 21\nexit", 42},
        {"calls in a loop",
         "r6 = 0\nr7 = 0\nloop:\nr1 = r6\ncall sq\nr7 += r0\nr6 += 1\nif r6 < 10 goto loop\nr0 = r7\nexit\nsq:\nr0 = "
         "r1\nr0 *= r1\nexit",
         285},
    };
    for (const Row& row : rows) {
        differential(row.name, row.text, {}, expecting(row.expected));
    }
}

TEST_CASE("exec jit: recursion past the call depth limit ends the run with 0" * doctest::skip(kNoJit)) {
    // The context: the recursion count; each level adds one to ctx[8] before calling the next.
    const std::string text = R"(
        r6 = r1
        r1 = *(u64 *)(r6 + 0)
        call f
        r0 += 1000
        exit
    f:
        r2 = *(u64 *)(r6 + 8)
        r2 += 1
        *(u64 *)(r6 + 8) = r2
        *(u64 *)(r10 - 8) = r1
        if r1 == 0 goto base
        r1 -= 1
        call f
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
    base:
        r0 = 0
        exit)";
    for (std::uint64_t n = 0; n <= 10; ++n) {
        CAPTURE(n);
        // n recursive calls below the first: depth n + 1, at most 8 (isa::kMaxCallDepth).
        Env env = expecting(n + 1 <= isa::kMaxCallDepth ? 1000 + n * (n + 1) / 2 : 0);
        const auto outcome = differential("recursion " + std::to_string(n), text, le64({n, 0}), env);
        if (outcome) {
            CHECK(word_at(outcome->memory, 8) == std::min<std::uint64_t>(n + 1, isa::kMaxCallDepth));
        }
    }
    // Infinite recursion.
    differential("infinite recursion", "r0 = 5\ncall f\nexit\nf:\nr0 += 1\ncall f\nexit", {}, expecting(0));
}

TEST_CASE("exec jit: helper calls, fewer arguments, unwind, callx" * doctest::skip(kNoJit)) {
    struct Row {
        const char* name;
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"r1-r5 arrive, the result is in r0", "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall 1\nexit", 54321},
        {"helper result", "call 2\nexit", 42},
        {"r6-r9 survive a helper call",
         "r6 = 6\nr7 = 7\nr8 = 8\nr9 = 9\ncall 2\nr0 = r6\nr0 *= 10\nr0 += r7\nr0 *= 10\nr0 += r8\nr0 *= 10\nr0 += "
         "r9\nexit",
         6789},
        {"r10 survives a helper call", "r6 = r10\ncall 2\nr0 = r10\nr0 -= r6\nexit", 0},
        {"a helper reads the stack", "r1 = 99\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\ncall 3\nexit", 99},
        {"a helper writes the stack", "r1 = r10\nr1 += -8\nr2 = 77\ncall 4\nr0 = *(u64 *)(r10 - 8)\nexit", 77},
        {"a helper reads the context", "call 3\nexit", 0x8877665544332211},
        {"a helper from a local call", "call f\nr0 += 1\nexit\nf:\nr1 = 3\nr2 = 4\ncall 1\nexit", 44},
        {"unwind helper returning nonzero continues", "r1 = -1\ncall 5\nr0 = 2\nexit", 2},
        {"unwind helper returning 0 ends the run", "r1 = 0\ncall 5\nr0 = 2\nexit", 0},
        {"unwind from inside a local call", "r1 = 0\ncall f\nr0 = 3\nexit\nf:\ncall 5\nr0 = 4\nexit", 0},
        {"unwind from two calls deep", "r0 = 9\ncall f\nr0 = 3\nexit\nf:\ncall g\nexit\ng:\nr1 = 0\ncall 5\nexit", 0},
        {"unwind nonzero inside a local call", "r1 = 8\ncall f\nr0 += 3\nexit\nf:\ncall 5\nexit", 11},
        {"callx of a known helper", "r2 = 2\ncallx r2\nexit", 42},
        {"callx passes r1-r5", "r8 = 1\nr1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncallx r8\nexit", 54321},
        {"callx through r0", "r0 = 1\nr1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncallx r0\nexit", 54321},
        {"callx through r4", "r4 = 1\nr1 = 1\nr2 = 2\nr3 = 3\nr5 = 5\ncallx r4\nexit", 51321},
        {"callx through r9, r6 kept", "r6 = 7\nr9 = 2\ncallx r9\nr0 += r6\nr0 += r9\nexit", 51},
        {"callx of an unknown helper", "r0 = 7\nr2 = 99\ncallx r2\nr0 = 1\nexit", 0},
        {"callx of an unregistered id below the table's size", "r0 = 7\nr2 = 0\ncallx r2\nr0 = 1\nexit", 0},
        {"callx of a huge id", "r0 = 7\nr2 = -1\ncallx r2\nr0 = 1\nexit", 0},
        {"callx of an unknown helper from a local call", "call f\nr0 = 1\nexit\nf:\nr3 = 1000\ncallx r3\nexit", 0},
        {"callx of the unwind helper returning 0", "r1 = 0\nr2 = 5\ncallx r2\nr0 = 1\nexit", 0},
        {"callx of the unwind helper returning nonzero", "r1 = 4\nr2 = 5\ncallx r2\nr0 += 1\nexit", 5},
        {"an absent weak kernel function ends the run", "r0 = 5\ncall kfunc 0\nr0 = 1\nexit", 0},
        {"callx of a callback helper calls its function", "r1 = 0\nr3 = 181\ncallx r3\nexit", kNotIntercepted},
    };
    for (const Row& row : rows) {
        differential(row.name, row.text, le64({0x8877665544332211}), expecting(row.expected));
    }
}

TEST_CASE("exec jit: a helper given fewer arguments receives zeros past them" * doctest::skip(kNoJit)) {
    Env env;
    env.reset = [] { g_recorded = {}; };
    env.observe = [] {
        std::vector<std::uint8_t> bytes(sizeof g_recorded);
        std::memcpy(bytes.data(), g_recorded.data(), bytes.size());
        return bytes;
    };
    const std::string set = "r1 = 11\nr2 = 22\nr3 = 33\nr4 = 44\nr5 = 55\n";
    struct Row {
        const char* id;
        std::array<std::uint64_t, 5> received;
    };
    for (const Row& row : {Row{"6", {11, 22, 0, 0, 0}}, Row{"7", {0, 0, 0, 0, 0}}, Row{"8", {11, 22, 33, 44, 55}}}) {
        for (const bool through_callx : {false, true}) {
            const std::string text = set +
                                     (through_callx ? std::string("r0 = ") + row.id + "\ncallx r0\n"
                                                    : std::string("call ") + row.id + "\n") +
                                     "exit";
            env.expected = row.received[0] ^ (row.received[1] << 1) ^ (row.received[2] << 2) ^ (row.received[3] << 3) ^
                           (row.received[4] << 4);
            const auto outcome = differential(text, text, {}, env);
            REQUIRE(outcome.has_value());
            std::array<std::uint64_t, 5> received{};
            std::memcpy(received.data(), outcome->observed.data(), sizeof received);
            CHECK(received == row.received);
        }
    }
}

// =====================================================================================================================
// Legacy packet loads

namespace {

struct PacketContext {
    std::uint64_t data;
    std::uint64_t data_end;
};
constexpr PacketLayout kPacketLayout{0, 8, 8};
const std::array<std::uint8_t, 16> kPacket = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                              0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

std::vector<std::uint8_t> packet_context(const std::uint8_t* data, std::size_t size) {
    return le64({reinterpret_cast<std::uintptr_t>(data), reinterpret_cast<std::uintptr_t>(data) + size});
}

} // namespace

TEST_CASE("exec jit: LD_ABS and LD_IND in and out of the packet" * doctest::skip(kNoJit)) {
    Env env;
    env.packet = kPacketLayout;
    const auto memory = packet_context(kPacket.data(), kPacket.size());
    int cases = 0;
    for (const char* size : {"u8", "u16", "u32"}) {
        const std::uint64_t bytes = std::string(size) == "u8" ? 1 : std::string(size) == "u16" ? 2 : 4;
        for (const std::int32_t offset : {0, 1, 3, 11, 12, 13, 14, 15, 16, 17, 100, -1, -2, 0x7FFFFFFF, INT32_MIN}) {
            const std::string text = "r6 = r1\nr0 = *(" + std::string(size) + " *)skb[" + std::to_string(offset) +
                                     "]\nr0 += 0x10000000\nexit";
            std::uint64_t expected = 0;
            if (offset >= 0 && static_cast<std::uint64_t>(offset) + bytes <= kPacket.size()) {
                for (std::uint64_t i = 0; i < bytes; ++i) {
                    expected = (expected << 8) | kPacket[static_cast<std::size_t>(offset) + i];
                }
                expected += 0x10000000;
            }
            env.expected = expected;
            differential(text, text, memory, env);
            ++cases;
        }
        for (const std::uint64_t index :
             {0ULL, 3ULL, 15ULL, 0xFFFFFFFFULL, 0x100000003ULL, 0x80000000ULL, 0xFFFFFFFFFFFFFFF0ULL, 0x7FFFFFFFULL}) {
            for (const std::int32_t imm : {0, 2, -1, -4, 16, 0x7FFFFFFF, INT32_MIN}) {
                for (const int src : {2, 0, 3, 4, 7}) {
                    const std::string text = "r6 = r1\n" + lddw(src, index) + "r0 = *(" + size + " *)skb[" + reg(src) +
                                             " + " + std::to_string(imm) + "]\nr0 += 0x10000000\nexit";
                    const auto offset = static_cast<std::int64_t>(
                        static_cast<std::int32_t>(static_cast<std::uint32_t>(index + static_cast<std::uint64_t>(imm))));
                    std::uint64_t expected = 0;
                    if (offset >= 0 && static_cast<std::uint64_t>(offset) + bytes <= kPacket.size()) {
                        for (std::uint64_t i = 0; i < bytes; ++i) {
                            expected = (expected << 8) | kPacket[static_cast<std::size_t>(offset) + i];
                        }
                        expected += 0x10000000;
                    }
                    env.expected = expected;
                    differential(text, text, memory, env);
                    ++cases;
                }
            }
        }
    }
    CHECK(cases > 300);
    env.expected.reset();
    // r0 and r6-r9 are what the interpreter leaves; a load out of range from a subprogram ends the whole run.
    const char* const programs[] = {
        ("r6 = r1\nr7 = 7\nr8 = 8\nr9 = 9\nr0 = *(u16 *)skb[2]\nr0 += r7\nr0 += r8\nr0 += r9\n"
         "r3 = *(u64 *)(r6 + 8)\nr4 = *(u64 *)(r6 + 0)\nr3 -= r4\nr0 += r3\nexit"),
        "r6 = r1\ncall pc+2\nr0 = 99\nexit\nr0 = *(u16 *)skb[100]\nr0 = 7\nexit",
        "r6 = r1\ncall pc+2\nr0 += 90\nexit\nr0 = *(u8 *)skb[6]\nexit",
        ("r6 = r1\nr8 = 0\nr7 = 0\nloop:\nr0 = *(u8 *)skb[r7]\nr8 <<= 3\nr8 += r0\nr7 += 1\n"
         "if r7 < 16 goto loop\nr0 = r8\nexit"),
        "r6 = r1\nr0 = 0\nr7 = 0\nloop:\nr0 = *(u32 *)skb[r7 + 0]\nr8 = r0\nr7 += 1\nif r7 < 20 goto loop\nexit",
    };
    for (const char* text : programs) {
        differential(text, text, memory, env);
    }
    // An empty packet has no byte to read.
    const std::string empty = "r6 = r1\nr0 = *(u8 *)skb[0]\nr0 = 99\nexit";
    env.expected = 0;
    differential(empty, empty, packet_context(kPacket.data(), 0), env);
    // data after data_end: nothing to read either.
    differential(
        empty + " (inverted)", assemble(empty), empty,
        le64({reinterpret_cast<std::uintptr_t>(kPacket.data()) + 8, reinterpret_cast<std::uintptr_t>(kPacket.data())}),
        env);
}

TEST_CASE("exec jit: LD_ABS with another layout: fields elsewhere, 32-bit pointers" * doctest::skip(kNoJit)) {
    // The data range in the fields at 8 and 24.
    Env env;
    env.packet = PacketLayout{8, 24, 8};
    std::vector<std::uint8_t> memory = le64({0xdead, reinterpret_cast<std::uintptr_t>(kPacket.data()), 0xbeef,
                                             reinterpret_cast<std::uintptr_t>(kPacket.data()) + 10});
    for (const char* text :
         {"r6 = r1\nr0 = *(u32 *)skb[6]\nexit", "r6 = r1\nr0 = *(u32 *)skb[7]\nexit",
          "r6 = r1\nr2 = 9\nr0 = *(u8 *)skb[r2]\nexit", "r6 = r1\nr2 = 10\nr0 = *(u8 *)skb[r2]\nexit"}) {
        differential(text, text, memory, env);
    }
    env.expected = 0x66778899;
    differential("u32 at 6", "r6 = r1\nr0 = *(u32 *)skb[6]\nexit", memory, env);
#ifdef __linux__
    // 32-bit fields (zero-extended) need a packet below 4 GiB.
#ifdef MAP_32BIT
    void* low = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
#else
    void* low = mmap(reinterpret_cast<void*>(std::uintptr_t{0x70000000}), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
#endif
    REQUIRE(low != MAP_FAILED);
    REQUIRE(reinterpret_cast<std::uintptr_t>(low) < (std::uintptr_t{1} << 32));
    auto* packet = static_cast<std::uint8_t*>(low);
    std::memcpy(packet, kPacket.data(), kPacket.size());
    const auto data = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(packet));
    std::vector<std::uint8_t> narrow(16);
    const std::uint32_t fields[4] = {0x12345678, data, data + 12, 0xffffffff};
    std::memcpy(narrow.data(), fields, sizeof fields);
    env.packet = PacketLayout{4, 8, 4};
    env.expected = 0x8899aabb;
    differential("32-bit fields", "r6 = r1\nr0 = *(u32 *)skb[8]\nexit", narrow, env);
    env.expected = 0;
    differential("32-bit fields, past the end", "r6 = r1\nr0 = *(u32 *)skb[9]\nr0 = 1\nexit", narrow, env);
    env.expected.reset();
    differential("32-bit fields, indirect", "r6 = r1\nr3 = 5\nr0 = *(u16 *)skb[r3 + 5]\nexit", narrow, env);
    munmap(low, 4096);
#endif
}

// =====================================================================================================================
// Probe loads

TEST_CASE("exec jit: probe loads read the host and load 0 where it cannot be read" * doctest::skip(kNoJit)) {
    struct Object {
        std::uint32_t a = 0;
        std::int16_t b = 0;
        std::uint64_t next = 0;
    };
    static Object inner{0xDEADBEEF, -2, 0};
    static Object outer{7, 3, 0};
    outer.next = reinterpret_cast<std::uintptr_t>(&inner);
    {
        // A probe load reads through the kernel's view of the process (process_vm_readv): under an emulator such
        // as qemu-user the guest's addresses are not the process's, and every probe load reads 0.
        const auto probe = Interpreter::create(assemble("r0 = *(u32 *)(r1 + 0)\nexit"), {}, {.probe_loads = {0}});
        REQUIRE(probe.has_value());
        if (probe->run(&outer, sizeof outer) != 7) {
            MESSAGE("probe loads cannot read this process's memory here (an emulator?): not tested");
            return;
        }
    }
    static const std::uint8_t byte = 0x40;
    // ctx[0]: an object's address; the result sums outer.a, inner.a, (s64)inner.b and ctx[1]'s first byte. r1-r5
    // hold values across the probe loads (which call a support function) and are written to ctx[2..6].
    const std::string text = R"(
        r9 = r1
        r1 = 0x1111 ll
        r2 = 0x2222
        r3 = 0x3333
        r4 = 0x4444
        r5 = 0x5555
        r6 = *(u64 *)(r9 + 0)
        r0 = *(u32 *)(r6 + 0)
        r7 = *(u64 *)(r6 + 8)
        r8 = *(u32 *)(r7 + 0)
        r0 += r8
        r8 = *(s16 *)(r7 + 4)
        r0 += r8
        r8 = *(u64 *)(r9 + 8)
        r8 = *(u8 *)(r8 + 0)
        r0 += r8
        r1 = *(u32 *)(r6 + 0)
        r1 += 0x1111
        r5 = *(s16 *)(r7 + 4)
        *(u64 *)(r9 + 16) = r1
        *(u64 *)(r9 + 24) = r2
        *(u64 *)(r9 + 32) = r3
        *(u64 *)(r9 + 40) = r4
        *(u64 *)(r9 + 48) = r5
        exit)";
    const auto program = assemble(text);
    REQUIRE_FALSE(program.empty());
    Env env;
    env.probe_loads = {8, 9, 10, 12, 15, 17, 19};
    const auto run = [&](std::uint64_t first, std::uint64_t second, std::optional<std::uint64_t> expected) {
        env.expected = expected;
        return differential("probe loads of " + hex(first) + ", " + hex(second), program, text,
                            le64({first, second, 0, 0, 0, 0, 0}), env);
    };
    const auto valid = run(reinterpret_cast<std::uintptr_t>(&outer), reinterpret_cast<std::uintptr_t>(&byte),
                           7 + 0xDEADBEEFULL - 2 + 0x40);
    REQUIRE(valid.has_value());
    CHECK(word_at(valid->memory, 16) == 7 + 0x1111);
    CHECK(word_at(valid->memory, 24) == 0x2222);
    CHECK(word_at(valid->memory, 48) == s64(-2));
    // Null and unmapped addresses (8) load 0.
    const auto unmapped = run(0, 8, 0);
    REQUIRE(unmapped.has_value());
    CHECK(word_at(unmapped->memory, 16) == 0x1111);
    CHECK(word_at(unmapped->memory, 40) == 0x4444);
    run(8, 8, 0);
    // A kernel-half address is never readable by the process.
    outer.next = 0xFFFFFFFFFFFF0000ULL;
    run(reinterpret_cast<std::uintptr_t>(&outer), reinterpret_cast<std::uintptr_t>(&byte), 7 + 0x40);
    outer.next = reinterpret_cast<std::uintptr_t>(&inner);
    // A probe load into r0-r5 from an address in each of them.
    for (int r = 0; r <= 5; ++r) {
        const std::string single = "r9 = r1\nr0 = 1\nr1 = 2\nr2 = 3\nr3 = 4\nr4 = 5\nr5 = 6\n" + reg(r) +
                                   " = *(u64 *)(r9 + 0)\n" + reg(r) + " = *(s8 *)(" + reg(r) + " + 0)\n" +
                                   dump_registers(9, 0) + "r0 = 1\nexit";
        Env probes;
        probes.probe_loads = {8};
        differential(
            "probe into " + reg(r), assemble(single), single,
            [&] {
                auto m = le64({reinterpret_cast<std::uintptr_t>(&byte)});
                m.resize(kRow);
                return m;
            }(),
            probes);
        auto bad = le64({16});
        bad.resize(kRow);
        differential("probe of 16 into " + reg(r), assemble(single), single, bad, probes);
    }
}

// =====================================================================================================================
// Callbacks

namespace {

TestMap g_map;
TestMap g_map_initial;
TestMap g_other_map;

Env callback_env() {
    Env env;
    env.reset = [] {
        g_map = g_map_initial;
        g_other_map = TestMap{3, {100, 200, 300}};
    };
    env.observe = [] {
        // Field by field: the padding after `count` holds whatever the assignment left there.
        std::vector<std::uint8_t> bytes;
        for (const TestMap* map : {&g_map, &g_other_map}) {
            const auto* count = reinterpret_cast<const std::uint8_t*>(&map->count);
            bytes.insert(bytes.end(), count, count + sizeof map->count);
            const auto* values = reinterpret_cast<const std::uint8_t*>(map->values.data());
            bytes.insert(bytes.end(), values, values + sizeof map->values);
        }
        return bytes;
    };
    return env;
}

} // namespace

TEST_CASE("exec jit: bpf_loop callbacks" * doctest::skip(kNoJit)) {
    struct Row {
        const char* name;
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"the calls made, and the callback's work on the caller's stack",
         R"(
            r6 = r1
            *(u64 *)(r10 - 8) = 0
            r1 = 10
            r2 = code(cb) ll
            r3 = r10
            r3 += -8
            r4 = 0
            call 181
            *(u64 *)(r6 + 0) = r0
            r0 = *(u64 *)(r10 - 8)
            *(u64 *)(r6 + 8) = r0
            exit
        cb:
            r3 = *(u64 *)(r2 + 0)
            r3 *= 3
            r3 += r1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            exit)",
         14757},
        {"a callback that stops early",
         R"(
            r6 = r1
            r1 = 100
            r2 = code(cb) ll
            r3 = r6
            r4 = 0
            call 181
            r0 <<= 16
            r1 = *(u64 *)(r6 + 8)
            r0 += r1
            exit
        cb:
            r3 = *(u64 *)(r2 + 8)
            r3 += r1
            *(u64 *)(r2 + 8) = r3
            r0 = 0
            if r1 != 4 goto +1
            r0 = 1
            exit)",
         (5ULL << 16) + 10},
        {"nested loops",
         R"(
            r6 = r1
            r1 = 4
            r2 = code(outer) ll
            r3 = r6
            r4 = 0
            call 181
            r1 = *(u64 *)(r6 + 8)
            r0 <<= 32
            r0 += r1
            exit
        outer:
            *(u64 *)(r10 - 8) = r1
            r6 = r2
            r1 += 1
            r2 = code(inner) ll
            r3 = r6
            r4 = 0
            call 181
            r1 = *(u64 *)(r10 - 8)
            r2 = *(u64 *)(r6 + 8)
            r2 += r0
            *(u64 *)(r6 + 8) = r2
            r0 = 0
            exit
        inner:
            r3 = *(u64 *)(r2 + 16)
            r3 += 1
            *(u64 *)(r2 + 16) = r3
            r0 = 0
            exit)",
         (4ULL << 32) + 10},
        {"a callback calls a local function and keeps r6-r9",
         R"(
            r6 = 6
            r7 = 7
            r8 = 8
            r9 = r1
            r1 = 3
            r2 = code(cb) ll
            r3 = r9
            r4 = 0
            call 181
            r0 *= 1000
            r0 += r6
            r0 += r7
            r0 += r8
            r1 = *(u64 *)(r9 + 0)
            r0 += r1
            exit
        cb:
            r6 = r2
            r7 = 100
            r1 += 1
            call sq
            r2 = *(u64 *)(r6 + 0)
            r2 += r0
            *(u64 *)(r6 + 0) = r2
            r0 = 0
            exit
        sq:
            r0 = r1
            r0 *= r1
            r7 = 0
            exit)",
         3000 + 21 + 14},
        {"zero loops", "r1 = 0\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 += 5\nexit\ncb:\nr0 = 1\nexit", 5},
        {"flags other than 0: -EINVAL", "r1 = 3\nr2 = code(cb) ll\nr3 = 0\nr4 = 1\ncall 181\nexit\ncb:\nr0 = 1\nexit",
         s64(-static_cast<std::int64_t>(EINVAL))},
        {"more than 2^23 loops: -E2BIG",
         "r1 = 0x800001\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\ncb:\nr0 = 1\nexit",
         s64(-static_cast<std::int64_t>(E2BIG))},
        {"nr_loops is read as 32 bits",
         "r1 = 0x100000003 ll\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\ncb:\nr0 = 0\nexit", 3},
        {"the callback returns any nonzero value to stop",
         "r1 = 9\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\ncb:\nr0 = 0x100000000 ll\nexit", 1},
        {"the unwind helper inside a callback ends the run",
         "r0 = 3\nr1 = 9\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 1\nexit\ncb:\nr3 = r1\nr1 = 2\nr1 -= "
         "r3\ncall 5\nr0 = 0\nexit",
         0},
        {"an unknown callx inside a callback ends the run",
         "r1 = 9\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 1\nexit\ncb:\nr1 = 77\ncallx r1\nr0 = 0\nexit", 0},
        {"each callback frame is 512 bytes below the caller's",
         "r6 = r10\nr1 = 1\nr2 = code(cb) ll\nr3 = r6\nr4 = 0\ncall 181\nr0 = *(u64 *)(r10 - 8)\nexit\ncb:\nr0 = "
         "r2\nr0 -= r10\n*(u64 *)(r2 - 8) = r0\nr0 = 0\nexit",
         512},
        {"a callback's local calls count in the call depth: to the limit",
         "r1 = 1\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 += 10\nexit\ncb:\nr1 = 6\ncall f\nr0 = "
         "0\nexit\nf:\nif r1 "
         "== 0 goto +2\nr1 -= 1\ncall f\nexit",
         11},
        {"a callback's local calls count in the call depth: past the limit",
         "r1 = 1\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 += 10\nexit\ncb:\nr1 = 7\ncall f\nr0 = "
         "0\nexit\nf:\nif r1 "
         "== 0 goto +2\nr1 -= 1\ncall f\nexit",
         0},
        {"a callback from a local call six deep: to the limit",
         "r1 = 5\ncall f\nr0 += 10\nexit\nf:\nif r1 == 0 goto +3\nr1 -= 1\ncall f\nexit\nr1 = 1\nr2 = code(cb) ll\nr3 "
         "= "
         "0\nr4 = 0\ncall 181\nexit\ncb:\ncall g\nexit\ng:\nr0 = 0\nexit",
         11},
        {"a callback from a local call seven deep: past the limit",
         "r1 = 6\ncall f\nr0 += 10\nexit\nf:\nif r1 == 0 goto +3\nr1 -= 1\ncall f\nexit\nr1 = 1\nr2 = code(cb) ll\nr3 "
         "= "
         "0\nr4 = 0\ncall 181\nexit\ncb:\ncall g\nexit\ng:\nr0 = 0\nexit",
         0},
        {"callbacks nested past the call depth end the run",
         "r1 = 1\nr2 = code(cb) ll\nr3 = r10\nr4 = 0\ncall 181\nr0 = 1\nexit\ncb:\nr1 = 1\nr2 = code(cb) "
         "ll\nr3 = r10\nr4 = 0\ncall 181\nr0 = 0\nexit",
         0},
    };
    for (const Row& row : rows) {
        Env env = callback_env();
        env.expected = row.expected;
        differential(row.name, row.text, std::vector<std::uint8_t>(32), env);
    }
    // Callbacks nested exactly to the limit, then one more: ctx[0] counts the levels entered.
    const std::string nesting = R"(
        r6 = r1
        r1 = 1
        r2 = code(cb) ll
        r3 = r6
        r4 = 0
        call 181
        r0 += 100
        exit
    cb:
        r6 = r2
        r1 = *(u64 *)(r6 + 0)
        r1 += 1
        *(u64 *)(r6 + 0) = r1
        r0 = 1
        r2 = *(u64 *)(r6 + 8)
        if r1 >= r2 goto done
        r1 = 1
        r2 = code(cb) ll
        r3 = r6
        r4 = 0
        call 181
        r0 = 0
    done:
        exit)";
    for (std::uint64_t levels = 1; levels <= 10; ++levels) {
        CAPTURE(levels);
        Env env = callback_env();
        env.expected = levels <= isa::kMaxCallDepth ? 101 : 0;
        const auto outcome = differential("nested callbacks", nesting, le64({0, levels}), env);
        if (outcome) {
            CHECK(word_at(outcome->memory, 0) == std::min<std::uint64_t>(levels, isa::kMaxCallDepth));
        }
    }
}

TEST_CASE("exec jit: for_each_map_elem callbacks" * doctest::skip(kNoJit)) {
    g_map_initial = TestMap{5, {10, 20, 30, 40, 50}};
    const auto map = reinterpret_cast<std::uintptr_t>(&g_map);
    const auto other = reinterpret_cast<std::uintptr_t>(&g_other_map);
    struct Row {
        const char* name;
        const char* text;
        std::uint64_t expected;
    };
    const Row rows[] = {
        {"sums keys and values, updates every value",
         R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 0)
            r2 = code(cb) ll
            r3 = r6
            r4 = 0
            call 164
            r1 = *(u64 *)(r6 + 16)
            r0 <<= 32
            r0 += r1
            exit
        cb:
            r5 = *(u32 *)(r2 + 0)
            r0 = *(u64 *)(r3 + 0)
            r0 *= 3
            r0 += r5
            *(u64 *)(r3 + 0) = r0
            r1 = *(u64 *)(r4 + 16)
            r1 *= 7
            r1 += r0
            *(u64 *)(r4 + 16) = r1
            r0 = 0
            exit)",
         (5ULL << 32) + 30 * 2401 + 61 * 343 + 92 * 49 + 123 * 7 + 154},
        {"stops early at key 2",
         R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 0)
            r2 = code(cb) ll
            r3 = r6
            r4 = 0
            call 164
            exit
        cb:
            r5 = *(u32 *)(r2 + 0)
            r0 = *(u64 *)(r3 + 0)
            *(u64 *)(r3 + 0) = r5
            r0 = 0
            if r5 != 2 goto +1
            r0 = 1
            exit)",
         3},
        {"the key lies below the callback's frame",
         R"(
            r6 = r1
            r1 = *(u64 *)(r6 + 0)
            r2 = code(cb) ll
            r3 = r6
            r4 = 0
            call 164
            r0 = *(u64 *)(r6 + 24)
            exit
        cb:
            r0 = r10
            r0 -= r2
            *(u64 *)(r4 + 24) = r0
            r0 = 1
            exit)",
         512},
        {"nested: a for_each inside a bpf_loop callback, and a loop inside that",
         R"(
            r6 = r1
            r1 = 2
            r2 = code(outer) ll
            r3 = r6
            r4 = 0
            call 181
            r1 = *(u64 *)(r6 + 16)
            r0 <<= 32
            r0 += r1
            exit
        outer:
            r6 = r2
            r1 = *(u64 *)(r6 + 8)
            r2 = code(each) ll
            r3 = r6
            r4 = 0
            call 164
            r0 = 0
            exit
        each:
            r6 = r4
            r7 = r3
            r1 = *(u64 *)(r3 + 0)
            r2 = code(inner) ll
            r3 = r7
            r4 = 0
            call 181
            r1 = *(u64 *)(r6 + 16)
            r1 += r0
            *(u64 *)(r6 + 16) = r1
            r0 = 0
            exit
        inner:
            r3 = *(u64 *)(r2 + 0)
            r3 += 1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            if r3 != 150 goto +1
            r0 = 1
            exit)",
         (2ULL << 32) + 50 + 200 + 300 + 150 + 400 + 600},
        {"flags other than 0: -EINVAL",
         "r6 = r1\nr1 = *(u64 *)(r6 + 0)\nr2 = code(cb) ll\nr3 = 0\nr4 = 2\ncall 164\nexit\ncb:\nr0 = 0\nexit",
         s64(-static_cast<std::int64_t>(EINVAL))},
        {"unwind inside a for_each callback",
         "r6 = r1\nr1 = *(u64 *)(r6 + 0)\nr2 = code(cb) ll\nr3 = r6\nr4 = 0\ncall 164\nr0 = 1\nexit\ncb:\nr1 = "
         "*(u64 *)(r3 + 0)\nr1 -= 30\ncall 5\n*(u64 *)(r4 + 8) = r0\nr0 = 0\nexit",
         0},
    };
    for (const Row& row : rows) {
        Env env = callback_env();
        env.expected = row.expected;
        differential(row.name, row.text, le64({map, other, 0, 0}), env);
    }
}

TEST_CASE("exec jit: helpers are called with the stack aligned to 16 bytes" * doctest::skip(kNoJit)) {
    // Each program sums the misalignment the helper saw wherever it ran: 0 everywhere.
    struct Row {
        const char* text;
        bool packet; ///< the context is a packet's (else it holds a map's address)
    };
    const Row rows[] = {
        {"call 9\nexit", false},
        {"call f\nexit\nf:\ncall 9\nexit", false},
        {"call f\nexit\nf:\ncall g\nexit\ng:\ncall h\nexit\nh:\ncall 9\nexit", false},
        {"r1 = 9\ncallx r1\nexit", false},
        {"r1 = 3\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\ncb:\ncall 9\nexit", false},
        {"r1 = 3\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\ncb:\ncall f\nexit\nf:\ncall 9\nexit",
         false},
        {"call f\nexit\nf:\nr1 = 3\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\ncb:\ncall 9\nexit",
         false},
        {"r6 = r1\nr1 = *(u64 *)(r6 + 0)\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 164\nr0 = 0\nexit\ncb:\ncall 9\nexit",
         false},
        {"r6 = r1\nr0 = *(u8 *)skb[0]\ncall 9\nexit", true},
        {"r6 = r1\ncall f\nexit\nf:\nr0 = *(u8 *)skb[r0]\ncall 9\nexit", true},
    };
    g_map_initial = TestMap{2, {1, 2}};
    for (const Row& row : rows) {
        Env env = callback_env();
        env.packet = kPacketLayout;
        env.expected = 0;
        differential(row.text, row.text,
                     row.packet ? packet_context(kPacket.data(), kPacket.size())
                                : le64({reinterpret_cast<std::uintptr_t>(&g_map), 0}),
                     env);
    }
    // The callbacks return the misalignment: 0 asks for the next call, so every call ran aligned.
    Env env = callback_env();
    env.expected = 3;
    differential("every callback call aligned",
                 "r1 = 3\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 181\nexit\ncb:\ncall 9\nexit", {}, env);
}

TEST_CASE("exec jit: translations on several threads, large and small ones in turn" * doctest::skip(kNoJit)) {
    // Four threads translate and run programs of different sizes at once: each translation must be its own.
    std::atomic<int> wrong{0};
    std::atomic<int> runs{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &wrong, &runs] {
            for (int i = 0; i < 50; ++i) {
                const int n = (i * 7 + t * 13) % 40 + 1;
                std::string text = "r0 = " + std::to_string(t) + "\n";
                for (int k = 0; k < n; ++k) {
                    text += "r0 *= 3\nr0 += " + std::to_string(k) + "\ncall f\n";
                }
                text += "exit\nf:\nr0 ^= 0x55\nexit";
                std::uint64_t expected = static_cast<std::uint64_t>(t);
                for (int k = 0; k < n; ++k) {
                    expected = ((expected * 3) + static_cast<std::uint64_t>(k)) ^ 0x55;
                }
                const auto program = isa::assemble(text);
                const auto jit = program ? Jit::create(*program, {}, {.blind_constants = (i % 2) == 1})
                                         : Result<Jit>(embpf::Error::invalid("assembly"));
                if (!jit || jit->run(nullptr, 0) != expected) {
                    wrong.fetch_add(1);
                }
                runs.fetch_add(1);
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(runs.load() == 200);
    CHECK(wrong.load() == 0);

    // On one thread: a large program (its code past 4 MiB), then a small one, then the large one's code again.
    std::string large = "r0 = 0\nr1 = 1000\nr2 = 3\n";
    for (int k = 0; k < 100000; ++k) {
        large += k % 2 == 0 ? "r1 /= r2\nr1 += 999\n" : "r0 += r1\nr0 s%= r2\n";
    }
    large += "r0 += r1\nexit";
    const auto big_program = assemble(large);
    REQUIRE_FALSE(big_program.empty());
    const auto interpreter = Interpreter::create(big_program);
    REQUIRE(interpreter.has_value());
    const std::uint64_t expected = interpreter->run(nullptr, 0);
    const auto big = Jit::create(big_program);
    REQUIRE(big.has_value());
    if (embpf::exec::host_jit_target() == embpf::exec::JitTarget::x86_64) { // AArch64's code is a fifth as long
        CHECK(big->machine_code().size() > (std::size_t{4} << 20));
    }
    CHECK(big->run(nullptr, 0) == expected);
    const auto small = Jit::create(assemble("r0 = 7\nr0 *= 6\nexit"));
    REQUIRE(small.has_value());
    CHECK(small->run(nullptr, 0) == 42);
    CHECK(small->machine_code().size() < 4096);
    CHECK(small->lines().size() == 3);
    const auto medium = Jit::create(assemble("r0 = 1\nr0 += 2\nr0 += 3\nr0 += 4\nexit"));
    REQUIRE(medium.has_value());
    CHECK(medium->lines().size() == 5);
    CHECK(medium->run(nullptr, 0) == 10);
    CHECK(big->run(nullptr, 0) == expected);
    CHECK(small->run(nullptr, 0) == 42);
}

// =====================================================================================================================
// Threads

TEST_CASE("exec jit: one translation runs on four threads at once" * doctest::skip(kNoJit)) {
    // The stack, a local call, a helper, a bpf_loop callback and an atomic on the shared counter at ctx[1].
    const std::string text = R"(
        r6 = r1
        r7 = *(u64 *)(r6 + 0)
        *(u64 *)(r10 - 8) = r7
        r1 = r7
        r1 &= 15
        r2 = code(cb) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call 181
        r1 = r7
        call mix
        r8 = *(u64 *)(r10 - 8)
        r0 += r8
        r1 = 2
        r1 = *(u64 *)(r6 + 16)
        r2 = 1
        lock *(u64 *)(r1 + 0) += r2
        exit
    mix:
        r0 = r1
        r0 *= 0x9E3779B1
        r0 ^= r1
        exit
    cb:
        r3 = *(u64 *)(r2 + 0)
        r3 *= 5
        r3 += r1
        *(u64 *)(r2 + 0) = r3
        r0 = 0
        exit)";
    const auto program = assemble(text);
    REQUIRE_FALSE(program.empty());
    const auto interpreter = Interpreter::create(program, standard_helpers());
    REQUIRE(interpreter.has_value());
    const auto jit = Jit::create(program, standard_helpers());
    REQUIRE(jit.has_value());
    constexpr int kThreads = 4;
    constexpr int kRuns = 2000;
    std::uint64_t counter = 0;
    auto context = [&](int thread, int run) {
        return std::array<std::uint64_t, 3>{static_cast<std::uint64_t>(thread) * 1000003 +
                                                static_cast<std::uint64_t>(run),
                                            0, reinterpret_cast<std::uintptr_t>(&counter)};
    };
    std::vector<std::vector<std::uint64_t>> expected(kThreads, std::vector<std::uint64_t>(kRuns));
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kRuns; ++i) {
            auto ctx = context(t, i);
            expected[t][i] = interpreter->run(ctx.data(), sizeof ctx);
        }
    }
    REQUIRE(counter == kThreads * kRuns);
    std::uint64_t shared = 0;
    std::atomic<int> wrong{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < kThreads) {
            }
            for (int i = 0; i < kRuns; ++i) {
                auto ctx = context(t, i);
                ctx[2] = reinterpret_cast<std::uintptr_t>(&shared);
                if (jit->run(ctx.data(), sizeof ctx) != expected[t][i]) {
                    wrong.fetch_add(1);
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(wrong.load() == 0);
    CHECK(shared == kThreads * kRuns); // the lock add of every run from every thread
}

TEST_CASE("exec jit: atomics are atomic across threads" * doctest::skip(kNoJit)) {
    // Four threads hammer one kind of atomic at a time on shared words, each thread with a bit of its own. ctx: the
    // shared words, the bit, the iterations (even: a thread's xors cancel), the kind. The run counts what it saw
    // wrong: its bit already set before it set it, already clear before it cleared it, not as it just left it. A lost
    // update is a matter of timing: a JIT that drops a lock prefix fails here often, not always (the golden encodings
    // always).
    const std::string text = R"(
        r6 = r1
        r7 = *(u64 *)(r6 + 0)
        r8 = *(u64 *)(r6 + 8)
        r5 = *(u64 *)(r6 + 16)
        r4 = *(u64 *)(r6 + 24)
        r9 = 0
        if r4 == 0 goto add64
        if r4 == 1 goto fetch_add32
        if r4 == 2 goto cas
        if r4 == 3 goto add32
        if r4 == 4 goto fetch_or_and
        if r4 == 5 goto xor64
        if r4 == 6 goto fetch_xor32
        if r4 == 7 goto or_and
        goto done
    add64:
        r1 = 1
        lock *(u64 *)(r7 + 0) += r1
        r5 -= 1
        if r5 != 0 goto add64
        goto done
    fetch_add32:
        w1 = 1
        w1 = atomic_fetch_add((u32 *)(r7 + 8), w1)
        r5 -= 1
        if r5 != 0 goto fetch_add32
        goto done
    cas:
        r0 = *(u64 *)(r7 + 16)
        r3 = r0
        r2 = r0
        r2 += 1
        r0 = cmpxchg_64(r7 + 16, r0, r2)
        if r0 != r3 goto cas
        r5 -= 1
        if r5 != 0 goto cas
        goto done
    add32:
        w1 = 1
        lock *(u32 *)(r7 + 24) += w1
        r5 -= 1
        if r5 != 0 goto add32
        goto done
    fetch_or_and:
        r1 = r8
        r1 = atomic_fetch_or((u64 *)(r7 + 32), r1)
        r1 &= r8
        if r1 == 0 goto +1
        r9 += 1
        r1 = r8
        r1 ^= -1
        r1 = atomic_fetch_and((u64 *)(r7 + 32), r1)
        r1 &= r8
        if r1 != 0 goto +1
        r9 += 1
        r5 -= 1
        if r5 != 0 goto fetch_or_and
        goto done
    xor64:
        lock *(u64 *)(r7 + 40) ^= r8
        r5 -= 1
        if r5 != 0 goto xor64
        goto done
    fetch_xor32:
        w1 = w8
        w1 = atomic_fetch_xor((u32 *)(r7 + 48), w1)
        r5 -= 1
        if r5 != 0 goto fetch_xor32
        goto done
    or_and:
        lock *(u64 *)(r7 + 56) |= r8
        r1 = *(u64 *)(r7 + 56)
        r1 &= r8
        if r1 != 0 goto +1
        r9 += 1
        r1 = r8
        r1 ^= -1
        lock *(u64 *)(r7 + 56) &= r1
        r1 = *(u64 *)(r7 + 56)
        r1 &= r8
        if r1 == 0 goto +1
        r9 += 1
        r5 -= 1
        if r5 != 0 goto or_and
    done:
        r0 = r9
        exit)";
    const auto program = assemble(text);
    REQUIRE_FALSE(program.empty());
    constexpr int kThreads = 4;
    constexpr int kKinds = 8;
    constexpr std::uint64_t kIterations = 1000000;
    const char* const kinds[kKinds] = {"lock add 64",         "fetch_add 32", "cmpxchg loop", "lock add 32",
                                       "fetch_or, fetch_and", "lock xor 64",  "fetch_xor 32", "lock or, lock and"};
    using Words = std::array<std::uint64_t, 8>;
    // What each kind leaves after `iterations` from each of `threads` threads: counters count, bits end clear.
    auto expected_words = [](int kind, std::uint64_t total) {
        Words words{};
        if (kind <= 3) {
            words[static_cast<std::size_t>(kind)] = total;
        }
        return words;
    };
    // One thread first, on both engines.
    for (int kind = 0; kind < kKinds; ++kind) {
        CAPTURE(kinds[kind]);
        Words shared{};
        Env env;
        env.reset = [&] { shared = Words{}; };
        env.observe = [&] {
            std::vector<std::uint8_t> bytes(sizeof shared);
            std::memcpy(bytes.data(), shared.data(), bytes.size());
            return bytes;
        };
        env.expected = 0;
        const auto outcome = differential(
            kinds[kind], program, text,
            le64({reinterpret_cast<std::uintptr_t>(&shared), 4, 1000, static_cast<std::uint64_t>(kind)}), env);
        REQUIRE(outcome.has_value());
        CHECK(shared == expected_words(kind, 1000));
    }
    const auto jit = Jit::create(program, standard_helpers());
    REQUIRE(jit.has_value());
    for (int kind = 0; kind < kKinds; ++kind) {
        CAPTURE(kinds[kind]);
        Words shared{};
        std::array<std::uint64_t, kThreads> errors{};
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                std::array<std::uint64_t, 4> ctx{reinterpret_cast<std::uintptr_t>(&shared), std::uint64_t{1} << (8 * t),
                                                 kIterations, static_cast<std::uint64_t>(kind)};
                ready.fetch_add(1);
                while (ready.load() < kThreads) {
                }
                errors[static_cast<std::size_t>(t)] = jit->run(ctx.data(), sizeof ctx);
            });
        }
        for (auto& thread : threads) {
            thread.join();
        }
        CHECK(errors == std::array<std::uint64_t, kThreads>{});
        CHECK(shared == expected_words(kind, kThreads * kIterations));
    }
}

// =====================================================================================================================
// Constant blinding

namespace {

bool has_bytes(std::span<const std::uint8_t> code, std::uint32_t value) {
    std::uint8_t needle[4];
    std::memcpy(needle, &value, 4);
    return std::search(code.begin(), code.end(), std::begin(needle), std::end(needle)) != code.end();
}

} // namespace

TEST_CASE("exec jit: constant blinding keeps chosen immediates out of the code" * doctest::skip(kNoJit)) {
    const std::string text = R"(
        r6 = r1
        r0 = 0x5a5a1234
        r1 = 0x1122334455667788 ll
        *(u32 *)(r10 - 4) = 0x7e7e4321
        *(u64 *)(r10 - 16) = 0x7a7a0246
        r2 = *(u32 *)(r10 - 4)
        if r2 == 0x7e7e4321 goto +1
        r0 = 0
        r3 = r1
        r3 *= 0x6b6b2468
        r4 = r1
        r4 /= 0x49495abc
        w5 = w1
        w5 &= 0x3d3d1357
        if w5 & 0x2c2c9753 goto +1
        r0 += 1
        r0 += r3
        r0 += r4
        r0 += r5
        r0 += 0x4f4f8642
        r4 = *(u64 *)(r10 - 16)
        r0 ^= r4
        r0 = *(u32 *)skb[0x3b3b7531]
        exit)";
    const std::uint32_t immediates[] = {0x5a5a1234, 0x55667788, 0x11223344, 0x7e7e4321, 0x7a7a0246, 0x6b6b2468,
                                        0x49495abc, 0x3d3d1357, 0x2c2c9753, 0x4f4f8642, 0x3b3b7531};
    const auto program = assemble(text);
    REQUIRE_FALSE(program.empty());
    Env env;
    env.packet = kPacketLayout;
    // The LD_ABS at the end reads out of the packet: the run ends with 0; so run the program without it too.
    std::string without = text;
    without.erase(without.find("        r0 = *(u32 *)skb"), std::string::npos);
    without += "exit";
    differential("blinded and plain agree", without, {}, env);
    const auto packet = packet_context(kPacket.data(), kPacket.size());
    env.expected = 0;
    differential("blinded and plain agree, out of the packet", program, text, packet, env);

    const auto plain = Jit::create(program, standard_helpers(), {.packet = kPacketLayout});
    REQUIRE(plain.has_value());
    const auto blinded = Jit::create(program, standard_helpers(), {.packet = kPacketLayout, .blind_constants = true});
    REQUIRE(blinded.has_value());
    const auto again = Jit::create(program, standard_helpers(), {.packet = kPacketLayout, .blind_constants = true});
    REQUIRE(again.has_value());
    // x86-64 keeps a 32-bit immediate whole in the instruction; AArch64 splits it in 16-bit fields of movz/movk.
    const bool whole = embpf::exec::host_jit_target() == embpf::exec::JitTarget::x86_64;
    for (const std::uint32_t imm : immediates) {
        CAPTURE(hex(imm));
        CHECK(has_bytes(plain->machine_code(), imm) == whole);
        CHECK_FALSE(has_bytes(blinded->machine_code(), imm));
        CHECK_FALSE(has_bytes(again->machine_code(), imm));
    }
    // Each translation draws its own key.
    CHECK_FALSE(std::equal(blinded->machine_code().begin(), blinded->machine_code().end(),
                           again->machine_code().begin(), again->machine_code().end()));
}

// =====================================================================================================================
// Jit::create's refusals, and what a translation tells

TEST_CASE("exec jit: create refuses what it cannot run, with a clear message" * doctest::skip(kNoJit)) {
    auto refused = [](const std::vector<isa::Instruction>& program, const HelperTable& helpers,
                      const JitOptions& options, const std::string& message) {
        INFO("expected message: ", message);
        const auto jit = Jit::create(program, helpers, options);
        REQUIRE_FALSE(jit.has_value());
        INFO("message: ", jit.error().message);
        CHECK(contains(jit.error().message, message));
        return jit.error();
    };
    // Invalid programs.
    refused({}, {}, {}, "the program is empty");
    refused({isa::make(0xb7, 0, 0, 0, 0)}, {}, {}, "the program can run past its last instruction");
    refused({isa::make(0xff), isa::make(0x95)}, {}, {}, "unknown opcode");
    // An unknown helper.
    const auto unknown = refused(assemble("r0 = 0\nr1 = 1\ncall 77\nexit"), standard_helpers(), {},
                                 "instruction 2: call to unknown helper 77");
    CHECK(unknown.pc == std::optional<std::size_t>(2));
    CHECK(unknown.kind == ErrorKind::invalid_input);
    // An unresolved map reference (and every other pseudo source but code addresses).
    for (int source = 1; source <= 6; ++source) {
        if (source == static_cast<int>(isa::LddwSource::code_address)) {
            continue;
        }
        CAPTURE(source);
        const std::vector<isa::Instruction> program = {
            isa::make(0xb7, 0, 0, 0, 0),
            isa::make(0x18, 1, source, 0, 1),
            isa::make(0x00, 0, 0, 0, 0),
            isa::make(0x95),
        };
        const auto error = refused(program, {}, {},
                                   "instruction 1: lddw with pseudo source " + std::to_string(source) +
                                       " must be resolved by the loader before execution");
        CHECK(error.pc == std::optional<std::size_t>(1));
    }
    // LD_ABS and LD_IND without a packet layout.
    refused(assemble("r6 = r1\nr0 = *(u8 *)skb[0]\nexit"), {}, {},
            "instruction 1: a legacy packet load (LD_ABS/LD_IND) needs a program type with a data range");
    refused(assemble("r6 = r1\nr2 = 0\nr0 = *(u16 *)skb[r2]\nexit"), {}, {},
            "instruction 2: a legacy packet load (LD_ABS/LD_IND) needs a program type with a data range");
    refused(assemble("r6 = r1\nr0 = *(u8 *)skb[0]\nexit"), {}, {.packet = PacketLayout{0, 8, 3}},
            "pointer width 3 is neither 4 nor 8");
    // Kernel functions other than an absent weak one.
    refused(assemble("call kfunc 12\nexit"), {}, {}, "instruction 0: kernel function calls (kfunc) are not supported");
    // A for_each_map_elem helper without a way to walk maps.
    HelperTable no_walk;
    no_walk.set(kForEach, &not_intercepted);
    no_walk.set_callback(kForEach, Callback::for_each_map_elem);
    refused(assemble("r1 = 0\nr2 = code(cb) ll\nr3 = 0\nr4 = 0\ncall 164\nexit\ncb:\nr0 = 0\nexit"), no_walk, {},
            "helper 164 walks a map, and the helper table has no way to");
    // Probe loads must be loads of the program.
    const auto loads = assemble("r0 = *(u64 *)(r1 + 0)\nr0 += 1\nexit");
    refused(loads, {}, {.probe_loads = {1}}, "probe load at instruction 1: not a load of the program");
    refused(loads, {}, {.probe_loads = {3}}, "probe load at instruction 3: not a load of the program");
    CHECK(Jit::create(loads, {}, {.probe_loads = {0}}).has_value());
}

TEST_CASE("exec jit: what a translation tells: kind, program, lines, code" * doctest::skip(kNoJit)) {
    CHECK(embpf::exec::host_jit_target().has_value());
    const std::string text = "r0 = 1\nr1 = 0x1122334455667788 ll\ncall f\nexit\nf:\nr0 += 2\nexit";
    const auto program = assemble(text);
    REQUIRE(program.size() == 7);
    const auto jit = Jit::create(program, {});
    REQUIRE(jit.has_value());
    CHECK(jit->kind() == embpf::exec::EngineKind::jit);
    CHECK(std::vector<isa::Instruction>(jit->program().begin(), jit->program().end()) == program);
    CHECK(jit->code_address() == reinterpret_cast<std::uintptr_t>(jit->machine_code().data()));
    CHECK_FALSE(jit->machine_code().empty());
    // One line per instruction, a lddw being one: pcs 0 1 3 4 5 6.
    const auto lines = jit->lines();
    REQUIRE(lines.size() == 6);
    const std::uint32_t pcs[] = {0, 1, 3, 4, 5, 6};
    for (std::size_t i = 0; i < lines.size(); ++i) {
        CHECK(lines[i].pc == pcs[i]);
        CHECK(lines[i].offset < jit->machine_code().size());
        if (i > 0) {
            CHECK(lines[i].offset > lines[i - 1].offset);
        }
    }
    // Copies share the code, and run as Executables.
    const Jit copy = *jit;
    CHECK(copy.code_address() == jit->code_address());
    const embpf::exec::Executable& executable = copy;
    CHECK(executable.run(nullptr, 0) == 3);
    // The context and its size arrive in r1 and r2.
    std::array<std::uint64_t, 2> ctx{0x55, 0};
    const auto size = Jit::create(assemble("r0 = r2\nr0 <<= 8\nr3 = *(u64 *)(r1 + 0)\nr0 += r3\nexit"), {});
    REQUIRE(size.has_value());
    CHECK(size->run(ctx.data(), sizeof ctx) == (16 << 8) + 0x55);
    // Registers start as the interpreter starts them: r0 and r3-r9 zero.
    differential("registers at entry",
                 "*(u64 *)(r1 + 0) = r0\n*(u64 *)(r1 + 8) = r3\n*(u64 *)(r1 + 16) = r4\n*(u64 *)(r1 + 24) = "
                 "r5\n*(u64 *)(r1 + 32) = r6\n*(u64 *)(r1 + 40) = r7\n*(u64 *)(r1 + 48) = r8\n*(u64 *)(r1 + 56) = "
                 "r9\nr0 = r2\nexit",
                 std::vector<std::uint8_t>(64, 0xEE), expecting(64));
}

// =====================================================================================================================
// The machine code, disassembled (Capstone)

#if defined(EMBPF_HAVE_CAPSTONE)

namespace {

struct Decoded {
    std::uint64_t address = 0;
    std::size_t size = 0;
    std::string text; ///< "mnemonic operands", Intel syntax
};

/// Decodes `bytes` as x86-64 at `address` until the end or the first byte Capstone cannot decode.
std::vector<Decoded> decode(std::span<const std::uint8_t> bytes, std::uint64_t address) {
    csh handle = 0;
    REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK);
    cs_insn* insn = nullptr;
    const std::size_t count = cs_disasm(handle, bytes.data(), bytes.size(), address, 0, &insn);
    std::vector<Decoded> decoded;
    for (std::size_t i = 0; i < count; ++i) {
        std::string text = insn[i].mnemonic;
        if (insn[i].op_str[0] != '\0') {
            text += std::string(" ") + insn[i].op_str;
        }
        decoded.push_back({insn[i].address, insn[i].size, text});
    }
    if (count > 0) {
        cs_free(insn, count);
    }
    cs_close(&handle);
    return decoded;
}

std::string listing(const std::vector<Decoded>& decoded) {
    std::string text;
    for (const Decoded& d : decoded) {
        text += hex(d.address) + ": " + d.text + "\n";
    }
    return text;
}

struct Translation {
    std::vector<isa::Instruction> program;
    std::optional<Jit> jit;

    /// The line of instruction `pc`.
    [[nodiscard]] std::size_t line(std::size_t pc) const {
        const auto lines = jit->lines();
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (lines[i].pc == pc) {
                return i;
            }
        }
        FAIL("no line for pc ", pc);
        return 0;
    }
    [[nodiscard]] std::uint32_t offset(std::size_t pc) const { return jit->lines()[line(pc)].offset; }
    /// The machine code of instruction `pc`, decoded at its offset in the code.
    [[nodiscard]] std::vector<Decoded> instruction(std::size_t pc) const {
        const auto lines = jit->lines();
        const std::size_t i = line(pc);
        const std::size_t begin = lines[i].offset;
        const std::size_t end = i + 1 < lines.size() ? lines[i + 1].offset : jit->machine_code().size();
        const auto code = jit->machine_code().subspan(begin, end - begin);
        auto decoded = decode(code, begin);
        std::size_t covered = 0;
        for (const Decoded& d : decoded) {
            covered += d.size;
        }
        CHECK_MESSAGE(covered == code.size(), "instruction ", pc, ": Capstone decoded ", covered, " of ", code.size(),
                      " bytes");
        return decoded;
    }
};

Translation translate(const std::string& text, const JitOptions& options = {},
                      HelperTable helpers = standard_helpers()) {
    Translation t;
    t.program = assemble(text);
    REQUIRE_FALSE(t.program.empty());
    auto jit = Jit::create(t.program, std::move(helpers), options);
    REQUIRE_MESSAGE(jit.has_value(), (jit ? "" : jit.error().message));
    t.jit = std::move(jit).value();
    return t;
}

/// `actual` must be `expected`, line for line; an expected line ending in " *" matches any operands of that mnemonic.
void check_text(const std::vector<Decoded>& actual, const std::vector<std::string>& expected) {
    INFO("disassembly:\n", listing(actual));
    CHECK(actual.size() == expected.size());
    for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
        const std::string& want = expected[i];
        if (want.size() >= 2 && want.compare(want.size() - 2, 2, " *") == 0) {
            CHECK_MESSAGE(actual[i].text.rfind(want.substr(0, want.size() - 1), 0) == 0, "line ", i, ": expected ",
                          want, ", got ", actual[i].text);
        } else {
            CHECK_MESSAGE(actual[i].text == want, "line ", i, ": expected ", want, ", got ", actual[i].text);
        }
    }
}

/// Disassembles the whole translation: every byte must decode, every line must start on an instruction, and every
/// direct jump or call must land on one.
void check_whole(const Jit& jit, const std::string& name) {
    INFO("program: ", name);
    const auto code = jit.machine_code();
    const auto decoded = decode(code, 0);
    std::size_t covered = 0;
    std::set<std::uint64_t> starts;
    for (const Decoded& d : decoded) {
        CHECK_MESSAGE(d.address == covered, "a gap at ", hex(covered));
        starts.insert(d.address);
        covered += d.size;
        CHECK_MESSAGE(d.text.find("(bad)") == std::string::npos, hex(d.address), ": ", d.text);
    }
    CHECK_MESSAGE(covered == code.size(), "Capstone stopped at ", hex(covered), " of ", hex(code.size()),
                  "; the next bytes are invalid");
    for (const JitLine& line : jit.lines()) {
        CHECK_MESSAGE(starts.count(line.offset) == 1, "line of pc ", line.pc, " at ", hex(line.offset),
                      " is not an instruction boundary");
    }
    std::size_t branches = 0;
    for (const Decoded& d : decoded) {
        const bool branch = d.text[0] == 'j' || d.text.rfind("call 0x", 0) == 0;
        const auto at = d.text.find(" 0x");
        if (branch && at != std::string::npos && d.text.find('[') == std::string::npos) {
            const std::uint64_t target = std::stoull(d.text.substr(at + 1), nullptr, 16);
            CHECK_MESSAGE(starts.count(target) == 1, hex(d.address), ": ", d.text, " does not land on an instruction");
            ++branches;
        }
    }
    CHECK(branches > 0);
}

} // namespace

TEST_CASE("exec jit: golden x86-64 encodings of single instructions" * doctest::skip(kNoJit)) {
    struct Golden {
        std::string text; ///< the program; the instruction under test at `pc`
        std::size_t pc;
        std::vector<std::string> expected; ///< its machine code, Intel syntax
    };
    const std::string tail = "\nexit";
    const std::vector<Golden> goldens = {
        {"r0 += r1", 0, {"add rax, rdi"}},
        {"w2 -= 5", 0, {"sub esi, 5"}},
        {"r3 += -1", 0, {"add rdx, -1"}},
        {"w9 |= 0x1000", 0, {"or r15d, 0x1000"}},
        {"r7 &= r8", 0, {"and r13, r14"}},
        {"w5 ^= w9", 0, {"xor r8d, r15d"}},
        {"r6 = *(u64 *)(r10 - 8)", 0, {"mov rbx, qword ptr [rbp - 8]"}},
        {"*(u8 *)(r1 + 3) = r2", 0, {"mov byte ptr [rdi + 3], sil"}},
        {"*(u8 *)(r10 - 1) = r1", 0, {"mov byte ptr [rbp - 1], dil"}},
        {"*(u8 *)(r9 + 0) = r3", 0, {"mov byte ptr [r15], dl"}},
        {"*(u8 *)(r7 + 1) = r8", 0, {"mov byte ptr [r13 + 1], r14b"}},
        {"*(u16 *)(r8 - 2) = r4", 0, {"mov word ptr [r14 - 2], cx"}},
        {"*(u32 *)(r6 + 4) = r5", 0, {"mov dword ptr [rbx + 4], r8d"}},
        {"*(u64 *)(r0 + 1000) = r9", 0, {"mov qword ptr [rax + 0x3e8], r15"}},
        {"*(u16 *)(r8 - 2) = 0x1234", 0, {"mov word ptr [r14 - 2], 0x1234"}},
        {"*(u8 *)(r2 + 5) = -1", 0, {"mov byte ptr [rsi + 5], 0xff"}},
        {"*(u32 *)(r9 + 100) = 7", 0, {"mov dword ptr [r15 + 0x64], 7"}},
        {"*(u64 *)(r10 - 512) = -1", 0, {"mov qword ptr [rbp - 0x200], -1"}},
        {"r0 = *(u8 *)(r7 + 0)", 0, {"movzx eax, byte ptr [r13]"}},
        {"r0 = *(u16 *)(r7 + 0)", 0, {"movzx eax, word ptr [r13]"}},
        {"r4 = *(u32 *)(r10 - 4)", 0, {"mov ecx, dword ptr [rbp - 4]"}},
        {"r0 = *(s16 *)(r9 - 2)", 0, {"movsx rax, word ptr [r15 - 2]"}},
        {"r8 = *(s8 *)(r1 + 0)", 0, {"movsx r14, byte ptr [rdi]"}},
        {"r3 = *(s32 *)(r6 + 4)", 0, {"movsxd rdx, dword ptr [rbx + 4]"}},
        {"r0 = *(u64 *)(r6 + 1000)", 0, {"mov rax, qword ptr [rbx + 0x3e8]"}},
        {"r9 = *(u64 *)(r10 - 129)", 0, {"mov r15, qword ptr [rbp - 0x81]"}},
        {"if r7 s> r8 goto +1\nr0 = 1", 0, {"cmp r13, r14", "jg *"}},
        {"if w3 == 0x7fffffff goto +1\nr0 = 1", 0, {"cmp edx, 0x7fffffff", "je *"}},
        {"if r5 & 1 goto +1\nr0 = 1", 0, {"test r8, 1", "jne *"}},
        {"if r0 < r10 goto +1\nr0 = 1", 0, {"cmp rax, rbp", "jb *"}},
        {"if w4 s<= -1 goto +1\nr0 = 1", 0, {"cmp ecx, -1", "jle *"}},
        {"if r9 >= 5 goto +1\nr0 = 1", 0, {"cmp r15, 5", "jae *"}},
        {"r9 = be16 r9", 0, {"bswap r15d", "shr r15d, 0x10"}},
        {"r9 = be32 r9", 0, {"bswap r15d"}},
        {"r7 = bswap64 r7", 0, {"bswap r13"}},
        {"r0 = le16 r0", 0, {"movzx eax, ax"}},
        {"r8 = le16 r8", 0, {"movzx r14d, r14w"}},
        {"r7 = le32 r7", 0, {"mov r13d, r13d"}},
        {"lock *(u64 *)(r1 + 0) += r2", 0, {"lock add qword ptr [rdi], rsi"}},
        {"lock *(u32 *)(r7 + 8) |= w8", 0, {"lock or dword ptr [r13 + 8], r14d"}},
        {"r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)", 0, {"lock xadd qword ptr [rdi + 8], rsi"}},
        {"r0 = cmpxchg_64(r1 + 0, r0, r2)", 0, {"lock cmpxchg qword ptr [rdi], rsi"}},
        {"w0 = cmpxchg32_32(r6 + 4, w0, w9)", 0, {"lock cmpxchg dword ptr [rbx + 4], r15d", "mov eax, eax"}},
        {"r3 = xchg_64(r10 - 8, r3)", 0, {"xchg qword ptr [rbp - 8], rdx"}},
        {"r1 <<= r4", 0, {"shl rdi, cl"}},
        {"r1 <<= r2", 0, {"mov r11, rcx", "mov rcx, rsi", "shl rdi, cl", "mov rcx, r11"}},
        {"r4 <<= r2", 0, {"mov r11, rcx", "mov rcx, rsi", "shl r11, cl", "mov rcx, r11"}},
        {"w4 s>>= w4", 0, {"mov r11, rcx", "sar r11d, cl", "mov rcx, r11"}},
        {"w9 >>= w1", 0, {"mov r11, rcx", "mov rcx, rdi", "shr r15d, cl", "mov rcx, r11"}},
        {"r8 >>= 3", 0, {"shr r14, 3"}},
        {"w3 s>>= 33", 0, {"sar edx, 1"}},
        {"r2 = (s8)r2", 0, {"movsx rsi, sil"}},
        {"w1 = (s16)w9", 0, {"movsx edi, r15w"}},
        {"r6 = (s32)r0", 0, {"movsxd rbx, eax"}},
        {"r6 = r10", 0, {"mov rbx, rbp"}},
        {"w7 = w1", 0, {"mov r13d, edi"}},
        {"w3 *= 7", 0, {"imul edx, edx, 7"}},
        {"r3 *= r4", 0, {"imul rdx, rcx"}},
        {"r9 = -r9", 0, {"neg r15"}},
        {"w0 = -w0", 0, {"neg eax"}},
        {"r0 = 0x1122334455667788 ll", 0, {"movabs rax, 0x1122334455667788"}},
        {"r1 = -1", 0, {"mov rdi, -1"}},
        {"w5 = 7", 0, {"mov r8d, 7"}},
        {"r9 = 0xffffffff ll", 0, {"mov r15d, 0xffffffff"}},
        {"r3 /= 0", 0, {"xor edx, edx"}},
        {"w3 %= 0", 0, {"mov edx, edx"}},
        {"r3 s/= -1", 0, {"neg rdx"}},
        {"r0 s%= -1", 0, {"xor eax, eax"}},
        {"r0 /= r3", 0, {"mov r11, rdx", "test r11, r11", "je *",          "mov r9, rax", "mov r10, rdx",
                         "mov rdx, rax", "or rdx, r11",   "shr rdx, 0x20", "jne *",       "xor edx, edx",
                         "div r11d",     "jmp *",         "xor edx, edx",  "div r11",     "mov r11, rax",
                         "mov rax, r9",  "mov rdx, r10",  "mov rax, r11",  "jmp *",       "xor eax, eax"}},
        {"w4 s%= w0",
         0,
         {"mov r11, rax", "test r11d, r11d", "je *", "cmp r11d, -1", "je *", "mov r9, rax", "mov r10, rdx",
          "mov rax, rcx", "cdq", "idiv r11d", "mov r11, rdx", "mov rax, r9", "mov rdx, r10", "mov rcx, r11", "jmp *",
          "mov ecx, ecx", "jmp *", "xor ecx, ecx"}},
        {"r7 /= 10",
         0,
         {"mov r11d, 0xa", "mov r9, rax", "mov r10, rdx", "mov rax, r13", "mov rdx, rax", "or rdx, r11",
          "shr rdx, 0x20", "jne *", "xor edx, edx", "div r11d", "jmp *", "xor edx, edx", "div r11", "mov r11, rax",
          "mov rax, r9", "mov rdx, r10", "mov r13, r11"}},
        {"goto +1\nr0 = 1", 0, {"jmp *"}},
        {"call 2", 0, {"movabs r11, " + hex(reinterpret_cast<std::uintptr_t>(&forty_two)), "call r11"}},
        {"call 6",
         0,
         {"xor edx, edx", "xor ecx, ecx", "xor r8d, r8d",
          "movabs r11, " + hex(reinterpret_cast<std::uintptr_t>(&record)), "call r11"}},
        {"r1 = 1\ncall 5",
         1,
         {"movabs r11, " + hex(reinterpret_cast<std::uintptr_t>(&identity)), "call r11", "test rax, rax", "je *"}},
        {"callx r2",
         0,
         {"mov qword ptr [r12 + 0x28], rsi", "mov r9, r12", "movabs r11, *", "call r11",
          "cmp qword ptr [r12 + 0x18], 0", "jne *"}},
        {"call f\nexit\nf:\nr0 = 1",
         0,
         {"cmp qword ptr [r12 + 8], 8", "jae *", "add qword ptr [r12 + 8], 1", "sub rbp, 0x200", "call *",
          "add rbp, 0x200", "sub qword ptr [r12 + 8], 1"}},
        {"r0 = 1\nexit", 1, {"add rsp, 8", "pop r15", "pop r14", "pop r13", "pop rbx", "ret"}},
    };
    for (const Golden& g : goldens) {
        const std::string text = g.text + tail;
        INFO("program:\n", text);
        const Translation t = translate(text);
        check_text(t.instruction(g.pc), g.expected);
    }
}

TEST_CASE("exec jit: golden encodings of jumps, calls and their targets" * doctest::skip(kNoJit)) {
    // A conditional jump's target is the target instruction's first byte.
    {
        const Translation t = translate("if r7 s> r8 goto +1\nr0 = 1\nexit");
        check_text(t.instruction(0), {"cmp r13, r14", "jg " + hex(t.offset(2))});
        check_text(t.instruction(1), {"mov eax, 1"});
    }
    {
        const Translation t = translate("r0 = 0\nloop:\nr0 += 1\nif w0 != 10 goto loop\nexit");
        check_text(t.instruction(2), {"cmp eax, 0xa", "jne " + hex(t.offset(1))});
    }
    {
        const Translation t = translate("r0 = 1\ngotol +1\nr0 = 2\nexit");
        check_text(t.instruction(1), {"jmp " + hex(t.offset(3))});
    }
    // fetch_or, fetch_and, fetch_xor: a lock cmpxchg loop on the address in r9, r0 spilled to the run state meanwhile.
    {
        const Translation t = translate("r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)\nexit");
        const auto loop = t.instruction(0);
        REQUIRE(loop.size() == 11);
        check_text(loop,
                   {"lea r9, [rdi]", "mov r11, rsi", "mov qword ptr [r12 + 0x38], rax", "mov rax, qword ptr [r9]",
                    "mov r10, rax", "or r10, r11", "lock cmpxchg qword ptr [r9], r10", "jne " + hex(loop[4].address),
                    "mov r11, rax", "mov rax, qword ptr [r12 + 0x38]", "mov rsi, r11"});
    }
    {
        const Translation t = translate("w8 = atomic_fetch_xor((u32 *)(r7 + 4), w8)\nexit");
        const auto loop = t.instruction(0);
        REQUIRE(loop.size() == 11);
        check_text(loop,
                   {"lea r9, [r13 + 4]", "mov r11, r14", "mov qword ptr [r12 + 0x38], rax", "mov eax, dword ptr [r9]",
                    "mov r10, rax", "xor r10d, r11d", "lock cmpxchg dword ptr [r9], r10d",
                    "jne " + hex(loop[4].address), "mov r11, rax", "mov rax, qword ptr [r12 + 0x38]", "mov r14, r11"});
    }
    // A local call targets its function's prologue, which saves r6-r9 and aligns the stack.
    {
        const Translation t = translate("call f\nexit\nf:\nr0 = 1\nexit");
        const auto call = t.instruction(0);
        REQUIRE(call.size() == 7);
        REQUIRE(call[4].text.rfind("call 0x", 0) == 0);
        const std::uint64_t target = std::stoull(call[4].text.substr(5), nullptr, 16);
        const auto prologue = decode(t.jit->machine_code().subspan(target, t.offset(2) - target), target);
        check_text(prologue, {"push rbx", "push r13", "push r14", "push r15", "sub rsp, 8"});
    }
    // The entry: six callee-saved registers, the frame (the run state, 9 frames of 512 bytes, 8 for alignment), the run
    // state in r12, r10 at the top of the eBPF stack, r0 and r3-r9 zeroed, the call of the first function.
    {
        const Translation t = translate("r0 = 1\nexit");
        const auto entry = decode(t.jit->machine_code().subspan(0, 80), 0);
        REQUIRE(entry.size() >= 20);
        const std::vector<Decoded> head(entry.begin(), entry.begin() + 20);
        check_text(head, {"push rbp",
                          "push rbx",
                          "push r12",
                          "push r13",
                          "push r14",
                          "push r15",
                          "sub rsp, 0x1258",
                          "mov r12, rsp",
                          "mov qword ptr [r12], rsp",
                          "mov qword ptr [r12 + 8], 0",
                          "mov qword ptr [r12 + 0x18], 0",
                          "mov qword ptr [r12 + 0x20], rdx",
                          "lea rbp, [rsp + 0x1250]",
                          "xor eax, eax",
                          "xor edx, edx",
                          "xor ecx, ecx",
                          "xor r8d, r8d",
                          "xor ebx, ebx",
                          "xor r13d, r13d",
                          "xor r14d, r14d"});
    }
    // Metering (JitOptions::instruction_budget): the entry keeps the flag's address (the fourth argument) and the
    // budget in the run state; a taken back-edge charges its length there and ends the run when that borrows, the
    // path not taken skipping the charge; a local call charges the called function's length.
    {
        const Translation t =
            translate("r0 = 0\nr0 += 1\nif r0 < 10 goto -2\ncall f\nexit\nf:\nexit", {.instruction_budget = 1000});
        const auto entry = decode(t.jit->machine_code().subspan(0, 80), 0);
        REQUIRE(entry.size() >= 15);
        check_text({entry.begin() + 11, entry.begin() + 15},
                   {"mov qword ptr [r12 + 0x20], rdx", "mov qword ptr [r12 + 0x48], rcx", "mov r11d, 0x3e8",
                    "mov qword ptr [r12 + 0x40], r11"});
        check_text(t.instruction(2), {"cmp rax, 0xa", "jae *", "sub qword ptr [r12 + 0x40], 2", "jb *", "jmp *"});
        const auto call = t.instruction(3);
        REQUIRE(call.size() >= 2);
        check_text({call.begin(), call.begin() + 2}, {"sub qword ptr [r12 + 0x40], 1", "jb *"});
        // Without a budget, none of it.
        const Translation plain = translate("r0 = 0\nr0 += 1\nif r0 < 10 goto -2\nexit");
        check_text(plain.instruction(2), {"cmp rax, 0xa", "jb *"});
    }
    // A probe load calls its support function with the address and the width, r0-r5 kept.
    {
        const Translation t = translate("r1 = *(s16 *)(r6 + 8)\nexit", {.probe_loads = {0}});
        check_text(t.instruction(0),
                   {"lea r11, [rbx + 8]", "push rax", "push rdi", "push rsi", "push rdx", "push rcx", "push r8",
                    "mov rdi, r11", "mov esi, 0x102", "movabs r11, *", "call r11", "mov r11, rax", "pop r8", "pop rcx",
                    "pop rdx", "pop rsi", "pop rdi", "pop rax", "mov rdi, r11"});
    }
    // LD_IND: the offset computed in 32 bits and sign-extended.
    {
        const Translation t = translate("r6 = r1\nr0 = *(u16 *)skb[r4 + 6]\nexit", {.packet = kPacketLayout});
        const auto load = t.instruction(1);
        REQUIRE(load.size() >= 3);
        check_text({load.begin(), load.begin() + 3}, {"mov r11d, ecx", "add r11d, 6", "movsxd r11, r11d"});
    }
    // Blinded: the constant reaches the register through a xor with the key.
    {
        const Translation t = translate("r0 = 0x5a5a1234\nr2 += 0x3c3c\nexit", {.blind_constants = true});
        check_text(t.instruction(0), {"movabs rax, *", "movabs r10, *", "xor rax, r10"});
        check_text(t.instruction(1), {"movabs r11, *", "movabs r10, *", "xor r11, r10", "add rsi, r11"});
    }
}

TEST_CASE("exec jit: whole translations decode without an invalid byte" * doctest::skip(kNoJit)) {
    std::vector<std::pair<std::string, JitOptions>> programs;
    // Every ALU operation on every register pair and with immediates, in one program per width.
    for (const bool wide : {true, false}) {
        std::string text;
        for (const char* op : kAluOps) {
            for (int dst = 0; dst <= 9; ++dst) {
                for (int src = 0; src <= 10; ++src) {
                    text += reg(dst, wide) + " " + op + " " + reg(src, wide) + "\n";
                }
                text += reg(dst, wide) + " " + op + " 3\n" + reg(dst, wide) + " " + op + " -1000\n";
            }
        }
        text += "exit";
        programs.emplace_back(text, JitOptions{});
        programs.emplace_back(text, JitOptions{.blind_constants = true});
    }
    // Memory of every size through every base (r10 too) from every register, jumps between every pair, atomics.
    {
        std::string text;
        for (int base = 0; base <= 10; ++base) {
            for (int r = 0; r <= 9; ++r) {
                for (const char* size : {"u8", "u16", "u32", "u64"}) {
                    text += "*(" + std::string(size) + " *)(" + address(base, -8) + ") = " + reg(r) + "\n";
                    text += reg(r) + " = *(" + size + " *)(" + address(base, 300) + ")\n";
                    text += "*(" + std::string(size) + " *)(" + address(base, 16) + ") = 5\n";
                }
                for (const char* size : {"s8", "s16", "s32"}) {
                    text += reg(r) + " = *(" + size + " *)(" + address(base, 0) + ")\n";
                }
                text += "if " + reg(base) + " s< " + reg(r) + " goto +1\n";
                text += "if " + reg(r, false) + " & " + reg(base, false) + " goto +1\n";
                if (r != base) {
                    text += "lock *(u64 *)(" + address(base, 8) + ") += " + reg(r) + "\n";
                    text += "lock *(u32 *)(" + address(base, 8) + ") ^= " + reg(r, false) + "\n";
                    text += reg(r) + " = atomic_fetch_or((u64 *)(" + address(base, 8) + "), " + reg(r) + ")\n";
                    text += reg(r, false) + " = atomic_fetch_and((u32 *)(" + address(base, 8) + "), " + reg(r, false) +
                            ")\n";
                    text += reg(r) + " = xchg_64(" + address(base, 8) + ", " + reg(r) + ")\n";
                    text += "r0 = cmpxchg_64(" + address(base, 8) + ", r0, " + reg(r) + ")\n";
                    text += "w0 = cmpxchg32_32(" + address(base, 200) + ", w0, " + reg(r, false) + ")\n";
                }
            }
        }
        for (int r = 0; r <= 9; ++r) {
            text += reg(r) + " = (s8)" + reg(9 - r) + "\n" + reg(r, false) + " = (s16)" + reg(9 - r, false) + "\n";
            text += reg(r) + " = be16 " + reg(r) + "\n" + reg(r) + " = le16 " + reg(r) + "\n" + reg(r) + " = bswap64 " +
                    reg(r) + "\n" + reg(r) + " = -" + reg(r) + "\n";
            text += reg(r) + " = 0x1122334455667788 ll\n";
            text += "callx " + reg(r) + "\n";
        }
        text += "exit";
        programs.emplace_back(text, JitOptions{});
        programs.emplace_back(text, JitOptions{.blind_constants = true});
    }
    // Calls, callbacks, helpers, packet loads and probe loads.
    {
        const std::string text = R"(
            r6 = r1
            r1 = 3
            r2 = code(cb) ll
            r3 = 0
            r4 = 0
            call 181
            call f
            r0 = *(u8 *)skb[3]
            r2 = 1
            r0 = *(u32 *)skb[r2 + 1]
            r1 = 1
            call 1
            call 6
            r1 = 1
            call 5
            r7 = *(u64 *)(r6 + 0)
            exit
        f:
            r0 = 1
            exit
        cb:
            r0 = 0
            call kfunc 0
            exit)";
        programs.emplace_back(text, JitOptions{.packet = kPacketLayout, .probe_loads = {16}});
        programs.emplace_back(text, JitOptions{.packet = kPacketLayout, .probe_loads = {16}, .blind_constants = true});
    }
    for (const auto& [text, options] : programs) {
        const Translation t = translate(text, options);
        check_whole(*t.jit, text.substr(0, 60) + (options.blind_constants ? " (blinded)" : ""));
    }
}

#else

TEST_CASE("exec jit: golden x86-64 encodings (Capstone not found)" * doctest::skip(true)) {
    MESSAGE("built without Capstone (pkg-config capstone): the JIT encoding tests are skipped");
}

#endif

TEST_SUITE_END();

// =====================================================================================================================
// Regressions

// Attack round 51: an instruction that runs into a function's first instruction (a subprogram placed after the code
// that calls it, a callback's code inside another function) must not run the function's prologue, which only a call
// runs: run twice, the function's exit returned through a slot nothing wrote, to an address the program could plant.
// The optimizing JIT refuses a function that runs into the next (test_optimized.cpp): it compiles only the jump back.
TEST_CASE("exec jit: running into a function's first instruction skips its prologue" * doctest::skip(kNoJit)) {
    Env into = expecting(211);
    into.optimized = false;
    differential("main runs into the function it called", "r0 = 1\ncall f\nr0 += 10\nf:\nr0 += 100\nexit", {}, into);
    into.expected = 1211;
    differential("a function runs into the next one",
                 "r0 = 1\ncall f\nexit\nf:\nr0 += 10\ncall g\nr0 += 1000\ng:\nr0 += 100\nexit", {}, into);
    differential("a jump back to a function's first instruction",
                 "r0 = 0\nr1 = 3\ncall f\nexit\nf:\nr0 += 1\nr1 -= 1\nif r1 != 0 goto f\nexit", {}, expecting(3));
    const std::string loop = std::to_string(kLoop);
    into.expected = 5;
    differential("a callback inside the main function, which runs into it",
                 "r1 = 3\nr2 = code(+4) ll\nr3 = 0\nr4 = 0\ncall " + loop + "\nr0 = 5\nexit", {}, into);
}

// Attack round 52: a callback began with the host's rax in r0 on x86-64 (a heap address of the support function's);
// the verifier holds r0 uninitialized there, and the JIT starts callbacks with it at 0.
TEST_CASE("exec jit: a callback starts with r0 at 0" * doctest::skip(kNoJit)) {
    const std::string text = "r6 = r1\nr0 = 0x77\nr1 = 1\nr2 = code(+6) ll\nr3 = r6\nr4 = 0\ncall " +
                             std::to_string(kLoop) +
                             "\nr0 = *(u64 *)(r6 + 0)\nexit\n*(u64 *)(r2 + 0) = r0\nr0 = 1\nexit";
    const auto program = assemble(text);
    REQUIRE(program.size() == 13);
    const auto jit = Jit::create(program, standard_helpers());
    REQUIRE(jit.has_value());
    std::uint64_t memory[2] = {0xAAAA, 0};
    CHECK(jit->run(memory, sizeof memory) == 0);
    CHECK(memory[0] == 0);
}
