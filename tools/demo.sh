#!/usr/bin/env bash
# The README's first command: install what is missing, build, run the demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tools/install-deps.sh"
EMBPF_TARGET="embpf_demo embpf_plugin_host" "$root/tools/build.sh" "$root/build" > "$root/build.log" 2>&1 || { tail -50 "$root/build.log"; exit 1; }
"$root/build/examples/embpf_demo"
echo
"$root/build/examples/embpf_plugin_host"
