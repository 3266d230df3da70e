// The interpreter against RFC 9669: one row per instruction form, expected values worked out by hand from the RFC.
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/decode.hpp"
#include "embpf/isa/instruction.hpp"
#include "embpf/isa/text.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace isa = embpf::isa;
using embpf::ErrorKind;
using embpf::Result;
using embpf::exec::CheckedOptions;
using embpf::exec::CheckedOutcome;
using embpf::exec::HelperTable;
using embpf::exec::Interpreter;
using embpf::exec::InterpreterOptions;
using embpf::exec::MemoryRegion;

// ---------------------------------------------------------------------------------------------------------------------
// Helpers the programs call. Ids: 1 weighted sum of r1-r5, 2 constant 42, 3 load u64 from r1, 4 store r2 at r1,
// 5 identity of r1 (the "unwind" helper: returning 0 stops the program).

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

HelperTable standard_helpers() {
    HelperTable helpers;
    helpers.set(1, &weighted_sum);
    helpers.set(2, &forty_two);
    helpers.set(3, &load_u64);
    helpers.set(4, &store_u64);
    helpers.set(5, &identity);
    helpers.set_unwind(5);
    return helpers;
}

// ---------------------------------------------------------------------------------------------------------------------

constexpr std::uint64_t s64(std::int64_t value) { return static_cast<std::uint64_t>(value); }

std::string hex(std::uint64_t value) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
    return buffer;
}

std::vector<std::uint8_t> le64(std::uint64_t value) {
    std::vector<std::uint8_t> bytes(8);
    for (std::size_t i = 0; i < 8; ++i) {
        bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
    return bytes;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

template <typename T>
std::string error_text(const Result<T>& result) {
    return result.has_value() ? std::string() : result.error().message;
}

void* data_or_null(std::vector<std::uint8_t>& bytes) { return bytes.empty() ? nullptr : bytes.data(); }

/// Assembles `text` and prepares it; fails the current test (with the error text) when either step refuses.
Result<Interpreter> prepare(const std::string& text, HelperTable helpers = standard_helpers(),
                            const InterpreterOptions& options = {}) {
    auto program = isa::assemble(text);
    if (!program.has_value()) {
        FAIL_CHECK("assemble refused: ", program.error().message);
        return program.error();
    }
    auto interpreter = Interpreter::create(program.value(), std::move(helpers), options);
    if (!interpreter.has_value()) {
        FAIL_CHECK("Interpreter::create refused: ", interpreter.error().message);
    }
    return interpreter;
}

/// Runs `text` with both entries, each with threaded (computed goto) and with portable switch dispatch, on separate
/// copies of `mem`: all four must give `expected` and leave the same memory, and both checked runs must count the same
/// instructions. Every table row below so covers the switch loops, which a build with computed goto never uses
/// otherwise.
void check_program(const char* name, const std::string& text, const std::vector<std::uint8_t>& mem,
                   std::uint64_t expected) {
    INFO("case: ", std::string(name));
    INFO("program:\n", text);
    std::optional<std::vector<std::uint8_t>> first_mem;
    std::optional<std::uint64_t> first_instructions;
    for (const bool portable : {false, true}) {
        INFO("dispatch: ", portable ? "portable switch" : "computed goto");
        auto interpreter = prepare(text, standard_helpers(), {.portable_dispatch = portable});
        if (!interpreter.has_value()) {
            return;
        }
        std::vector<std::uint8_t> fast_mem = mem;
        std::vector<std::uint8_t> checked_mem = mem;
        const std::uint64_t fast = interpreter->run(data_or_null(fast_mem), fast_mem.size());
        const auto checked = interpreter->run_checked(data_or_null(checked_mem), checked_mem.size());
        CHECK(hex(fast) == hex(expected));
        CHECK_MESSAGE(checked.has_value(), error_text(checked));
        if (checked.has_value()) {
            CHECK(hex(checked->r0) == hex(expected));
            if (first_instructions) {
                CHECK(checked->instructions == *first_instructions);
            }
            first_instructions = checked->instructions;
        }
        CHECK(fast_mem == checked_mem);
        if (first_mem) {
            CHECK(fast_mem == *first_mem);
        }
        first_mem = fast_mem;
    }
}

struct Case {
    const char* name;
    const char* text;
    std::vector<std::uint8_t> mem;
    std::uint64_t expected;
};

void run_table(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        check_program(c.name, c.text, c.mem, c.expected);
    }
}

const std::vector<std::uint8_t> kBytes = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};

/// Expects a checked run that stopped with a runtime error at `pc` naming `size`.
void check_fault(const Result<CheckedOutcome>& result, std::size_t pc, int size) {
    REQUIRE_FALSE(result.has_value());
    const auto& error = result.error();
    INFO("message: ", error.message);
    CHECK(error.kind == ErrorKind::runtime);
    REQUIRE(error.pc.has_value());
    CHECK(*error.pc == pc);
    CHECK(contains(error.message, std::to_string(pc)));
    CHECK(contains(error.message, std::to_string(size)));
}

/// Assembles and runs `text` checked, returning the outcome.
Result<CheckedOutcome> run_checked_text(const std::string& text, std::vector<std::uint8_t>& mem,
                                        const CheckedOptions& options = {}) {
    auto interpreter = prepare(text);
    REQUIRE(interpreter.has_value());
    return interpreter->run_checked(data_or_null(mem), mem.size(), options);
}

} // namespace

// =====================================================================================================================
// Arithmetic

TEST_CASE("interpreter: mov, add, sub, mul") {
    run_table({
        {"mov64 imm", "r0 = 2\nexit", {}, 2},
        {"mov64 imm sign-extends", "r0 = -1\nexit", {}, 0xffffffffffffffff},
        {"mov32 imm zero-extends", "w0 = -1\nexit", {}, 0xffffffff},
        {"mov64 reg", "r1 = -2\nr0 = r1\nexit", {}, 0xfffffffffffffffe},
        {"mov32 reg truncates", "r1 = -2\nw0 = w1\nexit", {}, 0xfffffffe},
        {"mov32 reg drops the upper half", "r1 = 0x123456789 ll\nw0 = w1\nexit", {}, 0x23456789},
        {"add64 imm", "r0 = 1\nr0 += 2\nexit", {}, 3},
        {"add64 imm sign-extends", "r0 = 0\nr0 += -1\nexit", {}, 0xffffffffffffffff},
        {"add64 reg carries into the upper half", "r0 = 0xffffffff ll\nr1 = 1\nr0 += r1\nexit", {}, 0x100000000},
        {"add32 imm is not sign-extended", "w0 = 0\nw0 += -1\nexit", {}, 0xffffffff},
        {"add32 imm wraps", "w0 = -1\nw0 += 2\nexit", {}, 1},
        {"add32 reg ignores upper halves", "r0 = 0x100000005 ll\nr1 = 0x200000003 ll\nw0 += w1\nexit", {}, 8},
        {"sub64 imm", "r0 = 3\nr0 -= 5\nexit", {}, 0xfffffffffffffffe},
        {"sub64 reg", "r0 = 10\nr1 = 4\nr0 -= r1\nexit", {}, 6},
        {"sub32 imm", "w0 = 3\nw0 -= 5\nexit", {}, 0xfffffffe},
        {"sub32 reg", "r0 = 0x100000001 ll\nr1 = 2\nw0 -= w1\nexit", {}, 0xffffffff},
        {"mul64 imm sign-extends", "r0 = 7\nr0 *= -3\nexit", {}, 0xffffffffffffffeb},
        {"mul64 reg", "r0 = 0x100000000 ll\nr1 = 0x10\nr0 *= r1\nexit", {}, 0x1000000000},
        {"mul64 INT64_MIN by -1 wraps", "r0 = 0x8000000000000000 ll\nr0 *= -1\nexit", {}, 0x8000000000000000},
        {"mul32 imm truncates", "w0 = 65536\nw0 *= 65537\nexit", {}, 0x10000},
        {"mul32 reg", "w0 = -1\nw1 = 2\nw0 *= w1\nexit", {}, 0xfffffffe},
    });
}

TEST_CASE("interpreter: unsigned div and mod") {
    run_table({
        {"div64 imm", "r0 = 100\nr0 /= 7\nexit", {}, 14},
        {"div64 imm is sign-extended, then unsigned", "r0 = -1\nr0 /= -1\nexit", {}, 1},
        {"div64 reg is unsigned", "r0 = -1\nr1 = 2\nr0 /= r1\nexit", {}, 0x7fffffffffffffff},
        {"div64 reg by zero gives 0", "r0 = 5\nr1 = 0\nr0 /= r1\nexit", {}, 0},
        {"div32 imm", "w0 = -1\nw0 /= 2\nexit", {}, 0x7fffffff},
        {"div32 imm is unsigned 32-bit", "w0 = -2\nw0 /= -1\nexit", {}, 0},
        {"div32 reg ignores upper halves", "r0 = 0x100000008 ll\nr1 = 0x100000002 ll\nw0 /= w1\nexit", {}, 4},
        {"div32 reg by zero low half gives 0", "r0 = 5\nr1 = 0x100000000 ll\nw0 /= w1\nexit", {}, 0},
        {"mod64 imm", "r0 = 100\nr0 %= 7\nexit", {}, 2},
        {"mod64 imm is sign-extended", "r0 = -1\nr0 %= -2\nexit", {}, 1},
        {"mod64 reg is unsigned", "r0 = -1\nr1 = 10\nr0 %= r1\nexit", {}, 5},
        {"mod64 reg by zero leaves dst", "r0 = -5\nr1 = 0\nr0 %= r1\nexit", {}, 0xfffffffffffffffb},
        {"mod32 imm", "w0 = -1\nw0 %= 10\nexit", {}, 5},
        {"mod32 imm is unsigned 32-bit", "w0 = -1\nw0 %= -2\nexit", {}, 1},
        {"mod32 reg ignores upper halves", "r0 = 0x100000011 ll\nr1 = 0x100000005 ll\nw0 %= w1\nexit", {}, 2},
        {"mod32 reg by zero truncates dst", "r0 = -5\nr1 = 0\nw0 %= w1\nexit", {}, 0xfffffffb},
    });
}

TEST_CASE("interpreter: signed div and mod") {
    run_table({
        {"sdiv64 imm truncates toward zero", "r0 = -7\nr0 s/= 2\nexit", {}, s64(-3)},
        {"sdiv64 reg", "r0 = 7\nr1 = -2\nr0 s/= r1\nexit", {}, s64(-3)},
        {"sdiv64 reg negative by negative", "r0 = -7\nr1 = -2\nr0 s/= r1\nexit", {}, 3},
        {"sdiv64 imm INT64_MIN / -1", "r0 = 0x8000000000000000 ll\nr0 s/= -1\nexit", {}, 0x8000000000000000},
        {"sdiv64 reg INT64_MIN / -1", "r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s/= r1\nexit", {}, 0x8000000000000000},
        {"sdiv64 reg by zero gives 0", "r0 = -5\nr1 = 0\nr0 s/= r1\nexit", {}, 0},
        {"sdiv32 imm", "w0 = 9\nw0 s/= -3\nexit", {}, 0xfffffffd},
        {"sdiv32 imm uses the low half of dst", "r0 = 0x1fffffff9 ll\nw0 s/= 2\nexit", {}, 0xfffffffd},
        {"sdiv32 reg", "w0 = 7\nw1 = -2\nw0 s/= w1\nexit", {}, 0xfffffffd},
        {"sdiv32 imm INT32_MIN / -1", "w0 = -2147483648\nw0 s/= -1\nexit", {}, 0x80000000},
        {"sdiv32 reg INT32_MIN / -1", "w0 = -2147483648\nw1 = -1\nw0 s/= w1\nexit", {}, 0x80000000},
        {"sdiv32 reg by zero low half gives 0", "w0 = -5\nr1 = 0x100000000 ll\nw0 s/= w1\nexit", {}, 0},
        {"smod64 imm sign follows the dividend", "r0 = -7\nr0 s%= 3\nexit", {}, s64(-1)},
        {"smod64 reg positive by negative", "r0 = 7\nr1 = -3\nr0 s%= r1\nexit", {}, 1},
        {"smod64 reg negative by negative", "r0 = -7\nr1 = -3\nr0 s%= r1\nexit", {}, s64(-1)},
        {"smod64 imm INT64_MIN % -1", "r0 = 0x8000000000000000 ll\nr0 s%= -1\nexit", {}, 0},
        {"smod64 reg INT64_MIN % -1", "r0 = 0x8000000000000000 ll\nr1 = -1\nr0 s%= r1\nexit", {}, 0},
        {"smod64 reg by zero leaves dst", "r0 = -5\nr1 = 0\nr0 s%= r1\nexit", {}, s64(-5)},
        {"smod32 imm sign follows the dividend", "w0 = -7\nw0 s%= 3\nexit", {}, 0xffffffff},
        {"smod32 reg positive by negative", "w0 = 7\nw1 = -3\nw0 s%= w1\nexit", {}, 1},
        {"smod32 imm INT32_MIN % -1", "w0 = -2147483648\nw0 s%= -1\nexit", {}, 0},
        {"smod32 reg INT32_MIN % -1", "w0 = -2147483648\nw1 = -1\nw0 s%= w1\nexit", {}, 0},
        {"smod32 reg by zero truncates dst", "r0 = -5\nw1 = 0\nw0 s%= w1\nexit", {}, 0xfffffffb},
    });
}

TEST_CASE("interpreter: bitwise operations and shifts") {
    run_table({
        {"or64 imm", "r0 = 0xf00\nr0 |= 0xf0\nexit", {}, 0xff0},
        {"or64 imm sign-extends", "r0 = 0\nr0 |= -2\nexit", {}, 0xfffffffffffffffe},
        {"or64 reg", "r0 = 0x100000000 ll\nr1 = 1\nr0 |= r1\nexit", {}, 0x100000001},
        {"or32 imm", "w0 = 0\nw0 |= -2\nexit", {}, 0xfffffffe},
        {"or32 reg clears the upper half", "r0 = 0x100000000 ll\nr1 = 1\nw0 |= w1\nexit", {}, 1},
        {"and64 imm sign-extends", "r0 = -1\nr0 &= -16\nexit", {}, 0xfffffffffffffff0},
        {"and64 imm positive clears the upper half", "r0 = -1\nr0 &= 0x7fffffff\nexit", {}, 0x7fffffff},
        {"and64 reg", "r0 = 0x123456789 ll\nr1 = 0x1ff00ff00 ll\nr0 &= r1\nexit", {}, 0x123006700},
        {"and32 imm", "r0 = -1\nw0 &= -16\nexit", {}, 0xfffffff0},
        {"and32 reg", "r0 = 0x1ffffffff ll\nr1 = 0x1000000ff ll\nw0 &= w1\nexit", {}, 0xff},
        {"xor64 imm sign-extends", "r0 = 0xff\nr0 ^= -1\nexit", {}, 0xffffffffffffff00},
        {"xor64 reg", "r0 = 5\nr1 = 3\nr0 ^= r1\nexit", {}, 6},
        {"xor32 imm", "w0 = 0xff\nw0 ^= -1\nexit", {}, 0xffffff00},
        {"xor32 reg", "r0 = -1\nr1 = 1\nw0 ^= w1\nexit", {}, 0xfffffffe},
        {"lsh64 imm", "r0 = 1\nr0 <<= 63\nexit", {}, 0x8000000000000000},
        {"lsh64 imm is masked to 6 bits", "r0 = 1\nr0 <<= 68\nexit", {}, 0x10},
        {"lsh64 reg is masked to 6 bits", "r0 = 1\nr1 = 65\nr0 <<= r1\nexit", {}, 2},
        {"lsh32 imm drops bits above 31", "w0 = -1\nw0 <<= 4\nexit", {}, 0xfffffff0},
        {"lsh32 imm is masked to 5 bits", "w0 = 1\nw0 <<= 36\nexit", {}, 0x10},
        {"lsh32 reg is masked to 5 bits", "w0 = 1\nw1 = 33\nw0 <<= w1\nexit", {}, 2},
        {"rsh64 imm is logical", "r0 = -1\nr0 >>= 60\nexit", {}, 0xf},
        {"rsh64 reg is masked to 6 bits", "r0 = 0x10\nr1 = 68\nr0 >>= r1\nexit", {}, 1},
        {"rsh32 imm works on the low half", "r0 = -1\nw0 >>= 28\nexit", {}, 0xf},
        {"rsh32 imm drops the upper half", "r0 = 0x100000000 ll\nw0 >>= 1\nexit", {}, 0},
        {"rsh32 imm is masked to 5 bits", "w0 = 0x100\nw0 >>= 36\nexit", {}, 0x10},
        {"rsh32 reg is masked to 5 bits", "w0 = 0x100\nw1 = 36\nw0 >>= w1\nexit", {}, 0x10},
        {"arsh64 imm negative", "r0 = -16\nr0 s>>= 2\nexit", {}, s64(-4)},
        {"arsh64 imm positive", "r0 = 0x40\nr0 s>>= 3\nexit", {}, 8},
        {"arsh64 reg", "r0 = 0x8000000000000000 ll\nr1 = 63\nr0 s>>= r1\nexit", {}, s64(-1)},
        {"arsh64 reg is masked to 6 bits", "r0 = -256\nr1 = 68\nr0 s>>= r1\nexit", {}, s64(-16)},
        {"arsh32 imm negative zero-extends", "w0 = -16\nw0 s>>= 2\nexit", {}, 0xfffffffc},
        {"arsh32 imm sign bit is bit 31", "r0 = 0x80000000 ll\nw0 s>>= 4\nexit", {}, 0xf8000000},
        {"arsh32 imm is masked to 5 bits", "w0 = -256\nw0 s>>= 36\nexit", {}, 0xfffffff0},
        {"arsh32 reg is masked to 5 bits", "w0 = -256\nw1 = 36\nw0 s>>= w1\nexit", {}, 0xfffffff0},
    });
}

TEST_CASE("interpreter: neg, movsx, byte swaps, lddw") {
    run_table({
        {"neg64", "r0 = 5\nr0 = -r0\nexit", {}, s64(-5)},
        {"neg64 INT64_MIN", "r0 = 0x8000000000000000 ll\nr0 = -r0\nexit", {}, 0x8000000000000000},
        {"neg32", "w0 = 5\nw0 = -w0\nexit", {}, 0xfffffffb},
        {"neg32 uses the low half", "r0 = 0x100000001 ll\nw0 = -w0\nexit", {}, 0xffffffff},
        {"neg32 INT32_MIN", "w0 = -2147483648\nw0 = -w0\nexit", {}, 0x80000000},
        {"movsx64 s8 negative", "r2 = 0x180\nr0 = (s8)r2\nexit", {}, 0xffffffffffffff80},
        {"movsx64 s8 positive", "r2 = 0x17f\nr0 = (s8)r2\nexit", {}, 0x7f},
        {"movsx64 s16", "r2 = 0x18000\nr0 = (s16)r2\nexit", {}, 0xffffffffffff8000},
        {"movsx64 s32 negative", "r2 = 0x180000000 ll\nr0 = (s32)r2\nexit", {}, 0xffffffff80000000},
        {"movsx64 s32 positive", "r2 = 0xf7fffffff ll\nr0 = (s32)r2\nexit", {}, 0x7fffffff},
        {"movsx32 s8 zero-extends to 64", "r2 = 0x180\nw0 = (s8)w2\nexit", {}, 0xffffff80},
        {"movsx32 s16 negative", "r2 = 0x18000\nw0 = (s16)w2\nexit", {}, 0xffff8000},
        {"movsx32 s16 positive", "r2 = 0x17fff\nw0 = (s16)w2\nexit", {}, 0x7fff},
        {"be16", "r0 = 0x1122334455667788 ll\nr0 = be16 r0\nexit", {}, 0x8877},
        {"be32", "r0 = 0x1122334455667788 ll\nr0 = be32 r0\nexit", {}, 0x88776655},
        {"be64", "r0 = 0x1122334455667788 ll\nr0 = be64 r0\nexit", {}, 0x8877665544332211},
        {"le16 truncates", "r0 = 0x1122334455667788 ll\nr0 = le16 r0\nexit", {}, 0x7788},
        {"le32 truncates", "r0 = 0x1122334455667788 ll\nr0 = le32 r0\nexit", {}, 0x55667788},
        {"le64", "r0 = 0x1122334455667788 ll\nr0 = le64 r0\nexit", {}, 0x1122334455667788},
        {"bswap16", "r0 = 0x1122334455667788 ll\nr0 = bswap16 r0\nexit", {}, 0x8877},
        {"bswap32", "r0 = 0x1122334455667788 ll\nr0 = bswap32 r0\nexit", {}, 0x88776655},
        {"bswap64", "r0 = 0x1122334455667788 ll\nr0 = bswap64 r0\nexit", {}, 0x8877665544332211},
        {"lddw hex", "r0 = 0x1122334455667788 ll\nexit", {}, 0x1122334455667788},
        {"lddw decimal", "r0 = 1234605616436508552 ll\nexit", {}, 0x1122334455667788},
        {"lddw negative", "r0 = -2 ll\nexit", {}, 0xfffffffffffffffe},
        {"lddw low half is not sign-extended", "r0 = 0x1ffffffff ll\nexit", {}, 0x1ffffffff},
        {"lddw bit 31 only", "r0 = 0x80000000 ll\nexit", {}, 0x80000000},
        {"lddw into another register", "r5 = 0x8000000000000000 ll\nr0 = r5\nexit", {}, 0x8000000000000000},
    });
}

// =====================================================================================================================
// Jumps

namespace {

/// `if <cond> goto +1` with r1 and r2 loaded by lddw: r0 = 1 when taken, 0 when not.
struct JumpCase {
    const char* cond;
    std::uint64_t r1;
    std::uint64_t r2;
    bool taken;
};

void run_jump_table(const std::vector<JumpCase>& cases) {
    for (const JumpCase& c : cases) {
        const std::string text =
            "r1 = " + hex(c.r1) + " ll\nr2 = " + hex(c.r2) + " ll\nr0 = 1\nif " + c.cond + " goto +1\nr0 = 0\nexit";
        const std::string name = std::string(c.cond) + (c.taken ? " (taken)" : " (not taken)");
        check_program(name.c_str(), text, {}, c.taken ? 1 : 0);
    }
}

} // namespace

TEST_CASE("interpreter: jeq, jne, jset") {
    run_jump_table({
        {"r1 == 5", 5, 0, true},
        {"r1 == 5", 0x100000005, 0, false},
        {"r1 == -1", s64(-1), 0, true},
        {"r1 == -1", 0xffffffff, 0, false},
        {"r1 == r2", 0x100000005, 0x100000005, true},
        {"r1 == r2", 0x100000005, 5, false},
        {"w1 == 5", 0x100000005, 0, true},
        {"w1 == 5", 6, 0, false},
        {"w1 == -1", 0xffffffff, 0, true},
        {"w1 == w2", 0x100000005, 0x200000005, true},
        {"w1 == w2", 5, 6, false},
        {"r1 != 5", 0x100000005, 0, true},
        {"r1 != 5", 5, 0, false},
        {"r1 != r2", 1, 2, true},
        {"r1 != r2", 0x100000000, 0x100000000, false},
        {"w1 != 5", 4, 0, true},
        {"w1 != 5", 0x100000005, 0, false},
        {"w1 != w2", 0x100000001, 2, true},
        {"w1 != w2", 0x100000001, 1, false},
        {"r1 & 3", 2, 0, true},
        {"r1 & 3", 4, 0, false},
        {"r1 & -2147483648", 0x100000000, 0, true},
        {"r1 & r2", 0x100000000, 0x100000000, true},
        {"r1 & r2", 0x100000000, 0xffffffff, false},
        {"w1 & 3", 0x100000001, 0, true},
        {"w1 & 3", 0x100000000, 0, false},
        {"w1 & w2", 0x100000003, 2, true},
        {"w1 & w2", 0x100000000, 0x100000000, false},
    });
}

TEST_CASE("interpreter: unsigned comparisons") {
    run_jump_table({
        {"r1 > 5", s64(-1), 0, true},
        {"r1 > 5", 5, 0, false},
        {"r1 > -2", s64(-1), 0, true},
        {"r1 > -2", 0xffffffff, 0, false},
        {"r1 > r2", 0x100000000, 0xffffffff, true},
        {"r1 > r2", 1, s64(-1), false},
        {"w1 > 5", 0xffffffff, 0, true},
        {"w1 > 5", 0x100000005, 0, false},
        {"w1 > -2", 0xffffffff, 0, true},
        {"w1 > w2", 0x100000002, 0x200000001, true},
        {"w1 > w2", 0x100000000, 0xffffffff, false},
        {"r1 >= 5", 5, 0, true},
        {"r1 >= 5", 4, 0, false},
        {"r1 >= r2", 7, 7, true},
        {"r1 >= r2", 6, 7, false},
        {"w1 >= 5", 5, 0, true},
        {"w1 >= 5", 0x100000004, 0, false},
        {"w1 >= w2", 1, 0x100000001, true},
        {"w1 >= w2", 0x100000000, 1, false},
        {"r1 < 5", 4, 0, true},
        {"r1 < 5", s64(-1), 0, false},
        {"r1 < r2", 1, s64(-1), true},
        {"r1 < r2", s64(-1), 1, false},
        {"w1 < 5", 0x100000004, 0, true},
        {"w1 < 5", 0xffffffff, 0, false},
        {"w1 < w2", 0x100000000, 1, true},
        {"w1 < w2", 0xffffffff, 0x100000000, false},
        {"r1 <= 5", 5, 0, true},
        {"r1 <= 5", 6, 0, false},
        {"r1 <= r2", 3, 3, true},
        {"r1 <= r2", 0x100000000, 0xffffffff, false},
        {"w1 <= 5", 0x100000005, 0, true},
        {"w1 <= 5", 6, 0, false},
        {"w1 <= w2", 0x100000000, 0xffffffff, true},
        {"w1 <= w2", 0xffffffff, 0x1fffffffe, false},
    });
}

TEST_CASE("interpreter: signed comparisons") {
    run_jump_table({
        {"r1 s> -5", s64(-4), 0, true},
        {"r1 s> -5", s64(-5), 0, false},
        {"r1 s> 5", s64(-1), 0, false},
        {"r1 s> r2", 1, s64(-1), true},
        {"r1 s> r2", s64(-1), 1, false},
        {"w1 s> -5", 0xfffffffc, 0, true},
        {"w1 s> 5", 0xffffffff, 0, false},
        {"w1 s> w2", 1, 0xffffffff, true},
        {"w1 s> w2", 0xffffffff, 1, false},
        {"r1 s>= -5", s64(-5), 0, true},
        {"r1 s>= -5", s64(-6), 0, false},
        {"r1 s>= r2", s64(-1), s64(-1), true},
        {"r1 s>= r2", s64(-2), s64(-1), false},
        {"w1 s>= -5", 0xfffffffb, 0, true},
        {"w1 s>= -5", 0xfffffffa, 0, false},
        {"w1 s>= w2", 0x7fffffff, 0x80000000, true},
        {"w1 s>= w2", 0x80000000, 0x7fffffff, false},
        {"r1 s< -5", s64(-6), 0, true},
        {"r1 s< -5", s64(-5), 0, false},
        {"r1 s< r2", s64(-1), 0, true},
        {"r1 s< r2", 0, s64(-1), false},
        {"w1 s< 0", 0x80000000, 0, true},
        {"w1 s< 0", 0x8000000000000001, 0, false},
        {"w1 s< w2", 0xffffffff, 0, true},
        {"w1 s< w2", 0, 0xffffffff, false},
        {"r1 s<= -5", s64(-5), 0, true},
        {"r1 s<= -5", s64(-4), 0, false},
        {"r1 s<= r2", 0x8000000000000000, 0x7fffffffffffffff, true},
        {"r1 s<= r2", 1, 0, false},
        {"w1 s<= -1", 0xffffffff, 0, true},
        {"w1 s<= -1", 0xffffffff00000000, 0, false},
        {"w1 s<= w2", 0x80000000, 0x7fffffff, true},
        {"w1 s<= w2", 0x7fffffff, 0x80000000, false},
    });
}

TEST_CASE("interpreter: unconditional jumps and program text") {
    run_table({
        {"goto +1", "r0 = 1\ngoto +1\nr0 = 2\nexit", {}, 1},
        {"goto a label", "r0 = 1\ngoto done\nr0 = 2\ndone:\nexit", {}, 1},
        {"goto skips both slots of a lddw", "r0 = 1\ngoto +2\nr0 = 2 ll\nexit", {}, 1},
        {"label after a lddw", "r0 = 1\ngoto done\nr0 = 0x1122334455667788 ll\nr0 = 3\ndone:\nexit", {}, 1},
        {"conditional goto +2", "r0 = 1\nw1 = 3\nif w1 & 3 goto +2\nr0 = 2\nr0 = 3\nexit", {}, 1},
        {"loop with a label", "r0 = 0\nr1 = 10\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit", {}, 55},
        {"loop with a negative offset", "r0 = 0\nr1 = 10\nr0 += r1\nr1 -= 1\nif r1 != 0 goto -3\nexit", {}, 55},
        {"gotol +1", "r0 = 1\ngotol +1\nr0 = 2\nexit", {}, 1},
        {"gotol backward as the last instruction", "r0 = 0\ngotol +2\nr0 += 1\nexit\nr0 += 2\ngotol -4", {}, 3},
        {"exit before the end", "r0 = 7\nexit\nr0 = 8\nexit", {}, 7},
        {"comments", "# leading comment\nr0 = 1 # set r0\n\n   r0 += 1\nexit # done", {}, 2},
    });
}

// =====================================================================================================================
// Memory

TEST_CASE("interpreter: loads") {
    run_table({
        {"r2 holds the context size", "r0 = r2\nexit", kBytes, 8},
        {"r1 and r2 are 0 without a context", "r0 = r1\nr0 |= r2\nexit", {}, 0},
        {"ldxb", "r0 = *(u8 *)(r1 + 2)\nexit", kBytes, 0x33},
        {"ldxh", "r0 = *(u16 *)(r1 + 2)\nexit", kBytes, 0x4433},
        {"ldxw", "r0 = *(u32 *)(r1 + 4)\nexit", kBytes, 0x88776655},
        {"ldxdw", "r0 = *(u64 *)(r1 + 0)\nexit", kBytes, 0x8877665544332211},
        {"ldx negative offset", "r1 += 8\nr0 = *(u16 *)(r1 - 2)\nexit", kBytes, 0x8877},
        {"ldxb zero-extends into the whole register", "r0 = -1\nr0 = *(u8 *)(r1 + 7)\nexit", kBytes, 0x88},
        {"ldxh zero-extends", "r0 = *(u16 *)(r1 + 6)\nexit", kBytes, 0x8877},
        {"ldxsb negative", "r0 = *(s8 *)(r1 + 7)\nexit", kBytes, 0xffffffffffffff88},
        {"ldxsb positive", "r0 = *(s8 *)(r1 + 0)\nexit", kBytes, 0x11},
        {"ldxsh negative", "r0 = *(s16 *)(r1 + 6)\nexit", kBytes, 0xffffffffffff8877},
        {"ldxsh positive", "r0 = *(s16 *)(r1 + 0)\nexit", kBytes, 0x2211},
        {"ldxsw negative", "r0 = *(s32 *)(r1 + 4)\nexit", kBytes, 0xffffffff88776655},
        {"ldxsw positive", "r0 = *(s32 *)(r1 + 0)\nexit", kBytes, 0x44332211},
    });
}

TEST_CASE("interpreter: stores") {
    run_table({
        {"stb imm", "*(u64 *)(r10 - 8) = 0\n*(u8 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit", {}, 0xff},
        {"sth imm", "*(u64 *)(r10 - 8) = 0\n*(u16 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit", {}, 0xffff},
        {"stw imm", "*(u64 *)(r10 - 8) = 0\n*(u32 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit", {}, 0xffffffff},
        {"stdw imm sign-extends", "*(u64 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit", {}, s64(-1)},
        {"stdw imm", "r1 = -1\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 8) = 7\nr0 = *(u64 *)(r10 - 8)\nexit", {}, 7},
        {"stxb",
         "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = 0\n*(u8 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         0x88},
        {"stxh",
         "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = 0\n*(u16 *)(r10 - 2) = r1\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         0x7788000000000000},
        {"stxw",
         "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = 0\n*(u32 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         0x55667788},
        {"stxdw",
         "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         0x1122334455667788},
        {"stxw into the context", "r2 = -1\n*(u32 *)(r1 + 2) = r2\nr0 = *(u64 *)(r1 + 0)\nexit", kBytes,
         0x8877ffffffff2211},
        {"sth imm into the context", "*(u16 *)(r1 + 6) = 0x1234\nr0 = *(u64 *)(r1 + 0)\nexit", kBytes,
         0x1234665544332211},
        {"the stack frame is 512 bytes", "*(u64 *)(r10 - 512) = 9\nr0 = *(u64 *)(r10 - 512)\nexit", {}, 9},
    });
}

TEST_CASE("interpreter: atomics") {
    // Memory rows read the whole u64 back; the 32-bit forms must leave the upper word alone.
    run_table({
        {"lock add64", "r2 = 0x10\nlock *(u64 *)(r1 + 0) += r2\nr0 = *(u64 *)(r1 + 0)\nexit", le64(0x1fffffff0),
         0x200000000},
        {"lock add64 leaves src", "r2 = 0x10\nlock *(u64 *)(r1 + 0) += r2\nr0 = r2\nexit", le64(0x1fffffff0), 0x10},
        {"lock add32", "r2 = 0x10\nlock *(u32 *)(r1 + 0) += w2\nr0 = *(u64 *)(r1 + 0)\nexit", le64(0x1fffffff0),
         0x100000000},
        {"lock or64", "r2 = 0x20000000f ll\nlock *(u64 *)(r1 + 0) |= r2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1000000f0), 0x3000000ff},
        {"lock or32", "r2 = 0x20000000f ll\nlock *(u32 *)(r1 + 0) |= w2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1000000f0), 0x1000000ff},
        {"lock and64", "r2 = 0x20000000f ll\nlock *(u64 *)(r1 + 0) &= r2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x20000000f},
        {"lock and32", "r2 = 0x20000000f ll\nlock *(u32 *)(r1 + 0) &= w2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x30000000f},
        {"lock xor64", "r2 = 0x10000000f ll\nlock *(u64 *)(r1 + 0) ^= r2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x2000000f0},
        {"lock xor32", "r2 = 0x10000000f ll\nlock *(u32 *)(r1 + 0) ^= w2\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x3000000f0},
        {"fetch_add64 old value", "r2 = 0x10\nr2 = atomic_fetch_add((u64 *)(r1 + 0), r2)\nr0 = r2\nexit",
         le64(0x1fffffff0), 0x1fffffff0},
        {"fetch_add64 memory", "r2 = 0x10\nr2 = atomic_fetch_add((u64 *)(r1 + 0), r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1fffffff0), 0x200000000},
        {"fetch_add32 old value zero-extended",
         "r2 = 0x200000010 ll\nw2 = atomic_fetch_add((u32 *)(r1 + 0), w2)\nr0 = r2\nexit", le64(0x1fffffff0),
         0xfffffff0},
        {"fetch_add32 memory",
         "r2 = 0x200000010 ll\nw2 = atomic_fetch_add((u32 *)(r1 + 0), w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1fffffff0), 0x100000000},
        {"fetch_or64 old value", "r2 = 0x20000000f ll\nr2 = atomic_fetch_or((u64 *)(r1 + 0), r2)\nr0 = r2\nexit",
         le64(0x1000000f0), 0x1000000f0},
        {"fetch_or64 memory",
         "r2 = 0x20000000f ll\nr2 = atomic_fetch_or((u64 *)(r1 + 0), r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1000000f0), 0x3000000ff},
        {"fetch_or32 old value", "r2 = 0x20000000f ll\nw2 = atomic_fetch_or((u32 *)(r1 + 0), w2)\nr0 = r2\nexit",
         le64(0x1000000f0), 0xf0},
        {"fetch_or32 memory",
         "r2 = 0x20000000f ll\nw2 = atomic_fetch_or((u32 *)(r1 + 0), w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x1000000f0), 0x1000000ff},
        {"fetch_and64 old value", "r2 = 0x20000000f ll\nr2 = atomic_fetch_and((u64 *)(r1 + 0), r2)\nr0 = r2\nexit",
         le64(0x3000000ff), 0x3000000ff},
        {"fetch_and64 memory",
         "r2 = 0x20000000f ll\nr2 = atomic_fetch_and((u64 *)(r1 + 0), r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x20000000f},
        {"fetch_and32 old value", "r2 = 0x20000000f ll\nw2 = atomic_fetch_and((u32 *)(r1 + 0), w2)\nr0 = r2\nexit",
         le64(0x3000000ff), 0xff},
        {"fetch_and32 memory",
         "r2 = 0x20000000f ll\nw2 = atomic_fetch_and((u32 *)(r1 + 0), w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x30000000f},
        {"fetch_xor64 old value", "r2 = 0x10000000f ll\nr2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)\nr0 = r2\nexit",
         le64(0x3000000ff), 0x3000000ff},
        {"fetch_xor64 memory",
         "r2 = 0x10000000f ll\nr2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x2000000f0},
        {"fetch_xor32 old value", "r2 = 0x10000000f ll\nw2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)\nr0 = r2\nexit",
         le64(0x3000000ff), 0xff},
        {"fetch_xor32 memory",
         "r2 = 0x10000000f ll\nw2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x3000000ff), 0x3000000f0},
        {"xchg64 old value", "r2 = 0x200000007 ll\nr2 = xchg_64(r1 + 0, r2)\nr0 = r2\nexit", le64(0x100000005),
         0x100000005},
        {"xchg64 memory", "r2 = 0x200000007 ll\nr2 = xchg_64(r1 + 0, r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x100000005), 0x200000007},
        {"xchg32 old value zero-extended", "r2 = 0x200000007 ll\nw2 = xchg32_32(r1 + 0, w2)\nr0 = r2\nexit",
         le64(0x100000005), 5},
        {"xchg32 memory", "r2 = 0x200000007 ll\nw2 = xchg32_32(r1 + 0, w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x100000005), 0x100000007},
        {"cmpxchg64 success old value", "r0 = 0x100000005 ll\nr2 = 9\nr0 = cmpxchg_64(r1 + 0, r0, r2)\nexit",
         le64(0x100000005), 0x100000005},
        {"cmpxchg64 success memory",
         "r0 = 0x100000005 ll\nr2 = 9\nr0 = cmpxchg_64(r1 + 0, r0, r2)\nr0 = *(u64 *)(r1 + 0)\nexit", le64(0x100000005),
         9},
        {"cmpxchg64 failure old value", "r0 = 5\nr2 = 9\nr0 = cmpxchg_64(r1 + 0, r0, r2)\nexit", le64(0x100000005),
         0x100000005},
        {"cmpxchg64 failure memory", "r0 = 5\nr2 = 9\nr0 = cmpxchg_64(r1 + 0, r0, r2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x100000005), 0x100000005},
        {"cmpxchg32 success compares the low half",
         "r0 = 0x700000005 ll\nr2 = 0x200000009 ll\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nexit", le64(0x100000005), 5},
        {"cmpxchg32 success memory",
         "r0 = 0x700000005 ll\nr2 = 0x200000009 ll\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x100000005), 0x100000009},
        {"cmpxchg32 failure old value", "r0 = 6\nr2 = 9\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nexit", le64(0x100000005),
         5},
        {"cmpxchg32 failure memory", "r0 = 6\nr2 = 9\nw0 = cmpxchg32_32(r1 + 0, w0, w2)\nr0 = *(u64 *)(r1 + 0)\nexit",
         le64(0x100000005), 0x100000005},
    });
}

TEST_CASE("interpreter: atomics on the stack") {
    // r0 = (memory << 8) | old value where both matter.
    run_table({
        {"lock add64",
         "r1 = 3\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nlock *(u64 *)(r10 - 8) += r1\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         7},
        {"lock or32",
         "r1 = 0x100000001 ll\n*(u64 *)(r10 - 8) = r1\nw1 = 6\nlock *(u32 *)(r10 - 8) |= w1\nr0 = *(u64 *)(r10 - "
         "8)\nexit",
         {},
         0x100000007},
        {"fetch_add64",
         "r1 = 3\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nr1 = atomic_fetch_add((u64 *)(r10 - 8), r1)\nr0 = *(u64 *)(r10 - "
         "8)\nr0 <<= 8\nr0 |= r1\nexit",
         {},
         0x703},
        {"fetch_xor32",
         "r1 = 0x1000000ff ll\n*(u64 *)(r10 - 8) = r1\nw1 = 0x0f\nw1 = atomic_fetch_xor((u32 *)(r10 - 8), w1)\nr0 = "
         "*(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r1\nexit",
         {},
         0x1000000f0ff},
        {"xchg64",
         "r1 = 3\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nr1 = xchg_64(r10 - 8, r1)\nr0 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= "
         "r1\nexit",
         {},
         0x403},
        {"xchg32",
         "r1 = 0x100000003 ll\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nw1 = xchg32_32(r10 - 8, w1)\nr0 = *(u64 *)(r10 - "
         "8)\nr0 <<= 8\nr0 |= r1\nexit",
         {},
         0x10000000403},
        {"cmpxchg64",
         "r1 = 3\n*(u64 *)(r10 - 8) = r1\nr0 = 3\nr2 = 9\nr0 = cmpxchg_64(r10 - 8, r0, r2)\nr1 = *(u64 *)(r10 - "
         "8)\nr1 <<= 8\nr0 |= r1\nexit",
         {},
         0x903},
        {"cmpxchg32",
         "r1 = 3\n*(u64 *)(r10 - 8) = r1\nw0 = 3\nw2 = 9\nw0 = cmpxchg32_32(r10 - 8, w0, w2)\nr1 = *(u64 *)(r10 - "
         "8)\nr1 <<= 8\nr0 |= r1\nexit",
         {},
         0x903},
    });
}

// =====================================================================================================================
// Calls

namespace {

/// f(k) = k + f(k - 1), f(0) = 0, each frame keeping its k at r10 - 8: `r1 = N` means N + 1 nested calls.
std::string recursion(int n) {
    return "r1 = " + std::to_string(n) +
           "\n"
           "call f\n"                 // 1
           "exit\n"                   // 2
           "f:\n"                     //
           "*(u64 *)(r10 - 8) = r1\n" // 3
           "r0 = 0\n"                 // 4
           "if r1 == 0 goto done\n"   // 5
           "r1 -= 1\n"                // 6
           "call f\n"                 // 7: the recursive call
           "r1 = *(u64 *)(r10 - 8)\n" // 8
           "r0 += r1\n"               // 9
           "done:\n"                  //
           "exit\n";                  // 10
}

constexpr std::size_t kRecursiveCallPc = 7;

} // namespace

TEST_CASE("interpreter: local calls") {
    run_table({
        {"r1-r5 are passed to the callee",
         "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall f\nexit\nf:\nr0 = r5\nr0 *= 10\nr0 += r4\nr0 *= 10\nr0 += "
         "r3\nr0 *= 10\nr0 += r2\nr0 *= 10\nr0 += r1\nexit",
         {},
         54321},
        {"r6-r9 are preserved across the call",
         "r6 = 6\nr7 = 7\nr8 = 8\nr9 = 9\ncall f\nr0 = r6\nr0 *= 10\nr0 += r7\nr0 *= 10\nr0 += r8\nr0 *= 10\nr0 += "
         "r9\nexit\nf:\nr6 = 0\nr7 = 0\nr8 = 0\nr9 = 0\nr0 = 0\nexit",
         {},
         6789},
        {"the callee has its own stack frame",
         "r1 = 42\n*(u64 *)(r10 - 8) = r1\ncall f\nr0 = *(u64 *)(r10 - 8)\nexit\nf:\n*(u64 *)(r10 - 8) = 7\nr0 = "
         "*(u64 *)(r10 - 8)\nexit",
         {},
         42},
        {"the callee returns r0", "call f\nr0 += 1\nexit\nf:\nr0 = 41\nexit", {}, 42},
        {"the callee may write the caller's frame through a pointer",
         "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 - 8)\nexit\nf:\n*(u64 *)(r1 "
         "+ 0) = 5\nr0 = 0\nexit",
         {},
         5},
        {"call pc+2", "r0 = 1\ncall pc+2\nr0 += 10\nexit\nr0 = 5\nexit", {}, 15},
        {"nested calls", "call f\nexit\nf:\ncall g\nr0 *= 2\nexit\ng:\nr0 = 21\nexit", {}, 42},
    });
    // kMaxCallDepth nested calls below the entry frame are allowed, each with its own frame.
    static_assert(isa::kMaxCallDepth == 8);
    check_program("recursion 8 calls deep", recursion(7), {}, 28);
}

TEST_CASE("interpreter: deeper recursion than kMaxCallDepth is refused") {
    for (const bool portable : {false, true}) {
        INFO("dispatch: ", portable ? "portable switch" : "computed goto");
        auto interpreter = prepare(recursion(8), standard_helpers(), {.portable_dispatch = portable});
        REQUIRE(interpreter.has_value());
        const auto checked = interpreter->run_checked(nullptr, 0);
        REQUIRE_FALSE(checked.has_value());
        INFO("message: ", checked.error().message);
        CHECK(checked.error().kind == ErrorKind::runtime);
        REQUIRE(checked.error().pc.has_value());
        CHECK(*checked.error().pc == kRecursiveCallPc);
        CHECK(contains(checked.error().message, std::to_string(kRecursiveCallPc)));
        // The fast path guards the depth too and gives 0.
        CHECK(interpreter->run(nullptr, 0) == 0);
    }
}

TEST_CASE("interpreter: helpers") {
    run_table({
        {"r1-r5 arrive, the result is in r0", "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncall 1\nexit", {}, 54321},
        {"helper result", "call 2\nexit", {}, 42},
        {"r6-r9 survive a helper call", "r6 = 6\nr9 = 9\ncall 2\nr0 = r6\nr0 += r9\nexit", {}, 15},
        {"helper reads through a stack pointer",
         "r1 = 99\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\ncall 3\nexit",
         {},
         99},
        {"helper writes through a stack pointer",
         "r1 = r10\nr1 += -8\nr2 = 77\ncall 4\nr0 = *(u64 *)(r10 - 8)\nexit",
         {},
         77},
        {"helper reads the context", "call 3\nexit", kBytes, 0x8877665544332211},
        {"unwind helper returning nonzero continues", "r1 = -1\ncall 5\nr0 = 2\nexit", {}, 2},
        {"unwind helper returning 0 stops with r0 = 0", "r1 = 0\ncall 5\nr0 = 2\nexit", {}, 0},
        {"unwind stops from inside a local call", "r1 = 0\ncall f\nr0 = 3\nexit\nf:\ncall 5\nr0 = 4\nexit", {}, 0},
        {"callx through a register holding a helper id", "r2 = 2\ncallx r2\nexit", {}, 42},
        {"callx passes r1-r5", "r8 = 1\nr1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\ncallx r8\nexit", {}, 54321},
    });
}

TEST_CASE("interpreter: HelperTable") {
    HelperTable helpers;
    CHECK((helpers.get(0) == nullptr));
    helpers.set(3, &forty_two);
    CHECK((helpers.get(3) == &forty_two));
    CHECK((helpers.get(2) == nullptr));
    CHECK((helpers.get(100) == nullptr));
    helpers.set(3, &identity);
    CHECK((helpers.get(3) == &identity));
    CHECK_FALSE(helpers.unwind().has_value());
    helpers.set_unwind(3);
    CHECK(helpers.unwind() == 3u);
}

TEST_CASE("interpreter: a helper table without unwind does not stop on 0") {
    HelperTable helpers;
    helpers.set(5, &identity);
    auto interpreter = prepare("r1 = 0\ncall 5\nr0 = 2\nexit", helpers);
    REQUIRE(interpreter.has_value());
    CHECK(interpreter->run(nullptr, 0) == 2);
    const auto checked = interpreter->run_checked(nullptr, 0);
    REQUIRE(checked.has_value());
    CHECK(checked->r0 == 2);
}

// =====================================================================================================================
// Checked mode

TEST_CASE("interpreter: checked context bounds") {
    const std::string prefix = "r0 = 0\nr3 = 1\nr4 = 2\n"; // the faulting instruction is at pc 3
    SUBCASE("last byte is readable") {
        std::vector<std::uint8_t> mem = kBytes;
        const auto result = run_checked_text(prefix + "r0 = *(u8 *)(r1 + 7)\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(result->r0 == 0x88);
    }
    SUBCASE("read one byte past the end") {
        std::vector<std::uint8_t> mem = kBytes;
        check_fault(run_checked_text(prefix + "r0 = *(u32 *)(r1 + 5)\nexit", mem), 3, 4);
    }
    SUBCASE("read one byte below the start") {
        std::vector<std::uint8_t> mem = kBytes;
        check_fault(run_checked_text(prefix + "r0 = *(u16 *)(r1 - 1)\nexit", mem), 3, 2);
    }
    SUBCASE("write one byte past the end") {
        std::vector<std::uint8_t> mem = kBytes;
        check_fault(run_checked_text(prefix + "*(u64 *)(r1 + 1) = r0\nexit", mem), 3, 8);
        CHECK(mem == kBytes);
    }
    SUBCASE("write one byte below the start") {
        std::vector<std::uint8_t> mem = kBytes;
        check_fault(run_checked_text(prefix + "*(u32 *)(r1 - 1) = 0\nexit", mem), 3, 4);
        CHECK(mem == kBytes);
    }
    SUBCASE("atomic one byte past the end") {
        std::vector<std::uint8_t> mem = kBytes;
        check_fault(run_checked_text(prefix + "lock *(u64 *)(r1 + 1) += r3\nexit", mem), 3, 8);
        CHECK(mem == kBytes);
    }
    SUBCASE("no context at all") {
        std::vector<std::uint8_t> mem;
        check_fault(run_checked_text(prefix + "r0 = *(u8 *)(r1 + 0)\nexit", mem), 3, 1);
    }
    SUBCASE("writes reach the caller's buffer") {
        std::vector<std::uint8_t> mem = kBytes;
        const auto result = run_checked_text(prefix + "*(u8 *)(r1 + 7) = 0\nr0 = 1\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(mem[7] == 0);
    }
}

TEST_CASE("interpreter: checked stack bounds") {
    const std::string prefix = "r0 = 0\nr3 = 1\nr4 = 2\n";
    std::vector<std::uint8_t> mem;
    SUBCASE("the whole frame is usable") {
        const auto result =
            run_checked_text("*(u8 *)(r10 - 512) = 5\n*(u8 *)(r10 - 1) = 6\nr0 = *(u8 *)(r10 - 512)\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(result->r0 == 5);
    }
    SUBCASE("read below the frame") {
        check_fault(run_checked_text(prefix + "r0 = *(u64 *)(r10 - 520)\nexit", mem), 3, 8);
    }
    SUBCASE("write one byte below the frame") {
        check_fault(run_checked_text(prefix + "*(u16 *)(r10 - 513) = 1\nexit", mem), 3, 2);
    }
    SUBCASE("write across the top of the frame") {
        check_fault(run_checked_text(prefix + "*(u64 *)(r10 - 4) = r3\nexit", mem), 3, 8);
    }
    SUBCASE("a returned callee's frame is no longer in use") {
        check_fault(run_checked_text("call f\n*(u64 *)(r0 + 0) = 1\nexit\nf:\nr0 = r10\nr0 += -8\nexit", mem), 1, 8);
    }
    SUBCASE("a callee's accesses are checked too") {
        // 1100 bytes below the callee's frame pointer is outside both 512-byte frames in use.
        check_fault(run_checked_text("call f\nexit\nf:\nr0 = 0\n*(u32 *)(r10 - 1100) = 1\nexit", mem), 3, 4);
    }
}

TEST_CASE("interpreter: read-only context") {
    CheckedOptions options;
    options.context_writable = false;
    std::vector<std::uint8_t> mem = kBytes;
    SUBCASE("reads are allowed") {
        const auto result = run_checked_text("r0 = *(u16 *)(r1 + 0)\nexit", mem, options);
        REQUIRE(result.has_value());
        CHECK(result->r0 == 0x2211);
    }
    SUBCASE("a store is refused") {
        check_fault(run_checked_text("r0 = 0\nr3 = 1\nr4 = 2\n*(u16 *)(r1 + 0) = r3\nexit", mem, options), 3, 2);
        CHECK(mem == kBytes);
    }
    SUBCASE("an atomic is refused") {
        check_fault(run_checked_text("r0 = 0\nr3 = 1\nr4 = 2\nlock *(u32 *)(r1 + 0) += w3\nexit", mem, options), 3, 4);
        CHECK(mem == kBytes);
    }
}

TEST_CASE("interpreter: extra memory regions") {
    std::array<std::uint8_t, 16> buffer{};
    for (std::size_t i = 0; i < buffer.size(); ++i) {
        buffer[i] = static_cast<std::uint8_t>(0xa0 + i);
    }
    // The context is the buffer's address.
    std::vector<std::uint8_t> mem(sizeof(std::uintptr_t));
    const auto address = reinterpret_cast<std::uintptr_t>(buffer.data());
    std::memcpy(mem.data(), &address, sizeof address);

    CheckedOptions read_only;
    read_only.regions.push_back(MemoryRegion{buffer.data(), buffer.size(), false});
    CheckedOptions writable;
    writable.regions.push_back(MemoryRegion{buffer.data(), buffer.size(), true});

    SUBCASE("last byte of the region is readable") {
        const auto result = run_checked_text("r2 = *(u64 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 15)\nexit", mem, read_only);
        REQUIRE_MESSAGE(result.has_value(), error_text(result));
        CHECK(result->r0 == 0xaf);
    }
    SUBCASE("just past the region is refused") {
        check_fault(run_checked_text("r2 = *(u64 *)(r1 + 0)\nr0 = *(u16 *)(r2 + 15)\nexit", mem, read_only), 1, 2);
    }
    SUBCASE("without the region it is refused") {
        check_fault(run_checked_text("r2 = *(u64 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit", mem), 1, 1);
    }
    SUBCASE("a read-only region refuses a store") {
        check_fault(run_checked_text("r2 = *(u64 *)(r1 + 0)\nr3 = 0x5a\n*(u32 *)(r2 + 4) = r3\nexit", mem, read_only),
                    2, 4);
        CHECK(buffer[4] == 0xa4);
    }
    SUBCASE("a writable region accepts a store") {
        const auto result =
            run_checked_text("r2 = *(u64 *)(r1 + 0)\nr3 = 0x5a\n*(u8 *)(r2 + 4) = r3\nr0 = 1\nexit", mem, writable);
        REQUIRE_MESSAGE(result.has_value(), error_text(result));
        CHECK(buffer[4] == 0x5a);
    }
}

TEST_CASE("interpreter: instruction budget and count") {
    std::vector<std::uint8_t> mem;
    CheckedOptions budget;
    budget.instruction_budget = 1000;
    SUBCASE("an infinite loop stops") {
        const auto result = run_checked_text("r0 = 0\ngoto -1", mem, budget);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == ErrorKind::runtime);
    }
    SUBCASE("a bounded loop within the budget runs") {
        const auto result =
            run_checked_text("r0 = 0\nr1 = 10\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit", mem, budget);
        REQUIRE_MESSAGE(result.has_value(), error_text(result));
        CHECK(result->r0 == 55);
        CHECK(result->instructions == 33); // 2 + 10 * 3 + 1
    }
    SUBCASE("straight line") {
        const auto result = run_checked_text("r0 = 1\nr0 += 2\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(result->r0 == 3);
        CHECK(result->instructions == 3);
    }
    SUBCASE("a helper call counts once") {
        const auto result = run_checked_text("r1 = 1\ncall 2\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(result->instructions == 3);
    }
    SUBCASE("a local call counts its callee") {
        const auto result = run_checked_text("call f\nexit\nf:\nr0 = 1\nexit", mem);
        REQUIRE(result.has_value());
        CHECK(result->instructions == 4);
    }
}

TEST_CASE("interpreter: callx to an unknown helper") {
    auto interpreter = prepare("r0 = 0\nr2 = 99\ncallx r2\nexit");
    REQUIRE(interpreter.has_value());
    const auto checked = interpreter->run_checked(nullptr, 0);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().kind == ErrorKind::runtime);
    REQUIRE(checked.error().pc.has_value());
    CHECK(*checked.error().pc == 2);
    CHECK(interpreter->run(nullptr, 0) == 0);
}

// =====================================================================================================================
// Interpreter::create

TEST_CASE("interpreter: create refuses an unregistered helper") {
    const auto program = isa::assemble("r0 = 0\nr1 = 1\ncall 77\nexit");
    REQUIRE(program.has_value());
    const auto interpreter = Interpreter::create(program.value(), standard_helpers());
    REQUIRE_FALSE(interpreter.has_value());
    REQUIRE(interpreter.error().pc.has_value());
    CHECK(*interpreter.error().pc == 2);
    CHECK(contains(interpreter.error().message, "2"));
}

TEST_CASE("interpreter: create refuses unresolved lddw pseudo sources") {
    for (int source = 1; source <= 6; ++source) {
        CAPTURE(source);
        if (source == static_cast<int>(isa::LddwSource::code_address)) {
            continue; // a callback's address: below
        }
        const std::vector<isa::Instruction> program = {
            isa::make(0xb7, 0, 0, 0, 0),      // r0 = 0
            isa::make(0x18, 1, source, 0, 1), // r1 = <pseudo> ll (for code_address: the exit)
            isa::make(0x00, 0, 0, 0, 0),
            isa::make(0x95), // exit
        };
        REQUIRE(isa::validate(program).has_value());
        const auto interpreter = Interpreter::create(program);
        REQUIRE_FALSE(interpreter.has_value());
        REQUIRE(interpreter.error().pc.has_value());
        CHECK(*interpreter.error().pc == 1);
    }
}

// A code address is what callbacks run from: the interpreter loads it as the instruction index it names.
TEST_CASE("interpreter: a code address loads as its instruction index") {
    const std::vector<isa::Instruction> program = {
        isa::make(0x18, 0, static_cast<std::uint8_t>(isa::LddwSource::code_address), 0,
                  1), // r0 = code(2) ll: 0 + 1 + 1
        isa::make(0x00, 0, 0, 0, 0),
        isa::make(0x95), // exit
        isa::make(0x95), // exit
    };
    REQUIRE(isa::validate(program).has_value());
    const auto interpreter = Interpreter::create(program);
    REQUIRE(interpreter.has_value());
    CHECK(interpreter->run(nullptr, 0) == 2);
}

TEST_CASE("interpreter: create validates the program") {
    const std::vector<isa::Instruction> no_exit = {isa::make(0xb7, 0, 0, 0, 0)};
    CHECK_FALSE(Interpreter::create(no_exit).has_value());
    const std::vector<isa::Instruction> empty;
    CHECK_FALSE(Interpreter::create(empty).has_value());
}

TEST_CASE("interpreter: program, kind and copies") {
    const auto program = isa::assemble("r0 = 0x1122334455667788 ll\nexit");
    REQUIRE(program.has_value());
    REQUIRE(program->size() == 3);
    const auto interpreter = Interpreter::create(program.value());
    REQUIRE(interpreter.has_value());
    CHECK(interpreter->kind() == embpf::exec::EngineKind::interpreter);
    const auto code = interpreter->program();
    CHECK(std::vector<isa::Instruction>(code.begin(), code.end()) == program.value());
    const Interpreter copy = interpreter.value();
    const embpf::exec::Executable& executable = copy;
    CHECK(executable.run(nullptr, 0) == 0x1122334455667788);
}

// =====================================================================================================================
// Legacy packet loads (LD_ABS, LD_IND)

namespace {

struct PacketContext {
    const std::uint8_t* data;
    const std::uint8_t* data_end;
};

constexpr embpf::exec::PacketLayout kPacketLayout{0, 8, 8};

// Runs `text` on `packet` both ways (fast and checked, threaded and portable) and checks that all agree.
std::uint64_t run_on_packet(std::string_view text, const std::vector<std::uint8_t>& packet) {
    const auto program = isa::assemble(text);
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    PacketContext ctx{packet.data(), packet.data() + packet.size()};
    std::optional<std::uint64_t> result;
    for (bool portable : {false, true}) {
        const auto interpreter =
            Interpreter::create(*program, {}, {.portable_dispatch = portable, .packet = kPacketLayout});
        REQUIRE_MESSAGE(interpreter.has_value(), (interpreter ? "" : interpreter.error().message));
        const std::uint64_t fast = interpreter->run(&ctx, sizeof ctx);
        CheckedOptions options;
        options.regions.push_back({packet.data(), packet.size(), false});
        const auto checked = interpreter->run_checked(&ctx, sizeof ctx, options);
        REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
        CHECK(checked->r0 == fast);
        if (result) {
            CHECK(*result == fast);
        }
        result = fast;
    }
    return *result;
}

} // namespace

TEST_CASE("interpreter: legacy packet loads read the packet in network byte order") {
    const std::vector<std::uint8_t> packet = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    CHECK(run_on_packet("r6 = r1\nr0 = *(u8 *)skb[1]\nexit", packet) == 0x11);
    CHECK(run_on_packet("r6 = r1\nr0 = *(u16 *)skb[2]\nexit", packet) == 0x2233);
    CHECK(run_on_packet("r6 = r1\nr0 = *(u32 *)skb[4]\nexit", packet) == 0x44556677);
    CHECK(run_on_packet("r6 = r1\nr2 = 3\nr0 = *(u16 *)skb[r2 + 2]\nexit", packet) == 0x5566);
    // LD_IND adds src and imm in 32 bits: 0xffffffff + 2 is 1.
    CHECK(run_on_packet("r6 = r1\nr2 = 0xffffffff ll\nr0 = *(u8 *)skb[r2 + 2]\nexit", packet) == 0x11);
}

TEST_CASE("interpreter: a legacy packet load outside the packet ends the program with r0 = 0") {
    const std::vector<std::uint8_t> packet = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(run_on_packet("r6 = r1\nr0 = *(u8 *)skb[7]\nexit", packet) == 8);
    CHECK(run_on_packet("r6 = r1\nr0 = *(u8 *)skb[8]\nr0 = 99\nexit", packet) == 0);
    CHECK(run_on_packet("r6 = r1\nr0 = *(u32 *)skb[5]\nr0 = 99\nexit", packet) == 0);
    CHECK(run_on_packet("r6 = r1\nr0 = *(u8 *)skb[-1]\nr0 = 99\nexit", packet) == 0);
    CHECK(run_on_packet("r6 = r1\nr2 = -1\nr0 = *(u8 *)skb[r2]\nr0 = 99\nexit", packet) == 0);
    CHECK(run_on_packet("r6 = r1\nr2 = 0x80000000 ll\nr0 = *(u8 *)skb[r2]\nr0 = 99\nexit", packet) == 0);
    // From a subprogram, the whole program ends.
    CHECK(run_on_packet("r6 = r1\ncall pc+2\nr0 = 99\nexit\nr0 = *(u16 *)skb[100]\nr0 = 7\nexit", packet) == 0);
    CHECK(run_on_packet("r6 = r1\ncall pc+2\nr0 += 90\nexit\nr0 = *(u8 *)skb[6]\nexit", packet) == 97);
    // An empty packet has no byte to read.
    CHECK(run_on_packet("r6 = r1\nr0 = *(u8 *)skb[0]\nr0 = 99\nexit", {}) == 0);
}

TEST_CASE("interpreter: legacy packet loads need a packet layout, and the checked run checks r6") {
    const auto program = isa::assemble("r6 = r1\nr0 = *(u8 *)skb[0]\nexit");
    REQUIRE(program.has_value());
    const auto refused = Interpreter::create(*program);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "instruction 1: a legacy packet load (LD_ABS/LD_IND) needs a program "
                                            "type with a data range"));
    // An unverified program with anything in r6: the checked run refuses to read a context field that is not there.
    const auto wild = isa::assemble("r6 = 0x10000 ll\nr0 = *(u8 *)skb[0]\nexit");
    REQUIRE(wild.has_value());
    const auto interpreter = Interpreter::create(*wild, {}, {.packet = kPacketLayout});
    REQUIRE(interpreter.has_value());
    const auto checked = interpreter->run_checked(nullptr, 0);
    REQUIRE_FALSE(checked.has_value());
    CHECK(contains(checked.error().message, "pc 2: out-of-bounds read of 8 bytes at 0x10000"));
}

// Probe loads (InterpreterOptions::probe_loads): a verified tracing program's loads through the host addresses its
// hook hands over read as probe_read does, and load 0 where the process cannot read.
TEST_CASE("interpreter: probe loads read the host and load 0 where it cannot be read") {
    struct Object {
        std::uint32_t a = 0;
        std::int16_t b = 0;
        std::uint64_t next = 0;
    };
    Object inner{0xDEADBEEF, -2, 0};
    Object outer{7, 3, reinterpret_cast<std::uintptr_t>(&inner)};
    // ctx[0]: an object's address; the result sums outer.a, inner.a, (s64)inner.b and ctx[1]'s first byte.
    auto program = isa::assemble(R"(
        r6 = *(u64 *)(r1 + 0)
        r0 = *(u32 *)(r6 + 0)
        r7 = *(u64 *)(r6 + 8)
        r2 = *(u32 *)(r7 + 0)
        r0 += r2
        r2 = *(s16 *)(r7 + 4)
        r0 += r2
        r8 = *(u64 *)(r1 + 8)
        r2 = *(u8 *)(r8 + 0)
        r0 += r2
        exit)");
    REQUIRE(program.has_value());
    InterpreterOptions options;
    options.probe_loads = {1, 2, 3, 5, 8};
    auto interpreter = Interpreter::create(*program, {}, options);
    REQUIRE(interpreter.has_value());
    const std::uint8_t byte = 0x40;
    std::array<std::uint64_t, 2> ctx{reinterpret_cast<std::uintptr_t>(&outer), reinterpret_cast<std::uintptr_t>(&byte)};
    const std::uint64_t expected = 7 + 0xDEADBEEFULL - 2 + 0x40;
    CHECK(interpreter->run(ctx.data(), sizeof ctx) == expected);
    // Checked runs read them as probes too, not as accesses confined to the run's regions.
    auto checked = interpreter->run_checked(ctx.data(), sizeof ctx);
    REQUIRE(checked.has_value());
    CHECK(checked->r0 == expected);
    // Each counts for a system call in a checked run's budget.
    CHECK(checked->instructions == 11 + 5 * embpf::platform::kProbeLoadCost);
    CheckedOptions tight;
    tight.instruction_budget = 11 + 5 * embpf::platform::kProbeLoadCost - 1;
    CHECK_FALSE(interpreter->run_checked(ctx.data(), sizeof ctx, tight).has_value());
    // Null and unmapped addresses load 0, in both kinds of run.
    ctx = {0, 8};
    CHECK(interpreter->run(ctx.data(), sizeof ctx) == 0);
    checked = interpreter->run_checked(ctx.data(), sizeof ctx);
    REQUIRE(checked.has_value());
    CHECK(checked->r0 == 0);
    outer.next = 0xFFFF'FFFF'FFFF'0000ULL; // a kernel-half address: never readable by the process
    ctx = {reinterpret_cast<std::uintptr_t>(&outer), reinterpret_cast<std::uintptr_t>(&byte)};
    CHECK(interpreter->run(ctx.data(), sizeof ctx) == 7 + 0x40);
    // Without the option the same loads are ordinary, and a checked run stops at the first one outside its regions.
    auto plain = Interpreter::create(*program);
    REQUIRE(plain.has_value());
    CHECK_FALSE(plain->run_checked(ctx.data(), sizeof ctx).has_value());
    // Only loads may be probes, and only instructions of the program.
    options.probe_loads = {4};
    CHECK_FALSE(Interpreter::create(*program, {}, options).has_value());
    options.probe_loads = {11};
    CHECK_FALSE(Interpreter::create(*program, {}, options).has_value());
}

// `call kfunc 0`, an absent weak kernel function (the loader's), ends a checked run with an error and a verified
// run (which never reaches it) with 0; another kernel function is refused when the program is created.
TEST_CASE("interpreter: a call to an absent weak kernel function stops the run") {
    auto program = isa::assemble("r0 = 5\ncall kfunc 0\nr0 = 1\nexit");
    REQUIRE(program.has_value());
    auto interpreter = Interpreter::create(*program);
    REQUIRE(interpreter.has_value());
    auto checked = interpreter->run_checked(nullptr, 0);
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().message.find("call to a weak kernel function the platform does not provide") !=
          std::string::npos);
    CHECK(interpreter->run(nullptr, 0) == 0);
    auto other = isa::assemble("call kfunc 12\nexit");
    REQUIRE(other.has_value());
    CHECK_FALSE(Interpreter::create(*other).has_value());
}
