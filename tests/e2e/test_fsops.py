"""File-system commands (MKD RMD DELE RNFR/RNTO CWD CDUP) and the permission letters
e l r a d f m w T M: a denied command gets 550 and leaves the file system unchanged."""
import os
import unittest

from ftpd_harness import (ServerTestCase, data_bytes, nlst, recv_all, reply, reset_close, retr,
                          stor)


def snapshot(root):
    """Every path under root with its size (directories as None) and content hash."""
    import hashlib
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


class TestFsOps(ServerTestCase):
    def test_mkd_rmd(self):
        f = self.srv.ftp()
        code, text = reply(f, "MKD newdir")
        self.assertEqual(code, 257, text)
        self.assertIn('"/newdir"', text)
        self.assertTrue(os.path.isdir(self.srv.local("newdir")))
        self.assertCode(reply(f, "MKD newdir"), 550)
        self.assertCode(reply(f, "MKD /newdir/sub"), 257)
        self.assertCode(reply(f, "MKD nodir/sub"), 550)
        self.assertCode(reply(f, "RMD newdir"), 550)  # not empty
        self.assertTrue(os.path.isdir(self.srv.local("newdir/sub")))
        self.assertCode(reply(f, "RMD newdir/sub"), 250)
        self.assertCode(reply(f, "RMD newdir"), 250)
        self.assertFalse(self.srv.exists("newdir"))
        self.assertCode(reply(f, "RMD newdir"), 550)
        self.srv.write("afile", b"x")
        self.assertCode(reply(f, "RMD afile"), 550)
        self.assertTrue(self.srv.exists("afile"))

    def test_mkd_relative_to_cwd(self):
        self.srv.mkdir("a")
        f = self.srv.ftp()
        f.cwd("a")
        code, text = reply(f, "MKD b")
        self.assertEqual(code, 257, text)
        self.assertIn('"/a/b"', text)
        self.assertTrue(os.path.isdir(self.srv.local("a/b")))

    def test_dele(self):
        self.srv.write("d.txt", b"x")
        self.srv.mkdir("adir")
        f = self.srv.ftp()
        self.assertCode(reply(f, "DELE d.txt"), 250)
        self.assertFalse(self.srv.exists("d.txt"))
        self.assertCode(reply(f, "DELE d.txt"), 550)
        self.assertCode(reply(f, "DELE adir"), 550)
        self.assertTrue(os.path.isdir(self.srv.local("adir")))

    def test_rename(self):
        data = self.srv.make_file("r1.bin", 1000)
        self.srv.mkdir("sub")
        f = self.srv.ftp()
        self.assertCode(reply(f, "RNFR r1.bin"), 350)
        self.assertCode(reply(f, "RNTO r2.bin"), 250)
        self.assertFalse(self.srv.exists("r1.bin"))
        self.assertEqual(self.srv.read("r2.bin"), data)
        f.rename("r2.bin", "sub/r3.bin")
        self.assertEqual(self.srv.read("sub/r3.bin"), data)
        f.rename("sub", "sub2")
        self.assertEqual(self.srv.read("sub2/r3.bin"), data)
        self.assertCode(reply(f, "RNFR nosuch"), 550)
        self.assertCode(reply(f, "RNTO x"), 503)
        # RNFR then another command forgets the pending rename
        self.assertCode(reply(f, "RNFR sub2"), 350)
        self.assertCode(reply(f, "NOOP"), 200)
        self.assertCode(reply(f, "RNTO sub3"), 503)
        self.assertTrue(self.srv.exists("sub2"))
        # so does a line that is refused: unknown, without its argument, with a NUL, too long
        for between in ("BOGUS", "DELE", "RNTO", "NO\0OP", "X" * 5000):
            self.assertCode(reply(f, "RNFR sub2"), 350)
            self.assertEqual(reply(f, between)[0] // 100, 5, between[:10])
            self.assertCode(reply(f, "RNTO sub3"), 503, between[:10])
            self.assertTrue(self.srv.exists("sub2"))
        # rename over an existing file replaces it
        self.srv.write("x1", b"one")
        self.srv.write("x2", b"two")
        f.rename("x1", "x2")
        self.assertEqual(self.srv.read("x2"), b"one")
        self.assertCode(reply(f, "RNFR x2"), 350)
        self.assertCode(reply(f, "RNTO nodir/x"), 550)
        self.assertEqual(self.srv.read("x2"), b"one")

    def test_mfmt(self):
        self.srv.write("f.txt", b"keep these bytes")
        self.srv.mkdir("d")
        os.symlink("f.txt", self.srv.local("link"))
        os.symlink("/etc/hostname", self.srv.local("out"))
        f = self.srv.ftp()
        self.assertIn("MFMT", f.sendcmd("FEAT"))
        code, text = reply(f, "MFMT 20240229120000 f.txt")
        self.assertEqual((code, text), (213, "213 Modify=20240229120000; f.txt"))
        self.assertEqual(f.sendcmd("MDTM f.txt"), "213 20240229120000")  # read back as set
        self.assertEqual(self.srv.read("f.txt"), b"keep these bytes")
        facts = dict(f.mlsd())["f.txt"]
        self.assertEqual(facts["modify"], "20240229120000")
        # a name with spaces, and a link beneath the root sets its target's time
        self.srv.write("with space.txt", b"x")
        self.assertCode(reply(f, "MFMT 20010101000000 with space.txt"), 213)
        self.assertEqual(f.sendcmd("MDTM with space.txt"), "213 20010101000000")
        self.assertCode(reply(f, "MFMT 20050607080910 link"), 213)
        self.assertEqual(f.sendcmd("MDTM f.txt"), "213 20050607080910")
        etc_before = os.stat("/etc/hostname").st_mtime_ns
        for cmd, want in (("MFMT 20240230120000 f.txt", 501),  # no 30 February
                          ("MFMT 2024022912000 f.txt", 501), ("MFMT 202402291200000 f.txt", 501),
                          ("MFMT 19691231235959 f.txt", 501), ("MFMT 20240229120000. f.txt", 501),
                          ("MFMT +0240229120000 f.txt", 501), ("MFMT 20240229120000", 501),
                          ("MFMT 20240229120000 ", 501), ("MFMT", 501),
                          ("MFMT 20240229120000 nosuch", 550), ("MFMT 20240229120000 out", 550),
                          ("MFMT 20240229120000 ../../etc/hostname", 550)):
            code, text = reply(f, cmd)
            self.assertEqual(code, want, "%s -> %s" % (cmd, text))
        self.assertEqual(f.sendcmd("MDTM f.txt"), "213 20050607080910")
        self.assertEqual(os.stat("/etc/hostname").st_mtime_ns, etc_before)
        # a time the filesystem cannot hold (ext4 ends in 2446) is answered as it was kept,
        # the time MDTM will say
        code, text = reply(f, "MFMT 99991231235959 f.txt")
        self.assertEqual(code, 213, text)
        kept = f.sendcmd("MDTM f.txt").split()[1]
        self.assertEqual(text, "213 Modify=%s; f.txt" % kept)

    def test_site_chmod(self):
        self.srv.write("f.txt", b"bytes")
        os.symlink("/etc/hostname", self.srv.local("out"))
        os.symlink("f.txt", self.srv.local("link"))
        mode = lambda n: os.stat(self.srv.local(n)).st_mode & 0o7777
        f = self.srv.ftp()
        self.assertEqual(reply(f, "SITE CHMOD 600 f.txt"), (200, "200 SITE CHMOD command successful."))
        self.assertEqual(mode("f.txt"), 0o600)
        # a file without any permission bits gets them back
        self.assertCode(reply(f, "site chmod 0 f.txt"), 200)
        self.assertEqual(mode("f.txt"), 0)
        self.assertCode(reply(f, "SITE CHMOD 755 link"), 200)  # a link beneath the root: its file
        self.assertEqual(mode("f.txt"), 0o755)
        self.assertEqual(self.srv.read("f.txt"), b"bytes")
        etc_mode = os.stat("/etc/hostname").st_mode
        for cmd, want in (("SITE CHMOD 4755 f.txt", 501), ("SITE CHMOD 1777 f.txt", 501),
                          ("SITE CHMOD 648 f.txt", 501), ("SITE CHMOD 07555 f.txt", 501),
                          ("SITE CHMOD -644 f.txt", 501), ("SITE CHMOD u+x f.txt", 501),
                          ("SITE CHMOD 644", 501), ("SITE CHMOD", 501), ("SITE", 501),
                          ("SITE CHMOD 644 nosuch", 550), ("SITE CHMOD 777 out", 550),
                          ("SITE CHMOD 777 ../../etc/hostname", 550),
                          ("SITE EXEC ls", 502), ("SITE UTIME f.txt", 502)):
            code, text = reply(f, cmd)
            self.assertEqual(code, want, "%s -> %s" % (cmd, text))
        self.assertEqual(mode("f.txt"), 0o755)
        self.assertEqual(os.stat("/etc/hostname").st_mode, etc_mode)
        # the session runs as the root's owner: 000 there would lock the account out for good
        self.srv.mkdir("sub")
        root_mode = os.stat(self.srv.root).st_mode
        for where in ("/", ".", "sub/..", ".."):
            self.assertEqual(reply(f, "SITE CHMOD 000 " + where),
                             (550, "550 SITE CHMOD: Cannot change the mode of the root directory."))
        self.assertEqual(os.stat(self.srv.root).st_mode, root_mode)
        self.assertIn("sub", self.srv.ftp().nlst())
        code, text = reply(f, "SITE HELP")
        self.assertEqual(code, 214, text)
        self.assertIn("CHMOD", text)

    def test_site_chmod_keeps_a_directorys_set_id_bits(self):
        # as chmod(1) with a numeric mode: a folder in a set-group-ID shared one keeps the
        # bit (mirror -R sends the mode it has locally, without it); a file does not
        self.srv.mkdir("shared")
        os.chmod(self.srv.local("shared"), 0o2775)
        self.srv.write("f.txt", b"x")
        os.chmod(self.srv.local("f.txt"), 0o2755)
        mode = lambda n: os.stat(self.srv.local(n)).st_mode & 0o7777
        f = self.srv.ftp()
        self.assertCode(reply(f, "SITE CHMOD 750 shared"), 200)
        self.assertEqual(mode("shared"), 0o2750)
        self.assertCode(reply(f, "SITE CHMOD 644 f.txt"), 200)
        self.assertEqual(mode("f.txt"), 0o644)

    def test_cwd_errors(self):
        self.srv.write("plain", b"x")
        f = self.srv.ftp()
        self.assertCode(reply(f, "CWD nosuch"), 550)
        self.assertCode(reply(f, "CWD plain"), 550)
        self.assertEqual(f.pwd(), "/")
        # a directory the server may not search: every name in it would fail
        self.srv.mkdir("noexec")
        os.chmod(self.srv.local("noexec"), 0o644)
        self.assertEqual(reply(f, "CWD noexec"), (550, "550 noexec: Permission denied."))
        self.assertEqual(f.pwd(), "/")
        os.chmod(self.srv.local("noexec"), 0o311)  # search without read: a way in all the same
        self.assertCode(reply(f, "CWD noexec"), 250)


class TestErrorReplies(ServerTestCase):
    def test_errors_name_the_file(self):
        f = self.srv.ftp()
        for cmd in ("CWD", "DELE", "SIZE", "MDTM", "RNFR", "MLST", "RMD", "HASH"):
            self.assertEqual(reply(f, "%s no/such file" % cmd),
                             (550, "550 no/such file: No such file or directory."), cmd)
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "RETR missing.bin"),
                         (550, "550 missing.bin: No such file or directory."))
        # the wrong kind of file is named too: after "rmdir a b c" or an mget, the reply
        # alone tells which one failed
        self.srv.write("full/f.txt", b"x")
        f.voidcmd("TYPE I")
        for cmd, text in (("CWD full/f.txt", "Not a directory."),
                          ("RMD full", "Directory not empty."),
                          ("DELE full", "Is a directory (use RMD)."),
                          ("SIZE full", "Not a regular file."),
                          ("MDTM full", "Not a regular file."),
                          ("MKD full", "File exists."),
                          ("MKD full/f.txt", "File exists.")):
            self.assertEqual(reply(f, cmd), (550, "550 %s: %s" % (cmd.split()[1], text)), cmd)
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "RETR full"), (550, "550 full: Not a regular file."))
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "MLSD full/f.txt"), (501, "501 full/f.txt: Not a directory."))
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "STOR full"), (550, "550 /full: Is a directory."))

    def test_a_trailing_slash_names_only_a_directory(self):
        # "name/" and "name/." can only name a directory: the file of that name is left alone
        self.srv.write("f.txt", b"keep")
        self.srv.mkdir("d")
        f = self.srv.ftp()
        for cmd in ("DELE f.txt/", "DELE f.txt/.", "SIZE f.txt/", "MDTM f.txt/.",
                    "RNFR f.txt/", "SITE CHMOD 600 f.txt/", "CWD f.txt/"):
            self.assertEqual(reply(f, cmd), (550, "550 %s: Not a directory." % cmd.split()[-1]))
        self.assertEqual(reply(f, "RNFR f.txt")[0], 350)
        self.assertEqual(reply(f, "RNTO g.txt/"), (550, "550 g.txt/: Not a directory."))
        self.assertEqual(sorted(os.listdir(self.srv.root)), ["d", "f.txt"])
        self.assertEqual(self.srv.read("f.txt"), b"keep")
        # a directory may still be named so
        self.assertEqual(reply(f, "RNFR d/")[0], 350)
        self.assertEqual(reply(f, "RNTO e/")[0], 250)
        self.assertEqual(reply(f, "CWD e/.")[0], 250)
        self.assertEqual(reply(f, "RMD /e/")[0], 250)

    def test_the_root_and_a_directory_into_itself_are_named(self):
        self.srv.mkdir("sub")
        f = self.srv.ftp()
        expected = [("DELE /", "550 DELE: Cannot delete the root directory."),
                    ("MKD /", "550 /: File exists."),
                    ("RMD /", "550 RMD: Cannot remove the root directory."),
                    ("RNFR /", "550 RNFR: Cannot rename the root directory."),
                    ("RNFR sub", "350 Ready for RNTO."),
                    ("RNTO sub/inner", "550 RNTO: Cannot move a directory into itself."),
                    ("RNFR sub", "350 Ready for RNTO."),
                    ("RNTO sub/..", "550 RNTO: Cannot replace the root directory.")]
        for cmd, text in expected:
            self.assertEqual(reply(f, cmd)[1], text, cmd)
        self.assertEqual(os.listdir(self.srv.root), ["sub"])


class TestHome(ServerTestCase):
    """A user whose home is a sub-directory sees it as '/' and nothing above it."""

    server_kwargs = {"users": [("carol", "carol-pw", "elradfmw", "homes/carol")]}

    def test_home_is_root(self):
        self.srv.write("secret.txt", b"top secret")
        self.srv.write("homes/carol/mine.txt", b"mine")
        f = self.srv.ftp("carol", "carol-pw")
        self.assertEqual(f.pwd(), "/")
        self.assertEqual(nlst(f), ["mine.txt"])
        self.assertEqual(retr(f, "/mine.txt"), b"mine")
        f.voidcmd("TYPE I")
        for p in ("../../secret.txt", "/../../secret.txt", "../secret.txt"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, "RETR " + p), 550, p)
        self.assertCode(reply(f, "CWD ../.."), (250, 550))
        self.assertEqual(f.pwd(), "/")
        self.assertEqual(nlst(f), ["mine.txt"])


PERM_USERS = [
    ("all", "pw-all", "elradfmwTM"),
    ("no_e", "pw-e", "lradfmw"),
    ("no_l", "pw-l", "eradfmw"),
    ("no_r", "pw-r", "eladfmw"),
    ("no_a", "pw-a", "elrdfmw"),
    ("no_d", "pw-d", "elrafmw"),
    ("no_f", "pw-f", "elradmw"),
    ("no_m", "pw-m", "elradfw"),
    ("no_w", "pw-w", "elradfm"),
    ("ro", "pw-ro", "elr"),
    ("only_w", "pw-ow", "w"),
    ("only_t", "pw-ot", "T"),
    ("only_m", "pw-om", "M"),
]


class TestPermissions(ServerTestCase):
    server_kwargs = {"users": PERM_USERS}

    def setUp(self):
        super().setUp()
        self.srv.write("file.txt", b"content of file")
        self.srv.mkdir("dir")
        self.srv.mkdir("emptydir")
        self.srv.write("dir/inner.txt", b"inner")
        self.before = snapshot(self.srv.root)

    def login(self, name):
        pw = dict((u[0], u[1]) for u in PERM_USERS)[name]
        f = self.srv.ftp(name, pw)
        f.voidcmd("TYPE I")
        return f

    def denied(self, f, *cmds, data=False):
        for cmd in cmds:
            if data:
                self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, cmd), 550, cmd)
        self.assertEqual(snapshot(self.srv.root), self.before, "file system changed")

    def mtime(self, name):
        return os.stat(self.srv.local(name)).st_mtime_ns

    def test_t_mfmt(self):
        for user in ("all", "no_e", "ro", "only_w"):
            f = self.login(user)
            code, text = reply(f, "MFMT 20200102030405 file.txt")
            want = "213 Modify=20200102030405; file.txt" if user == "all" else "550 "
            self.assertTrue(text.startswith(want), "%s: %s" % (user, text))
        self.assertEqual(self.mtime("file.txt"), 1577934245 * 10**9)
        f = self.login("only_t")  # T alone sets times, of files and directories, nothing else
        self.assertCode(reply(f, "MFMT 19991231235959.5 dir"), 213)
        self.assertEqual(self.mtime("dir"), 946684799 * 10**9 + 5 * 10**8)
        self.assertCode(reply(f, "MFMT 20210304050607 dir/inner.txt"), 213)
        self.assertEqual(self.mtime("dir/inner.txt"), 1614834367 * 10**9)
        self.assertCode(reply(f, "MDTM file.txt"), 550)
        self.before = snapshot(self.srv.root)
        self.denied(f, "RETR file.txt", "LIST", data=True)
        self.denied(f, "DELE file.txt", "MKD x")

    def mode(self, name):
        return os.stat(self.srv.local(name)).st_mode & 0o7777

    def test_m_site_chmod(self):
        before = self.mode("file.txt")
        for user in ("no_e", "ro", "only_w", "only_t"):
            f = self.login(user)
            self.assertCode(reply(f, "SITE CHMOD 600 file.txt"), 550, user)
            self.assertCode(reply(f, "SITE HELP"), 214, user)  # asking is no change
        self.assertEqual(self.mode("file.txt"), before)
        f = self.login("only_m")
        self.assertCode(reply(f, "SITE CHMOD 640 file.txt"), 200)
        self.assertEqual(self.mode("file.txt"), 0o640)
        self.assertCode(reply(f, "SITE CHMOD 0711 dir"), 200)
        self.assertEqual(self.mode("dir"), 0o711)
        self.before = snapshot(self.srv.root)
        self.denied(f, "RETR file.txt", data=True)
        self.denied(f, "MFMT 20200102030405 file.txt", "DELE file.txt")

    def test_all_allows_everything(self):
        f = self.login("all")
        f.cwd("dir")
        f.cwd("/")
        self.assertIn("file.txt", nlst(f))
        self.assertEqual(retr(f, "file.txt"), b"content of file")
        stor(f, "new.txt", b"new")
        stor(f, "new.txt", b"+more", cmd="APPE")
        self.assertEqual(self.srv.read("new.txt"), b"new+more")
        f.mkd("made")
        f.rename("made", "made2")
        f.rmd("made2")
        f.delete("new.txt")

    def test_e_cwd(self):
        f = self.login("no_e")
        self.denied(f, "CWD dir", "CWD /dir")
        self.assertEqual(f.pwd(), "/")
        # other rights still work
        self.assertIn("file.txt", nlst(f))

    def test_l_list(self):
        f = self.login("no_l")
        self.denied(f, "LIST", "NLST", "MLSD", "LIST dir", "NLST dir", data=True)
        self.denied(f, "MLST file.txt", "STAT dir")
        self.assertEqual(retr(f, "file.txt"), b"content of file")

    def test_r_retr(self):
        f = self.login("no_r")
        self.denied(f, "RETR file.txt", "RETR dir/inner.txt", data=True)
        self.assertIn("file.txt", nlst(f))

    def test_a_appe_and_rest_stor(self):
        f = self.login("no_a")
        self.denied(f, "APPE file.txt", data=True)
        self.assertEqual(reply(f, "PASV")[0], 227)
        code, text = reply(f, "REST 5")
        if code == 350:
            code, text = reply(f, "STOR file.txt")
        self.assertEqual(code, 550, text)
        self.assertEqual(snapshot(self.srv.root), self.before)
        stor(f, "plain.txt", b"plain")  # w alone is enough for a plain STOR
        self.assertEqual(self.srv.read("plain.txt"), b"plain")

    def test_d_delete(self):
        f = self.login("no_d")
        self.denied(f, "DELE file.txt", "RMD emptydir")

    def test_f_rename(self):
        f = self.login("no_f")
        code, text = reply(f, "RNFR file.txt")
        if code == 350:
            code, text = reply(f, "RNTO renamed.txt")
        self.assertEqual(code, 550, text)
        self.assertEqual(snapshot(self.srv.root), self.before)

    def test_m_mkdir(self):
        f = self.login("no_m")
        self.denied(f, "MKD newdir", "MKD dir/newdir")

    def test_w_stor(self):
        f = self.login("no_w")
        self.denied(f, "STOR file.txt", "STOR brandnew.txt", "STOU", data=True)

    def test_read_only(self):
        f = self.login("ro")
        self.assertEqual(retr(f, "file.txt"), b"content of file")
        self.denied(f, "STOR x.txt", "APPE file.txt", "STOU", data=True)
        self.denied(f, "DELE file.txt", "RMD emptydir", "MKD nd")
        code, text = reply(f, "RNFR file.txt")
        if code == 350:
            code, text = reply(f, "RNTO y.txt")
        self.assertEqual(code, 550, text)
        self.assertEqual(snapshot(self.srv.root), self.before)

    def test_only_w(self):
        f = self.login("only_w")
        stor(f, "upload.txt", b"up")
        self.assertEqual(self.srv.read("upload.txt"), b"up")
        self.before = snapshot(self.srv.root)
        self.denied(f, "RETR file.txt", "LIST", "APPE upload.txt", data=True)
        self.denied(f, "CWD dir", "DELE upload.txt", "MKD x")



class TestPipelinedBehindATransfer(ServerTestCase):
    """Commands pipelined behind a transfer that ends as soon as it starts (a small file whose
    data connection is there already) each get their reply, in order, on the disk too, where
    their file-system calls and RETR's open run on workers (fsjob.h): the transfer's end
    resumed the session from inside the reply to the RETR's open, and the job's own resume
    after it let the commands behind the next job run alongside it."""

    def replies_until_close(self, c):
        codes = []
        try:
            while True:
                codes.append(c.reply(timeout=10)[0])
        except EOFError:
            pass
        return codes

    def connected_session(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        # one round trip later the server has taken the data connection in
        self.assertEqual(c.cmd("NOOP")[0], 200)
        return c, ds

    def test_commands_behind_a_small_retr(self):
        self.srv.write("x.bin", b"small file\n" * 40)
        c, ds = self.connected_session()
        c.send("RETR x.bin\r\nSIZE x.bin\r\nMDTM x.bin\r\nMLST x.bin\r\nRNFR x.bin\r\n"
               "RNTO y.bin\r\nQUIT\r\n")
        self.assertEqual(recv_all(ds), b"small file\n" * 40)
        self.assertEqual(self.replies_until_close(c), [150, 226, 213, 213, 250, 350, 250, 221])
        self.assertTrue(self.srv.exists("y.bin"))

    def test_commands_behind_an_upload_whose_data_connection_was_reset(self):
        self.srv.write("x.bin", b"x" * 400)
        c, ds = self.connected_session()
        reset_close(ds)
        c.send("STOR up.bin\r\nSIZE x.bin\r\nMDTM x.bin\r\nMLST x.bin\r\nQUIT\r\n")
        codes = self.replies_until_close(c)
        self.assertEqual(codes[:2], [150, 426])
        self.assertEqual(codes[2:], [213, 213, 250, 221])


class TestFsOpsInMemory(ServerTestCase):
    """A home on tmpfs: there ftpd makes a command's file-system calls at once on its loop
    (fsjob.h); elsewhere (every other test here, on the disk) on a worker. The same
    commands must give the same answers."""

    def setUp(self):
        if not os.path.isdir("/dev/shm"):
            self.skipTest("no tmpfs at /dev/shm")
        import shutil
        import tempfile
        self.home = tempfile.mkdtemp(prefix="ftpd-e2e-shm-", dir="/dev/shm")
        self.addCleanup(shutil.rmtree, self.home, True)
        os.chmod(self.home, 0o777)
        self.srv = self.start_server(users=[("mem", "pw-mem", "elradfmwTM", self.home)])

    def test_commands_and_transfers_on_tmpfs(self):
        f = self.srv.ftp("mem", "pw-mem")
        body = data_bytes(300000, seed=3)
        self.assertCode(reply(f, "MKD d"), 257)
        self.assertCode(reply(f, "CWD d"), 250)
        self.assertEqual(f.pwd(), "/d")
        stor(f, "a.bin", body)
        self.assertEqual(reply(f, "SIZE a.bin"), (213, "213 300000"))
        self.assertCode(reply(f, "MFMT 20200102030405 a.bin"), 213)
        self.assertEqual(reply(f, "MDTM a.bin"), (213, "213 20200102030405"))
        self.assertIn("size=300000;", reply(f, "MLST a.bin")[1])
        self.assertEqual(retr(f, "a.bin", rest=1000), body[1000:])
        self.assertCode(reply(f, "RNFR a.bin"), 350)
        self.assertCode(reply(f, "RNTO b.bin"), 250)
        with open(os.path.join(self.home, "d", "b.bin"), "rb") as fh:
            self.assertEqual(fh.read(), body)
        self.assertCode(reply(f, "SIZE a.bin"), 550)
        self.assertCode(reply(f, "CDUP"), 250)
        self.assertCode(reply(f, "RMD d"), 550)  # not empty
        self.assertCode(reply(f, "DELE d/b.bin"), 250)
        self.assertCode(reply(f, "RMD d"), 250)
        self.assertEqual(os.listdir(self.home), [])



class TestFsOpsFromTheCache(ServerTestCase):
    """On a local disk, a command whose path and file the kernel's caches hold is answered on
    the loop (vfs_open_cached): no worker's handoff for a file just stored or listed. The
    server's threads show it: the file-system pool starts only when a job needs it."""

    def setUp(self):
        super().setUp()
        import subprocess
        kind = subprocess.run(["stat", "-f", "-c", "%T", self.srv.root], capture_output=True,
                              text=True).stdout.strip()
        if kind not in ("ext2/ext3", "ext4", "xfs", "btrfs", "f2fs"):
            self.skipTest("the test root is on %s, not a local disk file system" % kind)

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.srv.proc.pid))

    def test_cached_paths_need_no_worker(self):
        self.srv.mkdir("d")
        self.srv.write("d/a.bin", b"cached bytes")
        for path in ("d", "d/a.bin", "nothing.here"):
            os.path.exists(self.srv.local(path))  # in the caches now (the last as absent)
        f = self.srv.ftp()
        before = self.threads()
        self.assertEqual(reply(f, "SIZE d/a.bin"), (213, "213 12"))
        self.assertCode(reply(f, "MDTM d/a.bin"), 213)
        self.assertCode(reply(f, "MLST d/a.bin"), 250)
        self.assertCode(reply(f, "CWD d"), 250)
        self.assertEqual(retr(f, "a.bin"), b"cached bytes")
        self.assertCode(reply(f, "MDTM /nothing.here"), 550)
        self.assertEqual(self.threads(), before)
        # A command that changes the tree still goes to a worker, which starts the pool.
        self.assertCode(reply(f, "MKD e"), 257)
        self.assertGreater(self.threads(), before)


if __name__ == "__main__":
    unittest.main()
