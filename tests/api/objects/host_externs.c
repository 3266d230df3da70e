// Externs the host gives at load (LoadOptions::externs): a kernel symbol's address (`__ksym`), which the program reads
// through as a host address, and a constant an assembly lddw names, which the program returns.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

extern const void host_counter __ksym;

char LICENSE[] SEC("license") = "GPL";

// The 8 bytes at the symbol's address, plus the 8 after them.
SEC("socket")
int read_symbol(struct __sk_buff* skb) {
    const unsigned long long* words = (const unsigned long long*)&host_counter;
    return (int)(words[0] + words[1]);
}

// The constant, 16 past the value the host gives.
SEC("socket")
int constant(struct __sk_buff* skb) {
    long long value;
    asm volatile("%0 = HOST_CONSTANT ll; %0 += 16" : "=r"(value));
    return (int)value;
}
