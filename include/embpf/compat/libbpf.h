/* embpf's libbpf-compatible C API: a loader written for libbpf or for eBPF for Windows' libbpf port (bpf_object__open,
 * bpf_object__load, bpf_program__attach, bpf_map_lookup_elem, ring_buffer__poll, ...) runs against embpf in the host's
 * own process. Usable from C and C++; link embpf::compat (libembpf_compat.a, with libembpf.a and libelf).
 *
 * The conventions are libbpf's: a call that returns a pointer returns NULL and sets errno on failure; one that returns
 * an int returns 0 (or a count, or a file descriptor) on success and a negative errno on failure, and sets errno too.
 *
 * What differs, because nothing here enters a kernel:
 *  - File descriptors come from a table in the process: they are not the operating system's, so close(2) does not
 *    close them. The descriptors of an object's programs and maps (bpf_program__fd, bpf_map__fd) live as long as the
 *    object; one from bpf_obj_get or bpf_*_get_fd_by_id is the caller's, closed with embpf_fd_close. They are numbered
 *    from EMBPF_FD_BASE up, far above the numbers the system hands out, so that a number from the table is never a
 *    descriptor of the system's too.
 *  - bpf_program__attach attaches to the hook of the program's type (chosen by its section name, as libbpf does), a
 *    hook the compat layer keeps for each program type. The host (or a test standing in for the kernel) runs the
 *    programs attached there with embpf_hook_invoke, on a context it builds.
 *  - Pins are paths in the process (bpf_obj_pin, bpf_obj_get), not files of a BPF file system.
 *  - Objects load for the platform their file asks for (eBPF for Windows' section tag: windows, else linux) unless
 *    embpf_set_platform chose one.
 */
#ifndef EMBPF_COMPAT_LIBBPF_H
#define EMBPF_COMPAT_LIBBPF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The first descriptor number of the in-process table. */
#define EMBPF_FD_BASE (1 << 28)

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct ring_buffer;

/* The map kinds and update flags, numbered as Linux numbers them. */
enum bpf_map_type {
    BPF_MAP_TYPE_UNSPEC = 0,
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PROG_ARRAY = 3,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
    BPF_MAP_TYPE_PERCPU_HASH = 5,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
    BPF_MAP_TYPE_LPM_TRIE = 11,
    BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
    BPF_MAP_TYPE_HASH_OF_MAPS = 13,
    BPF_MAP_TYPE_QUEUE = 22,
    BPF_MAP_TYPE_STACK = 23,
    BPF_MAP_TYPE_RINGBUF = 27,
    BPF_MAP_TYPE_BLOOM_FILTER = 30,
};

#ifndef BPF_ANY
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2
#define BPF_F_LOCK 4
#endif

/* Options structs carry their own size (sz) first, as libbpf's do, so that a caller built against another version of
 * this header is understood: fields past sz are taken as 0 (and outputs past sz are not written), and a struct larger
 * than this header's is refused with -EINVAL unless the bytes past it are 0. LIBBPF_OPTS declares one with sz set and
 * every field it does not name 0 (C++ needs the named fields in declaration order). */
#define LIBBPF_OPTS(TYPE, NAME, ...)                                                                                   \
    _Pragma("GCC diagnostic push")                                                                                     \
        _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"") struct TYPE NAME = {                        \
            .sz = sizeof(struct TYPE), __VA_ARGS__};                                                                   \
    _Pragma("GCC diagnostic pop")
#define DECLARE_LIBBPF_OPTS LIBBPF_OPTS

struct bpf_object_open_opts {
    size_t sz;
    /* The object's name (bpf_object__name); the file's name without its directory and extension when NULL. */
    const char* object_name;
};

/* ---- objects ---- */

struct bpf_object* bpf_object__open(const char* path);
struct bpf_object* bpf_object__open_file(const char* path, const struct bpf_object_open_opts* opts);
struct bpf_object* bpf_object__open_mem(const void* obj_buf, size_t obj_buf_sz,
                                        const struct bpf_object_open_opts* opts);
/* Verifies and loads every program whose autoload is on, and creates the maps. On failure the verifier's report goes
 * to the print callback (libbpf_set_print) and the object stays unloaded: it may only be closed. */
int bpf_object__load(struct bpf_object* obj);
/* Closes the object. What else holds one of its programs (a link, a pin, a descriptor from bpf_obj_get) keeps the
 * object's programs and maps alive with it, as a program keeps the targets of its tail calls; what holds only a map
 * keeps that map alone. NULL is ignored. */
void bpf_object__close(struct bpf_object* obj);
const char* bpf_object__name(const struct bpf_object* obj);

struct bpf_program* bpf_object__find_program_by_name(const struct bpf_object* obj, const char* name);
struct bpf_program* bpf_object__next_program(const struct bpf_object* obj, struct bpf_program* prog);
#define bpf_object__for_each_program(pos, obj)                                                                         \
    for ((pos) = bpf_object__next_program((obj), NULL); (pos) != NULL; (pos) = bpf_object__next_program((obj), (pos)))

struct bpf_map* bpf_object__find_map_by_name(const struct bpf_object* obj, const char* name);
int bpf_object__find_map_fd_by_name(const struct bpf_object* obj, const char* name);
struct bpf_map* bpf_object__next_map(const struct bpf_object* obj, const struct bpf_map* map);
#define bpf_object__for_each_map(pos, obj)                                                                             \
    for ((pos) = bpf_object__next_map((obj), NULL); (pos) != NULL; (pos) = bpf_object__next_map((obj), (pos)))

/* ---- programs ---- */

const char* bpf_program__name(const struct bpf_program* prog);
const char* bpf_program__section_name(const struct bpf_program* prog);
/* The program's descriptor once loaded; -EINVAL before the load and for a program that was not loaded. */
int bpf_program__fd(const struct bpf_program* prog);
bool bpf_program__autoload(const struct bpf_program* prog);
/* Before the load: whether bpf_object__load loads the program (on by default). -EBUSY after the load. */
int bpf_program__set_autoload(struct bpf_program* prog, bool autoload);
size_t bpf_program__insn_cnt(const struct bpf_program* prog);

/* Attaches the loaded program to the hook of its program type (see embpf_hook_invoke). */
struct bpf_link* bpf_program__attach(const struct bpf_program* prog);
/* Detaches (when still attached) and frees the link. NULL is ignored; 0 otherwise. */
int bpf_link__destroy(struct bpf_link* link);
/* Detaches the program; the link stays to be destroyed. */
int bpf_link__detach(struct bpf_link* link);
/* Puts another loaded program of the same type in the link's place, atomically for the hook's invocations. */
int bpf_link__update_program(struct bpf_link* link, struct bpf_program* prog);

/* ---- maps of an object ---- */

const char* bpf_map__name(const struct bpf_map* map);
enum bpf_map_type bpf_map__type(const struct bpf_map* map);
uint32_t bpf_map__key_size(const struct bpf_map* map);
uint32_t bpf_map__value_size(const struct bpf_map* map);
uint32_t bpf_map__max_entries(const struct bpf_map* map);
/* Before the load only: -EBUSY after it. */
int bpf_map__set_max_entries(struct bpf_map* map, uint32_t max_entries);
/* The map's descriptor once the object is loaded; -EINVAL before. */
int bpf_map__fd(const struct bpf_map* map);
/* The calls below check key_sz and value_sz against the map's sizes (-EINVAL when they differ; per-CPU maps take
 * every slot's value, libbpf_num_possible_cpus() values each rounded up to 8 bytes). */
int bpf_map__lookup_elem(const struct bpf_map* map, const void* key, size_t key_sz, void* value, size_t value_sz,
                         uint64_t flags);
int bpf_map__update_elem(const struct bpf_map* map, const void* key, size_t key_sz, const void* value, size_t value_sz,
                         uint64_t flags);
int bpf_map__delete_elem(const struct bpf_map* map, const void* key, size_t key_sz, uint64_t flags);
int bpf_map__get_next_key(const struct bpf_map* map, const void* cur_key, void* next_key, size_t key_sz);

/* ---- maps and programs by descriptor ---- */

/* key and value point at the map's key_size and value_size bytes (a per-CPU map's value: every slot's). -ENOENT when
 * the key is absent, -EEXIST, -E2BIG or -ENOMEM as the update failed, -EBADF for a descriptor that is no map. Queues
 * and stacks take a NULL key: update pushes, lookup peeks, lookup_and_delete pops. */
int bpf_map_lookup_elem(int fd, const void* key, void* value);
int bpf_map_update_elem(int fd, const void* key, const void* value, uint64_t flags);
int bpf_map_delete_elem(int fd, const void* key);
int bpf_map_lookup_and_delete_elem(int fd, const void* key, void* value);
/* The key after key (the first key when key is NULL or absent); -ENOENT after the last. */
int bpf_map_get_next_key(int fd, const void* key, void* next_key);

/* What bpf_prog_test_run_opts runs a program on, and what it saw (Linux's BPF_PROG_TEST_RUN). data_out and ctx_out
 * receive at most data_size_out and ctx_size_out bytes, which are set to the whole size: -ENOSPC when it did not fit.
 */
struct bpf_test_run_opts {
    size_t sz;
    const void* data_in;
    void* data_out;
    uint32_t data_size_in;
    uint32_t data_size_out;
    const void* ctx_in;
    void* ctx_out;
    uint32_t ctx_size_in;
    uint32_t ctx_size_out;
    uint32_t retval;   /* out: the verdict of the last run, as the hook reads it (r0; for a type that reads an
                          out-of-range value as its fallback, the fallback: an XDP action past XDP_REDIRECT reads as
                          XDP_ABORTED, where Linux's test run returns r0 unchanged) */
    int repeat;        /* runs; 0 counts as 1 */
    uint32_t duration; /* out: the average run, in nanoseconds */
    uint32_t flags;    /* none is supported: -EINVAL unless 0 */
    uint32_t cpu;
    uint32_t batch_size;
};
int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts* opts);

/* Pins the program or map of fd at path: -EEXIST when the path holds a pin. */
int bpf_obj_pin(int fd, const char* path);
/* A new descriptor of what path holds (the caller's: embpf_fd_close); -ENOENT when nothing. */
int bpf_obj_get(const char* path);
/* Removes the pin at path; -ENOENT when there was none. */
int embpf_obj_unpin(const char* path);
int bpf_map__pin(struct bpf_map* map, const char* path);
int bpf_map__unpin(struct bpf_map* map, const char* path);
int bpf_program__pin(struct bpf_program* prog, const char* path);
int bpf_program__unpin(struct bpf_program* prog, const char* path);
/* A new descriptor of the live program (map) with this id (embpf's registry ids); -ENOENT when none has it. */
int bpf_prog_get_fd_by_id(uint32_t id);
int bpf_map_get_fd_by_id(uint32_t id);
/* Closes a descriptor from bpf_obj_get or bpf_*_get_fd_by_id: -EBADF for one that is not open, and for an object's
 * own descriptors, which live as long as their object. */
int embpf_fd_close(int fd);

/* ---- ring buffers ---- */

/* Gets each record, to read (the record is the ring's: writing it is undefined). A negative return stops the poll,
 * which returns that error. A callback may call ring_buffer__add; one that polls or consumes a ring buffer of a map
 * being consumed gets -EBUSY, and one that frees its ring_buffer leaves the poll with freed memory, as in libbpf. */
typedef int (*ring_buffer_sample_fn)(void* ctx, void* data, size_t size);
struct ring_buffer_opts {
    size_t sz;
};
/* A consumer of the ring buffer map of map_fd (more with ring_buffer__add). NULL with errno EINVAL for a map that is
 * no ring buffer. */
struct ring_buffer* ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void* ctx,
                                     const struct ring_buffer_opts* opts);
int ring_buffer__add(struct ring_buffer* rb, int map_fd, ring_buffer_sample_fn sample_cb, void* ctx);
/* Consumes the records waiting, waiting up to timeout_ms for one when none is (a negative timeout waits until one
 * comes); the number of records consumed, or the negative error a callback returned. */
int ring_buffer__poll(struct ring_buffer* rb, int timeout_ms);
/* Consumes the records waiting without waiting. */
int ring_buffer__consume(struct ring_buffer* rb);
void ring_buffer__free(struct ring_buffer* rb);

/* ---- diagnostics ---- */

enum libbpf_print_level {
    LIBBPF_WARN,
    LIBBPF_INFO,
    LIBBPF_DEBUG,
};
typedef int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char* format, va_list args);
/* Sets where messages go (warnings to stderr until then; NULL silences them); returns the callback set before. */
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
/* The number of values a per-CPU map holds for a key: the execution slots of maps loaded with the default options. */
int libbpf_num_possible_cpus(void);
/* The message of a negative (or positive) errno returned here, into buf. */
int libbpf_strerror(int err, char* buf, size_t size);

/* ---- what stands in for the kernel ---- */

/* Loads objects opened from now on for this platform: "windows", "linux" or a platform's JSON file (embpf
 * gen platform, at most 64 MiB), whose program types describe the host's hooks; NULL to let each file choose again.
 *
 * Plugins are untrusted: every platform is used as one for untrusted plugins, which offers no helper that reads the
 * host's memory (bpf_probe_read_kernel, ...), so a program that calls one fails to load. A host that runs trusted
 * programs, as a test double for Linux kernel programs does, says so with embpf_trust_plugins(true) before it opens
 * them. */
int embpf_set_platform(const char* platform);
/* Whether objects opened from now on may call the helpers that read host memory (false until the host says so). */
void embpf_trust_plugins(bool trusted);
/* A host helper's function: r1-r5 in, r0 out. */
typedef uint64_t (*embpf_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);
/* Gives the helper `name` (without bpf_) of the platform embpf_set_platform chose its implementation: a host helper
 * a platform's JSON file declares, or a built-in helper the host implements its own way (the rules of
 * embpf::platform::Platform::replace_implementation). Objects loaded afterwards call it. -EINVAL before a platform
 * was chosen; -ENOENT for a helper the platform lacks. */
int embpf_set_helper(const char* name, embpf_helper_fn fn);
/* Runs every program attached to the hook of program type `type` (bpf_program__attach) on a context of ctx_size
 * bytes, in attach order; *verdict (when not NULL) gets the first verdict that is not 0, or 0. 0 (and *verdict 0) when
 * nothing is attached to that type, -EINVAL for a context the type refuses, and another negative errno when a run
 * failed. */
int embpf_hook_invoke(const char* type, void* ctx, size_t ctx_size, uint64_t* verdict);
/* The programs attached to the hook of `type` now. */
size_t embpf_hook_attached(const char* type);

#ifdef __cplusplus
}
#endif

#endif /* EMBPF_COMPAT_LIBBPF_H */
