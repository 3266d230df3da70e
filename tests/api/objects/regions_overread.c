// A request hook's plugin that reads one byte past the path it was handed: the verifier refuses it, and a checked
// run of it unverified stops at that byte.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))

struct request {
    const unsigned char* path;
    __u32 path_len;
    __u32 method;
    const unsigned char* headers;
    __u64 headers_len;
    unsigned char* body;
    __u32 body_len;
    __u32 status;
};

SEC("request")
int past_the_path(struct request* r) { return r->path[r->path_len]; }

char LICENSE[] SEC("license") = "GPL";
