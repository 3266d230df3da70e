// An array whose definition asks for 2^31 entries of 64 bytes (128 GiB): a host that did not choose a memory limit
// must not try to allocate it.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1u << 31);
    __type(key, __u32);
    __type(value, char[64]);
} huge SEC(".maps");

SEC("xdp")
int touch(struct xdp_md* ctx) {
    __u32 key = 0;
    char* value = bpf_map_lookup_elem(&huge, &key);
    return value ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
