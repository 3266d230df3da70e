// A BTF map whose key_size contradicts its key type.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __uint(key_size, 8);
    __type(key, __u32);
    __type(value, __u32);
} confused SEC(".maps");

SEC("xdp")
int prog(struct xdp_md* ctx) {
    __u32 key = 1;
    return bpf_map_lookup_elem(&confused, &key) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
