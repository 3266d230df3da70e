// Maps defined every way an object can: Linux's legacy struct bpf_map_def in "maps", and BTF maps in ".maps"
// including a map of maps whose inner definition comes from __array(values, ...).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

// libbpf 1.0 dropped this struct; objects built against older headers still carry it.
struct bpf_map_def {
    unsigned int type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
    .type = BPF_MAP_TYPE_ARRAY,
    .key_size = 4,
    .value_size = 8,
    .max_entries = 16,
    .map_flags = 0,
};

struct inner_map {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 4);
    __type(key, __u32);
    __array(values, struct inner_map);
} outer SEC(".maps");

SEC("xdp")
int use_maps(struct xdp_md* ctx) {
    __u32 key = 0;
    __u64* value = bpf_map_lookup_elem(&legacy_counts, &key);
    if (value) {
        *value += 1;
    }
    void* inner = bpf_map_lookup_elem(&outer, &key);
    if (inner) {
        value = bpf_map_lookup_elem(inner, &key);
        if (value) {
            *value += 2;
        }
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
