"""A large download running alone, to a client on this host, gets the congestion control that
--local-congestion names (default cubic, or reno where the system does not allow cubic);
`system` leaves the system's default, and so does a
download that shares the server with another. Read from the server's own socket with ss(8)
while the download is in flight."""
import re
import subprocess
import unittest

from ftpd_harness import ServerTestCase, recv_all, recv_exactly

# Not a multiple of any segment size: a stream that runs corked (under the system's
# algorithm) must still send its short last segment when it ends.
SIZE = (64 << 20) + 4321


def sysctl(name):
    with open("/proc/sys/net/ipv4/" + name) as fh:
        return fh.read().split()


SYSTEM_DEFAULT = sysctl("tcp_congestion_control")[0]
ALLOWED = sysctl("tcp_allowed_congestion_control")


def server_side_congestion(port):
    """The algorithm of the established socket whose local port is `port`."""
    out = subprocess.run(["ss", "-tinH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^\s+([a-z0-9_-]+)\s", out, re.M)
    assert len(names) == 1, out
    return names[0]


class LocalCongestionCase(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.srv.make_sparse("big.bin", SIZE)

    def start_download(self):
        """Starts a RETR and reads its first MiB; returns (control, data socket, port)."""
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.epsv()
        port = ds.getpeername()[1]  # the server's end of the data connection
        code, text = c.cmd("RETR big.bin")
        self.assertEqual(code, 150, text)
        self.assertEqual(len(recv_exactly(ds, 1 << 20)), 1 << 20)
        return c, ds, port

    def finish_download(self, c, ds):
        got = (1 << 20) + len(recv_all(ds))
        ds.close()
        self.assertEqual(got, SIZE)
        self.assertEqual(c.reply()[0], 226)

    def congestion_of_a_download(self):
        """Runs a RETR alone, reads its algorithm while it runs, checks every byte came."""
        c, ds, port = self.start_download()
        name = server_side_congestion(port)
        self.finish_download(c, ds)
        return name


# The algorithm ftpd is asked for must differ from the system's default, or the test could
# not tell them apart: cubic (the default setting) unless the system already uses it.
DEFAULT_SETTING = "cubic"
OTHER = DEFAULT_SETTING if SYSTEM_DEFAULT != DEFAULT_SETTING and DEFAULT_SETTING in ALLOWED \
    else next((a for a in ALLOWED if a != SYSTEM_DEFAULT), None)
# What ftpd uses instead of a default the system does not allow: reno, unless the
# administrator took even reno out of the allowed list.
FALLBACK = "reno" if "reno" in ALLOWED else SYSTEM_DEFAULT


@unittest.skipIf(OTHER is None, "only %s is allowed here" % SYSTEM_DEFAULT)
class TestChosenAlgorithm(LocalCongestionCase):
    server_kwargs = {"args": [] if OTHER == DEFAULT_SETTING else ["--local-congestion", OTHER]}

    def test_download_uses_it(self):
        self.assertEqual(self.congestion_of_a_download(), OTHER)

    def test_a_download_beside_another_keeps_the_system_default(self):
        first = self.start_download()
        second = self.start_download()
        self.assertEqual(server_side_congestion(first[2]), OTHER)
        self.assertEqual(server_side_congestion(second[2]), SYSTEM_DEFAULT)
        self.finish_download(first[0], first[1])
        self.finish_download(second[0], second[1])


class TestSystemDefault(LocalCongestionCase):
    server_kwargs = {"args": ["--local-congestion", "system"]}

    def test_download_keeps_the_system_default(self):
        self.assertEqual(self.congestion_of_a_download(), SYSTEM_DEFAULT)


@unittest.skipIf(DEFAULT_SETTING in ALLOWED, "%s is allowed here" % DEFAULT_SETTING)
class TestDefaultNotAllowed(LocalCongestionCase):
    # a host that lets unprivileged processes pick only its own default (BBR, say) and reno:
    # the shipped default is no fault of the set-up, so a note rather than a warning, and
    # reno, which beat the corked system algorithm there, takes its place
    def test_noted_at_info_and_uses_reno(self):
        self.assertEqual(self.congestion_of_a_download(), FALLBACK)
        log = self.srv.log_text()
        if FALLBACK == "reno":
            self.assertRegex(log, r"INFO +local-congestion cubic: not in "
                                  r"net\.ipv4\.tcp_allowed_congestion_control; lone downloads "
                                  r"to this host use reno")
        else:
            self.assertRegex(log, r"INFO +local-congestion cubic: not in "
                                  r"net\.ipv4\.tcp_allowed_congestion_control, nor is reno")
        self.assertNotRegex(log, r"WARN +local-congestion")

    def test_a_download_beside_another_keeps_the_system_default(self):
        first = self.start_download()
        second = self.start_download()
        self.assertEqual(server_side_congestion(first[2]), FALLBACK)
        self.assertEqual(server_side_congestion(second[2]), SYSTEM_DEFAULT)
        self.finish_download(first[0], first[1])
        self.finish_download(second[0], second[1])


@unittest.skipIf(DEFAULT_SETTING in ALLOWED, "%s is allowed here" % DEFAULT_SETTING)
class TestNamedDefaultNotAllowed(LocalCongestionCase):
    # cubic named on purpose is the operator's choice, not the shipped default: refused,
    # it is warned about and nothing else is picked in its place
    server_kwargs = {"args": ["--local-congestion", DEFAULT_SETTING]}

    def test_warns_and_keeps_the_system_default(self):
        self.assertEqual(self.congestion_of_a_download(), SYSTEM_DEFAULT)
        log = self.srv.log_text()
        self.assertRegex(log, r"WARN +local-congestion cubic: Operation not permitted; data "
                              r"connections on this host keep the system's default")
        self.assertNotIn("use reno", log)


class TestUnavailableAlgorithm(LocalCongestionCase):
    server_kwargs = {"args": ["--local-congestion", "no-such-cc"]}

    def test_warns_once_and_keeps_the_default(self):
        self.assertEqual(self.congestion_of_a_download(), SYSTEM_DEFAULT)
        log = self.srv.log_text()
        self.assertEqual(log.count("local-congestion no-such-cc"), 1, log)
        self.assertIn("keep the system's default", log)


if __name__ == "__main__":
    unittest.main()
