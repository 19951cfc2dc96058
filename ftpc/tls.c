/* The client's TLS trust settings and per-connection set-up (see tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct ftpc_tls {
    SSL_CTX *ctx;
    bool insecure;
    char *cacert; /* --cacert, to name in a refusal: NULL for the system's store */
    int npins;
    unsigned char pins[FTPC_PIN_MAX][FTPC_PIN_LEN];
};

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict base64 of exactly FTPC_PIN_LEN bytes: 43 characters and one '='. */
static int decode_pin(const char *s, size_t len, unsigned char out[FTPC_PIN_LEN])
{
    if (len != 44 || s[43] != '=')
        return -1;
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 43; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < FTPC_PIN_LEN)
                out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 43 * 6 = 258 bits: 32 bytes and 2 bits that must be zero. */
    return o == FTPC_PIN_LEN && acc == 0 ? 0 : -1;
}

int ftpc_tls_parse_pins(const char *s, unsigned char pins[][FTPC_PIN_LEN], int max, char *err,
                        size_t err_size)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ";");
        if (len < 8 || strncasecmp(p, "sha256//", 8) != 0) {
            snprintf(err, err_size, "--pin: expected sha256//BASE64 (several separated by ';')");
            return -1;
        }
        if (n >= max) {
            snprintf(err, err_size, "--pin: at most %d pins", max);
            return -1;
        }
        if (decode_pin(p + 8, len - 8, pins[n]) < 0) {
            snprintf(err, err_size,
                     "--pin: '%.*s' is not the base64 of a SHA-256 (44 characters ending in '=')",
                     (int)(len > 60 ? 60 : len), p);
            return -1;
        }
        n++;
        if (p[len] == '\0')
            return n;
        p += len + 1;
    }
}

static int spki_sha256(X509 *cert, unsigned char out[FTPC_PIN_LEN])
{
    unsigned char *der = NULL;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (len <= 0)
        return -1;
    unsigned int mdlen = 0;
    int ok = EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL);
    OPENSSL_free(der);
    return ok == 1 && mdlen == FTPC_PIN_LEN ? 0 : -1;
}

int ftpc_tls_spki_sha256(const unsigned char *cert_der, size_t len, unsigned char out[FTPC_PIN_LEN])
{
    const unsigned char *p = cert_der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    if (cert == NULL) {
        ERR_clear_error();
        return -1;
    }
    int rc = spki_sha256(cert, out);
    X509_free(cert);
    return rc;
}

/* Called by OpenSSL for each certificate of the chain, the server's own last (depth 0). */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    ftpc_tls *tls = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (tls == NULL)
        return ok;
    if (tls->insecure)
        ok = 1;
    if (ok && tls->npins > 0 && X509_STORE_CTX_get_error_depth(xs) == 0) {
        unsigned char h[FTPC_PIN_LEN];
        X509 *cert = X509_STORE_CTX_get_current_cert(xs);
        bool match = false;
        if (cert != NULL && spki_sha256(cert, h) == 0)
            for (int i = 0; i < tls->npins && !match; i++)
                match = CRYPTO_memcmp(h, tls->pins[i], FTPC_PIN_LEN) == 0;
        if (!match) {
            X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
            return 0;
        }
    }
    return ok;
}

ftpc_tls *ftpc_tls_new(const ftpc_opts *o, char *err, size_t err_size)
{
    ftpc_tls *tls = calloc(1, sizeof(*tls));
    if (tls == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    tls->insecure = o->insecure;
    if (o->cacert != NULL && (tls->cacert = strdup(o->cacert)) == NULL) {
        snprintf(err, err_size, "out of memory");
        free(tls);
        return NULL;
    }
    if (o->pin != NULL) {
        tls->npins = ftpc_tls_parse_pins(o->pin, tls->pins, FTPC_PIN_MAX, err, err_size);
        if (tls->npins < 0) {
            free(tls->cacert);
            free(tls);
            return NULL;
        }
    }
    tls->ctx = stream_tls_client_ctx(err, err_size);
    if (tls->ctx == NULL) {
        free(tls->cacert);
        free(tls);
        return NULL;
    }
    SSL_CTX_set_app_data(tls->ctx, tls);
    if (o->tls_max == 12)
        SSL_CTX_set_max_proto_version(tls->ctx, TLS1_2_VERSION);
    else if (o->tls_max == 13)
        SSL_CTX_set_max_proto_version(tls->ctx, TLS1_3_VERSION);
    int loaded;
    struct stat st;
    ERR_clear_error();
    if (o->cacert != NULL && stat(o->cacert, &st) == 0 && S_ISDIR(st.st_mode))
        loaded = SSL_CTX_load_verify_locations(tls->ctx, NULL, o->cacert);
    else if (o->cacert != NULL)
        loaded = SSL_CTX_load_verify_locations(tls->ctx, o->cacert, NULL);
    else
        loaded = SSL_CTX_set_default_verify_paths(tls->ctx);
    if (loaded != 1 && !o->insecure) {
        unsigned long e = ERR_peek_last_error();
        char text[160] = "";
        if (e)
            ERR_error_string_n(e, text, sizeof(text));
        snprintf(err, err_size, "cannot load the trusted certificates%s%s%s%s",
                 o->cacert ? " from " : " of the system", o->cacert ? o->cacert : "",
                 text[0] ? ": " : "", text);
        ERR_clear_error();
        ftpc_tls_free(tls);
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER, verify_cb);
    return tls;
}

void ftpc_tls_free(ftpc_tls *tls)
{
    if (tls == NULL)
        return;
    stream_tls_ctx_free(tls->ctx);
    OPENSSL_cleanse(tls->pins, sizeof(tls->pins));
    free(tls->cacert);
    free(tls);
}

int ftpc_tls_start(ftpc_tls *tls, stream_tls *t, int fd, const char *host,
                   struct ssl_session_st *sess, char *err, size_t err_size)
{
    if (stream_tls_init(t, fd, tls->ctx, STREAM_TLS_CLIENT) < 0) {
        snprintf(err, err_size, "%s", t->err);
        return -1;
    }
    SSL *ssl = stream_tls_ssl(t);
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char addr[16];
    int ok;
    if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
        /* An address is checked against the certificate's IP names; SNI carries names only
         * (RFC 6066). */
        ok = X509_VERIFY_PARAM_set1_ip_asc(param, host);
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = X509_VERIFY_PARAM_set1_host(param, host, 0) == 1 &&
             SSL_set_tlsext_host_name(ssl, host) == 1;
    }
    if (ok == 1 && sess != NULL)
        ok = stream_tls_set_session(t, sess) == 0;
    if (ok != 1) {
        snprintf(err, err_size, "cannot set up TLS for %s", host);
        ERR_clear_error();
        /* Undo without closing fd: the caller still owns it on failure. */
        t->base.fd = -1;
        stream_close(&t->base);
        return -1;
    }
    return 0;
}

void ftpc_tls_describe(stream_tls *t, char *out, size_t out_size)
{
    ftpc_tls_describe_hint(t, true, NULL, false, out, out_size);
}

/* Appends a name from the server's certificate to out (at *len), each byte that is not
 * printable ASCII as '?': the name comes from the peer and goes to a terminal. A long name
 * is cut (marked "...") so that four of them and the advice after them fit one message. */
static void append_name(char *out, size_t out_size, size_t *len, const unsigned char *name,
                        size_t n)
{
    enum { NAME_SHOWN_MAX = 48 };
    if (*len > 0 && *len + 2 < out_size) {
        memcpy(out + *len, ", ", 2);
        *len += 2;
    }
    bool cut = n > NAME_SHOWN_MAX;
    for (size_t i = 0; i < (cut ? NAME_SHOWN_MAX - 3 : n) && *len + 1 < out_size; i++)
        out[(*len)++] = name[i] > 0x20 && name[i] < 0x7f ? (char)name[i] : '?';
    for (int i = 0; cut && i < 3 && *len + 1 < out_size; i++)
        out[(*len)++] = '.';
    out[*len] = '\0';
}

/* The names the server's certificate is for (its DNS and IP subjectAltNames, and its common
 * name when no DNS name is among them, as OpenSSL's host check then uses it), to tell a user whose
 * connection failed on a name mismatch which name to use. Empty when OpenSSL kept no certificate.
 */
static void peer_cert_names(SSL *ssl, char *out, size_t out_size)
{
    enum { SHOWN_MAX = 4 };
    out[0] = '\0';
    /* A failed check leaves the certificate in the chain only, not as the peer's. */
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509 *cert = chain != NULL && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
    if (cert == NULL)
        return;
    size_t len = 0;
    int total = 0;
    bool dns = false;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS && g->type != GEN_IPADD)
            continue;
        dns = dns || g->type == GEN_DNS;
        if (++total > SHOWN_MAX)
            continue;
        const ASN1_STRING *v = g->type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
        const unsigned char *d = ASN1_STRING_get0_data(v);
        int n = ASN1_STRING_length(v);
        char ip[INET6_ADDRSTRLEN];
        if (g->type == GEN_IPADD) {
            if ((n != 4 && n != 16) ||
                inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip)) == NULL)
                snprintf(ip, sizeof(ip), "?");
            d = (const unsigned char *)ip;
            n = (int)strlen(ip);
        }
        append_name(out, out_size, &len, d, (size_t)n);
    }
    GENERAL_NAMES_free(sans);
    if (!dns) {
        char cn[256];
        int n =
            X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
        if (n > 0)
            append_name(out, out_size, &len, (const unsigned char *)cn, (size_t)n);
    }
    if (total > SHOWN_MAX && len + 1 < out_size)
        snprintf(out + len, out_size - len, " and %d more", total - SHOWN_MAX);
}

void ftpc_tls_describe_hint(stream_tls *t, bool pin_ok, const char *cacert, bool insecure,
                            char *out, size_t out_size)
{
    SSL *ssl = stream_tls_ssl(t);
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (vr == X509_V_ERR_APPLICATION_VERIFICATION) {
        snprintf(out, out_size, "the server's public key does not match --pin");
        return;
    }
    /* Under --insecure OpenSSL still records what the check would have found; a handshake
     * that failed all the same failed for another reason, which is the one to tell. */
    const ftpc_tls *tls = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (tls != NULL)
        insecure = tls->insecure;
    if (vr != X509_V_OK && !insecure) {
        bool untrusted = vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                         vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                         vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                         vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                         vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
        if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            char names[300];
            peer_cert_names(ssl, names, sizeof(names));
            if (names[0] != '\0') {
                snprintf(out, out_size,
                         "the server's certificate failed verification: %s (it is for %s; "
                         "connect by one of its names, or skip the check with --insecure)",
                         X509_verify_cert_error_string(vr), names);
                return;
            }
        }
        if (tls != NULL)
            cacert = tls->cacert;
        if (untrusted && cacert != NULL) {
            /* "trust it with --cacert FILE" would read as if the option had not been given. */
            snprintf(out, out_size,
                     "the server's certificate failed verification: %s (--cacert %s holds "
                     "neither it nor its issuer; %sskip the check with --insecure)",
                     X509_verify_cert_error_string(vr), cacert,
                     pin_ok ? "accept only its key with --insecure --pin, or " : "");
            return;
        }
        snprintf(out, out_size, "the server's certificate failed verification: %s%s",
                 X509_verify_cert_error_string(vr),
                 !untrusted ? ""
                 : pin_ok   ? " (trust it with --cacert FILE, accept only its key with "
                              "--insecure --pin, or skip the check with --insecure)"
                            : " (trust it with --cacert FILE, or skip the check with --insecure)");
        return;
    }
    snprintf(out, out_size, "%s", t->err[0] ? t->err : "TLS handshake failed");
}

void ftpc_tls_summary(stream_tls *t, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s %s%s", stream_tls_version(t), stream_tls_cipher(t),
             stream_tls_resumed(t) ? ", session resumed" : "");
}
