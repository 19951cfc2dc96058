"""Transfers with ftplib and raw sockets: binary and ASCII both ways, resume (REST) in both
directions, APPE, STOU, SIZE, MDTM, passive (PASV, EPSV, EPSV ALL) and active (PORT, EPRT)."""
import ftplib
import os
import re
import socket
import time
import unittest

from ftpd_harness import (ServerTestCase, data_bytes, free_port, pasv_port, recv_all, reply,
                          reset_close, retr, sha, stor)


def text_lines(n, seed=0):
    """ASCII text with LF line ends (no CR), lines of varying length."""
    import random
    r = random.Random(seed)
    out = []
    for i in range(n):
        out.append(("line %d " % i + "abcdefghijklmnopqrstuvwxyz" * r.randint(0, 6)).encode())
    return b"\n".join(out) + b"\n"


class TestTransferLog(ServerTestCase):
    """The operator's log: one line per transfer, with its command, where an upload started,
    and why a failed one failed."""

    def test_lines_name_the_command_and_the_failure(self):
        self.srv.write("a.txt", b"12345")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "a.txt", b"678", cmd="APPE")
        self.assertTrue(self.srv.wait_log(r"APPE /a\.txt from byte 5 ok: 3 bytes"),
                        self.srv.log_text()[-2000:])
        # a resumed download says where it started, or its bytes read as a file cut short
        self.assertEqual(retr(f, "a.txt", rest=2), b"345678")
        self.assertTrue(self.srv.wait_log(r"RETR /a\.txt from byte 2 ok: 6 bytes"),
                        self.srv.log_text()[-2000:])
        # a data connection reset mid-upload: the line gives the reply the client got
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR cut.bin")[0], 150)
        ds.sendall(b"x" * 100000)
        time.sleep(0.2)
        reset_close(ds)
        code, text = c.reply()
        self.assertEqual(code, 426, text)
        self.assertTrue(self.srv.wait_log(
            r"STOR /cut\.bin failed: \d+ bytes in .*: 426 Connection closed; transfer aborted"),
            self.srv.log_text()[-2000:])


class TestNoDataConnection(ServerTestCase):
    """A data connection that never comes: the client's 425 has a line in the log too, which
    names the file, or the operator of a client behind a firewall (active mode's classic
    failure) finds nothing there but the login."""
    server_kwargs = {"args": ["--data-timeout", "1"]}

    def test_refused_port_and_missing_pasv_client_are_logged(self):
        self.srv.write("a.txt", b"12345")
        closed = free_port()  # nothing listens there: the connect is refused
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        for cmd in ("RETR a.txt", "STOR up.txt", "LIST"):
            self.assertEqual(c.cmd("PORT 127,0,0,1,%d,%d" % (closed >> 8, closed & 255))[0], 200)
            code, text = c.cmd(cmd)
            self.assertEqual(code, 425, text)
        self.assertEqual(c.cmd("PASV")[0], 227)  # and no client connects to its port
        code, text = c.cmd("RETR a.txt", timeout=10)
        self.assertEqual(code, 425, text)
        for line in (r"RETR /a\.txt failed before any data moved: 425 Can't open data "
                     r"connection: Connection refused\.$",
                     r"STOR /up\.txt failed before any data moved: 425 .*refused\.$",
                     r"LIST / failed before any data moved: 425 .*refused\.$",
                     r"RETR /a\.txt failed before any data moved: 425 Can't open data "
                     r"connection: timed out\.$"):
            self.assertTrue(self.srv.wait_log(line), line + "\n" + self.srv.log_text()[-2000:])
        self.assertFalse(self.srv.exists("up.txt"))
        self.assertEqual(self.srv.internal_files(), [])


class TestPassiveRangeExhausted(ServerTestCase):
    def test_refusal_is_logged_for_the_operator(self):
        # one passive port for everyone: the second session's PASV finds it taken
        port = free_port()
        srv = self.start_server(args=["--pasv-ports", "%d-%d" % (port, port)])
        a, b = srv.control(), srv.control()
        a.login()
        b.login()
        code, text = a.cmd("PASV")
        self.assertEqual(code, 227, text)
        code, text = b.cmd("EPSV")
        self.assertEqual(code, 425, text)
        self.assertIn("Cannot open passive port", text)
        self.assertTrue(srv.wait_log(r"cannot open a passive port: .*--pasv-ports %d-%d"
                                     % (port, port)), srv.log_text()[-2000:])


class TestBinary(ServerTestCase):
    def test_retr_of_a_fifo_is_refused_without_blocking(self):
        # Opening a FIFO for reading blocks until a writer comes: the server must neither
        # block its loop on it nor send it.
        os.mkfifo(self.srv.local("pipe"))
        self.srv.chown(self.srv.local("pipe"))
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        t0 = time.monotonic()
        with self.assertRaises(ftplib.error_perm) as cm:
            f.retrbinary("RETR pipe", lambda b: None)
        self.assertTrue(str(cm.exception).startswith("550"), str(cm.exception))
        self.assertLess(time.monotonic() - t0, 5)
        g = self.srv.ftp()
        self.assertEqual(reply(g, "NOOP")[0], 200)

    def test_roundtrip_1mib(self):
        data = data_bytes(1 << 20, 1)
        f = self.srv.ftp()
        stor(f, "up.bin", data)
        self.assertEqual(sha(self.srv.read("up.bin")), sha(data))
        self.assertEqual(sha(retr(f, "up.bin")), sha(data))

    def test_binary_keeps_crlf_and_nul(self):
        data = b"a\r\nb\nc\rd\x00\xff\r\n" * 1000
        f = self.srv.ftp()
        stor(f, "crlf.bin", data)
        self.assertEqual(self.srv.read("crlf.bin"), data)
        self.assertEqual(retr(f, "crlf.bin"), data)

    def test_empty_file(self):
        self.srv.write("empty.bin", b"")
        f = self.srv.ftp()
        self.assertEqual(retr(f, "empty.bin"), b"")
        stor(f, "empty2.bin", b"")
        self.assertTrue(self.srv.exists("empty2.bin"))
        self.assertEqual(self.srv.read("empty2.bin"), b"")
        self.assertEqual(f.size("empty2.bin"), 0)

    def test_large_download_and_upload(self):
        data = self.srv.make_file("big.bin", 32 << 20, seed=2)
        f = self.srv.ftp(timeout=30)
        got = retr(f, "big.bin", blocksize=1 << 20)
        self.assertEqual(len(got), len(data))
        self.assertEqual(sha(got), sha(data))
        up = data_bytes(24 << 20, 3)
        stor(f, "bigup.bin", up, blocksize=1 << 20)
        self.assertEqual(sha(self.srv.read("bigup.bin")), sha(up))

    def test_overwrite_existing(self):
        self.srv.make_file("o.bin", 5000, seed=4)
        new = data_bytes(100, 5)
        f = self.srv.ftp()
        stor(f, "o.bin", new)
        self.assertEqual(self.srv.read("o.bin"), new)
        self.assertEqual(retr(f, "o.bin"), new)

    def test_many_transfers_one_session(self):
        f = self.srv.ftp()
        for i in range(40):
            d = data_bytes(1000 + i * 517, 100 + i)
            stor(f, "m%d.bin" % i, d)
            self.assertEqual(retr(f, "m%d.bin" % i), d)

    def test_subdir_and_absolute_paths(self):
        d = self.srv.make_file("dir/sub/x.bin", 3000, seed=6)
        f = self.srv.ftp()
        self.assertEqual(retr(f, "dir/sub/x.bin"), d)
        self.assertEqual(retr(f, "/dir/sub/x.bin"), d)
        f.cwd("dir/sub")
        self.assertEqual(retr(f, "x.bin"), d)
        self.assertEqual(retr(f, "../sub/x.bin"), d)
        stor(f, "/dir/y.bin", b"yy")
        self.assertEqual(self.srv.read("dir/y.bin"), b"yy")

    def test_names_with_spaces_and_utf8(self):
        f = self.srv.ftp()
        for name in ("with space.txt", "h\u00e9llo-\u00fc\u6f22.txt", "semi;colon.txt"):
            stor(f, name, name.encode())
            self.assertEqual(self.srv.read(name), name.encode())
            self.assertEqual(retr(f, name), name.encode())

    def test_retr_errors(self):
        self.srv.mkdir("adir")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for path in ("nosuch.bin", "adir", "nodir/x"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, "RETR " + path), 550, path)
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_stor_into_missing_dir(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "STOR nodir/x.bin"), (550, 553))
        self.assertFalse(self.srv.exists("nodir"))
        self.srv.mkdir("adir")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "STOR adir"), (550, 553))
        self.assertTrue(os.path.isdir(self.srv.local("adir")))

    def test_upload_to_a_directory_says_so(self):
        # "/" and "." have no file name: this was a 554 about REST, which nobody had sent
        self.srv.mkdir("adir")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for cmd in ("STOR /", "STOR .", "APPE /", "APPE .", "STOR adir/..", "STOR adir/"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            code, text = reply(f, cmd)
            self.assertEqual(code, 550, "%s -> %s" % (cmd, text))
            self.assertIn("Is a directory", text, cmd)
        f.cwd("adir")
        self.assertEqual(reply(f, "PASV")[0], 227)
        code, text = reply(f, "STOR .")
        self.assertEqual(code, 550, text)
        self.assertIn("Is a directory", text)
        self.assertEqual(os.listdir(self.srv.local("adir")), [])
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_upload_name_ending_in_slash_refused(self):
        # path resolution drops a trailing '/': "new/" used to create (or replace) "new"
        self.srv.write("keep.txt", b"keep")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for cmd in ("STOR new/", "APPE new/", "STOU new/", "STOR keep.txt/", "APPE keep.txt/",
                    "STOR new/."):
            self.assertEqual(reply(f, "PASV")[0], 227)
            code, text = reply(f, cmd)
            self.assertIn(code, (550, 553), "%s -> %s" % (cmd, text))
        self.assertFalse(self.srv.exists("new"))
        self.assertEqual(self.srv.read("keep.txt"), b"keep")
        self.assertEqual(sorted(os.listdir(self.srv.root)), ["keep.txt"])
        self.assertEqual(reply(f, "NOOP")[0], 200)

    def test_transfer_without_data_setup(self):
        self.srv.write("x.txt", b"x")
        c = self.srv.control()
        c.login()
        code, text = c.cmd("RETR x.txt")
        self.assertIn(code, (425, 503), text)
        self.assertEqual(c.cmd("NOOP")[0], 200)


class TestAscii(ServerTestCase):
    def test_ascii_download_converts_lf(self):
        data = text_lines(20000, 1)
        self.srv.write("t.txt", data)
        f = self.srv.ftp()
        lines = []
        f.retrlines("RETR t.txt", lines.append)
        self.assertEqual(b"\n".join(l.encode() for l in lines) + b"\n", data)
        # raw bytes on the wire are CRLF
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR t.txt")[0], 150)
        wire = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(wire, data.replace(b"\n", b"\r\n"))

    def test_ascii_download_keeps_crlf_already_in_the_file(self):
        """A text file stored with CRLF (uploaded in binary from Windows) goes out with one CR
        per line, not CR CR LF, which clients turn into an empty line after every line
        (proftpd and pyftpdlib do the same); a lone CR stays as it is."""
        # lines of odd lengths, so CR and LF fall on both sides of the server's reads
        dos = b"".join(b"d" * (i % 7) + b"\r\n" for i in range(150000))
        data = dos + b"unix\nlone\rcr\n"
        self.srv.write("dos.txt", data)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR dos.txt")[0], 150)
        wire = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(wire, dos + b"unix\r\nlone\rcr\r\n")
        # resumed between a CR and its LF: the LF is not given a CR of its own
        ds = c.pasv()
        self.assertEqual(c.cmd("REST 2")[0], 350)
        self.assertEqual(c.cmd("RETR dos.txt")[0], 150)
        wire = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(wire, dos[2:] + b"unix\r\nlone\rcr\r\n")

    def test_size_in_ascii_is_what_an_ascii_download_sends(self):
        """RFC 3659 section 4: SIZE counts the transfer in the TYPE in force. ftplib's size()
        after a retrlines() asks in TYPE A, and curl 7.73 to 7.75 (-B) before an ASCII
        download: a 550 (ProFTPD's answer) would fail both."""
        # a CRLF split across the server's 32 KiB reads, bare LFs, a lone CR, a leading LF
        data = b"\n" + b"x" * 32766 + b"\r\n" + b"unix\nlone\rcr\n" + b"dos\r\n" * 3000
        self.srv.write("mixed.txt", data)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        code, text = c.cmd("SIZE mixed.txt")
        self.assertEqual(code, 213, text)
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR mixed.txt")[0], 150)
        wire = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(int(text[4:]), len(wire))
        self.assertEqual(len(wire), len(data) + 3)
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(c.cmd("SIZE mixed.txt"), (213, "213 %d" % len(data)))

    def test_size_in_ascii_of_a_file_too_large_to_count(self):
        # counting reads the file: beyond 64 MiB the answer is ProFTPD's, a 550
        self.srv.make_sparse("huge.txt", (64 << 20) + 1)
        self.srv.make_sparse("edge.txt", 64 << 20)
        f = self.srv.ftp()
        f.voidcmd("TYPE A")
        self.assertEqual(reply(f, "SIZE edge.txt"), (213, "213 %d" % (64 << 20)))
        code, text = reply(f, "SIZE huge.txt")
        self.assertEqual(code, 550, text)
        self.assertIn("TYPE I", text)
        self.assertCode(reply(f, "SIZE nosuch.txt"), 550)
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("huge.txt"), (64 << 20) + 1)

    def retr_ascii(self, c, name, rest=None):
        """RETR name in the TYPE in force on control c: (the 150's byte count or None, the
        bytes received)."""
        ds = c.pasv()
        if rest is not None:
            self.assertEqual(c.cmd("REST %d" % rest)[0], 350)
        code, text = c.cmd("RETR " + name, timeout=20)
        self.assertEqual(code, 150, text)
        wire = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        m = re.search(r"\((\d+) bytes\)\.$", text)
        return (int(m.group(1)) if m else None), wire

    def test_150_of_an_ascii_download_counts_what_it_sends(self):
        """The "(N bytes)" that ends a RETR's 150 is what lftp (without SIZE) and wget take
        for the size to expect: in TYPE A it is the converted size, from a REST offset too,
        not the file's own."""
        data = text_lines(3000, 4)
        dos = b"dos\r\n" * 100 + b"unix\n"
        self.srv.write("t.txt", data)
        self.srv.write("dos.txt", dos)
        self.srv.write("empty.txt", b"")
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        for name, rest, want in (("t.txt", None, data.replace(b"\n", b"\r\n")),
                                 ("dos.txt", None, dos[:-1] + b"\r\n"),
                                 ("dos.txt", 4, dos[4:-1] + b"\r\n"),  # at the LF of a CRLF
                                 ("t.txt", 10, data[10:].replace(b"\n", b"\r\n")),
                                 ("empty.txt", None, b"")):
            with self.subTest(name=name, rest=rest):
                announced, wire = self.retr_ascii(c, name, rest)
                self.assertEqual(wire, want)
                self.assertEqual(announced, len(wire))
        # TYPE I: the file's own bytes, as before
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(self.retr_ascii(c, "t.txt"), (len(data), data))

    def test_150_of_an_ascii_download_too_large_to_count_has_no_count(self):
        """Beyond the 64 MiB that SIZE counts, the 150 gives no byte count rather than the
        file's own, which is not what the client receives."""
        self.srv.make_sparse("huge.txt", (64 << 20) + 1)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        ds = c.pasv()
        code, text = c.cmd("RETR huge.txt", timeout=20)
        self.assertEqual(code, 150, text)
        self.assertNotIn("bytes", text)
        c.send("ABOR\r\n")
        self.assertEqual(c.reply(timeout=10)[0], 426)
        self.assertEqual(c.reply(timeout=10)[0], 226)
        ds.close()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        code, text = c.cmd("RETR huge.txt", timeout=20)
        self.assertTrue(text.endswith("(%d bytes)." % ((64 << 20) + 1)), text)
        ds.close()
        c.reply(timeout=10)

    def test_size_in_ascii_follows_every_change_of_the_file(self):
        """The ASCII sizes are kept for files not changed in the last 2 s (ftpd.8): asked
        again and again, they are not read again. A change of the same size (rewritten in
        place, its mtime set back so that only its ctime tells; or replaced by another file of
        the same size and mtime) is seen at once, by SIZE and by the 150 of a RETR."""
        one = b"a\nb\nc\nd\n"  # 8 bytes, 4 LFs: 12 in TYPE A
        two = b"ab\ncdef\n"  # 8 bytes, 2 LFs: 10
        three = b"abcdefg\n"  # 8 bytes, 1 LF: 9
        for name in ("inplace.txt", "touched.txt", "replaced.txt"):
            self.srv.write(name, one)
        time.sleep(2.2)  # old enough to be kept
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        for name in ("inplace.txt", "touched.txt", "replaced.txt"):
            for _ in range(2):
                self.assertEqual(c.cmd("SIZE " + name), (213, "213 12"))
            self.assertEqual(self.retr_ascii(c, name), (12, one.replace(b"\n", b"\r\n")))
        p = self.srv.local("inplace.txt")
        with open(p, "r+b") as fh:
            fh.write(two)
        p = self.srv.local("touched.txt")
        st = os.stat(p)
        with open(p, "r+b") as fh:
            fh.write(three)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual(os.stat(p).st_mtime_ns, st.st_mtime_ns)
        p = self.srv.local("replaced.txt")
        st = os.stat(p)
        self.srv.write("new.tmp", three)
        os.utime(self.srv.local("new.tmp"), ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(self.srv.local("new.tmp"), p)
        for name, now in (("inplace.txt", two), ("touched.txt", three), ("replaced.txt", three)):
            with self.subTest(name=name):
                want = now.replace(b"\n", b"\r\n")
                self.assertEqual(c.cmd("SIZE " + name), (213, "213 %d" % len(want)))
                self.assertEqual(self.retr_ascii(c, name), (len(want), want))

    def test_ascii_upload_converts_crlf(self):
        data = text_lines(20000, 2)
        wire = data.replace(b"\n", b"\r\n")
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE A")[0], 200)
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR t.txt")[0], 150)
        # odd-sized pieces so that CR and LF fall into different reads
        view = memoryview(wire)
        pos = 0
        step = 4093
        while pos < len(view):
            ds.sendall(view[pos:pos + step])
            pos += step
        # and a few CRLFs split on purpose, with pauses
        for piece in (b"tail one\r", b"\ntail two\r", b"\n"):
            ds.sendall(piece)
            time.sleep(0.05)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(self.srv.read("t.txt"), data + b"tail one\ntail two\n")

    def test_ftplib_storlines(self):
        import io
        data = text_lines(500, 3)
        f = self.srv.ftp()
        f.storlines("STOR s.txt", io.BytesIO(data))
        self.assertEqual(self.srv.read("s.txt"), data)

    def test_type_switch_per_transfer(self):
        data = b"one\ntwo\n"
        self.srv.write("sw.txt", data)
        c = self.srv.control()
        c.login()
        for typ, want in (("A", b"one\r\ntwo\r\n"), ("I", data), ("A", b"one\r\ntwo\r\n")):
            c.cmd("TYPE " + typ)
            ds = c.pasv()
            self.assertEqual(c.cmd("RETR sw.txt")[0], 150)
            self.assertEqual(recv_all(ds), want)
            ds.close()
            self.assertEqual(c.reply()[0], 226)


class TestFileShrinksDuringDownload(ServerTestCase):
    """A file truncated while a RETR sends it: the client must not get a 226 for fewer bytes
    than the 150 announced (it would keep them as the whole file, and a resume would take the
    cut copy as complete). The rate cap keeps the server well short of the end meanwhile."""

    server_kwargs = {"args": ["--max-rate", "1M"]}

    def shrink_during_retr(self, f, name, mode, local):
        f.voidcmd("TYPE " + mode)
        conn = f.transfercmd("RETR " + name)
        conn.settimeout(20)
        got = conn.recv(65536)
        self.assertTrue(got)
        os.truncate(local, 100000)
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            got += b
        conn.close()
        with self.assertRaises(ftplib.error_temp) as cm:
            f.voidresp()
        self.assertIn("shrank while being sent", str(cm.exception))
        self.assertEqual(reply(f, "NOOP")[0], 200)  # the session goes on
        return got

    def test_binary_and_ascii(self):
        for mode in ("I", "A"):
            with self.subTest(mode=mode):
                data = self.srv.make_file("s.bin", 8 << 20, seed=11)
                f = self.srv.ftp()
                got = self.shrink_during_retr(f, "s.bin", mode, self.srv.local("s.bin"))
                if mode == "I":
                    self.assertEqual(got, data[:len(got)])
                f.quit()
        self.assertTrue(self.srv.wait_log(r"RETR /s\.bin .*451 /s\.bin shrank"),
                        self.srv.log_text()[-2000:])

    def test_home_on_tmpfs(self):
        if not os.path.isdir("/dev/shm"):
            self.skipTest("no tmpfs at /dev/shm")
        import shutil
        import tempfile
        home = tempfile.mkdtemp(prefix="ftpd-e2e-shm-", dir="/dev/shm")
        self.addCleanup(shutil.rmtree, home, True)
        os.chmod(home, 0o777)
        srv = self.start_server(users=[("mem", "pw-mem", "elradfmwTM", home)],
                                args=["--max-rate", "1M"])
        local = os.path.join(home, "s.bin")
        with open(local, "wb") as fh:
            fh.write(data_bytes(8 << 20, seed=12))
        if srv.uid is not None:
            os.chown(local, srv.uid, srv.gid)
        self.shrink_during_retr(srv.ftp("mem", "pw-mem"), "s.bin", "I", local)


class TestFileGrowsDuringDownload(ServerTestCase):
    """A file appended to while a RETR sends it (a log being written): the download sends the
    file as it was at the 150, whose byte count clients check, in ASCII as in binary."""

    server_kwargs = {"args": ["--max-rate", "1M"]}

    def test_ascii_and_binary_send_what_the_150_announced(self):
        data = text_lines(20000, seed=5)  # about 1.7 MiB
        for mode, want in (("A", data.replace(b"\n", b"\r\n")), ("I", data)):
            with self.subTest(mode=mode):
                self.srv.write("log.txt", data)
                f = self.srv.ftp()
                f.voidcmd("TYPE " + mode)
                conn = f.transfercmd("RETR log.txt")
                conn.settimeout(20)
                got = conn.recv(65536)
                with open(self.srv.local("log.txt"), "ab") as fh:
                    fh.write(b"appended line\n" * 10000)
                got += recv_all(conn)
                conn.close()
                self.assertEqual(f.voidresp()[:3], "226")
                self.assertEqual(len(got), len(want))
                self.assertEqual(sha(got), sha(want))
                f.quit()


class TestResume(ServerTestCase):
    def test_rest_retr(self):
        data = self.srv.make_file("r.bin", 100000, seed=7)
        f = self.srv.ftp()
        self.assertEqual(retr(f, "r.bin", rest=12345), data[12345:])
        self.assertEqual(retr(f, "r.bin", rest=0), data)
        self.assertEqual(retr(f, "r.bin", rest=100000), b"")
        # REST applies to one transfer only
        self.assertEqual(retr(f, "r.bin"), data)

    def test_rest_reply_350(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        code, text = reply(f, "REST 100")
        self.assertEqual(code, 350, text)

    def test_rest_stor_resumes(self):
        full = data_bytes(300000, 8)
        self.srv.write("u.bin", full[:120000])
        f = self.srv.ftp()
        stor(f, "u.bin", full[120000:], rest=120000)
        self.assertEqual(sha(self.srv.read("u.bin")), sha(full))

    def test_rest_stor_inside_file_truncates_after(self):
        old = data_bytes(1000, 9)
        self.srv.write("v.bin", old)
        f = self.srv.ftp()
        stor(f, "v.bin", b"N" * 300, rest=500)
        self.assertEqual(self.srv.read("v.bin"), old[:500] + b"N" * 300)

    def test_rest_stor_beyond_end_refused(self):
        old = data_bytes(1000, 10)
        self.srv.write("w.bin", old)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertEqual(reply(f, "REST 5000")[0], 350)
        code, text = reply(f, "STOR w.bin")
        self.assertGreaterEqual(code, 500, text)
        self.assertEqual(self.srv.read("w.bin"), old)

    def test_appe(self):
        a = data_bytes(70000, 11)
        b = data_bytes(50000, 12)
        self.srv.write("a.bin", a)
        f = self.srv.ftp()
        stor(f, "a.bin", b, cmd="APPE")
        self.assertEqual(sha(self.srv.read("a.bin")), sha(a + b))
        stor(f, "new-by-appe.bin", b, cmd="APPE")
        self.assertEqual(self.srv.read("new-by-appe.bin"), b)


class TestInfo(ServerTestCase):
    def test_size(self):
        self.srv.make_file("s.bin", 123456)
        self.srv.mkdir("d")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("s.bin"), 123456)
        self.assertEqual(reply(f, "SIZE s.bin"), (213, "213 123456"))
        self.assertCode(reply(f, "SIZE nosuch"), 550)
        self.assertCode(reply(f, "SIZE d"), 550)

    def test_mdtm(self):
        self.srv.write("t.bin", b"x", mtime=1700000000)  # 2023-11-14 22:13:20 UTC
        f = self.srv.ftp()
        self.assertEqual(reply(f, "MDTM t.bin"), (213, "213 20231114221320"))
        self.assertCode(reply(f, "MDTM nosuch"), 550)

    def test_stou(self):
        data = data_bytes(5000, 13)
        self.srv.write("taken.bin", b"old")
        f = self.srv.ftp()
        before = set(os.listdir(self.srv.root))
        f.voidcmd("TYPE I")
        conn, _ = f.ntransfercmd("STOU")
        conn.sendall(data)
        conn.close()
        resp = f.voidresp()
        self.assertTrue(resp.startswith("226") or resp.startswith("250"), resp)
        new = set(os.listdir(self.srv.root)) - before
        self.assertEqual(len(new), 1, new)
        name = new.pop()
        self.assertEqual(self.srv.read(name), data)
        self.assertEqual(self.srv.read("taken.bin"), b"old")
        # a second STOU with a suggested name that exists never overwrites it
        conn, _ = f.ntransfercmd("STOU taken.bin")
        conn.sendall(b"second")
        conn.close()
        f.voidresp()
        self.assertEqual(self.srv.read("taken.bin"), b"old")

    def test_stou_150_names_the_file(self):
        # RFC 1123 4.1.2.9: "150 FILE: pppp", the rest of the line being the name
        self.srv.mkdir("sub")
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        c.cmd("CWD sub")
        for arg, data in (("", b"first"), (" mine.txt", b"second"), (" mine.txt", b"third")):
            ds = c.pasv()
            code, text = c.cmd("STOU" + arg)
            self.assertEqual(code, 150, text)
            m = re.fullmatch(r"150 FILE: (\S.*)", text)
            self.assertTrue(m, text)
            ds.sendall(data)
            ds.close()
            self.assertEqual(c.reply()[0], 226)
            name = m.group(1)
            self.assertTrue(name.startswith("/sub/"), name)
            self.assertEqual(self.srv.read(name.lstrip("/")), data)
        self.assertEqual(self.srv.read("sub/mine.txt"), b"second")

    def test_stou_with_a_long_taken_name_shortens_it(self):
        # the suggestion takes all 255 bytes a name may have and exists: the unique name
        # keeps as much of it as fits beside the suffix in 255 bytes, cut between
        # characters
        long_name = "\u00e9" * 127 + "x"  # 255 bytes in UTF-8
        self.srv.write(long_name, b"old")
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        code, text = c.cmd("STOU " + long_name)
        self.assertEqual(code, 150, text)
        name = re.fullmatch(r"150 FILE: /(\S.*)", text).group(1)
        self.assertLessEqual(len(name.encode()), 255)
        self.assertTrue(name.startswith("\u00e9" * 120), name)
        ds.sendall(b"new")
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(self.srv.read(name), b"new")
        self.assertEqual(self.srv.read(long_name), b"old")

    def test_stou_under_a_file_says_why(self):
        # no name can be made there: the reply gives the reason at once
        self.srv.write("afile", b"x")
        c = self.srv.control()
        c.login()
        c.pasv()
        code, text = c.cmd("STOU afile/x")
        self.assertEqual(code, 550, text)
        self.assertNotIn("unique", text)


class TestDataConnections(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.data = self.srv.make_file("f.bin", 300000, seed=14)

    def test_pasv(self):
        f = self.srv.ftp()
        code, text = reply(f, "PASV")
        self.assertEqual(code, 227)
        self.assertIn("127,0,0,1", text)
        self.assertEqual(retr(f, "f.bin"), self.data)

    def test_port_active(self):
        f = self.srv.ftp(passive=False)
        self.assertEqual(retr(f, "f.bin"), self.data)
        up = data_bytes(200000, 15)
        stor(f, "port-up.bin", up)
        self.assertEqual(self.srv.read("port-up.bin"), up)
        lines = []
        f.retrlines("LIST", lines.append)
        self.assertTrue(any("f.bin" in l for l in lines), lines)

    def _active(self, c, command):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(10)
        port = ls.getsockname()[1]
        code, text = c.cmd(command % port if "%" in command else command)
        return ls, code, text

    def test_eprt_active(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ls, code, text = self._active(c, "EPRT |1|127.0.0.1|%d|")
        self.assertEqual(code, 200, text)
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        ds, addr = ls.accept()
        ls.close()
        self.assertEqual(addr[0], "127.0.0.1")
        got = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(got, self.data)

    def test_port_raw_upload(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(10)
        p = ls.getsockname()[1]
        code, text = c.cmd("PORT 127,0,0,1,%d,%d" % (p >> 8, p & 255))
        self.assertEqual(code, 200, text)
        self.assertEqual(c.cmd("STOR p.bin")[0], 150)
        ds, _ = ls.accept()
        ls.close()
        ds.sendall(b"active upload")
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(self.srv.read("p.bin"), b"active upload")

    def test_epsv(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.epsv()
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        got = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(got, self.data)
        self.assertEqual(c.cmd("EPSV 1")[0], 229)
        self.assertEqual(c.cmd("EPSV 2")[0], 522)
        # an unknown protocol number is 522 with the usable ones too (RFC 2428), not a 501
        for arg in ("3", "99"):
            code, text = c.cmd("EPSV " + arg)
            self.assertEqual(code, 522, text)
            self.assertIn("(1)", text)
        self.assertEqual(c.cmd("EPSV x")[0], 501)

    def test_epsv_all(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        self.assertEqual(c.cmd("EPSV ALL")[0], 200)
        self.assertGreaterEqual(c.cmd("PASV")[0], 500)
        self.assertGreaterEqual(c.cmd("PORT 127,0,0,1,200,10")[0], 500)
        self.assertGreaterEqual(c.cmd("EPRT |1|127.0.0.1|51210|")[0], 500)
        ds = c.epsv()
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        got = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(got, self.data)

    def test_pasv_again_replaces_listener(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        for _ in range(5):
            code, _ = c.cmd("PASV")
            self.assertEqual(code, 227)
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        self.assertEqual(recv_all(ds), self.data)
        ds.close()
        self.assertEqual(c.reply()[0], 226)


class TestPasvOptions(ServerTestCase):
    def setUp(self):
        self.first = free_port(5)
        self.last = self.first + 4
        self.srv = self.start_server(args=["--pasv-ports", "%d-%d" % (self.first, self.last),
                                           "--pasv-address", "127.0.0.1"])

    def test_pasv_ports_range(self):
        data = self.srv.make_file("r.bin", 10000)
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        for _ in range(8):
            code, text = c.cmd("PASV")
            self.assertEqual(code, 227, text)
            self.assertIn("127,0,0,1,", text)
            port = pasv_port(text)
            self.assertTrue(self.first <= port <= self.last, port)
            code, text = c.cmd("EPSV")
            port = int(re.search(r"\(\|\|\|(\d+)\|\)", text).group(1))
            self.assertTrue(self.first <= port <= self.last, port)
        f = self.srv.ftp()
        for _ in range(10):
            self.assertEqual(retr(f, "r.bin"), data)


if __name__ == "__main__":
    unittest.main()
