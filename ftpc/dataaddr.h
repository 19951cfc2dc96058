/* The data-connection addresses of passive and active mode: parsing 227/229 replies and
 * formatting EPRT/PORT arguments. Pure functions, unit-tested. */
#ifndef FTPC_DATAADDR_H
#define FTPC_DATAADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* The port of a 229 reply text "Entering Extended Passive Mode (|||port|)" (any delimiter
 * character, as RFC 2428 allows). Returns 1..65535, or -1. */
int ftpc_parse_epsv(const char *text);
/* The address and port of a 227 reply text "... (h1,h2,h3,h4,p1,p2)" (parentheses optional).
 * Returns the port and stores the IPv4 address in *ss, or -1. */
int ftpc_parse_pasv(const char *text, struct sockaddr_storage *ss);
/* "|1|1.2.3.4|port|" or "|2|::1|port|" for the address and port of ss. Returns 0 or -1. */
int ftpc_format_eprt(const struct sockaddr_storage *ss, char *out, size_t out_size);
/* "h1,h2,h3,h4,p1,p2" (IPv4, or IPv4-mapped IPv6). Returns 0 or -1 (a real IPv6 address). */
int ftpc_format_port(const struct sockaddr_storage *ss, char *out, size_t out_size);

#endif
