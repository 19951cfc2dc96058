"""End-to-end tests of the permission bits `ftpc mirror` carries, both ways, against the built
ftpd: modes from MLSD's UNIX.mode on download (masked by the umask, never set-ID or sticky),
SITE CHMOD on upload, --no-perms, a server that refuses SITE CHMOD, and modes read from LIST
lines where a server has no MLSD.
"""
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN
from test_ftpc_mirror import MirrorCase


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class ModesCase(MirrorCase):
    def setUp(self):
        super().setUp()
        old = os.umask(0o022)  # ftpc inherits it
        self.addCleanup(os.umask, old)

    def ftpc_umask(self, mask, *args, rc=0):
        r = subprocess.run([FTPC_BIN] + [str(a) for a in args], cwd=self.tmp,
                           capture_output=True, timeout=60, env=self.env(),
                           stdin=subprocess.DEVNULL, preexec_fn=lambda: os.umask(mask))
        self.check_output(r)
        self.assertEqual(r.returncode, rc, r.stderr.decode("utf-8", "replace"))
        return r

    def remote_modes(self, root, modes):
        for rel, m in modes.items():
            os.chmod(self.srv.local(os.path.join(root, rel)), m)


class TestDownloadModes(ModesCase):
    MODES = {"run.sh": 0o755, "secret": 0o600, "plain.txt": 0o644, "suid": 0o4755,
             "priv": 0o750, "priv/in.txt": 0o640, "ro": 0o555, "ro/f": 0o444}

    def make(self):
        for rel in ("run.sh", "secret", "plain.txt", "suid", "priv/in.txt", "ro/f"):
            self.srv.make_file("src/" + rel, 100, seed=len(rel))
        # directories last, so that the files could be made in them
        self.remote_modes("src", {k: v for k, v in self.MODES.items()
                                  if not os.path.isdir(self.srv.local("src/" + k))})
        self.remote_modes("src", {k: v for k, v in self.MODES.items()
                                  if os.path.isdir(self.srv.local("src/" + k))})
        self.addCleanup(self.remote_modes, "src", {"priv": 0o755, "ro": 0o755})

    def test_modes_follow_the_server(self):
        self.make()
        r = self.ftpc("mirror", self.srv.url("src"), "out")
        self.assertEqual(self.summary(r), (6, 0, 0))
        out = self.local("out")
        got = {rel: mode(os.path.join(out, rel)) for rel in self.MODES}
        want = dict(self.MODES, suid=0o755)  # never a set-ID bit
        self.assertEqual(got, want)
        self.assertEqual(self.read_local("out/ro/f"), self.srv.read("src/ro/f"))
        # a mode changed on the server is carried over without a transfer
        self.remote_modes("src", {"plain.txt": 0o640, "priv": 0o700})
        r = self.ftpc("mirror", "--dry-run", self.srv.url("src"), "out")
        self.assertIn(b"chmod plain.txt", r.stdout)
        self.assertIn(b"chmod priv", r.stdout)
        self.assertEqual(mode(os.path.join(out, "plain.txt")), 0o644)
        r = self.ftpc("mirror", self.srv.url("src"), "out")
        self.assertEqual(self.summary(r), (0, 6, 0))
        self.assertEqual(mode(os.path.join(out, "plain.txt")), 0o640)
        self.assertEqual(mode(os.path.join(out, "priv")), 0o700)

    def test_a_read_only_directory_is_filled_again(self):
        # ro/ is 0555 here after the first run: a second run that brings a changed ro/f must
        # still write into it (as its owner, not as root, who may write anywhere)
        self.make()
        work = os.path.join(self.tmp, "w")
        os.makedirs(work)
        user = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.tmp, 0o755)
            os.chown(work, nobody.pw_uid, nobody.pw_gid)
            user = dict(user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[])

        def run(*opts):
            r = subprocess.run([FTPC_BIN, "mirror", *opts, self.srv.url("src"), "out"], cwd=work,
                               capture_output=True, timeout=60, env=self.env(),
                               stdin=subprocess.DEVNULL, **user)
            self.check_output(r)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r
        run()
        self.assertEqual(mode(os.path.join(work, "out/ro")), 0o555)
        os.chmod(self.srv.local("src/ro"), 0o755)
        self.srv.make_file("src/ro/f", 200, seed=9)
        os.chmod(self.srv.local("src/ro/f"), 0o444)
        os.chmod(self.srv.local("src/ro"), 0o555)
        r = run()
        self.assertEqual(self.summary(r), (1, 5, 0))
        with open(os.path.join(work, "out/ro/f"), "rb") as fh:
            self.assertEqual(fh.read(), self.srv.read("src/ro/f"))
        self.assertEqual(mode(os.path.join(work, "out/ro")), 0o555)
        self.assertEqual(mode(os.path.join(work, "out/ro/f")), 0o444)
        # gone from the server: --delete empties and removes it here too
        os.chmod(self.srv.local("src/ro"), 0o755)
        shutil.rmtree(self.srv.local("src/ro"))
        r = run("--delete")
        self.assertEqual(self.summary(r), (0, 5, 2))
        self.assertFalse(os.path.exists(os.path.join(work, "out/ro")))
        os.makedirs(self.srv.local("src/ro"))  # for make's clean-up

    def test_a_set_group_id_folder_keeps_passing_it_on(self):
        # out/ is a shared folder: the directories made in it inherit its set-group-ID bit,
        # which chmod(0750) would clear (chmod(1) keeps it)
        self.make()
        out = self.local("out")
        os.makedirs(out)
        os.chmod(out, 0o2775)
        self.ftpc("mirror", self.srv.url("src"), "out")
        self.assertEqual(mode(os.path.join(out, "priv")), 0o2750)
        self.assertEqual(mode(os.path.join(out, "ro")), 0o2555)
        self.assertEqual(mode(os.path.join(out, "priv/in.txt")), 0o640)
        # and a mode changed on the server alone keeps it too, and a sticky bit set here
        os.chmod(os.path.join(out, "priv"), 0o3750)
        self.remote_modes("src", {"priv": 0o700})
        self.ftpc("mirror", self.srv.url("src"), "out")
        self.assertEqual(mode(os.path.join(out, "priv")), 0o3700)

    def test_the_umask_applies(self):
        self.make()
        self.ftpc_umask(0o077, "mirror", self.srv.url("src"), "out")
        out = self.local("out")
        self.assertEqual(mode(os.path.join(out, "run.sh")), 0o700)
        self.assertEqual(mode(os.path.join(out, "plain.txt")), 0o600)
        self.assertEqual(mode(os.path.join(out, "ro")), 0o500)
        self.assertEqual(mode(os.path.join(out, "ro/f")), 0o400)

    def test_the_umask_is_read_not_set(self):
        # the shell runs mirrors as jobs in threads: setting the umask to read it, as
        # umask() does, could give another job's files the wrong one, or leave it changed
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("strace is not installed")
        self.make()
        log = os.path.join(self.tmp, "strace.log")
        # LeakSanitizer cannot run under ptrace: it would fail a sanitizer build's exit
        asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if o)
        r = subprocess.run([strace, "-f", "-qq", "-e", "trace=umask", "-o", log, FTPC_BIN,
                            "mirror", self.srv.url("src"), "out"], cwd=self.tmp,
                           capture_output=True, timeout=60, env=self.env(ASAN_OPTIONS=asan),
                           stdin=subprocess.DEVNULL, preexec_fn=lambda: os.umask(0o027))
        if not os.path.exists(log):
            self.skipTest("strace cannot trace here: %r" % r.stderr[-300:])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as fh:
            self.assertNotIn("umask(", fh.read())
        self.assertEqual(mode(self.local("out/run.sh")), 0o750)
        self.assertEqual(mode(self.local("out/plain.txt")), 0o640)

    def test_only_newer_leaves_a_copy_changed_here_alone(self):
        self.make()
        self.ftpc("mirror", self.srv.url("src"), "out")
        out = self.local("out")
        # edited here since: newer than the server's copy, kept with its mode
        os.chmod(os.path.join(out, "plain.txt"), 0o600)
        later = os.stat(os.path.join(out, "plain.txt")).st_mtime + 3600
        os.utime(os.path.join(out, "plain.txt"), (later, later))
        self.remote_modes("src", {"secret": 0o640, "plain.txt": 0o664})
        r = self.ftpc("mirror", "--only-newer", self.srv.url("src"), "out")
        self.assertEqual(self.summary(r), (0, 6, 0))
        self.assertEqual(mode(os.path.join(out, "plain.txt")), 0o600)
        self.assertEqual(mode(os.path.join(out, "secret")), 0o640)  # unchanged here: follows

    def test_no_perms(self):
        self.make()
        self.ftpc("mirror", "--no-perms", self.srv.url("src"), "out")
        out = self.local("out")
        for rel in ("run.sh", "secret", "suid", "ro/f"):
            self.assertEqual(mode(os.path.join(out, rel)), 0o644, rel)
        for rel in ("priv", "ro"):
            self.assertEqual(mode(os.path.join(out, rel)), 0o755, rel)


class TestUploadModes(ModesCase):
    def make_local(self):
        up = self.local("up")
        files = {"run.sh": 0o755, "secret": 0o600, "plain.txt": 0o644, "suid": 0o4755,
                 "d/in.txt": 0o640, "sp ace/x y.sh": 0o700}
        for rel, m in files.items():
            p = os.path.join(up, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(rel.encode() * 10)
            os.chmod(p, m)
        os.chmod(os.path.join(up, "d"), 0o750)
        return up

    def test_modes_go_up_and_come_back(self):
        self.make_local()
        r = self.ftpc("mirror", "-R", "-j", "3", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (6, 0, 0))
        self.assertEqual(r.stderr.count(b"SITE CHMOD"), 0, r.stderr)
        got = {rel: mode(self.srv.local("dst/" + rel))
               for rel in ("run.sh", "secret", "plain.txt", "suid", "d", "d/in.txt",
                           "sp ace/x y.sh")}
        self.assertEqual(got, {"run.sh": 0o755, "secret": 0o600, "plain.txt": 0o644,
                               "suid": 0o755, "d": 0o750, "d/in.txt": 0o640,
                               "sp ace/x y.sh": 0o700})
        # and back down: the same modes
        self.ftpc("mirror", self.srv.url("dst"), "back")
        for rel in ("run.sh", "secret", "d", "d/in.txt"):
            self.assertEqual(mode(self.local("back/" + rel)), mode(self.local("up/" + rel)), rel)
        # a local mode change alone goes up without a transfer
        os.chmod(self.local("up/plain.txt"), 0o640)
        r = self.ftpc("mirror", "-R", "--dry-run", "up", self.srv.url("dst"))
        self.assertIn(b"chmod plain.txt", r.stdout)
        r = self.ftpc("mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (0, 6, 0))
        self.assertEqual(mode(self.srv.local("dst/plain.txt")), 0o640)

    def test_a_read_only_directory_is_filled_again(self):
        # ro/ is 0555 on the server after the first run, and ftpd writes as its user, not
        # as root: a second run that sends a changed ro/f and a new ro/g, and deletes ro/h,
        # must open ro/ for that and give it back its mode
        up = self.local("up")
        os.makedirs(os.path.join(up, "ro"))
        for d in (os.path.join(up, "ro"), self.srv.local("dst/ro")):
            self.addCleanup(lambda d=d: os.path.isdir(d) and os.chmod(d, 0o755))
        for name, data in (("f", b"one"), ("h", b"gone")):
            with open(os.path.join(up, "ro", name), "wb") as fh:
                fh.write(data)
        os.chmod(os.path.join(up, "ro"), 0o555)
        r = self.ftpc("mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (2, 0, 0))
        self.assertEqual(mode(self.srv.local("dst/ro")), 0o555)
        os.chmod(os.path.join(up, "ro"), 0o755)
        os.unlink(os.path.join(up, "ro", "h"))
        for name, data in (("f", b"two two"), ("g", b"new")):
            with open(os.path.join(up, "ro", name), "wb") as fh:
                fh.write(data)
        os.chmod(os.path.join(up, "ro"), 0o555)
        r = self.ftpc("mirror", "-R", "--delete", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (2, 0, 1))
        self.assertEqual(self.srv.read("dst/ro/f"), b"two two")
        self.assertEqual(self.srv.read("dst/ro/g"), b"new")
        self.assertFalse(os.path.exists(self.srv.local("dst/ro/h")))
        self.assertEqual(mode(self.srv.local("dst/ro")), 0o555)
        # nothing to write there: no SITE CHMOD at all
        r = self.ftpc("-v", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (0, 2, 0))
        self.assertNotIn(b"> SITE CHMOD", r.stderr)
        # gone here: --delete empties and removes it on the server too
        os.chmod(os.path.join(up, "ro"), 0o755)
        shutil.rmtree(os.path.join(up, "ro"))
        r = self.ftpc("mirror", "-R", "--delete", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (0, 0, 3))
        self.assertFalse(os.path.exists(self.srv.local("dst/ro")))

    def test_no_perms(self):
        self.make_local()
        r = self.ftpc("-v", "mirror", "-R", "--no-perms", "up", self.srv.url("dst"))
        self.assertEqual(mode(self.srv.local("dst/run.sh")), 0o644)
        self.assertEqual(mode(self.srv.local("dst/secret")), 0o644)
        self.assertEqual(mode(self.srv.local("dst/d")), 0o755)
        self.assertNotIn(b"> SITE CHMOD", r.stderr)

class TestServerWithoutChmod(ModesCase):
    # the user lacks ftpd's M permission: every SITE CHMOD would get a 550
    server_kwargs = {"users": [("alice", "alice-Pw-4711", "elradfmwT")]}

    def test_refused_once_then_not_asked(self):
        up = self.local("up")
        os.makedirs(up)
        for i in range(4):
            p = os.path.join(up, "f%d" % i)
            with open(p, "wb") as fh:
                fh.write(b"data")
            os.chmod(p, 0o600)
        r = self.ftpc("-v", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(self.summary(r), (4, 0, 0))
        err = r.stderr.decode()
        self.assertEqual(err.count("refused SITE CHMOD"), 1, err)
        self.assertIn("permission bits are not set there", err)
        self.assertEqual(len(re.findall(r"(?m)^> SITE CHMOD ", err)), 1, err)
        # with several connections, those asked at once are refused alike: still one message
        r = self.ftpc("mirror", "-R", "-j", "4", "up", self.srv.url("dst2"))
        self.assertEqual(self.summary(r), (4, 0, 0))
        self.assertEqual(r.stderr.decode().count("refused SITE CHMOD"), 1, r.stderr)


class ServesFiles:
    """Mixed into a scripted server whose FILES maps a name to (bytes, mode): SIZE and RETR
    of any path ending in that name."""

    def command(self, s, verb, arg):
        f = self.FILES.get(arg.rsplit("/", 1)[-1])
        if verb == "SIZE":
            s.send("213 %d" % len(f[0]) if f else "550 no")
        elif verb == "RETR":
            s.send_download(f[0])
        else:
            return super().command(s, verb, arg)
        return True


class ListOnlyFtp(ServesFiles, ScriptedFtp):
    """A server without MLSD: mirror reads the modes from its LIST lines."""

    FILES = {"run.sh": (b"#!/bin/sh\n", "-rwxr-x---"), "secret": (b"s", "-rw-------"),
             "odd": (b"o", "-rw-r--r-T")}

    def command(self, s, verb, arg):
        if verb == "LIST":
            lines = "".join("%s 1 ftp ftp %d Jan  1  2025 %s\r\n" % (perm, len(d), n)
                            for n, (d, perm) in sorted(self.FILES.items()))
            s.send_download(lines.encode())
        else:
            return super().command(s, verb, arg)
        return True


def mirror_modes_from(case, fake):
    """Mirrors the scripted server fake's /dir/ with ftpc (umask 022) into a scratch
    directory; asserts success and returns {name: mode} of what came down."""
    if not os.access(FTPC_BIN, os.X_OK):
        case.skipTest("ftpc binary not found")
    tmp = tempfile.mkdtemp(prefix="ftpc-e2e-")
    case.addCleanup(shutil.rmtree, tmp, True)
    fake.start()
    r = subprocess.run([FTPC_BIN, "--no-verify", "mirror",
                        "ftp://u:p@127.0.0.1:%d/dir/" % fake.port, "out"], cwd=tmp,
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, NETRC=os.path.join(tmp, "none")),
                       preexec_fn=lambda: os.umask(0o022))
    fake.stop()
    case.assertEqual(r.returncode, 0, r.stderr)
    out = os.path.join(tmp, "out")
    return {n: mode(os.path.join(out, n)) for n in os.listdir(out)}


class TestModesFromList(unittest.TestCase):
    def test_list_permission_strings(self):
        self.assertEqual(mirror_modes_from(self, ListOnlyFtp(sessions=4)),
                         {"run.sh": 0o750, "secret": 0o600, "odd": 0o644})


class ModeOffFtp(ServesFiles, ScriptedFtp):
    """pyftpdlib: FEAT names UNIX.mode without a *, so MLSD leaves it out until OPTS MLST
    turns it on; its value is then Python's oct(), "0o755"."""

    FEATURES = ("SIZE", "REST STREAM", "MLST type*;perm*;size*;modify*;unix.mode;")
    FILES = {"run.sh": (b"#!/bin/sh\n", 0o750), "secret": (b"s", 0o600)}

    def __init__(self, sessions):
        super().__init__(sessions)
        self.opts = []

    def command(self, s, verb, arg):
        if verb == "OPTS" and arg.upper().startswith("MLST "):
            self.opts.append(arg)
            s.facts = [f.lower() for f in arg[5:].split(";") if f]
            s.send("200 MLST OPTS " + ";".join(s.facts) + ";")
        elif verb == "MLSD":
            facts = getattr(s, "facts", ["type", "perm", "size", "modify"])
            lines = ""
            for n, (d, m) in sorted(self.FILES.items()):
                have = {"type": "file", "perm": "r", "size": str(len(d)),
                        "modify": "20250101000000", "unix.mode": oct(m)}
                lines += "".join("%s=%s;" % (f, have[f]) for f in facts) + " %s\r\n" % n
            s.send_download(lines.encode())
        else:
            return super().command(s, verb, arg)
        return True


class TestModeFactOff(unittest.TestCase):
    def test_opts_mlst_turns_unix_mode_on(self):
        fake = ModeOffFtp(sessions=4)
        self.assertEqual(mirror_modes_from(self, fake), {"run.sh": 0o750, "secret": 0o600})
        self.assertIn("MLST type;size;modify;unix.mode;", fake.opts)


if __name__ == "__main__":
    unittest.main()
