/* The background pool's core budget (ftpd/corebudget.c) and the /proc/stat reader it uses
 * (common/cpustat.c). */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "corebudget.h"
#include "cpustat.h"

START_TEST(test_decide_two_cores)
{
    /* A full-speed loopback download keeps both vCPUs busy: one core stays free. */
    ck_assert_int_eq(corebudget_decide(2, 2, 2, 1.7), 1);
    ck_assert_int_eq(corebudget_decide(2, 1, 2, 1.0), 1);
    /* A paced download costs its sender and receiver under half a core: both hash. */
    ck_assert_int_eq(corebudget_decide(2, 1, 2, 0.45), 2);
    ck_assert_int_eq(corebudget_decide(2, 1, 2, 0.0), 2);
    ck_assert_int_eq(corebudget_decide(2, 1, 2, -0.05), 2); /* rounding: the pool's own */
    /* In between the limit stays where it is, so a load near the line does not flap. */
    ck_assert_int_eq(corebudget_decide(2, 1, 2, 0.9), 1);
    ck_assert_int_eq(corebudget_decide(2, 2, 2, 0.9), 2);
    ck_assert_int_eq(corebudget_decide(2, 2, 2, 0.76), 2);
    ck_assert_int_eq(corebudget_decide(2, 1, 2, 0.76), 1);
}
END_TEST

START_TEST(test_decide_other_sizes)
{
    ck_assert_int_eq(corebudget_decide(1, 1, 1, 0.0), 1); /* one worker always runs */
    ck_assert_int_eq(corebudget_decide(1, 1, 4, 3.9), 1);
    ck_assert_int_eq(corebudget_decide(2, 2, 1, 0.0), 1); /* one CPU: never every core */
    ck_assert_int_eq(corebudget_decide(8, 7, 8, 6.5), 8);
    ck_assert_int_eq(corebudget_decide(8, 8, 8, 7.0), 7);
    ck_assert_int_eq(corebudget_decide(8, 8, 8, 6.9), 8);
}
END_TEST

START_TEST(test_parse)
{
    cpustat c;
    ck_assert(cpustat_parse("cpu  100 5 50 1000 20 3 7 15 0 0\ncpu0 1 2 3 4\n", &c));
    ck_assert_uint_eq(c.busy, 100 + 5 + 50 + 3 + 7 + 15);
    ck_assert_uint_eq(c.total, c.busy + 1000 + 20);
    ck_assert(cpustat_parse("cpu  1 2 3 4\n", &c)); /* an old kernel's four fields */
    ck_assert_uint_eq(c.busy, 6);
    ck_assert_uint_eq(c.total, 10);
    ck_assert(!cpustat_parse("cpu0 1 2 3 4\n", &c)); /* one CPU's line is not the sum */
    ck_assert(!cpustat_parse("cpu  1 2\n", &c));
    ck_assert(!cpustat_parse("", &c));
    ck_assert(!cpustat_parse("intr 5 6 7 8\n", &c));
}
END_TEST

START_TEST(test_busy_seconds)
{
    long hz = sysconf(_SC_CLK_TCK);
    cpustat a = {.busy = 1000, .total = 5000};
    cpustat b = {.busy = 1000 + (unsigned long long)hz / 2, .total = 5000 + (unsigned long long)hz};
    ck_assert_double_eq_tol(cpustat_busy_seconds(&a, &b), 0.5, 1e-9);
    ck_assert_double_eq_tol(cpustat_busy_seconds(&b, &a), 0.0, 1e-9); /* went backwards */
}
END_TEST

START_TEST(test_read_proc)
{
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* no procfs here: the budget keeps a core free, nothing to read */
    cpustat a, b;
    ck_assert(cpustat_read(fd, &a));
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 50000000UL; i++)
        x += i;
    ck_assert(cpustat_read(fd, &b)); /* the same fd read again, from its start */
    ck_assert_uint_ge(b.total, a.total);
    ck_assert_uint_ge(b.busy, a.busy);
    ck_assert_uint_gt(a.busy, 0);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("corebudget");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_decide_two_cores);
    tcase_add_test(tc, test_decide_other_sizes);
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_busy_seconds);
    tcase_add_test(tc, test_read_proc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
