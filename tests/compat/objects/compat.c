// The maps and programs the libbpf-compatible C API's tests drive, Linux libbpf style: a hash, an array, a per-CPU
// array, a queue, a ring buffer, a program array and a `.rodata` constant, one XDP program that uses them, one it
// tail-calls, one the verifier rejects (for bpf_program__set_autoload) and one that reads host memory.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} lengths SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} slots SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} per_cpu SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 2);
    __type(value, __u32);
} jobs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u32);
} jumps SEC(".maps");

const volatile __u32 drop_above = 1000;

// Counts packets by length, reports each length on the ring buffer, marks the packet's first byte and drops packets
// longer than drop_above.
SEC("xdp")
int count_packets(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    __u32 length = (__u32)(data_end - data);
    __u64 one = 1;
    __u64* seen = bpf_map_lookup_elem(&lengths, &length);
    if (seen) {
        __sync_fetch_and_add(seen, 1);
    } else {
        bpf_map_update_elem(&lengths, &length, &one, BPF_NOEXIST);
    }
    __u32 zero = 0;
    __u32* mine = bpf_map_lookup_elem(&per_cpu, &zero);
    if (mine) {
        *mine += 1;
    }
    bpf_ringbuf_output(&events, &length, sizeof length, 0);
    if (data + 1 <= data_end) {
        *(__u8*)data = 0xAA;
    }
    return length > drop_above ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int tail_target(struct xdp_md* ctx) { return XDP_TX; }

// Tail-calls jumps[0]; XDP_ABORTED when the slot is empty.
SEC("xdp")
int jumper(struct xdp_md* ctx) {
    bpf_tail_call(ctx, &jumps, 0);
    return XDP_ABORTED;
}

// Reads its packet without a bounds check: the verifier rejects it.
SEC("xdp")
int unchecked(struct xdp_md* ctx) { return *(int*)(long)ctx->data; }

// Reads memory at an address it chose: only a host that trusts its plugins (embpf_trust_plugins) loads it.
SEC("xdp")
int probe(struct xdp_md* ctx) {
    __u64 value = 0;
    bpf_probe_read_kernel(&value, sizeof value, (void*)(long)ctx->ingress_ifindex);
    return value != 0 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
