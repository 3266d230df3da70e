// UDP header for plugins (clang -target bpf), with the field names of eBPF for Windows' net/udp.h. All fields are
// in network byte order.
#pragma once

#include <stdint.h>

typedef struct UDP_HEADER_ {
    uint16_t srcPort;
    uint16_t destPort;
    uint16_t length;   ///< header and payload, in bytes
    uint16_t checksum; ///< 0 when unused (IPv4 only)
} UDP_HEADER, *PUDP_HEADER;

_Static_assert(sizeof(UDP_HEADER) == 8, "a UDP header is 8 bytes");
