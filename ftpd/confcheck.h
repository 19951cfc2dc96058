/* `ftpd --check`: everything start-up reads (options, config file, users file, TLS
 * certificate, transfer log) is read and judged, and nothing is served. For a configuration
 * edited before a restart or a SIGHUP. */
#ifndef CONFCHECK_H
#define CONFCHECK_H

#include "config.h"
#include "users.h"

/* Checks what config_load and users_load leave to start-up (the certificate, the transfer
 * log), logs each problem and prints a summary on standard output. Returns the exit status a
 * start-up would have for the same reason: 0 if it would start, 1 if it would fail. */
int check_config(const ftpd_config *cfg, const ftpd_users *users);

#endif
