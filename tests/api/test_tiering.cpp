// Automatic tiering (LoadOptions::engine = automatic): a program starts in the baseline JIT, and after
// LoadOptions::promote_after runs (through Program::run, hooks and program arrays alike) the optimizing JIT compiles it
// in the background and its code is swapped in under running invocations. A failure leaves it where it runs, with the
// reason; the host's Program::use_engine is final; a program that goes while its compilation waits or runs is no
// trouble.
#include "embpf/api/hook.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "embpf/api/registry.hpp"
#include "embpf/exec/jit.hpp"
#include "embpf/exec/optimized.hpp"
#include "embpf/isa/text.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;

namespace {

const std::string kObject = std::string(EMBPF_TEST_API_DIR) + "/callbacks.o";

// Long enough for LLVM on a loaded machine under a sanitizer: the waits end as soon as the promotion does.
constexpr std::chrono::milliseconds kPatience{120'000};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The engine a program loaded with `automatic` starts in.
exec::EngineKind baseline() {
    return exec::host_jit_target().has_value() ? exec::EngineKind::jit : exec::EngineKind::interpreter;
}

struct SkBuff : testing_packets::SkBuffAround {
    explicit SkBuff(std::uint32_t len = 0) : SkBuffAround(16) { std::memcpy(bytes.data(), &len, sizeof len); }
};

// A socket filter whose result depends on its context (skb->len) through a loop: what it returns in each tier is
// checked against the checked interpreter's run.
constexpr const char* kMixer = R"(
        r6 = *(u32 *)(r1 + 0)
        r0 = 0
        r2 = 0
    loop:
        r3 = r6
        r3 *= r2
        r3 ^= 0x5a5a
        r0 += r3
        r0 &= 0xffffff
        r2 += 1
        if r2 < 20 goto loop
        exit)";

// callbacks.o with its programs replaced by `text`, a socket filter named `tiered`.
ObjectSpec spec_of(const char* text) {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto code = isa::assemble(text);
    REQUIRE_MESSAGE(code.has_value(), (code ? "" : code.error().message));
    ProgramSpec program = spec->programs().front();
    elf::ProgramDefinition definition;
    definition.name = "tiered";
    definition.section = program.section();
    definition.instructions = *code;
    program.definition = std::move(definition);
    spec->programs() = {program};
    return std::move(*spec);
}

Object load(const ObjectSpec& spec, const LoadOptions& options) {
    auto object = Object::load(spec, options);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(*object);
}

Object load_callbacks(const LoadOptions& options) {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    return load(*spec, options);
}

// Runs `program` on a context of skb->len `len` and checks r0 against the checked interpreter's.
void check_run(const Program& program, std::uint32_t len) {
    SkBuff skb(len);
    auto checked = program.run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
    auto r0 = program.run(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(r0.has_value(), (r0 ? "" : r0.error().message));
    CHECK(*r0 == checked->r0);
}

// Whether any live program of the process has one of `ids`.
bool any_alive(const std::set<std::uint32_t>& ids) {
    const std::vector<ProgramInfo> live = Registry::programs();
    return std::any_of(live.begin(), live.end(), [&](const ProgramInfo& info) { return ids.contains(info.id); });
}

// Waits until the background compiler has dealt with every request made so far: it takes them in order, so once a
// program promoted after them is promoted, it is done with theirs.
void drain_compiler() {
    const Object last = load(spec_of("r0 = 7\nexit"), {.engine = exec::EngineKind::automatic, .promote_after = 0});
    const Program program = last.program("tiered").value();
    REQUIRE(program.wait_for_promotion(kPatience));
}

constexpr std::uint64_t kLoopAll = 204U | (9U << 16); // loop_all: nine bpf_loop callbacks (callbacks.c)

} // namespace

TEST_SUITE_BEGIN("api tiering");

TEST_CASE("tiering: automatic starts in the baseline JIT and is promoted after promote_after runs") {
    const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 50});
    const Program program = object.program("tiered").value();
    CHECK(program.engine() == baseline());
    if (!exec::optimizer_available()) {
        // Known at the load: it stays in the baseline, and says why.
        CHECK(program.promotion() == Promotion::failed);
        CHECK(contains(program.engine_fallback(), "the optimizing JIT is not in this build"));
        for (std::uint32_t i = 0; i < 100; ++i) {
            check_run(program, i);
        }
        CHECK_FALSE(program.wait_for_promotion(kPatience));
        CHECK(program.engine() == baseline());
        return;
    }
    CHECK(program.promotion() == Promotion::counting);
    CHECK(program.engine_fallback().empty() == (baseline() == exec::EngineKind::jit));
    // Checked runs run the checked interpreter, whatever the tier: they do not count.
    SkBuff skb(3);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(program.run_checked(skb.bytes.data(), skb.bytes.size()).has_value());
    }
    for (std::uint32_t i = 0; i < 49; ++i) {
        check_run(program, i * 977);
    }
    CHECK(program.promotion() == Promotion::counting);
    CHECK(program.engine() == baseline());
    check_run(program, 49 * 977); // the 50th
    CHECK(program.promotion() != Promotion::counting);
    REQUIRE(program.wait_for_promotion(kPatience));
    CHECK(program.promotion() == Promotion::promoted);
    CHECK(program.engine() == exec::EngineKind::optimized);
    CHECK(program.engine_fallback().empty() == (baseline() == exec::EngineKind::jit));
    for (std::uint32_t i = 0; i < 100; ++i) {
        check_run(program, i * 7919);
    }
    CHECK(program.promotion() == Promotion::promoted);
}

TEST_CASE("tiering: runs through a hook count, and the hook runs the promoted code" *
          doctest::skip(!exec::optimizer_available())) {
    // loop_all calls bpf_loop: its callbacks run in whichever code the program has.
    const Object object = load_callbacks({.engine = exec::EngineKind::automatic, .promote_after = 20});
    const Program program = object.program("loop_all").value();
    REQUIRE(program.promotion() == Promotion::counting);
    HookBase hook(program.type());
    auto link = hook.attach(program);
    REQUIRE_MESSAGE(link.has_value(), (link ? "" : link.error().message));
    SkBuff skb;
    for (int i = 0; i < 19; ++i) {
        auto verdict = hook.invoke(skb.bytes.data(), skb.bytes.size());
        REQUIRE(verdict.has_value());
        CHECK(*verdict == kLoopAll);
    }
    CHECK(program.promotion() == Promotion::counting);
    CHECK(program.engine() == baseline());
    REQUIRE(hook.invoke(skb.bytes.data(), skb.bytes.size()).has_value());
    // No timeout at all: the wait ends with the compilation.
    REQUIRE(program.wait_for_promotion(std::chrono::milliseconds::max()));
    CHECK(program.engine() == exec::EngineKind::optimized);
    for (int i = 0; i < 20; ++i) {
        auto verdict = hook.invoke(skb.bytes.data(), skb.bytes.size());
        REQUIRE(verdict.has_value());
        CHECK(*verdict == kLoopAll);
    }
    // The object's other programs ran nothing: they still count.
    CHECK(object.program("loop_squares")->promotion() == Promotion::counting);
}

TEST_CASE("tiering: promote_after 0 compiles every program right after the load" *
          doctest::skip(!exec::optimizer_available())) {
    const Object object = load_callbacks({.engine = exec::EngineKind::automatic, .promote_after = 0});
    for (const std::string& name : object.program_names()) {
        CAPTURE(name);
        const Program program = object.program(name).value();
        CHECK(program.promotion() != Promotion::counting);
        REQUIRE(program.wait_for_promotion(kPatience));
        CHECK(program.engine() == exec::EngineKind::optimized);
    }
    SkBuff skb;
    auto r0 = object.program("loop_all")->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(r0.has_value());
    CHECK(*r0 == kLoopAll);
}

TEST_CASE("tiering: threads running a program while it is promoted all get the right results" *
          doctest::skip(!exec::optimizer_available())) {
    const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 200});
    const Program program = object.program("tiered").value();
    // The expected results, from the checked interpreter.
    std::vector<std::uint64_t> expected;
    for (std::uint32_t len = 0; len < 64; ++len) {
        SkBuff skb(len * 131);
        expected.push_back(program.run_checked(skb.bytes.data(), skb.bytes.size()).value().r0);
    }
    std::atomic<bool> promoted{false};
    std::atomic<std::uint64_t> wrong{0};
    std::atomic<std::uint64_t> runs{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            // Each thread runs on past the promotion, so that every one of them runs the optimized code too.
            std::uint64_t after = 0;
            for (std::uint32_t i = static_cast<std::uint32_t>(t); after < 2000; ++i) {
                after += promoted.load(std::memory_order_relaxed) ? 1 : 0;
                SkBuff skb((i % 64) * 131);
                auto r0 = program.run(skb.bytes.data(), skb.bytes.size());
                if (!r0 || *r0 != expected[i % 64]) {
                    wrong.fetch_add(1, std::memory_order_relaxed);
                }
                runs.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    const bool done = program.wait_for_promotion(kPatience);
    promoted = true;
    for (std::thread& thread : threads) {
        thread.join();
    }
    MESSAGE(runs.load() << " runs by 3 threads across the promotion");
    CHECK(done);
    CHECK(wrong == 0);
    CHECK(runs >= 200);
    CHECK(program.promotion() == Promotion::promoted);
    CHECK(program.engine() == exec::EngineKind::optimized);
}

TEST_CASE("tiering: the host's use_engine is final") {
    SUBCASE("before the promotion is asked for") {
        const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 10});
        const Program program = object.program("tiered").value();
        REQUIRE(program.use_engine(exec::EngineKind::interpreter).has_value());
        CHECK(program.promotion() == Promotion::overridden); // without LLVM too: it was `failed`
        for (std::uint32_t i = 0; i < 30; ++i) {
            check_run(program, i);
        }
        CHECK_FALSE(program.wait_for_promotion(kPatience));
        CHECK(program.engine() == exec::EngineKind::interpreter);
        CHECK(program.promotion() == Promotion::overridden);
    }
    SUBCASE("while the compilation waits or runs") {
        if (!exec::optimizer_available()) {
            return;
        }
        const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 0});
        const Program program = object.program("tiered").value();
        REQUIRE(program.use_engine(exec::EngineKind::interpreter).has_value());
        CHECK(program.promotion() == Promotion::overridden);
        CHECK_FALSE(program.wait_for_promotion(kPatience));
        drain_compiler(); // the compilation, had it started, is over and thrown away
        CHECK(program.engine() == exec::EngineKind::interpreter);
        CHECK(program.promotion() == Promotion::overridden);
        check_run(program, 5);
    }
    SUBCASE("after the promotion") {
        if (!exec::optimizer_available()) {
            return;
        }
        const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 0});
        const Program program = object.program("tiered").value();
        REQUIRE(program.wait_for_promotion(kPatience));
        REQUIRE(program.use_engine(baseline()).has_value());
        CHECK(program.promotion() == Promotion::overridden);
        CHECK(program.engine() == baseline());
        check_run(program, 5);
    }
    SUBCASE("automatic is a choice of the load, refused after it") {
        const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 10});
        const Program program = object.program("tiered").value();
        const Promotion before = program.promotion();
        auto refused = program.use_engine(exec::EngineKind::automatic);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "automatic is chosen when a program is loaded"));
        CHECK(program.promotion() == before); // nothing changed
        CHECK(program.engine() == baseline());
    }
    SUBCASE("a program loaded with another engine has no promotion") {
        const Object object = load(spec_of(kMixer), {.engine = exec::EngineKind::interpreter, .promote_after = 1});
        const Program program = object.program("tiered").value();
        CHECK(program.promotion() == Promotion::none);
        check_run(program, 1);
        check_run(program, 2);
        REQUIRE(program.use_engine(baseline()).has_value());
        CHECK(program.promotion() == Promotion::none);
        CHECK_FALSE(program.wait_for_promotion(std::chrono::milliseconds(0)));
    }
}

TEST_CASE("tiering: a program with an instruction budget is promoted, and metered in both tiers" *
          doctest::skip(!exec::optimizer_available())) {
    // kMixer's loop takes 19 back-edges of 7 instructions each: 133 charged, which a budget of 100 does not cover.
    const Object stopped =
        load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 2, .instruction_budget = 100});
    const Program program = stopped.program("tiered").value();
    CHECK(program.engine() == baseline());
    CHECK(program.engine_fallback().empty());
    SkBuff skb(3);
    for (std::uint64_t i = 1; i <= 2; ++i) {
        auto r0 = program.run(skb.bytes.data(), skb.bytes.size());
        REQUIRE(r0.has_value());
        CHECK(*r0 == 0);
        CHECK(program.budget_exhausted() == i);
    }
    REQUIRE(program.wait_for_promotion(kPatience));
    CHECK(program.engine() == exec::EngineKind::optimized);
    auto r0 = program.run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(r0.has_value());
    CHECK(*r0 == 0);
    CHECK(program.budget_exhausted() == 3); // the optimizing JIT's code meters as the baseline's

    // A budget the runs do not reach: the checked interpreter's results in both tiers.
    const Object enough =
        load(spec_of(kMixer), {.engine = exec::EngineKind::automatic, .promote_after = 2, .instruction_budget = 1000});
    const Program unstopped = enough.program("tiered").value();
    check_run(unstopped, 5);
    check_run(unstopped, 6);
    REQUIRE(unstopped.wait_for_promotion(kPatience));
    check_run(unstopped, 7);
    CHECK(unstopped.budget_exhausted() == 0);
}

TEST_CASE("tiering: a program the optimizing JIT refuses stays in the baseline, with the reason" *
          doctest::skip(!exec::optimizer_available())) {
    // A jump from the entry function into the exit of another, which the verifier allows and compilers never emit.
    const Object object = load(spec_of("call f\ngoto +2\nexit\nf:\nr0 = 1\nexit\n"),
                               {.engine = exec::EngineKind::automatic, .promote_after = 3});
    const Program program = object.program("tiered").value();
    CHECK(program.engine() == baseline());
    REQUIRE(program.promotion() == Promotion::counting); // known only when it is compiled
    for (std::uint32_t i = 0; i < 3; ++i) {
        check_run(program, i);
    }
    CHECK_FALSE(program.wait_for_promotion(kPatience));
    CHECK(program.promotion() == Promotion::failed);
    CHECK(program.engine() == baseline());
    CHECK(contains(program.engine_fallback(), "the optimized engine cannot run it"));
    CHECK(contains(program.engine_fallback(), "a jump out of its function"));
    for (std::uint32_t i = 0; i < 10; ++i) {
        check_run(program, i);
    }
}

TEST_CASE("tiering: a program whose object and handles go while its compilation waits or runs is no trouble" *
          doctest::skip(!exec::optimizer_available())) {
    std::set<std::uint32_t> gone;
    for (int round = 0; round < 4; ++round) {
        CAPTURE(round);
        // Every program of the object asks at once (round 1 at the load, the others at their first run): the first
        // compiles while the others wait, and all go right away.
        std::optional<Object> object =
            load_callbacks({.engine = exec::EngineKind::automatic, .promote_after = round == 1 ? 0U : 1U});
        std::vector<Program> programs;
        for (const std::string& name : object->program_names()) {
            programs.push_back(object->program(name).value());
            gone.insert(programs.back().id());
        }
        if (round != 1) {
            SkBuff skb;
            for (const Program& program : programs) {
                REQUIRE(program.run(skb.bytes.data(), skb.bytes.size()).has_value());
                CHECK(program.promotion() != Promotion::counting);
            }
        }
        if (round == 3) {
            object.reset(); // the handles alone, then nothing
            SkBuff skb;
            CHECK(programs.front().run(skb.bytes.data(), skb.bytes.size()).has_value());
        }
        programs.clear();
        object.reset();
    }
    // Once the compiler is past them, nothing of those programs is left: a compilation under way held its program
    // only until it ended.
    drain_compiler();
    CHECK_FALSE(any_alive(gone));
}

TEST_SUITE_END();
