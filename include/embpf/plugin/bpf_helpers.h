// The plugin author's header, compiled only by clang -target bpf. It follows eBPF for Windows' program model:
// its helper ids, its map-type numbers and its `maps` section layout, so that objects built with it load under
// embpf::platform::windows() (and on eBPF for Windows itself).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebpf_nethooks.h"

// eBPF for Windows recognizes its objects by a one-byte `.ebpf_for_windows` section; embpf uses it the same way to
// pick the windows platform for an object.
static const char __ebpf_for_windows_tag __attribute__((section(".ebpf_for_windows"), used)) = 1;

// ---- Sections and BTF map definitions --------------------------------------------------------------------------

/// Places a program, a map or the license in the ELF section `name`; the section of a program selects its hook.
#define SEC(name) __attribute__((section(name), used))

/// Fields of a BTF map definition in the `.maps` section, as libbpf spells them: the value of an integer field is
/// the length of an array type, the type of a typed field is the pointee.
#define __uint(name, value) int(*name)[value]
#define __type(name, type) __typeof__(type)* name
#define __array(name, type) __typeof__(type)* name[]

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

// ---- Map types (eBPF for Windows numbering, not Linux's) --------------------------------------------------------

typedef enum bpf_map_type {
    BPF_MAP_TYPE_UNSPEC = 0,
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PROG_ARRAY = 3,
    BPF_MAP_TYPE_PERCPU_HASH = 4,
    BPF_MAP_TYPE_PERCPU_ARRAY = 5,
    BPF_MAP_TYPE_HASH_OF_MAPS = 6,
    BPF_MAP_TYPE_ARRAY_OF_MAPS = 7,
    BPF_MAP_TYPE_LRU_HASH = 8,
    BPF_MAP_TYPE_LPM_TRIE = 9,
    BPF_MAP_TYPE_QUEUE = 10,
    BPF_MAP_TYPE_LRU_PERCPU_HASH = 11,
    BPF_MAP_TYPE_STACK = 12,
    BPF_MAP_TYPE_RINGBUF = 13,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 14,
} ebpf_map_type_t;

typedef enum ebpf_pin_type {
    LIBBPF_PIN_NONE = 0,    ///< not pinned
    LIBBPF_PIN_BY_NAME = 1, ///< pinned under the map's name
} ebpf_pin_type_t;

/// A map definition in the legacy `maps` section: eight 32-bit fields, in this order.
typedef struct _ebpf_map_definition_in_file {
    ebpf_map_type_t type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;   ///< for a ring buffer: its size in bytes
    uint32_t inner_map_idx; ///< for a map of maps: the index in `maps` of the inner map's template
    ebpf_pin_type_t pinning;
    uint32_t id;       ///< an id for this definition, referred to by inner_id
    uint32_t inner_id; ///< for a map of maps: the id of the inner map's template
} ebpf_map_definition_in_file_t;

#define bpf_map_def _ebpf_map_definition_in_file

_Static_assert(sizeof(ebpf_map_definition_in_file_t) == 32, "eight 32-bit fields");

// Flags of bpf_map_update_elem.
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

// ---- General helpers (eBPF for Windows' ids) -------------------------------------------------------------------
// A helper is called through a constant "function pointer" whose value is its id; clang emits `call <id>`.

typedef enum {
    BPF_FUNC_map_lookup_elem = 1,
    BPF_FUNC_map_update_elem = 2,
    BPF_FUNC_map_delete_elem = 3,
    BPF_FUNC_map_lookup_and_delete_elem = 4,
    BPF_FUNC_tail_call = 5,
    BPF_FUNC_get_prandom_u32 = 6,
    BPF_FUNC_ktime_get_boot_ns = 7,
    BPF_FUNC_get_smp_processor_id = 8,
    BPF_FUNC_ktime_get_ns = 9,
    BPF_FUNC_csum_diff = 10,
    BPF_FUNC_ringbuf_output = 11,
    BPF_FUNC_trace_printk2 = 12,
    BPF_FUNC_trace_printk3 = 13,
    BPF_FUNC_trace_printk4 = 14,
    BPF_FUNC_trace_printk5 = 15,
    BPF_FUNC_map_push_elem = 16,
    BPF_FUNC_map_pop_elem = 17,
    BPF_FUNC_map_peek_elem = 18,
    BPF_FUNC_get_current_pid_tgid = 19,
    BPF_FUNC_get_current_logon_id = 20,
    BPF_FUNC_is_current_admin = 21,
    BPF_FUNC_memcpy_s = 22,
    BPF_FUNC_memcmp_s = 23,
    BPF_FUNC_memset = 24,
    BPF_FUNC_memmove_s = 25,
    BPF_FUNC_get_socket_cookie = 26,
    BPF_FUNC_strncpy_s = 27,
    BPF_FUNC_strncat_s = 28,
    BPF_FUNC_strnlen_s = 29,
    BPF_FUNC_ktime_get_boot_ms = 30,
    BPF_FUNC_ktime_get_ms = 31,
    BPF_FUNC_perf_event_output = 32,
} ebpf_helper_id_t;

/// The value stored under `key`, or NULL.
static void* (*const bpf_map_lookup_elem)(void* map, const void* key) = (void*)BPF_FUNC_map_lookup_elem;
/// Inserts or replaces the value under `key` (flags: BPF_ANY, BPF_NOEXIST, BPF_EXIST). 0 on success.
static long (*const bpf_map_update_elem)(void* map, const void* key, const void* value,
                                         uint64_t flags) = (void*)BPF_FUNC_map_update_elem;
static long (*const bpf_map_delete_elem)(void* map, const void* key) = (void*)BPF_FUNC_map_delete_elem;
static void* (*const bpf_map_lookup_and_delete_elem)(void* map,
                                                     const void* key) = (void*)BPF_FUNC_map_lookup_and_delete_elem;
/// Jumps to the program at `index` of a program array; returns only when there is none.
static long (*const bpf_tail_call)(void* ctx, void* prog_array_map, uint32_t index) = (void*)BPF_FUNC_tail_call;
static uint32_t (*const bpf_get_prandom_u32)(void) = (void*)BPF_FUNC_get_prandom_u32;
static uint64_t (*const bpf_ktime_get_boot_ns)(void) = (void*)BPF_FUNC_ktime_get_boot_ns;
static uint32_t (*const bpf_get_smp_processor_id)(void) = (void*)BPF_FUNC_get_smp_processor_id;
static uint64_t (*const bpf_ktime_get_ns)(void) = (void*)BPF_FUNC_ktime_get_ns;
/// The one's complement checksum difference of two buffers whose sizes are multiples of 4, added to `seed`.
static int (*const bpf_csum_diff)(void* from, int from_size, void* to, int to_size,
                                  int seed) = (void*)BPF_FUNC_csum_diff;
/// Copies `size` bytes of `data` into a ring buffer map. 0 on success.
static int (*const bpf_ringbuf_output)(void* ring_buffer, void* data, uint64_t size,
                                       uint64_t flags) = (void*)BPF_FUNC_ringbuf_output;
static long (*const bpf_trace_printk2)(const char* fmt, uint32_t fmt_size) = (void*)BPF_FUNC_trace_printk2;
static long (*const bpf_trace_printk3)(const char* fmt, uint32_t fmt_size,
                                       uint64_t arg3) = (void*)BPF_FUNC_trace_printk3;
static long (*const bpf_trace_printk4)(const char* fmt, uint32_t fmt_size, uint64_t arg3,
                                       uint64_t arg4) = (void*)BPF_FUNC_trace_printk4;
static long (*const bpf_trace_printk5)(const char* fmt, uint32_t fmt_size, uint64_t arg3, uint64_t arg4,
                                       uint64_t arg5) = (void*)BPF_FUNC_trace_printk5;
/// Queue and stack maps.
static long (*const bpf_map_push_elem)(void* map, const void* value, uint64_t flags) = (void*)BPF_FUNC_map_push_elem;
static long (*const bpf_map_pop_elem)(void* map, void* value) = (void*)BPF_FUNC_map_pop_elem;
static long (*const bpf_map_peek_elem)(void* map, void* value) = (void*)BPF_FUNC_map_peek_elem;
/// (process id << 32) | thread id.
static uint64_t (*const bpf_get_current_pid_tgid)(void) = (void*)BPF_FUNC_get_current_pid_tgid;
static uint64_t (*const bpf_get_current_logon_id)(const void* ctx) = (void*)BPF_FUNC_get_current_logon_id;
/// 1 when the user behind the request is an administrator, 0 when not, < 0 on error.
static int32_t (*const bpf_is_current_admin)(const void* ctx) = (void*)BPF_FUNC_is_current_admin;
/// Memory and string helpers for sizes the compiler does not know (e.g. lengths read from the context).
static long (*const bpf_memcpy_s)(void* destination, size_t destination_size, const void* source,
                                  size_t source_size) = (void*)BPF_FUNC_memcpy_s;
static int (*const bpf_memcmp_s)(const void* memory1, size_t memory1_size, const void* memory2,
                                 size_t memory2_size) = (void*)BPF_FUNC_memcmp_s;
static long (*const bpf_memset)(void* memory, size_t size, int value) = (void*)BPF_FUNC_memset;
static long (*const bpf_memmove_s)(void* destination, size_t destination_size, const void* source,
                                   size_t source_size) = (void*)BPF_FUNC_memmove_s;
static uint64_t (*const bpf_get_socket_cookie)(const void* ctx) = (void*)BPF_FUNC_get_socket_cookie;
static int (*const bpf_strncpy_s)(char* dest, size_t dest_size, const char* src,
                                  size_t count) = (void*)BPF_FUNC_strncpy_s;
static int (*const bpf_strncat_s)(char* dest, size_t dest_size, const char* src,
                                  size_t count) = (void*)BPF_FUNC_strncat_s;
static size_t (*const bpf_strnlen_s)(const char* str, size_t str_size) = (void*)BPF_FUNC_strnlen_s;
static uint64_t (*const bpf_ktime_get_boot_ms)(void) = (void*)BPF_FUNC_ktime_get_boot_ms;
static uint64_t (*const bpf_ktime_get_ms)(void) = (void*)BPF_FUNC_ktime_get_ms;
static int (*const bpf_perf_event_output)(void* ctx, void* perf_event_array, uint64_t flags, void* data,
                                          uint64_t size) = (void*)BPF_FUNC_perf_event_output;

// memcpy and friends become the helpers, as in eBPF for Windows: clang cannot inline a copy whose size is only
// known at run time, and the BPF target has no library to call. Define EMBPF_NO_MEMORY_MACROS to keep the names.
#if !defined(EMBPF_NO_MEMORY_MACROS) && !defined(memcpy)
#define memcpy(dest, src, size) bpf_memcpy_s(dest, size, src, size)
#define memcmp(mem1, mem2, size) bpf_memcmp_s(mem1, size, mem2, size)
#define memset(mem, value, size) bpf_memset(mem, size, value)
#define memmove(dest, src, size) bpf_memmove_s(dest, size, src, size)
#endif

// ---- bpf_printk ------------------------------------------------------------------------------------------------
// Each trace_printk helper has a fixed prototype the verifier can check, so bpf_printk picks one by the number of
// values after the format (0 to 3). Plain C99 macros: no GNU comma elision, so -std=c11 works too.

#define __EMBPF_PICK_5TH(_1, _2, _3, _4, _5, ...) _5
#define __EMBPF_FIRST(first, ...) first
#define __EMBPF_PRINTK_1(fmt) bpf_trace_printk2(____fmt, sizeof(____fmt))
#define __EMBPF_PRINTK_2(fmt, a) bpf_trace_printk3(____fmt, sizeof(____fmt), a)
#define __EMBPF_PRINTK_3(fmt, a, b) bpf_trace_printk4(____fmt, sizeof(____fmt), a, b)
#define __EMBPF_PRINTK_4(fmt, a, b, c) bpf_trace_printk5(____fmt, sizeof(____fmt), a, b, c)

/// Prints a message with up to three numeric values to the host's trace sink: bpf_printk("%x", value).
#define bpf_printk(...)                                                                                                \
    ({                                                                                                                 \
        char ____fmt[] = __EMBPF_FIRST(__VA_ARGS__, _);                                                                \
        __EMBPF_PICK_5TH(__VA_ARGS__, __EMBPF_PRINTK_4, __EMBPF_PRINTK_3, __EMBPF_PRINTK_2, __EMBPF_PRINTK_1, _)       \
        (__VA_ARGS__);                                                                                                 \
    })
