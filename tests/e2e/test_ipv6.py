"""IPv6: ftpd on [::1], EPSV and EPRT, ftplib and curl; two listeners at once."""
import ftplib
import shutil
import subprocess
import unittest

from ftpd_harness import ServerTestCase, data_bytes, have_ipv6, reply, retr, sha, stor


@unittest.skipUnless(have_ipv6(), "no IPv6 loopback on this machine")
class TestIPv6(ServerTestCase):
    server_kwargs = {"listen": "[::1]:0"}

    def test_listens_on_v6(self):
        self.assertEqual(self.srv.host, "::1")

    def test_ftplib_transfers(self):
        data = self.srv.make_file("v6.bin", 500000, seed=1)
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "v6.bin")), sha(data))  # ftplib uses EPSV on IPv6
        up = data_bytes(300000, 2)
        stor(f, "up6.bin", up)
        self.assertEqual(self.srv.read("up6.bin"), up)
        f.set_pasv(False)  # EPRT |2|::1|port|
        self.assertEqual(sha(retr(f, "v6.bin")), sha(data))

    def test_pasv_refused_or_v4_only(self):
        f = self.srv.ftp()
        code, text = reply(f, "PASV")
        # PASV cannot describe an IPv6 address: refuse it (425 or 5xx)
        self.assertGreaterEqual(code, 400, text)
        # nor can PORT: it says to use EPRT, and is not logged as a PORT to a foreign address
        # (a bounce attempt), which the operator was told for a client using the wrong command
        code, text = reply(f, "PORT 127,0,0,1,200,1")
        self.assertEqual(code, 500, text)
        self.assertIn("use EPRT", text)
        self.assertEqual(reply(f, "NOOP")[0], 200)
        f.quit()
        # the whole session's log, its end included, not what has reached the harness yet
        self.assertNotIn("foreign address", self.srv.settled_log_text(sessions=1))

    def test_eprt_v4_address_refused(self):
        f = self.srv.ftp()
        code, text = reply(f, "EPRT |1|127.0.0.1|50000|")
        self.assertEqual(code, 522, text)  # RFC 2428: with the protocol that can be used
        self.assertTrue(text.endswith("(2)."), text)
        code, text = reply(f, "EPRT |7|::1|50000|")
        self.assertEqual(code, 522, text)
        self.assertTrue(text.endswith("(2)."), text)
        code, text = reply(f, "EPRT |2|::1|80|")
        self.assertGreaterEqual(code, 500, text)

    def test_pasv_refused_with_a_pasv_address_too(self):
        # --pasv-address names an IPv4 address, which cannot reach the IPv6-only passive
        # listener of a session on [::1]: PASV is refused all the same, EPSV still works
        srv = self.start_server(listen="[::1]:0", args=["--pasv-address", "127.0.0.1"])
        f = srv.ftp()
        code, text = reply(f, "PASV")
        self.assertEqual(code, 425, text)
        srv.write("p6.txt", b"six")
        self.assertEqual(retr(f, "p6.txt"), b"six")

    @unittest.skipIf(shutil.which("curl") is None, "curl is not installed")
    def test_curl_v6(self):
        data = self.srv.make_file("c6.bin", 200000, seed=3)
        r = subprocess.run(["curl", "-sS", "-g", "--max-time", "30", self.srv.url("c6.bin")],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)
        r = subprocess.run(["curl", "-sS", "-g", "--max-time", "30", "--ftp-port", "::1",
                            self.srv.url("c6.bin")], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)


@unittest.skipUnless(have_ipv6(), "no IPv6 loopback on this machine")
class TestTwoListeners(ServerTestCase):
    server_kwargs = {"args": ["--listen", "[::1]:0"]}

    def test_both_addresses_serve(self):
        addrs = self.srv.listen_addresses()
        hosts = {h for h, _ in addrs}
        self.assertEqual(hosts, {"127.0.0.1", "::1"}, addrs)
        self.srv.write("both.txt", b"both")
        for host, port in addrs:
            f = ftplib.FTP(timeout=10)
            try:
                f.connect(host, port)
                f.login(self.srv.user, self.srv.password)
                self.assertEqual(retr(f, "both.txt"), b"both")
                f.quit()
            finally:
                f.close()


if __name__ == "__main__":
    unittest.main()
