// Compiled only for its BTF: the target types of tests/elf/test_core.cpp.
#include "target_v1.h"

__attribute__((section("types"), used)) int anchor(struct task* t, struct mm* m, struct cred* c, enum task_state s) {
    return 0;
}
