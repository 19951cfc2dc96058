"""Per-address login bans (--login-ban FAILURES/WINDOW/BAN[/MAXBAN]): failed logins from one
address across sessions ban it for a while, with a 530 at USER/PASS that ftplib, curl and lftp
report and stop at; the right password is refused during the ban and accepted after it; other
addresses are not touched; the ban is logged once, without the password; a ban soon after the
last one lasts twice as long, up to MAXBAN."""
import ftplib
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import ftpd_harness
from ftpd_harness import (DEFAULT_PASSWORD, DEFAULT_USER, ServerTestCase, run_as_user,
                          wait_for)

BAN_RE = r"Login refused: this address failed to log in too often; wait [1-9][0-9]* seconds\."
BAD = "not-the-password-7731"
BAN_SECONDS = 3


class TestLoginBan(ServerTestCase):
    # 6 failures within 60 s ban for 3 s; a session is closed after 3 failures as by default.
    server_kwargs = {"args": ["--login-failure-delay", "20", "--max-login-failures", "3",
                              "--login-ban", "6/60s/%ds" % BAN_SECONDS]}

    def ban(self, source=None):
        """Two sessions of three failures: the second one's last failure starts the ban."""
        c = self.srv.control(source=source)
        for _ in range(3):
            self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
            self.assertEqual(c.cmd("PASS " + BAD)[0], 530)
        code, text = c.reply(timeout=5)
        self.assertEqual(code, 421, text)
        self.assertIn("Too many login failures", text)  # the per-session limit
        self.assertTrue(c.closed(5))
        c = self.srv.control(source=source)
        for _ in range(2):
            self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
            self.assertEqual(c.cmd("PASS " + BAD)[0], 530)
        self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
        started = time.monotonic()
        self.assertEqual(c.cmd("PASS " + BAD)[0], 530)
        code, text = c.reply(timeout=5)
        self.assertEqual(code, 421, text)
        self.assertRegex(text, "^421 " + BAN_RE + "$")
        self.assertTrue(c.closed(5))
        return started

    def refused(self, source=None):
        """True when a new session from source is refused at USER (and closed)."""
        c = self.srv.control(source=source)
        code, text = c.cmd("USER " + DEFAULT_USER, timeout=5)
        if code == 530:
            self.assertRegex(text, "^530 " + BAN_RE + "$")
            self.assertTrue(c.closed(5))
            return True
        self.assertEqual(code, 331, text)
        c.close()
        return False

    def test_ban_across_sessions_then_lifted(self):
        other = self.srv.control(source="127.0.0.2")  # an address with few failures
        self.assertEqual(other.cmd("USER " + DEFAULT_USER)[0], 331)
        self.assertEqual(other.cmd("PASS " + BAD)[0], 530)
        waiting = self.srv.control()  # connected before the ban, not yet logged in
        self.assertEqual(waiting.cmd("USER " + DEFAULT_USER)[0], 331)
        started = self.ban()
        # The right password is refused while banned: in a new session, at USER...
        self.assertTrue(self.refused())
        # ...and at PASS in a session that had sent USER before the ban began.
        code, text = waiting.cmd("PASS " + DEFAULT_PASSWORD)
        self.assertEqual(code, 530, text)
        self.assertRegex(text, BAN_RE)
        self.assertTrue(waiting.closed(5))
        # The other address logs in, and its failure did not count toward the ban.
        self.assertEqual(other.cmd("USER " + DEFAULT_USER)[0], 331)
        self.assertEqual(other.cmd("PASS " + DEFAULT_PASSWORD)[0], 230)
        fresh = self.srv.control(source="127.0.0.2")
        fresh.login()
        # After the ban the right password is accepted, not before it ends.
        self.assertTrue(wait_for(lambda: not self.refused(), timeout=BAN_SECONDS + 15,
                                 interval=0.2), "the ban never ended")
        self.assertGreaterEqual(time.monotonic() - started, BAN_SECONDS - 0.5)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("PWD")[0], 257)
        log = self.srv.log_text()
        bans = [ln for ln in log.splitlines() if "login ban:" in ln]
        self.assertEqual(len(bans), 1, log[-3000:])
        self.assertIn("127.0.0.1", bans[0])
        self.assertIn("6 failed logins", bans[0])
        self.assertNotIn(BAD, log)

    def test_clients_show_the_refusal_and_stop(self):
        self.ban()
        with self.assertRaises(ftplib.error_perm) as cm:
            self.srv.ftp()
        self.assertRegex(str(cm.exception), BAN_RE)
        t0 = time.monotonic()
        r = subprocess.run(["curl", "-v", "--max-time", "30", self.srv.url("")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 67, r.stderr)  # "Access denied: 530"
        self.assertRegex(r.stderr, "< 530 " + BAN_RE)
        self.assertLess(time.monotonic() - t0, 15, "curl kept trying")

    @unittest.skipIf(shutil.which("lftp") is None, "lftp is not installed")
    def test_lftp_reports_and_stops(self):
        self.ban()
        home = tempfile.mkdtemp(prefix="ftpd-e2e-loginban-")
        self.addCleanup(shutil.rmtree, home, True)
        env = dict(os.environ, HOME=home, LC_ALL="C.UTF-8")
        env.pop("LFTP_HOME", None)
        def refusals(sessions):
            return len(re.findall("refused login: the address is banned",
                                  self.srv.settled_log_text(sessions=sessions)))
        before = refusals(2)
        t0 = time.monotonic()
        # lftp's defaults but TLS (its ftp:retry-530 and retry settings are what matter here).
        r = subprocess.run(["lftp", "-u", "%s,%s" % (DEFAULT_USER, DEFAULT_PASSWORD),
                            "-p", str(self.srv.port), "-e",
                            "set ftp:ssl-allow no; set cmd:fail-exit yes; ls; bye", self.srv.host],
                           capture_output=True, text=True, timeout=60, env=env,
                           stdin=subprocess.DEVNULL, cwd=home)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, "Login failed: 530 " + BAN_RE)
        self.assertLess(time.monotonic() - t0, 15, "lftp kept trying")
        self.assertEqual(refusals(3) - before, 1, "lftp came back: " + self.srv.log_text()[-3000:])

    def test_off(self):
        # the config file's key this time
        srv = self.start_server(args=["--login-failure-delay", "0", "--max-login-failures", "1000"],
                                config={"login-ban": "off"})
        c = srv.control()
        for _ in range(30):
            self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
            self.assertEqual(c.cmd("PASS " + BAD)[0], 530)
        c.login()
        self.assertEqual(srv.control().cmd("USER " + DEFAULT_USER)[0], 331)


SLOW_USER, SLOW_PASSWORD = "slow", "slow-pw-5521"


def slow_hash():
    """SHA-512-crypt with a million rounds (about 0.35 s a check here), put in the harness's
    hash cache for SLOW_PASSWORD, so that checks stay on the workers long enough to overlap."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:  # Python 3.13
            return False
    h = crypt.crypt(SLOW_PASSWORD, "$6$rounds=1000000$ftpdban0$")
    if not h or not h.startswith("$6$rounds=1000000$"):
        return False
    ftpd_harness._hash_cache[(SLOW_PASSWORD, "6")] = h
    return True


class TestLoginBanInFlight(ServerTestCase):
    # 4 failures ban; every check on the workers (none inline).
    server_kwargs = {"args": ["--login-failure-delay", "20", "--inline-hash-max", "0",
                              "--login-ban", "4/60s/60s"],
                     "users": [(DEFAULT_USER, DEFAULT_PASSWORD, "elr"),
                               (SLOW_USER, SLOW_PASSWORD, "elr")]}

    def setUp(self):
        if not slow_hash():
            self.skipTest("Python's crypt module is needed for a slow SHA-512-crypt hash")
        super().setUp()

    def test_checks_under_way_when_the_ban_starts_do_not_log_in(self):
        # The ban was checked before a check was queued only: the checks already on the
        # workers ran on, and a right password among them logged in after the ban began,
        # so a client with many sessions had as many guesses as sessions. Eleven wrong
        # passwords go first, then the right one while the first checks still run (a check
        # costs about 0.35 s, the ban comes with the fourth failure).
        sessions = [self.srv.control() for _ in range(12)]
        for c in sessions:
            self.assertEqual(c.cmd("USER " + SLOW_USER)[0], 331)
        for c in sessions[:-1]:
            c.send("PASS " + BAD + "\r\n")
        time.sleep(0.2)
        sessions[-1].send("PASS " + SLOW_PASSWORD + "\r\n")
        replies = [c.reply(timeout=30) for c in sessions]
        self.assertEqual({code for code, _ in replies}, {530}, replies)
        # the right password got the ban's reply, as every check that ended after it began
        self.assertRegex(replies[-1][1], "^530 " + BAN_RE + "$")
        self.assertNotIn("logged in", self.srv.settled_log_text(sessions=12))


class TestRepeatedBanDoubles(ServerTestCase):
    # 6 failures within 60 s ban for 1 s, then 2 s, then 4 s, and no longer.
    server_kwargs = {"args": ["--login-failure-delay", "20", "--max-login-failures", "3",
                              "--login-ban", "6/60s/1s/4s"]}

    ban = TestLoginBan.ban
    refused = TestLoginBan.refused

    def wait_lifted(self):
        self.assertTrue(wait_for(lambda: not self.refused(), timeout=30, interval=0.1),
                        "the ban never ended")

    def test_repeated_ban_doubles_up_to_max(self):
        lengths = []
        for _ in range(4):
            started = self.ban()
            c = self.srv.control()
            code, text = c.cmd("USER " + DEFAULT_USER, timeout=5)
            self.assertEqual(code, 530, text)
            lengths.append(int(re.search(r"wait (\d+) seconds", text).group(1)))
            self.wait_lifted()
            self.assertGreaterEqual(time.monotonic() - started, lengths[-1] - 1.5)
        self.assertEqual(lengths, [1, 2, 4, 4])
        log = self.srv.settled_log_text()
        bans = [ln for ln in log.splitlines() if "login ban:" in ln]
        self.assertEqual(len(bans), 4, log[-3000:])
        self.assertRegex(bans[0], r"refused for 1s$")
        for ln, n in zip(bans[1:], (2, 4, 4)):
            self.assertRegex(ln, r"refused for %ds \(a repeated ban\)$" % n)


class TestLoginBanOption(unittest.TestCase):
    def test_bad_values_are_refused(self):
        ftpd = os.environ.get("FTPD_BIN", "ftpd")
        for bad in ("10", "10/60", "0/60/60", "10/0/60", "10/60/0", "x/60/60", "10/60/60/1",
                    "10/60q/60", "10/8d/60"):
            r = subprocess.run([ftpd, "--check", "--login-ban", bad], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("login-ban: expected FAILURES/WINDOW/BAN", r.stderr, bad)

    def test_check_shows_the_policy(self):
        ftpd = os.environ.get("FTPD_BIN", "ftpd")
        doubling = ", doubling when repeated up to "
        for value, line in (("5/2m/90", "after 5 failed logins from an address in 2m, for 90s"
                             + doubling + "1h"),
                            ("5/2m/90/90", "after 5 failed logins from an address in 2m, for 90s"),
                            ("5/2m/2h", "after 5 failed logins from an address in 2m, for 2h"),
                            ("5/2m/1m/1d", "after 5 failed logins from an address in 2m, for 1m"
                             + doubling + "1d"),
                            (None, "after 10 failed logins from an address in 1m, for 1m"
                             + doubling + "1h"),
                            ("off", "off")):
            args = [ftpd, "--check"] + (["--login-ban", value] if value else [])
            if run_as_user():
                args += ["--user", run_as_user()]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            self.assertIn("  login bans    " + line + "\n", r.stdout, r.stderr)


if __name__ == "__main__":
    unittest.main()
