"""The control connection stays responsive during a transfer: STAT reports progress, ABOR stops
the transfer (426 then 226), QUIT ends the session; a stalled reader neither grows the
server's memory nor slows another client; the data timeout ends a stalled transfer; a download
keeps little queued unsent in its socket and answers 226 only once its data has left."""
import fcntl
import os
import re
import socket
import termios
import time
import unittest

from ftpd_harness import (ServerTestCase, data_bytes, pasv_port, recv_all, recv_exactly, reply,
                          retr, sha, wait_for)

BIG = 256 << 20  # sparse: costs no disk


class TestStatAbor(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.make_sparse("big.bin", BIG)

    def start_retr(self, c, read=1 << 20):
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        code, text = c.cmd("RETR big.bin")
        self.assertEqual(code, 150, text)
        got = recv_exactly(ds, read)
        self.assertEqual(len(got), read)
        return ds

    def test_stat_during_retr(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        t0 = time.monotonic()
        code, text = c.cmd("STAT", timeout=5)
        self.assertLess(time.monotonic() - t0, 2.0, "STAT was not answered at once")
        self.assertEqual(code, 211, text)
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("211-") and lines[-1].startswith("211 "), text)
        m = re.search(r"(\d+) of (\d+) bytes", text)
        self.assertTrue(m, text)
        self.assertIn("big.bin", text)
        done, total = int(m.group(1)), int(m.group(2))
        self.assertEqual(total, BIG)
        # What the client's kernel acknowledged: the ACKs of the last segments we read may
        # still be delayed (a fresh-clone run saw 1041920 of the 1 MiB read, 6656 short)
        self.assertGreaterEqual(done, (1 << 20) - 65536)
        self.assertLess(done, BIG)
        # progress moves when we read more
        recv_exactly(ds, 8 << 20)
        code, text = c.cmd("STAT", timeout=5)
        done2 = int(re.search(r"(\d+) of (\d+) bytes", text).group(1))
        self.assertGreater(done2, done)
        # the status of another session during its own idle time is plain
        c.send("ABOR\r\n")
        codes = [c.reply(timeout=5)[0]]
        if codes[0] == 426:
            codes.append(c.reply(timeout=5)[0])
        ds.close()

    def test_stat_counts_what_the_client_has_not_what_waits_in_the_server(self):
        """A download's progress is what reached the client, as its bars say: bytes the server
        put in its socket and the client has not yet acknowledged are not done. A client
        that stops reading holds its receive buffer's worth and no more."""
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        got = 1 << 20

        def counted():
            return int(re.search(r"(\d+) of (\d+) bytes", c.cmd("STAT", timeout=5)[1]).group(1))

        # the stream stalls once both sockets' buffers are full
        last = [-1]

        def steady():
            now = counted()
            same, last[0] = now == last[0], now
            return same
        self.assertTrue(wait_for(steady, timeout=20, interval=0.3), "the stream never stalled")
        held = fcntl.ioctl(ds.fileno(), termios.FIONREAD, b"\0\0\0\0")
        held = int.from_bytes(held, "little")
        self.assertGreater(held, 0)
        self.assertEqual(counted(), got + held)
        # and what the client reads then is counted once it has room for more
        recv_exactly(ds, 4 << 20)
        self.assertTrue(wait_for(lambda: counted() > got + held, timeout=10))
        ds.close()

    def test_stat_during_uploads_names_the_command_and_where_it_began(self):
        # as the transfer's log line does: an APPE or STOU is not a STOR to the client, and a
        # resumed upload's byte count starts at its offset, not at the file's start
        self.srv.write("log.txt", b"x" * 100)
        cases = (("APPE log.txt", None, r"APPE /log\.txt from byte 100: \d+ bytes so far"),
                 ("STOR log.txt", 40, r"STOR /log\.txt from byte 40: \d+ bytes so far"),
                 ("STOU", None, r"STOU /ftpd\.\d+\.0: \d+ bytes so far"),
                 ("STOR new.txt", None, r"STOR /new\.txt: \d+ bytes so far"))
        for line, rest, expected in cases:
            with self.subTest(line=line):
                c = self.srv.control()
                c.login()
                c.cmd("TYPE I")
                ds = c.pasv()
                if rest is not None:
                    self.assertEqual(c.cmd("REST %d" % rest)[0], 350)
                code, text = c.cmd(line)
                self.assertEqual(code, 150, text)
                ds.sendall(b"y" * 1000)
                code, text = c.cmd("STAT", timeout=5)
                self.assertEqual(code, 211, text)
                self.assertRegex(text, expected)
                ds.close()
                self.assertEqual(c.reply(timeout=10)[0], 226)
                c.close()

    def test_stat_gives_a_slow_rate_in_its_unit(self):
        # an upload of some 20 KiB a second read "0.0 MiB/s"
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        code, text = c.cmd("STOR slow.bin")
        self.assertEqual(code, 150, text)
        t0 = time.monotonic()
        sent = 0
        while time.monotonic() - t0 < 1.5:
            ds.sendall(b"s" * 2000)
            sent += 2000
            time.sleep(0.1)
        code, text = c.cmd("STAT", timeout=5)
        self.assertEqual(code, 211, text)
        m = re.search(r"STOR /slow\.bin: (\d+) bytes so far, ([\d.]+) (B|KiB)/s", text)
        self.assertTrue(m, text)
        self.assertGreater(float(m.group(2)), 0, text)
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)
        self.assertEqual(len(self.srv.read("slow.bin")), sent)

    def test_abor_during_retr(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        t0 = time.monotonic()
        c.send("ABOR\r\n")
        code1, text1 = c.reply(timeout=5)
        code2, text2 = c.reply(timeout=5)
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertEqual((code1, code2), (426, 226), (text1, text2))
        # the data connection is closed by the server
        ds.settimeout(5)
        total = 0
        try:
            while True:
                chunk = ds.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
                self.assertLess(total, BIG, "the server kept sending after ABOR")
        except ConnectionResetError:
            pass
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)
        # and the session transfers normally afterwards
        self.srv.write("small.bin", b"small")
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR small.bin")[0], 150)
        self.assertEqual(recv_all(ds), b"small")
        ds.close()
        self.assertEqual(c.reply()[0], 226)

    def test_empty_line_during_retr_is_answered_and_abor_still_works(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        t0 = time.monotonic()
        code, text = c.cmd("", timeout=5)
        self.assertLess(time.monotonic() - t0, 2.0, "the empty line was not answered at once")
        self.assertEqual(code, 500, text)
        c.send("ABOR\r\n")
        code1, _ = c.reply(timeout=5)
        code2 = c.reply(timeout=5)[0] if code1 == 426 else None
        self.assertEqual((code1, code2), (426, 226))
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_abor_with_telnet_sync(self):
        # what RFC 959 clients send: IAC IP, then IAC DM as urgent data, then ABOR
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.sock.sendall(b"\xff\xf4\xff", socket.MSG_OOB)
        c.sock.sendall(b"\xf2ABOR\r\n")
        code1, _ = c.reply(timeout=5)
        code2 = c.reply(timeout=5)[0] if code1 == 426 else None
        self.assertEqual((code1, code2), (426, 226))
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def assert_abor_behind_pwd_is_prompt(self, c, ds):
        # the transfer's 426 first, then the waiting PWD, then ABOR's own reply
        t0 = time.monotonic()
        replies = [c.reply(timeout=5) for _ in range(3)]
        self.assertLess(time.monotonic() - t0, 3.0, "ABOR waited for the transfer")
        self.assertEqual([code for code, _ in replies], [426, 257, 226], replies)
        # the ABOR did abort the transfer, however late its turn came ("No transfer to
        # abort." denied it)
        self.assertEqual(replies[2][1], "226 ABOR successful.")
        ds.settimeout(5)
        try:
            while ds.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_abor_behind_another_command(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.send("PWD\r\nABOR\r\n")
        self.assert_abor_behind_pwd_is_prompt(c, ds)

    def test_abor_with_telnet_sync_behind_another_command(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.send("PWD\r\n")
        time.sleep(0.2)  # PWD is already waiting when the Synch comes
        c.sock.sendall(b"\xff\xf4\xff", socket.MSG_OOB)
        c.sock.sendall(b"\xf2ABOR\r\n")
        self.assert_abor_behind_pwd_is_prompt(c, ds)

    def test_half_closed_control_still_gets_its_replies(self):
        # the client sends a command and closes its side while the download runs: the
        # download completes, the waiting command is answered, then the server closes
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.send("PWD\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        got = (1 << 20) + len(recv_all(ds, timeout=30))
        ds.close()
        self.assertEqual(got, BIG)
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(2)], [226, 257])
        self.assertTrue(c.closed(5))

    def test_ftplib_abort(self):
        # ftplib sends "ABOR\r\n" with MSG_OOB (the last byte urgent)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR big.bin")
        recv_exactly(conn, 1 << 20)
        resp = f.abort()
        self.assertTrue(resp[:3] in ("426", "225", "226"), resp)
        conn.close()
        if resp.startswith("426"):
            self.assertTrue(f.getmultiline().startswith("226"))
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_abor_before_the_data_connection(self):
        # RETR has not been answered yet: its 426 comes first, then ABOR's 226, so every
        # later reply still matches its command
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        self.assertEqual(c.cmd("PASV")[0], 227)
        c.send("RETR big.bin\r\nABOR\r\nNOOP\r\n")
        codes = [c.reply(timeout=5)[0] for _ in range(3)]
        self.assertEqual(codes, [426, 226, 200])

    def test_one_abor_cuts_only_the_transfer_it_found(self):
        # An ABOR behind many pipelined LISTs aborts the one waiting when it was read; the
        # LISTs after it then run in turn and wait for their own data connections. It is not
        # taken up again by each of them (401 transfers were cut by one ABOR, recursively).
        c = self.srv.control()
        c.login()
        c.send("PASV\r\nLIST\r\n" + "PASV\r\nLIST\r\n" * 200 + "ABOR\r\n")
        self.assertEqual(c.reply(timeout=5)[0], 227)
        self.assertEqual(c.reply(timeout=5)[0], 426)
        self.assertEqual(c.reply(timeout=5)[0], 227)  # the next PASV; its LIST now waits
        c.sock.settimeout(0.5)
        try:
            more = c.sock.recv(4096)
        except socket.timeout:
            more = b""
        self.assertEqual(more, b"")
        # Cut before its data connection came, it moved nothing and took no time of its own
        # (the log once said "0 bytes in 240.831 s": the clock's reading since boot).
        self.assertTrue(self.srv.wait_log(r"LIST / aborted by the client \(ABOR\) before any data "
                                          r"moved"), self.srv.log_text()[-2000:])
        self.assertEqual(len(re.findall(r"LIST / (?:failed|aborted)", self.srv.log_text())), 1)
        c.close()

    def retr_then_lines_before_the_data_connection(self, lines, n_replies):
        """Sends RETR of a small file and then `lines` before connecting for the data; returns
        the codes of the next n_replies replies."""
        self.srv.write("small.bin", b"s" * 5000)
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227, text)
        c.send("RETR small.bin\r\n" + lines)
        time.sleep(0.3)
        ds = socket.create_connection((c.host, pasv_port(text)), timeout=10)
        self.assertEqual(recv_all(ds), b"s" * 5000)
        ds.close()
        return [c.reply(timeout=5)[0] for _ in range(n_replies)]

    def test_replies_in_order_when_commands_follow_retr_before_its_150(self):
        # The data connection comes after RETR, NOOP and STAT: their replies must not pass
        # the 150 that RETR gets once the connection is there
        codes = self.retr_then_lines_before_the_data_connection("NOOP\r\nSTAT\r\n", 4)
        self.assertEqual(codes, [150, 226, 200, 211])

    def test_refused_lines_after_retr_wait_for_its_150(self):
        # A line refused before it is parsed (a NUL in it, or far too long) follows the same
        # order: its 500/501 must not pass the 150 either
        codes = self.retr_then_lines_before_the_data_connection(
            "NO\x00OP\r\n" + "X" * 9000 + "\r\nNOOP\r\n", 5)
        self.assertEqual(codes, [150, 226, 501, 500, 200])

    def test_abor_without_transfer(self):
        f = self.srv.ftp()
        self.assertCode(reply(f, "ABOR"), (225, 226))
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_quit_right_after_an_upload_waits_for_it(self):
        # "put file; bye": the data connection is closed and QUIT follows at once, while part
        # of the file is still in the server's socket. The upload ends with 226, then 221
        # (RFC 959), and the whole file is there. Also with the control connection
        # half-closed behind QUIT, as a client that does not wait for 221 leaves it.
        for i, (size, half_close) in enumerate(((300000, False), (3 << 20, False),
                                                (3 << 20, True))):
            data = data_bytes(size, i)
            c = self.srv.control()
            c.login()
            self.assertEqual(c.cmd("TYPE I")[0], 200)
            ds = c.pasv()
            c.send("STOR q%d.bin\r\n" % i)
            self.assertEqual(c.reply(timeout=5)[0], 150)
            ds.sendall(data)
            ds.close()
            c.send("QUIT\r\n")
            if half_close:
                c.sock.shutdown(socket.SHUT_WR)
            self.assertEqual([c.reply(timeout=10)[0] for _ in range(2)], [226, 221])
            self.assertTrue(c.closed(5))
            self.assertEqual(sha(self.srv.read("q%d.bin" % i)), sha(data))

    def test_quit_during_a_download_waits_for_its_end(self):
        # RFC 959 4.1.1: the connection stays open for the transfer's reply, then closes.
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.send("QUIT\r\n")
        c.sock.settimeout(0.5)
        with self.assertRaises(socket.timeout):  # no 426: the file goes on
            c.sock.recv(4096)
        rest = recv_all(ds, timeout=30)
        self.assertEqual(len(rest), BIG - (1 << 20))
        ds.close()
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(2)], [226, 221])
        self.assertTrue(c.closed(5))

    def test_an_abor_behind_quit_does_not_cut_the_transfer(self):
        # After QUIT the client's session is over once the transfer ends: an ABOR behind it
        # is never run, so it neither cuts the file nor goes unanswered after a 426.
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.send("QUIT\r\nABOR\r\n")
        rest = recv_all(ds, timeout=30)
        self.assertEqual(len(rest), BIG - (1 << 20))
        ds.close()
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(2)], [226, 221])
        self.assertTrue(c.closed(5))

    def test_quit_pipelined_behind_retr_gets_the_file(self):
        self.srv.write("small.bin", data_bytes(300000, 3))
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        port = pasv_port(c.cmd("PASV")[1])
        c.send("RETR small.bin\r\nQUIT\r\n")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ds:
            got = recv_all(ds, timeout=10)
        self.assertEqual(got, data_bytes(300000, 3))
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(3)], [150, 226, 221])
        self.assertTrue(c.closed(5))

    def test_quit_during_a_stalled_download_ends_at_the_data_timeout(self):
        srv = self.start_server(args=["--data-timeout", "1"])
        srv.make_sparse("big.bin", BIG)
        c = srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.assertEqual(c.cmd("RETR big.bin")[0], 150)
        c.send("QUIT\r\n")  # and never read the data
        codes = [c.reply(timeout=15)[0] for _ in range(2)]
        self.assertEqual(codes[1], 221, codes)
        self.assertIn(codes[0], (421, 426), codes)
        self.assertTrue(c.closed(5))
        ds.close()

    def test_control_lost_during_retr(self):
        c = self.srv.control()
        c.login()
        ds = self.start_retr(c)
        c.close()
        # the server must drop the data connection too
        ds.settimeout(10)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 10:
                if not ds.recv(1 << 20):
                    break
        except OSError:
            pass
        self.assertLess(time.monotonic() - t0, 10, "data connection kept after control loss")
        ds.close()

    def test_stalled_reader_does_not_slow_others_or_grow_memory(self):
        data = self.srv.make_file("small.bin", 4 << 20, seed=3)
        staller = self.srv.control()
        staller.login()
        ds = self.start_retr(staller, read=64 << 10)
        time.sleep(0.3)
        rss0 = self.srv.rss_kib()
        f = self.srv.ftp()
        t0 = time.monotonic()
        for _ in range(3):
            self.assertEqual(sha(retr(f, "small.bin")), sha(data))
        took = time.monotonic() - t0
        self.assertLess(took, 8.0, "a stalled reader slowed another client")
        time.sleep(0.5)
        if not self.srv.sanitized():
            self.assertLess(self.srv.rss_kib() - rss0, 16 << 10, "server memory grew")
        code, text = staller.cmd("STAT", timeout=5)
        self.assertEqual(code, 211, text)
        staller.send("ABOR\r\n")
        ds.close()


def server_send_queue(ds):
    """Bytes the server's end of data socket `ds` holds unacknowledged or unsent (tx_queue in
    /proc/net/tcp), or None when that socket is no longer established."""
    local, peer = ds.getsockname()[1], ds.getpeername()[1]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            if (int(col[1].rsplit(":", 1)[1], 16) == peer and
                    int(col[2].rsplit(":", 1)[1], 16) == local and col[3] == "01"):
                return int(col[4].split(":")[0], 16)
    return None


def small_window_retr(test, name, size):
    """Makes a file of size bytes, logs in and starts its RETR on a data connection with a
    64 KiB receive buffer; returns the control connection, the data socket and the bytes."""
    data = test.srv.make_file(name, size, seed=5)
    c = test.srv.control()
    c.login()
    c.cmd("TYPE I")
    ds = c.pasv()
    ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    code, text = c.cmd("RETR " + name)
    test.assertEqual(code, 150, text)
    return c, ds, data


class TestSendQueue(ServerTestCase):
    """A download's socket holds at most about 128 KiB it has not sent (TCP_NOTSENT_LOWAT):
    the server sends its data itself instead of queueing megabytes for the client's ACKs to
    push out, and the 226 waits until the last byte has left."""

    def start(self, name, size):
        return small_window_retr(self, name, size)

    def test_stalled_reader_leaves_little_queued(self):
        c, ds, data = self.start("q.bin", 4 << 20)
        got = recv_exactly(ds, 64 << 10)
        time.sleep(0.5)  # the reader stalls; the server fills what its socket takes
        queued = server_send_queue(ds)
        self.assertIsNotNone(queued, "the server's data socket is gone")
        self.assertLess(queued, 256 << 10, "a stalled download queued %d bytes" % queued)
        got += recv_all(ds)
        self.assertEqual(sha(got), sha(data))
        self.assertEqual(c.reply(timeout=10)[0], 226)

    def test_226_waits_until_the_data_has_left(self):
        c, ds, data = self.start("m.bin", 1 << 20)
        with self.assertRaises(socket.timeout, msg="226 came while the data sat unsent"):
            c.reply(timeout=0.5)
        self.assertEqual(sha(recv_all(ds)), sha(data))
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 226, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_reset_while_the_end_waits_is_a_failure(self):
        # 128 KiB: all of it goes into the socket at once (it may hold that much unsent beside
        # the client's window), so the server reaches the end's wait while the client, whose
        # window is smaller, has read nothing
        c, ds, _ = self.start("r.bin", 128 << 10)
        with self.assertRaises(socket.timeout):
            c.reply(timeout=0.5)
        ds.close()  # unread data: the kernel resets the connection
        code, text = c.reply(timeout=5)
        self.assertEqual(code, 426, text)
        self.assertIn("Connection closed", text)
        self.assertEqual(c.cmd("NOOP")[0], 200)


class TestSlowReaderAtTheEnd(ServerTestCase):
    """A client reading the last bytes slowly is making progress, though the server has
    nothing left to hand to sendfile: the data timeout must not end its download."""
    server_kwargs = {"args": ["--data-timeout", "2"]}

    def test_slow_reader_gets_everything_and_226(self):
        c, ds, data = small_window_retr(self, "s.bin", 256 << 10)
        got = b""
        while len(got) < len(data):  # 64 KiB/s: the last 190 KiB or so take about 3 s
            chunk = ds.recv(16 << 10)
            if not chunk:
                break
            got += chunk
            time.sleep(0.25)
        got += recv_all(ds)
        self.assertEqual(sha(got), sha(data))
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 226, text)


    def test_slow_reader_in_the_middle_is_not_timed_out(self):
        # 32 KiB/s for 5 s, over twice the data timeout: the server writes nothing while the
        # client drains its queue, but the client keeps taking bytes, so the download goes on
        c, ds, data = small_window_retr(self, "m.bin", 8 << 20)
        got = b""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            chunk = ds.recv(8 << 10)
            if not chunk:
                break
            got += chunk
            time.sleep(0.25)
        self.assertLess(len(got), len(data), "the slow phase should not have reached the end")
        got += recv_all(ds)
        self.assertEqual(sha(got), sha(data))
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 226, text)


class TestDataTimeout(ServerTestCase):
    server_kwargs = {"args": ["--data-timeout", "1"]}

    def test_stalled_transfer_times_out(self):
        self.srv.make_sparse("big.bin", BIG)
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.assertEqual(c.cmd("RETR big.bin")[0], 150)
        recv_exactly(ds, 1 << 16)
        t0 = time.monotonic()
        code, text = c.reply(timeout=10)  # no reading: the transfer stalls
        self.assertIn(code, (426, 421), text)
        self.assertLess(time.monotonic() - t0, 6)
        ds.close()

    def test_pasv_never_connected_times_out(self):
        self.srv.write("x.bin", b"x")
        c = self.srv.control()
        c.login()
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227)
        c.send("RETR x.bin\r\n")
        code, text = c.reply(timeout=10)
        if code in (125, 150):
            code, text = c.reply(timeout=10)
        self.assertEqual(code, 425, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_close_with_commands_behind_a_transfer_ends_the_session(self):
        # The client is gone: the listing waiting for its data connection is dropped at once,
        # not at the data timeout, and the DELE queued behind it never runs. Also when the
        # lines behind it are more than the server reads ahead (it then sees the close
        # without reading up to it).
        for i, filler in enumerate(("", "NOOP\r\n" * 2000)):
            self.srv.write("keep.txt", b"still here")
            c = self.srv.control()
            c.login()
            port = pasv_port(c.cmd("PASV")[1])
            c.send("LIST\r\n" + filler + "NOOP\r\nDELE keep.txt\r\n")
            time.sleep(0.3)
            c.close()
            # "disconnected" is logged once the session and its passive listener are closed
            def gone():
                text = self.srv.log_text()
                return (text.count("commands waiting") == i + 1
                        and ": disconnected" in text.rsplit("commands waiting", 1)[-1])
            self.assertTrue(wait_for(gone, 0.9), self.srv.log_text()[-2000:])
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            time.sleep(1.5)  # past the data timeout
            self.assertEqual(self.srv.read("keep.txt"), b"still here")

    def test_the_server_goes_on_after_such_a_close_on_both_backends(self):
        # the closed session's fd must leave the event loop entirely: its number comes back
        # for the next passive listener
        for backend in ("poll", "epoll"):
            os.environ["FTP_EV_BACKEND"] = backend
            try:
                srv = self.start_server(args=["--data-timeout", "5"])
            finally:
                del os.environ["FTP_EV_BACKEND"]
            # "ready" is logged after "listening on", which start_server waits for
            self.assertTrue(srv.wait_log(r"\(%s backend\)" % backend), srv.log_text())
            f = srv.ftp()  # logged in before: its next passive listener takes the freed fd
            c = srv.control()
            c.login()
            c.cmd("PASV")
            c.send("LIST\r\n" + "NOOP\r\n" * 2000)
            time.sleep(0.3)
            c.close()
            # "commands waiting" is logged just before the session closes: its fd is free
            # once "disconnected" follows (f stays connected)
            def gone():
                text = srv.log_text()
                return ": disconnected" in text.partition("commands waiting")[2]
            self.assertTrue(wait_for(gone, 2), srv.log_text()[-2000:])
            for _ in range(3):
                self.assertEqual(f.nlst(), [])
            self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_quit_behind_an_upload_keeps_it_after_a_close(self):
        # "put file; bye" with the data connection opened after the control side closed
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        port = pasv_port(c.cmd("PASV")[1])
        c.send("STOR late.bin\r\nQUIT\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
        data = data_bytes(200000, 7)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ds:
            ds.sendall(data)
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(3)], [150, 226, 221])
        self.assertEqual(sha(self.srv.read("late.bin")), sha(data))


if __name__ == "__main__":
    unittest.main()
