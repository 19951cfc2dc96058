/* The server's own files, never served to a client: the users file (password hashes), the
 * TLS private key, the transfer log and the -c file. Start and SIGHUP warn when one lies in a
 * served folder (exposedfiles.h); this keeps it from being read there (RETR, SIZE, MDTM,
 * MLST, HASH) or changed (STOR, APPE, DELE, RNFR, RNTO, SITE CHMOD, MFMT), nor a folder on
 * its path renamed or its mode changed (ownfiles_guards), while the operator moves it. A file is
 * known by its device and inode, so a hard link or a symlink to it in a served folder is refused
 * too; they are taken at start and again at each SIGHUP, so a new file put in a path's place
 * between two is not known until the next. */
#ifndef OWNFILES_H
#define OWNFILES_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"

/* The error an access refused for that reason carries in place of an errno (reply_errno
 * answers it "550 name: File not available."): no errno means it, and the client is told
 * no more than that the file is not to be had. */
#define OWNFILES_REFUSED (1 << 20)

/* Takes the device and inode of each such file the configuration names, as the paths lead
 * now, and of the transfer log open now (NULL: none). On the loop; ownfiles_holds may run
 * on any thread meanwhile. */
void ownfiles_refresh(const ftpd_config *cfg, FILE *xferlog);
/* Whether st (from a stat or an lstat of what a client names) is one of them. */
bool ownfiles_holds(const struct stat *st);
/* Whether st (from an lstat) is one of them or an entry that one's path passes through (a
 * folder, a link to one), which a rename or a removal would let a client replace. */
bool ownfiles_guards(const struct stat *st);

#endif
