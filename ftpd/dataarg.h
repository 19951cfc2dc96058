/* The arguments of PORT (RFC 959) and EPRT (RFC 2428), read strictly: a client that sends
 * anything else gets 501 rather than a guess at what it meant. */
#ifndef FTPD_DATAARG_H
#define FTPD_DATAARG_H

#include <sys/socket.h>

typedef enum {
    DATAARG_OK,
    DATAARG_SYNTAX, /* 501 */
    DATAARG_PROTO   /* EPRT: a network protocol other than 1 (IPv4) or 2 (IPv6); 522 */
} dataarg_result;

/* "h1,h2,h3,h4,p1,p2": six decimal numbers 0..255 and nothing else. Fills out with an
 * AF_INET address and port. */
dataarg_result dataarg_port(const char *arg, struct sockaddr_storage *out);

/* "<d>proto<d>address<d>port<d>", d one character of 33..126: proto 1 with a dotted IPv4
 * address or 2 with an IPv6 one, port 1..65535, nothing after the last delimiter. An
 * IPv4-mapped IPv6 address comes back as the AF_INET address it maps. */
dataarg_result dataarg_eprt(const char *arg, struct sockaddr_storage *out);

#endif
