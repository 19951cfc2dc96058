#include "logpath.h"

#include <stdio.h>
#include <string.h>

const char *log_path(const char *path, char *out, size_t size)
{
    size_t n = strlen(path);
    if (n <= LOG_PATH_MAX || size < LOG_PATH_BUF)
        return path;
    size_t head = LOG_PATH_MAX / 2, tail = LOG_PATH_MAX / 2 - 3;
    while (head > 0 && (path[head] & 0xC0) == 0x80) /* no half of a character */
        head--;
    const char *end = path + n - tail;
    while ((*end & 0xC0) == 0x80)
        end++;
    snprintf(out, size, "%.*s...%s", (int)head, path, end);
    return out;
}
