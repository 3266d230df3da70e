// Plugins of the hook benchmarks: each reads the request's value and passes (0) or not.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))

struct bench_request {
    __u64 value;
    __u32 flags;
    __u32 pad;
};

SEC("bench_hook")
int pass_small(struct bench_request* r) { return r->value > 1000000 ? 1 : 0; }

SEC("bench_hook")
int pass_odd(struct bench_request* r) { return (r->flags & 0x80000000) ? 2 : 0; }

char LICENSE[] SEC("license") = "GPL";
