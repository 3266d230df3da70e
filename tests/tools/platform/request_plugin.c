// A plugin for the request hook request_host.json describes, built against the header `embpf gen helpers` writes
// from it: it counts the slashes of the request's path, logs the path through the host's helper and denies a request
// with more than three.
#include "request_helpers.h"

__attribute__((section("request"), used)) int count_slashes(struct request_context* ctx) {
    const __u8* path = ctx->path;
    __u32 length = ctx->path_len;
    if (length > 64) {
        length = 64;
    }
    __u32 slashes = 0;
    for (__u32 i = 0; i < length; i++) {
        if (path[i] == '/') {
            slashes++;
        }
    }
    if (length >= 1) {
        bpf_log_request(path, length);
    }
    ctx->status = slashes;
    return slashes > 3 ? 1 : 0;
}

char LICENSE[] __attribute__((section("license"), used)) = "MIT";
