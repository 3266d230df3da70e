// The seed programs (examples/seeds) tested as an eBPF developer tests a program written for the kernel: build a
// packet or a context, run the program on it, and check its verdict, its maps, its ring buffer and what it printed.
// Written once for both frameworks, which share TEST_CASE, CHECK, REQUIRE and REQUIRE_FALSE: the file that includes
// it (seeds_doctest.cpp, seeds_catch2.cpp) defines SECTION (doctest's SUBCASE) and REQUIRE_OK (a Result holds a value,
// or the test stops with its error).
#pragma once

#include "embpf/embpf.hpp"
#include "embpf/testing/testing.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace et = embpf::testing;

namespace {

// The FiveTuple of examples/seeds/packets.h, as the user-mode side declares it.
struct FiveTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};
static_assert(sizeof(FiveTuple) == 16);

constexpr std::uint32_t kXdpDrop = 2; // eBPF for Windows' XDP_DROP
constexpr std::uint32_t kXdpPass = 1;

embpf::Result<embpf::Object> load(const std::string& seed, const embpf::platform::Platform& platform) {
    auto spec = embpf::ObjectSpec::open(std::filesystem::path(EMBPF_SEEDS_DIR) / (seed + ".o"), &platform);
    if (!spec) {
        return std::move(spec).error();
    }
    return embpf::Object::load(*spec);
}

embpf::Object require_load(const std::string& seed,
                           const embpf::platform::Platform& platform = embpf::platform::windows()) {
    auto object = load(seed, platform);
    REQUIRE_OK(object);
    return std::move(*object);
}

std::vector<std::uint8_t> udp_packet() {
    return et::PacketBuilder()
        .ethernet()
        .ipv4({192, 168, 1, 10}, {192, 168, 1, 20})
        .udp(5353, 53)
        .payload("query")
        .build();
}

} // namespace

TEST_CASE("stage 1 drops every packet") {
    const embpf::Object object = require_load("myxdp_stage1");
    const embpf::Program program = object.program("our_program").value();
    auto result = program.test_run({.data_in = udp_packet()});
    REQUIRE(result.has_value());
    CHECK(result->retval == kXdpDrop);
}

TEST_CASE("stage 2 reads the EtherType without a bounds check: the verifier refuses it") {
    auto object = load("myxdp_stage2", embpf::platform::windows());
    REQUIRE_FALSE(object.has_value());
    CHECK(object.error().message.find("packet_size") != std::string::npos);
    REQUIRE(object.error().pc.has_value()); // the instruction of the read
}

TEST_CASE("stage 3 checks the bound, prints the EtherType and drops") {
    const embpf::Object object = require_load("myxdp_stage3");
    const embpf::Program program = object.program("packet_parse").value();
    et::PrintkCapture printk;

    et::Context frame = et::xdp(program, udp_packet());
    CHECK(frame.run(program).value() == kXdpDrop);
    REQUIRE(printk.size() == 1);
    CHECK(printk.lines()[0] == "800"); // IPv4

    // A packet shorter than an Ethernet header is not read: nothing printed.
    printk.clear();
    const std::vector<std::uint8_t> runt(10, 0xff);
    et::Context short_frame = et::xdp(program, runt);
    CHECK(short_frame.run(program).value() == kXdpDrop);
    CHECK(printk.size() == 0);
}

TEST_CASE("stage 4 sends the five-tuple of each UDP packet to its ring buffer") {
    const embpf::Object object = require_load("myxdp_stage4");
    const embpf::Program program = object.program("packet_parse").value();
    auto tuples = object.ring_buffer<FiveTuple>("xdp_map");
    REQUIRE(tuples.has_value());

    SECTION("a UDP packet: one tuple, in network order as on the wire") {
        auto result = program.test_run({.data_in = udp_packet()});
        REQUIRE(result.has_value());
        CHECK(result->retval == kXdpPass);
        std::vector<FiveTuple> seen;
        tuples->consume([&](const FiveTuple& tuple) { seen.push_back(tuple); });
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].proto == 17);
        CHECK(seen[0].src_port == 0xe914); // htons(5353)
        CHECK(seen[0].dst_port == 0x3500); // htons(53)
        CHECK(seen[0].src_address == 0x0a01a8c0);
        CHECK(seen[0].dst_address == 0x1401a8c0);
    }
    SECTION("TCP, IPv6 and truncated packets pass without a tuple") {
        const std::vector<std::uint8_t> udp = udp_packet();
        const std::vector<std::vector<std::uint8_t>> others = {
            et::PacketBuilder().ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 2}).tcp(1234, 80).build(),
            et::PacketBuilder().ethernet().ipv6({}, {}).udp(1, 2).build(),
            std::vector<std::uint8_t>(udp.begin(), udp.begin() + 20), // cut inside the IPv4 header
        };
        for (const auto& packet : others) {
            auto result = program.test_run({.data_in = packet});
            REQUIRE(result.has_value());
            CHECK(result->retval == kXdpPass);
        }
        std::size_t records = 0;
        tuples->consume([&](const FiveTuple&) { ++records; });
        CHECK(records == 0);
    }
}

TEST_CASE("the bind hook counts binds per process and permits them") {
    et::TestPlatform test(embpf::platform::windows());
    const embpf::Object object = require_load("TraceConnections", test.platform());
    const embpf::Program program = object.program("TraceConnections").value();
    struct ProcessInfo {
        std::uint32_t id;
        char name[32];
        std::uint32_t count;
    };
    auto processes = object.map<std::uint32_t, ProcessInfo>("proc_map");
    REQUIRE(processes.has_value());

    // A fixture: process 7 was seen twice before.
    ProcessInfo known{7, "svchost.exe", 2};
    REQUIRE(et::fill(*processes, {{7u, known}}).has_value());

    for (std::uint64_t pid : {7u, 9u, 9u}) {
        et::Context bind = et::bind(program, pid, pid == 7 ? "svchost.exe" : "a-much-longer-application-name.exe");
        CHECK(bind.run(program).value() == 0); // BIND_PERMIT
    }
    et::Context unbind = et::bind(program, 9, "x", 2);
    CHECK(unbind.run(program).value() == 0); // not counted

    const auto entries = et::contents(*processes);
    CHECK(entries.size() == 2);
    CHECK(processes->lookup(7)->count == 3);
    const ProcessInfo nine = processes->lookup(9).value();
    CHECK(nine.count == 2);
    CHECK(std::string(nine.name, sizeof nine.name) == std::string("a-much-longer-application-name.e", 32));
}
