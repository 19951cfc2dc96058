/* Download slots: how many downloads to clients on this host ftpd feeds at once.
 *
 * Off unless configured (--local-download-slots). Such a client shares the server's CPUs. Fed all
 * at once, 200 downloads make 200 readers runnable together, and a client that runs them as threads
 * (Python's ftplib under its interpreter lock, say) spends its time handing the CPU between them;
 * fed a few at a time, each download finishes in a burst while the others wait in line, and the
 * same bytes arrive sooner. A download holds its slot while it moves; one that stops moving (its
 * client reads slowly, or not at all) gives up its slot and runs on unlimited, and one that has
 * held its slot for a long turn while others wait goes to the back of the line, so neither a
 * stalled client nor a large file keeps the rest waiting. Remote clients never queue: their
 * downloads wait on the network, and feeding many of them at once is what keeps it busy. The
 * price is the wait itself: many local clients that each read slowly make a long line while the
 * server idles, hence off by default.
 *
 * Pure bookkeeping on the loop thread: the owner (an xfer) pauses itself when told to wait
 * and is resumed through the callback.
 */
#ifndef DLSLOTS_H
#define DLSLOTS_H

#include <stdbool.h>

typedef enum {
    DLS_NONE = 0, /* never entered, or left */
    DLS_WAITING,  /* in line for a slot: the owner sends nothing */
    DLS_ACTIVE,   /* holds a slot */
    DLS_FREE,     /* gave up its slot for going slowly: runs without one */
} dlslot_state;

typedef struct dlslot {
    struct dlslot *prev, *next; /* in the active list or the line, by state */
    dlslot_state state;
    long long turn_start;           /* when it last got its slot, ms */
    const long long *last_progress; /* the owner's, ms: when its client last took bytes */
    void *owner;
} dlslot;

typedef void (*dlslot_resume_cb)(void *owner);

typedef struct dlslots {
    int limit; /* slots; 0: no limit, every download goes ahead */
    int active;
    dlslot *active_head;
    dlslot *wait_head, *wait_tail;
    dlslot_resume_cb resume;
} dlslots;

/* A slot holder that took no bytes for this long gives up its slot for good. */
#define DLSLOT_STALL_MS 50
/* A slot holder that had its slot this long goes to the back of a non-empty line. */
#define DLSLOT_TURN_MS 250
/* How often dlslots_tick must run while dlslots_busy(). */
#define DLSLOT_TICK_MS 10

void dlslots_init(dlslots *d, int limit, dlslot_resume_cb resume);
/* The download `sl` (owner, last_progress set) asks to send. True: it may; false: it waits
 * in line (DLS_WAITING) until the resume callback. A slot already held or given up stays so. */
bool dlslots_enter(dlslots *d, dlslot *sl, long long now);
/* The download ends: its slot, if it held one, goes to the first in line (resumed). */
void dlslots_leave(dlslots *d, dlslot *sl, long long now);
/* Stalled holders give up their slots, long turns go to the back of the line, and free
 * slots go to those in line (resumed). The owner of a holder sent back learns it from its
 * state (DLS_WAITING) at its next turn. */
void dlslots_tick(dlslots *d, long long now);
/* Someone waits in line: dlslots_tick must run every DLSLOT_TICK_MS. */
bool dlslots_busy(const dlslots *d);

#endif
