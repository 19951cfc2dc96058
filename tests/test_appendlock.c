/* appendlock: one append or resume per file at a time. */
#include <check.h>
#include <errno.h>

#include "appendlock.h"

START_TEST(test_second_taker_of_a_file_is_refused)
{
    appendlocks set = {0};
    appendlock *a = appendlock_take(&set, 1, 100, "f.bin");
    ck_assert_ptr_nonnull(a);
    errno = 0;
    ck_assert_ptr_null(appendlock_take(&set, 1, 100, "f.bin"));
    ck_assert_int_eq(errno, EBUSY);
    appendlock_release(&set, a);
    appendlock *b = appendlock_take(&set, 1, 100, "f.bin"); /* free again once given back */
    ck_assert_ptr_nonnull(b);
    appendlock_release(&set, b);
    ck_assert_ptr_null(set.head);
    appendlock_release(&set, NULL);
}
END_TEST

START_TEST(test_other_files_are_independent)
{
    appendlocks set = {0};
    appendlock *l[5] = {
        appendlock_take(&set, 1, 100, "f.bin"),
        appendlock_take(&set, 1, 100, "g.bin"), /* another name in the same directory */
        appendlock_take(&set, 1, 101, "f.bin"), /* the same name in another directory */
        appendlock_take(&set, 2, 100, "f.bin"), /* another file system */
        appendlock_take(&set, 1, 100, "f.bin.1"),
    };
    for (int i = 0; i < 5; i++)
        ck_assert_ptr_nonnull(l[i]);
    /* Released from the middle, the rest stay held. */
    appendlock_release(&set, l[2]);
    ck_assert_ptr_null(appendlock_take(&set, 1, 100, "g.bin"));
    ck_assert_ptr_null(appendlock_take(&set, 2, 100, "f.bin"));
    l[2] = appendlock_take(&set, 1, 101, "f.bin");
    ck_assert_ptr_nonnull(l[2]);
    appendlocks_free(&set);
    ck_assert_ptr_null(set.head);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("appendlock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_second_taker_of_a_file_is_refused);
    tcase_add_test(tc, test_other_files_are_independent);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
