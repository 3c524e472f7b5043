#!/bin/bash
# The full test suite: sets up the machine, builds natively and for Windows
# (64-bit and 32-bit) with warnings as errors, then runs the conformance suite
# natively, under Wine 8 (legacy strategy) and under Wine 10 (exact and legacy
# strategies), the 32-bit build under 32-bit Wine 8 where the kernel can run
# it, plus the region-table unit tests, examples and package checks on each.  Exits non-zero if anything fails.
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
# The 32-bit build runs under 32-bit Wine 8, whose loader is a 32-bit Linux
# program: a kernel without IA-32 emulation cannot start it.
i686_note=""
if i686_err=$(/usr/lib/wine/wine --version 2>&1); then
    ctest --test-dir "$build/win32" --verbose || status=1
else
    i686_note="i686: built, suite not run: 32-bit Wine cannot start here ($(tail -1 <<<"$i686_err"))"
    echo "$i686_note"
fi
if [ -d "$top/bench" ] && [ -x "$here/bench.sh" ]; then
    bash "$here/bench.sh" --smoke || status=1
fi

# One line per run of the conformance suite (its per-suite entries added up),
# then one closing line over all of them.  Other entries (diff, runners,
# examples) pass or fail in ctest's own report above; the standalone
# runner's checks repeat suite tests (and its self-test expects failures),
# and the judge-* entries count another implementation's failures (the
# suite judging tests/naive), so they are not counted here.
echo
echo "==== summary ===="
logs=("$build/native/Testing/Temporary/LastTest.log" "$build/win/Testing/Temporary/LastTest.log")
[ -n "$i686_note" ] || logs+=("$build/win32/Testing/Temporary/LastTest.log")
awk '
    /^[0-9]+\/[0-9]+ Testing: / { name = $3 }
    / passed, [0-9]+ failed, [0-9]+ skipped$/ {
        if (name ~ /^(conformance|judge)-/) next
        run = name; sub(/\/.*/, "", run)
        if (FILENAME ~ /\/win32\//) run = "i686-" run
        n = split($0, w, " ")
        for (i = 1; i <= n; i++) {
            if (w[i] ~ /^passed,?$/) p[run] += w[i - 1]
            if (w[i] ~ /^failed,?$/) f[run] += w[i - 1]
            if (w[i] ~ /^skipped$/) k[run] += w[i - 1]
        }
        if (!(run in seen)) { seen[run] = 1; order[++m] = run }
    }
    END {
        for (i = 1; i <= m; i++) {
            r = order[i]
            printf "%-28s %d passed, %d failed, %d skipped\n", r, p[r], f[r], k[r]
            tp += p[r]; tf += f[r]; tk += k[r]
        }
        if (note != "") print note
        printf "time: %d s\n", '"$((SECONDS - start))"'
        printf "total: %d passed, %d failed, %d skipped\n", tp, tf, tk
    }' note="$i686_note" "${logs[@]}"
if [ $status -ne 0 ]; then
    echo "FAILED" >&2
    exit 1
fi
