"""lftp as the client: get, put, cat, mirror both ways, ls/cls, ls -R, rm/mkdir/mv,
reget/reput resume, pget segmented download, anonymous, and lftp's default settings (it tries AUTH TLS)."""
import filecmp
import os
import shutil
import subprocess
import tempfile
import unittest

from ftpd_harness import ServerTestCase, data_bytes, sha

LFTP = shutil.which("lftp")

SETTINGS = ("set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
            "set net:reconnect-interval-base 1; set net:persist-retries 0; "
            "set xfer:clobber on; set cmd:interactive no")


@unittest.skipIf(LFTP is None, "lftp is not installed")
class TestLftp(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-lftp-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def lftp(self, commands, user=None, pw=None, anonymous=False, plain=True, ok=True):
        script = SETTINGS + ("; set ftp:ssl-allow no" if plain else "") + "; " + commands + "; bye"
        cmd = [LFTP]
        if not anonymous:
            cmd += ["-u", "%s,%s" % (user or self.srv.user, pw or self.srv.password)]
        cmd += ["-p", str(self.srv.port), "-e", script, self.srv.host]
        env = dict(os.environ, HOME=self.tmp, LC_ALL="C.UTF-8")
        env.pop("LFTP_HOME", None)
        r = subprocess.run(cmd, capture_output=True, timeout=90, cwd=self.tmp, env=env,
                           stdin=subprocess.DEVNULL)
        if ok and r.returncode != 0:
            self.fail("lftp -e %r -> exit %d\nstdout: %s\nstderr: %s\nserver log tail:\n%s" % (
                commands, r.returncode, r.stdout.decode(errors="replace")[-2000:],
                r.stderr.decode(errors="replace")[-2000:], "\n".join(self.srv.logs()[-30:])))
        return r

    def local(self, name, data=None):
        p = os.path.join(self.tmp, name)
        if data is not None:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(data)
        return p

    def readlocal(self, name):
        with open(os.path.join(self.tmp, name), "rb") as fh:
            return fh.read()

    def test_get(self):
        data = self.srv.make_file("g.bin", 3 << 20, seed=1)
        self.lftp("get g.bin -o %s" % self.local("g.bin"))
        self.assertEqual(sha(self.readlocal("g.bin")), sha(data))

    def test_get_ascii(self):
        """get -a: TYPE A, lftp writes the lines with LF again. Without SIZE lftp takes the
        150's "(N bytes)" for the size to come: it counts the CRLF bytes sent, not the file's."""
        data = b"first line\nsecond\n\nlast\n" * 2000
        self.srv.write("t.txt", data)
        self.srv.make_file("b.bin", 1000, seed=3)
        for use_size in ("on", "off"):
            with self.subTest(use_size=use_size):
                # lftp takes the session to start in TYPE A (RFC 959) and sends none for a
                # first get -a; after a binary get it sends TYPE A
                r = self.lftp("set ftp:use-size %s; debug 5; get b.bin -o %s; get -a t.txt -o %s"
                              % (use_size, self.local("b.bin"), self.local("t.txt")))
                self.assertEqual(self.readlocal("t.txt"), data)
                log = r.stderr.decode(errors="replace")
                self.assertIn("---> TYPE A", log)
                wire = len(data) + data.count(b"\n")
                self.assertRegex(log, r"150 Opening ASCII mode .*/t\.txt \(%d bytes\)\." % wire)

    def test_put(self):
        data = data_bytes(2 << 20, 2)
        src = self.local("p.bin", data)
        self.lftp("put %s -o p.bin" % src)
        self.assertEqual(sha(self.srv.read("p.bin")), sha(data))

    def test_cat(self):
        self.srv.write("c.txt", b"cat me\nplease\n")
        r = self.lftp("cat c.txt")
        self.assertEqual(r.stdout, b"cat me\nplease\n")

    def test_mirror_both_ways(self):
        tree = {"tree/a.bin": 100000, "tree/sub/b.bin": 5000, "tree/sub/deeper/c.bin": 0,
                "tree/sub/d e.txt": 12}
        for i, (p, n) in enumerate(tree.items()):
            self.srv.make_file(p, n, seed=10 + i)
        self.srv.mkdir("tree/emptydir")
        out = self.local("mirrored")
        self.lftp("mirror tree %s" % out)
        for p in tree:
            self.assertEqual(self.readlocal(os.path.join("mirrored", p[len("tree/"):])),
                             self.srv.read(p), p)
        self.assertTrue(os.path.isdir(os.path.join(out, "emptydir")))
        # and back up under another name
        self.lftp("mirror -R %s rtree" % out)
        cmp = filecmp.dircmp(out, self.srv.local("rtree"))
        self.assertEqual(sorted(cmp.common), sorted(os.listdir(out)))
        for p in tree:
            self.assertEqual(self.srv.read("rtree/" + p[len("tree/"):]), self.srv.read(p), p)

    def test_mirror_passes_over_links_it_could_not_fetch(self):
        data = self.srv.make_file("m/a.bin", 4096, seed=3)
        os.symlink("/etc/passwd", self.srv.local("m/out"))
        os.symlink("missing.bin", self.srv.local("m/dangling"))
        os.symlink("a.bin", self.srv.local("m/in"))
        self.lftp("mirror m %s" % self.local("mm"))
        self.assertEqual(sorted(os.listdir(self.local("mm"))), ["a.bin", "in"])
        self.assertEqual(self.readlocal("mm/in"), data)

    def test_mirror_up_keeps_file_times_and_modes(self):
        # lftp sets each uploaded file's time with MFMT where FEAT offers it, and its mode
        # with SITE CHMOD
        self.local("up/a.bin", data_bytes(3000, 4))
        self.local("up/sub/b.bin", data_bytes(10, 5))
        when = 1431252672  # 2015-05-10
        for p in ("up/a.bin", "up/sub/b.bin"):
            os.utime(self.local(p), (when, when))
        os.chmod(self.local("up/a.bin"), 0o640)
        os.chmod(self.local("up/sub/b.bin"), 0o751)
        self.lftp("mirror -R %s up" % self.local("up"))
        for p in ("up/a.bin", "up/sub/b.bin"):
            self.assertEqual(int(os.stat(self.srv.local(p)).st_mtime), when, p)
            self.assertEqual(os.stat(self.srv.local(p)).st_mode & 0o777,
                             os.stat(self.local(p)).st_mode & 0o777, p)
            self.assertEqual(self.srv.read(p), self.readlocal(p))
        self.assertTrue([l for l in self.srv.logs() if " MFMT 20150510" in l])

    def test_mirror_down_keeps_modes(self):
        """lftp reads modes from MLSD's UNIX.mode fact (it reads MLSD rather than LIST when
        FEAT offers MLST): without it a script lost its x bits and a private file became
        world-readable in the copy."""
        self.srv.write("ex/run.sh", b"#!/bin/sh\necho hi\n")
        self.srv.write("ex/priv.txt", b"secret")
        self.srv.write("ex/sub/tool", b"x")
        modes = {"ex/run.sh": 0o755, "ex/priv.txt": 0o600, "ex/sub/tool": 0o750}
        for p, m in modes.items():
            os.chmod(self.srv.local(p), m)
        self.lftp("mirror ex %s" % self.local("down"))
        for p, m in modes.items():
            got = os.stat(self.local("down" + p[2:])).st_mode & 0o777
            self.assertEqual(got, m, "%s: %o" % (p, got))

    def test_ls_and_cls(self):
        self.srv.write("l/one.txt", b"1")
        self.srv.write("l/two words.txt", b"22")
        self.srv.mkdir("l/sub")
        r = self.lftp("cls -1 l/")
        names = sorted(os.path.basename(n.rstrip("/")) for n in r.stdout.decode().splitlines())
        self.assertEqual(names, ["one.txt", "sub", "two words.txt"])
        r = self.lftp("ls l")
        text = r.stdout.decode()
        self.assertIn("one.txt", text)
        self.assertIn("two words.txt", text)

    def test_ls_r_and_nlist_r(self):
        # lftp's ls -R and nlist -R hand -R to the server (LIST -R, NLST -R), as a classic
        # client's ls -R does: ls -lR's blocks, and paths to fetch
        self.srv.write("r/one.txt", b"1")
        self.srv.write("r/sub/two words.txt", b"22")
        self.srv.write("r/sub/deeper/three.txt", b"333")
        r = self.lftp("ls -R r")
        blocks, head = {}, ""
        for line in r.stdout.decode().splitlines():
            if line.endswith(":") and not line.startswith(("-", "d", "l")):
                head = line[:-1]
            elif line:
                blocks.setdefault(head, []).append(line.split(None, 8)[8])
        self.assertEqual(blocks, {"": ["one.txt", "sub"], "r/sub": ["deeper", "two words.txt"],
                                  "r/sub/deeper": ["three.txt"]})
        r = self.lftp("nlist -R r")
        self.assertEqual(r.stdout.decode().splitlines(),
                         ["one.txt", "sub", "sub/deeper", "sub/two words.txt",
                          "sub/deeper/three.txt"])

    def test_rm_mkdir_mv(self):
        self.srv.write("victim.txt", b"v")
        self.srv.write("mover.txt", b"m")
        self.lftp("rm victim.txt; mkdir -p made/deep; mv mover.txt made/moved.txt; "
                  "mkdir gone; rmdir gone")
        self.assertFalse(self.srv.exists("victim.txt"))
        self.assertTrue(os.path.isdir(self.srv.local("made/deep")))
        self.assertEqual(self.srv.read("made/moved.txt"), b"m")
        self.assertFalse(self.srv.exists("gone"))
        r = self.lftp("rm nosuch.txt", ok=False)
        self.assertNotEqual(r.returncode, 0)

    def test_reget(self):
        data = self.srv.make_file("rg.bin", 2 << 20, seed=3)
        self.local("rg.bin", data[:654321])
        self.lftp("reget rg.bin -o %s" % self.local("rg.bin"))
        self.assertEqual(sha(self.readlocal("rg.bin")), sha(data))

    def test_reput(self):
        data = data_bytes(2 << 20, 4)
        self.srv.write("rp.bin", data[:543210])
        src = self.local("rp.bin", data)
        self.lftp("reput %s -o rp.bin" % src)
        self.assertEqual(sha(self.srv.read("rp.bin")), sha(data))

    def test_pget(self):
        data = self.srv.make_file("pg.bin", 8 << 20, seed=5)
        self.lftp("pget -n 4 pg.bin -o %s" % self.local("pg.bin"))
        self.assertEqual(sha(self.readlocal("pg.bin")), sha(data))

    def test_anonymous(self):
        self.srv.write("pub.txt", b"public", base=self.srv.anon_root)
        self.lftp("get pub.txt -o %s" % self.local("pub.txt"), anonymous=True)
        self.assertEqual(self.readlocal("pub.txt"), b"public")
        src = self.local("up.txt", b"x")
        r = self.lftp("put %s -o up.txt" % src, anonymous=True, ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(self.srv.exists("up.txt", base=self.srv.anon_root))

    def test_default_settings_try_tls_then_plain(self):
        self.srv.write("d.txt", b"default")
        r = self.lftp("cat d.txt", plain=False)
        self.assertEqual(r.stdout, b"default")

    def test_wrong_password(self):
        r = self.lftp("ls", pw="wrong", ok=False)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
