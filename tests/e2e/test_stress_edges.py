"""End-to-end tests of `ftpc stress` at its edges: option combinations that cannot run, a
server that never greets, a server too busy to hash, an interrupted run (Ctrl-C) and what
it leaves on the server, and the live view during the set-up. The real ftpc drives the
real ftpd, or a scripted server (scripted_ftp.py) where ftpd cannot be made to misbehave
on cue, over loopback.
"""
import socket
import subprocess
import unittest

from test_stress import FTPC_BIN, StressCase, have_ftpc


@unittest.skipUnless(have_ftpc(), "ftpc binary not found: %s" % FTPC_BIN)
class TestStressOptions(StressCase):
    def test_ramp_up_not_shorter_than_duration_is_refused(self):
        # clients due at or after the end would never start (and be reported as never
        # logged in): refused before anything connects
        for args in (["--duration", "2", "--ramp-up", "2"],
                     ["--duration", "1", "--ramp-up", "5"],
                     ["--ramp-up", "10"]):  # the default duration is 10 s
            r = subprocess.run([FTPC_BIN, "stress", "ftp://127.0.0.1:9/"] + args,
                               capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("--ramp-up", r.stderr.decode())
            self.assertIn("must be shorter than --duration", r.stderr.decode())
        # a shorter ramp-up, and any ramp-up with --iterations, are fine: no usage error,
        # the run starts (and its set-up cannot connect to a port bound but not listening)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = "ftp://127.0.0.1:%d/" % s.getsockname()[1]
            for args in (["--duration", "2", "--ramp-up", "1.5"],
                         ["--iterations", "1", "--ramp-up", "30"]):
                r = subprocess.run([FTPC_BIN, "stress", url, "--no-view"] + args,
                                   capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 3, (args, r.stderr))


@unittest.skipUnless(have_ftpc(), "ftpc binary not found: %s" % FTPC_BIN)
class TestStressSilentServer(StressCase):
    def test_no_greeting_is_a_connect_failure(self):
        # The kernel completes the handshake of a listening socket nobody accepts from: the
        # server is there but never greets. As for `ftpc ls`, exit 3 with what was awaited.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(16)
            port = s.getsockname()[1]
            rep, out, err = self.stress("ftp://127.0.0.1:%d/" % port, "--timeout", 2,
                                        "--mix", "login", "--no-view", rc=3, timeout=60)
        self.assertIn("timed out after 2 s waiting for 127.0.0.1:%d (its greeting)" % port, err)
        self.assertNotIn("connection lost", err)
        self.assertEqual(rep["exit_status"], 3)
        self.assertIn("its greeting", rep["setup_error"])
        self.assertIn("(exit status 3; no client ran)", out)


if __name__ == "__main__":
    unittest.main()
