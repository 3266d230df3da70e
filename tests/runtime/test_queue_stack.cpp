// Queues and stacks: order, empty and full behavior, BPF_EXIST overwriting the oldest, and the host's forms.
#include "runtime/map_testing.hpp"

#include <cerrno>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

std::vector<std::uint32_t> drain(Map& map) {
    std::vector<std::uint32_t> values;
    std::uint32_t value = 0;
    while (map.pop(&value) == 0) {
        values.push_back(value);
    }
    return values;
}

} // namespace

TEST_CASE("runtime queue and stack: order, empty, full, overwrite") {
    struct Row {
        MapKind kind;
        std::vector<std::uint32_t> popped;          // after pushing 1, 2, 3
        std::vector<std::uint32_t> after_overwrite; // after pushing 1, 2, 3 then 4 with BPF_EXIST
    };
    const Row rows[] = {
        {MapKind::queue, {1, 2, 3}, {2, 3, 4}},
        {MapKind::stack, {3, 2, 1}, {4, 3, 2}},
    };
    for (const Row& row : rows) {
        CAPTURE(embpf::platform::to_string(row.kind));
        auto map = make(shape(row.kind, 0, 4, 3));
        std::uint32_t value = 0;
        CHECK(map->pop(&value) == -ENOENT);
        CHECK(map->peek(&value) == -ENOENT);
        for (std::uint32_t v : {1U, 2U, 3U}) {
            CHECK(map->push(&v, bpf_any) == 0);
        }
        const std::uint32_t four = 4;
        CHECK(map->push(&four, bpf_any) == -E2BIG);
        CHECK(map->peek(&value) == 0);
        CHECK(value == row.popped.front());
        CHECK(map->entry_count() == 3);
        CHECK(drain(*map) == row.popped);
        CHECK(map->entry_count() == 0);

        for (std::uint32_t v : {1U, 2U, 3U}) {
            CHECK(map->push(&v, bpf_any) == 0);
        }
        CHECK(map->push(&four, bpf_exist) == 0);
        CHECK(drain(*map) == row.after_overwrite);

        CHECK(map->push(&four, bpf_noexist) == -EINVAL);
        CHECK(map->push(&four, 3) == -EINVAL);
        CHECK(map->push(&four, 8) == -EINVAL);
        CHECK(map->update(nullptr, &four, bpf_any) == -EINVAL);
        CHECK(map->erase(nullptr) == -EINVAL);
        EpochGuard guard;
        CHECK(map->lookup(nullptr) == nullptr);
    }
}

TEST_CASE("runtime queue: many laps around the buffer keep FIFO order") {
    auto queue = make(shape(MapKind::queue, 0, 8, 7));
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    for (int round = 0; round < 1000; ++round) {
        const int pushes = 1 + round % 7;
        for (int i = 0; i < pushes; ++i) {
            if (queue->push(&next_in, bpf_any) == 0) {
                ++next_in;
            }
        }
        const int pops = 1 + (round * 3) % 7;
        for (int i = 0; i < pops; ++i) {
            std::uint64_t value = 0;
            if (queue->pop(&value) != 0) {
                break;
            }
            REQUIRE(value == next_out);
            ++next_out;
        }
    }
    CHECK(next_out > 1000);
}

TEST_CASE("runtime queue and stack: host side") {
    auto map = make(shape(MapKind::stack, 0, 4, 2, 0, "work"));
    const std::uint32_t a = 10;
    const std::uint32_t b = 20;
    REQUIRE(map->host_update({}, bytes(a), bpf_any).has_value());
    REQUIRE(map->host_update({}, bytes(b), bpf_any).has_value());
    auto full = map->host_update({}, bytes(a), bpf_any);
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error().message == "map work: full (max_entries 2)");
    auto bad_flags = map->host_update({}, bytes(a), bpf_noexist);
    REQUIRE_FALSE(bad_flags.has_value());
    CHECK(contains(bad_flags.error().message, "BPF_ANY or BPF_EXIST"));
    std::uint32_t out = 0;
    CHECK(map->host_lookup({}, writable(out)).value());
    CHECK(out == 20);
    CHECK(map->host_lookup_and_erase({}, writable(out)).value());
    CHECK(out == 20);
    CHECK(map->host_lookup_and_erase({}, writable(out)).value());
    CHECK(out == 10);
    CHECK_FALSE(map->host_lookup_and_erase({}, writable(out)).value());
    CHECK_FALSE(map->host_lookup({}, writable(out)).value());

    const std::uint32_t key = 0;
    auto keyed = map->host_lookup(bytes(key), writable(out));
    REQUIRE_FALSE(keyed.has_value());
    CHECK(keyed.error().message == "map work: key of 4 bytes, expected none");
    std::uint64_t wide = 0;
    auto wrong = map->host_update({}, bytes(wide), bpf_any);
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message == "map work: value of 8 bytes, expected 4");
    CHECK_FALSE(map->host_erase({}).has_value());
    std::uint32_t next = 0;
    CHECK_FALSE(map->next_key({}, writable(next)).has_value());
    CHECK(map->memory_size() == 8);
    CHECK_FALSE(create_map(shape(MapKind::queue, 4, 4, 2)).has_value());
}

TEST_SUITE_END();
