// A target with only a flavor of `struct task` (task___v2) and no `prio`, a 35-bit `flags` that starts a new
// 64-bit unit, a flavored enum, a `cred` whose signed `uid` grew (so a 4-byte load cannot be resized), no `mm`.
enum task_state___v2 { TASK_RUNNING = 0, TASK_STOPPED = 2, TASK_ZOMBIE = 8 };

struct task___v2 {
    int pid;
    unsigned long long flags : 35;
    char comm[16];
};

struct cred {
    long long uid;
};
