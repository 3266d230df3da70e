// read_section, write_section and GlobalData<T>: the global-data sections of tests/elf/objects/libbpf_style.c as
// structs with their layout, before the load (initial values) and after it (as the program sees them).
#include "embpf/api/skeleton.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

using namespace embpf;

namespace {

const std::string kElf = EMBPF_TEST_ELF_DIR;

// libbpf_style.c's sections: `const volatile __u32 config_port = 53` and the printk format's string after it,
// `__u64 packets_seen`, `__u32 threshold = 7`. 21 bytes of `.rodata` take packing.
#pragma pack(push, 1)
struct Rodata {
    std::uint32_t config_port;
    std::array<std::uint8_t, 17> rest;
};
#pragma pack(pop)
static_assert(sizeof(Rodata) == 21);
struct Bss {
    std::uint64_t packets_seen;
};
struct Data {
    std::uint32_t threshold;
};

ObjectSpec open_spec() {
    auto spec = ObjectSpec::open(std::filesystem::path(kElf + "/libbpf_style.o"));
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    return std::move(spec).value();
}

} // namespace

TEST_CASE("global data: sections read and written as structs before the load, then bound after it") {
    ObjectSpec spec = open_spec();
    Rodata rodata{};
    REQUIRE(read_section(spec, ".rodata", rodata).has_value());
    CHECK(rodata.config_port == 53);
    Data data{};
    REQUIRE(read_section(spec, ".data", data).has_value());
    CHECK(data.threshold == 7);

    rodata.config_port = 8080;
    data.threshold = 1000;
    REQUIRE(write_section(spec, ".rodata", rodata).has_value());
    REQUIRE(write_section(spec, ".data", data).has_value());
    REQUIRE(spec.set_global<std::uint64_t>("packets_seen", 40).has_value());

    auto object = Object::load(spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto loaded_rodata = global_data<Rodata>(*object, ".rodata");
    auto loaded_bss = global_data<Bss>(*object, ".bss");
    auto loaded_data = global_data<Data>(*object, ".data");
    REQUIRE(loaded_rodata.has_value());
    REQUIRE(loaded_bss.has_value());
    REQUIRE(loaded_data.has_value());
    CHECK(loaded_rodata->read().config_port == 8080);
    CHECK(loaded_rodata->read_only());
    CHECK(loaded_data->read().threshold == 1000);
    CHECK(loaded_bss->name() == ".bss");

    auto program = object->program("xdp_count");
    REQUIRE(program.has_value());
    testing_packets::HeapPacket packet(64);
    auto ctx = testing_packets::linux_xdp(packet, 1);
    REQUIRE(program->run(&ctx, sizeof ctx).has_value());
    CHECK(loaded_bss->read().packets_seen == 41);

    REQUIRE(loaded_bss->write({5}).has_value());
    REQUIRE(program->run(&ctx, sizeof ctx).has_value());
    CHECK(loaded_bss->read().packets_seen == 6);

    // `.rodata` is what the verifier read: frozen after the load.
    auto refused = loaded_rodata->write(rodata);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("read-only") != std::string::npos);
}

TEST_CASE("global data: a struct of another size, or a map that is no section, is refused by name") {
    ObjectSpec spec = open_spec();
    std::uint64_t wrong = 0;
    auto read = read_section(spec, ".data", wrong);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.error().message == "section .data is 4 bytes, but its type is 8");
    auto missing = write_section(spec, ".nope", wrong);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message.find("no global-data section .nope") != std::string::npos);
    auto not_section = read_section(spec, "counts", wrong);
    REQUIRE_FALSE(not_section.has_value());

    auto object = Object::load(spec, {.unverified = true});
    REQUIRE(object.has_value());
    auto map = global_data<std::uint64_t>(*object, "counts");
    REQUIRE_FALSE(map.has_value());
    CHECK(map.error().message == "map counts is not a global-data section");
    auto sized = global_data<std::uint64_t>(*object, ".data");
    REQUIRE_FALSE(sized.has_value());
    CHECK(sized.error().message.find("8 bytes") != std::string::npos);
}
