// Programs whose field accesses and builtins clang records as CO-RE relocations against the types of local.h.
// They call no helper and use no map, so that the interpreter runs them once relocated.
#include "local.h"

#define SEC(name) __attribute__((section(name), used))

// The second argument of the builtins: enum bpf_field_info_kind, bpf_type_info_kind, bpf_type_id_kind and
// bpf_enum_value_kind.
enum { FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64, FIELD_RSHIFT_U64 };
enum { TYPE_EXISTS, TYPE_SIZE };
enum { TYPE_ID_LOCAL, TYPE_ID_TARGET };
enum { ENUMVAL_EXISTS, ENUMVAL_VALUE };

#define FIELD_INFO(s, field, what) __builtin_preserve_field_info((s)->field, what)

// Reads a bitfield wherever the target puts it: load the bytes that hold it, shift its top bit up to bit 63, then
// shift it down again, arithmetically when it is signed.
#define READ_BITFIELD(s, field)                                                                                        \
    ({                                                                                                                 \
        const char* at_ = (const char*)(s) + FIELD_INFO(s, field, FIELD_BYTE_OFFSET);                                  \
        unsigned long long bits_ = 0;                                                                                  \
        asm volatile("" : "+r"(at_)); /* keep the relocated offset out of the loads below */                           \
        switch (FIELD_INFO(s, field, FIELD_BYTE_SIZE)) {                                                               \
        case 1: bits_ = *(const unsigned char*)at_; break;                                                             \
        case 2: bits_ = *(const unsigned short*)at_; break;                                                            \
        case 4: bits_ = *(const unsigned int*)at_; break;                                                              \
        case 8: bits_ = *(const unsigned long long*)at_; break;                                                        \
        }                                                                                                              \
        bits_ <<= FIELD_INFO(s, field, FIELD_LSHIFT_U64);                                                              \
        if (FIELD_INFO(s, field, FIELD_SIGNED))                                                                        \
            bits_ = (unsigned long long)((long long)bits_ >> FIELD_INFO(s, field, FIELD_RSHIFT_U64));                  \
        else                                                                                                           \
            bits_ >>= FIELD_INFO(s, field, FIELD_RSHIFT_U64);                                                          \
        bits_;                                                                                                         \
    })

SEC("core") int read_pid_prio(struct task* t) { return t->pid + t->prio; }
SEC("core") int read_comm(struct task* t) { return t->comm[2]; }
SEC("core") long long read_flags(struct task* t) { return (long long)READ_BITFIELD(t, flags); }
SEC("core") int read_mm(struct mm* m) { return m->users * 1000 + m->rss; }
SEC("core") int read_uid(struct cred* c) { return c->uid; }
SEC("core") int read_old_pid(struct task___old_abi* t) { return t->pid; }

SEC("core") int has_prio(struct task* t) { return FIELD_INFO(t, prio, FIELD_EXISTS); }
SEC("core") int comm_size(struct task* t) { return FIELD_INFO(t, comm, FIELD_BYTE_SIZE); }
SEC("core") int prio_signed(struct task* t) { return FIELD_INFO(t, prio, FIELD_SIGNED); }
SEC("core") int flags_lshift(struct task* t) { return FIELD_INFO(t, flags, FIELD_LSHIFT_U64); }
SEC("core") int flags_rshift(struct task* t) { return FIELD_INFO(t, flags, FIELD_RSHIFT_U64); }

SEC("core") int task_exists(void* ctx) { return __builtin_preserve_type_info(*(struct task*)0, TYPE_EXISTS); }
SEC("core") int task_size(void* ctx) { return __builtin_preserve_type_info(*(struct task*)0, TYPE_SIZE); }
SEC("core") int cgroup_exists(void* ctx) { return __builtin_preserve_type_info(*(struct cgroup*)0, TYPE_EXISTS); }
SEC("core") long task_type_id(void* ctx) { return __builtin_btf_type_id(*(struct task*)0, TYPE_ID_TARGET); }
SEC("core") long task_local_type_id(void* ctx) { return __builtin_btf_type_id(*(struct task*)0, TYPE_ID_LOCAL); }

SEC("core") long zombie_exists(void* ctx) {
    return __builtin_preserve_enum_value(*(enum task_state*)TASK_ZOMBIE, ENUMVAL_EXISTS);
}
SEC("core") long zombie_value(void* ctx) {
    return __builtin_preserve_enum_value(*(enum task_state*)TASK_ZOMBIE, ENUMVAL_VALUE);
}
SEC("core") long stopped_exists(void* ctx) {
    return __builtin_preserve_enum_value(*(enum task_state*)TASK_STOPPED, ENUMVAL_EXISTS);
}
