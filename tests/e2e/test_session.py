"""Session level: greeting, login, anonymous, commands before login, FEAT/SYST/OPTS/HELP,
TYPE/MODE/STRU, line parsing, limits (line length, sessions, per-address), idle timeout,
failed-login delay and disconnect, password never logged, xferlog."""
import datetime
import ftplib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from ftpd_harness import (DEFAULT_PASSWORD, DEFAULT_USER, Control, FtpdServer, ServerTestCase,
                          hash_password, pasv_port, recv_all, reply, retr, stor, wait_for)

FAST_FAIL = ["--login-failure-delay", "50"]


class TestLogin(ServerTestCase):
    server_kwargs = {"args": FAST_FAIL}

    def test_greeting_is_220(self):
        c = self.srv.control(greet=False)
        code, text = c.reply()
        self.assertEqual(code, 220, text)

    def test_login_ok(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
        self.assertCode(c.cmd("PASS " + DEFAULT_PASSWORD), 230)
        self.assertCode(c.cmd("PWD"), 257)
        self.assertCode(c.cmd("QUIT"), 221)
        self.assertTrue(c.closed())

    def test_wrong_password_530(self):
        c = self.srv.control()
        c.cmd("USER " + DEFAULT_USER)
        self.assertCode(c.cmd("PASS nope"), 530)
        # still usable: the right password now works
        c.cmd("USER " + DEFAULT_USER)
        self.assertCode(c.cmd("PASS " + DEFAULT_PASSWORD), 230)

    def test_unknown_user_530(self):
        c = self.srv.control()
        code, text = c.cmd("USER nosuchuser")
        if code == 331:
            code, text = c.cmd("PASS whatever")
        self.assertEqual(code, 530, text)

    def test_pass_without_user_503(self):
        c = self.srv.control()
        code, text = c.cmd("PASS " + DEFAULT_PASSWORD)
        self.assertIn(code, (503, 530), text)
        self.assertCode(c.cmd("PWD"), 530)

    def test_commands_before_login_530(self):
        c = self.srv.control()
        for cmd in ("PWD", "CWD /", "LIST", "NLST", "RETR x", "STOR x", "MKD d", "DELE x",
                    "PASV", "EPSV", "PORT 127,0,0,1,200,1", "SIZE x", "MDTM x", "TYPE I",
                    "MLSD", "STAT /", "RNFR x", "CDUP", "REST 0"):
            self.assertCode(c.cmd(cmd), 530, cmd)
        self.assertFalse(self.srv.exists("d"))

    def test_allowed_before_login(self):
        c = self.srv.control()
        self.assertCode(c.cmd("NOOP"), 200)
        self.assertCode(c.cmd("SYST"), 215)
        self.assertCode(c.cmd("FEAT"), 211)
        self.assertCode(c.cmd("HELP"), 214)
        self.assertCode(c.cmd("OPTS UTF8 ON"), 200)
        self.assertCode(c.cmd("OPTS UTF8"), 200)
        self.assertCode(c.cmd("OPTS UTF8 OFF"), 504)
        self.assertCode(c.cmd("OPTS UTF8 FOO"), 501)
        self.assertCode(c.cmd("OPTS UTF8X"), 501)
        self.assertNotEqual(c.cmd("AUTH TLS")[0], 530)
        self.assertCode(c.cmd("QUIT"), 221)

    def test_max_login_failures_then_421(self):
        c = self.srv.control()
        for _ in range(2):
            c.cmd("USER " + DEFAULT_USER)
            self.assertCode(c.cmd("PASS bad"), 530)
        c.cmd("USER " + DEFAULT_USER)
        code, text = c.cmd("PASS bad")
        # the third failure: 530 then 421 (or 421 at once), then the connection closes
        if code == 530:
            code, text = c.reply(timeout=5)
        self.assertEqual(code, 421, text)
        self.assertTrue(c.closed(5), "session not closed after max login failures")

    def test_max_login_failures_option(self):
        srv = self.start_server(args=FAST_FAIL + ["--max-login-failures", "1"])
        c = srv.control()
        c.cmd("USER " + DEFAULT_USER)
        code, text = c.cmd("PASS bad")
        if code == 530:
            code, text = c.reply(timeout=5)
        self.assertEqual(code, 421, text)
        self.assertTrue(c.closed(5))

    def test_anonymous_login(self):
        self.srv.write("hello.txt", b"anon data\n", base=self.srv.anon_root)
        for name in ("anonymous", "ftp", "ANONYMOUS", "Ftp"):  # any case, as vsftpd takes it
            f = self.srv.ftp(name, "guest@example.org")
            self.assertEqual(f.pwd(), "/")
            self.assertEqual(retr(f, "hello.txt"), b"anon data\n")
            f.quit()

    def test_anonymous_is_read_only(self):
        self.srv.write("keep.txt", b"keep", base=self.srv.anon_root)
        self.srv.mkdir("dir", base=self.srv.anon_root)
        before = sorted(os.listdir(self.srv.anon_root))
        f = self.srv.ftp("anonymous", "x@y")
        f.voidcmd("TYPE I")
        for cmd in ("STOR new.txt", "APPE keep.txt", "STOU"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, cmd), 550, cmd)
        self.assertCode(reply(f, "MKD newdir"), 550)
        self.assertCode(reply(f, "RMD dir"), 550)
        self.assertCode(reply(f, "DELE keep.txt"), 550)
        code, text = reply(f, "RNFR keep.txt")
        if code == 350:
            code, text = reply(f, "RNTO moved.txt")
        self.assertEqual(code, 550, text)
        f.quit()
        self.assertEqual(sorted(os.listdir(self.srv.anon_root)), before)
        self.assertEqual(self.srv.read("keep.txt", base=self.srv.anon_root), b"keep")

    def test_refusals_for_want_of_a_permission_are_logged(self):
        # the operator of an account that "cannot upload" must find why in the log, as for a
        # refusal by the file system ("STOR /x refused: Permission denied")
        srv = self.start_server(users=[("bob", "bob-Pw-1", "elrw")], args=FAST_FAIL)
        srv.write("keep.txt", b"keep")
        anon = srv.ftp("anonymous", "x@y")
        self.assertCode(reply(anon, "CWD /"), 250)
        self.assertCode(reply(anon, "STOR up load.txt"), 550)
        anon.quit()
        f = srv.ftp("bob", "bob-Pw-1")
        self.assertCode(reply(f, "MKD sub"), 550)
        self.assertCode(reply(f, "CWD /"), 250)
        self.assertCode(reply(f, "MFMT 20200101000000 keep.txt"), 550)
        self.assertCode(reply(f, "SITE CHMOD 600 keep.txt"), 550)
        self.assertCode(reply(f, "SIZE keep.txt"), 213)
        self.assertEqual(reply(f, "REST 2")[0], 350)
        self.assertCode(reply(f, "STOR keep.txt"), 550)
        f.quit()
        for line in (r"anonymous: STOR /up load\.txt refused: the account's permissions "
                     r"\(elr\) lack w$",
                     r"bob: MKD /sub refused: the account's permissions \(elrw\) lack m$",
                     r"bob: MFMT /keep\.txt refused: .* lack T$",
                     r"bob: SITE CHMOD /keep\.txt refused: .* lack M$",
                     r"bob: STOR /keep\.txt refused: .* lack a$"):
            self.assertTrue(srv.wait_log(line), line + "\n" + srv.log_text())
        self.assertNotIn("SIZE /keep.txt refused", srv.log_text())
        self.assertEqual(srv.read("keep.txt"), b"keep")

    def test_no_anonymous(self):
        # refused at USER, as vsftpd and ProFTPD do: no password asked, no failure counted
        srv = self.start_server(anonymous=False, args=FAST_FAIL + ["--max-login-failures", "1"])
        c = srv.control()
        for name in ("anonymous", "ftp", "anonymous"):
            code, text = c.cmd("USER " + name)
            self.assertEqual(code, 530, text)
            self.assertIn("Anonymous logins are not allowed", text)
        c.login()  # still open: nothing counted against the session
        self.assertTrue(srv.wait_log(r"refused USER anonymous: anonymous logins are off"),
                        srv.log_text())

    def test_failed_login_delay_does_not_block_others(self):
        srv = self.start_server(args=["--login-failure-delay", "1500"])
        bad = srv.control()
        bad.cmd("USER " + DEFAULT_USER)
        t0 = time.monotonic()
        bad.send("PASS wrong\r\n")
        # meanwhile another session logs in and works at once
        f = srv.ftp()
        self.assertEqual(reply(f, "NOOP")[0], 200)
        self.assertLess(time.monotonic() - t0, 1.2, "a delayed 530 blocked other sessions")
        code, text = bad.reply(timeout=10)
        self.assertEqual(code, 530, text)
        self.assertGreaterEqual(time.monotonic() - t0, 1.3, "530 was not delayed")

    def test_client_gone_before_delayed_530(self):
        # The delayed 530 finds the connection reset: the session closes then, and its timer
        # must not be armed again for the session that is about to be freed.
        srv = self.start_server(args=["--login-failure-delay", "200"])
        for _ in range(3):
            c = srv.control()
            self.assertEqual(c.cmd("USER " + DEFAULT_USER)[0], 331)
            c.send("PASS wrong\r\n")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.sock.close()  # RST, before the 530 is due
        time.sleep(0.6)
        for _ in range(3):  # the timers of other sessions still run
            f = srv.ftp()
            self.assertEqual(reply(f, "NOOP")[0], 200)
            f.quit()
        self.assertIsNone(srv.proc.poll(), "ftpd died")

    def test_default_failure_delay(self):
        srv = self.start_server()  # default --login-failure-delay (1000 ms)
        c = srv.control()
        c.cmd("USER " + DEFAULT_USER)
        t0 = time.monotonic()
        code, text = c.cmd("PASS wrong", timeout=10)
        self.assertEqual(code, 530, text)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_password_never_logged(self):
        secret = "Zq9-very-SECRET-pw"
        srv = self.start_server(users=[("bob", secret, "elr")], args=FAST_FAIL)
        f = srv.ftp("bob", secret)
        f.quit()
        c = srv.control()
        c.cmd("USER bob")
        c.cmd("PASS Wrong-SECRET-attempt")
        c.close()
        # mistyped PASS lines are unknown commands, and are not echoed either
        c = srv.control()
        c.cmd("USER bob")
        self.assertEqual(c.cmd("PASS\tTab-SECRET-typo")[0], 500)
        c.send(b"P\xffASS Iac-SECRET-typo\r\n")
        c.reply(timeout=5)
        c.close()
        f = srv.ftp("anonymous", "anon-SECRET-mail@x")
        f.quit()
        time.sleep(0.3)
        text = srv.log_text()
        self.assertIn("bob", text, "the log should name the user")
        for s in (secret, "Wrong-SECRET-attempt", "anon-SECRET-mail", "TAB-SECRET-TYPO",
                  "Tab-SECRET-typo", "Iac-SECRET-typo", "IAC-SECRET-TYPO"):
            self.assertNotIn(s, text)


    def test_login_timeout_counts_from_connect(self):
        # a client that never logs in cannot keep its slot by sending NOOP or USER now and
        # then: the login timeout runs from the connection, not from its last line
        srv = self.start_server(args=FAST_FAIL + ["--login-timeout", "2"])
        c = srv.control()
        t0 = time.monotonic()
        code = None
        while time.monotonic() - t0 < 8:
            try:
                code, _ = c.cmd("NOOP" if int(time.monotonic() * 4) % 2 else "USER bob",
                                timeout=5)
            except (EOFError, OSError):
                break
            if code == 421:
                break
            time.sleep(0.25)
        self.assertEqual(code, 421)
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assertTrue(c.closed(5))

    def test_account_named_ftp_is_shadowed_by_anonymous_access(self):
        users = [("alice", "secret", "elr"), ("ftp", "ftppass", "elr")]
        srv = self.start_server(users=users, args=FAST_FAIL)
        self.assertTrue(srv.wait_log(r"account 'ftp' in .* cannot log in while anonymous"),
                        srv.log_text())
        self.assertNotIn("account 'alice'", srv.log_text())
        # without anonymous access the name is an account like any other
        srv = self.start_server(users=users, anonymous=False, args=FAST_FAIL)
        f = srv.ftp("ftp", "ftppass")
        f.quit()
        self.assertNotIn("cannot log in", srv.log_text())


class TestOutOfDescriptors(ServerTestCase):
    """Each logged-in session holds its home open: a server at its descriptor limit cannot
    log one more in, and says so as a passing shortage (421), not as a wrong login (530)."""

    FD_LIMIT = 64

    def setUp(self):
        self.srv = FtpdServer(users=[])
        plain = self.srv.command_line
        # the limit set by Python itself, which then becomes the server (no prlimit needed)
        limit = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
                 "os.execv(sys.argv[1], sys.argv[1:])" % ((self.FD_LIMIT,) * 2))
        self.srv.command_line = lambda: [sys.executable, "-c", limit] + plain()
        self.srv.start()
        self.addCleanup(self.srv.stop)

    def free_fds(self):
        return self.FD_LIMIT - len(os.listdir("/proc/%d/fd" % self.srv.proc.pid))

    def logged_in_until_out_of_fds(self):
        """Anonymous sessions until ftpd has room for one more accept and no session (2)."""
        sessions = []
        while self.free_fds() >= 3:
            c = self.srv.control()
            c.login("anonymous", "guest@example.org")
            sessions.append(c)
        return sessions

    def test_a_login_past_the_limit_gets_421_and_the_next_one_after_a_close_succeeds(self):
        # said at the start, where it can be mended
        self.assertLogged(r"WARN max-sessions 2000 needs about 4032 open files .* this process "
                          r"may open 64: logins past about 16 sessions will be refused")
        sessions = self.logged_in_until_out_of_fds()
        self.assertGreater(len(sessions), 5)
        if self.free_fds() == 2:  # a passive listener takes one, so the login finds none
            sessions[0].pasv()
        c = self.srv.control()
        c.cmd("USER anonymous")
        code, text = c.cmd("PASS guest@example.org")
        self.assertEqual(code, 421, text)
        self.assertIn("try again later", text)
        self.assertTrue(c.closed(5))
        self.assertLogged(r"cannot open home .*: Too many open files")
        self.assertCode(sessions[-1].cmd("NOOP"), 200)
        sessions.pop().close()
        wait_for(lambda: self.free_fds() >= 2, 5)
        c = self.srv.control()
        c.login("anonymous", "guest@example.org")
        self.assertCode(c.cmd("PWD"), 257)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.srv.proc.pid) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_a_data_connection_past_the_limit_waits_without_spinning(self):
        # A passive data connection the server cannot accept (no descriptor left) stays
        # queued and its listener readable: the server waits for a descriptor without burning
        # a CPU meanwhile, then takes the connection and the transfer runs.
        data = self.srv.make_file("f.bin", 5000, base=self.srv.anon_root)
        sessions = self.logged_in_until_out_of_fds()
        self.assertGreater(len(sessions), 5)
        mine = sessions.pop()
        self.assertCode(mine.cmd("TYPE I"), 200)
        code, text = mine.cmd("PASV")
        self.assertEqual(code, 227, text)
        for c in sessions:  # passive listeners take the last descriptors
            if self.free_fds() == 0:
                break
            self.assertCode(c.cmd("PASV"), (227, 425))
        self.assertEqual(self.free_fds(), 0)
        ds = socket.create_connection(("127.0.0.1", pasv_port(text)), timeout=10)
        self.assertLogged(r"cannot accept the data connection: Too many open files")
        before = self.cpu_seconds()
        time.sleep(2)
        # spinning on the readable listener took most of a core (1.5 s of these 2 s under
        # ASan); waiting takes next to nothing
        self.assertLess(self.cpu_seconds() - before, 1.0)  # spinning: about 2.0
        sessions.pop().close()  # a descriptor for the connection, one for the file
        self.assertTrue(wait_for(lambda: self.free_fds() >= 1, 10))
        code, text = mine.cmd("RETR f.bin", timeout=20)
        self.assertEqual(code, 150, text)
        self.assertEqual(recv_all(ds), data)
        ds.close()
        self.assertCode(mine.reply(timeout=20), 226)

    def test_a_data_connection_the_file_left_no_descriptor_for_is_a_prompt_425(self):
        # RETR opens its file with the last descriptor, then the client connects to the
        # passive port: nothing can free a descriptor for that connection but another
        # session's end, and the client must not wait the whole data timeout (120 s) for a
        # 425. Before a transfer command the connection still waits for one (above).
        self.srv.make_file("f.bin", 100, base=self.srv.anon_root)
        sessions = self.logged_in_until_out_of_fds()
        mine = sessions.pop()
        self.assertCode(mine.cmd("TYPE I"), 200)
        code, text = mine.cmd("PASV")
        self.assertEqual(code, 227, text)
        if self.free_fds() == 0:  # a session's two descriptors back, for one listener
            sessions.pop().close()
            self.assertTrue(wait_for(lambda: self.free_fds() == 2, 5))
        for c in sessions:  # passive listeners take all but one descriptor
            if self.free_fds() <= 1:
                break
            self.assertCode(c.cmd("PASV"), 227)
        self.assertEqual(self.free_fds(), 1)
        t0 = time.monotonic()
        mine.send("RETR f.bin\r\n")
        try:  # the refusal closes the listener, maybe as the connection comes
            self.addCleanup(socket.create_connection(("127.0.0.1", pasv_port(text)),
                                                     timeout=10).close)
        except ConnectionResetError:
            pass
        code, text = mine.reply(timeout=20)
        if code == 150:
            code, text = mine.reply(timeout=20)
        self.assertEqual(code, 425, text)
        self.assertIn("try again later", text)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertLogged(r"cannot accept the data connection for RETR: Too many open files")
        # the file's descriptor is back, and the session goes on
        self.assertTrue(wait_for(lambda: self.free_fds() >= 1, 5))
        self.assertCode(mine.cmd("NOOP"), 200)
        sessions.pop().close()
        self.assertTrue(wait_for(lambda: self.free_fds() >= 3, 10))
        ds = mine.pasv()
        self.assertCode(mine.cmd("RETR f.bin", timeout=20), 150)
        self.assertEqual(len(recv_all(ds)), 100)
        ds.close()
        self.assertCode(mine.reply(timeout=20), 226)

    def test_accepts_out_of_descriptors_are_not_logged_ten_times_a_second(self):
        # the server retries a refused accept every 100 ms; a shortage that lasts must not
        # bury the log under the same line, ten a second
        sessions = self.logged_in_until_out_of_fds()
        for c in sessions:
            if self.free_fds() == 0:
                break
            self.assertCode(c.cmd("PASV"), (227, 425))
        self.assertEqual(self.free_fds(), 0)
        waiting = Control(self.srv.host, self.srv.port)  # queued: no descriptor to take it
        self.addCleanup(waiting.close)
        self.assertLogged(r"WARN cannot accept: Too many open files")
        time.sleep(1.5)  # some 15 retries
        lines = [ln for ln in self.srv.logs() if "cannot accept:" in ln]
        self.assertEqual(len(lines), 1, "\n".join(lines))
        sessions.pop().close()  # the queued connection is taken at the next retry
        self.assertEqual(waiting.reply(timeout=20)[0], 220)
        # the retries not logged one by one are counted when the shortage ends, not with the
        # first line of the next one
        self.assertLogged(r"WARN accepting again, after [1-9][0-9]* more failed retries since")

    def test_a_file_past_the_limit_is_a_passing_451_not_a_missing_550(self):
        # a 550 tells the client the file is not to be had (curl reports it missing, mirror
        # tools give up on it); the shortage is the server's, and a retry may work
        self.srv.make_file("f.bin", 100, base=self.srv.anon_root)
        sessions = self.logged_in_until_out_of_fds()
        mine = sessions.pop()
        self.assertCode(mine.cmd("PASV"), 227)
        for c in sessions:  # passive listeners take the last descriptors
            if self.free_fds() == 0:
                break
            self.assertCode(c.cmd("PASV"), (227, 425))
        self.assertEqual(self.free_fds(), 0)
        for line in ("SIZE f.bin", "MDTM f.bin", "HASH f.bin", "CWD /"):
            code, text = mine.cmd(line, timeout=20)  # 451, or answered without a new fd
            self.assertNotEqual(str(code)[0], "5", "%s: %s" % (line, text))
        code, text = mine.cmd("RETR f.bin", timeout=20)
        self.assertEqual(code, 451, text)
        self.assertIn("f.bin: Too many open files; try again later.", text)
        sessions.pop().close()
        self.assertTrue(wait_for(lambda: self.free_fds() >= 2, 10))
        self.assertCode(mine.cmd("TYPE I"), 200)
        ds = mine.pasv()
        self.assertCode(mine.cmd("RETR f.bin", timeout=20), 150)
        self.assertEqual(len(recv_all(ds)), 100)
        ds.close()
        self.assertCode(mine.reply(timeout=20), 226)


class TestHomeAccess(ServerTestCase):
    server_kwargs = {"args": FAST_FAIL,
                     "users": [(DEFAULT_USER, DEFAULT_PASSWORD, "elr"),
                               ("shut", "shut-Pw-1", "elr", "shut-home")]}

    def test_home_the_server_cannot_enter_refuses_the_login(self):
        # the home opens (O_PATH needs no permission), but every path in it would fail:
        # the login is refused with the reason, and the log says which directory
        os.chmod(self.srv.local("shut-home"), 0)
        self.addCleanup(os.chmod, self.srv.local("shut-home"), 0o755)
        c = self.srv.control()
        c.cmd("USER shut")
        code, text = c.cmd("PASS shut-Pw-1")
        self.assertEqual(code, 530, text)
        self.assertIn("home directory unavailable", text)
        self.assertTrue(self.srv.wait_log(r"cannot open home .*shut-home: Permission denied"),
                        self.srv.log_text())
        c2 = self.srv.control()
        c2.login()  # the others are not affected

    def test_the_log_says_why_a_login_failed(self):
        # for the operator, not the client (who gets 530 either way): a wrong password, a
        # name the users file does not hold (a typo, an account not reloaded yet), a home
        # that cannot be opened, each with the session's address and the name tried
        os.chmod(self.srv.local("shut-home"), 0)
        self.addCleanup(os.chmod, self.srv.local("shut-home"), 0o755)
        for user, password in ((DEFAULT_USER, "wrong"), ("nobody-here", "x"),
                               ("shut", "shut-Pw-1")):
            c = self.srv.control()
            c.cmd("USER " + user)
            self.assertEqual(c.cmd("PASS " + password)[0], 530)
            c.close()
        peer = r"\[\d+\] 127\.0\.0\.1:\d+ -: "
        self.assertLogged(peer + r"login failed for '%s' \(1 of \d+\): wrong password$"
                          % DEFAULT_USER)
        self.assertLogged(peer + r"login failed for 'nobody-here' \(1 of \d+\): no such account$")
        self.assertLogged(r"ERROR " + peer + r"login of 'shut' refused: cannot open home "
                          r"\S*shut-home: Permission denied$")

    def test_a_home_the_server_cannot_enter_is_warned_about_at_start_and_reload(self):
        # an operator should not learn it from the first user who cannot log in
        shut = tempfile.mkdtemp(prefix="ftpd-e2e-shut-")
        self.addCleanup(shutil.rmtree, shut, True)
        os.chmod(shut, 0)
        self.addCleanup(os.chmod, shut, 0o755)
        srv = self.start_server(args=FAST_FAIL, users=[(DEFAULT_USER, DEFAULT_PASSWORD, "elr"),
                                                       ("shut", "shut-Pw-1", "elr", shut)])
        self.assertTrue(srv.wait_log(r"WARN account 'shut': the server's user.* cannot enter "
                                     r"its home %s \(Permission denied\), so its logins will "
                                     r"be refused" % re.escape(shut)), srv.log_text())
        self.assertNotIn("account '%s'" % DEFAULT_USER, srv.log_text())
        # and when a reload finds one
        os.chmod(self.srv.local("shut-home"), 0)
        self.addCleanup(os.chmod, self.srv.local("shut-home"), 0o755)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_log(r"WARN account 'shut': .*cannot enter its home "
                                          r".*shut-home", 10), self.srv.log_text())


    def test_a_missing_home_costs_only_its_account(self):
        # a reload that finds an account whose folder is gone (or not made yet) loads the
        # others, new ones included; that account logs in once its folder is there
        later = os.path.join(self.srv.base, "later-home")
        with open(self.srv.users_file) as fh:
            text = fh.read()
        with open(self.srv.users_file, "w") as fh:
            fh.write(text + "later:%s:%s:elr\nfresh:%s:%s:elr\n" % (
                hash_password("later-Pw-1"), later, hash_password("fresh-Pw-1"),
                self.srv.root))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_log(r"WARN account 'later': .*cannot enter its home "
                                          r".*later-home \(No such file", 10),
                        self.srv.log_text())
        self.srv.ftp("fresh", "fresh-Pw-1").quit()
        c = self.srv.control()
        c.cmd("USER later")
        code, text = c.cmd("PASS later-Pw-1")
        self.assertEqual(code, 530, text)
        self.assertIn("home directory unavailable", text)
        self.srv.mkdir(later)
        self.srv.ftp("later", "later-Pw-1").quit()


class TestLoginsOnABusyMachine(ServerTestCase):
    """Two CPU-bound processes of another program: with no transfer running, password checks
    run at normal priority and logins are not starved (at idle priority each PASS waited a
    quarter to half a second for its worker, and login storms timed out)."""
    server_kwargs = {"args": ["--inline-hash-max", "0"]}  # every check on the workers

    def test_logins_keep_their_pace(self):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 2)]
        try:
            times = []
            for _ in range(7):
                c = self.srv.control()
                t = time.monotonic()
                c.login()
                times.append(time.monotonic() - t)
                c.close()
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        times.sort()
        # a SHA-512-crypt check costs a few ms; at idle priority each took 250 ms or more
        self.assertLess(times[len(times) // 2], 0.15, times)
        self.assertRegex(self.srv.log_text(), r"password checked on a worker")


class TestCheapHashInline(ServerTestCase):
    """MD5-crypt costs ~0.15 ms: once measured on the workers a few times, ftpd checks it on
    the loop thread. Logins must behave exactly as before, right and wrong passwords alike.
    The limit is raised from its default (250 us) because a sanitizer build or a loaded
    machine makes MD5-crypt cost 0.25-0.35 ms."""
    server_kwargs = {"args": FAST_FAIL + ["--inline-hash-max", "5000"], "hash_method": "1"}

    def inline_checks(self):
        return len(re.findall(r"password checked inline", self.srv.log_text()))

    def test_cheap_method_goes_inline_and_stays_correct(self):
        # The first checks run on a worker and are measured (the very first left out); a
        # loaded machine or a sanitizer build may need a few more before the mean settles.
        for _ in range(16):
            self.srv.ftp().quit()
            time.sleep(0.02)
            if self.inline_checks() >= 1:
                break
        self.assertTrue(wait_for(lambda: self.inline_checks() >= 1, timeout=5),
                        "MD5-crypt logins never moved to the loop thread:\n" +
                        "\n".join(l for l in self.srv.logs() if "password checked" in l))
        before = self.inline_checks()
        c = self.srv.control()
        c.cmd("USER " + DEFAULT_USER)
        t0 = time.monotonic()
        self.assertCode(c.cmd("PASS nope"), 530)  # a wrong password still fails, delayed
        self.assertGreaterEqual(time.monotonic() - t0, 0.04)
        # pipelined: USER, PASS and PWD in one segment, answered in order
        c.send("USER %s\r\nPASS %s\r\nPWD\r\n" % (DEFAULT_USER, DEFAULT_PASSWORD))
        self.assertEqual(c.reply()[0], 331)
        self.assertEqual(c.reply()[0], 230)
        self.assertEqual(c.reply()[0], 257)
        self.assertTrue(wait_for(lambda: self.inline_checks() == before + 2, timeout=5),
                        "expected two more inline checks, log has %d" % self.inline_checks())
        # unknown names still go to the workers (checked against the dummy hash)
        u = self.srv.control()
        u.cmd("USER nosuchuser")
        self.assertCode(u.cmd("PASS whatever"), 530)
        time.sleep(0.2)
        self.assertEqual(self.inline_checks(), before + 2)

    def test_sha512_stays_on_workers(self):
        srv = self.start_server(args=FAST_FAIL)  # SHA-512-crypt: ~3 ms a check
        for _ in range(6):
            srv.ftp().quit()
        self.assertTrue(wait_for(lambda: srv.log_text().count("password checked on a worker") >= 6))
        self.assertNotIn("password checked inline", srv.log_text())

    def test_zero_keeps_every_check_on_workers(self):
        srv = self.start_server(args=FAST_FAIL + ["--inline-hash-max", "0"], hash_method="1")
        for _ in range(8):
            srv.ftp().quit()
        self.assertTrue(wait_for(lambda: srv.log_text().count("password checked on a worker") >= 8))
        self.assertNotIn("password checked inline", srv.log_text())


class TestCommands(ServerTestCase):
    def test_syst(self):
        c = self.srv.control()
        code, text = c.cmd("SYST")
        self.assertEqual(code, 215)
        self.assertIn("UNIX", text.upper())

    def test_feat(self):
        c = self.srv.control()
        code, text = c.cmd("FEAT")
        self.assertEqual(code, 211, text)
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("211-") and lines[-1].startswith("211 "), text)
        feats = [l.strip() for l in lines[1:-1]]
        for l in lines[1:-1]:
            self.assertTrue(l.startswith(" "), "feature line without leading space: %r" % l)
        names = {f.split()[0].upper() for f in feats if f}
        for want in ("EPRT", "EPSV", "MDTM", "MLST", "PASV", "REST", "SIZE", "TVFS", "UTF8"):
            self.assertIn(want, names, text)
        rest = [f for f in feats if f.upper().startswith("REST")][0]
        self.assertIn("STREAM", rest.upper())
        mlst = [f for f in feats if f.upper().startswith("MLST")][0]
        for fact in ("type*", "size*", "modify*", "perm*", "unique*", "unix.mode*"):
            self.assertIn(fact, mlst.lower())

    def test_opts(self):
        f = self.srv.ftp()
        self.assertCode(reply(f, "OPTS UTF8 ON"), 200)
        self.assertCode(reply(f, "OPTS MLST type;size;"), 200)
        self.assertCode(reply(f, "OPTS NOSUCH x"), "5xx")

    def test_opts_mlst_selects_facts(self):
        # RFC 3659 7.9: after OPTS MLST, MLST/MLSD show only the selected facts
        f = self.srv.ftp()
        self.assertCode(reply(f, "OPTS MLST type;size;"), 200)
        self.srv.write("m.txt", b"12345")
        code, text = reply(f, "MLST m.txt")
        self.assertEqual(code, 250, text)
        facts = text.splitlines()[1]
        self.assertIn("size=5", facts.lower())
        self.assertNotIn("modify=", facts.lower())

    def test_help_noop_allo(self):
        f = self.srv.ftp()
        self.assertCode(reply(f, "HELP"), 214)
        self.assertCode(reply(f, "NOOP"), 200)
        self.assertCode(reply(f, "ALLO 1000"), (200, 202))

    def test_help_of_one_command(self):
        f = self.srv.ftp()
        code, text = reply(f, "HELP")
        self.assertEqual(code, 214, text)
        self.assertIn("RETR", text)
        self.assertGreater(len(text.splitlines()), 2, text)
        for arg in ("RETR", "retr"):
            self.assertEqual(reply(f, "HELP " + arg), (214, "214 Syntax: RETR <sp> file-name"))
        code, text = reply(f, "HELP PASV")
        self.assertEqual(code, 214, text)
        self.assertTrue(text.startswith("214 Syntax: PASV"), text)
        self.assertEqual(len(text.splitlines()), 1, text)
        self.assertEqual(reply(f, "HELP XYZ"), (502, "502 Unknown command XYZ."))
        self.assertTrue(reply(f, "HELP SITE")[1].startswith("214 Syntax: SITE"))
        self.assertCode(reply(f, "HELP REIN"), 502)

    def test_type_mode_stru(self):
        f = self.srv.ftp()
        self.assertCode(reply(f, "TYPE A"), 200)
        self.assertCode(reply(f, "TYPE A N"), 200)
        self.assertCode(reply(f, "TYPE I"), 200)
        self.assertCode(reply(f, "TYPE L 8"), (200, 504))
        self.assertCode(reply(f, "TYPE E"), (501, 504))
        self.assertCode(reply(f, "TYPE Q"), (501, 504))
        self.assertCode(reply(f, "MODE S"), 200)
        self.assertCode(reply(f, "MODE B"), 504)
        self.assertCode(reply(f, "MODE C"), 504)
        self.assertCode(reply(f, "STRU F"), 200)
        self.assertCode(reply(f, "STRU R"), 504)
        self.assertCode(reply(f, "STRU P"), 504)
        # Extra spaces around the code are no other type (ProFTPD, pure-ftpd, pyftpdlib).
        self.assertCode(reply(f, "TYPE I "), 200)
        self.assertCode(reply(f, "TYPE A  N "), 200)
        self.assertCode(reply(f, "MODE S "), 200)
        self.assertCode(reply(f, "STRU F "), 200)
        self.assertCode(reply(f, "TYPE IX"), 504)

    def test_clnt_is_noted_once(self):
        # GUI clients name themselves with CLNT, before the login too, and show a 500 as an error
        c = self.srv.control()
        c.send(b"CLNT Demo\xe9Client 1.0\r\n")
        self.assertEqual(c.reply()[0], 200)
        self.assertEqual(c.cmd("CLNT Other")[0], 200)
        self.assertEqual(c.cmd("CLNT")[0], 501)
        c.login()
        self.assertEqual(c.cmd("CLNT Other")[0], 200)
        self.assertTrue(reply(self.srv.ftp(), "HELP CLNT")[1].startswith("214 Syntax: CLNT"))
        d = self.srv.control()
        self.assertEqual(d.cmd("CLNT " + "n" * 300)[0], 200)
        self.assertLogged(r"client: n{64}\.\.\.$")
        self.assertLogged(r"client: Demo\\xe9Client 1\.0$")  # escaped, as every log line is
        self.assertNotIn("client: Other", self.srv.log_text())
        self.assertEqual(self.srv.log_text().count("client: Demo"), 1)

    def test_blanks_after_a_keyword_argument(self):
        # an argument that is a keyword or a number loses the blanks after it (ProFTPD, which
        # splits arguments on blanks, takes them too); one made of blanks alone is none
        f = self.srv.ftp()
        self.assertCode(reply(f, "OPTS UTF8 ON "), 200)
        self.assertCode(reply(f, "REST 5  "), 350)
        self.assertCode(reply(f, "REST  "), 501)
        self.assertTrue(reply(f, "HELP RETR ")[1].startswith("214 Syntax: RETR"))
        # a path keeps every byte: "a " is a name of its own
        self.srv.write("a", b"1")
        self.srv.write("a ", b"22")
        f.voidcmd("TYPE I ")
        self.assertEqual(reply(f, "SIZE a "), (213, "213 2"))
        self.assertEqual(reply(f, "SIZE a"), (213, "213 1"))
        self.assertCode(reply(f, "EPSV ALL "), 200)
        self.assertCode(reply(f, "PASV"), "5xx")

    def test_opts_mlst_without_facts(self):
        # RFC 3659 7.9: the reply lists the facts now selected, after a space only if any.
        f = self.srv.ftp()
        self.assertEqual(reply(f, "OPTS MLST"), (200, "200 MLST OPTS"))
        self.assertEqual(reply(f, "OPTS MLST size;"), (200, "200 MLST OPTS size;"))

    def test_mlst_of_the_root_offers_no_delete_or_rename(self):
        # RFC 3659 7.5.5: perm says what the client may do; RMD / and RNFR / are refused.
        f = self.srv.ftp()
        code, text = reply(f, "MLST /")
        self.assertEqual(code, 250, text)
        perm = re.search(r"perm=([a-z]*);", text).group(1)
        self.assertNotIn("d", perm, text)
        self.assertNotIn("f", perm, text)
        self.assertIn("p", perm, text)  # files in it may still be deleted
        self.assertCode(reply(f, "RMD /"), 550)
        f.mkd("sub")
        code, text = reply(f, "MLST /sub")
        self.assertIn("d", re.search(r"perm=([a-z]*);", text).group(1), text)

    def test_unknown_command(self):
        f = self.srv.ftp()
        self.assertCode(reply(f, "XYZZY"), (500, 502))
        self.assertCode(reply(f, "SITE NOSUCH"), (500, 502, 504))
        self.assertCode(reply(f, "NOOP"), 200)

    def test_missing_argument_501(self):
        f = self.srv.ftp()
        for cmd in ("CWD", "MKD", "DELE", "RNFR", "SIZE", "MDTM", "RETR", "USER"):
            code, text = reply(f, cmd)
            self.assertIn(code, (500, 501), "%s -> %s" % (cmd, text))
        # an offset is digits only: no sign, no blanks, no "-0"
        for arg in ("abc", "-5", "+7", " 5", "-0", "5x", "99999999999999999999"):
            self.assertCode(reply(f, "REST " + arg), 501)
        self.assertCode(reply(f, "REST 007"), 350)
        self.assertCode(reply(f, "PORT 1,2,3"), 501)
        self.assertCode(reply(f, "EPRT |9|127.0.0.1|5000|"), (501, 522))

    def test_pwd_cwd_cdup(self):
        self.srv.mkdir("a/b")
        f = self.srv.ftp()
        self.assertEqual(f.pwd(), "/")
        f.cwd("a")
        self.assertEqual(f.pwd(), "/a")
        f.cwd("b")
        self.assertEqual(f.pwd(), "/a/b")
        self.assertCode(reply(f, "CDUP"), (200, 250))
        self.assertEqual(f.pwd(), "/a")
        f.cwd("/a/b/../b/./")
        self.assertEqual(f.pwd(), "/a/b")
        f.cwd("/")
        self.assertCode(reply(f, "CDUP"), (200, 250))
        self.assertEqual(f.pwd(), "/")
        self.assertCode(reply(f, "CWD nosuch"), 550)
        self.assertEqual(f.pwd(), "/")

    def test_pwd_quotes_double_quotes(self):
        self.srv.mkdir('we"ird')
        f = self.srv.ftp()
        f.cwd('we"ird')
        code, text = reply(f, "PWD")
        self.assertEqual(code, 257)
        self.assertIn('"/we""ird"', text)

    def test_stat_without_transfer(self):
        f = self.srv.ftp()
        code, text = reply(f, "STAT")
        self.assertEqual(code, 211, text)
        self.assertTrue(text.splitlines()[-1].startswith("211 "), text)

    def test_quit_closes(self):
        c = self.srv.control()
        c.login()
        self.assertCode(c.cmd("QUIT"), 221)
        self.assertTrue(c.closed(5))


class TestLongPaths(ServerTestCase):
    """Replies carry a path whole however long it is: 257 (PWD, MKD) with every '"' doubled,
    250 (CWD), 150 (RETR, STOR), 213 (HASH), 250 (MLST)."""

    # 5 x 250-byte names: a path of 1255 bytes, 1505 once the quotes in it are doubled
    NAMES = ["a" * 249 + '"', "b" * 250, '"' * 250, "d" * 125 + " " + "d" * 124, "e" * 250]

    def ftp(self):
        f = self.srv.ftp()
        f.maxline = 1 << 16  # ftplib's default 8 KiB is less than a 257 reply may need
        return f

    def descend(self, f, names):
        """MKD and CWD into each of names in turn, checking the replies; returns the path."""
        path = ""
        for name in names:
            path += "/" + name
            self.assertEqual(f.mkd(name), path)
            resp = f.cwd(name)
            self.assertEqual(resp, "250 Directory changed to %s." % path)
            self.assertEqual(f.pwd(), path)
        return path

    def test_pwd_mkd_cwd_with_a_long_quoted_path(self):
        f = self.ftp()
        path = self.descend(f, self.NAMES)
        self.assertGreater(len(path), 1100)
        code, text = reply(f, "PWD")
        self.assertEqual(text, '257 "%s" is the current directory.' % path.replace('"', '""'))
        self.assertEqual(f.mkd(path + "/new"), path + "/new")  # an absolute MKD
        self.assertEqual(reply(f, "NOOP")[0], 200)  # nothing left over in the stream
        f.cwd("/")
        f.cwd(path)
        self.assertEqual(f.pwd(), path)

    def test_longest_path_of_quotes(self):
        # near PATH_VMAX, every byte a quote after the first: the 257 text doubles to ~8 KB
        f = self.ftp()
        names = ['"' * 250] * 16
        path = self.descend(f, names)
        self.assertGreater(len(path), 4000)
        self.assertEqual(f.pwd(), path)
        code, text = reply(f, "MKD " + '"' * 60)
        self.assertEqual(code, 257, text[:80])
        self.assertEqual(ftplib.parse257(text), path + "/" + '"' * 60)
        # one more level would pass PATH_VMAX: refused, not cut
        code, text = reply(f, "CWD " + "x" * 200)
        self.assertIn(code, (550, 553), text)
        self.assertEqual(f.pwd(), path)

    def test_transfer_hash_and_mlst_replies_deep_in_the_tree(self):
        # made here rather than with MKD, so each reply below is checked on its own
        data = b"deep file\n" * 10
        self.srv.write("/".join(self.NAMES + ["f.bin"]), data)
        path = "/" + "/".join(self.NAMES)
        f = self.ftp()
        f.cwd(path)
        f.voidcmd("TYPE I")
        # RETR's 150 ends in "(N bytes)", which clients read the size from
        conn, size = f.ntransfercmd("RETR f.bin")
        self.assertEqual(size, len(data))
        conn.close()
        f.voidresp()
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        code, text = c.cmd("RETR %s/f.bin" % path)
        self.assertEqual(text, "150 Opening BINARY mode data connection for %s/f.bin (%d bytes)."
                         % (path, len(data)))
        ds.close()
        self.assertIn(c.reply()[0], (226, 426))
        ds = c.pasv()
        code, text = c.cmd("STOR %s/g.bin" % path)
        self.assertEqual(text, "150 Opening BINARY mode data connection for %s/g.bin." % path)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        code, text = c.cmd("HASH %s/f.bin" % path)
        self.assertEqual(code, 213, text)
        self.assertTrue(text.endswith(" %s/f.bin" % path), text[-80:])
        code, text = c.cmd("MLST %s/f.bin" % path)
        self.assertEqual(code, 250, text)
        self.assertTrue(text.splitlines()[-2].endswith(" %s/f.bin" % path), text[-80:])
        code, text = c.cmd("CWD %s/nosuch" % path)
        self.assertEqual(code, 550, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)


class TestLineParsing(ServerTestCase):
    def test_bare_lf(self):
        c = self.srv.control()
        c.send("NOOP\n")
        self.assertEqual(c.reply()[0], 200)
        c.send("USER %s\nPASS %s\n" % (DEFAULT_USER, DEFAULT_PASSWORD))
        self.assertEqual(c.reply()[0], 331)
        self.assertEqual(c.reply()[0], 230)

    def test_split_and_merged_lines(self):
        c = self.srv.control()
        for piece in (b"NO", b"O", b"P\r", b"\n"):
            c.send(piece)
            time.sleep(0.05)
        self.assertEqual(c.reply()[0], 200)
        c.send(b"NOOP\r\nSYST\r\nNOOP\r\n")
        self.assertEqual([c.reply()[0] for _ in range(3)], [200, 215, 200])

    def test_empty_and_blank_lines_get_500(self):
        c = self.srv.control()
        for line in (b"\r\n", b"\n", b"    \r\n", b" \n"):
            c.send(line)
            code, text = c.reply(timeout=5)
            self.assertEqual(code, 500, "%r -> %s" % (line, text))
            self.assertIn("Empty command", text)
        c.login()
        self.assertEqual(c.cmd("")[0], 500)
        self.assertEqual(c.cmd("PWD")[0], 257)

    def test_leading_spaces_before_the_verb(self):
        self.srv.mkdir("sub dir")
        c = self.srv.control()
        self.assertEqual(c.cmd(" NOOP")[0], 200)
        self.assertEqual(c.cmd("   USER " + DEFAULT_USER)[0], 331)
        self.assertEqual(c.cmd("  PASS " + DEFAULT_PASSWORD)[0], 230)
        self.assertEqual(c.cmd(" CWD sub dir")[0], 250)
        code, text = c.cmd("   pwd")
        self.assertEqual(code, 257, text)
        self.assertIn('"/sub dir"', text)

    def test_pipelined_blank_lines_keep_order(self):
        c = self.srv.control()
        c.send(b"\r\nNOOP\r\n  \r\n SYST\n\xff\xf4\xff\xf2\r\nNOOP\r\n")
        codes = [c.reply(timeout=5)[0] for _ in range(5)]
        self.assertEqual(codes, [500, 200, 500, 215, 500])
        self.assertEqual(c.reply(timeout=5)[0], 200)

    def test_lowercase_commands(self):
        c = self.srv.control()
        self.assertEqual(c.cmd("noop")[0], 200)
        self.assertEqual(c.cmd("user " + DEFAULT_USER)[0], 331)
        self.assertEqual(c.cmd("pass " + DEFAULT_PASSWORD)[0], 230)
        self.assertEqual(c.cmd("pwd")[0], 257)

    def test_telnet_iac_stripped(self):
        c = self.srv.control()
        c.send(b"\xff\xf4\xff\xf2NOOP\r\n")  # IAC IP, IAC DM (what clients put before ABOR)
        self.assertEqual(c.reply()[0], 200)
        c.send(b"NO\xff\xfb\x01OP\r\n")  # IAC WILL ECHO inside a line
        self.assertEqual(c.reply()[0], 200)

    def test_iac_in_a_name_is_doubled_both_ways(self):
        # A 0xFF byte in a name travels as IAC IAC (RFC 854): undoubled in the command,
        # doubled again in the 257 that names the directory
        c = self.srv.control()
        c.login()
        c.send(b"MKD d\xff\xffe\r\n")
        self.assertEqual(self.raw_reply(c), b'257 "/d\xff\xffe" created.\r\n')
        self.assertTrue(os.path.isdir(os.path.join(os.fsencode(self.srv.root), b"d\xffe")))

    def raw_reply(self, c):
        """One reply line's bytes as they came, before any decoding."""
        raw = b""
        while not raw.endswith(b"\r\n"):
            chunk = c.sock.recv(4096)
            self.assertTrue(chunk, "connection closed")
            raw += chunk
        return raw

    def test_cr_in_a_name_travels_as_cr_nul(self):
        # RFC 2640 3.1: a CR in a pathname goes as CR NUL both ways, and it is the name's CR
        c = self.srv.control()
        c.login()
        c.send(b"MKD d\r\x00e\r\n")
        self.assertEqual(self.raw_reply(c), b'257 "/d\r\x00e" created.\r\n')
        root = os.fsencode(self.srv.root)
        self.assertTrue(os.path.isdir(os.path.join(root, b"d\re")))
        c.send(b"CWD d\r\x00e\r\n")
        self.assertTrue(self.raw_reply(c).startswith(b"250 "))
        c.send(b"PWD\r\n")
        self.assertEqual(self.raw_reply(c)[:11], b'257 "/d\r\x00e"')
        c.cmd("TYPE I")
        ds = c.epsv()
        c.send(b"STOR f\r\x00\r\n")
        self.assertTrue(self.raw_reply(c).startswith(b"150 "))
        ds.sendall(b"payload")
        ds.close()
        self.assertTrue(self.raw_reply(c).startswith(b"226 "))
        with open(os.path.join(root, b"d\re", b"f\r"), "rb") as fh:
            self.assertEqual(fh.read(), b"payload")
        # a NUL anywhere else still cuts the line short, so it is refused
        c.send(b"DELE f\r\x00\x00x\r\n")
        self.assertTrue(self.raw_reply(c).startswith(b"501 "))
        self.assertTrue(os.path.exists(os.path.join(root, b"d\re", b"f\r")))

    def raw_until(self, c, end):
        raw = b""
        while not raw.endswith(end):
            chunk = c.sock.recv(65536)
            self.assertTrue(chunk, "connection closed after %r" % raw[-200:])
            raw += chunk
        return raw

    def test_stat_of_names_that_grow_on_the_wire(self):
        # every 0xFF goes doubled: a listing that fits raw would outgrow the output buffer
        root = os.fsencode(self.srv.root)
        os.mkdir(os.path.join(root, b"s"))
        for i in range(160):
            os.mkdir(os.path.join(root, b"s", b"\xff" * 200 + b"%03d" % i))
        c = self.srv.control()
        c.login()
        c.send(b"STAT s\r\n")
        raw = self.raw_until(c, b"212 End of status\r\n")
        self.assertTrue(raw.startswith(b"212-Status of /s:\r\n"), raw[:100])
        self.assertIn(b" (listing cut short; use LIST)\r\n", raw)
        self.assertIn(b"\xff\xff" * 200 + b"000", raw)
        self.assertLess(len(raw), 64 * 1024)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_stat_of_a_listing_that_fills_its_buffer_exactly(self):
        # 48 KiB of listing to the byte, with nothing left for a terminating NUL
        root = os.path.join(self.srv.root, "s")
        os.mkdir(root)

        def make(name):
            p = os.path.join(root, name)
            with open(p, "wb"):
                pass
            os.utime(p, (1700000000, 1700000000))
        make("p" * 100)
        c = self.srv.control()
        c.login()
        c.send(b"STAT s\r\n")
        raw = self.raw_until(c, b"212 End of status\r\n")
        line = [l for l in raw.split(b"\r\n") if l.endswith(b"p" * 100)][0]
        per = len(line) - 1 + 2  # without the reply's leading space, with LIST's CRLF
        header = len(b"Status of /s:\n")
        left = 48 * 1024 - header - per
        k = left // per - 1
        rest = left - k * per  # one more line takes what is left: per <= rest < 2 * per
        for i in range(k):
            make("%05d" % i + "q" * 95)
        extra = rest - per
        if extra <= 150:
            make("x" * (100 + extra))
        else:  # a name of 100 + extra bytes would be too long: two lines instead
            both = 200 + rest - 2 * per
            make("x" * (both // 2))
            make("y" * (both - both // 2))
        c.send(b"STAT s\r\n")
        raw = self.raw_until(c, b"212 End of status\r\n")
        self.assertEqual(c.cmd("NOOP")[0], 200)
        listing = raw.split(b"\r\n")[1:-2]
        self.assertEqual(sum(len(l) - 1 + 2 for l in listing) + header, 48 * 1024)
        self.assertNotIn(b"cut short", raw)

    def test_stat_keeps_a_cr_in_a_name(self):
        os.mkdir(os.path.join(os.fsencode(self.srv.root), b"cr\rname"))
        c = self.srv.control()
        c.login()
        c.send(b"STAT /\r\n")
        raw = self.raw_until(c, b"212 End of status\r\n")
        self.assertIn(b" cr\r\x00name\r\n", raw)

    def test_long_line_500_then_continue(self):
        c = self.srv.control()
        c.login()
        c.send("NOOP " + "x" * 5000 + "\r\n")
        code, text = c.reply()
        self.assertEqual(code, 500, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_line_just_under_limit_is_a_command(self):
        c = self.srv.control()
        c.login()
        code, text = c.cmd("CWD " + "a/" * 1990)  # about 4 KB: parsed, the path does not exist
        self.assertNotEqual(code, 500, text)
        self.assertGreaterEqual(code, 500, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_huge_line_does_not_grow_memory(self):
        c = self.srv.control()
        rss0 = self.srv.rss_kib()
        chunk = b"A" * 65536
        for _ in range(64):  # 4 MiB without a newline
            c.send(chunk)
        c.send(b"\r\n")
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 500, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        if not self.srv.sanitized():
            self.assertLess(self.srv.rss_kib() - rss0, 2048, "server memory grew with a long line")

    def test_nul_in_argument(self):
        f = self.srv.ftp()
        for cmd in ("CWD a\x00b", "SIZE a\x00b", "MKD a\x00b"):
            f.putcmd(cmd)
            resp = f.getmultiline()
            self.assertGreaterEqual(int(resp[:3]), 500, resp)
        self.assertEqual(reply(f, "NOOP")[0], 200)
        self.assertEqual(os.listdir(self.srv.root), [])


def make_big_dir(srv, entries=1500):
    d = os.path.join(srv.root, "big")
    os.mkdir(d)
    for i in range(entries):
        open(os.path.join(d, "file-with-a-longish-name-%04d.txt" % i), "wb").close()


def slow_reader(test):
    """A logged-in Control with a 4 KiB receive buffer: replies back up at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((test.srv.host, test.srv.port))
    c = Control.__new__(Control)
    c.sock, c.host, c.buf = sock, test.srv.host, b""
    test.addCleanup(c.close)
    sock.settimeout(20)
    c.greeting()
    c.login()
    return c


class TestBackpressure(ServerTestCase):
    """A client that sends commands faster than it reads the replies: the server stops reading
    until the client catches up, and every reply arrives."""

    def test_a_pipelining_client_does_not_hold_the_others(self):
        # 300 pipelined STATs that each read a 5,000-entry directory for one match: another
        # session's NOOP is answered between them, not after the last
        make_big_dir(self.srv, entries=5000)
        a = self.srv.control()
        a.login()
        b = self.srv.control()
        b.login()
        got = []

        def read_all():
            for _ in range(300):
                got.append(a.reply()[0])

        reader = threading.Thread(target=read_all, daemon=True)
        reader.start()
        a.send("STAT big/*-0001.txt\r\n" * 300)
        self.assertEqual(b.cmd("NOOP")[0], 200)
        answered_before = len(got)
        reader.join(60)
        self.assertEqual(got, [212] * 300)
        self.assertLess(answered_before, 150)

    def test_pipelined_stat_listings_are_all_answered(self):
        # 100 listings of about 56 KiB each: far more than the reply buffer and the sockets hold
        make_big_dir(self.srv)
        c = slow_reader(self)
        c.send("STAT big\r\n" * 100 + "NOOP\r\n")
        time.sleep(1.5)  # the client reads nothing yet
        for i in range(100):
            code, text = c.reply()
            self.assertEqual(code, 212, "reply %d: %s" % (i, text[:200]))
            self.assertIn("file-with-a-longish-name-0000.txt", text)
        self.assertEqual(c.reply()[0], 200)
        self.assertNotIn("reply buffer full", self.srv.log_text())
        self.assertEqual(c.cmd("PWD")[0], 257)


class TestLimits(ServerTestCase):
    server_kwargs = {"args": ["--max-per-ip", "2", "--max-sessions", "3"]}

    def test_max_per_ip(self):
        c1 = self.srv.control()
        c2 = self.srv.control()
        c3 = self.srv.control(greet=False)
        code, text = c3.reply()
        self.assertEqual(code, 421, text)
        self.assertTrue(c3.closed(5))
        # the log names the setting that turned it away, for the operator to raise
        self.assertLogged(r"refused: Too many connections from your address\. \(max-per-ip 2 "
                          r"reached\)$")
        # the first two still work; after one leaves, a new one is welcome
        self.assertEqual(c1.cmd("NOOP")[0], 200)
        self.assertEqual(c2.cmd("NOOP")[0], 200)
        c1.cmd("QUIT")
        self.assertTrue(c1.closed(5))

        def fresh():
            c = self.srv.control(greet=False)
            code, _ = c.reply()
            if code != 220:
                c.close()
            return code == 220
        self.assertTrue(wait_for(fresh, 5, 0.2), "no session slot after one left")

    def test_max_sessions(self):
        # two from 127.0.0.1, one from 127.0.0.2 = 3 sessions; a 4th from 127.0.0.3 -> 421
        a = self.srv.control()
        b = self.srv.control()
        c = self.srv.control(source="127.0.0.2")
        d = self.srv.control(source="127.0.0.3", greet=False)
        code, text = d.reply()
        self.assertEqual(code, 421, text)
        self.assertTrue(d.closed(5))
        self.assertLogged(r"refused: Too many users, try again later\. \(max-sessions 3 "
                          r"reached\)$")
        for x in (a, b, c):
            self.assertEqual(x.cmd("NOOP")[0], 200)


class TestShutdown(ServerTestCase):
    def test_sessions_are_told_the_server_shuts_down(self):
        # a bare close would read as a network fault; RFC 959's 421 says what happened.
        # The clients are the test's own: stop() closes those of the harness first.
        idle, fresh = (Control(self.srv.host, self.srv.port) for _ in range(2))
        for c in (idle, fresh):
            self.addCleanup(c.close)
            c.greeting()
        idle.login()
        f = ftplib.FTP()
        f.connect(self.srv.host, self.srv.port, timeout=10)
        self.addCleanup(f.close)
        f.login(DEFAULT_USER, DEFAULT_PASSWORD)
        self.assertEqual(self.srv.stop(), 0)
        for c in (idle, fresh):
            self.assertEqual(c.reply(timeout=5),
                             (421, "421 Server shutting down; closing control connection."))
            self.assertTrue(c.closed())
        with self.assertRaises(ftplib.error_temp) as cm:
            f.voidcmd("NOOP")
        self.assertIn("421 Server shutting down", str(cm.exception))


    def test_an_upload_cut_by_shutdown_keeps_the_old_file_and_says_why(self):
        self.srv.write("f.bin", b"old version")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        conn = f.transfercmd("STOR f.bin")
        self.addCleanup(conn.close)
        conn.sendall(b"n" * 100000)

        def received():  # the upload's temporary file holds what the server took
            return [n for n in os.listdir(self.srv.root) if n.startswith(".ftpd-up.") and
                    os.path.getsize(os.path.join(self.srv.root, n)) == 100000]
        self.assertTrue(wait_for(received, 10), os.listdir(self.srv.root))
        self.srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.srv.proc.wait(10), 0)
        with open(os.path.join(self.srv.root, "f.bin"), "rb") as fh:
            self.assertEqual(fh.read(), b"old version")
        m = self.srv.wait_log(r"STOR /f\.bin failed: 100000 bytes .*: (.*)$")
        self.assertTrue(m, self.srv.log_text()[-2000:])
        self.assertEqual(m.group(1), "the server shut down")
        self.srv.stop(check=False)

class TestIdleTimeout(ServerTestCase):
    server_kwargs = {"args": ["--idle-timeout", "1"]}

    def test_idle_421(self):
        c = self.srv.control()
        c.login()
        t0 = time.monotonic()
        code, text = c.reply(timeout=10)
        took = time.monotonic() - t0
        self.assertEqual(code, 421, text)
        self.assertTrue(c.closed(5))
        self.assertGreater(took, 0.5)
        self.assertLess(took, 5)

    def test_a_client_that_never_reads_its_replies_is_closed(self):
        # its commands wait behind the unread replies, so it idles; the 421 cannot leave
        # either, and the connection is closed anyway
        make_big_dir(self.srv, 600)
        c = slow_reader(self)
        c.send("STAT big\r\n" * 300)
        self.assertTrue(wait_for(lambda: "disconnected" in self.srv.log_text(), 8),
                        self.srv.log_text()[-1500:])
        self.assertIn("idle timeout", self.srv.log_text())

    def test_activity_resets_idle(self):
        c = self.srv.control()
        c.login()
        for _ in range(4):
            time.sleep(0.5)
            self.assertEqual(c.cmd("NOOP")[0], 200)


class TestIdleAfterTransfer(ServerTestCase):
    # A download paced to last about 1.5 idle timeouts: the idle time must start at its 226.
    server_kwargs = {"args": ["--idle-timeout", "2", "--max-rate", "500k"]}

    def test_idle_time_starts_when_the_transfer_ends(self):
        # The idle timer skips a session while its transfer runs and counted from the RETR:
        # the session was closed at the timer's next turn, about 1 s after this 226.
        size = 1536 * 1024  # 3 s at 500 KiB/s
        self.srv.make_file("paced.bin", size)
        c, ds, _ = self.begin_transfer("RETR paced.bin")
        self.assertEqual(len(recv_all(ds, timeout=30)), size)
        ds.close()
        code, text = c.reply(timeout=30)
        self.assertEqual(code, 226, text)
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 421, text)
        # Timed by the server's own log, so that a client slow to read the 226 on a loaded
        # machine cannot shorten the gap.
        log = self.srv.settled_log_text(sessions=1)

        def stamp(prefix):
            line = next(ln for ln in log.splitlines() if "] <- " + prefix in ln)
            return datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")

        quiet = (stamp("421") - stamp("226")).total_seconds()
        self.assertGreaterEqual(quiet, 1.9, "closed %.2f s after the 226 for an idle timeout "
                                "of 2 s" % quiet)
        self.assertLess(quiet, 6)


class TestTransferLogLine(ServerTestCase):
    def test_a_very_long_path_leaves_the_outcome_in_the_line(self):
        # A log line holds 4096 bytes and a path as many: the line was cut before "ok: N
        # bytes", the one thing an operator reads it for. The middle of such a path goes.
        parts = ["%02d" % i + chr(ord("a") + i) * 198 for i in range(19)]  # 19 x 200 bytes
        rel = "/".join(parts)
        self.srv.mkdir(rel)
        self.srv.write(rel + "/the-file.bin", b"hello")
        f = self.srv.ftp()
        self.assertEqual(retr(f, "/" + rel + "/the-file.bin"), b"hello")
        f.quit()
        m = self.srv.wait_log(r"RETR (/00a+/01b+/\S*the-file\.bin) ok: 5 bytes in [\d.]+ s "
                              r"\([\d.]+ (?:[KMG]i)?B/s\)$")
        self.assertTrue(m, self.srv.log_text()[-1500:])
        self.assertIn("...", m.group(1))
        self.assertLess(len(m.group(1)), 3000)
        # one of 1400 bytes, which the line has room for, shows whole (it was cut at 1024)
        mid = "/".join(parts[:7])
        self.srv.write(mid + "/mid.bin", b"mid")
        f = self.srv.ftp()
        self.assertEqual(retr(f, "/" + mid + "/mid.bin"), b"mid")
        f.quit()
        self.assertTrue(self.srv.wait_log(r"RETR /%s/mid\.bin ok: 3 bytes" % re.escape(mid)),
                        self.srv.log_text()[-1500:])


    def test_a_very_long_path_leaves_why_and_where_in_other_lines(self):
        # The same holds for the lines that say why a command was refused, and for a rename's
        # line, whose target came after a source as long as the line.
        parts = ["%02d" % i + chr(ord("a") + i) * 198 for i in range(19)]  # 19 x 200 bytes
        rel = "/".join(parts)
        self.srv.mkdir(rel)
        self.srv.write(rel + "/from.bin", b"x")
        self.srv.mkdir(rel, base=self.srv.anon_root)
        missing = "missing-" + "m" * 192  # a path of 4020 bytes
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertCode(reply(f, "PASV"), 227)
        self.assertCode(reply(f, "RETR /%s/%s" % (rel, missing)), 550)
        self.assertCode(reply(f, "RNFR /%s/from.bin" % rel), 350)
        self.assertCode(reply(f, "RNTO /%s/to.bin" % rel), 250)
        f.quit()
        anon = self.srv.ftp("anonymous", "x@y")
        self.assertCode(reply(anon, "STOR /%s/up.bin" % rel), 550)
        anon.quit()
        for pattern in (r"RETR (/00a+/\S*/%s) refused: No such file or directory$" % missing,
                        r"RENAME /00a+/\S*/from\.bin -> (/00a+/\S*/to\.bin)$",
                        r"anonymous: STOR (/00a+/\S*/up\.bin) refused: the account's "
                        r"permissions \(elr\) lack w$"):
            m = self.srv.wait_log(pattern)
            self.assertTrue(m, pattern + "\n" + self.srv.log_text()[-1500:])
            self.assertIn("...", m.group(1))
            self.assertLessEqual(len(m.group(1)), 2003)


class TestXferlog(ServerTestCase):
    def setUp(self):
        pass

    def test_xferlog_lines(self):
        from ftpd_harness import FtpdServer
        srv = FtpdServer()
        path = os.path.join(srv.base, "xferlog")
        srv.args = ["--xferlog", path]
        srv.start()
        self.addCleanup(srv.stop)
        data = srv.make_file("down.bin", 12345, seed=1)
        f = srv.ftp()
        self.assertEqual(retr(f, "down.bin"), data)
        stor(f, "up file.bin", b"u" * 777)
        f.quit()

        def lines():
            try:
                with open(path) as fh:
                    ls = [l for l in fh.read().splitlines() if l.strip()]
                return ls if len(ls) >= 2 else None
            except FileNotFoundError:
                return None
        ls = wait_for(lines, 5)
        if not ls:
            self.fail("xferlog has not two lines: %r"
                      % (srv.read(path) if os.path.exists(path) else "no file"))
        self.assertEqual(len(ls), 2, ls)
        # wu-ftpd: DDD MMM dd hh:mm:ss YYYY secs host bytes path type flag dir mode user
        #          service auth authuser status
        rx = re.compile(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} (\d+) (\S+) (\d+) (\S+) "
                        r"([ab]) (\S+) ([oi]) ([agr]) (\S+) (\S+) ([01]) (\S+) ([ci])$")
        m1, m2 = rx.match(ls[0]), rx.match(ls[1])
        self.assertTrue(m1 and m2, ls)
        self.assertEqual(m1.group(2), "127.0.0.1")
        self.assertEqual((m1.group(3), m1.group(4), m1.group(5), m1.group(7), m1.group(8),
                          m1.group(9), m1.group(13)),
                         ("12345", "/down.bin", "b", "o", "r", DEFAULT_USER, "c"))
        self.assertEqual((m2.group(3), m2.group(4), m2.group(7), m2.group(13)),
                         ("777", "/up_file.bin", "i", "c"))

    def test_a_transfer_log_that_cannot_be_written_is_said_once(self):
        # a full disk (here /dev/full) lost every transfer's record without a word; the
        # error is said once, not for each transfer, and the transfers go on
        srv = self.start_server(args=["--xferlog", "/dev/full"])
        data = srv.make_file("down.bin", 1000, seed=2)
        for _ in range(3):
            f = srv.ftp()
            self.assertEqual(retr(f, "down.bin"), data)
            f.quit()
        m = srv.wait_log(r"ERROR transfer log /dev/full: cannot write \(No space left on "
                         r"device\); transfers are not recorded there until it can be written")
        self.assertTrue(m, srv.log_text()[-2000:])
        self.assertTrue(wait_for(lambda: srv.log_text().count(" RETR /down.bin ok") == 3, 5))
        self.assertEqual(srv.log_text().count("transfer log /dev/full: cannot write"), 1)

    def test_a_name_that_is_not_utf8_is_escaped_in_both_logs(self):
        """A Latin-1 name, a terminal escape and a backslash: each log line stays one line of
        valid UTF-8, the bytes written as \\xNN (the backslash too, so the name reads back)."""
        from ftpd_harness import FtpdServer
        srv = FtpdServer()
        path = os.path.join(srv.base, "xferlog")
        srv.args = ["--xferlog", path]
        srv.start()
        self.addCleanup(srv.stop)
        name = b"caf\xe9\x1b[1m\\x.txt"
        c = srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send(b"STOR " + name + b"\r\n")
        code, text = c.reply()
        self.assertEqual(code, 150, text)
        ds.sendall(b"hello")
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        c.cmd("QUIT")
        self.assertEqual(srv.read(os.fsdecode(name)), b"hello")  # stored under its own bytes
        shown = r"/caf\xe9\x1b[1m\x5cx.txt"
        self.assertTrue(srv.wait_log(re.escape("STOR %s ok: 5 bytes" % shown)),
                        srv.log_text()[-1500:])
        self.assertNotIn("\ufffd", srv.log_text())  # the harness reads the log as UTF-8

        def xferlog():
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
                return raw if raw.endswith(b"\n") else None
            except FileNotFoundError:
                return None
        raw = wait_for(xferlog, 5)
        self.assertTrue(raw, "no xferlog line")
        line = raw.decode("utf-8")  # strict: valid UTF-8
        self.assertEqual(line.count("\n"), 1, line)
        self.assertIn(" %s b _ i r " % shown, line)


if __name__ == "__main__":
    unittest.main()
