/* The live view of ftpc stress on standard error: on a terminal, three lines redrawn in
 * place about four times a second (one write per frame, so nothing flickers; colour only
 * without NO_COLOR); otherwise one plain line a second. Messages (verification failures)
 * are printed above the view without tearing it. */
#ifndef FTPC_STRESS_VIEW_H
#define FTPC_STRESS_VIEW_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "progress.h"
#include "stress_stats.h"

typedef struct stress_view_sample {
    long long now_ms;
    double elapsed_s;
    double total_s;    /* planned duration, 0 when iterations bound the run */
    const char *phase; /* "setup", "run", "ending" */
    int clients;
    int logged_in;         /* sessions the server holds and logged in */
    int awaiting_greeting; /* TCP connected, not greeted: maybe in the server's listen queue */
    /* Sessions under way but neither in nor awaiting the greeting: TCP connect, TLS, USER and
     * PASS (a server hashing passwords slowly keeps them here). */
    int logging_in;
    int inflight;
    const stress_stats *st;
} stress_view_sample;

typedef struct stress_view {
    int fd;
    bool enabled; /* false: --no-view */
    bool tty;
    bool color;
    int drawn; /* lines of the last frame on screen */
    /* The last frame's text: a window made narrower since rewraps its lines onto more rows,
     * which the next frame must go up over. */
    char last[2048];
    size_t last_len;
    long long last_plain_ms;
    progress_rate down, up, ops;
    long long rates_t0; /* when the rates (re)started: none is shown before a measurement */
    bool rates_started;
    bool rates_main; /* ... in the main phase: the set-up's rates end with it */
    /* SIGCONT's action before the view's (stress_view_finish gives it back) */
    struct sigaction old_cont;
    bool cont_set;
} stress_view;

/* Decides the mode for fd (isatty, NO_COLOR, TERM=dumb). */
void stress_view_init(stress_view *v, int fd, bool enabled);
/* Draws a frame (terminal) or, at most once a second, a line. */
void stress_view_update(stress_view *v, const stress_view_sample *s);
/* Prints msg (one line, no newline needed) above the view. */
void stress_view_message(stress_view *v, const char *msg);
/* Leaves the last frame on screen and moves below it. */
void stress_view_finish(stress_view *v);

#endif
