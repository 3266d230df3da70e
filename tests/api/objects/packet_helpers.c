// The packet helpers: XDP programs that move the packet's head and tail, load and store its bytes, and a tc program
// that rewrites an IPv4 destination with incremental checksum updates and redirects the packet.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} out SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} next SEC(".maps");

static void record(__u32 index, __u64 value) { bpf_map_update_elem(&out, &index, &value, BPF_ANY); }

// Pushes 4 bytes (0xab each) in front of the frame.
SEC("xdp")
int push_head(struct xdp_md* ctx) {
    if (bpf_xdp_adjust_head(ctx, -4) != 0) {
        return XDP_DROP;
    }
    unsigned char* data = (unsigned char*)(long)ctx->data;
    unsigned char* end = (unsigned char*)(long)ctx->data_end;
    if (data + 4 > end) {
        return XDP_ABORTED;
    }
    data[0] = data[1] = data[2] = data[3] = 0xab;
    return XDP_PASS;
}

// Moves the head by the amount in out[0] (as a signed number) and records the helper's result in out[1].
SEC("xdp")
int move_head(struct xdp_md* ctx) {
    __u32 zero = 0;
    __u64* delta = bpf_map_lookup_elem(&out, &zero);
    if (!delta) {
        return XDP_ABORTED;
    }
    record(1, (__u64)bpf_xdp_adjust_head(ctx, (int)*delta));
    return XDP_PASS;
}

// Moves the tail by the amount in out[0] and records the helper's result in out[1].
SEC("xdp")
int move_tail(struct xdp_md* ctx) {
    __u32 zero = 0;
    __u64* delta = bpf_map_lookup_elem(&out, &zero);
    if (!delta) {
        return XDP_ABORTED;
    }
    record(1, (__u64)bpf_xdp_adjust_tail(ctx, (int)*delta));
    return XDP_PASS;
}

// Reads the EtherType with xdp_load_bytes, overwrites the destination MAC with xdp_store_bytes; an out-of-range load
// records its result and what it left in its buffer.
SEC("xdp")
int load_store(struct xdp_md* ctx) {
    __u16 type = 0;
    if (bpf_xdp_load_bytes(ctx, 12, &type, sizeof type) != 0) {
        return XDP_ABORTED;
    }
    record(0, type);
    const unsigned char mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    record(1, (__u64)bpf_xdp_store_bytes(ctx, 0, (void*)mac, sizeof mac));
    __u64 past = 0x1111111111111111;
    record(2, (__u64)bpf_xdp_load_bytes(ctx, 10000, &past, sizeof past));
    record(3, past);
    return XDP_PASS;
}

// Shrinks the head by 4 and tail-calls `measure`, which records the length it sees.
SEC("xdp")
int shrink_then_call(struct xdp_md* ctx) {
    if (bpf_xdp_adjust_head(ctx, 4) != 0) {
        return XDP_DROP;
    }
    bpf_tail_call(ctx, &next, 0);
    return XDP_ABORTED;
}

SEC("xdp")
int measure(struct xdp_md* ctx) {
    record(0, ctx->data_end - ctx->data);
    return XDP_PASS;
}

// Rewrites the IPv4 destination of an Ethernet + IPv4 (no options) + UDP frame to 10.0.0.99, updating the IP and UDP
// checksums incrementally, and redirects the packet to interface 7.
SEC("tc")
int rewrite_destination(struct __sk_buff* skb) {
    __u32 old_address = 0;
    if (bpf_skb_load_bytes(skb, ETH_HLEN + 16, &old_address, 4) != 0) {
        return TC_ACT_SHOT;
    }
    __u32 new_address = __builtin_bswap32(0x0a000063);
    if (bpf_skb_store_bytes(skb, ETH_HLEN + 16, &new_address, 4, 0) != 0 ||
        bpf_l3_csum_replace(skb, ETH_HLEN + 10, old_address, new_address, 4) != 0 ||
        bpf_l4_csum_replace(skb, ETH_HLEN + 20 + 6, old_address, new_address, BPF_F_PSEUDO_HDR | 4) != 0) {
        return TC_ACT_SHOT;
    }
    return bpf_redirect(7, 0);
}

char LICENSE[] SEC("license") = "GPL";
