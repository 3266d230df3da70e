// LRU hash maps: the documented second-chance policy, checked eviction by eviction.
#include "runtime/map_testing.hpp"

#include <cerrno>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

void put(Map& map, std::uint32_t key, std::uint64_t flags = bpf_any) {
    const std::uint64_t value = key * 10ULL;
    REQUIRE(map.update(&key, &value, flags) == 0);
}

void touch(Map& map, std::uint32_t key) {
    EpochGuard guard;
    REQUIRE(map.lookup(&key) != nullptr);
}

bool present(const Map& map, std::uint32_t key) {
    std::vector<std::uint8_t> value(map.host_value_size());
    return map.host_lookup(bytes(key), value).value();
}

std::vector<std::uint32_t> present_keys(const Map& map, std::uint32_t up_to) {
    std::vector<std::uint32_t> keys;
    for (std::uint32_t key = 1; key <= up_to; ++key) {
        if (present(map, key)) {
            keys.push_back(key);
        }
    }
    return keys;
}

using Keys = std::vector<std::uint32_t>;

} // namespace

TEST_CASE("runtime lru: eviction order") {
    for (MapKind kind : {MapKind::lru_hash, MapKind::lru_percpu_hash}) {
        CAPTURE(embpf::platform::to_string(kind));

        SUBCASE("never-used elements go in insertion order") {
            auto map = make(shape(kind, 4, 8, 4));
            for (std::uint32_t key = 1; key <= 4; ++key) {
                put(*map, key);
            }
            put(*map, 5);
            CHECK(present_keys(*map, 9) == Keys{2, 3, 4, 5});
            put(*map, 6);
            CHECK(present_keys(*map, 9) == Keys{3, 4, 5, 6});
            CHECK(map->entry_count() == 4);
        }
        SUBCASE("a lookup gives a second chance") {
            auto map = make(shape(kind, 4, 8, 4));
            for (std::uint32_t key = 1; key <= 4; ++key) {
                put(*map, key);
            }
            touch(*map, 1);
            put(*map, 5); // 1 moves to the newest end with its bit cleared; 2 goes
            CHECK(present_keys(*map, 9) == Keys{1, 3, 4, 5});
            put(*map, 6);
            CHECK(present_keys(*map, 9) == Keys{1, 4, 5, 6});
            put(*map, 7);
            CHECK(present_keys(*map, 9) == Keys{1, 5, 6, 7});
            put(*map, 8); // 1 was not used again: now it is the oldest
            CHECK(present_keys(*map, 9) == Keys{5, 6, 7, 8});
        }
        SUBCASE("used elements keep their relative order; the first unused one goes") {
            auto map = make(shape(kind, 4, 8, 4));
            for (std::uint32_t key = 1; key <= 4; ++key) {
                put(*map, key);
            }
            touch(*map, 3);
            touch(*map, 1);
            touch(*map, 2);
            put(*map, 5);
            CHECK(present_keys(*map, 9) == Keys{1, 2, 3, 5});
            put(*map, 6); // the scan order is now 1, 2, 3, 5 with all bits clear
            CHECK(present_keys(*map, 9) == Keys{2, 3, 5, 6});
        }
        SUBCASE("replacing a key's value counts as a use") {
            auto map = make(shape(kind, 4, 8, 3));
            put(*map, 1);
            put(*map, 2);
            put(*map, 3);
            put(*map, 1, bpf_exist);
            put(*map, 4);
            CHECK(present_keys(*map, 9) == Keys{1, 3, 4});
            put(*map, 5);
            CHECK(present_keys(*map, 9) == Keys{1, 4, 5});
            put(*map, 6);
            if (kind == MapKind::lru_hash) {
                // The replacement went to the newest end with its bit set: it gets a second chance and 4 goes.
                CHECK(present_keys(*map, 9) == Keys{1, 5, 6});
            } else {
                // Per-CPU values are updated in place (as on Linux): 1 kept its place with the bit set, used its
                // second chance when 4 came, and is now the oldest.
                CHECK(present_keys(*map, 9) == Keys{4, 5, 6});
            }
        }
        SUBCASE("host lookups do not count as uses (as Linux's syscall lookups)") {
            auto map = make(shape(kind, 4, 8, 2));
            put(*map, 1);
            put(*map, 2);
            CHECK(present(*map, 1));
            put(*map, 3);
            CHECK(present_keys(*map, 9) == Keys{2, 3});
        }
        SUBCASE("a full LRU map evicts even for BPF_NOEXIST, and BPF_EXIST on a missing key evicts nothing") {
            auto map = make(shape(kind, 4, 8, 2));
            put(*map, 1);
            put(*map, 2);
            const std::uint32_t key = 3;
            const std::uint64_t value = 0;
            CHECK(map->update(&key, &value, bpf_exist) == -ENOENT);
            CHECK(present_keys(*map, 9) == Keys{1, 2});
            CHECK(map->update(&key, &value, bpf_noexist) == 0);
            CHECK(present_keys(*map, 9) == Keys{2, 3});
            CHECK(map->update(&key, &value, bpf_noexist) == -EEXIST);
        }
        SUBCASE("deleted entries free room without evicting") {
            auto map = make(shape(kind, 4, 8, 3));
            put(*map, 1);
            put(*map, 2);
            put(*map, 3);
            const std::uint32_t key = 2;
            CHECK(map->erase(&key) == 0);
            put(*map, 4);
            CHECK(present_keys(*map, 9) == Keys{1, 3, 4});
            CHECK(map->entry_count() == 3);
        }
    }
}

TEST_CASE("runtime lru: churn through a small map keeps exactly max_entries entries") {
    auto map = make(shape(MapKind::lru_hash, 4, 8, 16));
    for (std::uint32_t key = 0; key < 20'000; ++key) {
        put(*map, key);
        if (key % 3 == 0) {
            touch(*map, key);
        }
    }
    CHECK(map->entry_count() == 16);
    CHECK(all_keys<std::uint32_t>(*map).size() == 16);
    // The newest key is always there.
    CHECK(present(*map, 19'999));
}

TEST_CASE("runtime lru: BPF_F_NO_PREALLOC is refused, BPF_F_NO_COMMON_LRU accepted") {
    auto refused = create_map(shape(MapKind::lru_hash, 4, 8, 16, bpf_f_no_prealloc));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().kind == embpf::ErrorKind::unsupported);
    CHECK(create_map(shape(MapKind::lru_hash, 4, 8, 16, bpf_f_no_common_lru)).has_value());
    CHECK_FALSE(create_map(shape(MapKind::hash, 4, 8, 16, bpf_f_no_common_lru)).has_value());
}

TEST_SUITE_END();
