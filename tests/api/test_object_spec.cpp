// ObjectSpec: opening objects, choosing the platform, editing specs and globals before load.
#include "embpf/api/object_spec.hpp"

#include <doctest/doctest.h>

#include <cstring>

using namespace embpf;

namespace {
const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::string kElf = EMBPF_TEST_ELF_DIR;
} // namespace

TEST_CASE("object spec: the .ebpf_for_windows tag chooses the platform, and the choice is reported") {
    auto windows = ObjectSpec::open(std::filesystem::path(kSeeds + "/TraceConnections.o"));
    REQUIRE_MESSAGE(windows.has_value(), (windows ? "" : windows.error().message));
    CHECK(windows->platform().name() == "windows");
    CHECK(windows->platform_choice().reason.find(".ebpf_for_windows") != std::string::npos);
    REQUIRE(windows->programs().size() == 1);
    CHECK(windows->programs()[0].name() == "TraceConnections");
    CHECK(windows->programs()[0].type == "bind");

    auto linux_object = ObjectSpec::open(std::filesystem::path(kElf + "/libbpf_style.o"));
    REQUIRE(linux_object.has_value());
    CHECK(linux_object->platform().name() == "linux");
    CHECK(linux_object->platform_choice().reason.find("no .ebpf_for_windows") != std::string::npos);
    CHECK(linux_object->program("xdp_count")->type == "xdp");

    // The caller's choice wins and types are guessed on that platform.
    auto forced = ObjectSpec::open(std::filesystem::path(kElf + "/multi_program.o"), &platform::windows());
    REQUIRE(forced.has_value());
    CHECK(forced->platform().name() == "windows");
    CHECK(forced->platform_choice().reason == "chosen by the caller");
    CHECK(forced->program("first")->type == "xdp");
    CHECK(forced->program("third")->type.empty()); // "tc" is no eBPF for Windows hook

    forced->set_platform(platform::linux(), "switched");
    CHECK(forced->program("third")->type == "sched_cls");
}

TEST_CASE("object spec: maps and program types are editable before load") {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/libbpf_style.o"));
    REQUIRE(spec.has_value());
    MapSpec* counts = spec->map("counts");
    REQUIRE(counts != nullptr);
    counts->max_entries = 4096;
    CHECK(spec->map("counts")->max_entries == 4096);
    spec->program("xdp_count")->type = "sched_cls";
    CHECK(spec->program("xdp_count")->type == "sched_cls");
    CHECK(spec->map("nope") == nullptr);
    CHECK(spec->program("nope") == nullptr);
}

TEST_CASE("object spec: set_global writes the initial value, checked against the variable and its BTF type") {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/libbpf_style.o"));
    REQUIRE(spec.has_value());
    REQUIRE(spec->set_global<std::uint32_t>("config_port", 8080).has_value());
    const elf::Variable* port = spec->variable("config_port");
    REQUIRE(port != nullptr);
    std::uint32_t stored = 0;
    std::memcpy(&stored, spec->maps()[port->map].initial_value.data() + port->offset, sizeof stored);
    CHECK(stored == 8080);

    auto wrong_size = spec->set_global<std::uint64_t>("config_port", 1);
    REQUIRE_FALSE(wrong_size.has_value());
    CHECK(wrong_size.error().message.find("4 bytes, not 8") != std::string::npos);

    auto missing = spec->set_global<std::uint32_t>("no_such_variable", 1);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message.find("no_such_variable") != std::string::npos);

    REQUIRE(spec->set_global<std::uint64_t>("packets_seen", 99).has_value()); // .bss works too
}

TEST_CASE("object spec: an unreadable object is an error, not a spec") {
    const std::uint8_t junk[] = {1, 2, 3};
    auto spec = ObjectSpec::open(std::span<const std::uint8_t>(junk));
    REQUIRE_FALSE(spec.has_value());
    CHECK(spec.error().message.find("ELF") != std::string::npos);
}
