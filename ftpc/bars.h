/* The progress display. On a terminal: one line per running transfer (name, percent, bar,
 * bytes done of total, current rate, ETA) plus a total line when the run has several files,
 * redrawn in place at most ten times a second and only when the text changed, each frame one
 * write(2); each finished file leaves a summary line above the live lines. Not a terminal:
 * summary lines only, or with --progress=plain a plain line per running transfer about every
 * second. Quiet: nothing but the messages passed to ftpc_bars_message().
 *
 * The display reads the terminal width with TIOCGWINSZ and again after SIGWINCH, and uses
 * colour only on a terminal with NO_COLOR unset.
 */
#ifndef FTPC_BARS_H
#define FTPC_BARS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "opts.h"

typedef struct ftpc_bars ftpc_bars;
typedef struct ftpc_bar ftpc_bar;

typedef struct ftpc_bars_cfg {
    int fd;                  /* where the display goes (stderr) */
    ftpc_progress_mode mode; /* AUTO resolves to BAR on a terminal, NONE otherwise */
    bool quiet;
    /* For tests; normally detected: -1 = ask (isatty, TIOCGWINSZ/COLUMNS, NO_COLOR, locale). */
    int tty, width, color, unicode;
    /* The run's stop flag, or NULL: a write that waits for a reader who is behind (2>&1 |
     * a pager not scrolled) gives up once it is set, so that an interrupt ends the run. */
    volatile sig_atomic_t *stop;
} ftpc_bars_cfg;

/* A display on loop. Returns NULL when out of memory. */
ftpc_bars *ftpc_bars_new(ev_loop *loop, const ftpc_bars_cfg *cfg);
/* Draws the final state (no live lines left), restores the cursor and frees. */
void ftpc_bars_free(ftpc_bars *b);
/* Number of files in the run; a total line is shown when it is more than one. Forgets the
 * sizes told by ftpc_bars_plan_file. */
void ftpc_bars_set_files(ftpc_bars *b, int nfiles);
/* The size of one of those files, known before it starts. When every file's is known, the
 * Total line has a percentage and an ETA from the start, not only once the last file began. */
void ftpc_bars_plan_file(ftpc_bars *b, uint64_t size);
/* One of them turned out to be nothing to transfer (a directory a pattern matched). */
void ftpc_bars_file_skipped(ftpc_bars *b);
/* One of them was complete already (get -c, put -c): nothing moves and it has no line, but
 * it counts as finished, its size in the Total line's sum. */
void ftpc_bars_file_present(ftpc_bars *b, uint64_t size);
/* One of them failed for good (its line, if it had one, ended without ok): it is not waiting
 * any more, so the Total line can give a percentage and an ETA for the others. */
void ftpc_bars_file_failed(ftpc_bars *b);
/* The same for a file whose size was told with ftpc_bars_plan_file: it leaves the total. */
void ftpc_bars_planned_file_failed(ftpc_bars *b, uint64_t size);
/* True when live bars are drawn (a terminal in bar mode). */
bool ftpc_bars_live(const ftpc_bars *b);

/* A running transfer named name (control characters are shown as '?'). total is the file size
 * (-1 when unknown); offset is where a resumed transfer starts. Returns NULL when out of
 * memory (the transfer then simply has no line). */
ftpc_bar *ftpc_bar_start(ftpc_bars *b, const char *name, int64_t total, uint64_t offset);
/* The position in the file (offset plus bytes moved). Cheap: only records the number. */
void ftpc_bar_update(ftpc_bar *bar, uint64_t pos);
/* For an upload: how many of the bytes given to ftpc_bar_update have not reached the server
 * yet (those in ftpc's buffers and in its socket's queue). Asked at each frame, so that the
 * line, its rate and the summary's time follow the server rather than the buffers: a
 * compressed upload to a slow server showed 100% and several times the server's rate at
 * once, then sat there for the whole transfer. */
typedef uint64_t (*ftpc_bar_unsent_fn)(void *ud);
/* Makes the line ask fn(ud) (NULL: no more). It stops asking when the line's check begins
 * (ftpc_bar_checking) or the line ends, so ud need live no longer than that. */
void ftpc_bar_unsent(ftpc_bar *bar, ftpc_bar_unsent_fn fn, void *ud);
/* Bytes on the wire so far when they differ from the file's (MODE Z): the line then shows
 * both ("120 MiB / 1.0 GiB (wire 14 MiB)"), and so does the summary. */
void ftpc_bar_wire(ftpc_bar *bar, uint64_t wire);
/* Restarts the line at pos (a server that refused REST: the transfer starts from zero). */
void ftpc_bar_restart(ftpc_bar *bar, uint64_t pos);
/* Moves the bar to pos, back or on, as one transfer's progress: its summary still counts from
 * its start (a segmented upload that goes on sequentially). */
void ftpc_bar_rewind(ftpc_bar *bar, uint64_t pos);
/* Takes the live lines off the screen at once, for a process about to die (SIGPIPE). */
void ftpc_bars_erase(ftpc_bars *b);
/* A file whose line ended ok goes again (its check failed): it no longer counts as finished
 * in the Total line. bytes: what its line had counted. */
void ftpc_bars_retract(ftpc_bars *b, uint64_t bytes);
/* Names the bar's line name from now on: the bar's first name or a shorter one (a put whose
 * target turned out a directory, its "f -> dir" now "f"); a longer one is ignored. */
void ftpc_bar_rename(ftpc_bar *bar, const char *name);
/* Ends the line; with ok a summary line (bytes moved, time, average rate) stays. bar is
 * no longer the caller's. */
void ftpc_bar_done(ftpc_bar *bar, bool ok);
/* The transfer named name, whose line just ended without ok, goes again after a wait
 * (--retry): its line stays, saying "retrying" in place of rate and ETA, its bytes still in
 * the Total line, until the next attempt's ftpc_bar_start of the same name takes it over.
 * That attempt's rate is measured afresh (the Total line's with it: see bars.c), its
 * position is where it resumes, and the summary counts every attempt's bytes and time. */
void ftpc_bars_retrying(ftpc_bars *b, const char *name);
/* The transfer named name is over: a line still waiting for its next attempt goes. */
void ftpc_bars_end_waiting(ftpc_bars *b, const char *name);
/* The same with note appended to the summary ("a.bin: 3 MiB in 0.1 s (30 MiB/s), note"). */
void ftpc_bar_done_note(ftpc_bar *bar, bool ok, const char *note);
/* The bytes have all moved and a check of them runs: the line says "verifying" in place of
 * rate and ETA, and the summary's time and rate are the transfer's, without the check. */
void ftpc_bar_checking(ftpc_bar *bar);

/* Prints one line (no newline needed) above the live lines. Always shown, even when quiet. */
void ftpc_bars_message(ftpc_bars *b, const char *line);
/* For text about to reach the same terminal by another way (a report line on standard
 * output): writes the summary lines still waiting for a frame and takes the live lines off
 * the screen, so that the text lands below the summaries and no bar is left above it or
 * drawn over it; the next tick draws the live lines again below the text. */
void ftpc_bars_step_aside(ftpc_bars *b);

/* What ftpc_bars_format_line shows in place of a rate: the bytes are being checked
 * ("verifying", no ETA), or none has come for the last five seconds ("stalled", ETA
 * unknown). */
#define FTPC_BARS_BPS_VERIFYING (-1.0)
#define FTPC_BARS_BPS_STALLED (-2.0)
/* ...or the transfer waits to go again (ftpc_bars_retrying): "retrying", no ETA. */
#define FTPC_BARS_BPS_RETRYING (-3.0)

/* The line for one transfer into out (at most width-1 cells, no newline), exposed for tests.
 * bps may be one of FTPC_BARS_BPS_*.
 * name_cells is the width of the name column shared by the lines of a frame (0: fit this
 * name alone). Returns the byte length. */
size_t ftpc_bars_format_line(char *out, size_t out_size, int width, int name_cells, bool color,
                             bool unicode, const char *name, uint64_t pos, int64_t total,
                             double bps);
/* The live lines as the display would draw them now (one per running transfer, plus the
 * total line), for a list of background jobs: no escape sequences or colour, each line at
 * most width-1 cells and ending in '\n'. Works whatever the display's mode; a display that
 * draws nothing has no tick of its own, so each snapshot (taken a few times a second)
 * moves its rates and busy blocks on. Returns the length written to out (NUL-terminated,
 * cut to fit); 0 when b is NULL or nothing runs. */
size_t ftpc_bars_snapshot(ftpc_bars *b, char *out, size_t out_size, int width);

/* The same with the wire bytes of a compressed transfer (0: none shown), and for a
 * transfer of unknown length (total < 0) where its moving block stands (busy_phase). */
size_t ftpc_bars_format_line_wire(char *out, size_t out_size, int width, int name_cells, bool color,
                                  bool unicode, const char *name, uint64_t pos, int64_t total,
                                  double bps, uint64_t wire, uint64_t busy_phase);

#endif
