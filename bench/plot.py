"""Draws bench/results.csv (from toolchain/bench.sh) as bar charts of the
ratios winmmap / raw Win32 per run, with the targets as lines."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.reader(open(sys.argv[1])))
runs = []
ratios = {}
for label, strategy, name, lib, raw, ratio, unit in rows:
    if label == "native" or unit != "ns" or float(raw) <= 0:
        continue
    run = f"{label} {strategy}"
    if run not in runs:
        runs.append(run)
    ratios.setdefault(name, {})[run] = float(ratio)

names = list(ratios)
fig, ax = plt.subplots(figsize=(11, 5.5))
width = 0.8 / max(len(runs), 1)
for i, run in enumerate(runs):
    xs = [j + i * width for j in range(len(names))]
    ax.bar(xs, [ratios[n].get(run, 0) for n in names], width, label=run)
ax.axhline(1.15, color="green", linestyle="--", linewidth=1, label="target 1.15 (file views)")
ax.axhline(1.2, color="orange", linestyle="--", linewidth=1, label="target 1.2 (anonymous)")
ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
ax.set_xticklabels([n.replace(" vs ", "\nvs ") for n in names], fontsize=7, rotation=20, ha="right")
ax.set_ylabel("time winmmap / time raw Win32 (same run)")
ax.set_yscale("log")
ax.set_title("winmmap overhead against the raw Win32 calls (lower is better; log scale)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
