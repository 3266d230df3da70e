// A plugin the verifier rejects (it reads past the packet it never checked), built only with
// -DEMBPF_CONSUMER_REJECTED_PLUGIN=ON: embpf_add_plugin must then fail the build with the verifier's report.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

SEC("xdp")
int unchecked(struct xdp_md* ctx) {
    const __u8* data = (const __u8*)(long)ctx->data;
    return data[12];
}

char LICENSE[] SEC("license") = "GPL";
