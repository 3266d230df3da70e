#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite.
#   tools/test.sh              release build, every test
#   tools/test.sh --sanitize   the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)
#   tools/test.sh --tsan       the concurrent runtime and api tests under ThreadSanitizer (clang), every program
#                              they load in the JIT (EMBPF_DEFAULT_ENGINE=jit)
#   tools/test.sh --arm64      the engines cross-compiled for AArch64, their unit tests and the conformance suite in
#                              the AArch64 JIT, under qemu-user (after a default build, whose conformance runner it uses)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/install-deps.sh"

if [ "${1:-}" = "--tsan" ]; then
    build="$root/build-tsan"
    CC=clang CXX=clang++ EMBPF_BUILD_TYPE=RelWithDebInfo EMBPF_TARGET=embpf_tests "$root/tools/build.sh" "$build" \
        -DEMBPF_SANITIZE=thread -DEMBPF_BUILD_BENCHMARKS=OFF -DEMBPF_BUILD_EXAMPLES=OFF -DEMBPF_BUILD_TOOLS=OFF \
        -DEMBPF_DEFAULT_ENGINE=jit
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    # The map stress tests and everything else that runs programs or maps from several threads: the runtime suite
    # and the api suite, whose typed maps and ring buffers are used from other threads (per-CPU slots, an iterator
    # racing a writer, a producer thread waking a poll).
    "$build/tests/embpf_tests" -ts='runtime*,api*' -tc='*'
    exit 0
elif [ "${1:-}" = "--arm64" ]; then
    build="$root/build-arm64"
    cmake -S "$root/tests/arm64" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake" \
        > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
    cmake --build "$build" --parallel "${EMBPF_JOBS:-$(nproc)}"
    qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
    "${qemu[@]}" "$build/embpf_jit_tests" -ts='exec*'
    # The conformance runner (a build-machine program) starts the AArch64 plugin through qemu for each case.
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${qemu[*]}" "$build/embpf-plugin" > "$build/embpf-plugin-qemu"
    chmod +x "$build/embpf-plugin-qemu"
    [ -x "$root/build/tests/embpf_conformance" ] || EMBPF_TARGET=embpf_conformance "$root/tools/build.sh" "$root/build"
    status=0
    "$root/build/tests/embpf_conformance" "$build/embpf-plugin-qemu" "$root/../shared/conformance" \
        --required-in-ci "$root/../shared" -- --engine jit || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
        exit "$status"
    fi
    exit 0
elif [ "${1:-}" = "--sanitize" ]; then
    build="$root/build-sanitize"
    # Benchmarks and examples add nothing under sanitizers; the tests cover the library and tools.
    CC=clang CXX=clang++ EMBPF_BUILD_TYPE=RelWithDebInfo "$root/tools/build.sh" "$build" \
        -DEMBPF_SANITIZE=address,undefined -DEMBPF_BUILD_FUZZERS=ON -DEMBPF_BUILD_BENCHMARKS=OFF \
        -DEMBPF_BUILD_EXAMPLES=OFF
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
    build="$root/build"
    "$root/tools/build.sh" "$build"
fi
ctest --test-dir "$build" --output-on-failure --parallel "${EMBPF_JOBS:-$(nproc)}"
