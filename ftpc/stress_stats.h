/* Statistics of ftpc stress: latency histograms with percentiles, per-operation counters,
 * and errors by reply code or errno name.
 *
 * A histogram holds microseconds in log-linear buckets: exact below 128 us, then 128
 * buckets per power of two, so a percentile is within 0.8% of the true value (it reports
 * the upper edge of its bucket, clamped to the exact minimum and maximum seen). Memory is
 * fixed (~35 KiB a histogram) however long the run, and adding a value is O(1).
 */
#ifndef FTPC_STRESS_STATS_H
#define FTPC_STRESS_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STRESS_HIST_SUB_BITS 7
#define STRESS_HIST_SUB (1u << STRESS_HIST_SUB_BITS)
#define STRESS_HIST_MAX_EXP 40 /* values are capped at 2^41 - 1 us (25 days) */
#define STRESS_HIST_BUCKETS (STRESS_HIST_SUB * (STRESS_HIST_MAX_EXP - STRESS_HIST_SUB_BITS + 2))

typedef struct stress_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us, max_us;
    uint32_t b[STRESS_HIST_BUCKETS];
} stress_hist;

void stress_hist_init(stress_hist *h);
void stress_hist_add(stress_hist *h, uint64_t us);
/* The nearest-rank percentile p (0 < p <= 100) in microseconds: the smallest recorded value
 * v (to the bucket's precision) such that at least p% of the values are <= v. 0 for an
 * empty histogram. p >= 100 gives the exact maximum. */
uint64_t stress_hist_pct(const stress_hist *h, double p);
/* Adds every value of src to dst. */
void stress_hist_merge(stress_hist *dst, const stress_hist *src);

/* Commands with their own latency (the report's rows). */
typedef enum {
    STRESS_CMD_CONNECT = 0, /* TCP connect of the control connection */
    STRESS_CMD_LOGIN,       /* USER sent .. 230 received */
    STRESS_CMD_PASV,        /* EPSV/PASV .. its reply */
    STRESS_CMD_RETR,        /* RETR sent .. data complete and final reply */
    STRESS_CMD_STOR,        /* STOR sent .. data sent and final reply */
    STRESS_CMD_LIST,        /* LIST sent .. data drained and final reply */
    STRESS_CMD_COUNT
} stress_cmd;

/* Operations of the mix. */
typedef enum {
    STRESS_OP_LOGIN = 0, /* QUIT, connect and log in again */
    STRESS_OP_GET,       /* download a fixture and check every byte */
    STRESS_OP_PUT,       /* upload, read back (or HASH), check, delete */
    STRESS_OP_LIST,      /* LIST the directory and drain it */
    STRESS_OP_COUNT
} stress_op;

const char *stress_cmd_name(stress_cmd c); /* "connect", "login", "pasv", ... */
const char *stress_op_name(stress_op o);   /* "login", "get", "put", "list" */

#define STRESS_ERR_KEYS 48

typedef struct stress_err_count {
    char key[16]; /* "530", "ECONNREFUSED", "EOF", "other" */
    uint64_t n;
    /* a reply code's first text, or an error's meaning, so the report says what it meant */
    char sample[80];
} stress_err_count;

typedef struct stress_stats {
    stress_hist cmd[STRESS_CMD_COUNT];
    stress_hist ops; /* every completed operation, for the live percentiles */
    uint64_t op_count[STRESS_OP_COUNT];
    uint64_t op_errors[STRESS_OP_COUNT];
    uint64_t bytes_down, bytes_up;
    uint64_t verify_failures;
    uint64_t faults_abort, faults_drop;
    uint64_t hash_busy;     /* 4xx replies to HASH (busy), tried again after a pause */
    uint64_t hash_readback; /* uploads read back instead: the server stayed busy */
    stress_err_count errs[STRESS_ERR_KEYS];
    size_t nerrs;
} stress_stats;

/* Zeroes everything; the histograms start empty. */
void stress_stats_init(stress_stats *s);
/* Counts one error under a reply code (100..599) or, for code 0, under err's errno name
 * (e.g. "ECONNREFUSED"; err 0 counts "EOF": the peer closed unexpectedly). */
stress_err_count *stress_stats_error(stress_stats *s, int code, int err);
/* stress_stats_error for a reply, keeping the first text seen for its code. */
void stress_stats_reply_error(stress_stats *s, int code, const char *text);
/* Counts one error under an explicit key (truncated to 15 bytes). Both return the entry
 * counted in ("other" once the table is full). */
stress_err_count *stress_stats_error_key(stress_stats *s, const char *key);
/* Counts one error under key, keeping the first sample (sanitized as a reply's text) that
 * says what it means. */
void stress_stats_error_said(stress_stats *s, const char *key, const char *sample);
uint64_t stress_stats_errors_total(const stress_stats *s);
uint64_t stress_stats_ops_total(const stress_stats *s);

/* The errno name ("ECONNREFUSED"), or "E<number>" in buf. */
const char *stress_errno_name(int err, char *buf, size_t size);
/* What an error recorded as err means to the user: 0 is the server closing the connection;
 * EBADMSG, EMSGSIZE and EPROTO are ftpc's own (a malformed reply, an over-long line, a TLS
 * or MODE Z failure). */
const char *stress_err_meaning(int err);

#endif
