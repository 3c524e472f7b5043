"""Prints bench results.csv as one table: a row per measurement, a column
per run.  Timed rows show the ratio winmmap / raw Win32 (natively, where
there is no raw call, the winmmap time in microseconds); scaling rows the
ratio of the cost at N to the cost at 1 000; memory rows bytes.
--markdown prints it for the README."""
import csv
import sys

md = "--markdown" in sys.argv
path = [a for a in sys.argv[1:] if not a.startswith("--")][0]
runs, cells, names = [], {}, []
targets = {"ns": None, "ratio": 1.5, "bytes": 96}
for label, strategy, name, lib, raw, ratio, unit in csv.reader(open(path)):
    run = label if label == "native" else f"{label} {strategy}"
    if run not in runs:
        runs.append(run)
    if name not in names:
        names.append(name)
    lib, raw, ratio = float(lib), float(raw), float(ratio)
    if unit == "bytes":
        text = f"{lib:.0f} B"
    elif unit == "ratio":
        text = f"{ratio:.2f}"
    elif raw > 0:
        text = f"{ratio:.2f}"
    else:
        text = f"{lib / 1000:.1f} us"
    cells[(name, run)] = text

if md:
    print("| measurement | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for n in names:
        print(f"| {n} | " + " | ".join(cells.get((n, r), "") for r in runs) + " |")
else:
    w = max(len(n) for n in names)
    print(f"{'':{w}}  " + "  ".join(f"{r:>14}" for r in runs))
    for n in names:
        print(f"{n:{w}}  " + "  ".join(f"{cells.get((n, r), '-'):>14}" for r in runs))
