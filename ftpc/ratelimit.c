/* Token bucket rate limiting. */
#include "ratelimit.h"

#include <stdlib.h>

#include "strutil.h"

void ftpc_rl_init(ftpc_ratelimit *rl, uint64_t rate, long long now_ms)
{
    rl->rate = rate;
    rl->cap = (double)rate / 8.0;
    if (rl->cap < 4096.0)
        rl->cap = 4096.0;
    rl->min_chunk = rl->cap < 16384.0 ? rl->cap : 16384.0;
    /* Start with a small allowance: a full bucket at the start would let the first chunk run
     * ahead of the rate. */
    rl->tokens = rl->min_chunk;
    rl->last_ms = now_ms;
}

uint64_t ftpc_rl_allow(ftpc_ratelimit *rl, long long now_ms)
{
    if (rl->rate == 0)
        return UINT64_MAX;
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)rl->rate * (double)(now_ms - rl->last_ms) / 1000.0;
        if (rl->tokens > rl->cap)
            rl->tokens = rl->cap;
        rl->last_ms = now_ms;
    }
    if (rl->tokens < rl->min_chunk)
        return 0;
    return (uint64_t)rl->tokens;
}

void ftpc_rl_consume(ftpc_ratelimit *rl, uint64_t n)
{
    if (rl->rate != 0)
        rl->tokens -= (double)n;
}

long ftpc_rl_wait_ms(const ftpc_ratelimit *rl)
{
    if (rl->rate == 0 || rl->tokens >= rl->min_chunk)
        return 1;
    double ms = (rl->min_chunk - rl->tokens) * 1000.0 / (double)rl->rate;
    long w = (long)ms + 1;
    return w < 1 ? 1 : w;
}

int ftpc_parse_rate(const char *s, uint64_t *out)
{
    /* One syntax for both programs (strutil.h); here a rate of 0 limits nothing, so it is
     * refused rather than silently meaning "no limit". */
    unsigned long long v;
    if (str_parse_rate(s, &v) != 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}
