#!/bin/bash
# Runs the benchmarks natively, under Wine 8 (legacy) and Wine 10 (exact and
# legacy), prints their tables, collects bench/results.csv and draws
# bench/results.png.  --smoke: one short round each, only to check that the
# programs run (used by test.sh); nothing is written into bench/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
export WINMMAP_CACHE=${WINMMAP_CACHE:-$top/.cache}
build=${WINMMAP_BUILD:-$top/build}
smoke=()
[ "${1:-}" = "--smoke" ] && smoke=(--smoke)

for exe in "$build/native/bench/winmmap_bench" "$build/win/bench/winmmap_bench.exe"; do
    [ -x "$exe" ] || { echo "bench.sh: $exe missing; run toolchain/build.sh first" >&2; exit 1; }
done
out=$build/bench
mkdir -p "$out"
csv=$out/results.csv
rm -f "$csv"
cd "$out"
"$build/native/bench/winmmap_bench" "${smoke[@]}" --label native --csv "$csv"
for run in "8 legacy" "10 exact" "10 legacy"; do
    set -- $run
    echo
    WINMMAP_WINE=$1 WINMMAP_STRATEGY=$2 WINMMAP_PREFIX_DIR=$build/win \
        "$here/wine-run.sh" "$build/win/bench/winmmap_bench.exe" "${smoke[@]}" --label "wine$1" --csv results.csv
done
# Debian's matplotlib, for Debian's python3 (a pyenv python3 earlier on PATH
# would not see it).
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
echo
echo "==== all runs: winmmap / raw Win32 (native: winmmap time); N/1k cost ratios; bytes ===="
"$py" "$top/bench/table.py" "$csv"
[ ${#smoke[@]} -eq 0 ] || exit 0

cp "$csv" "$top/bench/results.csv"
if ! "$py" -c 'import matplotlib' 2>/dev/null; then
    echo "[bench] installing python3-matplotlib for the plot"
    apt-get install -y -q python3-matplotlib >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-matplotlib >/dev/null 2>&1; } ||
        echo "[bench] python3-matplotlib not available: plot.py draws a plain chart itself"
fi
"$py" "$top/bench/plot.py" "$top/bench/results.csv" "$top/bench/results.png"
echo "[bench] wrote bench/results.csv and bench/results.png"
