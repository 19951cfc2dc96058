"""End-to-end tests of ftpc's interactive shell against the real ftpd.

Scripted (commands on a pipe): every command, with bytes compared for the transfers, the
remote and local directory state, quote, status, errors naming the failed line and the exit
status of the first failure, background jobs with jobs/wait/kill. In a pseudo-terminal
(tmux): Tab completion of a command and of a remote path, history kept across two sessions
(Up recalls), and a background download that goes on while the prompt answers pwd and jobs.

FTPC_BIN defaults to the ftpc beside $FTPD_BIN. Everything runs on loopback; every wait is
bounded.
"""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import data_bytes, wait_for
from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase

MiB = 1024 * 1024


class ShellCase(FtpcCase):
    def shell(self, script, *args, rc=0, timeout=90, env=None):
        """Runs `ftpc ARGS...` (by default the server's URL, logged in as alice) with script
        on standard input; asserts the exit status (None: any). Returns (stdout, stderr)."""
        if not args:
            args = (self.srv.url(),)
        env = env or self.env()
        r = subprocess.run([FTPC_BIN] + [str(a) for a in args], cwd=self.tmp, input=script.encode(),
                           capture_output=True, timeout=timeout, env=env)
        self.check_output(r)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        if rc is not None:
            self.assertEqual(r.returncode, rc, "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (r.returncode, rc, out[-3000:], err[-3000:]))
        return out, err


class TestShellScript(ShellCase):
    # The refused logins here test how ftpc takes a 530, not ftpd's delay before it
    # (test_session.py does): 50 ms instead of the default 1 s.
    server_kwargs = {"args": ["--login-failure-delay", "50"]}

    def test_directories_listing_quote_status(self):
        self.srv.make_file("top.bin", 1000, seed=1)
        script = "\n".join([
            "pwd",
            "mkdir -p sub/deeper",
            "cd sub",
            "pwd",
            "cd deeper",
            "pwd",
            "cd ..",
            "pwd",
            "cd",
            "pwd",
            "ls",
            "dir",
            "ls -l sub",
            "quote NOOP",
            "quote SYST",
            "status",
            "help",
            "help get",
            "# a comment, then an empty line",
            "",
            "bye",
            "pwd",  # never runs
        ]) + "\n"
        out, err = self.shell(script)
        lines = out.splitlines()
        dirs = [l for l in lines if l.startswith("/")]
        self.assertEqual(dirs[:5], ["/", "/sub", "/sub/deeper", "/sub", "/"], out)
        self.assertTrue(os.path.isdir(self.srv.local("sub/deeper")))
        self.assertIn("top.bin", lines)  # ls: NLST names
        self.assertTrue(any(re.search(r"^d.* sub$", l) for l in lines), out)  # dir: LIST
        self.assertTrue(any(re.search(r"^d.* deeper$", l) for l in lines), out)  # ls -l sub
        self.assertTrue(any(l.startswith("200") for l in lines), out)  # quote NOOP
        self.assertTrue(any(l.startswith("215") for l in lines), out)  # quote SYST
        self.assertIn("Remote directory: /", out)
        self.assertIn("Local directory: %s" % os.path.realpath(self.tmp), out)
        self.assertIn("Mode: passive; type: binary.", out)
        for name in ("open", "user", "close", "ls", "dir", "cd", "lcd", "pwd", "get", "put",
                     "mget", "mput", "reget", "reput", "mirror", "rename", "delete", "mkdir",
                     "rmdir", "binary", "ascii", "passive", "active", "quote", "status",
                     "help", "quit", "bye", "exit", "rm", "mv", "jobs", "wait", "kill"):
            self.assertRegex(out, r"(?m)^  %s\b" % name)
        self.assertIn("get [-b] [OPTS] REMOTE [LOCAL]\n    download a file", out)
        self.assertEqual(dirs.count("/"), 2, "nothing runs after bye")
        self.assertEqual(err, "")

    def test_help_explains_every_command_it_lists(self):
        out, _ = self.shell("help\n")
        names = re.findall(r"(?m)^  (\S+)", out)
        self.assertIn("!COMMAND", names, out)
        self.assertIn("get", names, out)
        # help NAME for each (the shell escape as it is listed, and as it is typed)
        out, err = self.shell("".join("help %s\n" % n for n in names) + "help !\n")
        self.assertEqual(err, "")
        usages = [u for u in re.findall(r"(?m)^(\S+)", out) if u != "Connected"]
        self.assertEqual(usages, names + ["!COMMAND"], out)

    def test_get_put_mget_mput_rename_delete(self):
        a = self.srv.make_file("a.bin", 300000, seed=2)
        up = data_bytes(200000, seed=3)
        m1, m2 = data_bytes(70000, seed=4), data_bytes(90001, seed=5)
        self.write_local("up.bin", up)
        self.write_local("m1.bin", m1)
        self.write_local("m2.bin", m2)
        os.mkdir(self.local("dl"))
        script = "\n".join([
            "get a.bin",
            "get a.bin copy.bin",
            "put up.bin",
            "put up.bin remote-up.bin",
            "mkdir in",
            "cd in",
            "mput m*.bin",
            "lcd dl",
            "mget *.bin",
            "cd /",
            "rename remote-up.bin renamed.bin",
            "mv renamed.bin in/moved.bin",
            "delete up.bin",
            "rm in/m2.bin",
            "rmdir sub-that-does-not-exist",
        ]) + "\n"
        out, err = self.shell(script, rc=5)
        self.assertEqual(self.read_local("a.bin"), a)
        self.assertEqual(self.read_local("copy.bin"), a)
        self.assertEqual(self.srv.read("in/moved.bin"), up)
        self.assertEqual(self.srv.read("in/m1.bin"), m1)
        self.assertFalse(self.srv.exists("in/m2.bin"))
        self.assertFalse(self.srv.exists("up.bin"))
        self.assertFalse(self.srv.exists("renamed.bin"))
        self.assertEqual(self.read_local("dl/m1.bin"), m1)
        self.assertEqual(self.read_local("dl/m2.bin"), m2)
        self.assertIn("Local directory now %s" % os.path.realpath(self.local("dl")), out)
        # the only failure: the last line, reported with its line number and the reply
        self.assertRegex(err, r"ftpc: line 15: rmdir sub-that-does-not-exist: .*550")
        self.assertEqual(len([l for l in err.splitlines() if l.startswith("ftpc:")]), 1, err)

    def test_quoted_and_odd_names(self):
        odd = self.srv.make_file("dir with space/my file;type=a%20.bin", 5000, seed=19)
        local = self.write_local("local name.bin", data_bytes(3000, seed=20))
        script = "\n".join([
            'cd "dir with space"',
            "get 'my file;type=a%20.bin' got\\ it.bin",
            'put "local name.bin" "remote \\"q\\".bin"',
            "ls",
        ]) + "\n"
        out, err = self.shell(script)
        self.assertEqual(self.read_local("got it.bin"), odd)
        with open(local, "rb") as fh:
            self.assertEqual(self.srv.read('dir with space/remote "q".bin'), fh.read())
        self.assertIn('remote "q".bin', out.splitlines())

    def test_get_and_put_take_a_name_with_pattern_characters_literally(self):
        # get and put move one named file: '[1]' in a name is no character class, and a '*'
        # names that file, not every file it would match (mget and mput take patterns)
        one = self.srv.make_file("a[1].txt", 1000, seed=21)
        star = self.srv.make_file("s*.txt", 1100, seed=22)
        self.srv.make_file("sx.txt", 1200, seed=23)
        os.mkdir(self.local("dl"))
        self.write_local("up[2].bin", data_bytes(900, seed=24))
        self.write_local("u1.bin", data_bytes(800, seed=25))
        script = "\n".join([
            "get 'a[1].txt'",
            "lcd dl",
            "get 's*.txt'",
            "lcd ..",
            "reget 'a[1].txt' again.txt",
            "put 'up[2].bin'",
            "put 'u?.bin' 'u?.bin'",
        ]) + "\n"
        out, err = self.shell(script, rc=6)
        self.assertEqual(self.read_local("a[1].txt"), one)
        self.assertEqual(self.read_local("again.txt"), one)
        self.assertEqual(sorted(os.listdir(self.local("dl"))), ["s*.txt"])
        self.assertEqual(self.read_local("dl/s*.txt"), star)
        self.assertEqual(self.srv.read("up[2].bin"), self.read_local("up[2].bin"))
        # no local file is named u?.bin: the upload fails, u1.bin is not sent in its stead
        self.assertFalse(self.srv.exists("u?.bin"))
        self.assertFalse(self.srv.exists("u1.bin"))
        self.assertRegex(err, r"ftpc: line 7: put 'u\?\.bin' 'u\?\.bin': failed \(exit status 6\)")
        self.assertEqual(len([l for l in err.splitlines() if l.startswith("ftpc: line")]), 1, err)

    def test_cat_writes_remote_files_to_standard_output(self):
        # as the one-shot cat does: the files one after the other, names taken as they are
        # (a * is part of the name, as for get); no -b, whose bytes would cut into the prompt
        a = self.srv.make_file("sp ace/it's \"q\".txt", 3000, seed=40)
        b = self.srv.make_file("sp ace/st*r [x].bin", 2000, seed=41)
        self.srv.make_file("sp ace/str x.bin", 10, seed=42)
        script = "\n".join([
            "cd \"sp ace\"",
            "cat \"it's \\\"q\\\".txt\" 'st*r [x].bin'",
            "cat -b 'st*r [x].bin'",
            "cat",
            "cat nothing-here",
        ]) + "\n"
        r = subprocess.run([FTPC_BIN, self.srv.url()], cwd=self.tmp, input=script.encode(),
                           capture_output=True, timeout=60, env=self.env())
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.stdout, a + b, err)
        self.assertRegex(err, r"line 3: cat -b .*: usage: cat")
        self.assertRegex(err, r"line 4: cat: usage: cat")
        self.assertRegex(err, r"line 5: cat nothing-here: failed")
        self.assertEqual(r.returncode, 2, err)
        self.assertEqual(os.listdir(self.tmp), [], "cat writes no local file")
        out, _ = self.shell("help cat\n")
        self.assertIn("cat [OPTS] REMOTE...", out)

    def test_options_read_as_the_one_shot_parser_reads_them(self):
        # a long option's unique start stands for it, and its value is the next word
        data = self.srv.make_file("o.bin", 3000, seed=26)
        script = "\n".join([
            "get --limit 1M o.bin",
            "get --output-d sub --retry-d 1 o.bin",
            "get --netrc-file /dev/null -o copy.bin o.bin",
            "get --no o.bin",
        ]) + "\n"
        out, err = self.shell(script, rc=2)
        self.assertEqual(self.read_local("o.bin"), data)
        self.assertEqual(self.read_local("sub/o.bin"), data)
        self.assertEqual(self.read_local("copy.bin"), data)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["copy.bin", "o.bin", "sub"])
        # --no begins --no-netrc, --no-glob, --no-perms, ...: ambiguous, as for the parser
        self.assertRegex(err, r"ftpc: line 4: .*--no")
        self.assertEqual(len([l for l in err.splitlines() if l.startswith("ftpc: line")]), 1, err)

    def test_local_commands_bang_and_lpwd(self):
        # !CMD runs CMD with sh(1) in the local directory; a script's next lines stay the
        # shell's (the command reads no standard input from it); a failure counts (6)
        os.mkdir(self.local("sub"))
        script = "lcd sub\n!echo one > bang.txt; pwd\nlpwd\n!exit 3\n! cat\nmkdir after\n"
        out, err = self.shell(script, rc=6)
        sub = os.path.realpath(self.local("sub"))
        self.assertEqual(self.read_local("sub/bang.txt"), b"one\n")
        self.assertEqual(out.splitlines()[1:], [sub, sub], out)
        self.assertRegex(err, r"(?m)^ftpc: line 4: !exit 3: exit status 3$")
        self.assertTrue(self.srv.exists("after"), "the line after ! cat ran")
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_file_commands_refuse_unknown_options(self):
        # rm -r (lftp's recursive rm) is no option here: refused, not sent as DELE -r, which
        # deleted a file named -r; after -- a name may start with '-'
        self.srv.make_file("-r", 10, seed=36)
        self.srv.make_file("-x", 10, seed=37)
        self.srv.mkdir("rt")
        self.srv.make_file("keep", 10, seed=38)
        out, err = self.shell("rm -r rt\nrmdir -f rt\nmv -f keep gone\nmkdir -p -q d\n"
                              "rm -- -r\nmv -- -x moved\n", rc=2)
        self.assertRegex(err, r"(?m)^ftpc: line 1: rm -r rt: unknown option -r \(.*--.*\)$")
        self.assertRegex(err, r"(?m)^ftpc: line 2: rmdir -f rt: unknown option -f")
        self.assertRegex(err, r"(?m)^ftpc: line 3: mv -f keep gone: unknown option -f")
        self.assertRegex(err, r"(?m)^ftpc: line 4: mkdir -p -q d: unknown option -q")
        self.assertEqual(len(err.splitlines()), 4, err)
        self.assertTrue(self.srv.exists("rt"))
        self.assertTrue(self.srv.exists("keep"))
        self.assertFalse(self.srv.exists("d"))
        self.assertFalse(self.srv.exists("-r"))
        self.assertTrue(self.srv.exists("moved"))

    def test_dir_takes_the_l_it_means(self):
        # dir -l was refused as "unknown option -l (only -l)"; it is the long listing dir is
        self.srv.make_file("f.txt", 10, seed=50)
        out, err = self.shell("dir -l\nls -l -l\nls -la\n", rc=2)
        self.assertEqual(len(re.findall(r"(?m)^-rw.* f\.txt$", out)), 2, out + err)
        self.assertRegex(err, r"(?m)^ftpc: line 3: ls -la: unknown option -la")
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_mget_of_a_name_starting_with_a_dash_says_where_it_goes(self):
        # no local file of that name to point at: the hint names the word and --
        self.srv.make_file("-leading-dash", 10, seed=35)
        out, err = self.shell("mget -leading-dash\n", rc=2)
        self.assertRegex(err, r"(?m)^ftpc: line 1: mget -leading-dash: no file named: "
                              r"-leading-dash reads as options; a name starting with '-' goes "
                              r"after -- \(mget -- -leading-dash\)$")
        out, err = self.shell("lcd %s\nmget -- -leading-dash\n" % self.tmp)
        with open(os.path.join(self.tmp, "-leading-dash"), "rb") as fh:
            self.assertEqual(fh.read(), self.srv.read("-leading-dash"))

    def test_ls_of_a_path_starting_with_a_dash(self):
        # as for rm: after -- the path may start with '-'
        self.srv.make_file("-d/inside.txt", 10, seed=39)
        out, err = self.shell("ls -- -d\nls -l -- -d\n")
        self.assertEqual(out.splitlines()[0], "inside.txt", out + err)
        self.assertIn("inside.txt", out.splitlines()[1])

    def test_cd_and_lcd_take_a_dash_dash(self):
        # as sh's cd does: "--" ends the options, and is no directory
        self.srv.make_file("-d/inside.txt", 10, seed=40)
        os.mkdir(self.local("-l"))
        out, err = self.shell("cd -- -d\npwd\nlcd -- -l\nlpwd\ncd --\npwd\n")
        self.assertEqual(out.splitlines()[0], "/-d", out + err)
        self.assertRegex(out, r"(?m)/-l$")
        self.assertEqual(out.splitlines()[-1], "/", out + err)  # alone, as sh's: home

    def test_ls_of_a_directory_holding_only_a_directory_of_its_name(self):
        # its listing is one line that names the path itself as a directory, as vsftpd's is
        # for a directory it cannot open; the shell asks again as a/, as the one-shot ls
        # does, which lists the line once: neither swallowed nor doubled
        self.srv.mkdir("a/a")
        out, err = self.shell("ls -l a\nls a\n")
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out + err)
        self.assertRegex(lines[0], r"^d.* a$")
        self.assertEqual(lines[1], "a")

    def test_quote_cwd_into_a_directory_with_a_quote(self):
        # after quote CWD the shell asks PWD: a '"' in the answer is doubled, and the remote
        # directory must still be taken from it, or transfers go on in the old one
        inner = self.srv.make_file('q"d/f.txt', 1000, seed=34)
        self.srv.make_file("f.txt", 1001, seed=35)
        out, err = self.shell("quote CWD 'q\"d'\nget f.txt\n")
        self.assertEqual(self.read_local("f.txt"), inner)

    def test_reget_reput_resume(self):
        big = self.srv.make_file("big.bin", 2 * MiB + 123, seed=6)
        self.write_local("big.bin", big[:700000])
        full = data_bytes(1500000, seed=7)
        self.srv.write("part.bin", full[:500000])
        self.write_local("part.bin", full)
        out, err = self.shell("reget big.bin\nreput part.bin\n")
        self.assertEqual(self.read_local("big.bin"), big)
        self.assertEqual(self.srv.read("part.bin"), full)
        # both summaries say where they resumed (700000 B = 684 KiB, 500000 B = 488 KiB)
        self.assertRegex(err, r"big\.bin: .*resumed at 684 KiB")
        self.assertRegex(err, r"part\.bin: .*resumed at 488 KiB")

    def test_mirror_both_ways(self):
        t1 = self.srv.make_file("tree/a.txt", 1234, seed=8)
        t2 = self.srv.make_file("tree/sub/b.bin", 250000, seed=9)
        os.makedirs(self.local("mine/x"))
        l1 = self.write_local("mine/one.bin", data_bytes(5000, seed=10))
        l2 = self.write_local("mine/x/two.bin", data_bytes(77777, seed=11))
        out, err = self.shell("mirror tree\nmirror -R mine uploaded\nmirror tree got\n"
                              "mirror -b tree bg\nmirror -b -R mine bg-up\nwait\n")
        self.assertEqual(self.read_local("bg/sub/b.bin"), t2)
        self.assertEqual(self.read_local("bg/a.txt"), t1)
        self.assertRegex(err, r"\[1\] Done +mirror -b tree bg")
        self.assertRegex(err, r"\[2\] Done +mirror -b -R mine bg-up")
        # a background job's summary comes tagged with its job, never loose on stdout
        self.assertRegex(err, r"\[1\] mirror: 2 files transferred, 0 skipped, 0 deleted")
        self.assertRegex(err, r"\[2\] mirror: 2 files transferred, 0 skipped, 0 deleted")
        self.assertEqual(out.count("mirror: 2 files transferred"), 3, out)
        self.assertEqual(self.read_local("tree/a.txt"), t1)
        self.assertEqual(self.read_local("tree/sub/b.bin"), t2)
        self.assertEqual(self.read_local("got/sub/b.bin"), t2)
        with open(l1, "rb") as f1, open(l2, "rb") as f2:
            self.assertEqual(self.srv.read("uploaded/one.bin"), f1.read())
            self.assertEqual(self.srv.read("uploaded/x/two.bin"), f2.read())
        self.assertEqual(self.srv.read("bg-up/x/two.bin"), self.srv.read("uploaded/x/two.bin"))

    def test_mirror_of_dot_dot_goes_into_a_directory_named_like_it(self):
        # the default target is named like the source directory: for '..' and '.' that is
        # the name of the directory they stand for, never '..' (the local parent) itself
        f = self.srv.make_file("tree/sub/f.txt", 1000, seed=28)
        os.mkdir(self.local("work"))
        os.makedirs(self.local("mine/x"))
        two = self.write_local("mine/x/two.bin", data_bytes(2000, seed=29))
        out, err = self.shell("lcd work\ncd tree/sub\nmirror ..\nmirror .\ncd /\n"
                              "lcd ../mine/x\nmirror -R ..\n")
        self.assertEqual(self.read_local("work/tree/sub/f.txt"), f)
        self.assertEqual(self.read_local("work/sub/f.txt"), f)
        self.assertFalse(os.path.exists(self.local("sub")), "mirror .. wrote beside work")
        self.assertFalse(os.path.exists(self.local("work/f.txt")), "mirror . wrote into work")
        with open(two, "rb") as fh:
            self.assertEqual(self.srv.read("mine/x/two.bin"), fh.read())
        self.assertFalse(self.srv.exists("x"), "mirror -R .. went into the remote parent")

    def test_type_and_mode_commands(self):
        text = b"line one\nline two\n" * 100
        self.srv.write("text.txt", text)
        a = self.srv.make_file("a.bin", 100000, seed=12)
        script = "\n".join([
            "ascii", "get text.txt t-ascii.txt",
            "binary", "get text.txt t-bin.txt",
            "active", "get a.bin act.bin", "ls",
            "passive", "get a.bin pas.bin",
        ]) + "\n"
        out, err = self.shell(script, "-v", self.srv.url())
        self.assertEqual(self.read_local("t-ascii.txt"), text)
        self.assertEqual(self.read_local("t-bin.txt"), text)
        self.assertEqual(self.read_local("act.bin"), a)
        self.assertEqual(self.read_local("pas.bin"), a)
        # the protocol trace shows each setting at work, in order
        trace = [l for l in err.splitlines() if l.startswith("> ")]
        joined = "\n".join(trace)
        i_a = joined.index("> TYPE A")
        i_retr1 = joined.index("> RETR", i_a)
        i_i = joined.index("> TYPE I", i_retr1)
        i_eprt = joined.index("> EPRT", i_i)
        i_epsv = joined.index("> EPSV", i_eprt)
        self.assertLess(i_a, i_epsv)
        self.assertIn("text.txt", out + err)

    def test_errors_exit_status_and_not_connected(self):
        self.srv.make_file("ok.bin", 1000, seed=13)
        script = "cd nosuch\npwd\nget missing.bin\nbogus\nget ok.bin\n"
        out, err = self.shell(script, rc=5)
        self.assertEqual(out.splitlines()[0], "/")
        self.assertRegex(err, r"ftpc: line 1: cd nosuch: .*550")
        self.assertRegex(err, r"ftpc: line 3: get missing.bin: failed \(exit status 5\)")
        self.assertIn("ftpc: line 4: unknown command 'bogus'", err)
        self.assertTrue(os.path.exists(self.local("ok.bin")), "later commands still run")
        # no site: every remote command says so; the first failure is a usage error (2)
        out, err = self.shell("pwd\nget x\nopen %s\npwd\n" % self.srv.url(), "--no-netrc",
                              rc=2)
        self.assertRegex(err, r"line 1: pwd: not connected")
        self.assertEqual(out.strip().splitlines()[-1], "/")

    def test_a_line_too_long_is_refused_whole(self):
        # a script line longer than the shell reads at once is one line: refused as a whole,
        # its end never run as a command of its own, and the lines after it keep their numbers
        script = ("ls" + " " * 70000 + "mkdir tail-ran\n" +
                  "mkdir ok\n" + "cd nosuch\n" + "#" + "x" * 140000 + "\n" + "mkdir ok2")
        out, err = self.shell(script, rc=2)
        self.assertFalse(self.srv.exists("tail-ran"), err[-2000:])
        self.assertTrue(self.srv.exists("ok"))
        self.assertTrue(self.srv.exists("ok2"), "the last line has no newline")
        self.assertRegex(err, r"(?m)^ftpc: line 1: longer than 65535 bytes, not run$")
        self.assertRegex(err, r"(?m)^ftpc: line 3: cd nosuch: .*550")
        self.assertRegex(err, r"(?m)^ftpc: line 4: longer than 65535 bytes, not run$")
        self.assertEqual(len(err.splitlines()), 3, err[-3000:])

    def test_an_error_about_a_long_name_keeps_its_reason(self):
        # a message with a long URL in it is cut in the middle of the name, not at the end,
        # where the reason is
        name = "n" * 3000
        out, err = self.shell("rm %s\nmkdir %s\nls %s\nget %s\n" % ((name,) * 4), rc=None)
        lines = [l for l in err.splitlines()
                 if "n" * 50 in l and not re.search(r"failed \(exit status \d\)$", l)]
        self.assertEqual(len(lines), 4, err[-3000:])
        for l in lines:
            self.assertRegex(l, r"n\.\.\.n", l[-300:])
            self.assertRegex(l, r"(the server replied 5\d\d|No such file|not found)", l[-300:])

    def test_hints_name_the_shell_commands(self):
        # a hint in an error says what to type at this prompt, not the one-shot command line
        self.srv.mkdir("rdir")
        os.mkdir(self.local("ldir"))
        out, err = self.shell("get rdir\nput ldir\n", rc=None)
        self.write_local("f.txt", b"f")
        out, err2 = self.shell("put f.txt nodir/f.txt\n", rc=None)
        err += err2
        self.assertRegex(err, r"rdir is a directory, not a file \(mirror downloads a tree, "
                              r"mget DIR/\* its files\)")
        self.assertRegex(err, r"ldir is a directory, not a file \(mirror -R uploads a tree\)")
        self.assertRegex(err, r"create it with mkdir -p, or upload with put --create-dirs")
        self.assertNotIn("URL", err)
        self.assertNotIn("ftpc mkdir", err)

    def test_remote_urls_in_messages_have_one_slash(self):
        data = self.srv.make_file("big/b.bin", 1000, seed=14)
        out, err = self.shell("cd big\nget missing.bin\nget /big/gone.bin\nget b.bin\n", rc=5)
        self.assertNotIn("//big", err)
        self.assertRegex(err, r"ftp://alice@127\.0\.0\.1:%d/big/missing\.bin: " % self.srv.port)
        self.assertRegex(err, r"ftp://alice@127\.0\.0\.1:%d/big/gone\.bin: " % self.srv.port)
        self.assertEqual(self.read_local("b.bin"), data)

    def test_paths_under_the_local_root_have_one_slash(self):
        out, err = self.shell("lcd /\nput no-such-file-xyz.bin\n", rc=None)
        self.assertIn("cannot open /no-such-file-xyz.bin:", err)

    def test_a_failed_line_never_shows_a_password(self):
        # a script's failing line is quoted, but not its password (open URL, user NAME PASS)
        bad = self.srv.url().replace("@", "x@", 1)  # the right user, a wrong password
        _, err = self.shell("open %s\nuser alice Wrong-Pw-7\n" % bad, "--no-netrc", rc=4)
        self.assertNotIn("Wrong-Pw-7", err)
        self.assertNotIn(bad.split("//")[1].split("@")[0], err)  # user:passwordx
        self.assertRegex(err, r"line 1: open ftp://alice@")
        self.assertRegex(err, r"line 2: user: ")

    def test_user_retries_after_a_refused_login(self):
        # as in ftp and lftp, the host stays the site after a 530, so user can try again
        bad = self.srv.url().replace("@", "x@", 1)
        out, err = self.shell("open %s\nuser alice wrong\nuser %s %s\npwd\n"
                              % (bad, self.srv.user, self.srv.password), "--no-netrc", rc=4)
        self.assertEqual(out.strip().splitlines()[-1], "/", err)
        self.assertNotIn("not connected", err)
        self.assertEqual(len(re.findall(r"\b530 ", err)), 2, err)

    def test_a_refused_login_is_not_tried_again_by_every_command(self):
        # each later line would log in again with the password just refused: a script of
        # many lines hammers the server with failed logins (and a ban). They say so instead,
        # and user NAME PASSWORD still logs in.
        bad = self.srv.url().replace("@", "x@", 1)
        self.srv.make_file("f.bin", 100, seed=43)
        out, err = self.shell("pwd\nls\nget f.bin\ncat f.bin\nmkdir d\nuser %s %s\npwd\n"
                              % (self.srv.user, self.srv.password), bad, "--no-netrc", rc=4)
        self.assertEqual(len(re.findall(r"\b530 ", err)), 1, err)
        for n, cmd in enumerate(("pwd", "ls", "get f.bin", "cat f.bin", "mkdir d"), 1):
            self.assertRegex(err, r"line %d: %s: not logged in" % (n, re.escape(cmd)))
        self.assertEqual(out.strip().splitlines(), ["/"], err)
        self.assertFalse(os.path.exists(self.local("f.bin")))

    def test_open_user_close(self):
        up = self.write_local("up.bin", data_bytes(4096, seed=14))
        self.srv.mkdir("sub")
        script = "\n".join([
            "open %s %d" % (self.srv.host, self.srv.port),
            "pwd",
            "status",
            "user %s %s" % (self.srv.user, self.srv.password),
            "put up.bin",
            "status",
            "close",
            "pwd",
            "open %s" % self.srv.url("sub"),
            "pwd",
        ]) + "\n"
        out, err = self.shell(script, "--no-netrc", rc=2)
        self.assertIn("as anonymous", out)
        self.assertIn("as %s" % self.srv.user, out)
        with open(up, "rb") as fh:
            self.assertEqual(self.srv.read("up.bin"), fh.read())  # alice's root, not anon's
        self.assertEqual([l for l in out.splitlines() if l.startswith("/")], ["/", "/sub"])
        self.assertRegex(err, r"line 8: pwd: not connected")
        # a refused login: exit status 4, the server's reply quoted
        out, err = self.shell("user %s wrong-password\npwd\nstatus\n" % self.srv.user, rc=4)
        self.assertRegex(err, r"line 1: user: .*530")
        self.assertNotIn("wrong-password", err)
        # status does not say "Connected ... as alice" with no session after the 530
        self.assertRegex(out, r"(?m)^Not logged in to 127\.0\.0\.1:%d: the login as %s was "
                              r"refused \(use: user NAME\)\.$" % (self.srv.port, self.srv.user))
        self.assertNotIn("Connected to", out)

    def test_background_jobs_in_a_script(self):
        big = self.srv.make_file("big.bin", 3 * MiB, seed=15)
        p = subprocess.Popen([FTPC_BIN, self.srv.url()], cwd=self.tmp, env=self.env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        # The commands come while the first job runs (3 MiB at 1 MiB/s): the shell reads
        # and answers them meanwhile.
        p.stdin.write(b"get -b --limit-rate 1M big.bin\n")
        p.stdin.flush()
        partial = self.local(".big.bin.ftpc-part")
        self.assertTrue(wait_for(lambda: os.path.exists(partial) and
                                 os.path.getsize(partial) > 200000, 20))
        time.sleep(0.5)  # a progress snapshot is taken every 0.2 s
        p.stdin.write(b"jobs\npwd\n")
        p.stdin.flush()
        script = "\n".join([
            "wait",
            "jobs",
            "get -b --limit-rate 100k big.bin k.bin",
            "kill 2",
            "wait",
            "kill 1",
            "put -b big.bin back.bin",
        ]) + "\n"  # the script ends: its last background job still finishes
        out, err = p.communicate(script.encode(), timeout=90)
        out, err = out.decode(), err.decode()
        self.check_output(subprocess.CompletedProcess([], p.returncode, out, err))
        self.assertEqual(p.returncode, 2, err)  # kill 1: no such job (any more)
        self.assertEqual(self.read_local("big.bin"), big)
        self.assertEqual(self.srv.read("back.bin"), big)
        self.assertIn("[1] get -b --limit-rate 1M big.bin", out)
        self.assertRegex(out, r"\[1\] Running +get -b")
        self.assertRegex(out, r"big\.bin +\d+%")  # the job's progress line
        self.assertLess(out.index("Running"), out.index("\n/\n"))  # pwd answered meanwhile
        self.assertRegex(err, r"\[1\] Done +get -b --limit-rate 1M big\.bin")
        self.assertIn("No background jobs.", out)
        self.assertIn("[2] stopping get -b --limit-rate 100k big.bin k.bin", out)
        self.assertRegex(err, r"\[2\] Stopped +get -b")
        self.assertRegex(err, r"ftpc: line 9: kill 1: no job 1")
        self.assertFalse(os.path.exists(self.local("k.bin")))
        self.assertRegex(err, r"\[3\] Done +put -b big\.bin back\.bin")

    def test_reconnects_after_idle_timeout_and_reads_a_file(self):
        # The server drops the idle control connection; the next command opens a new one
        # and goes back to the remote directory.
        srv = self.start_server(args=["--idle-timeout", "1"])
        srv.mkdir("sub")
        data = srv.make_file("sub/f.bin", 50000, seed=18)
        p = subprocess.Popen([FTPC_BIN, srv.url()], cwd=self.tmp, env=self.env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write(b"cd sub\npwd\n")
        p.stdin.flush()
        # the server's idle timeout (1 s) closes the session; then a moment for ftpc to
        # take in the 421 and the close before the next command
        self.assertIsNotNone(srv.wait_log(r"idle timeout", timeout=10), srv.log_text()[-2000:])
        self.assertIsNotNone(srv.wait_log(r": disconnected", timeout=10), srv.log_text()[-2000:])
        time.sleep(0.3)
        out, err = p.communicate(b"pwd\nls\nget f.bin\n", timeout=60)
        self.check_output(subprocess.CompletedProcess([], p.returncode, out, err))
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode().splitlines(), ["/sub", "/sub", "f.bin"])
        self.assertEqual(self.read_local("f.bin"), data)
        # commands from a regular file (which cannot be polled) and a refused connection
        script = self.local("script.txt")
        with open(script, "w") as fh:
            fh.write("open 127.0.0.1 1\npwd\nopen %s\ncd sub\npwd\n" % srv.url())
        with open(script, "rb") as fh:
            r = subprocess.run([FTPC_BIN], cwd=self.tmp, env=self.env(), stdin=fh,
                               capture_output=True, timeout=60)
        self.check_output(r)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertRegex(r.stderr.decode(), r"line 1: open 127.0.0.1 1: cannot connect")
        self.assertEqual(r.stdout.decode(), "/sub\n")

    def test_reconnects_when_the_server_timed_out_during_a_local_command(self):
        # The 421 and the close arrive while the shell runs a local command, and the next
        # lines are already waiting on the pipe: each command that needs the connection
        # must take in the close first and open a new one, not fail on the dead one.
        srv = self.start_server(args=["--idle-timeout", "1"])
        srv.mkdir("sub")
        data = srv.make_file("sub/f.bin", 5000, seed=19)
        flag = self.local("timed-out")
        script = ("cd sub\n"
                  "!i=0; while [ ! -e timed-out ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done\n"
                  "ls\n"
                  "!i=0; while [ ! -e timed-out2 ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done\n"
                  "mkdir made\n"
                  "get f.bin\n")
        p = subprocess.Popen([FTPC_BIN, srv.url()], cwd=self.tmp, env=self.env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        p.stdin.write(script.encode())
        p.stdin.flush()
        for n, mark in ((1, flag), (2, flag + "2")):
            self.assertTrue(wait_for(lambda: srv.log_text().count("idle timeout") >= n, 15),
                            srv.log_text()[-2000:])
            self.assertTrue(wait_for(lambda: srv.log_text().count(": disconnected") >= n, 15),
                            srv.log_text()[-2000:])
            time.sleep(0.2)  # the close reaches ftpc's socket (loopback)
            open(mark, "w").close()
        out, err = p.communicate(timeout=60)
        self.check_output(subprocess.CompletedProcess([], p.returncode, out, err))
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out.decode().splitlines(), ["f.bin"])
        self.assertTrue(os.path.isdir(srv.local("sub/made")))
        self.assertEqual(self.read_local("f.bin"), data)

    def test_shell_option_errors(self):
        r = subprocess.run([FTPC_BIN, "-o", "x", self.srv.url()], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=30, env=self.env())
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"not with the interactive shell", r.stderr)
        out, err = self.shell("get\nput a b c\nmirror -R\nwait x\nkill\ncd 'open\n", rc=2)
        for n in range(1, 7):
            self.assertRegex(err, r"line %d: " % n)


class NoHashFtp(ScriptedFtp):
    """A server without HASH (as vsftpd, pure-ftpd and pyftpdlib are) serving f.bin."""

    DATA = b"0123456789" * 1000

    def command(self, s, verb, arg):
        if verb == "PWD":
            s.send('257 "/" is the current directory')
        elif verb == "CWD":
            s.send("250 ok")
        elif verb == "SIZE":
            s.send("213 %d" % len(self.DATA))
        elif verb == "RETR":
            rest, s.rest = s.rest, 0
            s.send_download(self.DATA[rest:])
        else:
            return super().command(s, verb, arg)
        return True


class PassFtp(NoHashFtp):
    """Logs in with the password p; refuses any other PASS (a quote PASS), knows no ACCT."""

    def command(self, s, verb, arg):
        if verb == "PASS":
            s.send("230 in" if arg == "p" else "530 wrong")
            return True
        return super().command(s, verb, arg)


class ListOnlyFtp(NoHashFtp):
    """No MLSD (as vsftpd and pure-ftpd): NLST gives names, LIST ls -l lines, of a file
    alpha.txt and a directory subdir."""

    LIST = ("-rw-r--r--    1 0        0               5 Dec 07 19:23 alpha.txt\r\n"
            "drwxr-xr-x    2 0        0            4096 Dec 07 19:23 subdir\r\n")

    def command(self, s, verb, arg):
        if verb == "NLST":
            s.send_download(b"alpha.txt\r\nsubdir\r\n")
        elif verb == "LIST":
            s.send_download(self.LIST.encode())
        else:
            return super().command(s, verb, arg)
        return True


class TestShellQuotePassword(unittest.TestCase):
    def test_quote_pass_is_never_shown(self):
        # quote PASS/ACCT send a secret: the protocol trace and a failed line's message show
        # no more of it than of the login's own PASS
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        fake = PassFtp(sessions=2)
        fake.start()
        r = subprocess.run([FTPC_BIN, "-v", "ftp://u:p@127.0.0.1:%d/" % fake.port],
                           input=b"quote PASS sekrit-1\nquote pass sekrit-2\nquote ACCT sekrit-3\n"
                           b"quote \"PASS sekrit-4\"\nquote 'acct sekrit-5'\n",
                           cwd=tmp, capture_output=True, timeout=60,
                           env=dict(os.environ, NETRC=os.path.join(tmp, "none")))
        fake.stop()
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, 4, err)
        self.assertNotIn("sekrit", out + err)
        self.assertIn("> PASS ****", err)
        self.assertIn("> ACCT ****", err)
        self.assertRegex(err, r"(?m)^ftpc: line 1: quote: the server replied 530$")
        self.assertRegex(err, r"(?m)^ftpc: line 3: quote: the server replied 502$")

    def test_unterminated_quote_shows_no_password(self):
        # a password with a quote in it ("it's") leaves the line unsplit: its error must
        # not quote it whole, while a line with no password still is
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        r = subprocess.run([FTPC_BIN], input=b"quote PASS sek'rit-1\nuser bob sek'rit-2\n"
                           b"open ftp://u:sek'rit-3@127.0.0.1:1/\nlcd 'x\n",
                           cwd=tmp, capture_output=True, timeout=60,
                           env=dict(os.environ, NETRC=os.path.join(tmp, "none")))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 2, err)
        self.assertNotIn("sek", err)
        for n in (1, 2, 3):
            self.assertRegex(err, r"(?m)^ftpc: line %d: unterminated quote \(the line" % n)
        self.assertRegex(err, r"(?m)^ftpc: line 4: unterminated quote: lcd 'x$")


class TestShellNoHash(unittest.TestCase):
    def test_no_hash_is_said_once_a_session(self):
        # each shell transfer is a job of its own; the man page promises the line once
        if not os.access(FTPC_BIN, os.X_OK):
            self.skipTest("ftpc binary not found")
        tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
        self.addCleanup(shutil.rmtree, tmp, True)
        fake = NoHashFtp(sessions=8)
        fake.start()
        r = subprocess.run([FTPC_BIN, "ftp://u:p@127.0.0.1:%d/" % fake.port],
                           input=b"get f.bin a\nget f.bin b\nget -b f.bin c\nwait\nget f.bin d\n",
                           cwd=tmp, capture_output=True, timeout=60,
                           env=dict(os.environ, NETRC=os.path.join(tmp, "none")))
        fake.stop()
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(err.count("not verified (the server offers no HASH"), 1, err)
        for n in "abcd":
            with open(os.path.join(tmp, n), "rb") as fh:
                self.assertEqual(fh.read(), NoHashFtp.DATA)


class ClosesOnceFtp(ScriptedFtp):
    """Closes the control connection, with no reply, on the first CWD and on the first DELE
    it gets: a server's idle close that races with the command going out."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.closed = set()
        self.deleted = []

    def command(self, s, verb, arg):
        if not hasattr(s, "cwd"):
            s.cwd = "/"
        if verb in ("CWD", "DELE") and verb not in self.closed:
            self.closed.add(verb)
            return False
        if verb == "PWD":
            s.send('257 "%s"' % s.cwd)
        elif verb == "CWD":
            s.cwd = arg if arg.startswith("/") else s.cwd.rstrip("/") + "/" + arg
            s.send("250 ok")
        elif verb == "DELE":
            self.deleted.append((s.cwd, arg))
            s.send("250 deleted")
        else:
            return super().command(s, verb, arg)
        return True


class TestShellReconnectRace(unittest.TestCase):
    def test_a_command_the_idle_close_cut_goes_again_on_a_new_connection(self):
        # the connection closes as cd and rm go out, before any answer: each is sent again
        # on a new connection (back in the remote directory), not reported as failed
        fake = ClosesOnceFtp(sessions=4)
        fake.start()
        url = "ftp://u:p@127.0.0.1:%d/" % fake.port
        r = subprocess.run([FTPC_BIN, "--no-netrc", url], input=b"cd sub\nrm x\npwd\n",
                           capture_output=True, timeout=60)
        fake.stop()
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(r.stdout.decode().splitlines(), ["/sub"], err)
        self.assertEqual(fake.deleted, [("/sub", "x")])


class TestShellTerminal(ShellCase):
    """The shell on a terminal (tmux): completion, history, background jobs."""

    def start(self, name, home, columns=150, url=None, lang=None):
        """ftpc on url (default: the server's) in tmux session name (a private tmux server),
        in a window of the given width; returns (capture, rc file); capture.keys(...) types."""
        if subprocess.run(["which", "tmux"], capture_output=True).returncode != 0:
            self.skipTest("tmux not installed")
        done = self.local(name + ".rc")
        asan = os.environ.get("ASAN_OPTIONS", "")
        asan = (asan + ":" if asan else "") + "log_path=" + self.local(name + ".asan")
        cmd = ("env -u XDG_STATE_HOME %sNETRC=%s HOME=%s ASAN_OPTIONS=%s %s %s; echo $? > %s; "
               "sleep 60" % ("LC_ALL=%s " % lang if lang else "", self.local("no-netrc"), home,
                             asan, FTPC_BIN,
                             url or self.srv.url(), done))
        sock = "ftpc-shell-%d-%d" % (os.getpid(), id(self) % 100000)
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", name,
                        "-x", str(columns), "-y", "40", "-c", self.tmp, cmd], check=True,
                       timeout=20)
        self.addCleanup(subprocess.run, ["tmux", "-L", sock, "kill-server"], timeout=20,
                        capture_output=True)

        def capture():
            r = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", name],
                               capture_output=True, timeout=20)
            return r.stdout.decode("utf-8", "replace")

        def keys(*k):
            subprocess.run(["tmux", "-L", sock, "send-keys", "-t", name] + list(k), check=True,
                           timeout=20)
        def resize(columns):
            subprocess.run(["tmux", "-L", sock, "resize-window", "-t", name, "-x", str(columns)],
                           check=True, timeout=20)
        def history():
            """The rows tmux keeps above the screen, oldest first."""
            r = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", name,
                                "-S", "-", "-E", "-1"], capture_output=True, timeout=20)
            return r.stdout.decode("utf-8", "replace")
        capture.keys = keys
        capture.resize = resize
        capture.history = history
        return capture, done

    def shell_on_pty(self, args, **env):
        """ftpc args on a pseudo-terminal of its own (TERM=xterm, env added): (process, the
        terminal's master side). Killed and closed at the test's end."""
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([FTPC_BIN] + args, cwd=self.tmp, stdin=slave, stdout=slave,
                             stderr=slave, env=self.env(TERM="xterm", **env))

        def end():
            p.kill()
            p.wait(10)
            os.close(master)
        self.addCleanup(end)
        os.close(slave)
        return p, master

    def test_prompt_shows_a_c1_control_in_the_directory_as_a_mark(self):
        # U+009B in the directory the prompt shows is CSI to xterm: it must not reach the
        # terminal as it is
        from ftpd_harness import read_pty
        self.srv.make_file("c1\u009b31mZ/f.txt", 3, seed=1)
        p, master = self.shell_on_pty([self.srv.url("c1\u009b31mZ/")], LANG="C.UTF-8",
                                      LC_ALL="C.UTF-8")
        out = read_pty(master, 15, done=lambda d: b"mZ> " in d)
        self.assertIn(b"c1?31mZ> ", out)
        self.assertNotIn(b"\xc2\x9b31mZ>", out)
        os.write(master, b"quit\r")
        read_pty(master, 10, proc=p)

    def test_completion_after_a_refused_login_prints_nothing(self):
        # Tab is no command: after a refused login it neither logs in again nor prints an
        # error into the line being typed
        from ftpd_harness import read_pty
        self.srv.make_file("mfile.bin", 3, seed=44)
        bad = self.srv.url().replace("@", "x@", 1)
        p, master = self.shell_on_pty(["--no-netrc", bad], HOME=self.tmp)
        out = read_pty(master, 15, done=lambda d: b"?> " in d)
        self.assertIn(b"Not logged in", out)
        os.write(master, b"get mf\t")
        out = read_pty(master, 3, done=lambda d: b"ftpc:" in d)
        self.assertNotIn(b"ftpc:", out)
        os.write(master, b"\x15quit\r")
        read_pty(master, 10, proc=p)
        self.assertEqual(self.srv.log_text().count("Login incorrect"), 1, self.srv.log_text())

    def test_completion_with_the_server_gone_prints_nothing(self):
        # the connection cannot be opened again: Tab says nothing into the line being typed
        # (a command then says why)
        from ftpd_harness import read_pty
        srv = self.start_server()
        srv.make_file("mfile.bin", 3, seed=45)
        p, master = self.shell_on_pty([srv.url()], HOME=self.tmp)
        read_pty(master, 15, done=lambda d: b"/> " in d)
        srv.stop()
        os.write(master, b"get mf\t")
        out = read_pty(master, 5, done=lambda d: b"ftpc:" in d)
        self.assertNotIn(b"ftpc:", out)
        os.write(master, b"\x15pwd\r")
        out = read_pty(master, 10, done=lambda d: b"cannot connect" in d)
        self.assertIn(b"cannot connect", out)
        os.write(master, b"quit\r")
        read_pty(master, 10, proc=p)

    def test_completion_on_a_server_without_mlsd(self):
        # vsftpd and pure-ftpd have no MLSD: the names come from LIST, whose lines also say
        # which are directories (an NLST listing read as LIST lines completed nothing)
        from ftpd_harness import read_pty
        fake = ListOnlyFtp(sessions=4)
        fake.start()
        self.addCleanup(fake.stop)
        p, master = self.shell_on_pty(["--no-netrc", "ftp://u:p@127.0.0.1:%d/" % fake.port],
                                      HOME=self.tmp)
        read_pty(master, 15, done=lambda d: b"/> " in d)
        os.write(master, b"get al\t")
        out = read_pty(master, 10, done=lambda d: b"pha.txt " in d)
        self.assertIn(b"pha.txt ", out)
        os.write(master, b"\x15cd su\t")
        out = read_pty(master, 10, done=lambda d: b"bdir/" in d)
        self.assertIn(b"bdir/", out)
        os.write(master, b"\x15quit\r")
        read_pty(master, 10, proc=p)
        self.assertEqual(p.wait(10), 0)

    def test_completion_after_dash_dash_of_a_name_starting_with_a_dash(self):
        # "get -- -" is the way to name such a file: Tab completes it there (and only there:
        # before "--" a word starting with '-' is an option)
        from ftpd_harness import read_pty
        self.srv.make_file("-lead.txt", 3, seed=46)
        p, master = self.shell_on_pty([self.srv.url()], HOME=self.tmp)
        read_pty(master, 15, done=lambda d: b"/> " in d)
        os.write(master, b"get -l\t")
        out = read_pty(master, 2, done=lambda d: b"ead" in d)
        self.assertNotIn(b"ead", out)
        os.write(master, b"\x15get -- -l\t")
        out = read_pty(master, 10, done=lambda d: b"ead.txt " in d)
        self.assertIn(b"ead.txt ", out)
        os.write(master, b"\x15quit\r")
        read_pty(master, 10, proc=p)
        self.assertEqual(p.wait(10), 0)

    def test_prompt_of_a_long_directory_fits_a_narrow_terminal(self):
        # a prompt wider than the terminal wraps, and libedit then draws over the rows
        # below it: the completion list vanished. The directory is cut to leave room.
        deep = "d" * 70 + "/inner-end"
        self.srv.make_file(deep + "/f.txt", 3, seed=47)
        self.srv.make_file("abc1.txt", 3, seed=48)
        self.srv.make_file("abc2.txt", 3, seed=49)
        home = self.local("home")
        os.mkdir(home)
        capture, done = self.start("s11", home, columns=50, url=self.srv.url(deep + "/"))
        self.assertTrue(wait_for(lambda: "inner-end>" in capture(), 20), capture())
        capture.keys("ls /ab", "Tab")
        self.assertTrue(wait_for(lambda: "> ls /abc" in capture(), 10), capture())
        capture.keys("Tab")
        self.assertTrue(wait_for(lambda: "abc1.txt  abc2.txt" in capture(), 10), capture())
        self.assertRegex(self.prompt_line(capture),
                         r"^ftpc 127\.0\.0\.1:\.\.\..*inner-end> ls /abc$")
        self.assertLessEqual(len(self.prompt_line(capture)), 50 - 20 + len(" ls /abc"))
        capture.keys("C-u")
        self.quit_cleanly(capture, done)

    def start_at_prompt(self, name, columns=150):
        """start() with a fresh home folder, once the prompt is up: (capture, rc file)."""
        home = self.local("home")
        os.mkdir(home)
        capture, done = self.start(name, home, columns=columns)
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("/>"), 20),
                        capture())
        return capture, done

    def quit_cleanly(self, capture, done):
        """Types quit: the shell exits 0 with no sanitizer report."""
        capture.keys("quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())
        self.no_sanitizer_reports()

    def no_sanitizer_reports(self):
        for f in os.listdir(self.tmp):
            if ".asan" in f:
                with open(self.local(f), errors="replace") as fh:
                    self.fail("sanitizer report:\n" + fh.read()[-5000:])

    def jobs_once_started(self, capture, name, expect):
        """Types jobs once the background download of name is under way; waits for the
        listing to match the regular expression expect."""
        partial = self.local("." + name + ".ftpc-part")
        self.assertTrue(wait_for(lambda: os.path.exists(partial) and
                                 os.path.getsize(partial) > 100000, 20), capture())
        time.sleep(0.5)
        capture.keys("jobs", "Enter")
        self.assertTrue(wait_for(lambda: re.search(expect, capture()), 10), capture())

    def prompt_line(self, capture):
        lines = [l for l in capture().splitlines() if l.startswith("ftpc ")]
        return lines[-1] if lines else ""

    def test_completion_history_background(self):
        big = self.srv.make_file("bigfile.bin", 3 * MiB, seed=16)  # 3 s at 1 MiB/s
        self.srv.make_file("other.txt", 10, seed=17)
        self.srv.mkdir("subdir")
        home = self.local("home")
        os.mkdir(home)
        self.write_local("localfile.bin", b"x")
        capture, done = self.start("s1", home)
        keys = capture.keys
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("/>"), 20),
                        capture())
        # Tab completes a command name ...
        keys("he", "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("> help"), 10),
                        capture())
        keys("C-u")
        # ... and a remote path, from a listing of the remote directory
        keys("get bigf", "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            "> get bigfile.bin"), 10), capture())
        keys("C-u", "put localf", "Tab")  # a local path for put
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            "> put localfile.bin"), 10), capture())
        keys("C-u", "cd sub", "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("> cd subdir/"), 10),
                        capture())
        keys("C-u")
        # a background download goes on while the prompt answers
        keys("get -b --limit-rate 1M bigfile.bin", "Enter")
        self.assertTrue(wait_for(lambda: "[1] get -b" in capture(), 10), capture())
        keys("pwd", "Enter")
        self.assertTrue(wait_for(lambda: re.search(r"(?m)^/$", capture()), 10), capture())
        # jobs shows the transfer's progress line once it has started
        self.jobs_once_started(capture, "bigfile.bin", r"bigfile\.bin +\d+% .*ETA")
        self.assertFalse(os.path.exists(self.local("bigfile.bin")), "still running")
        keys("wait", "Enter")
        self.assertTrue(wait_for(lambda: "[1] Done" in capture(), 30), capture())
        self.assertEqual(self.read_local("bigfile.bin"), big)
        keys("quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())
        hist = os.path.join(home, ".ftpc_history")
        self.assertTrue(os.path.exists(hist))
        self.assertEqual(stat.S_IMODE(os.stat(hist).st_mode), 0o600)

        # a second session: Up recalls the first one's commands
        capture2, done2 = self.start("s2", home)
        self.assertTrue(wait_for(lambda: self.prompt_line(capture2).endswith("/>"), 20),
                        capture2())
        capture2.keys("Up")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture2).endswith("> quit"), 10),
                        capture2())
        capture2.keys("Up")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture2).endswith("> wait"), 10),
                        capture2())
        capture2.keys("C-u", "bye", "Enter")
        self.assertEqual(self.wait_file(done2, 20), "0", capture2())
        self.no_sanitizer_reports()

    def test_completion_inside_quotes(self):
        # in an open quote a completed name is inserted as the quote reads it (no backslash
        # before a blank), and a file closes the quote: the line then names the file
        sub = self.srv.make_file("sp ace dir/a b.txt", 1000, seed=26)
        q = self.srv.make_file("it's \"q\".txt", 1001, seed=27)
        capture, done = self.start_at_prompt("s5")
        keys = capture.keys
        keys('get "sp', "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            '> get "sp ace dir/'), 10), capture())
        keys("Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            '> get "sp ace dir/a b.txt"'), 10), capture())
        keys("Enter")
        self.assertTrue(wait_for(lambda: os.path.exists(self.local("a b.txt")), 10), capture())
        keys("get 'it", "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            "> get 'it'\\''s \"q\".txt'"), 10), capture())
        keys("Enter")
        self.assertTrue(wait_for(lambda: os.path.exists(self.local("it's \"q\".txt")), 10),
                        capture())
        keys('get "it', "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            '> get "it\'s \\"q\\".txt"'), 10), capture())
        keys("C-u", "quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())
        self.assertEqual(self.read_local("a b.txt"), sub)
        self.assertEqual(self.read_local("it's \"q\".txt"), q)
        self.no_sanitizer_reports()

    def test_user_asks_again_after_a_mistyped_password(self):
        # the password a login was refused with is not used again: user NAME asks for one
        home = self.local("home")
        os.mkdir(home)
        url = "ftp://%s@127.0.0.1:%d/" % (self.srv.user, self.srv.port)
        capture, done = self.start("s6", home, url=url)
        keys = capture.keys
        self.assertTrue(wait_for(lambda: "Password for" in capture(), 20), capture())
        keys("wrong", "Enter")
        self.assertTrue(wait_for(lambda: "Not logged in" in capture(), 20), capture())
        keys("user " + self.srv.user, "Enter")
        self.assertTrue(wait_for(lambda: capture().count("Password for") == 2 or
                                 len(re.findall(r"\b530 ", capture())) > 1, 20), capture())
        self.assertEqual(capture().count("Password for"), 2, capture())
        keys(self.srv.password, "Enter")
        self.assertTrue(wait_for(lambda: "Logged in as %s." % self.srv.user in capture(), 20),
                        capture())
        keys("quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "4", capture())
        self.no_sanitizer_reports()

    def test_job_line_at_the_top_of_the_screen_leaves_no_copy_in_the_history(self):
        # After Ctrl-L the prompt is on the screen's top row. A job's line was printed above
        # it by clearing "to the end of the screen" from the top-left corner, which tmux takes
        # for a clear screen, keeping a copy of the screen (the prompt and what was typed) in
        # its history each time.
        self.srv.make_file("slow.bin", 600 * 1024, seed=41)  # 3 s at 200 KiB/s
        capture, done = self.start_at_prompt("s13")
        keys = capture.keys
        keys("get -b --limit-rate 200K slow.bin", "Enter")
        self.assertTrue(wait_for(lambda: "[1] get -b" in capture(), 10), capture())
        keys("C-l")
        self.assertTrue(wait_for(lambda: capture().splitlines()[0].startswith("ftpc "), 10),
                        capture())
        keys("typed-not-sent")
        self.assertTrue(wait_for(lambda: "typed-not-sent" in capture().splitlines()[0], 10),
                        capture())
        self.assertTrue(wait_for(lambda: "[1] Done" in capture(), 30), capture())
        screen = capture().splitlines()
        self.assertTrue(screen[0].startswith("[1] slow.bin: "), "\n".join(screen))
        # the prompt is drawn again below the line, what was typed with it
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("> typed-not-sent"),
                                 10), capture())
        self.assertNotIn("typed-not-sent", capture.history(), capture.history())
        self.assertEqual(os.path.getsize(self.local("slow.bin")), 600 * 1024)
        keys("C-u")
        self.quit_cleanly(capture, done)

    def test_job_lines_keep_the_output_above_a_prompt_in_utf8(self):
        # a job's line is printed above the prompt by clearing the rows the prompt and the
        # typed text take: counted in cells, not bytes, or the line above goes too; and the
        # prompt cuts a long directory between characters, not inside one
        name = "\u00fc" * 35  # 70 bytes, 35 cells
        self.srv.mkdir(name)
        home = self.local("home")
        os.mkdir(home)
        capture, done = self.start("s7", home, columns=70, url=self.srv.url(name + "/"),
                                   lang="C.UTF-8")
        keys = capture.keys
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("\u00fc>"), 20),
                        capture())
        self.assertNotIn("?", self.prompt_line(capture))
        keys("get -b missing.bin", "Enter")
        self.assertTrue(wait_for(lambda: "[1] Exit 5" in capture(), 20), capture())
        self.assertIn("\n[1] get -b missing.bin\n", capture())
        keys("quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "5", capture())
        self.no_sanitizer_reports()

    def test_history_keeps_no_quote_pass(self):
        # a line that sends a password is not kept, whether user, a URL, or quote PASS
        capture, done = self.start_at_prompt("s8")
        keys = capture.keys
        keys("quote PASS sekrit-1", "Enter")
        keys("quote acct sekrit-2", "Enter")
        keys("pwd", "Enter")
        keys("quit", "Enter")
        # ftpd knows no ACCT: 502, exit status 5
        self.assertEqual(self.wait_file(done, 20), "5", capture())
        with open(self.local("home/.ftpc_history"), errors="replace") as fh:
            hist = fh.read()
        self.assertIn("pwd", hist)
        self.assertNotIn("sekrit", hist)

    def test_history_goes_into_a_state_directory_not_made_yet(self):
        # a fresh account has no ~/.local/state: XDG says it is made (0700), not that the
        # history is silently lost
        from ftpd_harness import read_pty
        state = self.local("fresh/.local/state")
        p, master = self.shell_on_pty([self.srv.url()], HOME=self.local("fresh"),
                                      XDG_STATE_HOME=state)
        read_pty(master, 15, done=lambda d: b"/> " in d)
        os.write(master, b"pwd\r")
        read_pty(master, 10, done=lambda d: b"\r\n/\r\n" in d)
        os.write(master, b"quit\r")
        read_pty(master, 10, proc=p)
        self.assertEqual(p.wait(10), 0)
        hist = os.path.join(state, "ftpc", "history")
        with open(hist) as fh:
            self.assertIn("pwd", fh.read())
        self.assertEqual(stat.S_IMODE(os.stat(hist).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o700)

    def test_job_lines_after_the_terminal_is_resized(self):
        # a window made narrower while a line is typed: the line wraps now, and a job's line
        # above the prompt clears all its rows (the width is asked anew), leaving no copy;
        # also after a transfer in the foreground, whose progress bars follow resizes too
        self.srv.make_file("resized.bin", 3 * MiB, seed=30)
        self.srv.make_file("first.bin", 1000, seed=31)
        capture, done = self.start_at_prompt("s9", columns=150)
        keys = capture.keys
        keys("get first.bin", "Enter")
        self.assertTrue(wait_for(lambda: os.path.exists(self.local("first.bin")), 10),
                        capture())
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("/>"), 20),
                        capture())
        keys("get -b --limit-rate 1M resized.bin", "Enter")
        self.assertTrue(wait_for(lambda: "[1] get -b" in capture(), 10), capture())
        keys("ls " + "a" * 100)
        self.assertTrue(wait_for(lambda: "a" * 100 in capture(), 10), capture())
        capture.resize(60)
        self.assertTrue(wait_for(lambda: "[1] Done" in capture(), 30), capture())
        time.sleep(0.5)
        self.assertEqual(capture().count("> ls aaa"), 1, capture())
        # editing goes on at the new width: the start of the line is a row up
        keys("bbb", "C-a", "X")
        self.assertTrue(wait_for(lambda: "> Xls aaa" in capture(), 10), capture())
        # the same with no job line in between
        keys("C-u", "ls " + "c" * 70)
        self.assertTrue(wait_for(lambda: "c" * 30 + "\n" + "c" * 30 in capture(), 10),
                        capture())
        capture.resize(40)
        time.sleep(0.5)
        keys("d", "C-a", "Y")
        self.assertTrue(wait_for(lambda: "> Yls ccc" in capture(), 10), capture())
        keys("C-u", "quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())
        self.no_sanitizer_reports()

    def test_completion_lists_names_with_controls_as_marks(self):
        # a listed name is shown as the prompt shows a directory: an escape sequence in a
        # local name, or a C1 control in a remote one (U+009B is CSI to xterm), never reaches
        # the terminal as it is
        home = self.local("home")
        os.mkdir(home)
        self.write_local("home/one\x1b]0;pwned\x07.txt", b"1")
        self.write_local("home/two\x1b]0;pwned\x07.txt", b"2")
        self.srv.make_file("r1\u009b31mZ.txt", 10, seed=32)
        self.srv.make_file("r2\u009b31mZ.txt", 10, seed=33)
        capture, done = self.start("s10", home, lang="C.UTF-8")
        keys = capture.keys
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("/>"), 20),
                        capture())
        keys("lcd " + home, "Enter")
        keys("put ", "Tab")
        self.assertTrue(wait_for(lambda: "two?]0;pwned?.txt" in capture(), 10), capture())
        self.assertIn("one?]0;pwned?.txt  two?]0;pwned?.txt", capture())
        keys("C-u", "get r", "Tab")
        self.assertTrue(wait_for(lambda: "r1?31mZ.txt  r2?31mZ.txt" in capture(), 10),
                        capture())
        keys("C-u", "quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())
        self.no_sanitizer_reports()

    def test_ctrl_z_and_fg_at_the_prompt(self):
        # stopped at the prompt (Ctrl-Z) and brought back (fg): the line being typed is drawn
        # again and edited as before, not echoed by a terminal left in its normal mode
        if subprocess.run(["which", "bash"], capture_output=True).returncode != 0:
            self.skipTest("bash not installed")
        if subprocess.run(["which", "tmux"], capture_output=True).returncode != 0:
            self.skipTest("tmux not installed")
        home = self.local("home")
        os.mkdir(home)
        # under an interactive bash, which has job control
        sock = "ftpc-shell-z-%d" % os.getpid()
        cmd = ("env -i PATH=/usr/bin:/bin HOME=%s TERM=screen LANG=C.UTF-8 NETRC=%s PS1='bash$ ' "
               "bash --norc --noprofile -i" % (home, self.local("no-netrc")))
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "z",
                        "-x", "100", "-y", "30", "-c", self.tmp, cmd], check=True, timeout=20)
        self.addCleanup(subprocess.run, ["tmux", "-L", sock, "kill-server"], timeout=20,
                        capture_output=True)

        def screen():
            return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "z"],
                                  capture_output=True, timeout=20).stdout.decode("utf-8", "replace")

        def type_(*k):
            subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "z"] + list(k), check=True,
                           timeout=20)
        self.assertTrue(wait_for(lambda: "bash$" in screen(), 20), screen())
        type_("(%s %s; echo rc=$?)" % (FTPC_BIN, self.srv.url()), "Enter")
        self.assertTrue(wait_for(lambda: screen().rstrip().endswith("/>"), 20), screen())
        type_("pw")
        self.assertTrue(wait_for(lambda: screen().rstrip().endswith("/> pw"), 10), screen())
        type_("C-z")
        self.assertTrue(wait_for(lambda: "Stopped" in screen(), 10), screen())
        type_("fg", "Enter")
        self.assertTrue(wait_for(lambda: screen().rstrip().endswith("/> pw"), 10), screen())
        type_("d")
        self.assertTrue(wait_for(lambda: screen().rstrip().endswith("/> pwd"), 10), screen())
        type_("Enter")
        self.assertTrue(wait_for(lambda: "\n/\n" in screen(), 10), screen())
        type_("quit", "Enter")
        self.assertTrue(wait_for(lambda: "rc=0" in screen(), 10), screen())

    def test_completion_of_a_long_path(self):
        # a word longer than 255 bytes is completed whole, not from its first 255 bytes (that
        # completed another name and inserted the rest of the real one after it)
        a, b = "A" * 150, "B" * 150
        self.srv.mkdir(a + "/" + b + "/C")
        capture, done = self.start_at_prompt("s12", columns=400)
        keys = capture.keys
        keys("cd %s/%s" % (a, b[:140]), "Tab")
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith(
            "> cd %s/%s/" % (a, b)), 10), capture())
        keys("Enter", "pwd", "Enter")
        self.assertTrue(wait_for(lambda: "\n/%s/%s\n" % (a, b) in capture(), 10), capture())
        self.quit_cleanly(capture, done)

    def test_password_prompt_outlasts_a_resize(self):
        # the window resized while the password is typed: the prompt goes on reading (an
        # interrupted read is what Ctrl-C gives, and it gives up the login)
        home = self.local("home")
        os.mkdir(home)
        url = "ftp://%s@127.0.0.1:%d/" % (self.srv.user, self.srv.port)
        capture, done = self.start("s13", home, url=url)
        self.assertTrue(wait_for(lambda: "Password for" in capture(), 20), capture())
        capture.keys(self.srv.password[:3])
        time.sleep(0.3)
        capture.resize(90)
        time.sleep(0.3)
        capture.keys(self.srv.password[3:], "Enter")
        self.assertTrue(wait_for(lambda: "Connected to" in capture(), 20), capture())
        capture.keys("quit", "Enter")
        self.assertEqual(self.wait_file(done, 20), "0", capture())

    def test_jobs_fit_a_narrow_terminal(self):
        # jobs indents each progress line under its job: drawn for the terminal's width less
        # the indent, a line neither wraps nor loses its rate and ETA
        self.srv.make_file("a-file-with-a-rather-long-name.bin", 6 * MiB, seed=18)
        capture, done = self.start_at_prompt("s3", columns=60)
        keys = capture.keys
        keys("get -b --limit-rate 1M a-file-with-a-rather-long-name.bin", "Enter")
        # each row of the pane is a line as ftpc wrote it: a wrapped line would split the
        # percentage from its ETA
        self.jobs_once_started(capture, "a-file-with-a-rather-long-name.bin",
                               r"(?m)^    \S.* \d+% .*ETA")
        keys("kill 1", "Enter")
        self.quit_cleanly(capture, done)

    def test_jobs_total_line_has_a_rate(self):
        # a background job draws nothing, so its display had no tick: the Total line of its
        # snapshot said "--" for the rate of a run moving 1 MiB/s
        for n in ("j1.bin", "j2.bin"):
            self.srv.make_file(n, 3 * MiB, seed=23)
        capture, done = self.start_at_prompt("s5", columns=120)
        keys = capture.keys
        keys("mget -b --limit-rate 1M j1.bin j2.bin", "Enter")
        self.jobs_once_started(capture, "j1.bin", r"(?m)^    j1\.bin +\d+% ")
        self.assertRegex(capture(), r"(?m)^    Total 0/2 .* \d[\d.]* \S*B/s  ETA ")
        keys("kill 1", "Enter")
        self.quit_cleanly(capture, done)

    def test_wait_follows_a_narrow_and_a_narrowed_terminal(self):
        # wait drew its lines at least 24 columns wide and went up one row per line: in a
        # window made narrower than its lines, each redraw left rows behind and the screen
        # filled with copies of the job's heading
        self.srv.make_file("n.bin", 6 * MiB, seed=24)
        capture, done = self.start_at_prompt("s6", columns=100)
        keys = capture.keys
        keys("get -b --limit-rate 1M n.bin", "Enter")
        keys("wait", "Enter")

        def percent():
            m = re.findall(r"(?m)^    n\.bin +(\d+)%", capture())
            return int(m[-1]) if m else -1
        self.assertTrue(wait_for(lambda: percent() >= 5, 10), capture())
        capture.resize(20)
        # redrawn a few times at 20 columns
        at = percent()
        self.assertTrue(wait_for(lambda: percent() >= at + 10, 10), capture())
        screen = capture()
        self.assertEqual(screen.count("[1] Running"), 1, screen)
        for row in screen.splitlines():
            self.assertLessEqual(len(row), 20, screen)
        keys("C-c")
        keys("kill 1", "Enter")
        self.quit_cleanly(capture, done)

    def test_wait_shows_the_jobs_progress(self):
        # wait on a terminal keeps the awaited job's progress in view, and takes it away when
        # the job ends, before its Done line
        big = self.srv.make_file("waited.bin", 3 * MiB, seed=19)
        capture, done = self.start_at_prompt("s4", columns=100)
        keys = capture.keys
        keys("get -b --limit-rate 1M waited.bin", "Enter")
        keys("wait", "Enter")
        self.assertTrue(wait_for(lambda: re.search(
            r"(?m)^\[1\] Running +get -b --limit-rate 1M waited\.bin \(\d+ s\)\n"
            r"    waited\.bin .* \d+% .*ETA", capture()), 10), capture())
        self.assertTrue(wait_for(lambda: "[1] Done" in capture(), 20), capture())
        self.assertTrue(wait_for(lambda: self.prompt_line(capture).endswith("/>"), 10),
                        capture())
        screen = capture()
        self.assertNotIn("Running", screen[screen.index("[1] Done"):], screen)
        self.assertEqual(self.read_local("waited.bin"), big)
        self.quit_cleanly(capture, done)


if __name__ == "__main__":
    unittest.main()
