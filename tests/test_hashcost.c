/* Per-method cost learning (ftpd/hashcost.c): which password checks may run inline. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "hashcost.h"

#define MD5 "$1$abcdefgh$0123456789012345678901"
#define SHA512 "$6$saltsalt$xyz"
#define LIMIT 250000LL

START_TEST(test_needs_samples_then_cheap)
{
    hashcost_reset();
    ck_assert(!hashcost_cheap(MD5, LIMIT)); /* never measured */
    hashcost_record(MD5, 5000000);          /* a cold first check: left out */
    hashcost_record(MD5, 150000);
    hashcost_record(MD5, 150000);
    ck_assert(!hashcost_cheap(MD5, LIMIT)); /* two samples are not enough */
    hashcost_record(MD5, 150000);
    ck_assert(hashcost_cheap(MD5, LIMIT));
    ck_assert(hashcost_cheap("$1$otherslt$zzz", LIMIT)); /* same method, other salt */
    ck_assert(!hashcost_cheap(SHA512, LIMIT));           /* another method knows nothing */
}
END_TEST

START_TEST(test_dear_methods_stay_off_and_average_moves)
{
    hashcost_reset();
    for (int i = 0; i < 5; i++)
        hashcost_record(SHA512, 2800000);
    ck_assert(!hashcost_cheap(SHA512, LIMIT));
    /* One cheap outlier does not flip a dear method... */
    hashcost_record(SHA512, 1000);
    ck_assert(!hashcost_cheap(SHA512, LIMIT));
    /* ...and a cheap one turns dear when its checks start costing more. */
    for (int i = 0; i < 4; i++)
        hashcost_record(MD5, 100000);
    ck_assert(hashcost_cheap(MD5, LIMIT));
    for (int i = 0; i < 20; i++)
        hashcost_record(MD5, 5000000);
    ck_assert(!hashcost_cheap(MD5, LIMIT));
}
END_TEST

START_TEST(test_odd_hashes)
{
    hashcost_reset();
    ck_assert(!hashcost_cheap(NULL, LIMIT));
    for (int i = 0; i < 4; i++)
        hashcost_record("abJnggxhB/yWI", 10000); /* DES: no "$id$", its own method "" */
    ck_assert(hashcost_cheap("xyJnggxhB/yWI", LIMIT));
    ck_assert(hashcost_cheap("$unterminated", LIMIT)); /* no second '$': counted as "" too */
    ck_assert(!hashcost_cheap(MD5, LIMIT));
    /* More methods than the table holds: the extra ones are never cheap, nothing breaks. */
    char h[16];
    for (int i = 0; i < 20; i++) {
        h[0] = '$';
        h[1] = (char)('a' + i);
        h[2] = '$';
        h[3] = '\0';
        for (int k = 0; k < 4; k++)
            hashcost_record(h, 1000);
    }
    ck_assert(hashcost_cheap("$a$", LIMIT));
    ck_assert(!hashcost_cheap("$t$", LIMIT));
}
END_TEST

static void *record_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        hashcost_record(MD5, 100000);
    return NULL;
}

START_TEST(test_threads_record_at_once)
{
    hashcost_reset();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert(hashcost_cheap(MD5, LIMIT));
    ck_assert(!hashcost_cheap(MD5, 100000)); /* the average is the recorded 100 us, not less */
    ck_assert(hashcost_cheap(MD5, 100001));
}
END_TEST

START_TEST(test_thread_clock_moves)
{
    long long a = hashcost_thread_ns();
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000UL; i++)
        x += i;
    long long b = hashcost_thread_ns();
    ck_assert_int_gt(a, 0);
    ck_assert_int_gt(b, a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hashcost");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_needs_samples_then_cheap);
    tcase_add_test(tc, test_dear_methods_stay_off_and_average_moves);
    tcase_add_test(tc, test_odd_hashes);
    tcase_add_test(tc, test_threads_record_at_once);
    tcase_add_test(tc, test_thread_clock_moves);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
