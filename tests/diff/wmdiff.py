#!/usr/bin/env python3
"""Runs wmdiff sequences natively (Linux, the oracle) and under each Windows
run, compares the traces, and reports the first difference of each seed that
no documented exclusion explains, shrunk to a short reproducer printed as C.

  wmdiff.py --native BIN --win EXE [--modes wine10-exact,...] --seeds 1-20
            [--ops 60] [--wprobe] [--minimize] [--report FILE]

Exit status: 0 when every seed matches or stops at a documented exclusion and
no run leaks; 1 otherwise.  Exclusions are in exclusions.py."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exclusions import EXCLUSIONS, IGNORED_FIELDS, leak_exclusion  # noqa: E402

MODES = {
    "wine8-legacy": ("8", "legacy"),
    "wine10-exact": ("10", "exact"),
    "wine10-legacy": ("10", "legacy"),
}
HERE = os.path.dirname(os.path.abspath(__file__))
WINE_RUN = os.path.join(HERE, "..", "..", "toolchain", "wine-run.sh")
TIMEOUT = 120


class Side:
    """How to start wmdiff on one side: natively, or under one Wine run."""

    def __init__(self, name, argv_prefix, env, workdir):
        self.name, self.argv_prefix, self.env, self.workdir = name, argv_prefix, env, workdir

    def run(self, args, noleak=False):
        env = dict(self.env)
        if noleak:
            env["WMDIFF_NOLEAK"] = "1"
        start = time.time()
        try:
            p = subprocess.run(self.argv_prefix + args, cwd=self.workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
            out, status = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            out, status = e.stdout or b"", "timeout"
        text = out.decode("utf-8", "replace").replace("\r", "")
        return text, status, time.time() - start


def make_sides(args):
    native_dir = tempfile.mkdtemp(prefix="wmdiff-native-")
    sides = {"native": Side("native", [os.path.abspath(args.native)], dict(os.environ), native_dir)}
    for mode in args.modes:
        wine, strategy = MODES[mode]
        env = dict(os.environ, WINMMAP_WINE=wine, WINMMAP_STRATEGY=strategy)
        if args.prefix_dir:
            env["WINMMAP_PREFIX_DIR"] = os.path.abspath(args.prefix_dir)
        workdir = os.path.abspath(os.path.join(args.workdir, mode))
        os.makedirs(workdir, exist_ok=True)
        sides[mode] = Side(mode, ["bash", os.path.abspath(WINE_RUN), os.path.abspath(args.win)], env, workdir)
    return sides


def parse_line(line):
    """'TAG I OP | ret=R E | R=... | ...' -> (tag, i, fields)."""
    parts = line.split(" | ")
    head = parts[0].split(" ", 2)
    fields = {"op": head[2] if len(head) > 2 else ""}
    for p in parts[1:]:
        if p.startswith("SIGNAL-IN-CALL"):
            fields["signal"] = p
            continue
        k, _, v = p.partition("=")
        fields[k] = v
    return head[0], int(head[1]), fields


def parse_trace(text):
    """Per tag: {'ops': {i: fields}, 'end': {...} or None, 'signal': (i, what)}."""
    seeds = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        words = line.split(" ")
        if len(words) < 2:
            continue
        tag = words[0]
        s = seeds.setdefault(tag, {"ops": {}, "end": None, "signal": None})
        if words[1] == "STALE":
            s["stale"] = " ".join(words[2:])
            continue
        if words[1] == "END":
            s["end"] = dict(w.split("=", 1) for w in words[2:] if "=" in w)
            continue
        try:
            _, i, fields = parse_line(line)
        except (ValueError, IndexError):
            continue
        if "signal" in fields:
            s["signal"] = (i, fields["signal"])
        s["ops"][i] = fields
    return seeds


def compare_seed(nat, win, mode, nops):
    """First difference of one seed: None (same), or a dict with 'op', 'index',
    'fields', 'exclusion' (a name, or None for a divergence)."""
    for i in range(nops):
        n = nat["ops"].get(i)
        w = win["ops"].get(i)
        if n is None:
            return {"index": i, "kind": "native-ended", "fields": [], "exclusion": None, "op": "?"}
        if w is None:
            return {"index": i, "kind": "wine-ended", "fields": ["ended"], "exclusion": None,
                    "op": n["op"], "nat": n, "win": {}}
        if "signal" in w:
            fields = ["signal"]
        else:
            fields = [k for k in sorted(set(n) | set(w))
                      if k not in IGNORED_FIELDS and n.get(k) != w.get(k)]
        if not fields:
            continue
        d = {"index": i, "kind": "diff", "fields": fields, "op": n["op"], "nat": n, "win": w,
             "exclusion": None}
        disabled = os.environ.get("WMDIFF_DISABLE", "").split(",")
        hist = [(nat["ops"][j], win["ops"][j]) for j in range(i)]
        for ex in EXCLUSIONS:
            if ex.name not in disabled and ex.matches(n["op"], n, w, mode, fields, hist):
                d["exclusion"] = ex.name
                break
        return d
    return None


def run_batch(side, first, last, nops, wprobe):
    """Seeds first..last-1 on one side; restarts after a run that ended early."""
    traces, seed = {}, first
    while seed < last:
        args = ["seeds", str(seed), str(last), str(nops)] + (["w"] if wprobe else [])
        text, status, _ = side.run(args)
        got = parse_trace(text)
        traces.update(got)
        done = [int(t[1:]) for t, s in got.items() if t.startswith("s") and s["end"] is not None]
        if status == 0:
            break
        # The run stopped inside seed `stopped`: mark how, go on after it.
        stopped = max(done) + 1 if done else seed
        tag = "s%d" % stopped
        t = traces.setdefault(tag, {"ops": {}, "end": None, "signal": None})
        t["status"] = status
        seed = stopped + 1
    return traces


def leak_of(win, mode, ops_text):
    end = win.get("end")
    if not end:
        return None
    handles = int(end.get("handles", "0"))
    heap = int(end.get("heap", "0"))
    regions = int(end.get("regions", "0"))
    if handles == 0 and heap <= 0 and regions == 0:
        return None
    what = "handles %+d, heap %+d bytes, regions %d" % (handles, heap, regions)
    ex = leak_exclusion(ops_text, handles, heap, regions, mode)
    return {"what": what, "exclusion": ex}


def write_ops(path, ops):
    with open(path, "w") as f:
        f.write("\n".join(ops) + "\n")


def diverges_same(sides, mode, ops, ref, workdir):
    """Does this shorter sequence still show the reference divergence (same
    field set at its last operation, unexplained by an exclusion)?"""
    path = os.path.join(workdir, "try.txt")
    write_ops(path, ops)
    nat_text, _, _ = sides["native"].run(["run", path], noleak=True)
    win_text, _, _ = sides[mode].run(["run", os.path.abspath(path)], noleak=True)
    nat = parse_trace(nat_text).get("r", {"ops": {}})
    win = parse_trace(win_text).get("r", {"ops": {}})
    d = compare_seed(nat, win, mode, len(ops))
    ok = (d is not None and d["exclusion"] is None and d["index"] == len(ops) - 1
          and set(d["fields"]) == set(ref["fields"]))
    return ok, d


def minimize(sides, mode, ops, ref, workdir):
    """Greedy removal: drop each operation (last to first) if the divergence
    stays; repeat until nothing more goes."""
    ops = list(ops)
    last = ref
    changed = True
    while changed:
        changed = False
        for j in range(len(ops) - 2, -1, -1):
            trial = ops[:j] + ops[j + 1:]
            ok, d = diverges_same(sides, mode, trial, ref, workdir)
            if ok:
                ops, last, changed = trial, d, True
    return ops, last


def c_body(native_bin, ops, d, mode, workdir):
    path = os.path.join(workdir, "min.txt")
    write_ops(path, ops)
    stmts = subprocess.run([native_bin, "c", path], stdout=subprocess.PIPE).stdout.decode()
    lines = [
        "    /* A = mmap(NULL, 40 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0): the arena;",
        "     * fd[0], fd[1]: files O_RDWR, empty; fd[2]: shm_open(O_RDWR | O_CREAT), empty;",
        "     * fd[3]: fd[0]'s file O_RDONLY.  P = sysconf(_SC_PAGESIZE). */",
    ]
    lines += stmts.rstrip("\n").split("\n")
    n, w = d.get("nat", {}), d.get("win", {})
    for k in d["fields"]:
        lines.append("    /* %s: Linux %s; winmmap (%s) %s */" % (k, n.get(k, "-"), mode, w.get(k, "-")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", required=True)
    ap.add_argument("--win", required=True)
    ap.add_argument("--modes", default="wine8-legacy,wine10-exact,wine10-legacy")
    ap.add_argument("--seeds", default="1-10", help="FIRST-LAST (inclusive) or a comma list")
    ap.add_argument("--ops", type=int, default=60)
    ap.add_argument("--wprobe", action="store_true")
    ap.add_argument("--minimize", action="store_true")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--prefix-dir", default=None)
    ap.add_argument("--report", default=None)
    args = ap.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    # Under Wine 10 (a chroot) a working directory outside the program's
    # directory made the files fail to open (ENOENT): keep it below it.
    args.workdir = args.workdir or os.path.join(os.path.dirname(os.path.abspath(args.win)), "work")
    os.makedirs(args.workdir, exist_ok=True)
    if "-" in args.seeds:
        a, b = args.seeds.split("-")
        ranges = [(int(a), int(b) + 1)]
    else:
        ranges = [(int(s), int(s) + 1) for s in args.seeds.split(",")]
    sides = make_sides(args)
    report = open(args.report, "a") if args.report else None

    def say(msg):
        print(msg, flush=True)
        if report:
            report.write(msg + "\n")
            report.flush()

    failed = 0
    nat = {}
    for a, b in ranges:
        nat.update(run_batch(sides["native"], a, b, args.ops, args.wprobe))
    seeds = [s for a, b in ranges for s in range(a, b)]
    for mode in args.modes:
        start = time.time()
        win = {}
        for a, b in ranges:
            win.update(run_batch(sides[mode], a, b, args.ops, args.wprobe))
        compared = same = excluded = diverged = leaks = 0
        by_ex = {}
        for s in seeds:
            tag = "s%d" % s
            n, w = nat.get(tag), win.get(tag, {"ops": {}, "end": None, "signal": None})
            d = compare_seed(n, w, mode, args.ops)
            compared += d["index"] + 1 if d else args.ops
            ops_text = [n["ops"][i]["op"] for i in sorted(n["ops"])]
            if d is None:
                same += 1
            elif d["exclusion"]:
                excluded += 1
                by_ex[d["exclusion"]] = by_ex.get(d["exclusion"], 0) + 1
            else:
                diverged += 1
                failed += 1
                say("DIVERGENCE %s seed %d op %d %s: %s (%s)" % (
                    mode, s, d["index"], d["op"], ",".join(d["fields"]),
                    "; ".join("%s Linux %s / winmmap %s" % (k, d.get("nat", {}).get(k, "-"),
                                                           d.get("win", {}).get(k, "-"))
                              for k in d["fields"] if k in ("ret", "signal", "X", "W1", "C"))))
                if "status" in w:
                    say("  run ended with status %s" % w["status"])
                if args.minimize and d["kind"] == "diff":
                    mops, md = minimize(sides, mode, ops_text[:d["index"] + 1], d, args.workdir)
                    say("  minimal (%d ops) as C:\n%s" % (len(mops), c_body(
                        os.path.abspath(args.native), mops, md, mode, args.workdir)))
            if d is None or d["exclusion"]:
                lk = leak_of(w, mode, ops_text)
                if lk and not lk["exclusion"]:
                    leaks += 1
                    failed += 1
                    say("LEAK %s seed %d: %s" % (mode, s, lk["what"]))
                elif lk:
                    by_ex[lk["exclusion"]] = by_ex.get(lk["exclusion"], 0) + 1
            stale = win.get("s%d" % (s + 1), {}).get("stale")
            if stale:
                by_ex["stale-file-after-seed (pending: handle leak)"] = by_ex.get(
                    "stale-file-after-seed (pending: handle leak)", 0) + 1
                say("STALE %s after seed %d: %s (files replaced)" % (mode, s, stale))
        say("%-14s seeds %d, ops compared %d: same %d, stopped at an exclusion %d, diverged %d, "
            "leaked %d (%.0f s)" % (mode, len(seeds), compared, same, excluded, diverged, leaks,
                                    time.time() - start))
        for k, v in sorted(by_ex.items()):
            say("  exclusion %-28s %d" % (k, v))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
