"""The documentation against the programs, so that they cannot drift apart unnoticed.

ftpd's options come from its option table (ftpd/config.c): each must be in `ftpd --help`,
have an entry in ftpd.8 (with its configuration key, unless it is a command-line flag only)
and a line in sample_data/ftpd.conf, with the same numeric default in --help and ftpd.8.
ftpc's options, stress options and shell commands must be in its help and in ftpc.1. Every
help text fits an 80-column terminal, and ftpd.8 lists the commands HELP lists.
"""
import os
import re
import shutil
import subprocess
import unittest

from ftpd_harness import FTPD_BIN, ServerTestCase

FTPC_BIN = os.environ.get("FTPC_BIN") or os.path.join(os.path.dirname(FTPD_BIN), "ftpc")
SRC = os.environ.get("FTP_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")



def source(*parts):
    with open(os.path.join(SRC, *parts), encoding="utf-8") as fh:
        return fh.read()


def long_options(c_text, table):
    """The names in a `static const struct option TABLE[] = {...}` of C source."""
    body = re.search(r"struct option %s\[\] = \{(.*?)\n\};" % table, c_text, re.S)
    assert body, "no option table %s" % table
    return re.findall(r'\{"([a-z][a-z0-9-]*)",', body.group(1))


# Knobs of the tests, no user's: the event-loop backend, the pool's idle time, the VFS path
TEST_KNOBS = {"FTP_EV_BACKEND", "FTPD_IO_IDLE_EXIT_MS", "FTPD_VFS_FORCE_FALLBACK"}


def environment_read(dirs):
    """The environment variables the C files of dirs read: getenv("NAME"), and the names
    handed to a function of the same file that calls getenv on its parameter (termsize.c's
    env_at_least("COLUMNS", ...)), which a search for getenv("...") alone missed."""
    names = set()
    for d in dirs:
        for f in sorted(os.listdir(os.path.join(SRC, d))):
            if not f.endswith(".c"):
                continue
            text = source(d, f)
            names |= set(re.findall(r'getenv\("([A-Z_]+)"\)', text))
            for call in re.finditer(r"getenv\(([a-z_]\w*)\)", text):
                defs = list(re.finditer(r"(?m)^[a-z][^\n;]*?\b(\w+)\(([^)]*)\)\s*\n\{",
                                        text[:call.start()]))
                if defs and re.search(r"\b%s\b" % call.group(1), defs[-1].group(2)):
                    names |= set(re.findall(r'\b%s\("([A-Z_]+)"' % defs[-1].group(1), text))
    return names


def man_environment(man):
    """The names a man page's ENVIRONMENT section lists, one .B line each."""
    assert "\n.SH ENVIRONMENT\n" in man, "the man page has no ENVIRONMENT section"
    env = man.split("\n.SH ENVIRONMENT\n", 1)[1].split("\n.SH ", 1)[0]
    return set(re.findall(r"(?m)^\.B ([A-Z_]+)$", env))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=20, **kw)


def roff_text(lines):
    """Roff source as plain words: macros dropped, escapes undone, quotes removed."""
    words = []
    for line in lines:
        if line.startswith(".") and not re.match(r"\.(B|I|BR|BI|IR|RB|IB|RI) ", line):
            continue
        line = re.sub(r"^\.[A-Z]{1,2} ", "", line)
        line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace('"', "")
        words.append(line)
    return re.sub(r"\s+", " ", " ".join(words))


def man_option_entries(man, section):
    """{option name: plain text of its entry} for the .TP entries of one .SH section."""
    part = man.split(".SH %s\n" % section, 1)[1].split("\n.SH ", 1)[0]
    entries = {}
    for item in part.split("\n.TP\n")[1:]:
        lines = item.split("\n")
        head = roff_text(lines[:1])
        text = roff_text(lines[1:])
        for name in re.findall(r"--([a-z][a-z0-9-]*)", head):
            entries[name] = text
    return entries


def help_entries(text):
    """{option name: its text} for the option lines of a --help output."""
    entries, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^  (?:-\w, )?--([a-z][a-z0-9-]*)|^      --([a-z][a-z0-9-]*)", line)
        if m:
            current = m.group(1) or m.group(2)
            entries[current] = line
        elif current and line.startswith(" " * 20):
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


class TestFtpdDocs(unittest.TestCase):
    def setUp(self):
        config_c = source("ftpd", "config.c")
        self.options = long_options(config_c, "long_opts")
        # flags that are no key of a file; --no-anonymous is the key anonymous = off
        self.flag_only = set(long_options(config_c, "flag_only")) | {"no-anonymous"}
        self.help = run([FTPD_BIN, "--help"]).stdout
        self.man = man_option_entries(source("man", "ftpd.8"), "OPTIONS")
        self.conf = source("sample_data", "ftpd.conf")

    def test_every_option_is_in_help_man_page_and_sample_config(self):
        self.assertGreater(len(self.options), 30)
        helped = help_entries(self.help)
        conf_keys = set(re.findall(r"(?m)^#([a-z][a-z0-9-]*) = ", self.conf))
        for opt in self.options:
            self.assertIn(opt, helped, "--%s is not in ftpd --help" % opt)
            self.assertIn(opt, self.man, "--%s has no entry in ftpd.8 OPTIONS" % opt)
            if opt in self.flag_only:
                self.assertNotIn(opt, conf_keys, opt)
                continue
            self.assertRegex(self.man[opt], r"Key: %s\b" % re.escape(opt),
                             "ftpd.8 does not name the key of --%s" % opt)
            self.assertIn("Default:", self.man[opt], "ftpd.8 gives no default for --%s" % opt)
            self.assertIn(opt, conf_keys, "%s is not in sample_data/ftpd.conf" % opt)
        # and nothing documented that the program does not take
        for name in list(helped) + list(self.man) + sorted(conf_keys):
            self.assertIn(name, self.options, "--%s is documented but not an option" % name)

    def test_help_and_man_page_name_the_flags_that_are_no_keys(self):
        said = re.search(r"Every long option but (.*?) is also a key", self.help, re.S)
        self.assertTrue(said, "ftpd --help does not say which options are keys")
        self.assertEqual(set(re.findall(r"--([a-z][a-z0-9-]*)", said.group(1))), self.flag_only)
        man = source("man", "ftpd.8").replace("\\-", "-")
        said = re.search(r"Every long option except(.*?)is also a key", man, re.S)
        self.assertTrue(said, "ftpd.8 does not say which options are keys")
        self.assertEqual(set(re.findall(r"--([a-z][a-z0-9-]*)", said.group(1))), self.flag_only)

    def test_readme_configuration_table_names_real_options(self):
        rows = [l for l in source("README.md").splitlines() if l.startswith("| `--")]
        self.assertGreater(len(rows), 10)
        for row in rows:
            flags = re.findall(r"--([a-z][a-z0-9-]*)", row.split("|")[1])
            for flag in flags:
                self.assertIn(flag, self.options, "README's table: --%s" % flag)
        # the table's (-login, -data) shorthand stands for these two
        self.assertIn("require-tls-login", self.options)
        self.assertIn("require-tls-data", self.options)

    def test_numeric_defaults_agree(self):
        helped = help_entries(self.help)
        compared = 0
        for opt in self.options:
            in_help = re.search(r"\(default (\d+)\)", helped.get(opt, ""))
            if not in_help:
                continue
            in_man = re.search(r"Default: (\d+)", self.man[opt])
            self.assertTrue(in_man, "ftpd.8 gives no default for --%s" % opt)
            self.assertEqual(in_help.group(1), in_man.group(1), "default of --%s" % opt)
            compared += 1
        self.assertGreater(compared, 8)

    def test_every_default_in_help_is_the_man_pages(self):
        # words too (info, auto, cubic, yes, 7d, 127.0.0.1:2121), not only numbers
        helped = help_entries(self.help)
        compared = 0
        for opt in self.options:
            in_help = re.search(r"\(default:? ([^\s;)]+)", helped.get(opt, ""))
            if not in_help:
                continue
            word = in_help.group(1).rstrip(".:,")
            in_man = re.search(r"Default: (.*)", self.man[opt])
            self.assertTrue(in_man, "ftpd.8 gives no default for --%s" % opt)
            man_words = [w.rstrip(".") for w in re.findall(r"[^\s(),;]+", in_man.group(1))]
            self.assertIn(word, man_words,
                          "--%s: --help's default %r is not ftpd.8's %r"
                          % (opt, word, in_man.group(1)[:60]))
            compared += 1
        self.assertGreater(compared, 20)

    def test_sample_config_shows_each_default_or_says_it(self):
        # A commented-out line shows the default, or (for a setting off or unset by default)
        # an example value under a comment that gives the default: the file's own promise.
        off = {"off", "no", "none"}
        checked = 0
        for block in self.conf.split("\n\n"):
            lines = block.splitlines()
            keys = [re.match(r"#([a-z][a-z0-9-]*) = (.*)$", l) for l in lines]
            keys = [m for m in keys if m and m.group(1) in self.options]
            said = " ".join(l for l in lines if not re.match(r"#[a-z][a-z0-9-]* = ", l))
            for m in keys:
                key, value = m.group(1), m.group(2)
                in_man = re.search(r"Default: ([^\s;,]+)", self.man[key])
                default = in_man.group(1).rstrip(".") if in_man else None
                shows_default = value == default or (value in off and default in off)
                self.assertTrue(shows_default or re.search(r"(?i)\bdefault", said),
                                "sample_data/ftpd.conf: %s = %s is not the default (%s) and "
                                "its comment does not give it" % (key, value, default))
                checked += 1
        self.assertGreater(checked, 30)


    def test_environment_variables_ftpd_reads_are_in_man_page(self):
        # ftpd.8 had no ENVIRONMENT section, though COLUMNS and LINES size the live view
        # written to a file (--progress on) and XDG_STATE_HOME places the certificate
        names = environment_read(("ftpd", "common")) - TEST_KNOBS
        self.assertGreater(len(names), 4)
        man = source("man", "ftpd.8").replace("\\-", "-")
        self.assertEqual(names - man_environment(man), set(),
                         "read by ftpd, not in ftpd.8 ENVIRONMENT")


class TestFtpdCommands(ServerTestCase):
    def test_man_page_lists_the_commands_help_lists(self):
        c = self.srv.control()
        code, text = c.cmd("HELP")
        self.assertEqual(code, 214, text)
        served = set(re.findall(r"\b[A-Z]{3,4}\b", text.split("\n", 1)[1]))
        self.assertGreater(len(served), 40)
        man = source("man", "ftpd.8")
        section = man.split(".SH COMMANDS\n", 1)[1].split("\n.SH ", 1)[0]
        items = section.split("\n.TP\n", 1)[1]  # the lists, after the introduction
        # words that are not commands: a label, a section's name, an argument, the RFC
        listed = set(re.findall(r"\b[A-Z]{3,4}\b", items)) - {"TLS", "FTPS", "ALL", "RFC"}
        self.assertEqual(served - listed, set(), "commands ftpd serves that ftpd.8 omits")
        self.assertEqual(listed - served, set(), "commands in ftpd.8 that ftpd does not serve")


class TestFtpcDocs(unittest.TestCase):
    def setUp(self):
        self.man = source("man", "ftpc.1").replace("\\-", "-")

    def test_options_and_commands_are_in_help_and_man_page(self):
        helped = run([FTPC_BIN, "--help"]).stdout
        for opt in long_options(source("ftpc", "cli.c"), "long_opts"):
            self.assertRegex(helped, r"--%s\b" % re.escape(opt), "ftpc --help lacks --%s" % opt)
            self.assertRegex(self.man, r"(?m)^\.(B|BR|BI) .*--%s\b" % re.escape(opt),
                             "ftpc.1 has no entry for --%s" % opt)
        stress_help = run([FTPC_BIN, "stress", "--help"]).stdout
        stress_man = self.man.split(".SS Stress options", 1)[1].split("\n.SH ", 1)[0]
        for opt in long_options(source("ftpc", "stress_opts.c"), "long_opts"):
            if opt == "help":
                continue
            self.assertIn("--%s " % opt, stress_help, "ftpc stress --help lacks --%s" % opt)
            self.assertRegex(stress_man, r"--%s\b" % re.escape(opt), "ftpc.1 stress: --%s" % opt)

    def test_every_key_of_the_stress_json_report_is_in_man_page(self):
        # the man page listed some keys "and a few more": clients_requested, mix, size, tls,
        # compress, verify_failures_detail, hash_busy, faults... were left for a script's
        # author to guess from one report
        report_c = source("ftpc", "stress_report.c")
        body = report_c.split("void stress_report_json", 1)[1].split("void stress_report_csv")[0]
        keys = set(re.findall(r'(?:\\n|")  \\"([a-z_0-9]+)\\":', body))
        self.assertGreater(len(keys), 30, keys)
        text = roff_text(self.man.split("\n.SH STRESS\n", 1)[1].split("\n.SH ", 1)[0]
                         .splitlines())
        missing = [k for k in sorted(keys) if not re.search(r"\b%s\b" % k, text)]
        self.assertEqual(missing, [], "JSON keys ftpc.1's STRESS section does not name")

    def test_each_command_help_lists_the_options_meant_for_it(self):
        # ftpc --help says which commands an option is for ("get: ...", "get, put, cat:");
        # each of those commands' own help must list it.
        helped = help_entries(run([FTPC_BIN, "--help"]).stdout)
        checked = 0
        for opt, text in helped.items():
            desc = re.split(r"\s{2,}", text.strip(), maxsplit=1)[-1]
            meant = re.match(r"([a-z]+(?:, [a-z]+)*): ", desc)
            if not meant:
                continue
            for cmd in meant.group(1).split(", "):
                cmd_help = run([FTPC_BIN, cmd, "--help"]).stdout
                self.assertRegex(cmd_help, r"--%s\b" % re.escape(opt),
                                 "ftpc %s --help lacks --%s" % (cmd, opt))
                checked += 1
        self.assertGreater(checked, 10)

    def test_defaults_in_help_are_in_man_page(self):
        cases = ((["--help"], self.man.split("\n.SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]),
                 (["stress", "--help"], self.man.split(".SS Stress options", 1)[1]
                  .split("\n.SH ", 1)[0]))
        compared = 0
        for args, section in cases:
            entries = {}
            for item in section.split("\n.TP\n")[1:]:
                lines = item.split("\n")
                for name in re.findall(r"--([a-z][a-z0-9-]*)", roff_text(lines[:1])):
                    entries[name] = roff_text(lines[1:])
            for opt, text in help_entries(run([FTPC_BIN] + args).stdout).items():
                m = re.search(r"\(default:? ([^\s;)]+)", text)
                if not m or opt not in entries:
                    continue
                word = m.group(1).rstrip(".:,")
                with self.subTest(opt):
                    said = re.search(r"(?i)default[^.]*", entries[opt])
                    self.assertTrue(said, "ftpc.1 gives no default for --%s (--help: %s)"
                                    % (opt, word))
                    self.assertIn(word, entries[opt], "ftpc.1, --%s: default %s" % (opt, word))
                compared += 1
        self.assertGreater(compared, 10)

    def test_environment_variables_ftpc_reads_are_in_man_page(self):
        names = environment_read(("ftpc", "common")) - TEST_KNOBS
        self.assertGreater(len(names), 5)
        # read through termsize.c's helper, not by a getenv of their own: found all the same
        self.assertTrue({"COLUMNS", "LINES"} <= names, names)
        self.assertEqual(names - man_environment(self.man), set(),
                         "read by ftpc, not in ftpc.1 ENVIRONMENT")

    def test_shell_commands_are_in_help_and_man_page(self):
        cmds = re.findall(r'^\s+\{"([a-z]+)", (?:sh_)?cmd_',
                          source("ftpc", "shell_cmds.c"), re.M)
        self.assertGreater(len(cmds), 30)
        out = run([FTPC_BIN], input="help\n").stdout
        shell_man = self.man.split(".SH SHELL", 1)[1].split("\n.SH ", 1)[0]
        for cmd in cmds:
            self.assertRegex(out, r"(?m)^  %s\b" % cmd)
            self.assertRegex(shell_man, r"(?m)^\.(B|BR|BI) .*\b%s\b" % cmd, "ftpc.1: " + cmd)


def man_status_items(man):
    """The exit statuses a man page's EXIT STATUS section lists (its .TP items)."""
    part = man.split(".SH EXIT STATUS\n", 1)[1].split("\n.SH ", 1)[0]
    return set(re.findall(r"(?m)^\.TP\n\.B (\d+)$", part))


def listed_statuses(text):
    """The statuses of a sentence such as "0 when it ran, 1 when ..., 8 on ..."."""
    return set(re.findall(r"(?:^|[:,] )(\d) (?=[a-zA-Z])", re.sub(r"\s+", " ", text).strip()))


class TestExitStatusDocs(unittest.TestCase):
    def test_help_and_man_page_list_the_same_exit_statuses(self):
        ftpd_help = run([FTPD_BIN, "--help"]).stdout.split("\nExit status:", 1)[1]
        ftpd_help = ftpd_help.split(". --check", 1)[0]
        self.assertEqual(listed_statuses(ftpd_help), man_status_items(source("man", "ftpd.8")))
        self.assertEqual(listed_statuses(ftpd_help), {"0", "1", "2"})
        man = source("man", "ftpc.1")
        ftpc_help = run([FTPC_BIN, "--help"]).stdout.split("\nExit status:\n", 1)[1]
        in_help = set(re.findall(r"(?m)^  (\d)  ", ftpc_help))
        self.assertGreater(len(in_help), 7)
        self.assertEqual(in_help, man_status_items(man), "ftpc --help and ftpc.1")
        stress_help = run([FTPC_BIN, "stress", "--help"]).stdout.split("\nExit status: ", 1)[1]
        stress_man = man.split("\nExit status of\n.BR stress :\n", 1)[1]
        stress_man = roff_text(re.split(r"\n\.(?:PP|SS|SH|EX)\b", stress_man, 1)[0].split("\n"))
        self.assertGreater(len(listed_statuses(stress_help)), 8)
        self.assertEqual(listed_statuses(stress_help), listed_statuses(stress_man),
                         "ftpc stress --help and ftpc.1")


class TestHelpWidth(unittest.TestCase):
    def assertFits(self, text, what):
        with self.subTest(what):
            self.assertTrue(text.strip(), what)
            for line in text.splitlines():
                self.assertLessEqual(len(line), 80, "%s: %r" % (what, line))

    def test_every_help_fits_80_columns(self):
        self.assertFits(run([FTPD_BIN, "--help"]).stdout, "ftpd --help")
        self.assertFits(run([FTPC_BIN, "--help"]).stdout, "ftpc --help")
        for cmd in ("get", "put", "ls", "cat", "rm", "mkdir", "rmdir", "mv", "mirror", "stress"):
            self.assertFits(run([FTPC_BIN, cmd, "--help"]).stdout, "ftpc %s --help" % cmd)
        cmds = re.findall(r'^\s+\{"([a-z]+)", (?:sh_)?cmd_',
                          source("ftpc", "shell_cmds.c"), re.M)
        script = "help\n" + "".join("help %s\n" % c for c in cmds)
        self.assertFits(run([FTPC_BIN], input=script).stdout, "the shell's help")

    @unittest.skipUnless(shutil.which("man") and shutil.which("col"), "man(1) not installed")
    def test_manual_pages_render_within_80_columns(self):
        env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", LC_ALL="C.UTF-8")
        for page in ("ftpd.8", "ftpc.1"):
            r = subprocess.run("man -l %s | col -bx" % os.path.join(SRC, "man", page),
                               shell=True, capture_output=True, timeout=60, env=env)
            self.assertFits(r.stdout.decode("utf-8", "replace"), page)


if __name__ == "__main__":
    unittest.main()
