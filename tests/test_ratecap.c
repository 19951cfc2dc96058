/* Check suite for ftpd/ratecap: no limit lets everything through; the bucket starts small,
 * fills with time up to its burst (an eighth of a second of the rate) and no further; a spent
 * bucket waits for a worthwhile chunk, and the wait it names is enough and not much more; a
 * greedy mover held by it keeps the rate to within a burst, at low, middle and high rates. */
#include <check.h>
#include <stdint.h>

#include "ratecap.h"

START_TEST(test_no_limit)
{
    ratecap rc;
    ratecap_init(&rc, 0, 1000);
    ck_assert(!ratecap_on(&rc));
    ck_assert(ratecap_ready(&rc));
    ck_assert_uint_eq(ratecap_room(&rc), SIZE_MAX);
    ratecap_spend(&rc, 1u << 30);
    ratecap_refill(&rc, 5000);
    ck_assert(ratecap_ready(&rc));
    ck_assert_uint_eq(ratecap_room(&rc), SIZE_MAX);
}
END_TEST

START_TEST(test_fill_and_burst)
{
    ratecap rc;
    ratecap_init(&rc, 512 * 1024, 1000);
    ck_assert(ratecap_on(&rc));
    /* starts with one chunk, not a full bucket */
    ck_assert_uint_eq(ratecap_room(&rc), RATECAP_MIN_CHUNK);
    ck_assert(ratecap_ready(&rc));
    ratecap_spend(&rc, RATECAP_MIN_CHUNK);
    ck_assert_uint_eq(ratecap_room(&rc), 0);
    ck_assert(!ratecap_ready(&rc));
    /* 16 KiB at 512 KiB/s: 31.25 ms, rounded up */
    ck_assert_int_eq(ratecap_wait_ms(&rc), 32);
    ratecap_refill(&rc, 1031);
    ck_assert(!ratecap_ready(&rc));
    ratecap_refill(&rc, 1032);
    ck_assert(ratecap_ready(&rc));
    ck_assert_uint_eq(ratecap_room(&rc), 16777); /* 32 ms of the rate */
    /* the clock standing still or going back adds nothing */
    ratecap_refill(&rc, 1032);
    ratecap_refill(&rc, 900);
    ck_assert_uint_eq(ratecap_room(&rc), 16777);
    /* a long idle spell fills the bucket to its burst only: 125 ms of the rate */
    ratecap_refill(&rc, 60000);
    ck_assert_uint_eq(ratecap_room(&rc), 64 * 1024);
}
END_TEST

START_TEST(test_chunk_sizes)
{
    ratecap rc;
    /* high rates wait for 10 ms worth, not for 16 KiB every few microseconds */
    ratecap_init(&rc, 100ULL << 20, 0);
    ck_assert_uint_eq(ratecap_room(&rc), (size_t)((100ULL << 20) / 100));
    /* low rates: the chunk is the whole (small) bucket */
    ratecap_init(&rc, 8 * 1024, 0);
    ck_assert_uint_eq(ratecap_room(&rc), 1024);
    ratecap_spend(&rc, 1024);
    ck_assert_int_eq(ratecap_wait_ms(&rc), 126);
    /* one byte a second still moves */
    ratecap_init(&rc, 1, 0);
    ck_assert_uint_eq(ratecap_room(&rc), 1);
    ratecap_spend(&rc, 1);
    ck_assert_int_eq(ratecap_wait_ms(&rc), 1001);
}
END_TEST

/* A mover that always has more to send, as the transfer code drives the bucket: refill, move
 * what the room allows, and sleep for the wait named when it is spent. Returns the simulated
 * milliseconds `total` bytes took. */
static long long move_all(unsigned long long rate, long long total, size_t turn_max)
{
    ratecap rc;
    long long now = 1000, start = now, moved = 0;
    ratecap_init(&rc, rate, now);
    for (int guard = 0; moved < total && guard < 10000000; guard++) {
        ratecap_refill(&rc, now);
        if (!ratecap_ready(&rc)) {
            long w = ratecap_wait_ms(&rc);
            ck_assert_int_ge(w, 1);
            now += w;
            ratecap_refill(&rc, now);
            ck_assert_msg(ratecap_ready(&rc), "woke before the chunk was there");
            continue;
        }
        size_t n = ratecap_room(&rc);
        if (n > turn_max)
            n = turn_max;
        if ((long long)n > total - moved)
            n = (size_t)(total - moved);
        ratecap_spend(&rc, n);
        moved += (long long)n;
    }
    ck_assert_int_eq(moved, total);
    return now - start;
}

START_TEST(test_average_rate)
{
    static const struct {
        unsigned long long rate;
        long long total;
    } cases[] = {
        {512 * 1024, 2 << 20},   {100 * 1024, 1 << 20}, {10ULL << 20, 50 << 20},
        {1ULL << 30, 4LL << 30}, {3000, 30000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned long long rate = cases[i].rate;
        long long total = cases[i].total;
        double ideal_ms = (double)total * 1000.0 / (double)rate;
        ratecap probe;
        ratecap_init(&probe, rate, 0);
        double start_ms = probe.min_chunk * 1000.0 / (double)rate; /* the head start */
        long long ms = move_all(rate, total, 64 * 1024);
        ck_assert_msg(ms >= ideal_ms - start_ms - 1, "rate %llu: %lld ms, ideal %.0f", rate, ms,
                      ideal_ms);
        /* each wait is rounded up by under a millisecond */
        double waits = (double)total / probe.min_chunk + 1;
        ck_assert_msg(ms <= ideal_ms + waits + 2, "rate %llu: %lld ms, ideal %.0f", rate, ms,
                      ideal_ms);
    }
}
END_TEST

static Suite *ratecap_suite(void)
{
    Suite *s = suite_create("ratecap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_no_limit);
    tcase_add_test(tc, test_fill_and_burst);
    tcase_add_test(tc, test_chunk_sizes);
    tcase_add_test(tc, test_average_rate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ratecap_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
