// A request hook's plugins: the context hands over the path, the headers and the body as three buffers, each with
// its length; every access is checked against its own buffer's length.
#include "request.h"

// The number of '/' in the path.
SEC("request")
int count_slashes(struct request* r) {
    const unsigned char* path = r->path;
    __u32 length = r->path_len;
    int slashes = 0;
    for (__u32 i = 0; i < 4096; ++i) {
        if (i >= length) {
            break;
        }
        slashes += path[i] == '/';
    }
    return slashes;
}

// Turns the body's lower-case letters into upper-case ones; returns how many, plus 1000 when the headers start with
// 'H'.
SEC("request")
int shout(struct request* r) {
    unsigned char* body = r->body;
    __u32 length = r->body_len;
    int changed = 0;
    for (__u32 i = 0; i < 1024; ++i) {
        if (i >= length) {
            break;
        }
        if (body[i] >= 'a' && body[i] <= 'z') {
            body[i] -= 'a' - 'A';
            ++changed;
        }
    }
    if (r->headers_len >= 1 && r->headers[0] == 'H') {
        changed += 1000;
    }
    return changed;
}

char LICENSE[] SEC("license") = "GPL";
