// Programs that read the clock, the random source and the process, print, and touch an __sk_buff: what
// embpf::testing replaces and builds in tests/api/test_testing.cpp.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

static void record(__u32 index, __u64 value) { bpf_map_update_elem(&seen, &index, &value, BPF_ANY); }

// Records the time, a random number and the packet's length; prints the length.
SEC("xdp")
int stamp(struct xdp_md* ctx) {
    record(0, bpf_ktime_get_ns());
    record(1, bpf_get_prandom_u32());
    record(2, bpf_get_prandom_u32());
    long length = (long)ctx->data_end - (long)ctx->data;
    bpf_printk("packet of %ld bytes", length);
    return XDP_PASS;
}

// Counts packets per EtherType (skb->protocol, network order) and returns the length; writes cb[0].
SEC("socket")
int per_protocol(struct __sk_buff* skb) {
    __u32 protocol = skb->protocol;
    __u64 one = 1;
    __u64* count = bpf_map_lookup_elem(&counts, &protocol);
    if (count) {
        __sync_fetch_and_add(count, 1);
    } else {
        bpf_map_update_elem(&counts, &protocol, &one, BPF_ANY);
    }
    skb->cb[0] = 7;
    return skb->len;
}

// Records the packet's socket cookie.
SEC("socket")
int cookie(struct __sk_buff* skb) {
    record(3, bpf_get_socket_cookie(skb));
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
