/* Worker pool: work runs on workers, done callbacks on the loop thread inside the loop. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev.h"
#include "workq.h"

static ev_loop *L;
static pthread_t g_loop_thread;
/* Set while a callback dispatched by the loop is running: done callbacks must see it set. */
static bool g_in_loop;

static void setup(void)
{
    L = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(L);
    g_loop_thread = pthread_self();
}

static void teardown(void)
{
    size_t live = ev_live_handles(L);
    ev_loop_free(L);
    L = NULL;
    ck_assert_uint_eq(live, 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs the loop until nothing is pending, with a generous bound so a bug fails, not hangs. */
static void run_until_idle(workq *q)
{
    for (int i = 0; i < 2000 && workq_pending(q) > 0; i++)
        ck_assert_int_ge(ev_run_once(L, 1000), 0);
    ck_assert_uint_eq(workq_pending(q), 0);
}

typedef struct job {
    pthread_t worker;
    pthread_t doner;
    atomic_int ran;
    int done;
    bool done_in_loop;
    int seq;
    int *done_order;
    int *ndone;
} job;

static void job_fn(void *arg)
{
    job *j = arg;
    j->worker = pthread_self();
    atomic_fetch_add(&j->ran, 1);
}

static void job_done(void *arg)
{
    job *j = arg;
    j->doner = pthread_self();
    j->done++;
    j->done_in_loop = g_in_loop;
    if (j->done_order != NULL)
        j->done_order[(*j->ndone)++] = j->seq;
}

/* Marks the span of one loop iteration, so a done callback made anywhere else (from
 * workq_submit, or from a worker) would observe the flag clear. */
static int run_once_marked(int timeout)
{
    g_in_loop = true;
    int rc = ev_run_once(L, timeout);
    g_in_loop = false;
    return rc;
}

static void wait_ran(atomic_int *ran, int want)
{
    for (int i = 0; i < 5000 && atomic_load(ran) < want; i++)
        sleep_ms(1);
    ck_assert_int_ge(atomic_load(ran), want);
}

START_TEST(test_threads_and_delivery)
{
    workq *q = workq_new(L, 2);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(ev_live_handles(L), 1);
    ck_assert_uint_eq(workq_pending(q), 0);

    job j;
    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(workq_submit(q, job_fn, job_done, &j), 0);
    ck_assert_uint_eq(workq_pending(q), 1);
    wait_ran(&j.ran, 1);
    /* Finished, but the done callback waits for the loop. */
    ck_assert_int_eq(j.done, 0);
    ck_assert_uint_eq(workq_pending(q), 1);

    ck_assert_int_eq(run_once_marked(1000), 1);
    ck_assert_int_eq(j.done, 1);
    ck_assert(j.done_in_loop);
    ck_assert(!pthread_equal(j.worker, g_loop_thread));
    ck_assert(pthread_equal(j.doner, g_loop_thread));
    ck_assert_uint_eq(workq_pending(q), 0);

    workq_free(q);
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

START_TEST(test_pending_accounting)
{
    workq *q = workq_new(L, 1);
    ck_assert_ptr_nonnull(q);
    job js[3];
    memset(js, 0, sizeof(js));
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(workq_submit(q, job_fn, job_done, &js[i]), 0);
        ck_assert_uint_eq(workq_pending(q), (size_t)i + 1);
    }
    for (int i = 0; i < 3; i++)
        wait_ran(&js[i].ran, 1);
    ck_assert_uint_eq(workq_pending(q), 3);
    run_until_idle(q);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(js[i].done, 1);
    /* A job without a done callback is still accounted and delivered. */
    ck_assert_int_eq(workq_submit(q, job_fn, NULL, &js[0]), 0);
    ck_assert_uint_eq(workq_pending(q), 1);
    run_until_idle(q);
    ck_assert_int_eq(atomic_load(&js[0].ran), 2);
    ck_assert_int_eq(js[0].done, 1);
    workq_free(q);
}
END_TEST

/* Jobs that record how many of them ran at the same time. */
static atomic_int g_now, g_peak;

static void overlap_fn(void *arg)
{
    int now = atomic_fetch_add(&g_now, 1) + 1;
    int peak = atomic_load(&g_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now))
        ;
    sleep_ms(20);
    atomic_fetch_sub(&g_now, 1);
}

static void count_done(void *arg)
{
    (*(int *)arg)++;
}

START_TEST(test_limit_caps_concurrency)
{
    workq *q = workq_new(L, 4);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(workq_threads(q), 4);
    int done = 0;
    atomic_store(&g_now, 0);
    atomic_store(&g_peak, 0);
    workq_set_limit(q, 1);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(workq_submit(q, overlap_fn, count_done, &done), 0);
    run_until_idle(q);
    ck_assert_int_eq(done, 8);
    ck_assert_int_eq(atomic_load(&g_peak), 1);

    /* Raising the limit lets held-back workers go at once. */
    atomic_store(&g_peak, 0);
    workq_set_limit(q, 4);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(workq_submit(q, overlap_fn, count_done, &done), 0);
    run_until_idle(q);
    ck_assert_int_eq(done, 16);
    ck_assert_int_ge(atomic_load(&g_peak), 2);
    workq_free(q);
}
END_TEST

static atomic_int g_release;
static atomic_int g_held;

static void held_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_held, 1);
    while (!atomic_load(&g_release))
        sleep_ms(1);
}

START_TEST(test_add_thread_frees_a_held_pool)
{
    /* Both workers held by calls that do not return: a job queued behind them runs only on
     * a worker added for it. */
    workq *q = workq_new_foreground(L, 2);
    ck_assert_ptr_nonnull(q);
    atomic_store(&g_held, 0);
    atomic_store(&g_release, 0);
    int done = 0;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(workq_submit(q, held_fn, count_done, &done), 0);
    wait_ran(&g_held, 2);
    job j = {0};
    ck_assert_int_eq(workq_submit(q, job_fn, job_done, &j), 0);
    sleep_ms(50);
    ck_assert_int_eq(atomic_load(&j.ran), 0);
    ck_assert_int_eq(workq_add_thread(q), 0);
    ck_assert_int_eq(workq_threads(q), 3);
    ck_assert_int_eq(workq_limit(q), 3);
    wait_ran(&j.ran, 1);
    for (int i = 0; i < 2000 && j.done == 0; i++)
        ck_assert_int_ge(ev_run_once(L, 10), 0);
    ck_assert_int_eq(j.done, 1);
    atomic_store(&g_release, 1);
    run_until_idle(q);
    ck_assert_int_eq(done, 2);
    workq_free(q); /* joins the added worker too */
}
END_TEST

START_TEST(test_added_workers_retire_when_idle)
{
    /* A pool of 2 grown by 3 while its workers were held: once the calls answer and the
     * added workers have idled, they end and the pool is back to its first 2. */
    workq *q = workq_new_foreground(L, 2);
    ck_assert_ptr_nonnull(q);
    workq_set_idle_exit(q, 100);
    atomic_store(&g_held, 0);
    atomic_store(&g_release, 0);
    int done = 0;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(workq_submit(q, held_fn, count_done, &done), 0);
    wait_ran(&g_held, 2);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(workq_add_thread(q), 0);
    ck_assert_int_eq(workq_threads(q), 5);
    wait_ran(&g_held, 4);
    /* Four held, one idle: while they hang the pool keeps what it has. */
    for (int i = 0; i < 40; i++)
        ck_assert_int_ge(ev_run_once(L, 10), 0);
    ck_assert_int_eq(workq_threads(q), 5);
    atomic_store(&g_release, 1);
    run_until_idle(q);
    ck_assert_int_eq(done, 4);
    for (int i = 0; i < 500 && workq_threads(q) > 2; i++)
        ck_assert_int_ge(ev_run_once(L, 10), 0);
    ck_assert_int_eq(workq_threads(q), 2);
    ck_assert_int_eq(workq_limit(q), 2);
    /* What is left still works. */
    job j = {0};
    ck_assert_int_eq(workq_submit(q, job_fn, job_done, &j), 0);
    run_until_idle(q);
    ck_assert_int_eq(j.done, 1);
    workq_free(q);
}
END_TEST

START_TEST(test_many_jobs)
{
    enum { N = 1000 };
    static job js[N];
    int order[N], n = 0;
    memset(js, 0, sizeof(js));
    workq *q = workq_new(L, 4);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < N; i++) {
        js[i].seq = i;
        js[i].done_order = order;
        js[i].ndone = &n;
        ck_assert_int_eq(workq_submit(q, job_fn, job_done, &js[i]), 0);
    }
    ck_assert_uint_eq(workq_pending(q), N);
    run_until_idle(q);
    ck_assert_int_eq(n, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atomic_load(&js[i].ran), 1);
        ck_assert_int_eq(js[i].done, 1);
        ck_assert(pthread_equal(js[i].doner, g_loop_thread));
        ck_assert(!pthread_equal(js[i].worker, g_loop_thread));
    }
    /* Every job delivered exactly once: the order is a permutation. */
    static char seen[N];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        ck_assert_int_lt(order[i], N);
        ck_assert_int_eq(seen[order[i]], 0);
        seen[order[i]] = 1;
    }
    workq_free(q);
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

/* A job that holds its worker until released. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int entered;
    atomic_int ran;
    int done;
} gate;

static void gate_fn(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ran, 1);
}

static void gate_done(void *arg)
{
    ((gate *)arg)->done++;
}

static void count_fn(void *arg)
{
    atomic_fetch_add(&((gate *)arg)->ran, 1);
}

static void *open_gate_later(void *arg)
{
    gate *g = arg;
    sleep_ms(20);
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

START_TEST(test_free_with_queued_jobs)
{
    gate g;
    memset(&g, 0, sizeof(g));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);

    workq *q = workq_new(L, 1);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(workq_submit(q, gate_fn, gate_done, &g), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(workq_submit(q, count_fn, gate_done, &g), 0);
    ck_assert_uint_eq(workq_pending(q), 11);
    wait_ran(&g.entered, 1);

    /* workq_free waits for the running job (released 20 ms later) and drops the 10 queued. */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, open_gate_later, &g), 0);
    workq_free(q);
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&g.ran), 1);
    ck_assert_int_eq(g.done, 0);
    ck_assert_uint_eq(ev_live_handles(L), 0);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(g.done, 0);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}
END_TEST

START_TEST(test_free_with_undelivered_done)
{
    job js[5];
    memset(js, 0, sizeof(js));
    workq *q = workq_new(L, 2);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(workq_submit(q, job_fn, job_done, &js[i]), 0);
    for (int i = 0; i < 5; i++)
        wait_ran(&js[i].ran, 1);
    workq_free(q);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(js[i].done, 0);
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

/* Done callbacks may submit more work and may free the queue itself. */
typedef struct chain {
    workq *q;
    atomic_int ran;
    int done;
    int links;
    bool free_in_done;
} chain;

static void chain_fn(void *arg)
{
    atomic_fetch_add(&((chain *)arg)->ran, 1);
}

static void chain_done(void *arg)
{
    chain *c = arg;
    c->done++;
    if (c->free_in_done) {
        workq_free(c->q);
        c->q = NULL;
        return;
    }
    if (c->done < c->links)
        ck_assert_int_eq(workq_submit(c->q, chain_fn, chain_done, c), 0);
}

START_TEST(test_submit_from_done)
{
    chain c;
    memset(&c, 0, sizeof(c));
    c.links = 5;
    c.q = workq_new(L, 2);
    ck_assert_ptr_nonnull(c.q);
    ck_assert_int_eq(workq_submit(c.q, chain_fn, chain_done, &c), 0);
    run_until_idle(c.q);
    ck_assert_int_eq(atomic_load(&c.ran), 5);
    ck_assert_int_eq(c.done, 5);
    workq_free(c.q);
}
END_TEST

START_TEST(test_free_from_done)
{
    chain c;
    memset(&c, 0, sizeof(c));
    c.free_in_done = true;
    c.q = workq_new(L, 2);
    ck_assert_ptr_nonnull(c.q);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(workq_submit(c.q, chain_fn, chain_done, &c), 0);
    wait_ran(&c.ran, 5);
    for (int i = 0; i < 100 && c.q != NULL; i++)
        ev_run_once(L, 1000);
    ck_assert_ptr_null(c.q);
    /* The first delivered callback freed the queue; the rest were dropped with it. */
    ck_assert_int_eq(c.done, 1);
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

START_TEST(test_ev_run_until_done)
{
    /* A done callback that frees the queue lets ev_run return: no handles remain. */
    chain c;
    memset(&c, 0, sizeof(c));
    c.free_in_done = true;
    c.q = workq_new(L, 1);
    ck_assert_ptr_nonnull(c.q);
    ck_assert_int_eq(workq_submit(c.q, chain_fn, chain_done, &c), 0);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(c.done, 1);
    ck_assert_ptr_null(c.q);
}
END_TEST

START_TEST(test_bad_args)
{
    errno = 0;
    ck_assert_ptr_null(workq_new(L, 0));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(ev_live_handles(L), 0);
    workq *q = workq_new(L, 1);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(workq_submit(q, NULL, NULL, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(workq_pending(q), 0);
    workq_free(q);
    workq_free(NULL);
}
END_TEST

/* The idle hook runs on the workers, between bursts of work and at exit. */
static atomic_int g_idle_calls;
static pthread_t g_idle_thread;

static void idle_hook(void)
{
    g_idle_thread = pthread_self();
    atomic_fetch_add(&g_idle_calls, 1);
}

START_TEST(test_idle_hook)
{
    atomic_store(&g_idle_calls, 0);
    workq *q = workq_new(L, 1);
    ck_assert_ptr_nonnull(q);
    workq_set_idle_hook(q, idle_hook);
    wait_ran(&g_idle_calls, 1); /* the waiting worker ran it once at once */
    sleep_ms(20);
    ck_assert_int_eq(atomic_load(&g_idle_calls), 1); /* and not again while nothing happens */
    ck_assert(!pthread_equal(g_idle_thread, g_loop_thread));

    job j[3];
    memset(j, 0, sizeof(j));
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(workq_submit(q, job_fn, job_done, &j[i]), 0);
    run_until_idle(q);
    wait_ran(&g_idle_calls, 2); /* again once the queue ran dry */
    sleep_ms(20);
    int after_burst = atomic_load(&g_idle_calls);
    ck_assert_int_le(after_burst, 4); /* at most once per job, however they interleaved */
    sleep_ms(20);
    ck_assert_int_eq(atomic_load(&g_idle_calls), after_burst);

    workq_free(q);
    ck_assert_int_eq(atomic_load(&g_idle_calls), after_burst + 1); /* and as the worker exits */
}
END_TEST

static void sleep_job(void *arg)
{
    (void)arg;
    sleep_ms(100);
}

static void spin_fn(void *arg)
{
    (void)arg;
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 30000000L);
}

static atomic_bool g_spin_stop;

static void spin_until_told(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_spin_stop))
        ;
}

/* A load meter subtracts the pool's own CPU from the machine's: the threads' CPU is summed,
 * a job's while it still runs, and time a worker spends waiting (asleep on a job that
 * sleeps) is not. */
START_TEST(test_cpu_accounting)
{
    workq *q = workq_new_foreground(L, 2);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(workq_limit(q), 2);
    unsigned long long base = workq_cpu_ns(q);
    /* threads just started: a few ms, though thread set-up under ASan on a busy machine took
     * 23 ms once (CI); the bound only tells a start from a clock that counts something else */
    ck_assert_uint_lt(base, 150000000ULL);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(workq_submit(q, spin_fn, NULL, NULL), 0);
    run_until_idle(q);
    unsigned long long spun = workq_cpu_ns(q);
    ck_assert_uint_ge(spun - base, 60000000ULL);  /* two jobs of 30 ms of CPU each */
    ck_assert_uint_lt(spun - base, 200000000ULL); /* and not their wall time on a loaded machine */
    ck_assert_int_eq(workq_submit(q, sleep_job, NULL, NULL), 0);
    run_until_idle(q);
    unsigned long long slept = workq_cpu_ns(q);
    ck_assert_uint_lt(slept - spun, 50000000ULL); /* 100 ms asleep: not counted */

    /* A job that has not ended yet is counted as it goes. */
    atomic_store(&g_spin_stop, false);
    ck_assert_int_eq(workq_submit(q, spin_until_told, NULL, NULL), 0);
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        sleep_ms(10);
        seen = workq_cpu_ns(q) - slept >= 20000000ULL;
    }
    atomic_store(&g_spin_stop, true);
    ck_assert(seen);
    run_until_idle(q);

    workq_set_limit(q, 1);
    ck_assert_int_eq(workq_limit(q), 1);
    workq_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workq");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_threads_and_delivery);
    tcase_add_test(tc, test_pending_accounting);
    tcase_add_test(tc, test_many_jobs);
    tcase_add_test(tc, test_limit_caps_concurrency);
    tcase_add_test(tc, test_free_with_queued_jobs);
    tcase_add_test(tc, test_free_with_undelivered_done);
    tcase_add_test(tc, test_submit_from_done);
    tcase_add_test(tc, test_free_from_done);
    tcase_add_test(tc, test_ev_run_until_done);
    tcase_add_test(tc, test_bad_args);
    tcase_add_test(tc, test_idle_hook);
    tcase_add_test(tc, test_cpu_accounting);
    tcase_add_test(tc, test_add_thread_frees_a_held_pool);
    tcase_add_test(tc, test_added_workers_retire_when_idle);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
