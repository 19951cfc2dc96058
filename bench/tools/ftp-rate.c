/* ftp-rate: one FTP download stream with its progress over time.
 *
 * usage: ftp-rate PORT USER PASS PATH MAX_SECONDS [SAMPLE_MS [RATE_MIB_S]]
 *
 * Logs in to 127.0.0.1:PORT, sets TYPE I and RETRs PATH over a passive data connection,
 * reading into a 1 MiB buffer (discarded); when the file ends it RETRs it again in the
 * same session, until MAX_SECONDS have passed, so a file in tmpfs of any size gives a
 * stream of real data as long as needed. Every SAMPLE_MS (default 50) it prints
 * "MONO_SECONDS BYTES" (CLOCK_MONOTONIC, the clock Python's time.monotonic() reads, so
 * other tools' timestamps line up), flushed at once, and at the end
 * "end MONO_SECONDS BYTES FILES REASON". A socket silent for 10 s ends the run. Exit
 * status 0 if data arrived.
 *
 * With RATE_MIB_S the stream is held to that rate, as a download over a slower network
 * than loopback would be: the client reads no faster (at most 64 KiB at a time, sleeping
 * while it is ahead), and TCP's window holds the server back. A stream that fell behind
 * (a busy server) catches up by at most 50 ms worth of data, as a network link would:
 * a catch-up burst after a slow spell would inflate the rate measured around it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char rbuf[8192];
static size_t rlen;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    struct timeval tv = {.tv_sec = 10};
    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads one complete reply (the last line is "DDD "); copies its final line to line.
 * Returns the code, or -1. */
static int reply(int fd, char *line, size_t line_size)
{
    for (;;) {
        char *start = rbuf;
        char *nl;
        while ((nl = memchr(start, '\n', rlen - (size_t)(start - rbuf))) != NULL) {
            size_t len = (size_t)(nl - start) + 1;
            int final = len >= 4 && start[0] >= '0' && start[0] <= '9' && start[1] >= '0' &&
                        start[2] >= '0' && start[3] == ' ';
            if (final) {
                int code = atoi(start);
                snprintf(line, line_size, "%.*s", (int)len, start);
                memmove(rbuf, nl + 1, rlen - (size_t)(nl + 1 - rbuf));
                rlen -= (size_t)(nl + 1 - rbuf);
                return code;
            }
            start = nl + 1;
        }
        if (start != rbuf) { /* drop continuation lines */
            memmove(rbuf, start, rlen - (size_t)(start - rbuf));
            rlen -= (size_t)(start - rbuf);
        }
        if (rlen == sizeof rbuf)
            return -1;
        ssize_t n = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
        if (n <= 0)
            return -1;
        rlen += (size_t)n;
    }
}

static int command(int fd, const char *fmt, const char *arg, char *line, size_t line_size)
{
    char out[1024];
    int n = snprintf(out, sizeof out, fmt, arg);
    if (n < 0 || (size_t)n >= sizeof out || send(fd, out, (size_t)n, MSG_NOSIGNAL) != n)
        return -1;
    return reply(fd, line, line_size);
}

static int fail(const char *what, const char *line)
{
    fprintf(stderr, "ftp-rate: %s: %s", what, line[0] ? line : "no reply\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: ftp-rate PORT USER PASS PATH MAX_SECONDS [SAMPLE_MS]\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[1]);
    double max_s = atof(argv[5]);
    double every = (argc > 6 ? atof(argv[6]) : 50.0) / 1000.0;
    double cap = argc > 7 ? atof(argv[7]) * (1 << 20) : 0; /* bytes per second; 0: none */
    char line[1024] = "";
    if (max_s <= 0 || max_s > 600 || every <= 0 || cap < 0) {
        fprintf(stderr, "ftp-rate: MAX_SECONDS must be in (0, 600], SAMPLE_MS and RATE_MIB_S "
                        "above 0\n");
        return 2;
    }

    int c = dial(port);
    if (c < 0)
        return fail("connect", "");
    if (reply(c, line, sizeof line) != 220)
        return fail("greeting", line);
    int code = command(c, "USER %s\r\n", argv[2], line, sizeof line);
    if (code == 331)
        code = command(c, "PASS %s\r\n", argv[3], line, sizeof line);
    if (code != 230)
        return fail("login", line);
    if (command(c, "TYPE I\r\n%s", "", line, sizeof line) != 200)
        return fail("TYPE I", line);

    static char buf[1 << 20];
    unsigned long long total = 0;
    unsigned files = 0;
    double t0 = now_s(), next = t0, t = t0;
    double base_t = t0; /* the capped rate's schedule: base_bytes are due at base_t */
    unsigned long long base_bytes = 0;
    const char *why = "time";
    printf("%.6f %llu\n", t0, total);
    fflush(stdout);
    while (t - t0 < max_s) {
        if (command(c, "PASV\r\n%s", "", line, sizeof line) != 227)
            return fail("PASV", line);
        unsigned h[4], p[2];
        char *paren = strchr(line, '(');
        if (paren == NULL ||
            sscanf(paren, "(%u,%u,%u,%u,%u,%u)", &h[0], &h[1], &h[2], &h[3], &p[0], &p[1]) != 6)
            return fail("PASV reply", line);
        int d = dial(p[0] * 256 + p[1]);
        if (d < 0)
            return fail("data connection", line);
        code = command(c, "RETR %s\r\n", argv[4], line, sizeof line);
        if (code != 150 && code != 125)
            return fail("RETR", line);
        int eof = 0;
        for (;;) {
            if (cap > 0) {
                double ahead = (double)(total - base_bytes) / cap - (now_s() - base_t);
                if (ahead < -0.05) { /* behind: the schedule starts again, 50 ms in credit */
                    base_bytes = total;
                    base_t = now_s() - 0.05;
                } else if (ahead > 0) {
                    struct timespec ts = {.tv_sec = (time_t)ahead,
                                          .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9)};
                    nanosleep(&ts, NULL);
                }
            }
            ssize_t n = recv(d, buf, cap > 0 ? 64 * 1024 : sizeof buf, 0);
            t = now_s();
            if (n > 0)
                total += (unsigned long long)n;
            if (t >= next) {
                printf("%.6f %llu\n", t, total);
                fflush(stdout);
                next = t + every;
            }
            if (n == 0) {
                eof = 1;
                break;
            }
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                why = errno == EAGAIN ? "stalled" : "error";
                break;
            }
            if (t - t0 >= max_s)
                break;
        }
        close(d);
        if (!eof)
            break;
        if (reply(c, line, sizeof line) != 226)
            return fail("end of transfer", line);
        files++;
    }
    printf("%.6f %llu\nend %.6f %llu %u %s\n", t, total, t, total, files, why);
    fflush(stdout);
    close(c);
    return total > 0 ? 0 : 1;
}
