// A program that tail-calls itself and, at each step, calls a host helper (id 1001) that runs another program: the
// nested run must neither reset nor use up this chain's tail-call count. The counter's own limit (1000) only turns a
// chain that does not stop into a wrong count instead of a hang.
#include "bpf_helpers.h"

static long (*const run_nested)(void) = (void*)1001;

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, uint32_t);
} self SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, uint32_t);
    __type(value, uint64_t);
} steps SEC(".maps");

SEC("bind")
int chain(bind_md_t* ctx) {
    uint32_t zero = 0;
    uint64_t* count = bpf_map_lookup_elem(&steps, &zero);
    if (count == 0 || *count >= 1000) {
        return 2; // BIND_REDIRECT: the counter ran out
    }
    *count += 1;
    run_nested();
    bpf_tail_call(ctx, &self, 0);
    return 1; // BIND_DENY: the chain ended at the tail-call limit
}

SEC("bind")
int inner(bind_md_t* ctx) { return 0; }

// The same chain without a limit of its own: every run of it, in every nested invocation, counts one step. Only the
// runtime's bound on the runs of one invocation with those nested in it (kMaxRunsPerInvocation) stops it.
SEC("bind")
int flood(bind_md_t* ctx) {
    uint32_t zero = 0;
    uint64_t* count = bpf_map_lookup_elem(&steps, &zero);
    if (count == 0) {
        return 2;
    }
    *count += 1;
    run_nested();
    bpf_tail_call(ctx, &self, 0);
    return 1;
}

// Starts 1100 nested invocations one after the other, at one depth: the runs bound refuses those past it.
SEC("bind")
int many(bind_md_t* ctx) {
    for (int i = 0; i < 1100; i++) {
        run_nested();
    }
    return 0;
}
