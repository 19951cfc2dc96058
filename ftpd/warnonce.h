/* Warnings that a check repeats each time it runs, at start and then at each SIGHUP: a users
 * file in a served folder, a home the server cannot enter. A condition found again is logged
 * only the first time, so that a reload every minute (a deployment tool, a log rotator) does
 * not bury the log under copies; one that changes (its text then does), or that goes away and
 * comes back, is logged again. */
#ifndef WARNONCE_H
#define WARNONCE_H

#include <pthread.h>
#include <stddef.h>

/* Conditions remembered from one run to the next; more are logged every time. */
#define WARNONCE_MAX 64

typedef struct warnonce {
    pthread_mutex_t lock;     /* a run on a reload's worker against one at start */
    char *said[WARNONCE_MAX]; /* the last run's warnings */
    size_t n_said;
    char *now[WARNONCE_MAX]; /* this run's */
    size_t n_now;
} warnonce;

#define WARNONCE_INIT                                                                              \
    {                                                                                              \
        .lock = PTHREAD_MUTEX_INITIALIZER                                                          \
    }

/* A run of the check: its warnings go through warnonce_warn, and warnonce_end closes it. */
void warnonce_begin(warnonce *w);
/* log_warn, unless the last run logged the same text. */
void warnonce_warn(warnonce *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What this run found is what the next compares with. */
void warnonce_end(warnonce *w);

#endif
