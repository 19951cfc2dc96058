/* Check suite for common/progress: rate window, ETA, human sizes, durations, bars. */
#include <check.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "progress.h"

START_TEST(test_rate_constant)
{
    progress_rate r;
    progress_rate_init(&r, 1000, 0);
    /* 1 MB/s reported every 10 ms for 3 s. */
    for (long long t = 1010; t <= 4000; t += 10)
        progress_rate_update(&r, t, (uint64_t)(t - 1000) * 1000);
    double bps = progress_rate_bps(&r, 4000);
    ck_assert_double_eq_tol(bps, 1e6, 1e4);
}
END_TEST

START_TEST(test_rate_too_early)
{
    progress_rate r;
    progress_rate_init(&r, 0, 0);
    progress_rate_update(&r, 50, 100000);
    ck_assert_double_eq(progress_rate_bps(&r, 100), 0.0);
    /* After 200 ms there is an answer. */
    ck_assert_double_eq_tol(progress_rate_bps(&r, 250), 400000.0, 1.0);
}
END_TEST

START_TEST(test_rate_window_follows_change)
{
    progress_rate r;
    progress_rate_init(&r, 0, 0);
    uint64_t total = 0;
    /* 10 s at 1 MB/s, then 10 s at 4 MB/s: the window only sees the new speed. */
    for (long long t = 100; t <= 10000; t += 100) {
        total += 100000;
        progress_rate_update(&r, t, total);
    }
    for (long long t = 10100; t <= 20000; t += 100) {
        total += 400000;
        progress_rate_update(&r, t, total);
    }
    ck_assert_double_eq_tol(progress_rate_bps(&r, 20000), 4e6, 1e5);
}
END_TEST

/* A shorter window sees a change the five-second one still averages in; a longer one than
 * the samples reach is the five seconds. */
START_TEST(test_rate_within_a_shorter_window)
{
    progress_rate r;
    progress_rate_init(&r, 0, 0);
    uint64_t total = 0;
    for (long long t = 100; t <= 3000; t += 100) { /* 2 s at 4 MB/s, then 1 s at 1 MB/s */
        total += t <= 2000 ? 400000 : 100000;
        progress_rate_update(&r, t, total);
    }
    ck_assert_double_eq_tol(progress_rate_bps_within(&r, 3000, 1000), 1e6, 1e4);
    ck_assert_double_eq_tol(progress_rate_bps(&r, 3000), 3e6, 1e4);
    ck_assert_double_eq_tol(progress_rate_bps_within(&r, 3000, 60000), 3e6, 1e4);
}
END_TEST

START_TEST(test_rate_stall_decays)
{
    progress_rate r;
    progress_rate_init(&r, 0, 0);
    for (long long t = 100; t <= 5000; t += 100)
        progress_rate_update(&r, t, (uint64_t)t * 1000);
    double before = progress_rate_bps(&r, 5000);
    ck_assert_double_eq_tol(before, 1e6, 5e4);
    /* Nothing more arrives: the rate falls as time passes. */
    double later = progress_rate_bps(&r, 8000);
    ck_assert(later < before * 0.7);
    double much_later = progress_rate_bps(&r, 60000);
    ck_assert(much_later < later);
}
END_TEST

START_TEST(test_rate_resume_offset_not_counted)
{
    progress_rate r;
    progress_rate_init(&r, 0, 1000000000ULL); /* resumed at 1 GB */
    for (long long t = 100; t <= 2000; t += 100)
        progress_rate_update(&r, t, 1000000000ULL + (uint64_t)t * 500);
    ck_assert_double_eq_tol(progress_rate_bps(&r, 2000), 500000.0, 1000.0);
}
END_TEST

START_TEST(test_rate_ignores_backwards)
{
    progress_rate r;
    progress_rate_init(&r, 0, 0);
    progress_rate_update(&r, 500, 5000);
    progress_rate_update(&r, 600, 100);  /* smaller total: ignored */
    progress_rate_update(&r, 400, 9000); /* earlier time: ignored */
    ck_assert_uint_eq(r.latest, 5000);
}
END_TEST

START_TEST(test_eta)
{
    ck_assert_int_eq(progress_eta(1000, 100.0), 10);
    ck_assert_int_eq(progress_eta(1001, 100.0), 11); /* rounded up */
    ck_assert_int_eq(progress_eta(0, 100.0), 0);
    ck_assert_int_eq(progress_eta(1000, 0.0), -1);
    ck_assert_int_eq(progress_eta(1000, -5.0), -1);
    ck_assert_int_eq(progress_eta(UINT64_MAX, 1e-3), -1);
}
END_TEST

typedef struct {
    uint64_t bytes;
    const char *want;
} size_case;

static const size_case sizes[] = {
    {0, "0 B"},
    {1, "1 B"},
    {999, "999 B"},
    {1000, "0.98 KiB"},
    {1024, "1.00 KiB"},
    {1536, "1.50 KiB"},
    {10240, "10.0 KiB"},
    {102400, "100 KiB"},
    {1023 * 1024, "1.00 MiB"}, /* 1023 KiB would need four digits: the next unit */
    {1048576, "1.00 MiB"},
    {15 * 1048576ULL, "15.0 MiB"},
    {150 * 1048576ULL, "150 MiB"},
    {1073741824ULL, "1.00 GiB"},
    {5ULL << 40, "5.00 TiB"},
};

START_TEST(test_size_str)
{
    char out[32];
    const size_case *c = &sizes[_i];
    progress_size_str(c->bytes, out, sizeof(out));
    ck_assert_str_eq(out, c->want);
}
END_TEST

START_TEST(test_size_str_never_four_digits)
{
    char out[32];
    for (uint64_t b = 1000; b < (1ULL << 34); b = b * 1013 / 1000 + 7) {
        progress_size_str(b, out, sizeof(out));
        const char *sp = strchr(out, ' ');
        ck_assert_ptr_nonnull(sp);
        ck_assert_msg(sp - out <= 4, "%llu -> %s", (unsigned long long)b, out);
    }
}
END_TEST

START_TEST(test_rate_str)
{
    char out[32];
    ck_assert_str_eq(progress_rate_str(0.0, out, sizeof(out)), "0 B/s");
    ck_assert_str_eq(progress_rate_str(-3.0, out, sizeof(out)), "0 B/s");
    ck_assert_str_eq(progress_rate_str(512.0, out, sizeof(out)), "512 B/s");
    ck_assert_str_eq(progress_rate_str(3.5 * 1048576.0, out, sizeof(out)), "3.50 MiB/s");
}
END_TEST

START_TEST(test_duration_str)
{
    char out[32];
    ck_assert_str_eq(progress_duration_str(-1, out, sizeof(out)), "--:--");
    ck_assert_str_eq(progress_duration_str(0, out, sizeof(out)), "0:00");
    ck_assert_str_eq(progress_duration_str(5, out, sizeof(out)), "0:05");
    ck_assert_str_eq(progress_duration_str(754, out, sizeof(out)), "12:34");
    ck_assert_str_eq(progress_duration_str(3723, out, sizeof(out)), "1:02:03");
    ck_assert_str_eq(progress_duration_str(99L * 3600 + 59 * 60 + 59, out, sizeof(out)),
                     "99:59:59");
    ck_assert_str_eq(progress_duration_str(5L * 86400 + 3 * 3600, out, sizeof(out)), "5d 03h");
}
END_TEST

START_TEST(test_elapsed_str)
{
    char out[32];
    ck_assert_str_eq(progress_elapsed_str(0, out, sizeof(out)), "0.000 s");
    /* a small file's time is not "0.0 s" */
    ck_assert_str_eq(progress_elapsed_str(32, out, sizeof(out)), "0.032 s");
    ck_assert_str_eq(progress_elapsed_str(94, out, sizeof(out)), "0.094 s");
    ck_assert_str_eq(progress_elapsed_str(95, out, sizeof(out)), "0.1 s");
    ck_assert_str_eq(progress_elapsed_str(440, out, sizeof(out)), "0.4 s");
    ck_assert_str_eq(progress_elapsed_str(12345, out, sizeof(out)), "12.3 s");
    ck_assert_str_eq(progress_elapsed_str(125000, out, sizeof(out)), "2:05");
}
END_TEST

START_TEST(test_bar_ascii)
{
    char out[64];
    ck_assert_uint_eq(progress_bar(out, sizeof(out), 10, 0.0, PROGRESS_BAR_ASCII), 10);
    ck_assert_str_eq(out, "          ");
    progress_bar(out, sizeof(out), 10, 0.5, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "=====>    ");
    progress_bar(out, sizeof(out), 10, 1.0, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "==========");
    progress_bar(out, sizeof(out), 10, 7.0, PROGRESS_BAR_ASCII); /* clamped */
    ck_assert_str_eq(out, "==========");
    progress_bar(out, sizeof(out), 10, -1.0, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "          ");
    progress_bar(out, sizeof(out), 4, 0.01, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, ">   ");
    /* Too small a buffer: nothing written. */
    ck_assert_uint_eq(progress_bar(out, 10, 10, 0.5, PROGRESS_BAR_ASCII), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_bar_unicode)
{
    char out[64];
    /* 4 cells at 50%: two full blocks and two spaces. */
    size_t n = progress_bar(out, sizeof(out), 4, 0.5, PROGRESS_BAR_UNICODE);
    ck_assert_str_eq(out, "\u2588\u2588  ");
    ck_assert_uint_eq(n, 8);
    /* 1 cell at 50%: a half block. */
    progress_bar(out, sizeof(out), 1, 0.5, PROGRESS_BAR_UNICODE);
    ck_assert_str_eq(out, "\u258c");
    /* 2 cells at 1/16: one eighth of the first cell. */
    progress_bar(out, sizeof(out), 2, 1.0 / 16.0, PROGRESS_BAR_UNICODE);
    ck_assert_str_eq(out, "\u258f ");
    progress_bar(out, sizeof(out), 3, 1.0, PROGRESS_BAR_UNICODE);
    ck_assert_str_eq(out, "\u2588\u2588\u2588");
    ck_assert_uint_eq(progress_bar(out, 9, 3, 1.0, PROGRESS_BAR_UNICODE), 0);
}
END_TEST

START_TEST(test_bar_busy)
{
    char out[64];
    /* 10 cells: a block of 3 that moves a cell a step and bounces back from the far end. */
    ck_assert_uint_eq(progress_bar_busy(out, sizeof(out), 10, 0, PROGRESS_BAR_ASCII), 10);
    ck_assert_str_eq(out, "<=>       ");
    progress_bar_busy(out, sizeof(out), 10, 1, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, " <=>      ");
    progress_bar_busy(out, sizeof(out), 10, 7, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "       <=>");
    progress_bar_busy(out, sizeof(out), 10, 8, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "      <=> ");
    progress_bar_busy(out, sizeof(out), 10, 14, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "<=>       ");
    /* a wider bar has a wider block (a fifth), at most 12 */
    progress_bar_busy(out, sizeof(out), 20, 0, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "<==>                ");
    progress_bar_busy(out, sizeof(out), 60, 2, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "  <==========>                                              ");
    /* fewer cells than a block: the block fills them */
    progress_bar_busy(out, sizeof(out), 2, 5, PROGRESS_BAR_ASCII);
    ck_assert_str_eq(out, "<>");
    ck_assert_uint_eq(progress_bar_busy(out, sizeof(out), 4, 1, PROGRESS_BAR_UNICODE), 10);
    ck_assert_str_eq(out, " \u2588\u2588\u2588");
    ck_assert_uint_eq(progress_bar_busy(out, 10, 4, 0, PROGRESS_BAR_UNICODE), 0);
}
END_TEST

START_TEST(test_percent)
{
    ck_assert_int_eq(progress_percent(0, 100), 0);
    ck_assert_int_eq(progress_percent(50, 100), 50);
    ck_assert_int_eq(progress_percent(999, 1000), 99); /* 100 only when complete */
    ck_assert_int_eq(progress_percent(1000, 1000), 100);
    ck_assert_int_eq(progress_percent(0, 0), 100);
    ck_assert_int_eq(progress_percent(5, 3), 100);
    ck_assert_int_eq(progress_percent(UINT64_MAX / 2, UINT64_MAX), 50);
}
END_TEST

START_TEST(test_sanitize_marks_controls_and_cuts_whole_characters)
{
    char out[8];
    progress_sanitize(out, sizeof(out), "a\x1b[2J\r\n");
    ck_assert_str_eq(out, "a?[2J??");
    /* "ab" then three 3-byte characters: room for 7 bytes keeps only the first whole one */
    progress_sanitize(out, sizeof(out), "ab\xe6\x96\x87\xe6\x96\x87\xe6\x96\x87");
    ck_assert_str_eq(out, "ab\xe6\x96\x87");
    ck_assert_uint_eq(progress_cells("ab\xe6\x96\x87"), 4);
    size_t used;
    ck_assert_uint_eq(progress_fit_prefix("ab\xe6\x96\x87z", 3, &used), 2);
    ck_assert_uint_eq(used, 2);
}
END_TEST

START_TEST(test_sanitize_marks_what_a_terminal_would_act_on)
{
    char out[64];
    /* U+009B, CSI to xterm even in UTF-8, as a C1 control in UTF-8 and as a lone byte */
    progress_sanitize(out, sizeof(out),
                      "a\xc2\x9b"
                      "31mb\x9b"
                      "1mc");
    ck_assert_str_eq(out, "a?31mb?1mc");
    /* bytes that are not well-formed UTF-8: one mark each, whatever a terminal would show */
    progress_sanitize(out, sizeof(out), "x\xff\xfe\xc3(\xe6\x96y\xc0\xafz\xed\xa0\x80.");
    ck_assert_str_eq(out, "x???"
                          "(??y??z???.");
    /* bidirectional overrides and isolates, line and paragraph separators */
    progress_sanitize(out, sizeof(out),
                      "r\xe2\x80\xae"
                      "gnp.exe\xe2\x81\xa6\xe2\x80\xa8");
    ck_assert_str_eq(out, "r?gnp.exe??");
    /* what a terminal shows stays: wide, combining, emoji, the replacement character */
    const char *fine = "\xe6\x96\x87"
                       "e\xcc\x81\xf0\x9f\x98\x80\xef\xbf\xbd";
    progress_sanitize(out, sizeof(out), fine);
    ck_assert_str_eq(out, fine);
    /* in place */
    char buf[16] = "ok\xc2\x85\xff"
                   "end";
    progress_sanitize(buf, sizeof(buf), buf);
    ck_assert_str_eq(buf, "ok??end");
}
END_TEST

/* The suite runs in the C locale, as ftpd and a container's shell do: a UTF-8 terminal
 * still shows a combining mark in no cell and U+FFFD in one. */
START_TEST(test_cells_under_the_c_locale)
{
    locale_t probe = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (probe == (locale_t)0)
        return; /* no UTF-8 locale to ask: the guesses stand */
    freelocale(probe);
    ck_assert_uint_eq(progress_cells("e\xcc\x81"), 1);
    ck_assert_uint_eq(progress_cells("\xef\xbf\xbd"), 1);
    ck_assert_uint_eq(progress_cells("\xe6\x96\x87"), 2);
    ck_assert_uint_eq(progress_cells("\xc3\xa9"), 1);
    ck_assert_uint_eq(progress_cells("a\xe2\x80\x8b"
                                     "b"),
                      2); /* zero width space */
}
END_TEST

/* ftpd's recovery thread logs while the main thread draws the live view, and ftpc's shell
 * jobs print while the bars draw: the first widths asked for may come from two threads at
 * once, and each must get C.UTF-8's answer, not the guess meant for a system without it.
 * Each run of the loop is a fresh process (Check forks), so the first call is a first. */
enum { RACERS = 8 };
static pthread_barrier_t racers_ready;

static void *ask_width_of_combining_mark(void *arg)
{
    pthread_barrier_wait(&racers_ready);
    *(size_t *)arg = progress_cells("e\xcc\x81");
    return NULL;
}

START_TEST(test_cells_first_asked_from_threads_at_once)
{
    locale_t probe = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (probe == (locale_t)0)
        return;
    freelocale(probe);
    pthread_t th[RACERS];
    size_t cells[RACERS];
    ck_assert_int_eq(pthread_barrier_init(&racers_ready, NULL, RACERS), 0);
    for (int i = 0; i < RACERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, ask_width_of_combining_mark, &cells[i]), 0);
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&racers_ready);
    for (int i = 0; i < RACERS; i++)
        ck_assert_uint_eq(cells[i], 1);
}
END_TEST

/* Live bars redrawn after a narrowing go up by these rows: each must be where the terminal
 * puts the text, or a row of the old frame stays on the screen. */
START_TEST(test_text_rows_as_the_terminal_lays_them_out)
{
    const char *wide5 = "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad";
    bool margin;
    /* Ten cells at 5 columns: two fit a row, the third goes whole to the next. */
    ck_assert_uint_eq(progress_text_rows(wide5, strlen(wide5), 5, &margin), 3);
    ck_assert(!margin);
    ck_assert_uint_eq(progress_text_rows(wide5, strlen(wide5), 10, &margin), 1);
    ck_assert(margin);
    /* Colour and clear-line sequences take no cell. */
    const char *coloured = "\x1b[2K\x1b[1;32mabcde\x1b[0m";
    ck_assert_uint_eq(progress_text_rows(coloured, strlen(coloured), 5, &margin), 1);
    ck_assert(margin);
    ck_assert_uint_eq(progress_text_rows(coloured, strlen(coloured), 4, NULL), 2);
    /* A tab moves to its stop and never wraps; an empty line is one row. */
    ck_assert_uint_eq(progress_text_rows("a\tb", 3, 8, NULL), 1);
    ck_assert_uint_eq(progress_text_rows("a\tbcdefgh", 9, 8, NULL), 2);
    ck_assert_uint_eq(progress_text_rows("", 0, 8, &margin), 1);
    ck_assert(!margin);
}
END_TEST

static Suite *progress_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rate_constant);
    tcase_add_test(tc, test_sanitize_marks_controls_and_cuts_whole_characters);
    tcase_add_test(tc, test_sanitize_marks_what_a_terminal_would_act_on);
    tcase_add_test(tc, test_cells_under_the_c_locale);
    tcase_add_test(tc, test_text_rows_as_the_terminal_lays_them_out);
    tcase_add_loop_test(tc, test_cells_first_asked_from_threads_at_once, 0, 20);
    tcase_add_test(tc, test_rate_too_early);
    tcase_add_test(tc, test_rate_window_follows_change);
    tcase_add_test(tc, test_rate_within_a_shorter_window);
    tcase_add_test(tc, test_rate_stall_decays);
    tcase_add_test(tc, test_rate_resume_offset_not_counted);
    tcase_add_test(tc, test_rate_ignores_backwards);
    tcase_add_test(tc, test_eta);
    tcase_add_loop_test(tc, test_size_str, 0, (int)(sizeof(sizes) / sizeof(sizes[0])));
    tcase_add_test(tc, test_size_str_never_four_digits);
    tcase_add_test(tc, test_rate_str);
    tcase_add_test(tc, test_duration_str);
    tcase_add_test(tc, test_elapsed_str);
    tcase_add_test(tc, test_bar_ascii);
    tcase_add_test(tc, test_bar_unicode);
    tcase_add_test(tc, test_bar_busy);
    tcase_add_test(tc, test_percent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(progress_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
