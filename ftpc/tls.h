/* FTPS settings of one client run: the OpenSSL client context with the trust decisions the
 * user made (the system store or --cacert, --pin, --insecure, --tls-max), the per-connection
 * set-up (SNI, the host name or IP address the certificate must name), and failures explained
 * in words.
 *
 * Trust (as curl): the certificate chain must verify against the system store or --cacert
 * and name the host of the URL; --pin adds a check of the server's public key (SHA-256 of
 * its DER SubjectPublicKeyInfo, base64, curl's "sha256//" form); --insecure drops the chain
 * and name checks but still enforces any --pin. Data connections resume the control
 * connection's session, so they are the same server; one that makes a full handshake is
 * checked in the same way.
 */
#ifndef FTPC_TLS_H
#define FTPC_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "opts.h"
#include "stream_tls.h"

#define FTPC_PIN_LEN 32 /* SHA-256 */
#define FTPC_PIN_MAX 8

/* How an endpoint wants TLS: not at all, AUTH TLS after the greeting (ftpes://, --tls), or
 * from the first byte (ftps://, port 990 by default). */
typedef enum { FTPC_TLS_NONE = 0, FTPC_TLS_EXPLICIT, FTPC_TLS_IMPLICIT } ftpc_tls_mode;

typedef struct ftpc_tls ftpc_tls;

/* Parses "sha256//BASE64[;sha256//BASE64...]" (at most FTPC_PIN_MAX, each BASE64 the 44
 * characters of a SHA-256) into pins. Returns the number of pins (>= 1), or -1 with a reason
 * in err. */
int ftpc_tls_parse_pins(const char *s, unsigned char pins[][FTPC_PIN_LEN], int max, char *err,
                        size_t err_size);

/* The SHA-256 of cert_der's SubjectPublicKeyInfo into out. Returns 0 or -1 (not a
 * certificate). Exposed for tests. */
int ftpc_tls_spki_sha256(const unsigned char *cert_der, size_t len,
                         unsigned char out[FTPC_PIN_LEN]);

/* A context for o's settings (o must outlive it). Returns NULL with a message in err (an
 * unreadable --cacert, a bad --pin). */
ftpc_tls *ftpc_tls_new(const ftpc_opts *o, char *err, size_t err_size);
void ftpc_tls_free(ftpc_tls *tls);

/* Makes t a client TLS stream over the connected non-blocking fd for host (SNI for a name;
 * the certificate must name host, a DNS name or an IP address). sess, if not NULL, is offered
 * for resumption (not consumed). Returns 0 (t owns fd), or -1 with a message in err (fd left
 * open). */
int ftpc_tls_start(ftpc_tls *tls, stream_tls *t, int fd, const char *host,
                   struct ssl_session_st *sess, char *err, size_t err_size);

/* After a failed handshake on t: why, in words, with a hint for an untrusted certificate
 * (naming --pin only where the command has it). Where t's context is not an ftpc_tls's (as
 * stress's is not), cacert and insecure say what --cacert and --insecure were. */
void ftpc_tls_describe(stream_tls *t, char *out, size_t out_size);
void ftpc_tls_describe_hint(stream_tls *t, bool pin_ok, const char *cacert, bool insecure,
                            char *out, size_t out_size);

/* After a handshake: "TLSv1.3 TLS_AES_256_GCM_SHA384, session resumed" for -v. */
void ftpc_tls_summary(stream_tls *t, char *out, size_t out_size);

#endif
