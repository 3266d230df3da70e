// Two legacy map records (the samples' 28-byte layout), both arrays of maps, each naming the other as its inner map.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def {
    unsigned int type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node;
};

struct bpf_map_def SEC("maps") first = {BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, 1, 0};
struct bpf_map_def SEC("maps") second = {BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, 0, 0};

static void* (*bpf_map_lookup_elem)(void* map, const void* key) = (void*)1;

SEC("xdp") int lookup(struct xdp_md* ctx) {
    __u32 key = 0;
    return bpf_map_lookup_elem(&first, &key) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
