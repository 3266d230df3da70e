// One program calls a kernel function (kfunc), which user mode cannot offer; the other does not.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

extern void bpf_rcu_read_lock(void) __ksym;

SEC("xdp")
int uses_kfunc(struct xdp_md* ctx) {
    bpf_rcu_read_lock();
    return XDP_PASS;
}

SEC("xdp")
int plain(struct xdp_md* ctx) { return ctx->ingress_ifindex == 3 ? XDP_DROP : XDP_PASS; }

char LICENSE[] SEC("license") = "GPL";
