// A target with two flavors of `struct task` that agree on `pid` and `comm` but not on `prio` (nor on `flags`).
struct task {
    int pid;
    char comm[16];
    unsigned flags : 3;
    int prio;
};

struct task___old {
    int pid;
    char comm[16];
    int prio;
    unsigned flags : 3;
};
