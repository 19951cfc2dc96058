"""End-to-end tests of what `ftpc put --segments N` leaves on the file besides its bytes: the
same as an ordinary upload.

An ordinary STOR over an existing file keeps that file's permission bits (vsftpd truncates it
in place; ftpd and pure-ftpd give the file they write aside the old bits). A segmented upload
renames its temporary file over the target, which would give it the mode of a new file: ftpc
reads the old mode (MLST's UNIX.mode, or vsftpd's STAT listing) and sets it on the temporary
file with SITE CHMOD before the rename. And mirror -R sets the source's modification time
with MFMT after an ordinary upload: a segmented one sets it too.
"""
import os
import re
import stat
import unittest

from ftpd_harness import data_bytes
from test_ftpc import FtpcCase, MiB
from test_ftpc_segput import work_files
import test_ftpc_interop as interop


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def stored_bytes(log):
    """All the bytes ftpd's log says its uploads took."""
    return sum(int(n) for n in re.findall(r": (?:STOR|APPE) .* ok: (\d+) bytes", log))


class TestSegputMode(FtpcCase):
    def put_over(self, name, old_mode, *args):
        """Puts a new version of name over one of old_mode (None: no old file), segmented
        unless args say otherwise; returns ftpc's stderr."""
        if old_mode is not None:
            self.srv.make_file(name, 3 * MiB, seed=40)
            os.chmod(self.srv.local(name), old_mode)
        src = data_bytes(8 * MiB + 3, 41)
        self.write_local(name, src)
        r = self.ftpc("-v", *args, "put", name, self.srv.url(name))
        self.assertEqual(self.srv.read(name), src)
        self.assertEqual(work_files(self.srv.root), [])
        return r.stderr.decode()

    def test_the_replaced_file_keeps_its_mode(self):
        # the reference: an ordinary put keeps it
        self.put_over("plain.bin", 0o604)
        self.assertEqual(mode_of(self.srv.local("plain.bin")), 0o604)
        err = self.put_over("big.bin", 0o604, "--segments", "4")
        self.assertEqual(mode_of(self.srv.local("big.bin")), 0o604)
        self.assertIn("> SITE CHMOD 604 .big.bin.ftpc-up", err)
        # set before the rename: the file appears under its name with its mode
        self.assertLess(err.index("> SITE CHMOD"), err.index("> RNTO big.bin"))

    def test_a_new_file_gets_the_mode_of_a_new_file(self):
        self.put_over("plain.bin", None)
        err = self.put_over("big.bin", None, "--segments", "4")
        self.assertEqual(mode_of(self.srv.local("big.bin")), mode_of(self.srv.local("plain.bin")))
        self.assertNotIn("SITE CHMOD", err)

    def test_no_chmod_when_the_mode_is_that_of_a_new_file(self):
        err = self.put_over("big.bin", 0o644, "--segments", "4")
        self.assertEqual(mode_of(self.srv.local("big.bin")), 0o644)
        self.assertIn("> MLST .big.bin.ftpc-up", err)
        self.assertNotIn("SITE CHMOD", err)


class TestSegputModeNoChmod(FtpcCase):
    """An account without the M permission: SITE CHMOD is refused. An upload whose new mode
    grants nothing the old file's did not stands, and the refusal is said once for the run,
    naming the mode lost; the later files do not ask. But a rename that would open a private
    file to others is not done: the file goes again as one ordinary upload, which keeps the
    old mode as a plain put does."""
    server_kwargs = {"users": [("bob", "pw", "elradfmwT")]}

    def test_private_file_stays_private(self):
        self.srv.make_file("secret.bin", MiB, seed=49)
        os.chmod(self.srv.local("secret.bin"), 0o600)
        self.write_local("secret.bin", data_bytes(4 * MiB + 7, 50))
        r = self.ftpc("-v", "--segments", "4", "put", "secret.bin", self.srv.url("secret.bin"))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(self.srv.read("secret.bin"), self.read_local("secret.bin"))
        self.assertEqual(mode_of(self.srv.local("secret.bin")), 0o600)
        self.assertIn("would change 600 to 644", err)
        self.assertNotIn("> RNTO secret.bin", err)
        self.assertEqual(work_files(self.srv.root), [])
        # learnt before the data: the file went over the wire once, not in ranges and again
        self.assertLess(err.index("> SITE CHMOD 600"), err.index("> STOR secret.bin"))
        self.assertNotIn("> REST", err)
        self.assertEqual(stored_bytes(self.srv.settled_log_text()), 4 * MiB + 7)

    def test_refusal_said_once(self):
        modes = {"n.bin": 0o666, "a.bin": 0o600, "b.bin": 0o600, "c.bin": 0o644}
        for i, (name, mode) in enumerate(modes.items()):
            self.srv.make_file(name, MiB, seed=42 + i)
            os.chmod(self.srv.local(name), mode)
            self.write_local(name, data_bytes(4 * MiB + i, 44 + i))
        r = self.ftpc("-v", "-j", "1", "--segments", "4", "put", *modes, self.srv.url(""))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        for name in modes:
            self.assertEqual(self.srv.read(name), self.read_local(name))
        self.assertEqual(err.count("refused SITE CHMOD"), 1, err)
        self.assertIn("n.bin has the mode of a new file, not the 666 of the file it replaced", err)
        self.assertEqual(len(re.findall(r"-> SITE CHMOD", self.srv.settled_log_text())), 1)
        # narrower than before, or the same: renamed into place
        self.assertEqual(mode_of(self.srv.local("n.bin")), 0o644)
        self.assertEqual(mode_of(self.srv.local("c.bin")), 0o644)
        self.assertIn("> RNTO n.bin", err)
        self.assertIn("> RNTO c.bin", err)
        # wider: sent again the ordinary way, keeping the private mode
        for name in ("a.bin", "b.bin"):
            self.assertEqual(mode_of(self.srv.local(name)), 0o600, name)
            self.assertNotIn("> RNTO %s" % name, err)
            self.assertIn("> STOR %s" % name, err)
        self.assertEqual(work_files(self.srv.root), [])
        # each file went once: the refusal was known before their data, and the mode a new
        # file gets is learnt once, so b.bin needed no empty temporary file to ask it
        self.assertEqual(stored_bytes(self.srv.settled_log_text()),
                         sum(len(self.read_local(n)) for n in modes))
        self.assertNotIn("> STOR .b.bin.ftpc-up", err)

    def test_a_found_temporary_file_does_not_tell_the_new_mode(self):
        # put -c finds each file's .NAME.ftpc-up of an interrupted upload, empty (nothing to
        # resume) and with a mode of its own, which an empty STOR over it keeps (ftpd gives
        # the file it writes aside the old bits): that is no new file's mode. Learnt from
        # a.bin's, it would have b.bin's new mode taken for its old 600, the data sent in
        # ranges, and the file sent again once the mode of its temporary file was seen.
        for name, old, found in (("a.bin", 0o644, 0o600), ("b.bin", 0o600, 0o644)):
            self.srv.make_file(name, MiB, seed=55)
            os.chmod(self.srv.local(name), old)
            self.srv.make_file("." + name + ".ftpc-up", 0)
            os.chmod(self.srv.local("." + name + ".ftpc-up"), found)
            self.write_local(name, data_bytes(4 * MiB + 5, 56))
        r = self.ftpc("-v", "-c", "-j", "1", "--segments", "4", "put", "a.bin", "b.bin",
                      self.srv.url(""))
        err = r.stderr.decode()
        for name in ("a.bin", "b.bin"):
            self.assertEqual(self.srv.read(name), self.read_local(name))
        self.assertEqual(mode_of(self.srv.local("a.bin")), 0o644)
        self.assertEqual(mode_of(self.srv.local("b.bin")), 0o600)
        self.assertRegex(err, r"b\.bin: the server will not give the upload the mode of the file "
                         r"it replaces \(SITE CHMOD [^)]*\), and renaming it into place would "
                         r"change 600 to 644; uploading it as one ordinary transfer")
        self.assertEqual(work_files(self.srv.root), [])
        self.assertEqual(stored_bytes(self.srv.settled_log_text()), 2 * (4 * MiB + 5))

    def put_over_found(self, name, old, found):
        """put -c --segments of name over a file of mode old, where an interrupted upload
        left an empty .NAME.ftpc-up of mode found; returns ftpc's stderr."""
        self.srv.make_file(name, MiB, seed=57)
        os.chmod(self.srv.local(name), old)
        work = "." + name + ".ftpc-up"
        self.srv.make_file(work, 0)
        os.chmod(self.srv.local(work), found)
        self.write_local(name, data_bytes(4 * MiB + 5, 58))
        r = self.ftpc("-v", "-c", "--segments", "4", "put", name, self.srv.url(""))
        err = r.stderr.decode()
        self.assertEqual(self.srv.read(name), self.read_local(name))
        self.assertEqual(work_files(self.srv.root), [])
        return err

    def deleted_first(self, err, name):
        """The found file was deleted before anything else was asked: the upload started as
        a new one."""
        self.assertLess(err.index("> DELE .%s.ftpc-up" % name), err.index("> MLST " + name))

    def test_a_found_temporary_file_of_the_old_mode(self):
        # Its mode is the old one, but a new file's is 644: taken for the mode of a new
        # file, it had the data sent in ranges into a new temporary file, and the file sent
        # again once that one's mode showed the rename would widen 600.
        err = self.put_over_found("p.bin", 0o600, 0o600)
        self.assertEqual(mode_of(self.srv.local("p.bin")), 0o600)
        self.assertEqual(stored_bytes(self.srv.settled_log_text()), 4 * MiB + 5)
        self.assertIn("would change 600 to 644; uploading it as one ordinary transfer", err)
        self.deleted_first(err, "p.bin")

    def test_a_found_temporary_file_of_a_narrower_mode(self):
        # Its mode, 600, is not a new file's 644: taken for it, the upload went into it and
        # the target ended 600, with a message that it "has the mode of a new file".
        err = self.put_over_found("w.bin", 0o644, 0o600)
        self.assertEqual(mode_of(self.srv.local("w.bin")), 0o644)
        self.assertNotIn("mode of a new file", err)
        self.assertEqual(stored_bytes(self.srv.settled_log_text()), 4 * MiB + 5)
        self.deleted_first(err, "w.bin")

    def test_mirror_keeps_a_private_file_private(self):
        # mirror -R would set the source's mode afterwards, but that is refused too
        os.mkdir(self.local("up"))
        self.write_local("up/big.bin", data_bytes(8 * MiB + 1, 53))
        os.chmod(self.local("up/big.bin"), 0o644)
        self.srv.make_file("dst/big.bin", 3 * MiB, seed=54)
        os.chmod(self.srv.local("dst/big.bin"), 0o600)
        self.ftpc("--segments", "4", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(self.srv.read("dst/big.bin"), self.read_local("up/big.bin"))
        self.assertEqual(mode_of(self.srv.local("dst/big.bin")), 0o600)
        self.assertEqual(work_files(self.srv.local("dst")), [])


@unittest.skipIf(interop.why_not() is not None, interop.why_not() or "")
class TestSegputModeVsftpd(interop.PeerMixin, unittest.TestCase):
    """vsftpd has no MLST: the old mode comes from STAT's listing of the file."""
    SERVER = "vsftpd"

    def test_the_replaced_file_keeps_its_mode(self):
        src = data_bytes(8 * MiB + 5, 46)
        with open(os.path.join(self.tmp, "v b.bin"), "wb") as fh:
            fh.write(src)
        for name, args in (("plain.bin", ()), ("v b.bin", ("--segments", "4"))):
            self.srv_write(name, b"old")
            os.chmod(os.path.join(self.srv_dir, name), 0o604)
            r = self.ftpc("-v", *args, "put", "v b.bin", self.url(name))
            self.assertEqual(self.srv_read(name), src)
            self.assertEqual(mode_of(os.path.join(self.srv_dir, name)), 0o604)
        err = r.stderr.decode()
        self.assertIn("> STAT %s/v b.bin" % self.d, err)
        self.assertIn("> SITE CHMOD 604 %s/.v b.bin.ftpc-up" % self.d, err)
        # asked before the data: the ranges go into a file with the old mode already
        self.assertLess(err.index("> SITE CHMOD"), err.index("> REST"))
        self.assertEqual(work_files(self.srv_dir), [])


@unittest.skipIf(interop.why_not() is not None, interop.why_not() or "")
class TestSegputModePureftpd(interop.PeerMixin, unittest.TestCase):
    """pure-ftpd has MLST: the old mode is its UNIX.mode, set before the data goes."""
    SERVER = "pure-ftpd"

    def test_the_replaced_file_keeps_its_mode(self):
        src = data_bytes(8 * MiB + 5, 55)
        with open(os.path.join(self.tmp, "p.bin"), "wb") as fh:
            fh.write(src)
        self.srv_write("p.bin", b"old")
        os.chmod(os.path.join(self.srv_dir, "p.bin"), 0o604)
        r = self.ftpc("-v", "--segments", "4", "put", "p.bin", self.url("p.bin"))
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertEqual(self.srv_read("p.bin"), src)
        self.assertEqual(mode_of(os.path.join(self.srv_dir, "p.bin")), 0o604)
        self.assertIn("> MLST %s/p.bin" % self.d, err)
        self.assertLess(err.index("> SITE CHMOD 604 %s/.p.bin.ftpc-up" % self.d),
                        err.index("> REST"))
        self.assertEqual(work_files(self.srv_dir), [])


class TestSegputMirror(FtpcCase):
    """mirror -R gives what it sends the local file's time (MFMT), segmented or not, so that
    the next run finds nothing to send; and its mode afterwards (SITE CHMOD), but with
    --no-perms, where the mode is the server's business, as after an ordinary upload."""

    def setUp(self):
        super().setUp()
        self.when = 1500000000  # 2017-07-14
        os.mkdir(self.local("up"))
        for name, size in (("big.bin", 8 * MiB + 1), ("small.bin", 1000)):
            self.write_local("up/" + name, data_bytes(size, 47))
            os.utime(self.local("up/" + name), (self.when, self.when))

    def mirror(self, *args):
        self.ftpc("--segments", "4", "mirror", "-R", *args, "up", self.srv.url("dst"))
        for name in ("big.bin", "small.bin"):
            self.assertEqual(self.srv.read("dst/" + name), self.read_local("up/" + name))
            self.assertEqual(os.stat(self.srv.local("dst/" + name)).st_mtime, self.when, name)
        self.assertEqual(work_files(self.srv.local("dst")), [])
        r = self.ftpc("-v", "--segments", "4", "mirror", "-R", *args, "up", self.srv.url("dst"))
        self.assertNotIn("> STOR", r.stderr.decode())

    def replace(self):
        self.srv.make_file("dst/big.bin", 3 * MiB, seed=48)
        os.chmod(self.srv.local("dst/big.bin"), 0o604)

    def test_new_files(self):
        self.mirror()

    def test_replaced_file_without_perms(self):
        self.replace()
        self.mirror("--no-perms")
        self.assertEqual(mode_of(self.srv.local("dst/big.bin")), 0o604)

    def test_replaced_file_gets_the_source_mode(self):
        # mirror -R sets the source's mode afterwards; until SITE CHMOD is known to work the
        # rename keeps the old one, so that a refusal then cannot leave it wider
        self.replace()
        os.chmod(self.local("up/big.bin"), 0o640)
        self.mirror()
        self.assertEqual(mode_of(self.srv.local("dst/big.bin")), 0o640)
        log = self.srv.settled_log_text()
        self.assertLess(log.index("-> SITE CHMOD 604"), log.index("-> RNTO dst/big.bin"))
        self.assertLess(log.index("-> RNTO dst/big.bin"), log.index("-> SITE CHMOD 640"))

    def test_known_chmod_is_not_asked_first(self):
        # once SITE CHMOD has been taken, the source's mode set afterwards is enough
        self.replace()
        self.srv.make_file("dst/a.bin", 3 * MiB, seed=51)
        os.chmod(self.srv.local("dst/a.bin"), 0o604)
        self.write_local("up/a.bin", data_bytes(8 * MiB + 9, 52))
        os.chmod(self.local("up/big.bin"), 0o640)
        self.ftpc("-j", "1", "--segments", "4", "mirror", "-R", "up", self.srv.url("dst"))
        self.assertEqual(mode_of(self.srv.local("dst/big.bin")), 0o640)
        log = self.srv.settled_log_text()
        self.assertEqual(len(re.findall(r"-> SITE CHMOD 604", log)), 1, log)


if __name__ == "__main__":
    unittest.main()
