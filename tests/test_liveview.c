/* Check suite for ftpd/liveview's lines: what a transfer's line and the total line say, and
 * that no line is ever wider than the terminal (a wrapped line would break the redraw). */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "liveview.h"
#include "progress.h"

#define MiB (1024LL * 1024)

static char line[4096];

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static size_t format(int width, const liveview_item *it)
{
    size_t n = liveview_format_item(line, sizeof line, width, it);
    ck_assert_uint_eq(n, strlen(line));
    ck_assert_uint_le(progress_cells(line), (size_t)width - 1);
    return n;
}

START_TEST(test_download_line)
{
    liveview_item it = {7,     "alice", "RETR", "/pub/big.iso", 512 * MiB, 1024 * MiB, 100.0 * MiB,
                        false, 0,       0,      false,          0,         false,      false};
    format(100, &it);
    ck_assert_ptr_eq(strstr(line, "[7] alice RETR /pub/big.iso "), line);
    ck_assert_ptr_nonnull(strstr(line, " 50% ["));
    ck_assert_ptr_nonnull(strstr(line, "]  512 MiB/1.00 GiB  100 MiB/s ETA 0:06"));
    /* the path is padded so the columns of several lines line up: the fields after it fill
     * the line but for the ETA field's one trailing blank */
    ck_assert_uint_eq(strlen(line), 98);
    /* at 80 columns the path keeps its room and the bar goes */
    format(80, &it);
    ck_assert_ptr_eq(strstr(line, "[7] alice RETR /pub/big.iso "), line);
    ck_assert_ptr_null(strstr(line, "% ["));
    ck_assert(ends_with(line, " 50%  512 MiB/1.00 GiB  100 MiB/s ETA 0:06"));
}
END_TEST

START_TEST(test_resumed_download_line)
{
    /* REST 768 MiB of a 1 GiB file: its place in the file, as the client's bar shows it,
     * not "0% 1.00 MiB/256 MiB"; the time left is that of the bytes left */
    liveview_item it = {7,     "alice", "RETR", "/pub/big.iso", 1 * MiB,   256 * MiB, 100.0 * MiB,
                        false, 0,       0,      false,          768 * MiB, false,     false};
    format(80, &it);
    ck_assert_msg(ends_with(line, " 75%  769 MiB/1.00 GiB  100 MiB/s ETA 0:03"), "%s", line);
    /* no data connection yet: nothing to say of where it stands */
    it.connecting = true;
    format(80, &it);
    ck_assert_msg(strstr(line, "769 MiB") == NULL && strstr(line, "%") == NULL, "%s", line);
}
END_TEST

START_TEST(test_long_path_keeps_its_file_name)
{
    char path[300];
    memset(path, 'd', 250);
    strcpy(path + 250, "/final-name.bin");
    liveview_item it = {12,    "bob", "STOR", path,  3 * MiB, -1,    2.0 * MiB,
                        false, 0,     0,      false, 0,       false, false};
    format(80, &it);
    ck_assert_ptr_nonnull(strstr(line, "[12] bob STOR ..."));
    /* an upload's size is not known: no percent, an empty bar, no ETA */
    ck_assert_ptr_nonnull(strstr(line, "final-name.bin   --          3.00 MiB"));
    ck_assert(ends_with(line, " 3.00 MiB 2.00 MiB/s"));
    ck_assert_ptr_null(strchr(line, '%'));
    ck_assert_ptr_null(strstr(line, "ETA"));
}
END_TEST

/* A path longer than the view keeps of it (PATH_VMAX is 4096 bytes): its file name still
 * shows, not a middle part of the folders before it. */
START_TEST(test_very_long_path_keeps_its_file_name)
{
    char path[4096];
    for (size_t i = 0; i < 4000; i++)
        path[i] = i % 200 == 0 ? '/' : 'a' + (char)(i / 200 % 26);
    strcpy(path + 4000, "/final-name.bin");
    liveview_item it = {12,    "bob", "STOR", path,  3 * MiB, -1,    2.0 * MiB,
                        false, 0,     0,      false, 0,       false, false};
    format(80, &it);
    ck_assert_msg(strstr(line, "final-name.bin   --") != NULL, "%s", line);
    /* a multibyte character where the cut falls is not halved */
    for (size_t i = 0; i + 1 < 4000; i += 2)
        memcpy(path + i, "\xc3\xa9", 2);
    format(80, &it);
    ck_assert_msg(strstr(line, "\xc3\xa9/final-name.bin   --") != NULL, "%s", line);
    ck_assert_ptr_null(strchr(line, '?'));
}
END_TEST

/* An upload's size is not known: its bar holds a block whose place is busy_phase, not an
 * empty bar that would read as nothing received. */
START_TEST(test_upload_bar_moves)
{
    liveview_item it = {6,     "erin", "STOR", "/up.bin", 3 * MiB, -1,    2.0 * MiB,
                        false, 0,      0,      false,     0,       false, false};
    format(140, &it);
    ck_assert_msg(strstr(line, "   -- [<=>          ]") != NULL, "%s", line);
    it.busy_phase = 2;
    format(140, &it);
    ck_assert_msg(strstr(line, "   -- [  <=>        ]") != NULL, "%s", line);
}
END_TEST

/* Lines of one frame keep or drop the same columns, so that they line up: "[10]" is one cell
 * wider than "[9]", and on its own its line would have lost the bar the other keeps. */
START_TEST(test_lines_of_a_frame_line_up)
{
    liveview_item a = {9,     "demo",  "RETR",    "/incoming/load/ftpc-stress-1-f4.dat",
                       MiB,   2 * MiB, 2.0 * MiB, false,
                       0,     0,       false,     0,
                       false, false};
    liveview_item b = a;
    b.id = 10;
    char la[4096];
    int width = 0;
    for (int w = 60; w <= 120 && width == 0; w++) { /* a width where the two differ alone */
        format(w, &a);
        strcpy(la, line);
        format(w, &b);
        if ((strstr(la, "% [") != NULL) != (strstr(line, "% [") != NULL))
            width = w;
    }
    ck_assert_int_gt(width, 0);
    size_t frame = liveview_left_cells(&b);
    ck_assert_uint_eq(frame, liveview_left_cells(&a) + 1);
    a.left_cells = b.left_cells = frame;
    format(width, &a);
    strcpy(la, line);
    format(width, &b);
    ck_assert_int_eq(strstr(la, "% [") != NULL, strstr(line, "% [") != NULL);
    /* the same columns, right-aligned to the same end: the rates end at the same place */
    ck_assert_int_eq((int)(strstr(la, "MiB/s") - la), (int)(strstr(line, "MiB/s") - line));
}
END_TEST

START_TEST(test_control_characters_shown_as_marks)
{
    liveview_item it = {3, "ev\x1b[2Jil", "RETR", "/a\r\nb\x07.bin", 10, 100, 0, false, 0, 0, false,
                        0, false,         false};
    format(80, &it);
    for (const char *p = line; *p; p++)
        ck_assert_int_ge((unsigned char)*p, 0x20);
    ck_assert_ptr_nonnull(strstr(line, "ev?[2Jil RETR /a??b?.bin"));
}
END_TEST

START_TEST(test_narrow_terminal_drops_the_bar_first)
{
    liveview_item it = {1,     "anonymous", "RETR", "/pub/file.bin", 25 * MiB, 100 * MiB, 5.0 * MiB,
                        false, 0,           0,      false,           0,        false,     false};
    format(90, &it);
    ck_assert_ptr_null(strstr(line, "% ["));
    ck_assert_ptr_nonnull(strstr(line, " 25%  25.0 MiB/100 MiB 5.00 MiB/s ETA 0:15"));
    format(60, &it); /* then the sizes and the ETA */
    ck_assert_ptr_nonnull(strstr(line, "RETR /pub/file.bin "));
    ck_assert_ptr_nonnull(strstr(line, " 25% 5.00 MiB/s"));
    ck_assert_ptr_null(strstr(line, "ETA"));
    format(21, &it);
    ck_assert_ptr_nonnull(strstr(line, "[1] anonymous RETR"));
}
END_TEST

/* However narrow the terminal, a line drops whole fields: a rate cut to "2.0" or a percent
 * to "4" would misread. */
static void assert_whole(const char *part, const char *field, int width)
{
    ck_assert_msg(strstr(line, part) == NULL || strstr(line, field) != NULL,
                  "%d columns: '%s' has part of '%s'", width, line, field);
}

START_TEST(test_narrow_terminal_never_cuts_a_field)
{
    liveview_item down = {
        5, "alice", "RETR", "/mir/large.bin", 8 * MiB, 20 * MiB, 2.0 * MiB, false, 0, 0, false,
        0, false,   false};
    liveview_item up = {6,     "alice", "STOR", "/up/large.bin", 8 * MiB, -1,    2.0 * MiB,
                        false, 0,       0,      false,           0,       false, false};
    for (int width = 20; width <= 120; width++) {
        format(width, &down);
        assert_whole(" 4", " 40%", width);
        assert_whole(" 2.", " 2.00 MiB/s", width);
        assert_whole(" 8.", " 8.00 MiB/20.0 MiB", width);
        assert_whole(" ET", " ETA 0:06", width);
        assert_whole(" ...", "e.bin", width); /* a path is shown in 8 cells or more */
        /* ...but keeps the percent and the rate wherever they fit beside "[5] alice RETR" */
        ck_assert_msg(width < 32 || (strstr(line, " 40%") && strstr(line, " 2.00 MiB/s")),
                      "%d: '%s'", width, line);
        format(width, &up);
        assert_whole(" 2.", " 2.00 MiB/s", width);
        assert_whole(" 8.", " 8.00 MiB", width);
        ck_assert_msg(width < 27 || strstr(line, " 2.00 MiB/s"), "%d: '%s'", width, line);
    }
}
END_TEST

START_TEST(test_waiting_download_says_so)
{
    liveview_item it = {4,    "carol", "RETR", "/x.bin", 0, 10 * MiB, 0,
                        true, 0,       0,      false,    0, false,    false};
    format(100, &it);
    ck_assert(ends_with(line, " queued"));
    ck_assert_ptr_null(strstr(line, "ETA"));
}
END_TEST

/* As ftpc's bars: a transfer that has moved nothing for the whole rate window says so, with
 * no ETA, and one too young for a rate shows none; both read "0 B/s" before. */
START_TEST(test_stalled_and_new_transfers_say_so)
{
    liveview_item it = {4,     "carol", "RETR", "/x.bin", 2 * MiB, 10 * MiB, 0.0,
                        false, 0,       0,      false,    0,       true,     false};
    format(100, &it);
    ck_assert_msg(strstr(line, " stalled ETA --:--") != NULL, "%s", line);
    ck_assert_ptr_null(strstr(line, "B/s"));
    it.stalled = false;
    it.measuring = true;
    it.done = 64 * 1024;
    format(100, &it);
    ck_assert_msg(strstr(line, " -- ETA --:--") != NULL, "%s", line);
    ck_assert_ptr_null(strstr(line, "B/s"));
}
END_TEST

START_TEST(test_transfer_waiting_for_its_data_connection_says_so)
{
    /* The command came, its data connection has not: nothing moved, and the size to move
     * is not set yet (0), which read as "100% [=====] 0 B/0 B ETA 0:00", a transfer done. */
    liveview_item it = {5, "dave", "RETR", "/big.bin", 0, 0, 0, false, 0, 0, true, 0, false, false};
    for (int width = 100; width >= 20; width -= 20) {
        format(width, &it);
        ck_assert_ptr_null(strchr(line, '%'));
        ck_assert_ptr_null(strstr(line, "ETA"));
        ck_assert_ptr_null(strchr(line, '='));
        if (width >= 60)
            ck_assert(ends_with(line, " connecting"));
    }
    format(100, &it);
    const char *bar = strstr(line, " [");
    ck_assert_ptr_nonnull(bar);
    ck_assert_uint_eq(strspn(bar + 2, " "), strcspn(bar + 2, "]")); /* empty */
    ck_assert_msg(strstr(line, " -- [") != NULL, "%s", line);
    it.verb = "STOR";
    it.expect = -1;
    format(100, &it);
    ck_assert(ends_with(line, " connecting"));
    ck_assert_ptr_null(strchr(line, '='));
}
END_TEST

START_TEST(test_wide_characters_counted_as_two_cells)
{
    /* 40 CJK characters take 80 cells: the path must be cut, the line stay within 79 */
    char path[200] = "/";
    for (int i = 0; i < 40; i++)
        strcat(path, "\xe6\x96\x87");
    liveview_item it = {5, "dave", "RETR", path, 1, 2, 1, false, 0, 0, false, 0, false, false};
    format(80, &it);
    ck_assert_ptr_nonnull(strstr(line, "..."));
}
END_TEST

START_TEST(test_totals_line)
{
    liveview_totals t = {.sessions = 1,
                         .transfers = 3,
                         .shown = 2,
                         .in_bps = 2.0 * MiB,
                         .out_bps = 1536.0 * MiB,
                         .done = 42};
    size_t n = liveview_format_totals(line, sizeof line, 120, &t);
    ck_assert_uint_eq(n, strlen(line));
    ck_assert_str_eq(line, "ftpd: 1 session, 3 transfers (in 2.00 MiB/s, out 1.50 GiB/s), 42 done; "
                           "2 shown");
    liveview_totals one = {.sessions = 2, .transfers = 1, .shown = 1};
    liveview_format_totals(line, sizeof line, 120, &one);
    ck_assert_str_eq(line, "ftpd: 2 sessions, 1 transfer (in 0 B/s, out 0 B/s), 0 done");
    liveview_format_totals(line, sizeof line, 30, &t);
    ck_assert_str_eq(line, "ftpd: 1 session, 3 transfers");
    /* a transfer that ended in 426 or 451 is not "done" */
    liveview_totals cut = {.sessions = 1, .transfers = 0, .shown = 0, .done = 2, .failed = 3};
    liveview_format_totals(line, sizeof line, 120, &cut);
    ck_assert_str_eq(line, "ftpd: 1 session, 0 transfers (in 0 B/s, out 0 B/s), 2 done, 3 failed");
    /* one its client ended with ABOR (a segmented download's range) is neither */
    liveview_totals abor = {.sessions = 1, .done = 1, .aborted = 3};
    liveview_format_totals(line, sizeof line, 120, &abor);
    ck_assert_str_eq(line, "ftpd: 1 session, 0 transfers (in 0 B/s, out 0 B/s), 1 done, 3 aborted");
    abor.failed = 2;
    liveview_format_totals(line, sizeof line, 120, &abor);
    ck_assert_str_eq(line, "ftpd: 1 session, 0 transfers (in 0 B/s, out 0 B/s), 1 done, 3 aborted, "
                           "2 failed");
}
END_TEST

/* A narrow terminal drops whole parts of the total line, never half a rate or a word. */
START_TEST(test_totals_line_narrow)
{
    liveview_totals t = {.sessions = 3,
                         .transfers = 3,
                         .shown = 2,
                         .in_bps = 19.6 * MiB,
                         .out_bps = 121.0 * MiB,
                         .done = 1};
    liveview_format_totals(line, sizeof line, 80, &t);
    ck_assert_str_eq(
        line, "ftpd: 3 sessions, 3 transfers (in 19.6 MiB/s, out 121 MiB/s), 1 done; 2 shown");
    liveview_format_totals(line, sizeof line, 75, &t);
    ck_assert_str_eq(line, "ftpd: 3 sessions, 3 transfers (in 19.6 MiB/s, out 121 MiB/s); 2 shown");
    liveview_format_totals(line, sizeof line, 65, &t);
    ck_assert_str_eq(line, "ftpd: 3 sessions, 3 transfers (in 19.6 MiB/s, out 121 MiB/s)");
    liveview_format_totals(line, sizeof line, 60, &t);
    ck_assert_str_eq(line, "ftpd: 3 sessions, 3 transfers");
    liveview_format_totals(line, sizeof line, 25, &t); /* then the counts alone, then cut */
    ck_assert_str_eq(line, "3 sessions, 3 transfers");
    liveview_format_totals(line, sizeof line, 21, &t);
    ck_assert_uint_eq(strlen(line), 20);
}
END_TEST

static Suite *liveview_suite(void)
{
    Suite *s = suite_create("liveview");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, test_download_line);
    tcase_add_test(tc, test_resumed_download_line);
    tcase_add_test(tc, test_long_path_keeps_its_file_name);
    tcase_add_test(tc, test_very_long_path_keeps_its_file_name);
    tcase_add_test(tc, test_upload_bar_moves);
    tcase_add_test(tc, test_control_characters_shown_as_marks);
    tcase_add_test(tc, test_lines_of_a_frame_line_up);
    tcase_add_test(tc, test_narrow_terminal_drops_the_bar_first);
    tcase_add_test(tc, test_narrow_terminal_never_cuts_a_field);
    tcase_add_test(tc, test_waiting_download_says_so);
    tcase_add_test(tc, test_stalled_and_new_transfers_say_so);
    tcase_add_test(tc, test_transfer_waiting_for_its_data_connection_says_so);
    tcase_add_test(tc, test_wide_characters_counted_as_two_cells);
    tcase_add_test(tc, test_totals_line);
    tcase_add_test(tc, test_totals_line_narrow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(liveview_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
