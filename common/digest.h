/* Message digests of byte ranges (OpenSSL EVP): SHA-256, SHA-1 and MD5, named as the IANA
 * "Hash Function Textual Names" registry names them, which is what the FTP HASH command
 * (draft-bryan-ftpext-hash) puts on the wire. Used by ftpd's HASH and by clients verifying a
 * transfer. A digest object is used by one thread at a time.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
    DIGEST_SHA256 = 0, /* the default: 0 in a zeroed struct */
    DIGEST_SHA1 = 1,
    DIGEST_MD5 = 2,
} digest_algo;

#define DIGEST_COUNT 3
#define DIGEST_HEX_MAX 129 /* room for any EVP digest in hex plus the NUL */

/* "SHA-256", "SHA-1", "MD5"; NULL for an unknown value. */
const char *digest_name(digest_algo a);
/* The algorithm called name (case-insensitive), or -1. */
int digest_from_name(const char *name);

typedef struct digest {
    void *ctx; /* EVP_MD_CTX; NULL when not initialised */
    digest_algo algo;
} digest;

/* Starts a digest. Returns 0, or -1 with errno (EINVAL: unknown or unavailable algorithm,
 * e.g. MD5 under a FIPS provider; ENOMEM). */
int digest_init(digest *d, digest_algo a);
/* Returns 0, or -1 (EIO) if the library failed. */
int digest_update(digest *d, const void *p, size_t n);
/* Writes the digest as lowercase hex into hex (DIGEST_HEX_MAX bytes) and frees the context.
 * Returns 0, or -1 (EIO). */
int digest_final_hex(digest *d, char *hex);
/* Frees the context; safe on a zeroed or finished digest. */
void digest_free(digest *d);

/* Adds bytes [*pos, last] of fd to d with pread(2), at most `budget` bytes this call, using
 * buf (bufsize bytes) as scratch; *pos advances. Returns 1 when *pos has passed last, 0 when
 * the budget ran out first (call again), -1 with errno on a read error, or ENODATA when the
 * file ended before `last` (it shrank meanwhile). Blocking: for worker threads. */
int digest_fd_range(digest *d, int fd, off_t *pos, off_t last, off_t budget, void *buf,
                    size_t bufsize);

#endif
