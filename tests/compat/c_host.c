/* A C host of the libbpf-compatible API: opens the compat test object, leaves the program the verifier rejects and
 * the one only a trusting host loads unloaded, runs the XDP program on packets with bpf_prog_test_run_opts and reads
 * what it left in its maps. */
#include <embpf/compat/libbpf.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int events_seen;

static int on_event(void* ctx, void* data, size_t size) {
    (void)ctx;
    (void)data;
    if (size == sizeof(uint32_t)) {
        ++events_seen;
    }
    return 0;
}

static int fail(const char* what, int err) {
    char message[128];
    libbpf_strerror(err, message, sizeof message);
    fprintf(stderr, "%s: %s\n", what, message);
    return 1;
}

int main(int argc, char** argv) {
    struct bpf_object* obj;
    struct bpf_program* prog;
    struct bpf_map* map;
    struct ring_buffer* rb;
    unsigned char packet[60] = {0};
    unsigned char out[60];
    uint32_t key = 60;
    uint64_t count = 0;
    int err, i;

    if (argc != 2) {
        return 2;
    }
    obj = bpf_object__open(argv[1]);
    if (obj == NULL) {
        return fail("open", errno);
    }
    bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "unchecked"), false);
    bpf_program__set_autoload(bpf_object__find_program_by_name(obj, "probe"), false);
    err = bpf_object__load(obj);
    if (err) {
        return fail("load", err);
    }
    printf("programs:");
    bpf_object__for_each_program(prog, obj) {
        if (bpf_program__fd(prog) >= 0) {
            printf(" %s", bpf_program__name(prog));
        }
    }
    printf("\nmaps:");
    bpf_object__for_each_map(map, obj) { printf(" %s", bpf_map__name(map)); }
    printf("\n");

    rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), on_event, NULL, NULL);
    if (rb == NULL) {
        return fail("ring_buffer__new", errno);
    }
    for (i = 0; i < 3; ++i) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet, .data_out = out,
                    .data_size_out = sizeof out);
        err = bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(obj, "count_packets")), &opts);
        if (err) {
            return fail("test run", err);
        }
        if (i == 0) {
            printf("retval %u, data_out[0] 0x%x\n", opts.retval, out[0]);
        }
    }
    err = bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "lengths"), &key, &count);
    if (err) {
        return fail("lookup", err);
    }
    printf("length %u seen %llu times\n", key, (unsigned long long)count);
    err = ring_buffer__consume(rb);
    if (err < 0) {
        return fail("consume", err);
    }
    printf("events: %d\n", events_seen);
    ring_buffer__free(rb);
    bpf_object__close(obj);
    printf("ok\n");
    return 0;
}
