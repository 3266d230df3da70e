// The plugin-host's request hook as its plugins see it: examples/plugin-host/host.cpp's `Request`, field for field,
// and what the plugins share with the host (the event they report, the host helper they call).
#pragma once

#include "bpf_helpers.h"

struct request {
    const uint8_t* path; // the request's path, path_len bytes
    uint32_t path_len;
    uint32_t client;        // the client's id
    const uint8_t* headers; // the raw header block, headers_len bytes
    uint64_t headers_len;
    uint8_t* body; // the body, which a plugin may rewrite in place
    uint32_t body_len;
    uint32_t status; // 0, or the status the plugin answers with
};

// What a plugin reports to the host through its `events` ring buffer for each request it refuses.
struct event {
    uint32_t client;
    uint32_t status;
    uint32_t version; // the plugin version that decided
    uint32_t count;   // the client's requests so far
};

// The host helper: how many requests the client's tier may make.
static uint64_t (*const client_quota)(uint32_t client) = (void*)1000;

// The verdicts.
#define ALLOW 0
#define DENY 1

// The maps every version of the plugin declares alike, so that a reload reuses them.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, uint32_t);
    __type(value, uint64_t);
} counts SEC(".maps"); // requests per client

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, uint32_t);
    __type(value, uint64_t);
} totals SEC(".maps"); // [0]: every request any version saw; [1]: events the ring buffer had no room for

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1024 * 1024);
} events SEC(".maps");

// Counts the request for its client and in the totals; returns the client's count.
static inline uint64_t count_request(struct request* r) {
    uint32_t zero = 0;
    uint64_t* total = bpf_map_lookup_elem(&totals, &zero);
    if (total) {
        __sync_fetch_and_add(total, 1);
    }
    uint32_t client = r->client;
    uint64_t* count = bpf_map_lookup_elem(&counts, &client);
    if (count) {
        return __sync_fetch_and_add(count, 1) + 1;
    }
    uint64_t one = 1;
    if (bpf_map_update_elem(&counts, &client, &one, BPF_NOEXIST) != 0) {
        // Another thread added it first.
        count = bpf_map_lookup_elem(&counts, &client);
        if (count) {
            return __sync_fetch_and_add(count, 1) + 1;
        }
    }
    return 1;
}

static inline int refuse(struct request* r, uint32_t status, uint32_t version, uint64_t count) {
    struct event e = {r->client, status, version, (uint32_t)count};
    if (bpf_ringbuf_output(&events, &e, sizeof e, 0) != 0) {
        uint32_t one = 1;
        uint64_t* dropped = bpf_map_lookup_elem(&totals, &one);
        if (dropped) {
            __sync_fetch_and_add(dropped, 1);
        }
    }
    r->status = status;
    return DENY;
}
