/* Verifies the TCP or UDP checksum of an IPv4 packet: the one's-complement sum (RFC 1071) of the
 * pseudo-header and the whole segment, a bounds-checked 16-bit load per word. Returns the folded sum
 * (0xffff when the checksum is right) and the number of words summed. */
#include "packet.h"

#define CHECKSUM_MAX_WORDS 4096

EMBPF_BENCH_PROGRAM(inet_checksum) {
    const uint64_t end = ctx->data_end;
    const uint64_t ip_address = pkt_find_ipv4(ctx->data, end);
    if (ip_address == 0 || ip_address + sizeof(struct pkt_ipv4) > end) {
        return 0;
    }
    const struct pkt_ipv4* ip = (const struct pkt_ipv4*)embpf_bench_ptr(ip_address);
    const uint64_t header_length = (uint64_t)(ip->version_ihl & 15) * 4;
    const uint64_t total_length = pkt_ntohs(ip->total_length);
    if (header_length < sizeof(struct pkt_ipv4) || total_length < header_length || ip_address + total_length > end) {
        return 0;
    }
    if (ip->protocol != PKT_PROTO_TCP && ip->protocol != PKT_PROTO_UDP) {
        return 0;
    }

    const uint64_t l4_address = ip_address + header_length;
    const uint64_t l4_length = total_length - header_length;
    /* The pseudo-header, summed as the words lie in memory: the sum is byte-order independent. */
    uint64_t sum = (uint64_t)ip->source + ip->destination;
    sum += pkt_ntohs((uint16_t)ip->protocol) + pkt_ntohs((uint16_t)l4_length);

    uint64_t words = 0;
    for (uint64_t i = 0; i < CHECKSUM_MAX_WORDS; i++) {
        const uint64_t address = l4_address + i * 2;
        if (i * 2 + 2 > l4_length || address + 2 > end) {
            break;
        }
        sum += *(const uint16_t*)embpf_bench_ptr(address);
        words++;
    }
    if ((l4_length & 1) != 0) {
        const uint64_t last = l4_address + l4_length - 1;
        if (last + 1 > end) {
            return 0;
        }
        sum += *(const uint8_t*)embpf_bench_ptr(last);
    }
    return ((uint64_t)words << 32) | pkt_fold(sum);
}
