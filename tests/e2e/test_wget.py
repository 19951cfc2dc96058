"""GNU wget as the client (it only downloads over FTP): a binary file by URL, an anonymous
download, resume with -c, a recursive download of a tree (wget parses the LIST output),
active mode, a name that needs quoting, and a missing file's error."""
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from ftpd_harness import ServerTestCase, data_bytes, sha

WGET = shutil.which("wget")


@unittest.skipIf(WGET is None, "wget is not installed")
class TestWget(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ftpd-e2e-wget-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def wget(self, *args, ok=True):
        cmd = [WGET, "--tries=1", "--timeout=10", "--no-config", "-nv"] + list(args)
        env = dict(os.environ, HOME=self.tmp, LC_ALL="C.UTF-8")
        r = subprocess.run(cmd, capture_output=True, timeout=90, cwd=self.tmp, env=env,
                           stdin=subprocess.DEVNULL)
        if ok and r.returncode != 0:
            self.fail("%s -> exit %d\nstderr: %s\nserver log tail:\n%s" % (
                " ".join(cmd), r.returncode, r.stderr.decode(errors="replace")[-2000:],
                "\n".join(self.srv.logs()[-30:])))
        return r

    def url(self, path, anonymous=False):
        quoted = urllib.parse.quote(path)
        if anonymous:
            return "ftp://%s:%d/%s" % (self.srv.host, self.srv.port, quoted)
        return "ftp://%s:%s@%s:%d/%s" % (self.srv.user, self.srv.password, self.srv.host,
                                         self.srv.port, quoted)

    def readlocal(self, name):
        with open(os.path.join(self.tmp, name), "rb") as fh:
            return fh.read()

    def test_binary_download(self):
        data = self.srv.make_file("w.bin", (3 << 20) + 7, seed=81)
        self.wget("-O", "w.bin", self.url("w.bin"))
        self.assertEqual(sha(self.readlocal("w.bin")), sha(data))
        self.assertLogged(r"RETR /w\.bin ok: %d bytes" % len(data))

    def test_anonymous_download(self):
        data = data_bytes(200000, 82)
        self.srv.write(os.path.join(self.srv.anon_root, "pub.bin"), data)
        self.wget("-O", "pub.bin", self.url("pub.bin", anonymous=True))
        self.assertEqual(self.readlocal("pub.bin"), data)

    def test_resume_with_continue(self):
        data = self.srv.make_file("r.bin", 1 << 20, seed=83)
        with open(os.path.join(self.tmp, "r.bin"), "wb") as fh:
            fh.write(data[:300001])
        self.wget("-c", self.url("r.bin"))
        self.assertEqual(sha(self.readlocal("r.bin")), sha(data))
        self.assertLogged(r"REST 300001")

    def test_recursive_download_of_a_tree(self):
        files = {
            "tree/a.txt": b"alpha\n" * 100,
            "tree/sub/b.bin": data_bytes(150000, 84),
            "tree/sub/deeper/c.bin": data_bytes(70000, 85),
            "tree/with space.txt": b"spaced\n",
        }
        for name, content in files.items():
            self.srv.write(name, content)
        self.srv.mkdir("tree/empty")
        self.wget("-r", "-np", "-nH", self.url("tree/"))
        for name, content in files.items():
            self.assertEqual(self.readlocal(name), content, name)
        self.assertTrue(os.path.isdir(os.path.join(self.tmp, "tree/empty")))
        # the listing wget parsed gave it the files' times too (LIST's ls -l form)
        for name in files:
            self.assertAlmostEqual(os.path.getmtime(os.path.join(self.tmp, name)),
                                   os.path.getmtime(self.srv.local(name)), delta=60)

    def test_active_mode(self):
        data = self.srv.make_file("act.bin", 500000, seed=86)
        self.wget("--no-passive-ftp", "-O", "act.bin", self.url("act.bin"))
        self.assertEqual(self.readlocal("act.bin"), data)
        self.assertLogged(r"-> (PORT|EPRT) ")

    def test_name_with_spaces_and_utf8(self):
        name = "r\u00e9sum\u00e9 final #1.txt"
        self.srv.write(name, b"caf\xc3\xa9\n" * 50)
        self.wget("-O", "out.txt", self.url(name))
        self.assertEqual(self.readlocal("out.txt"), b"caf\xc3\xa9\n" * 50)

    def test_missing_file_fails_cleanly(self):
        r = self.wget("-O", "none.bin", self.url("none.bin"), ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No such file", r.stderr.decode(errors="replace"))
        self.assertLogged(r"550")


if __name__ == "__main__":
    unittest.main()
