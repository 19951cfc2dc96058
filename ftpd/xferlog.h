/* The xferlog-compatible transfer log (as wu-ftpd and vsftpd write it). */
#ifndef XFERLOG_H
#define XFERLOG_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

typedef struct xferlog_entry {
    time_t end;       /* when the transfer ended */
    double seconds;   /* duration, at least 1 when written */
    const char *host; /* remote address */
    long long bytes;
    const char *path; /* virtual path */
    bool ascii;       /* 'a' or 'b' */
    bool incoming;    /* 'i' (upload) or 'o' */
    bool anonymous;   /* 'a' or 'r' */
    const char *user; /* the login name, or the anonymous password */
    bool complete;    /* 'c' or 'i' */
} xferlog_entry;

/* Opens the log at path for appending, as fopen "ae" does, but a log it creates starts from
 * mode 0644, not 0666: --umask is for the clients' files, and a mask of 002 or 000 there
 * must not let others write lines into the server's own record. NULL with errno on failure. */
FILE *xferlog_open(const char *path);

/* Appends the formatted line len bytes long in one write(2), so that a failed write leaves
 * no piece in a stdio buffer to be joined to the next line; a write cut short is taken back
 * out of the file for the same reason. Returns 0, or -1 with errno (EIO for a short write). */
int xferlog_append(FILE *log, const char *line, size_t len);

/* Formats one line (with '\n'); spaces in the path become '_' as xferlog readers expect.
 * Returns the length, or -1 if out_size is too small. */
int xferlog_format(char *out, size_t out_size, const xferlog_entry *e);

#endif
