/* The listening set-up as an operator may not have meant it, said at start and by --check:
 * the bind itself succeeds, so nothing else would tell until clients fail. */
#ifndef LISTENCHECK_H
#define LISTENCHECK_H

#include "config.h"

/* Notes a listener on [::] when no listener is IPv4: listeners are IPv6-only (IPV6_V6ONLY),
 * so IPv4 clients reach none of them. Warns of a --pasv-ports range that holds a listener's
 * port: a passive connection is opened on the address its control connection came to, where
 * that listener holds the port, so it is never to be had there. */
void listencheck_warn(const ftpd_config *cfg);

#endif
