#!/usr/bin/env bash
# Fails when a C or C++ source differs from what clang-format-14 makes of it (.clang-format).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c' '*.inc' | grep -v '^single_include/')
clang-format-14 --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files checked"
