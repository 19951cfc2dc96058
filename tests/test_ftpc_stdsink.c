/* Check suite for ftpc/stdsink: standard output written without blocking and without
 * O_NONBLOCK on the shared descriptor. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "stdsink.h"

static char big[1 << 20];

/* Writes until the sink says it would block; returns the bytes it took. */
static size_t fill(ftpc_stdsink *s)
{
    size_t total = 0;
    for (;;) {
        ssize_t w = ftpc_stdsink_write(s, big, sizeof(big));
        if (w < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            return total;
        }
        ck_assert_int_gt(w, 0);
        total += (size_t)w;
    }
}

START_TEST(test_full_pipe_says_eagain_and_leaves_the_fd_blocking)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, p[1], NULL);
    ck_assert_int_eq(s.how, FTPC_SINK_OWN);
    ck_assert_int_ne(s.fd, p[1]);
    ck_assert_int_gt(fill(&s), 0);
    ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
    /* What the reader takes makes room again. */
    char buf[65536];
    ck_assert_int_gt(read(p[0], buf, sizeof(buf)), 0);
    ck_assert_int_gt(ftpc_stdsink_write(&s, big, 10), 0);
    ftpc_stdsink_close(&s);
    ck_assert_int_eq(s.fd, -1);
    ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

START_TEST(test_reader_gone_is_epipe)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    signal(SIGPIPE, SIG_IGN);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, p[1], NULL);
    close(p[0]);
    ck_assert_int_eq(ftpc_stdsink_write(&s, "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    ftpc_stdsink_close(&s);
    close(p[1]);
}
END_TEST

START_TEST(test_full_socket_says_eagain)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, sv[1], NULL);
    ck_assert_int_eq(s.how, FTPC_SINK_SEND);
    ck_assert_int_eq(s.fd, sv[1]);
    ck_assert_int_gt(fill(&s), 0);
    ck_assert_int_eq(fcntl(sv[1], F_GETFL) & O_NONBLOCK, 0);
    ftpc_stdsink_close(&s);
    ck_assert_int_ge(fcntl(sv[1], F_GETFD), 0); /* fd 1 itself is never closed */
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_full_terminal_says_eagain)
{
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, slave, NULL);
    ck_assert_int_eq(s.how, FTPC_SINK_OWN);
    ck_assert_int_gt(fill(&s), 0);
    ck_assert_int_eq(fcntl(slave, F_GETFL) & O_NONBLOCK, 0);
    ftpc_stdsink_close(&s);
    close(master);
    close(slave);
}
END_TEST

START_TEST(test_terminal_master_is_written_where_it_leads)
{
    /* a program holding a terminal's master side as ftpc's output: opened again it would be
     * a new terminal, and the bytes would reach no one */
    int master, slave;
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct termios raw;
    ck_assert_int_eq(tcgetattr(slave, &raw), 0);
    cfmakeraw(&raw);
    ck_assert_int_eq(tcsetattr(slave, TCSANOW, &raw), 0);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, master, NULL);
    ck_assert_int_eq(s.how, FTPC_SINK_BLOCK);
    ck_assert_int_eq(ftpc_stdsink_write(&s, "hello\n", 6), 6);
    char got[16] = "";
    ck_assert_int_eq(read(slave, got, sizeof(got)), 6);
    ck_assert_int_eq(memcmp(got, "hello\n", 6), 0);
    ftpc_stdsink_close(&s);
    close(master);
    close(slave);
}
END_TEST

START_TEST(test_regular_file_is_written_whole)
{
    char path[] = "/tmp/test_ftpc_stdsink.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ftpc_stdsink s;
    ftpc_stdsink_open(&s, fd, NULL);
    ck_assert_int_eq(s.how, FTPC_SINK_BLOCK);
    ck_assert_int_eq(s.fd, fd);
    ck_assert_int_eq(ftpc_stdsink_write(&s, big, sizeof(big)), (ssize_t)sizeof(big));
    ftpc_stdsink_close(&s);
    ck_assert_int_eq(lseek(fd, 0, SEEK_END), (off_t)sizeof(big));
    close(fd);
}
END_TEST

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Fills the pipe through a description of its own: fd itself stays blocking. */
static void fill_pipe(int fd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int nb = open(path, O_WRONLY | O_NONBLOCK);
    ck_assert_int_ge(nb, 0);
    while (write(nb, big, sizeof(big)) > 0)
        ;
    close(nb);
}

static void *drain_later(void *arg)
{
    int fd = *(int *)arg;
    usleep(300 * 1000);
    char buf[65536];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    return NULL;
}

/* Once stopped, a message still reaches a reader who is slow but reads (a logger behind a
 * pipe), and gives up on one who reads nothing within 2 s in all: a full pipe does not hold
 * an interrupted run for long. */
START_TEST(test_message_after_a_stop_waits_a_bounded_time)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    volatile sig_atomic_t stop = 0;
    ck_assert(ftpc_stdsink_write_msg(p[1], "one\n", 4, &stop));
    stop = 1;
    ck_assert(ftpc_stdsink_write_msg(p[1], "two\n", 4, &stop));
    char buf[16];
    ck_assert_int_eq(read(p[0], buf, sizeof(buf)), 8);
    ck_assert_mem_eq(buf, "one\ntwo\n", 8);
    /* full, and read 0.3 s later: the message waits for the reader and goes out */
    fill_pipe(p[1]);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, drain_later, &p[0]), 0);
    ck_assert(ftpc_stdsink_write_msg(p[1], "three\n", 6, &stop));
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    /* full, never read: given up within what is left of the 2 s, then at once */
    ck_assert_int_eq(pipe(p), 0);
    fill_pipe(p[1]);
    double t0 = now_s();
    ck_assert(!ftpc_stdsink_write_msg(p[1], "four\n", 5, &stop));
    double t1 = now_s();
    ck_assert(!ftpc_stdsink_write_msg(p[1], "five\n", 5, &stop));
    ck_assert(t1 - t0 < 2.5);
    ck_assert(now_s() - t1 < 0.2);
    ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

static void on_nudge(int sig)
{
    (void)sig;
}

static pthread_t nudged;

static void *nudge_for_half_a_second(void *arg)
{
    (void)arg;
    for (int i = 0; i < 25; i++) {
        usleep(20 * 1000);
        pthread_kill(nudged, SIGUSR1);
    }
    return NULL;
}

/* The shell nudges a stopped job's thread with a signal every 20 ms: each one interrupted the
 * wait, and the message was dropped at once. */
START_TEST(test_message_after_a_stop_outlasts_signals)
{
    struct sigaction sa = {.sa_handler = on_nudge}; /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    volatile sig_atomic_t stop = 1;
    fill_pipe(p[1]);
    nudged = pthread_self();
    pthread_t drainer, nudger;
    ck_assert_int_eq(pthread_create(&drainer, NULL, drain_later, &p[0]), 0);
    ck_assert_int_eq(pthread_create(&nudger, NULL, nudge_for_half_a_second, NULL), 0);
    ck_assert(ftpc_stdsink_write_msg(p[1], "six\n", 4, &stop));
    pthread_join(nudger, NULL);
    close(p[1]);
    pthread_join(drainer, NULL);
    close(p[0]);
}
END_TEST

static Suite *stdsink_suite(void)
{
    Suite *s = suite_create("ftpc_stdsink");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_full_pipe_says_eagain_and_leaves_the_fd_blocking);
    tcase_add_test(tc, test_reader_gone_is_epipe);
    tcase_add_test(tc, test_full_socket_says_eagain);
    tcase_add_test(tc, test_full_terminal_says_eagain);
    tcase_add_test(tc, test_terminal_master_is_written_where_it_leads);
    tcase_add_test(tc, test_regular_file_is_written_whole);
    tcase_add_test(tc, test_message_after_a_stop_waits_a_bounded_time);
    tcase_add_test(tc, test_message_after_a_stop_outlasts_signals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stdsink_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
