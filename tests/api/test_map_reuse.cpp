// LoadOptions::reuse_maps: a new load of a plugin shares the maps of the one it replaces, so that what they hold (and
// a ring buffer the host consumes) survives the swap.
#include "embpf/api/object.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "embpf/runtime/map.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace embpf;

namespace {

const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;
const std::string kTail = EMBPF_TEST_TAIL_DIR;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

ObjectSpec open(const std::string& path, const platform::Platform* platform = nullptr) {
    auto spec = ObjectSpec::open(std::filesystem::path(path), platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    return std::move(spec).value();
}

std::vector<std::uint8_t> ipv4_udp(std::size_t length) {
    std::vector<std::uint8_t> packet(length, 0);
    packet[12] = 0x08;
    packet[14] = 0x45;
    packet[23] = 17;
    packet[37] = 0x35;
    return packet;
}

} // namespace

TEST_SUITE_BEGIN("api map reuse");

TEST_CASE("map reuse: a reloaded plugin counts on in the map of the one it replaces") {
    const ObjectSpec spec = open(kSeeds + "/TraceConnections.o");
    auto first = Object::load(spec);
    REQUIRE(first.has_value());
    auto proc_map = first->map("proc_map");
    REQUIRE(proc_map.has_value());
    testing_seeds::BindContext bind{};
    const char app[] = "app.exe";
    bind.app_id_start = reinterpret_cast<const std::uint8_t*>(app);
    bind.app_id_end = bind.app_id_start + sizeof app - 1;
    bind.process_id = 7;
    REQUIRE(first->program("TraceConnections")->run(&bind, sizeof bind).has_value());

    LoadOptions options;
    options.reuse_maps.emplace("proc_map", proc_map->runtime_map());
    auto second = Object::load(spec, options);
    REQUIRE_MESSAGE(second.has_value(), (second ? "" : second.error().message));
    // One map: the second object sees the first's entry, and its own run lands where the first object looks.
    CHECK(second->map("proc_map")->runtime_map() == proc_map->runtime_map());
    const std::uint32_t seven = 7;
    auto kept = second->map("proc_map")->lookup({reinterpret_cast<const std::uint8_t*>(&seven), sizeof seven});
    REQUIRE(kept.has_value());
    CHECK(kept->has_value());
    bind.process_id = 8;
    REQUIRE(second->program("TraceConnections")->run(&bind, sizeof bind).has_value());
    const std::uint32_t eight = 8;
    auto seen = proc_map->lookup({reinterpret_cast<const std::uint8_t*>(&eight), sizeof eight});
    REQUIRE(seen.has_value());
    CHECK(seen->has_value());
    // The first object may go: the map lives on with the second.
    *first = std::move(*second);
    auto still = first->map("proc_map")->lookup({reinterpret_cast<const std::uint8_t*>(&seven), sizeof seven});
    REQUIRE(still.has_value());
    CHECK(still->has_value());
}

TEST_CASE("map reuse: a ring buffer the host consumes survives the swap of the program that fills it") {
    const ObjectSpec spec = open(kSeeds + "/myxdp_stage4.o");
    auto first = Object::load(spec);
    REQUIRE(first.has_value());
    auto ring = first->ring_buffer<testing_seeds::FiveTuple>("xdp_map");
    REQUIRE(ring.has_value());
    REQUIRE(first->program("packet_parse")->test_run({.data_in = ipv4_udp(60)}).has_value());
    LoadOptions options;
    options.reuse_maps.emplace("xdp_map", first->map("xdp_map")->runtime_map());
    auto second = Object::load(spec, options);
    REQUIRE_MESSAGE(second.has_value(), (second ? "" : second.error().message));
    first = Error::invalid("the old plugin is gone"); // the consumer keeps the map alive
    REQUIRE(second->program("packet_parse")->test_run({.data_in = ipv4_udp(60)}).has_value());
    std::size_t records = 0;
    ring->consume([&](const testing_seeds::FiveTuple& tuple) {
        CHECK(tuple.proto == 17);
        ++records;
    });
    CHECK(records == 2); // one from each load, through one consumer
}

TEST_CASE("map reuse: a map of another shape, a read-only map or none is refused, naming the difference") {
    const ObjectSpec spec = open(kSeeds + "/TraceConnections.o");
    auto first = Object::load(spec);
    REQUIRE(first.has_value());
    ObjectSpec larger = spec;
    larger.map("proc_map")->max_entries *= 2;
    LoadOptions options;
    options.reuse_maps.emplace("proc_map", first->map("proc_map")->runtime_map());
    auto refused = Object::load(larger, options);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "map proc_map: the map to reuse (proc_map) has max_entries"));

    runtime::MapConfig other;
    other.name = "other";
    other.kind = platform::MapKind::array;
    other.key_size = 4;
    other.value_size = 8;
    other.max_entries = 4;
    auto array = runtime::create_map(other);
    REQUIRE(array.has_value());
    options.reuse_maps["proc_map"] = *array;
    refused = Object::load(spec, options);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "map proc_map: the map to reuse (other) has kind"));

    options.reuse_maps["proc_map"] = nullptr;
    refused = Object::load(spec, options);
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "names no map for it"));

    // `.kconfig` and `.rodata` hold the object's constants, which the verifier reads: never shared.
    const ObjectSpec constants = open(std::string(EMBPF_TEST_API_DIR) + "/kconfig.o");
    REQUIRE(constants.map(".kconfig") != nullptr);
    auto with_constants = Object::load(constants);
    REQUIRE_MESSAGE(with_constants.has_value(), (with_constants ? "" : with_constants.error().message));
    for (const char* name : {".kconfig", ".rodata.cst8"}) {
        CAPTURE(name);
        LoadOptions read_only;
        read_only.reuse_maps.emplace(name, with_constants->map(name)->runtime_map());
        refused = Object::load(constants, read_only);
        REQUIRE_FALSE(refused.has_value());
        CHECK(contains(refused.error().message, "map " + std::string(name) + " is read-only to programs"));
    }
}

TEST_SUITE_END();
