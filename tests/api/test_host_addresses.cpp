// fentry and lsm programs (tests/api/objects/fentry.c) read the objects their hook hands them through the addresses
// in their context, as the kernel's read kernel objects: with probe loads, which load 0 where the host's memory cannot
// be read. A host testing such a program hands it objects of its own.
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "low_packet.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>

using namespace embpf;

namespace {

const std::string kObject = std::string(EMBPF_TEST_API_DIR) + "/fentry.o";

struct FileName {
    char bytes[16];
};
struct Task {
    std::int32_t pid = 0;
    std::int32_t flags = 0;
    const Task* parent = nullptr;
    const FileName* name = nullptr;
};

std::int64_t run(const Object& object, const char* name, const void* argument) {
    auto program = object.program(name);
    REQUIRE_MESSAGE(program.has_value(), (program ? "" : program.error().message));
    CHECK(program->verified());
    std::array<std::uint64_t, 12> args{reinterpret_cast<std::uintptr_t>(argument)};
    auto result = program->run(args.data(), sizeof args);
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    return static_cast<std::int32_t>(*result); // the programs return int
}

} // namespace

TEST_CASE("host addresses: a fentry program reads the objects its arguments point to") {
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto loaded = Object::load(*spec);
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
    const Object& object = *loaded;

    const FileName name{"x-file"};
    const Task parent{41, 0, nullptr, nullptr};
    const Task child{42, 1, &parent, &name};
    const Task orphan{43, 0, nullptr, nullptr};
    const Task unnamed{44, 0, &parent, nullptr};
    CHECK(run(object, "parent_pid", &child) == 41 + 'x');
    CHECK(run(object, "parent_pid", &unnamed) == 41);
    CHECK(run(object, "parent_pid", &orphan) == -1);
    CHECK(run(object, "parent_pid", nullptr) == -1);
    // An address the process cannot read reads as zeros: no parent.
    CHECK(run(object, "parent_pid", reinterpret_cast<const void*>(std::uintptr_t{0xFFFF'FFFF'FFFF'0000ULL})) == -1);
    CHECK(run(object, "deny_flagged", &child) == -1);
    CHECK(run(object, "deny_flagged", &parent) == 0);

    // Checked runs read through them the same way.
    auto program = object.program("parent_pid");
    REQUIRE(program.has_value());
    std::array<std::uint64_t, 12> args{reinterpret_cast<std::uintptr_t>(&child)};
    auto checked = program->run_checked(args.data(), sizeof args);
    REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
    CHECK(checked->r0 == 41 + 'x');
}

TEST_CASE("host addresses: a platform for untrusted plugins refuses to read through them") {
    platform::Platform untrusted = platform::linux();
    untrusted.set_for_untrusted_plugins(true);
    auto spec = ObjectSpec::open(std::filesystem::path(kObject), &untrusted);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto loaded = Object::load(*spec);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().message.find(
              "is a host address, which only a platform for trusted plugins lets programs read") != std::string::npos);
}

// A weak kernel symbol or function the platform lacks (tests/api/objects/weak_externs.c) has address 0: a program that
// tests it first loads and never calls it. Reaching the call is refused (tests/verifier/test_verifier_asm.cpp).
TEST_CASE("host addresses: weak externs nothing provides are absent, at address 0") {
    const std::string path = std::string(EMBPF_TEST_API_DIR) + "/weak_externs.o";
    auto spec = ObjectSpec::open(std::filesystem::path(path), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto loaded = Object::load(*spec);
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
    auto program = loaded->program("absent");
    REQUIRE(program.has_value());
    testing_packets::SkBuffAround skb(16);
    auto result = program->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    CHECK(*result == 7);
}
