// The C exec::generate_c writes, beyond the engines' shared tests: its use of the verifier's ranges (AotOptions::facts:
// the bounds of a loop's counters at its head, a divisor's and a loaded value's, written as EMBPF_ASSUME for the C
// compiler), which a build with EMBPF_AOT_CHECK_FACTS (the differential tests') checks, trapping where a fact does not
// hold; and the forms it takes around the system compiler's bugs (GCC 12.2), each found by an attack round. Compiling
// is skipped (with a message) where no C compiler runs.
#include "../../tools/common/compile_c.hpp"
#include "../api/process_directory.hpp"
#include "embpf/exec/aot.hpp"
#include "embpf/exec/interpreter.hpp"
#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

namespace isa = embpf::isa;
namespace exec = embpf::exec;
namespace verifier = embpf::verifier;

// n = len & 63, then the sum of (n + 1000) / k for k = 1..n: the bound spilled to the stack and read back at each
// turn, the counter plus one the divisor.
const char* const kLoop = R"(
    r6 = *(u32 *)(r1 + 0)
    r6 &= 63
    r7 = 0
    r8 = 0
    *(u64 *)(r10 - 8) = r6
loop:
    r9 = *(u64 *)(r10 - 8)
    if r7 >= r9 goto done
    r7 += 1
    r2 = r6
    r2 += 1000
    r3 = r7
    r2 /= r3
    r8 += r2
    goto loop
done:
    r0 = r8
    exit)";

constexpr std::uint32_t kHead = 5; // the instruction at `loop:`

std::uint64_t expected(std::uint32_t len) {
    const std::uint64_t n = len & 63U;
    std::uint64_t sum = 0;
    for (std::uint64_t k = 1; k <= n; ++k) {
        sum += (n + 1000) / k;
    }
    return sum;
}

struct Verified {
    std::vector<isa::Instruction> code;
    std::vector<verifier::InstructionFacts> facts;
};

Verified verified(const char* text) {
    auto code = isa::assemble(text);
    REQUIRE_MESSAGE(code.has_value(), (code ? "" : code.error().message));
    verifier::ProgramInput input;
    input.name = "facts";
    input.section = "socket";
    input.instructions = *code;
    const embpf::platform::Platform& platform = embpf::platform::linux();
    const embpf::platform::ProgramType* type = platform.program_type("socket_filter");
    REQUIRE(type != nullptr);
    const verifier::Report report = verifier::verify(input, platform, *type, {.facts = true});
    REQUIRE_MESSAGE(report.verified, report.text());
    return {verifier::rewrite_context_loads(*code, report), report.facts};
}

// Options that refer to `facts` (a span: the caller keeps them).
exec::AotOptions options_with(std::span<const verifier::InstructionFacts> facts) {
    exec::AotOptions options;
    options.symbol = "facts_program";
    options.facts = facts;
    return options;
}

// This process's directory of C files and shared objects, removed when the tests end.
const std::filesystem::path& test_directory() {
    static const testing_files::ProcessDirectory directory("embpf-test-aot-code-");
    return directory.path();
}

// `code` written out with `options`, built (with `flags` besides the usual ones) and bound; nullopt (with a message)
// where no C compiler runs.
std::optional<exec::AotProgram> build(const std::vector<isa::Instruction>& code, const exec::AotOptions& options,
                                      const std::string& name, const std::vector<std::string>& flags = {}) {
    auto source = exec::generate_c(code, {}, options);
    REQUIRE_MESSAGE(source.has_value(), (source ? "" : source.error().message));
    const exec::AotModuleEntry entry{"facts", "socket", "test", options.symbol, *source};
    const std::filesystem::path& dir = test_directory();
    const std::filesystem::path c_file = dir / (name + ".c");
    const std::filesystem::path library = dir / (name + ".so");
    {
        std::ofstream out(c_file);
        out << exec::aot_module_source(std::span(&entry, 1), "", "linux", "embpf_aot_module");
        REQUIRE(out.good());
    }
    if (auto failed = embpf::tools::compile_shared(c_file, library, flags)) {
        if (failed->starts_with("cannot run the C compiler")) {
            MESSAGE("skipped: " << *failed);
            return std::nullopt;
        }
        FAIL("the generated C does not compile: " << *failed);
    }
    auto opened = exec::AotLibrary::open(library);
    REQUIRE_MESSAGE(opened.has_value(), (opened ? "" : opened.error().message));
    const embpf_aot_program* compiled = opened->find("facts");
    REQUIRE(compiled != nullptr);
    auto bound = exec::AotProgram::create(*compiled, code, {}, options, opened->owner());
    REQUIRE_MESSAGE(bound.has_value(), (bound ? "" : bound.error().message));
    return std::move(bound).value();
}

std::uint64_t run(const exec::Executable& program, std::uint32_t len) {
    std::array<std::uint64_t, 32> ctx{len}; // __sk_buff::len at 0
    return program.run(ctx.data(), sizeof ctx);
}

} // namespace

TEST_SUITE_BEGIN("exec aot");

TEST_CASE("exec aot: with the facts, a loop's head, a divisor and a load assume what the verifier proved") {
    const Verified program = verified(kLoop);
    const exec::AotOptions with = options_with(program.facts);
    auto written = exec::generate_c(program.code, {}, with);
    auto plain = exec::generate_c(program.code, {}, options_with({}));
    REQUIRE(written.has_value());
    REQUIRE(plain.has_value());
    CAPTURE(written->code);
    // At the loop's head the counter and the bound are at most 63; the divisor is 1 to 63; the reloaded bound too.
    CHECK(written->code.find("EMBPF_ASSUME(r7 <= 0x3full);") != std::string::npos);
    CHECK(written->code.find("EMBPF_ASSUME(r6 <= 0x3full);") != std::string::npos);
    CHECK(written->code.find("EMBPF_ASSUME(r3 >= 0x1ull && r3 <= 0x3full);") != std::string::npos);
    CHECK(written->code.find("EMBPF_ASSUME(r9 <= 0x3full);") != std::string::npos);
    CHECK(plain->code.find("EMBPF_ASSUME(") == std::string::npos);
    CHECK(written->fingerprint != plain->fingerprint);

    const exec::Interpreter interpreter = exec::Interpreter::create(program.code).value();
    auto assumed = build(program.code, with, "assumed");
    if (!assumed) {
        return;
    }
    auto checked = build(program.code, with, "checked", {"-DEMBPF_AOT_CHECK_FACTS"});
    REQUIRE(checked.has_value());
    for (const std::uint32_t len : {0U, 1U, 2U, 7U, 63U, 64U, 100U, 0xffffffffU}) {
        CAPTURE(len);
        CHECK(run(interpreter, len) == expected(len));
        CHECK(run(*assumed, len) == expected(len));
        CHECK(run(*checked, len) == expected(len));
    }
}

TEST_CASE("exec aot: built to check the facts, a fact that does not hold traps") {
    // The facts as a wrong verifier would give them: the counter at most 2 at the loop's head.
    Verified program = verified(kLoop);
    verifier::RegisterFact& counter = program.facts.at(kHead).registers[7];
    REQUIRE(counter.kind == verifier::RegisterFact::Kind::number);
    counter.umax = 2;
    counter.smax = 2;
    const exec::AotOptions wrong = options_with(program.facts);
    auto source = exec::generate_c(program.code, {}, wrong);
    REQUIRE(source.has_value());
    CHECK(source->code.find("EMBPF_ASSUME(r7 <= 0x2ull);") != std::string::npos);
    auto checked = build(program.code, wrong, "wrong", {"-DEMBPF_AOT_CHECK_FACTS"});
    if (!checked) {
        return;
    }
    CHECK(run(*checked, 2) == expected(2)); // the counter reaches 2 at the head: the fact holds
    // 10 turns: the counter reaches 3 at the head, and the check traps (in a child process).
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::signal(SIGILL, SIG_DFL); // the test framework's handlers would report the trap as a crash
        std::signal(SIGTRAP, SIG_DFL);
        (void)run(*checked, 10);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK((WTERMSIG(status) == SIGILL || WTERMSIG(status) == SIGTRAP));
}

namespace {

// `text` (no facts) run by the interpreter and as compiled C on the same context, 16 words with `words` at their start:
// the same result and the same context after. False (with a message) where no C compiler runs.
bool same_as_interpreter(const char* text, const std::string& name, std::vector<std::uint64_t> words) {
    auto code = isa::assemble(text);
    REQUIRE_MESSAGE(code.has_value(), (code ? "" : code.error().message));
    auto compiled = build(*code, options_with({}), name);
    if (!compiled) {
        return false;
    }
    words.resize(16, 0);
    std::vector<std::uint64_t> interpreted_ctx = words;
    std::vector<std::uint64_t> compiled_ctx = words;
    const exec::Interpreter interpreter = exec::Interpreter::create(*code).value();
    const std::uint64_t expected = interpreter.run(interpreted_ctx.data(), interpreted_ctx.size() * 8);
    const std::uint64_t got = compiled->run(compiled_ctx.data(), compiled_ctx.size() * 8);
    CHECK(got == expected);
    CHECK(compiled_ctx == interpreted_ctx);
    return true;
}

} // namespace

TEST_CASE("exec aot: a fetch-and-or, -and or -xor in a branch changes memory (GCC 12.2, attack round 68)") {
    // GCC 12.2's own loop for __atomic_fetch_or whose result is used left the or out: the slot stayed 0.
    for (const char* operation : {"or", "and", "xor"}) {
        CAPTURE(operation);
        const std::string text = std::string(R"(
            *(u64 *)(r10 - 8) = 0
            r3 = *(u64 *)(r1 + 56)
            *(u64 *)(r10 - 8) = r3
            r2 = *(u8 *)(r1 + 48)
            r4 = *(u64 *)(r1 + 32)
            r9 = *(u64 *)(r1 + 0)
            if w9 <= w4 goto +1
            r2 = atomic_fetch_)") +
                                 operation + R"(((u64 *)(r10 - 8), r2)
            *(u64 *)(r1 + 8) = r2
            r2 = *(u64 *)(r10 - 8)
            *(u64 *)(r1 + 72) = r2
            w2 = *(u32 *)(r1 + 48)
            w2 = atomic_fetch_)" +
                                 operation + R"(((u32 *)(r1 + 56), w2)
            *(u64 *)(r1 + 16) = r2
            r0 = 0
            exit)";
        // f0 > f4 (as 32 bits) takes the atomic; f6's low byte 0xf7 the operand; f7 the slot's first value.
        if (!same_as_interpreter(text.c_str(), std::string("fetch_") + operation,
                                 {0xfffffffffffffffcULL, 0, 0, 0, 0, 0, 0xf7, 0x0f0f})) {
            return;
        }
        REQUIRE(same_as_interpreter(text.c_str(), std::string("fetch_") + operation + "_not_taken",
                                    {1, 0, 0, 0, 5, 0, 0xf7, 0x0f0f}));
    }
}

TEST_CASE("exec aot: x % C for C of 2^63 or more, x all ones (GCC 12.2, attack round 68)") {
    // GCC 12.2 folded x % 0xffffffff80000000 to x when it knew x was 0 or all ones: all ones % C is 0x7fffffff.
    const char* const remainder = R"(
        r0 = *(u64 *)(r1 + 104)
        r7 = *(s8 *)(r1 + 88)
        r7 s>>= 24
        r7 %= -2147483648
        *(u64 *)(r1 + 48) = r7
        exit)";
    const char* const quotient = R"(
        r7 = *(s8 *)(r1 + 88)
        r7 s>>= 24
        r7 /= -2147483648
        *(u64 *)(r1 + 48) = r7
        r0 = 0
        exit)";
    for (const std::uint64_t byte : {0xdaULL, 0x11ULL}) {
        CAPTURE(byte);
        std::vector<std::uint64_t> words(16, 0);
        words[11] = byte;
        if (!same_as_interpreter(remainder, "mod_" + std::to_string(byte), words)) {
            return;
        }
        REQUIRE(same_as_interpreter(quotient, "div_" + std::to_string(byte), words));
    }
}

TEST_CASE("exec aot: unverified code GCC once refused at -Werror builds and runs (attack round 69)") {
    // An access that starts in the frame and ends past r10 (never run here: the program takes it for one input only),
    // which GCC saw as partly outside the stack array; and a slot read behind a branch correlated with the one that
    // wrote it, which GCC took for maybe uninitialized. The verifier refuses both; generate_c takes any valid program.
    for (const char* access : {"*(u64 *)(r10 - 4) = r0", "r0 = *(u64 *)(r10 - 2)", "lock *(u32 *)(r10 - 2) += w0",
                               "r0 = xchg_64(r10 - 4, r0)"}) {
        CAPTURE(access);
        const std::string text = std::string(R"(
            r2 = *(u64 *)(r1 + 0)
            r0 = 0
            if r2 != 12345 goto +1
            )") + access + R"(
            exit)";
        if (!same_as_interpreter(text.c_str(), "straddle", {1})) {
            return;
        }
    }
    const char* const correlated = R"(
        r2 = *(u64 *)(r1 + 0)
        r3 = *(u64 *)(r1 + 8)
        if w2 > 5 goto +1
        *(u64 *)(r10 - 8) = r3
        r0 = 0
        r3 *= 7
        if w2 s> 5 goto +2
        if w2 s< 0 goto +1
        r0 = *(u64 *)(r10 - 8)
        exit)";
    REQUIRE(same_as_interpreter(correlated, "correlated", {1, 2, 3}));
    REQUIRE(same_as_interpreter(correlated, "correlated_high", {7, 2, 3}));
}

TEST_CASE("exec aot: a shared object runs its own code when a global symbol has its program's name (attack round 70)") {
    // A library loaded before it, globally (or a host linked with -rdynamic), defines data under the names of the
    // program's function and descriptor: the module's references must still bind to its own, not crash into the data.
    const std::filesystem::path& dir = test_directory();
    {
        std::ofstream out(dir / "decoy.c");
        out << "const unsigned char interposed[64] = {0};\nconst unsigned char interposed_program[64] = {0};\n";
        REQUIRE(out.good());
    }
    if (auto failed = embpf::tools::compile_shared(dir / "decoy.c", dir / "decoy.so")) {
        if (failed->starts_with("cannot run the C compiler")) {
            MESSAGE("skipped: " << *failed);
            return;
        }
        FAIL("the decoy does not compile: " << *failed);
    }
    void* decoy = ::dlopen((dir / "decoy.so").c_str(), RTLD_NOW | RTLD_GLOBAL);
    REQUIRE(decoy != nullptr);
    const void* decoy_function = ::dlsym(decoy, "interposed");
    const void* decoy_descriptor = ::dlsym(decoy, "interposed_program");
    REQUIRE(decoy_function != nullptr);
    REQUIRE(decoy_descriptor != nullptr);
    {
        auto code = isa::assemble("r0 = 0xb\nexit\n");
        REQUIRE(code.has_value());
        exec::AotOptions options;
        options.symbol = "interposed";
        auto compiled = build(*code, options, "interposed");
        REQUIRE(compiled.has_value());
        auto opened = exec::AotLibrary::open(dir / "interposed.so");
        REQUIRE(opened.has_value());
        const embpf_aot_program* program = opened->find("facts");
        REQUIRE(program != nullptr);
        CHECK(static_cast<const void*>(program) != decoy_descriptor);
        CHECK(reinterpret_cast<const void*>(program->run) != decoy_function);
        CHECK(run(*compiled, 0) == 0xb);
    }
    ::dlclose(decoy);
}

TEST_SUITE_END();
