/* login-storm: N FTP clients log in at once, driven by one epoll loop in C.
 *
 * usage: login-storm --port PORT --clients N [--user U] [--password P] [--deadline S]
 *                    [--timeout S] [--label L] [--json FILE]
 *                    [--repeat R [--name FILE] [--size BYTES]]
 *
 * The same work as `conc-dl.py --repeat R` (connect, USER, PASS, TYPE I; once every
 * client is logged in or has failed, R x (PASV, RETR, the data read to its end and the
 * 226, its length checked), then QUIT), at a small fraction of its CPU: 200 Python
 * threads contend for one interpreter lock and take CPU from whatever else runs on the
 * machine (phase c's download), or become the bottleneck of the run (phase b). The file
 * must exist on the server (conc-dl.py uploads it). Prints one JSON object with
 * conc-dl.py's field names for these figures (CLOCK_MONOTONIC timestamps of the start,
 * of the last login and of the end, the latency percentiles, the errors, the driver's
 * CPU). Loopback only. Exit status 0 without errors, 3 with errors, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum step {
    CONNECTING,
    GREETING,
    USER_SENT,
    PASS_SENT,
    TYPE_SENT,
    LOGGED_IN,
    PASV_SENT,
    RETR_SENT,
    QUIT_SENT,
    DONE
};

typedef struct client {
    int fd, dfd; /* control and data connection */
    enum step step;
    double t_start, t_last; /* start of the login; last sign of life, for the timeout */
    double t_retr;          /* start of the current download */
    long long got;          /* its bytes so far */
    bool data_eof, got_226;
    int retrs_done;
    char in[1024];
    size_t in_len;
} client;

static struct {
    unsigned port;
    int clients, repeat;
    const char *user, *password, *label, *json, *name;
    long long size;
    double deadline, timeout;
} opt = {.clients = 200,
         .user = "ftpbench",
         .password = "ftpbench",
         .label = "",
         .name = "conc-dl-1M.bin",
         .size = 1 << 20,
         .deadline = 180,
         .timeout = 30};

static client *cs;
static int ep;
static double *retr_lat;
static int n_retr_lat;
static long long ok_bytes;

#define MAX_ERROR_KINDS 16
static struct {
    char key[48];
    char example[96];
    int count;
} errs[MAX_ERROR_KINDS];
static int n_err_kinds, n_errors;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_error(const char *key, const char *example)
{
    n_errors++;
    for (int i = 0; i < n_err_kinds; i++)
        if (strcmp(errs[i].key, key) == 0) {
            errs[i].count++;
            return;
        }
    if (n_err_kinds == MAX_ERROR_KINDS)
        return;
    snprintf(errs[n_err_kinds].key, sizeof errs[0].key, "%s", key);
    snprintf(errs[n_err_kinds].example, sizeof errs[0].example, "%s", example);
    errs[n_err_kinds++].count = 1;
}

static const char *phase_of(const client *c)
{
    if (c->step < LOGGED_IN)
        return "login";
    return c->step == PASV_SENT || c->step == RETR_SENT ? "retr" : "quit";
}

static void close_data(client *c)
{
    if (c->dfd >= 0)
        close(c->dfd);
    c->dfd = -1;
}

static void fail(client *c, const char *what, const char *example)
{
    char key[48];
    snprintf(key, sizeof key, "%s:%s", phase_of(c), what);
    count_error(key, example);
    close(c->fd);
    c->fd = -1;
    close_data(c);
    c->step = DONE;
}

static void send_line(client *c, const char *fmt, const char *arg)
{
    char line[256];
    int n = snprintf(line, sizeof line, fmt, arg);
    /* a command line is far smaller than an empty socket buffer */
    if (n < 0 || (size_t)n >= sizeof line || send(c->fd, line, (size_t)n, MSG_NOSIGNAL) != n)
        fail(c, "SendError", strerror(errno));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The log-in, step by step: the reply each step waits for, then the command it sends. */
static const struct {
    int want;
    const char *fmt;
} script[] = {
    [GREETING] = {220, "USER %s\r\n"},
    [USER_SENT] = {331, "PASS %s\r\n"},
    [PASS_SENT] = {230, "TYPE I%s\r\n"},
    [TYPE_SENT] = {200, NULL},
};

static void send_quit(client *c)
{
    c->step = QUIT_SENT;
    send_line(c, "QUIT%s\r\n", "");
}

static void start_retr(client *c)
{
    c->step = PASV_SENT;
    c->got = 0;
    c->data_eof = c->got_226 = false;
    c->t_retr = now_s();
    send_line(c, "PASV%s\r\n", "");
}

/* Both the data's end and the 226 have come: the download is checked and counted. */
static void end_retr(client *c)
{
    if (c->got != opt.size) {
        char example[96];
        snprintf(example, sizeof example, "%lld of %lld bytes", c->got, opt.size);
        fail(c, "ShortRead", example);
        return;
    }
    retr_lat[n_retr_lat++] = now_s() - c->t_retr;
    ok_bytes += c->got;
    if (++c->retrs_done < opt.repeat)
        start_retr(c);
    else
        send_quit(c);
}

/* "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)": connects the data socket and sends RETR. */
static void on_pasv(client *c, const char *line)
{
    const char *p = line + 4;
    while (*p && !isdigit((unsigned char)*p))
        p++;
    unsigned h[4], pt[2];
    if (sscanf(p, "%u,%u,%u,%u,%u,%u", &h[0], &h[1], &h[2], &h[3], &pt[0], &pt[1]) != 6 ||
        pt[0] > 255 || pt[1] > 255) {
        fail(c, "BadPasv", line);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)(pt[0] << 8 | pt[1]))};
    sa.sin_addr.s_addr = htonl(h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3]);
    c->dfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->dfd < 0) {
        fail(c, "SocketError", strerror(errno));
        return;
    }
    if (connect(c->dfd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        fail(c, "DataConnectError", strerror(errno));
        return;
    }
    /* the index, with the low bit telling a data connection from a control one */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(c - cs) << 1 | 1};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->dfd, &ev) != 0) {
        fail(c, "EpollError", strerror(errno));
        return;
    }
    c->step = RETR_SENT;
    send_line(c, "RETR %s\r\n", opt.name);
}

/* Reads the data connection to its end; the bytes are counted, not kept. */
static void on_data_readable(client *c)
{
    static char sink[256 * 1024];
    for (;;) {
        ssize_t n = recv(c->dfd, sink, sizeof sink, 0);
        if (n > 0) {
            c->got += n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            fail(c, "DataRecvError", strerror(errno));
            return;
        }
        close_data(c);
        c->data_eof = true;
        if (c->got_226)
            end_retr(c);
        return;
    }
    c->t_last = now_s();
}

/* Acts on one reply line; returns 1 when the client finished its login. */
static int on_reply(client *c, int code, const char *line)
{
    if (c->step == QUIT_SENT) { /* whatever the reply: done */
        close(c->fd);
        c->fd = -1;
        c->step = DONE;
        return 0;
    }
    if (code < 200 && c->step == RETR_SENT)
        return 0; /* 125/150: the data comes */
    if (c->step == PASV_SENT && code == 227) {
        on_pasv(c, line);
        return 0;
    }
    if (c->step == RETR_SENT && code == 226) {
        c->got_226 = true;
        if (c->data_eof)
            end_retr(c);
        return 0;
    }
    if (c->step >= GREETING && c->step <= TYPE_SENT && code == script[c->step].want) {
        if (script[c->step].fmt == NULL) {
            c->step = LOGGED_IN;
            return 1;
        }
        const char *arg = c->step == GREETING ? opt.user : c->step == USER_SENT ? opt.password : "";
        send_line(c, script[c->step].fmt, arg);
        if (c->step != DONE)
            c->step++;
        return 0;
    }
    char what[48];
    snprintf(what, sizeof what, "reply %d", code);
    fail(c, what, line);
    return 0;
}

/* Reads what arrived and handles each complete final reply line ("DDD text"). Returns 1
 * when the client finished its login. */
static int on_readable(client *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len - 1, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        if (c->step == QUIT_SENT) { /* the server may close before its 221 arrives */
            close(c->fd);
            c->fd = -1;
            c->step = DONE;
        } else {
            fail(c, n == 0 ? "ConnectionClosed" : "RecvError", n == 0 ? "EOF" : strerror(errno));
        }
        return 0;
    }
    if (n < 0)
        return 0;
    c->t_last = now_s();
    c->in_len += (size_t)n;
    c->in[c->in_len] = '\0';
    int finished = 0;
    char *line = c->in, *nl;
    while (c->step != DONE && (nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        if (nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        if (strlen(line) >= 4 && line[3] == ' ' && line[0] >= '1' && line[0] <= '5')
            finished |= on_reply(c, atoi(line), line);
        line = nl + 1;
    }
    if (c->step == DONE)
        return finished;
    c->in_len = strlen(line);
    memmove(c->in, line, c->in_len);
    if (c->in_len == sizeof c->in - 1)
        fail(c, "LineTooLong", "reply line over 1 KiB");
    return finished;
}

static int start(client *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)opt.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->t_start = c->t_last = now_s();
    c->dfd = -1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->step = CONNECTING;
        fail(c, "SocketError", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->step = CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        fail(c, "ConnectError", strerror(errno));
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(c - cs) << 1};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fail(c, "EpollError", strerror(errno));
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: login-storm --port PORT [--clients N] [--user U] [--password P]\n"
                    "                   [--deadline S] [--timeout S] [--label L] [--json FILE]\n"
                    "                   [--repeat R [--name FILE] [--size BYTES]]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option longs[] = {
        {"port", required_argument, NULL, 'p'},     {"clients", required_argument, NULL, 'n'},
        {"user", required_argument, NULL, 'u'},     {"password", required_argument, NULL, 'w'},
        {"deadline", required_argument, NULL, 'd'}, {"timeout", required_argument, NULL, 't'},
        {"label", required_argument, NULL, 'l'},    {"json", required_argument, NULL, 'j'},
        {"repeat", required_argument, NULL, 'r'},   {"name", required_argument, NULL, 'f'},
        {"size", required_argument, NULL, 's'},     {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'p':
            opt.port = (unsigned)atoi(optarg);
            break;
        case 'n':
            opt.clients = atoi(optarg);
            break;
        case 'u':
            opt.user = optarg;
            break;
        case 'w':
            opt.password = optarg;
            break;
        case 'd':
            opt.deadline = atof(optarg);
            break;
        case 't':
            opt.timeout = atof(optarg);
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'j':
            opt.json = optarg;
            break;
        case 'r':
            opt.repeat = atoi(optarg);
            break;
        case 'f':
            opt.name = optarg;
            break;
        case 's':
            opt.size = atoll(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind != argc || opt.port == 0 || opt.port > 65535 || opt.clients < 1 ||
        opt.clients > 5000 || opt.deadline <= 0 || opt.timeout <= 0 || opt.repeat < 0 ||
        opt.repeat > 100 || opt.size < 0 || strpbrk(opt.name, "\r\n") != NULL)
        usage();
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void report(FILE *f, double t0, double t_done, double t_end, double *lat, int n_lat,
                   double cpu_s, int stuck)
{
    qsort(lat, (size_t)n_lat, sizeof *lat, cmp_double);
    double p50 = n_lat ? lat[n_lat / 2] : -1, p99 = n_lat ? lat[(int)(0.99 * n_lat)] : -1;
    qsort(retr_lat, (size_t)n_retr_lat, sizeof *retr_lat, cmp_double);
    fprintf(f, "{\n \"label\": ");
    json_string(f, opt.label);
    fprintf(f, ",\n \"driver\": \"login-storm\",\n \"port\": %u,\n \"clients\": %d,\n", opt.port,
            opt.clients);
    fprintf(f, " \"repeat\": %d,\n \"size_bytes\": %lld,\n \"expected_transfers\": %d,\n",
            opt.repeat, opt.size, opt.clients * opt.repeat);
    fprintf(f, " \"ok_logins\": %d,\n \"ok_transfers\": %d,\n \"errors\": {", n_lat, n_retr_lat);
    for (int i = 0; i < n_err_kinds; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_string(f, errs[i].key);
        fprintf(f, ": %d", errs[i].count);
    }
    fprintf(f, "},\n \"error_examples\": {");
    for (int i = 0; i < n_err_kinds; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_string(f, errs[i].key);
        fprintf(f, ": ");
        json_string(f, errs[i].example);
    }
    fprintf(f, "},\n \"error_count\": %d,\n \"clients_unfinished_at_deadline\": %d,\n",
            n_errors + stuck, stuck);
    fprintf(f, " \"t0_mono\": %.6f,\n \"login_done_mono\": %.6f,\n \"t_end_mono\": %.6f,\n", t0,
            t_done, t_end);
    fprintf(f, " \"total_s\": %.3f,\n \"login_phase_s\": %.3f,\n", t_end - t0, t_done - t0);
    double xfer_s = t_end - t_done, mib = (double)ok_bytes / (1 << 20);
    fprintf(f, " \"transfer_phase_s\": %.3f,\n \"mib_transferred\": %.1f,\n", xfer_s, mib);
    if (opt.repeat > 0 && xfer_s > 0)
        fprintf(f, " \"agg_mib_s_transfer_phase\": %.1f,\n", mib / xfer_s);
    if (n_retr_lat)
        fprintf(f, " \"retr_latency_p50_s\": %.4f,\n \"retr_latency_p99_s\": %.4f,\n",
                retr_lat[n_retr_lat / 2], retr_lat[(int)(0.99 * n_retr_lat)]);
    if (n_lat)
        fprintf(f, " \"login_latency_p50_s\": %.4f,\n \"login_latency_p99_s\": %.4f,\n", p50, p99);
    else
        fprintf(f, " \"login_latency_p50_s\": null,\n \"login_latency_p99_s\": null,\n");
    fprintf(f, " \"driver_cpu_s\": %.3f\n}\n", cpu_s);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    int n = opt.clients;
    cs = calloc((size_t)n, sizeof *cs);
    double *lat = calloc((size_t)n, sizeof *lat);
    retr_lat = calloc((size_t)n * (size_t)opt.repeat + 1, sizeof *retr_lat);
    struct epoll_event *evs = calloc((size_t)n, sizeof *evs);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || !lat || !retr_lat || !evs || ep < 0) {
        perror("login-storm");
        return 1;
    }
    double cpu0 = cpu_seconds();
    double t0 = now_s(), t_done = 0, hard_end = t0 + opt.deadline;
    int n_lat = 0, pending = 0, live = 0;
    for (int i = 0; i < n; i++)
        if (start(&cs[i]) == 0)
            pending++, live++;
    while (live > 0 && now_s() < hard_end) {
        if (pending == 0 && t_done == 0) {
            /* every client logged in or failed: the barrier of conc-dl.py */
            t_done = now_s();
            for (int i = 0; i < n; i++)
                if (cs[i].step == LOGGED_IN) {
                    cs[i].t_last = t_done;
                    if (opt.repeat > 0)
                        start_retr(&cs[i]);
                    else
                        send_quit(&cs[i]);
                }
        }
        int k = epoll_wait(ep, evs, n, 100);
        for (int e = 0; e < k; e++) {
            client *c = &cs[evs[e].data.u64 >> 1];
            if (c->step == DONE)
                continue;
            if (evs[e].data.u64 & 1) {
                if (c->dfd >= 0)
                    on_data_readable(c);
            } else if (c->step == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    fail(c, "ConnectError", strerror(err));
                } else {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[e].data.u64};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    c->step = GREETING;
                    c->t_last = now_s();
                }
            } else if (on_readable(c)) {
                lat[n_lat++] = now_s() - c->t_start;
            }
        }
        /* a client that failed its login counts towards the barrier as well */
        pending = 0;
        live = 0;
        double now = now_s();
        for (int i = 0; i < n; i++) {
            client *c = &cs[i];
            /* A connect waits on the kernel's SYN retries (a server with a short listen
             * backlog drops some of 200 at once), bounded by the deadline; the timeout is
             * for a server that stops answering. */
            if (c->step != DONE && c->step != CONNECTING && now - c->t_last > opt.timeout)
                fail(c, "TimeoutError", "timed out");
            if (c->step < LOGGED_IN)
                pending++;
            if (c->step != DONE)
                live++;
        }
    }
    double t_end = now_s();
    if (t_done == 0)
        t_done = t_end;
    int stuck = 0;
    for (int i = 0; i < n; i++)
        if (cs[i].step != DONE) {
            stuck++;
            close(cs[i].fd);
            close_data(&cs[i]);
        }
    FILE *f = opt.json ? fopen(opt.json, "w") : NULL;
    report(stdout, t0, t_done, t_end, lat, n_lat, cpu_seconds() - cpu0, stuck);
    if (f) {
        report(f, t0, t_done, t_end, lat, n_lat, cpu_seconds() - cpu0, stuck);
        fclose(f);
    }
    return n_errors + stuck ? 3 : 0;
}
