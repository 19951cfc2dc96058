"""Memory and process count of a server's process tree, read from /proc.

The tree is the given PID, its descendants and, when the PID leads its own process group
(start-server.sh runs every server under setsid), every member of that group. RSS counts
a shared page once per process; PSS divides it among the sharers, so PSS is the fair sum
for forking servers.
"""
import os
import threading


def _proc_table():
    """pid -> (ppid, pgid) for every process."""
    tab = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read().decode("ascii", "replace")
            rest = s[s.rindex(")") + 2:].split()
            tab[int(d)] = (int(rest[1]), int(rest[2]))
        except (OSError, ValueError, IndexError):
            pass
    return tab


def server_tree(root):
    tab = _proc_table()
    if root not in tab:
        return []
    pgid = tab[root][1]
    kids = {}
    for pid, (ppid, _) in tab.items():
        kids.setdefault(ppid, []).append(pid)
    out, stack = set(), [root]
    while stack:
        p = stack.pop()
        if p in out:
            continue
        out.add(p)
        stack.extend(kids.get(p, ()))
    if pgid == root:
        out.update(p for p, (_, g) in tab.items() if g == pgid)
    return sorted(out)


def kib_field(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid):
    """CPU time of pid and of its children it has reaped (utime+stime+cutime+cstime).

    A forking server's finished sessions count once the master has reaped them, so read
    this after the sessions have ended."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read().decode("ascii", "replace")
        rest = s[s.rindex(")") + 2:].split()
        return sum(int(x) for x in rest[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def sample(pid):
    """One reading: process count, summed RSS and PSS (KiB), the master's RSS and PSS."""
    pids = server_tree(pid)
    return {
        "procs": len(pids),
        "rss_sum_kib": sum(kib_field("/proc/%d/status" % p, "VmRSS:") for p in pids),
        "pss_sum_kib": sum(kib_field("/proc/%d/smaps_rollup" % p, "Pss:") for p in pids),
        "master_rss_kib": kib_field("/proc/%d/status" % pid, "VmRSS:"),
        "master_pss_kib": kib_field("/proc/%d/smaps_rollup" % pid, "Pss:"),
        "master_threads": kib_field("/proc/%d/status" % pid, "Threads:"),
    }


class Sampler(threading.Thread):
    """Samples every `period` seconds until stop(); keeps the peak of each field."""

    def __init__(self, pid, period):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.stop_evt = threading.Event()
        self.peak = {}
        self.samples = 0

    def run(self):
        while not self.stop_evt.is_set():
            s = sample(self.pid)
            self.samples += 1
            for k, v in s.items():
                self.peak[k] = max(self.peak.get(k, 0), v)
            self.stop_evt.wait(self.period)

    def stop(self):
        self.stop_evt.set()
        self.join(2)


def group_ticks(pgid):
    """CPU ticks (utime+stime) of the live members of process group pgid."""
    total = 0
    for p, (_, g) in _proc_table().items():
        if g != pgid:
            continue
        try:
            with open("/proc/%d/stat" % p, "rb") as f:
                s = f.read().decode("ascii", "replace")
            rest = s[s.rindex(")") + 2:].split()
            total += int(rest[11]) + int(rest[12])
        except (OSError, ValueError, IndexError):
            pass
    return total


def wait_idle(pid, max_procs, timeout, period=0.5, quiet_ticks=5):
    """Waits until the server started as process group `pid` has no more than max_procs
    processes and has used under quiet_ticks of CPU in the last `period` seconds, or until
    timeout. Returns the seconds waited, or -1 on timeout. Used between measurements, so
    that work a server still does for a finished run (a forking server's sessions for
    clients that gave up) does not load the next one."""
    import time
    t0 = time.monotonic()
    last = group_ticks(pid)
    while time.monotonic() - t0 < timeout:
        time.sleep(period)
        now = group_ticks(pid)
        if len(server_tree(pid)) <= max_procs and now - last < quiet_ticks:
            return round(time.monotonic() - t0, 1)
        last = now
    return -1


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 5 and sys.argv[1] == "wait-idle":
        print(wait_idle(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    elif len(sys.argv) == 3 and sys.argv[1] == "procs":
        print(len(server_tree(int(sys.argv[2]))))
    else:
        sys.exit("usage: procmem.py wait-idle PID MAX_PROCS TIMEOUT | procs PID")
