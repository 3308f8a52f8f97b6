#!/usr/bin/env python3
"""Summarises a bench/run results file (JSON lines) into tables: ours vs the original.

In: the .jsonl bench/run wrote (a "meta" line, one line per scenario, daemon and round).
Out: the markdown report on stdout and, with --markdown FILE, in FILE. Standard library
only; bench/plot.py imports summarise() from here so the plot and the table never disagree.
Each figure is given as the median over rounds (or start/stop cycles) with min and max;
ratios are ours / original of the medians.
"""
import argparse
import json
import statistics
import sys

DAEMONS = ("ours", "original")


def load(path):
    """The records of one results file, by kind."""
    meta, end, recs = {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("kind") == "meta":
                meta = r
            elif r.get("kind") == "end":
                end = r
            else:
                recs.append(r)
    return meta, end, recs


def ok(recs, kind, daemon):
    """Records of one kind and daemon that did not fail, by round."""
    return [r for r in recs if r["kind"] == kind and r["daemon"] == daemon and "error" not in r]


def errors(recs):
    return [r for r in recs if "error" in r]


# Each figure: key, label, unit, whether lower is better, and how to get its samples
# (a list of (round, value)) for a daemon from the records.
def _values(rs, fn):
    """(round, fn(record)) for each record; a record without the field (an older file)
    is left out rather than failing the report."""
    out = []
    for r in rs:
        try:
            out.append((r["round"], fn(r)))
        except (KeyError, TypeError, ZeroDivisionError):
            pass
    return out


def _per_round(kind, fn):
    def get(recs, daemon):
        return _values(ok(recs, kind, daemon), fn)
    return get


def _lifecycle(fn):
    def get(recs, daemon):
        return _values([r for r in ok(recs, "lifecycle", daemon)
                        if r.get("exit") == 0 and r.get("startup_us", -1) >= 0], fn)
    return get


def _floor_of(recs, kind, rnd, field, pct):
    for f in ok(recs, kind, "floor"):
        if f["round"] == rnd:
            return f[field][pct]
    return None


def _added(pct):
    """Round trip at concurrency 1 minus the posix_spawn floor (same round, same percentile)."""
    def get(recs, daemon):
        out = []
        for r in ok(recs, "exec_c1", daemon):
            fl = _floor_of(recs, "floor_c1", r["round"], "lat_us", pct)
            if fl is not None:
                out.append((r["round"], (r["rtt_us"][pct] - fl) / 1000.0))
        return out
    return get


def _cpu_per_1000(kinds):
    def get(recs, daemon):
        out = []
        rounds = sorted({r["round"] for r in ok(recs, kinds[0], daemon)})
        for rnd in rounds:
            rs = [r for k in kinds for r in ok(recs, k, daemon) if r["round"] == rnd]
            ops = sum(r["ops"] for r in rs)
            ns = sum(r["cpu_ns"] for r in rs)
            if len(rs) == len(kinds) and ops > 0 and all(r["cpu_ns"] >= 0 for r in rs):
                out.append((rnd, ns / ops * 1000 / 1e6))
        return out
    return get


def _peak_rss(recs, daemon):
    out = []
    for r in ok(recs, "recurring", daemon):
        peaks = [r["rss_peak_kib"]] + [e["rss_peak_kib"] for e in ok(recs, "exec_c32", daemon)
                                       if e["round"] == r["round"]]
        out.append((r["round"], max(peaks) / 1024.0))
    return out


FIGURES = [
    # key, group, label, unit, lower is better, getter
    ("startup", "life", "startup to listening", "ms", True,
     _lifecycle(lambda r: r["startup_us"] / 1000.0)),
    ("shutdown", "life", "shutdown on SIGTERM, no cluster", "ms", True,
     _lifecycle(lambda r: r["shutdown_us"] / 1000.0)),
    ("connect_p50", "conn", "connect (TCP + TLS + sign-on), p50", "ms", True,
     _per_round("connect", lambda r: r["connect_us"]["p50"] / 1000.0)),
    ("connect_p99", "conn", "connect, p99", "ms", True,
     _per_round("connect", lambda r: r["connect_us"]["p99"] / 1000.0)),
    ("c1_p50", "exec", "exec round trip, c1, p50", "ms", True,
     _per_round("exec_c1", lambda r: r["rtt_us"]["p50"] / 1000.0)),
    ("c1_p90", "exec", "exec round trip, c1, p90", "ms", True,
     _per_round("exec_c1", lambda r: r["rtt_us"]["p90"] / 1000.0)),
    ("c1_p99", "exec", "exec round trip, c1, p99", "ms", True,
     _per_round("exec_c1", lambda r: r["rtt_us"]["p99"] / 1000.0)),
    ("c1_max", "exec", "exec round trip, c1, max", "ms", True,
     _per_round("exec_c1", lambda r: r["rtt_us"]["max"] / 1000.0)),
    ("c1_ops", "exec", "exec throughput, c1", "ops/s", False,
     _per_round("exec_c1", lambda r: r["ops_per_s"])),
    ("added_p50", "exec", "added latency (c1 round trip - floor), p50", "ms", True, _added("p50")),
    ("added_p99", "exec", "added latency (c1 round trip - floor), p99", "ms", True, _added("p99")),
    ("c32_p50", "exec", "exec round trip, c32, p50", "ms", True,
     _per_round("exec_c32", lambda r: r["rtt_us"]["p50"] / 1000.0)),
    ("c32_p90", "exec", "exec round trip, c32, p90", "ms", True,
     _per_round("exec_c32", lambda r: r["rtt_us"]["p90"] / 1000.0)),
    ("c32_p99", "exec", "exec round trip, c32, p99", "ms", True,
     _per_round("exec_c32", lambda r: r["rtt_us"]["p99"] / 1000.0)),
    ("c32_max", "exec", "exec round trip, c32, max", "ms", True,
     _per_round("exec_c32", lambda r: r["rtt_us"]["max"] / 1000.0)),
    ("c32_ops", "exec", "exec throughput, c32", "ops/s", False,
     _per_round("exec_c32", lambda r: r["ops_per_s"])),
    ("reply_p50", "exec", "exec request -> reply (call id), c1, p50", "ms", True,
     _per_round("exec_c1", lambda r: r["reply_us"]["p50"] / 1000.0)),
    ("cpu_per_1000", "cpu", "daemon CPU per 1,000 operations (c1 + c32)", "ms", True,
     _cpu_per_1000(("exec_c1", "exec_c32"))),
    ("rss_idle", "mem", "RSS idle (never connected)", "KiB", True,
     _lifecycle(lambda r: r["rss_idle_kib"])),
    ("pss_idle", "mem", "PSS idle (shared pages split)", "KiB", True,
     _lifecycle(lambda r: r["pss_idle_kib"])),
    ("rss_signed_on", "mem", "RSS after a sign-on", "KiB", True,
     _per_round("exec_c1", lambda r: r["rss_before_kib"])),
    ("rss_1000", "mem", "RSS with 1,000 registered resources", "KiB", True,
     _per_round("recurring", lambda r: r["rss_registered_kib"])),
    ("rss_peak", "mem", "peak RSS under load (c32 and recurring)", "MiB", True, _peak_rss),
    ("rec_cpu", "rec", "recurring: daemon CPU", "% of a core", True,
     _per_round("recurring", lambda r: r["cpu_ns"] / (r["window_ms"] * 1e6) * 100)),
    ("rec_cpu_run", "rec", "recurring: daemon CPU per run", "µs", True,
     _per_round("recurring", lambda r: r["cpu_ns"] / r["runs"] / 1000.0)),
    ("rec_started", "rec", "recurring: monitors started (60 s allowed)", "monitors", False,
     _per_round("recurring", lambda r: r["started"])),
    ("rec_missed", "rec", "recurring: missed runs (no run for a whole interval)", "runs", True,
     _per_round("recurring", lambda r: r["missed"])),
    ("rec_late", "rec", "recurring: late runs (started 0.5 to 1 interval late)", "runs", True,
     _per_round("recurring", lambda r: r["late"])),
    ("rec_runs", "rec", "recurring: runs seen / one per second per resource", "%", False,
     _per_round("recurring", lambda r: 100.0 * r["runs"] / max(r["runs_expected"], 1))),
    ("rec_lag_p99", "rec", "recurring: start-to-start lag over the interval, p99", "ms", True,
     _per_round("recurring", lambda r: r["lag_ms"]["p99"])),
    ("rec_rss", "rec", "recurring: peak RSS", "MiB", True,
     _per_round("recurring", lambda r: r["rss_peak_kib"] / 1024.0)),
    ("scale_rss", "scale", "scale-out: total RSS", "MiB", True,
     _per_round("scaleout", lambda r: r["rss_total_kib"] / 1024.0)),
    ("scale_pss", "scale", "scale-out: total PSS", "MiB", True,
     _per_round("scaleout", lambda r: r["pss_total_kib"] / 1024.0)),
    ("scale_cpu", "scale", "scale-out: total idle CPU", "% of a core", True,
     _per_round("scaleout", lambda r: r["cpu_ns"] / (r["window_s"] * 1e9) * 100)),
    ("scale_start", "scale", "scale-out: all listening", "ms", True,
     _per_round("scaleout", lambda r: r["all_listening_ms"])),
    # Diagnostics: the client turns off the Nagle/delayed-ACK stall (lrmd-bench --client-tuned).
    ("t_c1_p50", "tuned", "c1 p50, client TCP_NODELAY + quick ACKs", "ms", True,
     _per_round("exec_c1_tuned", lambda r: r["rtt_us"]["p50"] / 1000.0)),
    ("t_c1_p99", "tuned", "c1 p99, client TCP_NODELAY + quick ACKs", "ms", True,
     _per_round("exec_c1_tuned", lambda r: r["rtt_us"]["p99"] / 1000.0)),
    ("t_c32_ops", "tuned", "c32 throughput, client TCP_NODELAY + quick ACKs", "ops/s", False,
     _per_round("exec_c32_tuned", lambda r: r["ops_per_s"])),
    ("t_cpu_per_1000", "tuned", "CPU per 1,000 ops, client TCP_NODELAY + quick ACKs", "ms", True,
     _cpu_per_1000(("exec_c1_tuned", "exec_c32_tuned"))),
]

FLOOR = [
    ("floor_c1_p50", "posix_spawn + wait, c1, p50", "ms",
     lambda r: r["lat_us"]["p50"] / 1000.0, "floor_c1"),
    ("floor_c1_p99", "posix_spawn + wait, c1, p99", "ms",
     lambda r: r["lat_us"]["p99"] / 1000.0, "floor_c1"),
    ("floor_c1_ops", "posix_spawn + wait, c1", "ops/s", lambda r: r["ops_per_s"], "floor_c1"),
    ("floor_c32_ops", "posix_spawn + wait, 32 at once", "ops/s", lambda r: r["ops_per_s"],
     "floor_c32"),
    ("floor_cpu", "spawner's own CPU per 1,000 ops", "ms",
     lambda r: r["self_cpu_us_per_1000"] / 1000.0, "floor_c1"),
]

# key, label, the largest ratio that meets it (or None: an absolute rule), a note
TARGETS = [
    ("cpu_per_1000", "daemon CPU per 1,000 ops", 0.5),
    ("added_p50", "added latency per op, p50 (c1)", 0.5),
    ("added_p99", "added latency per op, p99 (c1)", 0.5),
    ("rss_idle", "idle RSS", 0.2),
    ("rss_1000", "RSS with 1,000 resources", 0.3),
    ("startup", "startup to listening", 0.2),
    ("rec_missed", "1,000 x 1 s monitors: missed runs", None),
]


def stats(values):
    """(min, median, max) of a list, or None."""
    if not values:
        return None
    return (min(values), statistics.median(values), max(values))


def summarise(recs):
    """{key: {"label", "unit", "lower", "group", daemon: (min, med, max), "ratio",
    "round_ratios"}} for every figure, plus the floor."""
    out = {}
    for key, group, label, unit, lower, get in FIGURES:
        f = {"label": label, "unit": unit, "lower": lower, "group": group}
        per = {}
        for d in DAEMONS:
            samples = get(recs, d)
            f[d] = stats([v for _, v in samples])
            by_round = {}
            for rnd, v in samples:
                by_round.setdefault(rnd, []).append(v)
            per[d] = {rnd: statistics.median(vs) for rnd, vs in by_round.items()}
        f["ratio"] = None
        if f["ours"] and f["original"] and f["original"][1] != 0:
            f["ratio"] = f["ours"][1] / f["original"][1]
        f["round_ratios"] = [per["ours"][rnd] / per["original"][rnd]
                             for rnd in sorted(per["ours"])
                             if rnd in per["original"] and per["original"][rnd] != 0]
        out[key] = f
    for key, label, unit, fn, kind in FLOOR:
        out[key] = {"label": label, "unit": unit, "group": "floor",
                    "floor": stats([fn(r) for r in ok(recs, kind, "floor")])}
    return out


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 100 or v == int(v):
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_stats(s):
    if s is None:
        return "–"
    lo, med, hi = s
    return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def fmt_ratio(r):
    if r is None:
        return "–"
    if r == 0:
        return "0×"
    if r >= 10:
        return f"{r:.0f}×"
    if r >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.3f}×"


def verdict(s, key, limit):
    f = s[key]
    if limit is None:  # missed runs: zero in every round
        if f["ours"] is None:
            return "no data", ""
        worst = f["ours"][2]
        return ("**met**" if worst == 0 else f"**missed**: up to {fmt(worst)} missed runs"), \
            f"0 (ours: {fmt(worst)} at most)"
    r = f["ratio"]
    if r is None:
        return "no data", f"≤ {limit}×"
    if r <= limit:
        return "**met**", f"≤ {limit}×"
    return f"**missed** by {r / limit:.1f}× ({fmt_ratio(r)} vs {limit}×)", f"≤ {limit}×"


def machine_line(meta):
    dirty = meta.get("dirty_files", 0)
    commit = meta.get("commit", "?") + (f" + {dirty} uncommitted files" if dirty else "")
    return (f"Measured {meta.get('date', '?')} on {meta.get('cpu', '?')}, "
            f"{meta.get('cores', '?')} cores, {int(meta.get('mem_kib', 0)) // 1048576} GiB, "
            f"{meta.get('os', '?')}, kernel {meta.get('kernel', '?')}; "
            f"load average before {meta.get('loadavg_before', '?')}. "
            f"Ours: {meta.get('ours', '?')} at {commit} ({meta.get('rustc', '?')}). "
            f"Original: {meta.get('original', '?')}, Pacemaker libraries "
            f"{meta.get('pacemaker', '?')}, libqb {meta.get('libqb', '?')}, "
            f"GnuTLS {meta.get('gnutls', '?')}, GLib {meta.get('glib', '?')}.")


def resources_label(label, st):
    """A label naming the recurring scenario's 1,000 resources, with the count actually run."""
    n = st.get("recurring_n", 1000)
    return label if n == 1000 else label.replace("1,000 ", f"{n:,} ", 1)


def markdown(meta, end, recs):
    s = summarise(recs)
    st = meta.get("settings", {})
    lines = [f"# Benchmark: pcmk-remoted vs Debian's pacemaker-remoted", "",
             machine_line(meta), "",
             f"{st.get('rounds', '?')} rounds, daemons alternating; figures are "
             "median (min–max) over rounds (startup, shutdown and idle memory over "
             f"{st.get('rounds', '?')} × {st.get('cycles', '?')} start/stop cycles). "
             f"Per round: {st.get('connects', '?')} connects, {st.get('ops_c1', '?')} "
             f"operations at concurrency 1 and {st.get('ops_c32', '?')} at 32, "
             f"{st.get('recurring_n', '?')} × 1 s monitors watched {st.get('recurring_s', '?')} s, "
             f"{st.get('scale_n', '?')} idle daemons at once. Ratio = ours ÷ original.", "",
             "## Targets", "",
             "| Target | Ours | Original | Ours ÷ original | Goal | Verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for key, label, limit in TARGETS:
        f = s[key]
        v, goal = verdict(s, key, limit)
        unit = f["unit"]
        if key in ("rss_1000", "rec_missed"):
            label = resources_label(label, st)
        lines.append(f"| {label} ({unit}) | {fmt_stats(f['ours'])} | {fmt_stats(f['original'])} "
                     f"| {fmt_ratio(f['ratio'])} | {goal} | {v} |")
    groups = [("life", "Start and stop"), ("conn", "Connect"), ("exec", "Executing the no-op agent"),
              ("cpu", "CPU"), ("mem", "Memory"), ("rec", "Recurring monitors"),
              ("scale", "Scale-out: many idle daemons on one machine"),
              ("tuned", "Diagnostic: the client removes the Nagle / delayed-ACK stall")]
    lines += ["", "## All figures", "",
              "| Figure | Unit | Ours | Original | Ours ÷ original |", "|---|---|---:|---:|---:|"]
    for g, title in groups:
        lines.append(f"| **{title}** | | | | |")
        for key, f in s.items():
            if f.get("group") == g:
                label = resources_label(f["label"], st) if key == "rss_1000" else f["label"]
                lines.append(f"| {label} | {f['unit']} | {fmt_stats(f['ours'])} | "
                             f"{fmt_stats(f['original'])} | {fmt_ratio(f['ratio'])} |")
    lines += ["", "## The physical floor (no daemon)", "",
              "| Figure | Unit | Median (min–max) |", "|---|---|---:|"]
    for key, f in s.items():
        if f.get("group") == "floor":
            lines.append(f"| {f['label']} | {f['unit']} | {fmt_stats(f['floor'])} |")
    lines += ["", "## How to read it", "",
              "- Every request goes out as a cluster node's does: liblrmd, TLS-PSK, Nagle on. "
              "The original answers each about 88 ms late (the client's second TLS record "
              "waits for an ACK the daemon delays; docs/protocol.md 3), which is what "
              "a cluster sees; the diagnostic rows turn the stall off on the client side "
              "(TCP_NODELAY, and TCP_QUICKACK re-armed every 0.5 ms) to show the daemons "
              "without it. Set-up requests (registering, starting monitors) always use that.",
              "- Concurrency 32: at most one operation in flight per resource on 32 resources, "
              "one connection, each exec() waiting for its reply as the controller's does, so "
              "the client's request rate bounds the original to about 11 operations/s.",
              "- Added latency = the round trip at concurrency 1 minus the same agent spawned "
              "and reaped by bench/spawn-floor, percentile by percentile, in the same round; "
              "on a busy machine a floor p99 can exceed a daemon's and the difference goes "
              "below zero.",
              "- Daemon CPU = run time of the daemon's own threads (schedstat, in ns; utime + stime in ticks is in the JSON too), not "
              "its agents'. RSS from /proc/PID/status; peak = VmHWM after a reset "
              "(clear_refs 5) at the start of the phase; PSS from smaps_rollup.",
              "- Recurring: runs are read from the agents' own log (one line per run, "
              "/proc/uptime). A resource without a run for 2 intervals or more missed "
              "(gap ÷ interval − 1, rounded down) runs; a gap over 1.5 intervals is a late "
              "run. Monitors not started within 60 s count as never run.",
              "- Scale-out: idle daemons that no client ever connected to, each in its own "
              "namespace; RSS counts shared library pages once per daemon, PSS splits them."]
    errs = errors(recs)
    if errs:
        lines += ["", "## Failed steps", ""]
        lines += [f"- {e['kind']} {e['daemon']} round {e['round']}: {e['error']}" for e in errs]
    if end:
        lines += ["", f"Run time {end.get('wall_s', '?')} s; load average after "
                      f"{end.get('loadavg_after', '?')}."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl")
    ap.add_argument("--markdown", help="also write the report to this file")
    a = ap.parse_args()
    meta, end, recs = load(a.jsonl)
    text = markdown(meta, end, recs)
    if a.markdown:
        with open(a.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
