// bpf_spin_lock: counters that several threads add to under a lock, one in a hash map's value and one in global
// data. Each addition reads the count, then writes it back one more, so that additions not serialized lose counts.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct counter {
    __u64 count;
    struct bpf_spin_lock lock;
    __u32 pad;
    __u64 sum; // of the counts before each addition: n (n - 1) / 2 once n additions are serialized
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct counter);
} counters SEC(".maps");

struct bpf_spin_lock global_lock SEC(".data.locked");
volatile __u64 global_count SEC(".data.locked");

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int add_locked(struct __sk_buff* skb) {
    __u32 key = 0;
    struct counter* c = bpf_map_lookup_elem(&counters, &key);
    if (!c) {
        return 0;
    }
    bpf_spin_lock(&c->lock);
    const __u64 n = *(volatile __u64*)&c->count;
    *(volatile __u64*)&c->count = n + 1;
    c->sum += n;
    bpf_spin_unlock(&c->lock);
    return 1;
}

SEC("socket")
int add_global(struct __sk_buff* skb) {
    bpf_spin_lock(&global_lock);
    const __u64 n = global_count;
    global_count = n + 1;
    bpf_spin_unlock(&global_lock);
    return 1;
}

// Each value's lock taken in a for_each_map_elem callback, around an addition.
static long add_one(void* map, __u32* key, struct counter* c, void* ctx) {
    bpf_spin_lock(&c->lock);
    c->count += 1;
    bpf_spin_unlock(&c->lock);
    return 0;
}

SEC("socket")
int add_each(struct __sk_buff* skb) { return bpf_for_each_map_elem(&counters, add_one, 0, 0); }
