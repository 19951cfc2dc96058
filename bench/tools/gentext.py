#!/usr/bin/env python3
"""Writes a compressible text file of exactly SIZE bytes: web-server-like log lines.

usage: gentext.py FILE SIZE_BYTES [SEED]

64 MiB of distinct lines (addresses, times, paths, status codes and sizes drawn from a
seeded generator) are written and then repeated up to SIZE. The repeats are 64 MiB apart,
far beyond any deflate window (32 KiB), so every compressor sees ordinary log text:
gzip -1 shrinks it to roughly a fifth to a third, like real logs. Same SEED, same bytes.
"""
import random
import sys

BLOCK = 64 * 2 ** 20
PATHS = ["/", "/index.html", "/api/v1/items", "/api/v1/users", "/static/app.js", "/static/style.css",
         "/images/logo.png", "/download/release.tar.gz", "/login", "/logout", "/search", "/feed.xml"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/7.88.1", "Wget/1.21.3", "python-requests/2.28",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Go-http-client/1.1"]
METHODS = ["GET"] * 8 + ["POST", "HEAD", "PUT", "DELETE"]
STATUS = [200] * 12 + [304, 404, 301, 500, 403]


def block(rng, size):
    out, n, t = [], 0, 1700000000
    while n < size:
        t += rng.randint(0, 3)
        line = '%d.%d.%d.%d - - [%d] "%s %s?id=%d HTTP/1.1" %d %d "-" "%s"\n' % (
            10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254), t,
            rng.choice(METHODS), rng.choice(PATHS), rng.randint(1, 99999),
            rng.choice(STATUS), rng.randint(0, 500000), rng.choice(AGENTS))
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, size = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) == 4 else 1)
    data = block(rng, min(size, BLOCK))
    left = size
    with open(path, "wb") as f:
        while left > 0:
            k = min(left, len(data))
            f.write(data[:k])
            left -= k


if __name__ == "__main__":
    main()
