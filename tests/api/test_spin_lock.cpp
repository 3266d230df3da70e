// bpf_spin_lock and bpf_spin_unlock (tests/api/objects/spin_lock.c): programs on several threads add to counters
// under a map value's lock and a global one, every addition serialized; updates leave the lock's bytes be; a run that
// stops while it holds a lock has it released.
#include "embpf/api/object.hpp"
#include "embpf/api/object_spec.hpp"
#include "linux_contexts.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;

namespace {

const std::string kDir = EMBPF_TEST_API_DIR;

// The counter struct of spin_lock.c: count, the lock, padding, the sum of the counts before each addition.
struct Counter {
    std::uint64_t count = 0;
    std::uint32_t lock = 0;
    std::uint32_t pad = 0;
    std::uint64_t sum = 0;
};
static_assert(sizeof(Counter) == 24);

template <typename T>
std::span<const std::uint8_t> bytes_of(const T& value) {
    return {reinterpret_cast<const std::uint8_t*>(&value), sizeof value};
}

// The T at `offset` of the value of key 0.
template <typename T>
T read_at(const MapHandle& map, std::uint32_t offset = 0) {
    const std::uint32_t key = 0;
    auto value = map.lookup(bytes_of(key));
    REQUIRE(value.has_value());
    REQUIRE(value->has_value());
    REQUIRE((*value)->size() >= offset + sizeof(T));
    T out{};
    std::memcpy(&out, (*value)->data() + offset, sizeof out);
    return out;
}

} // namespace

// In the api suite, which the ThreadSanitizer pass runs: programs on four threads share the locks.
TEST_SUITE_BEGIN("api");

TEST_CASE("spin locks: four threads' additions under a map value's lock and a global lock are serialized") {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir + "/spin_lock.o"), &platform::linux());
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    // The lock of the hash map's value, and the global one, as the object's BTF places them.
    REQUIRE(spec->maps().size() >= 2);
    const auto counters = std::find_if(spec->maps().begin(), spec->maps().end(),
                                       [](const elf::MapDefinition& m) { return m.name == "counters"; });
    REQUIRE(counters != spec->maps().end());
    CHECK(counters->spin_locks == std::vector<std::uint32_t>{8});
    const elf::Variable* lock = spec->variable("global_lock");
    const elf::Variable* count = spec->variable("global_count");
    REQUIRE(lock != nullptr);
    REQUIRE(count != nullptr);
    CHECK(spec->maps()[lock->map].spin_locks == std::vector<std::uint32_t>{lock->offset});

    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto map = object->map("counters");
    REQUIRE(map.has_value());
    const std::uint32_t key = 0;
    REQUIRE(map->update(bytes_of(key), bytes_of(Counter{})).has_value());
    auto add_locked = object->program("add_locked");
    auto add_global = object->program("add_global");
    REQUIRE(add_locked.has_value());
    REQUIRE(add_global.has_value());

    constexpr int kThreads = 4;
    constexpr int kRuns = 20000;
    std::vector<std::thread> threads;
    std::array<int, kThreads> failures{};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            testing_packets::SkBuffAround skb(16);
            for (int i = 0; i < kRuns; ++i) {
                auto a = add_locked->run(skb.bytes.data(), skb.bytes.size());
                auto b = add_global->run(skb.bytes.data(), skb.bytes.size());
                if (!a || *a != 1 || !b || *b != 1) {
                    ++failures[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    for (const int f : failures) {
        CHECK(f == 0);
    }
    constexpr std::uint64_t total = std::uint64_t{kThreads} * kRuns;
    const auto counter = read_at<Counter>(*map);
    CHECK(counter.count == total);
    CHECK(counter.sum == total * (total - 1) / 2); // each addition saw the count the one before it left
    CHECK(counter.lock == 0);                      // released
    auto data = object->map(spec->maps()[lock->map].name);
    REQUIRE(data.has_value());
    CHECK(read_at<std::uint64_t>(*data, count->offset) == total);
}

TEST_CASE("spin locks: a for_each_map_elem callback takes each value's lock, in checked runs too") {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir + "/spin_lock.o"), &platform::linux());
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto map = object->map("counters");
    REQUIRE(map.has_value());
    const std::uint32_t key = 0;
    REQUIRE(map->update(bytes_of(key), bytes_of(Counter{})).has_value());
    auto add_each = object->program("add_each");
    REQUIRE(add_each.has_value());
    testing_packets::SkBuffAround skb(16);
    auto fast = add_each->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(fast.has_value());
    CHECK(*fast == 1); // one element visited
    auto checked = add_each->run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE_MESSAGE(checked.has_value(), (checked ? "" : checked.error().message));
    CHECK(checked->r0 == 1);
    const auto counter = read_at<Counter>(*map);
    CHECK(counter.count == 2);
    CHECK(counter.lock == 0);
}

TEST_CASE("spin locks: a map update leaves the lock's bytes be") {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir + "/spin_lock.o"), &platform::linux());
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec);
    REQUIRE(object.has_value());
    const std::uint32_t key = 0;
    // A hash map's update makes a new element, its lock released, whatever the bytes given for it.
    auto map = object->map("counters");
    REQUIRE(map.has_value());
    Counter given;
    given.count = 5;
    given.lock = 0xFFFFFFFF;
    REQUIRE(map->update(bytes_of(key), bytes_of(given)).has_value());
    const auto stored = read_at<Counter>(*map);
    CHECK(stored.count == 5);
    CHECK(stored.lock == 0);
    // An array's update (global data) writes every byte but the lock's.
    const elf::Variable* lock = spec->variable("global_lock");
    const elf::Variable* count = spec->variable("global_count");
    REQUIRE(lock != nullptr);
    REQUIRE(count != nullptr);
    auto data = object->map(spec->maps()[lock->map].name);
    REQUIRE(data.has_value());
    std::vector<std::uint8_t> bytes(spec->maps()[lock->map].value_size, 0xFF);
    REQUIRE(data->update(bytes_of(key), bytes).has_value());
    CHECK(read_at<std::uint32_t>(*data, lock->offset) == 0);
    CHECK(read_at<std::uint64_t>(*data, count->offset) == ~std::uint64_t{0});
    // And the program still takes and releases it.
    auto add_global = object->program("add_global");
    REQUIRE(add_global.has_value());
    testing_packets::SkBuffAround skb(16);
    auto r0 = add_global->run(skb.bytes.data(), skb.bytes.size());
    REQUIRE(r0.has_value());
    CHECK(*r0 == 1);
}

TEST_CASE("spin locks: a program that keeps a lock is refused, and a run of it unverified has it released") {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir + "/spin_lock_held.o"), &platform::linux());
    REQUIRE(spec.has_value());
    auto verified = Object::load(*spec);
    REQUIRE_FALSE(verified.has_value());
    CHECK(verified.error().message.find("A bpf_spin_lock is held at exit") != std::string::npos);

    auto object = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    auto program = object->program("lock_and_exit");
    REQUIRE(program.has_value());
    const elf::Variable* lock = spec->variable("kept_lock");
    REQUIRE(lock != nullptr);
    auto data = object->map(spec->maps()[lock->map].name);
    REQUIRE(data.has_value());
    testing_packets::SkBuffAround skb(16);
    // Twice, on one thread and then on another: had the first run kept the lock, the second would wait on it.
    for (int run = 0; run < 2; ++run) {
        std::thread([&] {
            auto r0 = program->run_checked(skb.bytes.data(), skb.bytes.size());
            REQUIRE(r0.has_value());
            CHECK(r0->r0 == 1);
        }).join();
        CHECK(read_at<std::uint32_t>(*data, lock->offset) == 0);
    }
}

TEST_CASE("spin locks: checked runs keep unverified programs off a lock's word and off words that are no lock") {
    auto spec = ObjectSpec::open(std::filesystem::path(kDir + "/spin_lock_held.o"), &platform::linux());
    REQUIRE(spec.has_value());
    auto object = Object::load(*spec, {.unverified = true});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    const elf::Variable* lock = spec->variable("kept_lock");
    REQUIRE(lock != nullptr);
    auto data = object->map(spec->maps()[lock->map].name);
    REQUIRE(data.has_value());
    testing_packets::SkBuffAround skb(16);
    // A store into the lock's word; a lock on the stack; and, as the verifier, no helper but bpf_spin_unlock while a
    // lock is held, nor a second lock.
    struct Refused {
        const char* name;
        const char* message;
    };
    const Refused refused[] = {
        {"set_word", "read-only"},
        {"lock_stack", "the bpf_spin_lock of a map value"},
        {"call_under_lock", "called while the program holds a bpf_spin_lock"},
        {"lock_twice", "called while the program holds a bpf_spin_lock"},
    };
    for (const Refused& row : refused) {
        CAPTURE(row.name);
        auto program = object->program(row.name);
        REQUIRE(program.has_value());
        auto stopped = program->run_checked(skb.bytes.data(), skb.bytes.size());
        REQUIRE_FALSE(stopped.has_value());
        CHECK(stopped.error().message.find(row.message) != std::string::npos);
        CHECK(read_at<std::uint32_t>(*data, lock->offset) == 0);
    }
    // And the lock still works for a program that uses it rightly.
    auto kept = object->program("lock_and_exit");
    REQUIRE(kept.has_value());
    auto r0 = kept->run_checked(skb.bytes.data(), skb.bytes.size());
    REQUIRE(r0.has_value());
    CHECK(read_at<std::uint32_t>(*data, lock->offset) == 0);
}

TEST_SUITE_END();
