// The same programs as windows_cases.c written for Linux against libbpf's headers: struct xdp_md with 32-bit
// packet fields, Linux's XDP_* values. A rejected program marks the line its error must point at with
// `expect: <program>`.
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 4);
} counters SEC(".maps");

SEC("xdp")
int read_past_check(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    if (data + sizeof(struct ethhdr) > data_end)
        return XDP_PASS;
    return *(__u8*)(data + sizeof(struct ethhdr)) == 0x45 ? XDP_PASS : XDP_DROP; // expect: read_past_check
}

SEC("xdp")
int lookup_unchecked(struct xdp_md* ctx) {
    __u32 key = ctx->ingress_ifindex & 3;
    __u64* count = bpf_map_lookup_elem(&counters, &key);
    *count += 1; // expect: lookup_unchecked
    return XDP_PASS;
}

SEC("xdp")
int lookup_checked(struct xdp_md* ctx) {
    __u32 key = ctx->ingress_ifindex & 3;
    __u64* count = bpf_map_lookup_elem(&counters, &key);
    if (count)
        *count += 1;
    return XDP_PASS;
}

SEC("xdp")
int leak_to_map(struct xdp_md* ctx) {
    __u32 key = 0;
    __u64* slot = bpf_map_lookup_elem(&counters, &key);
    if (slot)
        *slot = (__u64)(long)ctx; // expect: leak_to_map
    return XDP_PASS;
}

SEC("xdp")
int bounded_loop(struct xdp_md* ctx) {
    __u32 value = ctx->ingress_ifindex;
    __u32 mix = 0;
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < 10; i++) {
        mix ^= value >> i;
    }
    return (mix & 1) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int packet_loop(struct xdp_md* ctx) {
    __u8* data = (__u8*)(long)ctx->data;
    __u8* data_end = (__u8*)(long)ctx->data_end;
    __u32 sum = 0;
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < 64; i++) {
        if (data + i + 1 > data_end)
            break;
        sum += data[i];
    }
    return (sum & 1) ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int ipv4_options(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    struct ethhdr* ethernet = data;
    struct iphdr* ipv4 = (struct iphdr*)(ethernet + 1);
    if ((void*)(ipv4 + 1) > data_end)
        return XDP_PASS;
    if (ethernet->h_proto != bpf_htons(ETH_P_IP) || ipv4->protocol != IPPROTO_UDP)
        return XDP_PASS;
    struct udphdr* udp = (void*)ipv4 + ipv4->ihl * 4;
    if ((void*)(udp + 1) > data_end)
        return XDP_PASS;
    return udp->dest == bpf_htons(53) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
