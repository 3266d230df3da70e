/* The context every benchmark program takes in r1, shared by the eBPF build (clang -target bpf) and
 * the native build (the host C compiler) of the same source. */
#ifndef EMBPF_BENCH_CTX_H
#define EMBPF_BENCH_CTX_H

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the benchmark programs read big-endian header fields with byte swaps and assume a little-endian target"
#endif

/* Pointers are held in 64-bit fields so the layout is the same for the host and for eBPF. */
struct embpf_bench_ctx {
    uint64_t data;     /* first byte of the input buffer */
    uint64_t data_end; /* one past its last byte */
    uint64_t seed;     /* a program-specific parameter */
    uint64_t count;    /* a program-specific bound */
};

#define EMBPF_BENCH_INLINE static inline __attribute__((always_inline))

/* Bounds checks are done on the 64-bit addresses, as an eBPF program compares packet pointers with
 * data_end, and a pointer is formed only for a read that passed its check. */
EMBPF_BENCH_INLINE const void* embpf_bench_ptr(uint64_t address) { return (const void*)(uintptr_t)address; }

/* The entry of a program: for eBPF its own section "bench/<name>" (extracted with objcopy), natively a
 * plain function embpf_native_<name> the benchmark calls directly. */
#if defined(__bpf__)
#define EMBPF_BENCH_PROGRAM(name)                                                                                      \
    __attribute__((section("bench/" #name), used)) uint64_t name(struct embpf_bench_ctx* ctx);                         \
    __attribute__((section("bench/" #name), used)) uint64_t name(struct embpf_bench_ctx* ctx)
#elif defined(EMBPF_BENCH_NATIVE_CLANG)
/* A second native build, by clang (LLVM's code generator, as the optimizing JIT's), beside the host compiler's. */
#define EMBPF_BENCH_PROGRAM(name) uint64_t embpf_native_clang_##name(struct embpf_bench_ctx* ctx)
#else
#define EMBPF_BENCH_PROGRAM(name) uint64_t embpf_native_##name(struct embpf_bench_ctx* ctx)
#endif

#if !defined(__bpf__)
#ifdef __cplusplus
extern "C" {
#endif
uint64_t embpf_native_fnv1a(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_packet_parse(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_inet_checksum(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_crc32(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_insertion_sort(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_xorshift_collatz(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_fnv1a(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_packet_parse(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_inet_checksum(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_crc32(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_insertion_sort(struct embpf_bench_ctx* ctx);
uint64_t embpf_native_clang_xorshift_collatz(struct embpf_bench_ctx* ctx);
#ifdef __cplusplus
}
#endif
#endif

#endif /* EMBPF_BENCH_CTX_H */
