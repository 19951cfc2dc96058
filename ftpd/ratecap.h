/* A transfer's bandwidth cap (--max-rate, --anon-max-rate): a token bucket refilled from the
 * event loop's clock.
 *
 * The bucket holds at most RATECAP_BURST_MS of the rate, so a transfer that was held back
 * (its client read slowly) cannot catch up in a long burst, and the average holds over short
 * transfers too. A transfer that has spent its tokens pauses until enough have gathered for a
 * worthwhile move (ratecap_ready), rather than waking for every few bytes: ratecap_wait_ms
 * says how long, and the owner sets a timer (no polling, no sleeping).
 *
 * Pure arithmetic on the loop thread; times are ev_now() milliseconds. */
#ifndef RATECAP_H
#define RATECAP_H

#include <stdbool.h>
#include <stddef.h>

/* Bucket size: an eighth of a second of the rate (at least one byte). */
#define RATECAP_BURST_MS 125
/* A paused transfer moves again once this much (or the whole bucket, if smaller) is there... */
#define RATECAP_MIN_CHUNK (16 * 1024)
/* ...or, at high rates, this many milliseconds' worth: fewer, larger moves. */
#define RATECAP_MIN_CHUNK_MS 10

typedef struct ratecap {
    unsigned long long rate; /* bytes per second; 0: no limit */
    double tokens;           /* bytes that may move now (never above burst) */
    double burst;
    double min_chunk;
    long long last_ms; /* when tokens were last refilled */
} ratecap;

/* A bucket for rate bytes a second (0: no limit), starting with min_chunk tokens: a full
 * bucket at the start would let the first burst run ahead of the rate. */
void ratecap_init(ratecap *rc, unsigned long long rate, long long now_ms);
static inline bool ratecap_on(const ratecap *rc)
{
    return rc->rate > 0;
}
/* Adds the tokens earned since the last refill, up to the burst. */
void ratecap_refill(ratecap *rc, long long now_ms);
/* Whole bytes that may move now: SIZE_MAX without a limit, 0 when the tokens are spent. */
size_t ratecap_room(const ratecap *rc);
/* n bytes moved. */
void ratecap_spend(ratecap *rc, size_t n);
/* Enough tokens for a move (always true without a limit). */
bool ratecap_ready(const ratecap *rc);
/* Milliseconds until ratecap_ready, at least 1 (for a bucket that is not ready). */
long ratecap_wait_ms(const ratecap *rc);

#endif
