// fentry and lsm programs (tests/api/objects/fentry.c) read the objects their hook hands them through the addresses
// in their context, as the kernel's read kernel objects: with probe loads, which load 0 where the host's memory cannot
// be read. A host testing such a program hands it objects of its own.
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "linux_contexts.hpp"

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

// Externs the host gives at load (tests/api/objects/host_externs.c): the verifier proves the programs safe whatever
// the values are, and LoadOptions::externs gives them.
TEST_CASE("host addresses: externs the host gives at load") {
    const std::string path = std::string(EMBPF_TEST_API_DIR) + "/host_externs.o";
    auto spec = ObjectSpec::open(std::filesystem::path(path), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    for (const ProgramSpec& program : spec->programs()) {
        REQUIRE(program.definition.externs.size() == 1);
        const elf::ExternReference& ref = program.definition.externs.front();
        if (program.name() == "read_symbol") {
            CHECK(ref.name == "host_counter");
            CHECK(ref.kernel_symbol);
        } else {
            CHECK(ref.name == "HOST_CONSTANT");
            CHECK_FALSE(ref.kernel_symbol);
        }
    }

    // A program naming an extern without a value does not load, and says which; the others do.
    LoadOptions partly;
    partly.externs["HOST_CONSTANT"] = 1;
    auto missing = Object::load(*spec, partly);
    REQUIRE_MESSAGE(missing.has_value(), (missing ? "" : missing.error().message));
    auto unavailable = missing->program("read_symbol");
    REQUIRE_FALSE(unavailable.has_value());
    CHECK(unavailable.error().message ==
          "program read_symbol: extern host_counter has no value: the host gives it in LoadOptions::externs");
    CHECK(missing->program("constant").has_value());

    const std::array<std::uint64_t, 2> counter{40, 2};
    LoadOptions options;
    options.externs["host_counter"] = reinterpret_cast<std::uintptr_t>(counter.data());
    options.externs["HOST_CONSTANT"] = 100;
    auto loaded = Object::load(*spec, options);
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
    testing_packets::SkBuffAround skb(16);
    auto read = loaded->program("read_symbol");
    REQUIRE(read.has_value());
    CHECK(read->verified());
    CHECK(read->verification().probe_loads.size() == 2); // the symbol's words are read as a host's are
    auto result = read->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    CHECK(*result == 42);
    auto constant = loaded->program("constant");
    REQUIRE(constant.has_value());
    result = constant->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    CHECK(*result == 116);

    // An address the process cannot read reads as zeros; a platform for untrusted plugins refuses the reads.
    options.externs["host_counter"] = 0xFFFF'FFFF'FFFF'0000ULL;
    loaded = Object::load(*spec, options);
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
    result = loaded->program("read_symbol")->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(result.has_value());
    CHECK(*result == 0);
    platform::Platform untrusted = platform::linux();
    untrusted.set_for_untrusted_plugins(true);
    auto refused = Object::load(*spec, untrusted, options);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("is a host address") != std::string::npos);

    // A definition edited to name another instruction as the extern's is refused, not patched.
    for (ProgramSpec& program : spec->programs()) {
        program.definition.externs.front().instruction += 2;
    }
    auto edited = Object::load(*spec, options); // the verifier finds the extern's lddw without its extern
    REQUIRE_FALSE(edited.has_value());
    CHECK(edited.error().message.find("lddw of a variable the program declares no extern for") != std::string::npos);
    options.unverified = true; // and the loader, which patches lddws, finds the extern without its lddw
    edited = Object::load(*spec, options);
    REQUIRE_FALSE(edited.has_value());
    CHECK(edited.error().message.find("names no extern lddw of the program") != std::string::npos);
}
