// LoadOptions::instruction_budget: metering (exec/engine.hpp) of a loaded program's unchecked runs in every engine,
// through Program::run and hooks alike, the runs it stopped counted by Program::budget_exhausted(); checked runs keep
// their own budget.
#include "embpf/api/hook.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/exec/optimized.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace embpf;

namespace {

const std::string kObject = std::string(EMBPF_TEST_API_DIR) + "/callbacks.o";

struct SkBuff : testing_packets::SkBuffAround {
    SkBuff() : SkBuffAround(16) {}
};

Object load(std::uint64_t budget, exec::EngineKind engine) {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, {.engine = engine, .instruction_budget = budget});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(*object);
}

} // namespace

TEST_CASE("metering: LoadOptions::instruction_budget stops a program's runs and counts them") {
    for (const exec::EngineKind engine :
         {exec::EngineKind::interpreter, exec::EngineKind::jit, exec::EngineKind::optimized}) {
        CAPTURE(exec::to_string(engine));
        // loop_all: nine bpf_loop callbacks (tests/api/objects/callbacks.c); a budget of 1 cannot pay the first.
        const Object stopped = load(1, engine);
        auto program = stopped.program("loop_all");
        REQUIRE(program.has_value());
        if (engine == exec::EngineKind::optimized && exec::optimizer_available()) {
            CHECK(program->engine() == exec::EngineKind::optimized); // it meters too
            CHECK(program->engine_fallback().empty());
        }
        CHECK(program->instruction_budget() == 1);
        CHECK(program->budget_exhausted() == 0);
        SkBuff skb;
        for (int i = 1; i <= 3; ++i) {
            auto r0 = program->run(skb.bytes.data(), skb.bytes.size());
            REQUIRE(r0.has_value());
            CHECK(*r0 == 0);
            CHECK(program->budget_exhausted() == static_cast<std::uint64_t>(i));
        }
        // A hook's invocation runs the program the same way, and the stop counts alike.
        HookBase hook(program->type());
        auto link = hook.attach(*program);
        REQUIRE_MESSAGE(link.has_value(), (link ? "" : link.error().message));
        auto verdict = hook.invoke(skb.bytes.data(), skb.bytes.size());
        REQUIRE(verdict.has_value());
        CHECK(*verdict == 0);
        CHECK(program->budget_exhausted() == 4);
        // Checked runs ignore it (their budget counts every instruction) and leave the count alone.
        auto checked = program->run_checked(skb.bytes.data(), skb.bytes.size(), 0);
        REQUIRE(checked.has_value());
        CHECK(checked->r0 == (204U | (9U << 16)));
        CHECK(program->budget_exhausted() == 4);

        // A budget the run does not reach: the same result as without one, nothing counted.
        const Object enough = load(1'000'000, engine);
        auto unstopped = enough.program("loop_all");
        REQUIRE(unstopped.has_value());
        auto r0 = unstopped->run(skb.bytes.data(), skb.bytes.size());
        REQUIRE(r0.has_value());
        CHECK(*r0 == (204U | (9U << 16)));
        CHECK(unstopped->budget_exhausted() == 0);
        // Switching engines keeps the budget.
        REQUIRE(unstopped->use_engine(exec::EngineKind::interpreter).has_value());
        CHECK(unstopped->instruction_budget() == 1'000'000);
    }
    // The default: no budget.
    const Object plain = load(0, exec::EngineKind::interpreter);
    auto program = plain.program("loop_all");
    REQUIRE(program.has_value());
    CHECK(program->instruction_budget() == 0);
    SkBuff skb;
    auto r0 = program->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(r0.has_value());
    CHECK(*r0 == (204U | (9U << 16)));
    CHECK(program->budget_exhausted() == 0);
}
