// The Linux samples' and Falco's 28-byte bpf_map_def (inner_map_idx, numa_node), a map of maps naming its inner
// map by position, and a static function in a program section, which is a program of its own.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

struct bpf_map_def {
    unsigned int type;
    unsigned int key_size;
    unsigned int value_size;
    unsigned int max_entries;
    unsigned int map_flags;
    unsigned int inner_map_idx;
    unsigned int numa_node;
};

struct bpf_map_def SEC("maps") port_a = {
    .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 8, .numa_node = 3};
struct bpf_map_def SEC("maps") counts = {.type = BPF_MAP_TYPE_HASH, .key_size = 4, .value_size = 8, .max_entries = 64};
struct bpf_map_def SEC("maps") outer = {
    .type = BPF_MAP_TYPE_HASH_OF_MAPS, .key_size = 4, .value_size = 4, .max_entries = 4, .inner_map_idx = 0};

static void* (*bpf_map_lookup_elem)(void* map, const void* key) = (void*)1;

SEC("socket") static __attribute__((noinline)) int static_program(struct __sk_buff* skb) {
    __u32 key = 0;
    __u64* value = bpf_map_lookup_elem(&counts, &key);
    return value != 0 ? (int)*value : 0;
}

SEC("socket") int global_program(struct __sk_buff* skb) {
    __u32 key = 0;
    void* inner = bpf_map_lookup_elem(&outer, &key);
    return inner != 0 ? static_program(skb) : 0;
}

char _license[] SEC("license") = "GPL";
