/* The worker's side of a MODE Z file download (xfer_zjob.h): reads a file from an offset
 * (TYPE A: LF becomes CRLF, as stream mode sends it) and deflates it into a bounded buffer, a
 * piece at a time, one zlib stream over all the pieces. No loop, no sockets: one thread at a
 * time works on a source.
 */
#ifndef ZPIECE_H
#define ZPIECE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "mz.h"

/* A piece ends at ZPIECE_IN_MAX file bytes read or about ZPIECE_NS of deflate, whichever
 * comes first (or when its buffer is full, the stream ends, or it is cancelled), looking at
 * the clock and the cancel flag every ZPIECE_SLICE of input. */
#define ZPIECE_IN_MAX (1024 * 1024)
#define ZPIECE_NS 20000000LL
#define ZPIECE_SLICE (4 * 1024)
/* The file bytes read at a time; under TYPE A half as many, which may double. */
#define ZPIECE_READ (64 * 1024)

typedef struct zpiece_src {
    int fd;           /* read with pread: the caller's, not closed here */
    off_t offset;     /* the next file byte to read */
    off_t total;      /* no byte at or beyond this is read (the size the 150 announced) */
    off_t read_until; /* this piece reads no further (the caller's page-cache window) */
    bool ascii;
    bool eof;   /* every byte up to total is read, or the file ended before it */
    bool ended; /* the stream's trailer is out: the last piece */
    int err;    /* a read's errno, or ENOMEM; the source is then done with */
    bool zerr;  /* the codec failed (mz_error(&z)) */
    mz z;       /* the stream, prepared by the caller (mz_init for MZ_DEFLATE) */
    char *in;   /* file-side bytes read, not yet deflated: in_len of them from in_head */
    size_t in_head, in_len;
    long long done; /* file-side bytes deflated so far (TYPE A: with their CRs) */
} zpiece_src;

/* Prepares p for fd from offset to total, taking over z (*z is zeroed). read_until starts
 * at total. Returns 0, or -1 with errno (z is then untouched). */
int zpiece_init(zpiece_src *p, int fd, off_t offset, off_t total, bool ascii, mz *z);
/* Frees the read buffer and the codec; leaves fd open. Safe on a zeroed source. */
void zpiece_free(zpiece_src *p);
/* Deflates the next piece into out (appending) until out is full, the piece's bounds are
 * reached, read_until is reached, the stream has ended (p->ended), a read or the codec fails
 * (p->err, p->zerr), or *cancel is set (cancel may be NULL). A piece may add nothing (data
 * that compresses to almost nothing fills no deflate block in a MiB). */
void zpiece_run(zpiece_src *p, buf *out, atomic_bool *cancel);

#endif
