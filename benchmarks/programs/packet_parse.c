/* A packet classifier: Ethernet (up to two VLAN tags), IPv4 with its header checksum verified, then
 * TCP with its options (MSS, window scale, timestamps) or UDP, every read bounds-checked against
 * data_end. Returns a hash of the flow and what was found, with a verdict in the low 4 bits. */
#include "packet.h"

enum {
    VERDICT_TCP = 1,
    VERDICT_UDP = 2,
    VERDICT_OTHER_IPV4 = 3,
    VERDICT_FRAGMENT = 4,
    VERDICT_NOT_IPV4 = 8,
    VERDICT_TRUNCATED = 9,
    VERDICT_MALFORMED = 10,
    VERDICT_BAD_CHECKSUM = 11,
};

#define TCP_OPTION_EOL 0
#define TCP_OPTION_NOP 1
#define TCP_OPTION_MSS 2
#define TCP_OPTION_WSCALE 3
#define TCP_OPTION_TIMESTAMP 8
#define TCP_MAX_OPTION_BYTES 40
#define IPV4_MAX_HEADER_WORDS 30

EMBPF_BENCH_INLINE uint64_t mix64(uint64_t value) {
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    value *= 0xc4ceb9fe1a85ec53ULL;
    value ^= value >> 33;
    return value;
}

EMBPF_BENCH_INLINE uint64_t verdict(uint64_t hash, uint64_t code) { return (hash & ~(uint64_t)15) | code; }

EMBPF_BENCH_INLINE uint32_t load_be16(uint64_t address) {
    const uint8_t* bytes = (const uint8_t*)embpf_bench_ptr(address);
    return ((uint32_t)bytes[0] << 8) | bytes[1];
}

EMBPF_BENCH_INLINE uint32_t load_be32(uint64_t address) { return (load_be16(address) << 16) | load_be16(address + 2); }

EMBPF_BENCH_PROGRAM(packet_parse) {
    const uint64_t end = ctx->data_end;
    const uint64_t ip_address = pkt_find_ipv4(ctx->data, end);
    if (ip_address == 0) {
        return VERDICT_NOT_IPV4;
    }
    if (ip_address + sizeof(struct pkt_ipv4) > end) {
        return VERDICT_TRUNCATED;
    }
    const struct pkt_ipv4* ip = (const struct pkt_ipv4*)embpf_bench_ptr(ip_address);
    const uint64_t header_length = (uint64_t)(ip->version_ihl & 15) * 4;
    if ((ip->version_ihl >> 4) != 4 || header_length < sizeof(struct pkt_ipv4)) {
        return VERDICT_MALFORMED;
    }
    const uint64_t total_length = pkt_ntohs(ip->total_length);
    if (ip_address + header_length > end || ip_address + total_length > end) {
        return VERDICT_TRUNCATED;
    }
    if (total_length < header_length) {
        return VERDICT_MALFORMED;
    }

    uint64_t sum = 0;
    for (uint64_t i = 0; i < IPV4_MAX_HEADER_WORDS; i++) {
        if (i * 2 >= header_length) {
            break;
        }
        sum += *(const uint16_t*)embpf_bench_ptr(ip_address + i * 2);
    }
    if (pkt_fold(sum) != 0xffff) {
        return VERDICT_BAD_CHECKSUM;
    }

    uint64_t hash = mix64(((uint64_t)pkt_ntohl(ip->source) << 32) | pkt_ntohl(ip->destination));
    hash = mix64(hash ^ ((uint64_t)ip->protocol << 8) ^ ip->ttl);
    if ((pkt_ntohs(ip->fragment) & 0x3fff) != 0) {
        return verdict(hash, VERDICT_FRAGMENT);
    }

    const uint64_t l4_address = ip_address + header_length;
    if (ip->protocol == PKT_PROTO_UDP) {
        if (l4_address + sizeof(struct pkt_udp) > end) {
            return VERDICT_TRUNCATED;
        }
        const struct pkt_udp* udp = (const struct pkt_udp*)embpf_bench_ptr(l4_address);
        const uint64_t ports = ((uint64_t)pkt_ntohs(udp->source) << 16) | pkt_ntohs(udp->destination);
        return verdict(mix64(hash ^ ports ^ ((uint64_t)pkt_ntohs(udp->length) << 32)), VERDICT_UDP);
    }
    if (ip->protocol != PKT_PROTO_TCP) {
        return verdict(hash, VERDICT_OTHER_IPV4);
    }

    if (l4_address + sizeof(struct pkt_tcp) > end) {
        return VERDICT_TRUNCATED;
    }
    const struct pkt_tcp* tcp = (const struct pkt_tcp*)embpf_bench_ptr(l4_address);
    const uint64_t tcp_length = (uint64_t)(tcp->data_offset >> 4) * 4;
    if (tcp_length < sizeof(struct pkt_tcp)) {
        return VERDICT_MALFORMED;
    }
    const uint64_t options_end = l4_address + tcp_length;
    if (options_end > end) {
        return VERDICT_TRUNCATED;
    }

    uint64_t mss = 0;
    uint64_t window_scale = 0;
    uint64_t timestamp = 0;
    uint64_t option = l4_address + sizeof(struct pkt_tcp);
    for (int i = 0; i < TCP_MAX_OPTION_BYTES; i++) {
        if (option + 1 > options_end) {
            break;
        }
        const uint8_t kind = *(const uint8_t*)embpf_bench_ptr(option);
        if (kind == TCP_OPTION_EOL) {
            break;
        }
        if (kind == TCP_OPTION_NOP) {
            option++;
            continue;
        }
        if (option + 2 > options_end) {
            return VERDICT_MALFORMED;
        }
        const uint8_t length = *(const uint8_t*)embpf_bench_ptr(option + 1);
        if (length < 2 || option + length > options_end) {
            return VERDICT_MALFORMED;
        }
        if (kind == TCP_OPTION_MSS && length == 4) {
            mss = load_be16(option + 2);
        } else if (kind == TCP_OPTION_WSCALE && length == 3) {
            window_scale = *(const uint8_t*)embpf_bench_ptr(option + 2);
        } else if (kind == TCP_OPTION_TIMESTAMP && length == 10) {
            timestamp = load_be32(option + 2);
        }
        option += length;
    }

    const uint64_t ports = ((uint64_t)pkt_ntohs(tcp->source) << 16) | pkt_ntohs(tcp->destination);
    hash = mix64(hash ^ ports ^ ((uint64_t)tcp->flags << 32) ^ ((uint64_t)pkt_ntohs(tcp->window) << 40));
    hash = mix64(hash ^ (mss << 48) ^ (window_scale << 40) ^ timestamp);
    return verdict(hash, VERDICT_TCP);
}
