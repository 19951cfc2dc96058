/* The MODE Z codec: zlib deflate/inflate, buffer to buffer, no sockets.
 *
 * MODE Z (draft-preston-ftpext-deflate) sends each transfer's data as ONE zlib stream
 * (RFC 1950: a 2-byte header, deflate blocks, an Adler-32 trailer) that the sender ends with
 * Z_FINISH; a new transfer starts a new stream. lftp and ProFTPD's mod_deflate both speak
 * exactly this (deflateInit2 with windowBits 15 to send, inflate with header auto-detection
 * to receive).
 *
 * Usage, compressing (MZ_DEFLATE):
 *     mz_init(&z, MZ_DEFLATE, level);
 *     for each input chunk: loop mz_add() until the chunk is consumed, writing out what it
 *         produced; when it fills `out` completely, call it again (even with no input left):
 *         zlib may still hold output;
 *     optionally mz_flush() (repeat while MZ_AGAIN) so the peer can decode all sent so far;
 *     at the end, mz_finish() repeatedly while it returns MZ_AGAIN; MZ_END = stream complete;
 *     mz_end().
 * Decompressing (MZ_INFLATE): mz_add() the bytes as they arrive (same looping rule); it
 * returns MZ_END once the stream's trailer has been checked. When the peer's data ends
 * (EOF), mz_finish() drains what zlib still holds and tells a complete stream (MZ_END) from
 * a truncated one (MZ_ERROR).
 *
 * Memory per stream (zlib 1.2.x formulas, window and hash tables allocated by zlib):
 *   deflate: windowBits 15, memLevel 7: 2*32 KiB window + 2*32 KiB prev chain + 2*16 KiB
 *            hash heads + 4*8 KiB pending/symbol buffer = 192 KiB, plus ~6 KiB of state.
 *            memLevel 7 instead of zlib's default 8 saves 64 KiB a stream for +0.1..0.3% of
 *            output on source text and logs; windowBits 15 is kept because a smaller window
 *            cost 1.4..10.6% on the same data (figures in mz.c).
 *   inflate: ~7 KiB of state plus the 32 KiB window (allocated at the first output). The
 *            window size is the peer's choice, announced in the stream header, and peers use
 *            15, so the inflater must accept 15.
 * Nothing else is allocated and output never exceeds the caller's buffer, so memory is
 * bounded whatever the input (a "zip bomb" only produces output at the caller's pace).
 */
#ifndef MZ_H
#define MZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MZ_DEFLATE = 0, MZ_INFLATE = 1 } mz_dir;

enum {
    MZ_OK = 0,     /* progress made, or nothing to do yet: give more input or output room */
    MZ_END = 1,    /* the stream is complete (inflate: trailer verified; deflate: finished) */
    MZ_AGAIN = 2,  /* mz_flush/mz_finish: output room ran out; call again with more */
    MZ_ERROR = -1, /* corrupt or truncated input, misuse, or no memory; see mz_error() */
};

#define MZ_LEVEL_DEFAULT (-1) /* zlib's default, level 6 */

struct z_stream_s;

typedef struct mz {
    struct z_stream_s *zs; /* NULL before mz_init and after mz_end */
    mz_dir dir;
    int state;       /* private: open, finishing, ended, failed */
    bool flushing;   /* private: a flush returned MZ_AGAIN and is not complete */
    bool flush_done; /* private: the flush is complete once `stage` is drained */
    unsigned char stage_off, stage_len;
    unsigned char stage[16]; /* private: flush output when the caller's room is tiny */
    uint64_t total_in;       /* bytes consumed by mz_add (deflate: file bytes; inflate: wire) */
    uint64_t total_out;      /* bytes produced (deflate: wire bytes; inflate: file bytes) */
    /* mz_adapt: the level asked for and the one in use, the totals where the current window
     * of input began, where a stored run ends, and the input deflate passed through stored */
    bool adaptive;
    int level, cur_level;
    uint64_t win_in, win_out, stored_until, stored_in;
    char err[96]; /* last error text, "" if none */
} mz;

/* Prepares z for one stream in direction dir. level is 0..9 or MZ_LEVEL_DEFAULT (ignored for
 * inflate). Returns 0, or -1 with errno (EINVAL for a bad level or direction, ENOMEM) and
 * mz_error() set; z then needs no mz_end (calling it is harmless). */
int mz_init(mz *z, mz_dir dir, int level);

/* Feeds in[0..in_len) and writes up to out_cap bytes to out. *consumed and *produced report
 * what was used; either may be less than offered. Callers loop: offer the rest of the input
 * again, and call again (even with in_len 0) whenever *produced == out_cap, since zlib may
 * hold more output. out_cap 0 does nothing (and out may then be NULL).
 * Returns MZ_OK; MZ_END (inflate only) when the stream ended, with *consumed stopping at the
 * end of the stream: bytes after it are not consumed, and a later mz_add with more input is
 * an error ("data after the end of the stream"); MZ_ERROR on corrupt input or misuse (adding
 * while a flush is incomplete or after mz_finish started). After MZ_ERROR every call fails; only
 * mz_end remains. */
int mz_add(mz *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap,
           size_t *produced);

/* Deflate only: Z_SYNC_FLUSH, so the peer can decode everything mz_add consumed so far
 * (costs a few bytes; use at the end of each burst, not per buffer). Returns MZ_AGAIN when
 * out was too small or out_cap was 0: call mz_flush again (with any room, even 1 byte)
 * until it returns MZ_OK, the flush being complete; MZ_ERROR (inflate side, or after an
 * error). Any room size terminates: where zlib would repeat flush markers forever into
 * buffers of 6 bytes or less, the codec flushes into its own 16-byte stage and hands that
 * out piece by piece. */
int mz_flush(mz *z, void *out, size_t out_cap, size_t *produced);

/* Ends the stream (MZ_AGAIN, doing nothing, when out_cap is 0). Deflate: writes the rest of the
 * stream and its trailer (Z_FINISH); call again while it returns MZ_AGAIN; MZ_END once complete.
 * mz_add is refused afterwards. Inflate: call when the peer's data has ended; writes any output
 * zlib still holds (MZ_AGAIN while out fills), then MZ_END if the stream ended cleanly, or MZ_ERROR
 * ("truncated stream") if it did not: the transfer is incomplete. */
int mz_finish(mz *z, void *out, size_t out_cap, size_t *produced);

/* Deflate only: from now on, data that does not compress is sent in stored blocks (level 0),
 * which cost a copy and a checksum, not a search for matches that are not there (on random
 * data zlib's level 1 runs at some 35 MiB/s on a core, stored at memory speed). Each MiB of
 * input at the level asked for is judged: if it shrank by less than 3%, the next 16 MiB go
 * stored, then a MiB is tried at the level again, so a file that turns compressible later
 * (an archive of mixed files) is compressed again. The stream stays one valid zlib stream. */
void mz_adapt(mz *z);

/* Frees zlib's memory. Safe on a zeroed, failed or already ended mz. */
void mz_end(mz *z);

/* The last error as text ("" if none): zlib's message where it gave one. */
const char *mz_error(const mz *z);

/* True once the stream is complete (MZ_END was returned). */
bool mz_ended(const mz *z);

#endif
