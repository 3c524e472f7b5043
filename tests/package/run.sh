#!/bin/bash
# Installs winmmap from a build tree into a scratch prefix and builds an
# outside project against it in the four ways a user would: the CMake package
# (winmmap::winmmap static, winmmap::shared DLL) and pkg-config (winmmap: the
# DLL, winmmap-static), then runs each build; each must print "consumer: ok".
# Usage: run.sh BUILD_DIR native|WINE(8|10) [TOOLCHAIN_FILE]   (Windows runs take
# WINMMAP_STRATEGY from the environment; the DLL is copied beside the
# program, as a Windows user deploys it.)
set -u
build=$(realpath "$1") run=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
toolchain=$(cd "$here/../../toolchain" && pwd)
work=$build/package-$run
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
passed=0 failed=0
# needs_lib PROGRAM: does it load the shared library (DLL / .so)?
needs_lib() {
    if [ "$run" = native ]; then
        readelf -d "$1" | grep -q 'NEEDED.*libwinmmap\.so'
    else
        "$triple-objdump" -p "$1" | grep -qi 'DLL Name: libwinmmap\.dll'
    fi
}
check() { # NAME shared|static PROGRAM: runs the program, which must print "consumer: ok"
    local name=$1 kind=$2 prog=$3 out rc
    if needs_lib "$prog"; then linked=shared; else linked=static; fi
    if [ $linked != "$kind" ]; then
        echo "FAIL: $name: linked $linked, expected $kind"; failed=$((failed + 1)); return
    fi
    # Into a file: Wine's system processes, started by a program, inherit its
    # output and live on with the wineserver; a pipe would wait for them.
    launch "$prog" >"$work/out" 2>&1
    rc=$?
    out=$(cat "$work/out")
    if [ $rc -eq 0 ] && grep -q '^consumer: ok' <<<"$out"; then
        echo "ok: $name, $linked ($(head -1 <<<"$out"))"; passed=$((passed + 1))
    else
        echo "FAIL: $name: exit $rc"; echo "$out" | tail -8; failed=$((failed + 1))
    fi
}
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }

if [ "$run" = native ]; then
    cc=gcc exe=consumer libdir=$(dirname "$(find "$prefix" -name winmmap.pc)")/..
    cmake_args=()
    launch() { LD_LIBRARY_PATH=$libdir "$@"; }
else
    toolchain_file=${3:-$toolchain/mingw-w64-x86_64.cmake}
    triple=$(sed -n 's/^set(WINMMAP_MINGW_ARCH \(.*\))$/\1/p' "$toolchain_file")-w64-mingw32
    cc=$triple-gcc exe=consumer.exe
    cmake_args=(-DCMAKE_TOOLCHAIN_FILE="$toolchain_file")
    export WINMMAP_WINE=$run WINMMAP_PREFIX_DIR=${WINMMAP_PREFIX_DIR:-$PWD}
    launch() { bash "$toolchain/wine-run.sh" "$@"; }
fi

# CMake: winmmap_DIR names the package (a cross toolchain confines the
# search paths to its sysroot, so the prefix is given this way).
cmake -S "$here/consumer" -B "$work/cmake" -G Ninja "${cmake_args[@]}" \
    -Dwinmmap_DIR="$(dirname "$(find "$prefix" -name winmmapConfig.cmake)")" >"$work/cmake.log" 2>&1 &&
    cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
[ "$run" = native ] || cp "$prefix"/bin/*.dll "$work/cmake/"
check "cmake winmmap::winmmap" static "$work/cmake/consumer-static${exe#consumer}"
check "cmake winmmap::shared" shared "$work/cmake/consumer-shared${exe#consumer}"

# pkg-config, with the installed .pc files only.
for pc in winmmap winmmap-static; do
    mkdir -p "$work/$pc"
    flags=$(PKG_CONFIG_LIBDIR=$(dirname "$(find "$prefix" -name winmmap.pc)") pkg-config --cflags --libs $pc) ||
        { echo "FAIL: pkg-config $pc"; failed=$((failed + 1)); continue; }
    # shellcheck disable=SC2086 # the flags are words
    $cc -std=c11 -o "$work/$pc/$exe" "$here/consumer/consumer.c" $flags || { echo "FAIL: build with $pc"; failed=$((failed + 1)); continue; }
    [ "$run" = native ] || [ $pc = winmmap-static ] || cp "$prefix"/bin/*.dll "$work/$pc/"
    kind=shared
    [ $pc = winmmap-static ] && kind=static
    check "pkg-config $pc" $kind "$work/$pc/$exe"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -eq 4 ]
