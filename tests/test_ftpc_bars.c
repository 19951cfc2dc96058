/* Check suite for ftpc/bars: line layout at several widths, and the frames written to a
 * (pretend) terminal: cursor movement, permanent summary lines, redraw only on change, plain
 * mode without carriage returns. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bars.h"
#include "ev.h"
#include "progress.h"

/* Terminal cells of s: escape sequences take none, a UTF-8 code point one. */
static int visible_cells(const char *s)
{
    int n = 0;
    while (*s != '\0') {
        if (*s == '\x1b') {
            s++;
            if (*s == '[') {
                s++;
                while (*s != '\0' && !(*s >= '@' && *s <= '~'))
                    s++;
                if (*s != '\0')
                    s++;
            }
            continue;
        }
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
        s++;
    }
    return n;
}

START_TEST(test_line_wire)
{
    char out[1024];
    /* MODE Z: the wire bytes beside the file bytes, within the width */
    ftpc_bars_format_line_wire(out, sizeof(out), 120, 0, false, false, "log.txt", 120ull << 20,
                               1ll << 30, 1e6, 14ull << 20, 0);
    ck_assert_msg(strstr(out, "120 MiB / 1.00 GiB (wire 14.0 MiB)") != NULL, "%s", out);
    ck_assert_int_le(visible_cells(out), 119);
    for (int w = 20; w <= 200; w += 7) {
        ftpc_bars_format_line_wire(out, sizeof(out), w, 0, false, false, "log.txt", 5, 10, 1.0, 3,
                                   0);
        ck_assert_int_le(visible_cells(out), w - 1);
    }
    /* wire 0: exactly the plain line */
    char plain[1024];
    ftpc_bars_format_line(plain, sizeof(plain), 100, 0, false, false, "f", 1, 2, 1.0);
    ftpc_bars_format_line_wire(out, sizeof(out), 100, 0, false, false, "f", 1, 2, 1.0, 0, 0);
    ck_assert_str_eq(out, plain);
}
END_TEST

START_TEST(test_line_wide)
{
    char out[1024];
    ftpc_bars_format_line(out, sizeof(out), 100, 0, false, false, "file.bin", 50, 100, 10.0);
    ck_assert_ptr_nonnull(strstr(out, "file.bin"));
    ck_assert_ptr_nonnull(strstr(out, " 50% ["));
    ck_assert_ptr_nonnull(strstr(out, "=>"));
    ck_assert_ptr_nonnull(strstr(out, "50 B / 100 B"));
    ck_assert_ptr_nonnull(strstr(out, "10 B/s"));
    ck_assert_ptr_nonnull(strstr(out, "ETA 0:05"));
    ck_assert_int_le(visible_cells(out), 99);
    ck_assert_ptr_null(strchr(out, '\n'));
    ck_assert_ptr_null(strchr(out, '\r'));
}
END_TEST

START_TEST(test_line_fits_every_width)
{
    char out[2048];
    for (int w = 2; w <= 300; w++) {
        for (int color = 0; color <= 1; color++) {
            ftpc_bars_format_line(out, sizeof(out), w, 0, color, color,
                                  "a-rather-long-file-name-that-needs-cutting.tar.gz", 123456789,
                                  987654321, 12345678.0);
            ck_assert_msg(visible_cells(out) <= w - 1, "width %d: %d cells: %s", w,
                          visible_cells(out), out);
        }
    }
}
END_TEST

START_TEST(test_line_narrow_drops_columns)
{
    char out[512];
    /* 60 columns: no room for a bar, the rest stays. */
    ftpc_bars_format_line(out, sizeof(out), 60, 0, false, false, "f.bin", 1024, 2048, 512.0);
    ck_assert_ptr_null(strchr(out, '['));
    ck_assert_ptr_nonnull(strstr(out, "50%"));
    ck_assert_ptr_nonnull(strstr(out, "ETA"));
    /* 30 columns: name, percent and rate. */
    ftpc_bars_format_line(out, sizeof(out), 30, 0, false, false, "f.bin", 1024, 2048, 512.0);
    ck_assert_ptr_nonnull(strstr(out, "50%"));
    ck_assert_ptr_nonnull(strstr(out, "512 B/s"));
    ck_assert_ptr_null(strstr(out, "ETA"));
    ck_assert_int_le(visible_cells(out), 29);
    /* 60 columns and a long name: the sizes go, and the room they leave takes a short bar */
    ftpc_bars_format_line(out, sizeof(out), 60, 0, false, false,
                          "a-rather-long-file-name-that-needs-cutting.tar.gz", 1024, 2048, 512.0);
    ck_assert_ptr_nonnull(strchr(out, '['));
    ck_assert_ptr_nonnull(strstr(out, "ETA"));
    ck_assert_int_le(visible_cells(out), 59);
}
END_TEST

START_TEST(test_line_unknown_total)
{
    char out[512];
    ftpc_bars_format_line(out, sizeof(out), 100, 0, false, false, "x", 2048, -1, 0.0);
    ck_assert_ptr_nonnull(strstr(out, "  --"));
    ck_assert_ptr_nonnull(strstr(out, "2.00 KiB"));
    ck_assert_ptr_nonnull(strstr(out, "--:--"));
    ck_assert_ptr_null(strchr(out, '%'));
    /* the bar is a moving block, not an empty bar that would read as nothing done */
    ftpc_bars_format_line_wire(out, sizeof(out), 100, 0, false, false, "x", 2048, -1, 0.0, 0, 0);
    ck_assert_ptr_nonnull(strstr(out, "[<==="));
    ftpc_bars_format_line_wire(out, sizeof(out), 100, 0, false, false, "x", 2048, -1, 0.0, 0, 3);
    ck_assert_ptr_nonnull(strstr(out, "[   <==="));
}
END_TEST

/* A transfer whose bytes have all moved while its HASH check runs (a negative rate). */
START_TEST(test_line_verifying)
{
    char out[512];
    ftpc_bars_format_line(out, sizeof(out), 100, 0, false, false, "v.bin", 100, 100, -1.0);
    ck_assert_ptr_nonnull(strstr(out, "100%"));
    ck_assert_ptr_nonnull(strstr(out, "verifying"));
    ck_assert_ptr_null(strstr(out, "ETA"));
    /* the bar keeps its width and place: it grew by the ETA's column while the check ran */
    char moving[512];
    for (int width = 100; width >= 20; width -= 5) {
        ftpc_bars_format_line(moving, sizeof(moving), width, 0, false, false, "v.bin", 99, 100,
                              1e6);
        ftpc_bars_format_line(out, sizeof(out), width, 0, false, false, "v.bin", 100, 100, -1.0);
        ck_assert_msg(progress_cells(out) <= (size_t)width - 1, "%d: %s", width, out);
        const char *end = strchr(moving, ']');
        if (end != NULL)
            ck_assert_msg(strchr(out, ']') - out == end - moving, "%d:\n%s\n%s", width, moving,
                          out);
    }
}
END_TEST

/* 80 columns, the commonest terminal, and a name longer than 20 cells: the name gives up
 * cells so the bar stays, and every line of a frame keeps one name column. */
START_TEST(test_line_long_name_keeps_the_bar_at_80_columns)
{
    char a[512], b[512];
    const char *name = "ubuntu-24.04.1-live-server-amd64.iso";
    ftpc_bars_format_line(a, sizeof(a), 80, 0, false, false, name, 1024, 2048, 512.0);
    ck_assert_ptr_nonnull(strstr(a, " ["));
    ck_assert_ptr_nonnull(strstr(a, "ubuntu-...64.iso  50% ["));
    ck_assert_ptr_nonnull(strstr(a, "1.00 KiB / 2.00 KiB"));
    ck_assert_ptr_nonnull(strstr(a, "ETA 0:02"));
    ck_assert_int_le(visible_cells(a), 79);
    ftpc_bars_format_line(b, sizeof(b), 80, (int)strlen(name), false, false, "Total 0/2", 1024,
                          4096, 512.0);
    ck_assert_int_eq((int)(strstr(a, "50%") - a), (int)(strstr(b, "25%") - b));
}
END_TEST

/* A wide terminal gives a long name its room before the bar grows past a comfortable width:
 * 200 columns cut a 49-cell name to 40 cells beside a bar of over 100, and three such names
 * that differ in the middle read alike. */
START_TEST(test_line_wide_terminal_keeps_a_long_name_whole)
{
    char a[1024], b[1024];
    const char *name = "file number 2 with a rather long name to be cut.bin";
    ftpc_bars_format_line(a, sizeof(a), 200, 0, false, false, name, 1024, 2048, 512.0);
    ck_assert_ptr_eq(strstr(a, name), a);
    ck_assert_ptr_nonnull(strstr(a, "50% ["));
    ck_assert_ptr_nonnull(strstr(a, "ETA 0:02"));
    ck_assert_int_le(visible_cells(a), 199);
    /* the bar keeps at least its comfortable width */
    const char *open = strchr(a, '['), *close = strchr(a, ']');
    ck_assert_ptr_nonnull(open);
    ck_assert_ptr_nonnull(close);
    ck_assert_int_ge((int)(close - open) - 1, 40);
    /* the Total line's column follows the name's (the frame passes the widest name) */
    ftpc_bars_format_line(b, sizeof(b), 200, (int)strlen(name), false, false, "Total 0/2", 1024,
                          4096, 512.0);
    ck_assert_int_eq((int)(strstr(a, "50%") - a), (int)(strstr(b, "25%") - b));
    /* on 120 columns the name is still cut, to keep the bar */
    ftpc_bars_format_line(a, sizeof(a), 120, 0, false, false, name, 1024, 2048, 512.0);
    ck_assert_ptr_nonnull(strstr(a, "..."));
    ck_assert_ptr_nonnull(strstr(a, " ["));
    ck_assert_int_le(visible_cells(a), 119);
}
END_TEST

START_TEST(test_line_long_name_cut)
{
    char out[512];
    char name[200];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ftpc_bars_format_line(out, sizeof(out), 80, 0, false, false, name, 1, 2, 1.0);
    ck_assert_ptr_nonnull(strstr(out, "..."));
    ck_assert_int_le(visible_cells(out), 79);
}
END_TEST

/* Names that share a long start keep their ends, so their lines can still be told apart. */
START_TEST(test_line_cut_name_keeps_its_end)
{
    char a[512], b[512];
    const char *na = "file-with-a-rather-long-name-number-1.dat";
    const char *nb = "file-with-a-rather-long-name-number-2.dat";
    ftpc_bars_format_line(a, sizeof(a), 50, 0, false, false, na, 1, 2, 1.0);
    ftpc_bars_format_line(b, sizeof(b), 50, 0, false, false, nb, 1, 2, 1.0);
    ck_assert_str_ne(a, b);
    ck_assert_ptr_eq(strstr(a, "file-"), a);
    ck_assert_ptr_nonnull(strstr(a, "...1.dat "));
    ck_assert_ptr_nonnull(strstr(b, "...2.dat "));
    ck_assert_int_le(visible_cells(a), 49);
    /* the percent column stays where a name of the column's width puts it */
    ck_assert_int_eq((int)(strstr(a, "50%") - a), (int)(strstr(b, "50%") - b));
    /* a wide character at the cut leaves a blank, not a misaligned column */
    char wide[200] = "";
    for (int i = 0; i < 30; i++)
        strcat(wide, "\xe6\x96\x87");
    char c[512];
    ftpc_bars_format_line(c, sizeof(c), 50, 14, false, false, wide, 1, 2, 1.0);
    ck_assert_ptr_nonnull(strstr(c, "..."));
    char *pct = strstr(c, "  50%"); /* the name column, a blank, the padded percent */
    ck_assert_ptr_nonnull(pct);
    *pct = '\0';
    ck_assert_int_eq((int)progress_cells(c), 14);
}
END_TEST

/* Decomposed accents: the cut never leaves a combining mark without its letter. */
START_TEST(test_line_cut_name_keeps_marks_with_their_letters)
{
    char name[200] = "decomposed-accents-";
    for (int i = 0; i < 12; i++)
        strcat(name, "e\xcc\x81"); /* e + U+0301 */
    strcat(name, ".txt");
    char out[512];
    for (int w = 20; w <= 60; w++) {
        ftpc_bars_format_line(out, sizeof(out), w, 0, false, false, name, 1, 2, 1.0);
        ck_assert_msg(strstr(out, "...\xcc\x81") == NULL, "width %d: %s", w, out);
        ck_assert_int_le(visible_cells(out), w - 1);
    }
}
END_TEST

START_TEST(test_line_shared_name_column)
{
    char a[512], b[512];
    ftpc_bars_format_line(a, sizeof(a), 100, 12, false, false, "a", 1, 2, 1.0);
    ftpc_bars_format_line(b, sizeof(b), 100, 12, false, false, "longer-name", 1, 2, 1.0);
    /* The percent column starts at the same place in both lines. */
    ck_assert_int_eq((int)(strstr(a, "50%") - a), (int)(strstr(b, "50%") - b));
}
END_TEST

/* ---- frames ---- */

static int pfd[2];

static void setup_pipe(void)
{
    ck_assert_int_eq(pipe2(pfd, O_NONBLOCK), 0);
}

static void teardown_pipe(void)
{
    close(pfd[0]);
    close(pfd[1]);
}

/* Everything written so far ("" when nothing). */
static char *drain(void)
{
    static char buf[65536];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* Runs the loop until the bars' timer has fired at least once more (about ms). */
static void run_for(ev_loop *loop, int ms)
{
    ev_update_time(loop);
    long long until = ev_now(loop) + ms;
    int guard = 0;
    while (ev_now(loop) < until && guard++ < 1000)
        ev_run_once(loop, 20);
}

/* Live bars as on a terminal `width` columns wide, without colour or Unicode, writing to
 * the test's pipe. */
static ftpc_bars *tty_bars(ev_loop *loop, int width)
{
    ftpc_bars_cfg cfg = {.fd = pfd[1],
                         .mode = FTPC_PROGRESS_AUTO,
                         .quiet = false,
                         .tty = 1,
                         .width = width,
                         .color = 0,
                         .unicode = 0};
    ftpc_bars *b = ftpc_bars_new(loop, &cfg);
    ck_assert_ptr_nonnull(b);
    return b;
}

START_TEST(test_frames_tty)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 80);
    ck_assert(ftpc_bars_live(b));
    ftpc_bars_set_files(b, 3);
    ftpc_bar *x = ftpc_bar_start(b, "one.bin", 1000, 0);
    ftpc_bar *y = ftpc_bar_start(b, "two\x1b[2J.bin", 2000, 500);
    run_for(loop, 150);
    char *f = drain();
    /* First frame: no cursor-up yet, three live lines (two bars and the total). */
    ck_assert_ptr_null(strstr(f, "\x1b[3A"));
    ck_assert_int_eq(count(f, "\x1b[2K"), 3);
    ck_assert_int_eq(count(f, "\n"), 3);
    ck_assert_ptr_nonnull(strstr(f, "one.bin"));
    ck_assert_ptr_nonnull(strstr(f, "  0%"));
    ck_assert_ptr_nonnull(strstr(f, "two?[2J.bin")); /* the name's escape is neutralised */
    ck_assert_ptr_nonnull(strstr(f, "Total 0/3"));
    ck_assert_ptr_null(strchr(f, '\r'));

    /* Nothing changed (no bytes, no rate yet): nothing is written. */
    run_for(loop, 250);
    ck_assert_str_eq(drain(), "");

    /* Progress: redrawn in place. */
    ftpc_bar_update(x, 250);
    run_for(loop, 150);
    f = drain();
    ck_assert_ptr_nonnull(strstr(f, "\r\x1b[3A"));
    ck_assert_ptr_nonnull(strstr(f, " 25%"));

    /* A finished file: cursor up over the three lines, its summary, then two live lines. */
    ftpc_bar_update(x, 1000);
    ftpc_bar_done(x, true);
    run_for(loop, 150);
    f = drain();
    ck_assert_ptr_nonnull(strstr(f, "\r\x1b[3A"));
    ck_assert_ptr_nonnull(strstr(f, "one.bin: 0.98 KiB in"));
    ck_assert_ptr_nonnull(strstr(f, "Total 1/3"));
    ck_assert_ptr_nonnull(strstr(f, "\x1b[J"));
    ck_assert_int_eq(count(f, "one.bin: "), 1); /* the summary is written once */

    /* A finished file that must go again no longer counts in the Total line. */
    ftpc_bars_retract(b, 1000);
    ftpc_bar_update(y, 600);
    run_for(loop, 150);
    f = drain();
    ck_assert_ptr_nonnull(strstr(f, "Total 0/3"));

    /* A message lands above the live lines at once. */
    ftpc_bars_message(b, "ftpc: something failed");
    f = drain();
    ck_assert_ptr_nonnull(strstr(f, "\r\x1b[2A"));
    /* over the old lines, the rest of its row cleared: no "clear to the end of the screen"
     * where the live lines began, which may be the screen's top-left corner (tmux keeps a
     * copy of a screen cleared from there) */
    ck_assert_ptr_nonnull(strstr(f, "\r\x1b[2Aftpc: something failed\x1b[K\n"));

    ftpc_bar_done(y, false);
    ftpc_bars_free(b);
    f = drain();
    /* The last frame removes the live lines and leaves the cursor below the summaries: with
     * nothing to write over them, each of their rows is cleared from the bottom up. */
    ck_assert_str_eq(f, "\r\x1b[1A\x1b[2K\x1b[1A\x1b[2K");
    ck_assert_uint_eq(ev_live_handles(loop), 0);
    ev_loop_free(loop);
}
END_TEST

/* 70 columns and a run of three files: the Total line and 12-cell names left the bar 5 cells,
 * under its minimum, and no line showed one. The wide gaps go first and every line keeps a
 * bar, each name whole and the columns lined up. */
START_TEST(test_frame_at_70_columns_keeps_the_bars)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 70);
    ftpc_bars_set_files(b, 3);
    const char *names[3] = {"sample-1.bin", "sample-2.bin", "sample-3.bin"};
    ftpc_bar *x[3];
    for (int i = 0; i < 3; i++)
        x[i] = ftpc_bar_start(b, names[i], 3 * 1048576, 0);
    for (int i = 0; i < 3; i++)
        ftpc_bar_update(x[i], (uint64_t)(i + 1) * 700000);
    run_for(loop, 150);
    char *f = drain();
    int lines = 0, pct_at = -1;
    for (char *line = strtok(f, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *text = strstr(line, "\x1b[2K");
        if (text == NULL) /* the frame's closing "clear below" */
            continue;
        text += 4;
        lines++;
        ck_assert_msg(strstr(text, " [") != NULL, "no bar: %s", text);
        ck_assert_int_le(visible_cells(text), 69);
        char *pct = strchr(text, '%');
        ck_assert_ptr_nonnull(pct);
        if (pct_at < 0)
            pct_at = (int)(pct - text);
        ck_assert_int_eq((int)(pct - text), pct_at);
    }
    ck_assert_int_eq(lines, 4);
    for (int i = 0; i < 3; i++)
        ftpc_bar_done(x[i], false);
    ftpc_bars_free(b);
    ev_loop_free(loop);
}
END_TEST

/* More transfers than rows: the last line counts the rest, and fits a narrow terminal as
 * every other line does ("... and 4 more" wrapped under 15 columns, and the next frame's
 * cursor-up missed the frame's first row). A fixed width has 1000 rows: 997 live lines
 * with the Total line, the last of them the count of 4 more. */
START_TEST(test_frame_more_line_fits_a_narrow_terminal)
{
    static const struct {
        int width;
        const char *more;
    } cases[] = {{16, "... and 4 more"}, {12, "+4 more"}, {5, "+4"}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
        ck_assert_ptr_nonnull(loop);
        ftpc_bars *b = tty_bars(loop, cases[c].width);
        ftpc_bars_set_files(b, 1000);
        static ftpc_bar *x[1000];
        for (int i = 0; i < 1000; i++) {
            char name[16];
            snprintf(name, sizeof(name), "f%d", i);
            x[i] = ftpc_bar_start(b, name, 1000, 0);
        }
        run_for(loop, 150);
        char *f = drain();
        int lines = 0, more = 0;
        for (char *line = strtok(f, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            char *text = strstr(line, "\x1b[2K");
            if (text == NULL)
                continue;
            text += 4;
            lines++;
            ck_assert_msg(visible_cells(text) <= cases[c].width - 1, "width %d: %s", cases[c].width,
                          text);
            more += strcmp(text, cases[c].more) == 0;
        }
        ck_assert_int_eq(lines, 998);
        ck_assert_int_eq(more, 1);
        for (int i = 0; i < 1000; i++)
            ftpc_bar_done(x[i], false);
        ftpc_bars_free(b);
        drain();
        ev_loop_free(loop);
    }
}
END_TEST

/* A name longer than the column keeps a short bar too: cut to 12 cells, it still shows its
 * start and its end. */
START_TEST(test_line_long_name_keeps_a_short_bar_at_70_columns)
{
    char out[512];
    ftpc_bars_format_line(out, sizeof(out), 70, 20, false, false, "quarterly-report.pdf", 1048576,
                          3145728, 1048576.0);
    ck_assert_msg(strstr(out, " [") != NULL, "no bar: %s", out);
    ck_assert_msg(strncmp(out, "quart", 5) == 0 && strstr(out, ".pdf  33% [") == out + 8, "%s",
                  out);
    ck_assert_ptr_nonnull(strstr(out, "ETA 0:02"));
    ck_assert_int_le(visible_cells(out), 69);
}
END_TEST

/* A name longer than any column (a mirror's deep path) is cut on the live line, but its
 * summary names the file whole. */
START_TEST(test_summary_keeps_a_long_name_whole)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 80);
    char name[700];
    size_t n = 0;
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(name + n, sizeof(name) - n, "dir%02d/", i);
    snprintf(name + n, sizeof(name) - n, "last.bin");
    ftpc_bar *x = ftpc_bar_start(b, name, 1000, 0);
    run_for(loop, 150);
    ftpc_bar_update(x, 1000);
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    char *f = drain();
    char *at = strstr(f, name);
    ck_assert_ptr_nonnull(at);
    ck_assert_int_eq(strncmp(at + strlen(name), ": 0.98 KiB in", 13), 0);
    ev_loop_free(loop);
}
END_TEST

/* No byte for the whole rate window: the line says "stalled" with no ETA rather than a
 * rate that only decays, and says the rate again once bytes come. */
START_TEST(test_stalled_transfer_says_so)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bar *x = ftpc_bar_start(b, "slow.bin", 100000, 0);
    for (int i = 1; i <= 5; i++) {
        run_for(loop, 100);
        ftpc_bar_update(x, (uint64_t)i * 1000);
    }
    run_for(loop, 150);
    char *f = drain();
    ck_assert_ptr_null(strstr(f, "stalled"));
    run_for(loop, PROGRESS_WINDOW_MS + 200);
    f = drain();
    const char *last = strrchr(f, '\r');
    ck_assert_ptr_nonnull(last);
    ck_assert_ptr_nonnull(strstr(last, "stalled  ETA --:--"));
    for (int i = 6; i <= 9; i++) {
        ftpc_bar_update(x, (uint64_t)i * 1000);
        run_for(loop, 100);
    }
    run_for(loop, 150);
    f = drain();
    last = strrchr(f, '\r');
    ck_assert_ptr_nonnull(last);
    ck_assert_ptr_null(strstr(last, "stalled"));
    ck_assert_ptr_nonnull(strstr(last, "B/s"));
    /* all the bytes moved, the server's last reply awaited: not a stall */
    ftpc_bar_update(x, 100000);
    run_for(loop, PROGRESS_WINDOW_MS + 200);
    f = drain();
    ck_assert_ptr_null(strstr(f, "stalled"));
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    ev_loop_free(loop);
}
END_TEST

START_TEST(test_line_stalled)
{
    char out[512];
    ftpc_bars_format_line(out, sizeof(out), 100, 0, false, false, "s.bin", 50, 100,
                          FTPC_BARS_BPS_STALLED);
    ck_assert_ptr_nonnull(strstr(out, " 50% ["));
    ck_assert_ptr_nonnull(strstr(out, "50 B / 100 B     stalled  ETA --:--"));
}
END_TEST

/* The rest of the line from `at` (a pointer into a frame) to its end, in a static buffer. */
static const char *line_at(const char *at)
{
    static char line[512];
    size_t n = strcspn(at, "\n");
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    memcpy(line, at, n);
    line[n] = '\0';
    return line;
}

START_TEST(test_total_unknown_while_files_wait)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 3);
    /* Two of three files under way (-j 2): the third's size is not known yet, so the
     * total has no percentage and no ETA, even when both are complete. */
    ftpc_bar *x = ftpc_bar_start(b, "one.bin", 1000, 0);
    ftpc_bar *y = ftpc_bar_start(b, "two.bin", 1000, 0);
    ftpc_bar_update(x, 1000);
    ftpc_bar_update(y, 1000);
    run_for(loop, 150);
    char *f = drain();
    const char *t = strstr(f, "Total 0/3");
    ck_assert_ptr_nonnull(t);
    const char *line = line_at(t);
    ck_assert_msg(strchr(line, '%') == NULL, "%s", line);
    ck_assert_msg(strstr(line, "  --") != NULL && strstr(line, "ETA --") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "1.95 KiB") != NULL, "%s", line);

    /* One done, the last one started: all sizes known, the percentage is back. */
    ftpc_bar_done(x, true);
    ftpc_bar *z = ftpc_bar_start(b, "three.bin", 2000, 0);
    run_for(loop, 150);
    f = drain();
    t = strstr(f, "Total 1/3");
    ck_assert_ptr_nonnull(t);
    line = line_at(t);
    ck_assert_msg(strstr(line, " 50%") != NULL, "%s", line);

    ftpc_bar_done(y, true);
    ftpc_bar_done(z, false);
    ftpc_bars_free(b);
    drain();
    ev_loop_free(loop);
}
END_TEST

/* A length unknown while the bytes move (a pipe, no SIZE) is known once they all have: the
 * HASH check that follows shows a full bar, not the moving block. */
START_TEST(test_unknown_length_known_at_the_check)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bar *x = ftpc_bar_start(b, "piped.bin", -1, 0);
    ftpc_bar_update(x, 3000);
    run_for(loop, 150);
    const char *line = line_at(strstr(drain(), "piped.bin"));
    ck_assert_msg(strstr(line, "piped.bin   -- [") != NULL, "%s", line);
    ftpc_bar_checking(x);
    run_for(loop, 150);
    line = line_at(strstr(drain(), "piped.bin"));
    ck_assert_msg(strstr(line, "100% [=====") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "2.93 KiB / 2.93 KiB") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "verifying") != NULL, "%s", line);
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    drain();
    ev_loop_free(loop);
}
END_TEST

/* Sizes known before the files start (uploads, a mirror's listing): the total has its
 * percentage while files still wait; a planned file that fails leaves the total. */
START_TEST(test_total_known_from_planned_sizes)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 3);
    ftpc_bars_plan_file(b, 1000);
    ftpc_bars_plan_file(b, 1000);
    ftpc_bars_plan_file(b, 2000);
    ftpc_bar *x = ftpc_bar_start(b, "one.bin", 1000, 0);
    ftpc_bar_update(x, 500);
    run_for(loop, 150);
    char *f = drain();
    const char *t = strstr(f, "Total 0/3");
    ck_assert_ptr_nonnull(t);
    const char *line = line_at(t);
    ck_assert_msg(strstr(line, " 12%") != NULL, "%s", line); /* 500 of 4000 */
    ck_assert_msg(strstr(line, "3.91 KiB") != NULL, "%s", line);
    ftpc_bars_planned_file_failed(b, 2000);
    ftpc_bar_update(x, 1000);
    run_for(loop, 150);
    f = drain();
    t = strstr(f, "Total 0/3");
    ck_assert_ptr_nonnull(t);
    line = line_at(t);
    ck_assert_msg(strstr(line, " 50%") != NULL, "%s", line); /* 1000 of 2000 */
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    drain();
    ev_loop_free(loop);
}
END_TEST

/* A file that failed for good waits no more: the others' total has its percentage. */
START_TEST(test_total_known_after_a_file_fails)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 2);
    ftpc_bar *x = ftpc_bar_start(b, "one.bin", 1000, 0);
    ftpc_bar_update(x, 250);
    ftpc_bars_file_failed(b); /* the other one, refused before its line began */
    run_for(loop, 150);
    char *f = drain();
    const char *t = strstr(f, "Total 0/2");
    ck_assert_ptr_nonnull(t);
    const char *line = line_at(t);
    ck_assert_msg(strstr(line, " 25%") != NULL, "%s", line);
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    drain();
    ev_loop_free(loop);
}
END_TEST

/* A transfer that goes again (--retry) keeps its line while it waits: "retrying", at the
 * bytes it has, counted in the Total; its next attempt takes the line over, and a transfer
 * that then ends for good without another line takes the waiting one away. */
START_TEST(test_retried_line_waits_then_goes_on)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 3);
    ftpc_bar *x = ftpc_bar_start(b, "one.bin", 1000, 0);
    ftpc_bar *y = ftpc_bar_start(b, "two.bin", 1000, 0);
    ftpc_bar *z = ftpc_bar_start(b, "three.bin", 1000, 0);
    ftpc_bar_update(x, 500);
    ftpc_bar_update(y, 250);
    ftpc_bar_update(z, 250);
    ftpc_bar_done(x, false);
    ftpc_bars_retrying(b, "one.bin");
    ftpc_bar_done(z, false);
    ftpc_bars_retrying(b, "three.bin");
    run_for(loop, 150);
    char *f = drain();
    const char *one = strstr(f, "one.bin ");
    ck_assert_ptr_nonnull(one);
    const char *line = line_at(one);
    ck_assert_msg(strstr(line, " 50%") != NULL && strstr(line, "retrying") != NULL &&
                      strstr(line, "ETA") == NULL,
                  "%s", line);
    /* in its place, above the other */
    ck_assert_ptr_nonnull(strstr(one, "two.bin "));
    const char *t = strstr(f, "Total 0/3");
    ck_assert_ptr_nonnull(t);
    line = line_at(t);
    ck_assert_msg(strstr(line, " 33%") != NULL && strstr(line, "ETA --:--") != NULL, "%s", line);
    /* the next attempt resumes at 500 and takes the line over */
    ftpc_bar *again = ftpc_bar_start(b, "one.bin", 1000, 500);
    ck_assert_ptr_eq(again, x);
    ftpc_bar_update(again, 1000);
    /* three.bin fails for good before another line began */
    ftpc_bars_end_waiting(b, "three.bin");
    run_for(loop, 150);
    f = drain();
    ck_assert_msg(strstr(f, "retrying") == NULL, "%s", f);
    ck_assert_msg(strstr(f, "three.bin") == NULL, "%s", f);
    ftpc_bar_done(again, true);
    ftpc_bar_done(y, true);
    ftpc_bars_free(b);
    f = drain();
    /* the summary counts both attempts' bytes */
    ck_assert_msg(strstr(f, "one.bin: 0.98 KiB in ") != NULL && strstr(f, ", 2 attempts") != NULL,
                  "%s", f);
    ev_loop_free(loop);
}
END_TEST

START_TEST(test_retries_of_names_shown_alike_keep_their_own_lines)
{
    /* both names are shown "d?.bin": each next attempt must take its own line over */
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 2);
    ftpc_bar *x = ftpc_bar_start(b, "d\xe9.bin", 1000, 0);
    ftpc_bar *y = ftpc_bar_start(b, "d\xe8.bin", 2000, 0);
    ftpc_bar_update(x, 500);
    ftpc_bar_update(y, 700);
    ftpc_bar_done(x, false);
    ftpc_bars_retrying(b, "d\xe9.bin");
    ftpc_bar_done(y, false);
    ftpc_bars_retrying(b, "d\xe8.bin");
    ftpc_bars_retrying(b, "d\xe8.bin"); /* its second attempt failed before it had a line */
    ck_assert_ptr_eq(ftpc_bar_start(b, "d\xe8.bin", 2000, 700), y);
    ck_assert_ptr_eq(ftpc_bar_start(b, "d\xe9.bin", 1000, 500), x);
    ftpc_bar_update(x, 1000);
    ftpc_bar_update(y, 2000);
    ftpc_bar_done(x, true);
    ftpc_bar_done(y, true);
    ftpc_bars_free(b);
    char *f = drain();
    ck_assert_msg(strstr(f, ": 1.95 KiB in ") != NULL && strstr(f, ", 3 attempts") != NULL, "%s",
                  f);
    ck_assert_msg(strstr(f, ": 0.98 KiB in ") != NULL && strstr(f, ", 2 attempts") != NULL, "%s",
                  f);
    ev_loop_free(loop);
}
END_TEST

START_TEST(test_a_renamed_line_is_found_by_its_new_name)
{
    /* shown as "??" (2 bytes) though given in 4: the new name of 3 fits the room it had */
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(loop);
    ftpc_bars *b = tty_bars(loop, 100);
    ftpc_bars_set_files(b, 1);
    ftpc_bar *x = ftpc_bar_start(b, "\xc2\x9b\xc2\x9b", 1000, 0);
    ftpc_bar_rename(x, "abc");
    ftpc_bar_update(x, 400);
    ftpc_bar_done(x, false);
    ftpc_bars_retrying(b, "abc");
    ck_assert_ptr_eq(ftpc_bar_start(b, "abc", 1000, 400), x);
    ftpc_bar_update(x, 1000);
    ftpc_bar_done(x, true);
    ftpc_bars_free(b);
    char *f = drain();
    ck_assert_msg(strstr(f, "abc: 0.98 KiB in ") != NULL, "%s", f);
    ev_loop_free(loop);
}
END_TEST

START_TEST(test_plain_mode)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    ftpc_bars_cfg cfg = {
        .fd = pfd[1], .mode = FTPC_PROGRESS_PLAIN, .tty = 0, .width = 80, .color = 0, .unicode = 0};
    ftpc_bars *b = ftpc_bars_new(loop, &cfg);
    ck_assert(!ftpc_bars_live(b));
    ftpc_bar *x = ftpc_bar_start(b, "p.bin", 4096, 0);
    ftpc_bar_update(x, 1024);
    run_for(loop, 1150);
    char *f = drain();
    ck_assert_ptr_nonnull(strstr(f, "p.bin: 25% (1.00 KiB of 4.00 KiB)"));
    ck_assert_ptr_null(strchr(f, '\r'));
    ck_assert_ptr_null(strchr(f, '\x1b'));
    ftpc_bar_update(x, 4096);
    ftpc_bar_done(x, true);
    f = drain();
    ck_assert_ptr_nonnull(strstr(f, "p.bin: 4.00 KiB in"));
    ftpc_bars_free(b);
    ck_assert_uint_eq(ev_live_handles(loop), 0);
    ev_loop_free(loop);
}
END_TEST

START_TEST(test_auto_not_tty_and_quiet)
{
    ev_loop *loop = ev_loop_new(EV_BACKEND_AUTO);
    /* Not a terminal: summaries only. */
    ftpc_bars_cfg cfg = {
        .fd = pfd[1], .mode = FTPC_PROGRESS_AUTO, .tty = 0, .width = 80, .color = -1, .unicode = 0};
    ftpc_bars *b = ftpc_bars_new(loop, &cfg);
    ftpc_bar *x = ftpc_bar_start(b, "s.bin", 10, 0);
    run_for(loop, 150);
    ck_assert_str_eq(drain(), "");
    ftpc_bar_update(x, 10);
    ftpc_bar_done(x, true);
    char *f = drain();
    ck_assert_ptr_nonnull(strstr(f, "s.bin: 10 B in"));
    ck_assert_ptr_null(strchr(f, '\x1b')); /* no colour off a terminal */
    ftpc_bars_free(b);

    /* Quiet: only messages. */
    cfg.quiet = true;
    b = ftpc_bars_new(loop, &cfg);
    x = ftpc_bar_start(b, "q.bin", 10, 0);
    ftpc_bar_update(x, 10);
    ftpc_bar_done(x, true);
    ck_assert_str_eq(drain(), "");
    ftpc_bars_message(b, "ftpc: error");
    ck_assert_str_eq(drain(), "ftpc: error\n");
    ftpc_bars_free(b);
    ev_loop_free(loop);
}
END_TEST

static Suite *bars_suite(void)
{
    Suite *s = suite_create("ftpc_bars");
    TCase *tc = tcase_create("line");
    tcase_add_test(tc, test_line_wide);
    tcase_add_test(tc, test_line_verifying);
    tcase_add_test(tc, test_line_wire);
    tcase_add_test(tc, test_line_fits_every_width);
    tcase_add_test(tc, test_line_long_name_keeps_the_bar_at_80_columns);
    tcase_add_test(tc, test_line_wide_terminal_keeps_a_long_name_whole);
    tcase_add_test(tc, test_line_narrow_drops_columns);
    tcase_add_test(tc, test_line_unknown_total);
    tcase_add_test(tc, test_line_long_name_cut);
    tcase_add_test(tc, test_line_cut_name_keeps_its_end);
    tcase_add_test(tc, test_line_shared_name_column);
    tcase_add_test(tc, test_line_cut_name_keeps_marks_with_their_letters);
    tcase_add_test(tc, test_line_stalled);
    tcase_add_test(tc, test_line_long_name_keeps_a_short_bar_at_70_columns);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("frames");
    tcase_add_checked_fixture(tf, setup_pipe, teardown_pipe);
    tcase_add_test(tf, test_frames_tty);
    tcase_add_test(tf, test_frame_at_70_columns_keeps_the_bars);
    tcase_add_test(tf, test_frame_more_line_fits_a_narrow_terminal);
    tcase_add_test(tf, test_total_unknown_while_files_wait);
    tcase_add_test(tf, test_unknown_length_known_at_the_check);
    tcase_add_test(tf, test_total_known_after_a_file_fails);
    tcase_add_test(tf, test_retried_line_waits_then_goes_on);
    tcase_add_test(tf, test_retries_of_names_shown_alike_keep_their_own_lines);
    tcase_add_test(tf, test_a_renamed_line_is_found_by_its_new_name);
    tcase_add_test(tf, test_total_known_from_planned_sizes);
    tcase_add_test(tf, test_plain_mode);
    tcase_add_test(tf, test_summary_keeps_a_long_name_whole);
    tcase_add_test(tf, test_auto_not_tty_and_quiet);
    suite_add_tcase(s, tf);
    TCase *ts = tcase_create("stall"); /* waits out the five-second rate window */
    tcase_add_checked_fixture(ts, setup_pipe, teardown_pipe);
    tcase_set_timeout(ts, 30);
    tcase_add_test(ts, test_stalled_transfer_says_so);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bars_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
