"""The systemd unit shipped in sample_data/ftpd.service, run as systemd would run it.

Its command lines are taken from the unit itself, with the installed paths
(/usr/local/sbin/ftpd, /etc/ftpd/ftpd.conf) pointed at the build and a test configuration:
ExecStart serves in the foreground (Type=exec), ExecReload makes the server read its users
file again, a stop (SIGTERM, systemd's default) is a clean exit that Restart=on-failure
leaves alone, and a bad configuration exits with a status RestartPreventExitStatus names,
so systemd does not restart it in a loop. Where systemd-analyze is installed, it verifies the
unit too.
"""
import ftplib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import unittest

from ftpd_harness import FTPD_BIN, FtpdServer, hash_password, wait_for

SRC = os.environ.get("FTP_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
UNIT_PATH = os.path.join(SRC, "sample_data", "ftpd.service")
INSTALLED_FTPD = "/usr/local/sbin/ftpd"
INSTALLED_CONF = "/etc/ftpd/ftpd.conf"


def unit_sections():
    """{section: {key: [values]}} of the unit; a key may be given more than once."""
    sections, current = {}, None
    with open(UNIT_PATH, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service(key):
    values = unit_sections()["Service"].get(key, [])
    return values[-1] if values else None


def command(key, conf, mainpid=None):
    """The unit's command line for key, as argv, with the installed paths replaced."""
    text = service(key)
    if mainpid is not None:
        text = text.replace("$MAINPID", str(mainpid))
    argv = [FTPD_BIN if a == INSTALLED_FTPD else conf if a == INSTALLED_CONF else a
            for a in shlex.split(text)]
    return argv


class UnitServer(FtpdServer):
    """ftpd started by the unit's ExecStart, on a configuration that names the account to
    run as, as the unit's comment asks."""

    def command_line(self):
        if self.run_as:
            self.config["user"] = self.run_as
        super().command_line()  # writes the configuration file
        return command("ExecStart", os.path.join(self.base, "ftpd.conf"))


class TestServiceUnit(unittest.TestCase):
    def start(self):
        srv = UnitServer(users=[("alice", "alicepw", "elr")], anonymous=False, config={})
        srv.start()
        self.addCleanup(srv.stop, check=False)
        return srv

    def login(self, srv, user, password):
        with ftplib.FTP() as f:
            f.connect(srv.host, srv.port, timeout=10)
            return f.login(user, password)

    def test_serves_reloads_and_stops_cleanly(self):
        self.assertEqual(service("Type"), "exec", "ftpd does not fork: it must be Type=exec")
        srv = self.start()
        self.assertTrue(self.login(srv, "alice", "alicepw").startswith("230"))

        # systemctl reload: a new account counts from its next login
        with open(srv.users_file, "a") as fh:
            fh.write("bob:%s:%s:elr\n" % (hash_password("bobpw"), srv.root))
        before = len(srv.logs())
        reload_cmd = command("ExecReload", "", mainpid=srv.proc.pid)
        self.assertEqual(subprocess.run(reload_cmd, timeout=10).returncode, 0, reload_cmd)
        self.assertTrue(wait_for(lambda: any("users read again: 2 accounts" in line
                                             for line in srv.logs()[before:]), 10),
                        srv.log_text()[-2000:])
        self.assertTrue(self.login(srv, "bob", "bobpw").startswith("230"))
        self.assertIsNone(srv.proc.poll(), "the server must stay up through a reload")

        # systemctl stop: SIGTERM unless the unit says otherwise, and a clean exit, which
        # Restart=on-failure does not restart
        stop_signal = getattr(signal, service("KillSignal") or "SIGTERM")
        self.assertEqual(service("Restart"), "on-failure")
        srv.proc.send_signal(stop_signal)
        self.assertEqual(srv.proc.wait(10), 0, srv.log_text()[-2000:])

    def test_bad_configuration_is_not_restarted(self):
        base = tempfile.mkdtemp(prefix="ftpd-e2e-unit-")
        self.addCleanup(shutil.rmtree, base, True)
        conf = os.path.join(base, "ftpd.conf")
        with open(conf, "w") as fh:
            fh.write("listen = 127.0.0.1:0\nno-such-key = 1\n")
        proc = subprocess.run(command("ExecStart", conf), capture_output=True, text=True,
                              timeout=20, stdin=subprocess.DEVNULL)
        self.assertIn("no-such-key", proc.stderr)
        prevent = (service("RestartPreventExitStatus") or "").split()
        self.assertIn(str(proc.returncode), prevent,
                      "a bad configuration exits %d: systemd would restart it every %s"
                      % (proc.returncode, service("RestartSec")))

    def test_systemd_analyze_verifies_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        base = tempfile.mkdtemp(prefix="ftpd-e2e-unit-")
        self.addCleanup(shutil.rmtree, base, True)
        with open(UNIT_PATH, encoding="utf-8") as fh:
            text = fh.read().replace(INSTALLED_FTPD, os.path.abspath(FTPD_BIN))
        unit = os.path.join(base, "ftpd.service")
        with open(unit, "w", encoding="utf-8") as fh:
            fh.write(text)
        proc = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # unknown keys and bad values are only warnings to systemd
        self.assertEqual(proc.stderr.strip(), "")


if __name__ == "__main__":
    unittest.main()
