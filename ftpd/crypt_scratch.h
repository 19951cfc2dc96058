/* Keeps the scratch memory of memory-hard password hashes mapped across checks.
 *
 * libxcrypt's yescrypt (Debian's default hash) maps a fresh 16 MiB region for every check and
 * unmaps it afterwards, so each login paid about 4,100 page faults and the kernel's zeroing of
 * 16 MiB: 6 of its 16 ms here, and more when two workers fault at once. Between
 * crypt_scratch_begin() and crypt_scratch_end() this module answers that thread's anonymous
 * mappings with one region it keeps, so back-to-back checks on a worker reuse warm pages.
 * Mappings outside that window, or a second one inside it, go straight to the kernel.
 *
 * It works by defining mmap() and munmap() in the executable, which the dynamic linker binds
 * libxcrypt's calls to. Under a sanitizer (which intercepts them itself) it stays out of the
 * way and crypt_scratch_enabled() says so.
 */
#ifndef CRYPT_SCRATCH_H
#define CRYPT_SCRATCH_H

#include <stdbool.h>

/* Marks the calling thread as inside a password check. */
void crypt_scratch_begin(void);
void crypt_scratch_end(void);
/* Returns the calling thread's kept region to the kernel (a worker calls this before it
 * sleeps with nothing queued, so an idle server holds no scratch memory). */
void crypt_scratch_release(void);
bool crypt_scratch_enabled(void);
/* Checks served from a kept region since the start, over all threads. */
unsigned long crypt_scratch_reuses(void);

#endif
