"""Draws bench/results.csv (from toolchain/bench.sh) into bench/results.png:
left, the ratio winmmap / raw Win32 of each timed row per Windows run; right,
the scaling ratios (cost with many live mappings or regions over the cost
with 1 000) and the heap bytes per mapping over the 96-byte target.  The
dashed lines are the targets.  Without matplotlib it draws the same bars,
unlabelled, with a tiny PNG writer of its own and says so."""
import csv
import struct
import sys
import zlib

rows = list(csv.reader(open(sys.argv[1])))
out = sys.argv[2]

runs, overhead, scaling = [], {}, {}
for label, strategy, name, lib, raw, ratio, unit in rows:
    if label == "native":
        continue
    run = f"{label} {strategy}"
    if run not in runs:
        runs.append(run)
    if unit == "ns" and float(raw) > 0:
        overhead.setdefault(name, {})[run] = float(ratio)
    elif unit == "ratio" and name.startswith("threads"):
        continue  # 4/1 throughput: shown in the table, not a cost ratio
    elif unit in ("ratio", "bytes"):
        key = name if unit == "ratio" else f"{name} / 96"
        scaling.setdefault(key, {})[run] = float(ratio)

colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def draw_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [3, 2]})
    panels = [
        (axes[0], overhead, "time winmmap / time raw Win32, same run (log)",
         [(1.15, "green", "1.15 file views, threads"), (1.3, "orange", "1.3 private anonymous")]),
        (axes[1], scaling, "cost at N / cost at 1 000;  heap bytes / 96 (log)",
         [(1.5, "green", "1.5 scaling"), (1.0, "gray", "96 bytes")]),
    ]
    for ax, data, ylabel, targets in panels:
        names = list(data)
        width = 0.8 / max(len(runs), 1)
        for i, run in enumerate(runs):
            xs = [j + i * width for j in range(len(names))]
            ax.bar(xs, [data[n].get(run, 0) for n in names], width, label=run, color=colors[i % 4])
        for y, c, text in targets:
            ax.axhline(y, color=c, linestyle="--", linewidth=1, label=f"target {text}")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
        ax.set_xticklabels([n.replace(" vs ", "\nvs ") for n in names], fontsize=7, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    axes[0].set_title("overhead against the raw Win32 calls (lower is better)")
    axes[1].set_title("scaling with live mappings, memory per mapping")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def draw_plain():
    """Bars only: one group per row of the CSV (left to right as in the
    table), one colour per run, a grey line at ratio 1 and black at 1.2;
    linear scale up to 4, taller bars are cut."""
    data = [overhead[n] for n in overhead] + [scaling[n] for n in scaling]
    w, h, top = 12 * len(data) * (len(runs) + 1) + 20, 300, 4.0
    img = [[(255, 255, 255)] * w for _ in range(h)]
    for g, d in enumerate(data):
        for i, run in enumerate(runs):
            x0 = 10 + (g * (len(runs) + 1) + i) * 12
            bar = int(min(d.get(run, 0), top) / top * (h - 20))
            for y in range(h - 10 - bar, h - 10):
                for x in range(x0, x0 + 10):
                    img[y][x] = tuple(int(colors[i % 4][k:k + 2], 16) for k in (1, 3, 5))
    for ratio, c in ((1.0, (128, 128, 128)), (1.2, (0, 0, 0))):
        y = h - 10 - int(ratio / top * (h - 20))
        img[y] = [c] * w
    raw = b"".join(b"\0" + bytes(v for px in line for v in px) for line in img)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(out, "wb").write(png)
    print("plot.py: no matplotlib; wrote an unlabelled bar chart (runs in colour order: "
          + ", ".join(runs) + ")")


try:
    draw_matplotlib()
except ImportError:
    draw_plain()
