/* Endpoints: credentials and resolved addresses. */
#include "endpoint.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"

static void resolve(ftpc_endpoint *ep)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    char port[16];
    snprintf(port, sizeof(port), "%d", ep->port);
    int rc = getaddrinfo(ep->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(ep->resolve_err, sizeof(ep->resolve_err), "cannot resolve %s: %s", ep->host,
                 gai_strerror(rc));
        return;
    }
    for (struct addrinfo *ai = res; ai != NULL && ep->naddrs < FTPC_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(ep->addrs[0]))
            continue;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memset(&ep->addrs[ep->naddrs], 0, sizeof(ep->addrs[0]));
        memcpy(&ep->addrs[ep->naddrs], ai->ai_addr, ai->ai_addrlen);
        ep->naddrs++;
    }
    freeaddrinfo(res);
    if (ep->naddrs == 0)
        snprintf(ep->resolve_err, sizeof(ep->resolve_err), "cannot resolve %s: no address",
                 ep->host);
}

ftpc_endpoint *ftpc_endpoint_get(ftpc_endpoint **list, const ftpc_url *u)
{
    const char *user = u->has_user ? u->user : "anonymous";
    const char *pass = u->has_pass ? u->pass : (u->has_user ? "" : "ftpc@");
    ftpc_endpoint **tail = list;
    for (ftpc_endpoint *ep = *list; ep != NULL; ep = ep->next) {
        if (ep->port == u->port && ep->tls_mode == (ftpc_tls_mode)u->tls &&
            strcmp(ep->host, u->host) == 0 && strcmp(ep->user, user) == 0 &&
            strcmp(ep->pass, pass) == 0)
            return ep;
        tail = &ep->next;
    }
    ftpc_endpoint *ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return NULL;
    snprintf(ep->host, sizeof(ep->host), "%s", u->host);
    ep->port = u->port;
    ep->tls_mode = (ftpc_tls_mode)u->tls;
    snprintf(ep->user, sizeof(ep->user), "%s", user);
    snprintf(ep->pass, sizeof(ep->pass), "%s", pass);
    ep->no_password = u->has_user && !u->has_pass;
    resolve(ep);
    *tail = ep;
    return ep;
}

void ftpc_endpoint_free_all(ftpc_endpoint *list)
{
    while (list != NULL) {
        ftpc_endpoint *next = list->next;
        /* The password is in there. */
        memset(list->pass, 0, sizeof(list->pass));
        ftpc_tls_free(list->tls);
        free(list);
        list = next;
    }
}

char *ftpc_host_port_str(const char *host, int port, char *out, size_t out_size)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, out_size, "[%s]:%d", host, port);
    else
        snprintf(out, out_size, "%s:%d", host, port);
    return out;
}

char *ftpc_endpoint_str(const ftpc_endpoint *ep, char *out, size_t out_size)
{
    return ftpc_host_port_str(ep->host, ep->port, out, out_size);
}

ftpc_tls *ftpc_endpoint_tls(const ftpc_endpoint *ep, const ftpc_opts *o, char *err, size_t err_size)
{
    ftpc_endpoint *m = (ftpc_endpoint *)ep; /* the cache only; see endpoint.h */
    if (m->tls == NULL)
        m->tls = ftpc_tls_new(o, err, err_size);
    return m->tls;
}

bool ftpc_endpoint_warn_once_modez(const ftpc_endpoint *ep)
{
    ftpc_endpoint *m = (ftpc_endpoint *)ep;
    bool first = !m->warned_no_modez;
    m->warned_no_modez = true;
    return first;
}

bool ftpc_endpoint_warn_once_hash(const ftpc_endpoint *ep)
{
    ftpc_endpoint *m = (ftpc_endpoint *)ep;
    bool first = !m->warned_no_hash;
    m->warned_no_hash = true;
    return first;
}

static int64_t monotonic_ms(void)
{
    return ev_monotonic_us() / 1000;
}

void ftpc_endpoint_saw_limit(const ftpc_endpoint *ep, int in, const char *reply)
{
    ftpc_endpoint *m = (ftpc_endpoint *)ep;
    if (in < 1 || (m->conn_limit > 0 && m->conn_limit <= in))
        return;
    m->conn_limit = in;
    m->conn_limit_ms = monotonic_ms();
    snprintf(m->conn_refusal, sizeof(m->conn_refusal), "%s", reply);
}

bool ftpc_endpoint_probe_limit(ftpc_endpoint *ep, int in, int want)
{
    if (ep->conn_limit == 0 || in < ep->conn_limit || ep->conn_limit >= want)
        return false;
    int64_t now = monotonic_ms();
    if (now - ep->conn_limit_ms < FTPC_CONN_LIMIT_PROBE_S * 1000)
        return false;
    ep->conn_limit++;
    ep->conn_limit_ms = now;
    return true;
}
