/* Data connections: passive listeners, active connects, and the transfer state machine
 * (RETR with sendfile or through a buffer, STOR into a safe upload, directory listings), in
 * stream mode or MODE Z (deflate, xfer_mz.c). */
#ifndef XFER_H
#define XFER_H

#include <dirent.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"
#include "dlslots.h"
#include "ev.h"
#include "mz.h"
#include "ratecap.h"
#include "xfer_io.h"
#include "stream.h"
#include "stream_tls.h"
#include "upload.h"

/* MODE Z compression level when the client names none (OPTS MODE Z LEVEL). Level 1, not
 * zlib's 6: compression holds a core (a worker's, xfer_zjob.h) while it runs, and on text
 * level 1 is 3..6 times as fast (45..85 MiB/s against ~13 MiB/s on one core here) for 27% of
 * the size against 20..22%. */
#define XFER_MZ_LEVEL_DEFAULT 1

struct session;

typedef enum {
    XS_PASV_LISTEN = 0,   /* passive listener open, no connection yet */
    XS_PORT_SET,          /* PORT/EPRT given, connect happens at the data command */
    XS_CONNECTING,        /* active connect in progress */
    XS_CONNECTED,         /* data connection up, waiting for the data command */
    XS_RUNNING,           /* bytes moving */
    XS_UPLOAD_SETTLING,   /* upload data ended; committed unless the control connection dies */
    XS_TLS_HANDSHAKE,     /* 150 sent; the data connection's own set-up (TLS handshake) runs */
    XS_SHUTDOWN,          /* download sent; the stream's end (TLS close_notify) is written */
    XS_UPLOAD_FLUSHING,   /* upload ended (failed or aborted); an upload writer's move finishes */
    XS_UPLOAD_COMMITTING, /* upload complete; a worker commits it (upcommit.h), then the 226 */
} xfer_state;

typedef enum { XK_NONE = 0, XK_RETR, XK_STOR, XK_LIST, XK_NLST, XK_MLSD } xfer_kind;

typedef struct dirlist dirlist;

/* A MODE Z download's compressed output so far and the file bytes it carried then: marks
 * every XFER_ZMARK_STEP bytes of output, the last XFER_ZMARKS of them (16 MiB: more than a
 * socket's queue), so that STAT can tell the file bytes that reached the client. */
enum { XFER_ZMARKS = 64, XFER_ZMARK_STEP = 256 << 10 };
typedef struct xfer_zmark {
    uint64_t out;
    long long done;
} xfer_zmark;

typedef struct xfer {
    struct session *s;
    struct xfer *prev, *next; /* in the server's list of data channels */
    unsigned long seq;        /* the session's xfer_seq when this channel was made */
    xfer_state state;
    xfer_kind kind; /* the data command; XK_NONE until one arrives */
    bool passive;
    bool ascii;
    bool cr_pending;      /* ASCII upload: a CR ended the last chunk */
    bool corked;          /* TCP_CORK set on the data socket for a sendfile stream */
    bool limited;         /* ...and its unsent bytes held to XFER_NOTSENT_LOWAT (xfer.c) */
    bool paced;           /* corked or alone (xfer.c): its end waits until the data has left */
    int tail_unsent;      /* ...bytes still unsent in that wait when last looked; 0 outside it */
    bool lone_congestion; /* local-congestion was tried on it, a download running alone */
    bool lone_switched;   /* ...and the socket took it */
    bool slot_wanted;     /* a download to a client on this host: sends only with a slot */
    dlslot slot;          /* ...its place in the server's download slots (dlslots.h) */
    long long slot_wait_start; /* ...when its current wait in line began, ms; 0: not waiting */
    long long slot_waited_ms;  /* ...time spent in line so far */
    unsigned slot_waits;       /* ...how often it waited */
    bool eof;                  /* source exhausted (RETR/LIST) or peer finished (STOR) */
    bool counted;              /* counted in the server's running transfers */
    bool writing;              /* plain binary upload: an upload writer is moving its bytes now */
    bool lowat; /* ...and its socket wakes the loop only for XFER_WRITER_LOWAT bytes */
    int listen_fd;
    int data_fd; /* -1 until connected; then owned by `data` */
    union {      /* plain, or TLS under PROT P (data_tls.base is data) */
        stream data;
        stream_tls data_tls;
    };
    struct sockaddr_storage port_addr;
    int file_fd;
    upload up;
    struct appendlock *append_lock; /* an APPE or resumed STOR holds its file (appendlock.h) */
    bool uploading;
    bool unique;      /* the upload is a STOU's: its 150 is "FILE: name" (RFC 1123 4.1.2.9) */
    const char *verb; /* an upload's command for the logs (STOR, APPE, STOU); NULL: kind's */
    dirlist *dl;      /* a listing's lines to come; NULL while a worker fills fbuf from it */
    bool list_busy;   /* ...a worker fills fbuf (xfer_io.h) */
    int list_inline;  /* ...1: the loop fills it (tmpfs), -1: a worker does, 0: not known yet */
    buf fbuf;         /* file-side bytes not yet written to their destination */
    bool zmode;       /* MODE Z: the codec sits between fbuf and the stream */
    bool z_more;      /* MODE Z: the codec filled its output; it may hold more */
    size_t z_turn;    /* MODE Z: uncompressed bytes one turn may pass through the codec */
    mz z;             /* MODE Z: deflate (listings) or inflate (uploads), on the loop */
    buf zbuf;         /* MODE Z: wire bytes (compressed) not yet sent or decoded */
    long long wire;   /* MODE Z: wire bytes moved on the data connection */
    xfer_zmark zmarks[XFER_ZMARKS]; /* MODE Z download: a ring, zmarks_n of them ever */
    unsigned zmarks_n;
    /* MODE Z RETR: the file's deflate runs on a worker (xfer_zjob.h), holding the codec */
    struct zjob *zjob;
    bool z_inline;         /* ...none could be had: the loop deflates the file, as a listing */
    uint64_t z_out;        /* MODE Z download: compressed bytes the codec put into zbuf */
    uint64_t z_stored;     /* ...of the file bytes, those it sent stored (mz_adapt) */
    ratecap rate;          /* --max-rate: the data connection's bytes a second (xfer_int.h) */
    ev_timer pace;         /* ...resumes a transfer paused until its rate allows a move */
    size_t job_max;        /* plain binary upload: most bytes the upload writer's move may take */
    readahead_state ra;    /* RETR: the file read ahead off the loop (xfer_io.h) */
    off_t offset;          /* RETR: next file offset; STOR: start offset */
    off_t rest;            /* RETR: the offset it started at (REST), for its log line */
    off_t total;           /* RETR: file size; -1 unknown */
    long long done;        /* payload (file) bytes moved; in MODE Z, before compression */
    long long expect;      /* payload bytes this transfer will move; -1 unknown */
    long long allo;        /* upload: the bytes ALLO announced for it; -1 none */
    char *vpath;           /* for STAT, logs and xferlog */
    ev_timer timer;        /* data timeout */
    ev_timer drain;        /* 0 ms: upload bytes OpenSSL already decrypted wait to be read */
    ev_timer accept_retry; /* PASV: watches listen_fd again after an accept out of fds */
    bool accept_starved;   /* ...which has happened (logged once) */
    /* The loop iteration of the transfer's last turn (pump): drain_cb gives one a round. */
    unsigned long long turn_iter;
    /* RETR in TYPE A: the bytes it sends, as counted when the file was opened; -1 not counted */
    long long ascii_total;
    /* An upload's end decided while a writer was busy: the reply waits for the writer, so it
     * never speaks of a file (or a partial to resume from) still being written. */
    enum { XF_NONE = 0, XF_FINISH, XF_ABORT } fin;
    int fin_code;
    bool fin_keep;
    const char *end_why; /* xfer_free: its log line's reason, kept for a line written later */
    /* The client's ABOR ended it: its log line and the live view's count say "aborted", not
     * "failed". A segmented download (ftpc --segments) ends each range so once its bytes are
     * in; a server cannot tell that from a user's stop, but neither is a failure. */
    bool abor_ended;
    char fin_text[256]; /* as long as the longest reply text built for it */
    long long last_progress;
    long long taken; /* a download's bytes the client has acknowledged, as last looked */
    long long started_ms;
    /* The live view's (liveview.c): the rate's window of the last seconds, made at its first
     * look once bytes move (NULL before, and with the view off); done at the last look; the
     * rate it shows; an upload's busy block, a step each look bytes came; when done last
     * moved. */
    struct progress_rate *view_rate;
    long long view_done, view_moved_ms;
    double view_bps;
    unsigned long view_phase;
} xfer;

/* Opens a passive listener (PASV/EPSV). Returns the new xfer or NULL (errno). */
xfer *xfer_pasv(struct session *s);
/* Records an active-mode target (PORT/EPRT); connects at the data command. */
xfer *xfer_port(struct session *s, const struct sockaddr_storage *target);
/* Starts the data command prepared in x (kind, file_fd/up/dl set by the caller): connects or
 * waits for the connection as needed, sends 150, and streams. Replies and frees on failure. */
void xfer_start(xfer *x);
/* Called when the control connection delivers a command: moves what an upload's data
 * connection holds now (an ABOR always; another command unless the upload had its turn in
 * this round of the loop already), and commits an upload whose data has ended (the client is
 * alive), unless the command is an ABOR (abor): the client closed the data connection to
 * stop the upload, not to end it, and xfer_abort keeps what came as a partial. Either may
 * finish the transfer and free x. */
void xfer_poll_input(xfer *x, bool abor);
/* ABOR: stops a transfer (426 then 226) or just drops the data channel (226). */
void xfer_abort(struct session *s);
/* Drops the data channel silently (new PASV/PORT, session end). Keeps a partial upload. */
void xfer_free(xfer *x);
/* At shutdown, after the upload writers are joined: ends an upload whose transfer ended while
 * a writer still moved its bytes (kept as a partial, as for any upload cut short). */
void xfer_discard_orphan(struct session *s);
/* True while a data command (RETR, STOR, LIST...) is in progress on x. */
/* Ends a busy transfer as ABOR does (426, a partial upload kept) but without ABOR's own
 * reply: for an ABOR that still waits behind other lines. */
void xfer_cut(struct session *s);
static inline bool xfer_busy(const xfer *x)
{
    return x && x->kind != XK_NONE;
}
/* A transfer command was given and its 150 has not gone out yet (the data connection is
 * not there yet). */
static inline bool xfer_unannounced(const xfer *x)
{
    return xfer_busy(x) && x->state <= XS_CONNECTED;
}
/* dlslots' resume callback: a download that waited for a slot sends again. */
void xfer_slot_resume(void *owner);
/* The command the transfer runs, for logs and the live view: STOR, APPE, STOU, RETR, LIST... */
const char *xfer_verb(const xfer *x);
/* A one-line status ("RETR /a.bin: 1024 of 4096 bytes (25%)", and the wire bytes in MODE Z)
 * into out. */
void xfer_status(const xfer *x, char *out, size_t out_size);
/* A transfer's bytes done as progress reports give them: a download's count leaves out the
 * bytes still in its socket's send queue, which the client does not have yet. */
long long xfer_delivered(const xfer *x);
/* Where in the file x began: a resumed download's REST, an upload's REST or APPE offset;
 * 0 from the start (and for listings). */
long long xfer_start_offset(const xfer *x);

#endif
