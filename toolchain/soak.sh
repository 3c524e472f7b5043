#!/bin/bash
# A longer differential campaign than CI: wmdiff seeds (tests/diff) natively
# and under each Windows run, for about DURATION seconds per mode (default
# 600), in batches of 50 seeds from FIRST (default 1000).  Reports each
# divergence (shrunk to a C reproducer with --minimize) and leak.
#   WINMMAP_CACHE=... bash toolchain/soak.sh [DURATION] [FIRST] [PARTS]
# Then the multi-threaded soak (tests/diff/soak_threads.c) for DURATION
# seconds per mode: four threads mapping at random plus a faulting thread,
# a deadlock watchdog, and no growth of handles or heap allowed.
# PARTS (third argument): all (default), campaign or threads.
# Needs toolchain/build.sh to have run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
export WINMMAP_CACHE=${WINMMAP_CACHE:-$top/.cache}
build=${WINMMAP_BUILD:-$top/build}
duration=${1:-600}
first=${2:-1000}
parts=${3:-all}
case $parts in all | campaign | threads) ;; *) echo "soak.sh: PARTS is all, campaign or threads" >&2; exit 2 ;; esac
report=$build/soak-report.txt
: >"$report"
status=0
for mode in wine8-legacy wine10-exact wine10-legacy; do
    [ $parts = threads ] && break
    end=$((SECONDS + duration))
    seed=$first
    while [ $SECONDS -lt $end ]; do
        python3 "$top/tests/diff/wmdiff.py" --native "$build/native/tests/diff/wmdiff" \
            --win "$build/win/tests/diff/wmdiff.exe" --modes "$mode" \
            --seeds "$seed-$((seed + 49))" --ops 80 --minimize \
            --workdir "$build/win/tests/diff/soak" --prefix-dir "$build/win/tests" --report "$report" ||
            status=1
        seed=$((seed + 50))
    done
done
for mode in native wine8-legacy wine10-exact wine10-legacy; do
    [ $parts = campaign ] && break
    echo "== soak_threads $mode"
    if [ $mode = native ]; then
        (cd "$build/native/tests/diff" && ./soak_threads "$duration") || status=1
    else
        wine=${mode#wine}; wine=${wine%%-*}; strategy=${mode#*-}
        (cd "$build/win/tests/diff" && WINMMAP_WINE=$wine WINMMAP_STRATEGY=$strategy \
            bash "$here/wine-run.sh" ./soak_threads.exe "$duration") || status=1
    fi
done
echo "report: $report"
exit $status
