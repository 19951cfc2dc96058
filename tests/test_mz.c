/* Check suite for common/mz (the MODE Z codec): round trips across every way of splitting
 * small inputs and random splits of input and output (down to 1-byte buffers) for large
 * ones, all levels, flushes, zlib interoperability, and corrupt, truncated and garbage input,
 * which must give an error and never a crash or an overrun (run it under ASan). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mz.h"

/* Check's ck_assert records its location through a pipe on every PASSING assertion (one
 * write(2) each), which dominates loops of millions of codec calls: hot paths use this,
 * which costs nothing unless it fails. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("line %d: %s", __LINE__, #cond);                                          \
    } while (0)

/* ------------------------------------------------------------------ data and randomness */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    /* xorshift64* */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

static size_t rnd_below(rng *r, size_t n)
{
    return n ? (size_t)(rnd(r) % n) : 0;
}

/* A buffer size in 0..max (or 1..max): often tiny, sometimes exactly 1, else anything. */
static size_t pick_size(rng *r, size_t max, bool allow_zero)
{
    switch (rnd_below(r, 8)) {
    case 0:
        return allow_zero ? 0 : 1;
    case 1:
        return 1;
    case 2:
        return 1 + rnd_below(r, 16 < max ? 16 : max);
    default:
        return 1 + rnd_below(r, max);
    }
}

/* Compressible: words from a small vocabulary, numbers and newlines, like logs or source. */
static uint8_t *make_text(size_t n, uint64_t seed)
{
    static const char *const words[] = {"transfer",   "session", "the", "data",  "ftpd",
                                        "connection", "226",     "OK",  "error", "static",
                                        "void",       "return",  "int", "{",     "}"};
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    rng r = {seed * 0x9E3779B97F4A7C15ULL + 1};
    size_t i = 0;
    while (i < n) {
        char tok[32];
        int len;
        switch (rnd_below(&r, 10)) {
        case 0:
            len = snprintf(tok, sizeof tok, "%u", (unsigned)rnd_below(&r, 100000));
            break;
        case 1:
            len = snprintf(tok, sizeof tok, "\n");
            break;
        default:
            len = snprintf(tok, sizeof tok, "%s ",
                           words[rnd_below(&r, sizeof words / sizeof words[0])]);
        }
        for (int k = 0; k < len && i < n; k++)
            p[i++] = (uint8_t)tok[k];
    }
    return p;
}

/* Incompressible: pseudo-random bytes. */
static uint8_t *make_random(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    rng r = {seed * 0xD1B54A32D192ED03ULL + 7};
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd(&r) >> 56);
    return p;
}

/* ------------------------------------------------------------------ drivers */

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static uint8_t *room(bytes *b, size_t need)
{
    if (b->cap - b->len < need) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < need)
            cap *= 2;
        b->p = realloc(b->p, cap);
        REQUIRE(b->p != NULL);
        b->cap = cap;
    }
    return b->p + b->len;
}

typedef struct splitter {
    rng *r;          /* random sizes when set */
    size_t max_in;   /* random input chunks in 0..max_in */
    size_t max_out;  /* random output room in 1..max_out */
    size_t fixed_in; /* without r: input split once at fixed_in */
    size_t out_cap;  /* without r: output room per call */
} splitter;

static size_t next_in(splitter *sp, size_t pos, size_t left)
{
    size_t n;
    if (sp->r)
        n = pick_size(sp->r, sp->max_in, true);
    else
        n = pos < sp->fixed_in ? sp->fixed_in - pos : left;
    return n < left ? n : left;
}

static size_t next_out(splitter *sp)
{
    return sp->r ? pick_size(sp->r, sp->max_out, false) : sp->out_cap;
}

/* compress_with: with mz_adapt when set, and the bytes it sent stored. */
static bool adapting;
static uint64_t stored;

/* Compresses in[0..n) into out (appended), flushing after every chunk when flush is set. */
static void compress_with(const uint8_t *in, size_t n, int level, splitter *sp, bool flush,
                          bytes *out)
{
    mz z;
    REQUIRE(mz_init(&z, MZ_DEFLATE, level) == 0);
    if (adapting)
        mz_adapt(&z);
    size_t pos = 0;
    bool first = true;
    while (first || pos < n) {
        first = false;
        size_t chunk = next_in(sp, pos, n - pos);
        size_t off = 0;
        for (;;) {
            size_t cap = next_out(sp), c, p;
            int rc = mz_add(&z, in + pos + off, chunk - off, &c, room(out, cap), cap, &p);
            if (rc != MZ_OK)
                ck_abort_msg("mz_add: %d %s", rc, mz_error(&z));
            REQUIRE(c <= chunk - off);
            REQUIRE(p <= cap);
            off += c;
            out->len += p;
            if (off == chunk && p < cap)
                break;
        }
        pos += chunk;
        if (flush) {
            int rc;
            do {
                size_t cap = next_out(sp), p;
                rc = mz_flush(&z, room(out, cap), cap, &p);
                REQUIRE(p <= cap);
                out->len += p;
            } while (rc == MZ_AGAIN);
            REQUIRE(rc == MZ_OK);
        }
    }
    int rc;
    do {
        size_t cap = next_out(sp), p;
        rc = mz_finish(&z, room(out, cap), cap, &p);
        REQUIRE(p <= cap);
        out->len += p;
    } while (rc == MZ_AGAIN);
    ck_assert_msg(rc == MZ_END, "mz_finish: %d %s", rc, mz_error(&z));
    ck_assert(mz_ended(&z));
    REQUIRE(z.total_in == n);
    REQUIRE(z.total_out == out->len);
    stored = z.stored_in;
    mz_end(&z);
}

/* Decompresses comp[0..clen) into out, never letting it grow past limit bytes. Returns
 * MZ_END for a complete stream (finish confirmed it), MZ_ERROR for corrupt or truncated input,
 * or 99 if the output would pass limit. *used is the compressed bytes consumed. */
static int decompress_with(const uint8_t *comp, size_t clen, splitter *sp, bytes *out, size_t limit,
                           size_t *used, char *err, size_t err_size)
{
    mz z;
    REQUIRE(mz_init(&z, MZ_INFLATE, MZ_LEVEL_DEFAULT) == 0);
    size_t pos = 0;
    int rc = MZ_OK;
    while (rc == MZ_OK && pos < clen) {
        size_t chunk = next_in(sp, pos, clen - pos);
        size_t off = 0;
        for (;;) {
            size_t cap = next_out(sp), c, p;
            rc = mz_add(&z, comp + pos + off, chunk - off, &c, room(out, cap), cap, &p);
            REQUIRE(c <= chunk - off);
            REQUIRE(p <= cap);
            off += c;
            out->len += p;
            if (out->len > limit) {
                mz_end(&z);
                return 99;
            }
            if (rc != MZ_OK)
                break;
            if (off == chunk && p < cap)
                break;
        }
        pos += off;
    }
    if (rc == MZ_END && pos < clen) { /* the stream ended early: the rest is trailing data */
        size_t c, p;
        uint8_t tmp[16];
        REQUIRE(mz_add(&z, comp + pos, clen - pos, &c, tmp, sizeof tmp, &p) == MZ_ERROR);
        REQUIRE(c == 0);
        rc = MZ_ERROR;
    }
    if (rc == MZ_END) { /* finishing a complete stream confirms it */
        size_t p;
        uint8_t tmp[16];
        REQUIRE(mz_finish(&z, tmp, sizeof tmp, &p) == MZ_END);
        REQUIRE(p == 0);
    } else if (rc == MZ_OK) {
        do {
            size_t cap = next_out(sp), p;
            rc = mz_finish(&z, room(out, cap), cap, &p);
            out->len += p;
            if (out->len > limit) {
                mz_end(&z);
                return 99;
            }
        } while (rc == MZ_AGAIN);
    }
    if (used)
        *used = pos;
    if (err)
        snprintf(err, err_size, "%s", mz_error(&z));
    if (rc == MZ_ERROR)
        ck_assert_msg(mz_error(&z)[0] != '\0', "an error without a message");
    mz_end(&z);
    return rc;
}

static void check_roundtrip(const uint8_t *data, size_t n, int level, splitter *csp, splitter *dsp,
                            bool flush)
{
    bytes comp = {0}, back = {0};
    compress_with(data, n, level, csp, flush, &comp);
    char err[128] = "";
    int rc = decompress_with(comp.p, comp.len, dsp, &back, n, NULL, err, sizeof err);
    ck_assert_msg(rc == MZ_END, "round trip of %zu bytes at level %d: %d %s", n, level, rc, err);
    REQUIRE(back.len == n);
    ck_assert(n == 0 || memcmp(back.p, data, n) == 0);
    free(comp.p);
    free(back.p);
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_empty_stream)
{
    splitter sp = {.fixed_in = 0, .out_cap = 64};
    bytes comp = {0}, back = {0};
    compress_with((const uint8_t *)"", 0, MZ_LEVEL_DEFAULT, &sp, false, &comp);
    ck_assert_uint_ge(comp.len, 8); /* header, an empty final block, Adler-32 */
    uLongf dl = 16;
    uint8_t dst[16];
    ck_assert_int_eq(uncompress(dst, &dl, comp.p, comp.len), Z_OK);
    ck_assert_uint_eq(dl, 0);
    ck_assert_int_eq(decompress_with(comp.p, comp.len, &sp, &back, 0, NULL, NULL, 0), MZ_END);
    ck_assert_uint_eq(back.len, 0);
    free(comp.p);

    /* No bytes at all is not an empty stream: it is a truncated one. */
    mz z;
    ck_assert_int_eq(mz_init(&z, MZ_INFLATE, 0), 0);
    size_t p;
    ck_assert_int_eq(mz_finish(&z, dst, sizeof dst, &p), MZ_ERROR);
    ck_assert_ptr_nonnull(strstr(mz_error(&z), "truncated"));
    mz_end(&z);
    free(back.p);
}
END_TEST

/* Every split point of a 2 KiB input, compressing (input split once at k) and decompressing
 * (the compressed stream split once at k), with 1-byte output buffers on the inflate side. */
START_TEST(test_every_split_small)
{
    const size_t n = 2048;
    uint8_t *text = make_text(n, 1), *rnd_data = make_random(n, 2);
    uint8_t *mixed = malloc(n);
    memcpy(mixed, text, n / 2);
    memcpy(mixed + n / 2, rnd_data, n - n / 2);
    const uint8_t *inputs[] = {text, rnd_data, mixed};
    for (size_t t = 0; t < 3; t++) {
        const uint8_t *data = inputs[t];
        splitter whole = {.fixed_in = 0, .out_cap = 1 << 16};
        for (size_t k = 0; k <= n; k++) {
            splitter sp = {.fixed_in = k, .out_cap = (k % 7) + 1};
            check_roundtrip(data, n, (int)(k % 10), &sp, &whole, false);
        }
        bytes comp = {0};
        compress_with(data, n, 6, &whole, false, &comp);
        for (size_t k = 0; k <= comp.len; k++) {
            splitter sp = {.fixed_in = k, .out_cap = 1};
            bytes back = {0};
            ck_assert_int_eq(decompress_with(comp.p, comp.len, &sp, &back, n, NULL, NULL, 0),
                             MZ_END);
            ck_assert_uint_eq(back.len, n);
            ck_assert(memcmp(back.p, data, n) == 0);
            free(back.p);
        }
        free(comp.p);
    }
    free(text);
    free(rnd_data);
    free(mixed);
}
END_TEST

START_TEST(test_all_levels)
{
    const size_t n = 384 * 1024;
    uint8_t *text = make_text(n, 3), *noise = make_random(n, 4);
    for (int level = -1; level <= 9; level++) {
        rng r = {(uint64_t)level + 100};
        splitter c = {.r = &r, .max_in = 20000, .max_out = 9000};
        splitter d = {.r = &r, .max_in = 7000, .max_out = 30000};
        check_roundtrip(text, n, level, &c, &d, false);
        check_roundtrip(noise, n, level, &c, &d, false);
    }
    free(text);
    free(noise);
}
END_TEST

START_TEST(test_large_random_splits)
{
    const size_t nt = 6u << 20, nr = 3u << 20;
    uint8_t *text = make_text(nt, 5), *noise = make_random(nr, 6);
    const int levels[] = {1, 6, 9, 0};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        rng r = {1000 + i};
        splitter c = {.r = &r, .max_in = 256 * 1024, .max_out = 128 * 1024};
        splitter d = {.r = &r, .max_in = 64 * 1024, .max_out = 256 * 1024};
        check_roundtrip(text, nt, levels[i], &c, &d, false);
        check_roundtrip(noise, nr, levels[i], &c, &d, false);
    }
    /* text compresses, noise does not grow by more than the stored-block overhead */
    bytes comp = {0};
    splitter whole = {.fixed_in = 0, .out_cap = 1 << 20};
    compress_with(text, nt, 6, &whole, false, &comp);
    ck_assert_uint_lt(comp.len, nt / 2);
    comp.len = 0;
    compress_with(noise, nr, 6, &whole, false, &comp);
    ck_assert_uint_lt(comp.len, nr + nr / 1000 + 64);
    free(comp.p);
    free(text);
    free(noise);
}
END_TEST

/* 1-byte output buffers all the way, both directions, on 1 MiB. */
START_TEST(test_one_byte_output)
{
    const size_t n = 1u << 20;
    uint8_t *text = make_text(n, 7), *noise = make_random(n / 4, 8);
    rng r = {77};
    splitter c = {.fixed_in = 0, .out_cap = 1};
    splitter d = {.fixed_in = 0, .out_cap = 1};
    check_roundtrip(text, n, 6, &c, &d, false);
    check_roundtrip(noise, n / 4, 1, &c, &d, false);
    splitter cr = {.r = &r, .max_in = 1, .max_out = 1};
    check_roundtrip(text, n / 8, 9, &cr, &cr, true);
    free(text);
    free(noise);
}
END_TEST

/* mz_adapt: data that does not compress goes stored after its first MiB, data that does is
 * compressed again after a stored run, and the stream decodes to the input whatever the
 * rooms (one byte of room leaves the switch of level to a later call). */
START_TEST(test_adapt_stores_what_does_not_compress)
{
    const size_t nr = 20u << 20, nt = 24u << 20;
    uint8_t *data = malloc(nr + nt), *noise = make_random(nr, 31), *text = make_text(nt, 32);
    REQUIRE(data != NULL);
    memcpy(data, noise, nr);
    memcpy(data + nr, text, nt);
    splitter c = {.fixed_in = 0, .out_cap = 64 * 1024};
    splitter d = {.fixed_in = 0, .out_cap = 256 * 1024};
    bytes comp = {0};
    adapting = true;
    compress_with(data, nr + nt, 1, &c, false, &comp);
    ck_assert_uint_ge(stored, 12u << 20);        /* most of the noise, not its tries at level 1 */
    ck_assert_uint_lt(stored, nr + (17u << 20)); /* the text compressed after one run */
    ck_assert_uint_lt(comp.len, nr + nt / 2);
    bytes back = {0};
    ck_assert_int_eq(decompress_with(comp.p, comp.len, &d, &back, nr + nt, NULL, NULL, 0), MZ_END);
    ck_assert(back.len == nr + nt && memcmp(back.p, data, nr + nt) == 0);
    splitter one = {.fixed_in = 0, .out_cap = 1};
    check_roundtrip(noise, 3u << 20, 1, &one, &d, false);
    ck_assert_uint_gt(stored, 0);
    adapting = false; /* without it, nothing is stored at level 1 */
    check_roundtrip(noise, 3u << 20, 1, &c, &d, false);
    ck_assert_uint_eq(stored, 0);
    free(comp.p);
    free(back.p);
    free(data);
    free(noise);
    free(text);
}
END_TEST

/* After each mz_flush the peer can decode exactly everything consumed so far. */
START_TEST(test_flush_makes_data_decodable)
{
    const size_t n = 200 * 1024;
    uint8_t *text = make_text(n, 9);
    mz def, inf;
    ck_assert_int_eq(mz_init(&def, MZ_DEFLATE, 6), 0);
    ck_assert_int_eq(mz_init(&inf, MZ_INFLATE, 0), 0);
    rng r = {9};
    bytes wire = {0}, back = {0};
    size_t pos = 0, fed = 0;
    while (pos < n) {
        size_t chunk = 1 + rnd_below(&r, 5000);
        if (chunk > n - pos)
            chunk = n - pos;
        size_t off = 0;
        for (;;) {
            size_t cap = 1 + rnd_below(&r, 3000), c, p;
            ck_assert_int_eq(
                mz_add(&def, text + pos + off, chunk - off, &c, room(&wire, cap), cap, &p), MZ_OK);
            off += c;
            wire.len += p;
            if (off == chunk && p < cap)
                break;
        }
        pos += chunk;
        int rc;
        do {
            size_t cap = 1 + rnd_below(&r, 8), p;
            rc = mz_flush(&def, room(&wire, cap), cap, &p);
            wire.len += p;
        } while (rc == MZ_AGAIN);
        ck_assert_int_eq(rc, MZ_OK);
        /* decode everything on the wire so far */
        size_t woff = 0;
        for (;;) {
            size_t cap = 4096, c, p;
            int ir = mz_add(&inf, wire.p + fed + woff, wire.len - fed - woff, &c, room(&back, cap),
                            cap, &p);
            REQUIRE(ir == MZ_OK);
            woff += c;
            back.len += p;
            if (fed + woff == wire.len && p < cap)
                break;
        }
        fed = wire.len;
        ck_assert_uint_eq(back.len, pos);
        ck_assert(memcmp(back.p, text, pos) == 0);
    }
    /* a flush with nothing new adds at most an empty block */
    size_t before = wire.len, p;
    ck_assert_int_eq(mz_flush(&def, room(&wire, 64), 64, &p), MZ_OK);
    ck_assert_uint_le(p, 5);
    wire.len += p;
    (void)before;
    ck_assert_int_eq(mz_finish(&def, room(&wire, 64), 64, &p), MZ_END);
    wire.len += p;
    size_t c;
    uint8_t tmp[16];
    ck_assert_int_eq(mz_add(&inf, wire.p + fed, wire.len - fed, &c, tmp, sizeof tmp, &p), MZ_END);
    ck_assert_uint_eq(p, 0);
    ck_assert_int_eq(mz_finish(&inf, tmp, sizeof tmp, &p), MZ_END);
    mz_end(&def);
    mz_end(&inf);
    free(wire.p);
    free(back.p);
    free(text);
}
END_TEST

/* The wire format is plain RFC 1950: zlib's own one-shot functions read ours and we read
 * theirs, as lftp and ProFTPD (which use zlib) would. */
START_TEST(test_zlib_interop)
{
    const size_t n = 300 * 1024;
    uint8_t *text = make_text(n, 10);
    splitter whole = {.fixed_in = 0, .out_cap = 1 << 16};
    bytes comp = {0};
    compress_with(text, n, 6, &whole, false, &comp);
    ck_assert_uint_eq(comp.p[0], 0x78); /* deflate, 32 KiB window */
    ck_assert_uint_eq(((unsigned)comp.p[0] << 8 | comp.p[1]) % 31, 0);
    uint8_t *dst = malloc(n);
    uLongf dl = n;
    ck_assert_int_eq(uncompress(dst, &dl, comp.p, comp.len), Z_OK);
    ck_assert_uint_eq(dl, n);
    ck_assert(memcmp(dst, text, n) == 0);

    uLongf cl = compressBound(n);
    uint8_t *theirs = malloc(cl);
    ck_assert_int_eq(compress2(theirs, &cl, text, n, 9), Z_OK);
    rng r = {10};
    splitter d = {.r = &r, .max_in = 3000, .max_out = 5000};
    bytes back = {0};
    ck_assert_int_eq(decompress_with(theirs, cl, &d, &back, n, NULL, NULL, 0), MZ_END);
    ck_assert_uint_eq(back.len, n);
    ck_assert(memcmp(back.p, text, n) == 0);

    /* a gzip-wrapped stream is accepted too, as lftp and mod_deflate accept it */
    z_stream gz = {0};
    ck_assert_int_eq(deflateInit2(&gz, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t *gzbuf = malloc(compressBound(n) + 64);
    gz.next_in = text;
    gz.avail_in = (uInt)n;
    gz.next_out = gzbuf;
    gz.avail_out = (uInt)(compressBound(n) + 64);
    ck_assert_int_eq(deflate(&gz, Z_FINISH), Z_STREAM_END);
    size_t gzlen = gz.total_out;
    deflateEnd(&gz);
    back.len = 0;
    ck_assert_int_eq(decompress_with(gzbuf, gzlen, &d, &back, n, NULL, NULL, 0), MZ_END);
    ck_assert_uint_eq(back.len, n);
    ck_assert(memcmp(back.p, text, n) == 0);

    free(gzbuf);
    free(theirs);
    free(dst);
    free(back.p);
    free(comp.p);
    free(text);
}
END_TEST

/* Flipping any byte of a stream: an error, or (where the flipped bits are padding zlib
 * ignores) the same data; never a crash, never more output than the original. */
START_TEST(test_corrupt_flipped_bytes)
{
    const size_t n = 12 * 1024;
    uint8_t *data = make_text(n, 11);
    splitter whole = {.fixed_in = 0, .out_cap = 1 << 16};
    bytes comp = {0};
    compress_with(data, n, 6, &whole, false, &comp);
    uint8_t *bad = malloc(comp.len);
    size_t errors = 0;
    for (size_t i = 0; i < comp.len; i++) {
        for (int mask = 0x01; mask <= 0x100; mask <<= 4) {
            memcpy(bad, comp.p, comp.len);
            bad[i] ^= (uint8_t)(mask == 0x100 ? 0xFF : mask);
            rng r = {i * 3 + (size_t)mask};
            splitter sp = {.r = &r, .max_in = 700, .max_out = 3000};
            bytes back = {0};
            /* damage may decode to more than the original before the check fails */
            int rc = decompress_with(bad, comp.len, &sp, &back, 64u << 20, NULL, NULL, 0);
            ck_assert_msg(
                rc == MZ_ERROR || (rc == MZ_END && back.len == n && memcmp(back.p, data, n) == 0),
                "flip at %zu/%zu mask %#x: rc %d, %zu bytes", i, comp.len, mask, rc, back.len);
            errors += rc == MZ_ERROR;
            free(back.p);
        }
    }
    ck_assert_uint_ge(errors, comp.len * 3 - 8); /* at most the last byte's padding bits pass */
    free(bad);
    free(comp.p);
    free(data);
}
END_TEST

START_TEST(test_corrupt_random_damage)
{
    const size_t n = 512 * 1024;
    uint8_t *data = make_text(n, 12);
    splitter whole = {.fixed_in = 0, .out_cap = 1 << 16};
    bytes comp = {0};
    compress_with(data, n, 6, &whole, false, &comp);
    uint8_t *bad = malloc(comp.len);
    rng r = {12};
    for (int trial = 0; trial < 300; trial++) {
        memcpy(bad, comp.p, comp.len);
        int hits = 1 + (int)rnd_below(&r, 20);
        for (int h = 0; h < hits; h++)
            bad[2 + rnd_below(&r, comp.len - 6)] = (uint8_t)rnd(&r);
        splitter sp = {.r = &r, .max_in = 50000, .max_out = 70000};
        bytes back = {0};
        int rc = decompress_with(bad, comp.len, &sp, &back, 256u << 20, NULL, NULL, 0);
        ck_assert_msg(rc == MZ_ERROR ||
                          (rc == MZ_END && back.len == n && memcmp(back.p, data, n) == 0),
                      "trial %d: rc %d", trial, rc);
        free(back.p);
    }
    free(bad);
    free(comp.p);
    free(data);
}
END_TEST

/* Every proper prefix of a stream is a truncated stream: mz_add never reports the end and
 * mz_finish reports an error; the full stream ends cleanly. */
START_TEST(test_truncated)
{
    const size_t n = 6000;
    uint8_t *data = make_text(n, 13);
    splitter whole = {.fixed_in = 0, .out_cap = 1 << 16};
    bytes comp = {0};
    compress_with(data, n, 6, &whole, false, &comp);
    for (size_t k = 0; k < comp.len; k++) {
        splitter sp = {.fixed_in = k / 2, .out_cap = 1000};
        bytes back = {0};
        char err[128];
        int rc = decompress_with(comp.p, k, &sp, &back, n, NULL, err, sizeof err);
        ck_assert_msg(rc == MZ_ERROR, "prefix %zu of %zu: %d", k, comp.len, rc);
        ck_assert_msg(strstr(err, "truncated") != NULL, "prefix %zu: %s", k, err);
        ck_assert_uint_le(back.len, n);
        ck_assert(back.len == 0 || memcmp(back.p, data, back.len) == 0);
        free(back.p);
    }
    free(comp.p);
    free(data);
}
END_TEST

START_TEST(test_garbage)
{
    rng r = {14};
    for (int trial = 0; trial < 2000; trial++) {
        size_t len = rnd_below(&r, trial < 1000 ? 64 : 70000);
        uint8_t *g = make_random(len, (uint64_t)trial + 500);
        if (trial % 3 == 0 && len >= 2) { /* a valid header in front of garbage */
            g[0] = 0x78;
            g[1] = 0x9c;
        }
        splitter sp = {.r = &r, .max_in = 4096, .max_out = 4096};
        bytes back = {0};
        int rc = decompress_with(g, len, &sp, &back, 1u << 24, NULL, NULL, 0);
        ck_assert_msg(rc == MZ_ERROR, "garbage trial %d (%zu bytes): %d", trial, len, rc);
        free(back.p);
        free(g);
    }
    /* text is not a zlib stream */
    const char *txt = "STOR file.txt\r\nhello world\r\n";
    splitter sp = {.fixed_in = 0, .out_cap = 100};
    bytes back = {0};
    char err[128];
    ck_assert_int_eq(
        decompress_with((const uint8_t *)txt, strlen(txt), &sp, &back, 1000, NULL, err, sizeof err),
        MZ_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "header"));
    free(back.p);
}
END_TEST

START_TEST(test_trailing_data_after_end)
{
    const char *msg = "hello, hello, hello";
    splitter whole = {.fixed_in = 0, .out_cap = 4096};
    bytes comp = {0};
    compress_with((const uint8_t *)msg, strlen(msg), 6, &whole, false, &comp);
    size_t clen = comp.len;
    memcpy(room(&comp, 3), "xyz", 3);
    comp.len += 3;
    mz z;
    ck_assert_int_eq(mz_init(&z, MZ_INFLATE, 0), 0);
    uint8_t out[64];
    size_t c, p;
    ck_assert_int_eq(mz_add(&z, comp.p, comp.len, &c, out, sizeof out, &p), MZ_END);
    ck_assert_uint_eq(c, clen); /* stops at the end of the stream */
    ck_assert_uint_eq(p, strlen(msg));
    ck_assert(memcmp(out, msg, p) == 0);
    ck_assert_int_eq(mz_add(&z, NULL, 0, &c, out, sizeof out, &p), MZ_END);
    ck_assert_int_eq(mz_add(&z, comp.p + clen, 3, &c, out, sizeof out, &p), MZ_ERROR);
    ck_assert_ptr_nonnull(strstr(mz_error(&z), "after the end"));
    ck_assert_int_eq(mz_finish(&z, out, sizeof out, &p), MZ_ERROR); /* sticky */
    mz_end(&z);
    free(comp.p);
}
END_TEST

START_TEST(test_misuse)
{
    mz z;
    uint8_t out[64];
    size_t c, p;
    errno = 0;
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, 10), -1);
    ck_assert_int_eq(errno, EINVAL);
    mz_end(&z);
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, -2), -1);
    ck_assert_int_eq(mz_init(&z, (mz_dir)7, 1), -1);

    mz zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(mz_add(&zero, "x", 1, &c, out, sizeof out, &p), MZ_ERROR);
    ck_assert_int_eq(mz_finish(&zero, out, sizeof out, &p), MZ_ERROR);
    mz_end(&zero);
    mz_end(&zero);

    /* flush is for deflate; adding after finishing is refused */
    ck_assert_int_eq(mz_init(&z, MZ_INFLATE, 0), 0);
    ck_assert_int_eq(mz_flush(&z, out, sizeof out, &p), MZ_ERROR);
    mz_end(&z);
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, 1), 0);
    ck_assert_int_eq(mz_add(&z, "abc", 3, &c, out, sizeof out, &p), MZ_OK);
    size_t total = p;                                              /* the header, perhaps */
    ck_assert_int_eq(mz_finish(&z, out + total, 0, &p), MZ_AGAIN); /* no room: nothing done */
    ck_assert_uint_eq(p, 0);
    int rc;
    do {
        rc = mz_finish(&z, out + total, 1, &p); /* one byte at a time */
        total += p;
    } while (rc == MZ_AGAIN && total < sizeof out);
    ck_assert_int_eq(rc, MZ_END);
    ck_assert_int_eq(mz_finish(&z, out, sizeof out, &p), MZ_END); /* idempotent */
    ck_assert_uint_eq(p, 0);
    ck_assert_int_eq(mz_add(&z, "d", 1, &c, out, sizeof out, &p), MZ_ERROR);
    mz_end(&z);
    mz_end(&z);
    uint8_t plain[8];
    uLongf dl = sizeof plain;
    /* the stream written one byte at a time is still valid */
    ck_assert_int_eq(uncompress(plain, &dl, out, total), Z_OK);
    ck_assert_uint_eq(dl, 3);

    /* a flush that has not completed must complete before more data comes */
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, 6), 0);
    ck_assert_int_eq(mz_add(&z, "abcdef", 6, &c, out, sizeof out, &p), MZ_OK);
    ck_assert_int_eq(mz_flush(&z, out, 1, &p), MZ_AGAIN);
    ck_assert_int_eq(mz_add(&z, "g", 1, &c, out, sizeof out, &p), MZ_ERROR);
    ck_assert_ptr_nonnull(strstr(mz_error(&z), "flush"));
    mz_end(&z);

    /* zero-room calls make no progress but are not errors */
    ck_assert_int_eq(mz_init(&z, MZ_DEFLATE, 6), 0);
    ck_assert_int_eq(mz_add(&z, "abc", 3, &c, out, 0, &p), MZ_OK);
    ck_assert_int_eq(mz_flush(&z, out, 0, &p), MZ_AGAIN);
    mz_end(&z);
}
END_TEST

static Suite *mz_suite(void)
{
    Suite *s = suite_create("mz");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 110);
    tcase_add_test(tc, test_empty_stream);
    tcase_add_test(tc, test_every_split_small);
    tcase_add_test(tc, test_all_levels);
    tcase_add_test(tc, test_large_random_splits);
    tcase_add_test(tc, test_one_byte_output);
    tcase_add_test(tc, test_adapt_stores_what_does_not_compress);
    tcase_add_test(tc, test_flush_makes_data_decodable);
    tcase_add_test(tc, test_zlib_interop);
    tcase_add_test(tc, test_corrupt_flipped_bytes);
    tcase_add_test(tc, test_corrupt_random_damage);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_trailing_data_after_end);
    tcase_add_test(tc, test_misuse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
