// Weak externs nothing provides: a kernel symbol and a kernel function the platform lacks resolve to address 0, as
// libbpf resolves those the running kernel lacks, and a program that tests the address first never calls the function.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

extern const int absent_symbol __ksym __weak;
extern int absent_function(int value) __ksym __weak;

char LICENSE[] SEC("license") = "GPL";

// 7 when both are absent (as here): 1 if the symbol were present, the function's result if it were.
SEC("socket")
int absent(struct __sk_buff* skb) {
    if (&absent_symbol != 0) {
        return 1;
    }
    if (absent_function) {
        return absent_function(3);
    }
    return 7;
}
