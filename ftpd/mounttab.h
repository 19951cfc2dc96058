/* The mount table (/proc/self/mountinfo), to tell which file system a home lies on without
 * a call into it: reading the table touches no mounted file system, so a dead one (an NFS
 * server that does not answer) cannot hold the reader.
 */
#ifndef MOUNTTAB_H
#define MOUNTTAB_H

#include <stddef.h>

typedef struct mounttab {
    struct mounttab_ent {
        char *dir; /* the mount point, its octal escapes (\040) undone */
        char *dev; /* "major:minor": bind mounts of one file system share it */
    } * ents;
    size_t n;
} mounttab;

/* Parses the text of a mountinfo file into t (empty before). Lines it cannot read are
 * skipped. Returns 0, or -1 with errno (ENOMEM); t is then empty. */
int mounttab_parse(mounttab *t, const char *text);
/* Reads and parses path (normally /proc/self/mountinfo). Returns 0, or -1 with errno. */
int mounttab_load(mounttab *t, const char *path);
void mounttab_clear(mounttab *t);
/* The device of the file system that absolute path lies on, judged by its name: that of
 * the longest mount point that is path or one of its parents (of two on one point, the
 * later, which hides the other). NULL when none is, or when a mount point lies beneath path
 * (a root such as "/": its calls may reach several file systems). */
const char *mounttab_device(const mounttab *t, const char *path);

#endif
