// Lookups in an array map, which the optimizing JIT computes in the program's code (tests/api/test_invocation.cpp).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} slots SEC(".maps");

// Counts packets by length in slots 0-7; r0: the slot's count after this packet, or 1000 for a length past them.
SEC("socket")
int count_by_length(struct __sk_buff* skb) {
    __u32 key = skb->len;
    __u64* slot = bpf_map_lookup_elem(&slots, &key);
    if (!slot) {
        return 1000;
    }
    *slot += 1;
    return *slot;
}

char LICENSE[] SEC("license") = "GPL";
