/* A C host of the libbpf-compatible API, built with `pkg-config --cflags --libs embpf-compat`: it loads the plugin
 * embpf_add_plugin built, runs it on a packet with bpf_prog_test_run_opts and reads its map by descriptor. */
#include <embpf/compat/libbpf.h>

#include <errno.h>
#include <stdio.h>

int main(int argc, char** argv) {
    unsigned char packet[60] = {0x45};
    uint32_t key = 0x45;
    uint64_t seen = 0;
    struct bpf_object* obj;
    int err, i;

    if (argc != 2) {
        return 2;
    }
    obj = bpf_object__open(argv[1]);
    if (obj == NULL || bpf_object__load(obj) != 0) {
        fprintf(stderr, "compat consumer: cannot load %s: errno %d\n", argv[1], errno);
        return 1;
    }
    for (i = 0; i < 2; ++i) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet);
        err = bpf_prog_test_run_opts(bpf_program__fd(bpf_object__find_program_by_name(obj, "count_bytes")), &opts);
        if (err != 0 || opts.retval != sizeof packet) {
            fprintf(stderr, "compat consumer: test run: %d, retval %u\n", err, opts.retval);
            return 1;
        }
    }
    err = bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "by_first_byte"), &key, &seen);
    printf("compat consumer: packets starting 0x45: %llu\n", (unsigned long long)seen);
    bpf_object__close(obj);
    return err == 0 && seen == 2 ? 0 : 1;
}
