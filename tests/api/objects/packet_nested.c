// A program that runs a host helper (id 1000) handing it its own context, which the host uses to run `inner` (a
// nested invocation on the same context), and then measures its packet; `inner` tries to move the packet's head.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

static long (*const run_inner)(void* ctx) = (void*)1000;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} out SEC(".maps");

static void record(__u32 index, __u64 value) { bpf_map_update_elem(&out, &index, &value, BPF_ANY); }

SEC("xdp")
int outer(struct xdp_md* ctx) {
    run_inner(ctx);
    record(0, ctx->data_end - ctx->data);
    return XDP_PASS;
}

SEC("xdp")
int inner(struct xdp_md* ctx) {
    record(1, (__u64)bpf_xdp_adjust_head(ctx, 10));
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
