// RingBuffer<T>: the five-tuple XDP seed's records as FiveTuple, wrong-size records reported, poll with a timeout,
// the wait descriptor, and the host's producer side.
#include "embpf/api/object.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <poll.h>
#include <string>
#include <thread>
#include <vector>

using namespace embpf;
using testing_seeds::FiveTuple;
using testing_seeds::XdpContext;
using namespace std::chrono_literals;

namespace {

const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;

// The same record, but wanting more alignment than the ring's 8 bytes.
struct alignas(16) AlignedTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};
static_assert(sizeof(AlignedTuple) == 16);

Object load(const std::string& path) { return testing_seeds::load_unverified(path); }

// Ethernet + IPv4 + (UDP when protocol is 17) from 10.0.0.1:sport to 10.0.0.2:53.
std::vector<std::uint8_t> packet(std::uint8_t protocol, std::uint16_t sport, std::size_t length = 60) {
    std::vector<std::uint8_t> bytes(length, 0);
    bytes[12] = 0x08; // EtherType 0x0800
    bytes[14] = 0x45;
    bytes[23] = protocol;
    const std::uint8_t addresses[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(bytes.data() + 26, addresses, sizeof addresses);
    bytes[34] = static_cast<std::uint8_t>(sport >> 8);
    bytes[35] = static_cast<std::uint8_t>(sport);
    bytes[37] = 53;
    return bytes;
}

void run_packet(const Program& program, std::vector<std::uint8_t> bytes) {
    XdpContext ctx{bytes.data(), bytes.data() + bytes.size(), 0, 1};
    auto verdict = program.run(&ctx, sizeof ctx);
    REQUIRE_MESSAGE(verdict.has_value(), (verdict ? "" : verdict.error().message));
    CHECK(*verdict == 1); // XDP_PASS
}

std::uint16_t from_network(std::uint16_t value) { return static_cast<std::uint16_t>(value << 8 | value >> 8); }

bool readable(int fd, int timeout_ms) {
    pollfd descriptor{fd, POLLIN, 0};
    return ::poll(&descriptor, 1, timeout_ms) == 1 && (descriptor.revents & POLLIN) != 0;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_SUITE_BEGIN("api");

TEST_CASE("typed ring buffer: the five-tuple XDP program's records arrive as FiveTuple") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto program = object.program("packet_parse");
    REQUIRE(program.has_value());
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map");
    REQUIRE_MESSAGE(tuples.has_value(), (tuples ? "" : tuples.error().message));
    CHECK(tuples->name() == "xdp_map");
    CHECK(tuples->capacity() == sizeof(FiveTuple) * 1024);

    run_packet(*program, packet(17, 5353));
    run_packet(*program, packet(6, 80));        // TCP: not parsed
    run_packet(*program, packet(17, 1234, 40)); // too short for the UDP header
    run_packet(*program, packet(17, 4444));

    std::vector<FiveTuple> seen;
    ConsumeResult consumed = tuples->consume([&](const FiveTuple& tuple) { seen.push_back(tuple); });
    CHECK(consumed.delivered == 2);
    CHECK(consumed.wrong_size == 0);
    REQUIRE(seen.size() == 2);
    struct Row {
        std::uint16_t src_port;
    };
    const Row rows[] = {{5353}, {4444}};
    for (std::size_t i = 0; i < seen.size(); ++i) {
        CAPTURE(i);
        CHECK(seen[i].proto == 17);
        const auto* src = reinterpret_cast<const std::uint8_t*>(&seen[i].src_address);
        CHECK(src[0] == 10);
        CHECK(src[3] == 1);
        CHECK(from_network(seen[i].src_port) == rows[i].src_port); // network order, as the seed stores it
        CHECK(from_network(seen[i].dst_port) == 53);
    }
    CHECK(tuples->consume([](const FiveTuple&) {}).total() == 0);
}

TEST_CASE("typed ring buffer: records of the wrong size are reported, never cast; over-aligned T is copied out") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map").value();
    // The host producer writes a 4-byte record through a second binding, between two good ones.
    auto words = object.ring_buffer<std::uint32_t>("xdp_map").value();
    REQUIRE(tuples.output(FiveTuple{1, 2, 3, 4, 17}).has_value());
    REQUIRE(words.output(0xdeadbeef).has_value());
    REQUIRE(tuples.output(FiveTuple{5, 6, 7, 8, 6}).has_value());

    std::vector<std::uint32_t> sources;
    std::vector<std::size_t> wrong_sizes;
    std::uint32_t wrong_word = 0;
    ConsumeResult consumed = tuples.consume([&](const FiveTuple& tuple) { sources.push_back(tuple.src_address); },
                                            [&](std::span<const std::uint8_t> record) {
                                                wrong_sizes.push_back(record.size());
                                                std::memcpy(&wrong_word, record.data(), sizeof wrong_word);
                                            });
    CHECK(consumed.delivered == 2);
    CHECK(consumed.wrong_size == 1);
    CHECK(consumed.total() == 3);
    CHECK(sources == std::vector<std::uint32_t>{1, 5});
    CHECK(wrong_sizes == std::vector<std::size_t>{4});
    CHECK(wrong_word == 0xdeadbeef);

    // Without the second callback the wrong record is only counted.
    REQUIRE(words.output(7).has_value());
    consumed = tuples.consume([&](const FiveTuple&) { FAIL("a 4-byte record was cast to FiveTuple"); });
    CHECK(consumed.delivered == 0);
    CHECK(consumed.wrong_size == 1);

    // Records are 8-byte aligned in the ring; a type that needs 16 gets a properly aligned copy.
    auto aligned = object.ring_buffer<AlignedTuple>("xdp_map").value();
    REQUIRE(tuples.output(FiveTuple{9, 10, 11, 12, 17}).has_value());
    bool well_aligned = false;
    std::uint32_t destination = 0;
    consumed = aligned.consume([&](const AlignedTuple& tuple) {
        well_aligned = reinterpret_cast<std::uintptr_t>(&tuple) % alignof(AlignedTuple) == 0;
        destination = tuple.dst_address;
    });
    CHECK(consumed.delivered == 1);
    CHECK(well_aligned);
    CHECK(destination == 10);
}

TEST_CASE("typed ring buffer: a callback returning false stops the batch after its record") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map").value();
    for (std::uint32_t i = 1; i <= 3; ++i) {
        REQUIRE(tuples.output(FiveTuple{i, 0, 0, 0, 17}).has_value());
    }
    std::vector<std::uint32_t> sources;
    auto first = tuples.consume([&](const FiveTuple& tuple) {
        sources.push_back(tuple.src_address);
        return false;
    });
    CHECK(first.delivered == 1);
    auto rest = tuples.consume([&](const FiveTuple& tuple) { sources.push_back(tuple.src_address); });
    CHECK(rest.delivered == 2);
    CHECK(sources == std::vector<std::uint32_t>{1, 2, 3});
}

TEST_CASE("typed ring buffer: binding checks that the map is a ring buffer with room for a record") {
    Object xdp = load(kSeeds + "/myxdp_stage4.o");
    Object bind = load(kSeeds + "/TraceConnections.o");
    struct Huge {
        std::uint8_t bytes[sizeof(FiveTuple) * 1024];
    };
    struct Row {
        const char* what;
        Result<void> bound;
        std::vector<std::string> expected;
    };
    auto binder = [](auto result) -> Result<void> {
        if (!result) {
            return std::move(result).error();
        }
        return {};
    };
    const Row rows[] = {
        {"a hash map", binder(bind.ring_buffer<FiveTuple>("proc_map")), {"map proc_map is a hash map", "not a ring"}},
        {"no such map", binder(xdp.ring_buffer<FiveTuple>("nope")), {"no map named nope"}},
        {"a record larger than the ring",
         binder(xdp.ring_buffer<Huge>("xdp_map")),
         {"map xdp_map", "16392 bytes", "16384"}},
        {"a ring buffer", binder(xdp.ring_buffer<FiveTuple>("xdp_map")), {}},
    };
    for (const Row& row : rows) {
        const std::string what = row.what;
        CAPTURE(what);
        CHECK(row.bound.has_value() == row.expected.empty());
        if (!row.bound) {
            CAPTURE(row.bound.error().message);
            for (const std::string& part : row.expected) {
                CHECK_MESSAGE(contains(row.bound.error().message, part), part);
            }
        }
    }
}

TEST_CASE("typed ring buffer: poll times out when empty and delivers a record produced on another thread") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map").value();

    const auto start = std::chrono::steady_clock::now();
    ConsumeResult nothing = tuples.poll(20ms, [](const FiveTuple&) { FAIL("no record was produced"); });
    CHECK(nothing.total() == 0);
    CHECK(std::chrono::steady_clock::now() - start >= 20ms);

    auto producer_ring = tuples; // a copy shares the ring
    std::thread producer([&producer_ring] {
        std::this_thread::sleep_for(30ms);
        (void)producer_ring.output(FiveTuple{42, 0, 0, 0, 17});
    });
    std::vector<std::uint32_t> sources;
    std::size_t delivered = 0;
    for (int attempt = 0; attempt < 100 && delivered == 0; ++attempt) {
        delivered += tuples.poll(10s, [&](const FiveTuple& tuple) { sources.push_back(tuple.src_address); }).delivered;
    }
    producer.join();
    CHECK(delivered == 1);
    CHECK(sources == std::vector<std::uint32_t>{42});
}

TEST_CASE("typed ring buffer: the wait descriptor becomes readable when a record is committed") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map").value();
    const int fd = tuples.wait_fd();
    REQUIRE(fd >= 0);
    CHECK(tuples.consume([](const FiveTuple&) {}).total() == 0); // arms the wakeup
    CHECK_FALSE(readable(fd, 0));

    // From the XDP program...
    auto program = object.program("packet_parse");
    REQUIRE(program.has_value());
    run_packet(*program, packet(17, 5353));
    CHECK(readable(fd, 1000));
    CHECK(tuples.consume([](const FiveTuple&) {}).delivered == 1);
    CHECK_FALSE(readable(fd, 0));

    // ... and from the host on another thread, while this one waits.
    std::thread producer([copy = tuples]() mutable {
        std::this_thread::sleep_for(20ms);
        (void)copy.output(FiveTuple{1, 2, 3, 4, 17});
    });
    CHECK(readable(fd, 5000));
    producer.join();
    CHECK(tuples.consume([](const FiveTuple&) {}).delivered == 1);

    // A record committed without a wakeup does not signal, but is there for the next consume.
    REQUIRE(tuples.output(FiveTuple{}, RingBufferWakeup::none).has_value());
    CHECK_FALSE(readable(fd, 0));
    CHECK(tuples.consume([](const FiveTuple&) {}).delivered == 1);
}

TEST_CASE("typed ring buffer: reserve, submit and discard; a full ring is an error") {
    Object object = load(kSeeds + "/myxdp_stage4.o");
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map").value();
    std::vector<std::uint32_t> sources;
    auto collect = [&](const FiveTuple& tuple) { sources.push_back(tuple.src_address); };

    auto first = tuples.reserve();
    REQUIRE_MESSAGE(first.has_value(), (first ? "" : first.error().message));
    CHECK(first->pending());
    CHECK(first->value().src_address == 0); // value-initialized
    (*first)->src_address = 1;
    REQUIRE(tuples.output(FiveTuple{2, 0, 0, 0, 17}).has_value());
    CHECK(tuples.consume(collect).total() == 0); // the consumer stops in front of the busy record
    first->submit();
    CHECK_FALSE(first->pending());
    CHECK(tuples.consume(collect).delivered == 2);
    CHECK(sources == std::vector<std::uint32_t>{1, 2});

    {
        auto dropped = tuples.reserve();
        REQUIRE(dropped.has_value());
        (*dropped)->src_address = 3; // destroyed unsubmitted: discarded
    }
    auto discarded = tuples.reserve();
    REQUIRE(discarded.has_value());
    discarded->discard();
    CHECK(tuples.consume(collect).total() == 0);

    // 16-byte records take 24 bytes with their header: 682 fit in 16384 bytes.
    std::size_t written = 0;
    Result<void> output;
    while ((output = tuples.output(FiveTuple{})).has_value()) {
        ++written;
        REQUIRE(written <= 1024);
    }
    CHECK(written == 682);
    CHECK(contains(output.error().message, "map xdp_map: no room"));
    CHECK_FALSE(tuples.reserve().has_value());
    CHECK(tuples.available() == 682 * 24);
    CHECK(tuples.consume([](const FiveTuple&) {}).delivered == 682);
    CHECK(tuples.output(FiveTuple{}).has_value());
}

TEST_CASE("typed ring buffer: handles keep the ring alive after the object is gone") {
    std::optional<RingBuffer<FiveTuple>> tuples;
    std::optional<Program> program;
    {
        Object object = load(kSeeds + "/myxdp_stage4.o");
        tuples = object.ring_buffer<FiveTuple>("xdp_map").value();
        program = object.program("packet_parse").value();
    }
    run_packet(*program, packet(17, 1000));
    REQUIRE(tuples->output(FiveTuple{7, 0, 0, 0, 17}).has_value());
    std::vector<std::uint16_t> ports;
    std::vector<std::uint32_t> sources;
    tuples->consume([&](const FiveTuple& tuple) {
        ports.push_back(from_network(tuple.src_port));
        sources.push_back(tuple.src_address);
    });
    REQUIRE(ports.size() == 2);
    CHECK(ports[0] == 1000);
    CHECK(sources[1] == 7);
}

TEST_SUITE_END();
