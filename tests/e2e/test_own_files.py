"""The server's own files (users file, TLS key, transfer log, -c file) lying in a served
folder are never served: reads (RETR, SIZE, MDTM, MLST, HASH) and changes (STOR, APPE, DELE,
RNFR, RNTO, SITE CHMOD, MFMT) get "550 ...: File not available.", known by device and inode
so that a hard link or a symlink to one is refused too. Listings still show the names."""
import ftplib
import os
import signal
import unittest

from ftpd_harness import (FtpdServer, ServerTestCase, hash_password, listing, nlst, recv_all,
                          reply, retr, stor, wait_for)

PASSWORD = "alice-Pw-4711"


def own_files_server(home_is_base):
    """A server whose temp tree's top folder (which holds the users file, the -c file, a
    transfer log and a key) is the anonymous area, or the home of alice (elradfmwTM)."""
    srv = FtpdServer(config={}, anonymous=not home_is_base)
    if home_is_base:
        srv.users = [("alice", PASSWORD, "elradfmwTM", srv.base)]
    else:
        srv.anon_root = srv.base
    srv.write(os.path.join(srv.base, "xfer.log"), b"")
    srv.write(os.path.join(srv.base, "key.pem"), b"-----BEGIN PRIVATE KEY-----\nsecret\n")
    srv.write(os.path.join(srv.base, "pub.txt"), b"public bytes")
    srv.args = ["--xferlog", os.path.join(srv.base, "xfer.log"),
                "--tls-key", os.path.join(srv.base, "key.pem")]
    return srv


class OwnFilesCase(ServerTestCase):
    home_is_base = False

    def setUp(self):
        self.srv = own_files_server(self.home_is_base)
        self.srv.start()
        self.addCleanup(self.srv.stop)

    def login(self):
        if self.home_is_base:
            return self.srv.ftp("alice", PASSWORD)
        return self.srv.ftp("anonymous", "guest@")

    def assertNotAvailable(self, got, name):
        code, text = got
        self.assertEqual((code, text), (550, "550 %s: File not available." % name))


class TestAnonymousReads(OwnFilesCase):
    def test_the_users_file_is_refused_and_its_bytes_never_leave(self):
        secret = self.srv.read(self.srv.users_file)
        self.assertIn(b"$6$", secret)  # the password hashes
        c = self.srv.control()
        c.login("anonymous", "guest@")
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        self.assertNotAvailable(c.cmd("RETR users"), "users")
        self.assertEqual(c.cmd("QUIT")[0], 221)
        c.close()
        self.assertEqual(recv_all(ds, timeout=10), b"")  # closed with the session, empty
        ds.close()
        self.assertLogged(r"RETR users refused: one of the server's own files")
        # ftplib, which reads whatever the data connection carries
        f = self.login()
        got = []
        with self.assertRaisesRegex(ftplib.error_perm, r"^550 users: File not available\.$"):
            f.retrbinary("RETR users", got.append)
        self.assertEqual(got, [])
        # the same file by other paths
        for name in ("/users", "./users", "anon/../users"):
            self.assertNotAvailable(reply(f, "RETR " + name), name)
        # and the other reads of it
        for cmd in ("SIZE", "MDTM", "MLST", "HASH"):
            self.assertNotAvailable(reply(f, "%s users" % cmd), "users")
        f.voidcmd("TYPE A")  # SIZE then reads the file to count its line ends
        self.assertNotAvailable(reply(f, "SIZE users"), "users")
        # what lies beside it is served
        self.assertEqual(retr(f, "pub.txt"), b"public bytes")
        self.assertEqual(reply(f, "SIZE pub.txt")[0], 213)
        # listings still show the name
        self.assertIn("users", nlst(f))
        self.assertTrue(any(line.endswith(" users") for line in listing(f)))
        f.quit()

    def test_the_key_the_transfer_log_and_the_config_file_are_refused(self):
        f = self.login()
        for name in ("key.pem", "xfer.log", "ftpd.conf"):
            self.assertNotAvailable(reply(f, "SIZE " + name), name)
            with self.assertRaisesRegex(ftplib.error_perm, r"^550 %s: File not available\.$"
                                        % name.replace(".", r"\.")):
                retr(f, name)
        f.quit()

    def test_a_hard_link_or_a_symlink_to_one_is_refused(self):
        os.link(self.srv.users_file, os.path.join(self.srv.base, "copy"))
        os.symlink("users", os.path.join(self.srv.base, "link"))
        os.symlink("../users", os.path.join(self.srv.base, "anon", "up"))
        f = self.login()
        for name in ("copy", "link", "anon/up"):
            self.assertNotAvailable(reply(f, "SIZE " + name), name)
            got = []
            with self.assertRaises(ftplib.error_perm):
                f.retrbinary("RETR " + name, got.append)
            self.assertEqual(got, [])
        f.quit()


class TestChanges(OwnFilesCase):
    home_is_base = True

    def test_the_users_file_is_neither_replaced_nor_changed(self):
        path = self.srv.users_file
        before = self.srv.read(path)
        st = os.stat(path)
        f = self.login()
        # an upload's replies name the path it resolved to
        for cmd in ("STOR", "APPE"):
            with self.assertRaisesRegex(ftplib.error_perm, r"^550 /users: File not available\.$"):
                stor(f, "users", b"mallory:x:/:elradfmwTM\n", cmd=cmd)
        with self.assertRaisesRegex(ftplib.error_perm, r"^550 /users: File not available\.$"):
            stor(f, "users", b"x", rest=10)
        self.assertNotAvailable(reply(f, "DELE users"), "users")
        self.assertNotAvailable(reply(f, "RNFR users"), "users")
        stor(f, "new", b"mallory:x:/:elradfmwTM\n")
        self.assertEqual(reply(f, "RNFR new")[0], 350)
        self.assertNotAvailable(reply(f, "RNTO users"), "users")
        self.assertNotAvailable(reply(f, "SITE CHMOD 666 users"), "users")
        self.assertNotAvailable(reply(f, "MFMT 20000101000000 users"), "users")
        self.assertEqual(self.srv.read(path), before)
        now = os.stat(path)
        self.assertEqual((now.st_ino, now.st_mode, now.st_mtime_ns),
                         (st.st_ino, st.st_mode, st.st_mtime_ns))
        self.assertTrue(os.path.exists(os.path.join(self.srv.base, "new")))
        # nothing left behind: no partial, no hidden upload file
        self.assertEqual(sorted(n for n in os.listdir(self.srv.base) if n.startswith(".ftpd")),
                         [])
        self.assertLogged(r"STOR /users refused: one of the server's own files")
        self.assertLogged(r"DELE users refused: one of the server's own files")
        # a symlink to it is the client's to remove: the file stays
        os.symlink("users", os.path.join(self.srv.base, "link"))
        self.assertEqual(reply(f, "DELE link")[0], 250)
        self.assertEqual(self.srv.read(path), before)
        # and an ordinary file beside it takes every change
        stor(f, "pub.txt", b"replaced")
        self.assertEqual(reply(f, "DELE pub.txt")[0], 250)
        f.quit()

    def test_a_symlink_to_one_is_renamed_removed_or_renamed_onto_never_uploaded_onto(self):
        # as ftpd.8 says: the link itself is the client's to rename, remove or replace by a
        # rename; an upload onto it is refused, as the upload opens what the link leads to
        # (whose bytes APPE or REST would copy)
        path = self.srv.users_file
        before = self.srv.read(path)
        link = os.path.join(self.srv.base, "link")
        os.symlink("users", link)
        f = self.login()
        for cmd in ("STOR", "APPE"):
            with self.subTest(cmd=cmd):
                with self.assertRaisesRegex(ftplib.error_perm,
                                            r"^550 /link: File not available\.$"):
                    stor(f, "link", b"mallory:x:/:elradfmwTM\n", cmd=cmd)
        self.assertNotAvailable(reply(f, "SITE CHMOD 666 link"), "link")
        self.assertNotAvailable(reply(f, "MFMT 20000101000000 link"), "link")
        self.assertEqual(os.readlink(link), "users")
        self.assertEqual(reply(f, "RNFR link")[0], 350)
        self.assertEqual(reply(f, "RNTO moved")[0], 250)
        self.assertEqual(os.readlink(os.path.join(self.srv.base, "moved")), "users")
        stor(f, "new", b"mine")
        self.assertEqual(reply(f, "RNFR new")[0], 350)
        self.assertEqual(reply(f, "RNTO moved")[0], 250)
        self.assertEqual(self.srv.read(os.path.join(self.srv.base, "moved")), b"mine")
        self.assertEqual(self.srv.read(path), before)
        f.quit()

    def test_a_users_file_replaced_and_read_again_is_refused_as_the_new_file(self):
        text = self.srv.read(self.srv.users_file).decode()
        text += "bob:%s:%s:elr\n" % (hash_password("bobpw"), self.srv.base)
        tmp = self.srv.users_file + ".new"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        self.srv.chown(tmp)
        os.rename(tmp, self.srv.users_file)  # a new inode, as an editor saves it
        self.srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "users read again: 2 accounts" in self.srv.log_text(),
                                 10), self.srv.log_text()[-2000:])
        f = self.srv.ftp("bob", "bobpw")
        got = []
        with self.assertRaisesRegex(ftplib.error_perm, r"^550 users: File not available\.$"):
            f.retrbinary("RETR users", got.append)
        self.assertEqual(got, [])
        f.quit()


class TestFoldersOnTheWay(ServerTestCase):
    """A folder that a users file's path passes through is no more the client's to rename
    than the file: with a folder of its own put in its place, a users file of its own would
    be read at the next SIGHUP (an account with home / and every permission)."""

    def assertNotTakenOver(self, srv, f):
        """The users file stays the operator's: mallory's file never takes its place."""
        code = reply(f, "MKD etc")[0]
        if code == 257:
            stor(f, "etc/users", ("mallory:%s:/:elradfmwTM\n" % hash_password("m")).encode())
        f.quit()
        srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "users read again" in srv.log_text(), 10),
                        srv.log_text()[-2000:])
        with self.assertRaises(ftplib.error_perm):
            srv.ftp("mallory", "m")
        srv.ftp("alice", PASSWORD).quit()

    def test_the_folder_that_holds_the_users_file_is_not_renamed(self):
        srv = FtpdServer(config={}, anonymous=False)
        srv.users = [("alice", PASSWORD, "elradfmwTM", srv.base)]
        srv.users_file = os.path.join(srv.base, "etc", "users")
        srv.mkdir(os.path.join(srv.base, "etc"))
        srv.start()
        self.addCleanup(srv.stop)
        f = srv.ftp("alice", PASSWORD)
        self.assertEqual(reply(f, "RNFR etc"), (550, "550 etc: File not available."))
        # nor replaced: another folder renamed onto it
        self.assertEqual(reply(f, "MKD other")[0], 257)
        self.assertEqual(reply(f, "RNFR other")[0], 350)
        self.assertEqual(reply(f, "RNTO etc")[0], 550)
        # a folder beside it is the client's
        self.assertEqual(reply(f, "RNFR other")[0], 350)
        self.assertEqual(reply(f, "RNTO else")[0], 250)
        self.assertNotTakenOver(srv, f)

    def test_the_folder_that_holds_the_users_file_keeps_its_mode(self):
        # 000 would fail the next SIGHUP's reading; o+w would let any local user put a
        # users file of their own in place
        srv = FtpdServer(config={}, anonymous=False)
        srv.users = [("alice", PASSWORD, "elradfmwTM", srv.base)]
        srv.users_file = os.path.join(srv.base, "etc", "users")
        srv.mkdir(os.path.join(srv.base, "etc"))
        os.symlink("etc", os.path.join(srv.base, "to-etc"))
        srv.start()
        self.addCleanup(srv.stop)
        etc = os.path.join(srv.base, "etc")
        mode = os.stat(etc).st_mode
        f = srv.ftp("alice", PASSWORD)
        for cmd, name in (("SITE CHMOD 000 etc", "etc"), ("SITE CHMOD 777 etc/", "etc/"),
                          ("SITE CHMOD 000 to-etc", "to-etc")):
            with self.subTest(cmd=cmd):
                self.assertEqual(reply(f, cmd), (550, "550 %s: File not available." % name))
        self.assertEqual(os.stat(etc).st_mode, mode)
        # a folder beside it is the client's
        self.assertEqual(reply(f, "MKD other")[0], 257)
        self.assertEqual(reply(f, "SITE CHMOD 700 other")[0], 200)
        self.assertEqual(os.stat(os.path.join(srv.base, "other")).st_mode & 0o777, 0o700)
        self.assertNotTakenOver(srv, f)


if __name__ == "__main__":
    unittest.main()
