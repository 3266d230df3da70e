#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time: tools/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET [TARGET...]]
# TARGET is elf, asm, interpreter or verifier (default: all). The verifier target gets twice the time: each of its
# inputs is a whole program to verify and run, and its findings are the ones that matter most.
# The corpora start from the build's own eBPF objects and programs and are kept in BUILD_DIR/fuzz.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$1"
seconds="${2:-60}"
shift 2 || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(elf asm interpreter verifier)
fi
corpus="$build/fuzz"
mkdir -p "$corpus/elf" "$corpus/asm" "$corpus/interpreter" "$corpus/verifier"
find "$build" -name '*.o' -path '*tests*' -newer "$root/CMakeLists.txt" -size -256k -exec cp -n {} "$corpus/elf/" \; 2>/dev/null || true
find "$root/tests" -name '*.c' -exec cp -n {} "$corpus/asm/" \; 2>/dev/null || true
find "$build" -name '*.bin' -size -64k -exec cp -n {} "$corpus/interpreter/" \; 2>/dev/null || true
# Inputs that once found a bug stay in the corpus (tests/fuzz/regressions/<target>/).
for target in "${targets[@]}"; do
    if [ -d "$root/tests/fuzz/regressions/$target" ]; then
        cp -n "$root/tests/fuzz/regressions/$target/"* "$corpus/$target/" 2>/dev/null || true
    fi
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in "${targets[@]}"; do
    time="$seconds"
    max_len=65536
    if [ "$target" = verifier ]; then
        time=$((seconds * 2))
        max_len=4096 # the generator reads a byte or two per decision; more bytes add nothing
    fi
    echo "fuzz_$target: ${time}s"
    log="$build/fuzz/$target.log"
    if ! "$build/tests/embpf_fuzz_$target" -max_total_time="$time" -max_len="$max_len" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz/$target-" "$corpus/$target" > "$log" 2>&1; then
        tail -60 "$log"
        echo "fuzz_$target found a problem; the input is in $build/fuzz/$target-crash-*"
        exit 1
    fi
    grep -E 'stat::number_of_executed_units|Done' "$log" || true
done
