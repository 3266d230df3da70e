// Linux programs whose contexts keep the packet in 32-bit fields (xdp_md, __sk_buff), for packets that lie anywhere
// in the host's memory: each reads the packet, and the XDP one writes it.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} sums SEC(".maps");

// Adds the packet's first 16 bytes into sums[0], turns its first byte into 0xee, and passes packets of 16 bytes or
// more; drops shorter ones.
SEC("xdp")
int xdp_sum(struct xdp_md* ctx) {
    unsigned char* data = (unsigned char*)(long)ctx->data;
    unsigned char* end = (unsigned char*)(long)ctx->data_end;
    if (data + 16 > end) {
        return XDP_DROP;
    }
    __u64 sum = 0;
    for (int i = 0; i < 16; ++i) {
        sum += data[i];
    }
    __u32 key = 0;
    __u64* total = bpf_map_lookup_elem(&sums, &key);
    if (total) {
        *total += sum;
    }
    data[0] = 0xee;
    return XDP_PASS;
}

// The packet's length as the data range gives it, and its last byte in bits 16 to 23.
SEC("tc")
int skb_length(struct __sk_buff* skb) {
    unsigned char* data = (unsigned char*)(long)skb->data;
    unsigned char* end = (unsigned char*)(long)skb->data_end;
    long length = end - data;
    if (length < 1 || length > 1500) {
        return 0;
    }
    unsigned char* last = data + length - 1;
    if (last + 1 > end) {
        return 0;
    }
    return (int)length | (*last << 16);
}

char LICENSE[] SEC("license") = "GPL";
