/* FTPS (RFC 4217) for ftpd: the server's certificate and TLS context, and the policy that
 * command handlers and transfers consult. The TLS mechanics are the stream's (stream_tls.h);
 * this module decides when a stream becomes TLS and whether what it carries is allowed. */
#ifndef FTPS_H
#define FTPS_H

#include <stdbool.h>
#include <stddef.h>

struct ftpd_config;
struct server;
struct session;
struct xfer;

/* Reply codes of RFC 2228/4217 (and vsftpd's 522 for a refused TLS data connection). */
#define FTP_PROT_OK 200
#define FTP_PROT_NEEDED 521      /* data connection cannot be opened with this PROT setting */
#define FTP_TLS_DATA_REFUSED 522 /* data connection TLS failed or did not reuse the session */
#define FTP_CMD_PROT_DENIED 533  /* a command that must be protected came in clear (CCC) */
#define FTP_POLICY_DENIED 534    /* request denied for policy reasons (CCC) */
#define FTP_PROT_UNSUPPORTED 536 /* PROT level not supported by the mechanism (S, E) */

/* When cfg->tls: loads the configured certificate, or the one in the state directory
 * (generated there at the first start), makes the shared TLS context and logs the
 * certificate's SHA-256 fingerprint. Returns 0, or -1 with a message logged. */
int ftps_server_init(struct server *srv);
void ftps_server_free(struct server *srv);
/* ftpd --check: loads the certificate and key as ftps_server_init would, without generating
 * one (a missing pair that start-up would generate is fine). Returns 0, or -1 logged. */
int ftps_check(const struct ftpd_config *cfg);
/* SIGHUP: makes a new context from the certificate files (a renewed certificate); if they do
 * not load, the old one stays. Sessions already in TLS keep theirs. */
void ftps_reload(struct server *srv);

/* The state directory in effect: cfg->state_dir, else /var/lib/ftpd for root, else
 * $XDG_STATE_HOME/ftpd or ~/.local/state/ftpd. Returns out, or NULL when none can be named. */
char *ftps_state_dir(const char *configured, char *out, size_t out_size);

/* Makes the session's control connection a TLS server stream (after 234, or at once for
 * implicit FTPS); the session drives the handshake. Returns 0, or -1 (logged). */
int ftps_session_start(struct session *s);
/* Logs the control connection's protocol and cipher once its handshake is done. */
void ftps_session_ready(struct session *s);
/* The last TLS error of the control connection, for logs. */
const char *ftps_session_error(const struct session *s);

/* NULL when USER `name` may proceed, else the text of a 530 refusal (TLS required first):
 * by the global settings, or because the account's permissions carry S. */
const char *ftps_login_refusal(const struct session *s, const char *name, bool anonymous);
/* NULL when a data command may run under the session's PROT level, else the text of a 521
 * refusal. */
const char *ftps_data_refusal(const struct session *s);
/* Under PROT P, makes x's data connection a TLS server stream bound to the control
 * connection. Returns 0, or -1 (logged). */
int ftps_data_wrap(struct xfer *x);
/* After the data connection's handshake: NULL when it may carry the transfer, else the text
 * of a 522 refusal (the session was not resumed from the control connection). */
const char *ftps_data_check(struct xfer *x);
/* The last TLS error of the data connection, for replies and logs. */
const char *ftps_data_error(const struct xfer *x);
/* True when x's upload came over TLS and its stream ended (a TCP FIN, or a reset the kernel
 * reported as an end) without the client's close_notify: a truncation (RFC 4217 section 10,
 * RFC 8446 section 6.1) that must not be committed as a complete file. */
bool ftps_data_truncated(const struct xfer *x);

#endif
