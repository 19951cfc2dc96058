#!/usr/bin/env python3
"""Peak memory of ftpc planning many files: mirror (download), mirror --dry-run and a glob
get, each against a freshly started ftpd on loopback serving a tree of empty files.

Every mode runs twice, with a small tree and a large one, and the difference of the peak RSS
(getrusage of the child) over the difference in files is what one more file costs, without
ftpc's fixed start-up memory.

    FTPD_BIN=build/ftpd FTPC_BIN=build/ftpc bench/tools/ftpc-plan-mem.py [SMALL LARGE]

Defaults: 1000 and 20000 files. Prints one line per mode: peak RSS of each run in KiB and
the bytes per file."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))

from ftpd_harness import FtpdServer  # noqa: E402

FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(HERE, "..", "..", "build", "ftpc")
PER_DIR = 500  # files per directory: a mirror walks many directories, as real trees have


def make_tree(srv, name, nfiles, flat=False):
    top = srv.mkdir(name)
    for i in range(nfiles):
        d = top if flat else os.path.join(top, "d%03d" % (i // PER_DIR))
        if not os.path.isdir(d):
            srv.mkdir(d)
        path = os.path.join(d, "file-%06d.dat" % i)
        open(path, "wb").close()
        srv.chown(path)


def peak_kib(args, cwd):
    """Runs ftpc; returns its peak RSS in KiB (it must succeed). Through /usr/bin/time: Linux
    counts in a child's ru_maxrss the memory of the process it was forked from, before its
    exec, and a Python parent holds more than ftpc planning thousands of files."""
    env = dict(os.environ, NETRC=os.path.join(cwd, "no-netrc"))
    report = os.path.join(cwd, "time.out")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report, FTPC_BIN, "-q"] + args,
                       cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit("ftpc %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr.decode()))
    with open(report) as fh:
        return int(fh.read().split()[-1])


def measure(srv, mode, name, work):
    out = os.path.join(work, "out-" + mode + "-" + name)
    shutil.rmtree(out, ignore_errors=True)
    if mode == "mirror":
        return peak_kib(["mirror", srv.url(name), out], work)
    if mode == "dry-run":
        return peak_kib(["mirror", "--dry-run", srv.url(name), out], work)
    os.makedirs(out)
    return peak_kib(["get", "-O", out, srv.url(name + "/*.dat")], work)


def main():
    small, large = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (1000, 20000)
    probe = subprocess.run(["/usr/bin/time", "-f", "%M", "true"], capture_output=True) \
        if os.access("/usr/bin/time", os.X_OK) else None
    if probe is None or probe.returncode != 0 or not probe.stderr.strip().isdigit():
        sys.exit("ftpc-plan-mem: needs GNU time at /usr/bin/time (apt-get install time)")
    srv = FtpdServer(log_level="info").start()
    work = tempfile.mkdtemp(prefix="ftpc-plan-mem-")
    try:
        for n in (small, large):
            make_tree(srv, "tree%d" % n, n)
            make_tree(srv, "flat%d" % n, n, flat=True)
        print("files: %d and %d" % (small, large))
        for mode in ("mirror", "dry-run", "glob-get"):
            tree = "flat" if mode == "glob-get" else "tree"
            a = measure(srv, mode, "%s%d" % (tree, small), work)
            b = measure(srv, mode, "%s%d" % (tree, large), work)
            per = (b - a) * 1024 / (large - small)
            print("%-9s peak RSS %8d KiB / %8d KiB  %7.0f bytes per file" % (mode, a, b, per))
    finally:
        srv.stop(check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
