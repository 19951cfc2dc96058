/* Socket helpers: address parsing and printing, non-blocking listeners and connects. */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define NET_ADDR_STRLEN 64 /* "[ipv6]:port" fits */

/* Parses "ADDR:PORT", "[V6ADDR]:PORT" or "ADDR" (then default_port) into ss/len.
 * Numeric addresses only. Returns 0 or -1. */
int net_parse_hostport(const char *s, int default_port, struct sockaddr_storage *ss,
                       socklen_t *len);
/* Parses a numeric address without port. Returns 0 or -1. */
int net_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* "1.2.3.4:21" or "[::1]:21" into out (NET_ADDR_STRLEN). Returns out. */
char *net_addr_str(const struct sockaddr_storage *ss, char *out, size_t out_size);
/* Address only, no port; IPv4-mapped IPv6 shown as IPv4. Returns out. */
char *net_host_str(const struct sockaddr_storage *ss, char *out, size_t out_size);
int net_port(const struct sockaddr_storage *ss);
void net_set_port(struct sockaddr_storage *ss, int port);
/* True when both name the same host (IPv4-mapped IPv6 equal to its IPv4). */
bool net_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address. */
/* Whether ss is an IPv4-mapped IPv6 address (::ffff:a.b.c.d), which an IPv6-only socket
 * cannot bind. */
bool net_is_v4_mapped(const struct sockaddr_storage *ss);
/* Turns an IPv4-mapped IPv6 address into the plain IPv4 address (same port), so that a
 * socket bound to it (net_listen's are IPv6-only) can be made; any other is left as it is. */
void net_unmap_v4(struct sockaddr_storage *ss);
/* Whether two listening addresses cannot both be bound: the same port of the same address,
 * or of any address of a family when one is that family's wildcard (0.0.0.0:21 holds
 * 127.0.0.1:21; listeners are IPv6-only, so [::]:21 leaves 0.0.0.0:21 free). Port 0 never
 * clashes: the kernel picks a free one. */
/* Whether ss is an unspecified address: 0.0.0.0, :: or ::ffff:0.0.0.0. */
bool net_is_unspecified(const struct sockaddr_storage *ss);
bool net_binds_clash(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool net_is_loopback(const struct sockaddr_storage *ss);
/* True when a connection between these two ends stays on this machine (it crosses the
 * loopback device): the peer is a loopback address or the local address itself. */
bool net_on_this_host(const struct sockaddr_storage *peer, const struct sockaddr_storage *local);
socklen_t net_sockaddr_len(const struct sockaddr_storage *ss);

/* Non-blocking, close-on-exec, SO_REUSEADDR listener (IPV6_V6ONLY for v6). Returns fd or -1. */
int net_listen(const struct sockaddr_storage *ss, int backlog);
/* Listener bound to an address and a port from [first, last] (0,0: any port); tries ports
 * from a rotating start so concurrent sessions rarely collide. Returns fd or -1. */
int net_listen_range(const struct sockaddr_storage *addr, int first, int last, int backlog);
/* Starts a non-blocking connect; returns fd (connect may be in progress) or -1. */
int net_connect(const struct sockaddr_storage *ss, const struct sockaddr_storage *bind_addr);
/* accept4 non-blocking close-on-exec. Returns fd or -1 with errno. */
int net_accept(int lfd, struct sockaddr_storage *peer);
int net_set_nonblock(int fd);
/* Turns Nagle's algorithm off on a control connection. Its replies and commands are whole
 * lines written at once, so Nagle saves nothing there; it only holds back a second reply
 * (RETR's 226 after its 150) until the peer's delayed ACK comes, 40 ms or more later.
 * Returns 0, or -1 with errno (harmless: the connection only stays slower). */
int net_set_nodelay(int fd);
/* TCP_CORK: only full segments leave until it is cleared, which flushes the rest. */
int net_set_cork(int fd, bool on);
/* TCP_NOTSENT_LOWAT: the socket accepts writes only while fewer than `bytes` of what was
 * written are still unsent, and polls writable only below half that. 1 means "once all of
 * it has left". Returns 0 or -1 with errno. */
int net_set_notsent_lowat(int fd, int bytes);
/* TCP_CONGESTION: the congestion control algorithm of this socket ("reno", "bbr", ...). An
 * unprivileged process may pick only those in net.ipv4.tcp_allowed_congestion_control (reno
 * always is). Returns 0, or -1 with errno (ENOENT: not available, EPERM: not allowed). */
int net_set_congestion(int fd, const char *name);
/* Bytes written to a TCP socket that it has not sent yet (SIOCOUTQNSD), or -1 with errno.
 * A connection the peer reset keeps its count but will never send it: that is -1 with
 * ECONNRESET. */
int net_unsent_bytes(int fd);
/* Bytes written to a TCP socket that the peer has not acknowledged yet, sent or not
 * (SIOCOUTQ), or -1 with errno. */
int net_queued_bytes(int fd);
/* Local or peer address of a socket. Returns 0 or -1. */
int net_local_addr(int fd, struct sockaddr_storage *ss);
int net_peer_addr(int fd, struct sockaddr_storage *ss);
/* True when a connected socket's peer is the socket itself: a connect to a port of this
 * host where nothing listens, from a source port that happens to be that port, completes
 * as a TCP simultaneous open with itself. */
bool net_connected_to_itself(int fd);

#endif
