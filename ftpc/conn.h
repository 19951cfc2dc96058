/* One FTP control connection as an event-driven state machine on the loop: connect (trying
 * each resolved address), [TLS handshake (implicit FTPS)], greeting, [AUTH TLS and its
 * handshake (explicit FTPS)], USER/PASS, [PBSZ 0, PROT P], FEAT, TYPE I, [MODE Z with -z],
 * then idle ("ready"). TLS that was asked for is required: a refusal ends the connection
 * (FTPC_EXIT_TLS) before USER is sent. Its owner (an
 * operation) sends commands and receives their replies through callbacks; the connection also
 * sets up data connections: passive EPSV, falling back to PASV, or active EPRT, falling back
 * to PORT. Many connections share one loop.
 *
 * Ownership: the creator frees a connection with ftpc_conn_free() (deferred, so it is safe
 * inside any callback) or hands it to ftpc_conn_quit(), after which it frees itself. A
 * connection that failed stays allocated, dead, until then.
 */
#ifndef FTPC_CONN_H
#define FTPC_CONN_H

#include <stdbool.h>

#include "ctx.h"
#include "endpoint.h"
#include "ftp_reply.h"
#include "hashfeat.h"
#include "status.h"
#include "tls.h"

struct ssl_session_st;

typedef struct ftpc_conn ftpc_conn;

/* Features from FEAT. */
enum {
    FTPC_FEAT_SIZE = 1 << 0,
    FTPC_FEAT_REST = 1 << 1, /* REST STREAM */
    FTPC_FEAT_EPSV = 1 << 2,
    FTPC_FEAT_MDTM = 1 << 3,
    FTPC_FEAT_MLST = 1 << 4,
    FTPC_FEAT_UTF8 = 1 << 5,
    FTPC_FEAT_MODEZ = 1 << 6,     /* MODE Z */
    FTPC_FEAT_MFMT = 1 << 7,      /* MFMT: set a file's time */
    FTPC_FEAT_ANSWERED = 1 << 15, /* FEAT itself was understood */
};

typedef struct ftpc_conn_owner {
    /* Logged in and idle: the owner may send a command. Called once per ftpc_conn_set_owner
     * when the connection becomes (or already is) ready; never from inside a conn function. */
    void (*ready)(ftpc_conn *c, void *ud);
    /* A reply to the owner's command. Preliminary replies (1xx) come too; the command is
     * finished (the connection ready again) when code >= 200. */
    void (*reply)(ftpc_conn *c, const ftp_reply_msg *m, void *ud);
    /* ftpc_conn_open_data() succeeded: send REST/RETR/STOR/LIST now, then call
     * ftpc_conn_take_data(). */
    void (*data_prepared)(ftpc_conn *c, void *ud);
    /* Active mode: the server connected; fd now belongs to the owner. */
    void (*data_open)(ftpc_conn *c, int fd, void *ud);
    /* The connection is dead (err says why); no further callbacks come. */
    void (*failed)(ftpc_conn *c, const ftpc_err *err, void *ud);
} ftpc_conn_owner;

/* Starts connecting to ep (which must outlive the connection). Returns NULL only when out of
 * memory; every other failure arrives through owner->failed. */
ftpc_conn *ftpc_conn_new(ftpc_ctx *ctx, const ftpc_endpoint *ep, const ftpc_conn_owner *owner,
                         void *ud);
/* Gives the connection to another owner (NULL: nobody; replies are then unexpected and an
 * unexpected reply or close just ends the connection). If it is ready, owner->ready follows
 * from the loop. */
void ftpc_conn_set_owner(ftpc_conn *c, const ftpc_conn_owner *owner, void *ud);

bool ftpc_conn_is_ready(const ftpc_conn *c);
bool ftpc_conn_is_dead(const ftpc_conn *c);
/* Final replies the server sent after login (a 421 ends the connection instead: RFC 959
 * makes it the server's close, whatever the command). Unchanged across a task's failure, it
 * shows the connection had been closed before it did anything for that task. */
unsigned long ftpc_conn_answers(const ftpc_conn *c);
/* The connection failed because a reply did not come within --timeout (not a close). */
bool ftpc_conn_timed_out(const ftpc_conn *c);
/* n parallel connections for one operation that has one to ep already, fewer where the
 * server showed a limit (ftpc_endpoint_saw_limit) and our other live connections to it take
 * their share; at least 1. */
int ftpc_conn_room(ftpc_ctx *ctx, const ftpc_endpoint *ep, int n);
/* A connection of a parallel operation was turned away before login (ftpc_conn_refusal):
 * records the limit that shows, counting our live connections to the server. */
void ftpc_conn_note_limit(const ftpc_conn *c);
/* The server accepted its login (230), whatever it is now. */
bool ftpc_conn_logged_in(const ftpc_conn *c);
/* The code of the reply that turned the session away before login (a greeting other than
 * 220, or a refusal of USER or PASS), with its quoted text in *text; 0 when none did. */
int ftpc_conn_refusal(const ftpc_conn *c, const char **text);

/* The prefix of c's -v lines into out (at least 16 bytes): "[ID] ", its number in the order
 * connections were opened, when the run may hold several at once (-j, --segments), else "".
 * Returns out. */
const char *ftpc_conn_trace_tag(const ftpc_conn *c, char *out, size_t n);
const ftpc_endpoint *ftpc_conn_endpoint(const ftpc_conn *c);
unsigned ftpc_conn_features(const ftpc_conn *c);
/* The server's HASH features as its FEAT at login gave them (none offered when FEAT was
 * refused), the algorithm in force kept up to date by ftpc_conn_hash_selected: a check of
 * each file asks no FEAT of its own. */
const ftpc_hash_feat *ftpc_conn_hash_feat(const ftpc_conn *c);
/* The server accepted OPTS HASH for algo (a digest_algo): it is in force from now on. */
void ftpc_conn_hash_selected(ftpc_conn *c, int algo);

/* Sends one command (without CRLF) while ready. Returns 0, or -1 if not ready or the line is
 * too long / contains CR or LF (a bug in the caller). */
int ftpc_conn_send(ftpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ftpc_conn_send for a caller that waits for the reply in its callback: a line that cannot
 * be sent fails the connection (the callback gets the error, as for a lost connection)
 * instead of leaving the caller waiting for a reply that never comes. */
void ftpc_conn_cmd(ftpc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepares a data connection while ready: passive (connected when data_prepared comes) or
 * active (listening, EPRT/PORT accepted). */
void ftpc_conn_open_data(ftpc_conn *c);
/* After sending the transfer command: the connected data fd (passive; ownership passes to the
 * caller), or -1 when it will arrive through owner->data_open (active). */
int ftpc_conn_take_data(ftpc_conn *c);
/* Drops a data connection that was prepared but not taken (the transfer command failed). */
void ftpc_conn_close_data(ftpc_conn *c);

/* Data connections of c are TLS (PROT P): the settings, the host the certificate must name,
 * and a reference to the control connection's current session to resume (the caller frees
 * it with SSL_SESSION_free; NULL if none yet). Returns false when data connections are
 * plain. The session is taken at each call, not at the handshake: TLS 1.3 tickets arrive
 * after the handshake, with the first reads on the control connection. */
bool ftpc_conn_data_tls(ftpc_conn *c, ftpc_tls **tls, const char **host,
                        struct ssl_session_st **sess);
/* True when the server accepted MODE Z (-z): every transfer on c is a deflate stream. */
bool ftpc_conn_mode_z(const ftpc_conn *c);
/* The control connection's round trip in microseconds as its TCP handshake measured it (no
 * server think time in it), or -1 when unknown. */
long ftpc_conn_rtt_us(const ftpc_conn *c);
/* A put's ALLO (xfer.c, segput.c) costs a round trip to every server and saves only ftpd's
 * 3 ms wait at an upload's end: it goes out only where a round trip is well under that (with
 * a 20 ms round trip, 40 small files to vsftpd took 25% longer with it). */
#define FTPC_ALLO_MAX_RTT_US 1000
/* The TYPE in force ('I' or 'A'). A TYPE command sent with ftpc_conn_send() takes effect
 * when the server answers 200. */
char ftpc_conn_type(const ftpc_conn *c);

/* Data is flowing: keeps the inactivity timeout from firing while the control connection
 * is quiet during a long transfer. */
void ftpc_conn_touch(ftpc_conn *c);

/* Sends ABOR behind the transfer command in flight (RFC 959 4.1.3): the owner then gets
 * the transfer's final reply (426, or 226 if it had ended) and ABOR's, and the connection is
 * ready after the second. Returns -1 when no command is in flight. */
int ftpc_conn_abort(ftpc_conn *c);
/* After ftpc_conn_abort: the transfer has ended without a final reply of its own (pure-ftpd
 * answers a data connection closed under it with one more 1xx), so the next final reply is
 * ABOR's and makes the connection ready. */
void ftpc_conn_abort_transfer_ended(ftpc_conn *c);

/* The transfer command on c was cut (its data connection reset, no ABOR) and its final
 * reply has come: some servers send a second one, as if ABOR had followed (426, then 226).
 * A reply of the kind a transfer ends with (225, 226, 426, 451) is dropped from then on,
 * whether it comes while c is idle or while a later command waits for its own, rather than
 * taken for that command's: the caller sends only commands never answered so (DELE, SIZE).
 * One may still be on its way from a server that answers out of turn: the caller does not
 * hand c on for reuse. */
void ftpc_conn_drop_late_finals(ftpc_conn *c);

/* Takes the command in flight as answered, though its reply was a 1xx: for a server that
 * reports a transfer the client cut short with a further 1xx and nothing after it
 * (pure-ftpd). The connection is ready for the next command. */
void ftpc_conn_settle(ftpc_conn *c);

/* Sends QUIT if possible and frees the connection when the server answers or closes, or
 * after a short wait. The caller must not use c afterwards. */
void ftpc_conn_quit(ftpc_conn *c);
/* Closes at once and frees later (deferred). The caller must not use c afterwards. */
void ftpc_conn_free(ftpc_conn *c);
/* Connections of ctx handed to ftpc_conn_quit() and not yet closed. */
int ftpc_conn_closing(const ftpc_ctx *ctx);
/* Frees every connection still alive in ctx (the end of a run: QUITs not answered in time). */
void ftpc_conn_free_all(ftpc_ctx *ctx);

#endif
