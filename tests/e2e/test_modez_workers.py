"""MODE Z file downloads deflate on worker threads (ftpd/xfer_zjob.c), the event loop only
sending what they made: the loop thread's CPU stays small during a level-9 download; several
downloads at once at levels 1 and 9 (TYPE A and REST among them) arrive whole; ABOR while a
worker deflates, then a new MODE Z RETR on the same session; a client that vanishes
mid-download, and a server stopped mid-download, with a piece in flight (the server's exit
status and sanitizer output are checked as it stops)."""
import os
import re
import signal
import threading
import unittest
import zlib

from ftpd_harness import SANITIZER_MARKERS, ServerTestCase, reset_close, sha, wait_for
from test_modez import text_bytes, zretr

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(path):
    """utime + stime from a /proc stat file (the fields after the command's parenthesis)."""
    with open(path) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class TestModeZWorkers(ServerTestCase):

    def zsession(self, level, ascii=False):
        f = self.srv.ftp(timeout=60)
        f.voidcmd("TYPE A" if ascii else "TYPE I")
        f.voidcmd("OPTS MODE Z LEVEL %d" % level)
        self.assertTrue(f.voidcmd("MODE Z").startswith("200"))
        return f

    def begin_zretr(self, name, level):
        """A raw session whose MODE Z RETR of name got its 150: (control, data socket)."""
        c = self.srv.control(timeout=20)
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(c.cmd("OPTS MODE Z LEVEL %d" % level)[0], 200)
        self.assertEqual(c.cmd("MODE Z")[0], 200)
        ds = c.epsv()
        ds.settimeout(20)
        code, text = c.cmd("RETR " + name, timeout=20)
        self.assertEqual(code, 150, text)
        return c, ds

    def read_some(self, ds, n):
        d = zlib.decompressobj()
        got = 0
        while got < n:
            chunk = ds.recv(1 << 16)
            self.assertTrue(chunk, "the data connection ended early")
            got += len(d.decompress(chunk))
        return got

    def abor(self, c):
        c.send("ABOR\r\n")
        code, text = c.reply(timeout=10)
        codes = [code]
        if code == 426:
            codes.append(c.reply(timeout=10)[0])
        self.assertEqual(codes, [426, 226], text)

    def test_deflate_runs_off_the_loop(self):
        """During a level-9 download the loop thread (the process's first) only sends: the
        deflate's CPU is a worker's. Before, the loop thread did all of it (some 95% of the
        process's CPU here)."""
        data = text_bytes(24 << 20, seed=41)
        self.srv.write("t9.txt", data)
        f = self.zsession(9)
        pid = self.srv.proc.pid
        main = "/proc/%d/task/%d/stat" % (pid, pid)
        whole = "/proc/%d/stat" % pid
        main0, whole0 = cpu_ticks(main), cpu_ticks(whole)
        got, wire, resp, complete = zretr(f, "RETR t9.txt")
        main1, whole1 = cpu_ticks(main), cpu_ticks(whole)
        self.assertTrue(complete)
        self.assertEqual(sha(got), sha(data))
        self.assertIn("%d bytes" % len(data), resp)
        spent = whole1 - whole0
        self.assertGreater(spent, CLK_TCK // 2, "too little deflate to judge (%d ticks)" % spent)
        self.assertLess((main1 - main0) / spent, 0.3,
                        "the loop thread used %d of the process's %d ticks of CPU"
                        % (main1 - main0, spent))

    def test_many_at_once_levels_1_and_9(self):
        """Downloads at levels 1 and 9 at once (more than there are workers), one in TYPE A
        and one from a REST offset: each arrives whole, its 226 counting its file bytes."""
        text = text_bytes(6 << 20, seed=42)
        lines = b"".join(b"line %d of some text\n" % i for i in range(200000))
        self.srv.write("a.txt", text)
        self.srv.write("lines.txt", lines)
        cases = [("a.txt", 1, False, None, text), ("a.txt", 9, False, None, text),
                 ("a.txt", 1, False, None, text), ("a.txt", 9, False, None, text),
                 ("lines.txt", 6, True, None, lines.replace(b"\n", b"\r\n")),
                 ("a.txt", 9, False, 1000003, text[1000003:])]
        results = [None] * len(cases)

        def fetch(i, name, level, ascii, rest):
            f = self.zsession(level, ascii)
            results[i] = zretr(f, "RETR " + name, rest)
        threads = [threading.Thread(target=fetch, args=(i,) + case[:4])
                   for i, case in enumerate(cases)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for (name, level, ascii, rest, want), result in zip(cases, results):
            what = "%s level %d%s%s" % (name, level, " TYPE A" if ascii else "",
                                       " REST %d" % rest if rest else "")
            self.assertIsNotNone(result, what + ": no result")
            got, wire, resp, complete = result
            self.assertTrue(complete, what)
            self.assertEqual(len(got), len(want), what)
            self.assertEqual(sha(got), sha(want), what)
            self.assertIn("%d bytes, %d on the wire" % (len(want), wire), resp, what)
            self.assertLess(wire, len(want) // 2, what)

    def test_abor_with_a_piece_in_flight_then_retr(self):
        """ABOR while a worker deflates: 426 then 226 at once; the next MODE Z RETR on the
        same session starts a stream of its own and arrives whole."""
        big = text_bytes(64 << 20, seed=43)
        small = text_bytes(3 << 20, seed=44)
        self.srv.write("big.txt", big)
        self.srv.write("small.txt", small)
        c, ds = self.begin_zretr("big.txt", 9)
        self.read_some(ds, 512 << 10)
        code, text = c.cmd("STAT", timeout=10)
        self.assertEqual(code, 211, text)
        self.assertTrue(re.search(r"RETR /big\.txt: \d+ of %d bytes.*MODE Z, \d+ bytes on "
                                  r"the wire" % len(big), text, re.S), text)
        self.abor(c)
        ds.close()
        self.assertLogged(r"RETR /big\.txt aborted by the client \(ABOR\): \d+ bytes \(MODE Z")
        ds = c.epsv()
        code, text = c.cmd("RETR small.txt", timeout=20)
        self.assertEqual(code, 150, text)
        d = zlib.decompressobj()
        out = []
        while True:
            chunk = ds.recv(1 << 16)
            if not chunk:
                break
            out.append(d.decompress(chunk))
        ds.close()
        got = b"".join(out) + d.flush()
        self.assertTrue(d.eof and not d.unused_data, "the stream did not end with its trailer")
        self.assertEqual(sha(got), sha(small))
        code, text = c.reply(timeout=20)
        self.assertEqual(code, 226, text)
        self.assertIn("%d bytes" % len(small), text)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_client_vanishes_mid_download(self):
        """A client reset mid-download (its worker busy on a piece) ends that transfer alone:
        the others go on, and the server frees what the job held (ASan checks at the stop)."""
        big = text_bytes(64 << 20, seed=45)
        other = text_bytes(8 << 20, seed=46)
        self.srv.write("big.txt", big)
        self.srv.write("other.txt", other)
        victims = [self.begin_zretr("big.txt", 9) for _ in range(3)]
        for c, ds in victims:
            self.read_some(ds, 256 << 10)
        result = {}

        def fetch():
            result["r"] = zretr(self.zsession(6), "RETR other.txt")
        t = threading.Thread(target=fetch)
        t.start()
        for c, ds in victims:
            reset_close(ds)
            reset_close(c.sock)
        t.join(120)
        got, wire, resp, complete = result["r"]
        self.assertTrue(complete)
        self.assertEqual(sha(got), sha(other))
        self.assertTrue(wait_for(lambda: len(re.findall(r"RETR /big\.txt failed",
                                                        self.srv.log_text())) == 3, 20),
                        self.srv.log_text()[-3000:])
        f = self.srv.ftp()
        self.assertTrue(f.voidcmd("NOOP").startswith("200"))

    def test_server_stops_mid_download(self):
        """SIGTERM while workers deflate for two downloads whose clients are still there: the
        server ends cleanly (status 0, no sanitizer report), the transfers' lines saying why."""
        big = text_bytes(64 << 20, seed=47)
        self.srv.write("big.txt", big)
        sessions = [self.begin_zretr("big.txt", 9) for _ in range(2)]
        for c, ds in sessions:
            self.read_some(ds, 256 << 10)
        self.srv.proc.send_signal(signal.SIGTERM)  # stop() would close the clients first
        self.assertEqual(self.srv.proc.wait(20), 0)
        self.srv.stop(check=False)
        text = self.srv.log_text()
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, text)
        self.assertEqual(len(re.findall(r"RETR /big\.txt failed: .*the server shut down", text)),
                         2, text[-3000:])

if __name__ == "__main__":
    unittest.main()
