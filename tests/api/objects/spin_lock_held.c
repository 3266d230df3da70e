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

// A helper called under the lock (one that blocks, or runs a program that takes the lock, would never return), and a
// second lock taken: checked runs stop at the call, and the lock is released.
SEC("socket")
int call_under_lock(struct __sk_buff* skb) {
    bpf_spin_lock(&kept_lock);
    const __u64 now = bpf_ktime_get_ns();
    bpf_spin_unlock(&kept_lock);
    return now != 0;
}

SEC("socket")
int lock_twice(struct __sk_buff* skb) {
    bpf_spin_lock(&kept_lock);
    bpf_spin_lock(&kept_lock);
    bpf_spin_unlock(&kept_lock);
    return 1;
}
