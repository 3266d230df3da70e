// Version 1 of the plugin-host's rate limiter: a client may make as many requests as its quota says (a host helper
// knows the quota); past it, 429.
#include "request.h"

SEC("request")
int limit(struct request* r) {
    uint64_t count = count_request(r);
    if (count > client_quota(r->client)) {
        return refuse(r, 429, 1, count);
    }
    return ALLOW;
}

char LICENSE[] SEC("license") = "MIT";
