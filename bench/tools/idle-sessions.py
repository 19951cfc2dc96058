#!/usr/bin/env python3
"""Memory of N idle, logged-in FTP sessions.

One thread, non-blocking sockets: opens --sessions control connections to the server, at
most --inflight of them connecting or logging in at a time (a forking server's listen
backlog can be as small as 32), and keeps them open and idle once logged in (230). The
server's process tree is read (procmem.py) at four points:

  fresh   before any connection
  warm    after --warmup sessions logged in and quit (one-time costs: worker threads,
          allocator arenas, caches)
  loaded  with every session logged in and idle, after --settle seconds
  after   once all sessions have sent QUIT and closed, after --settle seconds

Prints one JSON object (also written to --json) with the readings and the per-session
growth (loaded - warm) / sessions and (loaded - fresh) / sessions in KiB. Bounded by
--deadline for the whole run.

usage: idle-sessions.py --port PORT --server-pid PID [--sessions 1000]
"""
import argparse
import errno
import json
import os
import re
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmem  # noqa: E402

FINAL = re.compile(rb"^(\d{3}) ", re.M)


class Conn:
    __slots__ = ("sock", "state", "buf", "t0", "t_done")

    def __init__(self, sock):
        self.sock, self.state, self.buf = sock, "connect", b""
        self.t0, self.t_done = time.monotonic(), None


def open_sessions(a, n, deadline, errors):
    """Opens n sessions and logs each in. Returns (logged-in conns, login latencies)."""
    sel = selectors.DefaultSelector()
    user = ("USER %s\r\n" % a.user).encode()
    pw = ("PASS %s\r\n" % a.password).encode()
    started, busy, done, lat = 0, 0, [], []

    def err(c, what):
        errors[what] = errors.get(what, 0) + 1
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    while (started < n or busy) and time.monotonic() < deadline:
        while started < n and busy < a.inflight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            rc = s.connect_ex((a.host, a.port))
            started += 1
            if rc not in (0, errno.EINPROGRESS):
                errors["connect:%s" % errno.errorcode.get(rc, rc)] = \
                    errors.get("connect:%s" % errno.errorcode.get(rc, rc), 0) + 1
                s.close()
                continue
            c = Conn(s)
            sel.register(s, selectors.EVENT_WRITE, c)
            busy += 1
        for key, ev in sel.select(timeout=0.2):
            c = key.data
            if c.state == "connect":
                e = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e:
                    err(c, "connect:%s" % errno.errorcode.get(e, e))
                    busy -= 1
                    continue
                c.state = "greet"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                data = c.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                err(c, "recv:%s" % type(e).__name__)
                busy -= 1
                continue
            if not data:
                err(c, "closed-by-server-in-" + c.state)
                busy -= 1
                continue
            c.buf += data
            if not c.buf.endswith(b"\n"):
                continue
            m = None
            for m in FINAL.finditer(c.buf):
                pass
            if m is None:
                continue  # only continuation lines of a multi-line reply so far
            code = int(m.group(1))
            c.buf = b""
            try:
                if c.state == "greet" and code == 220:
                    c.sock.send(user)
                    c.state = "user"
                elif c.state == "user" and code == 331:
                    c.sock.send(pw)
                    c.state = "pass"
                elif c.state in ("user", "pass") and code == 230:
                    c.state = "idle"
                    c.t_done = time.monotonic()
                    lat.append(c.t_done - c.t0)
                    sel.unregister(c.sock)
                    done.append(c)
                    busy -= 1
                else:
                    err(c, "reply-%d-in-%s" % (code, c.state))
                    busy -= 1
            except OSError as e:
                err(c, "send:%s" % type(e).__name__)
                busy -= 1
    for key in list(sel.get_map().values()):
        errors["unfinished-at-deadline"] = errors.get("unfinished-at-deadline", 0) + 1
        key.fileobj.close()
    sel.close()
    return done, lat


def close_sessions(conns):
    for c in conns:
        try:
            c.sock.setblocking(True)
            c.sock.settimeout(1.0)
            c.sock.send(b"QUIT\r\n")
        except OSError:
            pass
    for c in conns:
        try:
            c.sock.recv(4096)
        except OSError:
            pass
        c.sock.close()


def reading(pid, n=3, gap=0.3):
    """The largest of n readings gap seconds apart (the server may still be settling)."""
    best = None
    for i in range(n):
        s = procmem.sample(pid)
        if best is None or s["rss_sum_kib"] > best["rss_sum_kib"]:
            best = s
        if i + 1 < n:
            time.sleep(gap)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--user", default=os.environ.get("FTPBENCH_USER", "ftpbench"))
    ap.add_argument("--password", default=os.environ.get("FTPBENCH_PASS", "ftpbench"))
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--inflight", type=int, default=24)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--deadline", type=float, default=150.0)
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("loopback targets only")
    if not (1 <= a.sessions <= 10000 and 0 <= a.warmup <= 1000):
        ap.error("sessions must be 1..10000, warmup 0..1000")
    deadline = time.monotonic() + a.deadline
    errors, warm_errors = {}, {}

    fresh = reading(a.server_pid, n=1)
    if a.warmup:
        w, _ = open_sessions(a, a.warmup, deadline, warm_errors)
        close_sessions(w)
        time.sleep(a.settle)
    warm = reading(a.server_pid)
    t0 = time.monotonic()
    conns, lat = open_sessions(a, a.sessions, deadline, errors)
    t_login = time.monotonic() - t0
    time.sleep(a.settle)
    loaded = reading(a.server_pid)
    close_sessions(conns)
    time.sleep(a.settle)
    after = reading(a.server_pid)

    n = len(conns)

    def per(field, base):
        return round((loaded[field] - base[field]) / n, 2) if n else None

    lat.sort()
    res = {
        "label": a.label,
        "sessions_wanted": a.sessions,
        "sessions_logged_in": n,
        "errors": errors,
        "warmup_errors": warm_errors,
        "login_all_s": round(t_login, 3),
        "login_latency_p50_s": round(lat[len(lat) // 2], 4) if lat else None,
        "fresh": fresh,
        "warm": warm,
        "loaded": loaded,
        "after": after,
        "rss_per_session_kib": per("rss_sum_kib", warm),
        "pss_per_session_kib": per("pss_sum_kib", warm),
        "rss_per_session_vs_fresh_kib": per("rss_sum_kib", fresh),
        "pss_per_session_vs_fresh_kib": per("pss_sum_kib", fresh),
        "rss_retained_after_close_kib": after["rss_sum_kib"] - warm["rss_sum_kib"],
    }
    out = json.dumps(res, indent=1)
    print(out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")
    sys.exit(0 if n == a.sessions else 3)


if __name__ == "__main__":
    main()
