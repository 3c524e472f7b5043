#!/bin/bash
# The suite judging another implementation: runs the suite built against
# tests/naive (winmmap_tests_naive.exe) isolated, one process per test, and
# passes when the suite did its job: the run completed (every test of
# test-list.h reported, the closing count and the JUnit report agree), the
# basics naive gets right pass, the files naive cannot build are reported
# "not built, skipped", and the faults naive is known for are reported as
# failures with the call, the expected and the actual result.  Naive's
# failures are expected here; they are not winmmap's.
# Writes the whole output to REPORT and prints the failures condensed.
# Usage: judge.sh WINE(8|10) winmmap_tests_naive.exe REPORT
set -u
wine=$1 exe=$2 report=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
toolchain=$(cd "$here/../../toolchain" && pwd)
export WINMMAP_PREFIX_DIR=${WINMMAP_PREFIX_DIR:-$PWD}
tmp=$(mktemp -d /tmp/winmmap-judge.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$exe" "$tmp/"
prog=./$(basename "$exe")
(cd "$tmp" && WINMMAP_WINE=$wine bash "$toolchain/wine-run.sh" "$prog" --isolated --junit report.xml --timeout 60) \
    >"$report" 2>&1
rc=$?
tr -d '\r' <"$report" >"$tmp/out"
out=$tmp/out
fail() { echo "FAIL: $*"; exit 1; }

# The condensed report: each failing rule with what its assertions printed
# (file:line - call: expected ..., got ...), or how its process ended.
echo "==== tests/naive judged under Wine $wine (whole output: $report) ===="
awk '
    /^    [0-9]+\. / { sub(/^    [0-9]+\. /, ""); detail[++n] = $0; next }
    /^(PASS|FAIL|SKIP) / {
        if ($1 == "FAIL") {
            print
            for (i = 1; i <= n; i++) print "    " detail[i]
        }
        n = 0
    }' "$out"
grep '^SKIP .*not built, skipped' "$out" |
    sed -E 's#^SKIP ([a-z_]+)/.* -- not built, skipped: ([^:]*): (.*)#NOT BUILT \1/ (\2): \3#' | sort -u
last=$(tail -n 1 "$out")
echo "$last"

[[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]] || fail "the run did not complete: last line is: $last"
p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
total=$(grep -c '^WMT(' "$here/../test-list.h")
[ $((p + f + s)) -eq "$total" ] || fail "$((p + f + s)) tests reported, test-list.h has $total"
[ "$(grep -cE '^(PASS|FAIL|SKIP) ' "$out")" -eq "$total" ] || fail "not one result line per test"
[ -f "$tmp/report.xml" ] || fail "no JUnit report"
python3 - "$tmp/report.xml" "$p" "$f" "$s" <<'PY' || fail "the JUnit report does not match the closing line"
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall('.//testcase')
f = sum(1 for c in cases if c.find('failure') is not None)
s = sum(1 for c in cases if c.find('skipped') is not None)
assert (len(cases) - f - s, f, s) == tuple(map(int, sys.argv[2:5]))
PY
[ "$f" -gt 0 ] && [ $rc -ne 0 ] || fail "naive passed: the suite found nothing wrong"
[ "$p" -gt 0 ] || fail "nothing passed: the suite cannot tell right from wrong"

expect() { # expect WORD ID [PATTERN]: the result line of ID, and a detail line
    local word=$1 id=$2 pattern=${3:-}
    grep -q "^$word $id: " "$out" || fail "expected $word $id, got: $(grep -E "^(PASS|FAIL|SKIP) $id: " "$out")"
    if [ -n "$pattern" ]; then
        # In the lines of that test's run: its child's output, then its result line.
        awk -v id="$id" -v pat="$pattern" '
            /^(PASS|FAIL|SKIP) / {
                if (index($0, $1 " " id ": ") == 1) { found = found || index($0, pat); done = 1; exit }
                found = 0; next
            }
            { found = found || index($0, pat) }
            END { exit !(done && found) }' "$out" ||
            fail "$id: no line saying: $pattern"
    fi
}
# What a hand-written mmap gets right.
expect PASS mmap/anon_private_zero_filled
expect PASS mmap/shared_write_seen_by_read
expect PASS mmap/private_write_never_reaches_file
# Errors: errno is the raw GetLastError() code (87 is ERROR_INVALID_PARAMETER;
# a bad descriptor sets no Win32 error at all).
expect FAIL mmap/bad_fd_ebadf "expected failure with EBADF (9), got failure errno 0"
expect FAIL mmap/zero_length_einval "expected failure with EINVAL (22), got failure errno 87"
# Arguments not checked.
expect FAIL mmap/no_type_einval "expected failure with EINVAL (22), got success"
# No 4 KiB placement: offsets work only at 64 KiB.
expect FAIL mmap/unaligned_offset_einval "got failure errno 1132"
expect FAIL mmap/offset_maps_bytes_from_offset
# A partial munmap unmaps the whole view: the kept end is gone.
expect FAIL munmap/middle_of_mapping_keeps_both_ends "crashed: exception 0xC0000005"
# madvise does nothing.
expect FAIL madvise/dontneed_private_anonymous_reads_zeros
# What naive does not have is not built, and said so.
for suite in mremap mincore shm fault fork engine foreign; do
    grep -q "^SKIP $suite/.* -- not built, skipped: test_" "$out" || fail "$suite/ not reported as not built"
    ! grep -qE "^(PASS|FAIL) $suite/" "$out" || fail "$suite/ ran without being built"
done
expect SKIP posix_madvise/returns_an_error_number_not_errno "the implementation has no posix_madvise"
echo "ok: the suite judged tests/naive ($p passed, $f failed, $s skipped)"
