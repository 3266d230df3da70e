// The consumer's plugin, built and verified by embpf_add_plugin, which also writes its C++ skeleton: a socket filter
// that counts the packets it sees by their first byte and returns the packet's length, passing over (returning 0 for)
// packets shorter than min_length, which the host sets before the load.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} by_first_byte SEC(".maps");

const volatile __u32 min_length = 0;

SEC("socket")
int count_bytes(struct __sk_buff* skb) {
    if (skb->len < min_length) {
        return 0;
    }
    __u8 first = 0;
    if (bpf_skb_load_bytes(skb, 0, &first, 1) != 0) {
        return 0;
    }
    __u32 key = first;
    __u64* count = bpf_map_lookup_elem(&by_first_byte, &key);
    if (count) {
        __sync_fetch_and_add(count, 1);
    }
    return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
