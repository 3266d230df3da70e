#!/usr/bin/env bash
# Verifies the ebpf-samples corpus and prints embpf's verdicts beside PREVAIL's and Linux's.
#   tools/corpus.sh [CORPUS_DIR] [--verdicts FILE]
# CORPUS_DIR defaults to $EMBPF_CORPUS, then corpus/ in the checkout (git-ignored). The corpus is the
# public repository Alan-Jowett/ebpf-samples (commit c504fda) with 4ast/bpf_cilium_test (commit 9820a2f) cloned
# into its bpf_cilium_test/ folder; expected.csv comes from ../shared/corpus. Without either it skips.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${EMBPF_CORPUS:-$root/corpus}"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    corpus="$1"
    shift
fi
expected="${EMBPF_CORPUS_EXPECTED:-$root/../shared/corpus/expected.csv}"
if [ ! -d "$corpus" ] || [ ! -f "$expected" ]; then
    echo "corpus.sh: no corpus at $corpus or no $expected; skipped"
    exit 0
fi
build="${EMBPF_BUILD_DIR:-$root/build}"
cmake --build "$build" --target embpf_corpus >/dev/null
"$build/tools/embpf-corpus" "$corpus" "$expected" "$@"
