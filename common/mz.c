/* MODE Z codec over zlib. See mz.h for the contract and the memory figures. */
#include "mz.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Deflate parameters. Measured with zlib 1.2.13 on 8 MiB of C source and 8 MiB of log lines
 * at levels 1 and 6, compressed size against windowBits 15 / memLevel 8 (256 KiB):
 *   wbits 15, mem 7 (192 KiB): +0.1..0.3%     wbits 14, mem 7 (128 KiB): +1.4..4.8%
 *   wbits 13, mem 7 (96 KiB):  +1.8..10.6%
 * memLevel 7 is nearly free; a smaller window is not. */
#define MZ_WINDOW_BITS 15
#define MZ_MEM_LEVEL 7
/* Inflate: + 32 lets zlib detect a zlib or a gzip header, as lftp and mod_deflate accept;
 * the window must be the full 15 bits since the peer's header picks the size. */
#define MZ_INFLATE_BITS (15 + 32)

enum { ST_NONE = 0, ST_OPEN, ST_FINISHING, ST_ENDED, ST_FAILED };

static int fail(mz *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(mz *z, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->err, sizeof z->err, fmt, ap);
    va_end(ap);
    if (z->state != ST_NONE)
        z->state = ST_FAILED;
    return MZ_ERROR;
}

static int zfail(mz *z, int ret)
{
    const char *what = z->zs && z->zs->msg ? z->zs->msg : zError(ret);
    if (ret == Z_NEED_DICT)
        what = "stream needs a preset dictionary";
    return fail(z, "%s: %s", z->dir == MZ_DEFLATE ? "deflate" : "inflate", what);
}

int mz_init(mz *z, mz_dir dir, int level)
{
    memset(z, 0, sizeof *z);
    z->dir = dir;
    if ((dir != MZ_DEFLATE && dir != MZ_INFLATE) || level < -1 || level > 9) {
        fail(z, "bad codec parameters");
        errno = EINVAL;
        return -1;
    }
    z_stream *zs = calloc(1, sizeof *zs);
    if (!zs) {
        fail(z, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    int ret = dir == MZ_DEFLATE ? deflateInit2(zs, level, Z_DEFLATED, MZ_WINDOW_BITS, MZ_MEM_LEVEL,
                                               Z_DEFAULT_STRATEGY)
                                : inflateInit2(zs, MZ_INFLATE_BITS);
    if (ret != Z_OK) {
        fail(z, "zlib init: %s", zs->msg ? zs->msg : zError(ret));
        free(zs);
        errno = ret == Z_MEM_ERROR ? ENOMEM : EINVAL;
        return -1;
    }
    z->zs = zs;
    z->state = ST_OPEN;
    z->level = z->cur_level = level == MZ_LEVEL_DEFAULT ? Z_DEFAULT_COMPRESSION : level;
    return 0;
}

static uInt clamp(size_t n);

void mz_adapt(mz *z)
{
    z->adaptive = z->dir == MZ_DEFLATE && z->level != 0;
}

/* mz_adapt's judging: the input of a window, a stored run, and the least shrinking (in
 * hundredths) that keeps the level. */
#define MZ_ADAPT_WINDOW (1024 * 1024)
#define MZ_STORED_RUN (16 * 1024 * 1024)
#define MZ_ADAPT_KEEP_PCT 97

/* Switches the level when a window or a stored run is over. zlib's deflateParams compresses
 * what it holds with the old level first, into the caller's room: without room enough it
 * changes nothing (Z_BUF_ERROR), and the next mz_add tries again. */
static void adapt(mz *z, unsigned char **out, size_t *out_left)
{
    uint64_t in = z->total_in - z->win_in, outn = z->total_out - z->win_out;
    int want = z->cur_level;
    if (z->cur_level == 0) {
        if (z->total_in < z->stored_until)
            return;
        want = z->level; /* try it again on the next window */
    } else {
        if (in < MZ_ADAPT_WINDOW)
            return;
        if (outn * 100 >= in * MZ_ADAPT_KEEP_PCT)
            want = 0;
    }
    if (want != z->cur_level) {
        z_stream *zs = z->zs;
        uInt ao = clamp(*out_left);
        zs->next_in = NULL;
        zs->avail_in = 0;
        zs->next_out = *out;
        zs->avail_out = ao;
        int ret = deflateParams(zs, want, Z_DEFAULT_STRATEGY);
        size_t used = ao - zs->avail_out;
        *out += used;
        *out_left -= used;
        z->total_out += used;
        if (ret != Z_OK)
            return; /* Z_BUF_ERROR: no room to finish the block; an error shows in deflate */
        if (want == 0)
            z->stored_until = z->total_in + MZ_STORED_RUN;
        z->cur_level = want;
    }
    z->win_in = z->total_in;
    z->win_out = z->total_out;
}

/* zlib counts in uInt: offer at most this much per call and loop. */
static uInt clamp(size_t n)
{
    return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

/* Runs deflate or inflate with `flush` until the input is used up, the output is full, the
 * stream ends or zlib can make no progress. Returns the last zlib status, with Z_BUF_ERROR
 * (no progress possible: not an error in zlib's streaming model) turned into Z_OK. */
static int pump(mz *z, int flush, const unsigned char **in, size_t *in_left, unsigned char **out,
                size_t *out_left)
{
    z_stream *zs = z->zs;
    if (*out_left == 0)
        return Z_OK; /* zlib refuses a NULL next_out, and deflate needs room to progress */
    for (;;) {
        uInt ai = clamp(*in_left), ao = clamp(*out_left);
        /* zlib never writes through next_in; the cast only drops const for its API. */
        zs->next_in = (Bytef *)(uintptr_t)*in;
        zs->avail_in = ai;
        zs->next_out = *out;
        zs->avail_out = ao;
        int ret = z->dir == MZ_DEFLATE ? deflate(zs, flush) : inflate(zs, flush);
        size_t used_in = ai - zs->avail_in, used_out = ao - zs->avail_out;
        *in += used_in;
        *in_left -= used_in;
        *out += used_out;
        *out_left -= used_out;
        z->total_in += used_in;
        z->total_out += used_out;
        if (ret == Z_BUF_ERROR)
            return Z_OK;
        if (ret != Z_OK)
            return ret;
        if ((used_in == 0 && used_out == 0) || *out_left == 0)
            return Z_OK;
        /* Room was left in this call's output and its input is gone: zlib has nothing more to
         * give unless more input (beyond a clamped chunk) is waiting. */
        if (zs->avail_out != 0 && *in_left == 0)
            return Z_OK;
    }
}

int mz_add(mz *z, const void *in, size_t in_len, size_t *consumed, void *out, size_t out_cap,
           size_t *produced)
{
    *consumed = 0;
    *produced = 0;
    switch (z->state) {
    case ST_OPEN:
        if (z->flushing)
            return fail(z, "data added before the flush completed");
        break;
    case ST_ENDED:
        if (in_len == 0)
            return MZ_END;
        return fail(z, "data after the end of the compressed stream");
    case ST_FINISHING:
        return fail(z, "data added after the stream was finished");
    case ST_FAILED:
        return MZ_ERROR;
    default:
        return fail(z, "codec not initialised");
    }
    const unsigned char *ip = in;
    unsigned char *op = out;
    size_t il = in_len, ol = out_cap;
    if (z->adaptive && ol > 0)
        adapt(z, &op, &ol);
    uint64_t before = z->total_in;
    int ret = pump(z, Z_NO_FLUSH, &ip, &il, &op, &ol);
    if (z->adaptive && z->cur_level == 0)
        z->stored_in += z->total_in - before;
    *consumed = in_len - il;
    *produced = out_cap - ol;
    if (ret == Z_STREAM_END && z->dir == MZ_INFLATE) {
        z->state = ST_ENDED;
        return MZ_END;
    }
    if (ret != Z_OK)
        return zfail(z, ret);
    return MZ_OK;
}

/* Hands out what the stage holds. */
static void drain_stage(mz *z, unsigned char **op, size_t *ol)
{
    size_t n = (size_t)(z->stage_len - z->stage_off);
    if (n > *ol)
        n = *ol;
    memcpy(*op, z->stage + z->stage_off, n);
    z->stage_off = (unsigned char)(z->stage_off + n);
    *op += n;
    *ol -= n;
}

/* zlib's rule for Z_SYNC_FLUSH: call again while it fills avail_out. But a call that starts
 * with avail_out <= 6 and finds nothing left to flush emits a fresh 5-byte marker and fills the
 * buffer again, so with tiny buffers the rule never ends (zlib.h warns of this). Rooms that
 * small go through the stage, whose 16 bytes always leave zlib room to show it is done. */
#define MZ_DIRECT_FLUSH_ROOM 16

int mz_flush(mz *z, void *out, size_t out_cap, size_t *produced)
{
    *produced = 0;
    if (z->state == ST_FAILED)
        return MZ_ERROR;
    if (z->dir != MZ_DEFLATE || z->state != ST_OPEN)
        return fail(z, "flush is for an open deflate stream");
    const unsigned char *ip = NULL;
    unsigned char *op = out;
    size_t il = 0, ol = out_cap;
    int rc = MZ_AGAIN;
    drain_stage(z, &op, &ol);
    if (z->stage_off < z->stage_len) {
        rc = MZ_AGAIN;
    } else if (z->flush_done) {
        rc = MZ_OK;
    } else if (ol >= MZ_DIRECT_FLUSH_ROOM) {
        int ret = pump(z, Z_SYNC_FLUSH, &ip, &il, &op, &ol);
        if (ret != Z_OK)
            return zfail(z, ret);
        rc = ol == 0 ? MZ_AGAIN : MZ_OK;
    } else if (ol > 0) {
        unsigned char *sp = z->stage;
        size_t sl = sizeof z->stage;
        int ret = pump(z, Z_SYNC_FLUSH, &ip, &il, &sp, &sl);
        if (ret != Z_OK)
            return zfail(z, ret);
        z->stage_off = 0;
        z->stage_len = (unsigned char)(sizeof z->stage - sl);
        z->flush_done = sl > 0;
        drain_stage(z, &op, &ol);
        rc = z->stage_off == z->stage_len && z->flush_done ? MZ_OK : MZ_AGAIN;
    }
    *produced = out_cap - ol;
    z->flushing = rc == MZ_AGAIN;
    if (rc == MZ_OK)
        z->flush_done = false;
    return rc;
}

int mz_finish(mz *z, void *out, size_t out_cap, size_t *produced)
{
    *produced = 0;
    switch (z->state) {
    case ST_OPEN:
    case ST_FINISHING:
        break;
    case ST_ENDED:
        return MZ_END;
    case ST_FAILED:
        return MZ_ERROR;
    default:
        return fail(z, "codec not initialised");
    }
    const unsigned char *ip = NULL;
    unsigned char *op = out;
    size_t il = 0, ol = out_cap;
    if (z->dir == MZ_DEFLATE) {
        /* An unfinished flush is simply overtaken: Z_FINISH flushes everything too. */
        drain_stage(z, &op, &ol);
        if (z->stage_off < z->stage_len) {
            *produced = out_cap - ol;
            return MZ_AGAIN;
        }
        z->flushing = z->flush_done = false;
        z->state = ST_FINISHING;
        int ret = pump(z, Z_FINISH, &ip, &il, &op, &ol);
        *produced = out_cap - ol;
        if (ret == Z_STREAM_END) {
            z->state = ST_ENDED;
            return MZ_END;
        }
        if (ret != Z_OK)
            return zfail(z, ret);
        return MZ_AGAIN;
    }
    /* Inflate at the end of the peer's data: drain what zlib holds, then judge. */
    if (out_cap == 0)
        return MZ_AGAIN;
    int ret = pump(z, Z_NO_FLUSH, &ip, &il, &op, &ol);
    *produced = out_cap - ol;
    if (ret == Z_STREAM_END) {
        z->state = ST_ENDED;
        return MZ_END;
    }
    if (ret != Z_OK)
        return zfail(z, ret);
    if (ol == 0)
        return MZ_AGAIN;
    return fail(z, "truncated compressed stream (%llu bytes in, no end marker)",
                (unsigned long long)z->total_in);
}

void mz_end(mz *z)
{
    if (z->zs) {
        if (z->dir == MZ_DEFLATE)
            deflateEnd(z->zs);
        else
            inflateEnd(z->zs);
        free(z->zs);
        z->zs = NULL;
    }
    if (z->state != ST_FAILED)
        z->state = ST_NONE;
}

const char *mz_error(const mz *z)
{
    return z->err;
}

bool mz_ended(const mz *z)
{
    return z->state == ST_ENDED;
}
