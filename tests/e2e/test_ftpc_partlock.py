"""End-to-end tests of the lock on a download's work file (.NAME.ftpc-part, .NAME.ftpc-seg):
it is held until the file has been renamed into place or removed, and let go only then.

Released before (closed, then renamed), a second ftpc that had opened the old name could
take the lock in between and truncate the finished file once it was in place. The order of
the calls is what matters, and no timing can show it reliably: strace records it.
"""
import fcntl
import os
import re
import shutil
import subprocess
import unittest

from scripted_ftp import ScriptedFtp
from test_ftpc import FTPC_BIN, FtpcCase, MiB

FTPC_EXIT_REMOTE = 5


class RefusedRetr(ScriptedFtp):
    """SIZE answers, RETR is refused: the part file opened for it gets no byte."""

    def command(self, s, verb, arg):
        if verb == "SIZE":
            s.send("213 1000")
        elif verb == "RETR":
            s.send("550 not today")
        else:
            return super().command(s, verb, arg)
        return True


def why_no_strace():
    if shutil.which("strace") is None:
        return "strace is not installed"
    r = subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True)
    if r.returncode != 0:
        return "strace cannot trace here (ptrace refused)"
    return None


@unittest.skipIf(why_no_strace() is not None, why_no_strace() or "")
class TestWorkFileLockHeld(FtpcCase):
    def traced(self, *args, rc=0):
        """Runs ftpc with args under strace; returns the calls on files, in order."""
        out = os.path.join(self.tmp, "trace")
        cmd = ["strace", "-f", "-y", "-qq", "-o", out,
               "-e", "trace=flock,rename,renameat,renameat2,unlink,unlinkat,close",
               FTPC_BIN] + list(args)
        env = self.env()
        # LeakSanitizer cannot run under ptrace: it ends the traced run with a fatal error
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""),
                                                     "detect_leaks=0"]))
        r = subprocess.run(cmd, cwd=self.tmp, env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=120)
        self.assertEqual(r.returncode, rc, r.stderr.decode("utf-8", "replace")[-3000:])
        with open(out) as fh:
            calls = [re.sub(r"^\d+\s+", "", line) for line in fh]
        os.unlink(out)
        return calls

    def assert_let_go_after(self, calls, work, verb):
        """The lock on work is taken, and the descriptor holding it is closed only after
        work was renamed or removed (verb)."""
        name = re.escape(os.path.basename(work))
        locked = [i for i, c in enumerate(calls)
                  if re.match(r"flock\((\d+)<[^>]*/%s>, LOCK_EX\|LOCK_NB\) = 0" % name, c)]
        self.assertEqual(len(locked), 1, "".join(calls))
        fd = re.match(r"flock\((\d+)<", calls[locked[0]]).group(1)
        closed = next(i for i, c in enumerate(calls)
                      if i > locked[0] and c.startswith("close(%s<" % fd))
        done = next(i for i, c in enumerate(calls)
                    if i > locked[0] and c.startswith(verb) and re.search(r'"(?:[^"]*/)?%s"' % name, c))
        self.assertLess(done, closed, "".join(calls[locked[0]:]))

    def test_part_file_renamed_under_its_lock(self):
        data = self.srv.make_file("f.bin", MiB, seed=60)
        self.write_local("f.bin", b"old")
        calls = self.traced("--no-verify", "get", self.srv.url("f.bin"))
        self.assertEqual(self.read_local("f.bin"), data)
        self.assert_let_go_after(calls, ".f.bin.ftpc-part", "rename")

    def test_part_file_held_while_its_check_runs(self):
        # over an existing file the download waits in its part file for the HASH check, and
        # only then goes in place: the lock is held until that rename too
        data = self.srv.make_file("f.bin", MiB, seed=63)
        self.write_local("f.bin", b"old")
        calls = self.traced("-v", "get", self.srv.url("f.bin"))
        self.assertEqual(self.read_local("f.bin"), data)
        self.assert_let_go_after(calls, ".f.bin.ftpc-part", "rename")

    def test_stale_segments_file_of_another_transfer_kept(self):
        # an ordinary download removes the .NAME.ftpc-seg a killed segmented one left, but
        # not one another ftpc holds the lock of and is still writing
        data = self.srv.make_file("f.bin", 1000, seed=64)
        for held in (True, False):
            seg = self.local(".f.bin.ftpc-seg")
            self.write_local(".f.bin.ftpc-seg", b"another's")
            with open(seg, "rb") as fh:
                if held:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.ftpc("get", self.srv.url("f.bin"))
                self.assertEqual(self.read_local("f.bin"), data)
                self.assertEqual(os.path.exists(seg), held)
            if held:
                os.unlink(seg)

    def test_segments_file_renamed_under_its_lock(self):
        data = self.srv.make_file("big.bin", 8 * MiB + 3, seed=61)
        calls = self.traced("--segments", "4", "get", self.srv.url("big.bin"))
        self.assertEqual(self.read_local("big.bin"), data)
        self.assert_let_go_after(calls, ".big.bin.ftpc-seg", "rename")

    def test_empty_part_file_removed_under_its_lock(self):
        fake = RefusedRetr(sessions=2)
        fake.start()
        self.addCleanup(fake.stop)
        calls = self.traced("--retry", "0", "get", "ftp://u:p@127.0.0.1:%d/gone.bin" % fake.port,
                            rc=FTPC_EXIT_REMOTE)
        self.assertFalse(os.path.exists(self.local(".gone.bin.ftpc-part")))
        self.assert_let_go_after(calls, ".gone.bin.ftpc-part", "unlink")


if __name__ == "__main__":
    unittest.main()
