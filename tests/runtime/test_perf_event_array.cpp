// Perf event arrays: per-index buffers the host opens, Linux's errors for output, losses, and the consumer side.
#include "embpf/runtime/perf_event_array.hpp"
#include "runtime/map_testing.hpp"

#include <cerrno>
#include <poll.h>
#include <thread>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

struct Sample {
    std::uint32_t index;
    std::vector<std::uint8_t> data;
};

std::vector<Sample> take_all(PerfEventArrayMap& map, std::uint64_t* lost = nullptr) {
    std::vector<Sample> samples;
    map.consume(
        [&](std::uint32_t index, std::span<const std::uint8_t> data) {
            samples.push_back({index, {data.begin(), data.end()}});
        },
        [&](std::uint32_t, std::uint64_t count) {
            if (lost != nullptr) {
                *lost += count;
            }
        });
    return samples;
}

} // namespace

TEST_CASE("runtime perf_event_array: output to indexes, the current slot, and Linux's errors") {
    MapConfig config = shape(MapKind::perf_event_array, 4, 4, 0, 0, "perf");
    config.slots = 4;
    auto map = make_as<PerfEventArrayMap>(config);
    CHECK(map->config().max_entries == 4); // one per slot
    const std::uint32_t value = 0x11223344;
    CHECK(map->output(1, &value, 4) == -ENOENT); // nothing opened yet
    REQUIRE(map->open(4096).has_value());
    CHECK(map->output(4, &value, 4) == -E2BIG);
    CHECK(map->output(1ULL << 32, &value, 4) == -EINVAL);
    CHECK(map->output(1, &value, 70'000) == -E2BIG);
    CHECK(map->output(1, &value, 4) == 0);
    const std::uint8_t extra[3] = {7, 8, 9};
    CHECK(map->output(2, &value, 4, extra, 3) == 0);
    std::thread on_slot_3([&] {
        set_current_slot(3);
        CHECK(map->output(bpf_f_current_cpu, &value, 2) == 0);
    });
    on_slot_3.join();
    auto samples = take_all(*map);
    REQUIRE(samples.size() == 3);
    CHECK(samples[0].index == 1);
    CHECK(samples[0].data == std::vector<std::uint8_t>{0x44, 0x33, 0x22, 0x11});
    CHECK(samples[1].index == 2);
    CHECK(samples[1].data == std::vector<std::uint8_t>{0x44, 0x33, 0x22, 0x11, 7, 8, 9});
    CHECK(samples[2].index == 3);
    CHECK(samples[2].data.size() == 2);
    CHECK(take_all(*map).empty());

    map->close(2);
    CHECK(map->output(2, &value, 4) == -ENOENT);
    const std::uint32_t key = 1;
    CHECK(map->host_erase(bytes(key)).value());
    CHECK_FALSE(map->host_erase(bytes(key)).value());
    CHECK(map->output(1, &value, 4) == -ENOENT);
    REQUIRE(map->open(1, 8192).has_value());
    CHECK_FALSE(map->open(1, 8192).has_value());
    CHECK(map->output(1, &value, 4) == 0);
    CHECK(take_all(*map).size() == 1);
    CHECK(all_keys<std::uint32_t>(*map) == std::vector<std::uint32_t>{0, 1, 2, 3});
    CHECK(map->host_update(bytes(key), bytes(value), 0).error().kind == embpf::ErrorKind::unsupported);
}

TEST_CASE("runtime perf_event_array: a full buffer loses samples and says how many") {
    auto map = make_as<PerfEventArrayMap>(shape(MapKind::perf_event_array, 4, 4, 2));
    REQUIRE(map->open(0, 4096).has_value());
    std::uint8_t sample[100] = {};
    int written = 0;
    int refused = 0;
    for (int i = 0; i < 50; ++i) {
        sample[0] = static_cast<std::uint8_t>(i);
        const long result = map->output(0, sample, sizeof sample);
        if (result == 0) {
            ++written;
        } else {
            CHECK(result == -ENOSPC);
            ++refused;
        }
    }
    CHECK(written == 4096 / 112);
    std::uint64_t lost = 0;
    auto samples = take_all(*map, &lost);
    CHECK(samples.size() == static_cast<std::size_t>(written));
    CHECK(lost == static_cast<std::uint64_t>(refused));
    for (std::size_t i = 0; i < samples.size(); ++i) {
        CHECK(samples[i].data[0] == i);
    }
    // Many laps around the buffer.
    for (int round = 0; round < 2000; ++round) {
        sample[0] = static_cast<std::uint8_t>(round);
        REQUIRE(map->output(0, sample, 1 + round % 100) == 0);
        if (round % 7 == 6) {
            CHECK(take_all(*map).size() == 7);
        }
    }
}

TEST_CASE("runtime perf_event_array: poll and the eventfd") {
    auto map = make_as<PerfEventArrayMap>(shape(MapKind::perf_event_array, 4, 4, 2));
    REQUIRE(map->open(4096).has_value());
    pollfd descriptor{map->wait_fd(), POLLIN, 0};
    CHECK(::poll(&descriptor, 1, 0) == 0);
    CHECK(map->poll(std::chrono::milliseconds(10), [](std::uint32_t, std::span<const std::uint8_t>) {}) == 0);
    std::thread producer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const std::uint64_t value = 5;
        CHECK(map->output(1, &value, 8) == 0);
    });
    std::uint32_t index = 99;
    CHECK(map->poll(std::chrono::seconds(10), [&](std::uint32_t i, std::span<const std::uint8_t>) { index = i; }) == 1);
    producer.join();
    CHECK(index == 1);
    const std::uint64_t value = 6;
    REQUIRE(map->output(0, &value, 8) == 0);
    CHECK(::poll(&descriptor, 1, 0) == 1);
    CHECK(take_all(*map).size() == 1);
    CHECK(::poll(&descriptor, 1, 0) == 0);
}

TEST_SUITE_END();
