#!/usr/bin/env python3
"""Bounded login storm and concurrent-download driver, with a server memory sampler.

N clients (threads) each open one FTP session and log in, all at once; after a barrier
(every client logged in or failed) each RETRs the same file R times in its session
(passive, TYPE I, data discarded) and QUITs. With --repeat 0 the clients QUIT right
after the barrier: a pure login storm.

Everything is bounded: a per-socket-operation timeout, a global deadline, daemon threads.
The sampler polls the server's process tree (procmem.py) every --sample seconds for the
peak process count, RSS and PSS.

Before the run (unless --repeat 0 or --no-upload) the file is uploaded once with STOR and
its size checked with SIZE. Prints one JSON object (also written to --json). Monotonic
timestamps (CLOCK_MONOTONIC, as other bench tools print them) mark the storm's start,
the barrier and the end.

usage: conc-dl.py --port PORT [--clients 200] [--repeat 5] [--size 1048576]
                  [--server-pid PID] [--deadline 180] [--timeout 30]
"""
import argparse
import ftplib
import json
import os
import resource
import socket
import sys
import threading
import time
from io import BytesIO

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmem  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default=os.environ.get("FTPBENCH_USER", "ftpbench"))
    ap.add_argument("--password", default=os.environ.get("FTPBENCH_PASS", "ftpbench"))
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=1 << 20, help="file size in bytes")
    ap.add_argument("--name", default="conc-dl-1M.bin", help="remote file name")
    ap.add_argument("--no-upload", action="store_true", help="the file is already there")
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--sample", type=float, default=0.05, help="sampling period, s")
    ap.add_argument("--deadline", type=float, default=180.0, help="whole run, s")
    ap.add_argument("--timeout", type=float, default=30.0, help="per socket operation, s")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default=None, help="also write the result here")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("loopback targets only")
    if not (1 <= a.clients <= 2000 and 0 <= a.repeat <= 100):
        ap.error("clients must be 1..2000, repeat 0..100")
    return a


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 4)


def main():
    a = parse_args()
    hard_deadline = time.monotonic() + a.deadline
    socket.setdefaulttimeout(a.timeout)

    def connect():
        ftp = ftplib.FTP(timeout=a.timeout)
        ftp.connect(a.host, a.port)
        ftp.login(a.user, a.password)
        ftp.voidcmd("TYPE I")
        return ftp

    if a.repeat > 0:
        ftp = connect()
        if not a.no_upload:
            ftp.storbinary("STOR " + a.name, BytesIO(os.urandom(a.size)), blocksize=256 * 1024)
        remote = ftp.size(a.name)
        ftp.quit()
        if remote != a.size:
            sys.exit("remote size %r != %d" % (remote, a.size))

    sampler, base, cpu0 = None, None, None
    if a.server_pid:
        base = procmem.sample(a.server_pid)
        cpu0 = procmem.cpu_seconds(a.server_pid)
        sampler = procmem.Sampler(a.server_pid, a.sample)
        sampler.start()

    lock = threading.Lock()
    errors, err_sample = {}, {}
    login_lat, xfer_lat = [], []
    ok_bytes = [0]
    barrier = threading.Barrier(a.clients, timeout=max(1.0, a.deadline))
    marks = {"login_done": None}

    def err(phase, e):
        key = "%s:%s" % (phase, type(e).__name__)
        with lock:
            errors[key] = errors.get(key, 0) + 1
            err_sample.setdefault(key, str(e)[:200])

    def client(i):
        ftp = None
        mv = memoryview(bytearray(256 * 1024))
        try:
            t0 = time.monotonic()
            try:
                ftp = connect()
                with lock:
                    login_lat.append(time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001 - count every failure
                err("login", e)
                ftp = None
        finally:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            with lock:
                if marks["login_done"] is None:
                    marks["login_done"] = time.monotonic()
        if ftp is None:
            return
        for _ in range(a.repeat):
            if time.monotonic() > hard_deadline:
                err("retr", TimeoutError("deadline"))
                break
            t1 = time.monotonic()
            try:
                conn = ftp.transfercmd("RETR " + a.name)
                got = 0
                with conn:
                    while True:
                        n = conn.recv_into(mv)
                        if not n:
                            break
                        got += n
                ftp.voidresp()
                if got != a.size:
                    raise ValueError("short read %d" % got)
                with lock:
                    ok_bytes[0] += got
                    xfer_lat.append(time.monotonic() - t1)
            except Exception as e:  # noqa: BLE001
                err("retr", e)
                try:
                    ftp.close()
                except Exception:  # noqa: BLE001
                    pass
                return
        try:
            ftp.quit()
        except Exception as e:  # noqa: BLE001
            err("quit", e)
            try:
                ftp.close()
            except Exception:  # noqa: BLE001
                pass

    threading.stack_size(512 * 1024)
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(a.clients)]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, hard_deadline - time.monotonic()))
    t_end = time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    alive = sum(t.is_alive() for t in threads)
    cpu1 = None
    if sampler:
        sampler.stop()
        # let a forking server's sessions exit and be reaped, so their CPU time counts
        settle = time.monotonic() + 5
        while time.monotonic() < settle and len(procmem.server_tree(a.server_pid)) > base["procs"]:
            time.sleep(0.1)
        cpu1 = procmem.cpu_seconds(a.server_pid)

    login_done = marks["login_done"] or t_end
    xfer_time = t_end - login_done
    total = t_end - t0
    mib = ok_bytes[0] / 2 ** 20
    res = {
        "label": a.label,
        "port": a.port,
        "clients": a.clients,
        "repeat": a.repeat,
        "size_bytes": a.size,
        "expected_transfers": a.clients * a.repeat,
        "ok_logins": len(login_lat),
        "ok_transfers": len(xfer_lat),
        "errors": errors,
        "error_examples": err_sample,
        "error_count": sum(errors.values()) + alive,
        "threads_still_running_at_deadline": alive,
        "t0_mono": t0,
        "login_done_mono": login_done,
        "t_end_mono": t_end,
        "total_s": round(total, 3),
        "login_phase_s": round(login_done - t0, 3),
        "transfer_phase_s": round(xfer_time, 3),
        "mib_transferred": round(mib, 1),
        "agg_mib_s_transfer_phase": round(mib / xfer_time, 1) if xfer_time > 0 else None,
        "login_latency_p50_s": pct(login_lat, 0.5),
        "login_latency_p99_s": pct(login_lat, 0.99),
        "retr_latency_p50_s": pct(xfer_lat, 0.5),
        "retr_latency_p99_s": pct(xfer_lat, 0.99),
        # the driver's own cost: where its threads wait on each other's interpreter lock, the
        # voluntary context switches far outnumber its socket calls
        "driver_cpu_s": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 3),
        "driver_voluntary_switches": ru1.ru_nvcsw - ru0.ru_nvcsw,
        "driver_involuntary_switches": ru1.ru_nivcsw - ru0.ru_nivcsw,
    }
    if sampler:
        res["server_pid"] = a.server_pid
        res["server_before"] = base
        res["server_peak"] = sampler.peak
        res["samples"] = sampler.samples
        res["server_cpu_s"] = round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 is not None else None
    out = json.dumps(res, indent=1)
    print(out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")
    sys.stdout.flush()
    os._exit(0 if res["error_count"] == 0 else 3)


if __name__ == "__main__":
    main()
