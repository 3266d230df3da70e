// Programs for the verifier's tests, built with the plugin headers for eBPF for Windows. A rejected program marks
// the line its error must point at with `expect: <program>`; tests/verifier/test_verifier_objects.cpp finds it.
#include "bpf_endian.h"
#include "bpf_helpers.h"
#include "net/if_ether.h"
#include "net/ip.h"
#include "net/udp.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, uint32_t);
    __type(value, uint64_t);
    __uint(max_entries, 4);
} counters SEC(".maps");

SEC("xdp")
int read_past_check(xdp_md_t* ctx) {
    uint8_t* data = ctx->data;
    uint8_t* data_end = ctx->data_end;
    if (data + sizeof(ETHERNET_HEADER) > data_end)
        return XDP_PASS;
    return data[sizeof(ETHERNET_HEADER)] == 0x45 ? XDP_PASS : XDP_DROP; // expect: read_past_check
}

SEC("xdp")
int lookup_unchecked(xdp_md_t* ctx) {
    uint32_t key = ctx->ingress_ifindex & 3;
    uint64_t* count = bpf_map_lookup_elem(&counters, &key);
    *count += 1; // expect: lookup_unchecked
    return XDP_PASS;
}

SEC("xdp")
int lookup_checked(xdp_md_t* ctx) {
    uint32_t key = ctx->ingress_ifindex & 3;
    uint64_t* count = bpf_map_lookup_elem(&counters, &key);
    if (count)
        *count += 1;
    return XDP_PASS;
}

SEC("xdp")
int leak_to_map(xdp_md_t* ctx) {
    uint32_t key = 0;
    uint64_t* slot = bpf_map_lookup_elem(&counters, &key);
    if (slot)
        *slot = (uint64_t)ctx; // expect: leak_to_map
    return XDP_PASS;
}

SEC("xdp")
int bounded_loop(xdp_md_t* ctx) {
    uint32_t value = ctx->ingress_ifindex;
    uint32_t mix = 0;
#pragma clang loop unroll(disable)
    for (uint32_t i = 0; i < 10; i++) {
        mix ^= value >> i;
    }
    return (mix & 1) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int packet_loop(xdp_md_t* ctx) {
    uint8_t* data = ctx->data;
    uint8_t* data_end = ctx->data_end;
    uint32_t sum = 0;
#pragma clang loop unroll(disable)
    for (uint32_t i = 0; i < 64; i++) {
        if (data + i + 1 > data_end)
            break;
        sum += data[i];
    }
    return (sum & 1) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int ipv4_options(xdp_md_t* ctx) {
    uint8_t* data = ctx->data;
    uint8_t* data_end = ctx->data_end;
    ETHERNET_HEADER* ethernet = (ETHERNET_HEADER*)data;
    IPV4_HEADER* ipv4 = (IPV4_HEADER*)(ethernet + 1);
    if ((uint8_t*)(ipv4 + 1) > data_end)
        return XDP_PASS;
    if (ethernet->Type != bpf_htons(ETHERNET_TYPE_IPV4) || ipv4->Protocol != IPPROTO_UDP)
        return XDP_PASS;
    UDP_HEADER* udp = (UDP_HEADER*)((uint8_t*)ipv4 + ipv4->HeaderLength * 4);
    if ((uint8_t*)(udp + 1) > data_end)
        return XDP_PASS;
    return udp->destPort == bpf_htons(53) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "MIT";
