/* The TLS stream (OpenSSL): a `stream` whose ops run SSL_read/SSL_write over a non-blocking
 * socket, so transfer code drives it exactly like a plain socket.
 *
 * - read/write return bytes, 0 at a clean end (read), or -1 with base.last_errno (EAGAIN
 *   while OpenSSL waits for the socket). A read that needs to write (or a write that needs to
 *   read, or a handshake or shutdown step) sets flags that stream_want() reports as EV_READ /
 *   EV_WRITE, beyond what the owner itself waits for; the owner adds them to the fd's
 *   registration and, when such an event fires, retries the operation that blocked.
 * - stream_pending() is SSL_pending(): bytes OpenSSL has already decrypted that no socket
 *   event will announce again. Owners re-read while it is non-zero before the loop sleeps.
 * - sendfile and recvfile are NULL: payload goes through the owner's buffers, where it can be
 *   encrypted.
 * - shutdown sends close_notify (and then a FIN); it does not wait for the peer's.
 * - A read returns 0 both after the peer's close_notify and after a bare FIN (or, with
 *   OpenSSL 1.1, a FIN that OpenSSL reports as a syscall error): FTP peers often skip
 *   close_notify. stream_tls_peer_closed() tells the two apart, for an owner that must know
 *   whether the end is the peer's own word or may have been forged on the path.
 * - Writes may be retried with a moved buffer and a longer length (partial writes and moving
 *   write buffers are enabled).
 * - OpenSSL writes to sockets with write(2): a process using TLS streams must ignore SIGPIPE.
 *
 * Data-connection binding (FTPS servers): a server stream carries a random 32-byte binding
 * that the server puts into every session ticket it issues (and into sessions it caches by
 * id). A control connection that resumes an earlier session adopts that session's binding; a
 * data connection is given its control connection's binding with stream_tls_bind_data(), and
 * after its handshake stream_tls_bound() tells whether the client resumed a session that
 * carries the same binding: proof that it holds the control connection's TLS secrets. Unlike
 * comparing session ids, this works with TLS 1.3 tickets and TLS 1.2 tickets and ids alike.
 */
#ifndef STREAM_TLS_H
#define STREAM_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "stream.h"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

#define STREAM_TLS_BINDING_LEN 32

typedef enum { STREAM_TLS_SERVER = 0, STREAM_TLS_CLIENT } stream_tls_role;

typedef struct stream_tls {
    stream base; /* first: a stream_tls * is a stream * */
    struct ssl_st *ssl;
    unsigned flags; /* private TLSF_ bits */
    unsigned char binding[STREAM_TLS_BINDING_LEN];
    unsigned char resumed[STREAM_TLS_BINDING_LEN]; /* binding found in a decrypted ticket */
    char err[160];                                 /* the last TLS error, for logs; "" if none */
    bool peer_not_tls; /* that error: the peer's first bytes were no TLS record at all */
} stream_tls;

/* A server context: TLS 1.2 minimum, OpenSSL's default ciphers, no compression, no
 * renegotiation, a session cache (24 h) with session tickets, and the binding callbacks.
 * key_file may equal cert_file (one PEM with both). Returns NULL with a message in err. */
struct ssl_ctx_st *stream_tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                                         size_t err_size);
/* A client context: TLS 1.2 minimum, no certificate verification set (the caller chooses:
 * SSL_CTX_set_verify, a CA file, pins). Returns NULL with a message in err. */
struct ssl_ctx_st *stream_tls_client_ctx(char *err, size_t err_size);
void stream_tls_ctx_free(struct ssl_ctx_st *ctx);

/* Makes t a TLS stream over the connected non-blocking socket fd, in the given role, with a
 * fresh random binding (servers). On success t owns fd (stream_close closes it) and returns
 * 0; on failure returns -1 with a message in t->err and leaves fd open and untouched.
 * The handshake runs on the first stream_handshake() (or read/write). t must not move. */
int stream_tls_init(stream_tls *t, int fd, struct ssl_ctx_st *ctx, stream_tls_role role);

/* True when s is a TLS stream. */
bool stream_is_tls(const stream *s);

/* Server data connection: takes the control connection's binding. Call before the
 * handshake. */
void stream_tls_bind_data(stream_tls *t, const stream_tls *control);
/* After the handshake: true when the peer resumed a session carrying t's binding. */
bool stream_tls_bound(const stream_tls *t);
/* True once the peer's close_notify has arrived: a read's 0 is then the end the peer meant.
 * False after a bare FIN, which anyone on the path can send (a truncation attack). */
bool stream_tls_peer_closed(const stream_tls *t);
/* After the handshake: true when the session was resumed (any session). */
bool stream_tls_resumed(const stream_tls *t);

/* "TLSv1.3", "TLS_AES_256_GCM_SHA384" after the handshake ("-" before). */
const char *stream_tls_version(const stream_tls *t);
const char *stream_tls_cipher(const stream_tls *t);

/* Client: offers sess for resumption (call before the handshake). Returns 0 or -1. */
int stream_tls_set_session(stream_tls *t, struct ssl_session_st *sess);
/* Client: the current session with a reference the caller frees (SSL_SESSION_free), or
 * NULL. With TLS 1.3 it appears only after the server's tickets were read. */
struct ssl_session_st *stream_tls_get1_session(const stream_tls *t);

/* The OpenSSL connection, for settings this module does not wrap (SNI, verification). */
static inline struct ssl_st *stream_tls_ssl(stream_tls *t)
{
    return t->ssl;
}

#endif
