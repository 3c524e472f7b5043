#!/bin/bash
# winmmap-conformance from a directory outside the build tree: the JUnit
# report is well-formed XML with one testcase per test run, the output ends
# with "N passed, N failed, N skipped" matching it.  With "selftest", the two
# self-tests (a crash, a hang) must be reported failed with their reason and
# the run must go on to the end.
# Usage: conformance.sh WINE(8|10|native) winmmap-conformance[.exe] [selftest]
set -u
wine=$1 exe=$2 mode=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../toolchain" && pwd)
export WINMMAP_PREFIX_DIR=${WINMMAP_PREFIX_DIR:-$PWD}
tmp=$(mktemp -d /tmp/winmmap-conformance.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$exe" "$tmp/"
prog=./$(basename "$exe")
# One short suite keeps the per-test process starts (~0.2 s each under Wine) cheap.
args=(--junit report.xml munmap/)
[ "$mode" = selftest ] && args=(--junit report.xml --timeout 3 selftest/) && export WMT_SELFTEST=1
if [ "$wine" = native ]; then
    out=$(cd "$tmp" && "$prog" "${args[@]}" 2>&1)
else
    out=$(cd "$tmp" && WINMMAP_WINE=$wine bash "$here/wine-run.sh" "$prog" "${args[@]}" 2>&1)
fi
rc=$?
echo "$out"
fail() { echo "FAIL: $*"; exit 1; }
last=$(tail -n 1 <<<"$out" | tr -d '\r')
[[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]] || fail "last line is not the count: $last"
p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
[ -f "$tmp/report.xml" ] || fail "no report.xml"
python3 - "$tmp/report.xml" "$p" "$f" "$s" <<'PY' || fail "report.xml does not match the closing line"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall('.//testcase')
f = sum(1 for c in cases if c.find('failure') is not None)
s = sum(1 for c in cases if c.find('skipped') is not None)
p = len(cases) - f - s
assert (p, f, s) == tuple(map(int, sys.argv[2:5])), (p, f, s)
print("report.xml:", len(cases), "testcases")
PY
if [ "$mode" = selftest ]; then
    [ "$p/$f/$s" = 0/2/0 ] || fail "expected 0 passed, 2 failed, 0 skipped"
    [ $rc -ne 0 ] || fail "exit status 0 with failures"
    grep -q 'FAIL selftest/crash: .*crashed' <<<"$out" || fail "crash not reported as a crash"
    grep -q 'FAIL selftest/hang: .*time-out' <<<"$out" || fail "hang not reported as a time-out"
else
    [ $rc -eq 0 ] || fail "exit $rc"
    [ $((p + s)) -gt 0 ] || fail "no test ran"
fi
echo ok
