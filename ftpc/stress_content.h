/* Content of ftpc stress: every byte of every file is a pure function of a key and its
 * offset, so a download is checked while it streams (no copy of the file is kept) and an
 * upload is generated on the fly, any chunk at any offset, as often as a retried write needs.
 *
 * A key names one file: a download fixture is keyed by (seed, file index), an upload by
 * (seed, client, iteration). The bytes are a counter-mode hash: 8-byte word k of a file is
 * mix64(key + k * golden ratio) in little-endian order, so generation is as fast as memory
 * and any byte can be recomputed alone for a report.
 */
#ifndef FTPC_STRESS_CONTENT_H
#define FTPC_STRESS_CONTENT_H

#include <stddef.h>
#include <stdint.h>

/* The splitmix64 finaliser: a bijective 64-bit mix with full avalanche. */
uint64_t stress_mix64(uint64_t x);

/* The key of download fixture `index` and of the upload of (client, iteration). Different
 * domains never collide in practice (each is mixed with its own tag). */
uint64_t stress_key_fixture(uint64_t seed, uint32_t index);
uint64_t stress_key_upload(uint64_t seed, uint32_t client, uint64_t iteration);

/* A size drawn uniformly from [min, max] for key (min when max <= min). */
uint64_t stress_size_for(uint64_t key, uint64_t min, uint64_t max);

/* The byte at offset off of the file keyed by key. */
uint8_t stress_byte(uint64_t key, uint64_t off);

/* Writes bytes [off, off + len) of the file keyed by key into dst. */
void stress_fill(uint64_t key, uint64_t off, void *dst, size_t len);

/* Compares data[0..len) with bytes [off, off + len) of the file keyed by key. Returns len
 * when all match, else the index (into data) of the first byte that differs. */
size_t stress_check(uint64_t key, uint64_t off, const void *data, size_t len);

/* A small per-client random sequence (splitmix64): op choice, fault points. */
static inline uint64_t stress_rand(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    return stress_mix64(*state);
}

/* Uniform in [0, n) (n > 0); the modulo bias is below 2^-40 for the n used here. */
static inline uint64_t stress_rand_below(uint64_t *state, uint64_t n)
{
    return n ? stress_rand(state) % n : 0;
}

#endif
