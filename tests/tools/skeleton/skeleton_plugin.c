// A plugin whose maps and globals use the kinds of types `embpf gen skeleton` declares in C++: a key with padding, a
// struct named by its typedef, an anonymous union holding an anonymous struct, bitfields, an enum of one byte and one
// of four, members named like C++ keywords and like their own type, a packed struct with bitfields, arrays, and the
// global-data sections .rodata, .data, .bss and .data.limits. test_skeleton.cpp loads it through its generated header.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

enum verdict { VERDICT_DROP = 1, VERDICT_PASS = 2 };

enum __attribute__((packed)) shade { SHADE_DARK = 1, SHADE_LIGHT = 200 };

// 12 bytes: three bytes of padding after proto, two at the end.
struct flow_key {
    __u8 proto;
    __u32 ifindex;
    __u16 port;
};

typedef struct {
    __u64 packets;
    __u64 bytes;
} flow_stats;

struct counters {
    __u32 total;
    __u32 dropped;
};

struct flow_value {
    flow_stats stats;
    struct counters counters; // a member named like its type
    union {
        __u32 raw;
        struct {
            __u16 low;
            __u16 high;
        };
    };
    __u32 flags : 3;
    __u32 level : 5;
    enum shade shade;
    char name[8];
    struct {
        __u32 first;
        __u32 last;
    } seen;
    __u32 class; // C++ keywords
    __u32 new;
};

struct __attribute__((packed)) record {
    __u8 kind;
    __u64 stamp;
    __u8 dropped : 1; // bitfields in a packed struct
    __u8 level : 3;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct flow_key);
    __type(value, struct flow_value);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, flow_stats);
} totals SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 16);
    __type(value, struct record);
} recent SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u32);
} jump SEC(".maps");

const volatile __u16 drop_port = 0;
const volatile enum verdict otherwise = VERDICT_PASS;
__u32 step = 1;
char tag[5] = "abcd";
__u64 seen_total = 0;
struct record last_record = {};
__u32 limit SEC(".data.limits") = 100;

SEC("xdp")
int count_flows(struct xdp_md* ctx) {
    void* data = (void*)(long)ctx->data;
    void* data_end = (void*)(long)ctx->data_end;
    if (data + 2 > data_end) {
        return XDP_ABORTED;
    }
    const __u8* bytes = data;
    struct flow_key key = {};
    key.proto = bytes[0];
    key.ifindex = ctx->ingress_ifindex;
    key.port = bytes[1];
    seen_total += step;
    const int drop = key.port == drop_port || seen_total > limit;

    struct flow_value* value = bpf_map_lookup_elem(&flows, &key);
    if (value) {
        value->stats.packets += 1;
        value->stats.bytes += data_end - data;
        value->counters.total += 1;
        value->counters.dropped += drop;
        value->level += 1;
        value->seen.last = (__u32)seen_total;
        value->high += 1;
    } else {
        struct flow_value fresh = {};
        fresh.stats.packets = 1;
        fresh.stats.bytes = data_end - data;
        fresh.counters.total = 1;
        fresh.counters.dropped = drop;
        fresh.low = 0x1234;
        fresh.flags = 5;
        fresh.level = 1;
        fresh.shade = SHADE_LIGHT;
        __builtin_memcpy(fresh.name, tag, sizeof tag);
        fresh.seen.first = (__u32)seen_total;
        fresh.seen.last = (__u32)seen_total;
        fresh.class = 7;
        fresh.new = 8;
        bpf_map_update_elem(&flows, &key, &fresh, BPF_ANY);
    }
    __u32 slot = drop;
    flow_stats* total = bpf_map_lookup_elem(&totals, &slot);
    if (total) {
        total->packets += 1;
        total->bytes += data_end - data;
    }
    last_record.kind = key.proto;
    last_record.stamp = seen_total;
    last_record.dropped = drop;
    last_record.level = key.port & 7;
    bpf_map_push_elem(&recent, &last_record, BPF_EXIST);
    bpf_ringbuf_output(&events, &last_record, sizeof last_record, 0);
    return drop ? XDP_DROP : otherwise;
}

char LICENSE[] SEC("license") = "GPL";
