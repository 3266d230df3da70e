// Tail calls through a program array: a dispatcher, two targets, and a program that tail-calls itself to
// find the chain limit.
#include "bpf_helpers.h"

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, uint32_t);
    __type(value, uint32_t);
} programs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, uint64_t);
} depth SEC(".maps");

SEC("bind")
int dispatch(bind_md_t* ctx) {
    bpf_tail_call(ctx, &programs, (uint32_t)ctx->process_id);
    return 100; // reached only when the tail call fails
}

SEC("bind")
int target_one(bind_md_t* ctx) { return 1; }

SEC("bind")
int target_two(bind_md_t* ctx) { return 2; }

SEC("bind")
int recurse(bind_md_t* ctx) {
    uint32_t zero = 0;
    uint64_t* count = bpf_map_lookup_elem(&depth, &zero);
    if (count) {
        *count += 1;
    }
    bpf_tail_call(ctx, &programs, 3);
    return 7; // the chain ended: the limit refused the next call
}
