/* MODE Z file downloads, the worker's side: file -> (TYPE A) -> deflate -> a piece. */
#include "zpiece.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crlf.h"

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int zpiece_init(zpiece_src *p, int fd, off_t offset, off_t total, bool ascii, mz *z)
{
    memset(p, 0, sizeof *p);
    p->in = malloc(ZPIECE_READ);
    if (!p->in)
        return -1;
    p->fd = fd;
    p->offset = offset;
    p->total = total;
    p->read_until = total;
    p->ascii = ascii;
    p->z = *z; /* the codec's state is the source's from now on */
    memset(z, 0, sizeof *z);
    return 0;
}

void zpiece_free(zpiece_src *p)
{
    mz_end(&p->z);
    free(p->in);
    p->in = NULL;
}

/* TYPE A: LF becomes CRLF except after a CR (a file with CRLF already), as xfer.c's stream
 * mode does; the byte before the offset is read too, so a CRLF split between two reads (or
 * by REST) is still seen. Reads at most want file bytes into dst, which holds twice that. */
static ssize_t read_ascii(zpiece_src *p, char *dst, size_t want)
{
    char raw[ZPIECE_READ / 2 + 1];
    if (want > sizeof raw - 1)
        want = sizeof raw - 1;
    size_t before = p->offset > 0 ? 1 : 0;
    ssize_t n = pread(p->fd, raw, want + before, p->offset - (off_t)before);
    if (n <= (ssize_t)before)
        return n < 0 ? n : 0;
    p->offset += n - (ssize_t)before;
    return (ssize_t)crlf_expand(raw, before, (size_t)n, dst);
}

/* Refills the empty input. Returns 1 with bytes in, 0 at the end of the file or at
 * read_until (p->eof tells which), -1 with p->err set. */
static int read_more(zpiece_src *p)
{
    if (p->offset >= p->total) {
        p->eof = true; /* what the 150 announced is read: a file that grew is sent as it was */
        return 0;
    }
    if (p->offset >= p->read_until)
        return 0;
    /* the window may reach past total (read-ahead off, or done with the file): never read
     * past what the 150 announced, or a file growing meanwhile is sent longer */
    off_t end = p->read_until < p->total ? p->read_until : p->total;
    off_t left = end - p->offset;
    size_t want = p->ascii ? ZPIECE_READ / 2 : ZPIECE_READ;
    if ((off_t)want > left)
        want = (size_t)left;
    ssize_t n;
    do {
        if (p->ascii) {
            n = read_ascii(p, p->in, want);
        } else {
            n = pread(p->fd, p->in, want, p->offset);
            if (n > 0)
                p->offset += n;
        }
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        p->err = errno;
        return -1;
    }
    if (n == 0) {
        p->eof = true; /* the file shrank under us: the caller tells the client */
        return 0;
    }
    p->in_head = 0;
    p->in_len = (size_t)n;
    return 1;
}

void zpiece_run(zpiece_src *p, buf *out, atomic_bool *cancel)
{
    long long start = now_ns();
    size_t taken = 0; /* file-side bytes this piece read */
    while (!p->ended && !p->err && !p->zerr &&
           !(cancel && atomic_load_explicit(cancel, memory_order_relaxed))) {
        size_t room;
        char *dst = buf_tail(out, &room);
        if (!dst) {
            if (!buf_full(out))
                p->err = ENOMEM;
            break; /* full: the piece is done */
        }
        if (p->in_len == 0 && !p->eof) {
            if (taken >= ZPIECE_IN_MAX || now_ns() - start >= ZPIECE_NS)
                break;
            int r = read_more(p);
            if (r == 0 && !p->eof)
                break; /* read_until: the caller's window goes on first */
            if (r > 0)
                taken += p->in_len;
            continue;
        }
        size_t made = 0;
        int rc;
        if (p->in_len == 0) { /* eof: the rest of zlib's output and the trailer */
            rc = mz_finish(&p->z, dst, room, &made);
            buf_commit(out, made);
            p->ended = rc == MZ_END;
        } else {
            size_t used = 0, len = p->in_len < ZPIECE_SLICE ? p->in_len : ZPIECE_SLICE;
            rc = mz_add(&p->z, p->in + p->in_head, len, &used, dst, room, &made);
            buf_commit(out, made);
            p->in_head += used;
            p->in_len -= used;
            p->done += (long long)used;
            if (rc != MZ_ERROR && now_ns() - start >= ZPIECE_NS)
                break; /* the piece's time is up */
        }
        if (rc == MZ_ERROR)
            p->zerr = true;
    }
}
