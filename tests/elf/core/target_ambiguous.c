// Compiled only for its BTF: the target types of tests/elf/test_core.cpp.
#include "target_ambiguous.h"

__attribute__((section("types"), used)) int anchor(struct task* t, struct task___old* o) { return 0; }
