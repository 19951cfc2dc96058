/* Deterministic stress content: generation and streaming verification (see the header). */
#include "stress_content.h"

#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL

uint64_t stress_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

uint64_t stress_key_fixture(uint64_t seed, uint32_t index)
{
    return stress_mix64(stress_mix64(seed ^ 0x6669787475726573ULL) + index);
}

uint64_t stress_key_upload(uint64_t seed, uint32_t client, uint64_t iteration)
{
    uint64_t k = stress_mix64(seed ^ 0x75706C6F61647321ULL);
    k = stress_mix64(k + client);
    return stress_mix64(k + iteration * GOLDEN);
}

uint64_t stress_size_for(uint64_t key, uint64_t min, uint64_t max)
{
    if (max <= min)
        return min;
    uint64_t span = max - min;
    uint64_t r = stress_mix64(key ^ 0x73697A6573697A65ULL);
    return span == UINT64_MAX ? r : min + r % (span + 1);
}

static inline uint64_t word_at(uint64_t key, uint64_t k)
{
    return stress_mix64(key + k * GOLDEN);
}

uint8_t stress_byte(uint64_t key, uint64_t off)
{
    return (uint8_t)(word_at(key, off >> 3) >> ((off & 7) * 8));
}

/* A word in little-endian byte order whatever the host's, so files are the same everywhere. */
static inline void store_le(unsigned char *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &w, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(w >> (8 * i));
#endif
}

void stress_fill(uint64_t key, uint64_t off, void *dst, size_t len)
{
    unsigned char *p = dst;
    /* Up to the next word boundary byte by byte, then whole words, then the tail. */
    while (len > 0 && (off & 7) != 0) {
        *p++ = stress_byte(key, off++);
        len--;
    }
    uint64_t k = off >> 3;
    while (len >= 8) {
        store_le(p, word_at(key, k++));
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t w = word_at(key, k);
        for (size_t i = 0; i < len; i++)
            p[i] = (unsigned char)(w >> (8 * i));
    }
}

size_t stress_check(uint64_t key, uint64_t off, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i = 0;
    while (i < len && ((off + i) & 7) != 0) {
        if (p[i] != stress_byte(key, off + i))
            return i;
        i++;
    }
    uint64_t k = (off + i) >> 3;
    while (len - i >= 8) {
        unsigned char w[8];
        store_le(w, word_at(key, k));
        if (memcmp(w, p + i, 8) != 0) {
            for (size_t j = 0; j < 8; j++)
                if (w[j] != p[i + j])
                    return i + j;
        }
        k++;
        i += 8;
    }
    for (; i < len; i++)
        if (p[i] != stress_byte(key, off + i))
            return i;
    return len;
}
