#!/usr/bin/python3
"""PNG plots of a bench/run.sh raw-data folder (matplotlib, Debian's python3-matplotlib).

usage: plots.py RAW_DIR OUT_DIR

Writes, when the phase's data is there:
  throughput.png  single-stream MiB/s per server: (a) curl 1 GiB RETR/STOR, (e) ftpbench
                  STOR/RETR alone and with the idle clients
  latency.png     (i) latency percentiles p50/p90/p99 per command under load, per server
  stress.png      (i) operations/s with 1,000 and 5,000 clients, (j) 4 KiB files/s
  clients.png     (f) ftpc vs curl vs lftp against ftpd: MiB/s
Medians over the run's rounds, as in summary.md.
"""
import csv
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["ftpd", "vsftpd", "pure-ftpd", "proftpd", "pyftpdlib"]
COLORS = {"ftpd": "#d62728", "vsftpd": "#1f77b4", "pure-ftpd": "#2ca02c", "proftpd": "#9467bd",
          "pyftpdlib": "#8c564b", "ftpc": "#d62728", "curl": "#1f77b4", "lftp": "#2ca02c"}
MIB = 2 ** 20


def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def servers_of(raw):
    env = {}
    try:
        with open(os.path.join(raw, "env.txt")) as f:
            for line in f:
                k, _, v = line.partition(": ")
                env[k] = v.strip()
    except OSError:
        pass
    s = env.get("servers", "").split()
    s.sort(key=lambda x: ORDER.index(x) if x in ORDER else 99)
    return s, env


def grouped(ax, groups, series, values, ylabel, log=False):
    """groups on the x axis, one bar per series within a group; values[(group, series)]."""
    n = max(1, len(series))
    w = 0.8 / n
    for i, s in enumerate(series):
        xs = [g + (i - (n - 1) / 2) * w for g in range(len(groups))]
        ys = [values.get((grp, s)) or 0 for grp in groups]
        bars = ax.bar(xs, ys, w, label=s, color=COLORS.get(s))
        for b, y in zip(bars, ys):
            if y:
                ax.annotate("%.0f" % y if y >= 10 else "%.2g" % y, (b.get_x() + b.get_width() / 2, y),
                            ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.12)
    ax.legend(fontsize=8)


def plot_throughput(raw, out, servers, stamp):
    vals, groups = {}, []
    tsv = os.path.join(raw, "a-single-stream.tsv")
    if os.path.exists(tsv):
        sp = {}
        with open(tsv) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                tt, tp, b = float(r["time_total"]), float(r["time_pretransfer"]), float(r["bytes"])
                if int(r["round"]) >= 1 and r["rc"] == "0" and b == 2 ** 30 and tt > tp:
                    sp.setdefault((r["server"], r["dir"]), []).append(b / MIB / (tt - tp))
        for d, g in (("retr", "curl 1 GiB\nRETR"), ("stor", "curl 1 GiB\nSTOR")):
            if any((s, d) in sp for s in servers):
                groups.append(g)
                for s in servers:
                    vals[(g, s)] = med(sp.get((s, d), []))
    runs = {}
    for p in glob.glob(os.path.join(raw, "e-ftpbench-*.json")):
        j = load(p)
        if j:
            runs.setdefault(j["label"], []).append(j)
    if runs:
        n = next(iter(runs.values()))[0]["clients"]
        for key, g in (("stor_mib_s", "ftpbench\nSTOR"), ("retr_mib_s", "ftpbench\nRETR"),
                       ("stor_idle_mib_s", "STOR with\n%d idle" % n), ("retr_idle_mib_s", "RETR with\n%d idle" % n)):
            groups.append(g)
            for s in servers:
                vals[(g, s)] = med([j.get(key) for j in runs.get(s, [])])
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.5))
    grouped(ax, groups, servers, vals, "MiB/s (higher is better)")
    ax.set_title("One transfer stream over loopback, tmpfs (bench/run.sh %s)" % stamp, fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "throughput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(raw, out, servers, stamp):
    ns = sorted({int(os.path.basename(p).split("-")[1]) for p in glob.glob(os.path.join(raw, "i-*-*.json"))
                 if os.path.basename(p).split("-")[1].isdigit()})
    if not ns:
        return None
    ops = ["connect", "login", "pasv", "retr", "stor", "list"]
    fig, axes = plt.subplots(len(ns), 1, figsize=(11, 3.6 * len(ns)), squeeze=False)
    for ax, N in zip(axes[:, 0], ns):
        js = {s: load(os.path.join(raw, "i-%d-%s.json" % (N, s))) for s in servers}
        groups, vals = [], {}
        for op in ops:
            if not any(j and j.get("latency_ms", {}).get(op, {}).get("count") for j in js.values()):
                continue
            for q in ("p50", "p99"):
                g = "%s\n%s" % (op.upper() if op != "login" else op, q)
                groups.append(g)
                for s in servers:
                    v = js[s].get("latency_ms", {}).get(op, {}).get(q) if js[s] else None
                    vals[(g, s)] = v if v else None
        grouped(ax, groups, servers, vals, "ms (log scale, lower is better)", log=True)
        ax.set_title("Latency under load: %d concurrent clients, mixed operations (ftpc stress)" % N, fontsize=10)
    fig.suptitle("bench/run.sh %s" % stamp, fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "latency.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_stress(raw, out, servers, stamp):
    groups, vals = [], {}
    ns = sorted({int(os.path.basename(p).split("-")[1]) for p in glob.glob(os.path.join(raw, "i-*-*.json"))
                 if os.path.basename(p).split("-")[1].isdigit()})
    for N in ns:
        g = "%d clients mixed\noperations/s" % N
        groups.append(g)
        for s in servers:
            j = load(os.path.join(raw, "i-%d-%s.json" % (N, s)))
            vals[(g, s)] = j["ops_per_s"] if j else None
    for op in ("get", "put"):
        g = "4 KiB %s\nfiles/s" % op.upper()
        have = False
        for s in servers:
            j = load(os.path.join(raw, "j-%s-%s.json" % (op, s)))
            if j and j.get("duration_s"):
                o = j.get("ops", {}).get(op, {})
                vals[(g, s)] = (o.get("count", 0) - o.get("errors", 0)) / j["duration_s"]
                have = True
        if have:
            groups.append(g)
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.5))
    grouped(ax, groups, servers, vals, "per second (higher is better)")
    ax.set_title("Many clients (ftpc stress), bench/run.sh %s" % stamp, fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "stress.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_clients(raw, out, stamp):
    clients = ["ftpc", "curl", "lftp"]
    names = {"get": "1 GiB get", "put": "1 GiB put", "get8": "8 × 128 MiB\nat once"}
    vals, groups = {}, []
    for op in ("get", "put", "get8"):
        have = False
        for c in clients:
            js = [load(p) for p in glob.glob(os.path.join(raw, "f-%s-%s-*.json" % (op, c)))
                  if not p.endswith("-0.json")]
            v = med([1024 / j["wall_s"] for j in js if j and j["rc"] == 0])
            vals[(names[op], c)] = v
            have = have or v is not None
        if have:
            groups.append(names[op])
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    grouped(ax, groups, clients, vals, "MiB/s, wall time (higher is better)")
    ax.set_title("Clients against ftpd over loopback (bench/run.sh %s)" % stamp, fontsize=10)
    fig.tight_layout()
    path = os.path.join(out, "clients.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    raw, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    servers, env = servers_of(raw)
    stamp = env.get("date_utc", os.path.basename(os.path.normpath(raw)))
    for p in (plot_throughput(raw, out, servers, stamp), plot_latency(raw, out, servers, stamp),
              plot_stress(raw, out, servers, stamp), plot_clients(raw, out, stamp)):
        if p:
            print("wrote", p)


if __name__ == "__main__":
    main()
