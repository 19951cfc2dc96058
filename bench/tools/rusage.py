#!/usr/bin/env python3
"""Runs one command and prints its wall time and CPU use as one JSON object.

usage: rusage.py [--timeout SEC] [--json FILE] [--label L] [--server-pid PID] -- COMMAND ARGS...

CPU time comes from wait4() on the command, so it covers the command and every child it
waited for (lftp's helper processes, a shell pipeline). Wall time is CLOCK_MONOTONIC from
just before the fork to the reap. The command's own stdout and stderr pass through; the
JSON goes to --json (and to stdout when --json is not given). Exit status: the command's,
or 124 when the timeout ended it (SIGKILL to its process group).

With --server-pid, the server's process tree is sampled every 50 ms while the command runs
(peak processes, RSS and PSS: procmem.py) and the server's CPU time over the command is
added (its own and its reaped children's: read after a forking server's sessions ended).
With --count-port PORT, the established TCP connections whose local port is PORT (the
server's side of its control connections, from /proc/net/tcp) are counted every 0.25 s:
the peak is how many sessions the server really held at once.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time


class PortCounter(threading.Thread):
    """Peak number of ESTABLISHED IPv4/IPv6 sockets with the given local port."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.hexport = ":%04X" % port
        self.peak = 0
        self.stop_evt = threading.Event()

    def count(self):
        n = 0
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(path) as f:
                    next(f)
                    for line in f:
                        parts = line.split(None, 4)
                        if parts[3] == "01" and parts[1].endswith(self.hexport):
                            n += 1
            except (OSError, StopIteration, IndexError):
                pass
        return n

    def run(self):
        while not self.stop_evt.is_set():
            self.peak = max(self.peak, self.count())
            self.stop_evt.wait(0.25)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--label", default="")
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--count-port", type=int, default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    sampler = cpu0 = None
    if a.server_pid:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import procmem
        base = procmem.sample(a.server_pid)
        cpu0 = procmem.cpu_seconds(a.server_pid)
        sampler = procmem.Sampler(a.server_pid, 0.05)
        sampler.start()
    counter = None
    if a.count_port:
        counter = PortCounter(a.count_port)
        counter.start()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)  # its own group, so a timeout can end its helpers too
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write("rusage.py: cannot run %s: %s\n" % (cmd[0], e))
            os._exit(127)
    timed_out = []

    def expire():  # on a timer thread: the main thread stays blocked in wait4
        timed_out.append(True)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(a.timeout, expire)
    timer.daemon = True
    timer.start()
    _, status, ru = os.wait4(pid, 0)
    timer.cancel()
    wall = time.monotonic() - t0
    rc = 124 if timed_out else os.waitstatus_to_exitcode(status)
    res = {"label": a.label, "cmd": cmd, "rc": rc, "timed_out": bool(timed_out),
           "wall_s": round(wall, 4), "user_s": round(ru.ru_utime, 4),
           "sys_s": round(ru.ru_stime, 4), "maxrss_kib": ru.ru_maxrss}
    if counter:
        counter.stop_evt.set()
        counter.join(2)
        res["peak_established"] = counter.peak
    if sampler:
        sampler.stop()
        settle = time.monotonic() + 5
        while time.monotonic() < settle and len(procmem.server_tree(a.server_pid)) > base["procs"]:
            time.sleep(0.1)
        cpu1 = procmem.cpu_seconds(a.server_pid)
        res["server_before"] = base
        res["server_peak"] = sampler.peak
        res["server_cpu_s"] = round(cpu1 - cpu0, 3) if cpu0 is not None and cpu1 is not None else None
    out = json.dumps(res)
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")
    else:
        print(out)
    sys.exit(rc if 0 <= rc < 256 else 1)


if __name__ == "__main__":
    main()
