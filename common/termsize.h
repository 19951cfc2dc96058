/* The size of the terminal a live display draws on.
 *
 * Bars and views redraw in place, so a line wider than the terminal wraps and moves the frame
 * out of reach of the next redraw. Every display asks here, at each frame, so that a resized
 * window is followed and all of them fall back the same way when the descriptor is not a
 * terminal (COLUMNS and LINES from the environment, else 80 by 24).
 */
#ifndef TERMSIZE_H
#define TERMSIZE_H

#include <signal.h>
#include <stdbool.h>

typedef struct term_size {
    int cols;
    int rows;
} term_size;

/* Narrower or shorter values from the environment are ignored as typos. */
#define TERM_MIN_COLS 10
#define TERM_MIN_ROWS 2
#define TERM_DEFAULT_COLS 80
#define TERM_DEFAULT_ROWS 24

term_size term_size_of(int fd);

/* Installs fn for sig (SIGWINCH, SIGCONT: a display's redraw requests) with SA_RESTART, so
 * that a read it interrupts goes on, and stores the disposition it replaces in old. Returns
 * whether it was installed. */
bool term_redraw_signal(int sig, void (*fn)(int), struct sigaction *old);

#endif
