// The native-mode example: a host whose plugin was compiled ahead of time into the executable. The seeds' XDP parser
// (examples/seeds/myxdp_stage4.c, which sends the five-tuple of each IPv4 UDP packet to the ring buffer xdp_map) is
// built by embpf_add_plugin(... AOT): clang compiles it for eBPF, `embpf aot` verifies it and writes it out as C, and
// the host's C compiler builds that C into this program (embpf_native_xdp::aot). The host loads the object with
// engine = aot: the loader verifies it again and binds the program to the compiled function, so that no JIT and no
// interpreter runs it. It then runs the program on simulated packets, drains the ring buffer and checks the
// five-tuples; any difference makes it exit with 1.
#include "embpf_native_xdp_aot.h"

#include <embpf/embpf.hpp>
#include <embpf/testing/packets.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

// eBPF for Windows' xdp_md_t, the context of an "xdp" program.
struct XdpContext {
    std::uint8_t* data;
    std::uint8_t* data_end;
    std::uint64_t data_meta;
    std::uint32_t ingress_ifindex;
};

// packets.h's FiveTuple: addresses and ports in network order.
struct FiveTuple {
    std::uint32_t src_address;
    std::uint32_t dst_address;
    std::uint16_t src_port;
    std::uint16_t dst_port;
    std::uint8_t proto;
};

constexpr std::uint64_t kXdpPass = 1; // eBPF for Windows numbers XDP verdicts from 1

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "native-host: %s\n", what.c_str());
    std::exit(1);
}

template <typename T>
T need(embpf::Result<T> result, const char* what) {
    if (!result) {
        fail(std::string(what) + ": " + result.error().message);
    }
    return std::move(result).value();
}

std::uint32_t address(const embpf::testing::Ipv4& bytes) {
    std::uint32_t value = 0;
    std::memcpy(&value, bytes.data(), sizeof value); // network order, as the packet holds it
    return value;
}

std::uint16_t network16(std::uint16_t value) { return static_cast<std::uint16_t>(value << 8 | value >> 8); }

std::string text(const FiveTuple& tuple) {
    const auto byte = [](std::uint32_t value, int index) { return (value >> (8 * index)) & 0xff; };
    std::array<char, 96> line{};
    std::snprintf(line.data(), line.size(), "%u.%u.%u.%u:%u -> %u.%u.%u.%u:%u proto %u", byte(tuple.src_address, 0),
                  byte(tuple.src_address, 1), byte(tuple.src_address, 2), byte(tuple.src_address, 3),
                  network16(tuple.src_port), byte(tuple.dst_address, 0), byte(tuple.dst_address, 1),
                  byte(tuple.dst_address, 2), byte(tuple.dst_address, 3), network16(tuple.dst_port), tuple.proto);
    return line.data();
}

} // namespace

int main() {
    using embpf::testing::PacketBuilder;
    auto spec = need(
        embpf::ObjectSpec::open(std::filesystem::path(EMBPF_NATIVE_HOST_OBJECT), &embpf::platform::windows()), "open");
    embpf::LoadOptions options;
    options.engine = embpf::exec::EngineKind::aot;
    options.aot_module = &embpf_native_xdp_module; // compiled into this executable
    const embpf::Object object = need(embpf::Object::load(spec, options), "load");
    const embpf::Program parse = need(object.program("packet_parse"), "program packet_parse");
    if (parse.engine() != embpf::exec::EngineKind::aot || !parse.engine_fallback().empty()) {
        fail("packet_parse runs in " + std::string(to_string(parse.engine())) + ", not in its compiled code (" +
             parse.engine_fallback() + ")");
    }
    std::printf("packet_parse: engine %s, module %s (platform %s)\n", std::string(to_string(parse.engine())).c_str(),
                embpf_native_xdp_module.object_hash, embpf_native_xdp_module.platform);
    auto tuples = need(object.ring_buffer<FiveTuple>("xdp_map"), "ring buffer xdp_map");

    struct Sent {
        const char* what = "";
        std::vector<std::uint8_t> frame{};
        bool parsed = false; // an IPv4 UDP packet: its five-tuple reaches the ring buffer
        embpf::testing::Ipv4 source{};
        embpf::testing::Ipv4 destination{};
        std::uint16_t source_port = 0;
        std::uint16_t destination_port = 0;
    };
    std::vector<Sent> sent;
    const auto udp = [&](embpf::testing::Ipv4 source, embpf::testing::Ipv4 destination, std::uint16_t source_port,
                         std::uint16_t destination_port) {
        sent.push_back({"IPv4 UDP",
                        PacketBuilder()
                            .ethernet()
                            .ipv4(source, destination)
                            .udp(source_port, destination_port)
                            .payload("query")
                            .build(),
                        true, source, destination, source_port, destination_port});
    };
    udp({192, 168, 1, 20}, {10, 0, 0, 53}, 52952, 53);
    udp({10, 0, 0, 7}, {10, 0, 0, 8}, 443, 52952);
    // Packets the parser passes over: no five-tuple.
    const auto other = [&](const char* what, std::vector<std::uint8_t> frame) {
        Sent packet;
        packet.what = what;
        packet.frame = std::move(frame);
        sent.push_back(std::move(packet));
    };
    other("IPv4 TCP", PacketBuilder().ethernet().ipv4({10, 0, 0, 1}, {10, 0, 0, 2}).tcp(1234, 80).build());
    other("IPv6 UDP", PacketBuilder().ethernet().ipv6({0xfd}, {0xfd, 1}).udp(5353, 5353).build());
    other("VLAN IPv4 UDP", PacketBuilder().ethernet().vlan(100).ipv4({10, 0, 0, 3}, {10, 0, 0, 4}).udp(1, 2).build());
    auto truncated = PacketBuilder().ethernet().ipv4({10, 0, 0, 5}, {10, 0, 0, 6}).udp(7, 8).build();
    truncated.resize(14 + 20 + 4); // the UDP header cut short
    other("truncated IPv4 UDP", std::move(truncated));
    other("runt", std::vector<std::uint8_t>(10, 0));
    udp({172, 16, 0, 1}, {172, 16, 0, 2}, 40000, 8080);

    std::vector<FiveTuple> expected;
    for (Sent& packet : sent) {
        XdpContext ctx{packet.frame.data(), packet.frame.data() + packet.frame.size(), 0, 1};
        const std::uint64_t verdict = need(parse.run(&ctx, sizeof ctx), "run");
        if (verdict != kXdpPass) {
            fail(std::string(packet.what) + ": verdict " + std::to_string(verdict) + ", not XDP_PASS");
        }
        if (packet.parsed) {
            expected.push_back({address(packet.source), address(packet.destination), network16(packet.source_port),
                                network16(packet.destination_port), 17});
        }
    }

    std::vector<FiveTuple> received;
    tuples.consume([&](const FiveTuple& tuple) { received.push_back(tuple); },
                   [](std::span<const std::uint8_t> record) {
                       fail("a record of " + std::to_string(record.size()) + " bytes, not a five-tuple");
                   });
    std::printf("%zu packets, %zu five-tuples from the ring buffer:\n", sent.size(), received.size());
    for (const FiveTuple& tuple : received) {
        std::printf("  %s\n", text(tuple).c_str());
    }
    if (received.size() != expected.size()) {
        fail(std::to_string(received.size()) + " five-tuples, expected " + std::to_string(expected.size()));
    }
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const FiveTuple& got = received[i];
        const FiveTuple& want = expected[i];
        if (got.src_address != want.src_address || got.dst_address != want.dst_address ||
            got.src_port != want.src_port || got.dst_port != want.dst_port || got.proto != want.proto) {
            fail("five-tuple " + std::to_string(i) + " is " + text(got) + ", expected " + text(want));
        }
    }
    if (parse.engine() != embpf::exec::EngineKind::aot) {
        fail("packet_parse left its compiled code while running");
    }
    std::printf("native-host: all five-tuples as expected, every run in compiled code\n");
    return 0;
}
