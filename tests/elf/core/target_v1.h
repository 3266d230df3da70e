// A later layout of local.h's types, as a host or kernel might define them: every field moved, fields inserted,
// `comm` longer, `flags` wider and signed, `prio` unsigned, `users` widened (an unsigned integer, so loads of it
// may be resized), `rss` in an anonymous struct, TASK_ZOMBIE renumbered and TASK_STOPPED gone.
enum task_state { TASK_RUNNING = 0, TASK_SLEEPING = 1, TASK_DEAD = 16, TASK_ZOMBIE = 32 };

struct task {
    unsigned long long start_time;
    unsigned int prio;
    unsigned short cpu;
    int flags : 6;
    char comm[24];
    int pid;
};

struct mm {
    int extra;
    struct {
        unsigned int users;
        int rss;
    };
    unsigned long long total;
};

struct cred {
    int gid;
    int uid;
};
