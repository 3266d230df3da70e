// Metering (exec/engine.hpp): every engine charges the same budget at the same points, so that a run stops at the
// same instruction in the interpreter (threaded and portable), in the JIT (plain and with blinded constants) and in the
// optimizing JIT. The
// expected stop points come from a model of the documented rule written out in each test, not from an engine's run.
#include "embpf/exec/interpreter.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using embpf::exec::HelperTable;
using embpf::exec::RunOutcome;

constexpr std::uint32_t kLoop = 181;

std::uint64_t not_intercepted(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t) {
    return 0xdead;
}

HelperTable helpers() {
    HelperTable table;
    table.set(kLoop, &not_intercepted);
    table.set_callback(kLoop, embpf::platform::Callback::loop);
    return table;
}

std::vector<embpf::isa::Instruction> assemble(const char* text) {
    auto program = embpf::isa::assemble(text);
    REQUIRE_MESSAGE(program.has_value(), program.error().message);
    return std::move(program).value();
}

// Every engine this host has, each made with `budget`.
std::vector<std::pair<std::string, std::unique_ptr<embpf::exec::Executable>>>
engines(const std::vector<embpf::isa::Instruction>& program, std::uint64_t budget) {
    std::vector<std::pair<std::string, std::unique_ptr<embpf::exec::Executable>>> all;
    for (const bool portable : {false, true}) {
        auto interpreter = embpf::exec::Interpreter::create(
            program, helpers(), {.portable_dispatch = portable, .instruction_budget = budget});
        REQUIRE_MESSAGE(interpreter.has_value(), interpreter.error().message);
        all.emplace_back(portable ? "portable interpreter" : "interpreter",
                         std::make_unique<embpf::exec::Interpreter>(std::move(interpreter).value()));
    }
    if (embpf::exec::host_jit_target()) {
        for (const bool blind : {false, true}) {
            auto jit =
                embpf::exec::Jit::create(program, helpers(), {.blind_constants = blind, .instruction_budget = budget});
            REQUIRE_MESSAGE(jit.has_value(), jit.error().message);
            all.emplace_back(blind ? "jit with blinded constants" : "jit",
                             std::make_unique<embpf::exec::Jit>(std::move(jit).value()));
        }
    }
    if (embpf::exec::optimizer_available()) {
        auto optimized = embpf::exec::OptimizedJit::create(program, helpers(), {.instruction_budget = budget});
        REQUIRE_MESSAGE(optimized.has_value(), optimized.error().message);
        all.emplace_back("optimized", std::make_unique<embpf::exec::OptimizedJit>(std::move(optimized).value()));
    }
    return all;
}

struct Expected {
    std::uint64_t r0 = 0;
    bool exhausted = false;
    std::uint64_t counter = 0; // what the program stored in ctx[0]
};

void check_engines(const std::vector<embpf::isa::Instruction>& program, std::uint64_t budget,
                   const Expected& expected) {
    for (const auto& entry : engines(program, budget)) {
        const auto& name = entry.first; // not a structured binding: CAPTURE's lambda cannot capture one in C++20
        const auto& engine = entry.second;
        CAPTURE(name);
        CAPTURE(budget);
        CHECK(engine->instruction_budget() == budget);
        std::array<std::uint64_t, 2> ctx{};
        const RunOutcome outcome = engine->run_metered(ctx.data(), sizeof ctx);
        CHECK(outcome.r0 == expected.r0);
        CHECK(outcome.budget_exhausted == expected.exhausted);
        CHECK(ctx[0] == expected.counter);
        std::array<std::uint64_t, 2> again{};
        CHECK(engine->run(again.data(), sizeof again) == expected.r0); // run() stops alike
        CHECK(again[0] == expected.counter);
    }
}

// A loop of a million iterations: the back-edge at 3 goes to 1, so each taken one charges 3 - 1 + 1 = 3.
constexpr const char* kMillion = R"(
    r0 = 0
    r0 += 1
    *(u64 *)(r1 + 0) = r0
    if r0 < 1000000 goto -3
    exit)";

Expected million(std::uint64_t budget) {
    constexpr std::uint64_t kIterations = 1'000'000;
    if (budget == 0) {
        return {kIterations, false, kIterations};
    }
    // Model: iteration 1 is free; each further one needs a back-edge charged 3 first.
    std::uint64_t remaining = budget;
    std::uint64_t iterations = 1;
    while (iterations < kIterations) {
        if (remaining < 3) {
            return {0, true, iterations};
        }
        remaining -= 3;
        ++iterations;
    }
    return {kIterations, false, kIterations};
}

} // namespace

TEST_SUITE_BEGIN("exec metering");

TEST_CASE("exec metering: a loop of a million iterations stops where the rule says, in every engine") {
    const auto program = assemble(kMillion);
    for (const std::uint64_t budget :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3}, std::uint64_t{4}, std::uint64_t{100},
          std::uint64_t{1000}, std::uint64_t{123'457}, std::uint64_t{2'999'996}, std::uint64_t{2'999'997},
          std::uint64_t{3'000'000}, ~std::uint64_t{0}}) {
        check_engines(program, budget, million(budget));
    }
    // The model, spelled out at the edges: 999,999 back-edges of 3 are just enough, one less stops the last one.
    CHECK(million(2'999'997).exhausted == false);
    CHECK(million(2'999'996).exhausted == true);
    CHECK(million(2'999'996).counter == 999'999);
    CHECK(million(1).counter == 1);
    CHECK(million(3).counter == 2);
}

TEST_CASE("exec metering: unconditional and 32-bit back-edges, and a self-loop, charge their length") {
    // A `goto` back (JA) over 4 instructions: 5 - 2 + 1 = 4 per iteration; the loop ends by a forward jump.
    const auto program = assemble(R"(
        r0 = 0
        r2 = 0
        r2 += 1
        *(u64 *)(r1 + 0) = r2
        if r2 == 50 goto +1
        goto -4
        exit)");
    for (const std::uint64_t budget : {1, 3, 4, 7, 8, 195, 196, 1000}) {
        // Model: 49 back-edges of 4 complete the loop.
        const std::uint64_t edges = std::min<std::uint64_t>(budget / 4, 49);
        check_engines(program, budget, {0, edges < 49, edges + 1});
    }
    // A 32-bit conditional back-edge (w registers) over 3 instructions.
    const auto narrow = assemble(R"(
        w0 = 0
        w0 += 1
        *(u64 *)(r1 + 0) = r0
        if w0 < 10 goto -3
        exit)");
    for (const std::uint64_t budget : {1, 3, 26, 27, 100}) {
        const std::uint64_t edges = std::min<std::uint64_t>(budget / 3, 9);
        check_engines(narrow, budget, {edges < 9 ? 0U : 10U, edges < 9, edges + 1});
    }
}

TEST_CASE("exec metering: local calls charge the called function's length") {
    // Main (0-6) calls f (7-8, length 2) each iteration; the back-edge at 5 goes to 2 (charge 4).
    const auto program = assemble(R"(
        r6 = r1
        r7 = 0
        call f
        r7 += 1
        *(u64 *)(r6 + 0) = r7
        if r7 < 100 goto -4
        exit
    f:
        r0 = 1
        exit)");
    auto model = [](std::uint64_t budget) -> Expected {
        std::uint64_t remaining = budget == 0 ? ~std::uint64_t{0} : budget;
        std::uint64_t counter = 0;
        for (std::uint64_t i = 1;; ++i) {
            if (remaining < 2) { // the call
                return {0, true, counter};
            }
            remaining -= 2;
            counter = i;
            if (i == 100) {
                return {1, false, counter};
            }
            if (remaining < 4) { // the back-edge
                return {0, true, counter};
            }
            remaining -= 4;
        }
    };
    CHECK(model(596).exhausted == false); // 100 calls of 2 and 99 back-edges of 4
    CHECK(model(595).exhausted == true);
    for (const std::uint64_t budget : {0, 1, 2, 5, 6, 7, 8, 300, 595, 596}) {
        check_engines(program, budget, model(budget));
    }
}

TEST_CASE("exec metering: each bpf_loop callback invocation charges the callback's length") {
    // cb (8-12) is 5 instructions: each of the 1000 invocations charges 5.
    const auto program = assemble(R"(
            r6 = r1
            r1 = 1000
            r2 = code(cb) ll
            r3 = r6
            r4 = 0
            call 181
            exit
        cb:
            r3 = *(u64 *)(r2 + 0)
            r3 += 1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            exit)");
    for (const std::uint64_t budget : {1, 4, 5, 9, 10, 2345, 4999, 5000, 5001}) {
        const std::uint64_t calls = std::min<std::uint64_t>(budget / 5, 1000);
        check_engines(program, budget, {calls < 1000 ? 0U : 1000U, calls < 1000, calls});
    }
}

TEST_CASE("exec metering: code without back-edges") {
    // No back-edge, no call: nothing is charged, whatever the budget.
    const auto straight = assemble(R"(
        r0 = 7
        *(u64 *)(r1 + 0) = r0
        if r0 > 3 goto +1
        r0 = 9
        r0 += 1
        exit)");
    for (const std::uint64_t budget : {0, 1, 2, 1000}) {
        check_engines(straight, budget, {8, false, 7});
    }
    // One call and no loop: the call charges at most the program's length, so such a budget never stops it.
    const auto one_call = assemble(R"(
        r6 = r1
        call f
        *(u64 *)(r6 + 0) = r0
        exit
    f:
        r0 = 5
        r0 *= 3
        exit)");
    for (const std::uint64_t budget : {7, 8, 100}) {
        check_engines(one_call, budget, {15, false, 15});
    }
    check_engines(one_call, 3, {15, false, 15}); // the call charges f's 3
    check_engines(one_call, 2, {0, true, 0});
}

TEST_CASE("exec metering: without a budget the engines report none") {
    const auto program = assemble(kMillion);
    for (const auto& entry : engines(program, 0)) {
        const auto& name = entry.first;
        const auto& engine = entry.second;
        CAPTURE(name);
        CHECK(engine->instruction_budget() == 0);
        std::array<std::uint64_t, 2> ctx{};
        const RunOutcome outcome = engine->run_metered(ctx.data(), sizeof ctx);
        CHECK(outcome.r0 == 1'000'000);
        CHECK_FALSE(outcome.budget_exhausted);
    }
}

TEST_SUITE_END();

// Attack round 53: a callback (or a called function) of two instructions that jumped into another function's code
// ran that code charged only its own length, 8,500 times the budget's work. A program whose functions are not each
// in one piece is refused when a budget is asked for, and runs as before without one.
TEST_CASE("exec metering: a program whose functions are not each in one piece cannot be metered") {
    const char* const rows[] = {
        // A called function jumps into the middle of another.
        "r6 = 0\nloop:\ncall f\nr6 += 1\nif r6 < 1000 goto loop\ncall g\nexit\n"
        "f:\nr0 = 0\ngoto body\ng:\nr0 = 0\nbody:\nr0 += 1\nr0 += 1\nexit\n",
        // A bpf_loop callback does.
        "r1 = 100\nr2 = code(+6) ll\nr3 = 0\nr4 = 0\ncall 181\ncall g\nexit\n"
        "cb:\nr0 = 0\ngoto body\ng:\nr0 = 0\nbody:\nr0 += 1\nr0 = 0\nexit\n",
        // A function runs into the next one.
        "call f\ncall g\nexit\nf:\nr0 = 1\ng:\nr0 += 1\nexit\n",
    };
    for (const char* text : rows) {
        CAPTURE(text);
        const auto program = assemble(text);
        auto interpreter = embpf::exec::Interpreter::create(program, helpers(), {.instruction_budget = 100});
        REQUIRE_FALSE(interpreter.has_value());
        CHECK(interpreter.error().kind == embpf::ErrorKind::unsupported);
        CHECK(interpreter.error().message.find("cannot be metered") != std::string::npos);
        CHECK(embpf::exec::Interpreter::create(program, helpers()).has_value());
        if (embpf::exec::host_jit_target()) {
            auto jit = embpf::exec::Jit::create(program, helpers(), {.instruction_budget = 100});
            REQUIRE_FALSE(jit.has_value());
            CHECK(jit.error().kind == embpf::ErrorKind::unsupported);
            CHECK(embpf::exec::Jit::create(program, helpers()).has_value());
        }
        if (embpf::exec::optimizer_available()) { // it compiles no such program, budget or not
            auto optimized = embpf::exec::OptimizedJit::create(program, helpers(), {.instruction_budget = 100});
            REQUIRE_FALSE(optimized.has_value());
            CHECK(optimized.error().kind == embpf::ErrorKind::unsupported);
            CHECK(optimized.error().message.find("cannot be metered") != std::string::npos);
        }
    }
}
