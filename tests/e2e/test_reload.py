"""SIGHUP: ftpd reads its users file again and reopens its transfer log, without dropping a
session. New and changed accounts count from the next login; sessions already logged in keep
the rights they logged in with; a users file that does not load changes nothing."""
import ftplib
import hashlib
import io
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from ftpd_harness import (FTPD_BIN, FtpdServer, ServerTestCase, data_bytes, hash_password, retr,
                          run_as_user, stor, wait_for)
from test_ftps import TlsServerMixin, tls_context


def users_line(srv, name, password, perms, pw_hash=None):
    return "%s:%s:%s:%s\n" % (name, pw_hash or hash_password(password), srv.root, perms)


class TestUsersReload(ServerTestCase):
    server_kwargs = {"users": [("alice", "alicepw", "elr")], "anonymous": False,
                     # two workers: a reading of the users file must not queue behind a
                     # slow password check on a one-CPU machine
                     "args": ["--login-failure-delay", "0", "--workers", "2"]}

    def rewrite_users(self, text):
        # written aside and renamed, as an editor or a deployment tool would
        tmp = self.srv.users_file + ".new"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        self.srv.chown(tmp)
        os.rename(tmp, self.srv.users_file)

    def hangup(self):
        before = len(self.srv.logs())
        self.srv.proc.send_signal(signal.SIGHUP)
        ok = wait_for(lambda: any("SIGHUP: " in line for line in self.srv.logs()[before:]), 10)
        self.assertTrue(ok, "no SIGHUP line in the log:\n" + self.srv.log_text()[-2000:])

    def login_code(self, user, password):
        c = self.srv.control()
        c.cmd("USER " + user)
        code, text = c.cmd("PASS " + password)
        c.close()
        return code

    def test_accounts_added_removed_and_changed_take_effect_at_the_next_login(self):
        data = self.srv.make_file("f.bin", 300_000, seed=3)
        old = self.srv.ftp("alice", "alicepw")
        self.rewrite_users(users_line(self.srv, "alice", "newpw", "elrw") +
                           users_line(self.srv, "bob", "bobpw", "elr"))
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users read again: 2 accounts \(1 added, 0 removed, "
                          r"1 changed\)")
        self.assertLogged(r"SIGHUP: 1 session logged in with a removed or changed account "
                          r"keeps the old rights")
        self.assertEqual(self.login_code("bob", "bobpw"), 230)
        self.assertEqual(self.login_code("alice", "alicepw"), 530)
        # the session from before the reload goes on, with the rights it logged in with
        self.assertEqual(retr(old, "f.bin"), data)
        with self.assertRaises(ftplib.error_perm) as cm:
            stor(old, "up.bin", b"x" * 1000)
        self.assertTrue(str(cm.exception).startswith("550"), cm.exception)
        # a new session gets the new ones
        new = self.srv.ftp("alice", "newpw")
        up = data_bytes(200_000, seed=4)
        stor(new, "up.bin", up)
        self.assertEqual(self.srv.read("up.bin"), up)
        self.assertEqual(retr(old, "up.bin"), up)

        self.rewrite_users(users_line(self.srv, "bob", "bobpw", "elr"))
        self.hangup()
        self.assertLogged(r"1 account \(0 added, 1 removed, 0 changed\)")
        self.assertEqual(self.login_code("alice", "newpw"), 530)
        self.assertEqual(self.login_code("bob", "bobpw"), 230)
        self.assertEqual(retr(new, "f.bin"), data)

    def test_counts_of_a_reload_interleaved_by_name(self):
        # names that sort between, before and after the old ones, the file's order not theirs
        h = hash_password("pw")
        self.rewrite_users("".join(users_line(self.srv, n, "pw", "elr", h)
                                   for n in ("g", "c", "alice", "e", "a")))
        self.hangup()
        self.assertLogged(r"5 accounts \(4 added, 0 removed, 1 changed\)")
        self.rewrite_users("".join(users_line(self.srv, n, "pw", p, h)
                                   for n, p in (("h", "elr"), ("e", "elr"), ("c", "elrw"),
                                                ("b", "elr"), ("alice", "elr"))))
        self.hangup()
        self.assertLogged(r"5 accounts \(2 added, 2 removed, 1 changed\)")
        self.assertEqual(self.login_code("h", "pw"), 230)
        self.assertEqual(self.login_code("g", "pw"), 530)

    def test_a_users_file_that_does_not_load_changes_nothing(self):
        self.rewrite_users(users_line(self.srv, "alice", "alicepw", "elr") + "bob:no-home\n")
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users:2: .*; the accounts stay as they were")
        self.assertEqual(self.login_code("alice", "alicepw"), 230)
        self.assertEqual(self.login_code("bob", "x"), 530)
        os.unlink(self.srv.users_file)
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users: No such file or directory; the accounts stay")
        self.assertEqual(self.login_code("alice", "alicepw"), 230)
        self.assertIsNone(self.srv.proc.poll())

    def test_a_reload_that_leaves_no_account_is_warned_about(self):
        self.rewrite_users("# everyone gone\n")
        self.hangup()
        self.assertLogged(r"0 accounts \(0 added, 1 removed, 0 changed\)")
        self.assertLogged(r"WARN .*users holds no account and anonymous access is off: every "
                          r"login will be refused until a SIGHUP reads accounts from it")

    def test_a_directory_or_fifo_in_place_of_the_users_file_changes_nothing(self):
        # A FIFO would hold the worker that reads the file until someone wrote to it, and a
        # directory read as "read error".
        os.unlink(self.srv.users_file)
        os.mkdir(self.srv.users_file)
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users: a directory, not a users file; the accounts stay "
                          r"as they were")
        os.rmdir(self.srv.users_file)
        os.mkfifo(self.srv.users_file)
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users: not a regular file, not a users file; the accounts "
                          r"stay as they were")
        self.assertEqual(self.login_code("alice", "alicepw"), 230)
        os.unlink(self.srv.users_file)
        self.rewrite_users(users_line(self.srv, "bob", "bobpw", "elr"))
        self.hangup()
        self.assertLogged(r"1 account \(1 added, 1 removed, 0 changed\)")
        self.assertEqual(self.login_code("bob", "bobpw"), 230)

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_homes_of_a_reload_are_looked_at_off_the_loop(self):
        """Each home of the file read again is looked at (homecheck): one filesystem call per
        account, which a home on a hung mount holds for as long as it hangs. That must run
        on the worker that reads the file, never on the loop thread (the process's first)."""
        home = os.path.join(self.srv.base, "home-looked-at")
        os.mkdir(home)
        os.chmod(home, 0o755)
        self.rewrite_users(users_line(self.srv, "alice", "alicepw", "elr") +
                           "bob:%s:%s:elr\n" % (hash_password("bobpw"), home))
        pid = self.srv.proc.pid
        trace = os.path.join(self.srv.base, "strace.out")
        st = subprocess.Popen(["strace", "-f", "-p", str(pid), "-o", trace,
                               "-e", "trace=access,faccessat,faccessat2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(st.stderr.close)
        self.addCleanup(st.wait, 10)
        self.addCleanup(st.terminate)
        # "Process N attached with M threads", once it holds them all
        line = st.stderr.readline()
        if "attached" not in line:  # ptrace refused (a container's seccomp, yama)
            self.skipTest("strace cannot attach here: " + line.strip())
        self.hangup()
        self.assertLogged(r"SIGHUP: .*users read again: 2 accounts")
        st.terminate()
        st.wait(10)
        with open(trace) as fh:
            calls = [line for line in fh if home in line]
        self.assertTrue(calls, "the home was not looked at")
        for line in calls:
            self.assertNotEqual(int(line.split()[0]), pid, "on the loop thread: " + line)

    def test_hangups_in_quick_succession_end_with_the_last_file(self):
        self.rewrite_users(users_line(self.srv, "bob", "bobpw", "elr"))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.rewrite_users(users_line(self.srv, "carol", "carolpw", "elr"))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.login_code("carol", "carolpw") == 230, 10),
                        self.srv.log_text()[-2000:])
        self.assertEqual(self.login_code("bob", "bobpw"), 530)
        self.assertEqual(self.login_code("alice", "alicepw"), 530)

    def test_stop_right_after_a_hangup_is_clean(self):
        # the reading may still be on a worker when the server stops: nothing leaks (the
        # sanitizer build reports leaks at exit, which stop() fails on)
        self.rewrite_users(users_line(self.srv, "bob", "bobpw", "elr"))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.srv.stop(), 0)

    def reload_during_check(self, then_users):
        """Logs carol in with a dear hash (about half a second on a worker) and reads
        then_users in while that check runs; returns the PASS reply's code. If the signal
        overtakes the PASS, the check simply runs against then_users: the same answer."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import crypt
            except ImportError:
                self.skipTest("python3 has no crypt module for a slow SHA-512-crypt hash")
        slow = crypt.crypt("slowpw", crypt.mksalt(crypt.METHOD_SHA512, rounds=2_000_000))
        self.rewrite_users(users_line(self.srv, "alice", "alicepw", "elr") +
                           users_line(self.srv, "carol", "slowpw", "elr", pw_hash=slow))
        self.hangup()
        t0 = time.monotonic()
        self.assertEqual(self.login_code("carol", "slowpw"), 230)
        check = time.monotonic() - t0
        c = self.srv.control()
        c.cmd("USER carol")
        c.send(b"PASS slowpw\r\n")
        time.sleep(min(0.2, check / 4))
        self.rewrite_users(then_users)
        self.hangup()
        code, text = c.reply(timeout=30)
        c.close()
        self.assertEqual(self.login_code("alice", "alicepw"), 230)
        return code

    def test_an_account_removed_while_its_password_is_checked_is_refused(self):
        # the reload frees the table the check came from (ASan would see a use of it)
        self.assertEqual(self.reload_during_check(users_line(self.srv, "alice", "alicepw", "elr")),
                         530)

    def test_a_password_replaced_while_it_is_checked_no_longer_logs_in(self):
        base = users_line(self.srv, "alice", "alicepw", "elr")
        self.assertEqual(self.reload_during_check(base + users_line(self.srv, "carol", "newpw",
                                                                    "elr")), 530)
        self.assertEqual(self.login_code("carol", "newpw"), 230)

    def test_the_same_password_hashed_anew_while_it_is_checked_still_logs_in(self):
        base = users_line(self.srv, "alice", "alicepw", "elr")
        self.assertEqual(self.reload_during_check(base + users_line(self.srv, "carol", "slowpw",
                                                                    "elr")), 230)


class TestTransferLogReopen(ServerTestCase):
    def setUp(self):
        self.log = None
        super().setUp()

    def start_server(self, **kw):
        from ftpd_harness import FtpdServer
        srv = FtpdServer(**kw)
        self.log = os.path.join(srv.base, "xferlog")
        srv.args = ["--xferlog", self.log]
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def lines(self, path, n):
        def enough():
            if not os.path.exists(path):
                return None
            with open(path) as fh:
                ls = [line for line in fh if line.strip()]
            return ls if len(ls) >= n else None
        return wait_for(enough, 5) or []

    def test_a_log_that_was_not_rotated_is_kept_without_an_error(self):
        # a SIGHUP for the users file alone: the server's user (--user, or the log's mode
        # here) may not be able to open the file again, and need not
        data = self.srv.make_file("k.bin", 1000, seed=6)
        f = self.srv.ftp()
        self.assertEqual(retr(f, "k.bin"), data)
        self.assertEqual(len(self.lines(self.log, 1)), 1)
        os.chmod(self.log, 0o444)
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertLogged(r"SIGHUP: transfer log .*xferlog not rotated; writing on")
        self.assertNotIn("cannot reopen", self.srv.log_text())
        self.assertEqual(retr(f, "k.bin"), data)
        self.assertEqual(len(self.lines(self.log, 2)), 2)

    def test_rotated_log_is_reopened_and_the_next_transfer_goes_to_the_new_file(self):
        data = self.srv.make_file("a.bin", 123_456, seed=5)
        f = self.srv.ftp()
        self.assertEqual(retr(f, "a.bin"), data)
        self.assertEqual(len(self.lines(self.log, 1)), 1)
        os.rename(self.log, self.log + ".1")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertLogged(r"SIGHUP: transfer log .*xferlog reopened")
        self.assertEqual(retr(f, "a.bin"), data)  # the session lives on
        new = self.lines(self.log, 1)
        self.assertEqual(len(new), 1)
        self.assertIn(" 123456 ", new[0])
        self.assertIn("a.bin", new[0])
        self.assertEqual(len(self.lines(self.log + ".1", 1)), 1)


class TestCertificateReload(TlsServerMixin, unittest.TestCase):
    def setUp(self):
        # named files the server's user (--user when the tests run as root) can read again
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-cert-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        self.new_certificate(cert, key)
        self.srv = self.start_tls_server(args=["--tls-cert", cert, "--tls-key", key])
        self.srv.cafile = cert
        self.key = key

    def new_certificate(self, cert, key):
        tmp_cert, tmp_key = cert + ".new", key + ".new"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", tmp_key, "-out", tmp_cert],
                       check=True, capture_output=True, timeout=30)
        for path in (tmp_cert, tmp_key):
            os.chmod(path, 0o644)
        os.rename(tmp_key, key)
        os.rename(tmp_cert, cert)
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert],
                             check=True, capture_output=True, text=True).stdout
        return out.strip().split("=", 1)[1]

    def test_renewed_certificate_serves_new_connections_and_old_sessions_go_on(self):
        data = self.srv.make_file("t.bin", 700_000, seed=8)
        old = self.ftps()
        self.assertEqual(retr(old, "t.bin"), data)
        old_ca = os.path.join(self.tmp, "old-ca.pem")
        with open(self.srv.cafile, "rb") as src, open(old_ca, "wb") as dst:
            dst.write(src.read())
        fp = self.new_certificate(self.srv.cafile, self.key)

        self.srv.proc.send_signal(signal.SIGHUP)
        m = self.srv.wait_log(r"SIGHUP: TLS certificate \S+ \(read again\): SHA-256 fingerprint "
                              r"([0-9A-F:]{95})", 10)
        self.assertTrue(m, self.srv.log_text()[-2000:])
        self.assertEqual(m.group(1), fp)
        # the session from before: its data connections resume its session on the old context
        self.assertEqual(retr(old, "t.bin"), data)
        old.storbinary("STOR up.bin", io.BytesIO(data))  # ends with close_notify
        self.assertEqual(self.srv.read("up.bin"), data)
        # new connections get the new certificate
        self.assertEqual(retr(self.ftps(), "t.bin"), data)
        with self.assertRaises(ssl.SSLError):
            self.ftps(context=tls_context(old_ca))

        with open(self.srv.cafile, "w") as fh:
            fh.write("not a certificate\n")
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_log(r"SIGHUP: the TLS certificate stays as it was", 10),
                        self.srv.log_text()[-2000:])
        self.assertEqual(retr(old, "t.bin"), data)
        # the renewed certificate is still what new connections see
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        f = self.ftps(context=ctx)
        der = f.sock.getpeercert(binary_form=True)
        got = hashlib.sha256(der).hexdigest().upper()
        self.assertEqual(got, fp.replace(":", ""))
        self.assertEqual(retr(f, "t.bin"), data)


    @unittest.skipUnless(run_as_user(), "needs root: the server drops to --user")
    def test_a_renewed_key_the_server_user_cannot_read_is_named_with_the_reason(self):
        data = self.srv.make_file("k.bin", 1000, seed=10)
        fp = self.new_certificate(self.srv.cafile + ".renewed", self.key)
        os.chmod(self.key, 0o600)  # root's, as a renewal tool may leave it
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_log(r"SIGHUP: the TLS certificate stays as it was", 10),
                        self.srv.log_text()[-2000:])
        self.assertIn("ERROR SIGHUP: TLS: cannot load the private key %s: Permission denied"
                      % self.key, self.srv.log_text())
        self.assertNotIn(fp, self.srv.log_text())
        self.assertEqual(retr(self.ftps(), "k.bin"), data)


class TestGeneratedCertificateReload(TlsServerMixin, unittest.TestCase):
    @unittest.skipUnless(run_as_user(), "needs root: the server drops to --user")
    def test_a_generated_key_only_root_reads_is_kept_with_a_note_not_an_error(self):
        # the first start writes it as root, readable by root only; every log rotation
        # (SIGHUP) would otherwise log errors about a file the server made itself
        data = self.srv.make_file("g.bin", 1000, seed=11)
        for n in (1, 2):
            self.srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: self.srv.log_text().count(" read again: ") >= n,
                                     10), self.srv.log_text()[-2000:])
        m = self.srv.wait_log(r"INFO SIGHUP: the TLS certificate stays as it was: the server's "
                              r"user %s cannot read \S+ \(Permission denied\)" % run_as_user())
        self.assertTrue(m, self.srv.log_text()[-2000:])
        self.assertNotIn(" ERROR ", self.srv.log_text())
        self.assertEqual(retr(self.ftps(), "g.bin"), data)

    def test_a_reload_never_generates_a_new_certificate(self):
        # clients may have pinned the generated certificate: a missing one is an error
        data = self.srv.make_file("g.bin", 50_000, seed=9)
        state = os.path.dirname(self.srv.cafile)
        kept = os.path.join(self.tmp, "ca.pem")
        shutil.copy(self.srv.cafile, kept)
        for name in ("tls-cert.pem", "tls-key.pem"):
            os.unlink(os.path.join(state, name))
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_log(r"SIGHUP: the TLS certificate stays as it was", 10),
                        self.srv.log_text()[-2000:])
        self.assertEqual(sorted(os.listdir(state)), [])
        self.srv.cafile = kept
        self.assertEqual(retr(self.ftps(), "g.bin"), data)


class TestConfigFileNotReread(ServerTestCase):
    """A SIGHUP reads the users file, the certificate and the transfer log, not the -c
    file: an operator who edits it and reloads (systemctl reload) must hear that the change
    waits for a restart, not find out when it never takes effect."""
    server_kwargs = {"config": {"max-per-ip": 5}}

    def hangup_and_wait(self, n):
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.srv.log_text().count(" read again: ") >= n, 10),
                        self.srv.log_text()[-2000:])

    def test_a_changed_config_file_is_said_to_take_a_restart(self):
        conf = os.path.join(self.srv.base, "ftpd.conf")
        self.hangup_and_wait(1)
        # unchanged: nothing to say
        self.assertNotIn("take a restart", self.srv.log_text())
        with open(conf, "a") as fh:
            fh.write("max-per-ip = 1\n")
        os.utime(conf, (time.time() + 5, time.time() + 5))  # whatever the clock's grain
        self.hangup_and_wait(2)
        self.assertLogged(r"WARN SIGHUP: %s changed since ftpd started, but a SIGHUP does not "
                          r"read it: its settings take a restart" % re.escape(conf))
        # and the old setting indeed stands
        a, b = self.srv.ftp(), self.srv.ftp()
        a.quit()
        b.quit()

    def test_each_state_of_the_config_file_is_said_once(self):
        # a reload every minute (a deployment tool, a log rotator) repeated the same warning
        # every minute; an edit after it, or the file's removal, is news again
        conf = os.path.join(self.srv.base, "ftpd.conf")
        changed = "changed since ftpd started"

        def edit(seconds_ahead):
            with open(conf, "a") as fh:
                fh.write("# edited\n")
            when = time.time() + seconds_ahead  # whatever the clock's grain
            os.utime(conf, (when, when))

        edit(5)
        for n in (1, 2, 3):
            self.hangup_and_wait(n)
        self.assertEqual(self.srv.log_text().count(changed), 1, self.srv.log_text()[-3000:])
        edit(10)
        for n in (4, 5):
            self.hangup_and_wait(n)
        self.assertEqual(self.srv.log_text().count(changed), 2, self.srv.log_text()[-3000:])
        os.unlink(conf)
        for n in (6, 7):
            self.hangup_and_wait(n)
        self.assertEqual(self.srv.log_text().count("is gone since ftpd started"), 1,
                         self.srv.log_text()[-3000:])
        self.assertEqual(self.srv.log_text().count(changed), 2)


class TestWarningsSaidOnce(unittest.TestCase):
    """The warnings that start gives and each SIGHUP finds again (a users file in a served
    folder, a home the server cannot enter) are logged once per condition, and again when
    it changes or comes back."""

    def setUp(self):
        self.srv = FtpdServer(users=[("alice", "alicepw", "elr")])
        self.srv.anon_root = self.srv.base  # which holds the users file
        self.srv.start()
        self.addCleanup(self.srv.stop)
        self.hangups = 0

    def hangup(self):
        self.hangups += 1
        n = self.hangups
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.srv.log_text().count(" read again: ") >= n, 10),
                        self.srv.log_text()[-2000:])

    def rewrite_users(self, bob):
        # later's home is not there (yet)
        text = (users_line(self.srv, "alice", "alicepw", "elr") +
                "later:%s:%s:elr\n" % (hash_password("laterpw"),
                                       os.path.join(self.srv.base, "later-home")))
        if bob:
            text += "bob:%s:%s:elr\n" % (hash_password("bobpw"), self.srv.base)
        tmp = self.srv.users_file + ".new"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        self.srv.chown(tmp)
        os.rename(tmp, self.srv.users_file)

    def count(self, text):
        return self.srv.log_text().count(text)

    def test_a_condition_is_said_once_and_again_when_it_changes(self):
        anon = "WARN users file %s lies in the anonymous area" % self.srv.users_file
        home = "WARN account 'later': the server's user"
        bob = "WARN users file %s lies in the home of account 'bob'" % self.srv.users_file
        self.assertEqual(self.count(anon), 1, self.srv.log_text())
        self.hangup()
        self.hangup()
        self.assertEqual((self.count(anon), self.count(home), self.count(bob)), (1, 0, 0),
                         self.srv.log_text()[-3000:])
        # new accounts, one whose home holds the file, one whose home is not there: each is
        # said once, and the anonymous area not again
        self.rewrite_users(bob=True)
        self.hangup()
        self.hangup()
        self.assertEqual((self.count(anon), self.count(home), self.count(bob)), (1, 1, 1),
                         self.srv.log_text()[-3000:])
        # gone, then back: said again
        self.rewrite_users(bob=False)
        self.hangup()
        self.rewrite_users(bob=True)
        self.hangup()
        self.assertEqual((self.count(anon), self.count(home), self.count(bob)), (1, 1, 2),
                         self.srv.log_text()[-3000:])


class TestHangupDuringStart(unittest.TestCase):
    def test_a_sighup_while_the_files_load_waits_for_the_server_to_run(self):
        """A reload (systemctl reload, a log rotation) that comes while ftpd still reads its
        files (a large users file takes seconds) killed it: SIGHUP's default action. It is
        held until the server runs, and then read the users file again."""
        srv = FtpdServer()
        with open(srv.users_file, "w") as fh:
            fh.write(srv._users_text())
        srv.chown(srv.users_file)
        conf = os.path.join(srv.base, "ftpd.conf")
        os.mkfifo(conf)
        user = ["--user", run_as_user()] if run_as_user() else []
        p = subprocess.Popen([FTPD_BIN, "-c", conf] + user, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
        reader.start()
        try:
            # the open returns once ftpd has opened its end: it is reading its files now
            fd = os.open(conf, os.O_WRONLY)
            try:
                p.send_signal(signal.SIGHUP)
                time.sleep(0.2)  # for a SIGHUP not held, time to end the process
                os.write(fd, b"listen = 127.0.0.1:0\nusers = %s\nanonymous = off\n"
                         % srv.users_file.encode())
            except BrokenPipeError:
                pass  # ended by the signal: the assertions below say so
            finally:
                os.close(fd)
            reloaded = wait_for(lambda: any(" read again: " in line for line in lines)
                                or p.poll() is not None, 10)
            log = "".join(lines)
            self.assertTrue(reloaded, log)
            self.assertIsNone(p.poll(), "ftpd ended (%s):\n%s" % (p.returncode, log))
            self.assertIn(" ready (", log)
            # a pipe is read once: no "changed since ftpd started" for it
            self.assertNotIn("since ftpd started", log)
        finally:
            p.terminate()
            p.wait(10)
            reader.join(5)
            p.stderr.close()
            shutil.rmtree(srv.base, True)
        self.assertEqual(p.returncode, 0, "".join(lines))


if __name__ == "__main__":
    unittest.main()
