// Stress: writers update, delete and replace entries while "program" threads hold guards and read values through
// lookup pointers, and a host thread iterates. Every value is key * 7 in all of its words, so a reader that sees
// anything else read freed, reused or half-written memory. Bounded counts keep each case well under a second, also
// under ThreadSanitizer (CI runs this file under TSan).
#include "runtime/map_testing.hpp"

#include <atomic>
#include <random>
#include <thread>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

struct Value {
    std::uint64_t words[8];
};

Value value_for(std::uint32_t key) {
    Value value{};
    for (auto& word : value.words) {
        word = std::uint64_t{key} * 7;
    }
    return value;
}

bool consistent(const Value& value, std::uint32_t key) {
    for (std::uint64_t word : value.words) {
        if (word != std::uint64_t{key} * 7) {
            return false;
        }
    }
    return true;
}

struct StressCounts {
    int writer_ops;
    int reader_rounds;
};

// Fewer rounds under sanitizers, which slow everything down ten times or more.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr StressCounts counts{80'000, 20'000};
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr StressCounts counts{80'000, 20'000};
#else
constexpr StressCounts counts{300'000, 100'000};
#endif
#else
constexpr StressCounts counts{300'000, 100'000};
#endif

/// Runs writers, program readers and a host iterator against `map` (keys 0..key_space-1, values Value).
void hammer(Map& map, std::uint32_t key_space) {
    std::atomic<bool> writers_done{false};
    std::atomic<std::uint64_t> inconsistent{0};
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> unexpected_errors{0};
    std::atomic<std::uint64_t> out_of_elements{0};

    auto writer = [&](std::uint32_t seed) {
        std::mt19937 random(seed);
        for (int op = 0; op < counts.writer_ops; ++op) {
            const std::uint32_t key = random() % key_space;
            const Value value = value_for(key);
            long result = 0;
            switch (random() % 6) {
            case 0:
            case 1: result = map.update(&key, &value, bpf_any); break;
            case 2: result = map.update(&key, &value, bpf_noexist); break;
            case 3: result = map.erase(&key); break;
            case 4: {
                Value out{};
                result = map.lookup_and_erase(&key, &out);
                if (result == 0 && !consistent(out, key)) {
                    ++inconsistent;
                }
                break;
            }
            default: {
                auto updated = map.host_update(bytes(key), bytes(value), bpf_exist);
                result = updated ? 0 : -ENOENT;
                break;
            }
            }
            if (result == -ENOMEM) {
                ++out_of_elements; // readers held back reclamation past kRetiredAllowance (a preempted guard)
            } else if (result != 0 && result != -ENOENT && result != -EEXIST && result != -E2BIG) {
                ++unexpected_errors;
            }
        }
    };

    auto program = [&](std::uint32_t seed) {
        std::mt19937 random(seed);
        for (int round = 0; round < counts.reader_rounds && !writers_done; ++round) {
            EpochGuard guard; // one "invocation"
            const Value* held[8] = {};
            std::uint32_t keys[8] = {};
            for (int i = 0; i < 8; ++i) {
                keys[i] = random() % key_space;
                held[i] = static_cast<const Value*>(map.lookup(&keys[i]));
                if (held[i] != nullptr && !consistent(*held[i], keys[i])) {
                    ++inconsistent;
                }
            }
            std::this_thread::yield(); // let writers delete and replace what we hold
            for (int i = 0; i < 8; ++i) {
                if (held[i] != nullptr) {
                    ++hits;
                    if (!consistent(*held[i], keys[i])) {
                        ++inconsistent;
                    }
                }
            }
        }
    };

    auto host = [&] {
        while (!writers_done) {
            std::uint32_t key = 0;
            auto next = map.next_key({}, writable(key));
            for (int steps = 0; next && *next && steps < 64; ++steps) {
                Value value{};
                auto found = map.host_lookup(bytes(key), writable(value));
                if (!found) {
                    ++unexpected_errors;
                } else if (*found && !consistent(value, key)) {
                    ++inconsistent;
                }
                const std::uint32_t current = key;
                next = map.next_key(bytes(current), writable(key));
            }
            if (!next) {
                ++unexpected_errors;
            }
        }
    };

    std::vector<std::thread> threads;
    threads.emplace_back(program, 11);
    threads.emplace_back(program, 12);
    threads.emplace_back(host);
    std::thread first_writer(writer, 1);
    std::thread second_writer(writer, 2);
    first_writer.join();
    second_writer.join();
    writers_done = true;
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(inconsistent == 0);
    CHECK(unexpected_errors == 0);
    MESSAGE(out_of_elements.load() << " of " << 2 * counts.writer_ops << " writes found the map at its element bound");
    // How often depends on how long readers are preempted inside their guards; a loaded machine sees more.
    CHECK(out_of_elements.load() * 10 <= std::uint64_t{2} * counts.writer_ops);
    CHECK(hits > 0);
}

} // namespace

TEST_CASE("runtime stress: hash map under concurrent writers, program readers and host iteration") {
    auto map = make(shape(MapKind::hash, 4, sizeof(Value), 96));
    hammer(*map, 128);
    synchronize();
    CHECK(pending_retirements() == 0);
    CHECK(map->entry_count() <= 96);
    // The map is still coherent: every key found by iteration has its value.
    for (std::uint32_t key : all_keys<std::uint32_t>(*map)) {
        auto value = host_get<Value>(*map, key);
        REQUIRE(value.has_value());
        CHECK(consistent(*value, key));
    }
}

TEST_CASE("runtime stress: LRU hash map evicting under concurrent readers") {
    auto map = make(shape(MapKind::lru_hash, 4, sizeof(Value), 48));
    hammer(*map, 128);
    synchronize();
    CHECK(map->entry_count() <= 48);
    CHECK(all_keys<std::uint32_t>(*map).size() == map->entry_count());
}

TEST_CASE("runtime stress: LPM trie under concurrent writers and longest-match readers") {
    struct Key {
        std::uint32_t prefixlen;
        std::uint8_t data[4];
    };
    auto map = make(shape(MapKind::lpm_trie, sizeof(Key), sizeof(Value), 512, bpf_f_no_prealloc));
    // Prefix p of length L holds value_for(L * 1000 + first byte): a reader checks that the value is self-consistent
    // and belongs to a prefix that contains its address.
    auto key_for = [](std::uint32_t n) {
        Key key{};
        key.prefixlen = 8 + n % 25;
        const std::uint32_t address = (n * 2654435761U) & 0x0f0f0fffU;
        for (int i = 0; i < 4; ++i) {
            key.data[i] = static_cast<std::uint8_t>(address >> (24 - 8 * i));
        }
        for (std::uint32_t bit = key.prefixlen; bit < 32; ++bit) {
            key.data[bit / 8] = static_cast<std::uint8_t>(key.data[bit / 8] & ~(1U << (7 - bit % 8)));
        }
        return key;
    };
    auto tag = [](const Key& key) { return key.prefixlen * 1000 + key.data[0]; };
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> bad{0};
    auto writer = [&](std::uint32_t seed) {
        std::mt19937 random(seed);
        for (int op = 0; op < counts.writer_ops / 2; ++op) {
            const Key key = key_for(random() % 400);
            if (random() % 3 == 0) {
                map->erase(&key);
            } else {
                const Value value = value_for(tag(key));
                const long result = map->update(&key, &value, bpf_any);
                // -ENOMEM: readers held back reclamation past the retired allowance.
                if (result != 0 && result != -ENOSPC && result != -ENOMEM) {
                    ++bad;
                }
            }
        }
    };
    auto reader = [&](std::uint32_t seed) {
        std::mt19937 random(seed);
        while (!done) {
            EpochGuard guard;
            Key address = key_for(random() % 400);
            address.prefixlen = 32;
            address.data[3] = static_cast<std::uint8_t>(random());
            const auto* value = static_cast<const Value*>(map->lookup(&address));
            std::this_thread::yield();
            if (value != nullptr) {
                const std::uint64_t t = value->words[0] / 7;
                const auto prefixlen = static_cast<std::uint32_t>(t / 1000);
                if (!consistent(*value, static_cast<std::uint32_t>(t)) || prefixlen < 8 || prefixlen > 32 ||
                    (t % 1000) != address.data[0]) {
                    ++bad;
                }
            }
        }
    };
    std::thread r1(reader, 5);
    std::thread r2(reader, 6);
    std::thread w1(writer, 7);
    std::thread w2(writer, 8);
    w1.join();
    w2.join();
    done = true;
    r1.join();
    r2.join();
    CHECK(bad == 0);
    CHECK(count_keys(*map) == map->entry_count());
}

TEST_SUITE_END();
