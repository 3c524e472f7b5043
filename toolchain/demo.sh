#!/bin/bash
# Sets up the machine, builds, and runs examples/demo.c (a plain Unix program)
# natively, then compiled unchanged for Windows under Wine 8 and Wine 10.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
export WINMMAP_CACHE=${WINMMAP_CACHE:-$top/.cache}
build=${WINMMAP_BUILD:-$top/build}
export WINMMAP_BUILD=$build

bash "$here/setup.sh"
bash "$here/build.sh"

run_dir=$build/demo-run
mkdir -p "$run_dir"
cd "$run_dir"
echo; echo "==== native Linux ===="
"$build/native/winmmap_demo"
for wine in 8 10; do
    echo; echo "==== Windows build under Wine $wine ===="
    WINMMAP_WINE=$wine WINMMAP_PREFIX_DIR=$build/win "$here/wine-run.sh" "$build/win/winmmap_demo.exe"
done
