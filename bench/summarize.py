#!/usr/bin/env python3
"""Turns a bench/run.sh raw-data folder into the Markdown summary (on stdout) and a
per-round detail file (RAW/details.md). Phases e-k: summarize5.py.

usage: summarize.py RAW_DIR

Every figure is a median over the rounds of one run; ratios are between servers measured
in that run. Targets are those of issues 2-5.
"""
import csv
import glob
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import summarize5  # noqa: E402  phases e-k

ORDER = ["ftpd", "vsftpd", "pure-ftpd", "proftpd", "pyftpdlib"]
C_PEERS = ["vsftpd", "pure-ftpd", "proftpd"]
MIB = 2 ** 20


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, nd=0, suffix=""):
    if v is None:
        return "n/a"
    return ("%%.%df" % nd) % v + suffix


def rng(xs, nd=0):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return fmt(xs[0], nd)
    return "%s (%s–%s)" % (fmt(med(xs), nd), fmt(min(xs), nd), fmt(max(xs), nd))


def by_round(pattern, raw):
    """{server: [json per round]} for files named <prefix>-<server>-<round>.json."""
    out = {}
    for p in sorted(glob.glob(os.path.join(raw, pattern))):
        base = os.path.basename(p)[:-5]
        stem, _, rnd = base.rpartition("-")
        server = stem.split("-", 2)[2]
        j = load(p)
        if j is not None:
            j["_round"] = int(rnd)
            out.setdefault(server, []).append((int(rnd), j, p))
    return {s: [j for _, j, _ in sorted(v, key=lambda t: t[0])] for s, v in out.items()}


def rate_windows(rate_path, storm):
    """(reference MiB/s, MiB/s during the storm's login phase). The reference is the
    download alone: from 0.5 s after its start to the storm, and from 0.3 s after the
    storm to the end of the download, so that drift during the round cancels out."""
    pts = []
    try:
        with open(rate_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    pts.append((float(parts[0]), int(parts[1])))
    except (OSError, ValueError):
        return None, None
    if len(pts) < 3 or storm is None:
        return None, None

    def at(t):
        if t <= pts[0][0]:
            return pts[0][1]
        for (t1, b1), (t2, b2) in zip(pts, pts[1:]):
            if t1 <= t <= t2:
                return b1 + (b2 - b1) * ((t - t1) / (t2 - t1) if t2 > t1 else 0)
        return None  # the download ended before t

    def span(a, b):
        ba, bb = at(a), at(b)
        if ba is None or bb is None or b - a < 0.2:
            return None
        return bb - ba, b - a

    s0, s1 = storm["t0_mono"], storm["login_done_mono"]
    ref = [x for x in (span(pts[0][0] + 0.5, s0 - 0.05), span(s1 + 0.3, pts[-1][0] - 0.05)) if x]
    during = span(s0, s1)
    return (sum(b for b, _ in ref) / MIB / sum(t for _, t in ref) if ref else None,
            during[0] / MIB / during[1] if during else None)


def main():
    raw = sys.argv[1]
    env = {}
    try:
        with open(os.path.join(raw, "env.txt")) as f:
            for line in f:
                k, _, v = line.partition(": ")
                env.setdefault(k, []).append(v.strip())
    except OSError:
        pass
    servers = env.get("servers", [""])[0].split()
    servers.sort(key=lambda s: ORDER.index(s) if s in ORDER else 99)
    rows, notes, detail = [], [], []

    def row(label, vals, ratio="", target="", met=None):
        cells = [vals.get(s, "") for s in servers]
        m = "" if met is None else ("**yes**" if met else "**no**")
        rows.append("| %s | %s | %s | %s | %s |" % (label, " | ".join(cells), ratio, target, m))

    def judge(ratio, op, limit):
        if ratio is None:
            return None
        return ratio >= limit if op == ">=" else (ratio <= limit if op == "<=" else ratio < limit)

    # ------------------------------------------------------------ a
    tsv = os.path.join(raw, "a-single-stream.tsv")
    if os.path.exists(tsv):
        speeds, fails = {}, {}
        with open(tsv) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if int(r["round"]) < 1:
                    continue
                key = (r["server"], r["dir"])
                size, tt, tp = float(r["bytes"]), float(r["time_total"]), float(r["time_pretransfer"])
                if r["rc"] != "0" or size != float(1 << 30) or tt <= tp:
                    fails[key] = fails.get(key, 0) + 1
                    continue
                speeds.setdefault(key, []).append(size / MIB / (tt - tp))
        iperf = []
        for p in glob.glob(os.path.join(raw, "a-iperf3-*.json")):
            j = load(p)
            if j and "end" in j:
                iperf.append(j["end"]["sum_received"]["bits_per_second"] / 8 / MIB)
        for d, name in (("retr", "RETR"), ("stor", "STOR")):
            m = {s: med(speeds.get((s, d), [])) for s in servers}
            vals = {s: fmt(m[s]) + (" (%d failed)" % fails[(s, d)] if fails.get((s, d)) else "")
                    for s in servers}
            detail.append("| (a) %s MiB/s | %s |" % (name, " | ".join(rng(speeds.get((s, d), [])) for s in servers)))
            if d == "retr":
                refs = [(m[s], s) for s in ("vsftpd", "proftpd") if m.get(s)]
                ref = max(refs) if refs else None
                ratio = m.get("ftpd") / ref[0] if ref and m.get("ftpd") else None
                row("(a) 1 GiB RETR (curl, tmpfs), data phase MiB/s", vals,
                    "%s ÷ %s" % (fmt(ratio, 2), ref[1]) if ref else "n/a", "≥ 1.00", judge(ratio, ">=", 1.0))
            else:
                ref = m.get("pure-ftpd")
                ratio = m.get("ftpd") / ref if ref and m.get("ftpd") else None
                row("(a) 1 GiB STOR (curl, tmpfs), data phase MiB/s", vals,
                    "%s ÷ pure-ftpd" % fmt(ratio, 2), "≥ 1.25", judge(ratio, ">=", 1.25))
        if iperf:
            notes.append("loopback reference, iperf3 one stream: %s MiB/s (median, min–max)." % rng(iperf))
        cmpf = os.path.join(raw, "a-upload-cmp.txt")
        if os.path.exists(cmpf):
            bad = [l.split()[0] for l in open(cmpf) if "MISMATCH" in l]
            notes.append("last 1 GiB upload byte-identical: %s." % ("all" if not bad else "NOT for " + ", ".join(bad)))

    def b_total_rows(lbl, tot, errs, judged=True):
        """(b)'s two targets on total time: ≤ 0.5 × the best C peer, ≤ 1.0 × pyftpdlib.
        Rows from conc-dl.py (judged=False) show the ratios as information only: its
        threads, not the server, set their pace (bench/README.md, Caveats)."""
        vals = {s: fmt(tot[s], 2) + ("*" if errs[s] else "") for s in servers}
        cbest = [(tot[s], s) for s in C_PEERS if tot.get(s)]
        best = min(cbest) if cbest else None
        r1 = tot.get("ftpd") / best[0] if best and tot.get("ftpd") else None
        row(lbl + ": total s", vals, "%s ÷ %s (best C)" % (fmt(r1, 2), best[1]) if best else "n/a",
            "≤ 0.50" if judged else "(info: driver-bound)", judge(r1, "<=", 0.5) if judged else None)
        py = tot.get("pyftpdlib")
        r2 = tot.get("ftpd") / py if py and tot.get("ftpd") else None
        row(lbl + ": total s", {s: "″" for s in servers}, "%s ÷ pyftpdlib" % fmt(r2, 2),
            "≤ 1.00" if judged else "(info: driver-bound)", judge(r2, "<=", 1.0) if judged else None)

    # ------------------------------------------------------------ b
    b = by_round("b-conc-*.json", raw)
    if b:
        j0 = next(iter(b.values()))[0]
        tot = {s: med([j["total_s"] for j in b.get(s, [])]) for s in servers}
        pss = {s: med([j["server_peak"]["pss_sum_kib"] / 1024 for j in b.get(s, []) if "server_peak" in j])
               for s in servers}
        errs = {s: sum(j["error_count"] for j in b.get(s, [])) for s in servers}
        lbl = "(b) %d logins at once + %d× RETR 1 MiB each, MD5-crypt" % (j0["clients"], j0["repeat"])
        b_total_rows(lbl, tot, errs, judged=False)
        cpu = {s: med([j.get("server_cpu_s") for j in b.get(s, [])]) for s in servers}
        if any(v is not None for v in cpu.values()):
            cb = [(cpu[s], s) for s in C_PEERS if cpu.get(s)]
            bc = min(cb) if cb else None
            rc = cpu.get("ftpd") / bc[0] if bc and cpu.get("ftpd") else None
            rp = cpu.get("ftpd") / cpu["pyftpdlib"] if cpu.get("pyftpdlib") and cpu.get("ftpd") else None
            row("(b) same: server CPU time, s", {s: fmt(cpu[s], 2) for s in servers},
                "%s ÷ %s, %s ÷ pyftpdlib" % (fmt(rc, 2), bc[1] if bc else "?", fmt(rp, 2)), "(info)")
        pyp = pss.get("pyftpdlib")
        r3 = pss.get("ftpd") / pyp if pyp and pss.get("ftpd") else None
        row("(b) peak server PSS (process tree), MiB", {s: fmt(pss[s], 1) for s in servers},
            "%s ÷ pyftpdlib" % fmt(r3, 2), "≤ 1.00", judge(r3, "<=", 1.0))
        if any(errs.values()):
            ex = {}
            for s in servers:
                for j in b.get(s, []):
                    ex.update({"%s %s" % (s, k): v for k, v in j.get("error_examples", {}).items()})
            notes.append("* errors in (b): " + "; ".join(
                "%s: %d" % (s, errs[s]) for s in servers if errs[s]) + ". Examples: " +
                "; ".join("%s = %s" % kv for kv in list(ex.items())[:4]))
        for key, name, nd in (("total_s", "total s", 2), ("login_phase_s", "login phase s", 2),
                              ("transfer_phase_s", "transfer phase s", 2),
                              ("agg_mib_s_transfer_phase", "MiB/s in transfer phase", 0)):
            detail.append("| (b) %s | %s |" % (name, " | ".join(
                rng([j[key] for j in b.get(s, [])], nd) for s in servers)))
        for key, name, nd in (("driver_cpu_s", "driver CPU s", 2),
                              ("driver_voluntary_switches", "driver voluntary context switches", 0)):
            detail.append("| (b) %s | %s |" % (name, " | ".join(
                rng([j[key] for j in b.get(s, []) if key in j], nd) for s in servers)))
        detail.append("| (b) server CPU s | %s |" % " | ".join(
            rng([j.get("server_cpu_s") for j in b.get(s, [])], 2) for s in servers))
        detail.append("| (b) peak PSS MiB | %s |" % " | ".join(
            rng([j["server_peak"]["pss_sum_kib"] / 1024 for j in b.get(s, []) if "server_peak" in j], 1)
            for s in servers))
        detail.append("| (b) peak processes / threads | %s |" % " | ".join(
            " / ".join("%d/%d" % (j["server_peak"].get("procs", 0), j["server_peak"].get("master_threads", 0))
                       for j in b.get(s, []) if "server_peak" in j) or "n/a" for s in servers))
        detail.append("| (b) errors per round | %s |" % " | ".join(
            " / ".join(str(j["error_count"]) for j in b.get(s, [])) or "n/a" for s in servers))

    # ------------------------------------------------------------ b', the same work from C
    bs = by_round("b-stress-*[0-9].json", raw)
    if bs:
        def stress_errors(j):
            return sum(v.get("errors", 0) for v in j.get("ops", {}).values()) + \
                j.get("verify_failures", 0) + j.get("ops_unfinished", 0)

        def stress_cpu(s, j):
            ru = load(os.path.join(raw, "b-stress-%s-%d-rusage.json" % (s, j["_round"])))
            return ru.get("server_cpu_s") if ru else None

        stot = {s: med([j["duration_s"] for j in bs.get(s, [])]) for s in servers}
        serr = {s: sum(stress_errors(j) for j in bs.get(s, [])) for s in servers}
        lbl = "(b′) the same work from ftpc stress (C, one event loop)"
        b_total_rows(lbl, stot, serr)
        scpu = {s: med([stress_cpu(s, j) for j in bs.get(s, [])]) for s in servers}
        row("(b′) same: server CPU time, s", {s: fmt(scpu[s], 2) for s in servers}, "", "(info)")
        if any(serr.values()):
            notes.append("* errors in (b′) (failed or unfinished operations, verification "
                         "failures): " + "; ".join("%s: %d" % (s, serr[s]) for s in servers if serr[s]))
        notes.append("(b′) is (b)'s work (%d clients log in at once, then 5 × RETR of a 1 MiB file "
                     "each, QUIT) driven by `ftpc stress --iterations 5 --mix get=1`, which checks "
                     "every byte; no barrier between the logins and the downloads. conc-dl.py's "
                     "Python threads share one interpreter lock and are the bottleneck of (b)." %
                     next(iter(bs.values()))[0]["clients"])
        detail.append("| (b′) total s | %s |" % " | ".join(
            rng([j["duration_s"] for j in bs.get(s, [])], 2) for s in servers))

    # ------------------------------------------------------------ b″, conc-dl.py on one CPU
    bp = by_round("b-pin-*.json", raw)
    if bp:
        ptot = {s: med([j["total_s"] for j in bp.get(s, [])]) for s in servers}
        perr = {s: sum(j["error_count"] for j in bp.get(s, [])) for s in servers}
        b_total_rows("(b″) (b) again, conc-dl.py held to one CPU (taskset)", ptot, perr, judged=False)
        if any(perr.values()):
            notes.append("* errors in (b″): " + "; ".join(
                "%s: %d" % (s, perr[s]) for s in servers if perr[s]))
        notes.append("(b″) runs (b)'s driver under `taskset -c` on one CPU. Left free, its threads "
                     "spread over every idle CPU and hand the interpreter lock between CPUs; a "
                     "server that leaves a CPU idle then makes the driver slower (bench/README.md).")
        for key, name, nd in (("total_s", "total s", 2), ("login_phase_s", "login phase s", 2),
                              ("transfer_phase_s", "transfer phase s", 2),
                              ("driver_cpu_s", "driver CPU s", 2),
                              ("driver_voluntary_switches", "driver voluntary context switches", 0)):
            detail.append("| (b″) %s | %s |" % (name, " | ".join(
                rng([j[key] for j in bp.get(s, []) if key in j], nd) for s in servers)))

    # ------------------------------------------------------------ b‴, login-storm --repeat
    bl = by_round("b-storm-*[0-9].json", raw)
    if bl:
        def storm_cpu(s, j):
            ru = load(os.path.join(raw, "b-storm-%s-%d-rusage.json" % (s, j["_round"])))
            return ru.get("server_cpu_s") if ru else None

        ltot = {s: med([j["total_s"] for j in bl.get(s, [])]) for s in servers}
        lerr = {s: sum(j["error_count"] for j in bl.get(s, [])) for s in servers}
        b_total_rows("(b‴) (b) again, driven by login-storm (C, one epoll loop)", ltot, lerr)
        lcpu = {s: med([storm_cpu(s, j) for j in bl.get(s, [])]) for s in servers}
        row("(b‴) same: server CPU time, s", {s: fmt(lcpu[s], 2) for s in servers}, "", "(info)")
        if any(lerr.values()):
            ex = {}
            for s in servers:
                for j in bl.get(s, []):
                    ex.update({"%s %s" % (s, k): v for k, v in j.get("error_examples", {}).items()})
            notes.append("* errors in (b‴): " + "; ".join(
                "%s: %d" % (s, lerr[s]) for s in servers if lerr[s]) + ". Examples: " +
                "; ".join("%s = %s" % kv for kv in list(ex.items())[:4]))
        notes.append("(b‴) is (b) with conc-dl.py's work, barrier and length checks driven by "
                     "`tools/login-storm --repeat %d`: every client on one epoll loop in C, "
                     "which is neither the bottleneck nor ftpd's own client. (b)'s time targets are "
                     "read on (b‴) and (b′); (b) and (b″) show conc-dl.py's times for information: "
                     "its 200 Python threads share one interpreter lock, and against the faster "
                     "servers its own CPU time is as long as the run or longer (details.md)." %
                     next(iter(bl.values()))[0]["repeat"])
        for key, name, nd in (("total_s", "total s", 2), ("login_phase_s", "login phase s", 2),
                              ("transfer_phase_s", "transfer phase s", 2),
                              ("driver_cpu_s", "driver CPU s", 2)):
            detail.append("| (b‴) %s | %s |" % (name, " | ".join(
                rng([j[key] for j in bl.get(s, []) if key in j], nd) for s in servers)))

    # ------------------------------------------------------------ c
    hc = load(os.path.join(raw, "c-hash-cost.json"))
    storm = by_round("c-storm-*.json", raw)
    stormdl = by_round("c-stormdl-*.json", raw)
    if storm or stormdl:
        cores = os.cpu_count() or 1
        try:
            cores = int(env.get("cpu", ["x 1"])[0].rsplit("x", 1)[1])
        except (ValueError, IndexError):
            pass
        clients = next(iter(storm.values()))[0]["clients"] if storm else 200
        # the hash cost is measured once before the phase and again in every round; a
        # round's login phase is compared with that round's cost
        hcr = {}
        for p in glob.glob(os.path.join(raw, "c-hash-cost-*.json")):
            j = load(p)
            if j:
                hcr[int(p.rsplit("-", 1)[1][:-5])] = j
        costs = [j["single_median_ms"] for j in hcr.values()] or ([hc["single_median_ms"]] if hc else [])
        par = [j["parallel_hashes_per_s"] for j in hcr.values()] or ([hc["parallel_hashes_per_s"]] if hc else [])

        def ideal_of(rnd):
            j = hcr.get(rnd, hc)
            return clients * j["single_median_ms"] / 1000 / cores if j else None

        ideal = clients * med(costs) / 1000 / cores if costs else None
        lp = {s: med([j["login_phase_s"] for j in storm.get(s, [])]) for s in servers}
        errs = {s: sum(j["error_count"] for j in storm.get(s, []) + stormdl.get(s, [])) for s in servers}
        r = med([j["login_phase_s"] / ideal_of(j["_round"]) for j in storm.get("ftpd", []) if ideal_of(j["_round"])])
        row("(c) %d logins at once, yescrypt: login phase s" % clients,
            {s: fmt(lp[s], 2) + ("*" if errs[s] else "") for s in servers},
            "%s ÷ %s s" % (fmt(r, 2), fmt(ideal, 2)), "≤ 1.20", judge(r, "<=", 1.2))
        lpd = {s: med([j["login_phase_s"] for j in stormdl.get(s, [])]) for s in servers}
        rd = med([j["login_phase_s"] / ideal_of(j["_round"]) for j in stormdl.get("ftpd", []) if ideal_of(j["_round"])])
        row("(c) same, while one full-speed RETR runs: login phase s",
            {s: fmt(lpd[s], 2) for s in servers},
            "%s ÷ %s s" % (fmt(rd, 2), fmt(ideal, 2)), "(info)")
        def rates_kept(storms, prefix):
            """Per server: median share of the download's rate kept during the storm, and
            each round's rate alone and during."""
            keep, refs, during = {}, {}, {}
            for s in servers:
                ks, rs, ds = [], [], []
                for j in storms.get(s, []):
                    ref, dur = rate_windows(os.path.join(raw, "%s-%s-%d.txt" % (prefix, s, j["_round"])), j)
                    rs.append(ref)
                    ds.append(dur)
                    if ref and dur is not None:
                        ks.append(dur / ref)
                keep[s], refs[s], during[s] = med(ks), rs, ds
            return keep, refs, during

        def kept_row(label, keep, errs):
            rk = keep.get("ftpd")
            # a storm with failed logins loaded the server less: its figure is not comparable
            row(label, {s: fmt(100 * keep[s], 0, "%") + ("*" if errs[s] else "")
                        if keep.get(s) is not None else "n/a" for s in servers},
                fmt(rk, 2), "≥ 0.90", judge(rk, ">=", 0.9))

        keep, refs, during = rates_kept(stormdl, "c-rate")
        kept_row("(c) that RETR's rate during the storm ÷ its rate alone", keep, errs)
        stormcap = by_round("c-stormcap-*.json", raw)
        if stormcap:
            cap = "?"
            for kv in env.get("params", [""])[0].split():
                if kv.startswith("C_CAPPED_RATE="):
                    cap = kv.split("=", 1)[1]
            cerrs = {s: sum(j["error_count"] for j in stormcap.get(s, [])) for s in servers}
            lpc = {s: med([j["login_phase_s"] for j in stormcap.get(s, [])]) for s in servers}
            rcap = med([j["login_phase_s"] / ideal_of(j["_round"]) for j in stormcap.get("ftpd", [])
                        if ideal_of(j["_round"])])
            row("(c) same, while one RETR held to %s MiB/s runs: login phase s" % cap,
                {s: fmt(lpc[s], 2) + ("*" if cerrs[s] else "") for s in servers},
                "%s ÷ %s s" % (fmt(rcap, 2), fmt(ideal, 2)), "≤ 1.20", judge(rcap, "<=", 1.2))
            ckeep, crefs, cduring = rates_kept(stormcap, "c-ratecap")
            kept_row("(c) that RETR's rate (%s MiB/s) during the storm ÷ its rate alone" % cap,
                     ckeep, cerrs)
            notes.append("(c) with the download held to %s MiB/s (tools/ftp-rate reads no faster, "
                         "as over a real network) both targets are read at once, in the same "
                         "storms; a full-speed loopback download keeps both vCPUs busy by itself, "
                         "so beside it the storm can only trade its time against the download's "
                         "rate (bench/README.md)." % cap)
            detail.append("| (c) login phase s, during capped RETR | %s |" % " | ".join(
                rng([j["login_phase_s"] for j in stormcap.get(s, [])], 2) for s in servers))
            detail.append("| (c) capped RETR MiB/s alone / during storm | %s |" % " | ".join(
                " / ".join("%s→%s" % (fmt(a), fmt(b)) for a, b in zip(crefs.get(s, []), cduring.get(s, [])))
                or "n/a" for s in servers))
        if costs:
            h0 = hc or next(iter(hcr.values()))
            notes.append("(c) hash cost here (crypt_rn on the real %s hash, measured in every round): "
                         "%s ms on one thread; %d threads at once: %s checks/s, so %d logins need "
                         "≥ %.2f s of hashing on this machine. The ratio compares each round's login "
                         "phase with that round's %d × cost ÷ %d cores (median %.2f s)." % (
                             "yescrypt" if h0["hash_id"] == "y" else h0["hash_id"], rng(costs, 1),
                             h0["parallel_threads"], rng(par), clients, clients / med(par),
                             clients, cores, ideal))
        drivers = {j.get("driver", "conc-dl.py") for v in list(storm.values()) + list(stormdl.values()) for j in v}
        dcpu = [j["driver_cpu_s"] for j in stormdl.get("ftpd", []) if j.get("driver_cpu_s") is not None]
        notes.append("(c) storm driver: %s%s." % (
            " and ".join(sorted(drivers)),
            "; its CPU during ftpd's storms with the download: %s s" % rng(dcpu, 2) if dcpu else ""))
        if any(errs.values()):
            kinds = {}
            for s in servers:
                for j in storm.get(s, []) + stormdl.get(s, []):
                    for k, n in (j.get("errors") or {}).items():
                        kinds.setdefault(s, {}).setdefault(k, 0)
                        kinds[s][k] += n
            notes.append("* errors in (c) (failed logins over all its storms; a storm with "
                         "failed logins loads the server less, so its download figure is not "
                         "comparable): " + "; ".join(
                             "%s: %d (%s)" % (s, errs[s], ", ".join(
                                 "%s %d" % kv for kv in sorted(kinds.get(s, {}).items())))
                             for s in servers if errs[s]))
        detail.append("| (c) login phase s, alone | %s |" % " | ".join(
            rng([j["login_phase_s"] for j in storm.get(s, [])], 2) for s in servers))
        detail.append("| (c) login phase s, during RETR | %s |" % " | ".join(
            rng([j["login_phase_s"] for j in stormdl.get(s, [])], 2) for s in servers))
        detail.append("| (c) login latency p50/p99 ms, alone | %s |" % " | ".join(
            " / ".join("%.0f/%.0f" % (1000 * (j["login_latency_p50_s"] or 0), 1000 * (j["login_latency_p99_s"] or 0))
                       for j in storm.get(s, [])) or "n/a" for s in servers))
        detail.append("| (c) RETR MiB/s alone (before + after the storm) | %s |" % " | ".join(
            " / ".join(fmt(x) for x in refs.get(s, [])) or "n/a" for s in servers))
        detail.append("| (c) RETR MiB/s during storm | %s |" % " | ".join(
            " / ".join(fmt(x) for x in during.get(s, [])) or "n/a" for s in servers))

    # ------------------------------------------------------------ d
    d = {s: load(os.path.join(raw, "d-idle-%s.json" % s)) for s in servers}
    if any(d.values()):
        n = max((j["sessions_logged_in"] for j in d.values() if j), default=0)

        def cell(s, key):
            j = d.get(s)
            if not j:
                return "n/a"
            v = fmt(j[key], 1)
            return v + ("*" if j["sessions_logged_in"] != j["sessions_wanted"] else "")

        rss = d.get("ftpd") and d["ftpd"]["rss_per_session_kib"]
        ok = None
        if d.get("ftpd"):
            ok = d["ftpd"]["sessions_logged_in"] == d["ftpd"]["sessions_wanted"] and rss < 4.0
        row("(d) %d idle logged-in sessions: RSS per session, KiB" % n,
            {s: cell(s, "rss_per_session_kib") for s in servers}, fmt(rss, 2) + " KiB" if rss is not None else "n/a",
            "< 4 KiB", ok)
        row("(d) same: PSS per session, KiB", {s: cell(s, "pss_per_session_kib") for s in servers})
        if any(d.get(s) for s in C_PEERS):
            notes.append("(d) RSS summed over a forking server's processes counts each shared page once "
                         "per process; PSS is the fair figure for them.")
        for s in servers:
            j = d.get(s)
            if j and j["sessions_logged_in"] != j["sessions_wanted"]:
                notes.append("* (d) %s: only %d of %d sessions logged in (%s)." % (
                    s, j["sessions_logged_in"], j["sessions_wanted"], j["errors"]))
        for key, name in (("fresh", "RSS MiB fresh"), ("warm", "RSS MiB after warm-up"),
                          ("loaded", "RSS MiB with the sessions"), ("after", "RSS MiB after they quit")):
            detail.append("| (d) %s | %s |" % (name, " | ".join(
                fmt(d[s][key]["rss_sum_kib"] / 1024, 1) if d.get(s) else "n/a" for s in servers)))
        detail.append("| (d) RSS / PSS per session vs fresh server, KiB | %s |" % " | ".join(
            "%s / %s" % (fmt(d[s]["rss_per_session_vs_fresh_kib"], 1), fmt(d[s]["pss_per_session_vs_fresh_kib"], 1))
            if d.get(s) else "n/a" for s in servers))
        detail.append("| (d) time to log all in, s | %s |" % " | ".join(
            fmt(d[s]["login_all_s"], 2) if d.get(s) else "n/a" for s in servers))

    summarize5.add_server_rows(raw, servers, row, notes, detail)

    # ------------------------------------------------------------ output
    rounds = ""
    for p in env.get("params", []):
        for w in p.split():
            if w.startswith("ROUNDS="):
                rounds = w[7:]
    head = ["# ftpd vs peer FTP servers (issues 2-5, bench/run.sh)", "",
            "%s · %s · kernel %s · %s rounds, medians · %s" % (
                env.get("date_utc", ["?"])[0], env.get("cpu", ["?"])[0], env.get("kernel", ["?"])[0],
                rounds or "?", env.get("ftpd", ["?"])[0]), "",
            "| workload | " + " | ".join(servers) + " | ratio | target | met? |",
            "|---|" + "---|" * (len(servers) + 3)]
    out = head + rows
    la0 = env.get("loadavg_start", ["?"])[0].split()[:1]
    la1 = env.get("loadavg_end", ["?"])[0].split()[:1]
    notes.append("load average (1 min) at start / end: %s / %s. Work of other programs on these 2 vCPUs "
                 "shifts every figure; rerun when the machine is otherwise idle." % (
                     (la0 or ["?"])[0], (la1 or ["?"])[0]))
    if notes:
        out += [""] + ["- " + n for n in notes]
    out += summarize5.extra_tables(raw)
    out += ["", "Peers: " + "; ".join(env.get("peer", [])) + "; pyftpdlib " +
            (env.get("pyftpdlib", ["?"])[0]) + " (crypt(3) check of the same hash in its loop). Per-round figures: "
            "`details.md` in the raw folder (bench/results/raw/, not committed)."]
    if env.get("lftp") or env.get("ftpc"):
        out += ["", "Clients: %s; lftp %s; %s; %s." % (env.get("curl", ["curl ?"])[0], env.get("lftp", ["?"])[0],
                                                    env.get("ftpc", ["ftpc ?"])[0], env.get("gzip", ["gzip ?"])[0])]
    print("\n".join(out))

    with open(os.path.join(raw, "details.md"), "w") as f:
        f.write("| per round: median (min–max) or r1 / r2 / … | " + " | ".join(servers) + " |\n")
        f.write("|---|" + "---|" * len(servers) + "\n")
        f.write("\n".join(detail) + "\n")


if __name__ == "__main__":
    main()
