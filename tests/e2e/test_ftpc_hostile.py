"""End-to-end tests of ftpc against servers that misbehave in ways ftpd never does: a listing
that names files outside the target directory, a 226 while the data connection stays open,
"please wait" replies without end, and a download that runs past the size SIZE announced.
Each must end within the timeout with a clear message, and leave the files the user had as
they were.
"""
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN

GOOD = b"GOOD CONTENT\n"


class HostileFtp(ScriptedFtp):
    """One behaviour per instance (`how`), for RETR and MLSD; FEAT offers MLST and SIZE."""

    FEATURES = ("SIZE", "REST STREAM", "MLST type*;size*;")
    UNKNOWN = "500 no"

    def __init__(self, how, size=1000, listing=""):
        super().__init__(sessions=2, timeout=20)
        self.how, self.size, self.listing = how, size, listing
        self.stop = threading.Event()

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 %d" % self.size)
        elif verb == "EPSV" and self.how == "bad-pasv":
            s.send("500 no EPSV here")
        elif verb == "PASV" and self.how == "bad-pasv":
            s.send("227 Entering Passive Mode (127,0,0,1,999)")
        elif verb == "MLSD":
            s.send_download(self.listing.encode())
        elif verb in ("LIST", "NLST") and self.how == "vsftpd-no-dir":
            # vsftpd's answer for a directory it cannot open
            s.send("150 Here comes the directory listing.")
            s.accept_data().close()
            s.send("226 Transfer done (but failed to open directory).")
        elif verb == "RETR" and arg != "f.bin":  # the files the listing names
            s.send_download(b"x" * self.size)
        elif verb == "RETR" and self.how == "226-open":
            s.send("150 here")
            d = s.accept_data()
            d.sendall(b"y" * (self.size // 2))
            s.send("226 done")  # ... and the data connection stays open
            self.stop.wait(30)
            d.close()
        elif verb == "RETR" and self.how in ("die-mid", "stall-mid"):
            s.send("150 here")
            d = s.accept_data()
            d.sendall(b"y" * (self.size // 2))
            if self.how == "die-mid":
                d.close()
                return False  # the session ends: control connection closed, no reply
            self.stop.wait(30)  # silent, both connections open
            d.close()
        elif verb == "RETR" and self.how == "wait-forever":
            while not self.stop.wait(0.2):
                s.send("150 please wait")
        elif verb == "RETR" and self.how == "short":
            s.send_download(b"y" * (self.size // 2))  # ... and 226, as if that were all
        elif verb == "RETR" and self.how == "too-much":
            s.send_download(b"z" * (4 * 1024 * 1024))
        else:
            return super().command(s, verb, arg)
        return True


class EmptyListingFtp(ScriptedFtp):
    """Lists every path as empty with a plain 226, as pure-ftpd does a path that names nothing;
    CWD enters "/", "empty/" and "dark/" only, or (cwd=False) nothing at all, as ftpd for an
    account that may list without entering. With perms ({name: letters}), it has MLST and
    gives those perm facts, as ProFTPD does (no l for a directory it cannot read)."""

    def __init__(self, cwd, sessions, perms=None):
        super().__init__(sessions=sessions, timeout=20)
        self.cwd, self.perms = cwd, perms
        if perms is not None:
            self.FEATURES = ("SIZE", "MLST type*;perm*;")
        self.stop = threading.Event()

    def command(self, s, verb, arg):
        if verb in ("LIST", "NLST"):
            s.send_download(b"")
        elif verb == "PWD":
            s.send('257 "/" is the current directory')
        elif verb == "CWD":
            ok = self.cwd and arg.rstrip("/") in ("", "empty", "dark")
            s.send("250 ok" if ok else "550 Permission denied.")
        elif verb == "MLST" and self.perms is not None:
            name = arg.rstrip("/")
            s.send("250-Start of list for %s\r\n type=dir;perm=%s; /%s\r\n250 End"
                   % (arg, self.perms[name], name))
        else:
            return super().command(s, verb, arg)
        return True


class TestHostileServers(unittest.TestCase):
    def setUp(self):
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found: %s" % FTPC_BIN)
        self.tmp = tempfile.mkdtemp(prefix="ftpc-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        with open(os.path.join(self.work, "f.bin"), "wb") as f:
            f.write(GOOD)

    def serve(self, fake):
        fake.start()
        self.addCleanup(fake.stop.set)
        return "ftp://u:p@127.0.0.1:%d/" % fake.port

    def ftpc(self, *args, timeout=60):
        t0 = time.monotonic()
        r = subprocess.run([FTPC_BIN, "--timeout", "3"] + list(args), cwd=self.work,
                           capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, NETRC=os.path.join(self.tmp, "none")))
        return r, time.monotonic() - t0

    def assert_good_file_kept(self):
        with open(os.path.join(self.work, "f.bin"), "rb") as f:
            self.assertEqual(f.read(), GOOD)

    def test_glob_leaves_out_names_that_escape(self):
        victim = os.path.join(self.tmp, "victim.txt")
        with open(victim, "wb") as f:
            f.write(b"precious")
        os.mkdir(os.path.join(self.work, "sub"))
        listing = ("type=file;size=10; %s\r\n" % victim
                   + "type=file;size=10; sub/../../up.txt\r\n"
                   + "type=file;size=10; ok.txt\r\n")
        url = self.serve(HostileFtp("glob", size=10, listing=listing))
        r, _ = self.ftpc("get", url + "*.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"2 matching names left out: a '/', CR or LF in the name",
                      r.stderr)
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"precious")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "up.txt")))
        with open(os.path.join(self.work, "ok.txt"), "rb") as f:
            self.assertEqual(f.read(), b"x" * 10)

    def test_glob_leaves_out_names_with_a_line_break(self):
        # a name with a CR cannot be sent back in SIZE or RETR: ftpc waited for the reply to
        # a command it never sent, for ever. (A bare LF ends a listing line, so "c\nd.txt"
        # makes two lines, neither a name that matches: it shows no name comes of it.)
        listing = ("type=file;size=10; a\rb.txt\r\n"
                   + "type=file;size=10; c\nd.txt\r\n"
                   + "type=file;size=10; ok.txt\r\n")
        url = self.serve(HostileFtp("glob", size=10, listing=listing))
        r, _ = self.ftpc("get", url + "*.txt", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"1 matching name left out: a '/', CR or LF in the name", r.stderr)
        self.assertEqual(sorted(os.listdir(self.work)), ["f.bin", "ok.txt"])

    def test_a_listing_that_failed_in_a_226_fails(self):
        url = self.serve(HostileFtp("vsftpd-no-dir"))
        for args in (["ls"], ["ls", "-l"]):
            r, _ = self.ftpc(*args, url + "nodir/")
            self.assertEqual(r.returncode, 5, r.stderr)
            self.assertIn(b"no such directory, or not readable (the server replied 226 "
                          b"Transfer done (but failed to open directory).)", r.stderr)
            self.assertEqual(r.stdout, b"")

    def test_an_empty_listing_fails_only_where_cwd_can_tell(self):
        """An empty listing of a directory path is checked with CWD into it; a server that
        refuses every CWD (ftpd, for an account that may list without entering) made an
        empty directory fail as "no such directory, or not readable"."""
        url = self.serve(EmptyListingFtp(cwd=True, sessions=8))
        for path, rc in (("nothing/", 5), ("nothing", 5), ("empty/", 0), ("empty", 0)):
            r, _ = self.ftpc("ls", url + path)
            self.assertEqual(r.returncode, rc, (path, r.stderr))
            self.assertEqual(r.stdout, b"")
            if rc:
                self.assertIn(b"/nothing/: NLST: no such directory, or not readable",
                              r.stderr)
        url = self.serve(EmptyListingFtp(cwd=False, sessions=4))
        for path in ("empty/", "empty"):
            r, _ = self.ftpc("ls", url + path)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))

    def test_an_empty_listing_of_a_directory_without_l_in_its_perm_fact_fails(self):
        """A directory the server can enter but not read (ProFTPD, mode 0711) lists as empty
        with a plain 226 and CWD enters it; its MLST perm fact has no l (may be listed)."""
        url = self.serve(EmptyListingFtp(cwd=True, sessions=4,
                                         perms={"dark": "e", "empty": "flcdmpe"}))
        r, _ = self.ftpc("ls", url + "dark/")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"/dark/: NLST: not readable (the listing came empty, with 226 done, "
                      b"and its MLST perm fact has no l: it may not be listed)", r.stderr)
        r, _ = self.ftpc("ls", url + "empty/")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))

    def test_final_reply_with_data_connection_left_open(self):
        url = self.serve(HostileFtp("226-open", size=1000))
        r, took = self.ftpc("get", url + "f.bin")
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"the server's final reply came, but the data connection stayed open "
                      b"without data for 3 s after 500 bytes (.f.bin.ftpc-part kept: get -c "
                      b"resumes it)",
                      r.stderr)
        self.assertLess(took, 20)
        self.assert_good_file_kept()
        with open(os.path.join(self.work, ".f.bin.ftpc-part"), "rb") as f:
            self.assertEqual(f.read(), b"y" * 500)

    def test_cut_transfer_names_the_part_file_it_keeps(self):
        # as an interrupted one does: the server gone, or the --timeout, mid-transfer
        for how, said in (("die-mid", b"closed the control connection"),
                          ("stall-mid", b"timed out after 3 s")):
            url = self.serve(HostileFtp(how, size=100000))
            r, took = self.ftpc("get", url + "f.bin")
            self.assertEqual(r.returncode, 7, r.stderr)
            self.assertIn(said, r.stderr)
            self.assertIn(b"(.f.bin.ftpc-part kept: get -c resumes it)", r.stderr)
            self.assertLess(took, 20)
            self.assert_good_file_kept()
            with open(os.path.join(self.work, ".f.bin.ftpc-part"), "rb") as f:
                self.assertEqual(f.read(), b"y" * 50000)
            os.remove(os.path.join(self.work, ".f.bin.ftpc-part"))

    def test_short_transfer_names_the_part_file_it_keeps(self):
        """A download shorter than SIZE said, ended with 226, said "(the partial file is
        kept)": a hidden file that holds the space, not named."""
        url = self.serve(HostileFtp("short", size=100000))
        r, _ = self.ftpc("get", url + "f.bin")
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"size mismatch: received 50000 bytes of 100000 "
                      b"(.f.bin.ftpc-part kept: get -c resumes it)", r.stderr)
        self.assert_good_file_kept()
        with open(os.path.join(self.work, ".f.bin.ftpc-part"), "rb") as f:
            self.assertEqual(f.read(), b"y" * 50000)

    def test_endless_preliminary_replies_time_out(self):
        url = self.serve(HostileFtp("wait-forever"))
        r, took = self.ftpc("get", url + "f.bin")
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"timed out after 3 s waiting for", r.stderr)
        self.assertIn(b"(RETR f.bin)", r.stderr)
        self.assertLess(took, 20)
        self.assert_good_file_kept()
        # nothing arrived, so there is no part file to keep
        self.assertEqual(sorted(os.listdir(self.work)), ["f.bin"])

    def test_unreadable_pasv_reply_is_named_as_such(self):
        url = self.serve(HostileFtp("bad-pasv"))
        r, _ = self.ftpc("get", url + "f.bin")
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn(b"cannot parse the PASV reply 227 Entering Passive Mode (127,0,0,1,999)",
                      r.stderr)
        self.assert_good_file_kept()

    def test_download_stops_at_the_announced_size(self):
        url = self.serve(HostileFtp("too-much", size=1000))
        r, _ = self.ftpc("get", url + "f.bin")
        self.assertEqual(r.returncode, 8, r.stderr)
        self.assertIn(b"the server sent more than the 1000 bytes SIZE announced", r.stderr)
        self.assert_good_file_kept()
        self.assertIn(b"(.f.bin.ftpc-part kept: get -c resumes it)", r.stderr)
        # what is kept is what SIZE promised, so that -c could take it up
        self.assertEqual(os.path.getsize(os.path.join(self.work, ".f.bin.ftpc-part")), 1000)


if __name__ == "__main__":
    unittest.main()
