/* Token bucket for --max-rate (ratecap.h). */
#include "ratecap.h"

#include <stdint.h>

void ratecap_init(ratecap *rc, unsigned long long rate, long long now_ms)
{
    double r = (double)rate;
    double burst = r * RATECAP_BURST_MS / 1000.0;
    if (burst < 1.0)
        burst = 1.0;
    double chunk = r * RATECAP_MIN_CHUNK_MS / 1000.0;
    if (chunk < RATECAP_MIN_CHUNK)
        chunk = RATECAP_MIN_CHUNK;
    if (chunk > burst)
        chunk = burst;
    *rc = (ratecap){.rate = rate, .burst = burst, .min_chunk = chunk, .last_ms = now_ms};
    rc->tokens = rate > 0 ? chunk : 0;
}

void ratecap_refill(ratecap *rc, long long now_ms)
{
    if (rc->rate == 0 || now_ms <= rc->last_ms)
        return;
    rc->tokens += (double)rc->rate * (double)(now_ms - rc->last_ms) / 1000.0;
    if (rc->tokens > rc->burst)
        rc->tokens = rc->burst;
    rc->last_ms = now_ms;
}

size_t ratecap_room(const ratecap *rc)
{
    if (rc->rate == 0)
        return SIZE_MAX;
    return rc->tokens >= 1.0 ? (size_t)rc->tokens : 0;
}

void ratecap_spend(ratecap *rc, size_t n)
{
    /* May go below 0 only through a caller's error; the debt is then paid back in time. */
    if (rc->rate != 0)
        rc->tokens -= (double)n;
}

bool ratecap_ready(const ratecap *rc)
{
    return rc->rate == 0 || rc->tokens >= rc->min_chunk;
}

long ratecap_wait_ms(const ratecap *rc)
{
    if (ratecap_ready(rc))
        return 1;
    double ms = (rc->min_chunk - rc->tokens) * 1000.0 / (double)rc->rate;
    long w = (long)ms + 1; /* rounded up: waking early would find too little and wait again */
    return w < 1 ? 1 : w;
}
