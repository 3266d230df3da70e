// Arrays: every element exists and starts zeroed; Linux's results for flags, out-of-range keys and deletion.
#include "runtime/map_testing.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

TEST_CASE("runtime array: its memory is resident once created, so that a program's first reads do not fault") {
    // 8 MiB in two values: calloc alone would leave the pages to the kernel's zero page until first written.
    auto map = make(shape(MapKind::array, 4, 4 << 20, 2));
    const std::uint32_t key = 0;
    EpochGuard guard;
    auto* value = static_cast<std::uint8_t*>(map->lookup(&key));
    REQUIRE(value != nullptr);
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t start = (reinterpret_cast<std::uintptr_t>(value) + page - 1) / page * page;
    const std::size_t length = ((4 << 20) - (start - reinterpret_cast<std::uintptr_t>(value))) / page * page;
    std::vector<unsigned char> resident(length / page);
    REQUIRE(mincore(reinterpret_cast<void*>(start), length, resident.data()) == 0);
    std::size_t in_memory = 0;
    for (const unsigned char flag : resident) {
        in_memory += flag & 1U;
    }
    CHECK(in_memory == resident.size());
    CHECK(value[12345] == 0);
}

TEST_CASE("runtime array: program-side results as on Linux") {
    struct Row {
        std::uint32_t index;
        std::uint64_t flags;
        long expected;
    };
    const Row rows[] = {
        {0, bpf_any, 0},      {3, bpf_exist, 0},        {1, bpf_noexist, -EEXIST},
        {4, bpf_any, -E2BIG}, {4, bpf_noexist, -E2BIG}, {0xffffffff, bpf_any, -E2BIG},
        {0, 3, -EINVAL},      {0, bpf_f_lock, -EINVAL}, {2, 8, -EINVAL},
    };
    for (const Row& row : rows) {
        CAPTURE(row.index);
        CAPTURE(row.flags);
        auto map = make(shape(MapKind::array, 4, 12, 4));
        const std::uint8_t value[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        CHECK(map->update(&row.index, value, row.flags) == row.expected);
        EpochGuard guard;
        auto* stored = static_cast<std::uint8_t*>(map->lookup(&row.index));
        if (row.index >= 4) {
            CHECK(stored == nullptr);
        } else {
            REQUIRE(stored != nullptr);
            CHECK(reinterpret_cast<std::uintptr_t>(stored) % 8 == 0);
            CHECK(stored[11] == (row.expected == 0 ? 12 : 0));
        }
    }
    auto map = make(shape(MapKind::array, 4, 4, 4));
    const std::uint32_t key = 1;
    std::uint32_t out = 0;
    CHECK(map->erase(&key) == -EINVAL);
    CHECK(map->lookup_and_erase(&key, &out) == -EINVAL);
    CHECK(map->push(&out, 0) == -EOPNOTSUPP);
}

TEST_CASE("runtime array: a frozen array refuses every update, the host's and programs'") {
    auto map = make(shape(MapKind::array, 4, 8, 1));
    const std::uint32_t key = 0;
    const std::uint64_t before = 0x1122334455667788;
    REQUIRE(map->host_update({reinterpret_cast<const std::uint8_t*>(&key), 4},
                             {reinterpret_cast<const std::uint8_t*>(&before), 8}, bpf_any)
                .has_value());
    CHECK_FALSE(map->frozen());
    REQUIRE(map->freeze().has_value());
    CHECK(map->frozen());
    const std::uint64_t after = 7;
    auto refused = map->host_update({reinterpret_cast<const std::uint8_t*>(&key), 4},
                                    {reinterpret_cast<const std::uint8_t*>(&after), 8}, bpf_any);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("frozen") != std::string::npos);
    CHECK(map->update(&key, &after, bpf_any) == -EPERM);
    std::uint64_t read = 0;
    auto found =
        map->host_lookup({reinterpret_cast<const std::uint8_t*>(&key), 4}, {reinterpret_cast<std::uint8_t*>(&read), 8});
    REQUIRE(found.has_value());
    CHECK(*found);
    CHECK(read == before);
    // No map of maps takes it: its programs would store through the value pointers their lookups return.
    MapConfig outer_shape = shape(MapKind::array_of_maps, 4, 4, 1);
    outer_shape.inner = std::make_shared<MapConfig>(shape(MapKind::array, 4, 8, 1));
    auto outer = make(outer_shape);
    auto* maps = dynamic_cast<MapOfMaps*>(outer.get());
    REQUIRE(maps != nullptr);
    auto inner = maps->set_inner({reinterpret_cast<const std::uint8_t*>(&key), 4}, map);
    REQUIRE_FALSE(inner.has_value());
    CHECK(inner.error().message.find("frozen") != std::string::npos);
    CHECK(maps->set_inner({reinterpret_cast<const std::uint8_t*>(&key), 4}, make(shape(MapKind::array, 4, 8, 1)))
              .has_value());
    // Only plain arrays freeze (a per-CPU value is the caller's slot, a hash map's elements come and go).
    CHECK_FALSE(make(shape(MapKind::percpu_array, 4, 8, 1))->freeze().has_value());
    CHECK_FALSE(make(shape(MapKind::hash, 4, 8, 1))->freeze().has_value());
}

TEST_CASE("runtime array: host side: zeroed elements, range and flag errors, no deletion") {
    auto map = make(shape(MapKind::array, 4, 8, 4, 0, "slots"));
    for (std::uint32_t i = 0; i < 4; ++i) {
        CHECK(host_get<std::uint64_t>(*map, i) == 0U);
    }
    const std::uint32_t key = 2;
    const std::uint64_t value = 0xdeadbeef;
    REQUIRE(map->host_update(bytes(key), bytes(value), bpf_exist).has_value());
    CHECK(host_get<std::uint64_t>(*map, key) == value);
    const std::uint32_t outside = 4;
    CHECK(host_get<std::uint64_t>(*map, outside) == std::nullopt);
    auto range = map->host_update(bytes(outside), bytes(value), bpf_any);
    REQUIRE_FALSE(range.has_value());
    CHECK(range.error().message == "map slots: index 4 out of range (max_entries 4)");
    auto noexist = map->host_update(bytes(key), bytes(value), bpf_noexist);
    REQUIRE_FALSE(noexist.has_value());
    CHECK(contains(noexist.error().message, "always exist"));
    auto erase = map->host_erase(bytes(key));
    REQUIRE_FALSE(erase.has_value());
    CHECK(erase.error().message == "map slots: array elements cannot be deleted");
    const std::uint16_t short_key = 0;
    auto bad = map->host_lookup(bytes(short_key), writable(const_cast<std::uint64_t&>(value)));
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message == "map slots: key of 2 bytes, expected 4");
    std::uint32_t small = 0;
    CHECK_FALSE(map->host_update(bytes(key), bytes(small), bpf_any).has_value());
    CHECK(map->entry_count() == 4);
}

TEST_CASE("runtime array: next_key goes 0..max-1, restarts at 0 from an out-of-range key") {
    auto map = make(shape(MapKind::array, 4, 4, 5));
    CHECK(all_keys<std::uint32_t>(*map) == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
    std::uint32_t next = 99;
    const std::uint32_t outside = 77;
    REQUIRE(map->next_key(bytes(outside), writable(next)).value());
    CHECK(next == 0);
    const std::uint32_t last = 4;
    CHECK_FALSE(map->next_key(bytes(last), writable(next)).value());
}

TEST_CASE("runtime array: memory is allocated up front and matches the estimate") {
    for (std::uint32_t value_size : {1U, 4U, 8U, 13U, 4096U}) {
        const auto config = shape(MapKind::array, 4, value_size, 100);
        auto map = make(config);
        CHECK(map->memory_size() == map_memory_estimate(config).value());
        CHECK(map->memory_size() == 100 * ((value_size + 7) / 8 * 8));
    }
}

TEST_SUITE_END();
