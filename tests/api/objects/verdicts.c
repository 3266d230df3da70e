// Request hook plugins that each return their own verdict, for the hook and link tests.
#include <linux/types.h>

#define SEC(name) __attribute__((section(name), used))

struct request;

SEC("request")
int one(struct request* r) { return 1; }

SEC("request")
int two(struct request* r) { return 2; }

SEC("request")
int three(struct request* r) { return 3; }

SEC("request")
int zero(struct request* r) { return 0; }

char LICENSE[] SEC("license") = "GPL";
