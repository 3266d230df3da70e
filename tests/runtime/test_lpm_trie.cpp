// LPM tries: longest-prefix match over tables of IPv4 and IPv6 prefixes, deletion and re-matching, flags, a full
// trie, postorder iteration, and a randomized comparison with a brute-force matcher.
#include "runtime/map_testing.hpp"

#include <algorithm>
#include <cerrno>
#include <map>
#include <random>
#include <set>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

template <std::size_t N>
struct Key {
    std::uint32_t prefixlen;
    std::array<std::uint8_t, N> data;
};
using Key4 = Key<4>;
using Key16 = Key<16>;

Key4 v4(std::uint32_t prefixlen, std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Key4{prefixlen, {a, b, c, d}};
}

Key16 v6(std::uint32_t prefixlen, std::array<std::uint16_t, 8> groups) {
    Key16 key{prefixlen, {}};
    for (std::size_t i = 0; i < 8; ++i) {
        key.data[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
        key.data[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
    }
    return key;
}

template <typename K>
std::optional<std::uint32_t> program_lookup(Map& map, const K& key) {
    EpochGuard guard;
    const auto* value = static_cast<const std::uint32_t*>(map.lookup(&key));
    if (value == nullptr) {
        return std::nullopt;
    }
    return *value;
}

template <typename K>
void add(Map& map, const K& key, std::uint32_t value) {
    REQUIRE(map.update(&key, &value, bpf_any) == 0);
}

struct V4Lookup {
    Key4 address;
    std::optional<std::uint32_t> expected;
};

} // namespace

TEST_CASE("runtime lpm_trie: IPv4 longest match with a default route, host routes and overlapping prefixes") {
    auto map = make(shape(MapKind::lpm_trie, 8, 4, 64, bpf_f_no_prealloc, "routes"));
    add(*map, v4(0, 0, 0, 0, 0), 1);
    add(*map, v4(8, 10, 0, 0, 0), 2);
    add(*map, v4(16, 10, 1, 0, 0), 3);
    add(*map, v4(24, 10, 1, 2, 0), 4);
    add(*map, v4(32, 10, 1, 2, 3), 5);
    add(*map, v4(16, 192, 168, 0, 0), 6);
    add(*map, v4(17, 192, 168, 128, 0), 7);
    add(*map, v4(12, 172, 16, 0, 0), 8);
    add(*map, v4(31, 10, 1, 2, 8), 9);
    CHECK(map->entry_count() == 9);

    const V4Lookup table[] = {
        {v4(32, 10, 1, 2, 3), 5},
        {v4(32, 10, 1, 2, 4), 4},
        {v4(32, 10, 1, 2, 8), 9},
        {v4(32, 10, 1, 2, 9), 9},
        {v4(32, 10, 1, 2, 10), 4},
        {v4(32, 10, 1, 3, 1), 3},
        {v4(32, 10, 2, 0, 0), 2},
        {v4(32, 11, 0, 0, 0), 1},
        {v4(32, 192, 168, 1, 1), 6},
        {v4(32, 192, 168, 200, 1), 7},
        {v4(32, 192, 169, 0, 0), 1},
        {v4(32, 172, 31, 255, 255), 8},
        {v4(32, 172, 32, 0, 0), 1},
        {v4(32, 8, 8, 8, 8), 1},
        {v4(32, 255, 255, 255, 255), 1},
        // The key's own prefix length bounds the match.
        {v4(24, 10, 1, 2, 3), 4},
        {v4(16, 10, 1, 2, 3), 3},
        {v4(9, 10, 1, 2, 3), 2},
        {v4(0, 10, 1, 2, 3), 1},
        {v4(7, 10, 1, 2, 3), 1},
    };
    for (const V4Lookup& row : table) {
        CAPTURE(int(row.address.data[0]));
        CAPTURE(int(row.address.data[1]));
        CAPTURE(int(row.address.data[2]));
        CAPTURE(int(row.address.data[3]));
        CAPTURE(row.address.prefixlen);
        CHECK(program_lookup(*map, row.address) == row.expected);
        CHECK(host_get<std::uint32_t>(*map, row.address) == row.expected);
    }

    SUBCASE("delete, then re-match") {
        auto del = [&](const Key4& key) { return map->erase(&key); };
        CHECK(del(v4(24, 10, 1, 2, 0)) == 0);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 4)) == 3U);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 3)) == 5U);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 9)) == 9U);
        CHECK(del(v4(24, 10, 1, 2, 0)) == -ENOENT);
        CHECK(del(v4(0, 0, 0, 0, 0)) == 0);
        CHECK(program_lookup(*map, v4(32, 8, 8, 8, 8)) == std::nullopt);
        CHECK(del(v4(16, 10, 1, 0, 0)) == 0);
        CHECK(program_lookup(*map, v4(32, 10, 1, 3, 1)) == 2U);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 3)) == 5U);
        // Not stored: a prefix that only exists as the junction of two others, or a longer one.
        CHECK(del(v4(28, 10, 1, 2, 0)) == -ENOENT);
        CHECK(del(v4(33, 10, 1, 2, 0)) == -EINVAL);
        add(*map, v4(24, 10, 1, 2, 0), 40);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 4)) == 40U);
        add(*map, v4(0, 0, 0, 0, 0), 10);
        CHECK(program_lookup(*map, v4(32, 8, 8, 8, 8)) == 10U);
        CHECK(map->entry_count() == 8);
        for (const Key4& key :
             {v4(32, 10, 1, 2, 3), v4(31, 10, 1, 2, 8), v4(24, 10, 1, 2, 0), v4(8, 10, 0, 0, 0), v4(16, 192, 168, 0, 0),
              v4(17, 192, 168, 128, 0), v4(12, 172, 16, 0, 0), v4(0, 0, 0, 0, 0)}) {
            CHECK(del(key) == 0);
        }
        CHECK(map->entry_count() == 0);
        CHECK(program_lookup(*map, v4(32, 10, 1, 2, 3)) == std::nullopt);
        CHECK(all_keys<Key4>(*map).empty());
    }
}

TEST_CASE("runtime lpm_trie: IPv6 128-bit keys") {
    auto map = make(shape(MapKind::lpm_trie, 20, 4, 64, bpf_f_no_prealloc));
    add(*map, v6(0, {}), 1);
    add(*map, v6(32, {0x2001, 0xdb8}), 2);
    add(*map, v6(48, {0x2001, 0xdb8, 1}), 3);
    add(*map, v6(64, {0x2001, 0xdb8, 1, 2}), 4);
    add(*map, v6(128, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 1}), 5);
    add(*map, v6(10, {0xfe80}), 6);
    add(*map, v6(127, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 2}), 7);
    const std::pair<Key16, std::optional<std::uint32_t>> table[] = {
        {v6(128, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 1}), 5},
        {v6(128, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 2}), 7},
        {v6(128, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 3}), 7},
        {v6(128, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 4}), 4},
        {v6(128, {0x2001, 0xdb8, 1, 3}), 3},
        {v6(128, {0x2001, 0xdb8, 0xffff}), 2},
        {v6(128, {0x2001, 0xdb9}), 1},
        {v6(128, {0xfe80, 0, 0, 0, 0, 0, 0, 1}), 6},
        {v6(128, {0xfebf, 0xffff}), 6},
        {v6(128, {0xfec0}), 1},
        {v6(64, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 1}), 4},
        {v6(63, {0x2001, 0xdb8, 1, 2, 0, 0, 0, 1}), 3},
    };
    for (const auto& row : table) {
        CAPTURE(row.first.prefixlen);
        CAPTURE(int(row.first.data[0]));
        CAPTURE(int(row.first.data[5]));
        CHECK(program_lookup(*map, row.first) == row.second);
    }
    CHECK(map->erase(&table[0].first) == 0);
    CHECK(program_lookup(*map, table[0].first) == 4U);
}

TEST_CASE("runtime lpm_trie: flags, a full trie, prefix lengths and host errors") {
    auto map = make(shape(MapKind::lpm_trie, 8, 4, 3, 0, "routes"));
    const std::uint32_t one = 1;
    const Key4 a = v4(8, 10, 0, 0, 0);
    const Key4 b = v4(8, 11, 0, 0, 0);
    const Key4 c = v4(16, 10, 1, 0, 0);
    const Key4 junction = v4(7, 10, 0, 0, 0); // the node joining 10/8 and 11/8
    CHECK(map->update(&a, &one, bpf_exist) == -ENOENT);
    CHECK(map->update(&a, &one, bpf_noexist) == 0);
    CHECK(map->update(&a, &one, bpf_noexist) == -EEXIST);
    CHECK(map->update(&a, &one, bpf_exist) == 0);
    CHECK(map->update(&b, &one, bpf_any) == 0);
    CHECK(map->update(&junction, &one, bpf_exist) == -ENOENT);
    CHECK(map->update(&c, &one, 3) == -EINVAL);
    CHECK(map->update(&c, &one, bpf_f_lock) == -EINVAL);
    CHECK(map->update(&c, &one, bpf_any) == 0);
    CHECK(map->update(&junction, &one, bpf_any) == -ENOSPC);
    CHECK(map->update(&c, &one, bpf_any) == 0); // replacing is fine when full
    const Key4 too_long = v4(33, 10, 0, 0, 0);
    CHECK(map->update(&too_long, &one, bpf_any) == -EINVAL);
    auto full = map->host_update(bytes(junction), bytes(one), bpf_any);
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error().message == "map routes: full (max_entries 3)");
    auto bad = map->host_update(bytes(too_long), bytes(one), bpf_any);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message == "map routes: prefix length 33 exceeds 32");
    const std::uint32_t short_key = 0;
    auto wrong = map->host_lookup(bytes(short_key), writable(const_cast<std::uint32_t&>(one)));
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message == "map routes: key of 4 bytes, expected 8");
    // The junction became a real entry after a delete freed room.
    REQUIRE(map->erase(&b) == 0);
    CHECK(map->update(&junction, &one, bpf_noexist) == 0);
    CHECK(program_lookup(*map, v4(32, 11, 0, 0, 1)) == 1U);
    CHECK(map->entry_count() == 3);
}

TEST_CASE("runtime lpm_trie: next_key walks the entries in postorder") {
    auto map = make(shape(MapKind::lpm_trie, 8, 4, 64, bpf_f_no_prealloc));
    const Key4 prefixes[] = {v4(8, 10, 0, 0, 0),     v4(16, 10, 1, 0, 0), v4(24, 10, 1, 2, 0),    v4(16, 10, 2, 0, 0),
                             v4(16, 192, 168, 0, 0), v4(0, 0, 0, 0, 0),   v4(32, 192, 168, 1, 1), v4(32, 10, 1, 2, 3)};
    std::uint32_t id = 0;
    for (const Key4& key : prefixes) {
        add(*map, key, ++id);
    }
    const auto keys = all_keys<Key4>(*map);
    REQUIRE(keys.size() == std::size(prefixes));
    auto position = [&](const Key4& wanted) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            if (keys[i].prefixlen == wanted.prefixlen && keys[i].data == wanted.data) {
                return i;
            }
        }
        FAIL("a prefix is missing from the iteration");
        return std::size_t{0};
    };
    // Postorder: a prefix comes after every longer prefix it contains, and lower addresses come first.
    CHECK(position(v4(32, 10, 1, 2, 3)) < position(v4(24, 10, 1, 2, 0)));
    CHECK(position(v4(24, 10, 1, 2, 0)) < position(v4(16, 10, 1, 0, 0)));
    CHECK(position(v4(16, 10, 1, 0, 0)) < position(v4(16, 10, 2, 0, 0)));
    CHECK(position(v4(16, 10, 2, 0, 0)) < position(v4(8, 10, 0, 0, 0)));
    CHECK(position(v4(8, 10, 0, 0, 0)) < position(v4(32, 192, 168, 1, 1)));
    CHECK(position(v4(32, 192, 168, 1, 1)) < position(v4(16, 192, 168, 0, 0)));
    CHECK(keys.front().prefixlen == 32);
    CHECK(keys.back().prefixlen == 0);
    // A key that is not stored restarts the walk.
    Key4 next{};
    const Key4 absent = v4(20, 10, 1, 0, 0);
    REQUIRE(map->next_key(bytes(absent), writable(next)).value());
    CHECK(next.prefixlen == keys.front().prefixlen);
    CHECK(next.data == keys.front().data);
}

namespace {

template <std::size_t N>
struct Reference {
    std::map<std::pair<std::uint32_t, std::array<std::uint8_t, N>>, std::uint32_t> entries;

    static bool bit(const std::array<std::uint8_t, N>& data, std::uint32_t i) {
        return ((data[i / 8] >> (7 - i % 8)) & 1) != 0;
    }
    static std::array<std::uint8_t, N> masked(std::array<std::uint8_t, N> data, std::uint32_t prefixlen) {
        for (std::uint32_t i = prefixlen; i < N * 8; ++i) {
            data[i / 8] = static_cast<std::uint8_t>(data[i / 8] & ~(1U << (7 - i % 8)));
        }
        return data;
    }
    std::optional<std::uint32_t> match(const Key<N>& key) const {
        std::optional<std::uint32_t> best;
        std::int64_t best_length = -1;
        for (const auto& [prefix, value] : entries) {
            if (prefix.first > key.prefixlen || std::int64_t{prefix.first} <= best_length) {
                continue;
            }
            if (masked(key.data, prefix.first) == prefix.second) {
                best = value;
                best_length = prefix.first;
            }
        }
        return best;
    }
};

template <std::size_t N>
void random_comparison(std::uint32_t seed, std::size_t operations) {
    std::mt19937 random(seed);
    auto map = make(shape(MapKind::lpm_trie, 4 + N, 4, 100'000, bpf_f_no_prealloc));
    Reference<N> reference;
    // Few distinct top bits so that prefixes overlap a lot.
    auto random_key = [&](bool full_length) {
        Key<N> key{};
        key.prefixlen = full_length ? N * 8 : static_cast<std::uint32_t>(random() % (N * 8 + 1));
        for (auto& byte : key.data) {
            byte = static_cast<std::uint8_t>(random() % 4 == 0 ? random() : (random() % 3) * 0x55);
        }
        if (!full_length) {
            key.data = Reference<N>::masked(key.data, key.prefixlen);
        }
        return key;
    };
    std::vector<Key<N>> stored;
    for (std::size_t op = 0; op < operations; ++op) {
        const auto choice = random() % 10;
        if (choice < 4) {
            const Key<N> key = random_key(false);
            const auto value = static_cast<std::uint32_t>(op);
            REQUIRE(map->update(&key, &value, bpf_any) == 0);
            reference.entries[{key.prefixlen, key.data}] = value;
            stored.push_back(key);
        } else if (choice < 6 && !stored.empty()) {
            const Key<N> key = stored[random() % stored.size()];
            const bool present = reference.entries.erase({key.prefixlen, key.data}) != 0;
            CHECK(map->erase(&key) == (present ? 0 : -ENOENT));
        } else {
            const Key<N> key = random_key(random() % 4 != 0);
            CHECK(program_lookup(*map, key) == reference.match(key));
        }
    }
    CHECK(map->entry_count() == reference.entries.size());
    CHECK(count_keys(*map) == reference.entries.size());
}

} // namespace

TEST_CASE("runtime lpm_trie: random prefixes agree with a brute-force longest match") {
    random_comparison<4>(1, 6000);
    random_comparison<16>(2, 3000);
    random_comparison<1>(3, 2000);
    random_comparison<3>(4, 3000);
}

TEST_CASE("runtime lpm_trie: key shapes are validated; memory grows with the entries and is returned") {
    CHECK_FALSE(create_map(shape(MapKind::lpm_trie, 4, 4, 8)).has_value());
    CHECK_FALSE(create_map(shape(MapKind::lpm_trie, 261, 4, 8)).has_value());
    CHECK_FALSE(create_map(shape(MapKind::lpm_trie, 8, 0, 8)).has_value());
    CHECK(create_map(shape(MapKind::lpm_trie, 260, 4, 8)).has_value());
    auto map = make(shape(MapKind::lpm_trie, 8, 4, 64));
    CHECK(map->memory_size() == 0);
    for (std::uint8_t i = 0; i < 32; ++i) {
        add(*map, v4(32, 10, 0, 0, i), i);
    }
    CHECK(map->memory_size() > 32 * 4);
    for (std::uint8_t i = 0; i < 32; ++i) {
        const Key4 key = v4(32, 10, 0, 0, i);
        REQUIRE(map->erase(&key) == 0);
    }
    CHECK(map->memory_size() > 0); // erased nodes count until they are reclaimed
    synchronize();
    CHECK(map->memory_size() == 0);
}

TEST_CASE("runtime lpm_trie: replacing a prefix inside one guard is bounded by the retired allowance") {
    auto map = make(shape(MapKind::lpm_trie, 8, 4, 4));
    EpochGuard guard; // one invocation: nothing it retires is reclaimed before it ends
    std::size_t refused = 0;
    for (std::uint32_t i = 0; i < 20'000; ++i) {
        const Key4 key = v4(24, 10, 0, 0, 0);
        const long result = map->update(&key, &i, bpf_any);
        REQUIRE((result == 0 || result == -ENOMEM));
        refused += result != 0;
    }
    CHECK(refused > 0);
    CHECK(map->memory_size() <= (retired_allowance(map->config().slots) + 2) * 128); // 20,000 nodes without the bound
}

TEST_SUITE_END();
