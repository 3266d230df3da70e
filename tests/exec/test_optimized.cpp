// The optimizing JIT beyond what it shares with the baseline JIT's tests (test_jit.cpp runs every program there on
// it too): what it refuses, that LLVM's passes ran, its optimization levels, compilation from several threads, and
// the memory of retired programs. A build without LLVM checks that it says so.
#include "../api/request_hook.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/runtime/epoch.hpp"
#include "embpf/runtime/helpers.hpp"
#include "embpf/runtime/map.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace isa = embpf::isa;
using embpf::ErrorKind;
using embpf::exec::Interpreter;
using embpf::exec::OptimizedJit;

const bool kNoOptimizer = !embpf::exec::optimizer_available();

std::vector<isa::Instruction> assemble(const std::string& text) {
    auto program = isa::assemble(text);
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    return std::move(program).value();
}

// Sums 1..n for n in the context's first word, in a loop, with a local call and the stack.
const char* const kSum = R"(
    r6 = *(u64 *)(r1 + 0)
    r7 = 0
    r8 = 0
loop:
    if r7 >= r6 goto done
    r7 += 1
    r1 = r7
    call twice
    r0 >>= 1
    r8 += r0
    goto loop
done:
    *(u64 *)(r10 - 8) = r8
    r0 = *(u64 *)(r10 - 8)
    exit
twice:
    r0 = r1
    r0 <<= 1
    exit)";

} // namespace

TEST_SUITE_BEGIN("exec optimized");

TEST_CASE("exec optimized: a build without LLVM says so" * doctest::skip(!kNoOptimizer)) {
    auto optimized = OptimizedJit::create(assemble("r0 = 1\nexit\n"));
    REQUIRE_FALSE(optimized.has_value());
    CHECK(optimized.error().kind == ErrorKind::unsupported);
    CHECK(optimized.error().message.find("LLVM") != std::string::npos);
}

TEST_CASE("exec optimized: every level runs the program as the interpreter does" * doctest::skip(kNoOptimizer)) {
    const auto code = assemble(kSum);
    const Interpreter interpreter = Interpreter::create(code).value();
    for (unsigned level = 0; level <= 3; ++level) {
        CAPTURE(level);
        auto optimized = OptimizedJit::create(code, {}, {.level = level});
        REQUIRE_MESSAGE(optimized.has_value(), (optimized ? "" : optimized.error().message));
        CHECK(optimized->kind() == embpf::exec::EngineKind::optimized);
        CHECK(optimized->program().size() == code.size());
        for (const std::uint64_t n : {0ULL, 1ULL, 2ULL, 100ULL, 1000ULL}) {
            std::uint64_t ctx = n;
            const std::uint64_t expected = interpreter.run(&ctx, sizeof ctx);
            CHECK(expected == n * (n + 1) / 2);
            CHECK(optimized->run(&ctx, sizeof ctx) == expected);
        }
    }
    auto refused = OptimizedJit::create(code, {}, {.level = 4});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().kind == ErrorKind::invalid_input);
}

TEST_CASE("exec optimized: LLVM's passes ran: registers and the stack became values" * doctest::skip(kNoOptimizer)) {
    // At O0 the registers are stack slots (allocas); at O2 mem2reg and SROA made them values, the local call was
    // inlined, and the stack's store and load were forwarded.
    const auto code = assemble(kSum);
    auto plain = OptimizedJit::create(code, {}, {.level = 0, .keep_ir = true});
    auto optimized = OptimizedJit::create(code, {}, {.level = 2, .keep_ir = true});
    REQUIRE(plain.has_value());
    REQUIRE(optimized.has_value());
    const std::string before(plain->ir());
    const std::string after(optimized->ir());
    CHECK(before.find("alloca i64") != std::string::npos);
    CHECK(after.find("alloca") == std::string::npos);
    CHECK(after.find("call i64 @embpf_") == std::string::npos); // every function inlined into the entry
    CHECK(after.find("define i64 @embpf_") != std::string::npos);
    auto no_ir = OptimizedJit::create(code);
    REQUIRE(no_ir.has_value());
    CHECK(no_ir->ir().empty());
}

TEST_CASE("exec optimized: what it refuses, with a reason" * doctest::skip(kNoOptimizer)) {
    struct Row {
        const char* name;
        const char* text;
        ErrorKind kind;
        const char* message;
    };
    const Row rows[] = {
        {"a jump into another function", "call f\ngoto +2\nexit\nf:\nr0 = 1\nexit\n", ErrorKind::unsupported,
         "a jump out of its function"},
        {"a function running into the next", "call f\ncall g\nexit\nf:\nr0 = 1\ng:\nr0 += 1\nexit\n",
         ErrorKind::unsupported, "runs past its last instruction"},
        {"an unknown helper", "call 77\nexit\n", ErrorKind::invalid_input, "unknown helper 77"},
        {"a packet load without a data range", "r6 = r1\nr0 = *(u8 *)skb[0]\nexit\n", ErrorKind::invalid_input,
         "data range"},
    };
    for (const Row& row : rows) {
        const std::string name = row.name;
        CAPTURE(name);
        auto code = isa::assemble(row.text);
        REQUIRE_MESSAGE(code.has_value(), (code ? "" : code.error().message));
        auto optimized = OptimizedJit::create(*code);
        REQUIRE_FALSE(optimized.has_value());
        CHECK(optimized.error().kind == row.kind);
        CHECK_MESSAGE(optimized.error().message.find(row.message) != std::string::npos, optimized.error().message);
    }
    // A program past the size LLVM compiles in reasonable time and memory.
    std::vector<isa::Instruction> large(embpf::exec::kMaxOptimizedInstructions, isa::make(0xb7, 0, 0, 0, 1));
    large.push_back(isa::make(isa::op::EXIT_OP));
    auto too_large = OptimizedJit::create(large);
    REQUIRE_FALSE(too_large.has_value());
    CHECK(too_large.error().kind == ErrorKind::unsupported);
    large.erase(large.begin());
    CHECK(OptimizedJit::create(large).has_value());
    // Attack round 53: programs whose compilation took LLVM seconds to minutes. Too many jumps, and (after the IR
    // passes, before code generation) too many SSA values live across too many blocks: stack slots kept alive across
    // a few hundred random forward branches.
    std::string chain = "r0 = *(u32 *)(r1 + 0)\n";
    for (std::size_t i = 0; i <= embpf::exec::kMaxOptimizedJumps; ++i) {
        chain += "if r0 > " + std::to_string(i) + " goto +1\nr2 += 1\n";
    }
    chain += "r0 = r2\nexit\n";
    auto chained = OptimizedJit::create(assemble(chain));
    REQUIRE_FALSE(chained.has_value());
    CHECK(chained.error().kind == ErrorKind::unsupported);
    std::string tangled = "r0 = *(u32 *)(r1 + 0)\n";
    for (int r = 2; r <= 9; ++r) {
        tangled += "r" + std::to_string(r) + " = *(u32 *)(r1 + " + std::to_string(4 * r) + ")\n";
    }
    for (int slot = 8; slot <= 512; slot += 8) {
        tangled += "*(u64 *)(r10 - " + std::to_string(slot) + ") = r0\n";
    }
    std::uint64_t seed = 2;
    auto next = [&seed](std::uint64_t bound) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % bound;
    };
    constexpr int kBranches = 500;
    const int registers[] = {0, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < kBranches; ++i) {
        const int d = registers[next(9)];
        tangled += "L" + std::to_string(i) + ":\nr" + std::to_string(d) + " += r" + std::to_string(registers[next(9)]) +
                   "\n*(u64 *)(r10 - " + std::to_string(8 * (1 + next(64))) + ") = r" + std::to_string(d) + "\nr" +
                   std::to_string(registers[next(3)]) + " = *(u64 *)(r10 - " + std::to_string(8 * (1 + next(64))) +
                   ")\nif r" + std::to_string(registers[next(3)]) + " > r" + std::to_string(4 + next(3)) + " goto L" +
                   std::to_string(i + 1 + static_cast<int>(next(static_cast<std::uint64_t>(kBranches - i)))) + "\n";
    }
    tangled += "L" + std::to_string(kBranches) + ":\nexit\n";
    auto complex = OptimizedJit::create(assemble(tangled));
    REQUIRE_FALSE(complex.has_value());
    CHECK(complex.error().kind == ErrorKind::unsupported);
    CHECK_MESSAGE(complex.error().message.find("too complex") != std::string::npos, complex.error().message);
    // A jump out of a function lands in another one: the program is valid, and the interpreter runs it.
    const auto crossing = assemble("call f\ngoto +2\nexit\nf:\nr0 = 1\nexit\n");
    const Interpreter interpreter = Interpreter::create(crossing).value();
    CHECK(interpreter.run(nullptr) == 1);
}

TEST_CASE("exec optimized: compilations on several threads, programs released as they go" *
          doctest::skip(kNoOptimizer)) {
    // Each thread compiles, runs and drops programs of its own; the compilations take turns inside, and the code of
    // a dropped program is released while others compile.
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&wrong, t] {
            for (int i = 0; i < 8; ++i) {
                const std::string text = "r0 = *(u64 *)(r1 + 0)\nr0 *= " + std::to_string(t * 100 + i + 1) + "\nexit\n";
                auto code = isa::assemble(text);
                if (!code) {
                    ++wrong;
                    continue;
                }
                auto optimized = OptimizedJit::create(*code);
                std::uint64_t ctx = 3;
                if (!optimized ||
                    optimized->run(&ctx, sizeof ctx) != 3ULL * static_cast<std::uint64_t>(t * 100 + i + 1)) {
                    ++wrong;
                }
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    CHECK(wrong == 0);
}

TEST_CASE("exec optimized: copies share the code, which outlives the first handle" * doctest::skip(kNoOptimizer)) {
    std::optional<OptimizedJit> copy;
    {
        auto optimized = OptimizedJit::create(assemble("r0 = *(u64 *)(r1 + 0)\nr0 += 7\nexit\n"));
        REQUIRE(optimized.has_value());
        copy.emplace(*optimized);
    }
    std::uint64_t ctx = 35;
    CHECK(copy->run(&ctx, sizeof ctx) == 42);
}

namespace {

// A lookup in an array of the program's, or in a hash when the context's second word is not 0, of the key in the
// context's first word (its low 4 bytes, as the map reads a key); the value found, or 12345 on a miss.
std::string lookup_program(const embpf::runtime::Map& array, const embpf::runtime::Map* hash) {
    const auto address = [](const embpf::runtime::Map& map) {
        return std::to_string(reinterpret_cast<std::uintptr_t>(&map));
    };
    std::string text = "r6 = *(u64 *)(r1 + 0)\n"
                       "r7 = *(u64 *)(r1 + 8)\n"
                       "*(u64 *)(r10 - 8) = r6\n"
                       "r2 = r10\n"
                       "r2 += -8\n"
                       "r1 = " +
                       address(array) + " ll\n";
    if (hash != nullptr) {
        text += "if r7 == 0 goto lookup\n"
                "r1 = " +
                address(*hash) + " ll\n";
    }
    text += "lookup:\n"
            "call 1\n"
            "if r0 == 0 goto miss\n"
            "r0 = *(u64 *)(r0 + 0)\n"
            "exit\n"
            "miss:\n"
            "r0 = 12345\n"
            "exit\n";
    return text;
}

} // namespace

TEST_CASE("exec optimized: lookups in arrays computed in the code, in other maps through the helper" *
          doctest::skip(kNoOptimizer)) {
    namespace runtime = embpf::runtime;
    using embpf::platform::MapKind;
    const auto make = [](const char* name, MapKind kind, std::uint32_t value_size, std::uint32_t entries) {
        runtime::MapConfig config;
        config.name = name;
        config.kind = kind;
        config.key_size = 4;
        config.value_size = value_size;
        config.max_entries = entries;
        auto map = runtime::create_map(config);
        REQUIRE_MESSAGE(map.has_value(), (map ? "" : map.error().message));
        return std::move(map).value();
    };
    const auto array = make("array", MapKind::array, 12, 5);
    const auto hash = make("hash", MapKind::hash, 8, 8);
    const auto per_cpu = make("percpu", MapKind::percpu_array, 8, 4);
    for (std::uint32_t key = 0; key < 5; ++key) {
        std::uint8_t value[12] = {};
        const std::uint64_t stored = 1000 + key;
        std::memcpy(value, &stored, 8);
        REQUIRE(array->host_update({reinterpret_cast<const std::uint8_t*>(&key), 4}, value, 0).has_value());
        if (key % 2 == 0) {
            const std::uint64_t hashed = 2000 + key;
            REQUIRE(hash->host_update({reinterpret_cast<const std::uint8_t*>(&key), 4},
                                      {reinterpret_cast<const std::uint8_t*>(&hashed), 8}, 0)
                        .has_value());
        }
    }
    REQUIRE_FALSE(hash->inline_array().has_value());
    REQUIRE_FALSE(per_cpu->inline_array().has_value());
    const std::optional<embpf::exec::InlineArray> inline_array = array->inline_array();
    REQUIRE(inline_array.has_value());
    CHECK(inline_array->map == reinterpret_cast<std::uintptr_t>(array.get()));
    CHECK(inline_array->max_entries == 5);
    CHECK(inline_array->stride == 16); // values are 8-byte aligned

    embpf::exec::HelperTable helpers;
    helpers.set(1, runtime::find_helper("map_lookup_elem"));
    const embpf::exec::OptimizerOptions options{
        .keep_ir = true, .lookup_helper = 1, .arrays = {*inline_array, *inline_array}}; // given twice: one serves

    // Only the array: LLVM knows the map, and no call is left.
    const auto array_only = assemble(lookup_program(*array, nullptr));
    auto folded = OptimizedJit::create(array_only, helpers, options);
    REQUIRE_MESSAGE(folded.has_value(), (folded ? "" : folded.error().message));
    CHECK(std::string(folded->ir()).find("call ") == std::string::npos);
    auto called = OptimizedJit::create(array_only, helpers, {.keep_ir = true});
    REQUIRE(called.has_value());
    CHECK(std::string(called->ir()).find("call ") != std::string::npos);

    // The array or the hash, chosen at run time: both paths as the interpreter runs them.
    const auto either = assemble(lookup_program(*array, hash.get()));
    auto optimized = OptimizedJit::create(either, helpers, options);
    REQUIRE(optimized.has_value());
    const Interpreter interpreter = Interpreter::create(either, helpers).value();
    const runtime::EpochGuard guard;
    std::uint64_t hits = 0;
    for (const std::uint64_t key : {0ULL, 1ULL, 2ULL, 4ULL, 5ULL, 6ULL, 0xFFFFFFFFULL, 0x100000003ULL}) {
        for (const std::uint64_t which : {0ULL, 1ULL}) {
            std::uint64_t ctx[2] = {key, which};
            const std::uint64_t expected = interpreter.run(ctx, sizeof ctx);
            CAPTURE(key);
            CAPTURE(which);
            CHECK(optimized->run(ctx, sizeof ctx) == expected);
            if (which == 0) {
                CHECK(folded->run(ctx, sizeof ctx) == expected);
            }
            hits += expected != 12345 ? 1 : 0;
        }
    }
    CHECK(hits == 8); // the array's keys 0, 1, 2, 4 and 3 (the low half of 0x100000003); the hash's 0, 2 and 4
    // A value the program's code found is the map's own: a host update shows through it.
    const std::uint32_t key = 4;
    const std::uint64_t updated = 77;
    std::uint8_t value[12] = {};
    std::memcpy(value, &updated, 8);
    REQUIRE(array->host_update({reinterpret_cast<const std::uint8_t*>(&key), 4}, value, 0).has_value());
    std::uint64_t ctx[2] = {4, 0};
    CHECK(optimized->run(ctx, sizeof ctx) == 77);

    // Inline arrays need a plain lookup helper.
    auto no_helper = OptimizedJit::create(either, helpers, {.arrays = {*inline_array}});
    REQUIRE_FALSE(no_helper.has_value());
    CHECK(no_helper.error().kind == ErrorKind::invalid_input);
    auto unknown = OptimizedJit::create(either, helpers, {.lookup_helper = 9, .arrays = {*inline_array}});
    REQUIRE_FALSE(unknown.has_value());
}

TEST_CASE("exec optimized: with the verifier's facts, stack pointers address the frame, whose slots become values" *
          doctest::skip(kNoOptimizer)) {
    // A sum through a pointer to the stack that never leaves the program: with the facts, LLVM sees the frame's
    // slots as the frame's and keeps them in registers; without, the pointer is an integer it cannot follow.
    const auto code = assemble(R"(
        r6 = *(u32 *)(r1 + 0)
        r2 = r10
        r2 += -16
        *(u64 *)(r2 + 0) = r6
        *(u64 *)(r2 + 8) = 5
        r3 = *(u64 *)(r2 + 8)
        r0 = *(u64 *)(r10 - 16)
        r0 += r3
        exit)");
    embpf::verifier::ProgramInput input;
    input.name = "stack";
    input.section = "socket";
    input.instructions = code;
    const embpf::platform::Platform& platform = embpf::platform::linux();
    const embpf::platform::ProgramType* type = platform.program_type("socket_filter");
    REQUIRE(type != nullptr);
    const embpf::verifier::Report report = embpf::verifier::verify(input, platform, *type, {.facts = true});
    REQUIRE_MESSAGE(report.verified, report.text());
    auto with_facts = OptimizedJit::create(code, {}, {.keep_ir = true, .facts = report.facts});
    auto without = OptimizedJit::create(code, {}, {.keep_ir = true});
    REQUIRE(with_facts.has_value());
    REQUIRE(without.has_value());
    CHECK(std::string(with_facts->ir()).find("alloca") == std::string::npos);
    CHECK(std::string(without->ir()).find("alloca") != std::string::npos);
    std::array<std::uint64_t, 32> ctx{37}; // __sk_buff's len at 0
    CHECK(with_facts->run(ctx.data(), sizeof ctx) == 42);
    CHECK(without->run(ctx.data(), sizeof ctx) == 42);

    // Facts of another program's length are refused.
    auto mismatched = OptimizedJit::create(code, {}, {.facts = std::span(report.facts).first(3)});
    REQUIRE_FALSE(mismatched.has_value());
    CHECK(mismatched.error().kind == ErrorKind::invalid_input);
}

namespace {

// The code an engine runs of `code` verified as a program of `platform`'s `type`, with the facts of it.
struct Verified {
    std::vector<isa::Instruction> code;
    std::vector<embpf::verifier::InstructionFacts> facts;
};
Verified verified(const std::vector<isa::Instruction>& code, const char* type_name,
                  const embpf::platform::Platform& platform = embpf::platform::linux()) {
    embpf::verifier::ProgramInput input;
    input.name = "facts";
    input.section = type_name;
    input.instructions = code;
    const embpf::platform::ProgramType* type = platform.program_type(type_name);
    REQUIRE(type != nullptr);
    const embpf::verifier::Report report = embpf::verifier::verify(input, platform, *type, {.facts = true});
    REQUIRE_MESSAGE(report.verified, report.text());
    return {embpf::verifier::rewrite_context_loads(code, report), report.facts};
}

std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++n;
    }
    return n;
}

} // namespace

TEST_CASE("exec optimized: with the facts, a store to the packet leaves what was read of the context known" *
          doctest::skip(kNoOptimizer)) {
    // data_end read, a packet byte written, data_end read again: the packet and the context are regions apart, so
    // the second read is the first's value. Without the facts, the store may have changed it.
    const auto code = assemble(R"(
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 1
        if r4 > r3 goto +5
        *(u8 *)(r2 + 0) = 7
        r3 = *(u32 *)(r1 + 4)
        r0 = r3
        r0 -= r2
        exit
        r0 = 0
        exit)");
    const Verified program = verified(code, "xdp");
    auto with_facts = OptimizedJit::create(program.code, {}, {.keep_ir = true, .facts = program.facts});
    auto without = OptimizedJit::create(program.code, {}, {.keep_ir = true});
    REQUIRE(with_facts.has_value());
    REQUIRE(without.has_value());
    const std::string with_ir(with_facts->ir());
    const std::string without_ir(without->ir());
    // The loads left: data and data_end once each with the facts; data_end twice without.
    CHECK(occurrences(with_ir, "= load i64") == 2);
    CHECK(occurrences(without_ir, "= load i64") == 3);
    CHECK(with_ir.find("!alias.scope") != std::string::npos);

    const embpf::platform::ProgramType* xdp = embpf::platform::linux().program_type("xdp");
    std::vector<std::uint8_t> ctx(xdp->context.host_size(), 0);
    std::array<std::uint8_t, 20> packet{};
    REQUIRE(embpf::platform::set_data_range(xdp->context, ctx, packet.data(), packet.data() + packet.size()));
    CHECK(with_facts->run(ctx.data(), ctx.size()) == 20);
    CHECK(packet[0] == 7);
    packet[0] = 0;
    CHECK(without->run(ctx.data(), ctx.size()) == 20);
    CHECK(packet[0] == 7);
    REQUIRE(embpf::platform::set_data_range(xdp->context, ctx, packet.data(), packet.data()));
    CHECK(with_facts->run(ctx.data(), ctx.size()) == 0);
}

TEST_CASE("exec optimized: with the facts, LLVM knows the range of what a load reads" * doctest::skip(kNoOptimizer)) {
    // The request hook's path_len is at most 4,096 (its region's bound, which every entry checks): shifted right by
    // 13 it is 0, which LLVM knows from the load's range with the facts and cannot know without.
    const auto code = assemble(R"(
        r0 = *(u32 *)(r1 + 8)
        r0 >>= 13
        exit)");
    const Verified program = verified(code, "request", testing_hooks::request_platform());
    auto with_facts = OptimizedJit::create(program.code, {}, {.keep_ir = true, .facts = program.facts});
    auto without = OptimizedJit::create(program.code, {}, {.keep_ir = true});
    REQUIRE(with_facts.has_value());
    REQUIRE(without.has_value());
    CHECK(std::string(with_facts->ir()).find("lshr") == std::string::npos);
    CHECK(std::string(with_facts->ir()).find("ret i64 0") != std::string::npos);
    CHECK(std::string(without->ir()).find("lshr") != std::string::npos);
    testing_hooks::Request request = testing_hooks::empty_request();
    request.path_len = 4096;
    CHECK(with_facts->run(&request, sizeof request) == 0);
    CHECK(without->run(&request, sizeof request) == 0);
}

TEST_CASE("exec optimized: with the facts, loop heads assume their counters' ranges and null checks of stack "
          "pointers are settled" *
          doctest::skip(kNoOptimizer)) {
    // A loop of a bounded count, and a check that a stack pointer is null: at level 0 (no pass that could remove
    // either) the IR with the facts assumes the counter's range at the loop's head and has no compare for the null
    // check.
    const auto code = assemble(R"(
        r6 = *(u32 *)(r1 + 0)
        r6 &= 15
        r0 = 0
        r7 = 0
        r0 += r7
        r7 += 1
        if r7 < r6 goto -3
        r2 = r10
        r2 += -8
        if r2 == 0 goto +1
        exit
        r0 = 99
        exit)");
    const Verified program = verified(code, "socket_filter");
    auto with_facts = OptimizedJit::create(program.code, {}, {.level = 0, .keep_ir = true, .facts = program.facts});
    auto without = OptimizedJit::create(program.code, {}, {.level = 0, .keep_ir = true});
    REQUIRE(with_facts.has_value());
    REQUIRE(without.has_value());
    const std::string with_ir(with_facts->ir());
    const std::string without_ir(without->ir());
    CHECK(with_ir.find("@llvm.assume") != std::string::npos);
    CHECK(without_ir.find("@llvm.assume") == std::string::npos);
    // The loop's compare stays; the null check's goes.
    CHECK(occurrences(with_ir, "icmp eq i64") + 1 == occurrences(without_ir, "icmp eq i64"));
    for (const std::uint32_t len : {0U, 1U, 5U, 37U}) {
        std::array<std::uint64_t, 32> ctx{len};
        const std::uint64_t n = std::max<std::uint64_t>(len & 15, 1);
        const std::uint64_t expected = n * (n - 1) / 2;
        CHECK(with_facts->run(ctx.data(), sizeof ctx) == expected);
        CHECK(without->run(ctx.data(), sizeof ctx) == expected);
        auto optimized = OptimizedJit::create(program.code, {}, {.facts = program.facts});
        REQUIRE(optimized.has_value());
        CHECK(optimized->run(ctx.data(), sizeof ctx) == expected);
    }
}

namespace {

std::uint64_t g_helper_value = 99;

std::uint64_t fixed_lookup(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    return reinterpret_cast<std::uintptr_t>(&g_helper_value);
}

} // namespace

// Attack round 56: a switch over 1,000 arrays at each of 1,000 lookups took LLVM minutes and gigabytes.
TEST_CASE("exec optimized: many arrays: lookups whose map the lowering does not know call the helper" *
          doctest::skip(kNoOptimizer)) {
    constexpr std::uint32_t kArrays = 1000;
    std::vector<std::uint64_t> values(16, 0);
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = 1000 + i;
    }
    std::vector<embpf::exec::InlineArray> arrays;
    for (std::uint32_t i = 0; i < kArrays; ++i) {
        // Fake maps (the helper never sees them): every one's values are `values`, 8 bytes apart, 16 of them.
        arrays.push_back({0x100000 + i * 64ULL, reinterpret_cast<std::uintptr_t>(values.data()), 8, 16});
    }
    std::string text = "r6 = *(u64 *)(r1 + 0)\nr7 = 0\n";
    for (int i = 0; i < 300; ++i) { // the map from the context: unknown to the lowering, so through the helper
        text += "*(u32 *)(r10 - 4) = 3\nr1 = r6\nr2 = r10\nr2 += -4\ncall 1\nr0 = *(u64 *)(r0 + 0)\nr7 += r0\n";
    }
    // An lddw of the block names array 500: computed in the code, key 5.
    text += "*(u32 *)(r10 - 4) = 5\nr1 = " + std::to_string(0x100000 + 500 * 64ULL) +
            " ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = *(u64 *)(r0 + 0)\nr7 += r0\nr0 = r7\nexit\n";
    const auto code = assemble(text);
    embpf::exec::HelperTable helpers;
    helpers.set(1, &fixed_lookup);
    auto optimized = OptimizedJit::create(code, helpers, {.keep_ir = true, .lookup_helper = 1, .arrays = arrays});
    REQUIRE_MESSAGE(optimized.has_value(), (optimized ? "" : optimized.error().message));
    // The 300 lookups through the helper (99 each, though r1 names array 0), the last one computed: value 5.
    std::uint64_t ctx = 0x100000;
    CHECK(optimized->run(&ctx, sizeof ctx) == 300 * 99 + 1005);
    CHECK(std::string(optimized->ir()).find("switch") == std::string::npos);
}

TEST_SUITE_END();
