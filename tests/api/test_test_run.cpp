// Program::test_run: Linux's BPF_PROG_TEST_RUN for every program type of both platforms, on packets in buffers of
// its own (anywhere in memory).
#include "embpf/api/object.hpp"
#include "embpf/api/ring_buffer.hpp"
#include "embpf/testing/packets.hpp"
#include "seed_types.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace embpf;

namespace {

const std::string kTail = EMBPF_TEST_TAIL_DIR;
const std::string kSeeds = EMBPF_TEST_SEEDS_DIR;

Object load(const std::string& path, const platform::Platform* platform = nullptr, bool verified = true) {
    auto spec = ObjectSpec::open(std::filesystem::path(path), platform);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    auto object = Object::load(*spec, spec->platform(), {.unverified = !verified});
    REQUIRE_MESSAGE(object.has_value(), (object ? "" : object.error().message));
    return std::move(object).value();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::uint64_t first_value(const Object& object, const char* map) {
    const std::uint32_t zero = 0;
    auto value = object.map(map)->lookup({reinterpret_cast<const std::uint8_t*>(&zero), sizeof zero});
    REQUIRE(value.has_value());
    REQUIRE(value->has_value());
    std::uint64_t out = 0;
    std::memcpy(&out, (*value)->data(), sizeof out);
    return out;
}

// Ethernet + IPv4 + UDP (17) or TCP (6), from 10.0.0.1:5353 to 10.0.0.2:53, cut or padded to `length` bytes.
std::vector<std::uint8_t> ipv4_packet(std::uint8_t protocol, std::size_t length) {
    testing::PacketBuilder builder;
    builder.ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 2});
    if (protocol == 17) {
        builder.udp(5353, 53);
    } else {
        builder.tcp(5353, 53);
    }
    std::vector<std::uint8_t> packet = builder.pad_to(length).build();
    packet.resize(length);
    return packet;
}

} // namespace

TEST_CASE("test_run: a Linux XDP program reads and writes its packet; data_out, ctx_out and repeat as Linux's") {
    for (const bool checked : {false, true}) {
        CAPTURE(checked);
        const Object object = load(kTail + "/heap_packet.o", &platform::linux());
        const Program program = object.program("xdp_sum").value();
        std::vector<std::uint8_t> data(16);
        for (std::uint8_t i = 0; i < 16; ++i) {
            data[i] = i;
        }
        // xdp_md: data, data_end, data_meta (test_run's), ingress_ifindex 3, rx_queue_index 1.
        std::vector<std::uint8_t> ctx(24, 0);
        ctx[0] = 0x55; // a packet field: test_run sets it, ctx_out has 0
        ctx[12] = 3;
        ctx[16] = 1;
        auto result = program.test_run({.data_in = data, .ctx_in = ctx, .repeat = 3, .checked = checked});
        REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
        CHECK(result->retval == 2); // XDP_PASS
        // Three runs on one packet: the first sums 0..15, the next two see 0xee in front.
        CHECK(first_value(object, "sums") == 120 + 2 * (0xee + 120));
        std::vector<std::uint8_t> expected = data;
        expected[0] = 0xee;
        CHECK(result->data_out == expected);
        std::vector<std::uint8_t> ctx_expected(24, 0);
        ctx_expected[12] = 3;
        ctx_expected[16] = 1;
        CHECK(result->ctx_out == ctx_expected);
        CHECK((result->instructions > 0) == checked);
        // One byte short: dropped, the packet as it was.
        auto dropped = program.test_run({.data_in = std::span(data).first(15), .checked = checked});
        REQUIRE(dropped.has_value());
        CHECK(dropped->retval == 1);
        CHECK(dropped->data_out == std::vector<std::uint8_t>(data.begin(), data.begin() + 15));
    }
}

TEST_CASE("test_run: a Linux classifier sees its __sk_buff's packet; an unverified one runs checked") {
    for (const bool verified : {true, false}) {
        CAPTURE(verified);
        const Object object = load(kTail + "/heap_packet.o", &platform::linux(), verified);
        const Program program = object.program("skb_length").value();
        std::vector<std::uint8_t> data(60, 0);
        data[59] = 0x7f;
        auto result = program.test_run({.data_in = data, .checked = !verified});
        REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
        CHECK(result->retval == (60 | (0x7f << 16)));
        CHECK(result->ctx_out.size() == 192);
        CHECK(result->data_out == data);
    }
}

TEST_CASE("test_run: the seeds' Windows XDP programs, and the bind hook without a packet") {
    SUBCASE("myxdp_stage4 sends the five-tuple of each UDP packet to its ring buffer") {
        const Object object = load(kSeeds + "/myxdp_stage4.o");
        const Program program = object.program("packet_parse").value();
        auto ring = object.ring_buffer<testing_seeds::FiveTuple>("xdp_map");
        REQUIRE(ring.has_value());
        for (const auto& packet : {ipv4_packet(17, 60), ipv4_packet(6, 60), ipv4_packet(17, 40)}) {
            auto result = program.test_run({.data_in = packet});
            REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
            CHECK(result->retval == 1); // XDP_PASS
            CHECK(result->data_out == packet);
        }
        std::vector<testing_seeds::FiveTuple> tuples;
        ring->consume([&](const testing_seeds::FiveTuple& tuple) { tuples.push_back(tuple); });
        REQUIRE(tuples.size() == 1); // the TCP packet is not UDP, 40 bytes cannot hold the UDP header
        CHECK(tuples[0].proto == 17);
        CHECK(tuples[0].dst_port == 0x3500); // 53 in network order
    }
    SUBCASE("every stage that verifies runs through test_run") {
        struct Stage {
            const char* seed;
            std::uint64_t verdict;
        };
        for (const Stage stage : {Stage{"myxdp_stage3", 2}, Stage{"myxdp_stage4", 1}}) { // XDP_DROP, XDP_PASS
            CAPTURE(stage.seed);
            const Object object = load(kSeeds + "/" + stage.seed + ".o");
            const Program program = object.program(object.program_names().at(0)).value();
            auto result = program.test_run({.data_in = ipv4_packet(17, 64), .repeat = 10});
            REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
            CHECK(result->retval == stage.verdict);
        }
    }
    SUBCASE("TraceConnections counts a bind: the process from ctx_in, the application's name as the data range") {
        const Object object = load(kSeeds + "/TraceConnections.o");
        const Program program = object.program("TraceConnections").value();
        testing_seeds::BindContext bind{};
        bind.process_id = 42;
        const std::string app = "app.exe";
        auto result = program.test_run({.data_in = {reinterpret_cast<const std::uint8_t*>(app.data()), app.size()},
                                        .ctx_in = {reinterpret_cast<const std::uint8_t*>(&bind), sizeof bind}});
        REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
        CHECK(result->retval == 0);
        const std::uint32_t pid = 42;
        auto counted = object.map("proc_map")->lookup({reinterpret_cast<const std::uint8_t*>(&pid), sizeof pid});
        REQUIRE(counted.has_value());
        REQUIRE(counted->has_value());
        testing_seeds::ProcessInfo info{};
        std::memcpy(&info, (*counted)->data(), sizeof info);
        CHECK(info.id == 42);
        CHECK(std::string(info.name) == "app.exe");
    }
}

TEST_CASE("test_run: a type without a data range takes no packet") {
    const Object object = load(std::string(EMBPF_TEST_API_DIR) + "/fentry.o", &platform::linux());
    const Program program = object.program("parent_pid").value();
    REQUIRE(program.type().context.data < 0);
    const std::vector<std::uint8_t> packet(14, 0);
    auto refused = program.test_run({.data_in = packet});
    REQUIRE_FALSE(refused.has_value());
    CHECK(contains(refused.error().message, "has no data range for data_in"));
}

TEST_CASE("test_run: what a type does not take is refused, naming the limit") {
    const Object object = load(kTail + "/heap_packet.o", &platform::linux());
    const Program program = object.program("xdp_sum").value();
    const std::vector<std::uint8_t> long_packet(program.type().max_data_size + 1, 0);
    auto too_long = program.test_run({.data_in = long_packet});
    REQUIRE_FALSE(too_long.has_value());
    CHECK(contains(too_long.error().message, "max_data_size"));
    const std::vector<std::uint8_t> long_ctx(25, 0);
    auto ctx_too_long = program.test_run({.ctx_in = long_ctx});
    REQUIRE_FALSE(ctx_too_long.has_value());
    CHECK(contains(ctx_too_long.error().message, "ctx_in has 25 bytes; a xdp context has 24"));
    // An empty packet is a packet: data == data_end.
    auto empty = program.test_run({});
    REQUIRE(empty.has_value());
    CHECK(empty->retval == 1);
    CHECK(empty->data_out.empty());
    // A checked run's budget stops it, with the error of run_checked.
    const std::vector<std::uint8_t> data(16, 1);
    auto stopped = program.test_run({.data_in = data, .checked = true, .instruction_budget = 5});
    REQUIRE_FALSE(stopped.has_value());
    CHECK(contains(stopped.error().message, "budget"));
}
