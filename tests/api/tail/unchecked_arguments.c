// Programs loaded unverified that hand helpers what their prototypes forbid: an address that is no memory of the run
// as a key or a buffer, the context as a map, a record that the run never reserved, and a write to the data range's
// pointer fields. The checked interpreter must stop each with an error before the helper runs.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} records SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} table SEC(".maps");

SEC("xdp")
int wild_key(struct xdp_md* ctx) {
    bpf_map_lookup_elem(&table, (void*)0x10000);
    return XDP_PASS;
}

SEC("xdp")
int context_as_map(struct xdp_md* ctx) {
    __u32 key = 0;
    bpf_map_lookup_elem((void*)ctx, &key);
    return XDP_PASS;
}

SEC("xdp")
int wild_buffer(struct xdp_md* ctx) {
    bpf_ringbuf_output(&records, (void*)0x10000, 8, 0);
    return XDP_PASS;
}

SEC("xdp")
int forged_record(struct xdp_md* ctx) {
    __u64 fake[4] = {0x80000008ull, 0, 0, 0};
    bpf_ringbuf_submit(&fake[1], 0);
    return XDP_PASS;
}

SEC("xdp")
int record_twice(struct xdp_md* ctx) {
    __u64* record = bpf_ringbuf_reserve(&records, 8, 0);
    if (!record) {
        return XDP_ABORTED;
    }
    *record = 7;
    bpf_ringbuf_submit(record, 0);
    bpf_ringbuf_submit(record, 0);
    return XDP_PASS;
}

SEC("xdp")
int longer_packet(struct xdp_md* ctx) {
    ctx->data_end = ctx->data + 8192;
    return XDP_PASS;
}

SEC("xdp")
int fair(struct xdp_md* ctx) {
    __u32 key = 1;
    __u64 value = 5;
    bpf_map_update_elem(&table, &key, &value, BPF_ANY);
    __u64* record = bpf_ringbuf_reserve(&records, 8, 0);
    if (record) {
        *record = value;
        bpf_ringbuf_submit(record, 0);
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
