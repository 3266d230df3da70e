#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time: tools/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET [TARGET...]]
# TARGET is elf, asm, interpreter, verifier, jit, platform or aot (default: all). The verifier target gets twice the
# time: each of its inputs is a whole program to verify and run, and its findings are the ones that matter most. The jit
# target runs the verifier's generated programs in the interpreter and the JIT and compares them
# (tests/fuzz/differential.hpp); the platform target reads platform descriptions (platform::from_json). The aot target
# is no libFuzzer target but a campaign (tests/fuzz/fuzz_aot.cpp): the same oracle with the AOT engine too, programs
# from random seeds in batches whose C the system's compiler builds a few files at a time; it fails on a difference or
# when it compared nothing.
# The corpora start from the build's own eBPF objects and programs (assembly text for the assembler) and are kept in
# BUILD_DIR/fuzz. A target fails when it executed fewer than EMBPF_FUZZ_MIN_UNITS_PER_SECOND (5) inputs a second,
# at least 100, or when it compared the results of no input (its stat::embpf_compared).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$1"
seconds="${2:-60}"
shift 2 || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(elf asm interpreter verifier jit platform aot)
fi
corpus="$build/fuzz"
mkdir -p "$corpus/elf" "$corpus/asm" "$corpus/interpreter" "$corpus/verifier" "$corpus/jit" "$corpus/platform"
find "$build" -name '*.o' -path '*tests*' -newer "$root/CMakeLists.txt" -size -256k -exec cp -n {} "$corpus/elf/" \; 2>/dev/null || true
find "$build" -name '*.bin' -size -64k -exec cp -n {} "$corpus/interpreter/" \; 2>/dev/null || true
# The assembler's corpus is assembly text: the disassembly of the test programs' code sections and, when it ships
# beside the repository, of every conformance program (its raw words turned into bytes).
rm -f "$corpus/asm/"*.c # C sources seeded it once; they never assemble
embpf="$build/tools/embpf"
if [ ! -x "$embpf" ]; then
    echo "fuzz.sh: $embpf is missing; it disassembles the seeds of fuzz_asm" >&2
    exit 1
fi
seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
find "$build" -name '*.bin' -size -64k -exec cp {} "$seeds/" \;
conformance="${EMBPF_CONFORMANCE_DIR:-$root/../shared/conformance}"
if [ -d "$conformance" ]; then
    # perl is essential in Debian; each `-- raw` word is one little-endian 8-byte slot.
    perl -e 'for my $data (@ARGV) {
        open(my $in, "<", $data) or next; my ($raw, $code) = (0, "");
        while (<$in>) {
            if (/^-- *(\w+)/) { $raw = $1 eq "raw"; next }
            $code .= pack("Q<", hex($1)) if $raw && /^0x([0-9a-fA-F]{16})\s*$/;
        }
        (my $name = $data) =~ s{.*/|\.data$}{}g;
        open(my $out, ">", "'"$seeds"'/conformance-$name.bin") or die; binmode $out; print $out $code;
    }' "$conformance"/*.data
fi
# The platform descriptions' corpus: the tests' JSON files and windows() as the tool writes it.
cp -n "$root"/tests/tools/platform/*.json "$corpus/platform/" 2>/dev/null || true
"$embpf" gen platform --platform windows -o "$corpus/platform/windows.json"
asm_seeds=0
for bin in "$seeds"/*.bin; do
    seed="$corpus/asm/$(basename "$bin" .bin).s"
    if [ -s "$seed" ] || "$embpf" disasm "$bin" > "$seed" 2>/dev/null; then
        asm_seeds=$((asm_seeds + 1))
    else
        rm -f "$seed"
    fi
done
if [ "$asm_seeds" -eq 0 ]; then
    echo "fuzz.sh: no program disassembled into a seed for fuzz_asm" >&2
    exit 1
fi
# Inputs that once found a bug stay in the corpus (tests/fuzz/regressions/<target>/). fuzz_jit generates its programs
# as fuzz_verifier does, so the verifier's inputs seed it too.
for target in "${targets[@]}"; do
    sources=("$target")
    if [ "$target" = jit ]; then
        sources+=(verifier)
    fi
    for from in "${sources[@]}"; do
        if [ -d "$root/tests/fuzz/regressions/$from" ]; then
            cp -n "$root/tests/fuzz/regressions/$from/"* "$corpus/$target/" 2>/dev/null || true
        fi
    done
done
# fuzz_interpreter lines up the interpreter loops' stacks on the real C++ stack; ASan's fake stack would move them.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in "${targets[@]}"; do
    if [ "$target" = aot ]; then
        echo "fuzz_aot: ${seconds}s"
        log="$build/fuzz/aot.log"
        if ! "$build/tests/embpf_fuzz_aot" --seconds "$seconds" > "$log" 2>&1; then
            tail -80 "$log"
            echo "fuzz_aot found a problem (the seed to reproduce it with is in $log)"
            exit 1
        fi
        grep '^fuzz_aot: .* programs generated' "$log" || true
        compared="$(sed -n 's/^stat::embpf_compared: *\([0-9]*\)$/\1/p' "$log" | tail -1)"
        if [ -z "$compared" ] || [ "$compared" -eq 0 ]; then
            tail -20 "$log"
            echo "fuzz_aot compared the results of no program (stat::embpf_compared: ${compared:-missing})"
            exit 1
        fi
        continue
    fi
    time="$seconds"
    max_len=65536
    if [ "$target" = verifier ]; then
        time=$((seconds * 2))
        max_len=4096 # the generator reads a byte or two per decision; more bytes add nothing
    elif [ "$target" = jit ]; then
        max_len=4096 # the same generator
    fi
    echo "fuzz_$target: ${time}s"
    log="$build/fuzz/$target.log"
    if ! "$build/tests/embpf_fuzz_$target" -max_total_time="$time" -max_len="$max_len" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz/$target-" "$corpus/$target" > "$log" 2>&1; then
        tail -60 "$log"
        echo "fuzz_$target found a problem; the input is in $build/fuzz/$target-crash-*"
        exit 1
    fi
    # A target that ran (next to) nothing passed vacuously: it must execute at least min_units inputs.
    units="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)$/\1/p' "$log" | tail -1)"
    min_units=$((time * ${EMBPF_FUZZ_MIN_UNITS_PER_SECOND:-5}))
    if [ "$min_units" -lt 100 ]; then
        min_units=100
    fi
    if [ -z "$units" ]; then
        tail -20 "$log"
        echo "fuzz_$target: libFuzzer printed no stat::number_of_executed_units; did the target run?"
        exit 1
    fi
    echo "fuzz_$target: $units inputs executed (at least $min_units required)"
    if [ "$units" -lt "$min_units" ]; then
        tail -20 "$log"
        echo "fuzz_$target executed only $units inputs in ${time}s, fewer than $min_units: it checked next to nothing"
        exit 1
    fi
    # Executing inputs is not checking them: the targets count the inputs whose results they compared.
    compared="$(sed -n 's/^stat::embpf_compared: *\([0-9]*\)$/\1/p' "$log" | tail -1)"
    if [ -n "$compared" ] || [ "$target" != verifier ]; then
        grep '^stat::embpf_' "$log" || true
        if [ -z "$compared" ] || [ "$compared" -eq 0 ]; then
            echo "fuzz_$target compared the results of no input (stat::embpf_compared: ${compared:-missing})"
            exit 1
        fi
    fi
done
