"""--max-rate and --anon-max-rate end to end: the real ftpd over real sockets holds each transfer
(RETR, STOR, listings; stream mode, MODE Z and TLS) to its rate, checked with ftplib, curl and
raw sockets, every byte compared.

Each timed transfer is checked against a lower bound, which is deterministic: the server may
move no more than one burst (an eighth of a second of the rate) ahead of it, so SIZE bytes take
at least (SIZE - BURST) / RATE whatever the machine. The upper bounds are generous (the machine
is shared). Also: anonymous sessions follow --anon-max-rate and everyone else --max-rate, two
transfers at once each get their own rate, ABOR answers a paused transfer at once, a data
timeout shorter than the transfer does not fire, STAT and the live view report the limited
rate, the config file keys work and bad values stop the server at start-up."""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

from ftpd_harness import (FTPD_BIN, FtpdServer, ServerTestCase, data_bytes, recv_all,
                          recv_exactly, retr, stor, wait_for)
from test_ftps import TlsServerMixin
from test_modez import compress, zstor

CURL = shutil.which("curl")
KIB = 1024
MIB = 1024 * 1024
RATE = 512 * KIB
SLACK = 4.0  # upper bounds: this many times the ideal time, for a busy shared machine


def burst(rate):
    """The most the server may run ahead of the rate: an eighth of a second of it."""
    return rate / 8


def lower_bound(size, rate):
    return (size - burst(rate)) / rate


class RateCase(unittest.TestCase):
    def assertRate(self, secs, size, rate, what):
        """secs for size bytes at rate: not faster than the rate allows (minus one burst),
        and within SLACK times the ideal time."""
        low = lower_bound(size, rate)
        self.assertGreaterEqual(secs, low, "%s: %d bytes in %.3f s, faster than %d B/s allows "
                                "(at least %.3f s)" % (what, size, secs, rate, low))
        self.assertLess(secs, SLACK * size / rate, "%s: %d bytes took %.3f s at %d B/s"
                        % (what, size, secs, rate))


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


class TestUserRate(ServerTestCase, RateCase):
    server_kwargs = {"args": ["--max-rate", "512k", "--progress", "on"]}
    SIZE = MIB  # 2 s at the rate: enough to tell, short enough for the suite

    def test_download_ftplib(self):
        data = self.srv.make_file("a.bin", self.SIZE, seed=1)
        f = self.srv.ftp()
        got, secs = timed(retr, f, "a.bin")
        self.assertEqual(got, data)
        self.assertRate(secs, self.SIZE, RATE, "RETR")
        self.assertTrue(self.srv.wait_log(r"RETR /a\.bin ok: %d bytes .*held to 512 KiB/s"
                                          % self.SIZE))

    def test_upload_ftplib(self):
        data = data_bytes(self.SIZE, seed=2)
        f = self.srv.ftp()
        # the client's bytes fit in the sockets' buffers: the time to the 226 is the server's
        resp, secs = timed(stor, f, "up.bin", data)
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(self.srv.read("up.bin"), data)
        self.assertRate(secs, self.SIZE, RATE, "STOR")

    def test_appe_ftplib(self):
        head = self.srv.make_file("ap.bin", 1000, seed=3)
        tail = data_bytes(self.SIZE, seed=4)
        f = self.srv.ftp()
        resp, secs = timed(stor, f, "ap.bin", tail, "APPE")
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(self.srv.read("ap.bin"), head + tail)
        self.assertRate(secs, self.SIZE, RATE, "APPE")

    @unittest.skipUnless(CURL, "curl not installed")
    def test_curl_both_ways(self):
        # 1 s each way: unlimited, curl takes milliseconds (the accuracy checks at 2 s are
        # the ftplib tests')
        size = self.SIZE // 2
        data = self.srv.make_file("c.bin", size, seed=5)
        tmp = tempfile.mkdtemp(prefix="ftpd-e2e-rate-")
        self.addCleanup(shutil.rmtree, tmp, True)
        out = os.path.join(tmp, "out")
        t0 = time.monotonic()
        subprocess.run([CURL, "-sS", "-o", out, self.srv.url("c.bin")], check=True, timeout=60)
        self.assertRate(time.monotonic() - t0, size, RATE, "curl RETR")
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), data)
        t0 = time.monotonic()
        subprocess.run([CURL, "-sS", "-T", out, self.srv.url("c2.bin")], check=True, timeout=60)
        self.assertRate(time.monotonic() - t0, size, RATE, "curl STOR")
        self.assertEqual(self.srv.read("c2.bin"), data)

    def test_listing_is_limited(self):
        # about 200 KiB of LIST output at 128 KiB/s, 1.5 s (a server of its own, for the low
        # rate: the listing is many of the server's buffers)
        srv = FtpdServer(args=["--max-rate", "128k"])
        srv.start()
        self.addCleanup(srv.stop)
        srv.mkdir("many")
        for i in range(2500):
            open(os.path.join(srv.root, "many", "a-rather-long-file-name-%05d.txt" % i), "w").close()
        f = srv.ftp()
        lines = []
        _, secs = timed(f.retrlines, "LIST many", lines.append)
        self.assertEqual(len(lines), 2500)
        size = sum(len(line) + 2 for line in lines)
        self.assertGreater(size, 150 * KIB)
        self.assertRate(secs, size, 128 * KIB, "LIST")
        # the log gives the rate in the unit that fits it, not "0.1 MiB/s"
        self.assertTrue(srv.wait_log(r"LIST /many ok: %d bytes in [\d.]+ s "
                                     r"\(\d+(\.\d+)? KiB/s, held to 128 KiB/s\)" % size),
                        srv.log_text()[-600:])

    def test_stat_and_live_view_during_a_limited_download(self):
        data = self.srv.make_file("s.bin", 2 * MIB, seed=6)  # 4 s: time for 8 frames
        t0 = time.monotonic()
        c, ds, _ = self.begin_transfer("RETR s.bin")
        got = recv_exactly(ds, 512 * KIB)
        t1 = time.monotonic()
        code, text = c.cmd("STAT", timeout=5)
        self.assertLess(time.monotonic() - t1, 2.0, "STAT was not answered at once")
        self.assertEqual(code, 211, text)
        m = re.search(r"RETR /s\.bin: (\d+) of 2097152 bytes \(\d+%\), [\d.]+ [KM]iB/s; "
                      r"held to 512 KiB/s", text)
        self.assertTrue(m, text)
        done = int(m.group(1))
        # what the server reports delivered: what arrived, less bytes whose acknowledgement
        # is still on its way (a delayed ACK), and at most what the rate allows
        self.assertGreaterEqual(done, len(got) - 64 * KIB)
        self.assertLessEqual(done, (time.monotonic() - t0) * RATE + burst(RATE))
        # the live view's line shows the limited rate, an average of its last frames: read
        # once half the file is through. The rate is the bytes of the last five seconds over
        # their time, since the start here: the opening chunk, sent at once, counts less and
        # less in it as the seconds go.
        got += recv_exactly(ds, 512 * KIB)
        rx = re.compile(r"\[\d+\] alice RETR /s\.bin +(\d+)% .* ([\d.]+) KiB/s ETA ")

        def settled_frame():
            frames = [m for m in map(rx.search, self.srv.logs()) if m and int(m.group(1)) >= 45]
            return frames[-1] if frames else None
        line = wait_for(settled_frame, 5)
        self.assertTrue(line, self.srv.log_text()[-3000:])
        self.assertTrue(200 <= float(line.group(2)) <= 700, line.group(0))
        got += recv_all(ds)
        ds.close()
        self.assertEqual(c.reply(timeout=20)[0], 226)
        self.assertEqual(got, data)


class TestAnonymousRate(RateCase):
    """Anonymous sessions get --anon-max-rate, others --max-rate; here from a config file."""

    def test_anonymous_and_user_rates_from_config_keys(self):
        srv = FtpdServer(config={"max-rate": "2M", "anon-max-rate": "256k"})
        srv.start()
        self.addCleanup(srv.stop)
        anon = srv.make_file("pub.bin", MIB // 2, seed=7, base=srv.anon_root)
        data = srv.make_file("u.bin", 2 * MIB, seed=8)
        f = srv.ftp(user="anonymous", pw="guest@")
        got, secs = timed(retr, f, "pub.bin")
        self.assertEqual(got, anon)
        self.assertRate(secs, MIB // 2, 256 * KIB, "anonymous RETR")
        f = srv.ftp()
        got, secs = timed(retr, f, "u.bin")
        self.assertEqual(got, data)
        # 1 s at 2 MiB/s; at the anonymous rate it would have taken 8 s
        self.assertRate(secs, 2 * MIB, 2 * MIB, "user RETR")

    def test_anon_max_rate_0_exempts_anonymous_sessions(self):
        srv = FtpdServer(args=["--max-rate", "256k", "--anon-max-rate", "0"])
        srv.start()
        self.addCleanup(srv.stop)
        anon = srv.make_file("pub.bin", 2 * MIB, seed=9, base=srv.anon_root)
        f = srv.ftp(user="anonymous", pw="guest@")
        got, secs = timed(retr, f, "pub.bin")
        self.assertEqual(got, anon)
        self.assertLess(secs, lower_bound(2 * MIB, 256 * KIB) / 2)

    def test_anonymous_follows_max_rate_without_anon_max_rate(self):
        srv = FtpdServer(args=["--max-rate", "512k"])
        srv.start()
        self.addCleanup(srv.stop)
        anon = srv.make_file("pub.bin", MIB, seed=10, base=srv.anon_root)
        f = srv.ftp(user="anonymous", pw="guest@")
        got, secs = timed(retr, f, "pub.bin")
        self.assertEqual(got, anon)
        self.assertRate(secs, len(anon), RATE, "anonymous RETR")


class TestEachTransferItsOwnRate(ServerTestCase, RateCase):
    server_kwargs = {"args": ["--max-rate", "512k"]}

    def test_three_at_once(self):
        size = MIB
        files = [self.srv.make_file("p%d.bin" % i, size, seed=20 + i) for i in range(3)]
        ftps = [self.srv.ftp() for _ in range(3)]
        results = [None] * 3

        def run(i):
            results[i] = timed(retr, ftps[i], "p%d.bin" % i)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for i, (got, secs) in enumerate(results):
            self.assertEqual(got, files[i])
            self.assertGreaterEqual(secs, lower_bound(size, RATE))
            # sharing one rate, each would take three times as long (6 s)
            self.assertLess(secs, 2 * size / RATE, "transfer %d: %.3f s" % (i, secs))


class TestPausedTransferControl(ServerTestCase, RateCase):
    server_kwargs = {"args": ["--max-rate", "512k"]}

    def assert_paced(self, c, t0, size):
        """STAT: the transfer is held to its rate (not merely by a client that stopped
        reading): it has moved no more than the rate allowed since t0."""
        code, text = c.cmd("STAT", timeout=5)
        m = re.search(r": (\d+) (?:of \d+ bytes|bytes so far).*; held to 512 KiB/s", text)
        self.assertTrue(m, text)
        self.assertLessEqual(int(m.group(1)), (time.monotonic() - t0) * RATE + burst(RATE))
        self.assertLess(int(m.group(1)), size)

    def abor(self, c):
        t0 = time.monotonic()
        c.send("ABOR\r\n")
        first = c.reply(timeout=5)
        second = c.reply(timeout=5)
        self.assertLess(time.monotonic() - t0, 2.0, "ABOR was not answered at once")
        self.assertEqual((first[0], second[0]), (426, 226), (first, second))

    def test_abor_of_a_paused_download(self):
        self.srv.make_file("big.bin", 8 * MIB, seed=11)
        t0 = time.monotonic()
        c, ds, _ = self.begin_transfer("RETR big.bin")
        recv_exactly(ds, 256 * KIB)
        self.assert_paced(c, t0, 8 * MIB)
        self.abor(c)
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_abor_of_a_paused_upload(self):
        t0 = time.monotonic()
        c, ds, _ = self.begin_transfer("STOR up.bin")
        ds.sendall(data_bytes(MIB, seed=12))  # lands in the sockets' buffers
        time.sleep(0.3)
        self.assert_paced(c, t0, MIB)
        self.abor(c)
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_a_dropped_data_connection_ends_a_paused_download(self):
        self.srv.make_file("big.bin", 8 * MIB, seed=13)
        t0 = time.monotonic()
        c, ds, _ = self.begin_transfer("RETR big.bin")
        recv_exactly(ds, 256 * KIB)
        self.assert_paced(c, t0, 8 * MIB)
        t0 = time.monotonic()
        ds.close()
        code, text = c.reply(timeout=5)
        self.assertEqual(code, 426, text)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_quit_during_a_paused_download_follows_its_end(self):
        # QUIT waits for the transfer, as RFC 959 asks (ftpd.8): the pause adds nothing
        size = MIB
        data = self.srv.make_file("q.bin", size, seed=14)
        t0 = time.monotonic()
        c, ds, _ = self.begin_transfer("RETR q.bin")
        got = recv_exactly(ds, 128 * KIB)
        c.send("QUIT\r\n")
        got += recv_all(ds)
        end = time.monotonic()
        self.assertEqual(got, data)
        self.assertRate(end - t0, size, RATE, "RETR before QUIT")
        self.assertEqual(c.reply(timeout=5)[0], 226)
        self.assertEqual(c.reply(timeout=5)[0], 221)
        self.assertLess(time.monotonic() - end, 2.0)
        self.assertTrue(c.closed(timeout=5))
        ds.close()


class TestDataTimeout(ServerTestCase, RateCase):
    # 3 s transfers (2.875 s at least), a 2 s data timeout: only idleness counts, not the
    # time the rate takes
    server_kwargs = {"args": ["--max-rate", "512k", "--data-timeout", "2"]}
    SIZE = 3 * MIB // 2

    def test_long_limited_download(self):
        data = self.srv.make_file("d.bin", self.SIZE, seed=15)
        got, secs = timed(retr, self.srv.ftp(), "d.bin")
        self.assertEqual(got, data)
        self.assertRate(secs, self.SIZE, RATE, "RETR")

    def test_long_limited_upload(self):
        data = data_bytes(self.SIZE, seed=16)
        resp, secs = timed(stor, self.srv.ftp(), "u.bin", data)
        self.assertTrue(resp.startswith("226"), resp)
        self.assertEqual(self.srv.read("u.bin"), data)
        self.assertRate(secs, self.SIZE, RATE, "STOR")


def random_bytes(size, seed):
    """Incompressible data: its wire bytes under MODE Z are its size (and a little more)."""
    return data_bytes(size, seed)


class TestModeZRate(ServerTestCase, RateCase):
    """MODE Z counts the compressed bytes on the data connection."""
    server_kwargs = {"args": ["--max-rate", "512k"]}
    SIZE = MIB

    def zftp(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        f.voidcmd("MODE Z")
        return f

    def zretr(self, f, name):
        """RETR under MODE Z: (the file's bytes, the bytes on the wire, seconds to the 226)."""
        t0 = time.monotonic()
        conn = f.transfercmd("RETR " + name)
        d = zlib.decompressobj()
        out, wire = [], 0
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            wire += len(chunk)
            out.append(d.decompress(chunk))
        conn.close()
        self.assertTrue(f.voidresp().startswith("226"))
        return b"".join(out) + d.flush(), wire, time.monotonic() - t0

    def test_download(self):
        data = self.srv.make_file("z.bin", self.SIZE, seed=17)
        f = self.zftp()
        got, wire, secs = self.zretr(f, "z.bin")
        self.assertEqual(got, data)
        self.assertRate(secs, wire, RATE, "MODE Z RETR")

    def test_download_counts_wire_bytes(self):
        # compressible text: the file arrives faster than the rate, its wire bytes do not
        text = (b"the rate counts the bytes on the wire, not the file's\n" * 200000)[:8 * MIB]
        self.srv.write("t.txt", text)
        f = self.zftp()
        got, wire, secs = self.zretr(f, "t.txt")
        self.assertEqual(got, text)
        self.assertLess(wire, len(text) // 20)
        self.assertGreaterEqual(secs, lower_bound(wire, RATE))
        self.assertLess(secs, lower_bound(len(text), RATE) / 2)

    def test_upload(self):
        data = random_bytes(self.SIZE, seed=18)
        wire = compress(data, 1)
        f = self.zftp()
        t0 = time.monotonic()
        code, text = zstor(f, "STOR zu.bin", wire)
        secs = time.monotonic() - t0
        self.assertEqual(code, 226, text)
        self.assertEqual(self.srv.read("zu.bin"), data)
        self.assertRate(secs, len(wire), RATE, "MODE Z STOR")


class TestTlsRate(TlsServerMixin, RateCase):
    server_kwargs = {"args": ["--max-rate", "512k"]}
    SIZE = MIB

    def test_download_and_upload(self):
        data = self.srv.make_file("t.bin", self.SIZE, seed=19)
        f = self.ftps()
        got, secs = timed(retr, f, "t.bin")
        self.assertEqual(got, data)
        self.assertRate(secs, self.SIZE, RATE, "TLS RETR")
        up = data_bytes(self.SIZE, seed=20)
        f.voidcmd("TYPE I")
        t0 = time.monotonic()
        conn = f.transfercmd("STOR tu.bin")
        conn.sendall(up)
        conn.unwrap()
        conn.close()
        self.assertTrue(f.voidresp().startswith("226"))
        self.assertRate(time.monotonic() - t0, self.SIZE, RATE, "TLS STOR")
        self.assertEqual(self.srv.read("tu.bin"), up)


class TestStartupErrors(unittest.TestCase):
    def run_ftpd(self, *args, conf=None):
        tmp = tempfile.mkdtemp(prefix="ftpd-e2e-rate-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cmd = [FTPD_BIN, "--listen", "127.0.0.1:0", "--anonymous", tmp, "--progress", "off"]
        if conf is not None:
            path = os.path.join(tmp, "ftpd.conf")
            with open(path, "w") as fh:
                fh.write(conf)
            cmd += ["-c", path]
        if os.geteuid() == 0:
            cmd += ["--user", "nobody"]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)

    def test_bad_flag_values(self):
        for flag, value in (("--max-rate", "fast"), ("--max-rate", "-1"), ("--max-rate", "10T"),
                            ("--anon-max-rate", "0.5"), ("--anon-max-rate", "")):
            r = self.run_ftpd(flag, value)
            self.assertEqual(r.returncode, 2, (flag, value, r.stderr))
            self.assertIn("ftpd: %s: expected bytes per second such as 800k, 10M or 1.5G"
                          % flag, r.stderr)
            self.assertIn("got '%s'" % value, r.stderr)

    def test_bad_config_value(self):
        r = self.run_ftpd(conf="# rates\nmax-rate = 10 M\n")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"ftpd: .*ftpd\.conf:2: max-rate: expected bytes per second")


if __name__ == "__main__":
    unittest.main()
