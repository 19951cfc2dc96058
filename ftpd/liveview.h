/* The server's live view: on a terminal, a block below the log lines with one line per
 * running transfer (session, user, command, path, percent and bar, bytes, rate, ETA) and a
 * total line (sessions, transfers, rates in and out, transfers done), redrawn four times a
 * second on the loop and only when its text changed. The log lines scroll above it
 * (log_footer_set). With thousands of transfers, the oldest that fit on the screen are shown
 * and the total line says how many.
 */
#ifndef LIVEVIEW_H
#define LIVEVIEW_H

#include <stdbool.h>
#include <stddef.h>

struct server;
typedef struct liveview liveview;

/* One running transfer as the view shows it. */
typedef struct liveview_item {
    unsigned long id; /* the session's number, as in the log lines */
    const char *user; /* the account, "anonymous" or "-" */
    const char *verb; /* RETR, STOR, APPE, STOU, LIST... */
    const char *path;
    long long done;   /* payload bytes moved */
    long long expect; /* payload bytes the transfer will move; -1 unknown (uploads) */
    double bps;       /* current rate */
    bool waiting;     /* in line for a download slot */
    /* The widest "[id] user VERB " of the frame (liveview_left_cells), so that every line
     * of it keeps or drops the same columns and they line up; 0: this line's own. */
    size_t left_cells;
    unsigned long busy_phase; /* expect unknown: where the bar's moving block stands */
    /* The command came but its data connection is not there yet (the client has still to
     * connect, or the server's connect to a PORT address runs): nothing has moved, and the
     * size the transfer will move is not set yet. */
    bool connecting;
    /* Where in the file it began (REST, APPE): the line shows the place in the file, done
     * and expect counting from there, as the client's bar does. */
    long long start;
    /* As ftpc's bars say it: nothing has reached the client (or come from it) for the whole
     * rate window ("stalled", no ETA), or the transfer is too young for a rate ("--"): both
     * showed "0 B/s", which read the same as each other. */
    bool stalled, measuring;
} liveview_item;

/* The whole server at a glance. */
typedef struct liveview_totals {
    size_t sessions, transfers, shown;
    double in_bps, out_bps;
    unsigned long long done;    /* transfers completed since the start */
    unsigned long long aborted; /* transfers a client's ABOR ended (not failures) */
    unsigned long long failed;  /* transfers that ended without completing otherwise */
} liveview_totals;

/* Starts the view on srv's loop when the configuration asks for it (--progress: on, or auto
 * with standard error a terminal). NULL when it is off or out of memory (the server runs the
 * same without it). */
liveview *liveview_start(struct server *srv);
/* Takes the block off the screen and frees the view. NULL is fine. */
void liveview_stop(liveview *v);

/* A transfer's line, at most width - 1 cells (so the terminal never wraps it), into out.
 * Control characters of client-chosen text show as '?'. Returns the byte length. */
size_t liveview_format_item(char *out, size_t size, int width, const liveview_item *it);
/* The cells of the "[id] user VERB " part of its line, which comes before the path. */
size_t liveview_left_cells(const liveview_item *it);
/* The total line, at most width - 1 cells. Returns the byte length. */
size_t liveview_format_totals(char *out, size_t size, int width, const liveview_totals *t);

#endif
