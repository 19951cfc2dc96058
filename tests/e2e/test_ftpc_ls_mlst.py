"""End-to-end tests of `ftpc ls PATH` (one-shot and the shell's ls and dir) where the server
refuses the listing of PATH and has MLST.

ftpc used to list PATH's directory to find PATH as an entry (vsftpd leaves files out of a
LIST of a file, pure-ftpd refuses NLST of one) before failing: for a name that is not there,
a whole listing of a directory that may hold a million names. Where FEAT offers MLST, MLST
PATH answers first: a 5xx fails the ls at once with the listing's refusal, said as before;
a directory's refusal stands as before; another entry is printed by its path for ls, and
only ls -l, which prints the server's own line for it, still lists the directory. vsftpd has
no MLST: its ls goes as before (test_ftpc_interop.py).
"""
import os
import re
import signal
import subprocess
import threading
import unittest

from ftpd_harness import fill_pipe, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase
from test_ftpc_shell import ShellCase
import test_ftpc_interop as interop


def listings(log):
    """The listing commands ftpd's log shows, in order: (verb, argument)."""
    return re.findall(r"-> (LIST|NLST|MLSD)(?: (.*))?$", log, re.M)


class TestLsMissingPath(FtpcCase):
    def setUp(self):
        super().setUp()
        self.srv.make_file("big/a.txt", 10)
        self.srv.mkdir("big/sub")

    def test_missing_name_fails_without_listing_its_directory(self):
        for opt, verb in (([], "NLST"), (["-l"], "LIST")):
            mark = len(self.srv.settled_log_text())
            r = self.ftpc("ls", *opt, self.srv.url("big/none"), rc=5)
            self.assertEqual(r.stdout, b"")
            self.assertIn(b"/big/none: %s: the server replied 550 big/none: No such file or "
                          b"directory." % verb.encode(), r.stderr)
            log = self.srv.settled_log_text()[mark:]
            self.assertIn("-> MLST big/none", log)
            self.assertEqual(listings(log), [(verb, "big/none")], log)

    def test_missing_name_in_a_missing_directory(self):
        mark = len(self.srv.settled_log_text())
        r = self.ftpc("ls", self.srv.url("nodir/none"), rc=5)
        self.assertIn(b"NLST: the server replied 550", r.stderr)
        self.assertEqual(listings(self.srv.settled_log_text()[mark:]), [("NLST", "nodir/none")])

    def test_unreadable_directory_still_fails_with_the_refusal(self):
        os.chmod(self.srv.local("big/sub"), 0)
        self.addCleanup(os.chmod, self.srv.local("big/sub"), 0o755)
        mark = len(self.srv.settled_log_text())
        r = self.ftpc("ls", "-l", self.srv.url("big/sub"), rc=5)
        self.assertIn(b"/big/sub: LIST: the server replied 550", r.stderr)
        self.assertEqual(r.stdout, b"")
        # MLST says it is a directory, whose line ls does not take from its parent
        self.assertEqual(listings(self.srv.settled_log_text()[mark:]), [("LIST", "big/sub")])

    def test_existing_names_list_as_before(self):
        r = self.ftpc("ls", self.srv.url("big/a.txt"))
        self.assertEqual((r.stdout, r.stderr), (b"big/a.txt\n", b""))
        r = self.ftpc("ls", "-l", self.srv.url("big/a.txt"))
        self.assertRegex(r.stdout.decode(), r"^-rw.* 10 .*big/a\.txt\n$")


class TestShellLsMissingPath(ShellCase):
    def test_shell_ls_and_dir_of_a_missing_name(self):
        self.srv.make_file("big/a.txt", 10)
        mark = len(self.srv.settled_log_text())
        out, err = self.shell("cd big\nls none\ndir none\nls a.txt\n", rc=5)
        self.assertEqual(out, "a.txt\n")
        self.assertIn("NLST: the server replied 550 none: No such file or directory.", err)
        self.assertIn("LIST: the server replied 550 none: No such file or directory.", err)
        log = self.srv.settled_log_text()[mark:]
        self.assertEqual(listings(log), [("NLST", "none"), ("LIST", "none"), ("NLST", "a.txt")],
                         log)


class NlstRefusingFtp(ScriptedFtp):
    """pure-ftpd's answers for a file f: NLST f refused, MLST f a file."""

    FEATURES = ("SIZE", "MLST type*;size*;modify*;")

    def __init__(self):
        super().__init__(sessions=2)
        self.mlst = threading.Event()

    def command(self, s, verb, arg):
        if verb == "NLST":
            s.send("550 Can't check for file existence")
        elif verb == "MLST":
            s.send("250-Listing f\r\n type=file;size=1;modify=20240101000000; /f\r\n250 End")
            self.mlst.set()
        else:
            return super().command(s, verb, arg)
        return True


class CwdBackHungUpFtp(ScriptedFtp):
    """Lists "d x" from inside (PWD, CWD, LIST) and answers the CWD back with the 421 of an
    idle timeout, closing: the server hung up as the client went back."""

    FEATURES = ("SIZE", "REST STREAM")
    LISTING = b"-rw-r--r-- 1 u g 5 Jan 1 00:00 f1\r\n-rw-r--r-- 1 u g 5 Jan 1 00:00 f2\r\n"

    def command(self, s, verb, arg):
        if verb == "PWD":
            s.send('257 "/"')
        elif verb == "CWD" and arg.rstrip("/") in ("d x", "/d x"):
            s.send("250 ok")
        elif verb == "CWD":
            s.send("421 Timeout (2 seconds): closing control connection.")
            return False
        elif verb == "LIST":
            s.send_download(self.LISTING)
        else:
            return super().command(s, verb, arg)
        return True


class TestLsServerGoneOnTheWayBack(unittest.TestCase):
    def test_a_listing_whose_cwd_back_meets_a_hang_up_stands(self):
        # every line out and the 226 in, then the CWD back crossed the server's idle-timeout
        # 421: the listing failed with status 7 (seen under ASan, where the reader's pace let
        # the CWD go before the 421 was read)
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        fake = CwdBackHungUpFtp(sessions=2)
        fake.start()
        self.addCleanup(fake.stop)
        r = subprocess.run([FTPC_BIN, "ls", "-l", "ftp://u:p@127.0.0.1:%d/d x/" % fake.port],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NETRC="/nonexistent"))
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(r.stdout, CwdBackHungUpFtp.LISTING.replace(b"\r\n", b"\n"))


class TestLsEntryToAFullPipe(unittest.TestCase):
    def test_an_interrupt_ends_the_entrys_blocked_write(self):
        """The path's entry (MLST said it is a file) is printed by ftpc itself, after its
        listing: into a pipe already full it waits for the reader, and an interrupt ends
        that wait as it ends a listing's."""
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        if os.uname().machine != "x86_64":
            self.skipTest("reads /proc/PID/syscall by x86-64's numbers")
        fake = NlstRefusingFtp()
        fake.start()
        self.addCleanup(fake.stop)
        rd, wr = os.pipe()
        self.addCleanup(os.close, rd)
        fill_pipe(wr)
        p = subprocess.Popen([FTPC_BIN, "ls", "ftp://u:p@127.0.0.1:%d/f" % fake.port],
                             stdin=subprocess.DEVNULL, stdout=wr, stderr=subprocess.PIPE,
                             env=dict(os.environ, NETRC="/nonexistent"))
        os.close(wr)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertTrue(fake.mlst.wait(20), "no MLST")

        def writing_fd1():  # x86-64: write(2) is system call 1
            try:
                with open("/proc/%d/syscall" % p.pid) as f:
                    return f.read().split()[:2] == ["1", "0x1"]
            except OSError:
                return False
        if not wait_for(writing_fd1, timeout=20, interval=0.05):
            self.skipTest("ftpc is not seen blocked in write(1, ...) here")
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("SIGINT did not end the entry's blocked write")
        err = p.stderr.read().decode()
        p.stderr.close()
        self.assertEqual(rc, 7, err)
        self.assertRegex(err, r"(?m)^ftpc: .*/f: interrupted$")


@unittest.skipIf(interop.why_not("pure-ftpd") is not None, interop.why_not("pure-ftpd") or "")
class TestLsPureFtpd(interop.PeerMixin, unittest.TestCase):
    """pure-ftpd refuses NLST of a file ("550 Can't check for file existence") and has MLST,
    which takes a link itself (lstat)."""
    SERVER = "pure-ftpd"

    def test_nlst_of_a_file_needs_no_listing_of_its_directory(self):
        self.srv_write("f.txt", b"x")
        os.symlink("nowhere", os.path.join(self.srv_dir, "lnx"))
        for name in ("f.txt", "lnx"):
            r = self.ftpc("-v", "ls", self.url(name))
            path = "%s/%s" % (self.d, name)
            self.assertEqual(r.stdout, path.encode() + b"\n")
            err = r.stderr.decode()
            self.assertIn("> MLST %s" % path, err)
            self.assertNotIn("> LIST", err)
        # ls -l prints the server's line for it: from the directory's LIST, as before
        r = self.ftpc("-v", "ls", "-l", self.url("lnx"))
        self.assertTrue(r.stdout.endswith(b" lnx -> nowhere\n"), r.stdout)

    def test_missing_name_fails_at_once(self):
        self.srv_write("f.txt", b"x")
        r = self.ftpc("-v", "ls", self.url("none"), rc=5)
        err = r.stderr.decode()
        self.assertIn("/none: NLST: the server replied 550 Can't check for file existence", err)
        self.assertIn("< 550 Can't check for file existence", err.split("> MLST")[1])
        self.assertNotIn("> LIST", err)
        self.assertEqual(r.stdout, b"")


if __name__ == "__main__":
    unittest.main()
