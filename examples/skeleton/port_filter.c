// The skeleton example's plugin: an XDP filter that counts UDP packets by destination port and drops those to the
// port the host blocks (a `.rodata` global the host sets before the load, which the verifier then reads as a
// constant), counting the drops in `.bss` and reporting each through a ring buffer of struct drop_event.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct port_stats {
    __u64 packets;
    __u64 bytes;
};

struct drop_event {
    __u32 saddr; // network order, as in the packet
    __u16 port;
    __u16 length;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u16);
    __type(value, struct port_stats);
} ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} drops SEC(".maps");

const volatile __u16 blocked_port = 0;
__u64 dropped = 0;
struct drop_event last_drop = {}; // the ring buffer's records are of this type: the global puts it in the BTF

SEC("xdp")
int filter(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    struct ethhdr* eth = data;
    if ((void*)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP)) {
        return XDP_PASS;
    }
    struct iphdr* ip = (void*)(eth + 1); // no IP options, to keep the example short
    if ((void*)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP) {
        return XDP_PASS;
    }
    struct udphdr* udp = (void*)(ip + 1);
    if ((void*)(udp + 1) > data_end) {
        return XDP_PASS;
    }
    __u16 port = bpf_ntohs(udp->dest);
    __u64 length = data_end - data;
    struct port_stats* stats = bpf_map_lookup_elem(&ports, &port);
    if (stats) {
        __sync_fetch_and_add(&stats->packets, 1);
        __sync_fetch_and_add(&stats->bytes, length);
    } else {
        struct port_stats first = {1, length};
        bpf_map_update_elem(&ports, &port, &first, BPF_NOEXIST);
    }
    if (port != blocked_port) {
        return XDP_PASS;
    }
    __sync_fetch_and_add(&dropped, 1);
    last_drop.saddr = ip->saddr;
    last_drop.port = port;
    last_drop.length = (__u16)length;
    bpf_ringbuf_output(&drops, &last_drop, sizeof last_drop, 0);
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
