// Built with -fno-builtin, so that clang calls memset and memcpy as library functions (as older LLVM releases did for
// large copies): the loader links functions of its own for them when the size is a constant.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

void* memset(void* s, int c, unsigned long n);
void* memcpy(void* d, const void* s, unsigned long n);

SEC("socket")
int fill_and_copy(struct __sk_buff* skb) {
    char buf[16];
    char out[16];
    memset(buf, (int)(skb->len & 0x3f), sizeof buf);
    memcpy(out, buf, sizeof out);
    return out[3] + out[15];
}

SEC("socket")
int variable_size(struct __sk_buff* skb) {
    char buf[16];
    memset(buf, 0, skb->len & 15);
    return buf[0];
}

char LICENSE[] SEC("license") = "GPL";
