"""Every known difference between Linux and winmmap that wmdiff may meet, by
name, with its reason.  A seed whose first difference one of these explains
stops being compared there (the two states differ from then on) and counts
as "stopped at an exclusion", not as a divergence.

status:
  known-limit  documented in README "Known limits" (or a choice POSIX leaves
               open); stays.
  pending-fix  a bug listed in issue 18 that is being fixed on main.  When the
               fix lands, delete the entry here: CI then holds the fix.

Fields of a trace line: op, ret (value and errno), R (read fault per arena
page), D (contents per page), F (file sizes and contents), X (a mapping the
system placed), C (mincore), W1 (write faults of a POKE), W (write faults of
every page, --wprobe)."""

import re


class Exclusion:
    def __init__(self, name, status, reason, pred):
        self.name, self.status, self.reason, self.pred = name, status, reason, pred

    def matches(self, op, nat, win, mode, fields):
        return self.pred(op, nat, win, mode, fields)


def arg(op, key):
    m = re.search(r"\b%s=(-?\d+)" % key, op)
    return int(m.group(1)) if m else None


def kind(op):
    return op.split(" ", 1)[0]


def ret_only(fields):
    return set(fields) == {"ret"}


# Fields never compared, each for a documented reason.
IGNORED_FIELDS = {
    # residency: README "mincore reports the process's working set: file pages
    # cached by the system but not touched through this mapping count as not
    # resident; legacy: one byte covers a 64 KiB page".  Linux reports the page
    # cache.  mincore's return value and errno are still compared.
    "C",
}

PENDING = "pending-fix"
KNOWN = "known-limit"

EXCLUSIONS = [
    # ---- pending fix (issue 18, being fixed on main): delete when fixed ----
    Exclusion("mincore-signal", PENDING,
              "mincore(addr, len, NULL) (or a vec in a read-only page) raises SIGSEGV inside "
              "the library and leaves its lock held; Linux returns EFAULT",
              lambda op, n, w, m, f: kind(op) in ("BAD", "CORE") and "signal" in f),
    Exclusion("mremap-signal", PENDING,
              "mremap of a private file mapping whose file was truncated raises SIGBUS "
              "inside mremap; Linux moves it (the page faults only when touched)",
              lambda op, n, w, m, f: kind(op) == "REMAP" and "signal" in f),
    Exclusion("errno-ftruncate-2^62", PENDING, "ftruncate to 2^62: Linux EFBIG",
              lambda op, n, w, m, f: op == "BAD sub=21" and ret_only(f)),
    Exclusion("errno-negative-offset", PENDING, "mmap with a negative offset: Linux EOVERFLOW",
              lambda op, n, w, m, f: op == "BAD sub=5" and ret_only(f)),
    Exclusion("errno-madvise-size-max", PENDING, "madvise with len SIZE_MAX: Linux EINVAL",
              lambda op, n, w, m, f: op == "BAD sub=15" and ret_only(f)),
    Exclusion("munmap-2^47", PENDING, "munmap at 2^47 returns 0; Linux EINVAL (outside the "
              "user address space)",
              lambda op, n, w, m, f: op == "BAD sub=9" and ret_only(f)),
    Exclusion("map-fixed-hole-enomem", PENDING,
              "exact strategy: MAP_FIXED over pages of a mapping plus a hole munmap made in a "
              "reserved range fails with ENOMEM; Linux succeeds",
              lambda op, n, w, m, f: kind(op) == "MAP" and arg(op, "fixed") == 1
              and w.get("ret") == "FAILED ENOMEM" and n.get("ret", "").startswith("@")),
    Exclusion("mremap-linux-answers", PENDING,
              "mremap of part of a mapping, across mappings, past a mapping, growing into a "
              "guard: the issue's list of answers that differ from Linux (EFAULT/ENOMEM/success)",
              lambda op, n, w, m, f: kind(op) == "REMAP" and "ret" in f),
    Exclusion("ftruncate-ebusy", PENDING,
              "ftruncate of a mapped file fails with EBUSY after some partial "
              "mprotect/munmap/MAP_FIXED sequences; Linux never refuses",
              lambda op, n, w, m, f: kind(op) == "TRUNC" and w.get("ret") == "-1 EBUSY"),
    Exclusion("mprotect-shared-past-eof", PENDING,
              "mprotect(PROT_READ|PROT_WRITE) of a MAP_SHARED mapping wholly past end of file "
              "fails with EACCES; Linux 0",
              lambda op, n, w, m, f: kind(op) == "PROT" and w.get("ret") == "-1 EACCES"
              and n.get("ret") == "0 0"),
    Exclusion("empty-rdonly-shared-write", PENDING,
              "an empty file opened O_RDONLY maps MAP_SHARED with PROT_WRITE; Linux EACCES",
              lambda op, n, w, m, f: kind(op) == "MAP" and arg(op, "src") == 3
              and n.get("ret") == "FAILED EACCES"),
    Exclusion("private-file-after-truncate", PENDING,
              "unwritten MAP_PRIVATE pages keep their old bytes after truncation and stop "
              "following writes to the file once split or MADV_DONTNEED'd (Linux: SIGBUS / the "
              "new bytes).  POSIX leaves it open; the README must describe it exactly",
              lambda op, n, w, m, f: kind(op) in ("TRUNC", "WRITE", "ADV", "UNMAP", "MAP", "PROT",
                                                  "POKE", "REMAP")
              and set(f) <= {"R", "D", "W1", "W"} and private_follows_file(n, w)),

    # ---- found by wmdiff (not in issue 18), unfixed: reported in FINDINGS.md ----
    Exclusion("prot-none-past-eof-sigbus", "found-unfixed",
              "a PROT_NONE page of a file mapping wholly past end of file faults SIGBUS; Linux "
              "checks the protection first: SIGSEGV (SEGV_ACCERR)",
              lambda op, n, w, m, f: set(f) <= {"R", "X", "W1", "W"} and all(
                  a == b or (a == "A" and b == "B") for a, b in zip(
                      n.get("R", "") + n.get("X", ""), w.get("R", "") + w.get("X", "")))),
    Exclusion("msync-invalidate-locked", "found-unfixed",
              "msync(MS_INVALIDATE) after an mlock of PROT_NONE pages that failed (ENOMEM) returns 0; Linux left the pages locked: EBUSY.  winmmap: a failed call changes nothing (to document)",
              lambda op, n, w, m, f: kind(op) == "SYNC" and n.get("ret") == "-1 EBUSY"
              and w.get("ret") == "0 0"),
    Exclusion("madvise-dontneed-locked", "found-unfixed",
              "madvise(MADV_DONTNEED) after an mlock of PROT_NONE pages that failed (ENOMEM) returns 0; Linux left the pages locked: EINVAL.  winmmap: a failed call changes nothing (to document)",
              lambda op, n, w, m, f: kind(op) == "ADV" and arg(op, "adv") == 4
              and n.get("ret") == "-1 EINVAL" and w.get("ret") == "0 0"),

    # ---- known limits (README) and choices POSIX leaves open ----
    Exclusion("unknown-bits", KNOWN,
              "README: unknown mmap flags and PROT bits fail with EINVAL (Linux ignores them)",
              lambda op, n, w, m, f: op in ("BAD sub=2", "BAD sub=25") and ret_only(f)),
    Exclusion("mprotect-hole-unchanged", KNOWN,
              "a failed mprotect over a range running into a hole changes nothing (README "
              "promise: a failed call changes nothing); Linux changes the pages before the hole",
              lambda op, n, w, m, f: kind(op) == "PROT" and n.get("ret") == w.get("ret") == "-1 ENOMEM"
              and set(f) <= {"R", "D", "W"}),
]


def private_follows_file(n, w):
    """Linux shows SIGBUS or new file bytes where winmmap keeps old private
    bytes: on every differing page Linux faults with SIGBUS (winmmap reads) or
    both read and only the contents differ."""
    rn, rw = n.get("R", ""), w.get("R", "")
    for a, b in zip(rn, rw):
        if a != b and not (a == "B" and b == "."):
            return False
    return True


# Leaks: handles or heap left once everything is unmapped.
def leak_exclusion(ops, handles, heap, regions, mode):
    if regions:
        return None
    # pending fix: one handle per mprotect round trip (issue 18); Wine 8's
    # heap grows with each leaked handle.
    if any(o.startswith("PROT") for o in ops) and handles > 0:
        return "handle-leak-mprotect"
    if handles == 0 and 0 < heap <= 4096:
        # Not attributed yet: Wine 10 runs sometimes end a seed with +2 504
        # heap bytes and no handle left (not every seed, not growing).  Kept
        # visible as its own name until someone finds whose block it is.
        return "heap-2504-unattributed"
    return None
