// Hash maps (and the flag semantics every hash kind shares): Linux's results for each flag, full maps, deletion,
// iteration, host-side size errors, and the guarantee that a looked-up value survives its deletion until the guard
// ends.
#include "runtime/map_testing.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

struct FlagCase {
    bool present;
    std::uint64_t flags;
    long expected;
};

// Linux's htab check_flags: the same table holds for every hash kind.
constexpr FlagCase hash_flag_cases[] = {
    {false, bpf_any, 0},          {false, bpf_noexist, 0},
    {false, bpf_exist, -ENOENT},  {true, bpf_any, 0},
    {true, bpf_noexist, -EEXIST}, {true, bpf_exist, 0},
    {false, 3, -EINVAL},          {true, 3, -EINVAL},
    {false, bpf_f_lock, -EINVAL}, {true, bpf_f_lock | bpf_exist, -EINVAL},
    {false, 8, -EINVAL},          {true, 1ULL << 40, -EINVAL},
};

} // namespace

TEST_CASE("runtime hash: update flags on every hash kind, program side and host side") {
    for (MapKind kind : {MapKind::hash, MapKind::percpu_hash, MapKind::lru_hash, MapKind::lru_percpu_hash}) {
        for (const FlagCase& row : hash_flag_cases) {
            CAPTURE(embpf::platform::to_string(kind));
            CAPTURE(row.present);
            CAPTURE(row.flags);
            auto map = make(shape(kind, 4, 8, 16));
            const std::uint32_t key = 7;
            const std::uint64_t old_value = 1;
            const std::uint64_t new_value = 2;
            if (row.present) {
                REQUIRE(map->update(&key, &old_value, bpf_any) == 0);
            }
            {
                EpochGuard guard;
                CHECK(map->update(&key, &new_value, row.flags) == row.expected);
                auto* value = static_cast<std::uint64_t*>(map->lookup(&key));
                if (row.expected == 0) {
                    REQUIRE(value != nullptr);
                    CHECK(*value == new_value);
                } else if (row.present) {
                    REQUIRE(value != nullptr);
                    CHECK(*value == old_value);
                } else {
                    CHECK(value == nullptr);
                }
            }
            // The host side reports the same outcomes as errors.
            auto host = make(shape(kind, 4, 8, 16));
            std::vector<std::uint8_t> all_slots(host->host_value_size(), 0);
            if (row.present) {
                REQUIRE(host->host_update(bytes(key), all_slots, bpf_any).has_value());
            }
            auto updated = host->host_update(bytes(key), all_slots, row.flags);
            CHECK(updated.has_value() == (row.expected == 0));
            if (!updated) {
                const std::string& message = updated.error().message;
                if (row.expected == -EEXIST) {
                    CHECK(contains(message, "exists"));
                } else if (row.expected == -ENOENT) {
                    CHECK(contains(message, "no entry"));
                } else if ((row.flags & bpf_f_lock) != 0) {
                    CHECK(updated.error().kind == embpf::ErrorKind::unsupported);
                    CHECK(contains(message, "BPF_F_LOCK"));
                } else {
                    CHECK(contains(message, "invalid update flags"));
                }
            }
        }
    }
}

TEST_CASE("runtime hash: a full map refuses new keys with -E2BIG but still replaces and accepts after a delete") {
    auto map = make(shape(MapKind::hash, 4, 4, 4, 0, "counts"));
    for (std::uint32_t key = 0; key < 4; ++key) {
        REQUIRE(map->update(&key, &key, bpf_any) == 0);
    }
    const std::uint32_t extra = 99;
    CHECK(map->update(&extra, &extra, bpf_any) == -E2BIG);
    CHECK(map->update(&extra, &extra, bpf_noexist) == -E2BIG);
    CHECK(map->update(&extra, &extra, bpf_exist) == -ENOENT);
    const std::uint32_t replaced = 2;
    const std::uint32_t value = 1234;
    CHECK(map->update(&replaced, &value, bpf_any) == 0);
    CHECK(map->update(&replaced, &value, bpf_exist) == 0);
    CHECK(map->entry_count() == 4);

    auto full = map->host_update(bytes(extra), bytes(extra), bpf_any);
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error().message == "map counts: full (max_entries 4)");

    CHECK(map->erase(&replaced) == 0);
    CHECK(map->erase(&replaced) == -ENOENT);
    CHECK(map->entry_count() == 3);
    CHECK(map->update(&extra, &extra, bpf_any) == 0);
    CHECK(host_get<std::uint32_t>(*map, extra) == 99U);
    CHECK(host_get<std::uint32_t>(*map, replaced) == std::nullopt);
    CHECK(map->entry_count() == 4);
}

TEST_CASE("runtime hash: replacing keys many times in a full map never fails (the pool recycles after grace)") {
    auto map = make(shape(MapKind::hash, 4, 8, 8));
    for (std::uint32_t round = 0; round < 10'000; ++round) {
        const std::uint32_t key = round % 8;
        const std::uint64_t value = round;
        REQUIRE(map->update(&key, &value, bpf_any) == 0);
    }
    CHECK(map->entry_count() == 8);
    synchronize();
    const auto settled = map->memory_size();
    for (std::uint32_t round = 0; round < 10'000; ++round) {
        const std::uint32_t key = round % 8;
        const std::uint64_t value = round;
        REQUIRE(map->update(&key, &value, bpf_any) == 0);
    }
    // With no reader holding a guard the pool does not grow.
    CHECK(map->memory_size() == settled);
}

TEST_CASE("runtime hash: delete, lookup_and_erase and their host forms") {
    auto map = make(shape(MapKind::hash, 8, 16, 32));
    struct Value {
        std::uint64_t a, b;
    };
    for (std::uint64_t key = 1; key <= 5; ++key) {
        const Value value{key, key * 10};
        REQUIRE(map->host_update(bytes(key), bytes(value), bpf_noexist).has_value());
    }
    Value out{};
    std::uint64_t key = 3;
    CHECK(map->lookup_and_erase(&key, &out) == 0);
    CHECK(out.b == 30);
    CHECK(map->lookup_and_erase(&key, &out) == -ENOENT);
    key = 4;
    auto popped = map->host_lookup_and_erase(bytes(key), writable(out));
    REQUIRE(popped.has_value());
    CHECK(*popped);
    CHECK(out.a == 4);
    auto again = map->host_lookup_and_erase(bytes(key), writable(out));
    REQUIRE(again.has_value());
    CHECK_FALSE(*again);
    key = 5;
    auto erased = map->host_erase(bytes(key));
    REQUIRE(erased.has_value());
    CHECK(*erased);
    erased = map->host_erase(bytes(key));
    REQUIRE(erased.has_value());
    CHECK_FALSE(*erased);
    CHECK(map->entry_count() == 2);
}

TEST_CASE("runtime hash: next_key visits every key once, restarts from a missing key, ends with false") {
    for (MapKind kind : {MapKind::hash, MapKind::percpu_hash, MapKind::lru_hash, MapKind::lru_percpu_hash}) {
        CAPTURE(embpf::platform::to_string(kind));
        auto map = make(shape(kind, 4, 4, 1000));
        std::set<std::uint32_t> expected;
        std::vector<std::uint8_t> value(map->host_value_size(), 0);
        for (std::uint32_t key = 0; key < 600; ++key) {
            const std::uint32_t k = key * 2654435761U;
            REQUIRE(map->host_update(bytes(k), value, bpf_any).has_value());
            expected.insert(k);
        }
        const auto keys = all_keys<std::uint32_t>(*map);
        CHECK(keys.size() == expected.size());
        CHECK(std::set<std::uint32_t>(keys.begin(), keys.end()) == expected);

        std::uint32_t first = 0;
        REQUIRE(map->next_key({}, writable(first)).value());
        std::uint32_t after_missing = 0;
        const std::uint32_t missing = 3; // 3 * ... is never a multiple-of-2654435761 key here
        REQUIRE_FALSE(expected.count(missing));
        REQUIRE(map->next_key(bytes(missing), writable(after_missing)).value());
        CHECK(after_missing == first);
    }
    auto empty = make(shape(MapKind::hash, 4, 4, 8));
    std::uint32_t next = 0;
    CHECK_FALSE(empty->next_key({}, writable(next)).value());
}

TEST_CASE("runtime hash: host-side sizes are checked with clear messages") {
    auto map = make(shape(MapKind::hash, 4, 8, 8, 0, "counts"));
    const std::uint8_t short_key[3] = {};
    std::uint64_t value = 0;
    auto bad_key = map->host_lookup(short_key, writable(value));
    REQUIRE_FALSE(bad_key.has_value());
    CHECK(bad_key.error().message == "map counts: key of 3 bytes, expected 4");
    CHECK(bad_key.error().kind == embpf::ErrorKind::invalid_input);

    const std::uint32_t key = 1;
    std::uint32_t small = 0;
    auto bad_value = map->host_update(bytes(key), bytes(small), bpf_any);
    REQUIRE_FALSE(bad_value.has_value());
    CHECK(bad_value.error().message == "map counts: value of 4 bytes, expected 8");
    CHECK_FALSE(map->host_erase(short_key).has_value());
    CHECK_FALSE(map->host_lookup_and_erase(short_key, writable(value)).has_value());
    std::uint32_t next = 0;
    CHECK_FALSE(map->next_key(short_key, writable(next)).has_value());
    std::uint8_t wide[8] = {};
    CHECK_FALSE(map->next_key({}, wide).has_value());
    // Nothing changed.
    CHECK(map->entry_count() == 0);
    // Queue operations are not hash operations.
    CHECK(map->push(&value, 0) == -EOPNOTSUPP);
    CHECK(map->pop(&value) == -EOPNOTSUPP);
}

TEST_CASE("runtime hash: keys of many sizes, and BPF_F_ZERO_SEED and BPF_F_NO_PREALLOC maps") {
    auto key_of = [](std::uint32_t i, std::uint32_t key_size) {
        std::vector<std::uint8_t> key(key_size);
        for (std::uint32_t j = 0; j < key_size; ++j) {
            key[j] = static_cast<std::uint8_t>(j * 37 + 11);
        }
        key[0] = static_cast<std::uint8_t>(i);
        key[key_size - 1] = static_cast<std::uint8_t>(i);
        return key;
    };
    for (std::uint32_t key_size : {1U, 2U, 3U, 4U, 5U, 8U, 12U, 16U, 33U, 64U, 512U}) {
        for (std::uint32_t flags : {0U, bpf_f_zero_seed, bpf_f_no_prealloc}) {
            CAPTURE(key_size);
            CAPTURE(flags);
            auto map = make(shape(MapKind::hash, key_size, 4, 64, flags));
            for (std::uint32_t i = 0; i < 64; ++i) {
                const std::uint32_t value = i;
                REQUIRE(map->update(key_of(i, key_size).data(), &value, bpf_noexist) == 0);
            }
            CHECK(map->entry_count() == 64);
            EpochGuard guard;
            for (std::uint32_t i = 0; i < 64; ++i) {
                auto* value = static_cast<std::uint32_t*>(map->lookup(key_of(i, key_size).data()));
                REQUIRE(value != nullptr);
                CHECK(*value == i);
            }
            CHECK(map->lookup(key_of(200, key_size).data()) == nullptr);
        }
    }
}

TEST_CASE("runtime hash: a looked-up value stays intact after another thread deletes and reuses the entry") {
    auto map = make(shape(MapKind::hash, 4, 64, 2));
    struct Value {
        std::uint64_t words[8];
    };
    const std::uint32_t key = 5;
    Value value{};
    std::fill(std::begin(value.words), std::end(value.words), 35);
    REQUIRE(map->update(&key, &value, bpf_any) == 0);

    std::atomic<bool> looked_up{false};
    std::atomic<bool> churned{false};
    std::atomic<bool> synchronized{false};
    std::thread reader([&] {
        EpochGuard guard;
        const auto* held = static_cast<const Value*>(map->lookup(&key));
        looked_up = true;
        if (held == nullptr) {
            FAIL_CHECK("the key is missing");
            return;
        }
        while (!churned) {
            std::this_thread::yield();
        }
        // The writer deleted and replaced this key thousands of times; this guard still pins the old element.
        for (std::uint64_t word : held->words) {
            CHECK(word == 35);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        CHECK_FALSE(synchronized.load()); // synchronize() waits for this guard
    });
    while (!looked_up) {
        std::this_thread::yield();
    }
    // The reader holds back reclamation, so the writer runs out of elements once the retired allowance is used up:
    // then its updates fail instead of growing the map.
    std::size_t refused = 0;
    for (std::uint64_t round = 0; round < 5000; ++round) {
        Value other{};
        std::fill(std::begin(other.words), std::end(other.words), round);
        const long erased = map->erase(&key);
        REQUIRE((erased == 0 || erased == -ENOENT));
        const long added = map->update(&key, &other, bpf_noexist);
        REQUIRE((added == 0 || added == -ENOMEM));
        const std::uint32_t second = 6;
        const long replaced = map->update(&second, &other, bpf_any);
        REQUIRE((replaced == 0 || replaced == -ENOMEM));
        refused += (added != 0) + (replaced != 0);
    }
    CHECK(refused > 0);
    const std::size_t element = 64 + 8 + 64;
    const std::uint32_t slots = map->config().slots;
    CHECK(map->memory_size() <= 4 * 64 + (2 + slots + retired_allowance(slots) + 16) * element + 64 * 4);
    try_reclaim();
    churned = true;
    std::thread waiter([&] {
        synchronize();
        synchronized = true;
    });
    reader.join();
    waiter.join();
    CHECK(synchronized.load());
}

TEST_CASE("runtime maps: detach deletes atomically and leaves the value readable until the guard ends") {
    for (MapKind kind : {MapKind::hash, MapKind::lru_hash, MapKind::percpu_hash, MapKind::lru_percpu_hash}) {
        CAPTURE(embpf::platform::to_string(kind));
        auto map = make(shape(kind, 4, 8, 4));
        const std::uint32_t key = 1;
        const std::uint64_t value = 0x1234;
        REQUIRE(map->update(&key, &value, bpf_any) == 0);
        EpochGuard guard;
        auto* detached = static_cast<const std::uint64_t*>(map->detach(&key));
        REQUIRE(detached != nullptr);
        CHECK(map->detach(&key) == nullptr);
        CHECK(map->lookup(&key) == nullptr);
        CHECK(map->entry_count() == 0);
        // Reusing the map's elements does not touch the detached value while the guard is open.
        // (Inside the guard nothing it retires is reclaimed: past the retired allowance updates fail, -ENOMEM.)
        for (std::uint32_t round = 0; round < 1000; ++round) {
            const std::uint64_t other = round;
            const long added = map->update(&round, &other, bpf_any);
            REQUIRE((added == 0 || added == -ENOMEM));
            if (added == 0) {
                REQUIRE(map->erase(&round) == 0);
            }
        }
        try_reclaim();
        CHECK(*detached == 0x1234);
    }
    struct Key {
        std::uint32_t prefixlen;
        std::uint8_t data[4];
    };
    auto trie = make(shape(MapKind::lpm_trie, 8, 4, 8));
    const Key prefix{8, {10, 0, 0, 0}};
    const std::uint32_t id = 77;
    REQUIRE(trie->update(&prefix, &id, bpf_any) == 0);
    {
        EpochGuard guard;
        auto* detached = static_cast<const std::uint32_t*>(trie->detach(&prefix));
        REQUIRE(detached != nullptr);
        CHECK(*detached == 77);
        CHECK(trie->detach(&prefix) == nullptr);
        CHECK(trie->entry_count() == 0);
    }
    auto array = make(shape(MapKind::array, 4, 4, 4));
    const std::uint32_t index = 0;
    CHECK(array->detach(&index) == nullptr);
    auto queue = make(shape(MapKind::queue, 0, 4, 4));
    CHECK(queue->detach(nullptr) == nullptr);
}

TEST_CASE("runtime hash: memory is allocated up front and matches the estimate") {
    const auto config = shape(MapKind::hash, 4, 8, 1000);
    auto map = make(config);
    CHECK(map->memory_size() == map_memory_estimate(config).value());
    CHECK(map->memory_size() >= 1000 * (4 + 8));
    const auto lazy_config = shape(MapKind::hash, 4, 8, 1000, bpf_f_no_prealloc);
    auto lazy = make(lazy_config);
    CHECK(lazy->memory_size() == map_memory_estimate(lazy_config).value());
    CHECK(lazy->memory_size() < map->memory_size());
    const std::uint64_t value = 1;
    for (std::uint32_t key = 0; key < 1000; ++key) {
        REQUIRE(lazy->update(&key, &value, bpf_any) == 0);
    }
    const std::uint32_t one_more = 1000;
    CHECK(lazy->update(&one_more, &value, bpf_any) == -E2BIG);
    CHECK(lazy->memory_size() > map_memory_estimate(lazy_config).value());
}

TEST_SUITE_END();
