"""LIST -R and NLST -R: the recursive listings of ls -lR (what a classic client's ls -R and
scripts ask for), bounded in depth and entries, never through a link, never out of the root."""
import ftplib
import os
import random
import socket
import subprocess
import unittest

from ftpd_harness import ServerTestCase, pasv_port, reply, retr, run_as_user


def transfer(f, cmd):
    """(lines, the 226 reply's text) of a listing command."""
    lines = []
    resp = f.retrlines(cmd, lines.append)
    return lines, resp


def blocks(lines):
    """A LIST -R listing as [(header, [entry names])], the first directory's header ""."""
    out = [("", [])]
    expect_header = False
    for line in lines:
        if line == "":
            expect_header = True
            continue
        if expect_header:
            assert line.endswith(":"), "a blank line not followed by a header: %r" % line
            out.append((line[:-1], []))
            expect_header = False
            continue
        out[-1][1].append(line.split(None, 8)[8])
    return out


class TestRecursiveListing(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.make_file("a.txt", 3)
        self.srv.make_file("sub/b.txt", 4)
        self.srv.make_file("sub/deep/c.txt", 5)
        self.srv.make_file(".hid/h.txt", 6)
        self.srv.mkdir("empty")

    def test_list_r_is_ls_lr(self):
        f = self.srv.ftp()
        lines, resp = transfer(f, "LIST -R")
        self.assertEqual(resp, "226 Transfer complete.")
        self.assertEqual(blocks(lines), [
            ("", ["a.txt", "empty", "sub"]),
            ("./empty", []),
            ("./sub", ["b.txt", "deep"]),
            ("./sub/deep", ["c.txt"]),
        ])
        # the words a classic client's ls -R sends, alone, with others or with a path
        for cmd in ("LIST -lR", "LIST -Rl", "LIST -la -R", "LIST -R ."):
            with self.subTest(cmd=cmd):
                got = [(h, [n for n in names if n not in (".hid",)])
                       for h, names in blocks(transfer(f, cmd)[0]) if h != "./.hid"]
                self.assertEqual(got, blocks(lines))
        # headers name subdirectories as ls -lR does: beneath the path as given
        for path in ("sub", "sub/", "/sub"):
            with self.subTest(path=path):
                self.assertEqual(blocks(transfer(f, "LIST -lR " + path)[0]), [
                    ("", ["b.txt", "deep"]),
                    (path.rstrip("/") + "/deep", ["c.txt"]),
                ])
        # the root, as ls -lR / names it: "/sub:", not "//sub:"
        for path in ("/", "//"):
            with self.subTest(path=path):
                self.assertEqual([h for h, _ in blocks(transfer(f, "LIST -R " + path)[0])],
                                 ["", "/empty", "/sub", "/sub/deep"])
        # a file lists as itself
        self.assertEqual([l.split()[-1] for l in transfer(f, "LIST -R sub/b.txt")[0]],
                         ["sub/b.txt"])
        self.assertCode(reply(f, "TYPE A"), 200)
        f.sendcmd("PASV")
        self.assertCode(reply(f, "LIST -R nosuch"), 550)

    def test_order_is_ls_lr_order(self):
        """The blocks and their entries come in the order of LC_ALL=C ls -lR (which classic
        clients show and scripts and lftp parse): a folder's entries sorted as the plain
        LIST sorts them (by bytes), then each subfolder's block in that same order, its own
        walk whole before the next. The tree is made in a shuffled order, so that readdir's
        order (by creation on tmpfs, by hash on ext4) is not the sorted one."""
        rnd = random.Random(5)
        names = ["B", "a", "A-1", "a_2", "a.b", "Z~", "z", "10", "9", "_x", "m-n", "M"]
        paths = []
        for top in names:
            paths.append((top, True))
            for sub in rnd.sample(names, 4):
                paths.append((top + "/" + sub, True))
                paths += [(top + "/" + sub + "/" + leaf, False) for leaf in rnd.sample(names, 3)]
            paths += [(top + "/f" + leaf, False) for leaf in rnd.sample(names, 3)]
        paths += [("f" + leaf, False) for leaf in names]
        rnd.shuffle(paths)
        for path, is_dir in paths:  # a file's parents come first where the shuffle puts them
            if is_dir:
                self.srv.mkdir("tree/" + path)
            else:
                self.srv.write("tree/" + path, b"x")
        # the format pinned, whatever the user's environment (TIME_STYLE, QUOTING_STYLE,
        # LS_COLORS, BLOCK_SIZE...): literal names and a three-word date, as parsed below
        out = subprocess.run(["ls", "-lR", "--quoting-style=literal", "--time-style=locale",
                              "--color=never", "tree"], cwd=self.srv.root, check=True,
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        want = []
        for line in out.splitlines():
            if line.startswith("tree") and line.endswith(":"):
                want.append((line[:-1], []))
            elif line and not line.startswith("total"):
                want[-1][1].append(line.split(None, 8)[8])
        want[0] = ("", want[0][1])  # LIST heads only the blocks after the first
        f = self.srv.ftp()
        got = blocks(transfer(f, "LIST -R tree")[0])
        self.assertEqual([h for h, _ in got], [h for h, _ in want])
        self.assertEqual(got, want)
        # each block as the plain LIST of its folder, and its subfolders' blocks in that order
        for header, entries in got:
            d = header or "tree"
            plain = [l.split(None, 8)[8] for l in transfer(f, "LIST " + d)[0]]
            self.assertEqual(entries, plain, d)
            subdirs = [d + "/" + e for e in entries if os.path.isdir(self.srv.local(d + "/" + e))]
            after = [h for h, _ in got if h.startswith(d + "/") and "/" not in h[len(d) + 1:]]
            self.assertEqual(after, subdirs, d)
        # NLST -R in the same order, each name a path from the listed folder
        self.assertEqual(transfer(f, "NLST -R tree")[0],
                         [(h[len("tree/"):] + "/" if h else "") + e for h, entries in got
                          for e in entries])
        self.assertEqual(len(got), 1 + len(names) * 5)

    def test_an_entry_named_like_the_option_does_not_hide_it(self):
        # "-R" is a word clients send on their own, as "-la" is: an option even beside a
        # file that has the name
        self.srv.make_file("-R", 1)
        f = self.srv.ftp()
        heads = [h for h, _ in blocks(transfer(f, "LIST -R")[0])]
        self.assertEqual(heads, ["", "./empty", "./sub", "./sub/deep"])

    def test_only_a_common_option_word_recurses(self):
        # a dash word of other letters that names nothing is skipped as options, but its
        # R does not turn a one-folder listing into the whole tree
        f = self.srv.ftp()
        flat = transfer(f, "NLST")[0]
        self.assertEqual(flat, [".hid", "a.txt", "empty", "sub"])
        for cmd in ("NLST -Ry", "NLST -xR sub"):
            with self.subTest(cmd=cmd):
                want = flat if cmd == "NLST -Ry" else ["b.txt", "deep"]
                self.assertEqual(transfer(f, cmd)[0], want)
        heads = [h for h, _ in blocks(transfer(f, "LIST -lRt")[0])]
        self.assertEqual(heads, [""])

    def test_nlst_r_names_paths_to_fetch(self):
        f = self.srv.ftp()
        names, resp = transfer(f, "NLST -R")
        self.assertEqual(resp, "226 Transfer complete.")
        # NLST names dot files (as without -R), and each name is a path that fetches
        self.assertEqual(names, [".hid", "a.txt", "empty", "sub", ".hid/h.txt", "sub/b.txt",
                                 "sub/deep", "sub/deep/c.txt"])
        for n in ("a.txt", ".hid/h.txt", "sub/b.txt", "sub/deep/c.txt"):
            self.assertEqual(retr(f, n), self.srv.read(n))
        # from the directory it names, as NLST of a directory names its entries
        self.assertEqual(transfer(f, "NLST -R sub")[0], ["b.txt", "deep", "deep/c.txt"])

    def test_hidden_entries_as_without_r(self):
        f = self.srv.ftp()
        heads = [h for h, _ in blocks(transfer(f, "LIST -R")[0])]
        self.assertNotIn("./.hid", heads)
        got = blocks(transfer(f, "LIST -aR")[0])
        self.assertEqual(got[0], ("", [".hid", "a.txt", "empty", "sub"]))
        self.assertEqual(got[1], ("./.hid", ["h.txt"]))

    def test_depth_limit_is_said(self):
        path = "top"
        for i in range(1, 8):
            path += "/d%d" % i
            self.srv.make_file(path + "/f%d" % i, 1)
        f = self.srv.ftp()
        lines, resp = transfer(f, "LIST -R top")
        heads = [h for h, _ in blocks(lines)]
        self.assertEqual(heads, [""] + ["top" + "".join("/d%d" % j for j in range(1, i + 1))
                                        for i in range(1, 6)])
        # the deepest listed holds d6, listed but not entered
        self.assertEqual(blocks(lines)[-1][1], ["d6", "f5"])
        self.assertRegex(resp, r"^226 .*Listing incomplete: .*more than 5 levels down")
        names, resp = transfer(f, "NLST -R top")
        self.assertIn("d1/d2/d3/d4/d5/d6", names)
        self.assertIn("d1/d2/d3/d4/d5/f5", names)
        self.assertFalse([n for n in names if n.startswith("d1/d2/d3/d4/d5/d6/")], names)
        self.assertRegex(resp, r"^226 .*more than 5 levels down")
        # five levels and no more: nothing left out, nothing said
        self.assertEqual(transfer(f, "LIST -R top/d1/d2")[1], "226 Transfer complete.")

    def test_entry_limit_is_said(self):
        for d in ("p", "q", "r"):
            for i in range(3400):
                self.srv.write("many/%s/%04d" % (d, i), b"")
        f = self.srv.ftp()
        lines, resp = transfer(f, "LIST -R many")
        got = blocks(lines)
        self.assertEqual(sum(len(names) for _, names in got), 10000)
        self.assertEqual([h for h, _ in got], ["", "many/p", "many/q", "many/r"])
        self.assertEqual(len(got[3][1]), 10000 - 3 - 3400 - 3400)
        self.assertRegex(resp, r"^226 .*Listing incomplete: cut short at 10000 entries")
        names, resp = transfer(f, "NLST -R many")
        self.assertEqual(len(names), 10000)
        self.assertEqual(names[-1], "r/%04d" % (10000 - 3 - 3400 - 3400 - 1))
        self.assertRegex(resp, r"^226 .*cut short at 10000 entries")
        # the limit is the listing's, not the session's: the next one is whole
        self.assertEqual(transfer(f, "LIST -R sub")[1], "226 Transfer complete.")

    def test_abor_and_a_reader_that_stops_mid_walk(self):
        # The walk is freed wherever it stands (on a worker or not), and the session goes on.
        for d in ("p", "q"):
            for i in range(3000):
                self.srv.write("many/%s/%04d" % (d, i), b"")
        c = self.srv.control()
        c.login()
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227, text)
        ds = socket.socket()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # holds the server back
        ds.settimeout(10)
        ds.connect((self.srv.host, pasv_port(text)))
        self.assertEqual(c.cmd("LIST -R many")[0], 150)
        self.assertTrue(ds.recv(100))
        c.send("ABOR\r\n")
        codes = (c.reply(timeout=10)[0], c.reply(timeout=10)[0])
        # 426 and 226; or, had the whole listing fitted in the sockets' buffers, 226 and 226
        self.assertIn(codes, ((426, 226), (226, 226)))
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)
        c.close()
        f = self.srv.ftp()
        lines, resp = transfer(f, "NLST -R many")
        self.assertEqual((len(lines), resp), (6002, "226 Transfer complete."))

    def test_links_are_listed_never_entered(self):
        self.srv.mkdir("x")
        self.srv.mkdir("y")
        os.symlink("../y", self.srv.local("x/to-y"))  # x and y lead to each other
        os.symlink("../x", self.srv.local("y/to-x"))
        os.symlink("../..", self.srv.local("sub/deep/up"))  # back up the path: left out
        os.symlink("/etc", self.srv.local("sub/out"))  # out of the root: left out
        f = self.srv.ftp()
        lines, resp = transfer(f, "LIST -R")
        self.assertEqual(resp, "226 Transfer complete.")
        got = dict(blocks(lines))
        self.assertEqual(list(got), ["", "./empty", "./sub", "./sub/deep", "./x", "./y"])
        self.assertEqual(got["./x"], ["to-y"])
        self.assertEqual(got["./y"], ["to-x"])
        self.assertEqual(got["./sub"], ["b.txt", "deep"])
        self.assertEqual(got["./sub/deep"], ["c.txt"])
        names = transfer(f, "NLST -R")[0]
        self.assertIn("x/to-y", names)
        self.assertFalse([n for n in names if n.startswith(("x/to-y/", "y/to-x/"))], names)

    @unittest.skipIf(os.geteuid() == 0 and not run_as_user(), "root reads any directory")
    def test_unreadable_subdirectories_are_skipped_and_said(self):
        self.srv.make_file("sub/locked/l.txt", 1)
        self.srv.make_file("sub/noexec/n.txt", 1)
        os.chmod(self.srv.local("sub/locked"), 0o000)
        os.chmod(self.srv.local("sub/noexec"), 0o644)
        for p in ("sub/locked", "sub/noexec"):
            self.addCleanup(os.chmod, self.srv.local(p), 0o755)
        f = self.srv.ftp()
        lines, resp = transfer(f, "LIST -R")
        got = blocks(lines)
        # as ls: the header, no entries; the rest of the tree goes on
        self.assertEqual(got, [
            ("", ["a.txt", "empty", "sub"]),
            ("./empty", []),
            ("./sub", ["b.txt", "deep", "locked", "noexec"]),
            ("./sub/deep", ["c.txt"]),
            ("./sub/locked", []),
            ("./sub/noexec", []),
        ])
        self.assertRegex(resp, r"^226 .*Listing incomplete: 2 directories could not be read "
                               r"\(\./sub/locked first\)")
        lines, resp = transfer(f, "LIST -R sub/deep/../")
        self.assertRegex(resp, r"2 directories could not be read \(sub/deep/\.\./locked first\)")
        os.chmod(self.srv.local("sub/noexec"), 0o755)
        names, resp = transfer(f, "NLST -R sub")
        self.assertEqual(names, ["b.txt", "deep", "locked", "noexec", "deep/c.txt",
                                 "noexec/n.txt"])
        self.assertRegex(resp, r"^226 .*Listing incomplete: locked could not be read\.$")
        # the listed directory itself unreadable: refused, as without -R
        self.assertCode(reply(f, "TYPE A"), 200)
        f.sendcmd("PASV")
        self.assertCode(reply(f, "LIST -R sub/locked"), 550)


class TestRecursiveListingBeneathTheRoot(ServerTestCase):
    server_kwargs = {"users": [("bob", "bob-Pw-4711", "elr", "bob")]}

    def test_stays_beneath_the_root(self):
        srv = self.srv
        srv.make_file("private/secret.txt", 9)
        srv.make_file("bob/mine/m.txt", 2)
        os.symlink("../../private", srv.local("bob/mine/to-private"))
        os.symlink(srv.local("private"), srv.local("bob/abs-private"))
        f = srv.ftp()
        for cmd in ("LIST -R", "LIST -R ..", "LIST -R /../..", "LIST -aR ../private"):
            with self.subTest(cmd=cmd):
                try:
                    lines = transfer(f, cmd)[0]
                except ftplib.error_perm as e:
                    self.assertIn("private", cmd)  # a path out of the root names nothing
                    self.assertRegex(str(e), "^550")
                    continue
                text = "\n".join(lines)
                self.assertNotIn("secret", text)
                self.assertNotIn("private", text)
                self.assertEqual([h.rsplit("/", 1)[-1] for h, _ in blocks(lines)],
                                 ["", "mine"])
        self.assertEqual(transfer(f, "NLST -R")[0], ["mine", "mine/m.txt"])


if __name__ == "__main__":
    unittest.main()
