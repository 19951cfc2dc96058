/* The selector suite, run once per backend so that the poll fallback never rots. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

static ev_backend_kind g_kind;
static ev_loop *L;

static void setup_common(ev_backend_kind kind)
{
    g_kind = kind;
    L = ev_loop_new(kind);
    ck_assert_ptr_nonnull(L);
    ck_assert_str_eq(ev_backend_name(L), kind == EV_BACKEND_EPOLL ? "epoll" : "poll");
}

static void setup_epoll(void)
{
    setup_common(EV_BACKEND_EPOLL);
}

static void setup_poll(void)
{
    setup_common(EV_BACKEND_POLL);
}

static void teardown(void)
{
    size_t live = ev_live_handles(L);
    ev_loop_free(L);
    L = NULL;
    ck_assert_uint_eq(live, 0);
}

static void mkpair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void put(int fd)
{
    ck_assert_int_eq(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
    char b[256];
    while (read(fd, b, sizeof(b)) > 0)
        ;
}

static void closepair(int sv[2])
{
    ev_del(L, sv[0], EV_READ | EV_WRITE);
    ev_del(L, sv[1], EV_READ | EV_WRITE);
    close(sv[0]);
    close(sv[1]);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct rec {
    int calls;
    int last_mask;
    int last_fd;
} rec;

static void rec_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    rec *r = ud;
    ck_assert_ptr_eq(loop, L);
    r->calls++;
    r->last_mask = mask;
    r->last_fd = fd;
}

/* ---- fd events ---- */

START_TEST(test_backend_name)
{
    ck_assert_str_eq(ev_backend_name(L), g_kind == EV_BACKEND_EPOLL ? "epoll" : "poll");
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

START_TEST(test_readable_writable)
{
    int sv[2];
    rec r = {0};
    mkpair(sv);

    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, rec_cb, &r), 0);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_READ);
    ck_assert_uint_eq(ev_live_handles(L), 1);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(r.calls, 0);

    put(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.last_mask, EV_READ);
    ck_assert_int_eq(r.last_fd, sv[0]);
    /* Level-triggered: still readable until drained. */
    ck_assert_int_eq(ev_run_once(L, 0), 1);
    ck_assert_int_eq(r.calls, 2);
    drain(sv[0]);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(r.calls, 2);

    ck_assert_int_eq(ev_add(L, sv[0], EV_WRITE, rec_cb, &r), 0);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_READ | EV_WRITE);
    ck_assert_uint_eq(ev_live_handles(L), 1);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_mask, EV_WRITE);

    /* Both ready: one callback with both bits. */
    put(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.calls, 4);
    ck_assert_int_eq(r.last_mask, EV_READ | EV_WRITE);

    ck_assert_int_eq(ev_del(L, sv[0], EV_WRITE), 0);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_READ);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_mask, EV_READ);
    drain(sv[0]);

    ck_assert_int_eq(ev_del(L, sv[0], EV_READ | EV_WRITE), 0);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_NONE);
    ck_assert_uint_eq(ev_live_handles(L), 0);
    ck_assert_int_eq(ev_del(L, sv[0], EV_READ | EV_WRITE), 0);
    ck_assert_int_eq(ev_del(L, 123456, EV_READ), 0);
    ck_assert_int_eq(ev_del(L, -1, EV_READ), 0);
    put(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(r.calls, 5);
    closepair(sv);
}
END_TEST

START_TEST(test_add_errors_and_high_fd)
{
    int sv[2];
    rec r = {0};
    mkpair(sv);

    errno = 0;
    ck_assert_int_eq(ev_add(L, -1, EV_READ, rec_cb, &r), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(ev_add(L, sv[0], 8, rec_cb, &r), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, NULL, &r), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(ev_add(L, sv[0], EV_NONE, rec_cb, &r), -1);
    ck_assert_uint_eq(ev_live_handles(L), 0);
    ck_assert_int_eq(ev_mask(L, -5), EV_NONE);
    ck_assert_int_eq(ev_mask(L, 1 << 20), EV_NONE);

    /* The fd table grows to any fd number. */
    int high = 5000;
    ck_assert_int_eq(dup2(sv[0], high), high);
    ck_assert_int_eq(ev_add(L, high, EV_READ, rec_cb, &r), 0);
    ck_assert_int_eq(ev_mask(L, high), EV_READ);
    put(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_fd, high);
    ck_assert_int_eq(ev_del(L, high, EV_READ | EV_WRITE), 0);
    close(high);
    closepair(sv);
}
END_TEST

typedef struct batch {
    int fds[2];
    int calls[2];
    int masks[2];
    int first;      /* index called first, or -1 */
    int fresh_peer; /* for the swap test */
    rec fresh;      /* callback record of the fd that replaced the deleted one */
    int grow_fd;    /* for the table-growth test */
    int partial;    /* delete only EV_READ of the other fd */
    int swap;       /* close and replace the other fd by a new socket */
    int grow;       /* register a high fd, forcing the tables to grow */
} batch;

static void batch_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    batch *b = ud;
    int idx = fd == b->fds[0] ? 0 : 1;
    ck_assert_int_eq(fd, b->fds[idx]);
    b->calls[idx]++;
    b->masks[idx] = mask;
    if (b->first >= 0)
        return;
    b->first = idx;
    int other = b->fds[1 - idx];
    if (b->partial) {
        ck_assert_int_eq(ev_del(loop, other, EV_READ), 0);
    } else if (b->swap) {
        int fp[2];
        ck_assert_int_eq(ev_del(loop, other, EV_READ | EV_WRITE), 0);
        mkpair(fp);
        /* The same fd number now names a new, idle socket. */
        ck_assert_int_eq(dup2(fp[0], other), other);
        close(fp[0]);
        b->fresh_peer = fp[1];
        ck_assert_int_eq(ev_add(loop, other, EV_READ, rec_cb, &b->fresh), 0);
    } else if (b->grow) {
        b->grow_fd = dup2(b->fds[idx], 9000);
        ck_assert_int_eq(b->grow_fd, 9000);
        ck_assert_int_eq(ev_add(loop, b->grow_fd, EV_READ, rec_cb, &b->fresh), 0);
    } else {
        ck_assert_int_eq(ev_del(loop, other, EV_READ | EV_WRITE), 0);
    }
}

static void batch_setup(batch *b, int a[2], int c[2], int mask)
{
    memset(b, 0, sizeof(*b));
    b->first = -1;
    b->fresh_peer = -1;
    b->grow_fd = -1;
    mkpair(a);
    mkpair(c);
    b->fds[0] = a[0];
    b->fds[1] = c[0];
    ck_assert_int_eq(ev_add(L, a[0], mask, batch_cb, b), 0);
    ck_assert_int_eq(ev_add(L, c[0], mask, batch_cb, b), 0);
    put(a[1]);
    put(c[1]);
}

START_TEST(test_del_other_in_batch)
{
    int a[2], c[2];
    batch b;
    batch_setup(&b, a, c, EV_READ);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(b.calls[0] + b.calls[1], 1);
    ck_assert_int_eq(ev_mask(L, b.fds[1 - b.first]), EV_NONE);
    ck_assert_uint_eq(ev_live_handles(L), 1);
    /* Still readable but no longer registered: nothing fires. */
    ck_assert_int_eq(ev_run_once(L, 0), 1);
    ck_assert_int_eq(b.calls[b.first], 2);
    ck_assert_int_eq(b.calls[1 - b.first], 0);
    closepair(a);
    closepair(c);
}
END_TEST

START_TEST(test_partial_del_in_batch)
{
    int a[2], c[2];
    batch b;
    batch_setup(&b, a, c, EV_READ | EV_WRITE);
    b.partial = 1;
    ck_assert_int_eq(ev_run_once(L, 1000), 2);
    ck_assert_int_eq(b.calls[0], 1);
    ck_assert_int_eq(b.calls[1], 1);
    ck_assert_int_eq(b.masks[b.first], EV_READ | EV_WRITE);
    /* Readable too, but READ was removed by the earlier callback of the batch. */
    ck_assert_int_eq(b.masks[1 - b.first], EV_WRITE);
    closepair(a);
    closepair(c);
}
END_TEST

START_TEST(test_del_readd_same_fd_in_batch)
{
    int a[2], c[2];
    batch b;
    batch_setup(&b, a, c, EV_READ);
    b.swap = 1;
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(b.calls[0] + b.calls[1], 1);
    /* The batch held a readable event for the old socket behind that number. */
    ck_assert_int_eq(b.fresh.calls, 0);
    int other = b.fds[1 - b.first];
    ck_assert_int_eq(ev_mask(L, other), EV_READ);
    drain(b.fds[b.first]);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(b.fresh.calls, 0);
    put(b.fresh_peer);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(b.fresh.calls, 1);
    ck_assert_int_eq(b.fresh.last_fd, other);
    ck_assert_int_eq(b.fresh.last_mask, EV_READ);
    closepair(a);
    closepair(c);
    close(b.fresh_peer);
}
END_TEST

START_TEST(test_table_grows_during_batch)
{
    int a[2], c[2];
    batch b;
    batch_setup(&b, a, c, EV_READ);
    b.grow = 1;
    ck_assert_int_eq(ev_run_once(L, 1000), 2);
    ck_assert_int_eq(b.calls[0], 1);
    ck_assert_int_eq(b.calls[1], 1);
    ck_assert_int_eq(b.fresh.calls, 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 3);
    ck_assert_int_eq(b.fresh.calls, 1);
    ck_assert_int_eq(b.fresh.last_fd, 9000);
    ck_assert_int_eq(ev_del(L, 9000, EV_READ | EV_WRITE), 0);
    close(9000);
    closepair(a);
    closepair(c);
}
END_TEST

START_TEST(test_close_and_reuse_fd)
{
    int p[2], q[2];
    rec r1 = {0}, r2 = {0};
    mkpair(p);
    ck_assert_int_eq(ev_add(L, p[0], EV_READ | EV_WRITE, rec_cb, &r1), 0);
    int old0 = p[0];
    closepair(p);
    ck_assert_uint_eq(ev_live_handles(L), 0);

    mkpair(q);
    ck_assert_int_eq(q[0], old0); /* lowest free number comes back */
    ck_assert_int_eq(ev_mask(L, q[0]), EV_NONE);
    ck_assert_int_eq(ev_add(L, q[0], EV_READ, rec_cb, &r2), 0);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    put(q[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r1.calls, 0);
    ck_assert_int_eq(r2.calls, 1);
    ck_assert_int_eq(r2.last_mask, EV_READ);
    closepair(q);
}
END_TEST

typedef struct selfclose {
    int calls;
    int peer;
} selfclose;

static void selfclose_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    selfclose *s = ud;
    s->calls++;
    ck_assert_int_eq(ev_del(loop, fd, EV_READ | EV_WRITE), 0);
    if (s->calls > 1)
        return;
    close(fd);
    /* Reuse the number at once, as a server accepting a new client would. */
    int np[2];
    mkpair(np);
    ck_assert_int_eq(np[0], fd);
    s->peer = np[1];
    ck_assert_int_eq(ev_add(loop, np[0], EV_READ, selfclose_cb, s), 0);
}

START_TEST(test_callback_closes_own_fd)
{
    int p[2];
    selfclose s = {0, -1};
    mkpair(p);
    ck_assert_int_eq(ev_add(L, p[0], EV_READ | EV_WRITE, selfclose_cb, &s), 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(s.calls, 1);
    close(p[1]);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    put(s.peer);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(s.calls, 2);
    ck_assert_int_eq(ev_mask(L, p[0]), EV_NONE);
    close(p[0]); /* the replacement socket, under the same number */
    close(s.peer);
}
END_TEST

/* ---- hang-up and errors ---- */

typedef struct hup {
    int calls;
    int mask;
    ssize_t rd;
    int werr;
} hup;

static void hup_read_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    hup *h = ud;
    char c;
    h->calls++;
    h->mask = mask;
    h->rd = read(fd, &c, 1);
    ev_del(loop, fd, EV_READ | EV_WRITE);
}

static void hup_write_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    hup *h = ud;
    h->calls++;
    h->mask = mask;
    errno = 0;
    h->rd = write(fd, "x", 1);
    h->werr = errno;
    ev_del(loop, fd, EV_READ | EV_WRITE);
}

START_TEST(test_hangup_socket)
{
    int sv[2];
    hup h = {0};
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, hup_read_cb, &h), 0);
    close(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(h.mask, EV_READ);
    ck_assert_int_eq(h.rd, 0);
    close(sv[0]);
}
END_TEST

START_TEST(test_hangup_pipe_read_end)
{
    /* A pipe whose writer is gone reports only POLLHUP/EPOLLHUP, never IN. */
    int p[2];
    hup h = {0};
    ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    ck_assert_int_eq(ev_add(L, p[0], EV_READ, hup_read_cb, &h), 0);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    close(p[1]);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(h.mask, EV_READ);
    ck_assert_int_eq(h.rd, 0);
    close(p[0]);
}
END_TEST

START_TEST(test_error_pipe_write_end)
{
    int p[2];
    hup h = {0};
    ck_assert_int_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    close(p[0]);
    ck_assert_int_eq(ev_add(L, p[1], EV_WRITE, hup_write_cb, &h), 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(h.mask, EV_WRITE);
    ck_assert_int_eq(h.rd, -1);
    ck_assert_int_eq(h.werr, EPIPE);
    close(p[1]);
}
END_TEST

START_TEST(test_hangup_masked_to_registered)
{
    /* Only WRITE registered: the hang-up shows up as WRITE, never as an unasked READ. */
    int sv[2];
    rec r = {0};
    mkpair(sv);
    close(sv[1]);
    ck_assert_int_eq(ev_add(L, sv[0], EV_WRITE, rec_cb, &r), 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_mask, EV_WRITE);
    ck_assert_int_eq(ev_del(L, sv[0], EV_WRITE), 0);
    close(sv[0]);
}
END_TEST

START_TEST(test_peer_shutdown_seen_behind_unread_bytes)
{
    /* The peer writes, then shuts down its side: EV_HANGUP says so though the bytes in front
     * of the end are still unread, and nothing fires before the shutdown. */
    int sv[2];
    rec r = {0};
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_HANGUP, rec_cb, &r), 0);
    put(sv[1]);
    ck_assert_int_eq(ev_run_once(L, 50), 0);
    ck_assert_int_eq(r.calls, 0);
    ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_mask, EV_HANGUP);
    char b;
    ck_assert_int_eq(read(sv[0], &b, 1), 1); /* the byte is still there */
    ck_assert_int_eq(ev_del(L, sv[0], EV_HANGUP), 0);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_NONE);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_hangup_not_reported_unasked)
{
    /* READ alone: a shutdown reads as READ (the end of the stream), never as EV_HANGUP. */
    int sv[2];
    rec r = {0};
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, rec_cb, &r), 0);
    ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
    ck_assert_int_eq(ev_run_once(L, 1000), 1);
    ck_assert_int_eq(r.last_mask, EV_READ);
    closepair(sv);
}
END_TEST

/* ---- many fds ---- */

static void count_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    int *c = ud;
    ck_assert_int_eq(mask, EV_READ);
    (*c)++;
}

START_TEST(test_many_fds)
{
    enum { N = 1000 };
    static int fds[N][2];
    static int counts[N];
    memset(counts, 0, sizeof(counts));

    for (int i = 0; i < N; i++) {
        mkpair(fds[i]);
        ck_assert_int_eq(ev_add(L, fds[i][0], EV_READ, count_cb, &counts[i]), 0);
    }
    ck_assert_uint_eq(ev_live_handles(L), N);
    int expect = 0;
    for (int i = 0; i < N; i += 3) {
        put(fds[i][1]);
        expect++;
    }
    ck_assert_int_eq(ev_run_once(L, 1000), expect);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(counts[i], i % 3 == 0 ? 1 : 0);
        drain(fds[i][0]);
    }

    /* Remove the even ones (reshuffles the poll array), then all odd ones must still fire. */
    for (int i = 0; i < N; i += 2)
        closepair(fds[i]);
    ck_assert_uint_eq(ev_live_handles(L), N / 2);
    for (int i = 1; i < N; i += 2)
        put(fds[i][1]);
    ck_assert_int_eq(ev_run_once(L, 1000), N / 2);
    for (int i = 1; i < N; i += 2) {
        ck_assert_int_eq(counts[i], i % 3 == 0 ? 2 : 1);
        closepair(fds[i]);
    }
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

/* ---- timers ---- */

typedef struct tctx {
    ev_timer t;
    int id;
    int calls;
    long repeat; /* delay to return while calls < limit */
    int limit;
    int *order;
    int *norder;
    ev_timer *victim; /* stop this one */
    ev_timer *starts; /* start this one */
    long starts_ms;
    int restart_self; /* calls ev_timer_start on itself, returns STOP */
} tctx;

static long tctx_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    tctx *c = ud;
    ck_assert_ptr_eq(t, &c->t);
    ck_assert(!ev_timer_active(t));
    c->calls++;
    if (c->order != NULL)
        c->order[(*c->norder)++] = c->id;
    if (c->victim != NULL)
        ev_timer_stop(loop, c->victim);
    if (c->starts != NULL)
        ev_timer_start(loop, c->starts, c->starts_ms);
    if (c->restart_self && c->calls < c->limit) {
        ev_timer_start(loop, t, 1);
        return EV_TIMER_STOP;
    }
    if (c->calls < c->limit)
        return c->repeat;
    return EV_TIMER_STOP;
}

static void tinit(tctx *c, int id, int *order, int *norder)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->order = order;
    c->norder = norder;
    ev_timer_init(&c->t, tctx_cb, c);
}

START_TEST(test_timers_fire_in_order)
{
    int order[8], n = 0;
    tctx a, b, c;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    tinit(&c, 'C', order, &n);
    ck_assert(!ev_timer_active(&a.t));
    /* Timers count from the loop's cached time, which may be older than the clock now (a
     * loaded machine, a sanitizer build): measure from it, the same CLOCK_MONOTONIC ms. */
    long long t0 = ev_now(L);
    ev_timer_start(L, &a.t, 5);
    ev_timer_start(L, &b.t, 1);
    ev_timer_start(L, &c.t, 3);
    ck_assert(ev_timer_active(&a.t));
    ck_assert_uint_eq(ev_live_handles(L), 3);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_ge(mono_ms() - t0, 4);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(order[0], 'B');
    ck_assert_int_eq(order[1], 'C');
    ck_assert_int_eq(order[2], 'A');
    ck_assert(!ev_timer_active(&a.t));
    ck_assert(!ev_timer_active(&b.t));
    ck_assert(!ev_timer_active(&c.t));
}
END_TEST

START_TEST(test_timer_restart_and_stop_outside)
{
    int order[8], n = 0;
    tctx a, b;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    ev_timer_start(L, &a.t, 1);
    ev_timer_start(L, &b.t, 3);
    ev_timer_start(L, &a.t, 6); /* re-arming moves it later, does not duplicate it */
    ck_assert_uint_eq(ev_live_handles(L), 2);
    ev_timer_start(L, &b.t, 2);
    ev_timer_stop(L, &b.t);
    ev_timer_stop(L, &b.t); /* safe when inactive */
    ck_assert_uint_eq(ev_live_handles(L), 1);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(order[0], 'A');
    ck_assert_int_eq(b.calls, 0);
}
END_TEST

START_TEST(test_timer_repeat)
{
    tctx a;
    tinit(&a, 'A', NULL, NULL);
    a.repeat = 2;
    a.limit = 4;
    long long t0 = ev_now(L); /* timers count from the loop's time: see above */
    ev_timer_start(L, &a.t, 0);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(a.calls, 4);
    ck_assert_int_ge(mono_ms() - t0, 5);
    ck_assert(!ev_timer_active(&a.t));
}
END_TEST

/* Rearmed with 0 ms, a timer fires once an iteration, and ev_iteration tells them apart. */
static unsigned long long iter_seen[4];
static int iter_calls;

static long iter_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    (void)t;
    (void)ud;
    iter_seen[iter_calls++] = ev_iteration(loop);
    return iter_calls < 4 ? 0 : EV_TIMER_STOP;
}

START_TEST(test_iteration_counts_rounds)
{
    ev_timer t;
    iter_calls = 0;
    ev_timer_init(&t, iter_cb, NULL);
    unsigned long long before = ev_iteration(L);
    ev_timer_start(L, &t, 0);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(iter_calls, 4);
    ck_assert(iter_seen[0] > before);
    for (int i = 1; i < 4; i++)
        ck_assert(iter_seen[i] == iter_seen[i - 1] + 1);
}
END_TEST

START_TEST(test_timer_restart_self_in_cb)
{
    tctx a;
    tinit(&a, 'A', NULL, NULL);
    a.restart_self = 1;
    a.limit = 3;
    ev_timer_start(L, &a.t, 1);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(a.calls, 3);
}
END_TEST

START_TEST(test_timer_stop_other_in_cb)
{
    int order[8], n = 0;
    tctx a, b, c;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    tinit(&c, 'C', order, &n);
    a.victim = &b.t;
    ev_timer_start(L, &a.t, 1);
    ev_timer_start(L, &b.t, 3);
    ev_timer_start(L, &c.t, 4);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(order[0], 'A');
    ck_assert_int_eq(order[1], 'C');
    ck_assert_int_eq(b.calls, 0);
}
END_TEST

START_TEST(test_timer_stop_other_due_in_same_pass)
{
    /* Both due in the same pass: whichever fires first stops the other before it runs. */
    int order[8], n = 0;
    tctx a, b;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    a.victim = &b.t;
    b.victim = &a.t;
    ev_timer_start(L, &a.t, 0);
    ev_timer_start(L, &b.t, 0);
    ck_assert_int_eq(ev_run_once(L, 0), 1);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(a.calls + b.calls, 1);
    ck_assert(!ev_timer_active(&a.t));
    ck_assert(!ev_timer_active(&b.t));
    ck_assert_uint_eq(ev_live_handles(L), 0);
}
END_TEST

START_TEST(test_timer_restart_other_due_in_same_pass)
{
    /* A due timer re-armed by another callback waits for its new time instead. */
    int order[8], n = 0;
    tctx a, b;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    a.starts = &b.t;
    a.starts_ms = 3;
    b.starts = &a.t;
    b.starts_ms = 3;
    ev_timer_start(L, &a.t, 0);
    ev_timer_start(L, &b.t, 0);
    ck_assert_int_eq(ev_run_once(L, 0), 1);
    ck_assert_int_eq(a.calls + b.calls, 1);
    /* The one that fired returned STOP; the other is pending at its new time. */
    ck_assert(ev_timer_active(&a.t) == (a.calls == 0));
    ck_assert(ev_timer_active(&b.t) == (b.calls == 0));
    ck_assert_uint_eq(ev_live_handles(L), 1);
    ev_timer_stop(L, &a.t);
    ev_timer_stop(L, &b.t);
}
END_TEST

START_TEST(test_timer_started_in_cb)
{
    int order[8], n = 0;
    tctx a, b;
    tinit(&a, 'A', order, &n);
    tinit(&b, 'B', order, &n);
    a.starts = &b.t;
    a.starts_ms = 2;
    ev_timer_start(L, &a.t, 1);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(order[0], 'A');
    ck_assert_int_eq(order[1], 'B');
}
END_TEST

START_TEST(test_zero_delay_timer_does_not_starve)
{
    int sv[2];
    rec r = {0};
    tctx z;
    tinit(&z, 'Z', NULL, NULL);
    z.repeat = 0;
    z.limit = 1000000;
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, rec_cb, &r), 0);
    put(sv[1]);
    ev_timer_start(L, &z.t, 0);
    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(ev_run_once(L, 1000), 2);
        ck_assert_int_eq(z.calls, i);
        ck_assert_int_eq(r.calls, i);
    }
    ev_timer_stop(L, &z.t);
    closepair(sv);
}
END_TEST

START_TEST(test_wait_timeout_from_timer)
{
    tctx a;
    tinit(&a, 'A', NULL, NULL);
    long long t0 = mono_ms();
    ev_update_time(L);
    ev_timer_start(L, &a.t, 30);
    /* An explicit shorter timeout wins... */
    ck_assert_int_eq(ev_run_once(L, 5), 0);
    long long dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 4);
    ck_assert_int_lt(dt, 29);
    ck_assert(ev_timer_active(&a.t));
    /* ...and with -1 the wait ends at the timer. */
    ck_assert_int_eq(ev_run_once(L, -1), 1);
    dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 29);
    ck_assert_int_lt(dt, 1000);
    ck_assert_int_eq(a.calls, 1);
}
END_TEST

START_TEST(test_now)
{
    long long n0 = ev_now(L);
    ck_assert_int_gt(n0, 0);
    struct timespec ts = {0, 3 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(ev_now(L), n0); /* cached */
    ev_update_time(L);
    ck_assert_int_ge(ev_now(L) - n0, 3);
}
END_TEST

/* An event that ends a long wait must be handled at the time it arrived, not at the time
 * the wait began: idle timeouts measure from it. */
typedef struct {
    int fd;
    long long seen;
} stamp;

static void stamp_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    ((stamp *)ud)->seen = ev_now(loop);
    drain(fd);
}

static void *write_later(void *arg)
{
    struct timespec ts = {0, 80 * 1000 * 1000};
    nanosleep(&ts, NULL);
    put(((stamp *)arg)->fd);
    return NULL;
}

START_TEST(test_now_fresh_in_io_callback)
{
    int sv[2];
    mkpair(sv);
    stamp st = {sv[1], 0};
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, stamp_cb, &st), 0);
    ev_update_time(L);
    long long before = ev_now(L);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_later, &st), 0);
    ck_assert_int_eq(ev_run_once(L, 2000), 1);
    pthread_join(th, NULL);
    ck_assert_int_ge(st.seen - before, 60);
    ev_del(L, sv[0], EV_READ | EV_WRITE);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* ---- run, stop, hooks ---- */

static void del_self_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    (*(int *)ud)++;
    ev_del(loop, fd, EV_READ | EV_WRITE);
}

START_TEST(test_run_returns_when_empty)
{
    long long t0 = mono_ms();
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(ev_run_once(L, -1), 0); /* nothing could wake it: no wait */
    ck_assert_int_lt(mono_ms() - t0, 500);

    int sv[2], calls = 0;
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, del_self_cb, &calls), 0);
    put(sv[1]);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(calls, 1);
    closepair(sv);
}
END_TEST

static void stop_cb(ev_loop *loop, int fd, int mask, void *ud)
{
    (*(int *)ud)++;
    ev_stop(loop);
}

static long stop_timer_cb(ev_loop *loop, ev_timer *t, void *ud)
{
    if (++*(int *)ud == 3)
        ev_stop(loop);
    return 1;
}

START_TEST(test_stop)
{
    int sv[2], calls = 0;
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, stop_cb, &calls), 0);
    put(sv[1]);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(ev_mask(L, sv[0]), EV_READ);
    /* The stop request is consumed: the next run goes on until stopped again. */
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(calls, 2);
    closepair(sv);

    int ticks = 0;
    ev_timer t;
    ev_timer_init(&t, stop_timer_cb, &ticks);
    ev_timer_start(L, &t, 1);
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_eq(ticks, 3);
    ck_assert(ev_timer_active(&t));
    ev_timer_stop(L, &t);
}
END_TEST

typedef struct hookctx {
    int calls;
    int write_fd; /* written on the first call */
    int stop_at;  /* ev_stop on this call */
    int rd_calls; /* reads seen when the hook ran */
    rec *r;
} hookctx;

static void hook_cb(ev_loop *loop, void *ud)
{
    hookctx *h = ud;
    h->calls++;
    if (h->r != NULL)
        h->rd_calls = h->r->calls;
    if (h->calls == 1 && h->write_fd >= 0)
        put(h->write_fd);
    if (h->calls == h->stop_at)
        ev_stop(loop);
}

START_TEST(test_before_sleep_hook)
{
    int sv[2];
    rec r = {0};
    hookctx h = {0, -1, 0, 0, &r};
    mkpair(sv);
    h.write_fd = sv[1];
    ev_set_before_sleep(L, hook_cb, &h);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, rec_cb, &r), 0);
    /* The hook runs before the wait, so its write is seen by the same iteration. */
    ck_assert_int_eq(ev_run_once(L, -1), 1);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(h.rd_calls, 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(ev_run_once(L, 0), 1);
    ck_assert_int_eq(h.calls, 2);
    ck_assert_int_eq(h.rd_calls, 1);
    drain(sv[0]);

    /* A stop from the hook ends ev_run without waiting for an event that never comes. */
    h.stop_at = 3;
    long long t0 = mono_ms();
    ck_assert_int_eq(ev_run(L), 0);
    ck_assert_int_lt(mono_ms() - t0, 500);
    ck_assert_int_eq(h.calls, 3);

    ev_set_before_sleep(L, NULL, NULL);
    ck_assert_int_eq(ev_run_once(L, 0), 0);
    ck_assert_int_eq(h.calls, 3);
    closepair(sv);
}
END_TEST

static pthread_t g_main_thread;
static atomic_int g_woken;

static void on_usr1(int sig)
{
    (void)sig;
}

/* Keeps signalling until the main thread is back: one signal could land before the wait. */
static void *kill_later(void *arg)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    while (!atomic_load(&g_woken)) {
        nanosleep(&ts, NULL);
        pthread_kill(g_main_thread, SIGUSR1);
    }
    return NULL;
}

START_TEST(test_eintr_is_not_an_error)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1; /* no SA_RESTART: the wait is interrupted */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);

    int sv[2];
    rec r = {0};
    mkpair(sv);
    ck_assert_int_eq(ev_add(L, sv[0], EV_READ, rec_cb, &r), 0);
    g_main_thread = pthread_self();
    atomic_store(&g_woken, 0);
    pthread_t th;
    long long t0 = mono_ms();
    ck_assert_int_eq(pthread_create(&th, NULL, kill_later, NULL), 0);
    int rc = ev_run_once(L, 5000);
    atomic_store(&g_woken, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_lt(mono_ms() - t0, 4000);
    ck_assert_int_eq(r.calls, 0);
    closepair(sv);
}
END_TEST

/* ---- backend selection (not per backend) ---- */

START_TEST(test_auto_env)
{
    ev_loop *l;
    setenv("FTP_EV_BACKEND", "poll", 1);
    l = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(ev_backend_name(l), "poll");
    ev_loop_free(l);

    setenv("FTP_EV_BACKEND", "epoll", 1);
    l = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_str_eq(ev_backend_name(l), "epoll");
    ev_loop_free(l);

    unsetenv("FTP_EV_BACKEND");
    l = ev_loop_new(EV_BACKEND_AUTO);
    ck_assert_str_eq(ev_backend_name(l), "epoll");
    ev_loop_free(l);

    /* Explicit kinds ignore the variable. */
    setenv("FTP_EV_BACKEND", "poll", 1);
    l = ev_loop_new(EV_BACKEND_EPOLL);
    ck_assert_str_eq(ev_backend_name(l), "epoll");
    ev_loop_free(l);
    unsetenv("FTP_EV_BACKEND");
}
END_TEST

static int count_epoll_fds(int *cloexec)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    *cloexec = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") != 0)
            continue;
        n++;
        int fl = fcntl(atoi(e->d_name), F_GETFD);
        if (fl >= 0 && (fl & FD_CLOEXEC))
            (*cloexec)++;
    }
    closedir(d);
    return n;
}

START_TEST(test_epoll_cloexec_and_free)
{
    int cloexec;
    int before = count_epoll_fds(&cloexec);
    ev_loop *l = ev_loop_new(EV_BACKEND_EPOLL);
    ck_assert_ptr_nonnull(l);
    int during = count_epoll_fds(&cloexec);
    ck_assert_int_eq(during, before + 1);
    ck_assert_int_eq(cloexec, during);
    ev_loop_free(l);
    ck_assert_int_eq(count_epoll_fds(&cloexec), before);
}
END_TEST

START_TEST(test_free_with_active_timer)
{
    /* Timers belong to their owners, which may outlive the loop. */
    ev_loop *l = ev_loop_new(EV_BACKEND_POLL);
    tctx a;
    tinit(&a, 'A', NULL, NULL);
    ev_timer_start(l, &a.t, 1000);
    ck_assert(ev_timer_active(&a.t));
    ev_loop_free(l);
    ck_assert(!ev_timer_active(&a.t));
}
END_TEST

static Suite *backend_suite(const char *name, void (*setup)(void))
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_backend_name);
    tcase_add_test(tc, test_readable_writable);
    tcase_add_test(tc, test_add_errors_and_high_fd);
    tcase_add_test(tc, test_del_other_in_batch);
    tcase_add_test(tc, test_partial_del_in_batch);
    tcase_add_test(tc, test_del_readd_same_fd_in_batch);
    tcase_add_test(tc, test_table_grows_during_batch);
    tcase_add_test(tc, test_close_and_reuse_fd);
    tcase_add_test(tc, test_callback_closes_own_fd);
    tcase_add_test(tc, test_hangup_socket);
    tcase_add_test(tc, test_hangup_pipe_read_end);
    tcase_add_test(tc, test_error_pipe_write_end);
    tcase_add_test(tc, test_hangup_masked_to_registered);
    tcase_add_test(tc, test_peer_shutdown_seen_behind_unread_bytes);
    tcase_add_test(tc, test_hangup_not_reported_unasked);
    tcase_add_test(tc, test_many_fds);
    tcase_add_test(tc, test_timers_fire_in_order);
    tcase_add_test(tc, test_timer_restart_and_stop_outside);
    tcase_add_test(tc, test_timer_repeat);
    tcase_add_test(tc, test_iteration_counts_rounds);
    tcase_add_test(tc, test_timer_restart_self_in_cb);
    tcase_add_test(tc, test_timer_stop_other_in_cb);
    tcase_add_test(tc, test_timer_stop_other_due_in_same_pass);
    tcase_add_test(tc, test_timer_restart_other_due_in_same_pass);
    tcase_add_test(tc, test_timer_started_in_cb);
    tcase_add_test(tc, test_zero_delay_timer_does_not_starve);
    tcase_add_test(tc, test_wait_timeout_from_timer);
    tcase_add_test(tc, test_now);
    tcase_add_test(tc, test_now_fresh_in_io_callback);
    tcase_add_test(tc, test_run_returns_when_empty);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_before_sleep_hook);
    tcase_add_test(tc, test_eintr_is_not_an_error);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *select_suite(void)
{
    Suite *s = suite_create("ev_select");
    TCase *tc = tcase_create("select");
    tcase_add_test(tc, test_auto_env);
    tcase_add_test(tc, test_epoll_cloexec_and_free);
    tcase_add_test(tc, test_free_with_active_timer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Writes to a closed pipe must fail with EPIPE, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    /* test_many_fds and the high-fd tests need more than the common 1024 default. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    SRunner *sr = srunner_create(backend_suite("ev_epoll", setup_epoll));
    srunner_add_suite(sr, backend_suite("ev_poll", setup_poll));
    srunner_add_suite(sr, select_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
