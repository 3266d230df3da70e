// Reads the metadata in front of an XDP packet: how long it is, and its first word when it has one.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} seen SEC(".maps");

SEC("xdp")
int read_meta(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* meta = (void*)(long)ctx->data_meta;
    __u32 length_key = 0;
    __u32 word_key = 1;
    __u64* length = bpf_map_lookup_elem(&seen, &length_key);
    __u64* word = bpf_map_lookup_elem(&seen, &word_key);
    if (!length || !word) {
        return XDP_ABORTED;
    }
    *length = (__u64)(data - meta);
    __u32* first = meta;
    if ((void*)(first + 1) <= data) {
        *word = *first;
    } else {
        *word = ~0ULL;
    }
    return XDP_PASS;
}

// Reads the packet only: the context's data_meta is none of its business.
SEC("xdp")
int ignore_meta(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* end = (void*)(long)ctx->data_end;
    return data + 1 <= end ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
