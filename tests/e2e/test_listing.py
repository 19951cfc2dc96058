"""Listings: LIST in `ls -l` form, NLST names, MLSD/MLST facts, STAT path."""
import ftplib
import os
import re
import time
import unittest

from ftpd_harness import ServerTestCase, listing, nlst, reply, retr, run_as_user

LS_RE = re.compile(r"^([-dl])([-rwxsStT]{9})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s+"
                   r"(\w{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s+(.+)$")


class TestListing(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.make_file("file1.bin", 1234, seed=1)
        self.srv.make_file("file 2.txt", 10)
        self.srv.mkdir("dir1")
        self.srv.make_file("dir1/inner.bin", 77)
        self.srv.write("old.txt", b"old", mtime=1262304000)  # 2010-01-01

    def test_list_ls_format(self):
        f = self.srv.ftp()
        lines = listing(f)
        parsed = {}
        for l in lines:
            m = LS_RE.match(l)
            self.assertTrue(m, "not ls -l form: %r" % l)
            parsed[m.group(10)] = m
        self.assertEqual(set(parsed), {"file1.bin", "file 2.txt", "dir1", "old.txt"})
        self.assertEqual(parsed["file1.bin"].group(1), "-")
        self.assertEqual(parsed["file1.bin"].group(6), "1234")
        self.assertEqual(parsed["dir1"].group(1), "d")
        self.assertEqual(parsed["old.txt"].group(9), "2010")  # old files show the year
        self.assertRegex(parsed["file1.bin"].group(9), r"^\d{1,2}:\d{2}$")

    def test_ftplib_dir_and_list_of_path(self):
        f = self.srv.ftp()
        out = []
        f.dir("dir1", out.append)
        self.assertEqual(len(out), 1, out)
        self.assertTrue(out[0].endswith(" inner.bin"), out)
        # LIST of a single file gives one line for it
        lines = listing(f, "file1.bin")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("1234", lines[0])
        self.assertTrue(lines[0].endswith("file1.bin"), lines)

    def test_list_options_accepted(self):
        f = self.srv.ftp()
        for opt in ("-a", "-l", "-la", "-al"):
            names = {LS_RE.match(l).group(10) for l in listing(f, opt)}
            self.assertTrue({"file1.bin", "dir1"} <= names, (opt, names))
        names = {LS_RE.match(l).group(10) for l in listing(f, "-la dir1")}
        self.assertIn("inner.bin", names)

    def test_a_path_that_starts_with_a_dash(self):
        # curl's nocwd method and ftplib send "NLST -d" for a directory named -d: a word
        # that names an entry as a whole is that path, not ls options (as for ProFTPD)
        self.srv.make_file("-d/in.bin", 5)
        self.srv.make_file("-x y/x.bin", 4321)
        f = self.srv.ftp()
        self.assertEqual(nlst(f, "-d"), ["in.bin"])
        self.assertEqual(nlst(f, "-d/"), ["in.bin"])
        lines = listing(f, "-x y")
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r" 4321 .* x\.bin$")
        code, text = reply(f, "STAT -d")
        self.assertEqual(code, 212, text)
        self.assertIn("in.bin", text)
        # option words that name nothing stay options, before a path or alone
        names = {LS_RE.match(l).group(10) for l in listing(f, "-la -d")}
        self.assertEqual(names - {".", ".."}, {"in.bin"})
        self.assertIn("file1.bin", nlst(f, "-al"))
        self.assertIn("inner.bin", nlst(f, "-1 dir1"))
        # the words clients send on their own (wget's LIST -a, lftp's -la) stay options
        # even where a file has that name
        self.srv.make_file("-a", 3)
        self.srv.make_file("-la", 3)
        self.assertIn("file1.bin", nlst(f, "-a"))
        names = {LS_RE.match(l).group(10) for l in listing(f, "-la")}
        self.assertTrue({"file1.bin", "-a", "-la", "-d"} <= names, names)

    def test_a_double_dash_ends_the_options(self):
        # As for ls (lftp passes "ls -- -l" on as it is): what follows "--" is the path, even
        # a word of the option letters, and one that names nothing is refused. Both listed
        # the whole directory.
        self.srv.make_file("-l", 3)
        self.srv.make_file("-la/in.bin", 5)
        f = self.srv.ftp()
        lines = listing(f, "-- -l")
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r" 3 .* -l$")
        self.assertEqual(nlst(f, "-- -l"), ["-l"])
        self.assertEqual(nlst(f, "-a -- -la"), ["in.bin"])
        self.assertEqual(nlst(f, "--"), nlst(f))
        code, text = reply(f, "STAT -- -l")
        self.assertEqual(code, 213, text)
        self.assertEqual(len(text.splitlines()), 3, text)
        f.voidcmd("TYPE A")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "LIST -- -nosuch"), 550)
        self.assertEqual(reply(f, "NOOP")[0], 200)
        # a name that "--" begins is still that entry
        self.srv.make_file("-- x", 4)
        self.assertEqual(nlst(f, "-- x"), ["-- x"])

    def test_list_missing_path(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE A")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "LIST nosuch"), (450, 550))
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_nlst(self):
        f = self.srv.ftp()
        self.assertEqual(sorted(nlst(f)), sorted(["file1.bin", "file 2.txt", "dir1", "old.txt"]))
        self.assertEqual([os.path.basename(n) for n in nlst(f, "dir1")], ["inner.bin"])

    def test_a_file_lists_under_the_path_it_was_asked_by(self):
        # As ls, ProFTPD and vsftpd: NLST of dir1/inner.bin answers that path, not the bare
        # name, so a client fetching each name NLST gives (mget) gets a path that works.
        f = self.srv.ftp()
        for path in ("dir1/inner.bin", "/dir1/inner.bin", "dir1/../dir1/inner.bin"):
            self.assertEqual(nlst(f, path), [path])
            self.assertEqual(len(retr(f, nlst(f, path)[0])), 77)
            lines = listing(f, path)
            self.assertEqual(len(lines), 1, lines)
            self.assertEqual(LS_RE.match(lines[0]).group(10), path)
        self.assertEqual(nlst(f, "file1.bin"), ["file1.bin"])
        code, text = reply(f, "STAT dir1/inner.bin")
        self.assertEqual(code, 213, text)
        self.assertTrue(text.splitlines()[1].endswith(" dir1/inner.bin"), text)
        f.cwd("dir1")
        self.assertEqual(nlst(f, "../file1.bin"), ["../file1.bin"])
        self.assertEqual(nlst(f), ["inner.bin"])  # a directory's entries keep their names

    def test_nlst_and_list_with_wildcards(self):
        # what a classic client's `mget *.bin` sends
        self.srv.make_file("dir1/other.txt", 5)
        self.srv.write(".hidden.bin", b"h")
        f = self.srv.ftp()
        self.assertEqual(nlst(f, "*.bin"), ["file1.bin"])  # a leading dot needs a leading dot
        self.assertEqual(nlst(f, ".*.bin"), [".hidden.bin"])
        self.assertEqual(nlst(f, "*.txt"), ["file 2.txt", "old.txt"])
        self.assertEqual(nlst(f, "file?.bin"), ["file1.bin"])
        self.assertEqual(nlst(f, "dir1/*"), ["dir1/inner.bin", "dir1/other.txt"])
        self.assertEqual(nlst(f, "/dir1/[io]*.bin"), ["/dir1/inner.bin"])
        lines = listing(f, "-l *.txt")
        self.assertEqual([LS_RE.match(l).group(10) for l in lines], ["file 2.txt", "old.txt"])
        for name in nlst(f, "dir1/*"):  # the names NLST gives are ones RETR takes
            self.assertEqual(len(retr(f, name)), {"dir1/inner.bin": 77, "dir1/other.txt": 5}[name])
        f.voidcmd("TYPE A")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "NLST *.none"), 550)
        self.assertEqual(reply(f, "NOOP")[0], 200)
        # a name that holds the wildcard itself is listed as that name
        self.srv.write("star*.txt", b"*")
        self.assertEqual(nlst(f, "star*.txt"), ["star*.txt"])

    def test_wildcards_stay_beneath_the_root(self):
        f = self.srv.ftp()
        names = nlst(f, "../../*.bin")  # the client's own words, resolved beneath the root
        self.assertEqual(names, ["../../file1.bin"])
        self.assertEqual(len(retr(f, names[0])), 1234)

    def test_nlst_empty_dir(self):
        self.srv.mkdir("empty")
        f = self.srv.ftp()
        self.assertEqual(nlst(f, "empty"), [])

    def test_mlsd(self):
        f = self.srv.ftp()
        entries = {n: facts for n, facts in f.mlsd("", ["type", "size", "modify", "perm", "unique"])}
        types = {n: e["type"] for n, e in entries.items()}
        self.assertEqual({n for n, t in types.items() if t in ("file", "dir")},
                         {"file1.bin", "file 2.txt", "dir1", "old.txt"})
        for n, t in types.items():
            self.assertIn(t, ("file", "dir", "cdir", "pdir"), n)
        e = entries["file1.bin"]
        self.assertEqual(e["size"], "1234")
        mtime = int(os.stat(self.srv.local("file1.bin")).st_mtime)
        self.assertEqual(e["modify"][:14], time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime)))
        self.assertEqual(entries["old.txt"]["modify"][:14], "20100101000000")
        self.assertTrue(e["unique"])
        self.assertNotEqual(e["unique"], entries["dir1"]["unique"])
        self.assertTrue(set("r") <= set(e["perm"]), e["perm"])
        self.assertTrue(set("el") <= set(entries["dir1"]["perm"]), entries["dir1"]["perm"])
        self.assertEqual(entries["dir1"]["type"], "dir")

    def test_mlsd_of_subdir_and_errors(self):
        f = self.srv.ftp()
        names = [n for n, e in f.mlsd("dir1") if e.get("type") == "file"]
        self.assertEqual(names, ["inner.bin"])
        f.voidcmd("TYPE A")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "MLSD file1.bin"), (501, 550))
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "MLSD nosuch"), 550)

    def test_errors_name_the_path(self):
        os.symlink("/etc", self.srv.local("out"))
        f = self.srv.ftp()
        f.voidcmd("TYPE A")
        for cmd, path in (("NLST", "nosuch"), ("MLSD", "nosuch"), ("MLSD", "out"),
                          ("NLST", "out/passwd"), ("LIST", "nosuch"), ("NLST", "file1.bin/*"),
                          ("LIST", "file1.bin/x")):
            self.assertEqual(reply(f, "PASV")[0], 227)
            code, text = reply(f, "%s %s" % (cmd, path))
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith("550 %s: " % path), text)
        # without a path, the command: the working directory went away
        self.srv.mkdir("gone")
        f.cwd("gone")
        os.rmdir(self.srv.local("gone"))
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "NLST"), (550, "550 NLST: No such file or directory."))

    def test_mlst(self):
        f = self.srv.ftp()
        code, text = reply(f, "MLST file1.bin")
        self.assertEqual(code, 250, text)
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("250-") and lines[-1].startswith("250"), text)
        self.assertEqual(len(lines), 3, text)
        self.assertTrue(lines[1].startswith(" "), text)
        facts, name = lines[1][1:].split(" ", 1)
        self.assertTrue(name.endswith("file1.bin"), name)
        d = dict(kv.split("=", 1) for kv in facts.rstrip(";").split(";"))
        self.assertEqual(d["type"].lower(), "file")
        self.assertEqual(d["size"], "1234")
        code, text = reply(f, "MLST")
        self.assertEqual(code, 250, text)
        self.assertRegex(text.lower(), r"type=(cdir|dir)")
        self.assertCode(reply(f, "MLST nosuch"), 550)

    def test_stat_path(self):
        f = self.srv.ftp()
        code, text = reply(f, "STAT file1.bin")
        self.assertEqual(code, 213, text)
        self.assertTrue(text.splitlines()[0].startswith("213-"), text)
        self.assertIn("file1.bin", text)
        self.assertIn("1234", text)
        # RFC 959: a directory's status is 212, a file's 213
        code, text = reply(f, "STAT dir1")
        self.assertEqual(code, 212, text)
        self.assertTrue(text.splitlines()[0].startswith("212-"), text)
        self.assertTrue(text.splitlines()[-1].startswith("212 "), text)
        self.assertIn("inner.bin", text)
        code, text = reply(f, "STAT /")
        self.assertEqual(code, 212, text)
        for n in ("file1.bin", "file 2.txt", "dir1", "old.txt"):
            self.assertIn(n, text)
        self.assertCode(reply(f, "STAT nosuch"), (450, 550))
        # a wildcard lists what matches, as LIST does
        code, text = reply(f, "STAT *.bin")
        self.assertEqual(code, 212, text)
        self.assertIn("file1.bin", text)
        self.assertNotIn("file 2.txt", text)
        self.assertCode(reply(f, "STAT *.nosuch"), 550)

    def test_many_entries(self):
        for i in range(1500):
            self.srv.write("many/entry-%04d-%s.txt" % (i, "x" * 40), b"")
        f = self.srv.ftp(timeout=30)
        names = nlst(f, "many")
        self.assertEqual(len(names), 1500)
        lines = listing(f, "many")
        self.assertEqual(len(lines), 1500)
        self.assertEqual(len([1 for n, e in f.mlsd("many") if e["type"] == "file"]), 1500)

    def test_a_directory_beyond_one_sorted_run(self):
        # Names taking more than ftpd's 1 MiB run come as several sorted runs: every entry
        # exactly once in LIST, NLST and MLSD, while the listing holds one run at a time.
        d = self.srv.mkdir("huge")
        names = ["%05d-%s" % (i, "y" * 244) for i in range(9000)]
        # made out of order: a file system that lists in creation order must not list sorted
        for i in range(len(names)):
            open(os.path.join(d, names[i * 7919 % len(names)]), "wb").close()
        f = self.srv.ftp(timeout=60)
        got = nlst(f, "huge")
        self.assertEqual(sorted(got), names)
        self.assertNotEqual(got, names)  # runs, not one sorted whole
        lines = listing(f, "huge")
        self.assertEqual(sorted(l.rsplit(" ", 1)[1] for l in lines), names)
        self.assertEqual(sorted(n for n, e in f.mlsd("huge") if e["type"] == "file"), names)

    def test_utf8_names(self):
        name = "gr\u00fc\u00dfe-\u65e5\u672c.txt"
        self.srv.write(name, b"utf8")
        f = self.srv.ftp()
        self.assertIn(name, nlst(f))
        self.assertIn(name, [n for n, _ in f.mlsd()])
        self.assertEqual(retr(f, name), b"utf8")

    def test_symlinks_in_listing(self):
        os.symlink("file1.bin", self.srv.local("link-to-file"))
        f = self.srv.ftp()
        self.assertIn("link-to-file", nlst(f))
        lines = [l for l in listing(f) if "link-to-file" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("-") and " 1234 " in lines[0], lines)  # the file's
        facts = dict(f.mlsd())["link-to-file"]
        self.assertEqual((facts["type"], facts["size"]), ("file", "1234"))

    def test_links_out_of_the_root_or_to_nothing_are_not_listed(self):
        outside = os.path.join(self.srv.base, "outside.txt")
        with open(outside, "wb") as fh:
            fh.write(b"secret outside the root")
        os.symlink(outside, self.srv.local("out-abs"))
        os.symlink("../outside.txt", self.srv.local("out-rel"))
        os.symlink("/etc", self.srv.local("out-dir"))
        os.symlink("nowhere", self.srv.local("dangling"))
        os.symlink("dir1", self.srv.local("in-dir"))
        hidden = {"out-abs", "out-rel", "out-dir", "dangling"}
        f = self.srv.ftp()
        names = set(nlst(f))
        self.assertFalse(names & hidden, names)
        self.assertIn("in-dir", names)
        lines = listing(f)
        self.assertFalse([l for l in lines if l.split()[-1] in hidden], lines)
        self.assertTrue([l for l in lines if l.startswith("d") and l.endswith(" in-dir")], lines)
        mlsd = dict(f.mlsd())
        self.assertFalse(set(mlsd) & hidden, mlsd)
        self.assertEqual(mlsd["in-dir"]["type"], "dir")
        self.assertEqual(nlst(f, "*"), sorted(names))  # a glob leaves them out too

    def test_links_back_up_the_path_are_not_listed(self):
        # A link to the listed directory or to one the path went through would send a
        # mirroring client round a loop (lftp mirror made 40 nested copies); a link elsewhere
        # in the tree stays listed, and a left-out link still works by name.
        self.srv.mkdir("dir1/sub")
        self.srv.make_file("dir1/sub/s.bin", 5)
        os.symlink(".", self.srv.local("dir1/sub/self"))
        os.symlink("../../dir1", self.srv.local("dir1/sub/up"))
        os.symlink("dir1", self.srv.local("in-dir"))
        self.srv.mkdir("x")
        self.srv.mkdir("y")
        os.symlink("../y", self.srv.local("x/to-y"))
        os.symlink("../x", self.srv.local("y/to-x"))
        f = self.srv.ftp()
        self.assertEqual(nlst(f, "dir1/sub"), ["s.bin"])
        self.assertEqual([l.split()[-1] for l in listing(f, "dir1/sub")], ["s.bin"])
        self.assertEqual([n for n, _ in f.mlsd("dir1/sub")], ["s.bin"])
        self.assertEqual(nlst(f, "dir1/sub/*"), ["dir1/sub/s.bin"])
        self.assertIn("in-dir", nlst(f))  # a second way to a directory is no loop
        self.assertEqual(nlst(f, "in-dir/sub"), ["s.bin"])
        # x/to-y is y, whose to-x leads back to x on the path: left out there only
        self.assertEqual(nlst(f, "x"), ["to-y"])
        self.assertEqual(nlst(f, "y"), ["to-x"])
        self.assertEqual(nlst(f, "x/to-y"), [])
        self.assertEqual(retr(f, "dir1/sub/self/up/sub/s.bin"), self.srv.read("dir1/sub/s.bin"))
        self.assertCode(reply(f, "CWD dir1/sub/self"), 250)

    @unittest.skipIf(os.geteuid() == 0 and not run_as_user(), "root searches any directory")
    def test_a_directory_that_cannot_be_searched_is_refused_not_empty(self):
        # Mode r-- without x: its names can be read but none stat'ed; the listings came out
        # empty with 226, and a user took the directory for empty.
        os.chmod(self.srv.local("dir1"), 0o644)
        self.addCleanup(os.chmod, self.srv.local("dir1"), 0o755)
        f = self.srv.ftp()
        for cmd in ("LIST dir1", "NLST dir1", "MLSD dir1", "NLST dir1/*"):
            with self.subTest(cmd=cmd):
                with self.assertRaisesRegex(ftplib.error_perm, "550 .*Permission denied"):
                    f.retrlines(cmd, lambda line: None)
        self.assertCode(reply(f, "STAT dir1"), 550)
        self.assertIn("dir1", nlst(f))  # the directory itself is listed as before

    def test_names_with_a_line_feed_are_left_out(self):
        # Sent whole, the LF would end the listing line inside the name, and its tail would
        # be an entry of its own: a forged file in MLSD, a name in NLST (RFC 3659 2.2).
        self.srv.write("x\r\ntype=file;size=9; forged", b"1")
        self.srv.write("lf\nforged", b"1")
        self.srv.write("cr\rkept", b"1")
        f = self.srv.ftp()
        expected = ["cr\rkept", "dir1", "file 2.txt", "file1.bin", "old.txt"]

        def raw(cmd):
            chunks = []
            f.retrbinary(cmd, chunks.append)
            return b"".join(chunks)

        for cmd in ("MLSD", "NLST", "LIST", "NLST *"):
            data = raw(cmd)
            self.assertNotIn(b"forged", data, cmd)
            lines = data.split(b"\r\n")
            self.assertEqual(lines[-1], b"", cmd)
            self.assertEqual(len(lines) - 1, len(expected), (cmd, data))
            self.assertNotIn(b"\n", b"".join(lines), (cmd, data))
        self.assertEqual(sorted(n.decode() for n in raw("NLST").split(b"\r\n")[:-1]), expected)
        code, text = reply(f, "STAT .")
        self.assertEqual(code, 212, text)
        self.assertNotIn("forged", text)


if __name__ == "__main__":
    unittest.main()
