// Reserves a ring-buffer record, loops, then submits it: an instruction budget stops the run in the loop, with the
// record still reserved.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} records SEC(".maps");

SEC("xdp")
int reserve_loop_submit(struct xdp_md* ctx) {
    __u64* record = bpf_ringbuf_reserve(&records, 8, 0);
    if (!record) {
        return XDP_ABORTED;
    }
    __u64 sum = 0;
    for (int i = 0; i < 200; i++) {
        sum += bpf_get_prandom_u32() | 1;
    }
    *record = sum;
    bpf_ringbuf_submit(record, 0);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
