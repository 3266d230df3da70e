// embpf::testing::PacketBuilder: headers where a parser expects them, lengths and checksums as a kernel checks them.
#include "embpf/testing/packets.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using embpf::testing::PacketBuilder;

namespace {

std::uint16_t be16(const std::vector<std::uint8_t>& frame, std::size_t at) {
    return static_cast<std::uint16_t>(frame[at] << 8 | frame[at + 1]);
}

// The one's-complement sum of 16-bit words, folded: 0xFFFF over a header or segment whose checksum is right.
std::uint32_t folded_sum(const std::vector<std::uint8_t>& bytes, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        sum += static_cast<std::uint32_t>(bytes[i] << 8) + (i + 1 < bytes.size() ? bytes[i + 1] : 0U);
    }
    while (sum > 0xFFFF) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return sum;
}

std::vector<std::uint8_t> slice(const std::vector<std::uint8_t>& frame, std::size_t from, std::size_t to) {
    return {frame.begin() + static_cast<std::ptrdiff_t>(from), frame.begin() + static_cast<std::ptrdiff_t>(to)};
}

} // namespace

TEST_CASE("packets: RFC 1071's example and a well-known IPv4 header checksum") {
    const std::vector<std::uint8_t> words = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(embpf::testing::internet_checksum(words) == 0x220d);
    // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: a 115-byte UDP datagram from 192.168.0.1 to .199.
    const std::vector<std::uint8_t> frame = PacketBuilder()
                                                .ethernet()
                                                .ipv4({192, 168, 0, 1}, {192, 168, 0, 199})
                                                .udp(1000, 2000)
                                                .payload(std::vector<std::uint8_t>(115 - 28, 0))
                                                .build();
    const std::vector<std::uint8_t> expected = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                                0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(slice(frame, 14, 34) == expected);
    CHECK(be16(frame, 12) == 0x0800);
}

TEST_CASE("packets: Ethernet, VLAN, IPv4 and UDP: types, lengths, checksums") {
    const std::vector<std::uint8_t> frame = PacketBuilder()
                                                .ethernet({0x02, 0, 0, 0, 0, 0xaa}, {0x02, 0, 0, 0, 0, 0xbb})
                                                .vlan(100, 3)
                                                .ipv4({10, 0, 0, 1}, {10, 0, 0, 2}, 17)
                                                .udp(5353, 53)
                                                .payload("hello")
                                                .build();
    REQUIRE(frame.size() == 14 + 4 + 20 + 8 + 5);
    CHECK(frame[5] == 0xbb); // destination first
    CHECK(frame[11] == 0xaa);
    CHECK(be16(frame, 12) == 0x8100);
    CHECK(be16(frame, 14) == (3 << 13 | 100));
    CHECK(be16(frame, 16) == 0x0800);
    const std::size_t ip = 18;
    CHECK(frame[ip + 8] == 17); // TTL
    CHECK(frame[ip + 9] == 17); // UDP
    CHECK(be16(frame, ip + 2) == 20 + 8 + 5);
    CHECK(folded_sum(slice(frame, ip, ip + 20)) == 0xFFFF);
    const std::size_t udp = ip + 20;
    CHECK(be16(frame, udp) == 5353);
    CHECK(be16(frame, udp + 2) == 53);
    CHECK(be16(frame, udp + 4) == 13);
    // The pseudo-header (addresses, protocol, UDP length) and the datagram sum to 0xFFFF.
    std::vector<std::uint8_t> pseudo = slice(frame, ip + 12, ip + 20);
    pseudo.insert(pseudo.end(), {0, 17, 0, 13});
    CHECK(folded_sum(slice(frame, udp, frame.size()), folded_sum(pseudo)) == 0xFFFF);
}

TEST_CASE("packets: TCP over IPv6 and ICMP over both") {
    const embpf::testing::Ipv6 a = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const embpf::testing::Ipv6 b = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    const std::vector<std::uint8_t> tcp6 =
        PacketBuilder().ethernet().ipv6(a, b).tcp(40000, 443, 0x12, 100, 200).payload("x").build();
    REQUIRE(tcp6.size() == 14 + 40 + 20 + 1);
    CHECK(be16(tcp6, 12) == 0x86DD);
    CHECK((tcp6[14] >> 4) == 6);
    CHECK(be16(tcp6, 14 + 4) == 21); // payload length
    CHECK(tcp6[14 + 6] == 6);        // next header: TCP
    const std::size_t tcp = 14 + 40;
    CHECK(be16(tcp6, tcp + 2) == 443);
    CHECK(tcp6[tcp + 12] == 0x50);
    CHECK(tcp6[tcp + 13] == 0x12);
    std::vector<std::uint8_t> pseudo = slice(tcp6, 14 + 8, 14 + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 21, 0, 0, 0, 6});
    CHECK(folded_sum(slice(tcp6, tcp, tcp6.size()), folded_sum(pseudo)) == 0xFFFF);

    const std::vector<std::uint8_t> ping = PacketBuilder().ethernet().ipv4({1, 1, 1, 1}, {2, 2, 2, 2}).icmp().build();
    CHECK(ping[14 + 9] == 1);
    CHECK(ping[34] == 8); // echo request
    CHECK(folded_sum(slice(ping, 34, ping.size())) == 0xFFFF);
    const std::vector<std::uint8_t> ping6 = PacketBuilder().ethernet().ipv6(a, b).icmp().build();
    CHECK(ping6[14 + 6] == 58);
    CHECK(ping6[54] == 128);
    std::vector<std::uint8_t> pseudo6 = slice(ping6, 14 + 8, 14 + 40);
    pseudo6.insert(pseudo6.end(), {0, 0, 0, 8, 0, 0, 0, 58});
    CHECK(folded_sum(slice(ping6, 54, ping6.size()), folded_sum(pseudo6)) == 0xFFFF);
    // Padding to Ethernet's minimum leaves the IP length as it was.
    const std::vector<std::uint8_t> padded =
        PacketBuilder().ethernet().ipv4({1, 1, 1, 1}, {2, 2, 2, 2}).udp(1, 2).pad_to(60).build();
    CHECK(padded.size() == 60);
    CHECK(be16(padded, 16) == 28);
    CHECK(be16(padded, 38) == 8); // the UDP length
    std::vector<std::uint8_t> udp_pseudo = slice(padded, 26, 34);
    udp_pseudo.insert(udp_pseudo.end(), {0, 17, 0, 8});
    CHECK(folded_sum(slice(padded, 34, 42), folded_sum(udp_pseudo)) == 0xFFFF);
}
