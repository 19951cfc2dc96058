/* The listening set-up as an operator may not have meant it (listencheck.h). */
#include "listencheck.h"

#include <netinet/in.h>

#include "log.h"
#include "net.h"

/* Whether an IPv4 listener, wildcard or not, takes IPv4 clients on port. */
static bool ipv4_on_port(const struct sockaddr_storage *v, size_t n, int port)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].ss_family == AF_INET && net_port(&v[i]) == port)
            return true;
    return false;
}

static bool is_ipv6_wildcard(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* [::] serves both families on a host whose net.ipv6.bindv6only is 0, and so many guides say
 * it does: here it serves IPv6 alone, whatever that setting, so that [::]:21 and
 * 0.0.0.0:21 can go together. A server given [::]:21 and IPv4 only on other ports (or
 * none) would turn IPv4 clients of port 21 away. The port counts within one option: an
 * IPv4 client of an implicit TLS port does not get the explicit service it asked for. */
static void note_ipv6_only(const struct sockaddr_storage *v, size_t n, const char *option)
{
    for (size_t i = 0; i < n; i++) {
        int port = net_port(&v[i]);
        if (!is_ipv6_wildcard(&v[i]) || ipv4_on_port(v, n, port))
            continue;
        char name[NET_ADDR_STRLEN];
        net_addr_str(&v[i], name, sizeof name);
        log_info("%s %s listens for IPv6 only: IPv4 clients are not accepted on it, and no "
                 "IPv4 listener is on port %d; add --%s 0.0.0.0:%d (%s = 0.0.0.0:%d in a "
                 "config file) to serve them too",
                 option, name, port, option, port, option, port);
    }
}

/* Only that one port of the range is lost, and only on the listener's address (each
 * address, for a wildcard): while the range has others, no PASV fails to show it, and the
 * overlap is most likely a slip (a range and a port copied from two guides). */
static void warn_pasv_overlap(const ftpd_config *cfg, const struct sockaddr_storage *v, size_t n,
                              const char *option)
{
    for (size_t i = 0; i < n; i++) {
        int port = net_port(&v[i]);
        if (port < cfg->pasv_first || port > cfg->pasv_last)
            continue;
        char name[NET_ADDR_STRLEN];
        net_addr_str(&v[i], name, sizeof name);
        log_warn("pasv-ports %d-%d holds port %d, where ftpd listens (%s %s): no passive data "
                 "connection can be opened on it there; choose a range apart from the "
                 "listening ports",
                 cfg->pasv_first, cfg->pasv_last, port, option, name);
    }
}

void listencheck_warn(const ftpd_config *cfg)
{
    if (cfg->pasv_first > 0) {
        warn_pasv_overlap(cfg, cfg->listen, cfg->listen_count, "listen");
        warn_pasv_overlap(cfg, cfg->listen_implicit, cfg->listen_implicit_count, "listen-implicit");
    }
    note_ipv6_only(cfg->listen, cfg->listen_count, "listen");
    note_ipv6_only(cfg->listen_implicit, cfg->listen_implicit_count, "listen-implicit");
}
