/* The interface between ahead-of-time compiled programs (the C that `embpf aot` writes) and the runtime that runs
 * them. Plain C, so that the generated code needs no C++ and no other header of embpf: `embpf aot` copies this file
 * into every C file it writes, and a host compiles that file alone.
 *
 * A generated file defines, for each program, a function that runs it and a descriptor (embpf_aot_program) that says
 * what it was compiled from, and one module (embpf_aot_module) listing them. The runtime fills an embpf_aot_env with
 * the helpers and the addresses of the maps the program refers to, and calls the function; exec::AotProgram does this
 * after checking that the descriptor's fingerprint is the one its own load of the object gives. */
#ifndef EMBPF_AOT_ABI_H
#define EMBPF_AOT_ABI_H

#include <stdint.h>

/* Bumped whenever a struct below or the meaning of a field changes: the runtime refuses code of another version. */
#define EMBPF_AOT_ABI_VERSION 1u

#ifdef __cplusplus
extern "C" {
#endif

/* A helper: r1-r5 in, r0 out. */
typedef uint64_t (*embpf_aot_helper)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

/* One element of a map for bpf_for_each_map_elem: its value (NULL: the walk is over) and its key's size. */
struct embpf_aot_element {
    void* value;
    uint32_t key_size;
};

/* An array map whose lookups compiled code computes itself: key k (the 4 bytes at the key pointer) gives
 * values + k * stride when k < max_entries, else NULL, as the map's own lookup does. values 0: not such an array. */
struct embpf_aot_array {
    uint64_t values;
    uint64_t stride;
    uint64_t max_entries;
};

/* What a run of compiled code reaches outside itself. The runtime fills it once per loaded program; the code only
 * reads it, from any number of threads at once. */
struct embpf_aot_env {
    const embpf_aot_helper* helpers;      /* by helper id; NULL where no helper has the id */
    const uint8_t* helper_arguments;      /* by helper id: the registers its function takes (the others get 0) */
    uint64_t helper_count;                /* entries of both */
    uint64_t unwind;                      /* 1 + the id of the helper whose 0 ends the run (conformance); 0: none */
    const uint64_t* references;           /* what each map reference (lddw) of the program loads, by reference */
    const struct embpf_aot_array* arrays; /* by reference: its map as an array whose lookups the code computes */
    /* bpf_for_each_map_elem's walk: the element after `previous_key` (NULL: the first), its key copied to key_out. */
    struct embpf_aot_element (*next_element)(const struct embpf_aot_env* env, uint64_t map, uint64_t calls,
                                             const void* previous_key, void* key_out);
    /* A read of host memory that loads 0 where the process cannot read: width in bytes, | 0x100 to sign-extend. */
    uint64_t (*probe_load)(uint64_t address, int32_t width);
    const void* runtime; /* the runtime's own, for the functions above */
};

/* One compiled program. */
struct embpf_aot_program {
    uint32_t abi_version;     /* EMBPF_AOT_ABI_VERSION of the code */
    const char* name;         /* the program's name in its object */
    const char* section;      /* its ELF section */
    const char* fingerprint;  /* SHA-256, hex, of the code generated for it (exec::AotSource::fingerprint) */
    const char* verification; /* what the verifier proved when the code was generated, as text */
    uint32_t reference_count; /* entries of embpf_aot_env::references the code reads */
    /* Runs the program: r1 = ctx, r2 = ctx_size, r10 = the top of a fresh stack. */
    uint64_t (*run)(void* ctx, uint64_t ctx_size, const struct embpf_aot_env* env);
};

/* The programs of one object. */
struct embpf_aot_module {
    uint32_t abi_version;
    const char* object_hash; /* SHA-256, hex, of the ELF object the code was generated from */
    const char* platform;    /* the name of the platform it was verified on */
    uint32_t program_count;
    const struct embpf_aot_program* const* programs;
};

#ifdef __cplusplus
}
#endif

#endif /* EMBPF_AOT_ABI_H */
