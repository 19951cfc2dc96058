"""A home whose file system stops answering (a dead NFS server, a stuck FUSE daemon): each of
its calls holds a worker until it answers, and ftpd's pool for file-system work is small. The
gate in front of the pool (ftpd/fsgate.c) lets such a home hold a few workers at most; its
other logins and commands wait for their turn without one, and get a clear 421 or 451 when it
does not come, while the users of every other home log in, list and download as before.

The hung home is slowfs.py with a HOLD_FILE: while that file exists, every lookup under the
home waits (up to HOLD_MAX seconds, so nothing here waits without bound). Skipped where FUSE
cannot be mounted (see test_slow_disk.py).
"""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from ftpd_harness import ServerTestCase, data_bytes, wait_for
from test_slow_disk import HERE, fuse_python

HOLD_MAX = 60      # slowfs.py's own bound on a held call
GATE_WAIT = 5.0    # FSGATE_WAIT_MS: the longest a refusable job waits for its turn
GATE_RUNNING = 3   # FSGATE_MAX_RUNNING: workers one home may hold
GATE_STALLED = 2.5  # past FSGATE_STALL_MS: a home that ended nothing since does not answer


class HungHomeCase(ServerTestCase):
    # the hung users and their homes under the FUSE mount (all of them hang together)
    homes = {"hung": "meta"}
    # slowfs.py's META_DELAY, and whether its calls wait on the hold file (else each waits
    # META_DELAY seconds: a file system that is slow but answers)
    meta_delay = HOLD_MAX
    holds = True

    def setUp(self):
        py = fuse_python()
        if py is None:
            self.skipTest("FUSE is not available here (root, /dev/fuse and fusepy needed)")
        tmp = tempfile.mkdtemp(prefix="ftpd-hunghome-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        source = self.source = os.path.join(tmp, "source")
        self.mnt = os.path.join(tmp, "mnt")
        self.hold_file = os.path.join(tmp, "hold")
        os.mkdir(self.mnt)
        for home in self.homes.values():
            os.makedirs(os.path.join(source, home))
            with open(os.path.join(source, home, "data.bin"), "wb") as fh:
                fh.write(b"x" * 1000)
        for top, dirs, files in os.walk(source):
            os.chmod(top, 0o755)
            for name in files:
                os.chmod(os.path.join(top, name), 0o644)
        fuse = subprocess.Popen([py, os.path.join(HERE, "slowfs.py"), source, self.mnt, "0",
                                 str(self.meta_delay)] + ([self.hold_file] if self.holds else []),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.unmount, fuse)
        if not wait_for(lambda: os.path.ismount(self.mnt), timeout=10):
            self.skipTest("the FUSE file system did not mount: %s"
                          % fuse.stderr.read1(4096).decode(errors="replace"))
        # "fast" is at home on the ordinary disk, the hung users under meta/ of the FUSE mount
        self.srv = self.start_server(users=[("fast", "pw-fast", "elr")] + [
            (user, "pw-hung", "elr", os.path.join(self.mnt, home))
            for user, home in self.homes.items()])
        self.fast_data = data_bytes(3 * 1024 * 1024, seed=5)
        path = self.srv.write("big.bin", self.fast_data)
        with open(path, "rb") as fh:  # out of the page cache: its download reads the disk
            os.fsync(fh.fileno())
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        # Last registered, first run: the held calls end before the server stops.
        self.addCleanup(self.release)

    def unmount(self, fuse):
        self.release()
        fuse.send_signal(signal.SIGTERM)
        try:
            fuse.wait(10)
        except subprocess.TimeoutExpired:
            fuse.kill()
            fuse.wait(10)
        fuse.stderr.close()
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], capture_output=True, timeout=30)

    def hold(self):
        open(self.hold_file, "w").close()

    def release(self):
        if os.path.exists(self.hold_file):
            os.unlink(self.hold_file)

    def hung_sessions(self, n, user="hung"):
        """n sessions of a hung user, logged in while its file system answers."""
        out = []
        for _ in range(n):
            c = self.srv.control(timeout=30)
            c.login(user, "pw-hung")
            out.append(c)
        self.assertEqual(out[0].cmd("SIZE data.bin")[0], 213)
        return out

    def start_logins(self, n):
        """n logins of the hung user, sent without waiting: (controls, their 331s read)."""
        out = []
        for _ in range(n):
            c = self.srv.control(timeout=30)
            c.send("USER hung\r\nPASS pw-hung\r\n")
            out.append(c)
        for c in out:
            self.assertEqual(c.reply(timeout=10)[0], 331)
        return out

    def replies_by(self, controls, deadline):
        """The next reply of each control that came by deadline (monotonic), else None."""
        got = []
        for c in controls:
            try:
                got.append(c.reply(timeout=max(0.05, deadline - time.monotonic())))
            except (socket.timeout, TimeoutError):
                got.append(None)
        return got

    def fast_user_works(self, bound):
        """The fast user logs in, lists and downloads within bound seconds, bytes checked."""
        t0 = time.monotonic()
        try:
            f = self.srv.ftp("fast", "pw-fast", timeout=bound + 2)
            lines = []
            f.retrlines("LIST", lines.append)
            chunks = []
            f.retrbinary("RETR big.bin", chunks.append)
        except (socket.timeout, TimeoutError):
            self.fail("the session of a user on a healthy disk stalled behind the hung home "
                      "(no reply in %.0f s)" % (bound + 2))
        took = time.monotonic() - t0
        self.assertTrue(any(line.endswith(" big.bin") for line in lines), lines)
        self.assertEqual(hashlib.sha256(b"".join(chunks)).hexdigest(),
                         hashlib.sha256(self.fast_data).hexdigest())
        self.assertLess(took, bound, "the healthy user's login, LIST and RETR took %.1f s" % took)
        f.quit()


class TestHungHome(HungHomeCase):
    def test_other_homes_are_served_while_one_home_hangs(self):
        before = self.hung_sessions(3)
        self.hold()
        for c in before:  # each command of a logged-in session of the hung home...
            c.send("SIZE data.bin\r\n")
        logins = self.start_logins(9)  # ...and each new login to it wants a worker
        time.sleep(1.0)  # they reach the file system, and hang there
        self.fast_user_works(bound=4.0)

        # The few that got a worker wait for the file system; the others are told, after a
        # bounded wait, that it does not answer (and a login's session ends).
        waiting = before + logins
        got = self.replies_by(waiting, time.monotonic() + GATE_WAIT + 5)
        refused = [g for g in got if g is not None]
        self.assertGreaterEqual(len(refused), len(waiting) - GATE_RUNNING, got)
        for c, g in zip(waiting, got):
            if g is None:
                continue
            self.assertIn("not responding", g[1])
            self.assertEqual(g[0], 451 if c in before else 421, g)
        for c, g in zip(logins, got[len(before):]):
            if g is not None:
                self.assertTrue(c.closed(timeout=5))

        # Once it answers again, those still waiting get their answers, and the home serves
        # as before.
        self.release()
        late = [c for c, g in zip(waiting, got) if g is None]
        for c, g in zip(late, self.replies_by(late, time.monotonic() + 15)):
            self.assertIsNotNone(g, "no reply after the file system answered again")
            self.assertEqual(g[0], 213 if c in before else 230, g)
        again = self.hung_sessions(1)[0]
        self.assertEqual(again.cmd("SIZE data.bin")[0], 213)
        self.assertEqual(before[0].cmd("SIZE data.bin")[0], 213)

    def test_beyond_the_queue_logins_are_refused_at_once(self):
        first = self.hung_sessions(1)[0]
        self.hold()
        first.send("SIZE data.bin\r\n")
        time.sleep(GATE_STALLED)  # the home has answered nothing since
        # FSGATE_QUEUE_MAX is 16 and a home runs FSGATE_MAX_RUNNING (3) calls at once: the
        # SIZE above holds one, two logins' opens take the others
        logins = self.start_logins(2 + 16 + 6)
        # The waiting list of a hung home is bounded: the logins past it are refused now,
        # not after the wait.
        got = self.replies_by(logins, time.monotonic() + 2.0)
        now = [g for g in got if g is not None]
        self.assertGreaterEqual(len(now), 6, got)
        for g in now:
            self.assertEqual(g[0], 421, g)
            self.assertIn("not responding", g[1])
        self.fast_user_works(bound=4.0)

    def test_a_home_known_not_to_answer_refuses_at_once(self):
        first, other = self.hung_sessions(2)
        self.hold()
        first.send("SIZE data.bin\r\n")
        time.sleep(GATE_WAIT + 0.5)  # its call has hung longer than a refusable job waits
        # Each would only wait those seconds again to be refused, one after the other (or
        # take one more worker and hang there): a client that retries would pay them each
        # time.
        t0 = time.monotonic()
        other.send("SIZE data.bin\r\nMDTM data.bin\r\nSIZE data.bin\r\n")
        for _ in range(3):
            g = self.replies_by([other], t0 + 3.0)[0]
            self.assertIsNotNone(g, "no reply from a home known not to answer in 3 s")
            took = time.monotonic() - t0
            self.assertEqual(g[0], 451, g)
            self.assertIn("not responding", g[1])
            self.assertLess(took, 1.0, "a command to a hung home was refused after %.1f s" % took)
        t0 = time.monotonic()
        login = self.start_logins(1)[0]
        g = self.replies_by([login], t0 + 3.0)[0]
        self.assertIsNotNone(g, "no reply to a login to a home known not to answer in 3 s")
        self.assertEqual(g[0], 421, g)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertTrue(login.closed(timeout=5))

        # Once it answers again, it serves again.
        self.release()
        self.assertEqual(self.replies_by([first], time.monotonic() + 15)[0][0], 213)
        self.assertEqual(other.cmd("SIZE data.bin")[0], 213)
        self.assertEqual(other.cmd("MDTM data.bin")[0], 213)
        self.assertEqual(self.hung_sessions(1)[0].cmd("SIZE data.bin")[0], 213)
        self.fast_user_works(bound=4.0)


class TestManyHungHomes(HungHomeCase):
    """Homes on one dead mount are told apart, and each holds a worker: more of them than
    the pool has workers."""
    homes = {"hung%d" % i: "meta/h%d" % i for i in range(1, 7)}

    def setUp(self):
        # the workers added while they hang end after 1 s without a job (not 30)
        os.environ["FTPD_IO_IDLE_EXIT_MS"] = "1000"
        self.addCleanup(os.environ.pop, "FTPD_IO_IDLE_EXIT_MS", None)
        super().setUp()

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.srv.proc.pid))

    def test_other_homes_are_served_while_more_homes_hang_than_there_are_workers(self):
        sessions = [self.hung_sessions(1, user)[0] for user in self.homes]
        threads_before = self.threads()
        self.hold()
        for c in sessions:
            c.send("SIZE data.bin\r\n")
        time.sleep(1.0)
        # The homes hold workers: the pool grows while all but one are held.
        self.fast_user_works(bound=10.0)
        grown = self.threads()
        self.assertGreater(grown, threads_before)
        self.release()
        for c, g in zip(sessions, self.replies_by(sessions, time.monotonic() + 15)):
            self.assertIsNotNone(g, "no reply after the file system answered again")
            self.assertEqual(g[0], 213, g)
        self.assertIn("wait for a file system that does not answer", self.srv.log_text())
        # Once it answers, the workers added for it end after idling: the pool shrinks back.
        self.assertTrue(wait_for(lambda: self.threads() <= threads_before, timeout=15),
                        "threads: %d before, %d while it hung, %d after"
                        % (threads_before, grown, self.threads()))
        self.fast_user_works(bound=4.0)
        for c in sessions:
            self.assertEqual(c.cmd("SIZE data.bin", timeout=10)[0], 213)


class TestManyHomesOnOneDeadMount(HungHomeCase):
    """Many homes on one file system that dies (an NFS /home with its users active): each
    home alone would take its few workers before it is known not to answer, and more homes
    than the pool may grow to would then hold every worker. Homes on one mount share what
    is known of it, and together hold a bounded number of workers."""
    homes = dict([("hung%d" % i, "meta/h%d" % i) for i in range(1, 15)] +
                 [("fresh", "meta/fresh")])

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.srv.proc.pid))

    def test_a_dead_mount_with_many_homes_leaves_workers_to_the_others(self):
        # three sessions of each of 14 homes, all on the mount: 42 calls, more than the 32
        # workers the pool may have, and each home alone would run three of them
        sessions = []
        for user in self.homes:
            if user != "fresh":
                sessions += self.hung_sessions(3, user)
        threads_before = self.threads()
        self.hold()
        t_hold = time.monotonic()
        for c in sessions:
            c.send("SIZE data.bin\r\n")
        time.sleep(1.0)  # they reach the file system, and hang there
        self.fast_user_works(bound=8.0)

        # Most are told the file system does not answer; only the few the mount may hold
        # still wait on it.
        got = self.replies_by(sessions, t_hold + GATE_WAIT + 6)
        waiting = [c for c, g in zip(sessions, got) if g is None]
        self.assertLessEqual(len(waiting), 8, "calls held by the dead mount: %d" % len(waiting))
        for g in got:
            if g is not None:
                self.assertEqual(g[0], 451, g)
                self.assertIn("not responding", g[1])
        self.assertLess(self.threads() - threads_before, 8,
                        "the dead mount's calls took this many more threads")
        # A home on it that nothing used yet is known not to answer too: refused at once.
        t0 = time.monotonic()
        c = self.srv.control(timeout=30)
        c.send("USER fresh\r\nPASS pw-hung\r\n")
        self.assertEqual(c.reply(timeout=10)[0], 331)
        g = self.replies_by([c], t0 + 3.0)[0]
        self.assertIsNotNone(g, "no reply to a login to a home on a dead mount in 3 s")
        self.assertEqual(g[0], 421, g)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.fast_user_works(bound=4.0)

        # Once it answers again, those that waited get their answers and every home serves.
        self.release()
        for c, g in zip(waiting, self.replies_by(waiting, time.monotonic() + 15)):
            self.assertIsNotNone(g, "no reply after the file system answered again")
            self.assertEqual(g[0], 213, g)
        for c in sessions[::5]:
            self.assertEqual(c.cmd("SIZE data.bin", timeout=10)[0], 213)
        self.assertEqual(self.hung_sessions(1, "fresh")[0].cmd("SIZE data.bin")[0], 213)


class TestOneLongCallOnAMount(HungHomeCase):
    """One call of a home that runs long (a cold recursive listing, the free of a huge
    replaced file) while the mount answers the others: that home alone is judged by it, the
    other homes on the mount are served as before."""
    homes = {"long": "meta", "other": "h2"}  # only calls under meta/ are held

    def test_one_long_call_does_not_hang_the_other_homes_of_its_mount(self):
        slow = self.hung_sessions(1, "long")[0]
        other = self.hung_sessions(1, "other")[0]
        self.hold()
        t_hold = time.monotonic()
        slow.send("SIZE data.bin\r\n")
        # past FSGATE_WAIT_MS with the call still held and nothing else of the mount ended
        # (its other home idle meanwhile): that home's logins and commands get their normal
        # replies
        time.sleep(GATE_WAIT + 1.0)
        for _ in range(2):
            c = self.srv.control(timeout=30)
            c.send("USER other\r\nPASS pw-hung\r\n")
            self.assertEqual(c.reply(timeout=10)[0], 331)
            g = c.reply(timeout=10)
            self.assertEqual(g[0], 230, "%.1f s into the long call: %r"
                             % (time.monotonic() - t_hold, g))
            for cmd in ("SIZE data.bin", "MDTM data.bin"):
                g = c.cmd(cmd, timeout=10)
                self.assertEqual(g[0], 213, "%s: %r" % (cmd, g))
            c.close()
        for cmd in ("SIZE data.bin", "MDTM data.bin"):
            g = other.cmd(cmd, timeout=10)
            self.assertEqual(g[0], 213, "%s: %r" % (cmd, g))
        self.assertIsNone(self.replies_by([slow], time.monotonic() + 0.1)[0])
        self.release()
        self.assertEqual(self.replies_by([slow], time.monotonic() + 15)[0][0], 213)
        self.assertEqual(other.cmd("SIZE data.bin")[0], 213)


class TestManyHomesOnOneSlowMount(HungHomeCase):
    """A mount that is slow but answers (each call of seconds) is not a dead one: its many
    homes' calls, more than it may run long at once, all get their answers in turn."""
    homes = {"slow%d" % i: "h%d" % i for i in range(1, 11)}
    meta_delay = 1.5  # each lookup and stat of meta.bin: a SIZE runs longer than 2 s
    holds = False

    def test_every_home_on_a_slow_mount_is_answered(self):
        for home in self.homes.values():
            with open(os.path.join(self.source, home, "meta.bin"), "wb") as fh:
                fh.write(b"y" * 777)
        sessions = [self.hung_sessions(1, user)[0] for user in self.homes]
        for c in sessions:
            c.send("SIZE meta.bin\r\n")
        time.sleep(1.0)
        self.fast_user_works(bound=6.0)
        for c, g in zip(sessions, self.replies_by(sessions, time.monotonic() + 60)):
            self.assertIsNotNone(g, "no reply from a slow mount in 60 s")
            self.assertEqual(g[0], 213, g)
            self.assertIn("777", g[1])
        for c in sessions[::3]:
            g = c.cmd("SIZE meta.bin", timeout=30)
            self.assertEqual(g[0], 213, g)
            self.assertIn("777", g[1])


if __name__ == "__main__":
    unittest.main()
