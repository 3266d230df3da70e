// Calls a helper the host registers (id 1000): it logs a request line and returns its length.
#include "bpf_helpers.h"

static long (*const log_request)(const char* text, uint32_t size) = (void*)1000;

SEC("bind")
int log_binds(bind_md_t* ctx) {
    char line[16] = "bind request";
    return log_request(line, sizeof(line));
}
