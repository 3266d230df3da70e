// Three nested loops of 100,000 iterations: a verified program whose every run ends, after some 10^15 instructions.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int nested(struct xdp_md* ctx) {
    volatile __u64 sum = 0;
    for (__u32 i = 0; i < 100000; i++) {
        for (__u32 j = 0; j < 100000; j++) {
            for (__u32 k = 0; k < 100000; k++) {
                sum += k;
            }
        }
    }
    return sum == 7 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int short_loop(struct xdp_md* ctx) {
    volatile __u64 sum = 0;
    for (__u32 i = 0; i < 1000; i++) {
        sum += i;
    }
    return sum == 7 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
