// A program that keeps a bpf_spin_lock when it ends: the verifier refuses it, and a run of it loaded unverified has
// the lock released when its invocation ends.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct bpf_spin_lock kept_lock SEC(".data.kept");

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int lock_and_exit(struct __sk_buff* skb) {
    bpf_spin_lock(&kept_lock);
    return 1;
}
