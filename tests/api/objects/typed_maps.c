// Maps of the kinds the typed host API binds besides the seeds' hash and ring buffer: a per-CPU array and hash, a
// queue, a stack and an LRU hash, all written by one XDP program, Linux libbpf style.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

// 12 bytes: a per-CPU slot holds it rounded up to 16.
struct counter {
    __u32 packets;
    __u32 weight; // the sum of rx_queue_index, which the tests set
    __u32 last_ifindex;
};

struct event {
    __u32 ifindex;
    __u32 seq;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} hits SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct counter);
} per_interface SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 8);
    __type(value, struct event);
} event_queue SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK);
    __uint(max_entries, 8);
    __type(value, struct event);
} event_stack SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} recent SEC(".maps");

__u32 seq = 0;

SEC("xdp")
int record(struct xdp_md* ctx) {
    __u32 ifindex = ctx->ingress_ifindex;
    __u32 slot = ifindex & 3;
    __u64* hit = bpf_map_lookup_elem(&hits, &slot);
    if (hit) {
        *hit += 1;
    }
    struct counter* counter = bpf_map_lookup_elem(&per_interface, &ifindex);
    if (counter) {
        counter->packets += 1;
        counter->weight += ctx->rx_queue_index;
        counter->last_ifindex = ifindex;
    } else {
        struct counter first = {1, ctx->rx_queue_index, ifindex};
        bpf_map_update_elem(&per_interface, &ifindex, &first, BPF_ANY);
    }
    struct event event = {ifindex, ++seq};
    bpf_map_push_elem(&event_queue, &event, BPF_EXIST);
    bpf_map_push_elem(&event_stack, &event, BPF_ANY);
    __u64 stamp = event.seq;
    bpf_map_update_elem(&recent, &ifindex, &stamp, BPF_ANY);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
