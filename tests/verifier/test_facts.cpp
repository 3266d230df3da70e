// Report::facts (Options::facts): what the verifier proved about each register before each instruction. Rows of small
// programs with the facts they must give, then the differential check that makes them worth relying on: generated
// programs the verifier accepts run in the checked interpreter, and every register value each run holds before each
// instruction must satisfy that instruction's facts.
#include "fuzz/program_generator.hpp"
#include "fuzz/soundness.hpp"

#include "embpf/isa/text.hpp"
#include "embpf/platform/platform.hpp"
#include "embpf/verifier/verifier.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace isa = embpf::isa;
namespace platform = embpf::platform;
namespace verifier = embpf::verifier;
using verifier::AccessFact;
using verifier::MapDescriptor;
using verifier::RegisterFact;
using Kind = RegisterFact::Kind;
using Frame = RegisterFact::Frame;

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kUMax = std::numeric_limits<std::uint64_t>::max();

struct Verified {
    std::vector<isa::Instruction> code;
    verifier::Report report;
};

Verified verified(std::string_view type, std::string_view text, std::vector<MapDescriptor> maps = {}) {
    auto code = isa::assemble(text);
    REQUIRE_MESSAGE(code.has_value(), text);
    Verified out{std::move(code).value(), {}};
    verifier::ProgramInput input;
    input.name = "facts";
    input.section = std::string(type);
    input.instructions = out.code;
    input.maps = maps;
    const platform::Platform& windows = platform::windows();
    verifier::Options options;
    options.facts = true;
    out.report = verifier::verify(input, windows, *windows.program_type(type), options);
    INFO(text);
    REQUIRE_MESSAGE(out.report.verified, out.report.text());
    REQUIRE(out.report.facts.size() == out.code.size());
    return out;
}

RegisterFact number(std::int64_t smin, std::int64_t smax, std::uint64_t umin, std::uint64_t umax) {
    RegisterFact f;
    f.kind = Kind::number;
    f.smin = smin;
    f.smax = smax;
    f.umin = umin;
    f.umax = umax;
    return f;
}
RegisterFact constant(std::int64_t value) {
    return number(value, value, static_cast<std::uint64_t>(value), static_cast<std::uint64_t>(value));
}
RegisterFact pointer(Kind kind, std::int64_t lo, std::int64_t hi) {
    RegisterFact f;
    f.kind = kind;
    f.offset_min = lo;
    f.offset_max = hi;
    return f;
}
RegisterFact stack(std::int64_t lo, std::int64_t hi, Frame frame) {
    RegisterFact f = pointer(Kind::stack, lo, hi);
    f.frame = frame;
    return f;
}
RegisterFact map_value(std::uint32_t map, bool exact, bool may_be_null, std::int64_t lo, std::int64_t hi) {
    RegisterFact f = pointer(Kind::map_value, lo, hi);
    f.index = map;
    f.exact_map = exact;
    f.may_be_null = may_be_null;
    return f;
}

std::string describe(const RegisterFact& f) {
    static constexpr const char* kinds[] = {"unknown", "number",    "context", "stack",      "packet",
                                            "memory",  "map_value", "map",     "allocation", "function"};
    static constexpr const char* frames[] = {"unknown", "own", "caller"};
    return std::string(kinds[static_cast<int>(f.kind)]) + (f.may_be_null ? " or null" : "") + " frame " +
           frames[static_cast<int>(f.frame)] + (f.exact_map ? " exact" : "") + " index " + std::to_string(f.index) +
           " s[" + std::to_string(f.smin) + ", " + std::to_string(f.smax) + "] u[" + std::to_string(f.umin) + ", " +
           std::to_string(f.umax) + "] offset [" + std::to_string(f.offset_min) + ", " + std::to_string(f.offset_max) +
           "] end [" + std::to_string(f.end_min) + ", " + std::to_string(f.end_max) + "]";
}

const std::vector<MapDescriptor> kArray{{"array", platform::MapKind::array, 4, 16, 2, std::nullopt, false, {}}};
// Two maps of one shape: the verifier cannot tell their values apart once paths join.
const std::vector<MapDescriptor> kTwoArrays{{"a", platform::MapKind::array, 4, 16, 2, std::nullopt, false, {}},
                                            {"b", platform::MapKind::array, 4, 16, 2, std::nullopt, false, {}}};

constexpr std::string_view kLookup = "*(u32 *)(r10 - 4) = 0\n" // 0
                                     "r2 = r10\n"              // 1
                                     "r2 += -4\n"              // 2
                                     "r1 = map_by_idx(0) ll\n" // 3, 4
                                     "call 1\n"                // 5
                                     "if r0 == 0 goto +1\n"    // 6
                                     "r1 = *(u64 *)(r0 + 8)\n" // 7
                                     "r0 = 1\n"                // 8
                                     "exit";                   // 9

// The differential check's tally: how much of what the facts claim the runs put to the test.
struct Tally {
    std::uint64_t instructions = 0;                     // instructions traced, over all runs
    std::uint64_t numbers = 0;                          // number facts checked against a value
    std::array<std::uint64_t, 10> pointers{};           // pointer facts checked, by kind
    std::uint64_t nulls = 0;                            // pointers that may be null, seen null
    std::uint64_t tight = 0;                            // number facts narrower than the widest intervals
    std::array<std::uint64_t, 10> unchecked_pointers{}; // pointer facts whose region the test could not find, by kind
    std::uint64_t own_frames = 0;                       // stack pointers claimed in the own frame
    std::uint64_t caller_frames = 0;                    // and in a caller's
};

std::string check_value(const RegisterFact& f, std::uint64_t value, const std::uint64_t* regs,
                        const embpf::fuzz::detail::Run& run, Tally& tally) {
    if (f.kind == Kind::unknown) {
        return {};
    }
    if (f.kind == Kind::number) {
        ++tally.numbers;
        if (f.smin != kMin || f.smax != kMax || f.umin != 0 || f.umax != kUMax) {
            ++tally.tight;
        }
        const auto s = static_cast<std::int64_t>(value);
        if (s < f.smin || s > f.smax || value < f.umin || value > f.umax) {
            return "the number " + std::to_string(s) + " (" + embpf::fuzz::detail::hex(value) + ")";
        }
        return {};
    }
    const auto kind = static_cast<std::size_t>(f.kind);
    if (value == 0) {
        if (f.may_be_null) {
            ++tally.nulls;
            return {};
        }
        return "null";
    }
    auto offset = [&](std::uint64_t start, const char* what) -> std::string {
        const auto off = static_cast<std::int64_t>(value - start);
        if (off < f.offset_min || off > f.offset_max) {
            return std::string(what) + (off >= 0 ? "+" : "") + std::to_string(off);
        }
        return {};
    };
    const platform::ContextDescriptor& context = run.type->context;
    switch (f.kind) {
    case Kind::context: ++tally.pointers[kind]; return offset(reinterpret_cast<std::uintptr_t>(run.ctx), "ctx");
    case Kind::stack: {
        ++tally.pointers[kind];
        std::string problem = offset(regs[10], "r10");
        const auto off = static_cast<std::int64_t>(value - regs[10]);
        const std::string at = "r10" + std::string(off >= 0 ? "+" : "") + std::to_string(off);
        if (f.frame == Frame::own) {
            ++tally.own_frames;
            if (off < -512 || off > 0) {
                problem = at + ", claimed in the own frame";
            }
        } else if (f.frame == Frame::caller) {
            ++tally.caller_frames;
            if (off <= 0 || value > run.stack_top) {
                problem = at + ", claimed in a caller's frame";
            }
        }
        return problem;
    }
    case Kind::packet: {
        ++tally.pointers[kind];
        std::uint64_t data = 0;
        std::uint64_t end = 0;
        std::memcpy(&data, run.ctx + context.data, 8);
        std::memcpy(&end, run.ctx + context.data_end, 8);
        std::string problem = offset(data, "data");
        const auto past = static_cast<std::int64_t>(value - end);
        if (past < f.end_min || past > f.end_max) {
            problem +=
                std::string(problem.empty() ? "" : ", ") + "data_end" + (past >= 0 ? "+" : "") + std::to_string(past);
        }
        return problem;
    }
    case Kind::map_value: {
        bool inside = false;
        for (std::size_t i = 0; i < run.handed_out.size(); ++i) {
            const auto start = reinterpret_cast<std::uintptr_t>(run.handed_out[i].start);
            const std::size_t map = run.handed_out_map[i];
            const auto off = static_cast<std::int64_t>(value - start);
            inside = inside || (value >= start && value - start < run.handed_out[i].size);
            const bool described = f.index == RegisterFact::kNoIndex ||
                                   ((*run.descriptors)[map].value_size == (*run.descriptors)[f.index].value_size &&
                                    (*run.descriptors)[map].kind == (*run.descriptors)[f.index].kind);
            if (off >= f.offset_min && off <= f.offset_max && described && (!f.exact_map || map == f.index)) {
                ++tally.pointers[kind];
                return {};
            }
        }
        if (inside) {
            return "a value of a map it is not claimed to be in, or at another offset: " +
                   embpf::fuzz::detail::where(run, value);
        }
        ++tally.unchecked_pointers[kind]; // a value the test did not hand out (a callback's element)
        return {};
    }
    case Kind::map: {
        for (std::size_t m = 0; m < run.maps->size(); ++m) {
            if (reinterpret_cast<std::uintptr_t>((*run.maps)[m].get()) != value) {
                continue;
            }
            ++tally.pointers[kind];
            if (f.exact_map && m != f.index) {
                return "map " + std::to_string(m) + " claimed to be map " + std::to_string(f.index);
            }
            return {};
        }
        if (f.exact_map) {
            return "no map of the program, claimed to be map " + std::to_string(f.index);
        }
        ++tally.unchecked_pointers[kind]; // an inner map
        return {};
    }
    case Kind::function: ++tally.pointers[kind]; return offset(f.index, "function");
    case Kind::memory:
    case Kind::allocation:
    case Kind::number:
    case Kind::unknown: break;
    }
    ++tally.unchecked_pointers[kind];
    return {};
}

struct Row {
    std::string_view name;
    std::string_view type;
    std::vector<MapDescriptor> maps;
    std::string_view text;
    std::size_t pc;
    int reg;
    RegisterFact expected;
};

} // namespace

TEST_SUITE("verifier facts") {
    TEST_CASE("registers before an instruction") {
        const Row rows[] = {
            {"r10 is the own frame's top", "xdp", {}, "r0 = 1\nexit", 0, 10, stack(0, 0, Frame::own)},
            {"r1 is the context at the entry", "xdp", {}, "r0 = 1\nexit", 0, 1, pointer(Kind::context, 0, 0)},
            {"a register never written is unknown", "xdp", {}, "r0 = 1\nexit", 0, 2, RegisterFact{}},
            {"a constant", "xdp", {}, "r3 = -2\nr0 = 1\nexit", 1, 3, constant(-2)},
            {"a pointer into the stack", "xdp", kArray, std::string_view(kLookup), 3, 2, stack(-4, -4, Frame::own)},
            {"a lookup's result may be null", "xdp", kArray, std::string_view(kLookup), 6, 0,
             map_value(0, true, true, 0, 0)},
            {"the null check's fall-through is not null", "xdp", kArray, std::string_view(kLookup), 7, 0,
             map_value(0, true, false, 0, 0)},
            {"a map from lddw", "xdp", kArray, std::string_view(kLookup), 5, 1,
             [] {
                 RegisterFact f = pointer(Kind::map, 0, 0);
                 f.index = 0;
                 f.exact_map = true;
                 return f;
             }()},
            {"a 32-bit move leaves the upper half zero",
             "bind",
             {},
             "r2 = *(u64 *)(r1 + 16)\nw1 = w2\nr0 = 0\nexit",
             2,
             1,
             number(0, 0xFFFFFFFF, 0, 0xFFFFFFFF)},
            {"a number loaded from the context is any number",
             "bind",
             {},
             "r2 = *(u64 *)(r1 + 16)\nw1 = w2\nr0 = 0\nexit",
             1,
             2,
             number(kMin, kMax, 0, kUMax)},
            {"a loop counter at the loop's test",
             "xdp",
             {},
             "r1 = 0\nr1 += 1\nif r1 < 10 goto -2\nr0 = 1\nexit",
             2,
             1,
             number(1, 10, 1, 10)},
            {"a loop counter at the loop's head",
             "xdp",
             {},
             "r1 = 0\nr1 += 1\nif r1 < 10 goto -2\nr0 = 1\nexit",
             1,
             1,
             number(0, 9, 0, 9)},
            // A stack pointer on one path, a number on the other: nothing is known where they meet.
            {"different kinds join to unknown",
             "bind",
             {},
             "r2 = *(u64 *)(r1 + 16)\nr3 = r10\nif r2 == 0 goto +1\nr3 = 5\n*(u64 *)(r10 - 8) = r3\nr0 = 0\nexit",
             4,
             3,
             RegisterFact{}},
            {"one kind, different offsets: their hull",
             "bind",
             {},
             "r2 = *(u64 *)(r1 + 16)\nr3 = r10\nr3 += -8\nif r2 == 0 goto +1\nr3 += -8\n*(u64 *)(r3 + 0) = 0\n"
             "r0 = 0\nexit",
             5,
             3,
             stack(-16, -8, Frame::own)},
            // Values of two maps of one shape: a map value of either, neither named exactly.
            {"alike maps joined name neither exactly", "xdp", kTwoArrays,
             "r6 = *(u32 *)(r1 + 24)\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map_by_idx(0) ll\n"
             "if r6 == 0 goto +2\nr1 = map_by_idx(1) ll\ncall 1\nif r0 == 0 goto +1\nr1 = *(u64 *)(r0 + 8)\nr0 = 1\n"
             "exit",
             9, 1, pointer(Kind::map, 0, 0)},
            {"and so are their values", "xdp", kTwoArrays,
             "r6 = *(u32 *)(r1 + 24)\n*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map_by_idx(0) ll\n"
             "if r6 == 0 goto +2\nr1 = map_by_idx(1) ll\ncall 1\nif r0 == 0 goto +1\nr1 = *(u64 *)(r0 + 8)\nr0 = 1\n"
             "exit",
             11, 0, map_value(RegisterFact::kNoIndex, false, false, 0, 0)},
            // A subprogram called with r1 = 3 and with r1 = 7.
            {"a subprogram's argument from two call sites",
             "xdp",
             {},
             "r1 = 3\ncall pc+5\nr6 = r0\nr1 = 7\ncall pc+2\nr0 = 1\nexit\nr0 = r1\nexit",
             7,
             1,
             number(3, 7, 3, 7)},
            {"a subprogram's own r10",
             "xdp",
             {},
             "r1 = 3\ncall pc+5\nr6 = r0\nr1 = 7\ncall pc+2\nr0 = 1\nexit\nr0 = r1\nexit",
             7,
             10,
             stack(0, 0, Frame::own)},
            // The caller's r10 - 8, seen from the callee, whose r10 lies 512 bytes lower.
            {"a pointer into the caller's frame",
             "xdp",
             {},
             "*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\ncall pc+2\nr0 = 1\nexit\nr0 = *(u64 *)(r1 + 0)\nexit",
             6,
             1,
             stack(504, 504, Frame::caller)},
            // Between the shifts of a pair the register holds 2 << 32, whatever the analysis keeps to carry relations
            // through the pair; after the pair it holds 2 again.
            {"between the shifts of a sign-extension pair",
             "xdp",
             {},
             "r3 = 2\nr3 <<= 32\nr3 s>>= 32\nr0 = r3\nexit",
             2,
             3,
             number(kMin, kMax, 0, kUMax)},
            {"after a sign-extension pair",
             "xdp",
             {},
             "r3 = 2\nr3 <<= 32\nr3 s>>= 32\nr0 = r3\nexit",
             3,
             3,
             constant(2)},
            {"between the shifts of a zero-extension pair",
             "bind",
             {},
             "r2 = *(u32 *)(r1 + 16)\nr2 <<= 32\nr2 >>= 32\nr0 = 0\nexit",
             2,
             2,
             number(kMin, kMax, 0, kUMax)},
            {"after a zero-extension pair",
             "bind",
             {},
             "r2 = *(u32 *)(r1 + 16)\nr2 <<= 32\nr2 >>= 32\nr0 = 0\nexit",
             3,
             2,
             number(0, 0xFFFFFFFF, 0, 0xFFFFFFFF)},
        };
        for (const Row& row : rows) {
            INFO(row.name);
            const Verified v = verified(row.type, row.text, row.maps);
            REQUIRE(v.report.facts[row.pc].reached);
            const RegisterFact& got = v.report.facts[row.pc].registers[static_cast<std::size_t>(row.reg)];
            INFO("r", row.reg, " before ", row.pc, ": ", describe(got));
            CHECK(got == row.expected);
        }
    }

    TEST_CASE("what is not reached has no facts, and without the option there are none") {
        const Verified v = verified("xdp", std::string_view(kLookup), kArray);
        CHECK_FALSE(v.report.facts[4].reached); // the lddw's second slot
        const Verified early = verified("xdp", "r0 = 1\nexit\nr0 = 2\nexit");
        CHECK(early.report.facts[0].reached);
        CHECK_FALSE(early.report.facts[2].reached);
        CHECK(early.report.facts[2].registers[10].kind == Kind::unknown);

        const platform::Platform& windows = platform::windows();
        verifier::ProgramInput input;
        input.name = "facts";
        input.section = "xdp";
        input.instructions = v.code;
        input.maps = kArray;
        const verifier::Report plain = verifier::verify(input, windows, *windows.program_type("xdp"));
        CHECK(plain.verified);
        CHECK(plain.facts.empty());
        CHECK(plain.instruction_bound == v.report.instruction_bound);
        // A refused program has none either.
        const auto bad = isa::assemble("r0 = *(u64 *)(r10 + 0)\nexit").value();
        input.instructions = bad;
        verifier::Options options;
        options.facts = true;
        const verifier::Report refused = verifier::verify(input, windows, *windows.program_type("xdp"), options);
        CHECK_FALSE(refused.verified);
        CHECK(refused.facts.empty());
    }

    TEST_CASE("memory accesses") {
        const Verified v = verified("xdp", std::string_view(kLookup), kArray);
        const std::optional<AccessFact> store = verifier::access_fact(v.report.facts, v.code, 0);
        REQUIRE(store);
        CHECK(store->region == Kind::stack);
        CHECK(store->frame == Frame::own);
        CHECK(store->offset_min == -4);
        CHECK(store->offset_max == -4);
        CHECK(store->width == 4);
        const std::optional<AccessFact> load = verifier::access_fact(v.report.facts, v.code, 7);
        REQUIRE(load);
        CHECK(load->region == Kind::map_value);
        CHECK(load->exact_map);
        CHECK(load->index == 0);
        CHECK(load->offset_min == 8);
        CHECK(load->offset_max == 8);
        CHECK(load->width == 8);
        CHECK_FALSE(verifier::access_fact(v.report.facts, v.code, 1)); // not an access
        CHECK_FALSE(verifier::access_fact(v.report.facts, v.code, 4)); // the lddw's second slot

        // Through the caller's r10 - 8 in a callee: the caller's frame.
        const Verified callee = verified("xdp", "*(u64 *)(r10 - 8) = 0\nr1 = r10\nr1 += -8\ncall pc+2\nr0 = 1\nexit\n"
                                                "r0 = *(u64 *)(r1 + 0)\nexit");
        const std::optional<AccessFact> up = verifier::access_fact(callee.report.facts, callee.code, 6);
        REQUIRE(up);
        CHECK(up->region == Kind::stack);
        CHECK(up->frame == Frame::caller);
        CHECK(up->offset_min == 504);
    }
}

TEST_SUITE("verifier facts") {
    TEST_CASE("every value a run holds satisfies the facts") {
        constexpr std::uint64_t kPrograms = 1000;
        constexpr std::uint64_t kSeedBase = 0xfac7'0000'0000ULL;
        constexpr std::uint64_t kMaxInstructions = 10'000'000;
        const platform::Platform& platform = embpf::fuzz::detail::fuzz_platform();
        Tally tally;
        std::uint64_t accepted = 0;
        std::uint64_t ran = 0;
        std::uint64_t failures = 0;
        for (std::uint64_t seed = 0; seed < kPrograms; ++seed) {
            embpf::fuzz::Entropy entropy(kSeedBase + seed);
            const embpf::fuzz::GeneratedProgram program = embpf::fuzz::generate_program(entropy);
            verifier::ProgramInput input;
            input.name = "generated";
            input.section = program.type;
            input.instructions = program.instructions;
            input.maps = program.maps;
            const platform::ProgramType& type = *platform.program_type(program.type);
            verifier::Options options;
            options.facts = true;
            const verifier::Report report = verifier::verify(input, platform, type, options);
            // The facts are a by-product: the verdict and the bounds stay what they are without them.
            const verifier::Report plain = verifier::verify(input, platform, type);
            REQUIRE(report.verified == plain.verified);
            REQUIRE(report.cost_bound == plain.cost_bound);
            if (!report.verified) {
                continue;
            }
            ++accepted;
            REQUIRE(report.facts.size() == program.instructions.size());
            REQUIRE(report.cost_bound);
            if (*report.cost_bound > kMaxInstructions) {
                continue;
            }
            ++ran;
            const auto runs =
                static_cast<unsigned>(std::clamp<std::uint64_t>(kMaxInstructions / *report.cost_bound, 1, 4));
            const embpf::fuzz::RunObserver observe = [&](const embpf::fuzz::detail::Run& run, std::uint32_t pc,
                                                         const std::uint64_t* regs) -> std::string {
                ++tally.instructions;
                if (pc >= report.facts.size() || !report.facts[pc].reached) {
                    return "a run reaches an instruction the facts call unreachable";
                }
                for (std::size_t r = 0; r < report.facts[pc].registers.size(); ++r) {
                    const RegisterFact& fact = report.facts[pc].registers[r];
                    if (std::string problem = check_value(fact, regs[r], regs, run, tally); !problem.empty()) {
                        return "r" + std::to_string(r) + " holds " + problem + ", outside its fact " + describe(fact);
                    }
                }
                return {};
            };
            const std::string failure =
                embpf::fuzz::run_as_verified(program, *report.cost_bound, entropy, runs, observe);
            if (!failure.empty()) {
                ++failures;
                if (failures <= 3) {
                    FAIL_CHECK("seed " << kSeedBase + seed << ": " << failure);
                }
            }
        }
        const auto count = [&](Kind k) { return tally.pointers[static_cast<std::size_t>(k)]; };
        const auto unchecked = [&](Kind k) { return tally.unchecked_pointers[static_cast<std::size_t>(k)]; };
        MESSAGE(accepted << " of " << kPrograms << " programs accepted, " << ran << " ran; " << tally.instructions
                         << " instructions traced; numbers checked " << tally.numbers << " (" << tally.tight
                         << " narrower than any number); pointers checked: context " << count(Kind::context)
                         << ", stack " << count(Kind::stack) << " (own frame " << tally.own_frames << ", caller's "
                         << tally.caller_frames << "), packet " << count(Kind::packet) << ", map value "
                         << count(Kind::map_value) << ", map " << count(Kind::map) << ", function "
                         << count(Kind::function) << ", null " << tally.nulls << "; not checked: map value "
                         << unchecked(Kind::map_value) << ", map " << unchecked(Kind::map) << ", allocation "
                         << unchecked(Kind::allocation) << ", memory " << unchecked(Kind::memory));
        CHECK(failures == 0);
        // Enough of each kind reaches the check for it to mean something.
        CHECK(accepted * 2 >= kPrograms);
        CHECK(tally.tight >= 100'000);
        CHECK(count(Kind::context) >= 10'000);
        CHECK(count(Kind::stack) >= 10'000);
        CHECK(count(Kind::packet) >= 10'000);
        CHECK(count(Kind::map_value) >= 1'000);
        CHECK(tally.nulls >= 100);
    }
}
