/* CRC-32 (IEEE 802.3, reflected, as zlib computes it) over the input buffer, a nibble at a time with
 * a 16-entry table built on the stack: eBPF programs have no room for the usual 1 KiB table. */
#include "bench_ctx.h"

#define CRC32_MAX_BYTES 4096
#define CRC32_POLY 0xedb88320U

EMBPF_BENCH_PROGRAM(crc32) {
    uint32_t table[16];
    for (uint32_t i = 0; i < 16; i++) {
        uint32_t c = i;
        for (int k = 0; k < 4; k++) {
            c = (c >> 1) ^ (CRC32_POLY & (0U - (c & 1U)));
        }
        table[i] = c;
    }

    uint64_t address = ctx->data;
    const uint64_t end = ctx->data_end;
    uint32_t crc = 0xffffffffU;
    for (int i = 0; i < CRC32_MAX_BYTES; i++) {
        if (address + 1 > end) {
            break;
        }
        crc ^= *(const uint8_t*)embpf_bench_ptr(address);
        crc = (crc >> 4) ^ table[crc & 15U];
        crc = (crc >> 4) ^ table[crc & 15U];
        address++;
    }
    return ~crc;
}
