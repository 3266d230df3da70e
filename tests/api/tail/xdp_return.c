// Returns the ingress ifindex as the XDP action: any value, which Linux's XDP reads as XDP_ABORTED when it is no
// action.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int action_from_ifindex(struct xdp_md* ctx) { return (int)ctx->ingress_ifindex; }

// 2 (XDP_PASS) in the low 32 bits, the ifindex above them: the hook reads XDP_PASS.
SEC("xdp")
__u64 action_in_low_bits(struct xdp_md* ctx) { return ((__u64)ctx->ingress_ifindex << 32) | XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
