#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite.
#   tools/test.sh              release build, every test
#   tools/test.sh --sanitize   the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)
#   tools/test.sh --tsan       the concurrent runtime and api tests under ThreadSanitizer (clang)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/install-deps.sh"

if [ "${1:-}" = "--tsan" ]; then
    build="$root/build-tsan"
    CC=clang CXX=clang++ EMBPF_BUILD_TYPE=RelWithDebInfo EMBPF_TARGET=embpf_tests "$root/tools/build.sh" "$build" \
        -DEMBPF_SANITIZE=thread -DEMBPF_BUILD_BENCHMARKS=OFF -DEMBPF_BUILD_EXAMPLES=OFF -DEMBPF_BUILD_TOOLS=OFF
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    # The map stress tests and everything else that runs programs or maps from several threads: the runtime suite
    # and the api suite, whose typed maps and ring buffers are used from other threads (per-CPU slots, an iterator
    # racing a writer, a producer thread waking a poll).
    "$build/tests/embpf_tests" -ts='runtime*,api*' -tc='*'
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
