"""End-to-end tests of a download to standard output (get -o -, cat) that is cut off and
tried again (--retry): the retry goes on after the bytes already written, which cannot be
taken back. Where the file has changed on the server between the attempts (another size),
the rest of the new version is not spliced onto the old bytes: ftpc fails (status 8). And
-c to standard output resumes nothing: the file is written from its first byte.

A scripted server serves the file: its first session cuts the RETR off midway (426), the
second answers SIZE with the same size, or with that of a new version.
"""
from ftpd_harness import data_bytes
from scripted_ftp import ScriptedFtp
from test_ftpc import FtpcCase


class CutsFtp(ScriptedFtp):
    """f.bin: the file is data until the first RETR, `later` after it (the same bytes, or a
    new version). The first RETRs send the given parts of it (1/2: half, 0: nothing) and end
    with 426; the RETR after them is served in full from REST."""
    FEATURES = ("SIZE", "REST STREAM")

    def __init__(self, data, later, cuts=(0.5,)):
        super().__init__(sessions=len(cuts) + 1)
        self.data, self.later, self.cuts = data, later, cuts
        self.retrs = []  # the REST offset of each RETR

    def command(self, s, verb, arg):
        data = self.later if self.retrs else self.data
        if verb == "SIZE":
            s.send("213 %d" % len(data))
        elif verb == "RETR":
            self.retrs.append(s.rest)
            if len(self.retrs) > len(self.cuts):
                s.send_download(data[s.rest:])
                return True
            s.send("150 here")
            d = s.accept_data()
            d.sendall(data[:int(len(data) * self.cuts[len(self.retrs) - 1])])
            d.close()
            s.send("426 Connection closed; transfer aborted.")
        else:
            return super().command(s, verb, arg)
        return True


class TestStdoutRetry(FtpcCase):
    def get(self, fake, *args, rc):
        fake.start()
        self.addCleanup(fake.stop)
        url = "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port
        return self.ftpc("--retry", "1", "--retry-delay", "0", *args, url, rc=rc)

    def test_same_file_goes_on_after_the_bytes_written(self):
        data = data_bytes(300001, 60)
        fake = CutsFtp(data, data)
        r = self.get(fake, "get", "-o", "-", rc=0)
        self.assertEqual(r.stdout, data)
        self.assertEqual(fake.retrs, [0, len(data) // 2])

    def test_changed_file_is_not_spliced_onto_the_old_bytes(self):
        data = data_bytes(300001, 61)
        new = data_bytes(400003, 62)
        fake = CutsFtp(data, new)
        r = self.get(fake, "get", "-c", "-o", "-", rc=8)
        self.assertEqual(r.stdout, data[:len(data) // 2])
        err = r.stderr.decode()
        self.assertIn("the file changed on the server between attempts (SIZE 400003, was "
                      "300001): the 150000 bytes already written to standard output are of "
                      "the earlier version", err)
        self.assertEqual(fake.retrs, [0])  # no RETR of the new version

    def test_size_is_taken_when_the_output_begins(self):
        # The attempt that wrote nothing does not count: every byte out is the new version's.
        old = data_bytes(300001, 64)
        new = data_bytes(400003, 65)
        fake = CutsFtp(old, new, cuts=(0, 0.5))
        fake.start()
        self.addCleanup(fake.stop)
        url = "ftp://u:p@127.0.0.1:%d/f.bin" % fake.port
        r = self.ftpc("--retry", "2", "--retry-delay", "0", "get", "-o", "-", url, rc=0)
        self.assertEqual(r.stdout, new)
        self.assertEqual(fake.retrs, [0, 0, len(new) // 2])

    def test_cat_the_same(self):
        data = data_bytes(300001, 63)
        fake = CutsFtp(data, data[:1000])
        r = self.get(fake, "cat", rc=8)
        self.assertEqual(r.stdout, data[:len(data) // 2])
        self.assertEqual(fake.retrs, [0])


if __name__ == "__main__":
    import unittest
    unittest.main()
