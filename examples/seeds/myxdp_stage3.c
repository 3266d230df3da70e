// clang-format off
// Seed 000, myxdp.c, third stage: the same with the bounds check on the Ethernet header; the verifier accepts it.
// Filled gaps: the includes and SEC("xdp") of the previous stage, the eth_hdr declaration the listing omits
// ("omitted above lines"), the closing brace.
#include "bpf_helpers.h"
#include "stdint.h"
#include "net/if_ether.h"
#include "bpf_endian.h"
// omitted above lines
SEC("xdp")
int32_t packet_parse(xdp_md_t *ctx) {
      uint8_t* data = ctx->data;
      uint8_t* data_end = ctx->data_end;
      ETHERNET_HEADER *eth_hdr =(ETHERNET_HEADER*)data;
      //* Bounds check on the ethernet header
      if ((uint8_t*)(eth_hdr + 1) > data_end) goto done;   // <+++++++++++
      // NOTE: the above check is the same as
      // (uint_8*)eth_hdr + sizeof(ETHERNET_HEADER) > data_end
      bpf_printk("%x", bpf_ntohs(eth_hdr->Type));
done: // <++++++++++
      return XDP_DROP;
}
