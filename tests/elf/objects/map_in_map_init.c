// A map of maps whose definition names its inner maps: `.values = {[0] = &inner_a, [2] = &inner_b}`.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct inner_map {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 4);
    __type(key, __u32);
    __array(values, struct inner_map);
} outer SEC(".maps") = {
    .values = {[0] = &inner_a, [2] = &inner_b},
};

SEC("xdp")
int read_inner(struct xdp_md* ctx) {
    __u32 key = ctx->ingress_ifindex;
    void* inner = bpf_map_lookup_elem(&outer, &key);
    if (!inner)
        return 0;
    __u32 zero = 0;
    __u64* value = bpf_map_lookup_elem(inner, &zero);
    return value ? (int)*value : 1;
}
char LICENSE[] SEC("license") = "GPL";
