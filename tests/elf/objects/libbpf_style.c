// A Linux libbpf-style program: BTF-defined maps, global data in .data/.bss/.rodata, string
// literals, and two subprograms.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct stats {
    __u64 packets;
    __u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 128);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct stats);
} stats_map SEC(".maps");

const volatile __u32 config_port = 53;
__u64 packets_seen = 0;
__u32 threshold = 7;

static __attribute__((noinline)) __u32 hash_port(__u32 port) {
    return (port * 2654435761u) >> 16; // marker: hash_port body
}

static __attribute__((noinline)) int classify(struct xdp_md* ctx, __u32 port) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    if (data + 14 > data_end) {
        return XDP_PASS;
    }
    if (port == config_port) {
        bpf_printk("dropping port %d", port);
        return XDP_DROP;
    }
    return hash_port(port) > threshold ? XDP_PASS : XDP_TX;
}

SEC("xdp")
int xdp_count(struct xdp_md* ctx) {
    __u32 key = ctx->ingress_ifindex;
    __u64 one = 1;
    __u64* value = bpf_map_lookup_elem(&counts, &key);
    if (value) {
        __sync_fetch_and_add(value, 1);
    } else {
        bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
    }
    __u32 slot = 0;
    struct stats* s = bpf_map_lookup_elem(&stats_map, &slot);
    if (s) {
        s->packets++;
    }
    packets_seen++;
    return classify(ctx, key & 0xffff);
}

char LICENSE[] SEC("license") = "GPL";
