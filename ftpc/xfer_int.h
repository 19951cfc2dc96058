/* Private to ftpc's transfers (xfer*.c): the transfer's state and struct, and what the files
 * of its state machine call in one another.
 *
 *   xfer.c          the state machine: the commands, their replies, the result, the life
 *   xfer_begin.c    where a transfer begins: the file written or read, the offset resumed
 *                   from, the check of the bytes -c keeps
 *   xfer_refused.c  second chances after a refusal: a resumed upload sent whole, a put into
 *                   a directory, a name NLST matched that is a directory
 *   xfer_nodir.c    a refused put whose directory is not on the server
 *   xfer_lsentry.c  a refused listing of one path: MLST tells whether it is there
 *   xfer_cwdlist.c  LIST of a path pure-ftpd would split: listed from inside it
 *   xfer_data.c     the data connection: its events and timers, the rate limit, the counts
 *   xfer_recv.c     a download's bytes: from the data connection to the file, standard
 *                   output or a captured listing
 *   xfer_send.c     an upload's bytes: from the file to the data connection
 *   xfer_stdin.c    an upload from standard input: its reads, the wait for a slow producer,
 *                   the digest taken on the way
 *
 * A function named xf_ is shared between these files; one without the prefix is static to its
 * own. */
#ifndef FTPC_XFER_INT_H
#define FTPC_XFER_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bars.h"
#include "buf.h"
#include "dchan.h"
#include "digest.h"
#include "dirprobe.h"
#include "dotnames.h"
#include "ev.h"
#include "ftp_reply.h"
#include "mz.h"
#include "overlap.h"
#include "ratelimit.h"
#include "shield.h"
#include "stdsink.h"
#include "verify.h"
#include "xfer.h"

/* Large reads and writes keep the per-byte cost low; a few per wakeup keep one fast transfer
 * from starving the others on the loop. */
#define XFER_BUF_SIZE (1024 * 1024)
#define XFER_CHUNKS_PER_WAKEUP 8
/* Uploads: each sendfile call ends by pushing its segments out, so calls of 64 KiB, with at
 * most 128 KiB queued unsent (TCP_NOTSENT_LOWAT), send the file from ftpc's own CPU. With
 * 4 MiB calls the unsent queue grew to megabytes that the server's ACKs pushed out, on the
 * server's CPU: a 1 GiB put to ftpd on loopback ran at 1699 MiB/s against 1964 (medians of
 * 7, faster in all 7 pairs; curl 1932); against pure-ftpd, 1563 against 1582. */
#define XFER_SENDFILE_CHUNK (64 * 1024)
#define XFER_UPLOAD_NOTSENT_LOWAT (128 * 1024)
/* Bounds one wakeup's work when reads are small (TLS returns one 16 KiB record a call). */
#define XFER_READS_PER_WAKEUP 64
#define XFER_ZBUF_SIZE (256 * 1024)

typedef enum {
    XS_WAIT_CONN, /* for the connection to be ready */
    XS_TYPE,      /* TYPE A or TYPE I sent (-a, or the shell's ascii/binary) */
    XS_SIZE,      /* SIZE before the transfer */
    XS_PREFIX,    /* -c: HASH over RANG of the bytes already there (check_prefix) */
    XS_MDTM,      /* -c without HASH over RANG: MDTM, against the kept bytes' time */
    XS_OPEN_DATA, /* EPSV/PASV or EPRT/PORT under way */
    XS_REST,      /* REST sent */
    XS_ALLO,      /* ALLO sent before a put's STOR/APPE (any answer will do) */
    XS_CMD,       /* RETR/STOR/APPE/LIST/NLST sent; streaming */
    XS_DIRCHECK,  /* MLST of a put's target that the server refused: a directory? */
    XS_DIRPROBE,  /* CWD into a name SIZE, RETR or STOR refused: a directory? */
    XS_PARENT,    /* MLST of the directory of a put's target that the server refused */
    XS_LISTPERM,  /* MLST of a directory that listed empty: may it be listed at all? */
    XS_SELFCHECK, /* MLST or STAT of a path whose NLST was the path: a directory? */
    XS_LSENTRY,   /* MLST of a path whose listing the server refused: is it there? */
    XS_CWDL_PWD,  /* PWD before listing a LIST path pure-ftpd would split, from inside it */
    XS_CWDL_CWD,  /* ... CWD into it */
    XS_CWDL_BACK, /* ... CWD back after its LIST with no argument */
    XS_VERIFY,    /* SIZE after an upload */
    XS_MFMT,      /* MFMT after an upload (keep_mtime) */
    XS_DONE,
} xstate;

struct ftpc_xfer {
    ftpc_ctx *ctx;
    ftpc_task *t;
    ftpc_conn *c;
    ftpc_op_done_cb done;
    void *done_ud;
    xstate state;

    int64_t remote_size; /* -1 unknown */
    uint64_t local_size; /* put: the source's size */
    uint64_t offset;     /* where this attempt started */
    uint64_t pos;        /* offset + file bytes moved (after MODE Z, before TYPE A) */
    ftpc_overlap ovl;    /* a resumed download's bytes before offset, asked for again */
    bool unreadable;     /* the file resumed cannot be read back: no overlap to compare */

    int file_fd;    /* get: destination, put: source; -1 when none */
    int kept_src;   /* a completed put's source, for its HASH check (ftpc_xfer_take_source) */
    int out_fd;     /* where received data goes: file_fd or STDOUT_FILENO */
    bool in_place;  /* resuming into the final file itself (no part file) */
    bool have_part; /* writing the part file */
    bool part_ours; /* ... locked and set up by this transfer */
    char part[PATH_MAX];
    char kept_note[PATH_MAX + 48]; /* xf_kept_note's */
    const char *verb;              /* RETR, STOR, APPE, LIST, NLST */

    ftpc_dchan dc;       /* the data connection */
    bool data_eof;       /* download: EOF seen; upload: all sent and closed */
    bool end_unproven;   /* download: ... without TLS close_notify (xfer_tlsend.c) */
    int64_t announced;   /* the 150 reply's "(N bytes)" for a RETR from byte 0; else -1 */
    bool ctrl_done;      /* final 2xx for the transfer command */
    bool prelim;         /* 1xx seen */
    int data_errno;      /* the data connection failed; waiting for the server's word */
    char data_why[400];  /* ... and why, in words */
    ev_timer reply_wait; /* ... for at most ftpc_dchan_reply_wait_ms */
    bool use_sendfile;
    bool crlf;             /* listing or TYPE A download: turn CRLF into LF */
    bool shield;           /* a listing shown on a terminal: its control characters become '?' */
    ftpc_shield shield_st; /* ... the character it is reading (shield.h) */
    bool pending_cr;
    bool dotless; /* ls without -l: "." and ".." are left out (dotnames.h) */
    ftpc_dotnames dots;
    bool ascii;       /* TYPE A: line ends converted both ways */
    bool closing;     /* upload: everything sent; reading until the server closes */
    bool shut;        /* ... and our end (close_notify, FIN) is out */
    uint64_t wire;    /* bytes moved on the data connection */
    size_t retry_len; /* a TLS write that must be retried with at least this much */
    ev_timer kick;    /* zero delay: bytes TLS holds, or a handshake to start */
    /* After the final reply nothing waits on the control connection, so this times out a
     * data connection that stays open without data (the server's word came first). */
    ev_timer tail_timer;
    long long last_data_ms;

    /* MODE Z: the codec, and wire bytes waiting to be sent (upload) or file bytes made
     * (download) in zbuf; an upload's file bytes waiting for the codec in iobuf. */
    mz z;
    bool zon, zinit;
    bool src_eof;  /* upload: the file has been read to its end */
    uint64_t fpos; /* upload: where the next file read starts */
    char *zbuf;    /* XFER_ZBUF_SIZE: MODE Z or TYPE A, and uploads not sent by sendfile */
    char *abuf;    /* TYPE A conversions: XFER_BUF_SIZE * 2 + 1 */
    size_t zoff, zlen;
    size_t in_off, in_len;

    char *iobuf;
    int pipe_r, pipe_w; /* download to a file: socket -> pipe -> file with splice(2) */
    bool use_splice;
    ftpc_ratelimit rl;
    ev_timer rate_timer;
    bool paused;

    ftpc_bar *bar;
    ftpc_defer defer;
    bool finished;

    /* put from standard input (xfer_stdin.c): read as it comes, once; local_size is its
     * length once src_eof. */
    bool stream_src;
    int64_t src_total;  /* a redirected regular file's length, for the bar; else -1 */
    bool src_wait;      /* nothing to read now: waiting for the fd to become readable */
    bool src_block;     /* the loop cannot watch the fd: reads block */
    ev_timer src_timer; /* meanwhile, keeps the control connection's timeout away */
    bool src_hashing;   /* src_digest runs (--verify) */
    digest src_digest;

    ftpc_rcheck *prefix; /* the check of the bytes -c would keep */
    bool prefix_checked; /* ... done (or not possible) */
    bool prefix_differs; /* ... and they are not the server's: start over */
    bool date_checked;   /* -c: MDTM compared with the kept bytes' time (or not possible) */
    int64_t kept_mtime;  /* ... that time, in seconds */
    bool resume_refused; /* the server refused a resumed upload; it is being sent whole */
    bool dir_checked;    /* a refused put's target was checked for being a directory */
    int refusal_code;    /* ... and the refusal, for the message if it is not one */
    char refusal[600];
    const char *refused_cmd; /* a get's SIZE or RETR, refused: the probe's subject */
    bool parent_checked;     /* a refused put's directory was checked for being there */
    bool listing_probed;     /* an empty listing's directory was entered with CWD */
    /* LIST of a path pure-ftpd splits or expands, listed again from inside it
     * (xfer_cwdlist.c) */
    bool cwdl_tried;
    bool cwdl_here;     /* LIST is sent with no argument */
    bool cwdl_returned; /* the CWD back was answered */
    bool astray;        /* the connection is not where the next task expects it */
    char cwdl_back[FTPC_URL_PATH_MAX];
    /* ls of a path without a '/': its listing held while it is one line (xfer_selfline.c) */
    bool self_hold;
    size_t self_len;
    char self_buf[1024];
    /* A download to standard output (stdsink.h): what the reader has not taken yet waits in
     * outq, and meanwhile the data connection is not read (xfer_recv.c). */
    ftpc_stdsink sink;
    bool sink_open;
    buf outq;
    bool out_wait;      /* waiting for standard output to become writable */
    ev_timer out_timer; /* ... keeping the control connection's timeout away */
    bool held;          /* MODE Z: wire bytes in iobuf not inflated yet (out_wait came) */
    size_t held_off, held_len;
    ftpc_dirprobe probe;
};

static inline bool xf_is_download(const ftpc_xfer *x)
{
    return x->t->kind != FTPC_T_PUT;
}

static inline const char *xf_bar_name(const ftpc_xfer *x)
{
    return ftpc_task_name(x->t);
}

/* ---- the state machine (xfer.c) ---- */

/* What a transfer does with its connection: the callbacks of the xfer.c state machine. */
extern const ftpc_conn_owner xf_owner;

/* Closes the data connection and stops its timers. */
void xf_close_data(ftpc_xfer *x);
/* An upload given up before all of it was sent: the close that follows sends a reset, not a
 * FIN, so that the server does not take the bytes so far for the whole file. */
void xf_reset_upload_data(ftpc_xfer *x);
/* Closes the splice pipe: the bytes go by recv and write from now on. */
void xf_close_pipe(ftpc_xfer *x);
/* Ends the transfer: stores the result in the task and tells the runner. Nothing touches x
 * after it (the runner may free it). */
void xf_finish(ftpc_xfer *x, int status, bool reusable);
/* xf_finish with a message: "<action> <what>: <fmt>". */
void xf_fail(ftpc_xfer *x, int status, bool reusable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* What a failed download leaves behind, for its message ("" or " (...)"). */
const char *xf_kept_note(ftpc_xfer *x);
/* Sets up the layers (MODE Z, TYPE A) and asks the connection for a data connection. */
void xf_open_data(ftpc_xfer *x);
/* The TYPE is right: SIZE where it is wanted, then the transfer begins. */
void xf_after_type(ftpc_xfer *x);
/* Both the data and the final reply are in: verify, keep the file, succeed. */
void xf_maybe_complete(ftpc_xfer *x);

/* ---- where a transfer begins (xfer_begin.c) ---- */

/* Download: chooses where to write and from which offset, then opens the data connection. */
void xf_begin_get(ftpc_xfer *x);
/* Upload: chooses the offset (SIZE said what is there), then opens the data connection. */
void xf_begin_put(ftpc_xfer *x);
/* -c in TYPE A, where something is there to resume: says that the file goes whole. */
void xf_note_ascii_whole(ftpc_xfer *x);
/* SIZE answered (x->remote_size): xf_begin_put or xf_begin_get. */
void xf_after_size(ftpc_xfer *x);
/* A download resumed in place that must start over writes the part file from byte 0
 * instead. Returns -1 when it failed (and said so). */
int xf_restart_into_part(ftpc_xfer *x);
/* The final reply to the MDTM of a -c download's check: the download begins. */
void xf_mdtm_answered(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- an upload from standard input (xfer_stdin.c) ---- */

/* For ftpc_xfer_new: the timer. */
void xf_stdin_init(ftpc_xfer *x);
/* In place of the file checks and SIZE: sets the source up, then xf_begin_put. */
void xf_begin_stdin(ftpc_xfer *x);
/* One read into into (up to cap bytes): the bytes read, 0 at the end of the input, -1 after
 * failing the transfer, -2 when nothing is there yet (then xf_wait_stdin). */
ssize_t xf_read_stdin(ftpc_xfer *x, char *into, size_t cap);
/* Waits for the input to become readable, then runs the data connection again. */
void xf_wait_stdin(ftpc_xfer *x);
/* Stops the wait and the digest (the end of the transfer, whatever it was). */
void xf_stdin_release(ftpc_xfer *x);

/* ---- second chances after a refusal (xfer_refused.c) ---- */

/* Each can_ says whether its second chance applies to the refusal code; the action after it
 * takes the transfer on from the refusal m. */
bool xf_can_upload_whole(const ftpc_xfer *x, int code);
/* Asks whether path is a directory: MLST where the server has it (its reply then comes to x
 * in state mlst_state), else CWD into it and back (dirprobe.h), whose answer goes to cb. */
void xf_ask_is_dir(ftpc_xfer *x, const char *path, xstate mlst_state, ftpc_dirprobe_cb cb);
/* In a dirprobe's cb: x takes its connection back. False when x ended meanwhile. */
bool xf_probe_answered(ftpc_xfer *x);
void xf_upload_whole(ftpc_xfer *x, const ftp_reply_msg *m);
/* A resumed download whose RETR the server refused before anything moved, for the restart
 * itself (ProFTPD's AllowRetrieveRestart off: "451 Restart not permitted"): fetch it whole. */
bool xf_can_get_whole(const ftpc_xfer *x, const ftp_reply_msg *m);
void xf_get_whole(ftpc_xfer *x, const ftp_reply_msg *m);
bool xf_can_check_dir(const ftpc_xfer *x, int code);
void xf_check_dir(ftpc_xfer *x, const ftp_reply_msg *m);
/* MLST (or CWD) said the target is no directory: the STOR's refusal stands. */
void xf_fail_refused(ftpc_xfer *x);
/* MLST (or CWD) said the target is a directory: the upload goes into it. */
void xf_put_into_dir(ftpc_xfer *x);
bool xf_can_probe_dir(const ftpc_xfer *x, int code);
void xf_probe_dir(ftpc_xfer *x, const char *cmd, const ftp_reply_msg *m);

/* ---- an empty listing that may be a failure (xfer_emptylist.c) ---- */

/* An empty listing of a directory path (ls), its final reply quoted in x->refusal: is the
 * directory there to be listed? xf_check_empty_listing asks, then completes or fails x. */
bool xf_empty_listing_to_check(const ftpc_xfer *x);
void xf_check_empty_listing(ftpc_xfer *x);
/* The reply to the MLST xf_check_empty_listing asked (XS_LISTPERM). */
void xf_empty_listing_perm(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- a LIST pure-ftpd would split at spaces or expanded as a pattern (xfer_cwdlist.c) ---- */

/* LIST of a path with a space, a backslash or a pattern character: xf_cwdlist_try asks
 * PWD, CWD into the path and, where it enters, LIST with no argument (else LIST of the
 * path); once that listing is in, xf_cwdlist_return goes back. Replies (XS_CWDL_*) go to
 * xf_cwdlist_reply, which goes on with xf_maybe_complete. */
bool xf_cwdlist_to_try(const ftpc_xfer *x);
void xf_cwdlist_try(ftpc_xfer *x);
bool xf_cwdlist_to_return(const ftpc_xfer *x);
void xf_cwdlist_return(ftpc_xfer *x);
void xf_cwdlist_reply(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- a listing that is the listed path's own entry (xfer_selfline.c) ---- */

/* Starts holding the listing if it is ls of a path without a trailing '/'. */
void xf_selfline_start(ftpc_xfer *x);
/* Listing text while held: kept while it is one line, else written out with what was kept.
 * Returns 0, or -1 with errno (a failed write). */
int xf_selfline_add(ftpc_xfer *x, const char *p, size_t len);
/* At the listing's end, with a line still held: xf_check_selfline decides whether it lists
 * the path itself (t->listed_itself, nothing printed), asking the server where it must, then
 * completes x (xf_maybe_complete). */
bool xf_selfline_to_check(const ftpc_xfer *x);
void xf_check_selfline(ftpc_xfer *x);
/* The reply to its MLST or STAT (XS_SELFCHECK). */
void xf_selfline_reply(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- a refused listing of one path (xfer_lsentry.c) ---- */

/* ls of one named path whose listing the server refused (code), where it has MLST: the
 * refusal is kept in x->refusal and xf_ask_ls_entry asks MLST of the path; its reply
 * (XS_LSENTRY) goes to xf_ls_entry_reply, which fills in t->ls_mlst and fails x with the
 * listing's refusal, said as it would have been without the question. */
bool xf_can_ask_ls_entry(const ftpc_xfer *x, int code);
void xf_ask_ls_entry(ftpc_xfer *x, const ftp_reply_msg *m);
void xf_ls_entry_reply(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- a TLS download that ended without close_notify (xfer_tlsend.c) ---- */

/* A 150 (or 125) to the transfer command: the size it announces, if any, in x->announced. */
void xf_note_announced(ftpc_xfer *x, const ftp_reply_msg *m);
/* The data and the final reply are in: fails x and returns true when its TLS data connection
 * ended without close_notify and nothing proves the data whole. */
bool xf_fail_unproven_end(ftpc_xfer *x);

/* ---- a refused put whose directory is not there (xfer_nodir.c) ---- */

/* The STOR refusal m (or the one xf_check_dir kept, m NULL) may be for a directory that is
 * not there: xf_check_parent asks, once, and fails the transfer either way. */
bool xf_can_check_parent(const ftpc_xfer *x, int code);
void xf_check_parent(ftpc_xfer *x, const ftp_reply_msg *m);
/* The reply to its MLST. */
void xf_parent_mlst(ftpc_xfer *x, const ftp_reply_msg *m);

/* ---- the data connection (xfer_data.c) ---- */

/* The timers of x, for ftpc_xfer_new: kick (a round at once), tail (after the final reply),
 * rate (the end of a rate-limit pause). */
long xf_kick_cb(ev_loop *loop, ev_timer *t, void *ud);
long xf_tail_cb(ev_loop *loop, ev_timer *t, void *ud);
long xf_rate_cb(ev_loop *loop, ev_timer *t, void *ud);
/* For ftpc_xfer_new: the end of the wait for the reply after the data connection failed. */
long xf_reply_wait_cb(ev_loop *loop, ev_timer *t, void *ud);
/* Returns how much may move now, or 0 after pausing the data connection until it may. */
uint64_t xf_allowance(ftpc_xfer *x);
/* The data connection failed (why: in words, or NULL for strerror(err)). While the
 * command is open its reply is awaited (ftpc_dchan_reply_wait_ms) and reported as the
 * reason; the transfer fails on the socket's error only if none comes. */
void xf_data_failed(ftpc_xfer *x, int err, const char *why);
/* n bytes crossed the data connection; n file bytes were written or read; both. */
void xf_wire_moved(ftpc_xfer *x, size_t n);
void xf_file_moved(ftpc_xfer *x, size_t n);
void xf_progress(ftpc_xfer *x, size_t n);
/* One round of work on the data connection, from its events and the timers. */
void xf_data_run(ftpc_xfer *x);
/* The data connection fd is connected: it becomes x's, with the layers it needs. */
void xf_attach_data(ftpc_xfer *x, int fd);

/* ---- a download's bytes (xfer_recv.c) ---- */

/* One wakeup's reading from the data connection, to the end of the data. */
void xf_receive(ftpc_xfer *x);
/* Listing text to standard output. Returns 0, or -1 with errno. */
int xf_write_out(ftpc_xfer *x, const char *p, size_t len);
/* A write of what was received failed (errno): the transfer fails, saying so. */
void xf_sink_failed(ftpc_xfer *x);
/* For ftpc_xfer_new: the output queue and its timer. */
void xf_out_init(ftpc_xfer *x);
/* Standard output becomes the sink (xf_begin_get). */
void xf_out_open(ftpc_xfer *x);
/* Whether bytes still wait for standard output's reader: the transfer is not complete, and
 * its data connection is not read, until they are out. */
static inline bool xf_out_pending(const ftpc_xfer *x)
{
    return x->out_wait;
}
/* Drops what waits (the transfer ended without it) and closes the sink. */
void xf_out_release(ftpc_xfer *x);

/* ---- an upload's bytes (xfer_send.c) ---- */

/* Upload complete: our end goes out, then the connection is read until the server closes. */
void xf_begin_close(ftpc_xfer *x);
/* One wakeup's sending, by sendfile or from the buffer. */
void xf_transmit(ftpc_xfer *x);
/* What messages call the upload's source: its file, or "standard input". */
const char *xf_src_name(const ftpc_xfer *x);
/* The upload's file bytes read that have not reached the server yet: in its buffers (and
 * the codec's) and in the data socket's queue, for its bar (ftpc_bar_unsent; ud is x). */
uint64_t xf_unsent(void *ud);

#endif
