#!/bin/bash
# The Wine runner starts a program from any directory at any time: two copies
# of one program in two new directories run one after the other under the same
# persistent wineserver, both succeed, and Wine prints nothing of its own
# (such as "XDG_RUNTIME_DIR is invalid") into their output.
# Usage: any_directory.sh WINE(8|10) PROGRAM.exe
set -u
wine=$1 exe=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../toolchain" && pwd)
# The prefix (and so the wineserver) of the other tests in this directory.
export WINMMAP_PREFIX_DIR=${WINMMAP_PREFIX_DIR:-$PWD}
tmp=$(mktemp -d /tmp/winmmap-runner.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
for d in first second; do
    mkdir -p "$tmp/$d"
    cp "$exe" "$tmp/$d/"
    out=$(cd "$tmp/$d" && WINMMAP_WINE=$wine bash "$here/wine-run.sh" "./$(basename "$exe")" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL: $tmp/$d: exit $rc"; echo "$out" | tail -5; failed=$((failed + 1))
    elif grep -q 'XDG_RUNTIME_DIR\|wine:\|err:' <<<"$out"; then
        echo "FAIL: $tmp/$d: Wine wrote into the output:"; grep 'XDG_RUNTIME_DIR\|wine:\|err:' <<<"$out"; failed=$((failed + 1))
    else
        echo "ok: $tmp/$d"; passed=$((passed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
