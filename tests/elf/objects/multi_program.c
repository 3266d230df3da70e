// Several programs in one section sharing a global subprogram in .text, and a second section.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

__attribute__((noinline)) int shared_helper(int x) { return x * 3 + 1; }

SEC("xdp")
int first(struct xdp_md* ctx) { return shared_helper((int)ctx->ingress_ifindex) & 3; }

SEC("xdp")
int second(struct xdp_md* ctx) { return shared_helper((int)ctx->rx_queue_index + 1) & 1; }

SEC("tc")
int third(struct __sk_buff* skb) { return shared_helper((int)skb->len) > 100; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
