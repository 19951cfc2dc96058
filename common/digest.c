/* Digests over OpenSSL 3 EVP. */
#include "digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <strings.h>
#include <unistd.h>

static const char *const names[DIGEST_COUNT] = {"SHA-256", "SHA-1", "MD5"};

static const EVP_MD *md_of(digest_algo a)
{
    switch (a) {
    case DIGEST_SHA256:
        return EVP_sha256();
    case DIGEST_SHA1:
        return EVP_sha1();
    case DIGEST_MD5:
        return EVP_md5();
    }
    return NULL;
}

const char *digest_name(digest_algo a)
{
    return (unsigned)a < DIGEST_COUNT ? names[a] : NULL;
}

int digest_from_name(const char *name)
{
    for (int i = 0; i < DIGEST_COUNT; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

int digest_init(digest *d, digest_algo a)
{
    d->ctx = NULL;
    d->algo = a;
    const EVP_MD *md = md_of(a);
    if (!md) {
        errno = EINVAL;
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        errno = ENOMEM;
        return -1;
    }
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        errno = EINVAL;
        return -1;
    }
    d->ctx = ctx;
    return 0;
}

int digest_update(digest *d, const void *p, size_t n)
{
    if (!d->ctx || EVP_DigestUpdate(d->ctx, p, n) != 1) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int digest_final_hex(digest *d, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int ok = d->ctx && EVP_DigestFinal_ex(d->ctx, md, &len) == 1;
    digest_free(d);
    if (!ok) {
        errno = EIO;
        return -1;
    }
    static const char xd[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = xd[md[i] >> 4];
        hex[2 * i + 1] = xd[md[i] & 15];
    }
    hex[2 * len] = '\0';
    return 0;
}

void digest_free(digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

int digest_fd_range(digest *d, int fd, off_t *pos, off_t last, off_t budget, void *buf,
                    size_t bufsize)
{
    while (*pos <= last) {
        if (budget <= 0)
            return 0;
        off_t want = last - *pos + 1;
        if (want > budget)
            want = budget;
        if ((size_t)want > bufsize)
            want = (off_t)bufsize;
        ssize_t n = pread(fd, buf, (size_t)want, *pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = ENODATA;
            return -1;
        }
        if (digest_update(d, buf, (size_t)n) < 0)
            return -1;
        *pos += n;
        budget -= n;
    }
    return 1;
}
