#!/usr/bin/env bash
# Fails when the build used a file from a Debian package that tools/install-deps.sh does not install:
#   tools/check-packages.sh BUILD_DIR [-v]      (-v: list each package the build used and how many files)
# BUILD_DIR must be a built Ninja tree. The files the build used are the headers in Ninja's dependency log, the
# headers of the clang -target bpf compiles (custom commands without a depfile: re-run with -M), the libraries of
# the link commands and the tools every command and every ctest test starts (compilers, cmake, ninja, llvm-objdump,
# ...). Each file's package (dpkg -S) must be listed in install-deps.sh, be essential, or be pulled in by one of
# those (Depends and Pre-Depends, transitively, as installed here). A compiler launcher (ccache) is the user's
# choice and not checked.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:?usage: tools/check-packages.sh BUILD_DIR}" && pwd)"
[ -f "$build/build.ninja" ] && [ -f "$build/CMakeCache.txt" ] || {
    echo "check-packages: $build is not a CMake Ninja build" >&2
    exit 1
}
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -1; }
source_dir="$(cache_value CMAKE_HOME_DIRECTORY)"
launchers=" $(cache_value CMAKE_C_COMPILER_LAUNCHER) $(cache_value CMAKE_CXX_COMPILER_LAUNCHER) "
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Only files from outside the source and build trees can come from a package.
external() { grep -E '^/' | grep -vE "^($source_dir|$build)/" || true; }

# 1. Headers of the compiles Ninja tracked.
ninja -C "$build" -t deps | sed -n 's/^ \{4\}//p' | external > "$work/files"
if ! grep -q '^/usr/include/' "$work/files"; then
    echo "check-packages: Ninja's dependency log of $build names no system header; build the tree first" >&2
    exit 1
fi

# Each command ninja would run, one shell segment a line, with the directory it runs in.
ninja -C "$build" -t commands | awk -v build="$build" '{
    dir = build
    n = split($0, parts, / && /)
    for (i = 1; i <= n; ++i) {
        if (parts[i] ~ /^cd /) { dir = substr(parts[i], 4); continue }
        print dir "\t" parts[i]
    }
}' > "$work/segments"

# 2. Tools: the program each segment starts, past a compiler launcher; the build tool and cmake themselves.
{
    awk -F'\t' '{ print $2 }' "$work/segments" | while read -r first second _; do
        case "$launchers" in *" $first "*) first="$second" ;; esac
        case "$first" in /*) echo "$first" ;; esac
    done
    cache_value CMAKE_MAKE_PROGRAM
    cache_value CMAKE_COMMAND
    # The programs ctest starts.
    find "$build" -name CTestTestfile.cmake -exec sed -n 's/^add_test([^ ]* "\([^"]*\)".*/\1/p' {} +
} | sort -u > "$work/tools"
external < "$work/tools" >> "$work/files"

# 3. Headers of the clang -target bpf compiles, which CMake runs as custom commands without a depfile.
# Compiles that differ only in their source run as one clang -M over all their sources.
{ grep -- ' -target bpf ' "$work/segments" || true; } | sed -E 's/ -o [^ ]+//; s/ -c / /; s/ > [^ ]+//' |
    awk -F'\t' '{
        n = split($2, words, / /); flags = ""; source = ""
        for (i = 1; i <= n; ++i) if (words[i] ~ /\.c$/ && words[i] !~ /^-/) source = source " " words[i]; else flags = flags " " words[i]
        key = $1 "\t" flags; if (!(key in sources)) order[++count] = key; sources[key] = sources[key] source
    }
    END { for (i = 1; i <= count; ++i) print order[i] sources[order[i]] }' |
    {
        group=0
        while IFS=$'\t' read -r dir command; do
            group=$((group + 1))
            (cd "$dir" && eval "$command -M" > "$work/bpf-$group.d") ||
                echo "check-packages: cannot list the headers of: $command" >&2 &
        done
        wait
    }
cat "$work"/bpf-*.d 2>/dev/null | tr ' \\' '\n\n' | external >> "$work/files"

# 4. Libraries of the link commands: absolute paths and -l names as the compiler resolves them.
compiler="$(cache_value CMAKE_CXX_COMPILER)"
{ grep -E '(^|\t).*-o [^ ]+ ' "$work/segments" | grep -v ' -c ' || true; } | cut -f2 | tr ' ' '\n' | sort -u | while read -r word; do
    case "$word" in
        /*.so | /*.so.* | /*.a) echo "$word" ;;
        -l*)
            for ext in so a; do
                found="$("$compiler" -print-file-name="lib${word#-l}.$ext")"
                if [ "${found#/}" != "$found" ]; then
                    echo "$found"
                    break
                fi
            done
            ;;
    esac
done | external >> "$work/files"

# Each file as used and with its links resolved; under the merged /usr, dpkg may know either spelling.
sort -u "$work/files" > "$work/used"
tr '\n' '\0' < "$work/used" | xargs -0 realpath -m -- | paste "$work/used" - > "$work/resolved"
tr '\t' '\n' < "$work/resolved" | sort -u > "$work/paths"
sed -nE 's#^/usr/(lib|bin|sbin)/#/\1/#p' "$work/paths" | cat "$work/paths" - |
    xargs dpkg-query -S 2>/dev/null | grep -v '^diversion by' > "$work/owners" || true
# A file counts as packaged when it or its resolved target (in either spelling) has an owner.
awk -F'\t' 'FNR == NR {
        i = index($0, ": "); path = substr($0, i + 2); owners = substr($0, 1, i - 1)
        gsub(/:[a-z0-9]+/, "", owners); gsub(/, /, " ", owners); owner[path] = owners; next
    }
    {
        used = $1; real = $2; alt = real; sub(/^\/usr\//, "/", alt)
        o = owner[real] != "" ? owner[real] : (owner[alt] != "" ? owner[alt] : owner[used])
        print used "\t" o
    }' "$work/owners" "$work/resolved" | sort -u > "$work/by_file"

# Packages install-deps.sh installs, read from its list (comments stripped).
sed -n '/^packages=(/,/^)/p' "$root/tools/install-deps.sh" | sed -e 's/#.*//' -e 's/^packages=(//' -e 's/)$//' |
    tr ' ' '\n' | sed '/^$/d' > "$work/listed"
[ -s "$work/listed" ] || {
    echo "check-packages: no package list in tools/install-deps.sh" >&2
    exit 1
}

# Everything the listed and the essential packages pull in, through Pre-Depends and Depends as installed here.
# An alternative (a | b) counts for each of its installed members; a virtual name for each installed provider.
dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Essential}\t${Provides}\t${Pre-Depends}, ${Depends}\n' |
    awk -F'\t' '$1 ~ /^ii/' > "$work/installed"
awk -F'\t' 'FNR == NR { root[$1] = 1; next }
    {
        pkg = $2; installed[pkg] = 1
        if ($3 == "yes") root[pkg] = 1
        n = split($4, provides, /, */)
        for (i = 1; i <= n; ++i) { split(provides[i], w, / /); if (w[1] != "") provider[w[1]] = provider[w[1]] " " pkg }
        deps[pkg] = $5
    }
    END {
        for (p in root) if (p in installed) queue[++tail] = p
        for (p in root) if (p in installed) seen[p] = 1
        for (head = 1; head <= tail; ++head) {
            n = split(deps[queue[head]], alternatives, /[,|] */)
            for (i = 1; i <= n; ++i) {
                split(alternatives[i], w, /[ (]/); name = w[1]; sub(/:.*/, "", name)
                if (name == "") continue
                candidates = (name in installed ? name : "") provider[name]
                m = split(candidates, cs, / +/)
                for (j = 1; j <= m; ++j) if (cs[j] != "" && !(cs[j] in seen)) { seen[cs[j]] = 1; queue[++tail] = cs[j] }
            }
        }
        for (p in seen) print p
    }' "$work/listed" "$work/installed" | sort -u > "$work/allowed"

# Every listed package must be installed here, or its dependencies cannot vouch for anything.
missing_listed="$(comm -23 <(sort -u "$work/listed") <(awk -F'\t' '{ print $2 }' "$work/installed" | sort -u))"
status=0
if [ -n "$missing_listed" ]; then
    echo "check-packages: listed in install-deps.sh but not installed: $missing_listed"
    status=1
fi
unowned="$(awk -F'\t' '$2 == "" { print $1 }' "$work/by_file")"
if [ -n "$unowned" ]; then
    echo "check-packages: the build used files that no Debian package owns (installed by hand?):"
    sed 's/^/  /' <<< "$unowned"
    status=1
fi
# A file is covered when any of its owners is allowed.
awk -F'\t' 'FNR == NR { allowed[$1] = 1; next }
    $2 != "" {
        n = split($2, owners, / /); ok = 0
        for (i = 1; i <= n; ++i) if (owners[i] in allowed) ok = 1
        if (!ok) print $2 "\t" $1
    }' "$work/allowed" "$work/by_file" | sort > "$work/uncovered"
if [ -s "$work/uncovered" ]; then
    echo "check-packages: the build used packages that tools/install-deps.sh neither lists nor pulls in:"
    awk -F'\t' '{ files[$1] = files[$1] (files[$1] == "" ? "" : ", ") $2; count[$1]++ }
        END { for (p in files) { f = files[p]; if (count[p] > 3) { split(f, a, ", "); f = a[1] ", ... (" count[p] " files)" }
              print "  " p ": " f } }' "$work/uncovered" | sort
    status=1
fi
if [ "${2:-}" = -v ]; then
    awk -F'\t' '{ n = split($2, owners, / /); for (i = 1; i <= n; ++i) count[owners[i]]++ }
        END { for (p in count) printf "  %-32s %d files\n", p, count[p] }' "$work/by_file" | sort
fi
files="$(wc -l < "$work/by_file")"
packages="$(cut -f2 "$work/by_file" | tr ' ' '\n' | sed '/^$/d' | sort -u | wc -l)"
if [ "$status" -eq 0 ]; then
    echo "check-packages: $files files from $packages packages, all installed by tools/install-deps.sh"
fi
exit "$status"
