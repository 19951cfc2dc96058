/* What access(2) cannot tell root: whether an entry can really be made in a directory. */
#ifndef DIRPROBE_H
#define DIRPROBE_H

/* Whether the process can make an entry in directory dir: tried with a directory it removes
 * at once, since access() answers yes to root for /proc, a read-only mount or a FUSE
 * directory that refuses it. Returns 0, or -1 with errno. */
int dirprobe_can_create_in(const char *dir);

#endif
