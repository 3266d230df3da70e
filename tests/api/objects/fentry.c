// A fentry program and an lsm program, written as libbpf's BPF_PROG expands: each argument is a u64 of the context,
// and the pointer arguments are objects (kernel objects in the kernel) whose fields the program reads directly.
#include <linux/bpf.h>

#include <bpf/bpf_helpers.h> // after linux/bpf.h, whose types it uses

struct file_name {
    char bytes[16];
};

struct task {
    int pid;
    int flags;
    struct task* parent;
    struct file_name* name;
};

char LICENSE[] SEC("license") = "GPL";

// The parent's pid, plus the first byte of the task's name (0 without one): through two objects.
SEC("fentry/do_unlinkat")
int parent_pid(unsigned long long* ctx) {
    const struct task* task = (const struct task*)ctx[0];
    if (task == 0 || task->parent == 0) {
        return -1;
    }
    int result = task->parent->pid;
    if (task->name != 0) {
        result += task->name->bytes[0];
    }
    return result;
}

// Denies (-1, EPERM) the tasks whose flags have bit 0 set.
SEC("lsm/task_alloc")
int deny_flagged(unsigned long long* ctx) {
    const struct task* task = (const struct task*)ctx[0];
    return task != 0 && (task->flags & 1) != 0 ? -1 : 0;
}
