/* The simulated clients of ftpc stress and the run they share.
 *
 * Each client is a small state machine on the shared loop: connect, greeting, [AUTH TLS,
 * handshake], USER/PASS, [PBSZ/PROT], TYPE I, [MODE Z], CWD, then operations drawn from the
 * mix until the run ends, then QUIT. A client owns no buffer of its own: control replies
 * and data go through the run's scratch buffers, an upload is generated from its key at the
 * offset being written, and a download is compared as it arrives (stress_content.h). Only a
 * reply split across reads, an unsent command, and (MODE Z) a compressed block waiting for
 * the socket are kept per client, and only while they exist.
 */
#ifndef FTPC_STRESS_CLIENT_H
#define FTPC_STRESS_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "ev.h"
#include "ftp_reply.h"
#include "ratelimit.h"
#include "stream.h"
#include "stress_expect.h"
#include "stress_opts.h"
#include "stress_stats.h"
#include "stress_window.h"

struct ssl_ctx_st;
struct digest;
struct mz;
struct stress_view;

#define STRESS_VFAIL_DETAIL 20 /* distinct verification failures kept for the report */

typedef struct stress_vfail {
    char who[16]; /* "17" or "setup": the first to meet it */
    char file[96];
    uint64_t offset;   /* UINT64_MAX: a HASH mismatch, no offset known */
    int expected, got; /* bytes; -1 = end of file */
    uint64_t times;    /* downloads that met it at this file and offset */
} stress_vfail;

typedef struct stress_client stress_client;

#define STRESS_MAX_ADDRS 8

typedef struct stress_run {
    const stress_opts *o;
    ev_loop *loop;
    stress_stats st;
    struct sockaddr_storage addr; /* the server's control address: addrs[addr_index] */
    /* The name's addresses: the set-up moves on to the next one while none connects (a
     * name with ::1 first, a server on 127.0.0.1 only), as ftpc's other commands do. */
    struct sockaddr_storage addrs[STRESS_MAX_ADDRS];
    int naddrs, addr_index;
    struct ssl_ctx_st *tls; /* client context with --tls */
    char host[256];         /* for certificate name checks */
    struct stress_view *view;

    /* Shared buffers: every read lands here and is consumed before the next client runs. */
    buf rbuf;               /* control replies */
    ftp_reply_msg msg;      /* the reply being handled */
    char mkd_reply[160];    /* set-up: why MKD of --dir failed, if it did */
    unsigned char *scratch; /* data in and out */
    size_t scratch_size;
    unsigned char *zscratch; /* MODE Z: inflated data, or file bytes to deflate */
    size_t zscratch_size;
    stress_expect expect; /* download fixtures' bytes, while they are small */

    /* What the set-up learned about the server. */
    bool no_epsv;           /* EPSV refused: PASV from now on */
    bool server_hash;       /* FEAT offers HASH with SHA-256 selected */
    bool trace;             /* FTPC_STRESS_TRACE: every command and reply on standard error */
    bool feat_asked;        /* a set-up session sent FEAT */
    bool setup_spared_said; /* a set-up session turned away by a limit was said */
    /* Random, in this run's upload names: two runs with one seed in one directory (two
     * processes for two cores, two CI jobs) would otherwise upload, read back and delete
     * the same names, failing each other's operations with 550s. */
    uint32_t upload_tag;

    stress_client *clients; /* nclients main clients */
    int nclients;
    stress_client *setup; /* nsetup set-up clients */
    int nsetup;
    unsigned setup_next; /* next fixture to prepare */
    int setup_live;
    int setup_rc;          /* exit status of a failed set-up, 0 while fine */
    char setup_error[512]; /* ... and why, for the report */
    bool made_dir;         /* the set-up created --dir */
    bool tearing_down;     /* --clean: set-up client 0 deletes what the set-up left */
    unsigned clean_next;   /* next fixture to delete */
    unsigned clean_gone;   /* ... and how many of them --clean deleted */
    bool clean_failed;
    int left_uploads; /* clients stopped while their upload may be on the server */
    int left_next;    /* the clean-up's next client to look at */
    int left_gone;    /* ... and how many of those uploads are known gone (deleted, or 550) */

    bool main_phase;
    bool ending;              /* no new operations: finish, QUIT */
    bool aborting;            /* stop now: close everything */
    bool interrupted;         /* a signal (Ctrl-C) ended the run */
    bool server_gone;         /* no connect succeeded for the timeout: run ended */
    uint64_t last_connect_us; /* a main client's last TCP connect (or t0_us) */
    uint64_t last_reply_us;   /* a main client last heard from the server (or t0_us) */
    int done;                 /* main clients finished */
    int logged_in;            /* main clients logged in: sessions the server holds */
    int awaiting_greeting;    /* ... connected, not greeted (maybe in its listen queue) */
    int logging_in;           /* ... connecting, up to the login (those awaiting too) */
    int inflight;             /* data connections open */
    uint64_t setup_t0_us;     /* the set-up's start */
    uint64_t setup_end_us;    /* ... and its end (or the interrupt's) */
    uint64_t setup_bytes;     /* file bytes the set-up moved (fixtures) */
    uint64_t t0_us;           /* the main phase's start */
    stress_cpu cpu0;          /* ftpc's CPU time then: the set-up's is not the run's */
    uint64_t t_end_us;
    stress_cpu cpu_end; /* ... and at t_end_us: the report's CPU time covers its duration */
    /* The moments t_end_us is chosen from (stress_window_end), each with the CPU time then. */
    stress_mark stop;     /* an interrupt in the main phase */
    stress_mark deadline; /* the end of --duration, once reached */
    stress_mark counted;  /* when a client last counted anything (sc_stats) */
    uint64_t unfinished;  /* operations cut off by the end of the run */
    int never_in;         /* main clients that ended without ever logging in */
    int never_started;    /* main clients the run ended before their first connect */

    stress_vfail vfail[STRESS_VFAIL_DETAIL];
    int nvfail;
    int tls_errors_shown;
} stress_run;

struct stress_client {
    stress_run *run;
    ev_timer timer; /* start, think, back-off, inactivity, rate-limit pauses */
    stream *ctl, *data;
    char *in_left; /* a reply split across reads */
    char *out;     /* a command the socket did not take yet */
    uint16_t in_left_len, out_len, out_off;
    uint16_t gen; /* bumped whenever a stream is closed or replaced: handlers that may have
                   * closed theirs compare it, never the (reusable) pointer */
    uint8_t state, wake, op, xk, step, fault;
    uint8_t hash_tries; /* HASH replies "busy" so far for this upload */
    uint8_t addr_at;    /* the run's address index its last connect went to */
    uint32_t flags;
    uint32_t id;
    uint32_t iter;    /* operations started */
    uint32_t op_iter; /* iteration of the current put (its file name) */
    uint32_t fixture; /* file of the current get */
    uint32_t backoff_ms;
    uint64_t rng;
    uint64_t key, size, pos, cut;
    uint64_t t_op, t_cmd; /* us */
    long long last_io;    /* ms */
    uint32_t tls_try;     /* TLS: a write that must be retried with at least this much */
    int final_code;       /* the transfer command's final reply */
    ftpc_ratelimit rl;
    struct digest *dg;   /* --verify-put hash: SHA-256 of what was sent */
    struct mz *z;        /* --compress: the codec of the current transfer */
    unsigned char *zbuf; /* --compress upload: deflated bytes not yet sent */
    uint32_t zlen, zoff;
    uint64_t zin; /* file bytes the deflater took since zbuf's bytes last all went out */
};

/* Prepares client c (no I/O). setup: a set-up client, which prepares fixtures instead of
 * running the mix. */
void stress_client_init(stress_client *c, stress_run *run, uint32_t id, bool setup);
/* Starts c after delay_ms. */
void stress_client_start(stress_client *c, long delay_ms);
/* The run reached its end: an idle client quits now, a busy one after its operation. */
void stress_client_end(stress_client *c);
/* Ctrl-C, or the end's grace run out: a transfer under way is cut with ABOR (an upload then
 * deleted), anything else ends as with stress_client_end. Returns whether a transfer was
 * cut (c is still at work). */
bool stress_client_interrupt(stress_client *c);
/* Closes everything at once (signal or hard deadline); the client counts as done. */
void stress_client_kill(stress_client *c);
/* Ctrl-C during the set-up: a set-up client uploading a fixture cuts it with ABOR and
 * deletes it; any other closes at once. Returns whether c is still at work. */
bool stress_client_interrupt_setup(stress_client *c);
/* Frees what c still holds (after the loop stopped). */
void stress_client_free(stress_client *c);
bool stress_client_done(const stress_client *c);

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t stress_now_us(void);

/* Called by clients: every main client finished / the set-up finished (run->setup_rc tells
 * how). Implemented by the run (stress.c). */
void stress_run_client_done(stress_run *run);
void stress_run_setup_done(stress_run *run);
/* A main client's TCP connect failed with err: when none has succeeded for the timeout and
 * no session is up, the server is gone and the run ends (the caller may be finished). */
void stress_run_connect_failed(stress_run *run, int err);
/* A main client, connected, timed out waiting for its greeting or a reply on its way to the
 * login: when no client has had a reply for the timeout and no session is up, the server has
 * stopped and the run ends (the caller may be finished). */
void stress_run_login_timed_out(stress_run *run);
/* Prints a line on standard error without tearing the live view. */
void stress_run_message(stress_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Remote names: fixtures and uploads (out: at least 96 bytes). */
void stress_fixture_name(const stress_run *run, uint32_t index, char *out, size_t size);
void stress_upload_name(const stress_run *run, uint32_t client, uint32_t iter, char *out,
                        size_t size);

#endif
