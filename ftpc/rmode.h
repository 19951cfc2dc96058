/* A remote file's permission bits, read from the reply of a command about that one file:
 * MLST's UNIX.mode fact (ftpd, ProFTPD, pure-ftpd), or the permission string of the line STAT
 * lists for it (vsftpd, which has no MLST). A segmented upload (segput.h) reads them to give
 * the file it renames over an existing one the mode that file had, as an ordinary STOR over
 * it keeps it. */
#ifndef FTPC_RMODE_H
#define FTPC_RMODE_H

#include <stdbool.h>
#include <stddef.h>

/* An MLST reply's whole text ("250-Listing\n type=file;...;UNIX.mode=0644; path\n250 End"):
 * the permission bits of the regular file it describes, or -1 when it describes something
 * else (a directory) or has no UNIX.mode fact. */
int ftpc_rmode_from_mlst(const char *text);

/* A STAT reply's whole text ("213-Status follows:\n-rw-r--r-- 1 u g 3 Dec 07 01:49 name\n213
 * End"): the permission bits of the regular file whose line names name (compared with its
 * last component, as vsftpd lists it), or -1 when no such line is there. */
int ftpc_rmode_from_stat(const char *text, const char *name);

/* Whether text (a LIST line, or a STAT reply as above) has a directory's line ("d...")
 * naming name's last component. */
bool ftpc_rlist_names_dir(const char *text, const char *name);

/* The line of a LIST text (a directory's listing) that lists name's last component as
 * anything but a directory: a file, or a link ("l... name -> target"), its length without
 * the line end in *len; NULL when there is none. */
const char *ftpc_rlist_entry_line(const char *text, const char *name, size_t *len);

#endif
