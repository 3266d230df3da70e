/* Ethernet, VLAN, IPv4, TCP and UDP headers for the packet programs, read in place as eBPF programs
 * do. The host places the frame 2 bytes into an aligned buffer (NET_IP_ALIGN) so the IPv4 header and
 * everything after it is 4-byte aligned. */
#ifndef EMBPF_BENCH_PACKET_H
#define EMBPF_BENCH_PACKET_H

#include "bench_ctx.h"

#define PKT_ETH_P_IPV4 0x0800
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_8021AD 0x88a8
#define PKT_PROTO_TCP 6
#define PKT_PROTO_UDP 17
#define PKT_MAX_VLAN_TAGS 2

struct pkt_eth {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t proto;
};

struct pkt_vlan {
    uint16_t tci;
    uint16_t proto;
};

struct pkt_ipv4 {
    uint8_t version_ihl;
    uint8_t tos;
    uint16_t total_length;
    uint16_t id;
    uint16_t fragment;
    uint8_t ttl;
    uint8_t protocol;
    uint16_t checksum;
    uint32_t source;
    uint32_t destination;
};

struct pkt_tcp {
    uint16_t source;
    uint16_t destination;
    uint32_t sequence;
    uint32_t acknowledgment;
    uint8_t data_offset;
    uint8_t flags;
    uint16_t window;
    uint16_t checksum;
    uint16_t urgent;
};

struct pkt_udp {
    uint16_t source;
    uint16_t destination;
    uint16_t length;
    uint16_t checksum;
};

EMBPF_BENCH_INLINE uint16_t pkt_ntohs(uint16_t value) { return __builtin_bswap16(value); }
EMBPF_BENCH_INLINE uint32_t pkt_ntohl(uint32_t value) { return __builtin_bswap32(value); }

/* The address of the IPv4 header after Ethernet and up to two VLAN tags, or 0 for anything else. */
EMBPF_BENCH_INLINE uint64_t pkt_find_ipv4(uint64_t data, uint64_t end) {
    if (data + sizeof(struct pkt_eth) > end) {
        return 0;
    }
    const struct pkt_eth* eth = (const struct pkt_eth*)embpf_bench_ptr(data);
    uint16_t proto = eth->proto;
    uint64_t next = data + sizeof(struct pkt_eth);
    for (int i = 0; i < PKT_MAX_VLAN_TAGS; i++) {
        if (proto != pkt_ntohs(PKT_ETH_P_8021Q) && proto != pkt_ntohs(PKT_ETH_P_8021AD)) {
            break;
        }
        if (next + sizeof(struct pkt_vlan) > end) {
            return 0;
        }
        const struct pkt_vlan* vlan = (const struct pkt_vlan*)embpf_bench_ptr(next);
        proto = vlan->proto;
        next += sizeof(struct pkt_vlan);
    }
    return proto == pkt_ntohs(PKT_ETH_P_IPV4) ? next : 0;
}

/* Folds a one's-complement sum of 16-bit words to 16 bits. */
EMBPF_BENCH_INLINE uint32_t pkt_fold(uint64_t sum) {
    sum = (sum & 0xffffffffU) + (sum >> 32);
    sum = (sum & 0xffffffffU) + (sum >> 32);
    sum = (sum & 0xffffU) + (sum >> 16);
    sum = (sum & 0xffffU) + (sum >> 16);
    sum = (sum & 0xffffU) + (sum >> 16);
    return (uint32_t)sum;
}

#endif /* EMBPF_BENCH_PACKET_H */
