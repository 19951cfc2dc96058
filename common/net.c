/* Socket helpers. Only numeric addresses are ever parsed: a name lookup would block the loop. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* inet_pton is strict (no "127.1" or hex forms); getaddrinfo is only needed for a zone index
 * ("fe80::1%eth0"), and with AI_NUMERICHOST it never touches DNS. On failure *out and *len are
 * left as they were. */
static int parse_host(const char *host, size_t host_len, int port, struct sockaddr_storage *out,
                      socklen_t *len)
{
    char tmp[INET6_ADDRSTRLEN + 64];
    if (host_len == 0 || host_len >= sizeof(tmp) || port < 0 || port > 65535)
        return -1;
    memcpy(tmp, host, host_len);
    tmp[host_len] = '\0';

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *out = ss;
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *out = ss;
        *len = sizeof(*sin6);
        return 0;
    }
    if (strchr(tmp, '%') == NULL)
        return -1;

    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET6;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    char port_str[8];
    snprintf(port_str, sizeof(port_str), "%d", port);
    if (getaddrinfo(tmp, port_str, &hints, &res) != 0 || res == NULL)
        return -1;
    int rc = -1;
    if (res->ai_addrlen <= sizeof(*out)) {
        memset(out, 0, sizeof(*out));
        memcpy(out, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        rc = 0;
    }
    freeaddrinfo(res);
    return rc;
}

/* Decimal 0..65535, digits only (no sign, no spaces). */
static int parse_port(const char *s)
{
    if (*s == '\0')
        return -1;
    int v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return -1;
    }
    return v;
}

int net_parse_hostport(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (s == NULL)
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return -1;
        int port = default_port;
        if (close[1] == ':')
            port = parse_port(close + 2);
        else if (close[1] != '\0')
            return -1;
        if (port < 0)
            return -1;
        return parse_host(s + 1, (size_t)(close - s - 1), port, ss, len);
    }
    const char *colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        int port = parse_port(colon + 1);
        if (port < 0)
            return -1;
        return parse_host(s, (size_t)(colon - s), port, ss, len);
    }
    /* No colon (IPv4 alone) or several (bare IPv6, which cannot carry a port unbracketed). */
    return parse_host(s, strlen(s), default_port, ss, len);
}

int net_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    if (s == NULL)
        return -1;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        return parse_host(s + 1, n - 2, 0, ss, len);
    return parse_host(s, n, 0, ss, len);
}

static bool is_v4_mapped(const struct sockaddr_storage *ss)
{
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    return ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
}

char *net_addr_str(const struct sockaddr_storage *ss, char *out, size_t out_size)
{
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, out_size, "%s:%d", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, out_size, "[%s]:%d", host, ntohs(sin6->sin6_port));
    } else {
        snprintf(out, out_size, "?");
    }
    return out;
}

char *net_host_str(const struct sockaddr_storage *ss, char *out, size_t out_size)
{
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
    } else if (is_v4_mapped(ss)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
    } else {
        snprintf(host, sizeof(host), "?");
    }
    snprintf(out, out_size, "%s", host);
    return out;
}

int net_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return -1;
}

void net_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* The 4 address bytes of an IPv4 or IPv4-mapped address; NULL for anything else. */
static const unsigned char *v4_bytes(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (is_v4_mapped(ss))
        return &((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr[12];
    return NULL;
}

bool net_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    const unsigned char *a4 = v4_bytes(a), *b4 = v4_bytes(b);
    if (a4 != NULL || b4 != NULL)
        return a4 != NULL && b4 != NULL && memcmp(a4, b4, 4) == 0;
    if (a->ss_family != AF_INET6 || b->ss_family != AF_INET6)
        return false;
    /* The zone index is ignored on purpose: an EPRT argument carries none, and the control
     * connection's peer address does. */
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
    return memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

bool net_is_v4_mapped(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 &&
           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

void net_unmap_v4(struct sockaddr_storage *ss)
{
    if (!net_is_v4_mapped(ss))
        return;
    const struct sockaddr_in6 six = *(const struct sockaddr_in6 *)ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    sin->sin_family = AF_INET;
    sin->sin_port = six.sin6_port;
    memcpy(&sin->sin_addr, &six.sin6_addr.s6_addr[12], 4);
}

static bool is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

bool net_is_unspecified(const struct sockaddr_storage *ss)
{
    static const unsigned char zero4[4];
    const unsigned char *v4 = v4_bytes(ss);
    if (v4 != NULL)
        return memcmp(v4, zero4, 4) == 0;
    return ss->ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

bool net_binds_clash(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family || net_port(a) == 0 || net_port(a) != net_port(b))
        return false;
    if (is_wildcard(a) || is_wildcard(b))
        return true;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;
    return memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0 &&
           a6->sin6_scope_id == b6->sin6_scope_id;
}

bool net_is_loopback(const struct sockaddr_storage *ss)
{
    const unsigned char *v4 = v4_bytes(ss);
    if (v4 != NULL)
        return v4[0] == 127;
    return ss->ss_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

bool net_on_this_host(const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
    return net_is_loopback(peer) || net_same_host(peer, local);
}

socklen_t net_sockaddr_len(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return sizeof(struct sockaddr_in);
    if (ss->ss_family == AF_INET6)
        return sizeof(struct sockaddr_in6);
    return 0;
}

static void close_keep_errno(int fd)
{
    int e = errno;
    close(fd);
    errno = e;
}

int net_listen(const struct sockaddr_storage *ss, int backlog)
{
    socklen_t len = net_sockaddr_len(ss);
    if (len == 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /* One listener per family: a v6 wildcard must not also grab the v4 port. */
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        goto fail;
    if (listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    close_keep_errno(fd);
    return -1;
}

int net_listen_range(const struct sockaddr_storage *addr, int first, int last, int backlog)
{
    struct sockaddr_storage ss = *addr;
    if (first == 0) {
        net_set_port(&ss, 0);
        return net_listen(&ss, backlog);
    }
    if (first < 1 || last > 65535 || first > last) {
        errno = EINVAL;
        return -1;
    }
    /* A shared rotating start spreads concurrent PASV sessions over the range instead of
     * making them all race for the first port. */
    static atomic_uint next_offset;
    unsigned span = (unsigned)(last - first) + 1;
    unsigned start = atomic_fetch_add_explicit(&next_offset, 1, memory_order_relaxed) % span;
    for (unsigned i = 0; i < span; i++) {
        net_set_port(&ss, first + (int)((start + i) % span));
        int fd = net_listen(&ss, backlog);
        if (fd >= 0)
            return fd;
        if (errno != EADDRINUSE)
            return -1;
    }
    errno = EADDRINUSE;
    return -1;
}

int net_connect(const struct sockaddr_storage *ss, const struct sockaddr_storage *bind_addr)
{
    socklen_t len = net_sockaddr_len(ss);
    if (len == 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind_addr != NULL &&
        bind(fd, (const struct sockaddr *)bind_addr, net_sockaddr_len(bind_addr)) < 0)
        goto fail;
    /* EINTR on a non-blocking connect leaves it running, exactly like EINPROGRESS. */
    if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS && errno != EINTR)
        goto fail;
    return fd;
fail:
    close_keep_errno(fd);
    return -1;
}

int net_accept(int lfd, struct sockaddr_storage *peer)
{
    struct sockaddr_storage tmp;
    socklen_t len = sizeof(tmp);
    memset(&tmp, 0, sizeof(tmp));
    int fd;
    do {
        fd = accept4(lfd, (struct sockaddr *)&tmp, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0 && peer != NULL)
        *peer = tmp;
    return fd;
}

int net_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    if (flags & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

int net_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int net_set_cork(int fd, bool on)
{
    int v = on ? 1 : 0;
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

int net_set_notsent_lowat(int fd, int bytes)
{
    return setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof bytes);
}

int net_set_congestion(int fd, const char *name)
{
    return setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)strlen(name));
}

int net_unsent_bytes(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE) {
        errno = ECONNRESET;
        return -1;
    }
    int n = 0;
    return ioctl(fd, SIOCOUTQNSD, &n) < 0 ? -1 : n;
}

int net_queued_bytes(int fd)
{
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

int net_local_addr(int fd, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    return getsockname(fd, (struct sockaddr *)ss, &len) < 0 ? -1 : 0;
}

int net_peer_addr(int fd, struct sockaddr_storage *ss)
{
    socklen_t len = sizeof(*ss);
    memset(ss, 0, sizeof(*ss));
    return getpeername(fd, (struct sockaddr *)ss, &len) < 0 ? -1 : 0;
}

bool net_connected_to_itself(int fd)
{
    struct sockaddr_storage local, peer;
    if (net_local_addr(fd, &local) < 0 || net_peer_addr(fd, &peer) < 0)
        return false;
    return net_port(&local) == net_port(&peer) && net_same_host(&local, &peer);
}
