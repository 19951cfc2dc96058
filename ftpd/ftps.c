/* FTPS for ftpd: certificate, TLS context and policy (see ftps.h). */
#include "ftps.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dirprobe.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "stream_tls.h"
#include "tlscert.h"
#include "users.h"
#include "xfer.h"

#define CERT_NAME "tls-cert.pem"
#define KEY_NAME "tls-key.pem"

char *ftps_state_dir(const char *configured, char *out, size_t out_size)
{
    int n;
    if (configured) {
        n = snprintf(out, out_size, "%s", configured);
    } else if (geteuid() == 0) {
        n = snprintf(out, out_size, "/var/lib/ftpd");
    } else {
        /* XDG Base Directory: state that should persist but is not worth backing up. */
        const char *xdg = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0] == '/') {
            n = snprintf(out, out_size, "%s/ftpd", xdg);
        } else {
            if (!home || home[0] != '/') {
                struct passwd *pw = getpwuid(geteuid());
                home = pw ? pw->pw_dir : NULL;
            }
            if (!home || home[0] != '/')
                return NULL;
            n = snprintf(out, out_size, "%s/.local/state/ftpd", home);
        }
    }
    return n > 0 && (size_t)n < out_size ? out : NULL;
}

/* mkdir -p, each created component private to the user. */
static int make_dirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* The certificate and key in the state directory, generated when neither exists and
 * may_generate: a reload never replaces the certificate clients may have pinned. */
/* The state directory in effect (dir, PATH_MAX bytes) and its certificate and key paths.
 * Returns 0, or -1 with the reason logged. */
static int state_paths(const ftpd_config *cfg, char *dir, char *cert, char *key, size_t size)
{
    if (!ftps_state_dir(cfg->state_dir, dir, PATH_MAX)) {
        log_error("TLS: no state directory for the generated certificate (no $HOME): give "
                  "--state-dir DIR or --tls-cert FILE");
        return -1;
    }
    if ((size_t)snprintf(cert, size, "%s/" CERT_NAME, dir) >= size ||
        (size_t)snprintf(key, size, "%s/" KEY_NAME, dir) >= size) {
        log_error("TLS: state directory path too long: %s", dir);
        return -1;
    }
    return 0;
}

static int state_cert(const ftpd_config *cfg, bool may_generate, char *cert, char *key, size_t size,
                      bool *generated)
{
    char dir[PATH_MAX];
    if (state_paths(cfg, dir, cert, key, size) < 0)
        return -1;
    bool have_cert = access(cert, F_OK) == 0;
    int cert_errno = errno;
    bool have_key = access(key, F_OK) == 0;
    int key_errno = errno;
    if (have_cert && have_key)
        return 0;
    if (!may_generate) {
        log_error("TLS: %s: %s", have_cert ? key : cert,
                  strerror(have_cert ? key_errno : cert_errno));
        return -1;
    }
    if (have_cert != have_key) {
        log_error("TLS: %s exists but %s does not; remove it to have a new certificate "
                  "generated, or give --tls-cert and --tls-key",
                  have_cert ? cert : key, have_cert ? key : cert);
        return -1;
    }
    if (make_dirs(dir) < 0) {
        log_error("TLS: cannot create the state directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char err[512];
    if (tlscert_generate(cert, key, err, sizeof err) < 0) {
        log_error("TLS: %s", err);
        return -1;
    }
    *generated = true;
    return 0;
}

/* The certificate and key files: the named ones, or the pair in the state directory. */
static int cert_files(const ftpd_config *cfg, bool may_generate, char *cert, char *key, size_t size,
                      bool *generated)
{
    if (cfg->tls_cert) {
        snprintf(cert, size, "%s", cfg->tls_cert);
        snprintf(key, size, "%s", cfg->tls_key ? cfg->tls_key : cfg->tls_cert);
        return 0;
    }
    if (cfg->tls_key) {
        log_error("TLS: tls-key is set without tls-cert");
        return -1;
    }
    return state_cert(cfg, may_generate, cert, key, size, generated);
}

/* A context on the certificate files, with its fingerprint logged; NULL with the error logged
 * after `what`. */
static struct ssl_ctx_st *load_ctx(const ftpd_config *cfg, bool at_start, const char *what,
                                   const char *loaded)
{
    char cert[PATH_MAX], key[PATH_MAX];
    bool generated = false;
    if (cert_files(cfg, at_start, cert, key, sizeof cert, &generated) < 0)
        return NULL;
    char err[512], fp[TLSCERT_FP_LEN], pin[TLSCERT_PIN_LEN];
    struct ssl_ctx_st *ctx = stream_tls_server_ctx(cert, key, err, sizeof err);
    if (ctx && tlscert_fingerprint(cert, fp, pin, sizeof pin, err, sizeof err) < 0) {
        stream_tls_ctx_free(ctx);
        ctx = NULL;
    }
    if (!ctx) {
        log_error("%sTLS: %s", what, err);
        return NULL;
    }
    log_startup("%sTLS certificate %s (%s): SHA-256 fingerprint %s, public key pin sha256//%s",
                what, cert, generated ? "self-signed, generated now" : loaded, fp, pin);
    return ctx;
}

/* A certificate named while TLS stays off is most likely a forgotten "tls = yes": said by
 * --check as by a start. */
static void warn_tls_off(const ftpd_config *cfg)
{
    if (cfg->tls_cert || cfg->tls_key)
        log_warn("%s is set but TLS is off: give --tls to offer AUTH TLS",
                 cfg->tls_cert ? "tls-cert" : "tls-key");
}

/* Alone it requires nothing (it extends the other two to anonymous sessions), and nothing
 * else would tell an administrator who expected anonymous sessions to need TLS. */
static void warn_lone_anonymous_requirement(const ftpd_config *cfg)
{
    if (cfg->require_tls_anonymous && !cfg->require_tls_login && !cfg->require_tls_data)
        log_warn("require-tls-anonymous has no effect without require-tls, require-tls-login "
                 "or require-tls-data: it holds anonymous sessions to those as well");
}

int ftps_server_init(server *srv)
{
    const ftpd_config *cfg = srv->cfg;
    warn_lone_anonymous_requirement(cfg);
    if (!cfg->tls) {
        warn_tls_off(cfg);
        return 0;
    }
    srv->tls_ctx = load_ctx(cfg, true, "", "loaded");
    if (!srv->tls_ctx)
        return -1;
    log_info("FTPS: AUTH TLS offered%s%s%s; data connections %s reuse the control "
             "connection's TLS session",
             cfg->require_tls_login ? ", required for logins" : "",
             cfg->require_tls_data ? ", required for data" : "",
             (cfg->require_tls_login || cfg->require_tls_data) && !cfg->require_tls_anonymous
                 ? " (anonymous exempt)"
                 : "",
             cfg->tls_require_reuse ? "must" : "need not");
    return 0;
}

/* Whether a first start could make dir (make_dirs) and write the pair into it: the nearest
 * existing part of the path must be a directory this user may create entries in. */
static int check_state_dir(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (;;) {
        struct stat st;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
            return dirprobe_can_create_in(p);
        }
        /* "." or "/" missing: there is nothing above to try */
        if (errno != ENOENT || strcmp(p, ".") == 0 || strcmp(p, "/") == 0)
            return -1;
        char *slash = strrchr(p, '/');
        if (slash == NULL)
            snprintf(p, sizeof p, ".");
        else
            *(slash == p ? slash + 1 : slash) = '\0';
    }
}

int ftps_check(const ftpd_config *cfg)
{
    warn_lone_anonymous_requirement(cfg);
    if (!cfg->tls) {
        warn_tls_off(cfg);
        return 0;
    }
    if (!cfg->tls_cert && !cfg->tls_key) {
        char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
        if (state_paths(cfg, dir, cert, key, sizeof cert) < 0)
            return -1;
        if (access(cert, F_OK) < 0 && access(key, F_OK) < 0) {
            if (check_state_dir(dir) < 0) {
                log_error("TLS: cannot create the certificate in the state directory %s: %s", dir,
                          strerror(errno));
                return -1;
            }
            log_info("TLS: no certificate in %s yet: a self-signed one is generated at the "
                     "first start",
                     dir);
            return 0;
        }
    }
    struct ssl_ctx_st *ctx = load_ctx(cfg, false, "", "checked");
    if (!ctx)
        return -1;
    stream_tls_ctx_free(ctx);
    return 0;
}

/* The generated certificate is written at the first start, before the privilege drop, with
 * a key only root may read: the server's user cannot read it again at a SIGHUP. That is no
 * fault to report as an error at every log rotation: say it once, as a note, and keep the
 * certificate. Returns true when it is so. */
static bool generated_cert_unreadable(const ftpd_config *cfg)
{
    if (cfg->tls_cert || cfg->tls_key)
        return false;
    char dir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    if (state_paths(cfg, dir, cert, key, sizeof cert) < 0)
        return false;
    const char *path = access(cert, R_OK) < 0 ? cert : access(key, R_OK) < 0 ? key : NULL;
    if (path == NULL || errno != EACCES)
        return false;
    log_info("SIGHUP: the TLS certificate stays as it was: the server's user %s%scannot read "
             "%s (%s); the generated certificate is read at start, so a new one there takes "
             "a restart",
             cfg->run_as_user ? cfg->run_as_user : "", cfg->run_as_user ? " " : "", path,
             strerror(EACCES));
    return true;
}

void ftps_reload(server *srv)
{
    if (!srv->tls_ctx || generated_cert_unreadable(srv->cfg))
        return;
    struct ssl_ctx_st *ctx = load_ctx(srv->cfg, false, "SIGHUP: ", "read again");
    if (!ctx) {
        log_error("SIGHUP: the TLS certificate stays as it was");
        return;
    }
    /* Connections made on the old context hold references to it (SSL_new), and their data
     * connections go on using it (ftps_data_wrap): their session tickets are sealed with its
     * keys. */
    stream_tls_ctx_free(srv->tls_ctx);
    srv->tls_ctx = ctx;
}

void ftps_server_free(server *srv)
{
    if (srv->tls_ctx) {
        stream_tls_ctx_free(srv->tls_ctx);
        srv->tls_ctx = NULL;
    }
}

int ftps_session_start(session *s)
{
    int fd = s->ctl.fd;
    if (stream_tls_init(&s->ctl_tls, fd, s->srv->tls_ctx, STREAM_TLS_SERVER) < 0) {
        session_log(s, "%s", s->ctl_tls.err);
        return -1;
    }
    return 0;
}

void ftps_session_ready(session *s)
{
    session_log(s, "TLS on the control connection: %s %s%s", stream_tls_version(&s->ctl_tls),
                stream_tls_cipher(&s->ctl_tls),
                stream_tls_resumed(&s->ctl_tls) ? " (session resumed)" : "");
}

const char *ftps_session_error(const session *s)
{
    return stream_is_tls(&s->ctl) && s->ctl_tls.err[0] ? s->ctl_tls.err : "connection closed";
}

/* The requirements apply to anonymous sessions only when asked. */
static bool exempt(const session *s, bool anonymous)
{
    return anonymous && !s->srv->cfg->require_tls_anonymous;
}

/* An account whose permissions carry S must use TLS whatever the global settings. (USER
 * answering 530 tells such an account exists; asking at PASS would be too late, with the
 * password already sent in clear.) */
static bool account_requires_tls(const session *s, const char *name)
{
    const ftpd_user *u = users_find(s->srv->users, name);
    return u && (u->perms & PERM_TLS);
}

const char *ftps_login_refusal(const session *s, const char *name, bool anonymous)
{
    if (s->flags & SF_TLS)
        return NULL;
    if ((s->srv->cfg->require_tls_login && !exempt(s, anonymous)) ||
        (!anonymous && account_requires_tls(s, name)))
        return "TLS required: send AUTH TLS before logging in.";
    return NULL;
}

const char *ftps_data_refusal(const session *s)
{
    bool required = (s->srv->cfg->require_tls_data && !exempt(s, (s->flags & SF_ANONYMOUS) != 0)) ||
                    (s->perms & PERM_TLS);
    if (!required || (s->flags & SF_PROT_P))
        return NULL;
    return (s->flags & SF_TLS) ? "Data connections must be protected: send PROT P."
                               : "Data connections must be protected: use AUTH TLS and PROT P.";
}

int ftps_data_wrap(xfer *x)
{
    session *s = x->s;
    if (!(s->flags & SF_PROT_P))
        return 0;
    /* The control connection's context, even after SIGHUP brought a new one: only it can
     * open the session ticket the client resumes, which proves the data connection is its. */
    SSL_CTX *ctx = s->ctl_tls.ssl ? SSL_get_SSL_CTX(s->ctl_tls.ssl) : s->srv->tls_ctx;
    if (stream_tls_init(&x->data_tls, x->data.fd, ctx, STREAM_TLS_SERVER) < 0) {
        session_log(s, "data connection: %s", x->data_tls.err);
        return -1;
    }
    stream_tls_bind_data(&x->data_tls, &s->ctl_tls);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* The context takes a TCP end without close_notify for a clean end (clients commonly
     * skip close_notify after downloads and before closing the control connection). An
     * upload cannot: only the client's close_notify tells a complete file from a cut one,
     * so here OpenSSL must report the unexpected end (ftps_data_truncated). */
    if (x->kind == XK_STOR)
        SSL_clear_options(x->data_tls.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    return 0;
}

const char *ftps_data_check(xfer *x)
{
    if (!stream_is_tls(&x->data))
        return NULL;
    session *s = x->s;
    bool resumed = stream_tls_resumed(&x->data_tls);
    log_debug("[%lu] data connection TLS: %s %s%s", s->id, stream_tls_version(&x->data_tls),
              stream_tls_cipher(&x->data_tls), resumed ? " (session resumed)" : "");
    if (!s->srv->cfg->tls_require_reuse || stream_tls_bound(&x->data_tls))
        return NULL;
    session_log(s, "refused a data connection: its TLS session %s",
                resumed ? "was resumed from another connection than this control connection"
                        : "is new, not resumed from the control connection");
    return "TLS session of the data connection must be resumed from the control connection "
           "(session reuse required).";
}

const char *ftps_data_error(const xfer *x)
{
    return stream_is_tls(&x->data) && x->data_tls.err[0] ? x->data_tls.err : "connection closed";
}

bool ftps_data_truncated(const xfer *x)
{
    if (x->kind != XK_STOR || !stream_is_tls(&x->data) || !x->data_tls.ssl)
        return false;
    if (SSL_get_shutdown(x->data_tls.ssl) & SSL_RECEIVED_SHUTDOWN)
        return false; /* the client's close_notify came */
    if (x->data.last_errno == ECONNRESET)
        return false; /* reported as the reset it is */
    if (x->data.last_errno != EPROTO)
        return true; /* a bare end (OpenSSL 1.1 returns it as a clean one) */
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    /* OpenSSL 3 reports the end as a protocol error; stream_tls keeps only its text. */
    const char *why =
        ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING));
    return why && strstr(x->data_tls.err, why) != NULL;
#else
    return false;
#endif
}
