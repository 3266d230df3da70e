// Helper calls that copy much memory: their cost counts in the verifier's bound and in a checked run's budget.
#include "bpf_helpers.h"

struct big {
    uint8_t bytes[1 << 22]; // 4 MiB
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, uint32_t);
    __type(value, struct big);
} big_values SEC(".maps");

struct small {
    uint64_t words[128]; // 1 KiB
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, uint32_t);
    __type(value, struct small);
} small_values SEC(".maps");

// 10,000 copies of a 4 MiB value: some 110,000 instructions, and 40 GiB copied.
SEC("bind")
int copy_big(bind_md_t* ctx) {
    uint32_t k0 = 0, k1 = 1;
    struct big* v = bpf_map_lookup_elem(&big_values, &k0);
    if (!v) {
        return 0;
    }
#pragma nounroll
    for (int i = 0; i < 10000; i++) {
        bpf_map_update_elem(&big_values, &k1, v, 0);
    }
    return 1;
}

// One copy of a 1 KiB value, on the longest path.
SEC("bind")
int copy_small(bind_md_t* ctx) {
    uint32_t k0 = 0, k1 = 1;
    struct small* v = bpf_map_lookup_elem(&small_values, &k0);
    if (!v) {
        return 0;
    }
    bpf_map_update_elem(&small_values, &k1, v, 0);
    return 1;
}
