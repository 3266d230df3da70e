// bpf_loop and bpf_for_each_map_elem (tests/api/objects/callbacks.c): the interpreter runs the callbacks in frames of
// the program's own run, with what Linux hands them and returns what Linux returns. And a bloom filter, which
// map_peek_elem tests.
#include "embpf/api/map.hpp"
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

using namespace embpf;

namespace {

const std::string kObject = std::string(EMBPF_TEST_API_DIR) + "/callbacks.o";

// A socket filter's context around a small packet.
struct SkBuff : testing_packets::SkBuffAround {
    SkBuff() : SkBuffAround(16) {}
};

Object load() {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(*object);
}

std::uint64_t run(const Object& object, const char* name) {
    auto program = object.program(name);
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    CHECK(program->verified());
    SkBuff skb;
    auto result = program->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    return *result;
}

} // namespace

TEST_CASE("callbacks: bpf_loop calls back with each index until the callback stops it") {
    const Object object = load();
    // Indexes 0-4 (the callback stops at 4): squares 0 + 1 + 4 + 9 + 16, five calls reported and counted.
    CHECK(run(object, "loop_squares") == (30U | (5U << 16) | (5U << 24)));
    // All nine: 0 + 1 + 4 + ... + 64.
    CHECK(run(object, "loop_all") == (204U | (9U << 16)));
    // Flags other than 0: -EINVAL (22); more than 2^23 loops: -E2BIG (7); the callback never runs.
    CHECK(run(object, "loop_refused") == (22U | (7U << 8)));
}

TEST_CASE("callbacks: for_each_map_elem hands each element's key copy and value, and stops when asked") {
    const Object object = load();
    auto values = object.map<std::uint32_t, std::uint64_t>("values");
    REQUIRE(values.has_value());
    for (std::uint32_t i = 0; i < 8; ++i) {
        REQUIRE(values->update(i, std::uint64_t{10} * i).has_value());
    }
    // Values 0 + 10 + ... + 70 and keys 0 + 1 + ... + 7, eight calls.
    CHECK(run(object, "walk_array") == (308U | (8U << 16)));
    // The callback added 1 to each value through its pointer; its write to the key copy changed no key.
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(values->lookup(i) == std::uint64_t{10} * i + 1);
    }
    CHECK_FALSE(values->lookup(1000).has_value());

    auto table = object.map<std::uint64_t, std::uint64_t>("table");
    REQUIRE(table.has_value());
    // An empty map: no call.
    CHECK(run(object, "walk_hash") == 0);
    REQUIRE(table->update(100, 1).has_value());
    REQUIRE(table->update(200, 2).has_value());
    REQUIRE(table->update(300, 4).has_value());
    CHECK(run(object, "walk_hash") == (7U | (3U << 16)));
    // Stopped by the second call: two of the three values, whichever the map's order gives first.
    const std::uint64_t stopped = run(object, "walk_stop");
    CHECK((stopped >> 16) == 2);
    const std::uint64_t two = stopped & 0xffff;
    CHECK((two == 1 + 2 || two == 1 + 4 || two == 2 + 4));
}

// The checked interpreter runs callbacks too (their helpers' arguments checked, each element's value memory of the
// run): the same results, and never more instructions than the verifier's bound (which counts helper calls at
// their cost, as the checked count does).
TEST_CASE("callbacks: checked runs agree with fast runs and stay within the verifier's bound") {
    const Object object = load();
    auto values = object.map<std::uint32_t, std::uint64_t>("values");
    REQUIRE(values.has_value());
    auto table = object.map<std::uint64_t, std::uint64_t>("table");
    REQUIRE(table.has_value());
    for (std::uint32_t i = 0; i < 8; ++i) {
        REQUIRE(values->update(i, std::uint64_t{3} * i).has_value());
    }
    REQUIRE(table->update(7, 70).has_value());
    REQUIRE(table->update(8, 80).has_value());
    for (const char* name : {"loop_squares", "loop_all", "loop_refused", "walk_array", "walk_hash", "walk_stop"}) {
        CAPTURE(name);
        auto program = object.program(name);
        REQUIRE(program.has_value());
        SkBuff skb;
        auto checked = program->run_checked(skb.bytes.data(), skb.bytes.size());
        REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
        REQUIRE(program->verification().cost_bound.has_value());
        CHECK(checked->instructions <= *program->verification().cost_bound);
        CHECK(checked->instructions > 0);
        if (std::string_view(name) == "walk_array") {
            // The checked run added 1 to each value: the fast run sees values 3i + 1.
            CHECK(checked->r0 == ((84U + 28U) | (8U << 16)));
            CHECK(run(object, name) == ((84U + 8U + 28U) | (8U << 16)));
            continue;
        }
        CHECK(run(object, name) == checked->r0);
    }
}

TEST_CASE("callbacks object: a bloom filter finds what a program added, and map_extra sets its hash functions") {
    const Object object = load();
    auto program = object.program("bloom");
    REQUIRE(program.has_value());
    auto seen = object.map("seen");
    REQUIRE(seen.has_value());
    CHECK(seen->runtime_map()->config().map_extra == 3);
    // No typed view reads a bloom filter: the error says how to use it.
    auto typed = object.map<void, std::uint32_t>("seen");
    REQUIRE_FALSE(typed.has_value());
    CHECK(typed.error().message.find("host_lookup tests one") != std::string::npos);
    // The context's len is 0 here: 0 is not found, then added and found; 17 is not found (3 hash functions in 64 *
    // 3 * 7 / 5 bits, 512: one value set at most 3 of them).
    SkBuff skb;
    auto first = program->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(first.has_value());
    CHECK(*first == 2);
    auto second = program->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(second.has_value());
    CHECK(*second == 3);
    auto checked = program->run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
    CHECK(checked->r0 == 3);
}
