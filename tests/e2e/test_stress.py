"""End-to-end tests of `ftpc stress`: the real binary drives the real ftpd (and vsftpd when
installed) over loopback; every byte is verified by ftpc and the JSON report is checked.

- 100 clients for a few seconds with ABOR and drop faults: zero verification failures, zero
  errors, a well-formed report with sane numbers, and nothing left behind on the server;
- a corrupted fixture on the server is reported with client, file and offset (exit 8);
- FTPS (--tls against ftpd --tls), HASH-verified uploads, MODE Z where ftpd offers it;
- counted iterations, the rate limit, the open-file limit message, the live view on a
  terminal and as plain lines, usage errors and an unreachable server;
- the same load against vsftpd, pure-ftpd, ProFTPD and pyftpdlib started with
  bench/peers/start-server.sh (each skips, saying why, when not root or not installed).
The content generator is re-implemented here (20 lines) so the fixture bytes on the server
are checked independently of ftpc.
"""
import fcntl
import json
import os
import pty
import pwd
import re
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import termios
import time
import unittest

from ftpd_harness import (FTPD_BIN, INTERNAL_PREFIXES, SANITIZER_MARKERS, FtpdServer, free_port,
                          read_pty, wait_for)

FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(os.path.dirname(FTPD_BIN), "ftpc")
HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.normpath(os.path.join(HERE, "..", "..", "bench", "peers"))
PEERS_PREFIX = os.environ.get("PEERS_PREFIX", "/opt/ftp-peers")

TOP_KEYS = ["target", "clients", "duration_s", "iterations", "seed", "ops_total", "ops_per_s",
            "bytes_down", "bytes_up", "mb_per_s_down", "mb_per_s_up", "latency_ms", "ops",
            "errors_by_code", "verify_failures", "faults_injected", "cpu_user_s", "cpu_sys_s",
            "peak_rss_kib", "exit_status", "ops_unfinished", "clients_never_logged_in"]
COMMANDS = ["connect", "login", "pasv", "retr", "stor", "list"]
M64 = (1 << 64) - 1


def mix64(x):
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def fixture_key(seed, index):
    return mix64((mix64(seed ^ 0x6669787475726573) + index) & M64)


def fixture_size(key, lo, hi):
    return lo if hi <= lo else lo + mix64(key ^ 0x73697A6573697A65) % (hi - lo + 1)


def content(key, size):
    words = (size + 7) // 8
    out = b"".join(mix64((key + k * 0x9E3779B97F4A7C15) & M64).to_bytes(8, "little")
                   for k in range(words))
    return out[:size]


def have_ftpc():
    return os.access(FTPC_BIN, os.X_OK)


@unittest.skipUnless(have_ftpc(), "ftpc binary not found: %s" % FTPC_BIN)
class StressCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpc-stress-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def server(self, **kw):
        args = list(kw.pop("args", [])) + ["--max-per-ip", "5000", "--max-sessions", "5000",
                                           "--log-level", "warn"]
        srv = FtpdServer(args=args, **kw)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def stress(self, *args, rc=0, timeout=120, preexec=None, env=None):
        """Runs ftpc stress with --json; returns (report dict or None, stdout, stderr)."""
        jpath = os.path.join(self.tmp, "report-%d.json" % time.monotonic_ns())
        cmd = [FTPC_BIN, "stress"] + [str(a) for a in args] + ["--json", jpath]
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           preexec_fn=preexec, env=env)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, err, "sanitizer report:\n" + err[-6000:])
        if rc is not None:
            self.assertEqual(r.returncode, rc, "ftpc %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(cmd), r.returncode, out[-3000:], err[-3000:]))
        rep = None
        if os.path.exists(jpath):
            with open(jpath) as fh:
                rep = json.load(fh)
        return rep, out, err

    def assert_report_fits(self, out):
        """Every line of the text report fits an 80-column terminal."""
        for line in out.splitlines():
            self.assertLessEqual(len(line), 80, "%r in:\n%s" % (line, out))

    @staticmethod
    def unwrap(out):
        """The text report with its continuation lines joined to the lines they continue."""
        return re.sub(r"\n +", " ", out)

    def check_report(self, rep, clients):
        for k in TOP_KEYS:
            self.assertIn(k, rep)
        self.assertEqual(rep["clients"], clients)
        for c in COMMANDS:
            for k in ("count", "p50", "p90", "p99", "max"):
                self.assertIn(k, rep["latency_ms"][c])
            lat = rep["latency_ms"][c]
            if lat["count"]:
                self.assertLessEqual(lat["p50"], lat["p90"] + 1e-9)
                self.assertLessEqual(lat["p90"], lat["p99"] + 1e-9)
                self.assertLessEqual(lat["p99"], lat["max"] + 1e-9)
                self.assertGreaterEqual(lat["p50"], 0)
        for op in ("get", "put", "list", "login"):
            self.assertIn("count", rep["ops"][op])
            self.assertIn("errors", rep["ops"][op])
            self.assertLessEqual(rep["ops"][op]["errors"], rep["ops"][op]["count"])
        self.assertEqual(rep["ops_total"], sum(rep["ops"][o]["count"] for o in rep["ops"]))
        self.assertGreater(rep["duration_s"], 0)
        self.assertAlmostEqual(rep["ops_per_s"], rep["ops_total"] / rep["duration_s"],
                               delta=0.01 * rep["ops_per_s"] + 0.01)
        self.assertGreaterEqual(rep["cpu_user_s"] + rep["cpu_sys_s"], 0)
        self.assertGreater(rep["peak_rss_kib"], 0)


class TestStressFtpd(StressCase):
    def test_100_clients_with_faults(self):
        srv = self.server()
        url = srv.url("stress")
        rep, out, err = self.stress(url, "--clients", 100, "--duration", 4, "--ramp-up", 0.5,
                                    "--mix", "mixed", "--size", "1K-96K", "--files", 6,
                                    "--abort-fraction", 0.05, "--drop-fraction", 0.05,
                                    "--seed", 11, "--no-view")
        self.check_report(rep, 100)
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["errors_by_code"], {}, err[-3000:])
        self.assertEqual(rep["exit_status"], 0)
        self.assertEqual(rep["seed"], 11)
        self.assertGreater(rep["faults_injected"], 0)
        self.assertEqual(rep["faults_injected"], rep["faults"]["abort"] + rep["faults"]["drop"])
        self.assertGreater(rep["faults"]["abort"], 0)
        self.assertGreater(rep["faults"]["drop"], 0)
        for op in ("get", "put", "list", "login"):
            self.assertGreater(rep["ops"][op]["count"], 0, op)
        # at least one login per client, and the latency rows were filled
        self.assertGreaterEqual(rep["latency_ms"]["login"]["count"], 100)
        self.assertGreaterEqual(rep["latency_ms"]["connect"]["count"], 100)
        for c in COMMANDS:
            self.assertGreater(rep["latency_ms"][c]["count"], 0, c)
        self.assertGreater(rep["bytes_down"], 0)
        self.assertGreater(rep["bytes_up"], 0)
        self.assertGreater(rep["duration_s"], 3.5)
        self.assertLess(rep["duration_s"], 30)
        self.assertIn("latency (ms)", out)
        self.assertIn("verification   0 failures", out)
        self.assert_report_fits(out)
        # the per-operation counts, on continuation lines if need be, all there
        for op in ("login", "get", "put", "list"):
            self.assertIn("%s %d (%d failed)" % (op, rep["ops"][op]["count"],
                                                 rep["ops"][op]["errors"]), self.unwrap(out))
        # the server is still healthy and nothing of the uploads is left behind
        # (ftpd keeps an interrupted upload aside as .ftpd-partial.NAME for a resume: those
        # are the server's own files, not the name the client uploaded and deleted)
        names = sorted(n for n in os.listdir(os.path.join(srv.root, "stress"))
                       if not n.startswith(INTERNAL_PREFIXES))
        self.assertEqual([n for n in names if n.endswith(".up")], [])
        sizes = [fixture_size(fixture_key(11, i), 1024, 96 * 1024) for i in range(6)]
        self.assertEqual(names, sorted("ftpc-stress-11-f%d-%d.dat" % (i, sizes[i])
                                       for i in range(6)))
        # fixtures on the server hold exactly the documented content
        for i in range(6):
            want = content(fixture_key(11, i), sizes[i])
            self.assertEqual(srv.read("stress/ftpc-stress-11-f%d-%d.dat" % (i, sizes[i])),
                             want)
        f = srv.ftp()
        self.assertTrue(f.nlst("stress"))
        f.quit()

    def test_corrupted_fixture(self):
        srv = self.server()
        url = srv.url("")
        rep, _, _ = self.stress(url, "--clients", 2, "--iterations", 1, "--mix", "get",
                                "--files", 1, "--size", 5000, "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        path = os.path.join(srv.root, "ftpc-stress-1-f0-5000.dat")
        with open(path, "r+b") as fh:
            fh.seek(1234)
            b = fh.read(1)
            fh.seek(1234)
            fh.write(bytes([b[0] ^ 0x01]))
        rep, out, err = self.stress(url, "--clients", 3, "--iterations", 2, "--mix", "get",
                                    "--files", 1, "--size", 5000, "--no-view", rc=8)
        self.assertRegex(err, r"VERIFY FAILED: client (setup|\d+), "
                              r"file ftpc-stress-1-f0-5000\.dat, "
                              r"offset 1234: expected 0x[0-9a-f]{2}, got 0x[0-9a-f]{2}")
        self.assertGreaterEqual(rep["verify_failures"], 1)
        self.assertEqual(rep["exit_status"], 8)
        # every download of the damaged file is a failed operation, not a success
        self.assertEqual(rep["ops"]["get"], {"count": 6, "errors": 6})
        self.assertIn("get 6 (6 failed)", out)
        d = rep["verify_failures_detail"][0]
        self.assertEqual(d["file"], "ftpc-stress-1-f0-5000.dat")
        self.assertEqual(d["offset"], 1234)
        self.assertEqual(d["got"], d["expected"] ^ 1)
        self.assertIn("offset 1234", out)

    def test_a_damaged_fixture_is_reported_once_with_its_count(self):
        # every download of a fixture damaged on the server fails at the same offset: the
        # report listed that file and offset 20 times, and standard error said it 20 times
        srv = self.server()
        url = srv.url("")
        self.stress(url, "--clients", 1, "--iterations", 1, "--mix", "get", "--files", 1,
                    "--size", 5000, "--no-view")
        path = os.path.join(srv.root, "ftpc-stress-1-f0-5000.dat")
        with open(path, "r+b") as fh:
            fh.seek(777)
            b = fh.read(1)
            fh.seek(777)
            fh.write(bytes([b[0] ^ 0x80]))
        rep, out, err = self.stress(url, "--clients", 4, "--iterations", 6, "--mix", "get",
                                    "--files", 1, "--size", 5000, "--no-view", rc=8)
        self.assertEqual(rep["ops"]["get"], {"count": 24, "errors": 24})
        self.assertGreaterEqual(rep["verify_failures"], 24)
        self.assertEqual(len(rep["verify_failures_detail"]), 1, rep["verify_failures_detail"])
        d = rep["verify_failures_detail"][0]
        self.assertEqual((d["file"], d["offset"]), ("ftpc-stress-1-f0-5000.dat", 777))
        self.assertEqual(d["times"], rep["verify_failures"])
        self.assertEqual(len(re.findall(r"VERIFY FAILED", err)), 1, err)
        lines = [l for l in out.splitlines() if "offset 777" in l]
        self.assertEqual(len(lines), 1, out)
        self.assertIn("(%d times)" % d["times"], lines[0])

    def test_truncated_fixture_same_name(self):
        # a fixture of the wrong size is replaced by the set-up, not reported
        srv = self.server()
        srv.write("ftpc-stress-5-f0-3000.dat", b"short")
        rep, _, _ = self.stress(srv.url(""), "--clients", 2, "--iterations", 2, "--mix", "get",
                                "--files", 1, "--size", 3000, "--seed", 5, "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["ops"]["get"]["count"], 4)
        self.assertEqual(len(srv.read("ftpc-stress-5-f0-3000.dat")), 3000)

    def test_iterations_exact(self):
        srv = self.server()
        rep, _, _ = self.stress(srv.url("it"), "--clients", 5, "--iterations", 3, "--mix",
                                "get=1,put=1,list=1", "--size", "10K", "--no-view")
        self.check_report(rep, 5)
        self.assertEqual(rep["iterations"], 3)
        self.assertEqual(rep["ops"]["get"]["count"] + rep["ops"]["put"]["count"] +
                         rep["ops"]["list"]["count"], 15)
        self.assertEqual(rep["ops"]["login"]["count"], 5)
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["errors_by_code"], {})
        puts = rep["ops"]["put"]["count"]
        gets = rep["ops"]["get"]["count"]
        # a put is read back: its bytes go both ways; listings are no file data
        self.assertEqual(rep["bytes_up"], puts * 10240)
        self.assertEqual(rep["bytes_down"], (gets + puts) * 10240)
        self.assertEqual(rep["latency_ms"]["stor"]["count"], puts)
        self.assertEqual(rep["latency_ms"]["retr"]["count"], gets + puts)

    def test_report_gives_the_latency_of_whole_operations(self):
        # the live view shows p50 and p99 of whole operations; the report had no such figure
        srv = self.server()
        rep, out, _ = self.stress(srv.url("oplat"), "--clients", 3, "--iterations", 4, "--mix",
                                  "get=1,put=1,list=1", "--size", "10K", "--no-view")
        self.assertEqual(rep["errors_by_code"], {}, out)
        lat = rep["op_latency_ms"]
        # every operation succeeded: each is measured, the first logins among them
        self.assertEqual(lat["count"], rep["ops_total"], out)
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        # a put (upload, read-back, DELE) outlasts its STOR alone
        self.assertGreaterEqual(lat["max"], rep["latency_ms"]["stor"]["max"])
        row = re.search(r"(?m)^  operation +(\d+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+)$",
                        out)
        self.assertIsNotNone(row, out)
        self.assertEqual(int(row.group(1)), lat["count"])
        self.assertEqual([float(x) for x in row.groups()[1:]],
                         [lat["p50"], lat["p90"], lat["p99"], lat["max"]])

    def test_bytes_match_the_servers_transfer_log(self):
        # what the report says moved is what the server logged, file by file: the listings
        # were counted as downloaded bytes, so the two never agreed
        log = os.path.join(self.tmp, "xfer.log")
        srv = self.server(args=["--xferlog", log])
        rep, out, _ = self.stress(srv.url("xl"), "--clients", 4, "--iterations", 12, "--mix",
                                  "get=2,put=1,list=2", "--size", "1K-40K", "--files", 3,
                                  "--no-view")
        self.assertGreater(rep["ops"]["list"]["count"], 0)
        with open(log) as fh:
            rows = [l.split() for l in fh if l.strip()]
        down = sum(int(r[7]) for r in rows if r[11] == "o")
        up = sum(int(r[7]) for r in rows if r[11] == "i")
        self.assertEqual(rep["bytes_down"], down, out)
        self.assertEqual(rep["bytes_up"] + rep["setup_bytes"], up, out)

    def test_clients_that_never_logged_in_are_counted(self):
        # three sessions for six clients that hold theirs (no login ops): three never get in
        srv = FtpdServer(args=["--max-sessions", "3", "--log-level", "warn"])
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress(srv.url("ni"), "--clients", 6, "--duration", 2, "--mix",
                                    "list=1", "--no-view", rc=None)
        self.assertEqual(rep["clients_never_logged_in"], 3)
        self.assertIn("3 of 6 never logged in", out + err)
        self.assertGreater(rep["ops"]["list"]["count"], 0)

    def test_set_up_within_a_per_address_limit(self):
        # the set-up opens four sessions: a server that lets two in from an address (vsftpd's
        # max_per_ip, pure-ftpd -C, ftpd --max-per-ip) failed it at once, exit 5, "421 Too
        # many connections", though two clients could have run; those it lets in do the work
        srv = FtpdServer(args=["--max-per-ip", "2", "--log-level", "warn"])
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress(srv.url("pi"), "--clients", 2, "--iterations", 4, "--mix",
                                    "get", "--files", 6, "--size", "8K", "--no-view")
        self.assertIsNone(rep["setup_error"], err)
        # (a client may yet be turned away while the set-up's sessions close)
        self.assertGreater(rep["ops"]["get"]["count"], 0)
        self.assertEqual(rep["ops"]["get"]["errors"], 0)
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(sorted(n for n in os.listdir(srv.local("pi"))),
                         ["ftpc-stress-1-f%d-8192.dat" % i for i in range(6)])
        self.assertIn("set-up: the server turned a session away (421 ", err)
        # a server that lets none in still fails the set-up, with its reply
        srv2 = FtpdServer(args=["--max-sessions", "1", "--log-level", "warn"])
        srv2.start()
        self.addCleanup(srv2.stop)
        hold = srv2.ftp()
        self.addCleanup(hold.close)
        rep, out, err = self.stress(srv2.url("pi"), "--clients", 2, "--iterations", 1,
                                    "--no-view", rc=5)
        self.assertRegex(rep["setup_error"], r"^421 ")

    def test_max_errors_sets_the_exit_status(self):
        # a run whose sessions were refused (421: more clients than --max-per-ip) exited 0,
        # so a CI job could not tell it from a clean one; --max-errors N is its threshold
        srv = FtpdServer(args=["--max-per-ip", "3", "--log-level", "warn"])
        srv.start()
        self.addCleanup(srv.stop)
        args = (srv.url("me"), "--clients", 6, "--iterations", 2, "--mix", "list",
                "--no-view", "--timeout", 10)
        rep, out, err = self.stress(*args, "--max-errors", 0, rc=1)
        self.assertGreater(rep["errors_by_code"].get("421", 0), 0, out)
        self.assertEqual(rep["exit_status"], 1)
        self.assertIn("(more than --max-errors 0)", self.unwrap(out))
        rep, out, _ = self.stress(*args, "--max-errors", 1000000, rc=0)
        self.assertGreater(rep["errors_by_code"].get("421", 0), 0, out)
        self.assertNotIn("--max-errors", out)
        # an error-free run stays 0 under the strictest threshold
        rep, _, _ = self.stress(self.server().url("me"), "--clients", 2, "--iterations", 2,
                                "--mix", "list", "--no-view", "--max-errors", 0, rc=0)
        self.assertEqual(rep["errors_by_code"], {})

    def test_idle_timeout_counts_the_servers_421(self):
        # ftpd closes a session idle for --idle-timeout with "421 Timeout": between two
        # operations (--think) that reply came unasked and the report counted only the close
        # after it, "EOF closed by the server", not why
        srv = FtpdServer(args=["--idle-timeout", "1", "--log-level", "warn"])
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, err = self.stress(srv.url("idle"), "--clients", 2, "--iterations", 2,
                                    "--mix", "list", "--think", 1600, "--no-view", timeout=60)
        self.assertGreater(rep["errors_by_code"].get("421", 0), 0, out + err)
        self.assertNotIn("EOF", rep["errors_by_code"], out)
        self.assertIn("Timeout", rep["error_replies"]["421"])
        self.assertEqual(rep["ops"]["list"], {"count": 4, "errors": 0}, out)

    def test_put_verified_by_hash(self):
        srv = self.server()
        rep, _, err = self.stress(srv.url(""), "--clients", 4, "--iterations", 3, "--mix", "put",
                                  "--size", "1K-200K", "--verify-put", "hash", "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["ops"]["put"]["count"], 12)
        self.assertEqual(rep["ops"]["put"]["errors"], 0)
        # read back by HASH, not RETR
        self.assertEqual(rep["latency_ms"]["retr"]["count"], 0)
        self.assertNotIn("read back instead", err)

    def test_rate_limit(self):
        srv = self.server()
        rep, _, _ = self.stress(srv.url(""), "--clients", 3, "--iterations", 2, "--mix", "get",
                                "--files", 1, "--size", "128K", "--limit-rate", "128K",
                                "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["ops"]["get"]["count"], 6)
        # 256 KiB per client at 128 KiB/s: about 2 s, whatever the loopback speed
        self.assertGreater(rep["duration_s"], 1.5)
        self.assertLess(rep["duration_s"], 10)

    def test_rate_limit_spares_the_set_up(self):
        # the fixtures go up at full speed: held to --limit-rate, 4 x 512 KiB at 128 KiB/s
        # took 4 s before the first client started; the clients' downloads are still held
        srv = self.server()
        rep, _, _ = self.stress(srv.url("rl"), "--clients", 1, "--iterations", 1, "--mix",
                                "get", "--files", 4, "--size", "512K", "--limit-rate", "128K",
                                "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["setup_bytes"], 4 * 512 * 1024)
        self.assertLess(rep["setup_s"], 1.5)
        self.assertEqual(rep["ops"]["get"]["count"], 1)
        self.assertGreater(rep["duration_s"], 3.0)

    def test_tls(self):
        srv = FtpdServer(args=["--tls", "--max-per-ip", "1000", "--log-level", "warn"])
        state = os.path.join(srv.base, "state")
        srv.args += ["--state-dir", state]
        srv.start()
        self.addCleanup(srv.stop)
        cafile = os.path.join(state, "tls-cert.pem")
        rep, _, err = self.stress(srv.url("tls"), "--tls", "--cacert", cafile, "--clients", 20,
                                  # a count, not a duration: TLS under ASan on a loaded
                                  # machine can spend 2 s on the handshakes alone
                                  "--iterations", 4, "--seed", 5, "--size", "1K-64K",
                                  "--abort-fraction", 0.05,
                                  "--drop-fraction", 0.05, "--no-view")
        self.check_report(rep, 20)
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["errors_by_code"], {}, err[-2000:])
        self.assertGreater(rep["ops"]["get"]["count"], 0)
        self.assertGreater(rep["ops"]["put"]["count"], 0)
        # without the CA the certificate is refused: the set-up fails and says why
        rep, _, err = self.stress(srv.url("tls"), "--tls", "--clients", 1, "--iterations", 1,
                                  "--no-view", rc=9)
        self.assertEqual(rep["exit_status"], 9)
        self.assertIn("TLS: the server's certificate failed verification: self-signed "
                      "certificate (trust it with --cacert FILE, or skip the check with "
                      "--insecure)", err)
        # with a --cacert that does not hold it, the refusal names that file
        other = os.path.join(state, "other.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                            os.path.join(state, "other-key.pem"), "-out", other, "-days", "1",
                            "-subj", "/CN=localhost"], capture_output=True, timeout=30)
        if r.returncode == 0:
            rep, _, err = self.stress(srv.url("tls"), "--tls", "--cacert", other, "--clients", 1,
                                      "--iterations", 1, "--no-view", rc=9)
            self.assertIn("self-signed certificate (--cacert %s holds neither it nor its "
                          "issuer; skip the check with --insecure)" % other, err)

    def server_with_mode_z(self):
        srv = self.server()
        f = srv.ftp()
        feats = f.sendcmd("FEAT")
        f.quit()
        if "MODE Z" not in feats:
            self.skipTest("this ftpd offers no MODE Z in FEAT")
        return srv

    def test_compress(self):
        srv = self.server_with_mode_z()
        rep, _, err = self.stress(srv.url(""), "--compress", "--clients", 6, "--iterations", 4,
                                  "--mix", "get=1,put=1", "--size", "1K-300K", "--no-view")
        self.assertEqual(rep["verify_failures"], 0)
        self.assertEqual(rep["errors_by_code"], {}, err[-2000:])

    def test_compress_cut_uploads_count_file_bytes(self):
        # Every upload aborted at the same points (one seed): a plain one counts the file
        # bytes sent up to its cut. A MODE Z one counted what the deflater had taken, whole
        # 64 KiB chunks past the cut, some never sent: the totals of one run with and one
        # without --compress differed. Both now count the file bytes up to the cut.
        srv = self.server_with_mode_z()
        ups = []
        for z in ([], ["--compress"]):
            rep, _, err = self.stress(srv.url("cz"), *z, "--clients", 3, "--iterations", 4,
                                      "--mix", "put", "--size", "200K-700K",
                                      "--abort-fraction", 1, "--seed", 11, "--no-view")
            self.assertEqual(rep["faults"], {"abort": 12, "drop": 0}, err[-2000:])
            ups.append(rep["bytes_up"])
        self.assertGreater(ups[0], 0)
        self.assertEqual(ups[1], ups[0])

    def test_csv_to_stdout(self):
        srv = self.server()
        r = subprocess.run([FTPC_BIN, "stress", srv.url(""), "--clients", "2", "--iterations",
                            "2", "--mix", "list", "--csv", "-", "--no-view"],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-2000:])
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0], "command,count,p50_ms,p90_ms,p99_ms,max_ms")
        self.assertEqual([l.split(",")[0] for l in lines[1:]], COMMANDS)
        rows = {l.split(",")[0]: l.split(",") for l in lines[1:]}
        self.assertEqual(rows["list"][1], "4")
        self.assertEqual(rows["retr"][1], "0")
        # the text report went to standard error instead
        self.assertIn("latency (ms)", r.stderr.decode())

    def test_fd_limit_message(self):
        srv = self.server()

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
        rep, _, err = self.stress(srv.url(""), "--clients", 200, "--iterations", 1, "--mix",
                                  "list", "--no-view", preexec=low_limit)
        self.assertIn("allows 18 clients", err)
        self.assertEqual(rep["clients"], 18)
        self.assertEqual(rep["clients_requested"], 200)
        self.assertEqual(rep["ops"]["list"]["count"], 18)

    def test_fd_limit_counts_descriptors_open_already(self):
        # descriptors inherited from the parent were not counted: 68 clients were run
        # where 18 fit, and their connects failed by the dozen with EMFILE
        srv = self.server()
        inherited = [os.open(os.devnull, os.O_RDONLY) for _ in range(100)]
        for fd in inherited:
            self.addCleanup(os.close, fd)
        jpath = os.path.join(self.tmp, "fds.json")

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (200, 200))
        r = subprocess.run([FTPC_BIN, "stress", srv.url(""), "--clients", "68", "--iterations",
                            "3", "--mix", "list", "--no-view", "--json", jpath],
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL,
                           preexec_fn=low_limit, pass_fds=inherited)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, err[-3000:])
        with open(jpath) as fh:
            rep = json.load(fh)
        self.assertIn("with 100 descriptors open already, which allows 18 clients", err)
        self.assertIn("`ulimit -n 300`", err)
        self.assertEqual(rep["clients"], 18)
        self.assertEqual(rep["errors_by_code"], {})
        self.assertEqual(rep["ops"]["list"], {"count": 54, "errors": 0})

    def live_stress_on_pty(self, srv, duration):
        """Starts a list-only stress run of 5 clients whose standard error is a 120 x 24
        pseudo-terminal drawing the live view; returns (process, master, slave)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        env = dict(os.environ, TERM="xterm", NO_COLOR="1")
        env.pop("COLUMNS", None)
        p = subprocess.Popen([FTPC_BIN, "stress", srv.url(""), "--clients", "5",
                              "--duration", duration, "--mix", "list"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave, env=env)
        return p, master, slave

    def stress_on_pty(self, srv, env, columns=None, rows=24):
        """Runs a short list-only stress run with its standard error on a pseudo-terminal
        (columns wide if given); returns what the terminal received, as text."""
        master, slave = pty.openpty()
        if columns:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        p = subprocess.Popen([FTPC_BIN, "stress", srv.url(""), "--clients", "5",
                              "--duration", "1.5", "--mix", "list"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave, env=env)
        os.close(slave)
        data = read_pty(master, 30, proc=p)
        os.close(master)
        self.assertEqual(p.wait(30), 0)
        text = data.decode("utf-8", "replace")
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, text)
        return text

    def test_live_view_terminal(self):
        srv = self.server()
        for color in (True, False):
            env = dict(os.environ, TERM="xterm")
            env.pop("NO_COLOR", None)
            if not color:
                env["NO_COLOR"] = "1"
            text = self.stress_on_pty(srv, env)
            # redrawn in place: cursor up and clear, several frames
            self.assertGreaterEqual(text.count("\x1b[2A"), 3, text[-2000:])
            self.assertIn("clients 5/5 logged in", text)
            self.assertIn("latency p50", text)
            if color:
                self.assertIn("\x1b[1m", text)
            else:
                self.assertNotIn("\x1b[1m", text)
                self.assertNotIn("\x1b[31m", text)

    def test_live_view_fits_a_narrow_terminal(self):
        # a line wider than the terminal wraps, and the next frame's cursor-up then misses
        # the frame's first line: every line must fit
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm"), columns=40)
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
        self.assertIn("latency p50", plain)
        for line in re.split(r"[\r\n]+", plain):
            self.assertLessEqual(len(line), 39, repr(line))
        # more than three lines now, and each redraw goes up over all of them
        ups = set(re.findall(r"\x1b\[(\d+)A", text))
        self.assertTrue(ups and all(int(n) >= 3 for n in ups), ups)

    def test_live_view_cuts_no_figure_on_a_very_narrow_terminal(self):
        # the latency was one field, cut at the terminal's edge: "p99 123." for 123.4 ms
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm"), columns=30)
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
        lines = [l for l in re.split(r"[\r\n]+", plain) if l]
        self.assertTrue(any("p99 " in l for l in lines), plain)
        for line in lines:
            self.assertLessEqual(len(line), 29, repr(line))
            for m in re.finditer(r"p(?:50|99) (\S+)(?: (\S+))?", line):
                self.assertTrue(m.group(1) == "-" or m.group(2) in ("ms", "s"), repr(line))

    def test_live_view_breaks_wide_fields_between_words_on_a_20_column_terminal(self):
        # fields wider than the line were cut at its edge: "stress run 0.2 s / " lost the
        # run's length, "clients 5/5 logged" its last word, "verify failures 100" (of 1000)
        # a figure's last digit
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm"), columns=20)
        frames = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", f) for f in text.split("\x1b[J")]
        frames = [f for f in frames if "stress run" in f and "latency" in f]
        self.assertTrue(frames, text[-2000:])
        for f in frames:
            lines = [l for l in re.split(r"[\r\n]+", f) if l]
            for line in lines:
                self.assertLessEqual(len(line), 19, repr(line))
            joined = " ".join(" ".join(lines).split())
            self.assertRegex(joined, r"^stress run [0-9.]+ s / 1\.5 s clients \d/5 logged in ",
                             repr(f))
            self.assertRegex(joined, r" verify failures 0 faults 0 latency p50 ", repr(f))

    def test_live_view_is_no_taller_than_a_small_terminal(self):
        # 20 columns, 8 rows: the frame took 11 or more lines, so each redraw scrolled its
        # top out of the cursor-up's reach into the scrollback. The fields that do not fit
        # are left out, the first ones (the run, its clients, its operations) kept.
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm"), columns=20,
                                  rows=8)
        frames = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", f) for f in text.split("\x1b[J")]
        frames = [f for f in frames if "stress run" in f]
        self.assertTrue(frames, text[-2000:])
        for f in frames:
            lines = [l for l in re.split(r"[\r\n]+", f) if l]
            self.assertLessEqual(len(lines), 7, repr(f))
            self.assertRegex(" ".join(" ".join(lines).split()), r"clients \d/5 logged in ops ",
                             repr(f))
        self.assertTrue(all(int(n) <= 6 for n in re.findall(r"\x1b\[(\d+)A", text)), text)
        # 20x4: the clients field, two lines wide, would end at the last row: it is left out
        # whole rather than shown as "clients 5/5 logged"
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm"), columns=20,
                                  rows=4)
        frames = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", f) for f in text.split("\x1b[J")]
        frames = [" ".join(f.split()) for f in frames if "stress run" in f]
        self.assertTrue(frames, text[-2000:])
        for f in frames:
            self.assertRegex(f, r"^stress run [0-9.]+ s / 1\.5 s( clients \d/5 logged in|$)")

    def test_live_view_after_the_window_narrows(self):
        # frames drawn 120 columns wide, then the window narrows to 40: the terminal rewraps
        # each old line onto two rows, and the next frame must go up over all of them, or
        # the top of the old frame stays on the screen above the new one
        from test_liveview import Terminal
        srv = self.server()
        p, master, slave = self.live_stress_on_pty(srv, "4")
        os.close(slave)
        term = Terminal(120, 24)
        try:
            # two frames, so that the first has been redrawn once at the wide width
            out = read_pty(master, 15, done=lambda d: d.count(b"logged in") >= 2)
            term.feed(out.decode())
            self.assertTrue([r for r in term.screen() if len(r) > 40], term.screen())
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
            term.resize(40, 24)
            # a frame laid out for 40 columns: "clients" starts a line of its own
            out = read_pty(master, 15, done=lambda d: re.search(rb"\nclients [^\n]*\n"
                                                                rb"(.*\n){3}latency", d))
            term.feed(out.decode())
            screen = [r for r in term.screen() if r.strip()]
            self.assertEqual(sum(r.startswith("stress ") for r in screen), 1, "\n".join(screen))
            self.assertTrue(screen[0].startswith("stress "), "\n".join(screen))
        finally:
            p.kill()
            p.wait(10)
            os.close(master)

    def test_live_view_after_a_stop_leaves_the_shells_lines(self):
        # Ctrl-Z, then fg: the job-control shell wrote below the frame meanwhile ("[1]+
        # Stopped", the prompt, the command it continued), and the next frame went up over
        # its rows, wiping the shell's lines
        import signal
        from test_liveview import Terminal
        srv = self.server()
        p, master, slave = self.live_stress_on_pty(srv, "3")
        try:
            out = read_pty(master, 15, done=lambda d: d.count(b"logged in") >= 2)
            self.assertGreaterEqual(out.count(b"logged in"), 2, out[-2000:])
            os.kill(p.pid, signal.SIGSTOP)

            def stopped():
                with open("/proc/%d/stat" % p.pid) as fh:
                    return fh.read().rsplit(")", 1)[1].split()[0] == "T"
            self.assertTrue(wait_for(stopped, timeout=10))
            # what the shell writes: the frame ends without a newline, "^Z" lands after it
            os.write(slave, b"^Z\n[1]+  Stopped    ftpc stress\n$ fg\nftpc stress\n")
            os.kill(p.pid, signal.SIGCONT)
            os.close(slave)
            slave = None
            out += read_pty(master, 60, proc=p)
            self.assertEqual(p.wait(30), 0, out[-2000:])
        finally:
            if slave is not None:
                os.close(slave)
            if p.poll() is None:
                p.kill()
                p.wait(10)
            os.close(master)
        term = Terminal(120, 24)
        term.feed(out.decode("utf-8", "replace"))
        screen = [r for r in term.screen() if r.strip()]
        text = "\n".join(screen)
        self.assertIn("$ fg", screen, text)
        self.assertIn("ftpc stress", screen, text)
        fg = screen.index("ftpc stress")
        self.assertLess(screen.index("$ fg"), fg, text)
        # the frames after the stop start below them, and go on redrawing in place there
        self.assertEqual(sum(r.startswith("stress ") for r in screen[fg:]), 1, text)
        self.assertRegex(screen[fg + 1], r"^stress (run|ending) ", text)

    def test_live_view_at_the_top_of_the_screen_leaves_no_copies_in_the_history(self):
        # A frame at the top of the screen (a new tmux window, or after `clear`) was erased
        # from its top-left corner at each redraw; tmux takes "clear to the end of the screen"
        # from there for a clear screen and keeps a copy of it in the history (its option
        # scroll-on-clear, on by default): four frames a second piled up in the scrollback.
        from test_liveview import Terminal
        text = self.stress_on_pty(self.server(), dict(os.environ, TERM="xterm", NO_COLOR="1"),
                                  columns=120)
        self.assertGreaterEqual(text.count("logged in"), 3, text[-2000:])
        term = Terminal(120, 24)  # what the pty shows, from its top-left corner
        term.feed(text)
        self.assertEqual([r for r in term.history if r.startswith("stress ")], [],
                         "\n".join(term.history))
        screen = [r for r in term.screen() if r.strip()]
        self.assertEqual(sum(r.startswith("stress ") for r in screen), 1, "\n".join(screen))
        self.assertRegex(screen[0], r"^stress (run|ending) ")

    def test_plain_lines_when_not_a_terminal(self):
        srv = self.server()
        rep, _, err = self.stress(srv.url(""), "--clients", 3, "--duration", 2.5, "--mix",
                                  "list")
        lines = [l for l in err.splitlines() if l.startswith("stress run")]
        self.assertGreaterEqual(len(lines), 2, err)
        self.assertNotIn("\x1b[", err)
        self.assertRegex(lines[-1], r"\d+/3 logged in, 0 logging in, 0 awaiting greeting, \d+ in "
                                   r"flight, ops \d+")

    def test_plain_lines_show_no_set_up_rate_in_the_run(self):
        # the rates' window went on from the set-up's fixture uploads into the run, where the
        # counters start again from 0: a run of listings showed "up 97.3 MiB/s" for seconds
        srv = self.server(args=["--max-rate", "4M"])
        rep, _, err = self.stress(srv.url("rt"), "--clients", 2, "--duration", 2.5, "--mix",
                                  "list=1000,get=1", "--files", 4, "--size", "6M", "--think",
                                  "1000")
        setup = [l for l in err.splitlines() if l.startswith("stress setup")]
        run = [l for l in err.splitlines() if l.startswith(("stress run", "stress ending"))]
        self.assertTrue(any(", up 0 B/s," not in l for l in setup), err)  # a rate to carry
        self.assertGreaterEqual(len(run), 2, err)
        for line in run:
            self.assertRegex(line, ", up (0 B/s|-),")  # "-": not measured yet
        self.assertEqual(rep["bytes_up"], 0)

    def test_no_rate_before_a_measurement(self):
        # the first frame and the first plain line said "(0/s)" and "0 B/s" where nothing
        # had been measured yet
        srv = self.server()
        _, _, err = self.stress(srv.url(""), "--clients", 2, "--duration", 1.5, "--mix", "list")
        first = err.splitlines()[0]
        self.assertTrue(first.startswith("stress "), err)
        self.assertRegex(first, r", ops \d+, down -, up -, ")
        later = [l for l in err.splitlines()[1:] if l.startswith("stress ")]
        self.assertTrue(later, err)
        self.assertRegex(later[-1], r", ops \d+ \(\d+/s\), down \S+ \S+/s, up \S+ \S+/s, ")
        text = self.stress_on_pty(srv, dict(os.environ, TERM="xterm", NO_COLOR="1"))
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
        frame = plain[:plain.index("latency p50")]
        self.assertRegex(frame, r"ops \d+   in flight \d+   down -   up -", plain[:600])
        self.assertRegex(plain, r"ops \d+ \(\d+/s\)   in flight \d+   down \S+ \S+/s", plain)

    def test_name_with_an_address_the_server_does_not_listen_on(self):
        # a name that resolves to ::1 before 127.0.0.1 (Debian's "localhost") with the server
        # on 127.0.0.1 only (ftpd's default): `ftpc ls` tried the next address, stress only
        # the first, and failed the set-up with "cannot connect (Connection refused)". The
        # name is given in a private mount namespace's /etc/hosts; skipped where there is none.
        hosts = os.path.join(self.tmp, "hosts")
        with open(hosts, "w") as fh:
            fh.write("::1 ftpc-stress-dual\n127.0.0.1 ftpc-stress-dual\n")
        probe = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && '
                                'getent ahosts ftpc-stress-dual', hosts],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode != 0 or not probe.stdout.startswith("::1"):
            self.skipTest("no private /etc/hosts (unshare -m as root): %s" % probe.stderr.strip())
        srv = self.server()
        url = srv.url("dual").replace("127.0.0.1", "ftpc-stress-dual")
        jpath = os.path.join(self.tmp, "dual.json")
        r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && '
                            'exec "$@"', hosts, FTPC_BIN, "stress", url, "--clients", "2",
                            "--iterations", "2", "--mix", "get=1,put=1,list=1", "--no-view",
                            "--clean", "--json", jpath],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        with open(jpath) as fh:
            rep = json.load(fh)
        self.assertEqual(rep["errors_by_code"], {})
        self.assertEqual(rep["ops_total"], 6)
        self.assertFalse(srv.exists("dual"))

    def test_usage_errors(self):
        for args, msg in ((["--clients", "0", "ftp://127.0.0.1/"], "--clients"),
                          (["--mix", "fetch=1", "ftp://127.0.0.1/"], "--mix"),
                          (["--size", "9-3", "ftp://127.0.0.1/"], "--size"),
                          (["--iterations", "0", "ftp://127.0.0.1/"],
                           "--iterations needs a number from 1 to 1000000000, not '0'"),
                          (["--max-errors", "x", "ftp://127.0.0.1/"],
                           "--max-errors needs a number from 0 to 1000000000000, not 'x'"),
                          (["--duration", "1", "--iterations", "2", "ftp://127.0.0.1/"],
                           "exclude"),
                          (["--bogus", "ftp://127.0.0.1/"], "unknown option"),
                          (["--clents", "5", "ftp://127.0.0.1/"],
                           "unknown option --clents (did you mean --clients?)"),
                          ([], "needs a URL"),
                          (["http://x/"], "http://x/")):
            r = subprocess.run([FTPC_BIN, "stress"] + args, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr.decode(), args)
        r = subprocess.run([FTPC_BIN, "stress", "--help"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--abort-fraction", r.stdout.decode())
        for form in (["-h", "stress"], ["--help", "stress"]):  # as for the other commands
            self.assertEqual(subprocess.run([FTPC_BIN] + form, capture_output=True,
                                            timeout=30).stdout, r.stdout, form)
        r = subprocess.run([FTPC_BIN, "--help"], capture_output=True, timeout=30)
        self.assertIn("stress URL", r.stdout.decode())
        # ftpc's options before the word stress: the message says where stress goes
        for args in (["-q", "stress", "ftp://127.0.0.1/"],
                     ["-v", "stress", "ftp://127.0.0.1/", "--clients", "3"]):
            r = subprocess.run([FTPC_BIN] + args, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("stress must come first, followed by its own options: ftpc stress URL",
                          r.stderr.decode(), args)

    def test_unreachable(self):
        # The port stays bound, never listening, for the whole run: connects are refused, and
        # no server of a test running beside this one can take the port meanwhile.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            rep, _, err = self.stress("ftp://127.0.0.1:%d/" % port, "--clients", 2,
                                      "--duration", 1, "--no-view", rc=3)
        self.assertIn("cannot connect (Connection refused)", err)
        self.assertEqual(rep["exit_status"], 3)

    def anon_url(self, srv, path=""):
        return "ftp://%s:%d/%s" % (srv.host, srv.port, path)

    def test_read_only_account_without_downloads(self):
        # anonymous may not upload: a mix without get needs no fixtures
        srv = self.server()
        for mix, op in (("login", "login"), ("list", "list")):
            rep, _, err = self.stress(self.anon_url(srv), "--clients", 4, "--iterations", 3,
                                      "--mix", mix, "--no-view")
            self.assertEqual(rep["errors_by_code"], {}, err)
            self.assertGreaterEqual(rep["ops"][op]["count"], 12, err)
        self.assertNotIn("STOR", srv.log_text())

    def test_read_only_account_with_downloads_says_why(self):
        srv = self.server()
        _, _, err = self.stress(self.anon_url(srv), "--clients", 2, "--iterations", 1,
                                "--mix", "get", "--no-view", rc=5)
        self.assertIn("uploading the download fixture ftpc-stress-1-f", err)
        self.assertIn("a --mix without get needs none", err)

    def test_clean(self):
        srv = self.server()
        # a directory the run creates goes with its fixtures
        rep, _, err = self.stress(srv.url("made"), "--clients", 3, "--iterations", 4,
                                  "--files", 3, "--no-view", "--clean")
        self.assertGreater(rep["ops"]["get"]["count"], 0, err)
        self.assertFalse(srv.exists("made"), err)
        # a run ended by --duration cleans up too
        rep, _, err = self.stress(srv.url("timed"), "--clients", 3, "--duration", 1,
                                  "--files", 3, "--no-view", "--clean")
        self.assertGreater(rep["ops"]["get"]["count"], 0, err)
        self.assertFalse(srv.exists("timed"), err)
        # one that was there stays, with whatever else it holds
        srv.mkdir("kept")
        srv.write("kept/mine.txt", b"mine")
        rep, _, err = self.stress(srv.url("kept"), "--clients", 3, "--iterations", 4,
                                  "--files", 3, "--no-view", "--clean")
        self.assertGreater(rep["ops"]["get"]["count"], 0, err)
        self.assertEqual(sorted(os.listdir(srv.local("kept"))), ["mine.txt"], err)
        # without --clean the fixtures are kept for the next run
        self.stress(srv.url("kept"), "--clients", 2, "--iterations", 2, "--files", 3,
                    "--no-view")
        self.assertEqual(len([n for n in os.listdir(srv.local("kept"))
                              if n.startswith("ftpc-stress-1-f")]), 3)

    def test_clean_refused_is_said(self):
        # an account that may upload but not delete: the run's figures stand (status 0),
        # and each file left behind is named with the server's reply
        srv = self.server(users=[("nodel", "pw", "elrw")])
        srv.mkdir("d")
        rep, _, err = self.stress(srv.url("d"), "--clients", 2, "--iterations", 3, "--files", 2,
                                  "--mix", "get", "--no-view", "--clean")
        self.assertEqual(rep["verify_failures"], 0, err)
        for i in range(2):
            self.assertRegex(err, r"--clean: DELE ftpc-stress-1-f%d-65536\.dat: 550 " % i)
            self.assertTrue(srv.exists("d/ftpc-stress-1-f%d-65536.dat" % i))
        # and where they are, under a name that finds them (no other run's size)
        self.assertRegex(err, r"--clean: some of the run's files are still on the server: "
                              r"ftpc-stress-1-f\*-65536\.dat in d\n")

    def test_trace_tags_every_line_of_a_reply(self):
        # the traces of many clients interleave: a multi-line reply's lines (FEAT's) each
        # carry the client, not only its first
        srv = self.server()
        _, _, err = self.stress(srv.url(""), "--clients", 2, "--iterations", 1, "--mix", "list",
                                "--no-view", env=dict(os.environ, FTPC_STRESS_TRACE="1"))
        lines = err.splitlines()
        self.assertIn("[setup] < 211-Features:", lines, err)
        self.assertIn("[setup] <  EPSV", lines, err)
        self.assertIn("[setup] < 211 End", lines, err)
        self.assertIn("[0] > LIST", lines, err)
        self.assertIn("[1] > PASS *", lines, err)
        for line in lines:
            self.assertRegex(line, r"^\[(setup|\d+)\] [<>!] .", err)

    def test_error_replies_carry_their_text(self):
        srv = FtpdServer(args=["--max-per-ip", "2", "--log-level", "warn"])
        srv.start()
        self.addCleanup(srv.stop)
        rep, out, _ = self.stress(srv.url(""), "--clients", 6, "--iterations", 2,
                                  "--mix", "list", "--no-view")
        self.assertGreater(rep["errors_by_code"].get("421", 0), 0, out)
        self.assertEqual(rep["error_replies"]["421"], "Too many connections from your address.")
        self.assertIn("  421 Too many connections from your address.", out)

    def test_bad_password(self):
        srv = self.server(args=["--login-failure-delay", "50"])  # the 530 matters, not its delay
        rep, out, err = self.stress(srv.url("", pw="wrong"), "--clients", 2, "--duration", 1,
                                    "--no-view", rc=4)
        self.assertIn("530", err)
        # the reports carry the cause, not just an empty table
        self.assertRegex(rep["setup_error"], r"^530 ")
        self.assertRegex(out, r"(?m)^set-up failed  530 .*\(exit status 4; no client ran\)$")

    def test_refused_uploads_count_no_bytes_and_fail_the_run(self):
        # a read-only account: every STOR is refused (550) while the sessions log in fine
        srv = self.server(users=[("reader", "pw", "elr")])
        srv.mkdir("ro")
        rep, out, err = self.stress(srv.url("ro"), "--clients", 3, "--iterations", 4,
                                    "--mix", "put", "--size", "256K", "--no-view", rc=7)
        self.assertRegex(out, r"(?m)^throughput +down .*, up 0 B/s \(0 bytes\)$")
        self.assertEqual(rep["ops"]["put"], {"count": 12, "errors": 12}, err)
        self.assertEqual(rep["bytes_up"], 0)
        self.assertEqual(rep["errors_by_code"].get("550"), 12)
        self.assertIsNone(rep["setup_error"])
        # no STOR moved its data, no RETR or LIST ran: their rows show no latency, not 0.000
        for c in ("retr", "stor", "list"):
            self.assertRegex(out, r"(?m)^  %s +0 +- +- +- +-$" % c)
            self.assertEqual(rep["latency_ms"][c]["count"], 0)
        self.assertRegex(out, r"(?m)^  pasv +12 +\d+\.\d{3} ")

    def test_unwritable_report_path_fails_before_the_run(self):
        srv = self.server()
        t0 = time.monotonic()
        r = subprocess.run([FTPC_BIN, "stress", srv.url(""), "--clients", "2", "--duration", "5",
                            "--no-view", "--json", os.path.join(self.tmp, "no", "such", "r.json")],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertIn(b"cannot write", r.stderr)
        self.assertEqual(srv.log_text().count("connected"), 0)

    def test_report_standard_output_cannot_take_is_an_error(self):
        # the report is the run's result: lost on a full disk, it must not exit 0 in silence
        srv = self.server()
        for extra in ([], ["--json", "-"]):
            with open("/dev/full", "wb") as full:
                r = subprocess.run([FTPC_BIN, "stress", srv.url("full"), "--clients", "1",
                                    "--iterations", "1", "--mix", "list", "--no-view"] + extra,
                                   stdout=full, stderr=subprocess.PIPE, timeout=60,
                                   stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 6, (extra, r.stderr))
            self.assertIn(b"cannot write the report to standard output: No space left on device",
                          r.stderr)


    def test_two_runs_with_one_seed_share_a_directory(self):
        # two processes with one seed in one directory (one per core, or two CI jobs)
        # uploaded, read back and deleted the same names: each failed some of the other's
        # puts with "550 No such file", errors of the server that were the client's doing
        srv = self.server()
        reports = [os.path.join(self.tmp, "two-%d.json" % i) for i in range(2)]
        cmd = [FTPC_BIN, "stress", srv.url("two"), "--clients", "8", "--iterations", "25",
               "--mix", "put", "--size", "32K", "--no-view"]
        procs = [subprocess.Popen(cmd + ["--json", r], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for r in reports]
        errs = [p.communicate(timeout=120)[1].decode("utf-8", "replace") for p in procs]
        for p, r, err in zip(procs, reports, errs):
            with open(r) as fh:
                rep = json.load(fh)
            self.assertEqual((p.returncode, rep["errors_by_code"], rep["verify_failures"]),
                             (0, {}, 0), err[-2000:])
            self.assertEqual(rep["ops"]["put"], {"count": 200, "errors": 0})
        self.assertEqual([n for n in os.listdir(srv.local("two")) if n.endswith(".up")], [])
        # the names differ from run to run, whatever the timing
        names = []
        for _ in range(2):
            _, _, err = self.stress(srv.url("two"), "--clients", 1, "--iterations", 1, "--mix",
                                    "put", "--no-view", env=dict(os.environ, FTPC_STRESS_TRACE="1"))
            names.append(re.findall(r"> STOR (\S+)", err))
        self.assertEqual(len(names[0]), 1, names)
        self.assertRegex(names[0][0], r"^ftpc-stress-1-[0-9a-f]{8}-c0-0\.up$")
        self.assertNotEqual(names[0], names[1])

    def test_two_runs_with_one_seed_and_other_sizes_share_a_directory(self):
        # the fixtures were named by seed and index alone: a run with another --size
        # replaced them, and the run going on beside it failed every later download with
        # "file ends there": verification failures (exit 8) that were no server's doing
        srv = self.server()
        jpath = os.path.join(self.tmp, "a.json")
        a = subprocess.Popen([FTPC_BIN, "stress", srv.url("mixed"), "--clients", "1",
                              "--iterations", "2", "--mix", "get", "--files", "1", "--size",
                              "4K", "--seed", "9", "--think", "3000", "--json", jpath],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: a.poll() is None and (a.kill(), a.wait()))
        # its first download is done (4 KiB on loopback) and it thinks for 3 s: the other
        # run comes and goes meanwhile
        line = a.stderr.readline()
        self.assertTrue(line.startswith(b"stress run"), line)
        rep_b, out_b, _ = self.stress(srv.url("mixed"), "--clients", 1, "--iterations", 1,
                                      "--mix", "get", "--files", 1, "--size", "1K", "--seed", 9,
                                      "--no-view")
        self.assertEqual(rep_b["verify_failures"], 0, out_b)
        out, err = a.communicate(timeout=60)
        with open(jpath) as fh:
            rep = json.load(fh)
        self.assertEqual((a.returncode, rep["verify_failures"]), (0, 0), out + err)
        self.assertEqual(rep["ops"]["get"], {"count": 2, "errors": 0})


PEER_BINARIES = {
    "vsftpd": os.path.join(PEERS_PREFIX, "vsftpd", "usr", "sbin", "vsftpd"),
    "pure-ftpd": os.path.join(PEERS_PREFIX, "pure-ftpd", "usr", "sbin", "pure-ftpd"),
    "proftpd": os.path.join(PEERS_PREFIX, "proftpd-core", "usr", "sbin", "proftpd"),
}


def peer_why_not(name):
    """Why the peer server cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root (the peers start as root and drop to the ftpbench account)"
    try:
        pwd.getpwnam("ftpbench")
    except KeyError:
        return "account ftpbench missing (run bench/peers/install-peers.sh as root)"
    if name == "pyftpdlib":
        py = os.environ.get("PEER_PYTHON", "/usr/bin/python3")  # as start-server.sh
        r = subprocess.run([py, "-c", "import pyftpdlib"], capture_output=True)
        return None if r.returncode == 0 else "pyftpdlib not installed (install-peers.sh)"
    if not os.access(PEER_BINARIES[name], os.X_OK):
        return "%s not installed at %s (run bench/peers/install-peers.sh as root)" % (
            name, PEER_BINARIES[name])
    if name == "vsftpd" and not os.path.exists("/etc/pam.d/ftpbench-vsftpd"):
        return "PAM service ftpbench-vsftpd missing (run bench/peers/install-peers.sh)"
    return None


class TestStressPeers(StressCase):
    """The same load against the servers people run (bench/peers starts them as the
    benchmark does: account ftpbench, its real crypt hash, passive ports on loopback)."""

    def start_peer(self, name):
        why = peer_why_not(name)
        if why:
            self.skipTest(why)
        base = tempfile.mkdtemp(prefix="ftpc-stress-%s-" % name)
        self.addCleanup(shutil.rmtree, base, True)
        os.chmod(base, 0o755)
        root = os.path.join(base, "root")
        port = free_port()
        env = dict(os.environ, BENCH_RUN=os.path.join(base, "run"), PEERS_PREFIX=PEERS_PREFIX)
        r = subprocess.run([os.path.join(PEERS, "start-server.sh"), name, str(port), root],
                           env=env, capture_output=True, timeout=60)
        if r.returncode != 0:
            self.skipTest("%s did not start: %s" % (name, r.stderr.decode(errors="replace")[-500:]))
        self.addCleanup(subprocess.run, [os.path.join(PEERS, "stop-server.sh"), name], env=env,
                        capture_output=True, timeout=60)
        pw = pwd.getpwnam("ftpbench")
        d = os.path.join(root, "st")
        os.mkdir(d)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        self.peer_log = os.path.join(base, "run", name, "stderr.log")
        self.peer_port = port
        return "ftp://ftpbench:ftpbench@127.0.0.1:%d/st" % port, d

    def peer_listens(self):
        try:
            socket.create_connection(("127.0.0.1", self.peer_port), timeout=5).close()
            return True
        except OSError:
            return False

    def peer_says(self):
        try:
            with open(self.peer_log, errors="replace") as f:
                return "\n-- the peer's log ends:\n" + f.read()[-1500:]
        except OSError as e:
            return "\n-- no peer log: %s" % e

    def run_peer(self, name, faults=True):
        url, d = self.start_peer(name)
        # forking servers hash the account's password per login: a modest load. A count of
        # operations, not a duration: on a loaded machine 3 s against ProFTPD sometimes held
        # no download or no fault at all.
        args = [url, "--clients", 20, "--iterations", 6, "--size", "1K-64K", "--files", 4,
                "--no-view"]
        if faults:
            args += ["--abort-fraction", 0.05, "--drop-fraction", 0.05]
        rep, _, err = self.stress(*args, rc=None, timeout=180)
        if rep is not None and rep["exit_status"] == 5 and "set-up failed" in err:
            # A forking peer under a loaded machine sometimes resets the very first
            # connections (seen with pure-ftpd and ProFTPD while other suites ran): that is
            # the peer's start-up, not the run under test, so the set-up gets one more try.
            time.sleep(1)
            rep, _, err = self.stress(*args, rc=None, timeout=180)
        if rep is not None and rep["exit_status"] == 3 and not self.peer_listens():
            # Nothing of ftpc's is under test once the peer closed its own listening socket
            # (pyftpdlib closes it for good on any error of accept(); seen once in CI).
            self.skipTest("%s stopped listening: %s" % (name, self.peer_says()))
        self.assertEqual(rep["exit_status"] if rep else None, 0, err[-3000:] + self.peer_says())
        self.check_report(rep, 20)
        self.assertEqual(rep["verify_failures"], 0, err[-2000:])
        # Every byte must be right; a rare refusal by the peer itself under resets (pure-ftpd
        # answered one transfer in some runs with 425) is its business, so up to 1% of the
        # operations may fail there. ftpd is held to zero (TestStressFtpd).
        errors = sum(rep["errors_by_code"].values())
        self.assertLessEqual(errors, max(1, rep["ops_total"] // 100),
                             "%s\n%s" % (rep["errors_by_code"], err[-2000:]))
        for op in ("get", "put", "list"):
            self.assertGreater(rep["ops"][op]["count"], 0, op)
        if faults:
            self.assertGreater(rep["faults_injected"], 0)
        # A dropped upload is deleted after the reconnect; a forking server whose dropped
        # session process opens the file only after that DELE keeps it: at most one per drop.
        left = [n for n in os.listdir(d) if n.endswith(".up")]
        self.assertLessEqual(len(left), rep["faults"]["drop"], left)
        return rep

    def test_vsftpd(self):
        self.run_peer("vsftpd")

    def test_pure_ftpd(self):
        self.run_peer("pure-ftpd")

    def test_proftpd(self):
        # ProFTPD sends 226 only once the client closed its end of a download (lingering
        # close): a client that waits for 226 before closing stalls 10 s per transfer
        rep = self.run_peer("proftpd")
        self.assertLess(rep["latency_ms"]["retr"]["p50"], 2000)

    def test_pyftpdlib(self):
        # Without fault injection: with resets mid-transfer, pyftpdlib itself (1.5.x) resets
        # other sessions' data connections, refuses announced passive ports and logs
        # tracebacks ("I/O operation on closed file"); a put read back right after its 226
        # then came back empty now and then (reported as verification failures).
        self.run_peer("pyftpdlib", faults=False)


if __name__ == "__main__":
    unittest.main()
