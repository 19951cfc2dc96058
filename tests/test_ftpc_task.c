/* Check suite for ftpc/task.c: a task's strings are its own, sized to fit, and a task stays
 * small, as a mirror or a glob plans one per file before the first transfer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

START_TEST(test_new_task_has_empty_strings)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_GET);
    ck_assert_int_eq(t.kind, FTPC_T_GET);
    ck_assert_str_eq(t.display, "");
    ck_assert_str_eq(t.remote, "");
    ck_assert_str_eq(t.local, "");
    ck_assert_str_eq(t.arg, "");
    ck_assert_str_eq(t.held_note, "");
    ck_assert_str_eq(t.src_sha256, "");
    ck_assert_ptr_null(t.listing);
    ftpc_task_release(&t); /* nothing to free: no crash, no leak */
    ck_assert_str_eq(t.remote, "");
}
END_TEST

START_TEST(test_set_copies_and_replaces)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_PUT);
    char name[] = "a/b.txt";
    char *copy = ftpc_task_set(&t.remote, name);
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_eq(copy, t.remote);
    name[0] = 'x'; /* the task's copy does not follow the caller's buffer */
    ck_assert_str_eq(t.remote, "a/b.txt");
    /* replaced by a part of itself (the source is read before the old string goes) */
    ck_assert_ptr_nonnull(ftpc_task_set(&t.remote, t.remote + 2));
    ck_assert_str_eq(t.remote, "b.txt");
    ck_assert_ptr_nonnull(ftpc_task_set(&t.local, "-"));
    ck_assert(ftpc_task_stdin(&t));
    ck_assert_str_eq(ftpc_task_src_name(&t), "standard input");
    ck_assert_ptr_nonnull(ftpc_task_set(&t.held_note, "verified sha256"));
    ftpc_task_unset(&t.held_note);
    ck_assert_str_eq(t.held_note, "");
    ck_assert_ptr_nonnull(ftpc_task_set(&t.src_sha256, "e3b0c442"));
    t.listing = strdup("listing");
    ftpc_task_release(&t);
    ck_assert_str_eq(t.remote, "");
    ck_assert_str_eq(t.local, "");
    ck_assert_ptr_null(t.listing);
}
END_TEST

START_TEST(test_strip_slashes_keeps_a_lone_slash)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_RM);
    ftpc_task_strip_slashes(&t.remote); /* unset: nothing to change */
    ck_assert_str_eq(t.remote, "");
    ftpc_task_set(&t.remote, "dir///");
    ftpc_task_strip_slashes(&t.remote);
    ck_assert_str_eq(t.remote, "dir");
    ftpc_task_set(&t.remote, "///");
    ftpc_task_strip_slashes(&t.remote);
    ck_assert_str_eq(t.remote, "/");
    ftpc_task_release(&t);
}
END_TEST

START_TEST(test_into_dir_adds_the_name)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_PUT);
    ftpc_task_set(&t.remote, "up/dir");
    ftpc_task_set(&t.display, "ftp://h/up/dir");
    ftpc_task_set(&t.local, "src/f.bin");
    ck_assert_int_eq(ftpc_task_into_dir(&t, ftpc_task_name(&t)), 0);
    ck_assert_str_eq(t.remote, "up/dir/f.bin");
    ck_assert_str_eq(t.display, "ftp://h/up/dir/f.bin");
    ftpc_task_release(&t);

    /* From standard input the name is the target's own, a part of t.remote. */
    ftpc_task_init(&t, FTPC_T_PUT);
    ftpc_task_set(&t.remote, "up/x");
    ftpc_task_set(&t.local, "-");
    ck_assert_int_eq(ftpc_task_into_dir(&t, ftpc_task_name(&t)), 0);
    ck_assert_str_eq(t.remote, "up/x/x");
    ck_assert_str_eq(t.display, "/x"); /* "" had room for it */
    ftpc_task_release(&t);
}
END_TEST

START_TEST(test_into_dir_display_is_cut_as_before)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_PUT);
    char *shown = malloc(FTPC_TASK_DISPLAY_MAX);
    ck_assert_ptr_nonnull(shown);
    memset(shown, 'd', FTPC_TASK_DISPLAY_MAX - 3);
    shown[FTPC_TASK_DISPLAY_MAX - 3] = '\0';
    ftpc_task_set(&t.display, shown);
    ftpc_task_set(&t.remote, "d");
    ftpc_task_set(&t.local, "ab");
    /* "/ab" does not fit the display: it stays as it was; the path gets it. */
    ck_assert_int_eq(ftpc_task_into_dir(&t, "ab"), 0);
    ck_assert_str_eq(t.remote, "d/ab");
    ck_assert_str_eq(t.display, shown);
    free(shown);
    ftpc_task_release(&t);
}
END_TEST

START_TEST(test_err_message_is_the_tasks_own)
{
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_GET);
    ck_assert_int_eq(t.err.status, 0);
    ck_assert_str_eq(t.err.msg, "");
    ftpc_task_fail(&t, 7, "downloading %s: %s", "f", "timed out");
    ck_assert_int_eq(t.err.status, 7);
    ck_assert_str_eq(t.err.msg, "downloading f: timed out");
    /* a message made of the one before it */
    ftpc_task_fail(&t, 5, "%s; again", t.err.msg);
    ck_assert_str_eq(t.err.msg, "downloading f: timed out; again");
    ftpc_task_err_append(&t, " (kept)");
    ck_assert_str_eq(t.err.msg, "downloading f: timed out; again (kept)");
    ftpc_err e;
    ftpc_task_get_err(&t, &e);
    ck_assert_int_eq(e.status, 5);
    ck_assert_str_eq(e.msg, t.err.msg);
    ftpc_task_set_status(&t, 7); /* a failure keeps its message */
    ck_assert_str_eq(t.err.msg, "downloading f: timed out; again (kept)");
    ftpc_task_set_status(&t, 0); /* success drops it */
    ck_assert_str_eq(t.err.msg, "");
    ftpc_err_set(&e, 6, "local");
    ftpc_task_set_err(&t, &e);
    ck_assert_int_eq(t.err.status, 6);
    ck_assert_str_eq(t.err.msg, "local");
    ftpc_task_release(&t);
    ck_assert_str_eq(t.err.msg, "");
}
END_TEST

/* Cut where ftpc_err cuts: in the middle, to FTPC_ERR_MSG_MAX; an addition at the end. */
START_TEST(test_err_message_is_cut_as_before)
{
    char *name = malloc(3000);
    ck_assert_ptr_nonnull(name);
    memset(name, 'n', 2999);
    name[2999] = '\0';
    ftpc_task t;
    ftpc_task_init(&t, FTPC_T_GET);
    ftpc_task_fail(&t, 5, "get %s: refused", name);
    ftpc_err e;
    ftpc_err_set(&e, 5, "get %s: refused", name);
    ck_assert_str_eq(t.err.msg, e.msg);
    ck_assert_uint_eq(strlen(t.err.msg), FTPC_ERR_MSG_MAX - 1);
    ftpc_task_fail(&t, 5, "x");
    ftpc_task_err_append(&t, name);
    ck_assert_uint_eq(strlen(t.err.msg), FTPC_ERR_MSG_MAX - 1);
    ck_assert(strncmp(t.err.msg, "xnnn", 4) == 0);
    free(name);
    ftpc_task_release(&t);
}
END_TEST

/* A task is made for every file of a mirror or a glob before the first transfer: fixed
 * buffers of a path's greatest length (4 KB each, four of them) and of a message (1.5 KB)
 * cost 18 KB a file. */
START_TEST(test_a_task_is_small)
{
    ck_assert_uint_lt(sizeof(ftpc_task), 512);
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("ftpc_task");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_new_task_has_empty_strings);
    tcase_add_test(tc, test_set_copies_and_replaces);
    tcase_add_test(tc, test_strip_slashes_keeps_a_lone_slash);
    tcase_add_test(tc, test_into_dir_adds_the_name);
    tcase_add_test(tc, test_into_dir_display_is_cut_as_before);
    tcase_add_test(tc, test_err_message_is_the_tasks_own);
    tcase_add_test(tc, test_err_message_is_cut_as_before);
    tcase_add_test(tc, test_a_task_is_small);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(task_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
