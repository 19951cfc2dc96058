"""A scripted FTP server for ftpc's e2e tests: it shows behaviour that ftpd never shows (a
segment that comes up short, a wrong HASH for one range, a server that ignores REST), so
ftpc's reaction to it can be checked.

ScriptedFtp serves a bounded number of sessions, each on its own thread: the greeting, any
USER/PASS, FEAT (from FEATURES), TYPE, EPSV (one listening data socket) and REST; QUIT ends
the session. A subclass answers its own commands in command() and hands the rest to
super().command(); ended() hears of each session's end.
"""
import socket
import threading


def recv_all(d):
    """Reads the data connection d to its end and closes it (a reset too, which raises);
    returns the bytes."""
    got = bytearray()
    try:
        while True:
            chunk = d.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        d.close()
    return got


class Session:
    """One control connection: its reply writer and its data-connection state."""

    def __init__(self, conn):
        self.conn = conn
        self.f = conn.makefile("rwb")
        self.dsock = None  # the EPSV listening socket
        self.rest = 0      # the last REST offset

    def send(self, text):
        self.f.write(text.encode() + b"\r\n")
        self.f.flush()

    def accept_data(self):
        d, _ = self.dsock.accept()
        return d

    def send_download(self, data):
        """Answers 150, sends data on the data connection (a client that closes early just
        ends it), closes it and answers 226."""
        self.send("150 here")
        d = self.accept_data()
        try:
            d.sendall(data)
        except OSError:
            pass
        d.close()
        self.send("226 done")

    def receive_upload(self):
        """Answers 150, then reads the data connection to its end; returns the bytes."""
        self.send("150 go")
        return recv_all(self.accept_data())


class ScriptedFtp(threading.Thread):
    FEATURES = ("SIZE", "REST STREAM")
    UNKNOWN = "502 no"

    def __init__(self, sessions, timeout=15, accept_timeout=None):
        super().__init__(daemon=True)
        self.sessions, self.timeout = sessions, timeout
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(accept_timeout or timeout)
        self.port = self.lsock.getsockname()[1]

    def run(self):
        try:
            for _ in range(self.sessions):
                conn, _ = self.lsock.accept()
                threading.Thread(target=self.session, args=(conn,), daemon=True).start()
        except OSError:
            pass
        finally:
            self.lsock.close()

    def stop(self, timeout=20):
        """Once the client is done: accepts no more sessions (the accept() waiting for one the
        client never opens returns at once, not after the timeout) and waits for the thread."""
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(timeout)

    def quit(self, s):
        """Answers QUIT (a subclass may hold it)."""
        s.send("221 bye")

    def session(self, conn):
        conn.settimeout(self.timeout)
        s = Session(conn)
        try:
            s.send("220 ready")
            # s.f is read anew for each line: a subclass may put the session under TLS
            for raw in iter(lambda: s.f.readline(), b""):
                verb, _, arg = raw.decode().rstrip("\r\n").partition(" ")
                verb = verb.upper()
                if verb == "QUIT":
                    self.quit(s)
                    break
                if self.command(s, verb, arg) is False:
                    break
        except (OSError, ValueError):
            pass
        finally:
            s.conn.close()
            if s.dsock:
                s.dsock.close()
            self.ended(s)

    def ended(self, s):
        """Called once a session is over (the client closed it, or it timed out)."""

    def command(self, s, verb, arg):
        """Answers one command. Returns False to end the session."""
        if verb in ("USER", "PASS"):
            s.send("331 pw" if verb == "USER" else "230 in")
        elif verb == "FEAT":
            s.send("211-Features:\r\n" + "".join(" %s\r\n" % f for f in self.FEATURES) + "211 End")
        elif verb == "TYPE":
            s.send("200 ok")
        elif verb == "EPSV":
            if s.dsock:
                s.dsock.close()
            s.dsock = socket.socket()
            s.dsock.bind(("127.0.0.1", 0))
            s.dsock.listen(1)
            s.dsock.settimeout(self.timeout)
            s.send("229 Entering Extended Passive Mode (|||%d|)" % s.dsock.getsockname()[1])
        elif verb == "REST":
            s.rest = int(arg)
            s.send("350 ok")
        else:
            s.send(self.UNKNOWN)
        return True
