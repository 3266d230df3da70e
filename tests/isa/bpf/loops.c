// Loops, a switch, stack buffers and 64-bit constants, for the default (v1) instruction set.
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

struct packet {
    u64 flags;
    u32 length;
    u16 kind;
    u8 bytes[64];
};

u64 checksum(const struct packet* p) {
    u64 sum = 0x1234567890abcdefULL;
    for (u32 i = 0; i < 64 && i < p->length; i++) {
        sum = (sum << 5) ^ (sum >> 59) ^ p->bytes[i];
    }
    return sum ^ 0xfedcba9876543210ULL;
}

long classify(const struct packet* p) {
    switch (p->kind) {
    case 1: return p->flags & 0xff00ff00ff00ff00ULL ? 10 : 11;
    case 2: return (long)p->length * -3;
    case 7: return (long)(p->flags >> 17);
    case 9: return -1;
    case 12: return (long)p->bytes[3] << 40;
    default: return 0;
    }
}

u64 spill(const struct packet* p) {
    volatile u64 stack[8];
    for (int i = 0; i < 8; i++) {
        stack[i] = p->flags * (u64)(i + 1);
    }
    u64 total = 0;
    for (int i = 7; i >= 0; i--) {
        total += stack[i] / (p->length | 1) + stack[i] % 13;
    }
    return total;
}

long signed_compare(long a, long b) {
    long r = 0;
    if (a < b)
        r += 1;
    if (a <= -100)
        r += 2;
    if (a > 5000000000LL)
        r += 4;
    if ((unsigned long)b >= 12)
        r += 8;
    if (a & b)
        r -= 16;
    if (a != b)
        r = -r;
    return r >> 3;
}
