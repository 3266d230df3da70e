// The request hook's context as its plugins see it (tests/api/request_hook.hpp is the host's side).
#pragma once

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
