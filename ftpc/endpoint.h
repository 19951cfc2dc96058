/* A server and the account used on it. Tasks naming the same host, port and credentials share
 * one endpoint, so their connections can be reused from one task to the next. */
#ifndef FTPC_ENDPOINT_H
#define FTPC_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "opts.h"
#include "tls.h"
#include "url.h"

#define FTPC_MAX_ADDRS 8

typedef struct ftpc_endpoint {
    char host[256]; /* as written in the URL (brackets removed) */
    int port;
    char user[256]; /* "anonymous" when the URL names none */
    char pass[256];
    struct sockaddr_storage addrs[FTPC_MAX_ADDRS]; /* tried in order */
    int naddrs;
    char resolve_err[512];  /* why naddrs is 0 */
    ftpc_tls_mode tls_mode; /* from the URL's scheme (--tls applies to ftp:// at connect) */
    /* Made at the first TLS connection and shared by every connection to the endpoint
     * (loading the system's trusted certificates once); freed with the endpoint. */
    ftpc_tls *tls;
    bool warned_no_modez; /* -z: "no MODE Z here" was said once */
    bool warned_no_hash;  /* "the server offers no HASH" was said once */
    /* SITE CHMOD: 0 untried, 1 taken once, -1 refused at the first try (said once, and not
     * sent again: a server without it refuses every file alike) */
    int site_chmod;
    /* The mode a segmented upload's new temporary file gets there (segput.c), once known. */
    bool up_mode_known;
    int up_mode;
    /* The server refused to rename a segmented upload's temporary file (RNFR: an account
     * without the right to rename): later segmented uploads to it go as ordinary ones. */
    bool no_upload_rename;
    bool no_password; /* a user with no password from the URL, netrc or a prompt */
    /* The server refused this password (the shell's login): it is not offered again for a
     * URL without one, whose user is asked instead. */
    bool login_refused;
    /* Connections the server let in at once before it turned one more away (jobs.c); 0
     * while it has turned none away. Kept for the whole run (mirror runs one batch a level),
     * and raised by one now and then to see whether the server has room again. */
    int conn_limit;
    int64_t conn_limit_ms;  /* CLOCK_MONOTONIC when conn_limit last changed */
    bool told_conn_limit;   /* the limit was reported */
    char conn_refusal[160]; /* the reply that turned a connection away, quoted */
    struct ftpc_endpoint *next;
} ftpc_endpoint;

/* Finds the endpoint for u in *list or appends a new, resolved one. Returns it, or NULL when
 * out of memory. Name resolution (getaddrinfo) blocks, so it happens here, before the loop
 * runs; a failure is kept in resolve_err and reported by the first connection attempt. */
ftpc_endpoint *ftpc_endpoint_get(ftpc_endpoint **list, const ftpc_url *u);
void ftpc_endpoint_free_all(ftpc_endpoint *list);

/* The endpoint's TLS settings, made from o at the first call. The endpoint is const to its
 * connections; this cache, the warnings given and the limit seen are what they may fill in. Returns
 * NULL with a message in err. */
ftpc_tls *ftpc_endpoint_tls(const ftpc_endpoint *ep, const ftpc_opts *o, char *err,
                            size_t err_size);
/* Records that the -z warning was given for ep; returns true the first time. */
bool ftpc_endpoint_warn_once_modez(const ftpc_endpoint *ep);
/* The same for "no HASH here": true the first time only. */
bool ftpc_endpoint_warn_once_hash(const ftpc_endpoint *ep);

/* The server turned a connection away while `in` others of ours to it were alive: no more
 * than those at once from now on (the lowest number seen counts). reply is the refusal,
 * quoted, for the message that tells the limit. */
void ftpc_endpoint_saw_limit(const ftpc_endpoint *ep, int in, const char *reply);

/* Seconds a learned limit holds before one more connection is tried: a limit learned while
 * another client of the same address held sessions would otherwise keep a long run to a few
 * connections after that client has gone. A refusal costs one 421 and sets the limit again. */
#define FTPC_CONN_LIMIT_PROBE_S 10

/* A task for ep cannot start: `in` connections of ours to it are alive and the run could use
 * up to `want`. Raises the limit by one when it has held FTPC_CONN_LIMIT_PROBE_S; returns
 * whether it did. */
bool ftpc_endpoint_probe_limit(ftpc_endpoint *ep, int in, int want);

/* "host:port" ("[v6]:port") of the endpoint for messages. Returns out. */
char *ftpc_endpoint_str(const ftpc_endpoint *ep, char *out, size_t out_size);
/* The same for any host and port. Returns out. */
char *ftpc_host_port_str(const char *host, int port, char *out, size_t out_size);

#endif
