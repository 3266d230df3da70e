// A hash map that asks for BPF_F_ZERO_SEED: a hash every load shares, which lets a plugin choose keys that collide.
#include "bpf_helpers.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __uint(map_flags, 1U << 6); // BPF_F_ZERO_SEED
    __type(key, uint32_t);
    __type(value, uint32_t);
} seeded SEC(".maps");

SEC("bind")
int touch(bind_md_t* ctx) {
    uint32_t key = 0;
    uint32_t* value = bpf_map_lookup_elem(&seeded, &key);
    return value ? 1 : 0;
}
