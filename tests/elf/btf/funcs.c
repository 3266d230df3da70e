// Functions for tests/elf/test_btf.cpp: static noinline subprograms (FUNC with static linkage), programs in two
// sections, func_info and line_info. The test finds the BTF-MARKER lines at run time to know their numbers.
#define SEC(n) __attribute__((section(n), used))

static __attribute__((noinline)) int square(int value) {
    return value * value; // BTF-MARKER: square body
}

static __attribute__((noinline)) long add3(long a, long b, long c) { return a + b + c; }

SEC("prog") int entry(void* ctx) { // BTF-MARKER: entry
    long n = (long)ctx;
    return square((int)n) + (int)add3(n, 2, 3);
}

SEC("prog/second") int second_entry(void* ctx) { return square((int)(long)ctx); }
