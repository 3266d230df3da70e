// A program array shared by an xdp program and a socket filter that writes __sk_buff::cb, which lies past the end of
// xdp_md: the array serves xdp programs, so the socket filter must not get into it. With INIT_ENTRIES the object's
// definition puts it there (.values); without, the host tries (MapHandle::set_program).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("socket")
int write_cb(struct __sk_buff* skb) {
    skb->cb[4] = 0x41414141;
    return 0;
}

SEC("xdp")
int fits(struct xdp_md* ctx) { return XDP_PASS; }

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __array(values, int(void*));
} jump SEC(".maps")
#ifdef INIT_ENTRIES
    = {.values = {[0] = (void*)&write_cb}}
#endif
;

SEC("xdp")
int dispatch(struct xdp_md* ctx) {
    bpf_tail_call(ctx, &jump, 0);
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
