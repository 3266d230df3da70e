// Ring buffers: Linux's record layout and positions, reserve/submit/discard/output/query, wrap-around through the
// double mapping, full rings, busy records, the eventfd and poll, and concurrent producers.
#include "embpf/runtime/ring_buffer.hpp"
#include "runtime/map_testing.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <poll.h>
#include <thread>
#include <unistd.h>

using namespace runtime_test;
using namespace embpf::runtime;

TEST_SUITE_BEGIN("runtime");

namespace {

std::shared_ptr<RingBufferMap> ring(std::uint32_t size, std::string name = "events") {
    return make_as<RingBufferMap>(shape(MapKind::ringbuf, 0, 0, size, 0, std::move(name)));
}

bool readable(int fd) {
    pollfd descriptor{fd, POLLIN, 0};
    return ::poll(&descriptor, 1, 0) == 1 && (descriptor.revents & POLLIN) != 0;
}

std::vector<std::vector<std::uint8_t>> take_all(RingBufferMap& rb) {
    std::vector<std::vector<std::uint8_t>> records;
    rb.consume([&](std::span<const std::uint8_t> record) { records.emplace_back(record.begin(), record.end()); });
    return records;
}

} // namespace

TEST_CASE("runtime ringbuf: reserve, submit, discard; headers and positions as on Linux") {
    auto rb = ring(4096);
    CHECK(rb->query(bpf_rb_ring_size) == 4096);
    CHECK(rb->query(bpf_rb_avail_data) == 0);

    auto* first = static_cast<std::uint8_t*>(rb->reserve(5, 0));
    REQUIRE(first != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(first) % 8 == 0);
    CHECK(RingBufferMap::from_sample(first) == rb.get());
    RingBufferHeader header{};
    std::memcpy(&header, first - 8, 8);
    CHECK(header.len == (5U | bpf_ringbuf_busy_bit));
    CHECK(header.pg_off == 3); // meta page, consumer page, producer page, then data: as Linux numbers them
    CHECK(rb->query(bpf_rb_prod_pos) == 16);
    std::memcpy(first, "hello", 5);

    auto* second = static_cast<std::uint8_t*>(rb->reserve(16, 0));
    REQUIRE(second != nullptr);
    CHECK(second - first == 16);
    std::memset(second, 0xab, 16);
    // The first record is still busy: nothing can be consumed.
    rb->submit(second, 0);
    CHECK(take_all(*rb).empty());
    rb->submit(first, 0);
    std::memcpy(&header, first - 8, 8);
    CHECK(header.len == 5);
    auto records = take_all(*rb);
    REQUIRE(records.size() == 2);
    CHECK(std::string(records[0].begin(), records[0].end()) == "hello");
    CHECK(records[1] == std::vector<std::uint8_t>(16, 0xab));
    CHECK(rb->query(bpf_rb_cons_pos) == 16 + 24);
    CHECK(rb->query(bpf_rb_avail_data) == 0);
    CHECK(rb->query(99) == 0);

    // Discarded records are skipped but still consumed.
    void* dropped = rb->reserve(100, 0);
    REQUIRE(dropped != nullptr);
    rb->discard(dropped, 0);
    std::memcpy(&header, static_cast<std::uint8_t*>(dropped) - 8, 8);
    CHECK(header.len == (100U | bpf_ringbuf_discard_bit));
    const std::uint32_t kept = 7;
    CHECK(rb->output(&kept, sizeof kept, 0) == 0);
    records = take_all(*rb);
    REQUIRE(records.size() == 1);
    CHECK(records[0].size() == 4);
    CHECK(rb->query(bpf_rb_avail_data) == 0);

    // Zero-size records exist; flags on reserve are refused; bad output flags are -EINVAL.
    CHECK(rb->output(nullptr, 0, 0) == 0);
    records = take_all(*rb);
    REQUIRE(records.size() == 1);
    CHECK(records[0].empty());
    CHECK(rb->reserve(8, 1) == nullptr);
    CHECK(rb->output(&kept, 4, 4) == -EINVAL);
}

TEST_CASE("runtime ringbuf: a full ring refuses reservations until the consumer catches up") {
    auto rb = ring(4096);
    std::vector<void*> held;
    while (void* record = rb->reserve(100, 0)) {
        held.push_back(record);
    }
    CHECK(held.size() == 4096 / 112); // 100 bytes + 8 header, rounded to 112
    // 64 bytes are left: a record needs its 8-byte header, and the ring is never filled to the last byte.
    CHECK(rb->query(bpf_rb_avail_data) == 4032);
    const std::uint8_t data[64] = {};
    CHECK(rb->output(data, 60, 0) == -EAGAIN);
    CHECK(rb->output(data, 56, 0) == -EAGAIN);
    CHECK(rb->reserve(48, 0) != nullptr); // 4032 + 56 = 4088: fits
    CHECK(rb->reserve(0, 0) == nullptr);  // 4088 + 8 = 4096: the producer may not catch up with the consumer
    // Oversized records never fit: len must stay below the data size.
    CHECK(rb->reserve(4096, 0) == nullptr);
    for (void* record : held) {
        rb->submit(record, bpf_rb_no_wakeup);
    }
    CHECK(rb->reserve(100, 0) == nullptr);      // committed but not consumed yet
    CHECK(take_all(*rb).size() == held.size()); // stops at the busy 48-byte record
    CHECK(rb->query(bpf_rb_avail_data) == 56);
    CHECK(rb->reserve(4096 - 16, 0) == nullptr); // the busy record still holds 56 bytes
    // Commit the busy record (by position: it is the one after the last held one).
    rb->discard(static_cast<std::uint8_t*>(held.back()) + 112, 0);
    CHECK(take_all(*rb).empty());
    void* big = rb->reserve(4096 - 16, 0);
    REQUIRE(big != nullptr);
    rb->discard(big, 0);
    CHECK(take_all(*rb).empty());
    CHECK(rb->reserve(4096 - 8, 0) == nullptr);
}

TEST_CASE("runtime ringbuf: records of various sizes wrap around many times and stay contiguous") {
    auto rb = ring(4096);
    std::uint64_t produced = 0;
    std::uint64_t consumed = 0;
    std::uint64_t bytes = 0;
    auto size_of = [](std::uint64_t n) { return static_cast<std::uint32_t>(1 + (n * 7919) % 997); };
    auto fill = [](std::uint64_t n, std::uint32_t size, std::uint8_t* data) {
        for (std::uint32_t i = 0; i < size; ++i) {
            data[i] = static_cast<std::uint8_t>(n * 31 + i);
        }
    };
    while (consumed < 30'000) {
        // Produce until full, then consume a few; the positions run far past the data size.
        while (true) {
            const std::uint32_t size = size_of(produced);
            auto* record = static_cast<std::uint8_t*>(rb->reserve(size, 0));
            if (record == nullptr) {
                break;
            }
            fill(produced, size, record); // crosses the end of the data area for some records
            if (produced % 5 == 4) {
                rb->discard(record, bpf_rb_no_wakeup);
            } else {
                rb->submit(record, bpf_rb_no_wakeup);
            }
            ++produced;
        }
        bool ok = true;
        rb->consume([&](std::span<const std::uint8_t> record) {
            while (consumed % 5 == 4) {
                ++consumed; // discarded
            }
            const std::uint32_t size = size_of(consumed);
            std::vector<std::uint8_t> expected(size);
            fill(consumed, size, expected.data());
            ok = ok && record.size() == size && std::equal(record.begin(), record.end(), expected.begin());
            bytes += record.size();
            ++consumed;
            return consumed % 3 != 0; // stop early now and then
        });
        REQUIRE(ok);
    }
    CHECK(rb->query(bpf_rb_prod_pos) > 100 * 4096);
    CHECK(bytes > 1'000'000);
}

TEST_CASE("runtime ringbuf: the eventfd signals submissions, honoring BPF_RB_NO_WAKEUP and BPF_RB_FORCE_WAKEUP") {
    auto rb = ring(4096);
    const int fd = rb->wait_fd();
    REQUIRE(fd >= 0);
    CHECK_FALSE(readable(fd));
    const std::uint64_t value = 1;
    REQUIRE(rb->output(&value, 8, bpf_rb_no_wakeup) == 0);
    CHECK_FALSE(readable(fd));
    REQUIRE(rb->output(&value, 8, 0) == 0);
    CHECK(readable(fd));
    CHECK(take_all(*rb).size() == 2);
    CHECK_FALSE(readable(fd)); // consume drained it
    REQUIRE(rb->output(&value, 8, bpf_rb_force_wakeup | bpf_rb_no_wakeup) == 0);
    CHECK(readable(fd));
    CHECK(take_all(*rb).size() == 1);
    CHECK_FALSE(readable(fd));
    void* record = rb->reserve(8, 0);
    REQUIRE(record != nullptr);
    rb->submit(record, 0);
    CHECK(readable(fd));
    CHECK(take_all(*rb).size() == 1);
}

TEST_CASE("runtime ringbuf: poll times out when empty and wakes up for a producer") {
    auto rb = ring(4096);
    const auto start = std::chrono::steady_clock::now();
    CHECK(rb->poll(std::chrono::milliseconds(20), [](std::span<const std::uint8_t>) {}) == 0);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20));
    CHECK(rb->poll(std::chrono::milliseconds(0), [](std::span<const std::uint8_t>) {}) == 0);

    std::thread producer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        const std::uint32_t value = 42;
        CHECK(rb->output(&value, 4, 0) == 0);
    });
    std::uint32_t got = 0;
    const std::size_t n = rb->poll(std::chrono::seconds(10), [&](std::span<const std::uint8_t> record) {
        REQUIRE(record.size() == 4);
        std::memcpy(&got, record.data(), 4);
    });
    producer.join();
    CHECK(n == 1);
    CHECK(got == 42);
}

TEST_CASE("runtime ringbuf: 4 concurrent producers x 100k records, each received exactly once and in order") {
    constexpr std::uint32_t producers = 4;
    constexpr std::uint32_t per_producer = 100'000;
    auto rb = ring(1U << 16);
    std::vector<std::thread> threads;
    for (std::uint32_t id = 0; id < producers; ++id) {
        threads.emplace_back([&rb, id] {
            for (std::uint32_t seq = 0; seq < per_producer;) {
                // Mix reserve/submit and output, and sizes 8..40.
                const std::uint32_t record[2] = {id, seq};
                const std::uint32_t padding = (seq % 5) * 8;
                if (seq % 2 == 0) {
                    auto* space = static_cast<std::uint8_t*>(rb->reserve(8 + padding, 0));
                    if (space == nullptr) {
                        std::this_thread::yield();
                        continue;
                    }
                    std::memcpy(space, record, 8);
                    std::memset(space + 8, 0x5a, padding);
                    rb->submit(space, 0);
                } else if (rb->output(record, 8, 0) != 0) {
                    std::this_thread::yield();
                    continue;
                }
                ++seq;
            }
        });
    }
    std::vector<std::uint32_t> next(producers, 0);
    std::uint64_t received = 0;
    bool in_order = true;
    while (received < std::uint64_t{producers} * per_producer) {
        rb->poll(std::chrono::milliseconds(100), [&](std::span<const std::uint8_t> data) {
            std::uint32_t record[2];
            std::memcpy(record, data.data(), 8);
            in_order = in_order && record[0] < producers && record[1] == next[record[0]];
            if (record[0] < producers) {
                ++next[record[0]];
            }
            ++received;
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    CHECK(in_order);
    CHECK(received == std::uint64_t{producers} * per_producer);
    for (std::uint32_t id = 0; id < producers; ++id) {
        CHECK(next[id] == per_producer);
    }
    CHECK(take_all(*rb).empty());
}

TEST_CASE("runtime ringbuf: no keys, and clear errors for map operations") {
    auto rb = ring(8192, "events");
    std::uint32_t key = 0;
    auto looked = rb->host_lookup(bytes(key), writable(key));
    REQUIRE_FALSE(looked.has_value());
    CHECK(looked.error().kind == embpf::ErrorKind::unsupported);
    CHECK(contains(looked.error().message, "map events: ring buffers have no keys"));
    CHECK_FALSE(rb->host_update({}, {}, 0).has_value());
    CHECK_FALSE(rb->next_key({}, writable(key)).has_value());
    EpochGuard guard;
    CHECK(rb->lookup(&key) == nullptr);
    CHECK(rb->update(&key, &key, 0) == -EOPNOTSUPP);
    CHECK(rb->data_size() == 8192);
}

TEST_SUITE_END();
