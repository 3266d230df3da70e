// `.kconfig` externs: values of the kernel's configuration that the platform gives at load (libbpf's __kconfig).
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses
#include <stdbool.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig;
extern char CONFIG_DEFAULT_HOSTNAME[4] __kconfig;
extern int CONFIG_EMBPF_OFFSET __kconfig __weak;           // a signed number; zero when the platform lacks it
extern unsigned short CONFIG_EMBPF_INDEX __kconfig __weak; // bounds an access below
extern unsigned int CONFIG_HZ __kconfig;

// r0 packs what the program read: the kernel's major version (bits 0-3), the cookie flag (4), the tristate (5-6), the
// hostname's first and last bytes (8-15, 16-23) and the signed offset plus 64 (24-30).
SEC("socket")
int read_kconfig(struct __sk_buff* skb) {
    unsigned int r = (LINUX_KERNEL_VERSION >> 16) & 15;
    r |= (unsigned int)LINUX_HAS_BPF_COOKIE << 4;
    r |= (unsigned int)CONFIG_BPF_SYSCALL << 5;
    r |= (unsigned int)(unsigned char)CONFIG_DEFAULT_HOSTNAME[0] << 8;
    r |= (unsigned int)(unsigned char)CONFIG_DEFAULT_HOSTNAME[3] << 16;
    r |= (unsigned int)((CONFIG_EMBPF_OFFSET + 64) & 127) << 24;
    return r;
}

// The index has no check of its own: the program verifies only where the platform's value lies inside the table.
SEC("socket")
int index_by_kconfig(struct __sk_buff* skb) {
    volatile unsigned char table[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    return table[CONFIG_EMBPF_INDEX];
}

// Verifies only where CONFIG_HZ is 245 to 252 (linux() has 250): whatever verifies the object must read the
// platform's value, as the load does.
SEC("socket")
int index_by_hz(struct __sk_buff* skb) {
    volatile unsigned char table[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    return table[CONFIG_HZ - 245];
}

char LICENSE[] SEC("license") = "GPL";
