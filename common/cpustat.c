#include "cpustat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool cpustat_parse(const char *text, cpustat *out)
{
    unsigned long long v[8] = {0};
    if (strncmp(text, "cpu ", 4) != 0)
        return false;
    int n = sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    if (n < 4)
        return false;
    unsigned long long idle = v[3] + v[4]; /* idle, iowait */
    out->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    out->total = out->busy + idle;
    return true;
}

bool cpustat_read(int fd, cpustat *out)
{
    /* The first line is under 200 bytes; the rest of the file (one line per CPU) is not
     * needed. */
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return cpustat_parse(buf, out);
}

double cpustat_busy_seconds(const cpustat *before, const cpustat *after)
{
    if (after->busy < before->busy)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(after->busy - before->busy) / (double)(hz > 0 ? hz : 100);
}
