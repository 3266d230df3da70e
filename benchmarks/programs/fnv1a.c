/* 64-bit FNV-1a over the input buffer: one byte load, an xor and a 64-bit multiply per byte. */
#include "bench_ctx.h"

#define FNV1A_MAX_BYTES 4096

EMBPF_BENCH_PROGRAM(fnv1a) {
    uint64_t address = ctx->data;
    const uint64_t end = ctx->data_end;
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int i = 0; i < FNV1A_MAX_BYTES; i++) {
        if (address + 1 > end) {
            break;
        }
        hash ^= *(const uint8_t*)embpf_bench_ptr(address);
        hash *= 0x100000001b3ULL;
        address++;
    }
    return hash;
}
