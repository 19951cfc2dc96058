/* Self-signed certificates and fingerprints, for a server that must speak TLS before anyone
 * gave it a certificate, and for tests. */
#ifndef TLSCERT_H
#define TLSCERT_H

#include <stddef.h>

/* "AB:CD:..." (95 characters) plus NUL. */
#define TLSCERT_FP_LEN 96
/* base64 of a SHA-256 (44 characters) plus NUL. */
#define TLSCERT_PIN_LEN 48

/* Writes a new self-signed certificate and its private key: EC P-256, SHA-256 signature,
 * valid for 10 years (from an hour ago, for clock skew), CN=localhost, subjectAltName
 * DNS:localhost, IP:127.0.0.1, IP:::1, usable as its own CA (curl --cacert, Python's strict
 * verification). The key file is created with mode 0600, the certificate 0644; both are
 * written aside and renamed into place, so a reader never sees half a file. Existing files are
 * replaced. Returns 0, or -1 with a message in err. */
int tlscert_generate(const char *cert_path, const char *key_path, char *err, size_t err_size);

/* The SHA-256 fingerprint of the first certificate in a PEM file, as "AB:CD:...", and the
 * base64 SHA-256 of its public key (the "sha256//..." pin form of curl). pin may be NULL.
 * Returns 0, or -1 with a message in err. */
int tlscert_fingerprint(const char *cert_path, char fp[TLSCERT_FP_LEN], char *pin, size_t pin_size,
                        char *err, size_t err_size);

#endif
