// Bloom filters: values added are always found, values never added rarely are, nothing comes out, and the shape
// follows Linux's (map_extra's hash functions, bits a power of two).
#include "runtime/map_testing.hpp"

#include <cerrno>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

TEST_CASE("runtime bloom filter: no false negatives, few false positives") {
    // 1,000 entries, 5 hash functions: 8,192 bits, about 2% false positives.
    auto map = make(shape(MapKind::bloom_filter, 0, 8, 1000));
    CHECK(map->memory_size() == 8192 / 8);
    for (std::uint64_t v = 0; v < 1000; ++v) {
        const std::uint64_t value = v * 7919 + 13;
        REQUIRE(map->push(&value, bpf_any) == 0);
    }
    for (std::uint64_t v = 0; v < 1000; ++v) {
        std::uint64_t value = v * 7919 + 13;
        CHECK(map->peek(&value) == 0);
    }
    int found = 0;
    for (std::uint64_t v = 0; v < 10000; ++v) {
        std::uint64_t absent = (std::uint64_t{1} << 40) + v;
        found += map->peek(&absent) == 0 ? 1 : 0;
    }
    CHECK(found < 1000); // under 10% of values never added
    std::uint64_t absent = 1;
    const auto empty = make(shape(MapKind::bloom_filter, 0, 8, 1000));
    CHECK(empty->peek(&absent) == -ENOENT);
}

TEST_CASE("runtime bloom filter: only push and peek, BPF_ANY only") {
    auto map = make(shape(MapKind::bloom_filter, 0, 4, 16));
    std::uint32_t value = 42;
    CHECK(map->push(&value, bpf_exist) == -EINVAL);
    CHECK(map->peek(&value) == -ENOENT); // the refused push added nothing
    CHECK(map->push(&value, bpf_any) == 0);
    CHECK(map->pop(&value) == -EOPNOTSUPP);
    CHECK(map->update(nullptr, &value, bpf_any) == -EOPNOTSUPP);
    CHECK(map->erase(&value) == -EOPNOTSUPP);
    CHECK(map->lookup(&value) == nullptr);
    CHECK(map->peek(&value) == 0);

    // The host adds values and tests them; its lookup reads the value it is given.
    const std::uint32_t other = 7;
    REQUIRE(map->host_update({}, bytes(other), bpf_any).has_value());
    std::uint32_t probe = 7;
    auto found = map->host_lookup({}, {reinterpret_cast<std::uint8_t*>(&probe), 4});
    REQUIRE(found.has_value());
    CHECK(*found);
    CHECK(probe == 7);
    probe = 8;
    found = map->host_lookup({}, {reinterpret_cast<std::uint8_t*>(&probe), 4});
    REQUIRE(found.has_value());
    CHECK_FALSE(*found);
    CHECK_FALSE(map->host_update({}, bytes(other), bpf_noexist).has_value());
    CHECK_FALSE(map->host_erase({}).has_value());
    CHECK_FALSE(map->host_lookup_and_erase({}, {reinterpret_cast<std::uint8_t*>(&probe), 4}).has_value());
    CHECK_FALSE(map->next_key({}, {}).has_value());
    const std::uint32_t key = 1;
    CHECK_FALSE(map->host_update(bytes(key), bytes(other), bpf_any).has_value()); // no keys
}

TEST_CASE("runtime bloom filter: shape as Linux checks it") {
    MapConfig keyed = shape(MapKind::bloom_filter, 4, 4, 16);
    CHECK_FALSE(create_map(keyed).has_value());
    CHECK_FALSE(create_map(shape(MapKind::bloom_filter, 0, 0, 16)).has_value());
    CHECK_FALSE(create_map(shape(MapKind::bloom_filter, 0, 4, 0)).has_value());
    MapConfig extra = shape(MapKind::bloom_filter, 0, 4, 100);
    extra.map_extra = 16; // only the low 4 bits: the number of hash functions
    auto refused = create_map(extra);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("map_extra") != std::string::npos);
    // Three hash functions for 100 entries: 100 * 3 * 7 / 5 = 420 bits, 512 as a power of two.
    extra.map_extra = 3;
    auto three = make(extra);
    CHECK(three->memory_size() == 512 / 8);
    auto estimate = map_memory_estimate(extra);
    REQUIRE(estimate.has_value());
    CHECK(*estimate == 512 / 8);
    // Huge filters are capped at 2^32 bits (512 MiB), as Linux caps them.
    MapConfig huge = shape(MapKind::bloom_filter, 0, 4, 0xFFFFFFFF);
    huge.map_extra = 15;
    auto huge_estimate = map_memory_estimate(huge);
    REQUIRE(huge_estimate.has_value());
    CHECK(*huge_estimate == (std::size_t{1} << 32) / 8);
}

TEST_SUITE_END();
