/* Progress arithmetic shared by the client's bars and the server's status view: a transfer
 * rate over a sliding window, ETA, human-readable sizes, rates and durations, and a bar drawn
 * into a given number of terminal cells. Pure functions of their inputs (time is passed in), so
 * every result can be checked on known data.
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Samples kept; at one sample per PROGRESS_SAMPLE_MS this covers more than the window. */
#define PROGRESS_SAMPLES 64
#define PROGRESS_SAMPLE_MS 100
#define PROGRESS_WINDOW_MS 5000
/* The shortest span a rate is given over: before it, a first burst reads as a wild rate. */
#define PROGRESS_RATE_FIRST_MS 200

/* A sliding-window rate estimator. The rate is the bytes moved over (at most) the last
 * PROGRESS_WINDOW_MS divided by that span measured up to "now", so a stalled transfer's rate
 * falls towards zero instead of freezing at its last value. */
typedef struct progress_rate {
    long long t[PROGRESS_SAMPLES]; /* sample times, ms */
    uint64_t b[PROGRESS_SAMPLES];  /* running byte totals at those times */
    size_t head;                   /* index of the newest sample */
    size_t count;                  /* samples held (>= 1 after init) */
    uint64_t latest;               /* newest running total (may be newer than b[head]) */
    long long latest_t;
} progress_rate;

/* Starts an estimator at now_ms with the running total `bytes` (a resumed transfer starts at
 * its offset, so the bytes it did not move do not count as speed). */
void progress_rate_init(progress_rate *r, long long now_ms, uint64_t bytes);
/* Records the running total at now_ms (totals never decrease; a smaller value is ignored). */
void progress_rate_update(progress_rate *r, long long now_ms, uint64_t bytes);
/* Bytes per second over the window ending at now_ms; 0 until at least PROGRESS_RATE_FIRST_MS
 * have passed. */
double progress_rate_bps(const progress_rate *r, long long now_ms);
/* The same over the last window_ms (at most PROGRESS_WINDOW_MS, as the samples reach no
 * further back): a shorter window follows a rate that changes, a longer one smooths bursts. */
double progress_rate_bps_within(const progress_rate *r, long long now_ms, long long window_ms);

/* Seconds left for `remaining` bytes at `bps`, rounded up; -1 when unknown (bps <= 0). */
long progress_eta(uint64_t remaining, double bps);

/* "512 B", "1.50 KiB", "15.0 MiB", "150 GiB" (three significant digits, binary units).
 * Returns out; out_size >= 16 always suffices. */
char *progress_size_str(uint64_t bytes, char *out, size_t out_size);
/* progress_size_str of bps followed by "/s" ("0 B/s" for bps <= 0). */
char *progress_rate_str(double bps, char *out, size_t out_size);
/* "0:05", "12:34", "1:02:03", "4d 03h"; "--:--" for seconds < 0. */
char *progress_duration_str(long seconds, char *out, size_t out_size);
/* Elapsed time with tenths under a minute ("0.4 s", "12.3 s"), thousandths under a tenth
 * ("0.032 s"), else as progress_duration_str. */
char *progress_elapsed_str(long long ms, char *out, size_t out_size);

typedef enum { PROGRESS_BAR_ASCII = 0, PROGRESS_BAR_UNICODE } progress_bar_style;

/* Draws a bar of exactly `cells` terminal cells for fraction (clamped to [0, 1]) into out,
 * NUL-terminated. ASCII: "=====>    "; UNICODE: full blocks with an eighth-block edge.
 * Returns the number of bytes written (without the NUL), or 0 if out_size is too small
 * (ASCII needs cells + 1 bytes, UNICODE 3 * cells + 1). */
size_t progress_bar(char *out, size_t out_size, int cells, double fraction,
                    progress_bar_style style);

/* For a transfer of unknown length: a short block at a place given by phase, moving one cell
 * a phase step and bouncing between the ends, in exactly `cells` cells ("  <==>    " in ASCII,
 * full blocks in UNICODE). An empty bar would read as nothing done. Same buffer needs and
 * return value as progress_bar. */
size_t progress_bar_busy(char *out, size_t out_size, int cells, uint64_t phase,
                         progress_bar_style style);

/* Whole percent of done over total, rounded down and clamped to [0, 100]; 100 when total is 0
 * (an empty file is complete). */
int progress_percent(uint64_t done, uint64_t total);

/* The terminal cells of the UTF-8 character at s (its byte length goes to *len): two for the
 * wide ones of CJK scripts, none for a combining mark. Under a locale that is not UTF-8 (C,
 * POSIX) the widths are C.UTF-8's; when no locale can tell (wcwidth fails), one below U+1100
 * and two from there on, so a line never comes out wider than reckoned. */
size_t progress_char_cells(const char *s, size_t *len);
/* The rows n bytes of one line (no newline in them) take on a terminal `cols` wide, laid out
 * as the terminal lays them out: a wide character that does not fit in the last cell of a
 * row goes whole to the next row, leaving that cell empty, so a line of wide characters
 * takes more rows than its cells over the width. A tab goes to the next stop of 8, or to
 * the last cell; an escape sequence (ESC [ ... final byte) takes no cell. *at_margin (may be
 * NULL): whether the text ends in the row's last cell. */
size_t progress_text_rows(const char *s, size_t n, size_t cols, bool *at_margin);
/* Cells of a UTF-8 string. */
size_t progress_cells(const char *s);
/* src for a terminal into dst: a control character (C0, DEL, C1), a line or paragraph
 * separator, a bidirectional override or isolate, and each byte that is not part of
 * well-formed UTF-8 become '?'; a cut never leaves half a character. dst may be src. */
void progress_sanitize(char *dst, size_t size, const char *src);
/* Bytes of the longest start of s that fits in `cells` cells; *used gets the cells it takes
 * (less than `cells` when a wide character did not fit). */
size_t progress_fit_prefix(const char *s, size_t cells, size_t *used);
/* For a log, which must stay one line of valid UTF-8 whatever a client named: whether the text
 * at s (avail > 0 bytes of it, no NUL needed) starts with a character that shows as itself.
 * *len gets its bytes. False for what progress_sanitize marks (a byte outside well-formed
 * UTF-8, one at a time; a control character, C0, DEL or C1; a line or paragraph separator; a
 * bidirectional override or isolate) and for the backslash, whose *len bytes the log writes
 * as "\xNN" each: so an escape always stands for one byte, and the name can be read back. */
bool progress_log_plain(const char *s, size_t avail, size_t *len);

#endif
