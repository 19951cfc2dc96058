"""ftpc against a limit on sessions per address: a connection a command cannot do without,
turned away at the greeting or at login for "too many" sessions, is tried again a few times
with a short growing wait (0.25, 0.5, 1, 2 s), since the session counted against it may be
one ftpc has just closed (a mirror's phase before) or one that ends in a moment. Other
refusals (a wrong password, a 421 of a server shutting down) are final at once.

ftpd --max-per-ip 1 with a session the test holds open; a scripted server for refusals ftpd
does not send (pure-ftpd's per-user limit at PASS, a shutdown's 421). Every wait is bounded.
"""
import os
import re
import socket
import threading
import time

from ftpd_harness import wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FtpcCase

# the retries' waits in all (ftpc/connlimit.c), and what the tests allow on top of them
RETRY_WAITS_S = 0.25 + 0.5 + 1 + 2
SLACK_S = 4


class TestSessionLimitPerAddress(FtpcCase):
    server_kwargs = {"args": ["--max-per-ip", "1"]}

    def hold_session_until_ftpc_is_refused(self, *args):
        """Runs ftpc with args while another session holds the only place, and closes that
        session once the server has turned ftpc away; returns ftpc's (exit status, stderr)."""
        other = self.srv.ftp()
        p = self.popen(*args)
        refused = wait_for(lambda: "refused: Too many" in self.srv.log_text(), 10)
        other.quit()
        _, err = p.communicate(timeout=30)
        self.assertTrue(refused, err)
        return p.returncode, err.decode("utf-8", "replace")

    def test_get_gets_in_once_the_other_session_ends(self):
        data = self.srv.make_file("f.bin", 300000, seed=3)
        rc, err = self.hold_session_until_ftpc_is_refused("-v", "get", self.srv.url("f.bin"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.read_local("f.bin"), data)
        self.assertRegex(err, r"turned the connection away: the server replied 421 Too many "
                              r"connections from your address\.; connecting again in 0\.25 s "
                              r"\(attempt 2 of 5\)")

    def test_ls_gets_in_once_the_other_session_ends(self):
        self.srv.make_file("listed.txt", 10)
        rc, err = self.hold_session_until_ftpc_is_refused("ls", self.srv.url(""))
        self.assertEqual(rc, 0, err)
        # said only with -v
        self.assertNotIn("connecting again", err)

    def test_a_session_held_throughout_ends_the_run_in_bounded_time(self):
        self.srv.make_file("f.bin", 100)
        other = self.srv.ftp()
        t0 = time.monotonic()
        r = self.ftpc("get", self.srv.url("f.bin"), rc=3, timeout=30)
        took = time.monotonic() - t0
        other.quit()
        err = r.stderr.decode()
        self.assertIn("the server replied 421 Too many connections from your address. "
                      "(5 attempts)", err)
        self.assertGreaterEqual(took, RETRY_WAITS_S - 0.1, err)
        self.assertLess(took, RETRY_WAITS_S + SLACK_S, err)
        log = self.srv.settled_log_text()
        self.assertEqual(len(re.findall(r"refused: Too many connections", log)), 5, log)
        self.assertFalse(os.path.exists(self.local("f.bin")))

    def test_a_wrong_password_is_not_tried_again(self):
        self.srv.make_file("f.bin", 100)
        t0 = time.monotonic()
        r = self.ftpc("-v", "get", self.srv.url("f.bin", pw="wrong"), rc=4, timeout=30)
        took = time.monotonic() - t0
        err = r.stderr.decode()
        self.assertIn("530", err)
        self.assertNotIn("connecting again", err)
        self.assertLess(took, 5, err)
        log = self.srv.settled_log_text()
        self.assertEqual(log.count(": connected"), 1, log)


class LimitAtPassFtp(ScriptedFtp):
    """pure-ftpd's limit per user: the first `refusals` sessions are turned away at PASS."""

    def __init__(self, refusals, sessions):
        super().__init__(sessions)
        self.refusals, self.passes = refusals, 0
        self.lock = threading.Lock()

    def command(self, s, verb, arg):
        if verb == "PASS":
            with self.lock:
                self.passes += 1
                refuse = self.passes <= self.refusals
            if refuse:
                s.send("421 I can't accept more than 1 connections as the same user")
                return False
            s.send("230 in")
        elif verb in ("LIST", "NLST"):
            s.send("150 here")
            d = s.accept_data()
            d.sendall(b"a.txt\r\n")
            d.close()
            s.send("226 done")
        else:
            return super().command(s, verb, arg)
        return True


def refusing_server(greeting, sessions):
    """A server that answers each of up to `sessions` connections with greeting and closes
    it; returns (port, the list of connections counted, the thread)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.settimeout(15)
    seen = []

    def run():
        try:
            for _ in range(sessions):
                conn, _ = lsock.accept()
                seen.append(conn)
                conn.sendall(greeting.encode() + b"\r\n")
                conn.close()
        except OSError:
            pass
        finally:
            lsock.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lsock.getsockname()[1], seen, lsock, t


class TestOtherRefusals(FtpcCase):
    def test_limit_at_pass_is_tried_again(self):
        srv = LimitAtPassFtp(refusals=2, sessions=4)
        srv.start()
        self.addCleanup(srv.stop)
        r = self.ftpc("-v", "ls", "ftp://u:p@127.0.0.1:%d/" % srv.port, timeout=30)
        self.assertIn(b"a.txt", r.stdout)
        self.assertEqual(srv.passes, 3, r.stderr.decode())
        self.assertIn(b"connecting again in 0.50 s (attempt 3 of 5)", r.stderr)

    def test_a_shutdown_421_is_not_tried_again(self):
        port, seen, lsock, t = refusing_server("421 Server is shutting down.", 3)
        t0 = time.monotonic()
        r = self.ftpc("ls", "ftp://u:p@127.0.0.1:%d/" % port, rc=3, timeout=30)
        took = time.monotonic() - t0
        try:
            lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        t.join(10)
        self.assertIn(b"421 Server is shutting down.", r.stderr)
        self.assertEqual(len(seen), 1, r.stderr.decode())
        self.assertLess(took, 5)


class TestMirrorPhases(FtpcCase):
    """One session per address: each phase of a mirror (the listings of each level, then the
    downloads; both ways) ends its sessions before the next one connects, so the server
    never has to turn one away."""
    server_kwargs = {"args": ["--max-per-ip", "1"]}

    def test_mirror_both_ways_with_one_session_per_address(self):
        for d in ("d1", "d2"):
            for i in range(2):
                self.srv.make_file("src/%s/f%d.bin" % (d, i), 5000 + i, seed=i)
            self.srv.make_file("src/%s/sub/g.bin" % d, 1000, seed=9)
        # a few rounds: a phase's connection opened before the last one's close came is
        # turned away only now and then
        for n in range(4):
            r = self.ftpc("-v", "mirror", self.srv.url("src"), "out%d" % n, timeout=60)
            self.assertIn(b"6 files transferred", r.stdout)
            self.assertNotIn(b"connecting again", r.stderr)
            r = self.ftpc("-v", "mirror", "-R", "out%d" % n, self.srv.url("back%d" % n),
                          timeout=60)
            self.assertIn(b"6 files transferred", r.stdout)
            self.assertNotIn(b"connecting again", r.stderr)
            for d in ("d1", "d2"):
                self.assertEqual(self.srv.read("back%d/%s/sub/g.bin" % (n, d)),
                                 self.srv.read("src/%s/sub/g.bin" % d))
        self.assertNotIn("refused: Too many", self.srv.settled_log_text())
