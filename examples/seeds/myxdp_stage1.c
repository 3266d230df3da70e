// clang-format off
// Seed 000 ("eBPF programming on Windows"), myxdp.c, first stage: the simplest program, returning 2 (XDP_DROP on
// Windows). Filled gap: the tutorial explains SEC("xdp") but its listing lost the line, and the closing brace.
// myxdp.c
#include "bpf_helpers.h"
#include "stdint.h"
SEC("xdp")
int32_t our_program(){
  return 2;
}
