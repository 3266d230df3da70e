// Prints a string through a pointer the program made up: the process id, which the tests set to a host address.
#include "bpf_helpers.h"

SEC("bind")
int print_name(bind_md_t* ctx) {
    char format[] = "name %s";
    bpf_trace_printk3(format, sizeof(format), ctx->process_id);
    return 0;
}
