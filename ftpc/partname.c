#include "partname.h"

#include <string.h>

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && memcmp(s + n - k, suffix, k) == 0;
}

bool ftpc_part_like(const char *name, size_t len)
{
    return len > 0 && name[0] == '.' &&
           (ends_with(name, len, FTPC_PART_SUFFIX) || ends_with(name, len, FTPC_SEG_SUFFIX) ||
            ends_with(name, len, FTPC_UP_SUFFIX) ||
            ends_with(name, len, FTPC_SEG_SUFFIX FTPC_SEG_STATE_EXT) ||
            ends_with(name, len, FTPC_SEG_SUFFIX FTPC_SEG_STATE_EXT FTPC_SEG_STATE_TMP_EXT));
}
