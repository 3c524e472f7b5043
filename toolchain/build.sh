#!/bin/bash
# Configures and builds winmmap three times: natively (gcc, libc) into
# $WINMMAP_BUILD/native, for 64-bit Windows (mingw-w64 x86_64) into
# $WINMMAP_BUILD/win and for 32-bit Windows (i686) into $WINMMAP_BUILD/win32.
# Extra arguments go to both cmake configure steps.  Expects setup.sh to have run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
cache=${WINMMAP_CACHE:-$top/.cache}
build=${WINMMAP_BUILD:-$top/build}
say() { printf '[build] %s\n' "$*"; }

say "native build in $build/native"
cmake -S "$top" -B "$build/native" -G Ninja "$@" >/dev/null
cmake --build "$build/native"
say "Windows build in $build/win"
cmake -S "$top" -B "$build/win" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$here/mingw-w64-x86_64.cmake" \
    -DWINMMAP_CUNIT_PREFIX="$cache/cunit-mingw" "$@" >/dev/null
cmake --build "$build/win"
say "32-bit Windows build in $build/win32"
cmake -S "$top" -B "$build/win32" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$here/mingw-w64-i686.cmake" \
    -DWINMMAP_CUNIT_PREFIX="$cache/cunit-mingw-i686" "$@" >/dev/null
cmake --build "$build/win32"
