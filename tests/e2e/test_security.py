"""Escapes and abuse: '..', absolute paths and symlinks cannot leave the root; PORT/EPRT only
to the client's own address and never below port 1024; passive connections from another
address are refused."""
import ftplib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

from ftpd_harness import (ServerTestCase, listing, nlst, pasv_port, recv_all, reply, retr,
                          stor)


class TestPathEscapes(ServerTestCase):
    def setUp(self):
        super().setUp()
        # a secret next to the root that an escape would reach
        self.outside = os.path.join(self.srv.base, "outside")
        self.srv.mkdir(self.outside)
        self.srv.write(os.path.join(self.outside, "secret.txt"), b"outside secret")
        self.srv.write("inside.txt", b"inside")
        self.srv.mkdir("sub")
        self.srv.write("sub/s.txt", b"sub file")
        os.symlink("/etc", self.srv.local("evil"))
        os.symlink(self.outside, self.srv.local("evil2"))
        os.symlink("../outside", self.srv.local("evil3"))
        os.symlink("../outside/secret.txt", self.srv.local("evil-file"))
        os.symlink("/etc/passwd", self.srv.local("passwd-link"))
        os.symlink("sub", self.srv.local("good"))
        os.symlink("../inside.txt", self.srv.local("sub/good-file"))
        self.outside_before = sorted(os.listdir(self.outside))

    def tearDown(self):
        self.assertEqual(sorted(os.listdir(self.outside)), self.outside_before,
                         "something was created or removed outside the root")
        self.assertFalse(os.path.exists("/etc/ftpd-e2e-escape"))

    def retr_refused(self, f, path):
        f.voidcmd("TYPE I")
        self.assertEqual(reply(f, "PASV")[0], 227)
        code, text = reply(f, "RETR " + path)
        self.assertEqual(code, 550, "RETR %s -> %s" % (path, text))

    def test_dotdot_cwd_stays_inside(self):
        f = self.srv.ftp()
        for p in ("..", "../../..", "/..", "sub/../../..", "/../../.."):
            code, text = reply(f, "CWD " + p)
            self.assertIn(code, (250, 550), "CWD %s -> %s" % (p, text))
            self.assertEqual(f.pwd(), "/", p)
            f.cwd("/")
        self.assertCode(reply(f, "CWD /../../etc"), 550)
        f.cwd("../../..")
        self.assertEqual(f.pwd(), "/")
        # the root's own names, less the links that lead out of it
        self.assertEqual(sorted(nlst(f)), ["good", "inside.txt", "sub"])
        self.assertCode(reply(f, "CDUP"), (200, 250))
        self.assertEqual(f.pwd(), "/")

    def test_dotdot_retr(self):
        f = self.srv.ftp()
        for p in ("../outside/secret.txt", "../../../../etc/passwd", "/../outside/secret.txt",
                  "sub/../../outside/secret.txt", "/etc/passwd", "//etc/passwd"):
            self.retr_refused(f, p)

    def test_dotdot_inside_root_resolves_inside(self):
        f = self.srv.ftp()
        self.assertEqual(retr(f, "/../../inside.txt"), b"inside")
        self.assertEqual(retr(f, "sub/../inside.txt"), b"inside")

    def test_list_escape(self):
        f = self.srv.ftp()
        for p in ("/etc", "../outside", "/../outside", "evil", "evil2", "evil3", "evil/",
                  "../../../../etc"):
            lines = []
            try:
                f.retrlines("LIST " + p, lines.append)
            except ftplib.error_perm:
                pass
            for l in lines:
                for bad in (" secret.txt", " passwd", " hostname", " group"):
                    self.assertFalse(l.endswith(bad), "LIST %s showed %r" % (p, l))
            names = []
            try:
                f.retrlines("NLST " + p, names.append)
            except ftplib.error_perm:
                pass
            base = {n.rsplit("/", 1)[-1] for n in names}
            self.assertFalse(base & {"secret.txt", "passwd", "hostname"}, (p, names))
        lines = listing(f, "..")
        self.assertTrue(any(l.endswith(" inside.txt") for l in lines), lines)

    def test_symlink_out_refused(self):
        f = self.srv.ftp()
        for d in ("evil", "evil2", "evil3"):
            code, text = reply(f, "CWD " + d)
            self.assertEqual(code, 550, "CWD %s -> %s" % (d, text))
            self.assertEqual(f.pwd(), "/")
        for p in ("evil/passwd", "evil2/secret.txt", "evil3/secret.txt", "evil-file",
                  "passwd-link"):
            self.retr_refused(f, p)
        for p in ("evil/passwd", "evil2/secret.txt", "evil-file", "passwd-link"):
            self.assertCode(reply(f, "SIZE " + p), 550, p)
            self.assertCode(reply(f, "MDTM " + p), 550, p)

    def test_symlink_out_no_writes(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for p in ("evil/ftpd-e2e-escape", "evil2/new.txt", "evil3/new.txt"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, "STOR " + p), (550, 553), p)
        self.assertEqual(reply(f, "PASV")[0], 227)
        code, text = reply(f, "APPE evil-file")
        self.assertIn(code, (550, 553), text)
        self.assertTrue(text.startswith("%d /evil-file: " % code), text)
        for cmd in ("MKD evil2/newdir", "MKD evil/ftpd-e2e-escape", "DELE evil2/secret.txt",
                    "DELE evil3/secret.txt", "RMD evil2"):
            code, text = reply(f, cmd)
            if cmd == "RMD evil2":
                self.assertGreaterEqual(code, 500, text)  # not a directory (or refused)
            else:
                self.assertEqual(code, 550, "%s -> %s" % (cmd, text))
        code, text = reply(f, "RNFR evil2/secret.txt")
        self.assertEqual(code, 550, text)
        self.assertCode(reply(f, "RNFR inside.txt"), 350)
        self.assertCode(reply(f, "RNTO evil2/stolen.txt"), (550, 553))
        self.assertTrue(self.srv.exists("inside.txt"))

    def test_stor_dotdot_stays_inside(self):
        f = self.srv.ftp()
        for name, p in (("escaped.txt", "../escaped.txt"), ("escaped2.txt", "../../escaped2.txt"),
                        ("escaped3.txt", "/../escaped3.txt"), ("escaped4.txt", "sub/../../escaped4.txt")):
            try:
                stor(f, p, b"x")
                self.assertEqual(self.srv.read(name), b"x", p)  # landed inside the root
            except ftplib.error_perm:
                self.assertFalse(self.srv.exists(name))
            self.assertFalse(os.path.exists(os.path.join(self.srv.base, name)), p)
        self.assertCode(reply(f, "MKD ../newdir"), (257, 550))
        self.assertFalse(os.path.exists(os.path.join(self.srv.base, "newdir")))

    def test_symlink_inside_works(self):
        f = self.srv.ftp()
        f.cwd("good")
        self.assertEqual(retr(f, "s.txt"), b"sub file")
        f.cwd("/")
        self.assertEqual(retr(f, "good/s.txt"), b"sub file")
        self.assertEqual(retr(f, "sub/good-file"), b"inside")
        self.assertIn("s.txt", nlst(f, "good"))

    def test_long_path(self):
        f = self.srv.ftp()
        code, text = reply(f, "CWD " + "a/" * 2000)
        self.assertIn(code, (500, 501, 550, 553), text)
        code, text = reply(f, "MKD " + "b" * 300)
        self.assertIn(code, (550, 553, 501), text)
        self.assertEqual(reply(f, "NOOP")[0], 200)


class TestDataAddress(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.make_file("f.bin", 100000)

    def listener(self, host):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, 0))
        ls.listen(4)
        ls.settimeout(1.5)
        return ls

    def assert_no_connection(self, ls):
        try:
            conn, addr = ls.accept()
            conn.close()
            self.fail("the server connected to %r" % (addr,))
        except socket.timeout:
            pass
        finally:
            ls.close()

    def test_port_to_foreign_address(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ls = self.listener("127.0.0.2")  # loopback, but not the client's own address
        p = ls.getsockname()[1]
        code, text = c.cmd("PORT 127,0,0,2,%d,%d" % (p >> 8, p & 255))
        self.assertGreaterEqual(code, 500, text)
        code, text = c.cmd("RETR f.bin")
        self.assertGreaterEqual(code, 400, text)
        self.assert_no_connection(ls)
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_eprt_to_foreign_address(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ls = self.listener("127.0.0.2")
        code, text = c.cmd("EPRT |1|127.0.0.2|%d|" % ls.getsockname()[1])
        self.assertGreaterEqual(code, 500, text)
        code, text = c.cmd("RETR f.bin")
        self.assertGreaterEqual(code, 400, text)
        self.assert_no_connection(ls)

    def test_port_from_other_source_to_127_0_0_1(self):
        # the client connects from 127.0.0.2 and asks for 127.0.0.1: also foreign
        c = self.srv.control(source="127.0.0.2")
        c.login()
        c.cmd("TYPE I")
        ls = self.listener("127.0.0.1")
        p = ls.getsockname()[1]
        code, text = c.cmd("PORT 127,0,0,1,%d,%d" % (p >> 8, p & 255))
        self.assertGreaterEqual(code, 500, text)
        c.cmd("RETR f.bin")
        self.assert_no_connection(ls)
        # its own address works
        ls2 = self.listener("127.0.0.2")
        p = ls2.getsockname()[1]
        self.assertEqual(c.cmd("PORT 127,0,0,2,%d,%d" % (p >> 8, p & 255))[0], 200)
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        ls2.settimeout(10)
        ds, _ = ls2.accept()
        ls2.close()
        self.assertEqual(len(recv_all(ds)), 100000)
        ds.close()
        self.assertEqual(c.reply()[0], 226)

    def test_port_to_a_closed_port_is_a_425(self):
        # the connect fails before any data stream exists: a reply, and the server lives on
        # Bound but not listening: a connect there is refused, and no other program can take
        # the port meanwhile (a port closed again was taken by a parallel test's connection,
        # and the PORT reached it: 150 instead of 425)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(ls.close)
        ls.bind(("127.0.0.1", 0))
        p = ls.getsockname()[1]
        c = self.srv.control()
        c.login()
        for setup, cmd in (("PORT 127,0,0,1,%d,%d" % (p >> 8, p & 255), "LIST"),
                           ("EPRT |1|127.0.0.1|%d|" % p, "RETR f.bin")):
            self.assertEqual(c.cmd(setup)[0], 200)
            code, text = c.cmd(cmd)
            self.assertEqual(code, 425, text)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.srv.control().login()  # a new session still gets in

    def test_port_below_1024(self):
        c = self.srv.control()
        c.login()
        for cmd in ("PORT 127,0,0,1,0,21", "PORT 127,0,0,1,3,255", "EPRT |1|127.0.0.1|80|",
                    "PORT 127,0,0,1,0,0"):
            code, text = c.cmd(cmd)
            self.assertGreaterEqual(code, 500, "%s -> %s" % (cmd, text))
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_port_malformed(self):
        c = self.srv.control()
        c.login()
        for cmd in ("PORT 127,0,0,1,300,1", "PORT 127,0,0,1,1", "PORT a,b,c,d,e,f",
                    "PORT 127,0,0,1,-1,5", "EPRT |1|127.0.0.1|99999|", "EPRT |1|nonsense|5000|",
                    "EPRT 1|127.0.0.1|5000", "PORT 999,0,0,1,200,1"):
            code, text = c.cmd(cmd)
            self.assertGreaterEqual(code, 500, "%s -> %s" % (cmd, text))
        self.assertEqual(c.cmd("NOOP")[0], 200)

    def test_port_and_eprt_read_strictly(self):
        # forms a lax reader took for a real address (sign, space, text after the end)
        c = self.srv.control()
        c.login()
        ls = self.listener("127.0.0.1")
        p = ls.getsockname()[1]
        for cmd in ("EPRT |1|127.0.0.1|+%d|" % p, "EPRT |1|127.0.0.1|%d|x" % p,
                    "EPRT |1|127.0.0.1| %d|" % p, "EPRT |2|[::1]|%d|" % p,
                    "PORT 127,0,0,1,%d,%d junk" % (p >> 8, p & 255),
                    "PORT +127,0,0,1,%d,%d" % (p >> 8, p & 255)):
            code, text = c.cmd(cmd)
            self.assertEqual(code, 501, "%s -> %s" % (cmd, text))
        # RFC 2428: a protocol that cannot be used gets 522 and the one that can, the control
        # connection's: an IPv6 address is never this IPv4 client's own
        for cmd in ("EPRT |7|127.0.0.1|%d|" % p, "EPRT |2|::1|%d|" % p):
            code, text = c.cmd(cmd)
            self.assertEqual(code, 522, "%s -> %s" % (cmd, text))
            self.assertTrue(text.endswith("(1)."), text)
        # the IPv4-mapped form of the client's own address is that address
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(c.cmd("EPRT |2|::ffff:127.0.0.1|%d|" % p)[0], 200)
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        ls.settimeout(10)
        ds, _ = ls.accept()
        ls.close()
        self.assertEqual(len(recv_all(ds)), 100000)
        ds.close()
        self.assertEqual(c.reply()[0], 226)

    def test_port_and_eprt_take_blanks_after_the_address(self):
        # as after REST's number: a client or a person at a telnet prompt may leave one
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ls = self.listener("127.0.0.1")
        p = ls.getsockname()[1]
        ls.settimeout(10)
        for cmd in ("PORT 127,0,0,1,%d,%d " % (p >> 8, p & 255), "EPRT |1|127.0.0.1|%d|  " % p):
            code, text = c.cmd(cmd)
            self.assertEqual(code, 200, "%s -> %s" % (cmd, text))
            self.assertEqual(c.cmd("RETR f.bin")[0], 150)
            ds, _ = ls.accept()
            self.assertEqual(len(recv_all(ds)), 100000)
            ds.close()
            self.assertEqual(c.reply()[0], 226)
        ls.close()

    def test_pasv_connection_from_foreign_address(self):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        code, text = c.cmd("PASV")
        self.assertEqual(code, 227, text)
        port = pasv_port(text)
        # a thief from 127.0.0.2 connects first; it must get no data
        thief = socket.socket()
        thief.bind(("127.0.0.2", 0))
        thief.settimeout(5)
        thief.connect(("127.0.0.1", port))
        time.sleep(0.2)
        good = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.assertEqual(c.cmd("RETR f.bin")[0], 150)
        got = recv_all(good)
        good.close()
        self.assertEqual(c.reply()[0], 226)
        self.assertEqual(len(got), 100000)
        try:
            stolen = thief.recv(65536)
        except (socket.timeout, OSError):
            stolen = b""
        thief.close()
        self.assertEqual(stolen, b"")


# Run in a network namespace of its own, whose local port range is then narrowed to the one
# port the PORT names: the server's data socket gets that port, and its connect meets itself.
SELF_CONNECT_SCRIPT = r"""
import json, socket, subprocess, time
from ftpd_harness import FtpdServer
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with FtpdServer() as srv:
    srv.make_file("f.bin", 100000)
    c = srv.control()
    c.login()
    c.cmd("TYPE I")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    p = probe.getsockname()[1]
    probe.close()
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as fh:
        fh.write("%d %d" % (p, p))
    replies = [c.cmd("PORT 127,0,0,1,%d,%d" % (p >> 8, p & 255))]
    replies.append(c.cmd("RETR f.bin", timeout=20))
    if replies[-1][0] == 150:
        replies.append(c.reply(timeout=20))
    replies.append(c.cmd("NOOP"))
    end = time.monotonic() + 5  # the log reaches its file after the replies, now and then
    while "failed before any data moved" not in srv.log_text() and time.monotonic() < end:
        time.sleep(0.05)
    print(json.dumps({"replies": replies, "log": srv.log_text()}))
"""


class TestActiveSelfConnect(unittest.TestCase):
    def test_a_port_the_data_socket_would_connect_to_itself_is_a_425(self):
        # A PORT to a port of the client's own host where nothing listens, which the
        # server's data socket happens to get as its own: the connect "succeeds" with the
        # socket as its own peer (TCP simultaneous open), and a RETR sent the file to no
        # one and said 226.
        # the namespace's own port range must be writable (not where /proc/sys is read-only)
        rng = "/proc/sys/net/ipv4/ip_local_port_range"
        if (os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare")
                or subprocess.run(["unshare", "-n", "sh", "-c", "cat %s > %s" % (rng, rng)],
                                  capture_output=True).returncode):
            self.skipTest("needs unshare -n (root), ip and a writable port range in it")
        r = subprocess.run(["unshare", "-n", sys.executable, "-c", SELF_CONNECT_SCRIPT],
                           capture_output=True, text=True, timeout=60,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-3000:])
        out = json.loads(r.stdout.strip().splitlines()[-1])
        codes = [code for code, _ in out["replies"]]
        self.assertEqual(codes, [200, 425, 200], out["replies"])
        self.assertIn("itself", out["replies"][1][1])
        self.assertRegex(out["log"], r"RETR \S*f.bin failed before any data moved: 425 ")


if __name__ == "__main__":
    unittest.main()
