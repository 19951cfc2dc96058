/* Check suite for ftpc/segstate: the status file of a segmented download, written and read
 * back, and every malformed file refused with its reason. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segstate.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_segstate_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/.f.ftpc-seg.state", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void write_text(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The reason load gives for text, or NULL when it loads. */
static const char *refusal(const char *text)
{
    static char why[200];
    static ftpc_segstate st;
    write_text(text);
    why[0] = '\0';
    int rc = ftpc_segstate_load(path, &st, why, sizeof(why));
    if (rc == 0)
        return NULL;
    ck_assert_int_eq(rc, -2);
    ck_assert_str_ne(why, "");
    return why;
}

static ftpc_segstate *sample(void)
{
    ftpc_segstate *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    ftpc_segstate_set_url(st, "ftp://host/dir/na me%20100%\n.bin");
    st->size = 1000;
    snprintf(st->mdtm, sizeof(st->mdtm), "20261206121000");
    st->n = 3;
    st->r[0] = (ftpc_segrange){0, 300, 120};
    st->r[1] = (ftpc_segrange){300, 600, 300};
    st->r[2] = (ftpc_segrange){600, 1000, 1000};
    return st;
}

START_TEST(test_round_trip)
{
    ftpc_segstate *st = sample();
    ck_assert_int_eq(ftpc_segstate_save(path, st), 0);
    ftpc_segstate *back = calloc(1, sizeof(*back));
    char why[200] = "";
    ck_assert_int_eq(ftpc_segstate_load(path, back, why, sizeof(why)), 0);
    ck_assert_str_eq(back->url, st->url);
    ck_assert_int_eq(back->size, 1000);
    ck_assert_str_eq(back->mdtm, "20261206121000");
    ck_assert_int_eq(back->n, 3);
    ck_assert_mem_eq(back->r, st->r, sizeof(st->r[0]) * 3);
    /* written through a temporary name that does not stay behind */
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    free(back);
    free(st);
}
END_TEST

START_TEST(test_url_escaped_to_one_line)
{
    ftpc_segstate st;
    ftpc_segstate_set_url(&st, "ftp://h/a b%c\r\nd\x7f");
    ck_assert_str_eq(st.url, "ftp://h/a%20b%25c%0D%0Ad%7F");
    /* a URL longer than the field is cut, never overrun */
    char *huge = malloc(FTPC_SEGSTATE_URL_MAX * 2);
    memset(huge, ' ', FTPC_SEGSTATE_URL_MAX * 2 - 1);
    huge[FTPC_SEGSTATE_URL_MAX * 2 - 1] = '\0';
    ftpc_segstate_set_url(&st, huge);
    ck_assert_uint_lt(strlen(st.url), FTPC_SEGSTATE_URL_MAX);
    free(huge);
}
END_TEST

START_TEST(test_unknown_mdtm_round_trips_as_empty)
{
    ftpc_segstate *st = sample();
    st->mdtm[0] = '\0';
    ck_assert_int_eq(ftpc_segstate_save(path, st), 0);
    ftpc_segstate *back = calloc(1, sizeof(*back));
    char why[200];
    ck_assert_int_eq(ftpc_segstate_load(path, back, why, sizeof(why)), 0);
    ck_assert_str_eq(back->mdtm, "");
    free(back);
    free(st);
}
END_TEST

START_TEST(test_missing_file)
{
    ftpc_segstate st;
    char why[200];
    errno = 0;
    ck_assert_int_eq(ftpc_segstate_load(path, &st, why, sizeof(why)), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_save_into_missing_directory_fails)
{
    ftpc_segstate *st = sample();
    char bad[200];
    snprintf(bad, sizeof(bad), "%s/no/such/.f.ftpc-seg.state", dir);
    errno = 0;
    ck_assert_int_eq(ftpc_segstate_save(bad, st), -1);
    ck_assert_int_eq(errno, ENOENT);
    free(st);
}
END_TEST

#define HEAD "ftpc-seg-state 1\nurl ftp://h/f\nsize 100\nmdtm -\n"

START_TEST(test_well_formed_minimum)
{
    ck_assert_ptr_null(refusal(HEAD "range 0 50 0\nrange 50 100 100\n"));
    /* lines in another order are still understood */
    ck_assert_ptr_null(
        refusal("ftpc-seg-state 1\nrange 0 50 7\nmdtm -\nrange 50 100 60\nsize 100\nurl u\n"));
}
END_TEST

START_TEST(test_malformed_files_refused)
{
    static const char *const bad[] = {
        "",
        "ftpc-seg-state 2\n",
        "ftpc-seg-state 1",
        HEAD "range 0 50 0\nrange 50 100 100",  /* last line cut off */
        HEAD "range 0 100 0\n",                 /* a single range */
        HEAD "range 0 50 0\nrange 60 100 60\n", /* a gap */
        HEAD "range 0 50 0\nrange 40 100 40\n", /* an overlap */
        HEAD "range 0 50 51\nrange 50 100 50\n",
        HEAD "range 10 50 10\nrange 50 100 50\n",
        HEAD "range 0 50 0\nrange 50 90 50\n", /* short of the size */
        HEAD "range 0 50 0\nrange 50 100 x\n",
        HEAD "range 0 50 0\nrange 50 100 50 7\n",
        HEAD "range 0 50 0\nrange 50 100 50\nsize 100\n", /* twice */
        HEAD "url other\nrange 0 50 0\nrange 50 100 50\n",
        HEAD "range 0 50 0\nrange 50 100 50\nmore\n",
        "ftpc-seg-state 1\nurl u\nsize -5\nmdtm -\nrange 0 0 0\nrange 0 0 0\n",
        "ftpc-seg-state 1\nurl u\nmdtm -\nrange 0 50 0\nrange 50 100 50\n",    /* no size */
        "ftpc-seg-state 1\nsize 100\nmdtm -\nrange 0 50 0\nrange 50 100 50\n", /* no url */
        "ftpc-seg-state 1\nurl u\nsize 100\nrange 0 50 0\nrange 50 100 50\n",  /* no mdtm */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(refusal(bad[i]) != NULL, "accepted case %zu", i);
}
END_TEST

START_TEST(test_range_count_bounded)
{
    /* one range more than the table holds is refused, not written past its end */
    char text[4096];
    int k = snprintf(text, sizeof(text), "ftpc-seg-state 1\nurl u\nsize %d\nmdtm -\n",
                     FTPC_SEGSTATE_RANGES_MAX + 1);
    for (int i = 0; i <= FTPC_SEGSTATE_RANGES_MAX; i++)
        k += snprintf(text + k, sizeof(text) - (size_t)k, "range %d %d %d\n", i, i + 1, i);
    ck_assert_ptr_nonnull(refusal(text));
}
END_TEST

START_TEST(test_overlong_line_refused)
{
    size_t n = FTPC_SEGSTATE_URL_MAX + 100;
    char *text = malloc(n + 200);
    int k = snprintf(text, n + 200, "ftpc-seg-state 1\nurl ");
    memset(text + k, 'u', n);
    snprintf(text + k + n, 200, "\nsize 100\nmdtm -\nrange 0 50 0\nrange 50 100 50\n");
    ck_assert_ptr_nonnull(refusal(text));
    free(text);
}
END_TEST

/* A full disk has no room for the temporary file: the next state of the same download
 * goes over the last in place, and only one of the same length does. */
START_TEST(test_overwrite_in_place)
{
    ftpc_segstate *st = sample();
    st->r[0].pos = 0;
    ck_assert_int_eq(ftpc_segstate_save(path, st), 0);
    st->r[0].pos = 299; /* more digits: still the same length */
    ck_assert_int_eq(ftpc_segstate_overwrite(path, st), 0);
    ftpc_segstate *back = calloc(1, sizeof(*back));
    char why[200] = "";
    ck_assert_int_eq(ftpc_segstate_load(path, back, why, sizeof(why)), 0);
    ck_assert_uint_eq(back->r[0].pos, 299);
    /* another download's state (another length) is not written over it */
    ftpc_segstate_set_url(st, "ftp://host/other");
    st->r[0].pos = 5;
    errno = 0;
    ck_assert_int_eq(ftpc_segstate_overwrite(path, st), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(ftpc_segstate_load(path, back, why, sizeof(why)), 0);
    ck_assert_uint_eq(back->r[0].pos, 299);
    /* nor is a missing file made */
    unlink(path);
    ck_assert_int_eq(ftpc_segstate_overwrite(path, st), -1);
    ck_assert_int_eq(errno, ENOENT);
    free(back);
    free(st);
}
END_TEST

static Suite *segstate_suite(void)
{
    Suite *s = suite_create("ftpc_segstate");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_url_escaped_to_one_line);
    tcase_add_test(tc, test_unknown_mdtm_round_trips_as_empty);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_save_into_missing_directory_fails);
    tcase_add_test(tc, test_well_formed_minimum);
    tcase_add_test(tc, test_malformed_files_refused);
    tcase_add_test(tc, test_range_count_bounded);
    tcase_add_test(tc, test_overlong_line_refused);
    tcase_add_test(tc, test_overwrite_in_place);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(segstate_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
