#include "dlslots.h"

#include <stddef.h>

static void unlink_from(dlslot **head, dlslot **tail, dlslot *sl)
{
    if (sl->prev)
        sl->prev->next = sl->next;
    else
        *head = sl->next;
    if (sl->next)
        sl->next->prev = sl->prev;
    else if (tail)
        *tail = sl->prev;
    sl->prev = sl->next = NULL;
}

static void push_active(dlslots *d, dlslot *sl, long long now)
{
    sl->state = DLS_ACTIVE;
    sl->turn_start = now;
    sl->prev = NULL;
    sl->next = d->active_head;
    if (d->active_head)
        d->active_head->prev = sl;
    d->active_head = sl;
    d->active++;
}

static void push_waiting(dlslots *d, dlslot *sl)
{
    sl->state = DLS_WAITING;
    sl->next = NULL;
    sl->prev = d->wait_tail;
    if (d->wait_tail)
        d->wait_tail->next = sl;
    else
        d->wait_head = sl;
    d->wait_tail = sl;
}

/* Hands free slots to the line, first come first served. */
static void fill(dlslots *d, long long now)
{
    while (d->active < d->limit && d->wait_head) {
        dlslot *sl = d->wait_head;
        unlink_from(&d->wait_head, &d->wait_tail, sl);
        push_active(d, sl, now);
        d->resume(sl->owner);
    }
}

void dlslots_init(dlslots *d, int limit, dlslot_resume_cb resume)
{
    *d = (dlslots){.limit = limit > 0 ? limit : 0, .resume = resume};
}

bool dlslots_enter(dlslots *d, dlslot *sl, long long now)
{
    switch (sl->state) {
    case DLS_ACTIVE:
    case DLS_FREE:
        return true;
    case DLS_WAITING:
        return false;
    case DLS_NONE:
        break;
    }
    if (d->limit == 0) {
        sl->state = DLS_FREE;
        return true;
    }
    /* Behind others already in line it waits its turn even when a slot is free: fill()
     * hands that slot to the first of them. */
    if (d->active < d->limit && !d->wait_head) {
        push_active(d, sl, now);
        return true;
    }
    push_waiting(d, sl);
    return false;
}

void dlslots_leave(dlslots *d, dlslot *sl, long long now)
{
    dlslot_state was = sl->state;
    sl->state = DLS_NONE;
    if (was == DLS_ACTIVE) {
        unlink_from(&d->active_head, NULL, sl);
        d->active--;
        fill(d, now);
    } else if (was == DLS_WAITING) {
        unlink_from(&d->wait_head, &d->wait_tail, sl);
    }
}

void dlslots_tick(dlslots *d, long long now)
{
    dlslot *next;
    for (dlslot *sl = d->active_head; sl; sl = next) {
        next = sl->next;
        long long moved = *sl->last_progress > sl->turn_start ? *sl->last_progress : sl->turn_start;
        bool stalled = now - moved >= DLSLOT_STALL_MS;
        bool long_turn = d->wait_head && now - sl->turn_start >= DLSLOT_TURN_MS;
        if (!stalled && !long_turn)
            continue;
        unlink_from(&d->active_head, NULL, sl);
        d->active--;
        if (stalled)
            sl->state = DLS_FREE;
        else
            push_waiting(d, sl);
    }
    fill(d, now);
}

bool dlslots_busy(const dlslots *d)
{
    return d->wait_head != NULL;
}
