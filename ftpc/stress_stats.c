/* Latency histograms and counters of ftpc stress (see the header). */
#include "stress_stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "progress.h"

void stress_hist_init(stress_hist *h)
{
    memset(h, 0, sizeof(*h));
}

/* Bucket of v: values below SUB are their own bucket; above, the exponent e (the highest set
 * bit) picks a group of SUB buckets and the SUB_BITS bits below it pick one inside. */
static size_t bucket_of(uint64_t v)
{
    if (v < STRESS_HIST_SUB)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v);
    int shift = e - (int)STRESS_HIST_SUB_BITS;
    size_t sub = (size_t)(v >> shift) - STRESS_HIST_SUB;
    return STRESS_HIST_SUB + (size_t)shift * STRESS_HIST_SUB + sub;
}

/* The largest value that falls into bucket i. */
static uint64_t bucket_top(size_t i)
{
    if (i < STRESS_HIST_SUB)
        return i;
    size_t shift = (i - STRESS_HIST_SUB) / STRESS_HIST_SUB;
    uint64_t sub = (i - STRESS_HIST_SUB) % STRESS_HIST_SUB;
    return ((STRESS_HIST_SUB + sub + 1) << shift) - 1;
}

void stress_hist_add(stress_hist *h, uint64_t us)
{
    const uint64_t cap = (1ULL << (STRESS_HIST_MAX_EXP + 1)) - 1;
    if (us > cap)
        us = cap;
    if (h->count == 0 || us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
    h->count++;
    h->sum_us += us;
    h->b[bucket_of(us)]++;
}

uint64_t stress_hist_pct(const stress_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max_us;
    if (p <= 0.0)
        return h->min_us;
    /* Nearest rank: the ceil(p/100 * n)-th smallest value. */
    double exact = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    /* The epsilon absorbs p/100 not being exact in binary (0.9 * 100 must give rank 90). */
    if ((double)rank < exact - 1e-9)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < STRESS_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_top(i);
            if (v > h->max_us)
                v = h->max_us;
            if (v < h->min_us)
                v = h->min_us;
            return v;
        }
    }
    return h->max_us;
}

void stress_hist_merge(stress_hist *dst, const stress_hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    for (size_t i = 0; i < STRESS_HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
}

const char *stress_cmd_name(stress_cmd c)
{
    static const char *const names[STRESS_CMD_COUNT] = {"connect", "login", "pasv",
                                                        "retr",    "stor",  "list"};
    return (unsigned)c < STRESS_CMD_COUNT ? names[c] : "?";
}

const char *stress_op_name(stress_op o)
{
    static const char *const names[STRESS_OP_COUNT] = {"login", "get", "put", "list"};
    return (unsigned)o < STRESS_OP_COUNT ? names[o] : "?";
}

void stress_stats_init(stress_stats *s)
{
    memset(s, 0, sizeof(*s));
}

stress_err_count *stress_stats_error_key(stress_stats *s, const char *key)
{
    for (size_t i = 0; i < s->nerrs; i++) {
        if (strncmp(s->errs[i].key, key, sizeof(s->errs[i].key) - 1) == 0) {
            s->errs[i].n++;
            return &s->errs[i];
        }
    }
    /* The last slot is kept for "other", so a flood of odd codes cannot hide the counts. */
    if (s->nerrs < STRESS_ERR_KEYS - 1) {
        stress_err_count *e = &s->errs[s->nerrs++];
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->n = 1;
        return e;
    }
    stress_err_count *o = &s->errs[STRESS_ERR_KEYS - 1];
    if (s->nerrs < STRESS_ERR_KEYS) {
        s->nerrs = STRESS_ERR_KEYS;
        snprintf(o->key, sizeof(o->key), "other");
        o->n = 0;
    }
    o->n++;
    return o;
}

const char *stress_errno_name(int err, char *buf, size_t size)
{
    const char *n = strerrorname_np(err);
    if (n != NULL)
        return n;
    snprintf(buf, size, "E%d", err);
    return buf;
}

const char *stress_err_meaning(int err)
{
    switch (err) {
    case 0:
        return "closed by the server";
    case EBADMSG:
        return "a malformed reply";
    case EPROTO:
        return "TLS or MODE Z failed (the messages above say how)";
    case EMSGSIZE:
        return "a reply line longer than ftpc takes";
    case ETIMEDOUT:
        return "timed out";
    default:
        return strerror(err);
    }
}

stress_err_count *stress_stats_error(stress_stats *s, int code, int err)
{
    char key[16];
    if (code >= 100 && code <= 599) {
        snprintf(key, sizeof(key), "%d", code);
        return stress_stats_error_key(s, key);
    }
    char tmp[16];
    stress_err_count *e =
        stress_stats_error_key(s, err == 0 ? "EOF" : stress_errno_name(err, tmp, sizeof(tmp)));
    if (e->sample[0] == '\0' && strcmp(e->key, "other") != 0)
        snprintf(e->sample, sizeof(e->sample), "%s", stress_err_meaning(err));
    return e;
}

static void keep_sample(stress_err_count *e, const char *text)
{
    /* "other" mixes codes: no one text speaks for it */
    if (e->sample[0] == '\0' && text != NULL && strcmp(e->key, "other") != 0) {
        /* for a terminal and for JSON: the server's escape sequences and bytes that are
         * not UTF-8 (a Latin-1 server) become '?' */
        snprintf(e->sample, sizeof(e->sample), "%s", text);
        progress_sanitize(e->sample, sizeof(e->sample), e->sample);
    }
}

void stress_stats_reply_error(stress_stats *s, int code, const char *text)
{
    keep_sample(stress_stats_error(s, code, 0), text);
}

void stress_stats_error_said(stress_stats *s, const char *key, const char *sample)
{
    keep_sample(stress_stats_error_key(s, key), sample);
}

uint64_t stress_stats_errors_total(const stress_stats *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->nerrs; i++)
        n += s->errs[i].n;
    return n;
}

uint64_t stress_stats_ops_total(const stress_stats *s)
{
    uint64_t n = 0;
    for (int i = 0; i < STRESS_OP_COUNT; i++)
        n += s->op_count[i];
    return n;
}
