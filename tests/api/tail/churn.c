// Replaces the one entry of a one-entry hash map 20,000 times in one invocation. Each replacement retires the old
// element, which cannot be reclaimed before the invocation ends: the map must stay bounded anyway.
#include "bpf_helpers.h"

struct big {
    uint64_t words[32];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, struct big);
} one SEC(".maps");

SEC("bind")
int churn(bind_md_t* ctx) {
    uint32_t key = 0;
    struct big value = {};
    uint32_t failures = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        value.words[0] = i;
        if (bpf_map_update_elem(&one, &key, &value, 0) != 0) {
            failures++;
        }
    }
    return failures > 0 ? 1 : 0;
}
