// Compiled only for its BTF: the target types of tests/elf/test_core.cpp.
#include "target_v2.h"

__attribute__((section("types"), used)) int anchor(struct task___v2* t, struct cred* c, enum task_state___v2 s) {
    return 0;
}
