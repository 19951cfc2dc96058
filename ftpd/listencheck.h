/* The listening set-up as an operator may not have meant it, said at start and by --check:
 * the bind itself succeeds, so nothing else would tell until clients fail. */
#ifndef LISTENCHECK_H
#define LISTENCHECK_H

#include "config.h"

/* Notes a listener on [::] when no IPv4 listener of the same option has its port: listeners
 * are IPv6-only (IPV6_V6ONLY), so IPv4 clients of that port reach none. Warns of a --pasv-ports
 * range that holds a listener's port: a passive connection is opened on the address its control
 * connection came to, where that listener holds the port, so it is never to be had there. */
void listencheck_warn(const ftpd_config *cfg);

#endif
