#!/usr/bin/env python3
"""Draws the benchmark picture from a bench/run results file: ours vs the original.

In: the .jsonl bench/run wrote. Out: an SVG (or PNG, by the file name's extension) with
two panels: the ratios ours ÷ original on a log scale, with each round's ratio as a dot and
the targets marked; and the exec round trip at concurrency 1 against the physical floor.
Uses matplotlib; when it is missing, makes a virtual environment under target/bench/venv,
installs it there with pip, and runs itself again from there. Never touches the results.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, "..", "target", "bench", "venv")


def ensure_matplotlib():
    """Imports matplotlib, or re-runs this script from a venv that has it."""
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    py = os.path.join(VENV, "bin", "python")
    if os.environ.get("PCMKR_PLOT_VENV") == "1":
        sys.exit("plot.py: matplotlib still missing in " + VENV)
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True, timeout=300)
    probe = subprocess.run([py, "-c", "import matplotlib"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        print("plot.py: installing matplotlib into " + VENV, file=sys.stderr)
        subprocess.run([py, "-m", "pip", "install", "-q", "matplotlib"], check=True, timeout=600)
    env = dict(os.environ, PCMKR_PLOT_VENV="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


# The figures in the ratio panel, top to bottom; the target (largest ratio that meets it).
RATIO_PANEL = [
    ("startup", 0.2), ("shutdown", None), ("connect_p50", None), ("connect_p99", None),
    ("added_p50", 0.5), ("added_p99", 0.5), ("c1_p99", None), ("c32_ops", None),
    ("cpu_per_1000", 0.5), ("rss_idle", 0.2), ("rss_signed_on", None), ("rss_1000", 0.3),
    ("rss_peak", None), ("rec_cpu_run", None), ("scale_pss", None), ("scale_rss", None),
    ("scale_cpu", None), ("t_c1_p50", None), ("t_c32_ops", None), ("t_cpu_per_1000", None),
]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.jsonl OUT.svg|OUT.png")
    ensure_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, HERE)
    import report

    meta, _end, recs = report.load(sys.argv[1])
    s = report.summarise(recs)
    # The SVG should not change when nothing changed: no random ids, no date in it.
    plt.rcParams["svg.hashsalt"] = "pcmk-remoted-bench"
    plt.rcParams["svg.fonttype"] = "none"
    fig = plt.figure(figsize=(13, 8))
    grid = fig.add_gridspec(2, 2, width_ratios=[1.6, 1], height_ratios=[1, 0.7])
    ax = fig.add_subplot(grid[:, 0])
    ax2 = fig.add_subplot(grid[0, 1])
    ax3 = fig.add_subplot(grid[1, 1])

    # Left panel: every ratio as "shorter is better for ours": a figure where more is
    # better (throughput) is drawn inverted, as time per operation.
    rows = [(k, t) for k, t in RATIO_PANEL if s[k]["ratio"] is not None and s[k]["ratio"] > 0]
    labels, ratios, colors = [], [], []
    for i, (k, target) in enumerate(rows):
        f = s[k]
        inv = not f["lower"]
        r = 1 / f["ratio"] if inv else f["ratio"]
        rounds = [1 / x if inv else x for x in f["round_ratios"] if x > 0]
        label = f["label"] + (" (inverted: time per op)" if inv else f" ({f['unit']})")
        labels.append(label)
        ratios.append(r)
        colors.append("#2a7ab9" if r < 1 else "#c8553d")
        for rr in rounds:
            ax.plot(rr, i, "o", color="black", markersize=2.5, zorder=3)
        if target is not None:
            ax.plot([target, target], [i - 0.42, i + 0.42], color="#e0a000", lw=2.5, zorder=4)
        ax.text(max([r] + rounds) * 1.25, i, report.fmt_ratio(r), va="center", fontsize=8)
    y = list(range(len(rows)))
    ax.barh(y, ratios, color=colors, height=0.7, zorder=2)
    ax.set_xscale("log")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(min(ratios), 0.01) / 2, max(max(ratios), 1) * 6)
    ax.set_xlabel("ours ÷ original, log scale: shorter is better for ours (blue); "
                  "dots: rounds; gold: target", fontsize=8)
    ax.set_title("pcmk-remoted ÷ pacemaker-remoted 2.1.5", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.25, zorder=0)

    # Top right: where an operation's time goes, at concurrency 1.
    bars = [("floor: posix_spawn\n+ wait, no daemon", s["floor_c1_p50"]["floor"],
             s["floor_c1_p99"]["floor"]),
            ("ours", s["c1_p50"]["ours"], s["c1_p99"]["ours"]),
            ("original,\nclient tuned", s["t_c1_p50"]["original"], s["t_c1_p99"]["original"]),
            ("original, as a\ncluster sees it", s["c1_p50"]["original"],
             s["c1_p99"]["original"])]
    bars = [(n, p50, p99) for n, p50, p99 in bars if p50 and p99]
    yy = list(range(len(bars)))
    ax2.barh([v - 0.18 for v in yy], [b[1][1] for b in bars], height=0.34, color="#2a7ab9",
             label="p50")
    ax2.barh([v + 0.18 for v in yy], [b[2][1] for b in bars], height=0.34, color="#9cc3e4",
             label="p99")
    for v, b in zip(yy, bars):
        ax2.text(b[1][1] * 1.1, v - 0.18, f"{report.fmt(b[1][1])}", va="center", fontsize=7)
        ax2.text(b[2][1] * 1.1, v + 0.18, f"{report.fmt(b[2][1])}", va="center", fontsize=7)
    ax2.set_yticks(yy)
    ax2.set_yticklabels([b[0] for b in bars], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xscale("log")
    if bars:
        ax2.set_xlim(min(b[1][1] for b in bars) / 2, max(b[2][1] for b in bars) * 6)
    ax2.set_xlabel("ms, log scale", fontsize=8)
    ax2.set_title("no-op exec round trip, concurrency 1", fontsize=10)
    ax2.legend(fontsize=7, loc="upper right")
    ax2.grid(axis="x", which="both", alpha=0.25)

    # Bottom right: 1,000 monitors every second, what each daemon actually ran.
    runs = [(d, s["rec_runs"][d], s["rec_missed"][d]) for d in report.DAEMONS
            if s["rec_runs"][d] is not None]
    yy = list(range(len(runs)))
    ax3.barh(yy, [r[1][1] for r in runs], height=0.5,
             color=["#2a7ab9" if r[0] == "ours" else "#c8553d" for r in runs])
    for v, (d, got, missed) in zip(yy, runs):
        note = f"{report.fmt(got[1])} %"
        if missed is not None:
            note += f"\n{report.fmt(missed[1])} missed (max {report.fmt(missed[2])})"
        inside = got[1] > 60  # a long bar holds its label; a short one has it alongside
        ax3.text(2 if inside else got[1] + 2, v, note, va="center", fontsize=8,
                 color="white" if inside else "black")
    ax3.set_yticks(yy)
    ax3.set_yticklabels([r[0] for r in runs], fontsize=8)
    ax3.invert_yaxis()
    ax3.set_xlim(0, 100)
    ax3.set_xticks([0, 25, 50, 75, 100])
    ax3.set_xlabel("runs seen, % of 1 per second per resource", fontsize=8)
    st = meta.get("settings", {})
    ax3.set_title(f"{st.get('recurring_n', '?'):,} monitors × 1 s "
                  f"({st.get('recurring_s', '?')} s per round)", fontsize=10)
    ax3.grid(axis="x", alpha=0.25)

    fig.suptitle(f"{meta.get('date', '?')} · {meta.get('cpu', '?')}, {meta.get('cores', '?')} "
                 f"cores · kernel {meta.get('kernel', '?')} · ours {meta.get('commit', '?')} · "
                 f"Pacemaker {meta.get('pacemaker', '?')}", fontsize=8, y=0.995)
    fig.tight_layout()
    fig.savefig(sys.argv[2], metadata={"Date": None} if sys.argv[2].endswith(".svg") else None)
    print(f"plot.py: wrote {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
