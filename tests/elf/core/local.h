// The program's own ("local") types: program.c accesses them with CO-RE, and tests/elf/test_core.cpp includes
// this header too, where preserve_access_index does not exist, to know the layout clang compiled against.
#ifdef __bpf__
#define CORE_RELOCATABLE __attribute__((preserve_access_index))
#else
#define CORE_RELOCATABLE
#endif

enum task_state { TASK_RUNNING = 0, TASK_SLEEPING = 1, TASK_STOPPED = 2, TASK_ZOMBIE = 4 };

struct task {
    int pid;
    char comm[16];
    unsigned flags : 3;
    int prio;
} CORE_RELOCATABLE;

struct mm {
    unsigned long long total;
    unsigned short users;
    union {
        int rss;
        int pages;
    };
} CORE_RELOCATABLE;

struct cred {
    int uid;
} CORE_RELOCATABLE;

// A flavor: relocated against the target's `struct task`.
struct task___old_abi {
    int pid;
} CORE_RELOCATABLE;

// In no target.
struct cgroup {
    int id;
};
