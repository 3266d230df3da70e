/* Insertion sort of up to 64 32-bit keys copied from the input buffer into the stack; returns a
 * position-weighted sum of the sorted keys, so that a wrong order changes the result. */
#include "bench_ctx.h"

#define SORT_MAX_KEYS 64

EMBPF_BENCH_PROGRAM(insertion_sort) {
    uint32_t keys[SORT_MAX_KEYS];
    uint64_t count = ctx->count;
    if (count > SORT_MAX_KEYS) {
        count = SORT_MAX_KEYS;
    }
    if (ctx->data + count * sizeof(uint32_t) > ctx->data_end) {
        return 0;
    }
    const uint32_t* input = (const uint32_t*)embpf_bench_ptr(ctx->data);
    for (uint64_t i = 0; i < count; i++) {
        keys[i] = input[i];
    }

    for (uint64_t i = 1; i < count; i++) {
        const uint32_t key = keys[i];
        uint64_t j = i;
        while (j > 0 && keys[j - 1] > key) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = key;
    }

    uint64_t sum = 0;
    for (uint64_t i = 0; i < count; i++) {
        sum += (uint64_t)keys[i] * (i + 1);
    }
    return sum;
}
