"""IPv6: ftpd on [::1], EPSV and EPRT, ftplib, curl and lftp; two listeners at once."""
import ftplib
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from ftpd_harness import (Control, ServerTestCase, data_bytes, have_ipv6, recv_all, reply, retr,
                          sha, stor)

LFTP = shutil.which("lftp")


def lists_to_the_client(case, host, family, command):
    """Logs in to case.srv and sends command, which names the unspecified address and a port
    of a listener on host: a listing must reach the client there, at its own address."""
    case.srv.write("u.txt", b"unspecified")
    with socket.socket(family, socket.SOCK_STREAM) as ls, \
            Control(case.srv.host, case.srv.port) as c:
        ls.bind((host, 0))
        ls.listen(1)
        ls.settimeout(10)
        c.greeting()
        c.login()
        p = ls.getsockname()[1]
        code, text = c.cmd(command % {"port": p, "hi": p >> 8, "lo": p & 255})
        case.assertEqual(code, 200, text)
        code, text = c.cmd("NLST")
        case.assertEqual(code, 150, text)
        conn, _ = ls.accept()
        with conn:
            case.assertIn(b"u.txt", recv_all(conn))
        case.assertEqual(c.reply()[0], 226)


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

    def test_eprt_with_the_unspecified_address_means_the_client(self):
        """lftp does not bind its data socket on a loopback control connection, so in active
        mode it announces EPRT |2|::|port|: the only host that can mean is the client."""
        lists_to_the_client(self, "::1", socket.AF_INET6, "EPRT |2|::|%(port)d|")
        lists_to_the_client(self, "::1", socket.AF_INET6, "EPRT |2|0:0:0:0:0:0:0:0|%(port)d|")

    @unittest.skipIf(LFTP is None, "lftp is not installed")
    def test_lftp_active_mode(self):
        """Without the fallback to passive mode lftp's active transfers fail at once (and with
        it they stall for its reconnect interval) if EPRT |2|::|port| is refused."""
        data = self.srv.make_file("la.bin", 300000, seed=4)
        tmp = tempfile.mkdtemp(prefix="ftpd-e2e-lftp6-")
        self.addCleanup(shutil.rmtree, tmp, True)
        script = ("set net:max-retries 1; set net:timeout 10; set net:persist-retries 0; "
                  "set ftp:ssl-allow no; set ftp:passive-mode off; "
                  "set ftp:auto-passive-mode no; set xfer:clobber on; set cmd:interactive no; "
                  "set cmd:fail-exit yes; get la.bin -o %s/la.bin; put %s/la.bin -o back.bin; bye"
                  % (tmp, tmp))
        env = dict(os.environ, HOME=tmp, LC_ALL="C.UTF-8")
        env.pop("LFTP_HOME", None)
        r = subprocess.run([LFTP, "-u", "%s,%s" % (self.srv.user, self.srv.password), "-p",
                            str(self.srv.port), "-e", script, self.srv.host],
                           capture_output=True, timeout=90, cwd=tmp, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace") +
                         "\n".join(self.srv.logs()[-20:]))
        with open(os.path.join(tmp, "la.bin"), "rb") as fh:
            self.assertEqual(sha(fh.read()), sha(data))
        self.assertEqual(sha(self.srv.read("back.bin")), sha(data))
        self.assertTrue(self.srv.wait_log(r"-> EPRT \|2\|::\|"))
        self.assertNotIn("foreign address", self.srv.settled_log_text(sessions=1))


class TestUnspecifiedPortAddress(ServerTestCase):
    def test_port_and_eprt_with_0_0_0_0_mean_the_client(self):
        lists_to_the_client(self, "127.0.0.1", socket.AF_INET, "PORT 0,0,0,0,%(hi)d,%(lo)d")
        lists_to_the_client(self, "127.0.0.1", socket.AF_INET, "EPRT |1|0.0.0.0|%(port)d|")


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
