// clang-format off
// Seed 000, myxdp.c, second stage: prints the EtherType WITHOUT a bounds check. It compiles; the verifier must
// reject it at the read of eth_hdr->Type (r1.offset+12, width 2: upper bound must be at most packet_size).
// Filled gaps: the includes the listing omits (net/if_ether.h for ETHERNET_HEADER), SEC("xdp") from the previous
// listing, the closing brace. data_end is unused here, as in the tutorial: build with -Wno-unused-variable.
#include "bpf_helpers.h"
#include "stdint.h"
#include "net/if_ether.h"
//omitted other includes
#include "bpf_endian.h"
SEC("xdp")
int32_t packet_parse(xdp_md_t *ctx) {
      uint8_t* data = ctx->data;
      uint8_t* data_end = ctx->data_end;
      ETHERNET_HEADER *eth_hdr =(ETHERNET_HEADER*)data;            //+++
      bpf_printk("%x", bpf_ntohs(eth_hdr->Type));  //+++ %x to print the number in hex
      return XDP_DROP;
}
