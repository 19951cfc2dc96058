"""Downloads to clients on this host are fed a few at a time (--local-download-slots): the
rest wait in line, every byte still arrives, the transfer log says who waited, and neither a
client that stops reading nor one that reads slowly keeps another download waiting for long.
"""
import threading
import time
import unittest

from ftpd_harness import ServerTestCase, data_bytes, recv_all, recv_exactly, retr, sha

CLIENTS = 12
SIZE = 2 << 20


def parallel_downloads(test, names):
    """Every name downloaded at once, one ftplib session each, started together; checks
    every byte."""
    sessions = [test.srv.ftp() for _ in names]
    for f in sessions:
        f.voidcmd("TYPE I")
    barrier = threading.Barrier(len(names))
    got, errors = {}, []

    def run(f, name):
        try:
            barrier.wait(10)
            got[name] = retr(f, name, blocksize=256 * 1024)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("%s: %r" % (name, e))

    threads = [threading.Thread(target=run, args=a) for a in zip(sessions, names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for f in sessions:
        f.quit()
    test.assertEqual(errors, [])
    for i, name in enumerate(names):
        test.assertEqual(sha(got[name]), sha(data_bytes(SIZE, seed=i)), name)


class SlotsCase(ServerTestCase):
    slots = 1

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"args": ["--local-download-slots", str(cls.slots)]}

    def setUp(self):
        super().setUp()
        self.names = ["f%02d.bin" % i for i in range(CLIENTS)]
        for i, name in enumerate(self.names):
            self.srv.make_file(name, SIZE, seed=i)


class TestOneSlot(SlotsCase):
    def test_many_downloads_wait_in_line_and_all_arrive(self):
        parallel_downloads(self, self.names)
        self.assertTrue(
            self.srv.wait_log(r"RETR /f\d\d\.bin ok: %d bytes.*in line for a download slot" % SIZE),
            self.srv.log_text()[-3000:])

    def start_held_download(self, size):
        """A RETR of a fresh file whose client takes its first 64 KiB, then waits; returns
        (control, data socket, expected bytes)."""
        data = data_bytes(size, seed=99)
        self.srv.write("held.bin", data)
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.epsv()
        code, text = c.cmd("RETR held.bin")
        self.assertEqual(code, 150, text)
        return c, ds, data

    def finish_held_download(self, c, ds, data, head):
        body = head + recv_all(ds)
        ds.close()
        self.assertEqual(sha(body), sha(data))
        self.assertEqual(c.reply()[0], 226)
        c.close()

    def timed_download(self, name):
        f = self.srv.ftp()
        t0 = time.monotonic()
        body = retr(f, name)
        took = time.monotonic() - t0
        f.quit()
        return body, took

    def test_a_client_that_stops_reading_keeps_no_one_waiting(self):
        c, ds, data = self.start_held_download(32 << 20)
        head = recv_exactly(ds, 64 * 1024)
        body, took = self.timed_download(self.names[0])  # the held download has the slot
        self.assertEqual(sha(body), sha(data_bytes(SIZE, seed=0)))
        self.assertLess(took, 5.0)
        self.finish_held_download(c, ds, data, head)

    def test_a_slow_reader_keeps_no_one_waiting_for_its_whole_file(self):
        # 64 KiB every 20 ms: its 32 MiB would take ten seconds
        c, ds, data = self.start_held_download(32 << 20)
        parts, stop = [], threading.Event()

        def trickle():
            while not stop.is_set():
                parts.append(recv_exactly(ds, 64 * 1024))
                time.sleep(0.02)

        t = threading.Thread(target=trickle)
        t.start()
        try:
            time.sleep(0.1)
            body, took = self.timed_download(self.names[1])
        finally:
            stop.set()
            t.join(20)
        self.assertEqual(sha(body), sha(data_bytes(SIZE, seed=1)))
        self.assertLess(took, 5.0)
        self.assertLess(len(parts) * 64 * 1024, len(data))  # the slow one was still going
        self.finish_held_download(c, ds, data, b"".join(parts))


class TestNoLimit(SlotsCase):
    slots = 0

    def test_no_download_waits(self):
        parallel_downloads(self, self.names)
        self.assertTrue(self.srv.wait_log(r"RETR /f11\.bin ok"), self.srv.log_text()[-3000:])
        time.sleep(0.2)
        self.assertNotIn("download slot", self.srv.log_text())


if __name__ == "__main__":
    unittest.main()
