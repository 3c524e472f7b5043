"""Every known difference between Linux and winmmap that wmdiff may meet, by
name, with its reason.  A seed whose first difference one of these explains
stops being compared there (the two states differ from then on) and counts
as "stopped at an exclusion", not as a divergence.

status:
  known-limit  documented in README "Known limits" (or a choice POSIX leaves
               open); stays.
  pending-fix  a bug being fixed; delete the entry when the fix lands, and CI
               then holds the fix.  (None left: issue 18's list is fixed.)

Fields of a trace line: op, ret (value and errno), R (read fault per arena
page), D (contents per page), F (file sizes and contents), X (a mapping the
system placed), C (mincore), W1 (write faults of a POKE), W (write faults of
every page, --wprobe)."""

import re


class Exclusion:
    def __init__(self, name, status, reason, pred):
        self.name, self.status, self.reason, self.pred = name, status, reason, pred

    def matches(self, op, nat, win, mode, fields, hist=()):
        """hist: the (native, winmmap) records of the earlier operations, for
        the exclusions that explain a later consequence of one of them."""
        if self.pred.__code__.co_argcount == 6:
            return self.pred(op, nat, win, mode, fields, hist)
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
    Exclusion("private-file-after-truncate", KNOWN,
              "README \"Private file mappings\": a view ever writable is copied when split, "
              "reset or its file truncated; its unwritten pages then keep their old bytes "
              "(Linux: SIGBUS past the end / the file's new bytes).  POSIX leaves it open",
              lambda op, n, w, m, f: kind(op) in ("TRUNC", "WRITE", "ADV", "UNMAP", "MAP", "PROT",
                                                  "POKE", "REMAP")
              and set(f) <= {"R", "D", "W1", "W"} and private_follows_file(n, w)),

    # ---- found by wmdiff, not fixed yet (FINDINGS.md has the reproducers) ----
    # ---- known limits (README) and choices POSIX leaves open ----
    Exclusion("failed-mlock-keeps-no-lock", KNOWN,
              "mlock over inaccessible pages fails with ENOMEM on both, but Linux has marked "
              "the range locked all the same (msync MS_INVALIDATE then says EBUSY, "
              "MADV_DONTNEED EINVAL); here a failed call changes nothing (README)",
              lambda op, n, w, m, f: w.get("ret") in ("0 0", "-1 ENOMEM") and (
                  (kind(op) == "SYNC" and n.get("ret") == "-1 EBUSY" and ret_only(f))
                  # MADV_DONTNEED, MADV_FREE: here the pages were reset (D), there not
                  or (kind(op) == "ADV" and arg(op, "adv") in (4, 8)
                      and n.get("ret") == "-1 EINVAL" and set(f) <= {"ret", "D"}))),
    Exclusion("mremap-after-failed-mlock", KNOWN,
              "an mlock that failed with ENOMEM has left Linux's VM_LOCKED on part of the "
              "range (failed-mlock-keeps-no-lock), so a later mremap over it spans two VMAs "
              "there and Linux says EFAULT; here the failed mlock changed nothing and the "
              "range is one mapping (seeds 10 and 52: each had such an mlock before)",
              lambda op, n, w, m, f: kind(op) == "REMAP" and n.get("ret") == "FAILED EFAULT"
              and w.get("ret", "") != "FAILED EFAULT"),
    Exclusion("mremap-several-mappings", KNOWN,
              "README: mremap needs the part it moves inside one mapping (EFAULT otherwise); "
              "Linux 6.17+ moves several mappings at once with MREMAP_FIXED and an unchanged size",
              lambda op, n, w, m, f: kind(op) == "REMAP" and (arg(op, "fl") or 0) & 2
              and n.get("ret", "").startswith("@") and w.get("ret") == "FAILED EFAULT"),
    Exclusion("dontunmap-unlocks-whole-vma", KNOWN,
              "README: MREMAP_DONTUNMAP unlocks the range it leaves behind; Linux unlocks "
              "the whole old VMA, pages that did not move included, so its later "
              "MADV_DONTNEED there succeeds (and resets the bytes) where ours says EINVAL "
              "(seed 4004)",
              lambda op, n, w, m, f, h: kind(op) == "ADV" and arg(op, "adv") in (4, 8)
              and n.get("ret") == "0 0" and w.get("ret") == "-1 EINVAL" and set(f) <= {"ret", "D"}
              and any(kind(hn["op"]) == "REMAP" and (arg(hn["op"], "fl") or 0) & 4
                      and hn.get("ret", "").startswith("@") and hw.get("ret", "").startswith("@")
                      for hn, hw in h)),
    Exclusion("unknown-bits", KNOWN,
              "README: unknown mmap flags and PROT bits fail with EINVAL (Linux ignores them)",
              lambda op, n, w, m, f: op in ("BAD sub=2", "BAD sub=25") and ret_only(f)),
    Exclusion("mprotect-hole-unchanged", KNOWN,
              "a failed mprotect over a range running into a hole (ENOMEM) or into a mapping "
              "that refuses the protection (EACCES: PROT_WRITE on a shared mapping of a "
              "read-only file) changes nothing (README promise: a failed call changes "
              "nothing); Linux changes the pages before it",
              lambda op, n, w, m, f: kind(op) == "PROT" and n.get("ret") == w.get("ret")
              and n.get("ret") in ("-1 ENOMEM", "-1 EACCES") and set(f) <= {"R", "D", "W"}),
    Exclusion("mprotect-hole-unchanged-later", KNOWN,
              "the same, seen later: without --wprobe the failed mprotect shows no difference "
              "(only read faults are probed), and a later write (POKE) faults on one side "
              "only, on pages of that mprotect's range; the bytes and files it wrote differ "
              "from then on",
              lambda op, n, w, m, f, h: kind(op) == "POKE" and set(f) <= {"W1", "D", "F"}
              and "W1" in f and write_faults_in_failed_prot(op, n, w, h)),
]


def write_faults_in_failed_prot(op, n, w, hist):
    """Every page where the POKE's write faults differ lies in the range of an
    earlier mprotect that failed alike on both sides with ENOMEM or EACCES."""
    ranges = []
    for hn, hw in hist:
        if kind(hn["op"]) == "PROT" and hn.get("ret") == hw.get("ret") \
                and hn.get("ret") in ("-1 ENOMEM", "-1 EACCES"):
            ranges.append((arg(hn["op"], "a"), arg(hn["op"], "a") + arg(hn["op"], "n")))
    a = arg(op, "a")
    wn, ww = n.get("W1", ""), w.get("W1", "")
    diff = [a + i for i, (x, y) in enumerate(zip(wn, ww)) if x != y]
    return bool(ranges) and len(wn) == len(ww) and all(any(lo <= p < hi for lo, hi in ranges) for p in diff)


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
    if handles == 0 and (0 < heap <= 4096 or heap in (2 * 2504, 3 * 2504)):
        # Not attributed yet: Wine 10 runs sometimes end a seed with +2 504
        # heap bytes (or two or three such blocks) and no handle left.  Not a
        # growing leak: 100 rounds of the first move that shows it (seed 2,
        # op 15) after two warm-up rounds leave the heap as it was; each is
        # allocated once, by the first use of something.  Kept visible as its
        # own name until someone finds whose block it is.
        return "heap-2504-unattributed"
    return None
