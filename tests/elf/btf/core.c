// A CO-RE relocation for tests/elf/test_btf.cpp: the field access p->b is recorded as "0:1".
#define SEC(n) __attribute__((section(n), used))

struct S {
    int a;
    int b;
} __attribute__((preserve_access_index));

SEC("prog") int read_b(struct S* p) { return p->b; }
