"""Many clients at once: 200 sessions (one thread each) upload a distinct file and download
another at the same time, every byte checked; bounded by socket timeouts and a deadline."""
import ftplib
import hashlib
import os
import threading
import time
import unittest

from ftpd_harness import DEFAULT_PASSWORD, DEFAULT_USER, ServerTestCase, data_bytes, sha

CLIENTS = int(os.environ.get("FTPD_E2E_CLIENTS", "200"))
DEADLINE = 90.0  # the whole run; the spec asks for well under this even under ASan
TARGET = 60.0


def upload_size(i):
    return (256 << 10) + (i * 7919 * 97) % (768 << 10)  # 256 KiB .. 1 MiB


class TestManyClients(ServerTestCase):
    server_kwargs = {"args": ["--max-sessions", "1000", "--max-per-ip", "1000"]}

    def test_200_clients_upload_and_download(self):
        srv = self.srv
        downloads = []
        for k in range(8):
            d = srv.make_file("down/d%d.bin" % k, (512 << 10) + k * 65536, seed=1000 + k)
            downloads.append(sha(d))
        uploads = [data_bytes(upload_size(i), i) for i in range(CLIENTS)]
        errors = []
        done = [0]
        lock = threading.Lock()
        barrier = threading.Barrier(CLIENTS, timeout=60)

        def client(i):
            f = ftplib.FTP(timeout=30)
            try:
                f.connect(srv.host, srv.port)
                f.login(DEFAULT_USER, DEFAULT_PASSWORD)
                f.voidcmd("TYPE I")
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    pass
                # upload and download interleaved with everyone else
                conn = f.transfercmd("STOR up/u%03d.bin" % i)
                view = memoryview(uploads[i])
                for off in range(0, len(view), 65536):
                    conn.sendall(view[off:off + 65536])
                conn.close()
                f.voidresp()
                h = hashlib.sha256()
                f.retrbinary("RETR down/d%d.bin" % (i % 8), h.update, 65536)
                if h.hexdigest() != downloads[i % 8]:
                    raise AssertionError("client %d: download corrupted" % i)
                h = hashlib.sha256()
                f.retrbinary("RETR up/u%03d.bin" % i, h.update, 65536)
                if h.hexdigest() != sha(uploads[i]):
                    raise AssertionError("client %d: upload read back corrupted" % i)
                if f.size("up/u%03d.bin" % i) != len(uploads[i]):
                    raise AssertionError("client %d: SIZE wrong" % i)
                f.quit()
                with lock:
                    done[0] += 1
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append("client %d: %r" % (i, e))
                barrier.abort()
            finally:
                f.close()

        srv.mkdir("up")
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.1, DEADLINE - (time.monotonic() - t0)))
        took = time.monotonic() - t0
        alive = sum(t.is_alive() for t in threads)
        self.assertEqual(alive, 0, "%d clients still running after %.0f s" % (alive, took))
        self.assertEqual(errors, [], "\n".join(errors[:20]))
        self.assertEqual(done[0], CLIENTS)
        for i in range(CLIENTS):
            self.assertEqual(sha(srv.read("up/u%03d.bin" % i)), sha(uploads[i]), i)
        self.assertEqual(srv.internal_files("up"), [])
        self.assertLess(took, TARGET, "200 clients took %.1f s" % took)
        print("\n%d clients: %.1f s" % (CLIENTS, took))

    def test_idle_sessions_do_not_block(self):
        # 300 idle logged-in sessions, while one client transfers
        data = self.srv.make_file("x.bin", 8 << 20, seed=5)
        from ftpd_harness import Control
        idle = []
        for _ in range(300):
            c = Control(self.srv.host, self.srv.port)
            idle.append(c)
        try:
            for c in idle:
                c.greeting()
            for c in idle:
                c.send("USER %s\r\nPASS %s\r\n" % (DEFAULT_USER, DEFAULT_PASSWORD))
            for c in idle:
                self.assertEqual(c.reply()[0], 331)
                self.assertEqual(c.reply()[0], 230)
            f = self.srv.ftp()
            t0 = time.monotonic()
            got = []
            f.retrbinary("RETR x.bin", got.append, 1 << 20)
            self.assertEqual(sha(b"".join(got)), sha(data))
            self.assertLess(time.monotonic() - t0, 10)
            for c in idle[:50]:
                self.assertEqual(c.cmd("NOOP")[0], 200)
        finally:
            for c in idle:
                c.close()


if __name__ == "__main__":
    unittest.main()
