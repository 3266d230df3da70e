// Ethernet II header for plugins (clang -target bpf), with the field names of eBPF for Windows' net/if_ether.h.
#pragma once

#include <stdint.h>

typedef uint8_t mac_address_t[6];

// EtherType values in host byte order: compare with bpf_htons(ETHERNET_TYPE_IPV4).
#define ETHERNET_TYPE_IPV4 0x0800
#define ETHERNET_TYPE_ARP 0x0806
#define ETHERNET_TYPE_IPV6 0x86dd

typedef struct _ETHERNET_HEADER {
    uint8_t Destination[6];
    uint8_t Source[6];
    union {
        uint16_t Type;   ///< EtherType (Ethernet II), network byte order
        uint16_t Length; ///< payload length (IEEE 802.3)
    };
} ETHERNET_HEADER, *PETHERNET_HEADER;

_Static_assert(sizeof(ETHERNET_HEADER) == 14, "an Ethernet header is 14 bytes");

// Linux spellings, so that code written against linux/if_ether.h compiles too.
#define ethhdr _ETHERNET_HEADER
#define h_proto Type
#define ETH_P_IP ETHERNET_TYPE_IPV4
#define ETH_P_IPV6 ETHERNET_TYPE_IPV6
#define ETH_HLEN 14
