// Hundreds of map records naming their inner map by id, and hundreds of global-data sections with a variable each:
// the reader indexes records, symbols and BTF sections once, so that their numbers add up instead of multiplying.
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

// Two maps with id 1000: as iproute2 reads them, the last one is meant.
struct bpf_elf_map SEC("maps") inner_first = {
    .type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 8, .max_elem = 1, .id = 1000, .inner_idx = ~0u};
struct bpf_elf_map SEC("maps") inner_last = {
    .type = BPF_MAP_TYPE_ARRAY, .size_key = 4, .size_value = 16, .max_elem = 1, .id = 1000, .inner_idx = ~0u};

#define OUTER(n)                                                                                                       \
    struct bpf_elf_map SEC("maps") outer_##n = {.type = BPF_MAP_TYPE_HASH_OF_MAPS,                                     \
                                                .size_key = 4,                                                         \
                                                .size_value = 4,                                                       \
                                                .max_elem = 1,                                                         \
                                                .id = 2000 + n,                                                        \
                                                .inner_id = 1000};
#define VARIABLE(n) unsigned int variable_##n SEC(".data.s" #n) = n;
#define BOTH(n) OUTER(n) VARIABLE(n)

#define X4(F, p) F(p##0) F(p##1) F(p##2) F(p##3)
#define X16(F, p) X4(F, p##0) X4(F, p##1) X4(F, p##2) X4(F, p##3)
#define X64(F, p) X16(F, p##0) X16(F, p##1) X16(F, p##2) X16(F, p##3)
X64(BOTH, 1)
X64(BOTH, 2)
X64(BOTH, 3)

SEC("xdp") int prog(struct xdp_md* ctx) { return variable_1000 + variable_3333; }

char _license[] SEC("license") = "GPL";
