#!/usr/bin/env python3
"""The rows of pyftpdlib's ftpbench table, measured by our own driver.

pyftpdlib's `ftpbench` script (scripts/ftpbench in its repository) is not in Debian's
python3-pyftpdlib and it needs asyncore, gone from newer Pythons, so this driver follows
its definitions step by step, in the same order (its `-b all`), on one server:

  stor_mib_s        STOR: one session, the MiB sent on one data connection in --window s,
                    median of --repeat (3) such sessions
                    (to a new file; ftpbench overwrites its one test file)
  retr_mib_s        RETR: one session, the MiB received in --window s (the file that STOR
                    wrote, RETRed again when it ends, as ftpbench does)
  login_all_s       N clients connect and log in, one after another (ftpbench's
                    "N concurrent clients (connect, login)" is this sequential loop); they
                    then stay connected and idle
  stor_idle_mib_s   STOR as above, in a new session, while the N sessions sit idle
  retr_idle_mib_s   RETR as above, same
  retr_all_s        each of the N sessions sets up a RETR of the --size file (TYPE I, PASV,
                    RETR: one session after another, as ftpbench does), then all data
                    connections are read at once; ends when every transfer's 226 arrived
  stor_all_s        the same with STOR of --size bytes (each session its own file name;
                    ftpbench stores all to one name, which serialises servers that lock
                    uploads)
  quit_all_s        QUIT sent on all N sessions at once; ends when every session has its
                    reply and the server closed it

Differences from ftpbench, mostly in how the bytes move: 256 KiB socket reads and writes
instead of 8 KiB (a Python client with 8 KiB calls measures itself at these speeds),
random payload instead of b"x" * 8192, and the concurrent phases end at the 226 replies
rather than at the data sockets' EOF (for STOR, the server's 226 says the file is
complete); every STOR writes a file that does not exist yet, and ftpbench's concurrent STOR
sends 5 MiB whatever -s says (a slip in its AsyncWriter call), this one --size. The server's memory is read from /proc (procmem.py) at the points ftpbench
reads it: idle (before anything), with the N sessions logged in, and the peak sampled
every 50 ms during the concurrent RETR and STOR. Figures are PSS summed over the
server's process tree (ftpbench's own figure, rss - shared of the master and its direct
children, misses privilege-separated grandchildren; it is in the JSON too).

Prints one JSON object (also written to --json). Exit status 0 when no error occurred,
3 otherwise (the JSON counts the errors per phase).

usage: ftpbench.py --port PORT --server-pid PID [--clients 300] [--size 10M] [--window 1]
"""
import argparse
import ftplib
import json
import os
import selectors
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procmem  # noqa: E402

CHUNK = 256 * 1024
MIB = 2 ** 20


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper()
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def ftpbench_mem_kib(pid):
    """ftpbench's register_memory(): (rss - shared) of the master plus its direct
    children, from /proc/PID/statm."""
    page = os.sysconf("SC_PAGE_SIZE") // 1024
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    tot = 0
    for p in pids:
        try:
            with open("/proc/%d/statm" % p) as f:
                fields = f.read().split()
            tot += (int(fields[1]) - int(fields[2])) * page
        except (OSError, ValueError, IndexError):
            pass
    return tot


class Bench:
    def __init__(self, a):
        self.a = a
        self.errors = {}
        self.examples = {}
        self.payload = memoryview(os.urandom(CHUNK))

    def err(self, phase, e):
        key = "%s:%s" % (phase, type(e).__name__)
        self.errors[key] = self.errors.get(key, 0) + 1
        self.examples.setdefault(key, str(e)[:200])

    def connect(self):
        ftp = ftplib.FTP(timeout=self.a.timeout)
        ftp.connect(self.a.host, self.a.port)
        ftp.login(self.a.user, self.a.password)
        return ftp

    # ---------------------------------------------------------------- one stream
    def stor_window(self, name, keep=False):
        """MiB/s of one STOR during --window seconds (ftpbench's bytes_per_second). The
        file (1-2 GiB in tmpfs) is deleted afterwards unless keep."""
        ftp = self.connect()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR " + name)
        sent = 0
        t0 = time.monotonic()
        stop = t0 + self.a.window
        while time.monotonic() < stop:
            sent += conn.send(self.payload)
        el = time.monotonic() - t0
        conn.close()
        ftp.voidresp()
        if not keep:
            ftp.delete(name)
        ftp.quit()
        return sent / MIB / el

    def retr_window(self, name):
        ftp = self.connect()
        ftp.voidcmd("TYPE I")
        buf = bytearray(CHUNK)
        got = 0
        conn = ftp.transfercmd("RETR " + name)
        t0 = time.monotonic()
        stop = t0 + self.a.window
        paused = 0.0
        while time.monotonic() < stop + paused:
            n = conn.recv_into(buf)
            if n == 0:  # the file ended: RETR it again, the gap does not count
                g0 = time.monotonic()
                conn.close()
                ftp.voidresp()
                conn = ftp.transfercmd("RETR " + name)
                paused += time.monotonic() - g0
                continue
            got += n
        el = time.monotonic() - t0 - paused
        conn.close()  # closing mid-file: the server answers 426 (or 226, or pure-ftpd's 150)
        try:
            ftp.voidresp()
        except (ftplib.Error, EOFError, OSError):
            pass
        try:
            ftp.quit()
        except (ftplib.Error, EOFError, OSError):
            ftp.close()
        return got / MIB / el

    # ---------------------------------------------------------------- N sessions
    def login_all(self, n):
        clients = []
        t0 = time.monotonic()
        for _ in range(n):
            try:
                clients.append(self.connect())
            except (ftplib.Error, EOFError, OSError) as e:
                self.err("login", e)
        return clients, time.monotonic() - t0

    def concurrent(self, clients, verb, size, sampler_pid):
        """Sets up one transfer per session (sequentially, as ftpbench does), then moves
        every data connection at once; returns (seconds, ok transfers, peak sample)."""
        sampler = procmem.Sampler(sampler_pid, 0.05)
        sampler.start()
        t0 = time.monotonic()
        sel = selectors.DefaultSelector()
        started = []
        for i, ftp in enumerate(clients):
            try:
                ftp.voidcmd("TYPE I")
                name = self.a.name if verb == "RETR" else "stor-%d.bin" % i
                conn = ftp.transfercmd("%s %s" % (verb, name))
                conn.setblocking(False)
                st = {"ftp": ftp, "conn": conn, "left": size, "i": i}
                sel.register(conn, selectors.EVENT_READ if verb == "RETR" else selectors.EVENT_WRITE, st)
                started.append(st)
            except (ftplib.Error, EOFError, OSError) as e:
                self.err(verb.lower(), e)
        buf = bytearray(CHUNK)
        open_n = len(started)
        deadline = time.monotonic() + self.a.deadline
        while open_n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                st = key.data
                c = st["conn"]
                try:
                    if verb == "RETR":
                        n = c.recv_into(buf)
                        st["left"] -= n
                        done = n == 0
                    else:
                        n = c.send(self.payload[:min(CHUNK, st["left"])])
                        st["left"] -= n
                        done = st["left"] <= 0
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    self.err(verb.lower() + "-data", e)
                    done, st["failed"] = True, True
                if done:
                    sel.unregister(c)
                    c.close()
                    open_n -= 1
        for key in list(sel.get_map().values()):
            self.err(verb.lower(), TimeoutError("deadline"))
            key.data["failed"] = True
            sel.unregister(key.fileobj)
            key.fileobj.close()
        sel.close()
        ok = 0
        for st in started:
            try:
                st["ftp"].voidresp()
                if st.get("failed") or (verb == "RETR" and st["left"] != 0):
                    raise ValueError("%s %d: %d bytes short" % (verb, st["i"], st["left"]))
                ok += 1
            except (ftplib.Error, EOFError, OSError, ValueError) as e:
                self.err(verb.lower() + "-reply", e)
        el = time.monotonic() - t0
        sampler.stop()
        return el, ok, sampler.peak

    def quit_all(self, clients):
        """QUIT on every session at once; ends when each has its reply and EOF."""
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        for ftp in clients:
            try:
                ftp.sock.setblocking(False)
                ftp.sock.send(b"QUIT\r\n")
                sel.register(ftp.sock, selectors.EVENT_READ, ftp)
            except OSError as e:
                self.err("quit", e)
        open_n = len(sel.get_map())
        deadline = time.monotonic() + self.a.timeout
        while open_n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                try:
                    data = key.fileobj.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    open_n -= 1
        el = time.monotonic() - t0
        for key in list(sel.get_map().values()):
            self.err("quit", TimeoutError("no close"))
            key.fileobj.close()
        sel.close()
        return el


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--user", default=os.environ.get("FTPBENCH_USER", "ftpbench"))
    ap.add_argument("--password", default=os.environ.get("FTPBENCH_PASS", "ftpbench"))
    ap.add_argument("--clients", type=int, default=300)
    ap.add_argument("--size", default="10M", help="file size of the concurrent phases")
    ap.add_argument("--window", type=float, default=1.0, help="seconds of each one-stream figure")
    ap.add_argument("--repeat", type=int, default=3,
                    help="one-stream windows per row; the row is their median")
    ap.add_argument("--name", default="ftpbench-10M.bin")
    ap.add_argument("--timeout", type=float, default=60.0, help="per socket operation, s")
    ap.add_argument("--deadline", type=float, default=120.0, help="per concurrent phase, s")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("loopback targets only")
    size = parse_size(a.size)
    if not (1 <= a.clients <= 5000 and 0 < size <= 1 << 30 and 0.2 <= a.window <= 30 and 1 <= a.repeat <= 20):
        ap.error("clients 1..5000, size up to 1G, window 0.2..30 s, repeat 1..20")
    a.size = size
    b = Bench(a)
    pid = a.server_pid
    res = {"label": a.label, "clients": a.clients, "size_bytes": size, "window_s": a.window}

    res["mem_idle"] = procmem.sample(pid)
    res["ftpbench_mem_idle_kib"] = ftpbench_mem_kib(pid)
    # each STOR writes a new file: overwriting the previous 1-2 GiB one would add how the
    # server frees it to the figure; RETR reads what the first STOR wrote
    def windows(key, fn, name):
        """--repeat windows, median in res[key], all of them in res[key + '_all']"""
        vals = []
        for i in range(a.repeat):
            try:
                if fn == b.stor_window:  # the first upload stays: the RETR rows read it
                    v = fn(name.replace("#", str(i)), keep=(i == 0 and "idle" not in key))
                else:
                    v = fn(name)
                vals.append(round(v, 1))
            except (ftplib.Error, EOFError, OSError) as e:
                b.err(key, e)
        res[key + "_all"] = vals
        res[key] = statistics.median(vals) if vals else None

    windows("stor_mib_s", b.stor_window, "ftpbench-window-#.bin")
    windows("retr_mib_s", b.retr_window, "ftpbench-window-0.bin")

    # the file of the concurrent RETR, written once beforehand (outside any timing)
    try:
        ftp = b.connect()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR " + a.name)
        left = size
        while left > 0:
            left -= conn.send(b.payload[:min(CHUNK, left)])
        conn.close()
        ftp.voidresp()
        ftp.quit()
    except (ftplib.Error, EOFError, OSError) as e:
        b.err("prepare", e)

    clients, res["login_all_s"] = b.login_all(a.clients)
    res["login_all_s"] = round(res["login_all_s"], 3)
    res["sessions"] = len(clients)
    time.sleep(0.3)
    res["mem_sessions"] = procmem.sample(pid)
    res["ftpbench_mem_sessions_kib"] = ftpbench_mem_kib(pid)
    windows("stor_idle_mib_s", b.stor_window, "ftpbench-window-idle-#.bin")
    windows("retr_idle_mib_s", b.retr_window, "ftpbench-window-0.bin")
    el, ok, peak = b.concurrent(clients, "RETR", size, pid)
    res["retr_all_s"], res["retr_all_ok"], res["mem_peak_retr"] = round(el, 3), ok, peak
    el, ok, peak = b.concurrent(clients, "STOR", size, pid)
    res["stor_all_s"], res["stor_all_ok"], res["mem_peak_stor"] = round(el, 3), ok, peak
    res["ftpbench_mem_transfers_kib"] = ftpbench_mem_kib(pid)
    res["quit_all_s"] = round(b.quit_all(clients), 4)
    res["errors"] = b.errors
    res["error_examples"] = b.examples
    res["error_count"] = sum(b.errors.values())
    out = json.dumps(res, indent=1)
    print(out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")
    sys.exit(0 if res["error_count"] == 0 else 3)


if __name__ == "__main__":
    main()
