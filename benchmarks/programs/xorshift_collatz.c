/* Integer mixing with data-dependent branches: a xorshift64 generator whose outputs start Collatz
 * sequences (bounded to 256 steps), folded together with an unsigned division and a modulo. */
#include "bench_ctx.h"

#define COLLATZ_MAX_ROUNDS 1024
#define COLLATZ_MAX_STEPS 256

EMBPF_BENCH_PROGRAM(xorshift_collatz) {
    uint64_t x = ctx->seed | 1U;
    uint64_t rounds = ctx->count;
    if (rounds > COLLATZ_MAX_ROUNDS) {
        rounds = COLLATZ_MAX_ROUNDS;
    }
    uint64_t acc = 0;
    for (uint64_t round = 0; round < rounds; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t value = (x & 0x3ff) + 1;
        uint64_t steps = 0;
        while (steps < COLLATZ_MAX_STEPS && value != 1) {
            value = (value & 1) ? 3 * value + 1 : value >> 1;
            steps++;
        }
        acc = acc * 31 + steps;
        acc ^= (x >> 11) % 1000003U;
        acc += x / (steps + 1);
    }
    return acc;
}
