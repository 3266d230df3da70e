// Shapes: what create_map refuses (Linux's rules) and that every kind allocates what map_memory_estimate says.
#include "embpf/runtime/perf_event_array.hpp"
#include "embpf/runtime/ring_buffer.hpp"
#include "runtime/map_testing.hpp"

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

TEST_CASE("runtime map config: invalid shapes are refused with the rule they broke") {
    struct Row {
        MapConfig config;
        std::string message;
    };
    const Row rows[] = {
        {shape(MapKind::hash, 0, 4, 4), "map m (hash): key_size and value_size must be > 0"},
        {shape(MapKind::hash, 4, 0, 4), "map m (hash): key_size and value_size must be > 0"},
        {shape(MapKind::hash, 4, 4, 0), "map m (hash): max_entries must be > 0"},
        {shape(MapKind::hash, 513, 4, 4), "map m (hash): key_size 513 exceeds 512"},
        {shape(MapKind::hash, 4, 4, 4, 1U << 20), "map m (hash): unknown map flags 0x100000"},
        {shape(MapKind::array, 8, 4, 4), "map m (array): key_size must be 4, not 8"},
        {shape(MapKind::percpu_array, 4, 40000, 4), "map m (percpu_array): value_size 40000 exceeds 32768"},
        {shape(MapKind::array, 4, 1U << 23, 4), "map m (array): value_size 8388608 exceeds 4194304"},
        {shape(MapKind::prog_array, 4, 8, 4), "map m (prog_array): value_size must be 4, not 8"},
        {shape(MapKind::queue, 4, 4, 4), "map m (queue): key_size must be 0, not 4"},
        {shape(MapKind::stack, 0, 0, 4), "map m (stack): value_size must be > 0"},
        {shape(MapKind::ringbuf, 0, 0, 4095), "map m (ringbuf): max_entries (the data size) must be a power of two "
                                              "and a multiple of the page size 4096, not 4095"},
        {shape(MapKind::ringbuf, 0, 0, 2048), "map m (ringbuf): max_entries (the data size) must be a power of two "
                                              "and a multiple of the page size 4096, not 2048"},
        {shape(MapKind::ringbuf, 4, 0, 4096), "map m (ringbuf): key_size must be 0, not 4"},
        {shape(MapKind::ringbuf, 0, 0, 0), "map m (ringbuf): max_entries (the data size) must be a power of two "
                                           "and a multiple of the page size 4096, not 0"},
        {shape(MapKind::perf_event_array, 8, 4, 4), "map m (perf_event_array): key_size and value_size must be 4 "
                                                    "(or 0)"},
        {shape(MapKind::lpm_trie, 3, 4, 4), "map m (lpm_trie): key_size must be 5..260 (a u32 prefix length and "
                                            "1..256 data bytes), not 3"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.message);
        auto map = create_map(row.config);
        REQUIRE_FALSE(map.has_value());
        CHECK(map.error().message == row.message);
        CHECK(map.error().kind == embpf::ErrorKind::invalid_input);
        CHECK_FALSE(map_memory_estimate(row.config).has_value());
    }
    MapConfig too_many = shape(MapKind::percpu_array, 4, 4, 4);
    too_many.slots = 1U << 20;
    CHECK_FALSE(create_map(too_many).has_value());
    // A bpf_spin_lock: 4 aligned bytes inside the value of a hash or an array.
    struct Lock {
        MapKind kind;
        std::uint32_t at;
    };
    for (const Lock& row : {Lock{MapKind::percpu_array, 0}, Lock{MapKind::lru_hash, 0}, Lock{MapKind::array, 2},
                            Lock{MapKind::hash, 8}, Lock{MapKind::array, 6}}) {
        MapConfig locked = shape(row.kind, 4, 8, 4);
        locked.spin_lock = row.at;
        CAPTURE(row.at);
        auto map = create_map(locked);
        REQUIRE_FALSE(map.has_value());
        CHECK(map.error().message.find("a bpf_spin_lock is 4 aligned bytes of the value of a hash or array map") !=
              std::string::npos);
    }
    MapConfig locked = shape(MapKind::hash, 4, 8, 4);
    locked.spin_lock = 4;
    CHECK(create_map(locked).has_value());
}

TEST_CASE("runtime map config: kinds only the verifier knows are refused as unsupported, naming the kind") {
    for (const MapKind kind : {MapKind::stack_trace, MapKind::devmap, MapKind::cpumap, MapKind::sockmap,
                               MapKind::xskmap, MapKind::cgroup_storage, MapKind::sk_storage}) {
        CAPTURE(embpf::platform::to_string(kind));
        auto map = create_map(shape(kind, 4, 4, 4));
        REQUIRE_FALSE(map.has_value());
        CHECK(map.error().kind == embpf::ErrorKind::unsupported);
        CHECK(map.error().message.find(std::string("maps of kind ") + std::string(embpf::platform::to_string(kind)) +
                                       " have no implementation in this build yet") != std::string::npos);
        CHECK_FALSE(map_memory_estimate(shape(kind, 4, 4, 4)).has_value());
    }
}

TEST_CASE("runtime map config: every kind allocates what the estimate says, up front") {
    MapConfig inner = shape(MapKind::array, 4, 4, 4);
    std::vector<MapConfig> configs = {
        shape(MapKind::hash, 4, 8, 100),
        shape(MapKind::hash, 4, 8, 100, bpf_f_no_prealloc),
        shape(MapKind::percpu_hash, 16, 24, 100),
        shape(MapKind::lru_hash, 4, 8, 100),
        shape(MapKind::lru_percpu_hash, 4, 8, 100),
        shape(MapKind::array, 4, 12, 100),
        shape(MapKind::percpu_array, 4, 12, 100),
        shape(MapKind::prog_array, 4, 4, 100),
        shape(MapKind::lpm_trie, 8, 4, 100, bpf_f_no_prealloc),
        shape(MapKind::queue, 0, 12, 100),
        shape(MapKind::stack, 0, 12, 100),
        shape(MapKind::ringbuf, 0, 0, 1U << 16),
        shape(MapKind::perf_event_array, 4, 4, 0),
        shape(MapKind::perf_event_array, 0, 0, 16),
    };
    for (MapKind kind : {MapKind::array_of_maps, MapKind::hash_of_maps}) {
        MapConfig outer = shape(kind, 4, 4, 100);
        outer.inner = std::make_shared<const MapConfig>(inner);
        configs.push_back(outer);
    }
    for (MapConfig& config : configs) {
        config.slots = 3;
        CAPTURE(embpf::platform::to_string(config.kind));
        auto estimate = map_memory_estimate(config);
        REQUIRE(estimate.has_value());
        auto map = make(config);
        CHECK(map->memory_size() == *estimate);
        CHECK(map->kind() == config.kind);
        CHECK(map->name() == "m");
        CHECK(map->config().slots == 3);
    }
    CHECK(make(shape(MapKind::ringbuf, 0, 0, 1U << 16))->memory_size() == 3 * 4096 + (1U << 16));
}

TEST_SUITE_END();
