#!/usr/bin/env bash
# Installs the Debian 12 packages embpf needs to build, test and benchmark, when they are missing.
set -euo pipefail

packages=(
    build-essential cmake ninja-build git
    clang llvm libclang-rt-14-dev # the BPF target for test plugins, llvm-objdump/objcopy, sanitizer runtimes
    clang-format-14
    libelf-dev                    # ELF objects
    libbpf-dev                    # bpf/bpf_helpers.h for the test programs written for Linux
    linux-libc-dev                # linux/bpf.h and the uapi headers those programs and the platform tests include
    doctest-dev catch2            # unit tests; Catch2 in an example
    libbenchmark-dev              # benchmarks
    libcli11-dev nlohmann-json3-dev # the command-line tool; platforms as JSON (src/platform/json.cpp)
    pkgconf                       # pkg-config: Capstone's flags, and the consumer check of the installed embpf.pc
    libcapstone-dev               # x86-64 listings of JIT code (embpf disasm --jit) and the JIT encoder tests
    llvm-19-dev                   # the optimizing JIT: LLVM 19 and its ORC JIT (EMBPF_WITH_LLVM)
    g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user # the AArch64 JIT, cross-built, run under qemu (test.sh --arm64)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "Installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
