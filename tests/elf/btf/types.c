// Types for tests/elf/test_btf.cpp: every kind clang emits for ordinary C, a BTF-defined map and globals.
#include <stdint.h>

#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val)* name

typedef unsigned int __u32;
typedef __u32 u32;
typedef u32 pid_type;

struct process_info {
    pid_type pid;
    unsigned int flags : 3;
    unsigned int state : 5;
    signed int priority : 12;
    char comm[16];
};

union value_bits {
    uint64_t as_u64;
    uint32_t as_u32[2];
    unsigned char as_bytes[8];
};

enum color { color_red = 0, color_green = 1, color_blue = -1 };
enum wide { wide_small = 1, wide_big = 0x100000000ULL };

typedef int (*callback_fn)(const char* name, int length);

struct handler {
    callback_fn callback;
    const volatile int* counter;
    union value_bits bits;
    enum color tint;
    enum wide span;
    struct process_info infos[2][3];
};

struct {
    __uint(type, 1);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct process_info);
} proc_map SEC(".maps");

int counter_data = 7;
struct handler handler_bss;
const char greeting[6] = "hello";
volatile uint64_t ticks;

SEC("prog") int use_types(struct handler* h) {
    __u32 key = 1;
    (void)key;
    return h->bits.as_u32[1] + counter_data + greeting[1] + (int)ticks + (int)h->span + h->infos[1][2].state;
}
