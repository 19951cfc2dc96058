/* Check suite for ftpc/stress_window: the end of a stress run's measured window and ftpc's
 * CPU time at it, so that the report's CPU share is of the same span as its duration. */
#include <check.h>
#include <stdint.h>

#include "stress_window.h"

static stress_mark mark(uint64_t us, double cpu_s)
{
    stress_mark m = {us, {cpu_s, cpu_s / 10}};
    return m;
}

static const stress_mark none = {0, {0, 0}};

START_TEST(test_ended_by_itself_ends_now)
{
    /* an early count (before any stop) changes nothing: the end is now */
    stress_mark end = stress_window_end(none, none, mark(5000000, 4.0), mark(9000000, 7.0));
    ck_assert_uint_eq(end.us, 9000000);
    ck_assert_double_eq(end.cpu.user_s, 7.0);
}
END_TEST

START_TEST(test_interrupt_ends_at_the_stop_with_its_cpu)
{
    /* Ctrl-C at 2 s; the clients' grace ran to 5 s, reading a listing that counts nothing:
     * the CPU time of those 3 s is not in a 2 s duration */
    stress_mark end =
        stress_window_end(mark(2000000, 0.5), none, mark(1900000, 0.4), mark(5000000, 3.5));
    ck_assert_uint_eq(end.us, 2000000);
    ck_assert_double_eq(end.cpu.user_s, 0.5);
    ck_assert_double_eq(end.cpu.sys_s, 0.05);
}
END_TEST

START_TEST(test_a_count_in_the_grace_moves_both)
{
    stress_mark end =
        stress_window_end(mark(2000000, 0.5), none, mark(2600000, 0.9), mark(5000000, 3.5));
    ck_assert_uint_eq(end.us, 2600000);
    ck_assert_double_eq(end.cpu.user_s, 0.9);
}
END_TEST

START_TEST(test_the_earlier_of_deadline_and_interrupt)
{
    /* the run's --duration ran out at 1 s; Ctrl-C in its grace is no new end */
    stress_mark end = stress_window_end(mark(3000000, 2.0), mark(1000000, 0.3), mark(900000, 0.2),
                                        mark(4000000, 3.0));
    ck_assert_uint_eq(end.us, 1000000);
    ck_assert_double_eq(end.cpu.user_s, 0.3);
    /* and the deadline alone */
    end = stress_window_end(none, mark(1000000, 0.3), mark(1200000, 0.35), mark(4000000, 3.0));
    ck_assert_uint_eq(end.us, 1200000);
    ck_assert_double_eq(end.cpu.user_s, 0.35);
}
END_TEST

START_TEST(test_cpu_between)
{
    stress_cpu a = {1.0, 0.5}, b = {3.5, 0.75};
    stress_cpu d = stress_cpu_between(a, b);
    ck_assert_double_eq(d.user_s, 2.5);
    ck_assert_double_eq(d.sys_s, 0.25);
    d = stress_cpu_between(b, a); /* never negative */
    ck_assert_double_eq(d.user_s, 0);
    ck_assert_double_eq(d.sys_s, 0);
}
END_TEST

START_TEST(test_cpu_now_grows)
{
    stress_cpu a = stress_cpu_now();
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 50000000UL; i++)
        x += i;
    stress_cpu b = stress_cpu_now();
    ck_assert(b.user_s + b.sys_s > a.user_s + a.sys_s);
    ck_assert(a.user_s >= 0 && a.sys_s >= 0);
}
END_TEST

static Suite *window_suite(void)
{
    Suite *s = suite_create("stress_window");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ended_by_itself_ends_now);
    tcase_add_test(tc, test_interrupt_ends_at_the_stop_with_its_cpu);
    tcase_add_test(tc, test_a_count_in_the_grace_moves_both);
    tcase_add_test(tc, test_the_earlier_of_deadline_and_interrupt);
    tcase_add_test(tc, test_cpu_between);
    tcase_add_test(tc, test_cpu_now_grows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(window_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
