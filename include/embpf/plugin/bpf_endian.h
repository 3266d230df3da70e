// Byte order conversions for plugins (clang -target bpf). They fold to constants when their argument is one, so
// `eth->Type == bpf_htons(ETHERNET_TYPE_IPV4)` costs nothing at run time.
#pragma once

#include <stdint.h>

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define bpf_htons(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define bpf_htonl(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))
#define bpf_htonll(x) ((uint64_t)__builtin_bswap64((uint64_t)(x)))
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define bpf_htons(x) ((uint16_t)(x))
#define bpf_htonl(x) ((uint32_t)(x))
#define bpf_htonll(x) ((uint64_t)(x))
#else
#error "unknown byte order"
#endif

// Swapping is its own inverse.
#define bpf_ntohs(x) bpf_htons(x)
#define bpf_ntohl(x) bpf_htonl(x)
#define bpf_ntohll(x) bpf_htonll(x)

// libbpf's spellings.
#define bpf_cpu_to_be16(x) bpf_htons(x)
#define bpf_be16_to_cpu(x) bpf_ntohs(x)
#define bpf_cpu_to_be32(x) bpf_htonl(x)
#define bpf_be32_to_cpu(x) bpf_ntohl(x)
#define bpf_cpu_to_be64(x) bpf_htonll(x)
#define bpf_be64_to_cpu(x) bpf_ntohll(x)
