// A request hook's plugin that reads one byte past the path it was handed: the verifier refuses it, and a checked
// run of it unverified stops at that byte.
#include "request.h"

SEC("request")
int past_the_path(struct request* r) { return r->path[r->path_len]; }

char LICENSE[] SEC("license") = "GPL";
