// 32-bit arithmetic, 32-bit jumps and byte swaps (-mcpu=v3 gives alu32 and jmp32).
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

u32 mix32(u32 a, u32 b, int c) {
    u32 r = a * 2654435761u;
    r ^= b >> 7;
    r += (u32)(c >> 3);
    r |= b << 11;
    r &= ~a;
    r -= 12345;
    if (c < -7)
        r = -r;
    if (b > 99)
        r /= b;
    if ((int)a >= c)
        r %= 1000;
    return r;
}

u64 swaps(u64 x, u32 y, u16 z) { return __builtin_bswap64(x) + __builtin_bswap32(y) + __builtin_bswap16(z); }

int compare32(int a, int b, unsigned ua, unsigned ub) {
    int r = 0;
    if (a == 7)
        r |= 1;
    if (a != b)
        r |= 2;
    if (a > b)
        r |= 4;
    if (a <= -3)
        r |= 8;
    if (ua < ub)
        r |= 16;
    if (ua >= 1000)
        r |= 32;
    if (ua & 4)
        r |= 64;
    return r;
}

u32 loads(const u8* p) {
    u32 w = *(const u32*)p;
    u16 h = *(const u16*)(p + 4);
    u8 b = p[6];
    signed char s = (signed char)p[7];
    return w + h + b + (u32)s;
}

void stores(u8* p, u32 v) {
    *(u32*)p = v;
    *(u16*)(p + 4) = (u16)v;
    p[6] = (u8)v;
    p[7] = 42;
    *(u64*)(p + 8) = 0;
}
