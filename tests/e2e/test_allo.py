"""ALLO <bytes> announces the next upload's size (RFC 959). ftpd keeps it for the next
STOR/APPE/STOU of a TYPE I stream-mode session: a data connection that ends after exactly
those bytes is a whole upload, one that ends after fewer was cut (426, the old file kept and
the bytes kept as a partial for a resume). Any transfer command takes it, also one that
fails; without ALLO (or in TYPE A) an upload ends as before."""
import unittest

from ftpd_harness import ServerTestCase, data_bytes, sha, stor


class AlloTest(ServerTestCase):
    def upload(self, name, payload, allo=None, rest=None, type_cmd="TYPE I", cmd="STOR"):
        """ALLO (if given), REST, STOR name on a raw session sending payload, the data
        connection closed normally while the control connection waits: the final reply."""
        c = self.srv.control()
        self.addCleanup(c.close)
        c.login()
        self.assertEqual(c.cmd(type_cmd)[0], 200)
        if allo is not None:
            self.assertCode(c.cmd("ALLO %d" % allo), (200, 202))
        ds = c.pasv()
        if rest is not None:
            self.assertEqual(c.cmd("REST %d" % rest)[0], 350)
        code, text = c.cmd(cmd + " " + name, timeout=20)
        self.assertEqual(code, 150, text)
        ds.sendall(payload)
        ds.close()
        return c, c.reply(timeout=20)

    def test_allo_replies(self):
        c = self.srv.control()
        self.addCleanup(c.close)
        c.login()
        self.assertRegex(c.cmd("ALLO 100")[1], r"^200 ")
        self.assertRegex(c.cmd("ALLO 100 R 512")[1], r"^200 ")
        self.assertRegex(c.cmd("ALLO")[1], r"^202 ")
        for bad in ("ALLO abc", "ALLO -5", "ALLO 10 R", "ALLO 10 X 5", "ALLO 99999999999999999999"):
            self.assertRegex(c.cmd(bad)[1], r"^501 ", bad)

    def test_fewer_bytes_than_announced_keep_the_old_file_and_a_partial(self):
        old = self.srv.make_file("f.bin", 5000, seed=1)
        new = data_bytes(100000, 2)
        c, (code, text) = self.upload("f.bin", new[:40000], allo=len(new))
        self.assertRegex("%d %s" % (code, text), r"^426 ")
        self.assertEqual(self.srv.read("f.bin"), old)
        self.assertLogged(r"STOR /f\.bin.*426")
        # the bytes that came are kept: REST continues them
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "f.bin", new[40000:], rest=40000)
        self.assertEqual(sha(self.srv.read("f.bin")), sha(new))
        self.assertEqual(self.srv.internal_files(), [])

    def test_the_announced_bytes_replace_the_file(self):
        self.srv.make_file("g.bin", 5000, seed=3)
        new = data_bytes(70000, 4)
        c, reply = self.upload("g.bin", new, allo=len(new))
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(sha(self.srv.read("g.bin")), sha(new))
        self.assertEqual(self.srv.internal_files(), [])

    def test_a_line_in_between_or_a_refused_upload_ends_the_announcement(self):
        # A count left over from an upload refused before its handler (no argument) or
        # across an ABOR made a later upload of another size a cut: 426, the file not stored.
        for between in ("STOR", "ABOR", "PWD"):
            c = self.srv.control()
            self.addCleanup(c.close)
            c.login()
            self.assertEqual(c.cmd("TYPE I")[0], 200)
            self.assertCode(c.cmd("ALLO 100"), (200, 202))
            c.cmd(between)
            ds = c.pasv()
            self.assertEqual(c.cmd("STOR n.bin", timeout=20)[0], 150)
            ds.sendall(b"z" * 50)
            ds.close()
            self.assertRegex(c.reply(timeout=20)[1], r"^226 ", between)
            self.assertEqual(self.srv.read("n.bin"), b"z" * 50, between)

    def test_the_set_up_between_allo_and_the_upload_keeps_it(self):
        old = self.srv.make_file("k.bin", 500, seed=7)
        c = self.srv.control()
        self.addCleanup(c.close)
        c.login()
        self.assertCode(c.cmd("ALLO 1000"), (200, 202))
        for line in ("TYPE I", "MODE S", "STRU F", "NOOP"):
            self.assertEqual(c.cmd(line)[0], 200, line)
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR k.bin", timeout=20)[0], 150)
        ds.sendall(b"w" * 400)
        ds.close()
        self.assertRegex(c.reply(timeout=20)[1], r"^426 ")
        self.assertEqual(self.srv.read("k.bin"), old)

    def test_more_bytes_than_announced_are_committed_as_without_allo(self):
        new = data_bytes(3000, 5)
        c, reply = self.upload("m.bin", new, allo=1000)
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(self.srv.read("m.bin"), new)

    def test_allo_is_for_the_next_upload_only(self):
        self.srv.make_file("h.bin", 500, seed=6)
        c = self.srv.control()
        self.addCleanup(c.close)
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertCode(c.cmd("ALLO 10000"), (200, 202))
        # a transfer command that fails (no data channel) takes it all the same
        self.assertRegex(c.cmd("STOR h.bin")[1], r"^425 ")
        for payload in (b"x" * 300, b"y" * 200):  # the second after a whole ALLO'd STOR
            ds = c.pasv()
            self.assertEqual(c.cmd("STOR h.bin", timeout=20)[0], 150)
            ds.sendall(payload)
            ds.close()
            self.assertRegex(c.reply(timeout=20)[1], r"^226 ")
            self.assertEqual(self.srv.read("h.bin"), payload)
            self.assertCode(c.cmd("ALLO 300"), (200, 202))
            ds = c.pasv()
            self.assertEqual(c.cmd("STOR h.bin", timeout=20)[0], 150)
            ds.sendall(b"z" * 300)
            ds.close()
            self.assertRegex(c.reply(timeout=20)[1], r"^226 ")
            self.assertEqual(self.srv.read("h.bin"), b"z" * 300)

    def test_a_download_takes_the_announcement(self):
        self.srv.write("src.txt", b"abc")
        c = self.srv.control()
        self.addCleanup(c.close)
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertCode(c.cmd("ALLO 10000"), (200, 202))
        ds = c.pasv()
        self.assertEqual(c.cmd("RETR src.txt", timeout=20)[0], 150)
        while ds.recv(65536):
            pass
        ds.close()
        self.assertRegex(c.reply(timeout=20)[1], r"^226 ")
        ds = c.pasv()
        self.assertEqual(c.cmd("STOR after.bin", timeout=20)[0], 150)
        ds.sendall(b"q" * 100)
        ds.close()
        self.assertRegex(c.reply(timeout=20)[1], r"^226 ")
        self.assertEqual(self.srv.read("after.bin"), b"q" * 100)

    def test_type_a_ignores_the_announcement(self):
        c, reply = self.upload("a.txt", b"one\r\ntwo\r\n", allo=1000, type_cmd="TYPE A")
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(self.srv.read("a.txt"), b"one\ntwo\n")

    def test_after_rest_the_count_is_of_the_bytes_sent(self):
        full = data_bytes(50000, 7)
        self.srv.write("r.bin", full[:20000])
        c, reply = self.upload("r.bin", full[20000:], allo=30000, rest=20000)
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(sha(self.srv.read("r.bin")), sha(full))

    def test_after_rest_a_whole_file_count_is_not_taken_for_a_cut(self):
        full = data_bytes(50000, 8)
        self.srv.write("w.bin", full[:20000])
        c, reply = self.upload("w.bin", full[20000:], allo=len(full), rest=20000)
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(sha(self.srv.read("w.bin")), sha(full))

    def test_after_rest_fewer_than_either_reading_is_a_cut(self):
        full = data_bytes(50000, 9)
        self.srv.write("s.bin", full[:20000])
        c, reply = self.upload("s.bin", full[20000:25000], allo=30000, rest=20000)
        self.assertRegex(reply[1], r"^426 ")
        self.assertEqual(self.srv.read("s.bin"), full[:20000])

    def test_appe_counts_the_bytes_it_adds(self):
        self.srv.write("p.log", b"a" * 1000)
        c, reply = self.upload("p.log", b"b" * 500, allo=500, cmd="APPE")
        self.assertRegex(reply[1], r"^226 ")
        self.assertEqual(self.srv.read("p.log"), b"a" * 1000 + b"b" * 500)
        # short of 2100 even with the 1500 bytes there counted: a cut
        c, reply = self.upload("p.log", b"c" * 200, allo=2100, cmd="APPE")
        self.assertRegex(reply[1], r"^426 ")
        self.assertEqual(self.srv.read("p.log"), b"a" * 1000 + b"b" * 500)


if __name__ == "__main__":
    unittest.main()
