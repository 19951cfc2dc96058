"""ftpd's command line: --version, --help, bad flags, --hash-password, -c FILE, --user."""
import fcntl
import ftplib
import os
import pty
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import termios
import time
import unittest

from ftpd_harness import (FTPD_BIN, FtpdServer, ServerTestCase, free_port, hash_password, nlst,
                          port_is_free, read_pty, reply, retr, run_as_user, stor)


def run(args, **kw):
    """Runs ftpd with args (plus --user when root, so that errors are about args)."""
    kw.setdefault("timeout", 20)
    user = ["--user", run_as_user()] if run_as_user() else []
    return subprocess.run([FTPD_BIN] + args + user, capture_output=True, text=True, **kw)


class TestCommandLine(unittest.TestCase):
    def test_version_exits_0(self):
        r = run(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"\d+\.\d+")

    def test_help_exits_0_and_lists_flags(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout + r.stderr
        for flag in ("--listen", "--users", "--anonymous", "--no-anonymous", "--max-sessions",
                     "--max-per-ip", "--idle-timeout", "--max-login-failures", "--user",
                     "--xferlog", "--log-level", "--pasv-ports", "--hash-password"):
            self.assertIn(flag, text)

    def test_bad_flag_exits_2_with_message(self):
        r = run(["--no-such-flag"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no-such-flag", r.stderr)

    def test_bad_flag_values_exit_2(self):
        for args in (["--listen", "not-an-address"], ["--max-sessions", "many"],
                     ["--log-level", "loud"], ["--idle-timeout", "-5"]):
            r = run(args + ["--no-anonymous"])
            self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stdout + r.stderr))
            self.assertTrue(r.stderr.strip(), args)

    def test_start_up_failures_exit_1_with_the_reason(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            # the errors of a listener say what to do about them
            for args, reason in ((["--listen", "127.0.0.1:%d" % port],
                                  "Address already in use (another program, or another ftpd, "
                                  "listens there: ss -ltnp names it)"),
                                 (["--listen", "192.0.2.1:%d" % port],  # TEST-NET-1: not ours
                                  "(no interface of this host has that address)"),
                                 (["--listen", "127.0.0.1:0", "--xferlog", "/"], "Is a directory")):
                r = run(args + ["--anonymous", os.path.dirname(os.path.abspath(__file__))])
                self.assertEqual(r.returncode, 1, "%s: %s" % (args, r.stderr))
                self.assertIn(reason, r.stderr)
                self.assertNotIn("Sanitizer", r.stderr)
                # a server that never started served nothing: the error is the last word
                self.assertNotIn("served", r.stderr)
        finally:
            busy.close()

    def test_a_privileged_port_without_root_says_how_to_get_it(self):
        kw = {"user": run_as_user()} if run_as_user() else {}
        r = subprocess.run([FTPD_BIN, "--listen", "127.0.0.1:21", "--anonymous",
                            os.path.dirname(os.path.abspath(__file__))],
                           capture_output=True, text=True, timeout=20, **kw)
        if r.returncode == 0 or "Permission denied" not in r.stderr:
            self.skipTest("this user may bind port 21: %s" % r.stderr[-300:])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot listen on 127.0.0.1:21: Permission denied (ports below 1024 need "
                      "root: start ftpd as root with --user NAME", r.stderr)

    def test_missing_users_file_fails_cleanly(self):
        r = run(["--users", "/nonexistent/users-file", "--listen", "127.0.0.1:0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/users-file", r.stderr)

    def test_hash_password_makes_a_working_hash(self):
        r = run(["--hash-password"], input="s3cret-Hash\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        h = r.stdout.strip().splitlines()[-1].strip()
        self.assertTrue(h.startswith("$"), h)
        self.assertNotIn("s3cret-Hash", r.stdout)
        srv = FtpdServer(users=[("hashy", "unused", "elr")])
        srv._users_text = lambda: "hashy:%s:%s:elr\n" % (h, srv.root)
        with srv:
            srv.write("x.txt", b"hello")
            f = srv.ftp("hashy", "s3cret-Hash")
            self.assertEqual(retr(f, "x.txt"), b"hello")
            f.quit()
            c = srv.control()
            c.cmd("USER hashy")
            self.assertEqual(c.cmd("PASS wrong-one")[0], 530)

    def test_hash_password_refuses_a_password_on_the_command_line(self):
        # it would be ignored (the hash is of standard input) and left in the shell's history
        r = run(["--hash-password", "s3cret-On-Cmdline"], input="other\n")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("--hash-password takes no argument", r.stderr)
        self.assertNotIn("s3cret-On-Cmdline", r.stderr)

    def hash_on_a_terminal(self, typed):
        """ftpd --hash-password on a pseudo-terminal, fed the lines typed one a prompt:
        (exit status, standard output, what the terminal showed)."""
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        p = subprocess.Popen([FTPD_BIN, "--hash-password"], stdin=slave,
                             stdout=subprocess.PIPE, stderr=slave)
        shown = b""
        try:
            for line in typed:
                shown += read_pty(master, 10, done=lambda d: d.rstrip().endswith(b":"))
                os.write(master, line)
            out = p.communicate(timeout=10)[0]
            shown += read_pty(master, 2, proc=p)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return p.returncode, out.decode(), shown.decode()

    def test_a_password_typed_on_a_terminal_is_asked_twice(self):
        # typed without echo, a slip of a finger would hash a password nobody knows, found
        # out only when the account cannot log in: the two must match
        code, out, shown = self.hash_on_a_terminal([b"Typed-pw-1\n", b"Typed-pw-2\n"])
        self.assertEqual(code, 2, shown)
        self.assertEqual(out, "")
        self.assertIn("Again: ", shown)
        self.assertIn("do not match", shown)
        self.assertNotIn("Typed-pw", shown)
        code, out, shown = self.hash_on_a_terminal([b"Typed-pw-1\n", b"Typed-pw-1\n"])
        self.assertEqual(code, 0, shown)
        h = out.strip()
        self.assertTrue(h.startswith("$6$"), out)
        srv = FtpdServer(users=[("typed", "unused", "elr")])
        srv._users_text = lambda: "typed:%s:%s:elr\n" % (h, srv.root)
        with srv:
            srv.ftp("typed", "Typed-pw-1").quit()
        # Ctrl-D at the prompt ends the prompt's line before the message
        code, out, shown = self.hash_on_a_terminal([b"\x04"])
        self.assertEqual(code, 2, shown)
        self.assertRegex(shown, r"Password: *\r?\nftpd: --hash-password: no password")
        # ...and at the second, it is not taken for a password that differs
        code, out, shown = self.hash_on_a_terminal([b"Typed-pw-1\n", b"\x04"])
        self.assertEqual(code, 2, shown)
        self.assertIn("no second entry of the password", shown)
        self.assertNotIn("do not match", shown)

    def test_ctrl_c_at_the_password_prompt_gives_the_terminal_its_echo_back(self):
        # The prompt turns echo off; a Ctrl-C (or Ctrl-\\) there must not leave the shell
        # typing blind.
        for key, sig in ((b"\x03", signal.SIGINT), (b"\x1c", signal.SIGQUIT)):
            with self.subTest(signal=sig.name):
                master, slave = pty.openpty()
                self.addCleanup(os.close, master)
                self.addCleanup(os.close, slave)

                def controlling_terminal():
                    os.setsid()
                    fcntl.ioctl(0, termios.TIOCSCTTY, 0)

                p = subprocess.Popen([FTPD_BIN, "--hash-password"], stdin=slave,
                                     stdout=subprocess.PIPE, stderr=slave,
                                     preexec_fn=controlling_terminal)
                try:
                    prompt = read_pty(master, 10, done=lambda d: b"Password: " in d)
                    self.assertIn(b"Password: ", prompt)
                    self.assertFalse(termios.tcgetattr(slave)[3] & termios.ECHO)
                    os.write(master, key)
                    self.assertEqual(p.wait(10), -sig)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                    p.stdout.close()
                self.assertTrue(termios.tcgetattr(slave)[3] & termios.ECHO)


class TestConfigFile(ServerTestCase):
    """-c FILE takes the same keys as the long flags."""

    server_kwargs = {"config": {"max-login-failures": 1, "login-failure-delay": 50,
                                "idle-timeout": 30}}

    def test_config_file_settings_apply(self):
        self.srv.write("c.txt", b"config")
        f = self.srv.ftp()
        self.assertEqual(retr(f, "c.txt"), b"config")
        f.quit()
        # max-login-failures = 1: the first wrong password ends the session
        c = self.srv.control()
        c.cmd("USER " + self.srv.user)
        code, text = c.cmd("PASS wrong")
        self.assertEqual(code, 530, text)
        try:
            code2, text2 = c.reply(timeout=5)
            self.assertEqual(code2, 421, text2)
        except EOFError:
            pass
        self.assertTrue(c.closed(5))

    def test_flags_win_over_config_file(self):
        srv = self.start_server(config={"max-per-ip": 5}, args=["--max-per-ip", "1"])
        c1 = srv.control()
        c2 = srv.control(greet=False)
        code, text = c2.reply()
        self.assertEqual(code, 421, text)
        c1.close()


SOURCE_DIR = os.environ.get("FTP_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
SAMPLE_PUB = os.path.join(SOURCE_DIR, "sample_data", "pub")


def readable_by_others(path):
    """True if every directory down to path lets other users in (the server may run as
    nobody)."""
    p = os.path.abspath(path)
    while True:
        if not os.stat(p).st_mode & 0o005:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


class TestCreatedModes(unittest.TestCase):
    """--umask sets the modes of uploaded files and made folders (from 0666 and 0777),
    whatever umask ftpd inherited; a file replaced by an upload keeps its own mode."""

    def serve(self, inherited, **kw):
        old = os.umask(inherited)
        try:
            srv = FtpdServer(**kw)
            srv.start()
        finally:
            os.umask(old)
        self.addCleanup(srv.stop)
        return srv

    def upload_and_mkdir(self, srv):
        f = srv.ftp()
        stor(f, "new.bin", b"x" * 1000)
        f.mkd("made")
        f.quit()
        return (os.stat(srv.local("new.bin")).st_mode & 0o7777,
                os.stat(srv.local("made")).st_mode & 0o7777)

    def test_default_is_022_whatever_the_inherited_umask(self):
        srv = self.serve(0o077)
        self.assertEqual(self.upload_and_mkdir(srv), (0o644, 0o755))

    def test_umask_002_makes_them_group_writable(self):
        srv = self.serve(0o022, args=["--umask", "002"])
        self.assertEqual(self.upload_and_mkdir(srv), (0o664, 0o775))

    def test_umask_from_the_config_file_and_a_replaced_file_keeps_its_mode(self):
        srv = self.serve(0o022, config={"umask": "027"})
        srv.write("old.bin", b"old")
        os.chmod(srv.local("old.bin"), 0o600)
        self.assertEqual(self.upload_and_mkdir(srv), (0o640, 0o750))
        f = srv.ftp()
        stor(f, "old.bin", b"new contents")
        f.quit()
        self.assertEqual(srv.read("old.bin"), b"new contents")
        self.assertEqual(os.stat(srv.local("old.bin")).st_mode & 0o7777, 0o600)

    def test_transfer_log_is_never_writable_by_others(self):
        # the mask is for the clients' files: 000 must not make the server's own log, created
        # as root before the privileges are dropped, a file anyone can forge lines into
        d = tempfile.mkdtemp(prefix="ftpd-e2e-umask-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        log = os.path.join(d, "xfer.log")
        srv = self.serve(0o022, args=["--umask", "000", "--xferlog", log])
        self.assertEqual(self.upload_and_mkdir(srv), (0o666, 0o777))
        self.assertEqual(os.stat(log).st_mode & 0o7777, 0o644)

    def test_bad_masks_exit_2(self):
        for mask in ("999", "0o22", "1000", "", "-1", "22x"):
            r = run(["--umask", mask, "--no-anonymous"])
            self.assertEqual(r.returncode, 2, "%r: %s" % (mask, r.stdout + r.stderr))
            self.assertIn("umask", r.stderr)


class TestBanner(unittest.TestCase):
    def test_default_names_ftpd(self):
        with FtpdServer() as srv:
            c = srv.control(greet=False)
            code, text = c.reply()
            self.assertEqual(code, 220)
            self.assertRegex(text, r"^220 ftpd \d+\.\d+\.\d+ ready\.$")

    def test_banner_replaces_the_greeting(self):
        with FtpdServer(config={"banner": "Example Corp file drop: authorised users only"}) as srv:
            c = srv.control(greet=False)
            self.assertEqual(c.reply(), (220, "220 Example Corp file drop: authorised users only"))
            c.login()
            self.assertEqual(c.cmd("PWD")[0], 257)

    def test_quotes_around_a_value_in_the_config_file_are_not_part_of_it(self):
        # `banner = "..."` is how many configuration files quote a text: the quotes must
        # not end up in every client's greeting, nor in a path
        srv = FtpdServer(config={"banner": '"Example Corp: authorised users only"'})
        srv.config["users"] = "'%s'" % srv.users_file
        srv.config["anonymous"] = '"%s"' % srv.anon_root
        with srv:
            c = srv.control(greet=False)
            self.assertEqual(c.reply(), (220, "220 Example Corp: authorised users only"))
            c.login()
            self.assertEqual(c.cmd("PWD")[0], 257)
            srv.ftp("anonymous", "guest@").quit()
        # a quote that does not wrap the whole value is part of it
        for text in ('"Hi" and "bye"', 'say "hi"', '"open'):
            with FtpdServer(config={"banner": text}) as srv:
                c = srv.control(greet=False)
                self.assertEqual(c.reply(), (220, "220 " + text))

    def test_bad_banners_exit_2(self):
        for text in ("two\r\n230 lines", "bell\a", "", "x" * 201):
            r = run(["--banner", text, "--no-anonymous"])
            self.assertEqual(r.returncode, 2, "%r: %s" % (text, r.stdout + r.stderr))
            self.assertIn("banner", r.stderr)

    def test_a_nul_byte_in_the_config_file_is_refused_not_cut_at(self):
        # The line was read up to the NUL: a banner lost its end without a word, as would a
        # path (a file saved as UTF-16 has a NUL in every line).
        d = tempfile.mkdtemp(prefix="ftpd-e2e-nul-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        conf = os.path.join(d, "ftpd.conf")
        for line in (b"banner = Example Corp\0: authorised users only\n",
                     b"banner = \0\n", b"# a comment\0\n",
                     b"max-sessions = 5\0 0\n"):
            with open(conf, "wb") as fh:
                fh.write(b"listen = 127.0.0.1:0\nanonymous = %s\n" % d.encode() + line)
            for check in (["--check"], []):
                with self.subTest(line=line, check=check):
                    r = run(check + ["-c", conf])
                    self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                    self.assertIn("ftpd: %s:3: the line holds a NUL byte" % conf, r.stderr)
        # the banner as meant, without the NUL, is taken
        with open(conf, "wb") as fh:
            fh.write(b"listen = 127.0.0.1:0\nanonymous = %s\nbanner = Example Corp\n" % d.encode())
        r = run(["--check", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class TestCheck(unittest.TestCase):
    """--check reads everything start-up reads, serves nothing and says whether ftpd would
    start: 0 yes, 1 a start-up failure (certificate, transfer log), 2 a bad setting."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ftpd-e2e-check-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o777)

    def check(self, *args):
        port = free_port()
        r = run(["--check", "--listen", "127.0.0.1:%d" % port,
                 "--anonymous", self.dir] + list(args))
        # nothing was bound: the port is still free
        self.assertTrue(port_is_free(port))
        return r

    def file(self, name, mode=0o644):
        """A regular file in the test's folder, where a path needs a folder."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as fh:
            fh.write("#!/bin/sh\n")
        os.chmod(path, mode)
        return path

    def one_account(self, name, home):
        """A users file in the test's folder with the one account name (password pw)."""
        users = os.path.join(self.dir, "users")
        with open(users, "w") as fh:
            fh.write("%s:%s:%s\n" % (name, hash_password("pw"), home))
        os.chmod(users, 0o644)
        return users

    def test_good_configuration_exits_0_with_a_summary(self):
        r = self.check("--max-rate", "10M", "--umask", "002", "--xferlog",
                       os.path.join(self.dir, "xfer.log"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^  anonymous +%s \(read-only\)$" % self.dir)
        self.assertRegex(r.stdout, r"(?m)^  limits .*max-rate 10(\.0)? MiB/s$")
        self.assertRegex(r.stdout, r"(?m)^  umask +002$")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "xfer.log")))

    def test_a_certificate_while_tls_is_off_is_warned_about_as_at_start(self):
        for option in ("--tls-cert", "--tls-key"):
            r = self.check(option, self.file("cert.pem"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("WARN %s is set but TLS is off: give --tls" % option[2:], r.stderr)
            self.assertRegex(r.stdout, r"(?m)^  TLS +off$")

    def test_a_home_the_server_cannot_enter_is_warned_about_as_at_start(self):
        # --check runs as the one who starts the server (root, with --user): it looks at the
        # homes as the server's user would, not with root's rights
        shut = os.path.join(self.dir, "shut")
        os.mkdir(shut, 0)
        self.addCleanup(os.chmod, shut, 0o755)
        r = self.check("--users", self.one_account("shut", shut))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"WARN account 'shut': the server's user.* cannot enter its "
                         r"home %s \(Permission denied\)" % shut)
        self.assertNotIn("anonymous:", r.stderr)  # self.dir: open to all

    def test_a_missing_home_is_warned_about_not_fatal(self):
        # one account's folder removed must not keep the server, and everyone else, down
        missing = os.path.join(self.dir, "gone")
        r = self.check("--users", self.one_account("gone", missing))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"WARN account 'gone': .*cannot enter its home %s \(No such "
                         r"file or directory\), so its logins will be refused" % missing)

    def test_transfer_log_that_cannot_be_created_exits_1(self):
        r = self.check("--xferlog", os.path.join(self.dir, "missing", "xfer.log"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot create transfer log", r.stderr)
        self.assertIn("ftpd would not start", r.stdout)

    def test_transfer_log_under_a_file_exits_1(self):
        # an executable file as the "folder": root's access(2) lets it pass, open(2) does not
        r = self.check("--xferlog", os.path.join(self.file("script", 0o755), "xfer.log"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Not a directory", r.stderr)

    def test_certificate_that_does_not_load_exits_1(self):
        bad = os.path.join(self.dir, "bad.pem")
        with open(bad, "w") as fh:
            fh.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        os.chmod(bad, 0o644)
        r = self.check("--tls-cert", bad, "--tls")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("TLS", r.stderr)

    def key_pair(self, name):
        """A self-signed certificate and its key, in two files of the test's folder."""
        cert, key = (os.path.join(self.dir, name + s) for s in ("-cert.pem", "-key.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        return cert, key

    @unittest.skipUnless(shutil.which("openssl"), "needs openssl")
    def test_certificate_and_key_mistakes_are_named_in_plain_words(self):
        cert, key = self.key_pair("a")
        other_cert, other_key = self.key_pair("b")
        for args, says in (
                # the key looked for in the certificate's file, where there is none
                (["--tls-cert", cert], "holds no private key (without --tls-key, the key is "
                                       "looked for in the --tls-cert file)"),
                (["--tls-cert", key, "--tls-key", key], "holds no certificate"),
                (["--tls-cert", cert, "--tls-key", other_key], "does not belong to the "
                                                               "certificate")):
            r = self.check("--tls", *args)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn(says, r.stderr)
            self.assertNotIn("PEM lib", r.stderr)
        # a key under a passphrase: on a terminal, OpenSSL would ask for it at start, and at
        # each SIGHUP again, where the server cannot wait for anyone to type
        locked = os.path.join(self.dir, "locked-key.pem")
        subprocess.run(["openssl", "pkey", "-in", key, "-aes256", "-passout", "pass:abcd",
                        "-out", locked], check=True, capture_output=True)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        user = ["--user", run_as_user()] if run_as_user() else []
        p = subprocess.Popen([FTPD_BIN, "--check", "--listen", "127.0.0.1:0", "--anonymous",
                              self.dir, "--tls", "--tls-cert", cert, "--tls-key", locked] + user,
                             stdin=slave, stdout=subprocess.PIPE, stderr=slave)
        try:
            shown = read_pty(master, 10, proc=p).decode()
            self.assertEqual(p.wait(5), 1, shown)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        self.assertNotIn("pass phrase", shown)
        self.assertIn("is encrypted with a passphrase", shown)

    def test_certificate_yet_to_be_generated_is_fine_and_not_made(self):
        state = os.path.join(self.dir, "state")
        r = self.check("--tls", "--state-dir", state)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("generated at the first start", r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  TLS +offered$")
        self.assertFalse(os.path.exists(state))

    def test_state_directory_that_cannot_be_made_exits_1(self):
        # a first start would fail to create it: the check must not call that fine
        r = self.check("--tls", "--state-dir", os.path.join(self.file("a-file"), "state"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot create the certificate in the state directory", r.stderr)
        self.assertIn("Not a directory", r.stderr)
        self.assertIn("ftpd would not start", r.stdout)

    def test_state_directory_where_nothing_can_be_made_exits_1_even_for_root(self):
        # access() says root may write into /proc: a start then failed where --check said OK
        r = self.check("--tls", "--state-dir", "/proc/ftpd-state-check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot create the certificate in the state directory", r.stderr)
        self.assertEqual(os.listdir("/proc").count("ftpd-state-check"), 0)

    def test_transfer_log_where_nothing_can_be_made_exits_1_even_for_root(self):
        # the same for the transfer log: --check said OK, and the start failed with "cannot
        # open transfer log"
        path = "/proc/ftpd-xferlog-check"
        r = self.check("--xferlog", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot create transfer log %s" % path, r.stderr)
        r = run(["--listen", "127.0.0.1:0", "--anonymous", self.dir, "--xferlog", path])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(os.listdir("/proc").count("ftpd-xferlog-check"), 0)

    def test_listeners_that_cannot_all_be_bound_exit_2_as_a_start_would_fail(self):
        # Each pair would pass a --check that binds nothing, then fail at start with an
        # "Address already in use" that names no culprit.
        p = free_port()
        state = ["--state-dir", os.path.join(self.dir, "state")]
        for args, message in (
                (["--listen-implicit", "127.0.0.1:%d" % p] * 2, "is given twice"),
                (["--listen", "127.0.0.1:%d" % p, "--listen-implicit", "127.0.0.1:%d" % p],
                 "listen '127.0.0.1:%d' and listen-implicit '127.0.0.1:%d'" % (p, p)),
                (["--listen", "0.0.0.0:%d" % p, "--listen", "127.0.0.1:%d" % p],
                 "'0.0.0.0:%d' and '127.0.0.1:%d' take the same port" % (p, p)),
                (["--listen", "127.0.0.1:%d" % p, "--listen-implicit", "127.0.0.1:%d" % p,
                  "--listen-implicit", "0.0.0.0:%d" % p], "take the same port"),
                # IPv6 listeners are IPv6-only: the bind failed with "Invalid argument"
                (["--listen", "[::ffff:127.0.0.1]:%d" % p], "is an IPv4-mapped address"),
                (["--listen-implicit", "[::ffff:127.0.0.1]:%d" % p],
                 "is an IPv4-mapped address")):
            for check in (["--check"], []):
                with self.subTest(args=args, check=check):
                    r = run(check + ["--anonymous", self.dir] + state + args)
                    self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                    self.assertIn(message, r.stderr)
                    self.assertNotIn("Address already in use", r.stderr)
                    self.assertNotIn("Invalid argument", r.stderr)
        # The families do not share ports (IPv6 listeners are IPv6-only), nor do port 0s.
        r = run(["--check", "--anonymous", self.dir, "--listen", "0.0.0.0:%d" % p,
                 "--listen", "[::]:%d" % p, "--listen", "127.0.0.1:0", "--listen",
                 "0.0.0.0:0"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_an_ipv6_wildcard_without_ipv4_on_its_port_is_noted(self):
        # [::] is IPv6-only here, whatever net.ipv6.bindv6only says, and many guides say it
        # takes both families: a server given only [::]:21 turned IPv4 clients away without
        # a word. (--check runs the same start-up step without binding a wildcard address.)
        p, q = free_port(), free_port()
        state = ["--state-dir", os.path.join(self.dir, "state")]
        hint = ("INFO listen [::]:%d listens for IPv6 only: IPv4 clients are not accepted on "
                "it, and no IPv4 listener is on port %d; add --listen 0.0.0.0:%d (listen = "
                "0.0.0.0:%d in a config file) to serve them too" % (p, p, p, p))
        r = run(["--check", "--anonymous", self.dir, "--listen", "[::]:%d" % p])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(hint, r.stderr)
        self.assertEqual(r.stderr.count("IPv6 only"), 1, r.stderr)
        r = run(["--check", "--anonymous", self.dir, "--listen", "[::1]:%d" % q] + state +
                ["--listen-implicit", "[::]:%d" % p])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("INFO listen-implicit [::]:%d listens for IPv6 only" % p, r.stderr)
        self.assertIn("add --listen-implicit 0.0.0.0:%d" % p, r.stderr)
        self.assertNotIn("listen [::1]", r.stderr)
        # IPv4 on other ports only, or on the port but for the other option: IPv4 clients
        # of [::]'s port still reach nothing (or not the service they asked for)
        for args in (["--listen", "[::]:%d" % p, "--listen", "127.0.0.1:%d" % q],
                     ["--listen", "[::]:%d" % p, "--listen", "0.0.0.0:%d" % q],
                     ["--listen", "[::]:%d" % p, "--listen-implicit", "127.0.0.1:%d" % q]
                     + state,
                     ["--listen", "[::]:%d" % p, "--listen", "[::]:%d" % q,
                      "--listen", "0.0.0.0:%d" % q]):
            with self.subTest(args=args):
                r = run(["--check", "--anonymous", self.dir] + args)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn(hint, r.stderr)
                self.assertEqual(r.stderr.count("IPv6 only"), 1, r.stderr)
        # an IPv4 listener on the same port, wildcard or not, or no wildcard: nothing to say
        for args in (["--listen", "[::]:%d" % p, "--listen", "0.0.0.0:%d" % p],
                     ["--listen", "[::]:%d" % p, "--listen", "127.0.0.1:%d" % p],
                     ["--listen", "[::]:%d" % p, "--listen", "127.0.0.1:%d" % p,
                      "--listen", "127.0.0.1:%d" % q],
                     ["--listen", "[::1]:%d" % p]):
            with self.subTest(args=args):
                r = run(["--check", "--anonymous", self.dir] + state + args)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertNotIn("IPv6 only", r.stderr)

    def test_a_passive_range_that_holds_a_listening_port_is_warned_about(self):
        # The listener holds that port on its address, where the session's passive
        # connections are opened: one port of the range is never to be had, silently.
        p = free_port(3)
        q = free_port()
        state = ["--state-dir", os.path.join(self.dir, "state")]
        for args, warned in (
                (["--listen", "127.0.0.1:%d" % (p + 1)], "listen 127.0.0.1:%d" % (p + 1)),
                (["--listen", "0.0.0.0:%d" % p], "listen 0.0.0.0:%d" % p),
                (["--listen", "[::1]:%d" % (p + 2)], "listen [::1]:%d" % (p + 2)),
                (["--listen", "127.0.0.1:%d" % q, "--listen-implicit", "127.0.0.1:%d" % p]
                 + state, "listen-implicit 127.0.0.1:%d" % p),
                (["--listen", "127.0.0.1:%d" % q], None),
                (["--listen", "127.0.0.1:%d" % (p + 3)], None)):
            with self.subTest(args=args):
                r = run(["--check", "--anonymous", self.dir, "--pasv-ports",
                         "%d-%d" % (p, p + 2)] + args)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                if warned is None:
                    self.assertNotIn("pasv-ports", r.stderr)
                    continue
                port = int(warned.rsplit(":", 1)[1])
                self.assertIn("WARN pasv-ports %d-%d holds port %d, where ftpd listens (%s): no "
                              "passive data connection can be opened on it there; choose a "
                              "range apart from the listening ports"
                              % (p, p + 2, port, warned), r.stderr)
                self.assertEqual(r.stderr.count("WARN pasv-ports"), 1, r.stderr)
        # at start too, and the other ports of the range still serve
        with FtpdServer(listen="127.0.0.1:%d" % p,
                        args=["--pasv-ports", "%d-%d" % (p, p + 1)]) as srv:
            self.assertIsNotNone(srv.wait_log(r"WARN pasv-ports %d-%d holds port %d, where "
                                              r"ftpd listens \(listen 127\.0\.0\.1:%d\)"
                                              % (p, p + 1, p, p)), srv.log_text()[-2000:])
            srv.write("f.txt", b"passive")
            f = srv.ftp()
            for _ in range(3):
                self.assertEqual(f.sendcmd("TYPE I")[:3], "200")
                self.assertEqual(retr(f, "f.txt"), b"passive")
            f.quit()

    def test_listen_implicit_flags_replace_those_of_the_file(self):
        # As --listen does: "options on the command line override the configuration file".
        p1, p2 = free_port(), free_port()
        conf = os.path.join(self.dir, "ftpd.conf")
        with open(conf, "w") as fh:
            fh.write("listen-implicit = 127.0.0.1:%d\nlisten-implicit = [::1]:%d\n" % (p1, p1))
        r = run(["--check", "-c", conf, "--anonymous", self.dir, "--listen", "127.0.0.1:0",
                 "--state-dir", os.path.join(self.dir, "state"),
                 "--listen-implicit", "127.0.0.1:%d" % p2])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  listen .*; implicit FTPS 127\.0\.0\.1:%d$" % p2)

    def test_summary_shows_the_passive_ports_and_whom_the_server_runs_as(self):
        # what a NAT set-up and a firewall depend on, and the account that must reach the
        # homes: an operator checking a changed file looks for them in the summary
        r = self.check("--pasv-ports", "50000-50999", "--pasv-address", "203.0.113.10")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  passive +ports 50000-50999, 203\.0\.113\.10 in "
                                   r"PASV replies$")
        who = run_as_user() or pwd.getpwuid(os.geteuid()).pw_name
        self.assertRegex(r.stdout, r"(?m)^  runs as +%s$" % who)
        r = self.check()
        self.assertRegex(r.stdout, r"(?m)^  passive +any port, the control connection's "
                                   r"address in PASV replies$")

    def test_a_key_given_twice_in_the_file_is_warned_about(self):
        # an operator who edits the first of two lines sees no effect: the later one counts,
        # and a warning names both lines
        conf = os.path.join(self.dir, "ftpd.conf")
        with open(conf, "w") as fh:
            fh.write("# limits\nmax-per-ip = 5\nmax-sessions = 50\n\nmax-per-ip = 7\n"
                     "listen = 127.0.0.1:0\nlisten = [::1]:0\n")
        r = self.check("-c", conf)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^  limits +50 sessions, 7 per address")
        self.assertIn("%s:5: max-per-ip is set again (first on line 2): the value here counts"
                      % conf, r.stderr)
        # listen is meant to be repeated; a flag's value is no repeat of the file's
        self.assertNotIn("listen", r.stderr)
        r = self.check("-c", conf, "--max-sessions", "60")
        self.assertNotIn("max-sessions", r.stderr)
        self.assertEqual(r.stderr.count("is set again"), 1, r.stderr)

    def test_a_users_file_anyone_can_change_is_warned_about(self):
        # anyone on the host could add an account with every permission, which the next
        # SIGHUP would let in
        home = os.path.join(self.dir, "home")
        os.mkdir(home)
        d = os.path.join(self.dir, "etc")
        os.mkdir(d)
        os.chmod(d, 0o755)
        users = os.path.join(d, "users")
        with open(users, "w") as fh:
            fh.write("alice:%s:%s\n" % (hash_password("pw"), home))
        args = ["--check", "--listen", "127.0.0.1:0", "--users", users, "--no-anonymous"]
        for file_mode, dir_mode, warned in ((0o644, 0o755, None), (0o666, 0o755, users),
                                            (0o644, 0o777, d), (0o644, 0o1777, None)):
            os.chmod(users, file_mode)
            os.chmod(d, dir_mode)
            r = run(args)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            if warned is None:
                self.assertNotIn("could add an account", r.stderr)
            else:
                self.assertIn("WARN users file %s: %s is writable by every user of this host, "
                              "so anyone could add an account" % (users, warned), r.stderr)

    def test_a_users_file_or_key_clients_can_download_is_warned_about(self):
        # /srv/ftp/users beside the homes it names is natural, and the server's user must
        # read it for a SIGHUP: inside a served folder, a client can RETR the hashes
        sub = os.path.join(self.dir, "pub")
        os.mkdir(sub)
        os.chmod(sub, 0o755)
        users = self.one_account("alice", sub)
        r = self.check("--users", users)  # self.dir is the anonymous area
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("WARN users file %s lies in the anonymous area %s, where anonymous "
                      "clients could download it (the password hashes): ftpd refuses them that "
                      "file, but not a copy of it, nor a file put in its place before the next "
                      "SIGHUP; keep it outside every served folder" % (users, self.dir),
                      r.stderr)
        # a home that holds it, for an account that may download (elr by default)
        r = run(["--check", "--listen", "127.0.0.1:0", "--users", users, "--no-anonymous"])
        self.assertNotIn("lies in", r.stderr)
        with open(users, "w") as fh:
            fh.write("alice:%s:%s\nbob:%s:%s:el\n" % (hash_password("pw"), self.dir,
                                                      hash_password("pw"), self.dir))
        key = self.file("key.pem")
        conf = os.path.join(self.dir, "ftpd.conf")
        with open(conf, "w") as fh:
            fh.write("listen = 127.0.0.1:0\n")
        r = run(["--check", "-c", conf, "--users", users, "--no-anonymous",
                 "--xferlog", os.path.join(self.dir, "xfer.log"), "--tls-key", key])
        self.assertIn("WARN users file %s lies in the home of account 'alice' (%s), who could "
                      "download it (the password hashes): ftpd refuses that file"
                      % (users, self.dir), r.stderr)
        self.assertIn("WARN configuration file %s lies in the home of account 'alice'" % conf,
                      r.stderr)
        self.assertIn("WARN TLS private key %s lies in the home of account 'alice'" % key,
                      r.stderr)
        self.assertIn("WARN transfer log %s lies in the home of account 'alice'"
                      % os.path.join(self.dir, "xfer.log"), r.stderr)
        self.assertNotIn("'bob'", r.stderr)  # no r: cannot download

    def test_require_tls_anonymous_alone_is_warned_about(self):
        # it extends the other requirements to anonymous sessions, and alone requires nothing
        r = self.check("--require-tls-anonymous")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("require-tls-anonymous has no effect without require-tls", r.stderr)
        r = self.check("--require-tls-anonymous", "--require-tls-data", "--state-dir",
                       os.path.join(self.dir, "state"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("no effect", r.stderr)

    @unittest.skipUnless(run_as_user(), "needs root and a --user to drop to")
    def test_a_users_file_the_server_cannot_read_again_is_warned_about(self):
        # Start reads it as root, but each SIGHUP reads it as --user: a file only root reads
        # would fail at the first reload, with nothing said before.
        users = self.one_account("reader", self.dir)
        os.chown(users, 0, 0)
        os.chmod(users, 0o600)
        args = ["--users", users, "--no-anonymous", "--listen", "127.0.0.1:0"]
        warning = ("users file %s: the server's user %s cannot read it (Permission denied), "
                   "so a SIGHUP cannot read it again" % (users, run_as_user()))
        r = run(["--check"] + args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(warning, r.stderr)
        p = subprocess.Popen([FTPD_BIN, "--user", run_as_user()] + args,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            log = ""
            for line in p.stderr:
                log += line
                if " ready (" in line:
                    break
        finally:
            p.terminate()
            p.communicate(timeout=10)
        self.assertIn(warning, log)
        os.chown(users, 0, pwd.getpwnam(run_as_user()).pw_gid)
        os.chmod(users, 0o640)
        r = run(["--check"] + args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("cannot read it", r.stderr)

    def test_a_server_nobody_can_log_in_to_is_warned_about(self):
        users = os.path.join(self.dir, "users")
        with open(users, "w") as fh:
            fh.write("# accounts to come\n")
        os.chmod(users, 0o644)
        r = run(["--check", "--listen", "127.0.0.1:0", "--users", users, "--no-anonymous"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("%s holds no account and anonymous access is off: every login will be "
                      "refused" % users, r.stderr)
        r = self.check("--users", users)  # anonymous on: someone can
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("holds no account", r.stderr)

    def test_the_start_ups_warnings_about_its_setting_come_from_check_too(self):
        # ftpd.8 promises the warnings a start gives; these three came only at the start, so
        # a mistyped algorithm, too low a descriptor limit or an incoming/ the demo cannot
        # write passed --check with "configuration OK"
        data = os.path.join(self.dir, "sample_data")
        shutil.copytree(os.path.join(SOURCE_DIR, "sample_data"), data)
        os.chmod(os.path.join(data, "pub", "incoming"), 0o555)

        def low_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

        cases = (
            (["--anonymous", self.dir, "--local-congestion", "no-such-algo"], None,
             "WARN local-congestion no-such-algo: "),
            (["--anonymous", self.dir, "--max-sessions", "1000"], low_fd_limit,
             "WARN max-sessions 1000 needs about 2"),
            (["--users", os.path.join(data, "users")], None,
             "the demo account's uploads into incoming/ will be refused"),
        )
        user = ["--user", run_as_user()] if run_as_user() else []
        for args, preexec, warning in cases:
            with self.subTest(warning=warning):
                args = args + ["--listen", "127.0.0.1:0", "--state-dir",
                               os.path.join(self.dir, "state")] + user
                log = startup_log([FTPD_BIN] + args, preexec_fn=preexec)
                self.assertIn(warning, log)  # the start says it
                r = subprocess.run([FTPD_BIN, "--check"] + args, capture_output=True,
                                   text=True, timeout=20, preexec_fn=preexec)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertIn(warning, r.stderr)

    def test_bad_setting_exits_2(self):
        r = self.check("--max-sessions", "lots")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("max-sessions", r.stderr)


def startup_log(argv, **popen_kw):
    """What ftpd logs from its start until it is ready; then it is stopped."""
    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, **popen_kw)
    lines = []
    try:
        for line in p.stderr:
            lines.append(line)
            if " ready " in line:
                break
    finally:
        p.terminate()
        p.wait(timeout=10)
        p.stderr.close()
    return "".join(lines)


class TestDefaults(unittest.TestCase):
    """With no --users/--anonymous, ftpd serves the shipped sample_data/ (found beside the
    binary): anonymous read-only access to pub/ and the demo account, with a warning."""

    def test_defaults_serve_sample_data(self):
        if os.geteuid() == 0 and not readable_by_others(SAMPLE_PUB):
            self.skipTest("sample_data is not readable by the unprivileged user")
        with FtpdServer(bare=True) as srv:
            expected = sorted(n for n in os.listdir(SAMPLE_PUB) if not n.startswith("."))
            f = srv.ftp("anonymous", "guest@")
            self.assertEqual(sorted(nlst(f)), expected)
            with open(os.path.join(SAMPLE_PUB, "README.txt"), "rb") as fh:
                self.assertEqual(retr(f, "README.txt"), fh.read())
            self.assertEqual(reply(f, "MKD should-not-exist")[0], 550)
            f.quit()
            f = srv.ftp("demo", "demo")
            self.assertEqual(sorted(nlst(f)), expected)
            f.quit()
            self.assertRegex(srv.log_text().lower(), r"warn.*demo|demo.*warn")
            self.assertFalse(os.path.exists(os.path.join(SAMPLE_PUB, "should-not-exist")))

    def test_demo_upload_folder_the_server_cannot_write_is_warned_about(self):
        # as root with --user nobody, a checkout's incoming/ belongs to root: the demo
        # account's uploads would all fail with nothing in the log to say why
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            data = os.path.join(d, "sample_data")
            shutil.copytree(os.path.join(SOURCE_DIR, "sample_data"), data)
            incoming = os.path.join(data, "pub", "incoming")
            for writable in (False, True):
                if writable:
                    os.chmod(incoming, 0o777)
                else:
                    os.chmod(incoming, 0o555)
                user = ["--user", run_as_user()] if run_as_user() else []
                log = startup_log([FTPD_BIN, "--users", os.path.join(data, "users"),
                                   "--listen", "127.0.0.1:0"] + user)
                warned = "the demo account's uploads into incoming/ will be refused" in log
                self.assertEqual(warned, not writable, log)

    @unittest.skipUnless(os.geteuid() == 0 and run_as_user(), "needs root to start as another")
    def test_demo_upload_folder_warning_names_the_user_that_started_the_server(self):
        # started as an ordinary user, without --user: the hint named no one ("chown USER")
        who = pwd.getpwnam(run_as_user())
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            data = os.path.join(d, "sample_data")
            shutil.copytree(os.path.join(SOURCE_DIR, "sample_data"), data)
            incoming = os.path.join(data, "pub", "incoming")
            os.chmod(incoming, 0o555)

            def become_user():
                os.setgroups([])
                os.setgid(who.pw_gid)
                os.setuid(who.pw_uid)

            log = startup_log([FTPD_BIN, "--users", os.path.join(data, "users"), "--listen",
                               "127.0.0.1:0", "--state-dir", os.path.join(d, "state")],
                              preexec_fn=become_user)
            self.assertIn("give it that folder (chown %s %s)" % (who.pw_name, incoming), log)

    def test_copy_outside_its_build_tree_ignores_the_source_tree(self):
        # an installed copy must not fall back to the build machine's source path, which
        # anyone could have created since; it asks for accounts instead
        with tempfile.TemporaryDirectory() as d:
            deep = os.path.join(d, "a", "b", "c")
            os.makedirs(deep)
            shutil.copy2(FTPD_BIN, deep)
            user = ["--user", run_as_user()] if run_as_user() else []
            r = subprocess.run([os.path.join(deep, "ftpd"), "--listen", "127.0.0.1:0"] + user,
                               cwd=d, capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("no accounts configured", r.stderr)



    def test_no_anonymous_alone_says_the_users_file_is_missing_not_the_sample_data(self):
        # in the source tree, where sample_data/ is found: --no-anonymous names an account
        # setting, so the demo users file does not stand in, and the message must not send
        # the operator looking for a sample_data/ that is right there
        for args in (["--no-anonymous"], ["-c", "/dev/null", "--no-anonymous"]):
            r = run(args + ["--listen", "127.0.0.1:0"], cwd=os.path.dirname(SAMPLE_PUB))
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("no accounts configured", r.stderr)
            self.assertNotIn("not found", r.stderr)
            self.assertIn("--users FILE", r.stderr)
            self.assertIn("anonymous", r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
            conf.write("anonymous = off\n")
            conf.flush()
            r = run(["-c", conf.name, "--listen", "127.0.0.1:0"],
                    cwd=os.path.dirname(SAMPLE_PUB))
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertNotIn("not found", r.stderr)
            self.assertIn("anonymous = off", r.stderr)
@unittest.skipUnless(os.geteuid() == 0, "needs root")
class TestClosedStandardDescriptors(unittest.TestCase):
    def test_started_without_them_the_server_puts_no_socket_there(self):
        """A closed descriptor 0, 1 or 2 is the number the next socket gets: log lines meant
        for standard error would go into whatever it is (a client's connection). They get
        /dev/null, and the server serves as ever."""
        port = free_port()
        root = tempfile.mkdtemp(prefix="ftpd-e2e-closedfd-")
        self.addCleanup(shutil.rmtree, root, True)
        os.chmod(root, 0o755)
        with open(os.path.join(root, "a.txt"), "w") as fh:
            fh.write("a\n")
        os.chmod(os.path.join(root, "a.txt"), 0o644)
        user = ["--user", run_as_user()] if run_as_user() else []

        def close_std():
            for fd in (0, 1, 2):
                os.close(fd)
        proc = subprocess.Popen([FTPD_BIN, "--listen", "127.0.0.1:%d" % port, "--anonymous", root]
                                + user, preexec_fn=close_std, stdin=None, stdout=None,
                                stderr=None)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        f = None
        for _ in range(100):
            try:
                f = ftplib.FTP()
                f.connect("127.0.0.1", port, timeout=5)
                break
            except OSError:
                f = None
                time.sleep(0.05)
        self.assertIsNotNone(f, "the server never listened")
        f.login("anonymous", "guest@")
        self.assertEqual(nlst(f, ""), ["a.txt"])
        for fd in (0, 1, 2):
            self.assertEqual(os.readlink("/proc/%d/fd/%d" % (proc.pid, fd)), "/dev/null", fd)
        f.quit()


class TestPrivileges(unittest.TestCase):
    def test_refuses_root_without_user(self):
        srv = FtpdServer()
        srv.run_as = None  # no --user
        try:
            with open(srv.users_file, "w") as fh:
                fh.write(srv._users_text())
            try:
                r = subprocess.run(srv.command_line(), capture_output=True, text=True, timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("ftpd ran as root without --user")
            self.assertNotEqual(r.returncode, 0, "ftpd ran as root without --user")
            self.assertIn("--user", r.stdout + r.stderr)
        finally:
            srv._cleanup()

    def test_drops_to_user(self):
        name = run_as_user()
        with FtpdServer() as srv:
            f = srv.ftp()
            stor(f, "owned.bin", b"x" * 100)
            f.quit()
            st = os.stat(srv.local("owned.bin"))
            self.assertEqual(st.st_uid, pwd.getpwnam(name).pw_uid)
            with open("/proc/%d/status" % srv.proc.pid) as fh:
                uids = [l for l in fh if l.startswith("Uid:")][0].split()[1:]
            self.assertEqual(set(map(int, uids)), {pwd.getpwnam(name).pw_uid})

    def test_user_naming_the_account_it_runs_as_is_no_error(self):
        # user = ftp in a configuration that a service manager starts as ftp: nothing to drop.
        # Another account is root's to switch to, which the error says.
        me = run_as_user() or pwd.getpwuid(os.geteuid()).pw_name
        other = next((p.pw_name for p in pwd.getpwall()
                      if p.pw_uid not in (0, pwd.getpwnam(me).pw_uid)), None)
        kw = {"user": me} if os.geteuid() == 0 else {}
        anon = os.path.dirname(os.path.abspath(__file__))
        p = subprocess.Popen([FTPD_BIN, "--listen", "127.0.0.1:0", "--anonymous", anon,
                              "--user", me], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, **kw)
        log = ""
        try:
            for line in p.stderr:
                log += line
                if " ready (" in line or "ERROR" in line:
                    break
        finally:
            p.terminate()
            log += p.communicate(timeout=10)[1]
        self.assertIn("running as user %s (uid %d) already" % (me, pwd.getpwnam(me).pw_uid),
                      log)
        self.assertIn(" ready (", log)
        self.assertEqual(p.returncode, 0, log)
        if other is None:
            return
        r = subprocess.run([FTPD_BIN, "--listen", "127.0.0.1:0", "--anonymous", anon, "--user",
                            other], capture_output=True, text=True, timeout=20, **kw)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--user %s: only root can switch to another user" % other, r.stderr)
        # and --check says what a start would
        for user, status in ((me, 0), (other, 1)):
            r = subprocess.run([FTPD_BIN, "--check", "--listen", "127.0.0.1:0", "--anonymous",
                                anon, "--user", user], capture_output=True, text=True,
                               timeout=20, **kw)
            self.assertEqual(r.returncode, status, r.stdout + r.stderr)

    def test_unknown_user_fails(self):
        srv = FtpdServer()
        srv.run_as = "no-such-user-ftpd-e2e"
        try:
            with open(srv.users_file, "w") as fh:
                fh.write(srv._users_text())
            r = subprocess.run(srv.command_line(), capture_output=True, text=True, timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("no-such-user-ftpd-e2e", r.stdout + r.stderr)
        finally:
            srv._cleanup()


if __name__ == "__main__":
    unittest.main()
