// Version 2 of the plugin-host's rate limiter: the same quota, and the path /admin refused to everyone (403) after
// looking at every byte of the path and of the headers it is handed, each within its own length; the body's
// lower-case letters are turned upper-case in place.
#include "request.h"

SEC("request")
int limit(struct request* r) {
    uint64_t count = count_request(r);
    const uint8_t* path = r->path;
    uint32_t path_len = r->path_len;
    static const char admin[] = "/admin";
    if (path_len >= sizeof admin - 1) {
        int same = 1;
        for (uint32_t i = 0; i < sizeof admin - 1; i++) {
            if (path[i] != admin[i]) {
                same = 0;
            }
        }
        if (same) {
            return refuse(r, 403, 2, count);
        }
    }
    uint8_t* body = r->body;
    uint32_t body_len = r->body_len;
    for (uint32_t i = 0; i < 256 && i < body_len; i++) {
        if (body[i] >= 'a' && body[i] <= 'z') {
            body[i] -= 'a' - 'A';
        }
    }
    if (count > client_quota(r->client)) {
        return refuse(r, 429, 2, count);
    }
    return ALLOW;
}

char LICENSE[] SEC("license") = "MIT";
