#!/usr/bin/env python3
"""pyftpdlib server for the loopback benchmark (started by start-server.sh).

pyftpdlib's default FTPServer: one process on epoll, the same design as ftpd.

usage: pyftpd-peer.py PORT ROOTDIR PASV_MIN PASV_MAX [USER PASS [HASHFILE]]

With HASHFILE (a file holding a crypt(3) hash, as /etc/shadow does), a login's password is
checked against that hash with crypt(3), as pyftpdlib's own UnixAuthorizer checks system
accounts, so pyftpdlib pays for the same hash type as the servers it is compared with. Without
it, PASS is compared in plaintext (DummyAuthorizer's way: a login costs nothing).
"""
import crypt  # deprecated in 3.11, still there; pyftpdlib's UnixAuthorizer uses it too
import hmac
import logging
import sys

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class CryptAuthorizer(DummyAuthorizer):
    """DummyAuthorizer's accounts, passwords checked against a crypt(3) hash, in the loop
    (pyftpdlib has no worker for it, UnixAuthorizer does the same)."""

    def __init__(self, hashes):
        super().__init__()
        self.hashes = hashes

    def validate_authentication(self, username, password, handler):
        want = self.hashes.get(username)
        got = crypt.crypt(password, want) if want else None
        if not got or not hmac.compare_digest(got, want):
            raise AuthenticationFailed("Authentication failed.")


def main():
    port, root, pmin, pmax = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    user = sys.argv[5] if len(sys.argv) > 5 else "ftpbench"
    password = sys.argv[6] if len(sys.argv) > 6 else "ftpbench"
    logging.basicConfig(level=logging.WARNING)

    if len(sys.argv) > 7:
        with open(sys.argv[7]) as f:
            auth = CryptAuthorizer({user: f.read().strip()})
    else:
        auth = DummyAuthorizer()  # compares the password in plaintext: its login costs nothing
    auth.add_user(user, password, root, perm="elradfmwMT")

    handler = FTPHandler
    handler.authorizer = auth
    handler.passive_ports = range(int(pmin), int(pmax) + 1)
    handler.permit_foreign_addresses = False
    handler.use_sendfile = True
    handler.banner = "pyftpdlib bench ready."

    # the listen backlog the kernel allows (net.core.somaxconn, 4096 here), as ftpd and
    # ProFTPD get: pyftpdlib's default of 100 would throttle thousands of connects
    server = FTPServer(("127.0.0.1", int(port)), handler, backlog=4096)
    server.max_cons = 20000
    server.max_cons_per_ip = 0
    server.serve_forever(timeout=1.0, blocking=True, handle_exit=True)


if __name__ == "__main__":
    main()
