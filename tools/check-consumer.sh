#!/usr/bin/env bash
# Installs a built embpf into a scratch prefix and builds the consumer project against it with
# find_package, then runs it: tools/check-consumer.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
prefix="$build/consumer-prefix"
rm -rf "$prefix" "$build/consumer"
cmake --install "$build" --prefix "$prefix" > /dev/null
cmake -S "$root/conanfile-free-cmake" -B "$build/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$build/consumer" > /dev/null
"$build/consumer/consumer"
