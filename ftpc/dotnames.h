/* ls without -l prints NLST's names, and some servers (pure-ftpd) list "." and ".." there
 * among them: names of no file, which a script reading the list would take for two more.
 * This filter drops those lines from the stream (also as "dir/." and "dir/..", the form a
 * listing of another directory takes), keeping every other byte as it came. */
#ifndef FTPC_DOTNAMES_H
#define FTPC_DOTNAMES_H

#include <stdbool.h>
#include <stddef.h>

/* A line longer than this cannot be a dot entry worth holding back for: it passes through. */
#define FTPC_DOTNAMES_HOLD 4096

typedef int (*ftpc_dotnames_out)(void *ud, const char *p, size_t len);

typedef struct ftpc_dotnames {
    char line[FTPC_DOTNAMES_HOLD]; /* the start of the current line, held */
    size_t len;
    bool passing; /* the current line was too long to hold: it goes out as it comes */
} ftpc_dotnames;

/* Text with LF line ends; complete lines go to out (0, or -1 from out). */
int ftpc_dotnames_feed(ftpc_dotnames *f, const char *p, size_t len, ftpc_dotnames_out out,
                       void *ud);
/* The end of the listing: a last line without LF goes out unless it is a dot entry. */
int ftpc_dotnames_end(ftpc_dotnames *f, ftpc_dotnames_out out, void *ud);

#endif
