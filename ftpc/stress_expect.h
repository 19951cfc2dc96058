/* Expected bytes of ftpc stress's download fixtures, held in memory while they are small.
 *
 * Every download is checked byte for byte. Recomputing the content hash for each 8-byte word
 * (stress_check) took a third of the driver's CPU when 200 clients fetched one 1 MiB fixture
 * five times each; a download of a held fixture is checked with memcmp instead. Fixtures
 * are few and shared by every client, so holding them costs their size once. Uploads have a
 * key of their own each and are still generated and checked word by word.
 */
#ifndef FTPC_STRESS_EXPECT_H
#define FTPC_STRESS_EXPECT_H

#include <stddef.h>
#include <stdint.h>

/* Fixtures held in all, at most: above it the rest are checked by recomputation. */
#define STRESS_EXPECT_CAP ((size_t)64 << 20)

typedef struct stress_expect {
    unsigned char **bytes; /* per fixture index: NULL until first asked for, or not held */
    uint32_t count;
    size_t held; /* bytes held in all */
    size_t cap;
} stress_expect;

/* Room for `count` fixtures, holding at most `cap` bytes. Returns 0, or -1 (no memory). */
int stress_expect_init(stress_expect *e, uint32_t count, size_t cap);
void stress_expect_free(stress_expect *e);

/* The whole content of fixture `index` (its key and size), generated on the first call.
 * NULL when it would pass the cap, or memory ran out: the caller then recomputes. */
const unsigned char *stress_expect_fixture(stress_expect *e, uint32_t index, uint64_t key,
                                           uint64_t size);

/* Index of the first byte where a and b differ, or len when they are equal. */
size_t stress_first_diff(const void *a, const void *b, size_t len);

#endif
