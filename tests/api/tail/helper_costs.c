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

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 4);
    __type(key, uint32_t);
    __type(value, struct small);
} per_cpu SEC(".maps");

// An update of a per-CPU hash map: a new element clears the value of every slot.
SEC("bind")
int per_cpu_insert(bind_md_t* ctx) {
    uint32_t k0 = 0, k1 = 1;
    struct small* v = bpf_map_lookup_elem(&small_values, &k0);
    if (!v) {
        return 0;
    }
    bpf_map_update_elem(&per_cpu, &k1, v, 0);
    return 1;
}

struct prefix {
    uint32_t prefixlen;
    uint8_t data[256];
};

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 16);
    __uint(map_flags, 1); // BPF_F_NO_PREALLOC, as LPM tries require
    __type(key, struct prefix);
    __type(value, uint64_t);
} routes SEC(".maps");

// A lookup in a trie whose keys have 2,048 bits: it may walk 2,049 levels.
SEC("bind")
int trie_lookup(bind_md_t* ctx) {
    uint32_t k0 = 0;
    struct small* v = bpf_map_lookup_elem(&small_values, &k0);
    if (!v) {
        return 0;
    }
    uint64_t* found = bpf_map_lookup_elem(&routes, v); // the 1 KiB value holds a key's 260 bytes
    return found ? 1 : 2;
}

// One load from a map of 8 MiB of values: it may miss the caches.
SEC("bind")
int far_read(bind_md_t* ctx) {
    uint32_t k0 = 0;
    struct big* v = bpf_map_lookup_elem(&big_values, &k0);
    if (!v) {
        return 0;
    }
    return v->bytes[4096] & 1;
}
