// A request hook's plugin compiled against an older layout of the host's struct: headers and body swapped.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))

struct request {
    const unsigned char* path;
    __u32 path_len;
    __u32 method;
    unsigned char* body;
    __u32 body_len;
    __u32 status;
    const unsigned char* headers;
    __u64 headers_len;
};

SEC("request")
int body_length(struct request* r) { return r->body_len & 0xff; }

char LICENSE[] SEC("license") = "GPL";
