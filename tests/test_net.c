/* Check suite for common/net. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

static bool have_ipv6(void)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_parse_addr("::1", &ss, &len) < 0)
        return false;
    int fd = net_listen(&ss, 1);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void round_trip(const char *in, int def_port, int family, const char *addr_str,
                       const char *host_str, int port)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char out[NET_ADDR_STRLEN];
    ck_assert_msg(net_parse_hostport(in, def_port, &ss, &len) == 0, "parse %s", in);
    ck_assert_int_eq(ss.ss_family, family);
    ck_assert_int_eq(len, net_sockaddr_len(&ss));
    ck_assert_str_eq(net_addr_str(&ss, out, sizeof(out)), addr_str);
    ck_assert_str_eq(net_host_str(&ss, out, sizeof(out)), host_str);
    ck_assert_int_eq(net_port(&ss), port);
    /* printing then parsing gives the same address back */
    struct sockaddr_storage again;
    ck_assert_int_eq(net_parse_hostport(addr_str, 0, &again, &len), 0);
    ck_assert_int_eq(memcmp(&ss, &again, net_sockaddr_len(&ss)), 0);
}

START_TEST(test_parse_print)
{
    round_trip("127.0.0.1:2121", 21, AF_INET, "127.0.0.1:2121", "127.0.0.1", 2121);
    round_trip("10.1.2.3", 21, AF_INET, "10.1.2.3:21", "10.1.2.3", 21);
    round_trip("[::1]:2121", 21, AF_INET6, "[::1]:2121", "::1", 2121);
    round_trip("[2001:db8::5]", 990, AF_INET6, "[2001:db8::5]:990", "2001:db8::5", 990);
    round_trip("::1", 21, AF_INET6, "[::1]:21", "::1", 21);
    round_trip("::", 0, AF_INET6, "[::]:0", "::", 0);
    round_trip("0.0.0.0:65535", 21, AF_INET, "0.0.0.0:65535", "0.0.0.0", 65535);
    /* IPv4-mapped: the host string shows the IPv4 address */
    round_trip("[::ffff:192.0.2.7]:20", 21, AF_INET6, "[::ffff:192.0.2.7]:20", "192.0.2.7", 20);
}
END_TEST

START_TEST(test_parse_rejects)
{
    static const char *bad[] = {
        "",           "localhost",     "example.com:21", "127.1",  "1.2.3.4:",    "1.2.3.4:x",
        "1.2.3.4:-1", "1.2.3.4:65536", "[::1",           "[::1]x", "[::1]:",      "[1.2.3.4]zz",
        ":21",        "1.2.3.4:21:3",  "::1:99999x",     "[]:21",  "1.2.3.4 :21", "0x7f.0.0.1",
    };
    struct sockaddr_storage ss;
    socklen_t len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(net_parse_hostport(bad[i], 21, &ss, &len) == -1, "accepted '%s'", bad[i]);
    ck_assert_int_eq(net_parse_hostport(NULL, 21, &ss, &len), -1);
    ck_assert_int_eq(net_parse_hostport("1.2.3.4", 70000, &ss, &len), -1);
}
END_TEST

START_TEST(test_parse_addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char out[NET_ADDR_STRLEN];
    ck_assert_int_eq(net_parse_addr("192.168.1.1", &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(net_port(&ss), 0);
    ck_assert_int_eq(net_parse_addr("fe80::1", &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(net_parse_addr("[::1]", &ss, &len), 0);
    ck_assert_str_eq(net_host_str(&ss, out, sizeof(out)), "::1");
    net_set_port(&ss, 4242);
    ck_assert_int_eq(net_port(&ss), 4242);
    /* a failed parse leaves the address alone */
    ck_assert_int_eq(net_parse_addr("1.2.3.4:21", &ss, &len), -1);
    ck_assert_int_eq(net_parse_addr("", &ss, &len), -1);
    ck_assert_int_eq(net_parse_addr("fe80::1%no-such-if0", &ss, &len), -1);
    ck_assert_str_eq(net_addr_str(&ss, out, sizeof(out)), "[::1]:4242");
    /* a zone index by number */
    ck_assert_int_eq(net_parse_addr("fe80::1%1", &ss, &len), 0);
    ck_assert_int_eq(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 1);
}
END_TEST

START_TEST(test_unmap_v4)
{
    struct sockaddr_storage a;
    socklen_t len;
    char out[NET_ADDR_STRLEN];
    ck_assert_int_eq(net_parse_hostport("[::ffff:192.0.2.7]:2121", 0, &a, &len), 0);
    net_unmap_v4(&a);
    ck_assert_int_eq(a.ss_family, AF_INET);
    ck_assert_str_eq(net_addr_str(&a, out, sizeof out), "192.0.2.7:2121");
    ck_assert(!net_is_v4_mapped(&a));
    /* a plain IPv6 (even the v4-compatible form) and an IPv4 stay as they are */
    ck_assert_int_eq(net_parse_hostport("[::c000:207]:21", 0, &a, &len), 0);
    net_unmap_v4(&a);
    ck_assert_int_eq(a.ss_family, AF_INET6);
    ck_assert_str_eq(net_addr_str(&a, out, sizeof out), "[::192.0.2.7]:21");
    ck_assert_int_eq(net_parse_hostport("192.0.2.8:21", 0, &a, &len), 0);
    net_unmap_v4(&a);
    ck_assert_str_eq(net_addr_str(&a, out, sizeof out), "192.0.2.8:21");
}
END_TEST

START_TEST(test_unspecified)
{
    struct sockaddr_storage a;
    socklen_t len;
    const char *yes[] = {"0.0.0.0:21", "[::]:21", "[0:0:0:0:0:0:0:0]:21", "[::ffff:0.0.0.0]:21"};
    const char *no[] = {"127.0.0.1:21", "[::1]:21", "0.0.0.1:21", "[::ffff:127.0.0.1]:21"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        ck_assert_int_eq(net_parse_hostport(yes[i], 0, &a, &len), 0);
        ck_assert_msg(net_is_unspecified(&a), "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        ck_assert_int_eq(net_parse_hostport(no[i], 0, &a, &len), 0);
        ck_assert_msg(!net_is_unspecified(&a), "%s", no[i]);
    }
}
END_TEST

START_TEST(test_same_host)
{
    struct sockaddr_storage a, b;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("192.0.2.7:21", 0, &a, &len), 0);
    ck_assert_int_eq(net_parse_hostport("192.0.2.7:5000", 0, &b, &len), 0);
    ck_assert(net_same_host(&a, &b)); /* ports do not matter */
    ck_assert_int_eq(net_parse_hostport("[::ffff:192.0.2.7]:20", 0, &b, &len), 0);
    ck_assert(net_same_host(&a, &b));
    ck_assert(net_same_host(&b, &a));
    ck_assert_int_eq(net_parse_hostport("[::ffff:192.0.2.8]:20", 0, &b, &len), 0);
    ck_assert(!net_same_host(&a, &b));
    ck_assert_int_eq(net_parse_hostport("192.0.2.8", 0, &b, &len), 0);
    ck_assert(!net_same_host(&a, &b));
    /* IPv6 against IPv6, and a plain v6 never equals a v4 */
    ck_assert_int_eq(net_parse_hostport("[2001:db8::1]:1", 0, &a, &len), 0);
    ck_assert_int_eq(net_parse_hostport("[2001:db8::1]:2", 0, &b, &len), 0);
    ck_assert(net_same_host(&a, &b));
    ck_assert_int_eq(net_parse_hostport("[2001:db8::2]:2", 0, &b, &len), 0);
    ck_assert(!net_same_host(&a, &b));
    ck_assert_int_eq(net_parse_hostport("[::c000:207]:2", 0, &a, &len), 0); /* v4-compatible */
    ck_assert_int_eq(net_parse_hostport("192.0.2.7", 0, &b, &len), 0);
    ck_assert(!net_same_host(&a, &b));
}
END_TEST

START_TEST(test_on_this_host)
{
    struct sockaddr_storage peer, local;
    socklen_t len;
    const char *loopbacks[] = {"127.0.0.1:1", "127.9.8.7:1", "[::1]:1", "[::ffff:127.0.0.2]:1"};
    ck_assert_int_eq(net_parse_hostport("192.0.2.1:21", 0, &local, &len), 0);
    for (size_t i = 0; i < sizeof loopbacks / sizeof loopbacks[0]; i++) {
        ck_assert_int_eq(net_parse_hostport(loopbacks[i], 0, &peer, &len), 0);
        ck_assert_msg(net_is_loopback(&peer), "%s", loopbacks[i]);
        ck_assert(net_on_this_host(&peer, &local));
    }
    const char *others[] = {"128.0.0.1:1", "126.255.255.255:1", "[::2]:1", "[::ffff:10.0.0.1]:1",
                            "[::127.0.0.1]:1"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ck_assert_int_eq(net_parse_hostport(others[i], 0, &peer, &len), 0);
        ck_assert_msg(!net_is_loopback(&peer), "%s", others[i]);
        ck_assert(!net_on_this_host(&peer, &local));
    }
    /* a client on this machine that connected to one of its own public addresses */
    ck_assert_int_eq(net_parse_hostport("192.0.2.1:40000", 0, &peer, &len), 0);
    ck_assert(!net_is_loopback(&peer));
    ck_assert(net_on_this_host(&peer, &local));
}
END_TEST

START_TEST(test_set_congestion)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    /* reno is built into every kernel and always allowed */
    ck_assert_int_eq(net_set_congestion(fd, "reno"), 0);
    char name[16] = "";
    socklen_t len = sizeof name;
    ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
    ck_assert_str_eq(name, "reno");
    errno = 0;
    ck_assert_int_eq(net_set_congestion(fd, "no-such-cc"), -1);
    ck_assert_int_eq(errno, ENOENT);
    close(fd);
}
END_TEST

/* Connects a client to a listener and checks both ends agree on the addresses. */
static void check_connect(const char *listen_on)
{
    struct sockaddr_storage ss, bound, peer, local, cpeer;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport(listen_on, 0, &ss, &len), 0);
    int lfd = net_listen(&ss, 8);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_ne(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(lfd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_eq(net_local_addr(lfd, &bound), 0);
    ck_assert_int_gt(net_port(&bound), 0);

    /* nothing to accept yet */
    errno = 0;
    ck_assert_int_eq(net_accept(lfd, &peer), -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);

    int cfd = net_connect(&bound, NULL);
    ck_assert_int_ge(cfd, 0);
    struct pollfd pfd = {.fd = cfd, .events = POLLOUT};
    ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
    int err = -1;
    socklen_t el = sizeof(err);
    ck_assert_int_eq(getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    ck_assert_int_eq(err, 0);

    struct pollfd lp = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&lp, 1, 5000), 1);
    int afd = net_accept(lfd, &peer);
    ck_assert_int_ge(afd, 0);
    ck_assert_int_ne(fcntl(afd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(net_local_addr(cfd, &local), 0);
    ck_assert(net_same_host(&peer, &local));
    ck_assert_int_eq(net_port(&peer), net_port(&local));
    ck_assert_int_eq(net_peer_addr(cfd, &cpeer), 0);
    ck_assert_int_eq(net_port(&cpeer), net_port(&bound));

    ck_assert_int_eq(write(cfd, "ping", 4), 4);
    char tmp[8];
    struct pollfd ap = {.fd = afd, .events = POLLIN};
    ck_assert_int_eq(poll(&ap, 1, 5000), 1);
    ck_assert_int_eq(read(afd, tmp, sizeof(tmp)), 4);
    ck_assert_mem_eq(tmp, "ping", 4);
    close(afd);
    close(cfd);
    close(lfd);
}

/* A socket connected to its own address and port (the simultaneous open that an active-mode
 * connect to a free port of this host can make) is told from a real connection. */
START_TEST(test_connected_to_itself)
{
    struct sockaddr_storage ss, self, bound;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
    ck_assert_int_eq(net_local_addr(fd, &self), 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&self, len), 0);
    ck_assert(net_connected_to_itself(fd));
    close(fd);

    int lfd = net_listen(&ss, 8);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(net_local_addr(lfd, &bound), 0);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(cfd, 0);
    ck_assert_int_eq(connect(cfd, (struct sockaddr *)&bound, len), 0);
    ck_assert(!net_connected_to_itself(cfd));
    ck_assert(!net_connected_to_itself(lfd)); /* no peer */
    close(cfd);
    close(lfd);
}
END_TEST

START_TEST(test_listen_connect_v4)
{
    check_connect("127.0.0.1:0");
}
END_TEST

START_TEST(test_listen_connect_v6)
{
    if (!have_ipv6())
        return; /* no IPv6 loopback in this environment */
    check_connect("[::1]:0");
}
END_TEST

START_TEST(test_connect_with_bind)
{
    struct sockaddr_storage ss, bound, from, local;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int lfd = net_listen(&ss, 8);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(net_local_addr(lfd, &bound), 0);
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &from, &len), 0);
    int cfd = net_connect(&bound, &from);
    ck_assert_int_ge(cfd, 0);
    ck_assert_int_eq(net_local_addr(cfd, &local), 0);
    ck_assert_str_eq(net_host_str(&local, (char[NET_ADDR_STRLEN]){0}, NET_ADDR_STRLEN),
                     "127.0.0.1");
    close(cfd);

    /* a refused connect surfaces as SO_ERROR (or at once), never as a hang */
    close(lfd);
    cfd = net_connect(&bound, NULL);
    if (cfd >= 0) {
        struct pollfd pfd = {.fd = cfd, .events = POLLOUT};
        ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &el);
        ck_assert_int_eq(err, ECONNREFUSED);
        close(cfd);
    } else {
        ck_assert_int_eq(errno, ECONNREFUSED);
    }
}
END_TEST

START_TEST(test_listen_range_any)
{
    struct sockaddr_storage ss, bound;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int fd = net_listen_range(&ss, 0, 0, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(net_local_addr(fd, &bound), 0);
    ck_assert_int_gt(net_port(&bound), 0);
    close(fd);
    errno = 0;
    ck_assert_int_eq(net_listen_range(&ss, 2000, 1999, 4), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Finds a port p such that p and p+1 are free right now; returns a listener on p. */
static int listen_pair(struct sockaddr_storage *ss, int *port)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        struct sockaddr_storage b;
        net_set_port(ss, 0);
        int fd = net_listen(ss, 4);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(net_local_addr(fd, &b), 0);
        int p = net_port(&b);
        if (p < 65535) {
            net_set_port(ss, p + 1);
            int probe = net_listen(ss, 4);
            if (probe >= 0) {
                close(probe);
                *port = p;
                return fd;
            }
        }
        close(fd);
    }
    ck_abort_msg("no pair of free ports");
    return -1;
}

START_TEST(test_listen_range_skips_busy)
{
    struct sockaddr_storage ss, bound;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int port;
    int busy = listen_pair(&ss, &port);
    /* whatever the rotating start, every pick is the free port, within the range */
    for (int i = 0; i < 6; i++) {
        int fd = net_listen_range(&ss, port, port + 1, 4);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(net_local_addr(fd, &bound), 0);
        ck_assert_int_eq(net_port(&bound), port + 1);
        close(fd);
    }
    /* both busy: EADDRINUSE */
    net_set_port(&ss, port + 1);
    int busy2 = net_listen(&ss, 4);
    if (busy2 >= 0) {
        errno = 0;
        ck_assert_int_eq(net_listen_range(&ss, port, port + 1, 4), -1);
        ck_assert_int_eq(errno, EADDRINUSE);
        close(busy2);
    }
    close(busy);
}
END_TEST

START_TEST(test_listen_range_rotates)
{
    struct sockaddr_storage ss, bound;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int port;
    int first = listen_pair(&ss, &port);
    close(first);
    /* with both free, successive calls do not always take the same port */
    bool seen[2] = {false, false};
    for (int i = 0; i < 4; i++) {
        int fd = net_listen_range(&ss, port, port + 1, 4);
        if (fd < 0)
            continue; /* another process took one meanwhile */
        ck_assert_int_eq(net_local_addr(fd, &bound), 0);
        int p = net_port(&bound);
        ck_assert(p == port || p == port + 1);
        seen[p - port] = true;
        close(fd);
    }
    ck_assert(seen[0] && seen[1]);
}
END_TEST

START_TEST(test_set_nonblock)
{
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    ck_assert_int_eq(fcntl(pfd[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(net_set_nonblock(pfd[0]), 0);
    ck_assert_int_ne(fcntl(pfd[0], F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_eq(net_set_nonblock(pfd[0]), 0);
    close(pfd[0]);
    close(pfd[1]);
    ck_assert_int_eq(net_set_nonblock(-1), -1);
}
END_TEST

/* A connected loopback pair: *sender is the accepted (non-blocking) end. */
static void tcp_pair(int *sender, int *receiver)
{
    struct sockaddr_storage ss, bound, peer;
    socklen_t len;
    ck_assert_int_eq(net_parse_hostport("127.0.0.1:0", 0, &ss, &len), 0);
    int lfd = net_listen(&ss, 4);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(net_local_addr(lfd, &bound), 0);
    *receiver = net_connect(&bound, NULL);
    ck_assert_int_ge(*receiver, 0);
    struct pollfd lp = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&lp, 1, 5000), 1);
    *sender = net_accept(lfd, &peer);
    ck_assert_int_ge(*sender, 0);
    close(lfd);
}

/* A loopback pair whose receiver (64 KiB buffer) reads nothing and whose sender, with a
 * 128 KiB unsent mark, has been written to until it refused more. Returns the bytes written. */
static long long stalled_sender(int *snd, int *rcv)
{
    tcp_pair(snd, rcv);
    int small = 64 * 1024;
    ck_assert_int_eq(setsockopt(*rcv, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    ck_assert_int_eq(net_set_notsent_lowat(*snd, 128 * 1024), 0);
    ck_assert_int_eq(net_unsent_bytes(*snd), 0);
    static char chunk[64 * 1024];
    memset(chunk, 'x', sizeof chunk);
    long long sent = 0;
    for (int i = 0; i < 1024; i++) {
        ssize_t n = write(*snd, chunk, sizeof chunk);
        if (n < 0) {
            ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        sent += n;
    }
    return sent;
}

START_TEST(test_notsent_lowat)
{
    int snd, rcv;
    /* the sender's socket stops taking bytes near the mark */
    long long sent = stalled_sender(&snd, &rcv);
    ck_assert_int_lt(sent, 16LL << 20);
    int unsent = net_unsent_bytes(snd);
    ck_assert_int_gt(unsent, 0);
    ck_assert_int_lt(unsent, 256 * 1024);

    /* a mark of 1: writable only once nothing is left unsent */
    ck_assert_int_eq(net_set_notsent_lowat(snd, 1), 0);
    struct pollfd wp = {.fd = snd, .events = POLLOUT};
    ck_assert_int_eq(poll(&wp, 1, 100), 0);
    long long got = 0;
    char in[64 * 1024];
    while (got < sent) {
        struct pollfd rp = {.fd = rcv, .events = POLLIN};
        ck_assert_int_eq(poll(&rp, 1, 5000), 1);
        ssize_t n = read(rcv, in, sizeof in);
        ck_assert_int_gt(n, 0);
        got += n;
    }
    ck_assert_int_eq(poll(&wp, 1, 5000), 1);
    ck_assert_int_eq(net_unsent_bytes(snd), 0);
    close(snd);
    close(rcv);
    ck_assert_int_eq(net_unsent_bytes(-1), -1);
}
END_TEST

START_TEST(test_queued_shrinks_as_the_peer_takes)
{
    int snd, rcv;
    long long sent = stalled_sender(&snd, &rcv);
    /* Everything the stalled receiver has not taken is still queued, sent or not. */
    int queued = net_queued_bytes(snd);
    ck_assert_int_gt(queued, 0);
    ck_assert_int_ge(queued, net_unsent_bytes(snd));
    ck_assert_int_le(queued, sent);
    /* The receiver reads a little: the sender's queue shrinks (what a download's data timer
     * counts as progress while the server writes nothing). */
    char in[64 * 1024];
    ck_assert_int_gt(read(rcv, in, sizeof in), 0);
    int later = queued;
    for (int i = 0; i < 200 && later >= queued; i++) {
        usleep(5000);
        later = net_queued_bytes(snd);
    }
    ck_assert_int_lt(later, queued);
    close(snd);
    close(rcv);
    ck_assert_int_eq(net_queued_bytes(-1), -1);
}
END_TEST

START_TEST(test_unsent_after_reset)
{
    int snd, rcv;
    (void)stalled_sender(&snd, &rcv);
    ck_assert_int_gt(net_unsent_bytes(snd), 0);
    close(rcv); /* with unread data: a reset */
    struct pollfd hp = {.fd = snd, .events = POLLOUT};
    ck_assert_int_eq(poll(&hp, 1, 5000), 1);
    ck_assert(hp.revents & (POLLERR | POLLHUP));
    /* the kernel leaves the unsent count standing; the helper reports the reset instead */
    errno = 0;
    ck_assert_int_eq(net_unsent_bytes(snd), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    close(snd);
}
END_TEST

static Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *a = tcase_create("addr");
    tcase_add_test(a, test_parse_print);
    tcase_add_test(a, test_parse_rejects);
    tcase_add_test(a, test_parse_addr);
    tcase_add_test(a, test_same_host);
    tcase_add_test(a, test_unmap_v4);
    tcase_add_test(a, test_unspecified);
    tcase_add_test(a, test_on_this_host);
    suite_add_tcase(s, a);
    TCase *k = tcase_create("sockets");
    tcase_add_test(k, test_listen_connect_v4);
    tcase_add_test(k, test_listen_connect_v6);
    tcase_add_test(k, test_connect_with_bind);
    tcase_add_test(k, test_connected_to_itself);
    tcase_add_test(k, test_listen_range_any);
    tcase_add_test(k, test_listen_range_skips_busy);
    tcase_add_test(k, test_listen_range_rotates);
    tcase_add_test(k, test_set_nonblock);
    tcase_add_test(k, test_notsent_lowat);
    tcase_add_test(k, test_queued_shrinks_as_the_peer_takes);
    tcase_add_test(k, test_unsent_after_reset);
    tcase_add_test(k, test_set_congestion);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(net_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
