#!/bin/bash
# The shared library exports exactly the public API: every function a public
# header declares WINMMAP_EXTERN, and nothing else (no wm_* internal symbol).
# On POSIX systems the mapping calls are libc's, so there the exports are
# the headers' names that the thin POSIX part defines.
# Usage: exports.sh SHARED_LIBRARY native|win [OBJDUMP]
set -u
lib=$1 kind=$2 objdump=${3:-x86_64-w64-mingw32-objdump}
include=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../include" && pwd)
declared=$(grep -rh '^WINMMAP_EXTERN ' "$include" | sed -E 's/__attribute__\(\([a-z]+\)\) //' |
    sed -nE 's/^[^(]*[ *]([a-z_0-9]+)\(.*/\1/p' | sort -u)
if [ "$kind" = win ]; then
    exported=$("$objdump" -p "$lib" |
        sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | sed -nE 's/^\s*\[ *[0-9]+\] (.+)$/\1/p' | sort -u)
else
    exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TW]$/ {print $3}' | grep -v '^_' | sort -u)
fi
status=0
[ -n "$exported" ] || { echo "FAIL: no exports read from $lib"; exit 1; }
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [ -n "$extra" ]; then
    echo "FAIL: exported but not declared in include/:"; echo "$extra" | sed 's/^/  /'; status=1
fi
if [ "$kind" = win ] && [ -n "$missing" ]; then
    echo "FAIL: declared but not exported:"; echo "$missing" | sed 's/^/  /'; status=1
fi
echo "$(echo "$exported" | wc -l) exported, $(echo "$declared" | wc -l) declared; internal: $(grep -c '^wm_' <<<"$exported")"
exit $status
