// IPv4 and IPv6 headers for plugins (clang -target bpf). Fields carry both eBPF for Windows' names (SourceAddress,
// Protocol, ...) and Linux's struct iphdr names (saddr, protocol, ...), so code written for either compiles.
// Multi-byte fields are in network byte order.
#pragma once

#include <stdint.h>

#define IPPROTO_IPV4 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ICMPV6 58

#define AF_INET 2
#define AF_INET6 23 // Windows' value; Linux uses 10

typedef uint32_t ipv4_address_t;
typedef uint8_t ipv6_address_t[16];

typedef struct _IPV4_HEADER {
    union {
        uint8_t VersionAndHeaderLength;
        struct {
            uint8_t HeaderLength : 4; ///< in 32-bit words
            uint8_t Version : 4;
        };
        struct {
            uint8_t ihl : 4;
            uint8_t version : 4;
        };
    };
    union {
        uint8_t TypeOfServiceAndEcnField;
        uint8_t tos;
    };
    union {
        uint16_t TotalLength;
        uint16_t tot_len;
    };
    union {
        uint16_t Identification;
        uint16_t id;
    };
    union {
        uint16_t FlagsAndOffset;
        uint16_t frag_off;
    };
    union {
        uint8_t TimeToLive;
        uint8_t ttl;
    };
    union {
        uint8_t Protocol;
        uint8_t protocol;
    };
    union {
        uint16_t HeaderChecksum;
        uint16_t check;
    };
    union {
        ipv4_address_t SourceAddress;
        uint32_t saddr;
    };
    union {
        ipv4_address_t DestinationAddress;
        uint32_t daddr;
    };
} IPV4_HEADER, *PIPV4_HEADER;

_Static_assert(sizeof(IPV4_HEADER) == 20, "an IPv4 header without options is 20 bytes");

typedef struct _IPV6_HEADER {
    uint32_t VersionClassFlow; ///< 4 bits version, 8 bits traffic class, 20 bits flow label
    uint16_t PayloadLength;
    uint8_t NextHeader; ///< IPPROTO_* of the next header
    uint8_t HopLimit;
    ipv6_address_t SourceAddress;
    ipv6_address_t DestinationAddress;
} IPV6_HEADER, *PIPV6_HEADER;

_Static_assert(sizeof(IPV6_HEADER) == 40, "an IPv6 header is 40 bytes");

#define iphdr _IPV4_HEADER
