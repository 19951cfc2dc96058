/* Worker pool: a mutex+condvar job queue in, a done list plus an eventfd back to the loop. */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct workq_job {
    workq_fn fn;
    workq_done_cb done;
    void *arg;
    struct workq_job *next;
} workq_job;

struct workq {
    ev_loop *loop;
    int efd;
    pthread_t *threads;
    int nthreads;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    workq_job *q_head, *q_tail;       /* guarded by mu */
    workq_job *done_head, *done_tail; /* guarded by mu */
    bool stopping;                    /* guarded by mu */
    bool background;                  /* set before the threads start */
    int limit;                        /* guarded by mu: jobs allowed to run at once */
    int running;                      /* guarded by mu */
    int base;                         /* the threads it started with: those never retire */
    int live;                         /* guarded by mu: workers not retiring */
    int idle_exit_ms;                 /* guarded by mu: 0, or workq_set_idle_exit's */
    pthread_t *exited;                /* guarded by mu: retired, for the loop to join */
    int nexited;                      /* guarded by mu; room for nthreads */
    void (*idle_hook)(void);          /* guarded by mu */

    /* Loop thread only: jobs taken from the done list whose callbacks have not run yet, and
     * a flag the current delivery watches in case a done callback frees the queue. */
    workq_job *delivering;
    bool *freed_flag;

    atomic_size_t pending;
};

static void free_jobs(workq_job *j)
{
    while (j != NULL) {
        workq_job *next = j->next;
        free(j);
        j = next;
    }
}

/* How much lower than the loop thread workers run: the lowest, so on a busy machine they
 * take only what transfers leave idle (at nice 10, a login storm still cost a concurrent
 * download 18% of its rate on two cores). */
#define WORKQ_NICE 19

/* Background work (password hashes, checksums) yields the CPU to the loop thread: a burst of
 * logins must not slow the transfers in flight. Linux applies nice per thread. */
static void lower_priority(void)
{
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKQ_NICE); /* failure only costs fairness */
    /* SCHED_IDLE goes further than nice 19: the scheduler runs the worker only on a CPU that
     * nothing else wants. A download during 200 yescrypt logins kept 90% of its rate at
     * nice 19 and 96% under SCHED_IDLE; the logins then take what the transfers leave. */
    struct sched_param idle = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake_loop(workq *q)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(q->efd, &one, sizeof(one));
    while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already non-zero: the loop is woken anyway. */
}

/* Idle workers a pool keeps, of those above its first ones: a caller that adds one each time
 * all but one are held by calls that hang (fsgate.h) would otherwise add again the one that
 * just ended. */
#define WORKQ_IDLE_KEEP 2

/* With mu held, a worker without a job: whether it retires, having waited idle_exit_ms
 * while the pool had more than its first threads and more than WORKQ_IDLE_KEEP idle.
 * Otherwise it waits for work, or for that time. */
static bool wait_or_retire(workq *q, long long *idle_since)
{
    if (q->idle_exit_ms <= 0 || q->live <= q->base || q->q_head != NULL) {
        *idle_since = -1;
        pthread_cond_wait(&q->cv, &q->mu);
        return false;
    }
    long long now = mono_ms();
    if (*idle_since < 0)
        *idle_since = now;
    long long until = *idle_since + q->idle_exit_ms;
    if (now >= until) {
        if (q->live - q->running > WORKQ_IDLE_KEEP) {
            q->live--;
            if (q->limit > 1)
                q->limit--; /* as workq_add_thread raised it */
            q->exited[q->nexited++] = pthread_self();
            wake_loop(q); /* to join it */
            return true;
        }
        *idle_since = now; /* the others are held: it stays another while */
        until = now + q->idle_exit_ms;
    }
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000};
    pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    return false;
}

static void *worker_main(void *arg)
{
    workq *q = arg;
    if (q->background)
        lower_priority();

    bool idled = false; /* the hook ran since the last job */
    bool retired = false;
    long long idle_since = -1;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stopping && (q->q_head == NULL || q->running >= q->limit)) {
            void (*hook)(void) = q->idle_hook;
            if (q->q_head == NULL && hook != NULL && !idled) {
                idled = true;
                pthread_mutex_unlock(&q->mu);
                hook();
                pthread_mutex_lock(&q->mu);
                continue;
            }
            if ((retired = wait_or_retire(q, &idle_since)))
                break;
        }
        if (q->stopping || retired)
            break;
        idled = false;
        idle_since = -1;
        workq_job *j = q->q_head;
        q->q_head = j->next;
        if (q->q_head == NULL)
            q->q_tail = NULL;
        q->running++;
        pthread_mutex_unlock(&q->mu);

        j->fn(j->arg);

        pthread_mutex_lock(&q->mu);
        if (q->running-- > q->limit || q->q_head != NULL)
            pthread_cond_broadcast(&q->cv); /* a held-back worker may take the next job */
        j->next = NULL;
        bool wake = q->done_head == NULL;
        if (q->done_tail != NULL)
            q->done_tail->next = j;
        else
            q->done_head = j;
        q->done_tail = j;
        /* One wake-up per empty -> non-empty transition: the loop takes the whole list. */
        if (wake)
            wake_loop(q);
    }
    void (*hook)(void) = q->idle_hook;
    pthread_mutex_unlock(&q->mu);
    if (hook != NULL)
        hook();
    return NULL;
}

/* Joins the workers that retired, and drops them from the array (loop thread only). */
static void reap(workq *q, const pthread_t *gone, int n)
{
    for (int i = 0; i < n; i++) {
        pthread_join(gone[i], NULL);
        for (int k = 0; k < q->nthreads; k++) {
            if (pthread_equal(q->threads[k], gone[i])) {
                q->threads[k] = q->threads[--q->nthreads];
                break;
            }
        }
    }
}

static void workq_wake_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    workq *q = ud;
    uint64_t v;

    /* Drain the counter before taking the list: a job finished after the take then writes
     * again, so no completion is left without a wake-up. */
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;

    pthread_t gone[8];
    int ngone;
    do {
        pthread_mutex_lock(&q->mu);
        ngone = q->nexited < 8 ? q->nexited : 8;
        q->nexited -= ngone;
        for (int i = 0; i < ngone; i++)
            gone[i] = q->exited[q->nexited + i];
        pthread_mutex_unlock(&q->mu);
        reap(q, gone, ngone);
    } while (ngone == 8);

    pthread_mutex_lock(&q->mu);
    workq_job *list = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);

    if (list == NULL)
        return;
    /* Append, so a re-entrant delivery (unlikely, but cheap to allow) keeps its order. */
    workq_job **tail = &q->delivering;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = list;

    while (q->delivering != NULL) {
        workq_job *j = q->delivering;
        q->delivering = j->next;
        workq_done_cb done = j->done;
        void *arg = j->arg;
        free(j);
        atomic_fetch_sub(&q->pending, 1);
        if (done == NULL)
            continue;

        bool freed = false;
        bool *outer = q->freed_flag;
        q->freed_flag = &freed;
        done(arg);
        if (freed) {
            if (outer != NULL)
                *outer = true;
            return;
        }
        q->freed_flag = outer;
    }
}

/* Stops and joins the first n threads. Jobs still queued are dropped by the caller. */
static void stop_threads(workq *q, int n)
{
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < n; i++)
        pthread_join(q->threads[i], NULL);
}

static workq *start(ev_loop *loop, int threads, bool background)
{
    if (loop == NULL || threads < 1) {
        errno = EINVAL;
        return NULL;
    }
    int err;
    workq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->loop = loop;
    q->background = background;
    atomic_init(&q->pending, 0);
    q->threads = calloc((size_t)threads, sizeof(*q->threads));
    if (q->threads == NULL)
        goto fail_q;
    q->exited = calloc((size_t)threads, sizeof(*q->exited));
    if (q->exited == NULL)
        goto fail_threads;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0)
        goto fail_threads;
    err = pthread_mutex_init(&q->mu, NULL);
    if (err != 0) {
        errno = err;
        goto fail_efd;
    }
    pthread_condattr_t ca;
    err = pthread_condattr_init(&ca);
    if (err == 0) {
        /* An idle worker's wait to retire (wait_or_retire) counts on this clock. */
        err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&q->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (err != 0) {
        errno = err;
        goto fail_mu;
    }
    if (ev_add(loop, q->efd, EV_READ, workq_wake_cb, q) != 0)
        goto fail_cv;
    q->limit = threads;
    q->base = threads;
    q->live = threads; /* before any worker reads it */

    /* Workers block every signal so that SIGTERM, SIGCHLD and friends reach the loop thread,
     * where they interrupt the wait; threads inherit the creator's mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < threads; i++) {
        err = pthread_create(&q->threads[i], NULL, worker_main, q);
        if (err != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            stop_threads(q, i);
            ev_del(loop, q->efd, EV_READ | EV_WRITE);
            errno = err;
            goto fail_cv;
        }
        q->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return q;

fail_cv:
    err = errno;
    pthread_cond_destroy(&q->cv);
    errno = err;
fail_mu:
    err = errno;
    pthread_mutex_destroy(&q->mu);
    errno = err;
fail_efd:
    err = errno;
    close(q->efd);
    errno = err;
fail_threads:
    err = errno;
    free(q->exited);
    free(q->threads);
    errno = err;
fail_q:
    err = errno;
    free(q);
    errno = err;
    return NULL;
}

workq *workq_new(ev_loop *loop, int threads)
{
    return start(loop, threads, true);
}

workq *workq_new_foreground(ev_loop *loop, int threads)
{
    return start(loop, threads, false);
}

void workq_free(workq *q)
{
    if (q == NULL)
        return;
    stop_threads(q, q->nthreads);
    ev_del(q->loop, q->efd, EV_READ | EV_WRITE);
    close(q->efd);
    if (q->freed_flag != NULL)
        *q->freed_flag = true;
    free_jobs(q->q_head);
    free_jobs(q->done_head);
    free_jobs(q->delivering);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->exited);
    free(q->threads);
    free(q);
}

int workq_submit(workq *q, workq_fn fn, workq_done_cb done, void *arg)
{
    if (fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    workq_job *j = malloc(sizeof(*j));
    if (j == NULL)
        return -1;
    *j = (workq_job){.fn = fn, .done = done, .arg = arg};

    atomic_fetch_add(&q->pending, 1);
    pthread_mutex_lock(&q->mu);
    if (q->q_tail != NULL)
        q->q_tail->next = j;
    else
        q->q_head = j;
    q->q_tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void workq_set_idle_hook(workq *q, void (*hook)(void))
{
    pthread_mutex_lock(&q->mu);
    q->idle_hook = hook;
    pthread_cond_broadcast(&q->cv); /* idle workers run it now rather than after a job */
    pthread_mutex_unlock(&q->mu);
}

size_t workq_pending(const workq *q)
{
    return atomic_load(&q->pending);
}

void workq_set_limit(workq *q, int limit)
{
    if (limit < 1)
        limit = 1;
    pthread_mutex_lock(&q->mu);
    bool raised = limit > q->limit;
    q->limit = limit;
    if (raised)
        pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

unsigned long long workq_cpu_ns(workq *q)
{
    /* Each thread's own clock counts a job still running too: a sum made as jobs end would
     * put a long job's CPU into the wrong reading. */
    unsigned long long sum = 0;
    for (int i = 0; i < q->nthreads; i++) {
        clockid_t id;
        struct timespec ts;
        if (pthread_getcpuclockid(q->threads[i], &id) == 0 && clock_gettime(id, &ts) == 0)
            sum += (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
    }
    return sum;
}

int workq_limit(workq *q)
{
    pthread_mutex_lock(&q->mu);
    int limit = q->limit;
    pthread_mutex_unlock(&q->mu);
    return limit;
}

int workq_threads(const workq *q)
{
    return q->nthreads;
}

void workq_set_idle_exit(workq *q, int ms)
{
    pthread_mutex_lock(&q->mu);
    q->idle_exit_ms = ms > 0 ? ms : 0;
    pthread_cond_broadcast(&q->cv); /* idle workers count from now */
    pthread_mutex_unlock(&q->mu);
}

int workq_add_thread(workq *q)
{
    /* Only the loop thread touches the array (here, workq_cpu_ns, workq_free), no worker. */
    pthread_t *t = realloc(q->threads, (size_t)(q->nthreads + 1) * sizeof(*t));
    if (t == NULL)
        return -1;
    q->threads = t;
    pthread_mutex_lock(&q->mu); /* workers write into exited: room for each before it starts */
    t = realloc(q->exited, (size_t)(q->nthreads + 1) * sizeof(*t));
    if (t != NULL)
        q->exited = t;
    pthread_mutex_unlock(&q->mu);
    if (t == NULL)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* as start(): signals reach the loop thread */
    int err = pthread_create(&q->threads[q->nthreads], NULL, worker_main, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        errno = err;
        return -1;
    }
    q->nthreads++;
    pthread_mutex_lock(&q->mu);
    q->live++;
    q->limit++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}
