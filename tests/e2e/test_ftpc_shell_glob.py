"""End-to-end tests of the patterns of ftpc's shell, and of lcd - and cd -.

The real ftpc shell (commands on a pipe) against the real ftpd, with the bytes of every file
that arrives compared: mget and mput expand only the glob characters that are neither
quoted nor backslash-escaped, as sh(1) does; directories a pattern of mput matches are
skipped with a note, without failing the command; lcd - and cd - go back to the previous
directory.

FTPC_BIN defaults to the ftpc beside $FTPD_BIN. Everything runs on loopback.
"""
import os
import unittest

from ftpd_harness import data_bytes
from test_ftpc_shell import ShellCase


def ftpc_lines(err):
    return [l for l in err.splitlines() if l.startswith("ftpc:")]


def line_failures(err):
    """The failures of script lines (a job's own messages come before its line's)."""
    return [l for l in err.splitlines() if l.startswith("ftpc: line ")]


class TestShellMgetQuoting(ShellCase):
    def test_mget_expands_only_unquoted_glob_characters(self):
        srv = self.srv
        files = {name: srv.make_file(name, 1000 + i, seed=40 + i) for i, name in enumerate(
            ["a*b.txt", "aab.txt", "axb.txt", "q?.txt", "qx.txt", "[x].txt", "x.txt",
             "b\\c.txt"])}
        for d in ("quoted", "escaped", "pattern", "bracket", "mixed", "backslash"):
            os.mkdir(self.local(d))
        script = "\n".join([
            "lcd quoted",
            'mget "a*b.txt" \'q?.txt\'',
            "lcd ../escaped",
            "mget a\\*b.txt q\\?.txt",
            "lcd ../pattern",
            "mget a*b.txt q?.txt",
            "lcd ../bracket",
            "mget '[x]'.txt",
            "lcd ../mixed",
            # a quoted '*' then an unquoted one: the names that start with "a*"
            "mget 'a*'*.txt",
            "lcd ../backslash",
            # a quoted backslash before an unquoted '*': a backslash in the name
            "mget 'b\\'*.txt",
        ]) + "\n"
        out, err = self.shell(script)
        expect = {
            "quoted": ["a*b.txt", "q?.txt"],
            "escaped": ["a*b.txt", "q?.txt"],
            "pattern": ["a*b.txt", "aab.txt", "axb.txt", "q?.txt", "qx.txt"],
            "bracket": ["[x].txt"],
            "mixed": ["a*b.txt"],
            "backslash": ["b\\c.txt"],
        }
        for d, names in expect.items():
            self.assertEqual(sorted(os.listdir(self.local(d))), names, "%s\n%s" % (d, err))
            for name in names:
                self.assertEqual(self.read_local(os.path.join(d, name)), files[name])
        self.assertEqual(ftpc_lines(err), [], err)

    def test_a_quoted_name_that_is_missing_fails_without_fetching_a_match(self):
        self.srv.make_file("ab.txt", 500, seed=50)
        out, err = self.shell('mget "a*.txt"\n', rc=5)
        self.assertFalse(os.path.exists(self.local("ab.txt")))
        self.assertEqual(os.listdir(self.tmp), [])
        # asked for by its name (RETR), not listed: the server's answer says it is missing
        self.assertRegex(err, r"/a\*\.txt: .*550")
        self.assertEqual(len(line_failures(err)), 1, err)


class TestShellMputQuoting(ShellCase):
    def test_mput_expands_only_unquoted_glob_characters(self):
        local = {}
        for i, name in enumerate(["a*b.txt", "aab.txt", "axb.txt", "nx.txt"]):
            local[name] = data_bytes(2000 + i, seed=60 + i)
            self.write_local(name, local[name])
        script = "\n".join([
            "mkdir quoted escaped pattern missing",
            "cd quoted",
            'mput "a*b.txt"',
            "cd ../escaped",
            "mput a\\*b.txt",
            "cd ../pattern",
            # an unquoted pattern matches the file named a*b.txt and the others
            "mput a*b.txt",
            "cd ../missing",
            # no local file is named n*.txt: nx.txt does not go in its stead
            "mput 'n*.txt'",
        ]) + "\n"
        out, err = self.shell(script, rc=6)
        expect = {
            "quoted": ["a*b.txt"],
            "escaped": ["a*b.txt"],
            "pattern": ["a*b.txt", "aab.txt", "axb.txt"],
            "missing": [],
        }
        for d, names in expect.items():
            self.assertEqual(sorted(os.listdir(self.srv.local(d))), names, "%s\n%s" % (d, err))
            for name in names:
                self.assertEqual(self.srv.read("%s/%s" % (d, name)), local[name])
        lines = line_failures(err)
        self.assertEqual(lines, ["ftpc: line 9: mput 'n*.txt': failed (exit status 6)"], err)
        self.assertRegex(err, r"cannot open /.*/n\*\.txt: No such file")

    def test_mput_in_a_local_directory_whose_name_has_glob_characters(self):
        # the pattern is the word typed, not the local directory's name around it
        os.mkdir(self.local("dir[1]"))
        one = data_bytes(3000, seed=70)
        self.write_local("dir[1]/f.txt", one)
        self.write_local("d.txt", data_bytes(10, seed=71))  # what dir[1] would match
        out, err = self.shell("lcd 'dir[1]'\nmput *.txt\n")
        self.assertEqual(sorted(os.listdir(self.srv.local("."))), ["f.txt"], err)
        self.assertEqual(self.srv.read("f.txt"), one)

    def test_mput_pattern_that_matches_nothing_fails_and_the_others_go(self):
        one = data_bytes(1500, seed=72)
        self.write_local("one.bin", one)
        out, err = self.shell("mput *.nomatch one.bin\n", rc=6)
        self.assertEqual(self.srv.read("one.bin"), one)
        lines = ftpc_lines(err)
        self.assertEqual(len(lines), 1, err)
        self.assertIn("no local file matches *.nomatch", lines[0])


class TestShellMputDirectories(ShellCase):
    def test_mput_star_skips_directories_with_a_note(self):
        f1, f2 = data_bytes(4000, seed=80), data_bytes(5000, seed=81)
        self.write_local("f1.bin", f1)
        self.write_local("f2.bin", f2)
        os.mkdir(self.local("sub"))
        self.write_local("sub/inner.bin", data_bytes(100, seed=82))
        os.mkdir(self.local("zdir"))
        out, err = self.shell("mput *\n")
        self.assertEqual(sorted(os.listdir(self.srv.local("."))), ["f1.bin", "f2.bin"], err)
        self.assertEqual(self.srv.read("f1.bin"), f1)
        self.assertEqual(self.srv.read("f2.bin"), f2)
        notes = [l for l in err.splitlines() if "skipping directory" in l]
        self.assertEqual(notes, [
            "ftpc: mput: skipping directory sub (use mirror -R to upload folders)",
            "ftpc: mput: skipping directory zdir (use mirror -R to upload folders)",
        ], err)

    def test_a_pattern_that_matches_only_directories_uploads_nothing_and_succeeds(self):
        os.mkdir(self.local("sub"))
        out, err = self.shell("mput s*\npwd\n")
        self.assertEqual(os.listdir(self.srv.local(".")), [], err)
        self.assertIn("skipping directory sub", err)
        self.assertEqual(out.splitlines()[-1], "/")

    def test_a_directory_named_without_a_pattern_is_a_failure(self):
        # named, not matched: the user asked for that directory, and it cannot go; said up
        # front in the skip note's words, the other files still go, status 6 as for a
        # one-shot put of the same operands
        os.mkdir(self.local("sub"))
        one = data_bytes(700, seed=83)
        self.write_local("one.bin", one)
        out, err = self.shell("mput sub one.bin\n", rc=6)
        self.assertEqual(self.srv.read("one.bin"), one)
        self.assertFalse(self.srv.exists("sub"))
        self.assertIn("mput sub one.bin: sub is a directory: mput uploads files only "
                      "(use mirror -R to upload folders)", err)
        self.assertNotIn("uploading", err)  # no job tried it
        os.unlink(self.srv.local("one.bin"))
        r = self.ftpc("put", "sub", "one.bin", self.srv.url(""), rc=6)
        self.assertEqual(self.srv.read("one.bin"), one)
        self.assertIn(b"sub is a directory, not a file (mirror -R DIR URL uploads a tree)",
                      r.stderr)


class TestShellPreviousDirectory(ShellCase):
    def test_lcd_dash_goes_back_and_forth(self):
        os.mkdir(self.local("sub"))
        top = os.path.realpath(self.tmp)
        sub = os.path.join(top, "sub")
        got = self.srv.make_file("g.bin", 1200, seed=90)
        script = "\n".join([
            "lcd sub",
            "lcd -",
            "lpwd",
            "lcd -",
            "get g.bin",
        ]) + "\n"
        out, err = self.shell(script)
        self.assertEqual(out.splitlines(), [
            "Local directory now %s" % sub,
            "Local directory now %s" % top,
            top,
            "Local directory now %s" % sub,
        ], err)
        self.assertEqual(self.read_local("sub/g.bin"), got)
        self.assertFalse(os.path.exists(self.local("g.bin")))

    def test_lcd_dash_without_a_previous_directory_says_so(self):
        out, err = self.shell("lcd -\nlpwd\n", rc=2)
        self.assertEqual(ftpc_lines(err), ["ftpc: line 1: lcd -: no previous local directory"])
        self.assertEqual(out.splitlines(), [os.path.realpath(self.tmp)])

    def test_cd_dash_goes_back_to_the_previous_remote_directory(self):
        got = self.srv.make_file("a/b/in-b.bin", 1300, seed=91)
        script = "\n".join([
            "cd a/b",
            "cd -",
            "pwd",
            "cd -",
            "pwd",
            "cd /",
            "cd -",
            "get in-b.bin",
            "cd /a",
            "cd nowhere",  # a failed cd moves nothing: - is still /a/b
            "cd -",
            "pwd",
        ]) + "\n"
        out, err = self.shell(script, rc=5)
        self.assertEqual(out.splitlines(), ["/", "/", "/a/b", "/a/b", "/a/b", "/a/b", "/a/b"],
                         err)
        self.assertEqual(self.read_local("in-b.bin"), got)
        self.assertEqual(len(ftpc_lines(err)), 1, err)
        self.assertRegex(err, r"line 10: cd nowhere: .*550")

    def test_cd_dash_without_a_previous_directory_says_so(self):
        out, err = self.shell("cd -\npwd\n", rc=2)
        self.assertEqual(ftpc_lines(err), ["ftpc: line 1: cd -: no previous remote directory"])
        self.assertEqual(out.splitlines(), ["/"])


if __name__ == "__main__":
    unittest.main()
