#include "overlap.h"

#include <string.h>
#include <sys/types.h>
#include <unistd.h>

void ftpc_overlap_begin(ftpc_overlap *o, uint64_t kept)
{
    o->len = kept < FTPC_OVERLAP ? (size_t)kept : FTPC_OVERLAP;
    o->got = 0;
}

size_t ftpc_overlap_take(ftpc_overlap *o, const char *p, size_t n)
{
    size_t take = o->len - o->got < n ? o->len - o->got : n;
    memcpy(o->buf + o->got, p, take);
    o->got += take;
    return take;
}

bool ftpc_overlap_agrees(const ftpc_overlap *o, int fd, uint64_t at)
{
    char here[FTPC_OVERLAP];
    if (o->len == 0)
        return true;
    return o->got == o->len && pread(fd, here, o->len, (off_t)(at - o->len)) == (ssize_t)o->len &&
           memcmp(here, o->buf, o->len) == 0;
}
