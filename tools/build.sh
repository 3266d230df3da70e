#!/usr/bin/env bash
# Configures and builds embpf in a build directory: tools/build.sh [BUILD_DIR] [cmake args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${EMBPF_BUILD_TYPE:-Release}" "$@" > "$build.configure.log" 2>&1 \
    || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --parallel "${EMBPF_JOBS:-$(nproc)}" ${EMBPF_TARGET:+--target $EMBPF_TARGET}
