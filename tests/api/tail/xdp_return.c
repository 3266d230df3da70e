// Returns the ingress ifindex as the XDP action: any value, which Linux's XDP reads as XDP_ABORTED when it is no
// action.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int action_from_ifindex(struct xdp_md* ctx) { return (int)ctx->ingress_ifindex; }

char LICENSE[] SEC("license") = "GPL";
