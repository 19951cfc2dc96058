/* Self-signed certificate generation and fingerprints with OpenSSL 3. */
#include "tlscert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CERT_DAYS (10 * 365 + 3) /* ten years, leap days included */

static int fail(char *err, size_t err_size, const char *what)
{
    char text[160] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    else if (errno)
        snprintf(text, sizeof text, "%s", strerror(errno));
    snprintf(err, err_size, "%s: %s", what, text[0] ? text : "failed");
    ERR_clear_error();
    return -1;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    X509_NAME *name = X509_get_subject_name(cert);
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f; /* a positive serial number */
    serial[0] |= 0x40; /* of full length */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
        X509_set_version(cert, X509_VERSION_3) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_time_adj_ex(X509_getm_notAfter(cert), CERT_DAYS, 0, NULL) ||
        X509_set_pubkey(cert, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"ftpd self-signed", -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert, name) != 1)
        goto fail;
    /* What `openssl req -x509` gives, plus what strict verifiers (Python 3.13) ask of a
     * certificate that is its own trust anchor: key identifiers and key usage. */
    if (add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(cert, NID_authority_key_identifier, "keyid:always") < 0 ||
        add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0)
        goto fail;
    if (X509_sign(cert, key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(bn);
    return cert;
fail:
    BN_free(bn);
    X509_free(cert);
    return NULL;
}

/* Writes via a temporary file beside path, then renames it into place. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    bool ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1
                  : PEM_write_X509(f, cert) == 1;
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) == 0)
        return 0;
    if (ok)
        err = errno;
    unlink(tmp);
    errno = err ? err : EIO;
    return -1;
}

int tlscert_generate(const char *cert_path, const char *key_path, char *err, size_t err_size)
{
    ERR_clear_error();
    errno = 0;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key)
        return fail(err, err_size, "cannot generate a key");
    X509 *cert = make_cert(key);
    if (!cert) {
        EVP_PKEY_free(key);
        return fail(err, err_size, "cannot make a certificate");
    }
    int rc = 0;
    char what[4200];
    if (write_pem(key_path, 0600, key, NULL) < 0) {
        snprintf(what, sizeof what, "cannot write %s", key_path);
        rc = fail(err, err_size, what);
    } else if (write_pem(cert_path, 0644, NULL, cert) < 0) {
        snprintf(what, sizeof what, "cannot write %s", cert_path);
        rc = fail(err, err_size, what);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int tlscert_fingerprint(const char *cert_path, char fp[TLSCERT_FP_LEN], char *pin, size_t pin_size,
                        char *err, size_t err_size)
{
    ERR_clear_error();
    errno = 0;
    FILE *f = fopen(cert_path, "re");
    if (!f) {
        char what[4200];
        snprintf(what, sizeof what, "cannot open %s", cert_path);
        return fail(err, err_size, what);
    }
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) {
        char what[4200];
        snprintf(what, sizeof what, "no certificate in %s", cert_path);
        return fail(err, err_size, what);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int rc = 0;
    if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32) {
        rc = fail(err, err_size, "cannot hash the certificate");
        goto out;
    }
    for (unsigned i = 0; i < len; i++)
        snprintf(fp + 3 * i, TLSCERT_FP_LEN - 3 * i, "%02X%s", md[i], i + 1 < len ? ":" : "");
    if (pin) {
        /* SHA-256 over the DER SubjectPublicKeyInfo, in base64: curl's --pinnedpubkey. */
        unsigned char *der = NULL;
        int dlen = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
        unsigned char h[32];
        if (dlen <= 0 || !EVP_Digest(der, (size_t)dlen, h, NULL, EVP_sha256(), NULL) ||
            pin_size < TLSCERT_PIN_LEN) {
            OPENSSL_free(der);
            rc = fail(err, err_size, "cannot hash the public key");
            goto out;
        }
        OPENSSL_free(der);
        EVP_EncodeBlock((unsigned char *)pin, h, sizeof h);
    }
out:
    X509_free(cert);
    return rc;
}
