// iproute2's 36-byte struct bpf_elf_map as Cilium writes it: maps named by id, a map of maps naming its inner map
// by id, pinning, and a program in a section ("2/1") that names no program type.
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

struct bpf_elf_map {
    unsigned int type;
    unsigned int size_key;
    unsigned int size_value;
    unsigned int max_elem;
    unsigned int flags;
    unsigned int id;
    unsigned int pinning;
    unsigned int inner_id;
    unsigned int inner_idx;
};

struct bpf_elf_map SEC("maps") calls = {
    .type = BPF_MAP_TYPE_PROG_ARRAY, .size_key = 4, .size_value = 4, .max_elem = 8, .pinning = 2, .inner_idx = ~0u};
struct bpf_elf_map SEC("maps") maglev_inner = {
    .type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 16, .max_elem = 1, .id = 7, .inner_idx = ~0u};
struct bpf_elf_map SEC("maps") maglev = {
    .type = BPF_MAP_TYPE_HASH_OF_MAPS, .size_key = 2, .size_value = 4, .max_elem = 32, .pinning = 2, .inner_id = 7};

static void* (*bpf_map_lookup_elem)(void* map, const void* key) = (void*)1;

SEC("2/1") int tail_one(struct __sk_buff* skb) {
    __u16 key = 1;
    return bpf_map_lookup_elem(&maglev, &key) != 0;
}

char _license[] SEC("license") = "GPL";
