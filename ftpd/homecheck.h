/* Homes the server's user cannot enter: every login of such an account is refused, and
 * without a word at start only that login's log line would say why. */
#ifndef HOMECHECK_H
#define HOMECHECK_H

#include "config.h"
#include "users.h"

/* Warns of each account's home (the first few named) and of the anonymous folder that this
 * process, as it runs now, cannot enter, of a users file it cannot read again at a SIGHUP,
 * and of the server's own files that clients could download (exposedfiles.h). For a server
 * that already runs as --user. */
void homecheck_warn(const ftpd_config *cfg, const ftpd_users *users);

/* The same for `ftpd --check` started as root with --user: the checks run with that user's
 * identity for the moment (effective ids and groups), which is then given back. Returns -1
 * when the identity could not be taken or given back. */
int homecheck_warn_as_user(const ftpd_config *cfg, const ftpd_users *users);

/* Runs fn(ud) as homecheck_warn_as_user runs its checks: with the identity of --user for the
 * moment when this process is root and has one to take, else as it runs now. Returns -1 when
 * the identity could not be taken (fn not run) or given back. */
int homecheck_run_as_user(const ftpd_config *cfg, void (*fn)(void *ud), void *ud);

#endif
