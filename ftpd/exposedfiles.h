/* The server's own files that its clients could download: a users file kept beside the homes
 * it names (/srv/ftp/users), a TLS key, a transfer log or the -c file put in a served folder.
 * The server's user reads the users file at each SIGHUP, so the mode that keeps others out
 * does not keep the clients out. The file itself is refused to them (ownfiles.h), but not a
 * copy of it (a backup beside it) nor a new one put in its place until the next SIGHUP: the
 * operator is told to move it. */
#ifndef EXPOSEDFILES_H
#define EXPOSEDFILES_H

#include "config.h"
#include "users.h"

/* Warns of each such file that lies in the anonymous area or in the home of an account that
 * may download (r), and that this process, as it runs now, can read. */
void exposedfiles_warn(const ftpd_config *cfg, const ftpd_users *users);

#endif
