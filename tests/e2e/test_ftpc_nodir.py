"""ftpc put into a remote directory that is not there, against ftpd (vsftpd, which has no
MLST and is asked with CWD: test_ftpc_interop.py).

Without an option, the first refusal found to be for a missing directory is told once, with
how to go on, and the other files for that directory are not sent (counted as failed); a put
into a directory that is there sends nothing more than before. With --create-dirs the missing
levels are made once (MKD each, whatever -j is) and the files go in; a mkdir that fails is
told once and sends none of them.
"""
import re
import subprocess
import unittest

from ftpd_harness import data_bytes
from test_ftpc import FTPC_BIN, FtpcCase


def cmds(log, verb):
    """The commands verb (STOR, MKD, ...) in ftpd's debug log, as sent."""
    return re.findall(r"-> %s (\S+)" % verb, log)


def ftpc_lines(err):
    return [l for l in err.splitlines() if l.startswith("ftpc:")]


class TestPutMissingDir(FtpcCase):
    def write_files(self, n):
        names = []
        for i in range(n):
            name = "f%02d.bin" % i
            self.write_local(name, data_bytes(3000 + i, i))
            names.append(name)
        return names

    def test_existing_dir_then_missing_dir(self):
        names = self.write_files(12)
        # into a directory that is there: STOR and the checks after it, nothing more
        self.srv.mkdir("incoming/old")
        self.ftpc("-j", "4", "put", *names, self.srv.url("incoming/old/"))
        log = self.srv.settled_log_text()
        self.assertEqual(sorted(cmds(log, "STOR")), ["incoming/old/" + n for n in names])
        for verb in ("MLST", "CWD", "PWD", "MKD"):
            self.assertEqual(cmds(log, verb), [], verb)
        # into one that is not: one error naming it and how to go on, at most one STOR per
        # connection (-j 4: the four begun before the first refusal came back)
        before = len(cmds(log, "STOR"))
        r = self.ftpc("-j", "4", "put", *names, self.srv.url("incoming/mny/"), rc=5)
        err = r.stderr.decode()
        lines = ftpc_lines(err)
        self.assertEqual(len(lines), 1, err)
        self.assertIn("no such directory on the server: incoming/mny (STOR: the server "
                      "replied 550 ", lines[0])
        self.assertIn("create it with 'ftpc mkdir -p ftp://alice@127.0.0.1:%d/incoming/mny/', "
                      "or upload with put --create-dirs; 11 other files for it not sent "
                      "(counted as failed)" % self.srv.port, lines[0])
        stors = len(cmds(self.srv.settled_log_text(), "STOR")) - before
        self.assertGreaterEqual(stors, 1)
        self.assertLessEqual(stors, 4)
        # one connection: one STOR in all
        r = self.ftpc("-j", "1", "put", *names, self.srv.url("incoming/mny/"), rc=5)
        self.assertEqual(len(ftpc_lines(r.stderr.decode())), 1, r.stderr)
        self.assertEqual(len(cmds(self.srv.settled_log_text(), "STOR")) - before - stors, 1)
        self.assertFalse(self.srv.exists("incoming/mny"))

    def test_hint_for_a_name_a_url_must_escape(self):
        # The command the hint gives works as written: a space (which the shell splits at),
        # a % (which the URL would decode), a ; (which would start ;type=) and a ' (which
        # would end the quotes around the command) are %-encoded in its URL.
        self.write_local("one.bin", b"one")
        d = "incoming/new dir 100%;type=a 'q'"
        r = self.ftpc("put", "one.bin", self.srv.url(d + "/"), rc=5)
        lines = ftpc_lines(r.stderr.decode())
        self.assertEqual(len(lines), 1, r.stderr)
        m = re.search(r"create it with 'ftpc mkdir -p ([^']*)'", lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group(1), "ftp://alice@127.0.0.1:%d/incoming/new%%20dir%%20100%%25"
                         "%%3Btype=a%%20%%27q%%27/" % self.srv.port)
        hint = m.group(1).replace("ftp://alice@", "ftp://alice:%s@" % self.srv.password)
        self.ftpc("mkdir", "-p", hint)
        self.assertTrue(self.srv.exists(d))
        self.ftpc("put", "one.bin", self.srv.url(d + "/"))
        self.assertEqual(self.srv.read(d + "/one.bin"), b"one")

    def test_named_target_stdin_and_other_refusals(self):
        self.write_local("one.bin", b"one")
        r = self.ftpc("put", "one.bin", self.srv.url("nope/deeper/one.bin"), rc=5)
        self.assertIn("no such directory on the server: nope/deeper (", r.stderr.decode())
        r = subprocess.run([FTPC_BIN, "put", "-", self.srv.url("nope/s.bin")], input=b"x",
                           capture_output=True, timeout=60, env=self.env(), cwd=self.tmp)
        self.check_output(r)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"no such directory on the server: nope (", r.stderr)
        # a refusal in a directory that is there keeps the server's word, a line per file
        srv = self.start_server(users=[("ro", "ro-Pw-1", "elr")])
        srv.mkdir("sub")
        names = self.write_files(3)
        r = self.ftpc("put", *names, srv.url("sub/", user="ro", pw="ro-Pw-1"), rc=5)
        err = r.stderr.decode()
        self.assertEqual(len(ftpc_lines(err)), 3, err)
        self.assertNotIn("no such directory", err)
        self.assertRegex(err, r"STOR: the server replied 550 ")

    def test_create_dirs(self):
        names = self.write_files(6)
        r = self.ftpc("-j", "4", "--create-dirs", "put", *names, self.srv.url("up/a/b/"))
        for n in names:
            self.assertEqual(self.srv.read("up/a/b/" + n), self.read_local(n), n)
        log = self.srv.settled_log_text()
        # each level once, before any STOR, whatever -j is
        self.assertEqual(cmds(log, "MKD"), ["up", "up/a", "up/a/b"])
        self.assertLess(log.index("-> MKD up/a/b"), log.index("-> STOR"))
        self.assertEqual(ftpc_lines(r.stderr.decode()), [])
        # again: the directories are there (mkdir -p accepts that), the files replaced
        self.ftpc("-j", "4", "--create-dirs", "put", *names, self.srv.url("up/a/b/"))
        # a named target, and standard input
        self.write_local("n.bin", data_bytes(5000, 9))
        self.ftpc("--create-dirs", "put", "n.bin", self.srv.url("x/y/z.bin"))
        self.assertEqual(self.srv.read("x/y/z.bin"), self.read_local("n.bin"))
        r = subprocess.run([FTPC_BIN, "--create-dirs", "put", "-", self.srv.url("s/t/in.bin")],
                           input=b"from stdin", capture_output=True, timeout=60,
                           env=self.env(), cwd=self.tmp)
        self.check_output(r)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.srv.read("s/t/in.bin"), b"from stdin")

    def test_create_dirs_refused(self):
        srv = self.start_server(users=[("ro", "ro-Pw-1", "elr")])
        names = self.write_files(4)
        r = self.ftpc("-j", "2", "--create-dirs", "put", *names,
                      srv.url("new/", user="ro", pw="ro-Pw-1"), rc=5)
        lines = ftpc_lines(r.stderr.decode())
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], r"creating directory .*/new: MKD: the server replied 550 .*; "
                                   r"4 files for it not sent \(counted as failed\)$")
        self.assertNotIn(".;", lines[0])  # the server's full stop goes before the count
        self.assertEqual(cmds(srv.settled_log_text(), "STOR"), [])
        self.ftpc("--create-dirs", "get", srv.url("x"), rc=2)
        r = self.ftpc("--create-dirs", srv.url(""), rc=2)  # the shell: it goes with put
        self.assertIn(b"--create-dirs and the mirror options go with a command", r.stderr)


if __name__ == "__main__":
    unittest.main()
