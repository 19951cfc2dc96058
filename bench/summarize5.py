"""Summary rows of phases e-k (bench/phases5.sh), used by summarize.py.

add_server_rows() adds rows to the main table (one column per server); extra_tables()
returns the tables whose columns are clients (f), FTPS servers (g), MODE Z (h) and the
stress driver (k). Targets are those of issues 3, 4 and 5: ftpd >= 1.0x the best peer on
every row (for times and memory: <= 1.0x), ftpc >= 1.0x curl and lftp, 5,000 mixed
clients with zero verification failures, ftpc stress >= 10x conc-dl.py's clients per
CPU-second.
"""
import glob
import json
import os
import statistics

MIB = 2 ** 20
GIB = 2 ** 30


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


def na_reasons(raw, phase):
    try:
        with open(os.path.join(raw, "na-%s.txt" % phase)) as f:
            return [l.strip() for l in f if l.strip()]
    except OSError:
        return []


def best_peer(vals, servers, higher):
    """(value, name) of the best peer, or None."""
    cand = [(v, s) for s, v in vals.items() if s != "ftpd" and s in servers and v is not None]
    if not cand:
        return None
    return max(cand) if higher else min(cand)


def vs_best(vals, servers, higher):
    """ratio text, ratio, target text, met for 'ftpd vs the best peer'."""
    b = best_peer(vals, servers, higher)
    f = vals.get("ftpd")
    if not b or f is None or b[0] == 0:
        return "n/a", None, ("≥ 1.00" if higher else "≤ 1.00"), None
    r = f / b[0]
    return ("%.2f ÷ %s" % (r, b[1]), r, "≥ 1.00" if higher else "≤ 1.00",
            r >= 1.0 if higher else r <= 1.0)


# ---------------------------------------------------------------- phase e
def rows_e(raw, servers, row, notes, detail):
    runs = {}
    for p in sorted(glob.glob(os.path.join(raw, "e-ftpbench-*.json"))):
        stem = os.path.basename(p)[len("e-ftpbench-"):-5]
        server = stem.rpartition("-")[0]
        j = load(p)
        if j:
            runs.setdefault(server, []).append(j)
    if not runs:
        return
    j0 = next(iter(runs.values()))[0]
    n, size = j0["clients"], j0["size_bytes"] / MIB

    def m(key, f=lambda v: v):
        return {s: med([f(j[key]) if j.get(key) is not None else None for j in runs.get(s, [])])
                for s in servers}

    errs = {s: sum(j["error_count"] for j in runs.get(s, [])) for s in servers}
    star = lambda s: "*" if errs.get(s) else ""  # noqa: E731
    spec = [
        ("stor_mib_s", "(e) ftpbench STOR, 1 session, MiB/s", True, 0),
        ("retr_mib_s", "(e) ftpbench RETR, 1 session, MiB/s", True, 0),
        ("login_all_s", "(e) %d clients connect+login (one after another), s" % n, False, 2),
        ("stor_idle_mib_s", "(e) STOR with %d idle clients, MiB/s" % n, True, 0),
        ("retr_idle_mib_s", "(e) RETR with %d idle clients, MiB/s" % n, True, 0),
        ("retr_all_s", "(e) %d concurrent RETR of %g MiB, s" % (n, size), False, 2),
        ("stor_all_s", "(e) %d concurrent STOR of %g MiB, s" % (n, size), False, 2),
        ("quit_all_s", "(e) %d QUIT at once, s" % n, False, 3),
    ]
    for key, label, higher, nd in spec:
        vals = m(key)
        rt, _, tg, met = vs_best(vals, servers, higher)
        row(label, {s: fmt(vals[s], nd) + star(s) for s in servers}, rt, tg, met)
    mem = {
        "idle": m("mem_idle", lambda x: x["pss_sum_kib"] / 1024),
        "sessions": m("mem_sessions", lambda x: x["pss_sum_kib"] / 1024),
    }
    peak = {s: med([max(j["mem_peak_retr"].get("pss_sum_kib", 0), j["mem_peak_stor"].get("pss_sum_kib", 0)) / 1024
                    for j in runs.get(s, [])]) for s in servers}
    for key, label, vals in (("idle", "(e) server memory idle (PSS, process tree), MiB", mem["idle"]),
                             ("sessions", "(e) server memory with %d clients, MiB" % n, mem["sessions"]),
                             ("peak", "(e) server memory during the %d transfers (peak), MiB" % n, peak)):
        rt, _, tg, met = vs_best(vals, servers, False)
        row(label, {s: fmt(vals[s], 1) for s in servers}, rt, tg, met)
    if any(errs.values()):
        ex = []
        for s in servers:
            for j in runs.get(s, []):
                ex += ["%s %s = %s" % (s, k, v) for k, v in j.get("error_examples", {}).items()]
        notes.append("* errors in (e): " + "; ".join("%s: %d" % (s, errs[s]) for s in servers if errs[s]) +
                     ". Examples: " + "; ".join(ex[:4]))
    notes.append("(e) follows the definitions of pyftpdlib's ftpbench (its -b all sequence), measured by "
                 "our driver bench/tools/ftpbench.py: 1 s windows for the one-session rates, 256 KiB "
                 "socket calls, every STOR to a new file (ftpbench overwrites one), the concurrent phases "
                 "timed to the last 226. Memory is PSS summed over the server's process tree.")
    detail.append("| (e) ftpbench's own memory figure (rss − shared, master + direct children), "
                  "idle / %d sessions / after transfers, MiB | %s |" % (n, " | ".join(
                      " ; ".join("%.1f / %.1f / %.1f" % (j["ftpbench_mem_idle_kib"] / 1024,
                                                         j["ftpbench_mem_sessions_kib"] / 1024,
                                                         j["ftpbench_mem_transfers_kib"] / 1024)
                                 for j in runs.get(s, [])) or "n/a" for s in servers)))
    detail.append("| (e) sessions logged in / RETR ok / STOR ok | %s |" % " | ".join(
        " ; ".join("%d / %d / %d" % (j["sessions"], j["retr_all_ok"], j["stor_all_ok"]) for j in runs.get(s, []))
        or "n/a" for s in servers))


# ---------------------------------------------------------------- phases i, j
def stress_errors(j):
    return sum(v.get("errors", 0) for v in j.get("ops", {}).values())


def stress_cell(j, rus):
    """The failure count that marks a cell: errors + verification failures, or why the
    run has no JSON."""
    if j is None and rus is None:
        return ""
    if j is None:
        if rus and rus.get("timed_out"):
            return "timeout"
        return "failed (rc %s)" % (rus.get("rc") if rus else "?")
    e = stress_errors(j) + j.get("verify_failures", 0)
    return " (%d err)" % e if e else ""


def rows_ij(raw, servers, row, notes, detail):
    ns = sorted({int(os.path.basename(p).split("-")[1]) for p in glob.glob(os.path.join(raw, "i-*-*.json"))
                 if os.path.basename(p).split("-")[1].isdigit()})
    for N in ns:
        js = {s: load(os.path.join(raw, "i-%d-%s.json" % (N, s))) for s in servers}
        rus = {s: load(os.path.join(raw, "i-%d-%s-rusage.json" % (N, s))) for s in servers}
        present = [s for s in servers if js[s] or rus[s]]
        if not present:
            continue
        ops = {s: js[s]["ops_per_s"] if js[s] else None for s in servers}
        rt, _, tg, met = vs_best(ops, servers, True)
        row("(i) %d concurrent clients, mixed: operations/s" % N,
            {s: ((fmt(ops[s], 0) + stress_cell(js[s], rus[s])) if js[s] else stress_cell(None, rus[s]))
             if s in present else "" for s in servers},
            rt, tg, met)
        vf = {s: (js[s].get("verify_failures", 0) if js[s] else None) for s in servers}
        er = {s: (stress_errors(js[s]) if js[s] else None) for s in servers}
        peak = {s: (rus[s].get("peak_established") if rus[s] else None) for s in servers}
        fj, fp = js.get("ftpd"), peak.get("ftpd")
        held = None
        if fj is not None and fp is not None:
            held = vf["ftpd"] == 0 and fp >= 0.95 * N
        row("(i) %d clients: sessions held at once (peak) / failed operations / verification failures" % N,
            {s: ("%s / %d / %d" % (peak[s] if peak[s] is not None else "?", er[s], vf[s]) if js[s]
                 else stress_cell(None, rus[s])) if s in present else "" for s in servers},
            "", "≥ 0.95 × %d held, 0 verification failures" % N if N >= 5000 else "(info)",
            held if N >= 5000 else None)
        for op in ("connect", "login", "pasv", "retr", "stor", "list"):
            p99 = {s: (js[s].get("latency_ms", {}).get(op, {}).get("p99") if js[s] else None) for s in servers}
            p50 = {s: (js[s].get("latency_ms", {}).get(op, {}).get("p50") if js[s] else None) for s in servers}
            if not any(v is not None for v in p99.values()):
                continue
            rt, _, tg, met = vs_best(p99, servers, False)
            name = {"connect": "connect", "login": "login", "pasv": "PASV/EPSV"}.get(op, op.upper())
            row("(i) %d clients: %s latency p50 / p99, ms" % (N, name),
                {s: "%s / %s" % (fmt(p50[s], 1), fmt(p99[s], 1)) if js[s] else "n/a" for s in servers},
                rt + " (p99)" if rt != "n/a" else rt, tg, met)
        pss = {s: (rus[s]["server_peak"]["pss_sum_kib"] / 1024 if rus[s] and rus[s].get("server_peak") else None)
               for s in servers}
        rt, _, tg, met = vs_best(pss, servers, False)
        row("(i) %d clients: server peak PSS, MiB" % N, {s: fmt(pss[s], 0) if s in present else "" for s in servers},
            rt, tg, met)
        detail.append("| (i) %d: server CPU s / peak processes | %s |" % (N, " | ".join(
            "%s / %s" % (fmt(rus[s].get("server_cpu_s"), 1), rus[s].get("server_peak", {}).get("procs", "?"))
            if rus[s] else "n/a" for s in servers)))
        detail.append("| (i) %d: ftpc stress CPU s (user+sys) / peak RSS MiB | %s |" % (N, " | ".join(
            "%.1f / %.0f" % (js[s]["cpu_user_s"] + js[s]["cpu_sys_s"], js[s]["peak_rss_kib"] / 1024)
            if js[s] else "n/a" for s in servers)))
        detail.append("| (i) %d: errors by reply code | %s |" % (N, " | ".join(
            (", ".join("%s×%s" % (k, v) for k, v in js[s].get("errors_by_code", {}).items()) or "none")
            if js[s] else "n/a" for s in servers)))
        detail.append("| (i) %d: MB/s down / up | %s |" % (N, " | ".join(
            "%.0f / %.0f" % (js[s]["mb_per_s_down"], js[s]["mb_per_s_up"]) if js[s] else "n/a" for s in servers)))
    if ns:
        notes.append("(i) sessions held: the peak count of established connections on the server's control "
                     "port (/proc/net/tcp, every 0.25 s); re-login operations close and reopen a few at any "
                     "moment, hence the 0.95. "
                     "ftpc stress against one freshly started server at a time, passive ports 10000-29999 "
                     "and session limits raised to the client count for every server; pure-ftpd caps its "
                     "limit at half the passive range, forking servers hold one or two processes per "
                     "client. A failed cell counts the failed operations; a server that cannot hold the "
                     "clients shows it there.")
    for op in ("get", "put"):
        js = {s: load(os.path.join(raw, "j-%s-%s.json" % (op, s))) for s in servers}
        rus = {s: load(os.path.join(raw, "j-%s-%s-rusage.json" % (op, s))) for s in servers}
        if not any(js.values()) and not any(rus.values()):
            continue
        fps = {}
        for s in servers:
            j = js[s]
            if j and j.get("duration_s"):
                o = j.get("ops", {}).get(op, {})
                fps[s] = (o.get("count", 0) - o.get("errors", 0)) / j["duration_s"]
            else:
                fps[s] = None
        rt, _, tg, met = vs_best(fps, servers, True)
        k = next((j["clients"] for j in js.values() if j), 64)
        row("(j) 4 KiB files, %d clients: %s files/s" % (k, op.upper() if op == "get" else op.upper()),
            {s: (fmt(fps[s], 0) + stress_cell(js[s], rus[s])) if js[s] else (stress_cell(None, rus[s]) or "n/a")
             for s in servers}, rt, tg, met)
    for p in ("i", "j"):
        for r in na_reasons(raw, p):
            notes.append("(%s) n/a: %s" % (p, r))


# ---------------------------------------------------------------- phase f
def table(title, cols, rows):
    out = ["", "### " + title, "", "| workload | " + " | ".join(cols) + " | ratio | target | met? |",
           "|---|" + "---|" * (len(cols) + 3)]
    for label, cells, ratio, target, met in rows:
        m = "" if met is None else ("**yes**" if met else "**no**")
        out.append("| %s | %s | %s | %s | %s |" % (label, " | ".join(cells.get(c, "n/a") for c in cols),
                                                   ratio, target, m))
    return out


def table_f(raw):
    files = glob.glob(os.path.join(raw, "f-*-*-*.json"))
    reasons = na_reasons(raw, "f")
    if not files and not reasons:
        return []
    clients = ["ftpc", "curl", "lftp"]
    data = {}
    for p in files:
        _, op, c, r = os.path.basename(p)[:-5].split("-")
        if int(r) < 1:
            continue
        j = load(p)
        if j:
            data.setdefault((op, c), []).append(j)
    bad = set()
    try:
        with open(os.path.join(raw, "f-verify.tsv")) as f:
            for line in f:
                r, c, op, ok = line.split()
                if ok != "ok":
                    bad.add((op, c))
    except (OSError, ValueError):
        pass
    rows = []
    for op, label, gib, other in (("get", "1 GiB download", 1.0, ("curl", "lftp")),
                                  ("put", "1 GiB upload", 1.0, ("curl", "lftp")),
                                  ("get8", "8 × 128 MiB at once (ftpc -j 8, lftp mget -P 8, curl -Z)", 1.0,
                                   ("lftp",))):
        speed, cpu = {}, {}
        for c in clients:
            js = [j for j in data.get((op, c), []) if j["rc"] == 0]
            speed[c] = med([gib * 1024 / j["wall_s"] for j in js])
            cpu[c] = med([(j["user_s"] + j["sys_s"]) / gib for j in js])
        ref = [(speed[c], c) for c in other if speed.get(c)]
        best = max(ref) if ref else None
        r = speed["ftpc"] / best[0] if best and speed.get("ftpc") else None
        cell = lambda c, v, nd: fmt(v, nd) + (" MISMATCH" if (op, c) in bad else "")  # noqa: E731
        rows.append(("%s, MiB/s (wall, login included)" % label, {c: cell(c, speed[c], 0) for c in clients},
                     "%s ÷ %s" % (fmt(r, 2), best[1]) if best else "n/a", "≥ 1.00",
                     None if r is None else r >= 1.0))
        cref = [(cpu[c], c) for c in other if cpu.get(c)]
        cb = min(cref) if cref else None
        rc = cpu["ftpc"] / cb[0] if cb and cpu.get("ftpc") else None
        rows.append(("%s: client CPU s per GiB (user+sys)" % label, {c: fmt(cpu[c], 2) for c in clients},
                     "%s ÷ %s" % (fmt(rc, 2), cb[1]) if cb else "n/a", "(info)", None))
    out = table("Clients against ftpd (issues 3, 4): ftpc vs curl vs lftp, tmpfs to tmpfs", clients, rows)
    out += ["", "- Every transfer of every round compared byte for byte with its source (`cmp`); "
            "lftp runs with `ftp:use-mode-z no` (its default would compress when the server offers MODE Z); "
            "ftpc runs with `--no-verify`, since curl and lftp check nothing after a transfer (by default "
            "ftpc then asks ftpd for the file's SHA-256 with HASH and hashes its own copy: about 1 s more "
            "per GiB on each side here)."]
    out += ["- n/a: " + r for r in reasons]
    return out


# ---------------------------------------------------------------- phase g
def table_g(raw):
    tsv = os.path.join(raw, "g-tls.tsv")
    reasons = na_reasons(raw, "g")
    if not os.path.exists(tsv) and not reasons:
        return []
    cols = ["ftpd", "vsftpd"]
    speeds = {}
    if os.path.exists(tsv):
        import csv
        with open(tsv) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if int(r["round"]) < 1:
                    continue
                tt, tp, b = float(r["time_total"]), float(r["time_pretransfer"]), float(r["bytes"])
                if r["rc"] == "0" and b == GIB and tt > tp:
                    speeds.setdefault((r["server"], r["dir"]), []).append(b / MIB / (tt - tp))
    rows = []
    for d, label in (("retr", "1 GiB download over TLS (curl), data phase MiB/s"),
                     ("stor", "1 GiB upload over TLS (curl), data phase MiB/s")):
        v = {s: med(speeds.get((s, d), [])) for s in cols}
        r = v["ftpd"] / v["vsftpd"] if v.get("ftpd") and v.get("vsftpd") else None
        rows.append((label, {s: fmt(v[s]) for s in cols}, "%s ÷ vsftpd" % fmt(r, 2), "≥ 1.00",
                     None if r is None else r >= 1.0))
    for d, label in (("retr", "1 GiB download over TLS (ftpc --tls), MiB/s (wall)"),
                     ("stor", "1 GiB upload over TLS (ftpc --tls), MiB/s (wall)")):
        cells = {}
        for s in cols:
            js = [j for j in (load(p) for p in glob.glob(os.path.join(raw, "g-ftpc-%s-%s-*.json" % (d, s)))
                              if not p.endswith("-0.json")) if j]
            v = med([1024 / j["wall_s"] for j in js if j["rc"] == 0])
            bad = [j["rc"] for j in js if j["rc"] != 0]
            if js:
                cells[s] = fmt(v) + (" (%d of %d failed, rc %s)" % (len(bad), len(js), bad[0]) if bad else "")
        if cells:
            rows.append((label, cells, "", "(info)", None))
    out = table("FTPS (issue 4): ftpd --tls vs vsftpd ssl_enable=YES", cols, rows)
    try:
        with open(os.path.join(raw, "g-vsftpd-reuse.txt")) as f:
            out.append("- vsftpd: " + " ".join(l.strip() for l in f) +
                       " So vsftpd ran with require_ssl_reuse=NO (ftpd kept its session-reuse check on).")
    except OSError:
        out.append("- Both servers require TLS for the login and for data (PROT P) and require the data "
                   "connection to resume the control connection's TLS session (vsftpd's require_ssl_reuse "
                   "default, ftpd's --tls-require-reuse default).")
    try:
        with open(os.path.join(raw, "g-upload-cmp.txt")) as f:
            bad = [l.strip() for l in f if "MISMATCH" in l]
        out.append("- last TLS uploads (and every ftpc transfer) byte-identical: %s." %
                   ("yes" if not bad else "NO: " + "; ".join(bad)))
    except OSError:
        pass
    out += ["- n/a: " + r for r in reasons]
    return out


# ---------------------------------------------------------------- phase h
def table_h(raw):
    gz = load(os.path.join(raw, "h-gzip.json"))
    reasons = na_reasons(raw, "h")
    if not gz and not reasons:
        return []
    try:
        gz_size = int(open(os.path.join(raw, "h-gzip-size.txt")).read().split()[0])
    except (OSError, ValueError, IndexError):
        gz_size = None
    cols = ["MiB/s (uncompressed)", "bytes on the wire", "wire ÷ file", "loopback bytes", "client CPU s",
            "verified"]
    rows = []
    gz_speed = 1024 / gz["wall_s"] if gz and gz["rc"] == 0 else None
    if gz:
        rows.append(("`gzip -1 -c` of the file (one CPU)", {
            cols[0]: fmt(gz_speed), cols[1]: "%d" % gz_size if gz_size else "n/a",
            cols[2]: fmt(gz_size / GIB, 3) if gz_size else "n/a", cols[3]: "—",
            cols[4]: fmt(gz["user_s"] + gz["sys_s"], 1), cols[5]: "—"}, "", "", None))
    wire = {}
    try:
        with open(os.path.join(raw, "h-wire.tsv")) as f:
            next(f)
            for line in f:
                c, mode, rc, wb, lo, v = line.split()
                wire[c] = (mode, int(rc), int(wb) if wb.isdigit() else None, int(lo), v)
    except (OSError, ValueError, StopIteration):
        pass
    names = {"curl": "curl, MODE S (no compression)", "lftp": "lftp, MODE Z", "ftpc": "ftpc -z, MODE Z"}
    for c in ("curl", "lftp", "ftpc"):
        j = load(os.path.join(raw, "h-%s.json" % c))
        if c not in wire or not j:
            continue
        mode, rc, wb, lo, v = wire[c]
        sp = 1024 / j["wall_s"] if rc == 0 else None
        r = sp / gz_speed if sp and gz_speed and mode == "Z" else None
        rows.append(("1 GiB text from ftpd: " + names[c], {
            cols[0]: fmt(sp) if rc == 0 else "failed (rc %d)" % rc,
            cols[1]: "%d" % wb if wb is not None else "n/a",
            cols[2]: fmt(wb / GIB, 3) if wb is not None else "n/a", cols[3]: "%d" % lo,
            cols[4]: fmt(j["user_s"] + j["sys_s"], 1), cols[5]: v},
            "%s ÷ gzip -1" % fmt(r, 2) if r else "", "(info)" if mode == "Z" else "", None))
    out = table("MODE Z (issue 4): a compressible 1 GiB text (log lines), against gzip -1", cols, rows)
    out.append("- Bytes on the wire: ftpd's count in its 226 reply under MODE Z (\"N bytes, M on the wire\", "
               "read from the client's dialogue), the file size under MODE S. Loopback bytes: the `lo` "
               "interface's counter over the download (headers and the control connection included, and any "
               "other loopback traffic on the machine at that time). MiB/s: 1 GiB over the client's wall "
               "time; gzip -1 reads the file from tmpfs and writes to tmpfs.")
    out += ["- n/a: " + r for r in reasons]
    return out


# ---------------------------------------------------------------- phase k
def table_k(raw):
    reasons = na_reasons(raw, "k")
    cols = ["clients", "client CPU s", "CPU ms per client", "wall s", "failures"]
    rows = []
    for size, what in (("4K", "4 KiB"), ("1M", "1 MiB")):
        conc = load(os.path.join(raw, "k-%s-conc-dl-rusage.json" % size))
        concj = load(os.path.join(raw, "k-%s-conc-dl.json" % size))
        st = load(os.path.join(raw, "k-%s-stress.json" % size))
        sr = load(os.path.join(raw, "k-%s-stress-rusage.json" % size))
        per_c = per_s = None
        if conc and concj:
            cpu = conc["user_s"] + conc["sys_s"]
            per_c = cpu / concj["clients"]
            rows.append(("%s files: tools/conc-dl.py (a thread per client)" % what, {
                cols[0]: str(concj["clients"]), cols[1]: fmt(cpu, 2), cols[2]: fmt(1000 * per_c, 2),
                cols[3]: fmt(conc["wall_s"], 1), cols[4]: str(concj["error_count"])}, "", "", None))
        if st:
            cpu = st["cpu_user_s"] + st["cpu_sys_s"]
            per_s = cpu / st["clients"]
            r = per_c / per_s if per_c and per_s else None
            rows.append(("%s files: ftpc stress (one event loop)" % what, {
                cols[0]: str(st["clients"]), cols[1]: fmt(cpu, 2), cols[2]: fmt(1000 * per_s, 2),
                cols[3]: fmt(sr["wall_s"], 1) if sr else "n/a",
                cols[4]: str(stress_errors(st) + st.get("verify_failures", 0))},
                "%s× clients per CPU-s" % fmt(r, 1) if r else "n/a", "≥ 10×", None if r is None else r >= 10))
        elif sr:
            rows.append(("%s files: ftpc stress (one event loop)" % what, {cols[4]: stress_cell(None, sr)},
                         "n/a", "≥ 10×", None))
    if not rows and not reasons:
        return []
    out = table("Load driver cost (issue 5): the same work per client (log in, 5 × RETR of one file, QUIT) "
                "against ftpd", cols, rows)
    out.append("- Client CPU is user + sys of the driver's process (`wait4`); ftpc stress checks every byte "
               "it receives, conc-dl.py discards them. With 1 MiB files both drivers mostly pay the kernel's "
               "copy of the data, with 4 KiB files the cost per client shows.")
    out += ["- n/a: " + r for r in reasons]
    return out


def add_server_rows(raw, servers, row, notes, detail):
    rows_e(raw, servers, row, notes, detail)
    rows_ij(raw, servers, row, notes, detail)
    try:
        with open(os.path.join(raw, "env.txt")) as f:
            p5 = next((l.split(": ", 1)[1].strip() for l in f if l.startswith("params5: ")), None)
    except OSError:
        p5 = None
    if p5:
        notes.append("Rounds of phases e-k: e FB_ROUNDS, f and g ROUNDS after a warm-up, h, i, j and k once. "
                     "Their settings: %s." % p5)


def extra_tables(raw):
    return table_f(raw) + table_g(raw) + table_h(raw) + table_k(raw)
