// The skeleton example: a host that loads examples/skeleton/port_filter.c through the C++ header embpf_add_plugin
// generated for it (port_filter.skel.hpp: SKELETON in examples/CMakeLists.txt). It sets the port to block before the
// load, runs packets through the filter, then reads the per-port counts, the drop count and the drop events through
// the header's typed members, and checks them.
//
//     embpf_skeleton_host [port to block]
#include "port_filter.skel.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "skeleton-host: %s\n", what.c_str());
    std::exit(1);
}

template <typename T>
T need(embpf::Result<T> result, const char* what) {
    if (!result) {
        fail(std::string(what) + ": " + result.error().message);
    }
    return std::move(result).value();
}

// An Ethernet frame holding an IPv4 packet from 10.0.0.<host> with a UDP datagram (protocol 17) or a TCP segment
// (protocol 6) to `port`, `payload` bytes after the headers.
std::vector<std::uint8_t> packet(std::uint8_t host, std::uint8_t protocol, std::uint16_t port, std::size_t payload) {
    std::vector<std::uint8_t> bytes(14 + 20 + 8 + payload);
    bytes[12] = 0x08; // EtherType IPv4
    bytes[14] = 0x45; // version 4, 20-byte header
    bytes[23] = protocol;
    const std::array<std::uint8_t, 4> source{10, 0, 0, host};
    std::copy(source.begin(), source.end(), bytes.begin() + 26);
    bytes[36] = static_cast<std::uint8_t>(port >> 8); // destination port, network order
    bytes[37] = static_cast<std::uint8_t>(port);
    return bytes;
}

} // namespace

int main(int argc, char** argv) {
    const auto blocked = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 53);

    // Open: the object is embedded in the header. The globals' initial values are plain structs until the load.
    auto spec = need(port_filter::Spec::open(), "open"); // on embpf::platform::linux(), PLATFORM linux
    spec.rodata.blocked_port = blocked;
    port_filter::Object filter = need(spec.load(), "load"); // verifies the program with the port as a constant

    struct Sent {
        std::uint8_t host;
        std::uint8_t protocol;
        std::uint16_t port;
        std::size_t payload;
    };
    const std::array<Sent, 5> sent{
        {{1, 17, 53, 30}, {2, 17, 443, 100}, {2, 17, 443, 200}, {3, 17, 53, 10}, {4, 6, 80, 0}}};
    std::map<std::uint16_t, std::uint64_t> expected; // UDP packets per port
    std::uint64_t expected_drops = 0;
    for (const Sent& s : sent) {
        const std::vector<std::uint8_t> frame = packet(s.host, s.protocol, s.port, s.payload);
        const auto run = need(filter.programs.filter.test_run({.data_in = frame}), "run");
        const bool udp = s.protocol == 17;
        std::printf("skeleton-host: %s to port %u from 10.0.0.%u: %s\n", udp ? "UDP" : "TCP", s.port, s.host,
                    run.retval == 1 ? "dropped" : "passed");
        expected[s.port] += udp ? 1 : 0;
        expected_drops += udp && s.port == blocked ? 1 : 0;
    }

    // The maps and globals, typed: embpf::Map<std::uint16_t, port_stats>, GlobalData<Bss>,
    // RingBuffer<drop_event>.
    bool right = true;
    for (const auto& [port, stats] : filter.maps.ports) {
        std::printf("  port %u: %llu packets, %llu bytes\n", port, static_cast<unsigned long long>(stats.packets),
                    static_cast<unsigned long long>(stats.bytes));
        right = right && stats.packets == expected[port];
    }
    const port_filter::Bss globals = filter.bss.read();
    std::printf("  dropped: %llu\n", static_cast<unsigned long long>(globals.dropped));
    std::uint64_t events = 0;
    filter.maps.drops.consume([&](const port_filter::drop_event& drop) {
        const auto* address = reinterpret_cast<const std::uint8_t*>(&drop.saddr);
        std::printf("  drop event: %u.%u.%u.%u to port %u, %u bytes\n", address[0], address[1], address[2], address[3],
                    drop.port, drop.length);
        right = right && drop.port == blocked;
        ++events;
    });
    right = right && globals.dropped == expected_drops && events == expected_drops &&
            filter.maps.ports.size() == 2; // the TCP segment is not counted
    if (!right) {
        fail("the plugin's maps and globals do not match what was sent");
    }
    std::printf("skeleton-host: every count matches what was sent\n");
    return 0;
}
