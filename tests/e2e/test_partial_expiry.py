"""The bytes of a cut upload, kept hidden for a resume, do not live for ever: with
--partial-max-age a partial (or a dead server's leftover) last written longer ago than that is
removed at start and by the walks that follow every max-age / 24 (at least a second apart),
while a younger one stays resumable and one in use (an upload running, a resume) is never
touched. 0 keeps them all."""
import os
import re
import signal
import time
import unittest

from ftpd_harness import (FtpdServer, ServerTestCase, data_bytes, hash_password, reply,
                          reset_close, retr, sha, stor, wait_for)

HOUR = 3600
DAY = 86400


def walks_done(srv):
    """How many expiry walks the server has finished (its debug log says each)."""
    return len(re.findall(r"upload expiry: walk \d+ done", srv.log_text()))


class ExpiryBase(ServerTestCase):
    def server_at(self, files, **kw):
        """A server started on a tree that already holds files: {path: (data, age in
        seconds)}."""
        srv = FtpdServer(**kw)
        now = time.time()
        for path, (data, age) in files.items():
            srv.write(path, data, mtime=now - age)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def cut_upload(self, srv, name, data):
        """A STOR of name whose client is cut after data arrived: its bytes become the
        name's partial."""
        self.srv = srv
        c, ds, _ = self.begin_transfer("STOR " + name)
        ds.sendall(data)
        temp_full = wait_for(lambda: any(
            n.startswith(".ftpd-up.") and os.path.getsize(srv.local(n)) >= len(data)
            for n in srv.internal_files()), 10)
        self.assertTrue(temp_full, srv.internal_files())
        c.close()
        reset_close(ds)
        kept = wait_for(lambda: ".ftpd-partial." + name in srv.internal_files(), 10)
        self.assertTrue(kept, srv.internal_files())

    def wait_walks(self, srv, count, timeout=30):
        """Waits until count more walks than now have finished: the last of them began
        after this call."""
        target = walks_done(srv) + count
        self.assertTrue(wait_for(lambda: walks_done(srv) >= target, timeout),
                        srv.log_text()[-3000:])


class TestAtStart(ExpiryBase):
    def setUp(self):
        pass  # each test starts its server on files made first

    def test_old_partials_and_leftovers_go_young_ones_stay_resumable(self):
        young = data_bytes(300000, 81)
        srv = self.server_at({
            # the default age, 7 days: ftpd.8
            ".ftpd-partial.old.bin": (b"o" * 5000, 8 * DAY),
            "sub/.ftpd-partial.deep.bin": (b"d" * 7000, 30 * DAY),
            ".ftpd-partial.week.bin": (young[:100000], 6 * DAY),
            # a dead server's leftovers: an old one goes, a younger one becomes a partial
            ".ftpd-up.gone.bin.1234abcd5": (b"g" * 3000, 8 * DAY),
            ".ftpd-up.late.bin.1234abcd6": (b"l" * 4000, 1 * DAY),
        })
        self.assertTrue(srv.wait_log(r"upload recovery: 1 interrupted upload kept for a "
                                     r"resume, 0 removed", 10), srv.log_text())
        log = srv.log_text()
        self.assertIn("upload expiry: removed 3 interrupted uploads (15000 bytes) not resumed "
                      "for over 7d", log)
        self.assertIn("/old.bin: removed 5000 bytes of an interrupted upload not resumed", log)
        self.assertIn("/sub/deep.bin: removed 7000 bytes", log)
        self.assertIn("/gone.bin: removed 3000 bytes", log)
        self.assertEqual(sorted(srv.internal_files()),
                         [".ftpd-partial.late.bin", ".ftpd-partial.week.bin"])
        self.assertEqual(srv.internal_files("sub"), [])
        f = srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("week.bin"), 100000)
        stor(f, "week.bin", young[100000:], rest=100000)
        self.assertEqual(sha(retr(f, "week.bin")), sha(young))
        f.quit()

    def test_zero_keeps_everything(self):
        srv = self.server_at({
            ".ftpd-partial.ancient.bin": (b"a" * 5000, 3650 * DAY),
            ".ftpd-up.relic.bin.1234abcd7": (b"r" * 4000, 3650 * DAY),
        }, config={"partial-max-age": "0"})
        self.assertTrue(srv.wait_log(r"upload recovery: 1 interrupted upload kept", 10),
                        srv.log_text())
        self.assertEqual(sorted(srv.internal_files()),
                         [".ftpd-partial.ancient.bin", ".ftpd-partial.relic.bin"])
        self.assertNotIn("upload expiry", srv.log_text())
        f = srv.ftp()
        self.assertEqual(f.size("ancient.bin"), 5000)
        f.quit()


class TestWhileRunning(ExpiryBase):
    # seconds, so that the walks come every second (the shortest period)
    server_kwargs = {"config": {"partial-max-age": "2s"}}

    def test_partials_that_grow_old_are_removed(self):
        self.wait_walks(self.srv, 1)
        self.cut_upload(self.srv, "cut.bin", b"c" * 20000)
        self.srv.write("sub/dir/.ftpd-partial.deep.bin", b"d" * 3000, mtime=time.time() - HOUR)
        gone = wait_for(lambda: not self.srv.internal_files() and
                        not self.srv.internal_files("sub/dir"), 20)
        self.assertTrue(gone, (self.srv.internal_files(), self.srv.internal_files("sub/dir")))
        self.assertLogged(r"/cut\.bin: removed 20000 bytes of an interrupted upload not "
                          r"resumed for over 2s")
        self.assertLogged(r"/sub/dir/deep\.bin: removed 3000 bytes")
        f = self.srv.ftp()
        self.assertEqual(reply(f, "SIZE cut.bin")[0], 550)  # no resume point left
        f.quit()

    def test_the_home_of_an_account_a_reload_adds_is_walked(self):
        srv = self.srv
        bob_home = srv.mkdir(os.path.join(srv.base, "bob"))
        srv.write(os.path.join(bob_home, ".ftpd-partial.bob.bin"), b"b" * 2000,
                  mtime=time.time() - HOUR)
        self.wait_walks(srv, 2)
        self.assertTrue(srv.exists(os.path.join(bob_home, ".ftpd-partial.bob.bin")))
        with open(srv.users_file, "a") as fh:
            fh.write("bob:%s:%s:elrw\n" % (hash_password("bobpw"), bob_home))
        srv.proc.send_signal(signal.SIGHUP)
        self.assertLogged(r"SIGHUP: .*read again: 2 accounts", 10)
        gone = wait_for(lambda: not srv.exists(os.path.join(bob_home, ".ftpd-partial.bob.bin")),
                        20)
        self.assertTrue(gone, srv.log_text()[-3000:])
        self.assertLogged(r"/bob/bob\.bin: removed 2000 bytes")

    def test_uploads_running_are_never_removed(self):
        srv = self.srv
        full = data_bytes(60000, 82)
        # a new upload, stalled half way
        c1, d1, _ = self.begin_transfer("STOR run.bin")
        d1.sendall(full[:30000])
        # a resume: it claims the partial, which from then on has the upload's temp name
        future = time.time() + HOUR  # not expired before the claim
        srv.write(".ftpd-partial.res.bin", full[:20000], mtime=future)
        c2, d2, _ = self.begin_transfer("STOR res.bin", rest=20000)
        d2.sendall(full[20000:40000])

        def written():
            temps = [n for n in srv.internal_files() if n.startswith(".ftpd-up.")]
            sizes = sorted(os.path.getsize(srv.local(n)) for n in temps)
            return temps if sizes == [30000, 40000] else None
        temps = wait_for(written, 10)
        self.assertTrue(temps, srv.internal_files())
        for n in temps:  # as old as can be: only their locks keep them
            os.utime(srv.local(n), (time.time() - DAY, time.time() - DAY))
        self.wait_walks(srv, 2)
        self.assertEqual(sorted(srv.internal_files()), sorted(temps))
        for c, d, rest in ((c1, d1, full[30000:]), (c2, d2, full[40000:])):
            d.sendall(rest)
            d.close()
            code, text = c.reply(timeout=20)
            self.assertEqual(code, 226, text)
        self.assertEqual(srv.read("run.bin"), full)
        self.assertEqual(srv.read("res.bin"), full)
        self.assertNotIn("upload expiry: removed", srv.log_text())


if __name__ == "__main__":
    unittest.main()
