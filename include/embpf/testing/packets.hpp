// embpf::testing::PacketBuilder: frames for tests of packet programs (Ethernet, VLAN, IPv4, IPv6, UDP, TCP, ICMP), with
// the lengths and checksums a kernel would see filled in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace embpf::testing {

using Mac = std::array<std::uint8_t, 6>;
using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

/// The Internet checksum (RFC 1071) of `bytes`, starting from the partial sum `sum`: the one's complement of the
/// one's-complement sum of the 16-bit big-endian words, an odd last byte padded with 0.
[[nodiscard]] inline std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
        sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
    }
    if (bytes.size() % 2 != 0) {
        sum += static_cast<std::uint32_t>(bytes.back() << 8);
    }
    while (sum >> 16 != 0) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum);
}

/// Builds one frame, outermost header first:
///
///     auto frame = PacketBuilder().ethernet().vlan(100).ipv4({10, 0, 0, 1}, {10, 0, 0, 2}).udp(5353, 53)
///                      .payload("hello").build();
///
/// build() fills in what depends on what follows: EtherTypes, IP total and payload lengths, the IPv4 header checksum,
/// UDP lengths, and the UDP, TCP and ICMP(v6) checksums over their pseudo-headers. Multi-byte fields are in network
/// order.
class PacketBuilder {
  public:
    PacketBuilder& ethernet(Mac source = {0x02, 0, 0, 0, 0, 1}, Mac destination = {0x02, 0, 0, 0, 0, 2}) {
        m_layers.push_back({Layer::ethernet, m_bytes.size()});
        append(destination);
        append(source);
        put16(0); // EtherType: the next layer's
        return *this;
    }
    /// An 802.1Q tag (TPID 0x8100) with this VLAN id and priority.
    PacketBuilder& vlan(std::uint16_t id, std::uint8_t priority = 0) {
        set_ethertype(0x8100);
        m_layers.push_back({Layer::vlan, m_bytes.size()});
        put16(static_cast<std::uint16_t>((priority & 7) << 13 | (id & 0x0FFF)));
        put16(0); // the inner EtherType
        return *this;
    }
    PacketBuilder& ipv4(Ipv4 source, Ipv4 destination, std::uint8_t ttl = 64, std::uint16_t id = 0) {
        set_ethertype(0x0800);
        m_layers.push_back({Layer::ipv4, m_bytes.size()});
        append(std::array<std::uint8_t, 8>{0x45, 0, 0, 0, static_cast<std::uint8_t>(id >> 8),
                                           static_cast<std::uint8_t>(id), 0x40, 0}); // DF, no fragment
        append(std::array<std::uint8_t, 4>{ttl, 0, 0, 0});                           // protocol, checksum: build()
        append(source);
        append(destination);
        return *this;
    }
    PacketBuilder& ipv6(Ipv6 source, Ipv6 destination, std::uint8_t hop_limit = 64) {
        set_ethertype(0x86DD);
        m_layers.push_back({Layer::ipv6, m_bytes.size()});
        append(std::array<std::uint8_t, 8>{0x60, 0, 0, 0, 0, 0, 0, hop_limit}); // length, next header: build()
        append(source);
        append(destination);
        return *this;
    }
    PacketBuilder& udp(std::uint16_t source_port, std::uint16_t destination_port) {
        set_protocol(17);
        m_layers.push_back({Layer::udp, m_bytes.size()});
        put16(source_port);
        put16(destination_port);
        put16(0); // length and checksum: build()
        put16(0);
        return *this;
    }
    /// A TCP header of 20 bytes: `flags` as in the header (0x02 SYN, 0x10 ACK, 0x12 SYN+ACK, ...).
    PacketBuilder& tcp(std::uint16_t source_port, std::uint16_t destination_port, std::uint8_t flags = 0x02,
                       std::uint32_t sequence = 1, std::uint32_t acknowledgement = 0, std::uint16_t window = 65535) {
        set_protocol(6);
        m_layers.push_back({Layer::tcp, m_bytes.size()});
        put16(source_port);
        put16(destination_port);
        put32(sequence);
        put32(acknowledgement);
        append(std::array<std::uint8_t, 2>{0x50, flags}); // data offset 5 words
        put16(window);
        put16(0); // checksum: build()
        put16(0); // urgent pointer
        return *this;
    }
    /// ICMP over IPv4 or ICMPv6 over IPv6: an echo request (type 8, or 128 over IPv6) unless told otherwise.
    PacketBuilder& icmp(std::optional<std::uint8_t> type = std::nullopt, std::uint8_t code = 0,
                        std::uint16_t identifier = 1, std::uint16_t sequence = 1) {
        const bool v6 = last_ip() == Layer::ipv6;
        set_protocol(v6 ? 58 : 1);
        m_layers.push_back({Layer::icmp, m_bytes.size()});
        append(std::array<std::uint8_t, 4>{type.value_or(v6 ? 128 : 8), code, 0, 0});
        put16(identifier);
        put16(sequence);
        return *this;
    }
    PacketBuilder& payload(std::span<const std::uint8_t> bytes) {
        m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
        return *this;
    }
    PacketBuilder& payload(std::string_view text) {
        m_bytes.insert(m_bytes.end(), text.begin(), text.end());
        return *this;
    }
    /// Pads the frame with zeros to at least `size` bytes (Ethernet's 60-byte minimum, or a size a test needs): a
    /// trailer after the packet, which no IP or UDP length counts. The last call of a frame.
    PacketBuilder& pad_to(std::size_t size) {
        if (m_bytes.size() < size) {
            m_content_end = m_bytes.size();
            m_bytes.resize(size, 0);
        }
        return *this;
    }

    /// The frame, lengths and checksums filled in.
    [[nodiscard]] std::vector<std::uint8_t> build() const {
        std::vector<std::uint8_t> frame = m_bytes;
        // Innermost first: an IP header's length covers what follows it, and transport checksums need it.
        for (std::size_t i = m_layers.size(); i-- > 0;) {
            const LayerAt& layer = m_layers[i];
            const std::size_t end = m_content_end.value_or(frame.size());
            const std::size_t at = layer.offset;
            switch (layer.kind) {
            case Layer::ipv4: {
                write16(frame, at + 2, static_cast<std::uint16_t>(end - at));
                write16(frame, at + 10, 0);
                write16(frame, at + 10, internet_checksum({frame.data() + at, 20}));
                break;
            }
            case Layer::ipv6: write16(frame, at + 4, static_cast<std::uint16_t>(end - at - 40)); break;
            case Layer::udp:
                write16(frame, at + 4, static_cast<std::uint16_t>(end - at));
                write16(frame, at + 6, transport_checksum(frame, i, 17));
                if (frame[at + 6] == 0 && frame[at + 7] == 0) {
                    write16(frame, at + 6, 0xFFFF); // 0 means "no checksum" in UDP
                }
                break;
            case Layer::tcp: write16(frame, at + 16, transport_checksum(frame, i, 6)); break;
            case Layer::icmp:
                write16(frame, at + 2, 0);
                if (ip_before(i) && ip_before(i)->kind == Layer::ipv6) {
                    write16(frame, at + 2, transport_checksum(frame, i, 58));
                } else {
                    write16(frame, at + 2, internet_checksum({frame.data() + at, end - at}));
                }
                break;
            case Layer::ethernet:
            case Layer::vlan: break;
            }
        }
        return frame;
    }

  private:
    enum class Layer : std::uint8_t { ethernet, vlan, ipv4, ipv6, udp, tcp, icmp };
    struct LayerAt {
        Layer kind;
        std::size_t offset;
    };

    template <std::size_t N>
    void append(const std::array<std::uint8_t, N>& bytes) {
        m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
    }
    void put16(std::uint16_t value) {
        m_bytes.push_back(static_cast<std::uint8_t>(value >> 8));
        m_bytes.push_back(static_cast<std::uint8_t>(value));
    }
    void put32(std::uint32_t value) {
        put16(static_cast<std::uint16_t>(value >> 16));
        put16(static_cast<std::uint16_t>(value));
    }
    static void write16(std::vector<std::uint8_t>& frame, std::size_t at, std::uint16_t value) {
        frame[at] = static_cast<std::uint8_t>(value >> 8);
        frame[at + 1] = static_cast<std::uint8_t>(value);
    }
    // The EtherType field of the last link-layer header (Ethernet, or a VLAN tag's inner type).
    void set_ethertype(std::uint16_t type) {
        for (std::size_t i = m_layers.size(); i-- > 0;) {
            if (m_layers[i].kind == Layer::ethernet) {
                write16(m_bytes, m_layers[i].offset + 12, type);
                return;
            }
            if (m_layers[i].kind == Layer::vlan) {
                write16(m_bytes, m_layers[i].offset + 2, type);
                return;
            }
        }
    }
    void set_protocol(std::uint8_t protocol) {
        if (m_layers.empty()) {
            return;
        }
        const LayerAt& ip = m_layers.back();
        if (ip.kind == Layer::ipv4) {
            m_bytes[ip.offset + 9] = protocol;
        } else if (ip.kind == Layer::ipv6) {
            m_bytes[ip.offset + 6] = protocol;
        }
    }
    [[nodiscard]] Layer last_ip() const {
        for (std::size_t i = m_layers.size(); i-- > 0;) {
            if (m_layers[i].kind == Layer::ipv4 || m_layers[i].kind == Layer::ipv6) {
                return m_layers[i].kind;
            }
        }
        return Layer::ethernet;
    }
    [[nodiscard]] const LayerAt* ip_before(std::size_t layer) const {
        for (std::size_t i = layer; i-- > 0;) {
            if (m_layers[i].kind == Layer::ipv4 || m_layers[i].kind == Layer::ipv6) {
                return &m_layers[i];
            }
        }
        return nullptr;
    }
    // The checksum of the transport header at layer `index` and what follows, over the IP pseudo-header.
    [[nodiscard]] std::uint16_t transport_checksum(std::vector<std::uint8_t>& frame, std::size_t index,
                                                   std::uint8_t protocol) const {
        const std::size_t at = m_layers[index].offset;
        const std::size_t length = m_content_end.value_or(frame.size()) - at;
        const std::size_t checksum_at = at + (protocol == 17 ? 6 : protocol == 6 ? 16 : 2);
        write16(frame, checksum_at, 0);
        std::uint32_t sum = 0;
        const auto add = [&](std::size_t from, std::size_t count) {
            for (std::size_t i = 0; i < count; i += 2) {
                sum += static_cast<std::uint32_t>(frame[from + i] << 8 | frame[from + i + 1]);
            }
        };
        if (const LayerAt* ip = ip_before(index); ip != nullptr && ip->kind == Layer::ipv4) {
            add(ip->offset + 12, 8); // source and destination
            sum += protocol;
            sum += static_cast<std::uint32_t>(length);
        } else if (ip != nullptr) {
            add(ip->offset + 8, 32);
            sum += static_cast<std::uint32_t>(length >> 16) + static_cast<std::uint32_t>(length & 0xFFFF);
            sum += protocol;
        }
        return internet_checksum({frame.data() + at, length}, sum);
    }

    std::vector<std::uint8_t> m_bytes;
    std::vector<LayerAt> m_layers;
    std::optional<std::size_t> m_content_end; ///< where pad_to's trailer starts
};

} // namespace embpf::testing
