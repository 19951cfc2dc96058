/* The TLS stream: OpenSSL over a non-blocking socket behind the stream ops table (see
 * stream_tls.h for the contract and the data-connection binding). */
#include "stream_tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ev.h"

enum {
    TLSF_FATAL = 1 << 0,       /* a protocol or socket error: no more SSL calls but free */
    TLSF_SHUT_DONE = 1 << 1,   /* close_notify sent */
    TLSF_RD_WANT_W = 1 << 2,   /* the last read needs the socket writable */
    TLSF_WR_WANT_R = 1 << 3,   /* the last write needs the socket readable */
    TLSF_HS_WANT_R = 1 << 4,   /* the handshake waits to read */
    TLSF_HS_WANT_W = 1 << 5,   /* the handshake waits to write */
    TLSF_SD_WANT_W = 1 << 6,   /* close_notify waits to be written */
    TLSF_DATA = 1 << 7,        /* a server data connection bound to a control connection */
    TLSF_TICKET_BIND = 1 << 8, /* `resumed` holds the binding of a decrypted ticket */
    TLSF_SERVER = 1 << 9,
    TLSF_HS_DONE = 1 << 10,    /* the end-of-handshake bookkeeping ran */
    TLSF_PEER_CLOSE = 1 << 11, /* the peer's close_notify arrived */
};

/* Sessions stay resumable this long: a data connection late in a long FTP session must still
 * find its control connection's session (OpenSSL's default of 5 minutes would make reuse
 * fail, as ProFTPD users found). */
#define TLS_SESSION_TIMEOUT (24L * 3600)
#define TLS_TICKETS 2
static const unsigned char session_id_context[] = "ftpd";

/* OpenSSL's reasons when the first bytes from the peer are not a TLS record at all. */
static bool not_tls_at_all(unsigned long e)
{
    int r = ERR_GET_REASON(e);
    return ERR_GET_LIB(e) == ERR_LIB_SSL &&
           (r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_PACKET_LENGTH_TOO_LONG ||
            r == SSL_R_HTTP_REQUEST);
}

static void set_err(stream_tls *t, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    t->peer_not_tls = e != 0 && not_tls_at_all(e);
    if (e) {
        char text[128];
        ERR_error_string_n(e, text, sizeof text);
        const char *reason = ERR_reason_error_string(e);
        if (t->peer_not_tls)
            snprintf(t->err, sizeof t->err, "%s: the other side is not speaking TLS (%.40s)", what,
                     reason ? reason : "not a TLS record");
        else
            snprintf(t->err, sizeof t->err, "%s: %s", what, text);
    } else if (t->base.last_errno) {
        snprintf(t->err, sizeof t->err, "%s: %s", what, strerror(t->base.last_errno));
    } else {
        snprintf(t->err, sizeof t->err, "%s: connection closed", what);
    }
    ERR_clear_error();
}

/* The binding of the session the peer resumed, if any (see stream_tls.h). A ticket's binding
 * was captured when it was decrypted, before this connection issues tickets of its own; a
 * session resumed by id is the cached object itself. */
static bool resumed_binding(const stream_tls *t, unsigned char out[STREAM_TLS_BINDING_LEN])
{
    if (!SSL_session_reused(t->ssl))
        return false;
    if (t->flags & TLSF_TICKET_BIND) {
        memcpy(out, t->resumed, STREAM_TLS_BINDING_LEN);
        return true;
    }
    void *data = NULL;
    size_t len = 0;
    SSL_SESSION *sess = SSL_get_session(t->ssl);
    if (!sess || !SSL_SESSION_get0_ticket_appdata(sess, &data, &len) ||
        len != STREAM_TLS_BINDING_LEN)
        return false;
    memcpy(out, data, len);
    return true;
}

static bool bound_now(const stream_tls *t)
{
    unsigned char b[STREAM_TLS_BINDING_LEN];
    return resumed_binding(t, b) && CRYPTO_memcmp(b, t->binding, sizeof b) == 0;
}

/* A control connection that resumed a session takes over its binding: whoever can resume it
 * holds its secrets, so data connections resuming either session belong to this client. */
static void adopt_binding(stream_tls *t)
{
    unsigned char b[STREAM_TLS_BINDING_LEN];
    if (!(t->flags & TLSF_DATA) && resumed_binding(t, b))
        memcpy(t->binding, b, sizeof b);
}

/* Puts the binding into a session about to be sent as a ticket. A data connection that is
 * not (yet) proven bound gets tickets without one: otherwise a client that failed the check
 * would receive a ticket that passes it next time. */
static int ticket_gen_cb(SSL *ssl, void *arg)
{
    stream_tls *t = SSL_get_app_data(ssl);
    SSL_SESSION *sess = SSL_get_session(ssl);
    if (!t || !sess)
        return 1;
    adopt_binding(t);
    if ((t->flags & TLSF_DATA) && !bound_now(t))
        return 1;
    return SSL_SESSION_set1_ticket_appdata(sess, t->binding, sizeof t->binding);
}

static SSL_TICKET_RETURN ticket_dec_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
                                       size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
    stream_tls *t = SSL_get_app_data(ssl);
    switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW: {
        void *data = NULL;
        size_t len = 0;
        if (t && sess && SSL_SESSION_get0_ticket_appdata(sess, &data, &len) &&
            len == STREAM_TLS_BINDING_LEN) {
            memcpy(t->resumed, data, len);
            t->flags |= TLSF_TICKET_BIND;
        } else if (t) {
            t->flags &= ~TLSF_TICKET_BIND;
        }
        return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
    }
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
        return SSL_TICKET_RETURN_IGNORE_RENEW; /* a full handshake and a fresh ticket */
    case SSL_TICKET_NONE:
        return SSL_TICKET_RETURN_IGNORE;
    default:
        return SSL_TICKET_RETURN_ABORT;
    }
}

/* With SSL_OP_IGNORE_UNEXPECTED_EOF a bare FIN reads as the same clean end as close_notify;
 * only the alert itself, seen here, tells them apart (stream_tls_peer_closed). */
static void info_cb(const SSL *ssl, int where, int ret)
{
    stream_tls *t = SSL_get_app_data(ssl);
    /* SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with SSL_CB_WRITE_ALERT: our own
     * close_notify must not count */
    if (t && (where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT &&
        (ret & 0xff) == SSL_AD_CLOSE_NOTIFY)
        t->flags |= TLSF_PEER_CLOSE;
}

static void handshake_done(stream_tls *t)
{
    if (t->flags & TLSF_HS_DONE)
        return;
    t->flags |= TLSF_HS_DONE;
    if (!(t->flags & TLSF_SERVER))
        return;
    adopt_binding(t);
    /* A fresh control session is also cached by id (clients without tickets): give it the
     * binding too. Never touch a resumed session: it may be another connection's. */
    SSL_SESSION *sess = SSL_get_session(t->ssl);
    if (sess && !(t->flags & TLSF_DATA) && !SSL_session_reused(t->ssl))
        SSL_SESSION_set1_ticket_appdata(sess, t->binding, sizeof t->binding);
}

/* Maps a failed SSL call to the stream contract. want_r/want_w are the flags to set when
 * OpenSSL waits for the socket (0 where that is the caller's own wait). Returns 0 for a clean
 * close (reads), else -1 with last_errno. */
static ssize_t tls_fail(stream_tls *t, int rc, const char *what, unsigned want_r, unsigned want_w)
{
    int e = SSL_get_error(t->ssl, rc);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        t->flags |= want_r;
        t->base.last_errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        t->flags |= want_w;
        t->base.last_errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL: {
        int err = errno;
        t->flags |= TLSF_FATAL;
        if (ERR_peek_error() == 0 && (err == 0 || err == EAGAIN)) {
            /* The peer closed the socket without close_notify (OpenSSL 1.1; 3.x reports it
             * as a clean end with SSL_OP_IGNORE_UNEXPECTED_EOF). Treat it as an end, as
             * every FTP server does, since clients commonly skip close_notify; an owner
             * that must know asks stream_tls_peer_closed(). */
            t->base.last_errno = EPIPE;
            set_err(t, what);
            return 0;
        }
        t->base.last_errno = err ? err : EPIPE;
        set_err(t, what);
        return -1;
    }
    default:
        t->flags |= TLSF_FATAL;
        t->base.last_errno = EPROTO;
        set_err(t, what);
        return -1;
    }
}

static ssize_t tls_read(stream *s, void *dst, size_t len)
{
    stream_tls *t = (stream_tls *)s;
    if (t->flags & TLSF_FATAL) {
        s->last_errno = EPIPE;
        return -1;
    }
    t->flags &= ~(TLSF_RD_WANT_W | TLSF_HS_WANT_R | TLSF_HS_WANT_W);
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    if (SSL_read_ex(t->ssl, dst, len, &n) == 1) {
        if (!(t->flags & TLSF_HS_DONE))
            handshake_done(t);
        return (ssize_t)n;
    }
    return tls_fail(t, 0, "TLS read", 0, TLSF_RD_WANT_W);
}

static ssize_t tls_write(stream *s, const void *src, size_t len)
{
    stream_tls *t = (stream_tls *)s;
    if (t->flags & (TLSF_FATAL | TLSF_SHUT_DONE)) {
        s->last_errno = EPIPE;
        return -1;
    }
    if (len == 0)
        return 0;
    /* One record's worth a call. Given more, OpenSSL 3.0 under TLS 1.3 spent a third of a
     * 1 GiB download's CPU in memmove (perf: 33% against 4% with this cap, and against 4%
     * under TLS 1.2); with partial writes it returns after one record anyway. A retry after
     * EAGAIN passes at least as much as before, as OpenSSL requires. */
    if (len > SSL3_RT_MAX_PLAIN_LENGTH)
        len = SSL3_RT_MAX_PLAIN_LENGTH;
    t->flags &= ~(TLSF_WR_WANT_R | TLSF_HS_WANT_R | TLSF_HS_WANT_W);
    ERR_clear_error();
    errno = 0;
    size_t n = 0;
    if (SSL_write_ex(t->ssl, src, len, &n) == 1) {
        /* Whatever a read had queued to send went out with this record. */
        t->flags &= ~TLSF_RD_WANT_W;
        if (!(t->flags & TLSF_HS_DONE))
            handshake_done(t);
        return (ssize_t)n;
    }
    ssize_t r = tls_fail(t, 0, "TLS write", TLSF_WR_WANT_R, 0);
    if (r == 0) { /* a write never ends cleanly: the peer is gone */
        s->last_errno = EPIPE;
        r = -1;
    }
    return r;
}

static int tls_handshake(stream *s)
{
    stream_tls *t = (stream_tls *)s;
    if (t->flags & TLSF_HS_DONE)
        return 0;
    if (t->flags & TLSF_FATAL) {
        s->last_errno = EPROTO;
        return -1;
    }
    t->flags &= ~(TLSF_HS_WANT_R | TLSF_HS_WANT_W);
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        handshake_done(t);
        return 0;
    }
    if (tls_fail(t, rc, "TLS handshake", TLSF_HS_WANT_R, TLSF_HS_WANT_W) == 0) {
        t->flags |= TLSF_FATAL; /* closed during the handshake */
        s->last_errno = ECONNRESET;
        if (!t->err[0])
            snprintf(t->err, sizeof t->err, "TLS handshake: connection closed by peer");
    }
    return -1;
}

static int tls_shutdown(stream *s)
{
    stream_tls *t = (stream_tls *)s;
    if (!(t->flags & (TLSF_FATAL | TLSF_SHUT_DONE)) && SSL_is_init_finished(t->ssl)) {
        t->flags &= ~TLSF_SD_WANT_W;
        ERR_clear_error();
        errno = 0;
        /* One call: 0 means our close_notify is out (the peer's is not awaited), 1 that both
         * are; -1 with WANT_WRITE that it is still queued. */
        int rc = SSL_shutdown(t->ssl);
        if (rc < 0) {
            int e = SSL_get_error(t->ssl, rc);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                t->flags |= TLSF_SD_WANT_W;
                s->last_errno = EAGAIN;
                return -1;
            }
            /* The peer is gone: nothing more can be said to it. */
            t->flags |= TLSF_FATAL;
            s->last_errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPIPE;
            set_err(t, "TLS shutdown");
        }
    }
    if (!(t->flags & TLSF_SHUT_DONE)) {
        t->flags |= TLSF_SHUT_DONE;
        if (shutdown(s->fd, SHUT_WR) < 0)
            s->last_errno = errno;
    }
    return 0;
}

static void tls_close(stream *s)
{
    stream_tls *t = (stream_tls *)s;
    if (t->ssl) {
        /* OpenSSL drops a session from the cache when a connection is freed without
         * close_notify. An aborted transfer is no reason to make the control connection's
         * session unusable for the next data connection; a protocol error still is. */
        if (!(t->flags & TLSF_FATAL))
            SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int tls_want(const stream *s)
{
    const stream_tls *t = (const stream_tls *)s;
    int w = 0;
    if (t->flags & (TLSF_RD_WANT_W | TLSF_HS_WANT_W | TLSF_SD_WANT_W))
        w |= EV_WRITE;
    if (t->flags & (TLSF_WR_WANT_R | TLSF_HS_WANT_R))
        w |= EV_READ;
    return w;
}

static size_t tls_pending(const stream *s)
{
    const stream_tls *t = (const stream_tls *)s;
    if (!t->ssl || (t->flags & TLSF_FATAL))
        return 0;
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 0;
}

static const stream_ops tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .sendfile = NULL,
    .recvfile = NULL,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .want = tls_want,
    .pending = tls_pending,
    .handshake = tls_handshake,
};

bool stream_is_tls(const stream *s)
{
    return s->ops == &tls_ops;
}

static void ctx_err(char *err, size_t err_size, const char *what, const char *file)
{
    char text[160] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    /* A file that cannot be opened ends the queue with "SSL routines::system lib"; the
     * system error before it (Permission denied, say) is what the reader can act on. */
    for (unsigned long q; (q = ERR_get_error()) != 0;)
        if (ERR_GET_LIB(q) == ERR_LIB_SYS && ERR_GET_REASON(q) > 0) {
            snprintf(text, sizeof text, "%s", strerror(ERR_GET_REASON(q)));
            break;
        }
    snprintf(err, err_size, "%s%s%s: %s", what, file ? " " : "", file ? file : "",
             text[0] ? text : "failed");
    ERR_clear_error();
}

static int refuse_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    if (asked)
        *(bool *)asked = true;
    return -1;
}

/* The plain words for what OpenSSL's error queue says about a file that opened but did not
 * load as `what` ("certificate" or "private key"; cert_file, for a key, is the certificate it
 * must belong to): "PEM lib" and "DECODER routines::unsupported" tell an operator nothing.
 * Returns false, the queue untouched, when none applies (a file that did not open, say). */
static bool load_err(char *err, size_t err_size, const char *what, const char *file,
                     const char *cert_file)
{
    /* the earliest error is the cause; "SSL routines::PEM lib" follows it */
    unsigned long e = ERR_peek_error();
    int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
    bool none = (lib == ERR_LIB_PEM && reason == PEM_R_NO_START_LINE) ||
                (lib == ERR_LIB_OSSL_DECODER && reason == ERR_R_UNSUPPORTED);
    bool mismatch = lib == ERR_LIB_X509 && reason == X509_R_KEY_VALUES_MISMATCH;
    if (mismatch)
        snprintf(err, err_size,
                 "cannot load the private key %s: it does not belong to the "
                 "certificate %s (the key of another pair)",
                 file, cert_file);
    else if (none && cert_file && strcmp(file, cert_file) == 0)
        snprintf(err, err_size,
                 "cannot load the private key %s: the file holds no private key "
                 "(without --tls-key, the key is looked for in the --tls-cert file)",
                 file);
    else if (none)
        snprintf(err, err_size, "cannot load the %s %s: the file holds no %s", what, file, what);
    else
        return false;
    ERR_clear_error();
    return true;
}

static void common_ctx_setup(SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    long opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
    SSL_CTX_set_options(ctx, (uint64_t)opts);
    /* Partial writes: SSL_write returns after each record, like send(2). Moving buffers: a
     * retried write may come from a buffer that was compacted meanwhile. Released buffers:
     * an idle control connection holds no 34 KiB of record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
}

struct ssl_ctx_st *stream_tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                                         size_t err_size)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ctx_err(err, err_size, "cannot create a TLS context", NULL);
        return NULL;
    }
    common_ctx_setup(ctx);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_dh_auto(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
    /* TLS 1.3 tickets go out at the end of the handshake, ahead of any reply, so a client
     * has one to offer by the time it opens a data connection. */
    SSL_CTX_set_num_tickets(ctx, TLS_TICKETS);
    SSL_CTX_set_session_ticket_cb(ctx, ticket_gen_cb, ticket_dec_cb, NULL);
    /* A key under a passphrase would have OpenSSL ask for it on the terminal: at start, and
     * at each SIGHUP again, with the event loop waiting for someone to type. */
    bool passphrase_asked = false;
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &passphrase_asked);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        if (!load_err(err, err_size, "certificate", cert_file, NULL))
            ctx_err(err, err_size, "cannot load the certificate", cert_file);
        goto fail;
    }
    int key_loaded = SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM);
    /* the flag lives on this stack, the context beyond it */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (key_loaded != 1) {
        if (passphrase_asked) {
            snprintf(err, err_size,
                     "cannot load the private key %s: it is encrypted with a passphrase, which "
                     "ftpd does not ask for: store it decrypted (openssl pkey -in KEY -out "
                     "NEW), readable only by root and the server's user",
                     key_file);
            ERR_clear_error();
        } else if (!load_err(err, err_size, "private key", key_file, cert_file)) {
            ctx_err(err, err_size, "cannot load the private key", key_file);
        }
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ctx_err(err, err_size, "the private key does not match the certificate", key_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

struct ssl_ctx_st *stream_tls_client_ctx(char *err, size_t err_size)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ctx_err(err, err_size, "cannot create a TLS context", NULL);
        return NULL;
    }
    common_ctx_setup(ctx);
    /* The application keeps sessions itself (stream_tls_get1_session) for its data
     * connections; OpenSSL's client cache is not used. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

void stream_tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

int stream_tls_init(stream_tls *t, int fd, struct ssl_ctx_st *ctx, stream_tls_role role)
{
    char err[sizeof t->err] = "";
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, sizeof err, "cannot start TLS: %s",
                 e ? ERR_error_string(e, NULL) : "out of memory");
        ERR_clear_error();
        SSL_free(ssl);
        memcpy(t->err, err, sizeof err);
        return -1;
    }
    memset(t, 0, sizeof *t);
    t->base.ops = &tls_ops;
    t->base.fd = fd;
    t->base.pipe_fds[0] = t->base.pipe_fds[1] = -1;
    t->ssl = ssl;
    SSL_set_app_data(ssl, t);
    SSL_set_info_callback(ssl, info_cb);
    if (role == STREAM_TLS_SERVER) {
        t->flags |= TLSF_SERVER;
        SSL_set_accept_state(ssl);
        if (RAND_bytes(t->binding, sizeof t->binding) != 1) {
            SSL_free(ssl);
            t->ssl = NULL;
            t->base.ops = NULL;
            snprintf(t->err, sizeof t->err, "cannot start TLS: no random bytes");
            return -1;
        }
    } else {
        SSL_set_connect_state(ssl);
    }
    return 0;
}

void stream_tls_bind_data(stream_tls *t, const stream_tls *control)
{
    memcpy(t->binding, control->binding, sizeof t->binding);
    t->flags |= TLSF_DATA;
}

bool stream_tls_bound(const stream_tls *t)
{
    return t->ssl && (t->flags & TLSF_HS_DONE) && bound_now(t);
}

bool stream_tls_peer_closed(const stream_tls *t)
{
    return (t->flags & TLSF_PEER_CLOSE) != 0;
}

bool stream_tls_resumed(const stream_tls *t)
{
    return t->ssl && SSL_session_reused(t->ssl);
}

const char *stream_tls_version(const stream_tls *t)
{
    return t->ssl && (t->flags & TLSF_HS_DONE) ? SSL_get_version(t->ssl) : "-";
}

const char *stream_tls_cipher(const stream_tls *t)
{
    const char *c = t->ssl && (t->flags & TLSF_HS_DONE) ? SSL_get_cipher_name(t->ssl) : NULL;
    return c ? c : "-";
}

int stream_tls_set_session(stream_tls *t, struct ssl_session_st *sess)
{
    return SSL_set_session(t->ssl, sess) == 1 ? 0 : -1;
}

struct ssl_session_st *stream_tls_get1_session(const stream_tls *t)
{
    return t->ssl ? SSL_get1_session(t->ssl) : NULL;
}
