/* SIGHUP: what a running server picks up without a restart. The users file is read again
 * (accounts added, removed or changed take effect at the next login; a file that does not
 * load leaves the accounts as they were) and the transfer log is reopened, so a log rotator
 * can move it aside. Sessions already logged in keep the rights they logged in with. The TLS
 * certificate is read again too (ftps_reload). Other settings and the listeners take a
 * restart. */
#ifndef RELOAD_H
#define RELOAD_H

#include "server.h"
#include "users.h"

typedef void (*reload_loaded_fn)(server *srv, const ftpd_users *users);

/* Reads the users file again on a worker, warning there of homes the server cannot enter
 * (homecheck_warn), then, on the loop, replaces the contents of
 * srv->users with it, logs what changed (or why the file was not taken) and calls loaded. A
 * SIGHUP during a read reads the file once more after it. */
void reload_users(server *srv, reload_loaded_fn loaded);
/* Frees a reload the pool did not deliver (at shutdown, after the pool is gone). */
void reload_discard(server *srv);
/* Reopens the transfer log by its name; if that fails the old one stays open. */
void reload_xferlog(server *srv);
/* Says when the -c file changed since start: it is not read again, and an operator who
 * edited it and sent SIGHUP would otherwise believe the change in force. Once for each state
 * of the file (an edit, its removal), not at every SIGHUP that finds it so again. */
void reload_config_file(const server *srv);

#endif
