"""Interop: ftpc get/put/ls/mirror (and a segmented get) against vsftpd (and pure-ftpd) on
loopback.

vsftpd cannot be apt-installed beside the other FTP servers, so bench/peers/install-peers.sh
unpacks it under $PEERS_PREFIX (/opt/ftp-peers) and creates the account ftpbench/ftpbench.
This test starts that vsftpd itself with bench/peers/start-server.sh (with a private
run-state directory, a free port and a scratch root), stops it with stop-server.sh (which
signals only the recorded PID's process group), and compares bytes. vsftpd has no MLSD, so
mirror goes through LIST parsing here.

The test skips, saying why, when it is not root or vsftpd is not installed there; it never
installs anything itself (`scripts/test.sh --interop` runs install-peers.sh first).
"""
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from ftpd_harness import free_port
from test_ftpc import FTPC_BIN, SANITIZER_MARKERS, data_bytes

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.normpath(os.path.join(HERE, "..", "..", "bench", "peers"))
PEERS_PREFIX = os.environ.get("PEERS_PREFIX", "/opt/ftp-peers")
BINARIES = {
    "vsftpd": os.path.join(PEERS_PREFIX, "vsftpd", "usr", "sbin", "vsftpd"),
    "pure-ftpd": os.path.join(PEERS_PREFIX, "pure-ftpd", "usr", "sbin", "pure-ftpd"),
    "proftpd": os.path.join(PEERS_PREFIX, "proftpd-core", "usr", "sbin", "proftpd"),
}
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/usr/bin/python3")  # as start-server.sh
USER = os.environ.get("FTPBENCH_USER", "ftpbench")
PASS = os.environ.get("FTPBENCH_PASS", "ftpbench")
MiB = 1024 * 1024


def why_not(name="vsftpd"):
    if os.geteuid() != 0:
        return "not root (%s must start as root to chroot the account)" % name
    if name == "pyftpdlib":
        if not os.access(PEER_PYTHON, os.X_OK) or subprocess.run(
                [PEER_PYTHON, "-c", "import pyftpdlib"], capture_output=True,
                timeout=30).returncode != 0:
            return "pyftpdlib not importable by %s (set PEER_PYTHON)" % PEER_PYTHON
    elif not os.access(BINARIES[name], os.X_OK):
        return ("%s not installed at %s (run bench/peers/install-peers.sh as root, or "
                "scripts/test.sh --interop)" % (name, BINARIES[name]))
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "account %s missing (run bench/peers/install-peers.sh)" % USER
    if name == "vsftpd" and not os.path.exists("/etc/pam.d/ftpbench-vsftpd"):
        return "PAM service ftpbench-vsftpd missing (run bench/peers/install-peers.sh)"
    if not os.access(FTPC_BIN, os.X_OK):
        return "ftpc binary not found: %s" % FTPC_BIN
    return None


class PeerMixin:
    """Starts SERVER for the class and gives each test a directory of its own on it."""
    SERVER = None

    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="ftpc-interop-")
        os.chmod(cls.base, 0o755)
        cls.root = os.path.join(cls.base, "root")
        cls.run_dir = os.path.join(cls.base, "run")
        cls.port = free_port()
        cls.env = dict(os.environ, BENCH_RUN=cls.run_dir, PEERS_PREFIX=PEERS_PREFIX)
        r = subprocess.run([os.path.join(PEERS, "start-server.sh"), cls.SERVER, str(cls.port),
                            cls.root], env=cls.env, capture_output=True, timeout=30)
        if r.returncode != 0:
            shutil.rmtree(cls.base, True)
            raise unittest.SkipTest("%s did not start: %s"
                                    % (cls.SERVER, r.stderr.decode(errors="replace")[-500:]))
        with open(os.path.join(cls.run_dir, cls.SERVER, "pid")) as fh:
            cls.pid = int(fh.read())

    @classmethod
    def tearDownClass(cls):
        subprocess.run([os.path.join(PEERS, "stop-server.sh"), cls.SERVER], env=cls.env,
                       capture_output=True, timeout=30)
        shutil.rmtree(cls.base, True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpc-interop-c-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.uid = pwd.getpwnam(USER).pw_uid
        self.gid = pwd.getpwnam(USER).pw_gid
        # a fresh directory per test below the served root
        self.d = self.id().rsplit(".", 1)[-1]
        self.srv_dir = os.path.join(self.root, self.d)
        os.mkdir(self.srv_dir)
        os.chown(self.srv_dir, self.uid, self.gid)

    def url(self, path=""):
        return "ftp://%s:%s@127.0.0.1:%d/%s/%s" % (USER, PASS, self.port, self.d, path)

    def srv_write(self, rel, data, mtime=None):
        p = os.path.join(self.srv_dir, rel)
        parent = os.path.dirname(p)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            cur = parent
            while cur != self.srv_dir:
                os.chown(cur, self.uid, self.gid)
                cur = os.path.dirname(cur)
        with open(p, "wb") as fh:
            fh.write(data)
        os.chown(p, self.uid, self.gid)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return data

    def srv_read(self, rel):
        with open(os.path.join(self.srv_dir, rel), "rb") as fh:
            return fh.read()

    def check_get_put_ls(self):
        """A download and an upload, bytes compared, and the names ls gives."""
        data = self.srv_write("a.bin", data_bytes(3 * MiB + 17, 1))
        self.ftpc("get", "-o", "a.bin", self.url("a.bin"))
        with open(os.path.join(self.tmp, "a.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        up = data_bytes(2 * MiB + 3, 2)
        with open(os.path.join(self.tmp, "up.bin"), "wb") as fh:
            fh.write(up)
        self.ftpc("put", "up.bin", self.url("up.bin"))
        self.assertEqual(self.srv_read("up.bin"), up)
        r = self.ftpc("ls", self.url(""))
        # vsftpd's and ProFTPD's NLST of a directory name its entries with the directory
        names = sorted(os.path.basename(n) for n in r.stdout.decode().split())
        self.assertEqual(names, ["a.bin", "up.bin"])

    def ftpc(self, *args, rc=0):
        env = dict(os.environ, NETRC=os.path.join(self.tmp, "no-netrc"))
        r = subprocess.run([FTPC_BIN] + list(args), cwd=self.tmp, capture_output=True,
                           timeout=120, env=env, stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, err)
        self.assertEqual(r.returncode, rc, "ftpc %s: exit %d\n%s"
                         % (" ".join(args), r.returncode, err[-3000:]))
        return r

    def shell(self, url, script, rc=0):
        """The interactive shell (ftpc URL), script on standard input: (stdout, stderr)."""
        env = dict(os.environ, NETRC=os.path.join(self.tmp, "no-netrc"))
        r = subprocess.run([FTPC_BIN, url], cwd=self.tmp, capture_output=True, timeout=120,
                           env=env, input=script.encode())
        err = r.stderr.decode(errors="replace")
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, err)
        self.assertEqual(r.returncode, rc, "ftpc %s <<%r: exit %d\n%s"
                         % (url, script, r.returncode, err[-3000:]))
        return r.stdout, r.stderr

    def login_links(self, links):
        """Links in the login directory, shared by the tests: named after the test's
        directory, removed after it. Returns the base URL (the login directory)."""
        for name, target in links.items():
            p = os.path.join(self.root, self.d + "." + name)
            os.symlink(target, p)
            self.addCleanup(os.unlink, p)
        return "ftp://%s:%s@127.0.0.1:%d/" % (USER, PASS, self.port)

    def check_no_entry_in_a_file(self, base):
        """F/F, where F is a file in the login directory, names nothing: F's own line in
        the listing of F is not taken for the entry of F/F."""
        name = self.d + ".file"
        p = os.path.join(self.root, name)
        with open(p, "wb") as fh:
            fh.write(b"f")
        os.chown(p, self.uid, self.gid)
        self.addCleanup(os.unlink, p)
        for opt in ([], ["-l"]):
            r = self.ftpc("ls", *opt, base + name + "/" + name, rc=5)
            self.assertEqual(r.stdout, b"")

    def check_ls_of_names_with_spaces(self):
        """ls and ls -l of a directory and of a file whose names hold a space (and, for the
        directory, pattern characters), one-shot and in the shell: the entries, as the
        directory's own listing from inside it names them, not those of d (the name's
        first word)."""
        for rel in ("d sp/in file", "d sp/f1", "g*l[ob]?/in file", "d/x"):
            self.srv_write(rel, b"x")
        for name in ("d sp", "g*l[ob]?"):
            os.mkdir(os.path.join(self.srv_dir, name, "sub"))
            os.chown(os.path.join(self.srv_dir, name, "sub"), self.uid, self.gid)
        q = urllib.parse.quote
        for name in ("d sp", "g*l[ob]?"):
            for path in (name, name + "/"):
                r = self.ftpc("ls", self.url(q(path)))
                self.assertEqual(sorted(os.path.basename(n) for n in r.stdout.decode().splitlines()),
                                 ["f1", "in file", "sub"] if name == "d sp" else ["in file", "sub"])
                r = self.ftpc("ls", "-l", self.url(q(path)))
                lines = r.stdout.decode().splitlines()
                self.assertTrue(all(len(ln.split(None, 8)) == 9 for ln in lines), r.stdout)
                self.assertEqual(sorted(ln.split(None, 8)[8] for ln in lines),
                                 ["f1", "in file", "sub"] if name == "d sp" else ["in file", "sub"],
                                 r.stdout)
                self.assertEqual(r.stderr, b"")
        # (a file's path is listed by name, as before: pure-ftpd's LIST of "d sp/in file"
        # would still list the directory d where there is one)
        os.unlink(os.path.join(self.srv_dir, "d", "x"))
        os.rmdir(os.path.join(self.srv_dir, "d"))
        r = self.ftpc("ls", self.url(q("d sp/in file")))
        self.assertEqual(r.stdout, b"%s/d sp/in file\n" % self.d.encode())
        r = self.ftpc("ls", "-l", self.url(q("d sp/in file")))
        self.assertRegex(r.stdout.decode(), r"^-rw\S* .* (%s/d sp/)?in file\n$" % self.d)
        # the shell's ls and dir, and its directory after them
        out, err = self.shell(self.url(""), 'dir "d sp"\nls -l "d sp/in file"\npwd\n')
        lines = out.decode().splitlines()
        self.assertEqual(sorted(ln.split(None, 8)[8] for ln in lines[:3]),
                         ["f1", "in file", "sub"], (out, err))
        self.assertRegex(lines[3], r" (d sp/)?in file$")
        self.assertEqual(lines[4:], ["/" + self.d], (out, err))
        # mirror lists it (LIST without MLSD, as on vsftpd) and takes what is in it
        self.ftpc("mirror", self.url(q("d sp")), "out")
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "out"))),
                         ["f1", "in file", "sub"])
        # an empty directory of such a name is empty, and a missing one still fails
        os.rmdir(os.path.join(self.srv_dir, "d sp", "sub"))
        for f in ("f1", "in file"):
            os.unlink(os.path.join(self.srv_dir, "d sp", f))
        r = self.ftpc("ls", "-l", self.url(q("d sp/")))
        self.assertEqual((r.stdout, r.stderr), (b"", b""))
        r = self.ftpc("ls", "-l", self.url(q("no such/")), rc=5)
        self.assertEqual(r.stdout, b"")

    def check_resume_of_a_changed_file(self):
        """The server has no HASH: a file that changed after the part file was written is
        downloaded again whole (MDTM tells), not spliced from two versions; a part file
        written after the server's file last changed is resumed."""
        new = self.srv_write("v.bin", data_bytes(300000, 21), mtime=time.time() - 3600)
        part = os.path.join(self.tmp, ".v.bin.ftpc-part")
        with open(part, "wb") as fh:
            fh.write(data_bytes(100000, 22))
        os.utime(part, (time.time() - 7200,) * 2)
        r = self.ftpc("-c", "get", self.url("v.bin"))
        self.assertIn(b"v.bin: the server's file changed (MDTM) after the 100000 bytes in "
                      b".v.bin.ftpc-part were written: downloading it all again", r.stderr)
        with open(os.path.join(self.tmp, "v.bin"), "rb") as fh:
            self.assertEqual(fh.read(), new)
        os.unlink(os.path.join(self.tmp, "v.bin"))
        with open(part, "wb") as fh:
            fh.write(new[:120000])
        r = self.ftpc("-c", "get", self.url("v.bin"))
        self.assertIn(b"resumed at", r.stderr)
        with open(os.path.join(self.tmp, "v.bin"), "rb") as fh:
            self.assertEqual(fh.read(), new)

    def check_mirror_modes_both_ways(self):
        """mirror carries permission bits down (from what the listing says) and up (SITE
        CHMOD), an executable script and a private file among them."""
        modes = {"run.sh": 0o755, "secret": 0o600, "d": 0o750, "d/in.txt": 0o640}
        for rel in ("run.sh", "secret", "d/in.txt"):
            self.srv_write("src/" + rel, rel.encode())
        for rel in ("run.sh", "secret", "d/in.txt", "d"):
            os.chmod(os.path.join(self.srv_dir, "src", rel), modes[rel])
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        r = self.ftpc("mirror", self.url("src"), "out")
        got = {rel: stat.S_IMODE(os.stat(os.path.join(self.tmp, "out", rel)).st_mode)
               for rel in modes}
        self.assertEqual(got, modes)
        r = self.ftpc("mirror", "-R", "out", self.url("back"))
        self.assertNotIn(b"SITE CHMOD", r.stderr)
        got = {rel: stat.S_IMODE(os.stat(os.path.join(self.srv_dir, "back", rel)).st_mode)
               for rel in modes}
        self.assertEqual(got, modes)

    def check_mirror_both_ways(self):
        """mirror down, then up under another name, each twice (the second run sends
        nothing), and --delete on the server."""
        old = time.time() - 3600
        want = {"x.bin": data_bytes(300000, 4), "sub/y.txt": data_bytes(5000, 5),
                "sub/deeper/z.bin": data_bytes(70000, 6), "empty": b""}
        for rel, d in want.items():
            self.srv_write("src/" + rel, d, mtime=old)
        r = self.ftpc("mirror", self.url("src"), "out")
        self.assertIn(b"mirror: 4 files transferred, 0 skipped, 0 deleted", r.stdout)
        for rel, d in want.items():
            with open(os.path.join(self.tmp, "out", rel), "rb") as fh:
                self.assertEqual(fh.read(), d, rel)
        r = self.ftpc("mirror", "--delete", self.url("src"), "out")
        self.assertIn(b"mirror: 0 files transferred, 4 skipped, 0 deleted", r.stdout)
        # upload the tree back under another name; a second run sends nothing
        r = self.ftpc("mirror", "-R", "-j", "2", "out", self.url("back"))
        self.assertIn(b"mirror: 4 files transferred, 0 skipped, 0 deleted", r.stdout)
        for rel, d in want.items():
            self.assertEqual(self.srv_read("back/" + rel), d, rel)
        r = self.ftpc("mirror", "-R", "out", self.url("back"))
        self.assertIn(b"mirror: 0 files transferred, 4 skipped, 0 deleted", r.stdout)
        # --delete on the server
        os.remove(os.path.join(self.tmp, "out", "sub", "deeper", "z.bin"))
        os.rmdir(os.path.join(self.tmp, "out", "sub", "deeper"))
        r = self.ftpc("mirror", "-R", "--delete", "out", self.url("back"))
        self.assertIn(b"mirror: 0 files transferred, 3 skipped, 2 deleted", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.srv_dir, "back", "sub", "deeper")))

    def check_mirror_R_delete_leaves_links_alone(self, listed_as_dir=False):
        """mirror -R --delete where the target holds a link to a directory outside it: most
        peers list the link as one (an l line, an OS.unix=slink type), which the mirror leaves
        alone; one that lists it as the directory it leads to (listed_as_dir) has the link
        removed, as a link. Either way nothing it leads to is deleted, and a real directory
        still goes whole."""
        old = time.time() - 3600
        self.srv_write("outside/precious", b"o")
        self.srv_write("dst/gone/sub/f", b"f")
        self.srv_write("dst/keep.txt", b"kept", mtime=old)
        link = os.path.join(self.srv_dir, "dst", "lnk")
        os.symlink("../outside", link)
        os.lchown(link, self.uid, self.gid)
        os.makedirs(os.path.join(self.tmp, "up"))
        with open(os.path.join(self.tmp, "up", "keep.txt"), "wb") as fh:
            fh.write(b"kept")
        os.utime(os.path.join(self.tmp, "up", "keep.txt"), (old, old))
        r = self.ftpc("mirror", "-R", "--delete", "up", self.url("dst"))
        self.assertIn(b"mirror: 0 files transferred, 1 skipped, %d deleted\n"
                      % (4 if listed_as_dir else 3), r.stdout)
        said = [line for line in r.stderr.splitlines() if b"lnk" in line]
        self.assertEqual(said, [b"lnk: deleted on the server (a link: what it points to is "
                                b"left alone)"] if listed_as_dir else [])
        self.assertEqual(self.srv_read("outside/precious"), b"o")
        self.assertEqual(os.path.lexists(link), not listed_as_dir)
        self.assertFalse(os.path.lexists(os.path.join(self.srv_dir, "dst", "gone")))


@unittest.skipIf(why_not() is not None, why_not() or "")
class TestVsftpd(PeerMixin, unittest.TestCase):
    SERVER = "vsftpd"

    def test_get_put_ls(self):
        self.check_get_put_ls()
        # mkdir -p of an existing directory (vsftpd has no MLST: checked with CWD)
        self.ftpc("mkdir", "-p", self.url("new/deeper"))
        self.ftpc("mkdir", "-p", self.url("new/deeper"))
        self.assertTrue(os.path.isdir(os.path.join(self.srv_dir, "new", "deeper")))
        r = self.ftpc("ls", "-l", self.url(""))
        self.assertIn("a.bin", r.stdout.decode())

    def test_put_into_a_directory_named_without_slash(self):
        # as cp does: vsftpd refuses the STOR ("553 Could not create file.") and has no MLST
        # to say why; CWD tells it is a directory, and the file goes into it
        self.srv_write("inbox/old.txt", b"old")
        up = data_bytes(70000, 9)
        with open(os.path.join(self.tmp, "up.bin"), "wb") as fh:
            fh.write(up)
        r = self.ftpc("-j", "1", "put", "up.bin", self.url("inbox"))
        self.assertIn(b"up.bin: %s/inbox is a directory on the server: uploading into it"
                      % self.d.encode(), r.stderr)
        self.assertEqual(self.srv_read("inbox/up.bin"), up)
        # a refusal for another reason keeps the server's word, as before
        r = self.ftpc("put", "up.bin", self.url("nodir/up.bin"), rc=5)
        self.assertIn(b"STOR: the server replied 553 ", r.stderr)
        self.assertNotIn(b"is a directory", r.stderr)

    def test_put_into_a_missing_directory(self):
        # vsftpd refuses the STOR ("553 Could not create file.") and has no MLST: CWD into
        # the directory tells it is not there. One error, one STOR (-j 1), no other file
        # sent; --create-dirs makes the levels (MKD each once) and the files go in.
        names = []
        for i in range(5):
            names.append("f%d.bin" % i)
            with open(os.path.join(self.tmp, names[-1]), "wb") as fh:
                fh.write(data_bytes(20000 + i, i))
        r = self.ftpc("-v", "-j", "1", "put", *names, self.url("new/"), rc=5)
        err = r.stderr.decode(errors="replace")
        lines = [l for l in err.splitlines() if l.startswith("ftpc:")]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("no such directory on the server: %s/new (STOR: the server replied 553 "
                      % self.d, lines[0])
        self.assertIn("4 other files for it not sent", lines[0])
        self.assertEqual(len([l for l in err.splitlines() if "> STOR " in l]), 1, err)
        self.assertIn("> CWD %s/new" % self.d, err)
        self.assertFalse(os.path.exists(os.path.join(self.srv_dir, "new")))
        r = self.ftpc("-v", "-j", "4", "--create-dirs", "put", *names, self.url("new/a/b/"))
        err = r.stderr.decode(errors="replace")
        self.assertEqual(len([l for l in err.splitlines() if "> MKD %s/new/a/b" % self.d in l]),
                         1, err)
        for n in names:
            with open(os.path.join(self.tmp, n), "rb") as fh:
                self.assertEqual(self.srv_read("new/a/b/" + n), fh.read(), n)

    def test_glob_get_skips_directories(self):
        # vsftpd has no MLSD: the pattern is matched against NLST, which names directories
        # too; SIZE refuses them ("550 Could not get file size."), and they are skipped.
        a = self.srv_write("a.bin", data_bytes(70000, 7))
        b = self.srv_write("b.txt", data_bytes(500, 8))
        self.srv_write("docs/inner.txt", b"inner")
        self.srv_write("zz/more.bin", b"more")
        # -j 1: every task runs on the one connection, back in its directory after the probe
        r = self.ftpc("-j", "1", "get", "-O", "d", self.url("*"))
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "d"))), ["a.bin", "b.txt"])
        with open(os.path.join(self.tmp, "d", "a.bin"), "rb") as fh:
            self.assertEqual(fh.read(), a)
        with open(os.path.join(self.tmp, "d", "b.txt"), "rb") as fh:
            self.assertEqual(fh.read(), b)
        self.assertNotRegex(r.stderr, rb"(?<![\d:])550(?!\d)")  # not a port that holds 550
        # a file the server refuses is still an error, with the server's word
        os.chmod(os.path.join(self.srv_dir, "b.txt"), 0)
        r = self.ftpc("get", "-O", "e", self.url("b*"), rc=5)
        self.assertIn(b"550", r.stderr)

    def test_ls_of_a_missing_directory_fails(self):
        # vsftpd answers NLST/LIST of a path that names nothing with an empty listing and
        # "226 Directory send OK", as for an empty directory; asked again as path/ it says
        # it failed. An empty directory stays an empty listing.
        os.mkdir(os.path.join(self.srv_dir, "empty"))
        for opt in ([], ["-l"]):
            r = self.ftpc("ls", *opt, self.url("nothing"), rc=5)
            self.assertIn(b"/nothing/: %s: no such directory, or not readable"
                          % (b"LIST" if opt else b"NLST"), r.stderr)
            r = self.ftpc("ls", *opt, self.url("empty"))
            self.assertEqual((r.stdout, r.stderr), (b"", b""))

    def test_ls_of_an_unreadable_directory_fails(self):
        # vsftpd answers LIST and NLST of a directory it cannot open, named without a '/',
        # with the directory's own entry and "226 Directory send OK": asked again as
        # locked/, it says it failed, and ls fails with that reason, printing nothing, as on
        # ftpd. A file lists as itself, and a directory that holds only a directory of its
        # own name lists that directory.
        self.srv_write("locked/x.bin", b"x")
        os.chmod(os.path.join(self.srv_dir, "locked"), 0)
        self.srv_write("f.txt", b"x")
        self.srv_write("a/a/z.bin", b"z")
        for opt, verb in (([], b"NLST"), (["-l"], b"LIST")):
            r = self.ftpc("ls", *opt, self.url("locked"), rc=5)
            self.assertEqual(r.stdout, b"")
            self.assertIn(b"/locked/: %s: no such directory, or not readable (the server "
                          b"replied 226 Transfer done (but failed to open directory).)" % verb,
                          r.stderr)
            r = self.ftpc("ls", *opt, self.url("f.txt"))
            self.assertEqual(r.stdout.count(b"\n"), 1, r.stdout)
            self.assertTrue(r.stdout.rstrip(b"\n").endswith(b"f.txt"), r.stdout)
            self.assertEqual(r.stderr, b"")
            r = self.ftpc("ls", *opt, self.url("a"))
            self.assertEqual(r.stdout.count(b"\n"), 1, r.stdout)
            self.assertTrue(r.stdout.rstrip(b"\n").endswith(b"a"), r.stdout)
            self.assertEqual(r.stderr, b"")

    def test_ls_of_a_symlink(self):
        # vsftpd matches a link in the listed directory by the name it resolves to from the
        # session's directory: LIST/NLST of a link in the login directory came empty ("226
        # Directory send OK"), and as link/ "failed to open directory", so ls failed. Its
        # line comes from the directory's listing now, as ls -l shows a link; a link to a
        # directory lists the directory, a dangling one is listed, one deeper down too.
        self.srv_write("f.txt", b"x")
        self.srv_write("sub/in.bin", b"y")
        links = {"lnf": self.d + "/f.txt", "lnd": self.d + "/sub", "lnx": "nowhere"}
        for name, target in links.items():
            p = os.path.join(self.root, self.d + "." + name)  # the login directory
            os.symlink(target, p)
            self.addCleanup(os.unlink, p)
        os.symlink("f.txt", os.path.join(self.srv_dir, "deep"))
        base = "ftp://%s:%s@127.0.0.1:%d/" % (USER, PASS, self.port)
        for name in ("lnf", "lnx"):
            link = self.d + "." + name
            r = self.ftpc("ls", base + link)
            self.assertEqual((r.stdout, r.stderr), (link.encode() + b"\n", b""))
            r = self.ftpc("ls", "-l", base + link)
            self.assertEqual(r.stderr, b"")
            self.assertTrue(r.stdout.startswith(b"lrwxrwxrwx "), r.stdout)
            self.assertTrue(r.stdout.endswith(b" %s -> %s\n" % (link.encode(),
                                                                 links[name].encode())),
                            r.stdout)
            self.assertEqual(r.stdout.count(b"\n"), 1, r.stdout)
        r = self.ftpc("ls", "-l", base + self.d + ".lnd")
        self.assertTrue(r.stdout.endswith(b" in.bin\n"), r.stdout)
        self.assertEqual(r.stdout.count(b"\n"), 1, r.stdout)
        r = self.ftpc("ls", "-l", self.url("deep"))
        self.assertTrue(r.stdout.endswith(b" deep -> f.txt\n"), r.stdout)
        # a name in neither listing still fails, with vsftpd's word for path/
        r = self.ftpc("ls", "-l", base + self.d + ".none", rc=5)
        self.assertIn(b".none/: LIST: no such directory, or not readable", r.stderr)
        self.assertEqual(r.stdout, b"")
        self.check_no_entry_in_a_file(base)

    def test_shell_ls_of_a_symlink(self):
        # the shell's ls of one path asks again as the one-shot ls does: a link in the
        # login directory, which vsftpd's listing leaves out, is listed from its directory
        self.srv_write("f.txt", b"x")
        base = self.login_links({"lnf": self.d + "/f.txt"})
        link = self.d + ".lnf"
        out, err = self.shell(base, "ls %s\nls -l %s\ndir %s\n" % (link, link, link))
        lines = out.decode().splitlines()
        self.assertEqual(len(lines), 3, (out, err))
        self.assertEqual(lines[0], link)
        for line in lines[1:]:
            self.assertTrue(line.startswith("lrwxrwxrwx "), line)
            self.assertTrue(line.endswith(" %s -> %s/f.txt" % (link, self.d)), line)
        self.assertEqual(err, b"")
        # and a name that is nowhere fails with vsftpd's word for path/, the shell going on
        out, err = self.shell(base, "ls %s.none\nls %s\n" % (self.d, link), rc=5)
        self.assertEqual(out.decode(), link + "\n")
        self.assertIn(b".none/: NLST: no such directory, or not readable", err)

    def test_shell_ls_of_a_directory_it_cannot_open(self):
        # vsftpd lists it as its own entry ("d--------- ... locked"); asked again as
        # locked/, as the one-shot ls asks, it fails with vsftpd's reason
        os.mkdir(os.path.join(self.srv_dir, "locked"), 0o000)
        os.chown(os.path.join(self.srv_dir, "locked"), self.uid, self.gid)
        self.addCleanup(os.chmod, os.path.join(self.srv_dir, "locked"), 0o755)
        out, err = self.shell(self.url(""), "ls -l locked\n", rc=5)
        self.assertEqual(out, b"")
        self.assertIn(b"locked/: LIST", err)

    def test_mirror_unreadable_directory(self):
        # vsftpd answers LIST of a directory it cannot open with the directory's own line
        # ("d--------- ... locked", 226 Directory send OK): listed as locked/, it says it
        # failed, so no phantom locked/locked appears, and the rest is copied
        self.srv_write("src/ok/x.bin", data_bytes(1000, 1))
        self.srv_write("src/locked/y.bin", data_bytes(10, 2))
        os.chmod(os.path.join(self.srv_dir, "src", "locked"), 0)
        r = self.ftpc("mirror", self.url("src"), "out", rc=5)
        self.assertIn(b"src/locked/: LIST: no such directory, or not readable", r.stderr)
        self.assertIn(b"mirror: 1 file transferred, 0 skipped, 0 deleted, 1 failed", r.stdout)
        self.assertEqual(os.listdir(os.path.join(self.tmp, "out", "locked")), [])

    def test_directory_named_like_an_option(self):
        # vsftpd reads "LIST -x/" as ls options and lists the login directory: ftpc sends
        # ./-x/, else a mirror walks -x/-x/-x/... and ls shows the wrong directory
        top = "-" + self.d  # in the login directory: the path sent starts with -
        want = {"a.bin": data_bytes(5000, 1), "-sub/b.bin": data_bytes(700, 2)}
        for rel, data in want.items():
            p = os.path.join(self.root, top, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(data)
        for d, dirs, files in os.walk(os.path.join(self.root, top)):
            for n in [d] + [os.path.join(d, f) for f in files]:
                os.chown(n, self.uid, self.gid)
        url = "ftp://%s:%s@127.0.0.1:%d/%s" % (USER, PASS, self.port, top)
        r = self.ftpc("ls", "-l", url + "/")
        names = sorted(l.split()[-1] for l in r.stdout.decode().splitlines())
        self.assertEqual(names, ["-sub", "a.bin"])
        r = self.ftpc("mirror", url, "out")
        self.assertIn(b"mirror: 2 files transferred, 0 skipped, 0 deleted", r.stdout)
        for rel, data in want.items():
            with open(os.path.join(self.tmp, "out", rel), "rb") as fh:
                self.assertEqual(fh.read(), data, rel)

    def test_resume_of_a_changed_file(self):
        self.check_resume_of_a_changed_file()

    def test_ls_of_names_with_spaces(self):
        # vsftpd takes the LIST argument whole: the same listings, asked as they were
        self.check_ls_of_names_with_spaces()

    def test_segmented_get(self):
        data = self.srv_write("big.bin", data_bytes(8 * MiB + 5, 3))
        self.ftpc("--segments", "4", "get", self.url("big.bin"))
        with open(os.path.join(self.tmp, "big.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)

    def test_mirror_R_delete_leaves_links_alone(self):
        self.check_mirror_R_delete_leaves_links_alone()

    def test_mirror_modes_both_ways(self):
        self.check_mirror_modes_both_ways()

    def test_mirror_both_ways(self):
        self.check_mirror_both_ways()


    def test_mirror_R_of_a_file_dated_in_the_future(self):
        # vsftpd has no MFMT: the copy has the time of its upload, older than a local time in
        # the future until that time comes. The second run sends nothing; a size that
        # changed is still sent.
        up = os.path.join(self.tmp, "up")
        os.mkdir(up)
        ahead = time.time() + 86400
        for name, size in (("ahead.bin", 70000), ("now.bin", 5000)):
            with open(os.path.join(up, name), "wb") as fh:
                fh.write(data_bytes(size, 7))
        os.utime(os.path.join(up, "ahead.bin"), (ahead, ahead))
        r = self.ftpc("mirror", "-R", "up", self.url("dst"))
        self.assertIn(b"mirror: 2 files transferred, 0 skipped, 0 deleted", r.stdout)
        r = self.ftpc("-v", "mirror", "-R", "up", self.url("dst"))
        self.assertIn(b"mirror: 0 files transferred, 2 skipped, 0 deleted", r.stdout)
        self.assertNotIn(b"> STOR", r.stderr)
        with open(os.path.join(up, "ahead.bin"), "wb") as fh:
            fh.write(data_bytes(70001, 8))
        os.utime(os.path.join(up, "ahead.bin"), (ahead, ahead))
        r = self.ftpc("mirror", "-R", "up", self.url("dst"))
        self.assertIn(b"mirror: 1 file transferred, 1 skipped, 0 deleted", r.stdout)
        self.assertEqual(self.srv_read("dst/ahead.bin"), data_bytes(70001, 8))
        # a change of the same size, its time still in the future (cp -p from a host whose
        # clock is ahead), made after the upload: the file changed here later than the
        # server's copy (dated an hour back, as uploaded then; vsftpd lists minutes), so it is
        # sent, and once only
        back = time.time() - 3600
        os.utime(os.path.join(self.srv_dir, "dst", "ahead.bin"), (back, back))
        with open(os.path.join(up, "ahead.bin"), "wb") as fh:
            fh.write(data_bytes(70001, 9))
        os.utime(os.path.join(up, "ahead.bin"), (ahead, ahead))
        r = self.ftpc("mirror", "-R", "up", self.url("dst"))
        self.assertIn(b"mirror: 1 file transferred, 1 skipped, 0 deleted", r.stdout)
        self.assertEqual(self.srv_read("dst/ahead.bin"), data_bytes(70001, 9))
        r = self.ftpc("mirror", "-R", "up", self.url("dst"))
        self.assertIn(b"mirror: 0 files transferred, 2 skipped, 0 deleted", r.stdout)


@unittest.skipIf(why_not("pure-ftpd") is not None, why_not("pure-ftpd") or "")
class TestPureFtpd(PeerMixin, unittest.TestCase):
    SERVER = "pure-ftpd"

    def test_listing_cut_short_is_reported(self):
        # pure-ftpd lists at most 10000 names (its -L default) and says so only in its 226:
        # ftpc names the cut instead of passing a partial listing off as the directory
        for i in range(10001):
            fd = os.open(os.path.join(self.srv_dir, "f%05d" % i), os.O_CREAT | os.O_WRONLY)
            os.fchown(fd, self.uid, self.gid)
            os.close(fd)
        # and, as for mirror, exits 5: what it printed is not the whole directory
        r = self.ftpc("ls", self.url(""), rc=5)
        self.assertGreater(len(r.stdout.splitlines()), 9000)
        self.assertLess(len(r.stdout.splitlines()), 10001)
        self.assertIn(b"the server cut it short (it replied 226 Output truncated to 10000 "
                      b"matches)", r.stderr)

    def test_resume_of_a_changed_file(self):
        self.check_resume_of_a_changed_file()

    def test_mirror_R_delete_leaves_links_alone(self):
        self.check_mirror_R_delete_leaves_links_alone()

    def test_mirror_modes_both_ways(self):
        self.check_mirror_modes_both_ways()

    def test_ls_of_names_with_spaces(self):
        # pure-ftpd splits a LIST argument at spaces and expands each part as a pattern:
        # LIST "d sp/" lists nothing ("226 0 matches total"), so ls lists from inside it
        self.check_ls_of_names_with_spaces()

    def test_segmented_put_over_an_old_version(self):
        # pure-ftpd does not write REST+STOR in place (the upload ends sequentially), takes
        # the temporary .big.bin.ftpc-up and lets RNTO replace the old file with it
        self.srv_write("big.bin", data_bytes(MiB, 23))
        src = data_bytes(6 * MiB + 5, 24)
        with open(os.path.join(self.tmp, "big.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("--segments", "3", "put", "big.bin", self.url("big.bin"))
        self.assertEqual(self.srv_read("big.bin"), src)
        self.assertEqual(sorted(os.listdir(self.srv_dir)), ["big.bin"])

    def test_long_listing_of_a_missing_directory_fails(self):
        # pure-ftpd answers LIST of a path that names nothing, with or without a trailing /,
        # as of an empty directory: no entries and "226 0 matches total". CWD tells them
        # apart; an empty directory stays an empty listing.
        os.mkdir(os.path.join(self.srv_dir, "empty"))
        os.chown(os.path.join(self.srv_dir, "empty"), self.uid, self.gid)
        for path in ("nothing", "nothing/"):
            r = self.ftpc("ls", "-l", self.url(path), rc=5)
            self.assertIn(b"/nothing/: LIST: no such directory, or not readable", r.stderr)
            self.assertEqual(r.stdout, b"")
        for path in ("empty", "empty/"):
            r = self.ftpc("ls", "-l", self.url(path))
            self.assertEqual((r.stdout, r.stderr), (b"", b""))

    def test_ls_of_a_file_or_a_symlink(self):
        # pure-ftpd's NLST lists directories only: of a file, or a link to one, it says "550
        # Can't check for file existence", as of a name that is not there; its LIST leaves a
        # dangling link out (it stats what the link points to). ls takes the entry from the
        # directory's LIST instead, as ftpd and ProFTPD list it; a directory's is not taken.
        self.srv_write("f.txt", b"x")
        os.symlink("f.txt", os.path.join(self.srv_dir, "deep"))
        os.mkdir(os.path.join(self.srv_dir, "locked"), 0o000)
        os.chown(os.path.join(self.srv_dir, "locked"), self.uid, self.gid)
        self.addCleanup(os.chmod, os.path.join(self.srv_dir, "locked"), 0o755)
        links = {"lnf": self.d + "/f.txt", "lnx": "nowhere"}
        base = self.login_links(links)
        for path in (self.d + "/f.txt", self.d + "/deep", self.d + ".lnf", self.d + ".lnx"):
            r = self.ftpc("ls", base + path)
            self.assertEqual((r.stdout, r.stderr), (path.encode() + b"\n", b""))
        for name, target in links.items():
            link = self.d + "." + name
            r = self.ftpc("ls", "-l", base + link)
            self.assertEqual(r.stderr, b"")
            self.assertTrue(r.stdout.startswith(b"lrwxrwxrwx "), r.stdout)
            self.assertTrue(r.stdout.endswith(b" %s -> %s\n" % (link.encode(), target.encode())),
                            r.stdout)
        # the shell's ls of one path does the same
        out, err = self.shell(base, "ls %s.lnx\nls -l %s.lnx\n" % (self.d, self.d))
        lines = out.decode().splitlines()
        self.assertEqual(lines[0], self.d + ".lnx", (out, err))
        self.assertTrue(lines[1].endswith(" %s.lnx -> nowhere" % self.d), (out, err))
        self.assertEqual((len(lines), err), (2, b""))
        # a name that is not there, and a directory NLST cannot enter, still fail
        r = self.ftpc("ls", self.url("none"), rc=5)
        self.assertIn(b"/none: NLST: the server replied 550 Can't check for file existence",
                      r.stderr)
        self.assertEqual(r.stdout, b"")
        r = self.ftpc("ls", "-l", base + self.d + ".none", rc=5)
        self.assertIn(b".none/: LIST: no such directory, or not readable", r.stderr)
        self.assertEqual(r.stdout, b"")
        r = self.ftpc("ls", self.url("locked"), rc=5)
        self.assertIn(b"/locked: NLST: the server replied 550", r.stderr)
        self.assertEqual(r.stdout, b"")
        self.check_no_entry_in_a_file(base)

    def test_ls_leaves_out_dot_entries(self):
        # pure-ftpd's NLST names "." and ".." among the entries: not files, left out
        self.srv_write("a.bin", b"a")
        self.srv_write("sub/b.txt", b"b")
        r = self.ftpc("ls", self.url(""))
        # (NLST of a directory names its entries with the directory: "d/a.bin", "d/.")
        self.assertEqual(sorted(os.path.basename(n) for n in r.stdout.decode().splitlines()),
                         ["a.bin", "sub"])
        r = self.ftpc("ls", self.url("sub/"))
        self.assertEqual([os.path.basename(n) for n in r.stdout.decode().splitlines()],
                         ["b.txt"])
        # the long listing is the server's, passed on as it came
        r = self.ftpc("ls", "-l", self.url(""))
        self.assertIn("a.bin", r.stdout.decode())


@unittest.skipIf(why_not("proftpd") is not None, why_not("proftpd") or "")
class TestProftpd(PeerMixin, unittest.TestCase):
    SERVER = "proftpd"

    def test_get_put_ls(self):
        self.check_get_put_ls()

    def test_listing_of_an_unreadable_directory_fails(self):
        # ProFTPD answers NLST and LIST of a directory it cannot open with no entries and
        # "226 Transfer complete", as for an empty one (and MLST of it says type=dir): CWD
        # into it tells them apart. An empty directory stays an empty listing.
        self.srv_write("locked/x.bin", b"x")
        os.chmod(os.path.join(self.srv_dir, "locked"), 0)
        os.mkdir(os.path.join(self.srv_dir, "empty"))
        os.chown(os.path.join(self.srv_dir, "empty"), self.uid, self.gid)
        for opt in ([], ["-l"]):
            for path in ("locked", "locked/"):
                r = self.ftpc("ls", *opt, self.url(path), rc=5)
                self.assertIn(b"/locked/: %s: no such directory, or not readable"
                              % (b"LIST" if opt else b"NLST"), r.stderr)
                self.assertEqual(r.stdout, b"")
            r = self.ftpc("ls", *opt, self.url("empty/"))
            self.assertEqual((r.stdout, r.stderr), (b"", b""))

    def test_listing_of_a_directory_it_can_enter_but_not_read_fails(self):
        # another owner's, mode 0711: ProFTPD enters it, and lists it as empty with a plain
        # 226; its MLST perm fact has no l (may be listed), which an empty directory's has
        self.srv_write("dark/x.bin", b"x")
        os.chown(os.path.join(self.srv_dir, "dark"), 0, 0)
        os.chmod(os.path.join(self.srv_dir, "dark"), 0o711)
        for opt in ([], ["-l"]):
            for path in ("dark", "dark/"):
                r = self.ftpc("ls", *opt, self.url(path), rc=5)
                self.assertIn(b"/dark/: %s: not readable (the listing came empty"
                              % (b"LIST" if opt else b"NLST"), r.stderr)
                self.assertEqual(r.stdout, b"")

    def test_segmented_get_and_put(self):
        data = self.srv_write("big.bin", data_bytes(8 * MiB + 5, 3))
        self.ftpc("--segments", "4", "get", self.url("big.bin"))
        with open(os.path.join(self.tmp, "big.bin"), "rb") as fh:
            self.assertEqual(fh.read(), data)
        # ProFTPD takes REST+STOR only up to the size the file has reached ("554 REST:
        # invalid argument" beyond it): ranges it refuses go sequentially, the bytes the same
        src = data_bytes(9 * MiB + 7, 4)
        with open(os.path.join(self.tmp, "up.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("--segments", "4", "put", "up.bin", self.url("up.bin"))
        self.assertEqual(self.srv_read("up.bin"), src)
        self.assertEqual(sorted(os.listdir(self.srv_dir)), ["big.bin", "up.bin"])

    def test_resume_of_a_changed_file(self):
        self.check_resume_of_a_changed_file()

    def test_resume_of_an_upload(self):
        # put -c: SIZE, then REST+STOR after the bytes ProFTPD has (AllowStoreRestart on)
        src = data_bytes(3 * MiB + 11, 25)
        with open(os.path.join(self.tmp, "up.bin"), "wb") as fh:
            fh.write(src)
        self.srv_write("up.bin", src[:MiB + 5])
        r = self.ftpc("-c", "put", "up.bin", self.url("up.bin"))
        self.assertIn(b"resumed at", r.stderr)
        self.assertEqual(self.srv_read("up.bin"), src)

    def test_mirror_R_delete_leaves_links_alone(self):
        self.check_mirror_R_delete_leaves_links_alone()

    def test_mirror_modes_both_ways(self):
        self.check_mirror_modes_both_ways()

    def test_mirror_both_ways(self):
        # over MLSD, with MFMT setting the copies' times
        self.check_mirror_both_ways()

    def test_patterns_and_jobs(self):
        # put and get of several files over 4 connections, the remote pattern matched against
        # MLSD; and the shell's mput and mget
        names = ["f%d.dat" % i for i in range(6)]
        for i, n in enumerate(names):
            with open(os.path.join(self.tmp, n), "wb") as fh:
                fh.write(data_bytes(50000 + 1000 * i, 30 + i))
        self.ftpc("-j", "4", "--create-dirs", "put", *names, self.url("in/"))
        for n in names:
            with open(os.path.join(self.tmp, n), "rb") as fh:
                self.assertEqual(self.srv_read("in/" + n), fh.read(), n)
        self.srv_write("in/other.txt", b"other")
        self.ftpc("-j", "4", "get", "-O", "dl", self.url("in/f*.dat"))
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "dl"))), names)
        for n in names:
            with open(os.path.join(self.tmp, "dl", n), "rb") as fh:
                self.assertEqual(fh.read(), self.srv_read("in/" + n), n)
        os.mkdir(os.path.join(self.tmp, "sh"))
        self.shell(self.url(""), "mput f[12].dat\ncd in\nlcd sh\nmget f?.dat o*\n")
        self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "sh"))), names + ["other.txt"])
        self.assertEqual(sorted(os.listdir(self.srv_dir)), ["f1.dat", "f2.dat", "in"])
        self.assertEqual(self.srv_read("f1.dat"), data_bytes(51000, 31))

    def test_names_with_spaces_and_unicode(self):
        # mkdir -p (twice), put, ls, mv, get, rm and rmdir of such names, bytes compared
        q = urllib.parse.quote
        top = "sp dir/\u00fcn\u00ef"
        self.ftpc("mkdir", "-p", self.url(q(top)))
        self.ftpc("mkdir", "-p", self.url(q(top)))
        self.assertTrue(os.path.isdir(os.path.join(self.srv_dir, top)))
        src = data_bytes(100001, 40)
        with open(os.path.join(self.tmp, "x y.bin"), "wb") as fh:
            fh.write(src)
        self.ftpc("put", "x y.bin", self.url(q(top) + "/"))
        r = self.ftpc("ls", self.url(q(top)))
        self.assertEqual([os.path.basename(n) for n in r.stdout.decode().splitlines()],
                         ["x y.bin"])
        self.ftpc("mv", self.url(q(top + "/x y.bin")), "n ew \u00e9.bin")
        self.ftpc("get", "-O", "dl", self.url(q(top + "/n ew \u00e9.bin")))
        with open(os.path.join(self.tmp, "dl", "n ew \u00e9.bin"), "rb") as fh:
            self.assertEqual(fh.read(), src)
        self.ftpc("rm", self.url(q(top + "/n ew \u00e9.bin")))
        r = self.ftpc("rm", self.url(q(top + "/n ew \u00e9.bin")), rc=5)
        self.assertRegex(r.stderr, rb"DELE: the server replied (?<![\d:])550(?!\d)")
        self.ftpc("rmdir", self.url(q(top)), self.url(q("sp dir")))
        self.assertEqual(os.listdir(self.srv_dir), [])

    def test_ls_of_names_with_spaces(self):
        # ProFTPD expands *, ? and [...] in an NLST argument: NLST of the directory "g*l[ob]?"
        # named just the path, so ls lists it from inside
        self.check_ls_of_names_with_spaces()



@unittest.skipIf(why_not("pyftpdlib") is not None, why_not("pyftpdlib") or "")
class TestPyftpdlib(PeerMixin, unittest.TestCase):
    SERVER = "pyftpdlib"

    def test_resume_of_a_changed_file(self):
        self.check_resume_of_a_changed_file()

    def test_mirror_R_delete_removes_a_link_as_a_link(self):
        # pyftpdlib lists a link to a directory as that directory (type=dir)
        self.check_mirror_R_delete_leaves_links_alone(listed_as_dir=True)

    def test_mirror_modes_both_ways(self):
        # its FEAT offers UNIX.mode but leaves it off (no *): OPTS MLST turns it on, and its
        # values are Python's oct() ("0o755")
        self.check_mirror_modes_both_ways()


if __name__ == "__main__":
    unittest.main()
