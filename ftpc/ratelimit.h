/* A token bucket for --limit-rate: how many bytes a transfer may move now, and how long to
 * wait when it may move none. */
#ifndef FTPC_RATELIMIT_H
#define FTPC_RATELIMIT_H

#include <stdint.h>

typedef struct ftpc_ratelimit {
    uint64_t rate; /* bytes per second; 0 = unlimited */
    double tokens; /* bytes that may move now */
    double cap;    /* bucket size: an eighth of a second of rate, at least 4 KiB */
    double min_chunk;
    long long last_ms;
} ftpc_ratelimit;

void ftpc_rl_init(ftpc_ratelimit *rl, uint64_t rate, long long now_ms);
/* Bytes that may move at now_ms: UINT64_MAX when unlimited, 0 when the caller must wait
 * (fewer than a small chunk are available, which keeps reads from shrinking to nothing). */
uint64_t ftpc_rl_allow(ftpc_ratelimit *rl, long long now_ms);
/* Takes n bytes from the bucket (it may go negative after a read returned more than allowed). */
void ftpc_rl_consume(ftpc_ratelimit *rl, uint64_t n);
/* Milliseconds until ftpc_rl_allow returns non-zero (>= 1). */
long ftpc_rl_wait_ms(const ftpc_ratelimit *rl);

/* Parses "500", "200k", "1.5M", "2G" (k = 1024 bytes/s). Returns 0 or -1. */
int ftpc_parse_rate(const char *s, uint64_t *out);

#endif
