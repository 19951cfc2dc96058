/* The window a stress run's report measures, and ftpc's CPU time over that same window.
 *
 * The duration runs from the main phase's start to its end; after an interrupt or the end
 * of --duration that end is not when the clients are done (they get a grace to end their
 * operations, which may be a wait for replies that never come) but the stop itself, or the
 * last time a client counted something after it (stress.c). The CPU share the report gives
 * (CPU time / duration) is only right when the CPU time is read at that same moment: so it is
 * read at each moment that may become the end, and taken at the one chosen.
 */
#ifndef FTPC_STRESS_WINDOW_H
#define FTPC_STRESS_WINDOW_H

#include <stdint.h>

/* ftpc's CPU time, user and system, in seconds. */
typedef struct stress_cpu {
    double user_s, sys_s;
} stress_cpu;

/* A moment of the run: its time (stress_now_us; 0 while not reached) and the CPU time then. */
typedef struct stress_mark {
    uint64_t us;
    stress_cpu cpu;
} stress_mark;

/* The process's CPU time so far (getrusage); zeros if it cannot be read. */
stress_cpu stress_cpu_now(void);

/* Now, with the CPU time so far. */
stress_mark stress_mark_now(void);

/* The end of the measured window, from the run's marks: the earlier of stop (an interrupt)
 * and deadline (the end of --duration), or counted (the last count) where that came later;
 * now when neither stop nor deadline was reached (the run ended by itself). */
stress_mark stress_window_end(stress_mark stop, stress_mark deadline, stress_mark counted,
                              stress_mark now);

/* CPU time from a to b, each part at least 0. */
stress_cpu stress_cpu_between(stress_cpu a, stress_cpu b);

#endif
