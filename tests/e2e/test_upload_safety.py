"""Uploads are written aside and renamed into place when complete: readers see the old file
during an upload, a killed or aborted upload leaves the old file intact byte for byte, a killed
upload of a new file can be resumed (SIZE reports the partial, REST+STOR / APPE continue it;
a file that exists keeps its own SIZE),
and the server's internal names never show up or open."""
import ftplib
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

from ftpd_harness import (DEFAULT_PASSWORD, DEFAULT_USER, DENSE_BYTE, INTERNAL_PREFIXES,
                          ServerTestCase, data_bytes, free_port, internal_names, listing, nlst,
                          recv_all, recv_exactly, reply, reset_close, retr, sha, stor, wait_for)


class UploadSafetyBase(ServerTestCase):
    def begin_upload(self, name, part, cmd="STOR", rest=None, expect_size=None):
        """Starts an upload of name on a raw session and sends part; returns (control, data)
        once the server has written at least expect_size bytes (default len(part) plus the
        REST offset) into its hidden file."""
        c, ds, _ = self.begin_transfer(cmd + " " + name, rest)
        ds.sendall(part)
        want = expect_size if expect_size is not None else len(part) + (rest or 0)
        directory = os.path.dirname(self.srv.local(name))
        # a new upload writes into .ftpd-up.*; a resumed one may continue a .ftpd-partial.*
        prefixes = (".ftpd-up.",) if rest is None and cmd == "STOR" else INTERNAL_PREFIXES

        def written():
            for n in os.listdir(directory):
                if n.startswith(prefixes):
                    try:
                        if os.stat(os.path.join(directory, n)).st_size >= want:
                            return n
                    except FileNotFoundError:
                        pass
            return None
        hidden = wait_for(written, 10)
        self.assertTrue(hidden, "no hidden upload file reached %d bytes; dir: %r"
                        % (want, os.listdir(directory)))
        return c, ds

    def kill_client(self, c, ds):
        """A killed client: the control connection drops first; once the server has given up
        the data connection (it must close it), the data socket is reset."""
        c.close()
        ds.settimeout(5)
        t0 = time.monotonic()
        closed = False
        try:
            while time.monotonic() - t0 < 5:
                if not ds.recv(65536):
                    closed = True
                    break
        except socket.timeout:
            closed = False
        except OSError:  # reset by the server
            closed = True
        reset_close(ds)
        return closed

    def assert_no_internal_visible(self, f, path=None):
        self.assertEqual(internal_names(nlst(f, path)), [])
        self.assertEqual(internal_names(listing(f, path)), [])
        self.assertEqual(internal_names(listing(f, ("-a " + path) if path else "-a")), [])
        self.assertEqual(internal_names([n for n, _ in f.mlsd(path or "")]), [])


class TestReadersDuringUpload(UploadSafetyBase):
    def test_reader_sees_old_file_during_upload(self):
        old = self.srv.make_file("doc.bin", 100000, seed=1)
        new = data_bytes(1 << 20, 2)
        c, ds = self.begin_upload("doc.bin", new[:400000])
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("doc.bin"), len(old))
        self.assertEqual(retr(f, "doc.bin"), old)
        self.assertEqual(self.srv.read("doc.bin"), old)
        lines = [l for l in listing(f) if l.endswith(" doc.bin")]
        self.assertEqual(len(lines), 1, listing(f))
        self.assertIn(" %d " % len(old), lines[0])
        self.assert_no_internal_visible(f)
        # finish the upload: now everyone sees the new file, and nothing is left aside
        ds.sendall(new[400000:])
        ds.close()
        self.assertEqual(c.reply(timeout=20)[0], 226)
        self.assertEqual(sha(retr(f, "doc.bin")), sha(new))
        self.assertEqual(f.size("doc.bin"), len(new))
        self.assertEqual(self.srv.internal_files(), [])

    def test_new_file_invisible_until_complete(self):
        c, ds = self.begin_upload("fresh.bin", b"z" * 50000)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "RETR fresh.bin"), 550)
        self.assertNotIn("fresh.bin", nlst(f))
        self.assert_no_internal_visible(f)
        ds.close()
        self.assertEqual(c.reply(timeout=20)[0], 226)
        self.assertEqual(retr(f, "fresh.bin"), b"z" * 50000)

    def test_two_uploads_same_name_do_not_mix(self):
        a = data_bytes(600000, 3)
        b = data_bytes(500000, 4)
        c1, d1 = self.begin_upload("same.bin", a[:300000])
        c2, d2 = self.begin_upload("same.bin", b[:250000], expect_size=250000)
        d1.sendall(a[300000:])
        d2.sendall(b[250000:])
        d1.close()
        self.assertEqual(c1.reply(timeout=20)[0], 226)
        self.assertEqual(self.srv.read("same.bin"), a)
        d2.close()
        self.assertEqual(c2.reply(timeout=20)[0], 226)
        self.assertEqual(self.srv.read("same.bin"), b)
        self.assertEqual(self.srv.internal_files(), [])


class TestKilledUploads(UploadSafetyBase):
    def test_killed_control_keeps_old_file(self):
        old = self.srv.make_file("keep.bin", 250000, seed=5)
        c, ds = self.begin_upload("keep.bin", data_bytes(300000, 6))
        self.assertTrue(self.kill_client(c, ds),
                        "server did not close the data connection after the control one dropped")
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "keep.bin")), sha(old))
        self.assertEqual(sha(self.srv.read("keep.bin")), sha(old))
        self.assert_no_internal_visible(f)

    def test_sigkilled_client_keeps_old_file(self):
        """A client process killed mid-upload closes both its sockets with a plain FIN, so
        the data connection ends exactly as a finished upload's would. The server must still
        not commit the truncated file over the old one."""
        old = self.srv.make_file("victim.bin", 400000, seed=11)
        # The server tells a killed client from a finished one by its control connection
        # closing within a few milliseconds of the data connection (UPLOAD_SETTLE_MS). On a
        # loaded machine the dying client can be preempted between its two closes for longer
        # than that: run it at a high priority where that is allowed (root), so the test
        # measures the server, not the scheduler.
        script = (
            "import ftplib, os, sys, time\n"
            "try:\n"
            "    os.nice(-15)\n"
            "except OSError:\n"
            "    pass\n"
            "f = ftplib.FTP(); f.connect('%s', %d, timeout=10); f.login('%s', '%s')\n"
            "f.voidcmd('TYPE I')\n"
            "c = f.transfercmd('STOR victim.bin')\n"
            "c.sendall(b'x' * 200000)\n"
            "print('sent', flush=True)\n"
            "time.sleep(60)\n" % (self.srv.host, self.srv.port, self.srv.user, self.srv.password))
        p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "sent")
            directory = os.path.dirname(self.srv.local("victim.bin"))
            self.assertTrue(wait_for(lambda: any(
                n.startswith(".ftpd-up.") and
                os.stat(os.path.join(directory, n)).st_size >= 200000
                for n in os.listdir(directory))), "the upload's bytes never arrived")
        finally:
            p.kill()
            p.wait(timeout=10)
            p.stdout.close()
        self.assertTrue(self.srv.wait_log(r"STOR /victim\.bin (failed|ok)", timeout=10))
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "victim.bin")), sha(old))
        # SIZE stays the file's; the bytes that did arrive are kept for a resume (REST)
        self.assertEqual(reply(f, "SIZE victim.bin"), (213, "213 %d" % len(old)))
        self.assertEqual(os.path.getsize(os.path.join(directory, ".ftpd-partial.victim.bin")),
                         200000)

    def test_reset_data_keeps_old_file(self):
        old = self.srv.make_file("keep2.bin", 250000, seed=7)
        c, ds = self.begin_upload("keep2.bin", data_bytes(200000, 8))
        reset_close(ds)
        code, text = c.reply(timeout=10)
        self.assertIn(code, (426, 451), text)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "keep2.bin")), sha(old))
        self.assert_no_internal_visible(f)

    def test_abor_during_stor_keeps_old_file(self):
        old = self.srv.make_file("keep3.bin", 250000, seed=9)
        c, ds = self.begin_upload("keep3.bin", data_bytes(200000, 10))
        c.send("ABOR\r\n")
        code, text = c.reply(timeout=5)
        if code == 426:
            code, text = c.reply(timeout=5)
        self.assertIn(code, (225, 226), text)
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertEqual(sha(self.srv.read("keep3.bin")), sha(old))
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "keep3.bin")), sha(old))
        self.assert_no_internal_visible(f)

    def test_abor_that_follows_the_data_close_keeps_old_file(self):
        # A client that stops an upload may close its data connection before it sends ABOR
        # (basic-ftp does), or its ABOR may reach the server after that close: the server
        # sees the end of the data first, and then the ABOR, which must cut the upload, not
        # let it commit. Stopped meanwhile, the server finds both at once, the close first.
        old = self.srv.make_file("keep4.bin", 250000, seed=17)
        sent = data_bytes(200000, 18)
        c, ds = self.begin_upload("keep4.bin", sent)
        os.kill(self.srv.proc.pid, signal.SIGSTOP)
        try:
            ds.close()
            c.send("ABOR\r\n")
        finally:
            os.kill(self.srv.proc.pid, signal.SIGCONT)
        self.assertEqual([c.reply(timeout=10)[0] for _ in range(2)], [426, 226])
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertEqual(sha(self.srv.read("keep4.bin")), sha(old))
        self.assertEqual(self.srv.read(".ftpd-partial.keep4.bin"), sent)  # REST resumes it

    def test_a_resume_waits_while_the_cut_upload_still_runs(self):
        # A client whose connection died resumes on a new session before the server has
        # seen the old one end (a dead peer shows only at the data timeout): the bytes it
        # resumes from are still in that upload, not in the file, which holds the previous
        # version. The resume is told to try again rather than built on that version.
        old = self.srv.make_file("busy.bin", 500000, seed=19)
        new = data_bytes(600000, 20)
        c, ds = self.begin_upload("busy.bin", new[:300000])
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        with self.assertRaises(ftplib.error_temp) as refused:
            stor(f, "busy.bin", new[300000:], rest=300000)
        self.assertTrue(str(refused.exception).startswith("450"), refused.exception)
        self.assertEqual(sha(self.srv.read("busy.bin")), sha(old))
        # so is an APPE that would create a name whose first upload still runs
        c2, ds2 = self.begin_upload("fresh.bin", new[:200000])
        with self.assertRaises(ftplib.error_temp) as refused:
            stor(f, "fresh.bin", new[200000:], cmd="APPE")
        self.assertTrue(str(refused.exception).startswith("450"), refused.exception)
        self.assertFalse(self.srv.exists("fresh.bin"))
        # once the server has seen those sessions end, their bytes are the partials resumed
        self.kill_client(c, ds)
        self.kill_client(c2, ds2)
        self.assertTrue(wait_for(lambda: sorted(self.srv.internal_files()) == [
            ".ftpd-partial.busy.bin", ".ftpd-partial.fresh.bin"], 5), self.srv.internal_files())
        stor(f, "busy.bin", new[300000:], rest=300000)
        self.assertEqual(sha(self.srv.read("busy.bin")), sha(new))
        stor(f, "fresh.bin", new[200000:], cmd="APPE")
        self.assertEqual(sha(self.srv.read("fresh.bin")), sha(new))
        self.assertEqual(self.srv.internal_files(), [])

    def test_killed_new_upload_then_rest_stor_resume(self):
        full = data_bytes(700000, 11)
        c, ds = self.begin_upload("new.bin", full[:300000])
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(reply(f, "PASV")[0], 227)
        self.assertCode(reply(f, "RETR new.bin"), 550)
        self.assertNotIn("new.bin", nlst(f))
        self.assertFalse(self.srv.exists("new.bin"))
        self.assert_no_internal_visible(f)
        self.assertEqual(f.size("new.bin"), 300000)
        stor(f, "new.bin", full[300000:], rest=300000)
        self.assertEqual(sha(retr(f, "new.bin")), sha(full))
        self.assertEqual(sha(self.srv.read("new.bin")), sha(full))
        self.assertEqual(f.size("new.bin"), len(full))
        self.assertEqual(self.srv.internal_files(), [])

    def test_killed_new_upload_then_appe_resume(self):
        full = data_bytes(500000, 12)
        c, ds = self.begin_upload("appe.bin", full[:123457])
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        n = f.size("appe.bin")
        self.assertEqual(n, 123457)
        stor(f, "appe.bin", full[n:], cmd="APPE")
        self.assertEqual(sha(self.srv.read("appe.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])

    def test_resume_twice(self):
        full = data_bytes(900000, 13)
        c, ds = self.begin_upload("twice.bin", full[:200000])
        self.kill_client(c, ds)
        c, ds = self.begin_upload("twice.bin", full[200000:500000], rest=200000)
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("twice.bin"), 500000)
        stor(f, "twice.bin", full[500000:], rest=500000)
        self.assertEqual(sha(self.srv.read("twice.bin")), sha(full))

    def test_killed_overwrite_keeps_size_and_rest_resumes(self):
        old = self.srv.make_file("ow.bin", 50000, seed=14)
        new = data_bytes(400000, 15)
        c, ds = self.begin_upload("ow.bin", new[:150000])
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        # SIZE is what RETR sends, also to a session that may upload (RFC 3659)
        self.assertEqual(f.size("ow.bin"), len(old))
        self.assertEqual(retr(f, "ow.bin"), old)
        # a client that knows how far it got continues the kept partial with REST
        stor(f, "ow.bin", new[150000:], rest=150000)
        self.assertEqual(sha(self.srv.read("ow.bin")), sha(new))
        self.assertEqual(f.size("ow.bin"), len(new))
        self.assertEqual(self.srv.internal_files(), [])

    def test_appe_appends_to_the_file_not_a_partial_beside_it(self):
        old = self.srv.make_file("log.txt", 30000, seed=16)
        c, ds = self.begin_upload("log.txt", data_bytes(90000, 17))
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "log.txt", b"appended", cmd="APPE")
        self.assertEqual(self.srv.read("log.txt"), old + b"appended")
        self.assertEqual(f.size("log.txt"), len(old) + len(b"appended"))
        self.assertEqual(self.srv.internal_files(), [])

    def test_rest_at_the_files_size_is_not_spliced_onto_another_partial(self):
        # SIZE reports the file, so a client resuming from SIZE (REST at the file's size)
        # builds on the file's bytes, as ftpc's put -c checks them with HASH. A partial of
        # another upload of the name that holds more bytes differs from them: splicing the
        # rest onto it would replace the file with neither version, so the REST is refused,
        # the file and the partial stay as they were, and the cut upload still resumes
        old = self.srv.make_file("sp.bin", 60000, seed=81)
        other = data_bytes(200000, 82)
        c, ds = self.begin_upload("sp.bin", other[:150000])
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.sp.bin"], 10), self.srv.internal_files())
        partial = self.srv.local(".ftpd-partial.sp.bin")
        os.chmod(self.srv.local("sp.bin"), 0o644)
        os.chmod(partial, 0o600)  # the refusal must not give it the file's mode either
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("sp.bin"), len(old))
        grown = old + data_bytes(30000, 83)
        with self.assertRaises(ftplib.error_perm) as cm:
            stor(f, "sp.bin", grown[len(old):], rest=len(old))
        self.assertRegex(str(cm.exception), r"^554(?!\d)")
        self.assertIn("STOR without REST", str(cm.exception))
        self.assertEqual(sha(self.srv.read("sp.bin")), sha(old))
        self.assertEqual(os.path.getsize(partial), 150000)
        self.assertEqual(stat.S_IMODE(os.stat(partial).st_mode), 0o600)
        stor(f, "sp.bin", other[150000:], rest=150000)
        self.assertEqual(sha(self.srv.read("sp.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

    def test_a_file_cut_short_during_the_comparison_is_a_451(self):
        # REST at the file's size compares a kept partial with the file before continuing
        # it. A file truncated meanwhile is not a partial of other bytes (554: send it whole,
        # the same REST would fail again): it changed, and the client should look again
        # (451). Both are sparse, so that the comparison takes a worker job per 16 MiB of
        # holes: long enough to cut the file while it runs (256 GiB took 0.8 s).
        size = 1 << 40
        self.srv.make_sparse("cut.bin", size)
        partial = self.srv.make_sparse(".ftpd-partial.cut.bin", size)
        c = self.srv.control()
        c.login()
        self.assertCode(c.cmd("TYPE I"), 200)
        self.addCleanup(c.pasv().close)
        self.assertCode(c.cmd("REST %d" % size), 350)
        c.send("STOR cut.bin\r\n")
        # claimed (renamed to the upload's own name) once the file's size was read
        self.assertTrue(wait_for(lambda: not os.path.exists(partial), 10))
        os.truncate(self.srv.local("cut.bin"), 1 << 20)
        code, text = c.reply(timeout=60)
        self.assertEqual(code, 451, text)
        self.assertRegex(text, r"cut\.bin.*changed.*try again")
        self.assertTrue(wait_for(lambda: os.path.exists(partial), 10))  # given back whole
        self.assertEqual(os.path.getsize(partial), size)
        self.assertEqual(os.path.getsize(self.srv.local("cut.bin")), 1 << 20)

    def test_rest_at_the_files_size_continues_a_partial_of_the_same_bytes(self):
        # a cut upload that was growing the file holds the file's bytes first: either base
        # gives the same file, and the partial is continued
        full = data_bytes(300000, 84)
        self.srv.write("gr.bin", full[:50000])
        c, ds = self.begin_upload("gr.bin", full[:120000])
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.gr.bin"], 10), self.srv.internal_files())
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("gr.bin"), 50000)
        self.assertTrue(stor(f, "gr.bin", full[50000:], rest=50000).startswith("226"))
        self.assertEqual(sha(self.srv.read("gr.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])

    def test_a_partial_continued_at_the_files_size_does_not_replace_a_newer_upload(self):
        # A partial that begins with the file's bytes is continued by REST at the file's
        # size: that builds on the file, so another session's STOR of the name meanwhile
        # wins, as against a resume that copies the file (451, the newer file kept).
        full = data_bytes(300000, 91)
        self.srv.write("nw.bin", full[:50000])
        c, ds = self.begin_upload("nw.bin", full[:120000])
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.nw.bin"], 10), self.srv.internal_files())
        c, ds = self.begin_upload("nw.bin", full[50000:60000], rest=50000, expect_size=50000)
        newer = data_bytes(7000, 92)
        f = self.srv.ftp()
        self.assertTrue(stor(f, "nw.bin", newer).startswith("226"))
        ds.close()
        code, text = c.reply(timeout=20)
        self.assertEqual(code, 451, text)
        self.assertEqual(sha(self.srv.read("nw.bin")), sha(newer))

    def test_a_write_only_partial_is_still_compared_and_continued(self):
        # cut while replacing a 0200 file, the partial took that mode; the server must still
        # read it to compare it with the file (now readable) before continuing it
        full = data_bytes(300000, 93)
        self.srv.write("w.bin", full[:100000])
        os.chmod(self.srv.local("w.bin"), 0o200)
        c, ds = self.begin_upload("w.bin", full[:150000])
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.w.bin"], 10), self.srv.internal_files())
        os.chmod(self.srv.local("w.bin"), 0o644)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("w.bin"), 100000)
        self.assertTrue(stor(f, "w.bin", full[100000:], rest=100000).startswith("226"))
        self.assertEqual(sha(self.srv.read("w.bin")), sha(full))
        self.assertEqual(stat.S_IMODE(os.stat(self.srv.local("w.bin")).st_mode), 0o644)

    def test_a_refused_write_only_partial_keeps_its_mode(self):
        old = self.srv.make_file("v.bin", 60000, seed=94)
        os.chmod(self.srv.local("v.bin"), 0o200)
        c, ds = self.begin_upload("v.bin", data_bytes(90000, 95))
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.v.bin"], 10), self.srv.internal_files())
        os.chmod(self.srv.local("v.bin"), 0o644)
        partial = self.srv.local(".ftpd-partial.v.bin")
        self.assertEqual(stat.S_IMODE(os.stat(partial).st_mode), 0o200)
        f = self.srv.ftp()
        with self.assertRaises(ftplib.error_perm) as cm:
            stor(f, "v.bin", b"more", rest=len(old))
        self.assertRegex(str(cm.exception), r"^554(?!\d)")
        self.assertEqual(stat.S_IMODE(os.stat(partial).st_mode), 0o200)
        self.assertEqual(os.path.getsize(partial), 90000)
        self.assertEqual(sha(self.srv.read("v.bin")), sha(old))

    def test_the_check_of_a_sparse_partial_skips_the_holes(self):
        # The partial is compared with the file before it is continued; holes that both
        # have read as zeros in both and are skipped, as the copy of a sparse file skips
        # them, so the check costs the data, not the length (8 GiB would be 16 GiB read).
        size = 8 << 30
        with open(self.srv.local("sp.img"), "wb") as fh:
            fh.truncate(size)
            fh.seek(4096)
            fh.write(b"boot sector of a disk image")
        self.srv.chown(self.srv.local("sp.img"))
        c, ds = self.begin_upload("sp.img", b"x", rest=size, expect_size=size + 1)
        self.kill_client(c, ds)  # a partial: the sparse file's copy and one byte
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [
            ".ftpd-partial.sp.img"], 30), self.srv.internal_files())

        def read_by_server():
            with open("/proc/%d/io" % self.srv.proc.pid) as fh:
                return int(next(ln for ln in fh if ln.startswith("rchar:")).split()[1])
        before = read_by_server()
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertTrue(stor(f, "sp.img", b"tail", rest=size).startswith("226"))
        self.assertLess(read_by_server() - before, 64 << 20)
        self.assertEqual(os.path.getsize(self.srv.local("sp.img")), size + 4)
        with open(self.srv.local("sp.img"), "rb") as fh:
            fh.seek(4096)
            self.assertEqual(fh.read(27), b"boot sector of a disk image")
            fh.seek(size)
            self.assertEqual(fh.read(), b"tail")

    def test_stou_does_not_take_a_name_an_interrupted_upload_may_resume(self):
        full = data_bytes(200000, 86)
        c, ds = self.begin_upload("first.bin", full[:120000])  # no file of that name before
        self.kill_client(c, ds)
        c, ds, text = self.begin_transfer("STOU first.bin")
        ds.sendall(b"unique")
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)
        name = text.split("FILE: ", 1)[1].strip().lstrip("/")
        self.assertNotEqual(name, "first.bin")
        self.assertEqual(self.srv.read(name), b"unique")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "first.bin", full[120000:], rest=120000)  # the resume point is still there
        self.assertEqual(sha(self.srv.read("first.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])

    def test_fresh_stor_after_partial_wins(self):
        c, ds = self.begin_upload("p.bin", b"p" * 80000)
        self.kill_client(c, ds)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("p.bin"), 80000)
        stor(f, "p.bin", b"complete")
        self.assertEqual(retr(f, "p.bin"), b"complete")
        self.assertEqual(f.size("p.bin"), len(b"complete"))

    def test_a_long_utf8_name_uploads_and_resumes(self):
        # 76 CJK characters and ".bin": 232 bytes, more than the hidden names can spell out
        name = "\u6587" * 76 + ".bin"
        full = data_bytes(300000, 47)
        c, ds = self.begin_upload(name, full[:120000])
        self.assertTrue(self.kill_client(c, ds))
        f = self.srv.ftp()
        f.encoding = "utf-8"
        f.voidcmd("TYPE I")
        self.assertEqual(f.size(name), 120000)
        self.assertEqual(internal_names(nlst(f)), [])
        stor(f, name, full[120000:], rest=120000)
        self.assertEqual(sha(retr(f, name)), sha(full))
        self.assertEqual(self.srv.internal_files(), [])
        # and a plain upload of the longest name there is, 255 bytes
        longest = "\u00e9" * 127 + "x"
        stor(f, longest, b"longest")
        self.assertEqual(self.srv.read(longest), b"longest")
        self.assertEqual(f.sendcmd("DELE " + longest)[:3], "250")

    def test_rmd_of_a_directory_with_only_a_kept_partial(self):
        # the partial is hidden from listings: a directory that looks empty is removed
        self.srv.mkdir("pdir")
        c, ds = self.begin_upload("pdir/cut.bin", b"c" * 50000)
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: any(n.startswith(".ftpd-partial.")
                                             for n in os.listdir(self.srv.local("pdir"))), 10))
        f = self.srv.ftp()
        self.assertEqual(nlst(f, "pdir"), [])
        self.assertEqual(reply(f, "RMD pdir")[0], 250)
        self.assertFalse(self.srv.exists("pdir"))
        # a visible file still keeps a directory from going, partials and all
        self.srv.mkdir("qdir")
        self.srv.write("qdir/keep.txt", b"k")
        c, ds = self.begin_upload("qdir/cut.bin", b"c" * 50000)
        self.kill_client(c, ds)
        code, text = reply(f, "RMD qdir")
        self.assertEqual(code, 550, text)
        self.assertIn("not empty", text)
        self.assertEqual(self.srv.read("qdir/keep.txt"), b"k")
        self.assertEqual(f.size("qdir/cut.bin"), 50000)  # its partial is still there to resume

    def test_delete_after_partial(self):
        c, ds = self.begin_upload("gone.bin", b"g" * 80000)
        self.kill_client(c, ds)
        f = self.srv.ftp()
        # the name does not exist for RETR; DELE of it must not touch other files
        self.srv.write("other.bin", b"other")
        code, text = reply(f, "DELE gone.bin")
        self.assertIn(code, (250, 550), text)
        self.assertEqual(self.srv.read("other.bin"), b"other")

    def test_a_second_append_onto_a_file_is_refused_while_the_first_runs(self):
        # each APPE writes a copy of the file plus its bytes and renames it over the file:
        # two at once would both start from the same bytes and the later rename would drop
        # the other's append, after a 226 to both
        base = data_bytes(100000, 42)
        a = data_bytes(80000, 43)
        b = data_bytes(70000, 44)
        self.srv.write("log.bin", base)
        c1, d1 = self.begin_upload("log.bin", a[:40000], cmd="APPE",
                                   expect_size=len(base) + 40000)
        c2 = self.srv.control()
        c2.login()
        self.assertEqual(c2.cmd("TYPE I")[0], 200)
        d2 = c2.pasv()
        code, text = c2.cmd("APPE log.bin")
        self.assertEqual(code, 450, text)
        self.assertIn("another upload", text)
        self.assertEqual(c2.cmd("REST 100000")[0], 350)
        code, text = c2.cmd("STOR log.bin")  # a resume builds on the file too
        self.assertEqual(code, 450, text)
        d2.close()
        # another file, and a plain STOR, are not held up
        f = self.srv.ftp()
        stor(f, "other.bin", b"x" * 1000, cmd="APPE")
        d1.sendall(a[40000:])
        d1.close()
        self.assertEqual(c1.reply(timeout=20)[0], 226)
        c1.close()
        stor(f, "log.bin", b, cmd="APPE")  # free again once the first has ended
        self.assertEqual(sha(self.srv.read("log.bin")), sha(base + a + b))
        c2.close()
        # an aborted one gives the file back as well
        c3, d3 = self.begin_upload("log.bin", b"c" * 1000, cmd="APPE",
                                   expect_size=len(base + a + b) + 1000)
        c3.send("ABOR\r\n")
        self.assertEqual(c3.reply(timeout=20)[0], 426)
        self.assertEqual(c3.reply(timeout=20)[0], 226)
        d3.close()
        stor(f, "log.bin", b"d" * 10, cmd="APPE")
        self.assertEqual(sha(self.srv.read("log.bin")), sha(base + a + b + b"d" * 10))
        c3.close()


class TestFileModeGuards(UploadSafetyBase):
    def test_read_only_file_is_not_replaced(self):
        # the upload is written aside and renamed over the file, which needs only the
        # directory's permission: the file's own mode must still guard it
        old = self.srv.make_file("ro.txt", 5000, seed=30)
        os.chmod(self.srv.local("ro.txt"), 0o444)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for cmd, rest in (("STOR", None), ("APPE", None), ("STOR", 100)):
            if rest is not None:
                self.assertEqual(reply(f, "REST %d" % rest)[0], 350)
            with self.assertRaises(ftplib.error_perm) as cm:
                stor(f, "ro.txt", b"new", cmd=cmd)
            self.assertIn("550 /ro.txt: Permission denied", str(cm.exception), cmd)
            self.assertEqual(self.srv.read("ro.txt"), old, cmd)
        self.assertEqual(self.srv.internal_files(), [])
        # a writable file is replaced and keeps its mode
        os.chmod(self.srv.local("ro.txt"), 0o640)
        stor(f, "ro.txt", b"new")
        self.assertEqual(self.srv.read("ro.txt"), b"new")
        self.assertEqual(os.stat(self.srv.local("ro.txt")).st_mode & 0o777, 0o640)


    def test_an_upload_refused_before_its_data_is_logged(self):
        # no transfer line is written for it: the operator still learns what was refused, why
        self.srv.make_file("ro.txt", 100, seed=31)
        os.chmod(self.srv.local("ro.txt"), 0o444)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for cmd, path in (("STOR", "no/such/dir.bin"), ("APPE", "ro.txt")):
            with self.assertRaises(ftplib.error_perm):
                stor(f, path, b"new", cmd=cmd)
        self.assertLogged(r"alice: STOR /no/such/dir\.bin refused: No such file or directory$")
        self.assertLogged(r"alice: APPE /ro\.txt refused: Permission denied$")

    def test_a_download_refused_before_its_data_is_logged(self):
        self.srv.make_file("secret.bin", 100, seed=32)
        os.chmod(self.srv.local("secret.bin"), 0o000)
        self.srv.mkdir("adir")
        f = self.srv.ftp()
        for path in ("no/such.bin", "secret.bin", "adir"):
            with self.assertRaises(ftplib.error_perm):
                retr(f, path)
        self.assertLogged(r"alice: RETR /no/such\.bin refused: No such file or directory$")
        self.assertLogged(r"alice: RETR /secret\.bin refused: Permission denied$")
        self.assertLogged(r"alice: RETR /adir refused: not a regular file$")

    def test_an_upload_to_a_symlink_replaces_the_link_not_its_target(self):
        # ftpd(8), SECURITY: the new version is a file of its own at the uploaded name, as
        # for a hard link; the file the link pointed to keeps its content
        target = self.srv.make_file("target.bin", 3000, seed=31)
        os.symlink("target.bin", self.srv.local("link.bin"))
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "link.bin", b"appended", cmd="APPE")
        self.assertFalse(os.path.islink(self.srv.local("link.bin")))
        self.assertEqual(self.srv.read("link.bin"), target + b"appended")
        self.assertEqual(self.srv.read("target.bin"), target)
        os.remove(self.srv.local("link.bin"))
        os.symlink("target.bin", self.srv.local("link.bin"))
        stor(f, "link.bin", b"new")
        self.assertFalse(os.path.islink(self.srv.local("link.bin")))
        self.assertEqual(self.srv.read("link.bin"), b"new")
        self.assertEqual(self.srv.read("target.bin"), target)
        self.assertEqual(self.srv.internal_files(), [])


class TestPartialsAndReaders(UploadSafetyBase):
    """SIZE tells every session the file's own size, which its download of the file gets,
    whatever partial upload waits beside it."""
    server_kwargs = {"users": [(DEFAULT_USER, DEFAULT_PASSWORD, "elradfmw"),
                               ("reader", "reader-Pw-1", "elr")]}

    def test_size_is_the_file_not_the_partial(self):
        old = self.srv.make_file("doc.bin", 50000, seed=21)
        c, ds = self.begin_upload("doc.bin", data_bytes(150000, 22))
        self.kill_client(c, ds)
        for who in (("reader", "reader-Pw-1"), (DEFAULT_USER, DEFAULT_PASSWORD)):
            f = self.srv.ftp(*who)
            f.voidcmd("TYPE I")
            self.assertEqual(f.size("doc.bin"), len(old), who[0])
            self.assertEqual(retr(f, "doc.bin"), old, who[0])
            f.quit()

    def test_curl_download_after_a_cut_upload(self):
        old = self.srv.make_file("c.bin", 400000, seed=23)
        c, ds = self.begin_upload("c.bin", data_bytes(100000, 24))
        self.kill_client(c, ds)
        out = os.path.join(self.srv.base, "c.out")  # curl asks SIZE, then RETR
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-o", out, self.srv.url("c.bin")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), old)


    def test_a_file_renamed_onto_a_name_supersedes_its_partial(self):
        """Uploading under a temporary name and renaming it into place (rclone, FileZilla's
        option) completes the name as a STOR would: the partial of an earlier cut upload of it
        goes, so that a later REST resumes from the file, not from that stale partial."""
        c, ds = self.begin_upload("y.bin", data_bytes(300000, 25))
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [".ftpd-partial.y.bin"],
                                 5), self.srv.internal_files())
        full = data_bytes(400000, 26)
        f = self.srv.ftp()
        stor(f, "y.bin.tmp", full)
        f.sendcmd("RNFR y.bin.tmp")
        self.assertEqual(f.sendcmd("RNTO y.bin")[:3], "250")
        self.assertEqual(self.srv.internal_files(), [])
        stor(f, "y.bin", full[200000:], rest=200000)
        self.assertEqual(sha(self.srv.read("y.bin")), sha(full))
        # a rename of a name onto itself completes nothing: the partial stays
        c, ds = self.begin_upload("y.bin", data_bytes(100000, 27))
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [".ftpd-partial.y.bin"],
                                 5), self.srv.internal_files())
        f.sendcmd("RNFR y.bin")
        self.assertEqual(f.sendcmd("RNTO /y.bin")[:3], "250")
        self.assertEqual(self.srv.internal_files(), [".ftpd-partial.y.bin"])

    def test_a_resume_that_loses_its_name_to_a_stor_leaves_no_partial(self):
        """An APPE that continues a kept partial fails at its commit when another session
        stored the name meanwhile: that complete file supersedes the partial, as a STOR's
        commit does, and none is given back for a later REST to resume from."""
        full = data_bytes(300000, 28)
        c, ds = self.begin_upload("z.bin", full[:100000])
        self.kill_client(c, ds)
        self.assertTrue(wait_for(lambda: self.srv.internal_files() == [".ftpd-partial.z.bin"],
                                 5), self.srv.internal_files())
        c, ds = self.begin_upload("z.bin", full[100000:200000], cmd="APPE", expect_size=200000)
        other = data_bytes(50000, 29)
        f = self.srv.ftp()
        stor(f, "z.bin", other)
        ds.close()
        code, text = c.reply(timeout=10)
        if code == 150:
            code, text = c.reply(timeout=10)
        self.assertGreaterEqual(code, 400, text)
        self.assertEqual(sha(self.srv.read("z.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

class TestInternalNames(UploadSafetyBase):
    def test_internal_names_cannot_be_used(self):
        c, ds = self.begin_upload("x.bin", b"x" * 70000)
        self.kill_client(c, ds)
        c, ds = self.begin_upload("y.bin", b"y" * 70000)  # in progress
        names = self.srv.internal_files()
        self.assertTrue(any(n.startswith(".ftpd-partial.") for n in names), names)
        self.assertTrue(any(n.startswith(".ftpd-up.") for n in names), names)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for n in names:
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, "RETR " + n), 550, n)
            self.assertCode(reply(f, "SIZE " + n), 550, n)
            self.assertCode(reply(f, "MDTM " + n), 550, n)
            self.assertCode(reply(f, "DELE " + n), 550, n)
            self.assertCode(reply(f, "RNFR " + n), 550, n)
            self.assertCode(reply(f, "MLST " + n), 550, n)
        for n in (".ftpd-up.mine", ".ftpd-partial.mine"):
            self.assertEqual(reply(f, "PASV")[0], 227)
            self.assertCode(reply(f, "STOR " + n), "5xx", n)
            self.assertCode(reply(f, "MKD " + n), "5xx", n)
        self.srv.write("r.txt", b"r")
        self.assertCode(reply(f, "RNFR r.txt"), 350)
        self.assertCode(reply(f, "RNTO .ftpd-up.evil"), "5xx")
        self.assertTrue(self.srv.exists("r.txt"))
        self.assertEqual(set(self.srv.internal_files()), set(names))
        self.assert_no_internal_visible(f)
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)

    def test_internal_names_hidden_in_subdir(self):
        self.srv.mkdir("sub")
        c, ds = self.begin_upload("sub/a.bin", b"a" * 70000)
        f = self.srv.ftp()
        self.assert_no_internal_visible(f, "sub")
        self.assertEqual(reply(f, "CWD sub")[0], 250)
        self.assert_no_internal_visible(f)
        code, text = reply(f, "STAT .")
        self.assertNotIn(".ftpd-", text)
        ds.close()
        self.assertEqual(c.reply(timeout=10)[0], 226)


class TestLargeUploads(UploadSafetyBase):
    """Past its first 256 KiB an upload is written by ftpd's upload writer threads, not by the
    event loop: the same guarantees must hold there (every byte in order, the old file intact,
    a partial kept and resumable, the reply only once the bytes are in the file)."""
    BIG = 3 * 1024 * 1024

    def test_parallel_large_uploads_arrive_intact(self):
        blobs = [data_bytes(self.BIG + 4099 * i, 40 + i) for i in range(6)]
        errors = []

        def put(i):
            try:
                f = self.srv.ftp()
                self.assertTrue(stor(f, "par%d.bin" % i, blobs[i]).startswith("226"))
                f.quit()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=put, args=(i,)) for i in range(len(blobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        for i, blob in enumerate(blobs):
            self.assertEqual(sha(self.srv.read("par%d.bin" % i)), sha(blob), i)
        self.assertEqual(self.srv.internal_files(), [])

    def test_abor_during_large_upload_keeps_partial_and_resumes(self):
        old = self.srv.make_file("bigab.bin", 100000, seed=41)
        full = data_bytes(self.BIG + 12345, 42)
        part = self.BIG - 777
        c, ds = self.begin_upload("bigab.bin", full[:part])
        c.send("ABOR\r\n")
        code, text = c.reply(timeout=10)
        if code == 426:
            code, text = c.reply(timeout=10)
        self.assertIn(code, (225, 226), text)
        ds.close()
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertEqual(sha(self.srv.read("bigab.bin")), sha(old))
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("bigab.bin"), len(old))
        stor(f, "bigab.bin", full[part:], rest=part)
        self.assertEqual(sha(self.srv.read("bigab.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])

    def test_reset_during_large_upload_keeps_old_file(self):
        old = self.srv.make_file("bigrst.bin", 300000, seed=43)
        c, ds = self.begin_upload("bigrst.bin", data_bytes(self.BIG, 44))
        reset_close(ds)
        code, text = c.reply(timeout=10)
        self.assertIn(code, (426, 451), text)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "bigrst.bin")), sha(old))
        self.assert_no_internal_visible(f)

    def test_killed_large_upload_resumes_from_its_partial(self):
        old = self.srv.make_file("bigkill.bin", 50000, seed=45)
        full = data_bytes(self.BIG + 99999, 46)
        part = self.BIG - 5
        c, ds = self.begin_upload("bigkill.bin", full[:part])
        self.assertTrue(self.kill_client(c, ds))
        f = self.srv.ftp()
        self.assertEqual(sha(retr(f, "bigkill.bin")), sha(old))
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("bigkill.bin"), len(old))
        stor(f, "bigkill.bin", full[part:], rest=part)
        self.assertEqual(sha(retr(f, "bigkill.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])


class TestCrashedServer(UploadSafetyBase):
    """A server killed mid-upload leaves the bytes it had under a hidden temporary name; the
    next start makes them resume points, so the clients' resume continues them."""

    def test_uploads_cut_by_a_crash_resume_after_restart(self):
        self.srv.mkdir("deep/er")
        top = data_bytes(3 * 1024 * 1024, 61)
        deep = data_bytes(700000, 62)
        c1, d1 = self.begin_upload("top.bin", top[:1100000])
        c2, d2 = self.begin_upload("deep/er/curl.bin", deep[:300000])
        self.assertEqual(len(self.srv.internal_files()), 1)  # the live upload's temp file
        self.srv.crash_and_restart()
        for s in (c1, d1, c2, d2):
            s.close()
        done = self.srv.wait_log(r"upload recovery: 2 interrupted uploads kept for a resume, "
                                 r"0 removed", 10)
        self.assertTrue(done, self.srv.log_text())
        log = self.srv.log_text()
        self.assertIn("top.bin: 1100000 bytes of an interrupted upload kept", log)
        self.assertIn("deep/er/curl.bin: 300000 bytes", log)
        self.assertEqual(self.srv.internal_files(), [".ftpd-partial.top.bin"])
        self.assertEqual(self.srv.internal_files("deep/er"), [".ftpd-partial.curl.bin"])

        # python ftplib: SIZE, then REST + STOR of the rest
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("top.bin"), 1100000)
        stor(f, "top.bin", top[1100000:], rest=1100000)
        self.assertEqual(sha(retr(f, "top.bin")), sha(top))
        self.assert_no_internal_visible(f)
        f.quit()
        # curl -C -: SIZE, then APPE of what the server lacks
        local = os.path.join(self.srv.base, "curl.bin")
        with open(local, "wb") as fh:
            fh.write(deep)
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-C", "-", "-T", local,
                            self.srv.url("deep/er/curl.bin")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.srv.read("deep/er/curl.bin"), deep)
        self.assertEqual(self.srv.internal_files(), [])
        self.assertEqual(self.srv.internal_files("deep/er"), [])

    def test_a_write_only_file_being_replaced(self):
        # the upload takes its target's mode, here write-only: the restarted server (not
        # root) still recovers it
        old = self.srv.write("wo.bin", b"old content")
        os.chmod(old, 0o200)
        full = data_bytes(500000, 64)
        c, ds = self.begin_upload("wo.bin", full[:200000])
        self.srv.crash_and_restart()
        c.close()
        ds.close()
        self.assertTrue(self.srv.wait_log(r"upload recovery: 1 interrupted upload kept", 10),
                        self.srv.log_text())
        self.assertEqual(self.srv.internal_files(), [".ftpd-partial.wo.bin"])
        self.assertEqual(os.path.getsize(self.srv.local(".ftpd-partial.wo.bin")), 200000)
        os.chmod(old, 0o600)  # a resume reads the target (ftpd.8): let it
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "wo.bin", full[200000:], rest=200000)
        self.assertEqual(self.srv.read("wo.bin"), full)
        self.assertEqual(self.srv.internal_files(), [])

    def test_a_leftover_shorter_than_the_partial_is_dropped(self):
        # an earlier failed attempt kept 400000 bytes; a second attempt died with fewer
        full = data_bytes(900000, 63)
        c, ds = self.begin_upload("twice.bin", full[:400000])
        self.assertTrue(self.kill_client(c, ds))
        kept = wait_for(lambda: self.srv.internal_files() == [".ftpd-partial.twice.bin"], 5)
        self.assertTrue(kept, self.srv.internal_files())
        c, ds = self.begin_upload("twice.bin", full[:100000])
        self.srv.crash_and_restart()
        c.close()
        ds.close()
        self.assertTrue(self.srv.wait_log(r"upload recovery: 0 interrupted uploads kept for a "
                                          r"resume, 1 removed", 10), self.srv.log_text())
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("twice.bin"), 400000)
        stor(f, "twice.bin", full[400000:], rest=400000)
        self.assertEqual(sha(retr(f, "twice.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])


class TestBusyWriter(ServerTestCase):
    """One upload writer kept busy by three endless uploads, so each new upload's move waits
    in its queue: an end that comes meanwhile must wait for the move, in reply order, and a
    partial must not grow once SIZE has reported it."""
    server_kwargs = {"args": ["--workers", "1"]}

    def setUp(self):
        super().setUp()
        self.stop = threading.Event()
        self.hogs = []
        for i in range(3):
            c = self.srv.control()
            c.login()
            c.cmd("TYPE I")
            ds = c.pasv()
            c.cmd("STOR hog%d.bin" % i)
            t = threading.Thread(target=self.hog, args=(ds,), daemon=True)
            t.start()
            self.hogs.append((c, ds, t))
        time.sleep(0.3)

    def hog(self, ds):
        blob = data_bytes(1 << 20, 50)
        while not self.stop.is_set():
            try:
                ds.sendall(blob)
            except OSError:
                break

    def tearDown(self):
        self.stop.set()
        for c, ds, t in self.hogs:
            reset_close(ds)
            c.close()
            t.join(10)
        super().tearDown()

    def start_big_upload(self, name, first, rest):
        c = self.srv.control()
        c.login()
        c.cmd("TYPE I")
        ds = c.pasv()
        ds.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.assertIn(c.cmd("STOR " + name)[0], (125, 150))
        ds.sendall(first)
        time.sleep(0.3)
        ds.sendall(rest)
        return c, ds

    def test_abor_then_noop_answered_in_order(self):
        data = data_bytes(3 << 20, 51)
        c, ds = self.start_big_upload("ab.bin", data[:1 << 20], data[1 << 20:])
        c.send("ABOR\r\nNOOP\r\nABOR\r\n")
        codes = [c.reply(timeout=20)[0] for _ in range(4)]
        self.assertEqual(codes, [426, 226, 200, 226])
        ds.close()
        c.close()

    def test_session_end_mid_move_then_appe_resume(self):
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        for trial in range(2):
            name = "cut%d.bin" % trial
            data = data_bytes(4 << 20, 52 + trial)
            c, ds = self.start_big_upload(name, data[:1 << 20], data[1 << 20:3 << 20])
            c.close()  # the control connection drops while the move is queued or running
            size = wait_for(lambda: self.size_or_none(f, name), 20)
            self.assertIsNotNone(size)
            time.sleep(0.1)
            stor(f, name, data[size:], cmd="APPE")
            self.assertEqual(sha(self.srv.read(name)), sha(data), trial)
            reset_close(ds)

    def test_a_cut_uploads_log_line_counts_what_its_partial_holds(self):
        # the line is written once the move in flight is in the file, so that it agrees with
        # the partial a resume starts from (SIZE), not with what had landed when it was cut
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        data = data_bytes(4 << 20, 56)
        c, ds = self.start_big_upload("counted.bin", data[:1 << 20], data[1 << 20:3 << 20])
        c.close()  # the control connection drops while the move is queued or running
        size = wait_for(lambda: self.size_or_none(f, "counted.bin"), 20)
        self.assertIsNotNone(size)
        m = self.srv.wait_log(r"STOR /counted\.bin failed: (\d+) bytes .*: the session ended "
                              r"first$", 10)
        self.assertIsNotNone(m, self.srv.log_text()[-3000:])
        self.assertEqual(int(m.group(1)), size)
        reset_close(ds)

    @staticmethod
    def size_or_none(f, name):
        try:
            return f.size(name)
        except Exception:  # noqa: BLE001 - 550 until the partial is published
            return None


class TestAppendKeepsHoles(UploadSafetyBase):
    def test_appe_onto_a_sparse_file_leaves_its_holes_unwritten(self):
        # the copy an APPE starts from skipped no hole: 4 bytes appended to a sparse image
        # took its whole apparent size of disk (a 5.5 GB file: 5.1 GB and 27 s here)
        size = 64 << 20
        p = self.srv.make_sparse("image.bin", size)
        with open(p, "r+b") as fh:
            fh.write(b"head")
            fh.seek(size // 2)
            fh.write(b"middle")
            fh.seek(size - 4)
            fh.write(b"end!")
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        stor(f, "image.bin", b"tail", cmd="APPE")
        f.quit()
        with open(p, "rb") as fh:
            data = fh.read()
        self.assertEqual(len(data), size + 4)
        self.assertEqual(data[:4], b"head")
        self.assertEqual(data[size // 2:size // 2 + 6], b"middle")
        self.assertEqual(data[-8:], b"end!tail")
        self.assertEqual(data.count(0), size - 14)
        self.assertLess(os.stat(p).st_blocks * 512, 4 << 20)


class TestAppendCopyInSlices(UploadSafetyBase):
    """APPE onto a large file starts from a copy of it, made on the worker pool that also
    checks passwords and hashes files. With one worker, a HASH sent while the copy runs must
    get its turn between slices of the copy, not after all of it."""
    server_kwargs = {"args": ["--workers", "1"]}
    SIZE = 256 << 20  # 16 slices; about 0.5 s of copying here

    def start_appe(self, name):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send("APPE %s\r\n" % name)
        return c, ds

    def test_a_hash_is_answered_while_the_copy_runs(self):
        self.srv.make_dense("big.bin", self.SIZE)
        self.srv.write("small.txt", b"small")
        b = self.srv.control()
        b.login()
        a, ds = self.start_appe("big.bin")
        time.sleep(0.05)  # the copy's first slice is on the worker
        b.send("HASH small.txt\r\n")
        code, text = b.reply(timeout=60)
        self.assertEqual(code, 213, text)
        a.sock.setblocking(False)
        try:
            early = a.sock.recv(4096)
        except BlockingIOError:
            early = b""
        a.sock.setblocking(True)
        self.assertEqual(early, b"", "the APPE's copy ended before the HASH was answered")
        code, text = a.reply(timeout=60)
        self.assertIn(code, (125, 150), text)
        ds.sendall(b"tail")
        ds.close()
        self.assertEqual(a.reply(timeout=60)[0], 226)
        self.assertEqual(os.path.getsize(self.srv.local("big.bin")), self.SIZE + 4)
        with open(self.srv.local("big.bin"), "rb") as fh:
            fh.seek(self.SIZE - 4)
            self.assertEqual(fh.read(), bytes([DENSE_BYTE]) * 4 + b"tail")
        a.close()
        b.close()

    def test_a_session_closed_mid_copy_stops_it_and_leaves_nothing_behind(self):
        # 1 GiB: 64 slices, far more than the copy does before the close is seen
        size = 1 << 30
        self.srv.make_dense("huge.bin", size)
        a, ds = self.start_appe("huge.bin")
        time.sleep(0.05)
        a.close()
        ds.close()
        stopped = self.srv.wait_log(r"APPE /huge\.bin: the copy of the existing file stopped at "
                                    r"(\d+) of (\d+) bytes", timeout=60)
        self.assertIsNotNone(stopped, self.srv.log_text()[-2000:])
        self.assertLess(int(stopped.group(1)), size)
        self.assertEqual(int(stopped.group(2)), size)
        directory = os.path.dirname(self.srv.local("huge.bin"))
        leftovers = lambda: [n for n in os.listdir(directory) if n.startswith(INTERNAL_PREFIXES)]
        self.assertTrue(wait_for(lambda: not leftovers(), 20), leftovers())
        self.assertEqual(os.path.getsize(self.srv.local("huge.bin")), size)
        f = self.srv.ftp()
        self.assertEqual(f.size("huge.bin"), size)

    def test_abor_stops_the_copy(self):
        # ABOR before the 150: the APPE gets 426, the ABOR 226, and the file is as it was
        size = 1 << 30
        self.srv.make_dense("huge.bin", size)
        a, ds = self.start_appe("huge.bin")
        time.sleep(0.05)
        a.send("ABOR\r\n")
        code, text = a.reply(timeout=60)
        self.assertEqual(code, 426, text)
        self.assertEqual(a.reply(timeout=60), (226, "226 ABOR successful."))
        self.assertEqual(a.cmd("NOOP")[0], 200)
        self.assertIsNotNone(self.srv.wait_log(r"APPE /huge\.bin aborted by the client \(ABOR\)",
                                               timeout=10), self.srv.log_text()[-2000:])
        directory = os.path.dirname(self.srv.local("huge.bin"))
        self.assertEqual([n for n in os.listdir(directory) if n.startswith(INTERNAL_PREFIXES)], [])
        self.assertEqual(os.path.getsize(self.srv.local("huge.bin")), size)
        ds.close()
        a.close()

    def test_abor_behind_lines_of_an_earlier_turn_stops_the_copy(self):
        # the APPE comes after more lines than a turn runs, so it starts in a later turn,
        # with its ABOR already read: no more input will come to point at it
        size = 1 << 30
        self.srv.make_dense("huge.bin", size)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send("NOOP\r\n" * 8 + "APPE huge.bin\r\nABOR\r\n")
        for _ in range(8):
            self.assertEqual(c.reply(timeout=60)[0], 200)
        code, text = c.reply(timeout=60)
        self.assertEqual(code, 426, text)
        self.assertEqual(c.reply(timeout=60)[0], 226)
        self.assertIsNotNone(self.srv.wait_log(r"APPE /huge\.bin aborted by the client \(ABOR\)",
                                               timeout=10), self.srv.log_text()[-2000:])
        self.assertEqual(os.path.getsize(self.srv.local("huge.bin")), size)
        ds.close()
        c.close()

    def test_abor_keeps_the_claimed_partial(self):
        # REST onto a kept partial, STOR and ABOR in one packet: the ABOR reaches the upload
        # while the partial is being claimed; the resume point must survive it
        full = data_bytes(200000, 41)
        self.srv.write(".ftpd-partial.x.bin", full[:100000])
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send("REST 100000\r\nSTOR x.bin\r\nABOR\r\n")
        self.assertEqual(c.reply(timeout=20)[0], 350)
        code, text = c.reply(timeout=20)
        if code in (125, 150):
            code, text = c.reply(timeout=20)
        self.assertEqual(code, 426, text)
        self.assertEqual(c.reply(timeout=20)[0], 226)
        self.assertEqual(c.cmd("NOOP")[0], 200)
        ds.close()
        c.close()
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("x.bin"), 100000)
        stor(f, "x.bin", full[100000:], rest=100000)
        self.assertEqual(sha(self.srv.read("x.bin")), sha(full))
        self.assertEqual(self.srv.internal_files(), [])


class TestNewFileCreatedOnAWorker(UploadSafetyBase):
    """On a disk (not tmpfs) a new upload's file is created on a worker (fsjob.h), and an ABOR
    or a close can come meanwhile: the log says what was going on, and nothing is left."""

    def setUp(self):
        super().setUp()
        kind = subprocess.run(["stat", "-f", "-c", "%T", self.srv.root], capture_output=True,
                              text=True).stdout.strip()
        if kind in ("tmpfs", "ramfs"):
            self.skipTest("the test tree is on %s: the file is created at once there" % kind)

    def test_abor_while_the_file_is_created(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        c.send("STOR new.bin\r\nABOR\r\n")  # one read: the ABOR is seen while the job runs
        self.assertEqual(c.reply(timeout=10)[0], 426)
        # the ABOR's own reply, as on tmpfs, where the upload started at once: it did abort
        self.assertEqual(c.reply(timeout=10), (226, "226 ABOR successful."))
        c.send("ABOR\r\n")  # a second one finds nothing
        self.assertEqual(c.reply(timeout=10), (226, "226 No transfer to abort."))
        self.assertEqual(c.cmd("NOOP")[0], 200)
        self.assertLogged(r"STOR /new\.bin aborted by the client \(ABOR\) while its file was "
                          r"being created$")
        self.assertFalse(self.srv.exists("new.bin"))
        self.assertEqual(self.srv.internal_files(), [])
        ds.close()
        c.close()


class TestCopyLongerThanTheDataTimeout(UploadSafetyBase):
    """The copy that starts an APPE is the server's work: however long it takes, the data
    timeout must not drop the channel under it (the APPE then never got a reply at all)."""
    server_kwargs = {"args": ["--workers", "1", "--data-timeout", "1"]}

    def test_appe_gets_its_150_after_a_long_copy(self):
        size = 1 << 30  # seconds of copying here: the data timeout is 1 s
        self.srv.make_dense("big.bin", size)
        c = self.srv.control(timeout=120)
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        t0 = time.monotonic()
        code, text = c.cmd("APPE big.bin", timeout=120)
        took = time.monotonic() - t0
        self.assertIn(code, (125, 150), "%s (after %.1f s)" % (text, took))
        ds.sendall(b"tail")
        ds.close()
        self.assertEqual(c.reply(timeout=60)[0], 226)
        self.assertEqual(os.path.getsize(self.srv.local("big.bin")), size + 4)
        c.close()


class TestSlowLargeUpload(UploadSafetyBase):
    """Once an upload goes to the writers its socket wakes the loop only for 256 KiB at a time
    (SO_RCVLOWAT). A client that then trickles must still be served and never be timed out."""
    server_kwargs = {"args": ["--data-timeout", "2"]}

    def test_trickle_after_a_fast_start_is_not_a_stall(self):
        data = data_bytes(600 * 1024 + 12 * 4096, 60)
        c, ds = self.begin_upload("slow.bin", data[:600 * 1024])
        stat_counts = []
        for i in range(12):  # 4.8 s at 10 KiB/s, well past the 2 s data timeout
            ds.sendall(data[600 * 1024 + i * 4096:600 * 1024 + (i + 1) * 4096])
            time.sleep(0.4)
            if i in (5, 11):
                code, text = c.cmd("STAT")
                self.assertEqual(code, 211, text)
                stat_counts.append([ln for ln in text.splitlines() if "STOR" in ln])
        ds.close()
        code, text = c.reply(timeout=10)
        self.assertEqual(code, 226, text)
        self.assertEqual(sha(self.srv.read("slow.bin")), sha(data))
        self.assertNotEqual(stat_counts[0], stat_counts[1], "STAT showed no progress")


class TestSessionsOnOneFile(UploadSafetyBase):
    """Several sessions at work on one file. An APPE (or a REST+STOR that starts from the file's
    own bytes) builds a copy of the file plus its bytes aside and renames it over the file at
    its end: if another session replaced, deleted or renamed the file meanwhile, that rename
    would silently undo the other session's 226/250. It must fail instead and replace
    nothing. The order is forced by the replies: the append has its 150 before the other
    session acts, and ends after the other session's reply."""

    def finish(self, c, ds, data):
        ds.sendall(data)
        ds.close()
        return c.reply(timeout=20)

    def assert_refused_as_changed(self, got):
        code, text = got
        self.assertEqual(code, 451, text)
        self.assertIn("changed while", text)
        self.assertIn("nothing", text)

    def test_stor_during_appe_is_not_undone(self):
        base, tail, other = data_bytes(100000, 70), data_bytes(30000, 71), data_bytes(5000, 72)
        self.srv.write("log.bin", base)
        c, ds, _ = self.begin_transfer("APPE log.bin")
        ds.sendall(tail[:10000])
        f = self.srv.ftp()
        self.assertTrue(stor(f, "log.bin", other).startswith("226"))
        self.assert_refused_as_changed(self.finish(c, ds, tail[10000:]))
        self.assertEqual(sha(self.srv.read("log.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])
        # the file is free again: the next APPE builds on the STOR's file
        self.assertTrue(stor(f, "log.bin", tail, cmd="APPE").startswith("226"))
        self.assertEqual(sha(self.srv.read("log.bin")), sha(other + tail))

    def test_mkd_of_the_name_during_stor_is_the_reason_given(self):
        c, ds, _ = self.begin_transfer("STOR grows.bin")
        ds.sendall(b"g" * 10000)
        f = self.srv.ftp()
        self.assertEqual(reply(f, "MKD grows.bin")[0], 257)
        code, text = self.finish(c, ds, b"h" * 10000)
        self.assertEqual(code, 451, text)
        self.assertIn("/grows.bin became a directory while the STOR ran", text)
        self.assertIn("nothing was stored", text)
        self.assertLogged(r"STOR .*grows\.bin.*451 /grows\.bin became a directory")
        self.assertTrue(os.path.isdir(self.srv.local("grows.bin")))
        self.assertEqual(self.srv.internal_files(), [])

    def test_dele_during_appe_stays_deleted(self):
        self.srv.write("log.bin", data_bytes(50000, 73))
        c, ds, _ = self.begin_transfer("APPE log.bin")
        f = self.srv.ftp()
        self.assertEqual(reply(f, "DELE log.bin")[0], 250)
        self.assert_refused_as_changed(self.finish(c, ds, b"t" * 20000))
        self.assertFalse(self.srv.exists("log.bin"))
        self.assertEqual(self.srv.internal_files(), [])

    def test_rename_of_the_file_during_appe(self):
        base = data_bytes(50000, 74)
        other = data_bytes(7000, 75)
        self.srv.write("log.bin", base)
        self.srv.write("new.bin", other)
        c, ds, _ = self.begin_transfer("APPE log.bin")
        f = self.srv.ftp()
        self.assertEqual(reply(f, "RNFR log.bin")[0], 350)
        self.assertEqual(reply(f, "RNTO moved.bin")[0], 250)
        self.assertEqual(reply(f, "RNFR new.bin")[0], 350)
        self.assertEqual(reply(f, "RNTO log.bin")[0], 250)  # another file takes its name
        self.assert_refused_as_changed(self.finish(c, ds, b"t" * 20000))
        self.assertEqual(sha(self.srv.read("moved.bin")), sha(base))
        self.assertEqual(sha(self.srv.read("log.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

    def test_appe_onto_a_new_name_does_not_replace_a_stor_of_it(self):
        # APPE of a name without a file creates it; a file stored under that name meanwhile
        # must not be replaced by it
        other = data_bytes(9000, 76)
        c, ds, _ = self.begin_transfer("APPE fresh.bin")
        f = self.srv.ftp()
        self.assertTrue(stor(f, "fresh.bin", other).startswith("226"))
        self.assert_refused_as_changed(self.finish(c, ds, b"t" * 20000))
        self.assertEqual(sha(self.srv.read("fresh.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

    def test_resume_from_the_file_during_stor(self):
        # REST n + STOR with no kept partial starts from the file's first n bytes
        base = data_bytes(80000, 77)
        other = data_bytes(6000, 78)
        self.srv.write("r.bin", base)
        c, ds, _ = self.begin_transfer("STOR r.bin", rest=40000)
        f = self.srv.ftp()
        self.assertTrue(stor(f, "r.bin", other).startswith("226"))
        self.assert_refused_as_changed(self.finish(c, ds, b"t" * 20000))
        self.assertEqual(sha(self.srv.read("r.bin")), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

    def test_appe_alongside_readers_and_other_files_still_commits(self):
        base, tail = data_bytes(60000, 79), data_bytes(20000, 80)
        self.srv.write("log.bin", base)
        self.srv.write("x.bin", b"x")
        c, ds, _ = self.begin_transfer("APPE log.bin")
        f = self.srv.ftp()
        self.assertEqual(retr(f, "log.bin"), base)
        self.assertTrue(stor(f, "x.bin", b"y").startswith("226"))
        self.assertEqual(reply(f, "DELE x.bin")[0], 250)
        code, text = self.finish(c, ds, tail)
        self.assertEqual(code, 226, text)
        self.assertEqual(sha(self.srv.read("log.bin")), sha(base + tail))

    def test_stou_with_one_suggestion_at_once_gets_two_names(self):
        a, b = data_bytes(30000, 81), data_bytes(40000, 82)
        c1, d1, t1 = self.begin_transfer("STOU u.txt")
        c2, d2, t2 = self.begin_transfer("STOU u.txt")
        n1, n2 = t1.split("FILE: ", 1)[1].strip(), t2.split("FILE: ", 1)[1].strip()
        self.assertNotEqual(n1, n2)
        self.assertEqual(self.finish(c1, d1, a)[0], 226)
        self.assertEqual(self.finish(c2, d2, b)[0], 226)
        self.assertEqual(sha(self.srv.read(n1.lstrip("/"))), sha(a))
        self.assertEqual(sha(self.srv.read(n2.lstrip("/"))), sha(b))

    def test_stou_never_replaces_a_file_stored_meanwhile(self):
        other = data_bytes(3000, 83)
        c, ds, text = self.begin_transfer("STOU v.txt")
        name = text.split("FILE: ", 1)[1].strip().lstrip("/")
        f = self.srv.ftp()
        self.assertTrue(stor(f, name, other).startswith("226"))
        code, text = self.finish(c, ds, b"s" * 5000)
        self.assertEqual(code, 451, text)
        self.assertEqual(sha(self.srv.read(name)), sha(other))
        self.assertEqual(self.srv.internal_files(), [])

    def test_a_download_sees_the_old_file_whole_through_stor_and_dele(self):
        old, new = data_bytes(4 << 20, 84), data_bytes(1 << 20, 85)
        self.srv.write("d.bin", old)
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        ds = c.pasv()
        code, text = c.cmd("RETR d.bin")
        self.assertIn(code, (125, 150), text)
        first = recv_exactly(ds, 65536)
        f = self.srv.ftp()
        self.assertTrue(stor(f, "d.bin", new).startswith("226"))
        self.assertEqual(reply(f, "DELE d.bin")[0], 250)
        rest = recv_all(ds)
        ds.close()
        self.assertEqual(c.reply(timeout=20)[0], 226)
        self.assertEqual(sha(first + rest), sha(old))
        self.assertFalse(self.srv.exists("d.bin"))

    def test_rmd_of_a_folder_with_an_upload_running(self):
        self.srv.mkdir("box")
        c, ds, _ = self.begin_transfer("STOR box/in.bin")
        ds.sendall(b"i" * 10000)
        f = self.srv.ftp()
        code, text = reply(f, "RMD box")  # it looks empty: say why it stays
        self.assertEqual(code, 450, text)
        self.assertIn("upload", text)
        self.srv.write("box/seen.txt", b"s")
        self.assertEqual(reply(f, "RMD box")[0], 550)  # and not empty is not empty
        self.assertEqual(self.finish(c, ds, b"j" * 10000)[0], 226)
        self.assertEqual(self.srv.read("box/in.bin"), b"i" * 10000 + b"j" * 10000)


class TestResumeWhoseDataNeverCame(UploadSafetyBase):
    """A resume that fails before its first byte, because its data connection never came,
    gives back the resume point it claimed: a client that tries active mode behind a firewall,
    or gives up on a passive one, can still resume."""
    server_kwargs = {"args": ["--data-timeout", "1"]}

    def setUp(self):
        super().setUp()
        self.first = self.srv.make_file(".ftpd-partial.big.bin", 300000, seed=71)

    def assert_resume_point_intact(self):
        self.assertEqual(self.srv.internal_files(), [".ftpd-partial.big.bin"])
        self.assertEqual(self.srv.read(".ftpd-partial.big.bin"), self.first)
        f = self.srv.ftp()
        f.voidcmd("TYPE I")
        self.assertEqual(f.size("big.bin"), len(self.first))
        rest = data_bytes(100000, seed=72)
        stor(f, "big.bin", rest, rest=len(self.first))
        self.assertEqual(self.srv.read("big.bin"), self.first + rest)
        self.assertEqual(self.srv.internal_files(), [])

    def test_active_connection_refused(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        port = free_port()  # nobody listens there
        self.assertEqual(c.cmd("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255))[0], 200)
        self.assertEqual(c.cmd("REST %d" % len(self.first))[0], 350)
        code, text = c.cmd("STOR big.bin", timeout=20)
        if code == 150:
            code, text = c.reply(timeout=20)
        self.assertEqual(code, 425, text)
        c.close()
        self.assert_resume_point_intact()

    def test_passive_connection_timed_out(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        self.assertEqual(c.cmd("PASV")[0], 227)
        self.assertEqual(c.cmd("REST %d" % len(self.first))[0], 350)
        code, text = c.cmd("STOR big.bin", timeout=20)
        self.assertEqual(code, 425, text)
        c.close()
        self.assert_resume_point_intact()

    def test_appe_of_a_partial_connection_refused(self):
        c = self.srv.control()
        c.login()
        self.assertEqual(c.cmd("TYPE I")[0], 200)
        port = free_port()
        self.assertEqual(c.cmd("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255))[0], 200)
        code, text = c.cmd("APPE big.bin", timeout=20)
        if code == 150:
            code, text = c.reply(timeout=20)
        self.assertEqual(code, 425, text)
        c.close()
        self.assert_resume_point_intact()


if __name__ == "__main__":
    unittest.main()
