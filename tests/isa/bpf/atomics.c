// Every atomic operation at both widths (-mcpu=v3).
typedef unsigned long long u64;
typedef unsigned int u32;

u64 atomics64(u64* p, u64 v) {
    __sync_fetch_and_add(p, v);
    __sync_fetch_and_or(p, v);
    __sync_fetch_and_and(p, v);
    __sync_fetch_and_xor(p, v);
    u64 r = __sync_fetch_and_add(p + 1, v);
    r += __sync_fetch_and_or(p + 1, v);
    r += __sync_fetch_and_and(p + 1, v);
    r += __sync_fetch_and_xor(p + 1, v);
    r += __sync_lock_test_and_set(p + 2, v);
    r += __sync_val_compare_and_swap(p + 3, v, r);
    return r;
}

u32 atomics32(u32* p, u32 v) {
    __sync_fetch_and_add(p, v);
    __sync_fetch_and_or(p, v);
    __sync_fetch_and_and(p, v);
    __sync_fetch_and_xor(p, v);
    u32 r = __sync_fetch_and_add(p + 1, v);
    r += __sync_fetch_and_or(p + 1, v);
    r += __sync_fetch_and_and(p + 1, v);
    r += __sync_fetch_and_xor(p + 1, v);
    r += __sync_lock_test_and_set(p + 2, v);
    r += __sync_val_compare_and_swap(p + 3, v, r);
    return r;
}
