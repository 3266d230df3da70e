// The seed programs as a Linux developer writes them: libbpf's headers, struct xdp_md with 32-bit data fields, a
// cgroup/bind4 hook instead of eBPF for Windows' bind hook. Verified under platform::linux() by
// test_verifier_seeds.cpp, with the same verdicts as the originals under platform::windows().
#include <linux/bpf.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

// myxdp_stage2: prints the EtherType without checking that the Ethernet header is in the packet.
SEC("xdp")
int ethertype_unchecked(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    struct ethhdr* eth = data;
    bpf_printk("%x", bpf_ntohs(eth->h_proto)); // expect: ethertype_unchecked
    return XDP_PASS;
}

// myxdp_stage4: the five-tuple of each UDP packet into a ring buffer.
struct five_tuple {
    __u32 saddr;
    __u32 daddr;
    __u16 sport;
    __u16 dport;
    __u8 protocol;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 16);
} tuples SEC(".maps");

SEC("xdp")
int five_tuples(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    struct ethhdr* eth = data;
    if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
        return XDP_PASS;
    struct udphdr* udp = (void*)ip + ip->ihl * 4;
    if ((void*)(udp + 1) > data_end)
        return XDP_PASS;
    // Zeroed first: the struct's padding goes to the ring buffer too, and uninitialized stack bytes must not.
    struct five_tuple tuple;
    __builtin_memset(&tuple, 0, sizeof tuple);
    tuple.saddr = ip->saddr;
    tuple.daddr = ip->daddr;
    tuple.sport = udp->source;
    tuple.dport = udp->dest;
    tuple.protocol = ip->protocol;
    bpf_ringbuf_output(&tuples, &tuple, sizeof tuple, 0);
    return XDP_PASS;
}

// TraceConnections: binds counted per process in a hash map.
struct process_info {
    __u32 pid;
    __u32 binds;
    char comm[32];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct process_info);
} proc_map SEC(".maps");

SEC("cgroup/bind4")
int count_binds(struct bpf_sock_addr* ctx) {
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    struct process_info* info = bpf_map_lookup_elem(&proc_map, &pid);
    if (info) {
        info->binds++;
    } else {
        struct process_info fresh = {.pid = pid, .binds = 1};
        bpf_get_current_comm(fresh.comm, sizeof fresh.comm);
        bpf_map_update_elem(&proc_map, &pid, &fresh, BPF_ANY);
    }
    return 1;
}

char LICENSE[] SEC("license") = "GPL";
