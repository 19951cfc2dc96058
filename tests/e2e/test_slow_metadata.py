"""Commands whose file-system calls wait for a slow disk: ftpd makes them on worker threads
(ftpd/fsjob.c), so while one session's CWD, SIZE, RETR open or LIST waits for a lookup, every
other session is answered at once. The slow disk is slowfs.py with META_DELAY (every lookup,
stat, mkdir, unlink, rename and time set under meta/ waits); the test is skipped where FUSE
cannot be mounted (see test_slow_disk.py).
"""
import ftplib
import os
import socket
import threading
import time
import unittest

from ftpd_harness import recv_all
from test_slow_disk import SlowDiskCase


class SlowMetadataCase(SlowDiskCase):
    """A disk whose every lookup, stat, mkdir, unlink, rename and time set under meta/ takes
    META_DELAY (NFS or FUSE asking a busy server, a seek on a busy disk)."""
    meta_delay = 0.5
    slow_perms = "elrdfmwaTM"

    def fill_source(self):
        os.mkdir(os.path.join(self.source, "meta"))
        os.chmod(os.path.join(self.source, "meta"), 0o777)
        for name, body in (("meta/f.bin", self.data[:50000]), ("meta/gone.txt", b"bye\n")):
            with open(os.path.join(self.source, name), "wb") as fh:
                fh.write(body)
            os.chmod(os.path.join(self.source, name), 0o666)
        os.utime(os.path.join(self.source, "meta/f.bin"), (1500000000, 1500000000))
        # An entry named like an option word, for "LIST -dir"
        os.makedirs(os.path.join(self.source, "metaopt", "-dir"))
        for name in ("metaopt/-dir/inside.txt", "metaopt/top.txt"):
            with open(os.path.join(self.source, name), "wb") as fh:
                fh.write(b"x\n")

    def noops_until(self, c, replies, fast):
        """Sends NOOP after NOOP on fast, another session logged in beforehand, until c has
        read `replies` replies: (those replies, the NOOPs' round trips)."""
        got = []
        waiter = threading.Thread(target=lambda: got.extend(c.reply(timeout=60)
                                                            for _ in range(replies)))
        waiter.start()
        trips = []
        while waiter.is_alive() and len(trips) < 3000:
            t = time.monotonic()
            fast.voidcmd("NOOP")
            trips.append(time.monotonic() - t)
            time.sleep(0.02)
        waiter.join(60)
        return got, trips


class TestSlowMetadata(SlowMetadataCase):
    """The commands that only make such calls (CWD, SIZE, MDTM, MLST, MKD, RMD, DELE, RNFR,
    RNTO, MFMT) and RETR's open make them on a worker, and another session is answered
    meanwhile."""

    def test_other_sessions_answered_while_metadata_calls_wait_for_the_disk(self):
        def commands(f):
            out = [f.sendcmd("SIZE meta/f.bin"), f.sendcmd("MDTM meta/f.bin"),
                   f.sendcmd("MLST meta/f.bin").splitlines()[1]]
            out += [f.sendcmd("CWD meta"), f.pwd(), f.sendcmd("CDUP"), f.pwd()]
            out += [f.sendcmd("MKD meta/new"), f.sendcmd("RMD meta/new")]
            out += [f.sendcmd("RNFR meta/gone.txt"), f.sendcmd("RNTO meta/moved.txt"),
                    f.sendcmd("DELE meta/moved.txt")]
            out.append(f.sendcmd("MFMT 20200102030405 meta/f.bin"))
            chunks = []
            f.retrbinary("RETR meta/f.bin", chunks.append)
            out.append(b"".join(chunks))
            for bad in ("SIZE meta/none", "CWD meta/f.bin"):
                try:
                    out.append(f.sendcmd(bad))
                except ftplib.error_perm as e:
                    out.append(str(e))
            return out
        out, worst, count = self.download_meanwhile(commands)
        self.assertEqual(out[0], "213 50000")
        self.assertEqual(out[1], "213 20170714024000")
        self.assertIn("size=50000;", out[2])
        self.assertTrue(out[3].startswith("250"), out[3])
        self.assertEqual(out[4:7], ["/meta", out[5], "/"])
        self.assertTrue(out[7].startswith('257 "/meta/new"'), out[7])
        self.assertTrue(out[8].startswith("250"), out[8])
        self.assertTrue(out[9].startswith("350") and out[10].startswith("250"), out[9:11])
        self.assertTrue(out[11].startswith("250"), out[11])
        self.assertTrue(out[12].startswith("213 Modify=20200102030405"), out[12])
        self.assertEqual(out[13], self.data[:50000])
        self.assertEqual([o[:3] for o in out[14:]], ["550"] * 2, out[14:])
        self.assertEqual(sorted(os.listdir(os.path.join(self.source, "meta"))), ["f.bin"])
        self.assertEqual(os.stat(os.path.join(self.source, "meta/f.bin")).st_mtime, 1577934245)
        # Each command waits META_DELAY at least once: a server that made those calls on its
        # loop held the NOOP that met one until it ended.
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))
        self.assertGreater(count, 10)

    def test_a_trailing_slash_is_checked_on_a_worker(self):
        # "name/" can only name a directory, which takes a stat: it was made on the loop,
        # before the command's own calls went to a worker.
        def commands(f):
            out = [f.sendcmd("CWD meta/"), f.pwd(), f.sendcmd("CDUP")]
            for bad in ("SIZE meta/f.bin/", "DELE meta/f.bin/", "RETR meta/f.bin/"):
                try:
                    if bad.startswith("RETR"):
                        f.retrbinary(bad, lambda b: None)
                    else:
                        f.sendcmd(bad)
                except ftplib.error_perm as e:
                    out.append(str(e))
            out.append(f.sendcmd("MLST meta/").splitlines()[1])
            return out
        out, worst, count = self.download_meanwhile(commands)
        self.assertTrue(out[0].startswith("250"), out[0])
        self.assertEqual(out[1:3], ["/meta", out[2]])
        self.assertEqual(out[3:6], ["550 meta/f.bin/: Not a directory."] * 3)
        self.assertIn("type=dir;", out[6])
        self.assertTrue(os.path.exists(os.path.join(self.source, "meta/f.bin")))
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))

    def test_hash_of_a_name_ending_in_a_slash_is_checked_on_a_worker(self):
        # "HASH name/" can only name a directory: the stat that says whether it does was
        # made on the loop, before the hash itself went to a worker.
        def commands(f):
            out = []
            for bad in ("HASH meta/f.bin/", "HASH meta/", "HASH meta/none/"):
                try:
                    out.append(f.sendcmd(bad))
                except ftplib.error_perm as e:
                    out.append(str(e))
            return out
        out, worst, count = self.download_meanwhile(commands)
        self.assertEqual(out, ["550 meta/f.bin/: Not a directory.", "553 HASH: Is a directory.",
                               "550 meta/none/: No such file or directory."])
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))

    def test_an_option_word_that_may_be_a_name_is_looked_up_on_a_worker(self):
        # "NLST -dir": the option -d, -i, -r, or the directory named -dir? The stat that
        # tells was made on the loop.
        def commands(f):
            f.cwd("metaopt")
            out = [sorted(f.nlst("-dir")), sorted(f.nlst("-x"))]
            lines = []
            f.retrlines("LIST -dir", lines.append)
            out.append([l.rsplit(" ", 1)[1] for l in lines])
            out.append(f.sendcmd("STAT -dir"))
            return out
        out, worst, count = self.download_meanwhile(commands)
        self.assertEqual(out[0], ["inside.txt"])
        self.assertEqual(out[1], ["-dir", "top.txt"])
        self.assertEqual(out[2], ["inside.txt"])
        self.assertTrue(out[3].startswith("212-Status of /metaopt/-dir"), out[3])
        self.assertIn("inside.txt", out[3])
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))
        # An ABOR meanwhile is for the listing the lookup leads to: it is cut as it starts.
        c = self.slow_control()
        self.assertEqual(c.cmd("CWD metaopt", timeout=15)[0], 250)
        c.send("PASV\r\nLIST -dir\r\nABOR\r\n")
        self.assertEqual([c.reply(timeout=15)[0] for _ in range(3)], [227, 426, 226])
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertLogged(r"LIST /metaopt/-dir aborted by the client \(ABOR\) before any data "
                          r"moved")

    def test_site_chmod_on_a_worker(self):
        def chmod(f):
            return [f.sendcmd("SITE CHMOD 640 meta/f.bin"), f.sendcmd("SITE CHMOD 666 meta/f.bin")]
        out, worst, count = self.download_meanwhile(chmod)
        self.assertEqual(out, ["200 SITE CHMOD command successful."] * 2)
        self.assertEqual(os.stat(os.path.join(self.source, "meta/f.bin")).st_mode & 0o777, 0o666)
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))

    def test_other_sessions_answered_while_listings_look_up_their_paths(self):
        def listings(f):
            lines = []
            f.retrlines("LIST meta/*.bin", lines.append)
            return (lines, f.nlst("meta"), [n for n, _ in f.mlsd("meta")],
                    f.sendcmd("STAT meta/f.bin"))
        (glob, names, facts, status), worst, count = self.download_meanwhile(listings)
        self.assertEqual([l.rsplit(" ", 1)[1] for l in glob], ["meta/f.bin"])
        self.assertEqual(sorted(names), ["f.bin", "gone.txt"])
        self.assertEqual(sorted(facts), ["f.bin", "gone.txt"])
        self.assertTrue(status.startswith("213-Status of /meta/f.bin"), status)
        self.assertIn(" meta/f.bin", status)
        self.assertLess(worst, self.meta_delay / 2,
                        "a NOOP waited %.2f s (%d sent)" % (worst, count))

    def test_stat_of_a_path_during_a_transfer_reads_on_a_worker(self):
        # STAT meta/f.bin while a download runs: its listing waits for the disk, the other
        # session does not, and the download goes on.
        fast = self.srv.ftp("fast", "pw-fast", timeout=30)
        c = self.slow_control()
        port = int(c.cmd("EPSV")[1].split("|")[3])
        data = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.addCleanup(data.close)
        got, status = [], []
        reader = threading.Thread(target=lambda: got.append(recv_all(data, timeout=60)))
        reader.start()
        self.assertEqual(c.cmd("RETR cold.bin", timeout=15)[0], 150)
        c.send("STAT meta/f.bin\r\n")
        # Both replies, in either order: the download may end while the listing is read.
        waiter = threading.Thread(target=lambda: status.extend([c.reply(timeout=60),
                                                                c.reply(timeout=60)]))
        waiter.start()
        trips = []
        while waiter.is_alive() and len(trips) < 1000:
            t = time.monotonic()
            fast.voidcmd("NOOP")
            trips.append(time.monotonic() - t)
            time.sleep(0.02)
        waiter.join(60)
        reader.join(60)
        self.assertEqual(sorted(code for code, _ in status), [213, 226], status)
        self.assertIn(" meta/f.bin", dict(status)[213])
        self.assertEqual(got, [self.data])
        # The listing waits for three lookups (1.5 s); a loop that read it held the NOOP
        # that met it as long.
        self.assertLess(max(trips), 2 * self.meta_delay,
                        "a NOOP waited %.2f s (%d sent)" % (max(trips), len(trips)))
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_abor_while_a_retr_or_list_opens_its_path(self):
        # The ABOR is for the transfer whose path is being opened, even far behind it: it is
        # cut as it starts (426), and the commands between then run in turn (as
        # test_xfer_control's test_one_abor_cuts_only_the_transfer_it_found, from a disk).
        for line in ("RETR meta/f.bin", "LIST meta"):
            c = self.slow_control()
            c.send("PASV\r\n%s\r\nPASV\r\n%s\r\nABOR\r\n" % (line, line))
            self.assertEqual(c.reply(timeout=15)[0], 227)
            self.assertEqual(c.reply(timeout=15)[0], 426, line)
            self.assertEqual(c.reply(timeout=15)[0], 227)  # the next one's transfer now waits
            c.close()
        self.assertLogged(r"RETR /meta/f.bin aborted by the client \(ABOR\) before any data moved")
        self.assertLogged(r"LIST /meta aborted by the client \(ABOR\) before any data moved")

    def test_a_command_waiting_for_the_disk_is_not_idle(self):
        # MLST meta/f.bin waits for two lookups and a stat, 1.5 s in all: longer than
        # --idle-timeout, but the client is waiting for the server, not idle.
        srv = self.slow_server(["--idle-timeout", "1"])
        c = self.slow_control(srv)
        code, text = c.cmd("MLST meta/f.bin", timeout=15)
        self.assertEqual(code, 250, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertTrue(c.closed(timeout=5))  # and idle after that, it is closed

    def test_session_that_ends_while_a_worker_looks_up_a_path(self):
        c = self.slow_control()
        c.send("SIZE meta/f.bin\r\n")
        c.sock.close()  # the worker's answer finds the session gone
        c2 = self.slow_control()
        self.assertEqual(c2.cmd("SIZE meta/f.bin"), (213, "213 50000"))

    def test_server_stops_while_a_worker_looks_up_a_path(self):
        c = self.slow_control()
        c.send("MLST meta/f.bin\r\n")
        time.sleep(0.2)  # the lookup is on a worker now (it takes META_DELAY)
        # stop() fails on an exit status other than 0 or on a sanitizer's report (a leak)
        self.srv.stop()
        c.close()


if __name__ == "__main__":
    unittest.main()
