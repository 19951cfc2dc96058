"""End-to-end tests of what ftpc get does with the local file it would write: a read-only
file (kept unless -f), a symbolic link (replaced, with -c as without, its target untouched)
and two URLs that name one local file (refused before anything is fetched).

The tests may run as root, whom open(2) lets write a read-only file: ftpc's refusal must be
its own decision, from the file's mode, and these tests hold either way.
"""
import os
import re
import stat
import subprocess
import unittest

from ftpd_harness import wait_for
from test_ftpc import FtpcCase, MiB


class TestReadOnlyDestination(FtpcCase):
    def setUp(self):
        super().setUp()
        self.data = self.srv.make_file("a.bin", 5000, seed=3)
        self.url = self.srv.url("a.bin")

    def read_only_local(self, name, data=b"keep me\n"):
        path = self.write_local(name, data)
        os.chmod(path, 0o444)
        return path

    def test_get_keeps_a_read_only_file_and_says_why(self):
        self.read_only_local("a.bin")
        r = self.ftpc("get", self.url, rc=6)
        self.assertEqual(self.read_local("a.bin"), b"keep me\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.local("a.bin")).st_mode), 0o444)
        err = r.stderr.decode()
        self.assertIn("a.bin", err)
        self.assertIn("read-only", err)
        self.assertIn("-f", err)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin"])  # no part file either

    def test_continue_keeps_a_read_only_file_too(self):
        self.read_only_local("a.bin", self.data[:100])
        r = self.ftpc("-c", "get", self.url, rc=6)
        self.assertEqual(self.read_local("a.bin"), self.data[:100])
        self.assertIn("read-only", r.stderr.decode())
        self.assertNotIn("-> RETR", self.srv.settled_log_text())
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin"])

    def test_continue_of_a_complete_read_only_file_writes_nothing(self):
        # -c finds it complete: nothing to write, so nothing to refuse
        self.read_only_local("a.bin", self.data)
        before = os.stat(self.local("a.bin"))
        r = self.ftpc("-c", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        after = os.stat(self.local("a.bin"))
        self.assertEqual((after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)),
                         (before.st_ino, before.st_mtime_ns, 0o444))
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin"])
        self.assertNotIn("-> RETR", self.srv.settled_log_text())
        self.assertIn("a.bin: already complete (5000 bytes); nothing to download",
                      r.stderr.decode())
        self.assertIn("a.bin: verified sha256", r.stderr.decode())

    def test_continue_of_a_complete_read_only_file_with_segments_too(self):
        self.read_only_local("a.bin", self.data)
        self.ftpc("-c", "--segments", "4", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertNotIn("-> RETR", self.srv.settled_log_text())

    def test_continue_of_a_read_only_file_that_differs_is_refused(self):
        # as long as the server's file, but other bytes: -c would fetch it all again
        self.read_only_local("a.bin", bytes(len(self.data)))
        r = self.ftpc("-c", "get", self.url, rc=6)
        self.assertEqual(self.read_local("a.bin"), bytes(len(self.data)))
        self.assertIn("read-only", r.stderr.decode())
        self.assertNotIn("-> RETR", self.srv.settled_log_text())
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin"])

    def test_continue_with_a_part_file_is_refused_before_it_connects(self):
        self.read_only_local("a.bin", self.data)
        self.write_local(".a.bin.ftpc-part", self.data[:100])
        self.ftpc("-c", "get", self.url, rc=6)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertNotIn("-> USER", self.srv.settled_log_text())

    def test_the_other_files_of_the_run_are_fetched(self):
        other = self.srv.make_file("b.bin", 3000, seed=4)
        self.read_only_local("a.bin")
        self.ftpc("get", self.url, self.srv.url("b.bin"), rc=6)
        self.assertEqual(self.read_local("a.bin"), b"keep me\n")
        self.assertEqual(self.read_local("b.bin"), other)

    def test_force_replaces_it(self):
        self.read_only_local("a.bin")
        self.ftpc("-f", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)

    def test_force_is_for_get_only(self):
        r = self.ftpc("-f", "ls", self.srv.url(""), rc=2)
        self.assertIn("-f is for get", r.stderr.decode())

    def test_mirror_replaces_a_read_only_file_of_its_tree(self):
        # mirror gives files the server's modes, so it made a read-only file so itself and
        # must be able to update it (lftp's mirror does too).
        self.srv.mkdir("d")
        self.srv.make_file("d/x.bin", 2000, seed=5)
        os.chmod(self.srv.local("d/x.bin"), 0o444)
        self.ftpc("mirror", self.srv.url("d"), "m")
        self.assertEqual(stat.S_IMODE(os.stat(self.local("m/x.bin")).st_mode) & 0o222, 0)
        new = self.srv.make_file("d/x.bin", 2100, seed=6)
        os.chmod(self.srv.local("d/x.bin"), 0o444)
        self.ftpc("mirror", self.srv.url("d"), "m")
        self.assertEqual(self.read_local("m/x.bin"), new)


class TestReplacedFileKeepsItsMode(FtpcCase):
    """A download that replaces a local file keeps that file's permission bits, as curl,
    wget and lftp do by writing into it (and rsync does for the files it updates): before,
    the part file renamed over it brought the umask's 0644, so that a private 0600 file came
    out readable by everyone and a script lost its x bits."""

    def setUp(self):
        super().setUp()
        self.data = self.srv.make_file("a.bin", 5000, seed=3)
        self.url = self.srv.url("a.bin")

    def local_with_mode(self, name, mode):
        path = self.write_local(name, b"old bytes\n")
        os.chmod(path, mode)
        return path

    def mode_of(self, name):
        return stat.S_IMODE(os.lstat(self.local(name)).st_mode)

    def test_a_private_file_stays_private(self):
        self.local_with_mode("a.bin", 0o600)
        self.ftpc("get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o600)

    def test_an_executable_file_stays_executable(self):
        self.local_with_mode("a.bin", 0o755)
        self.ftpc("get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o755)

    def test_without_verify_too(self):
        self.local_with_mode("a.bin", 0o640)
        self.ftpc("--no-verify", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o640)

    def test_a_segmented_download_too(self):
        self.data = self.srv.make_file("a.bin", 3 << 20, seed=4)
        self.local_with_mode("a.bin", 0o600)
        r = self.ftpc("--segments", "2", "get", self.url)
        self.assertIn("(2 segments)", r.stderr.decode())
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o600)

    def immutable(self, path, on):
        r = subprocess.run(["chattr", "+i" if on else "-i", path], capture_output=True)
        if on and r.returncode != 0:
            self.skipTest("chattr +i is not possible here: %s" % r.stderr.decode().strip())

    def check_a_failed_rename_leaves_a_writable_part_file(self, *opts):
        # The rename into place fails (the old file is immutable): the part file stays for
        # -c, and must keep its own mode; given the old file's 0444 before the rename, it
        # could not be written again, and every later get of the file failed.
        path = self.local_with_mode("a.bin", 0o444)
        self.immutable(path, True)
        try:
            r = self.ftpc(*opts, "-f", "get", self.url, rc=6)
            self.assertIn("renaming", r.stderr.decode())
        finally:
            self.immutable(path, False)
        part = self.local(".a.bin.ftpc-part")
        self.assertTrue(os.path.exists(part), os.listdir(self.tmp))
        self.assertTrue(stat.S_IMODE(os.stat(part).st_mode) & 0o200, oct(os.stat(part).st_mode))
        self.ftpc(*opts, "-f", "-c", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o444)

    def test_a_failed_rename_leaves_a_writable_part_file(self):
        self.check_a_failed_rename_leaves_a_writable_part_file()

    def test_a_failed_rename_leaves_a_writable_part_file_without_verify(self):
        self.check_a_failed_rename_leaves_a_writable_part_file("--no-verify")

    def test_a_forced_read_only_file_stays_read_only(self):
        self.local_with_mode("a.bin", 0o444)
        self.ftpc("-f", "get", self.url)
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.mode_of("a.bin"), 0o444)

    def test_a_download_that_waits_for_its_check_keeps_a_writable_part_file(self):
        # The old mode is given at the rename, not before: a check that fails leaves the
        # part file for -c to write on, which a read-only mode given early would refuse
        # (to all but root).
        old = self.srv.make_file("live.bin", 2 * MiB, seed=7)
        self.local_with_mode("live.bin", 0o444)
        part = self.local(".live.bin.ftpc-part")
        p = self.popen("-f", "--limit-rate", "1M", "get", self.srv.url("live.bin"))
        self.assertTrue(wait_for(lambda: os.path.exists(part) and
                                 os.path.getsize(part) > 256 * 1024, timeout=20))
        with open(self.srv.local("live.bin"), "r+b") as fh:
            fh.write(bytes(255 - b for b in old[:65536]))
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 8, err.decode())
        self.assertEqual(self.read_local(".live.bin.ftpc-part"), old)
        self.assertEqual(self.read_local("live.bin"), b"old bytes\n")
        self.assertTrue(stat.S_IMODE(os.stat(part).st_mode) & 0o200)
        with open(self.srv.local("live.bin"), "r+b") as fh:
            fh.write(old[:65536])
        self.ftpc("-f", "-c", "get", self.srv.url("live.bin"))
        self.assertEqual(self.read_local("live.bin"), old)
        self.assertEqual(self.mode_of("live.bin"), 0o444)

    def test_setuid_and_setgid_bits_are_not_carried_to_new_bytes(self):
        self.local_with_mode("a.bin", 0o6755)
        self.ftpc("get", self.url)
        self.assertEqual(self.mode_of("a.bin"), 0o755)

    def test_a_new_file_gets_the_umask_mode(self):
        old = os.umask(0o027)
        self.addCleanup(os.umask, old)
        self.ftpc("get", self.url)
        self.assertEqual(self.mode_of("a.bin"), 0o640)

    def test_a_replaced_link_does_not_take_its_targets_mode(self):
        target = self.local_with_mode("target", 0o700)
        os.symlink("target", self.local("a.bin"))
        old = os.umask(0o022)
        self.addCleanup(os.umask, old)
        self.ftpc("get", self.url)
        self.assertFalse(os.path.islink(self.local("a.bin")))
        self.assertEqual(self.mode_of("a.bin"), 0o644)
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o700)

    def test_mirror_without_perms_keeps_the_local_mode(self):
        self.srv.mkdir("d")
        self.srv.make_file("d/x.bin", 2000, seed=5)
        self.ftpc("mirror", self.srv.url("d"), "m")
        os.chmod(self.local("m/x.bin"), 0o600)
        new = self.srv.make_file("d/x.bin", 2100, seed=6)
        self.ftpc("mirror", "--no-perms", self.srv.url("d"), "m")
        self.assertEqual(self.read_local("m/x.bin"), new)
        self.assertEqual(self.mode_of("m/x.bin"), 0o600)

    def test_mirror_still_gives_the_servers_mode(self):
        self.srv.mkdir("d")
        self.srv.make_file("d/x.bin", 2000, seed=5)
        os.chmod(self.srv.local("d/x.bin"), 0o640)
        self.ftpc("mirror", self.srv.url("d"), "m")
        os.chmod(self.local("m/x.bin"), 0o600)
        self.srv.make_file("d/x.bin", 2100, seed=6)
        os.chmod(self.srv.local("d/x.bin"), 0o644)
        self.ftpc("mirror", self.srv.url("d"), "m")
        self.assertEqual(self.mode_of("m/x.bin"), 0o644)


class TestSymlinkDestination(FtpcCase):
    def setUp(self):
        super().setUp()
        self.data = self.srv.make_file("a.bin", 5000, seed=3)
        self.url = self.srv.url("a.bin")
        self.target = self.write_local("target", b"the link's target\n")
        os.symlink("target", self.local("a.bin"))

    def check_replaced(self):
        self.assertFalse(os.path.islink(self.local("a.bin")))
        self.assertEqual(self.read_local("a.bin"), self.data)
        self.assertEqual(self.read_local("target"), b"the link's target\n")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["a.bin", "target"])

    def test_get_replaces_the_link(self):
        self.ftpc("get", self.url)
        self.check_replaced()

    def test_continue_replaces_the_link_as_well(self):
        self.ftpc("-c", "get", self.url)
        self.check_replaced()

    def test_continue_without_verify_replaces_the_link_as_well(self):
        self.ftpc("-c", "--no-verify", "get", self.url)
        self.check_replaced()

    def test_segmented_get_replaces_the_link_too(self):
        """--segments fetched every range, then refused the link ("not a regular file; not
        replaced", status 6) and removed what it had fetched."""
        self.data = self.srv.make_file("a.bin", 3 << 20, seed=4)
        r = self.ftpc("--segments", "2", "get", self.url)
        self.assertIn("verified sha256 (2 segments)", r.stderr.decode())
        self.check_replaced()

    def test_a_link_to_a_read_only_file_is_no_read_only_file(self):
        os.chmod(self.target, 0o444)
        self.ftpc("get", self.url)
        self.check_replaced()


class TestTwoUrlsOneLocalName(FtpcCase):
    def setUp(self):
        super().setUp()
        self.top = self.srv.make_file("a.bin", 3000, seed=7)
        self.sub = self.srv.make_file("d/a.bin", 4000, seed=8)

    def retrs(self):
        return re.findall(r"-> RETR (.*)", self.srv.settled_log_text())

    def test_refused_before_anything_is_fetched(self):
        r = self.ftpc("get", self.srv.url("a.bin"), self.srv.url("d/a.bin"), rc=2)
        err = r.stderr.decode()
        self.assertIn("would both be downloaded as a.bin", err)
        self.assertIn("/d/a.bin", err)
        self.assertEqual(os.listdir(self.tmp), [])
        self.assertEqual(self.retrs(), [])

    def test_patterns_over_two_directories_too(self):
        r = self.ftpc("-O", "out", "get", self.srv.url("*.bin"), self.srv.url("d/*.bin"), rc=2)
        self.assertIn("would both be downloaded as out/a.bin", r.stderr.decode())
        self.assertEqual(os.listdir(self.local("out")), [])
        self.assertEqual(self.retrs(), [])

    def test_one_url_named_twice_is_fetched_once(self):
        other = self.srv.make_file("b.bin", 2000, seed=9)
        r = self.ftpc("-j", "2", "get", self.srv.url("*.bin"), self.srv.url("a.bin"),
                      self.srv.url("a.bin"))
        self.assertEqual(self.read_local("a.bin"), self.top)
        self.assertEqual(self.read_local("b.bin"), other)
        self.assertEqual(sorted(self.retrs()), ["a.bin", "b.bin"])
        self.assertIn("Total: 2 files", r.stderr.decode())

    def test_standard_output_takes_them_all(self):
        r = self.ftpc("-o", "-", "get", self.srv.url("a.bin"), self.srv.url("d/a.bin"))
        self.assertEqual(r.stdout, self.top + self.sub)


if __name__ == "__main__":
    unittest.main()
