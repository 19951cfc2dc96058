"""MLSD and MLST perm facts offer only what would succeed: the user's permission letters and
what the server process itself may do to the file (its mode bits, for the user ftpd runs as),
as ProFTPD and pure-ftpd give them. A client that trusts an r gets a file, not a 550."""
import ftplib
import os
import re
import unittest

from ftpd_harness import ServerTestCase, reply, retr, run_as_user


def perm_of(text):
    return re.search(r"perm=([a-z]*);", text).group(1)


@unittest.skipIf(os.geteuid() == 0 and not run_as_user(), "root reads any file")
class TestPermFactsFollowAccess(ServerTestCase):
    # alice: elradfmwTM (every letter)
    def setUp(self):
        super().setUp()
        srv = self.srv
        srv.write("open.txt", b"x")
        os.chmod(srv.write("locked.txt", b"x"), 0)
        os.chmod(srv.mkdir("shut"), 0)
        srv.mkdir("ro/sub")
        srv.write("ro/f.txt", b"x")
        os.chmod(srv.local("ro"), 0o555)  # nothing in it can be added, removed or renamed
        # before the server's own cleanup (registered first, so run last) removes the tree
        self.addCleanup(os.chmod, srv.local("shut"), 0o755)
        self.addCleanup(os.chmod, srv.local("ro"), 0o755)

    def test_mlsd_offers_what_the_server_can_do(self):
        f = self.srv.ftp()
        top = {n: e["perm"] for n, e in f.mlsd("", ["perm"])}
        self.assertEqual(top["open.txt"], "rwadf")
        self.assertEqual(top["locked.txt"], "df")  # not r, w or a: it cannot be opened
        self.assertEqual(top["shut"], "df")  # not e, l, c, m or p: nothing in it is reachable
        self.assertEqual(top["ro"], "eldf")  # not c, m or p: its names cannot change
        inner = {n: e["perm"] for n, e in f.mlsd("ro", ["perm"])}
        self.assertEqual(inner["f.txt"], "r")  # not w, a, d or f: ro's names cannot change
        self.assertEqual(inner["sub"], "elcmp")

    def test_mlst_offers_what_the_server_can_do(self):
        f = self.srv.ftp()
        for path, want in (("open.txt", "rwadf"), ("locked.txt", "df"), ("shut", "df"),
                           ("ro/f.txt", "r"), ("ro/sub", "elcmp")):
            code, text = reply(f, "MLST " + path)
            self.assertEqual(code, 250, text)
            self.assertEqual(perm_of(text), want, text)

    def test_the_letters_left_out_are_refused(self):
        f = self.srv.ftp()
        with self.assertRaisesRegex(ftplib.error_perm, "^550"):
            retr(f, "locked.txt")
        self.assertCode(reply(f, "CWD shut"), 550)
        self.assertCode(reply(f, "DELE ro/f.txt"), 550)
        self.assertCode(reply(f, "MKD ro/new"), 550)



@unittest.skipIf(run_as_user() is None, "needs root, to own files the server does not")
class TestPermFactsInAStickyDirectory(ServerTestCase):
    """In a directory with the sticky bit (as /tmp), only a name's owner (or the directory's)
    may remove or replace it: d, f, w and a are offered for the server's own files only."""

    def setUp(self):
        super().setUp()
        srv = self.srv
        d = srv.mkdir("shared")
        srv.write("shared/mine.txt", b"mine")
        srv.write("shared/theirs.txt", b"theirs")
        srv.mkdir("shared/theirdir")
        os.lchown(srv.local("shared/theirs.txt"), 0, 0)  # root's, not the server's user's
        os.lchown(srv.local("shared/theirdir"), 0, 0)
        os.chmod(srv.local("shared/theirdir"), 0o777)
        os.lchown(d, 0, 0)
        os.chmod(d, 0o1777)

    def test_mlsd_and_mlst(self):
        f = self.srv.ftp()
        inner = {n: e["perm"] for n, e in f.mlsd("shared", ["perm"])}
        self.assertEqual(inner["mine.txt"], "rwadf")
        self.assertEqual(inner["theirs.txt"], "r")
        self.assertEqual(inner["theirdir"], "elcmp")  # its own names can change, not its own
        for path, want in (("shared/mine.txt", "rwadf"), ("shared/theirs.txt", "r"),
                           ("shared/theirdir", "elcmp")):
            code, text = reply(f, "MLST " + path)
            self.assertEqual(code, 250, text)
            self.assertEqual(perm_of(text), want, text)
        # and what they leave out is refused, what they offer is done
        self.assertCode(reply(f, "DELE shared/theirs.txt"), 550)
        self.assertCode(reply(f, "RMD shared/theirdir"), 550)
        self.assertCode(reply(f, "DELE shared/mine.txt"), 250)


if __name__ == "__main__":
    unittest.main()
