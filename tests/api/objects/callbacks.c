// bpf_loop and bpf_for_each_map_elem: the runtime runs their callbacks in frames of the program's own run, and the
// verifier follows each as a loop through the callback.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

#ifndef __ulong // libbpf 1.4's: an anonymous enum whose one enumerator is the value
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} values SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u64);
    __type(value, __u64);
} table SEC(".maps");

struct walk {
    __u64 sum;
    __u64 stop_at; // the index or key at which the callback asks to stop; 0: never
    __u64 seen[4]; // a callback's record of what it saw, indexed by a bounded count
    __u64 count;
};

static __attribute__((noinline)) __u64 square(__u64 x) { return x * x; }

// callback(index, ctx): a local call inside a callback, and a stop.
static long add_square(__u32 index, void* data) {
    struct walk* w = data;
    w->sum += square(index);
    if (w->count < 4) {
        w->seen[w->count] = index;
    }
    w->count++;
    return index + 1 == w->stop_at;
}

// r0: the sum of the squares of the indexes seen (bits 0-15), the calls bpf_loop reports (16-23), the count the
// callback kept (24-31).
SEC("socket")
int loop_squares(struct __sk_buff* skb) {
    struct walk w = {.stop_at = 5};
    long calls = bpf_loop(9, add_square, &w, 0);
    return (int)((w.sum & 0xffff) | ((calls & 0xff) << 16) | ((w.count & 0xff) << 24));
}

// All nine calls: 0 + 1 + 4 + ... + 64 = 204.
SEC("socket")
int loop_all(struct __sk_buff* skb) {
    struct walk w = {};
    long calls = bpf_loop(9, add_square, &w, 0);
    return (int)((w.sum & 0xffff) | ((calls & 0xff) << 16));
}

// What bpf_loop returns for flags other than 0 and for more than 2^23 loops: -EINVAL, -E2BIG; no call.
SEC("socket")
int loop_refused(struct __sk_buff* skb) {
    struct walk w = {};
    long bad_flags = bpf_loop(3, add_square, &w, 1);
    long too_many = bpf_loop((1u << 23) + 1, add_square, &w, 0);
    return (int)((-bad_flags & 0xff) | ((-too_many & 0xff) << 8) | ((w.count & 0xff) << 16));
}

// callback(map, key, value, ctx): the key is a copy, the value the element itself.
static long add_element(void* map, __u32* key, __u64* value, void* data) {
    struct walk* w = data;
    w->sum += *value + *key;
    *value += 1;
    *key = 1000; // a copy: the map's key stays
    w->count++;
    return 0;
}

// r0: the sum of values and keys (bits 0-15), the calls (16-23).
SEC("socket")
int walk_array(struct __sk_buff* skb) {
    struct walk w = {};
    long calls = bpf_for_each_map_elem(&values, add_element, &w, 0);
    return (int)((w.sum & 0xffff) | ((calls & 0xff) << 16));
}

static long sum_hash(void* map, __u64* key, __u64* value, void* data) {
    struct walk* w = data;
    w->sum += *value;
    w->count++;
    return w->count == w->stop_at;
}

// r0: the sum of the values (bits 0-15), the calls (16-23); it stops at none.
SEC("socket")
int walk_hash(struct __sk_buff* skb) {
    struct walk w = {.stop_at = 0};
    long calls = bpf_for_each_map_elem(&table, sum_hash, &w, 0);
    return (int)((w.sum & 0xffff) | ((calls & 0xff) << 16));
}

// The walk stops after the second call.
SEC("socket")
int walk_stop(struct __sk_buff* skb) {
    struct walk w = {.stop_at = 2};
    long calls = bpf_for_each_map_elem(&table, sum_hash, &w, 0);
    return (int)((w.sum & 0xffff) | ((calls & 0xff) << 16));
}

char LICENSE[] SEC("license") = "GPL";

// A bloom filter: the program adds the value it is given (its packet length) and tests two.
struct {
    __uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
    __uint(max_entries, 64);
    __ulong(map_extra, 3); // hash functions, written as newer libbpf writes 64-bit members
    __type(value, __u32);
} seen SEC(".maps");

// r0: whether 16 was found before (bit 0) and after (bit 1) adding it, and whether 17 was (bit 2).
SEC("socket")
int bloom(struct __sk_buff* skb) {
    __u32 len = skb->len;
    __u32 other = 17;
    int r = bpf_map_peek_elem(&seen, &len) == 0;
    bpf_map_push_elem(&seen, &len, BPF_ANY);
    r |= (bpf_map_peek_elem(&seen, &len) == 0) << 1;
    r |= (bpf_map_peek_elem(&seen, &other) == 0) << 2;
    return r;
}
