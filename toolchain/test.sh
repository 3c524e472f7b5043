#!/bin/bash
# The full test suite: sets up the machine, builds natively and for Windows
# with warnings as errors, then runs the conformance suite natively, under
# Wine 8 (legacy strategy) and under Wine 10 (exact and legacy strategies),
# plus the region-table unit tests on each.  Exits non-zero if anything fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
export WINMMAP_CACHE=${WINMMAP_CACHE:-$top/.cache}
build=${WINMMAP_BUILD:-$top/build}
export WINMMAP_BUILD=$build
start=$SECONDS

bash "$here/setup.sh"
bash "$here/build.sh" -DWINMMAP_WERROR=ON

status=0
ctest --test-dir "$build/native" --verbose || status=1
ctest --test-dir "$build/win" --verbose || status=1
if [ -d "$top/bench" ] && [ -x "$here/bench.sh" ]; then
    bash "$here/bench.sh" --smoke || status=1
fi

# One line per run: the suite's own closing count, from ctest's logs.
echo
echo "==== summary ===="
for d in native win; do
    awk '/^[0-9]+\/[0-9]+ Testing: / { name = $3 }
         / passed, [0-9]+ failed, [0-9]+ skipped$/ { printf "%-14s %s\n", name, $0 }' \
        "$build/$d/Testing/Temporary/LastTest.log"
done
echo "time: $((SECONDS - start)) s"
if [ $status -ne 0 ]; then
    echo "FAILED" >&2
    exit 1
fi
echo "all runs passed"
