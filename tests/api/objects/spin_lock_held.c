// Programs that misuse a bpf_spin_lock: the verifier refuses them, and checked runs of them loaded unverified keep the
// lock usable (a lock kept is released when the invocation ends; its word is never written; no other word is locked).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct bpf_spin_lock kept_lock SEC(".data.kept");

char LICENSE[] SEC("license") = "GPL";

SEC("socket")
int lock_and_exit(struct __sk_buff* skb) {
    bpf_spin_lock(&kept_lock);
    return 1;
}

// A lock's word set by a store: every later bpf_spin_lock of it would wait. Checked runs refuse the store.
SEC("socket")
int set_word(struct __sk_buff* skb) {
    *(volatile __u32*)&kept_lock = 1;
    return 1;
}

// A lock on the stack: a word that is no map value's lock. Checked runs refuse the call.
SEC("socket")
int lock_stack(struct __sk_buff* skb) {
    struct bpf_spin_lock on_stack = {};
    bpf_spin_lock(&on_stack);
    bpf_spin_unlock(&on_stack);
    return 1;
}
