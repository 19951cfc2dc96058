/* Check suite for ftpc/stress_view: the operations per second its lines show follow the rate
 * of the moment, read from its plain lines (standard error not a terminal). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress_stats.h"
#include "stress_view.h"

static stress_stats st;

/* Feeds the view a sample a frame (250 ms) from from_ms to to_ms, the list count growing by
 * per_frame[k % 2] at frame k; returns the rate of the last plain line written. */
static double run_frames(stress_view *v, int rfd, long long *now, long long to_ms,
                         const int per_frame[2])
{
    char buf[8192];
    double last = -1.0;
    for (int k = 0; *now < to_ms; k++) {
        *now += 250;
        st.op_count[STRESS_OP_LIST] += (uint64_t)per_frame[k % 2];
        stress_view_sample s = {.now_ms = *now,
                                .elapsed_s = (double)(*now - 100000) / 1000.0,
                                .total_s = 10.0,
                                .phase = "run",
                                .clients = 8,
                                .logged_in = 8,
                                .st = &st};
        stress_view_update(v, &s);
        ssize_t n = read(rfd, buf, sizeof(buf) - 1);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        const char *at = strstr(buf, " (");
        ck_assert_ptr_nonnull(at);
        ck_assert_ptr_nonnull(strstr(buf, "/s), down"));
        last = strtod(at + 2, NULL);
    }
    return last;
}

/* A run at 4000 operations a second that falls to 400: a second after the fall the line
 * says about 400, not the average of the run so far (over 2000). */
START_TEST(test_ops_rate_follows_a_falling_rate)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    stress_stats_init(&st);
    stress_view v;
    stress_view_init(&v, p[1], true);
    long long now = 100000;
    stress_view_sample first = {
        .now_ms = now, .phase = "run", .clients = 8, .logged_in = 8, .st = &st};
    stress_view_update(&v, &first);
    char buf[4096];
    ck_assert_int_gt(read(p[0], buf, sizeof(buf)), 0);

    /* Two seconds at 4000/s, the frames uneven (1200, 800): each line shows 4000. */
    const int fast[2] = {1200, 800};
    double r = run_frames(&v, p[0], &now, 101000, fast);
    ck_assert_msg(r > 3600 && r < 4400, "after 1 s: %.0f/s", r);
    r = run_frames(&v, p[0], &now, 102000, fast);
    ck_assert_msg(r > 3600 && r < 4400, "after 2 s: %.0f/s", r);
    /* Then 400/s: a second later the line says so. */
    const int slow[2] = {100, 100};
    r = run_frames(&v, p[0], &now, 103000, slow);
    ck_assert_msg(r > 300 && r < 500, "a second after the fall: %.0f/s", r);
    close(p[0]);
    close(p[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress_view");
    TCase *tc = tcase_create("rate");
    tcase_add_test(tc, test_ops_rate_follows_a_falling_rate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
