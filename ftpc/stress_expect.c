/* Expected fixture bytes held in memory (see the header). */
#include "stress_expect.h"

#include <stdlib.h>
#include <string.h>

#include "stress_content.h"

int stress_expect_init(stress_expect *e, uint32_t count, size_t cap)
{
    memset(e, 0, sizeof *e);
    e->cap = cap;
    if (count == 0)
        return 0;
    e->bytes = calloc(count, sizeof *e->bytes);
    if (!e->bytes)
        return -1;
    e->count = count;
    return 0;
}

void stress_expect_free(stress_expect *e)
{
    for (uint32_t i = 0; i < e->count; i++)
        free(e->bytes[i]);
    free(e->bytes);
    memset(e, 0, sizeof *e);
}

const unsigned char *stress_expect_fixture(stress_expect *e, uint32_t index, uint64_t key,
                                           uint64_t size)
{
    if (index >= e->count)
        return NULL;
    if (e->bytes[index])
        return e->bytes[index];
    /* An empty fixture is checked by its length alone; one over the cap is never held. */
    if (size == 0 || size > e->cap - e->held)
        return NULL;
    unsigned char *p = malloc((size_t)size);
    if (!p)
        return NULL;
    stress_fill(key, 0, p, (size_t)size);
    e->bytes[index] = p;
    e->held += (size_t)size;
    return p;
}

size_t stress_first_diff(const void *a, const void *b, size_t len)
{
    if (memcmp(a, b, len) == 0)
        return len;
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    while (x[i] == y[i])
        i++;
    return i;
}
