// bpf-to-bpf calls (resolved within .text, relocated from another section) and helper calls (-mcpu=v2).
typedef unsigned long long u64;

static long (*const helper_one)(void* a, long b) = (void*)1;
static long (*const helper_seven)(long a) = (void*)7;

static __attribute__((noinline)) long leaf(long a, long b) { return a * b - (a >> 2); }

static __attribute__((noinline)) long middle(long a) {
    long x = leaf(a, 3);
    return x + helper_seven(x) + leaf(x, a);
}

long entry(long a, long b) {
    char buf[16] = {1, 2, 3};
    long r = middle(a) + helper_one(buf, b);
    return r + leaf(b, r);
}

__attribute__((section("prog"))) long other_section(long a) { return middle(a + 1) - 1; }
