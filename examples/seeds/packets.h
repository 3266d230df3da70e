// clang-format off
// Seed 000, packets.h: the FiveTuple the xdp program and the user-mode program share.
// Filled gap: the closing "} FiveTuple;" of the typedef.
#pragma once
#include "stdint.h"
#include "net/if_ether.h"
#include "net/ip.h"
#include "net/udp.h"
//I also moved some packet header includes here, 
//since both the user and kernel programs will need it.
typedef struct FiveTuple {
         uint32_t src_address;
         uint32_t dst_address;
         uint16_t src_port;
         uint16_t dst_port;
         uint8_t proto;
} FiveTuple;
