// A program that loops for some 10^8 instructions, then tail-calls: within LoadOptions::max_instructions, but 33 of
// them in a chain would not be.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} jumps SEC(".maps");

SEC("xdp")
int loop_then_tail_call(struct xdp_md* ctx) {
    volatile __u64 sum = 0;
#pragma nounroll
    for (__u32 i = 0; i < 10000000; i++) {
        sum += i;
    }
    bpf_tail_call(ctx, &jumps, 0);
    return sum == 7 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
