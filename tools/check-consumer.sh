#!/usr/bin/env bash
# The ways a host project takes embpf, each built and run: tools/check-consumer.sh [BUILD_DIR] [--source]
#   - find_package against a scratch install of BUILD_DIR: the consumer project (conanfile-free-cmake) builds its
#     plugin with embpf_add_plugin (compiled, verified at build time, its C++ skeleton generated), then loads it
#     through the skeleton, verifies and runs it, and runs it compiled ahead of time into the host (AOT);
#   - the same project with a plugin the verifier rejects: its build fails, printing the verifier's report;
#   - pkg-config: a host compiled and linked with `pkg-config --cflags --libs embpf` alone (and the skeleton and the
#     AOT library the find_package build generated), a C host of the libbpf-compatible API with `embpf-compat`, and a
#     host of the single header (single_include);
#   - with --source, the consumer project over embpf's source tree, by add_subdirectory and by FetchContent from a
#     local path (each builds embpf's library and tool).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
source_modes=0
if [ "${2:-}" = "--source" ]; then
    source_modes=1
fi
prefix="$build/consumer-prefix"
rm -rf "$prefix" "$build/consumer" "$build/consumer-rejected" "$build/consumer-pkgconfig" \
    "$build/consumer-subdirectory" "$build/consumer-fetch"
cmake --install "$build" --prefix "$prefix" > /dev/null

echo "consumer: find_package"
cmake -S "$root/conanfile-free-cmake" -B "$build/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$build/consumer" > /dev/null
"$build/consumer/consumer"

echo "consumer: a plugin the verifier rejects fails the build"
cmake -S "$root/conanfile-free-cmake" -B "$build/consumer-rejected" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DEMBPF_CONSUMER_REJECTED_PLUGIN=ON > /dev/null
if cmake --build "$build/consumer-rejected" > "$build/consumer-rejected.log" 2>&1; then
    echo "check-consumer: the rejected plugin built" >&2
    exit 1
fi
if ! grep -q "Verification failed" "$build/consumer-rejected.log" ||
    ! grep -q "Upper bound must be at most packet_size" "$build/consumer-rejected.log"; then
    echo "check-consumer: the failed build does not show the verifier's report:" >&2
    cat "$build/consumer-rejected.log" >&2
    exit 1
fi
if [ -e "$build/consumer-rejected/consumer_rejected/rejected.o" ]; then
    echo "check-consumer: the rejected plugin left an object behind" >&2
    exit 1
fi
grep -m1 "Upper bound" "$build/consumer-rejected.log"

echo "consumer: pkg-config"
mkdir -p "$build/consumer-pkgconfig"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion embpf
# shellcheck disable=SC2046
g++ -std=c++20 "$root/conanfile-free-cmake/main.cpp" -o "$build/consumer-pkgconfig/consumer" \
    -DCONSUMER_PLUGIN="\"$build/consumer/consumer_plugin/count_bytes.o\"" -I"$build/consumer/consumer_plugin" \
    "$build/consumer/libconsumer_plugin_aot.a" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs embpf)
"$build/consumer-pkgconfig/consumer"

echo "consumer: the libbpf-compatible C API, a C host through pkg-config"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror -c "$root/conanfile-free-cmake/compat_host.c" -o "$build/consumer-pkgconfig/compat.o" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags embpf-compat)
# shellcheck disable=SC2046
g++ "$build/consumer-pkgconfig/compat.o" -o "$build/consumer-pkgconfig/compat_host" \
    $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --libs embpf-compat)
"$build/consumer-pkgconfig/compat_host" "$build/consumer/consumer_plugin/count_bytes.o"

echo "consumer: the single header, with the installed library"
# shellcheck disable=SC2046
g++ -std=c++20 -I"$root/single_include" "$root/conanfile-free-cmake/single_header.cpp" \
    -o "$build/consumer-pkgconfig/single_header" $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --libs embpf)
"$build/consumer-pkgconfig/single_header" "$build/consumer/consumer_plugin/count_bytes.o"

if [ "$source_modes" = 1 ]; then
    echo "consumer: add_subdirectory"
    cmake -S "$root/conanfile-free-cmake" -B "$build/consumer-subdirectory" -G Ninja -DEMBPF_SOURCE_DIR="$root" \
        > /dev/null
    cmake --build "$build/consumer-subdirectory" > /dev/null
    "$build/consumer-subdirectory/consumer"
    echo "consumer: FetchContent"
    cmake -S "$root/conanfile-free-cmake" -B "$build/consumer-fetch" -G Ninja -DEMBPF_FETCH_DIR="$root" > /dev/null
    cmake --build "$build/consumer-fetch" > /dev/null
    "$build/consumer-fetch/consumer"
fi
