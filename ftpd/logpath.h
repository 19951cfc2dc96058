/* A client's path as a log line shows it: whole up to LOG_PATH_MAX bytes, else its start and
 * end around "...". A path may be 4096 bytes, as much as a log line: cut at the line's end,
 * it took what follows it (a transfer's outcome, why a command was refused, a rename's
 * target) with it. */
#ifndef LOGPATH_H
#define LOGPATH_H

#include <stddef.h>

#define LOG_PATH_MAX 2000
/* Room for log_path's out: LOG_PATH_MAX bytes, "..." and the NUL. */
#define LOG_PATH_BUF (LOG_PATH_MAX + 4)

/* Returns path itself when it is short enough (or out smaller than LOG_PATH_BUF), else out
 * holding its start, "..." and its end, each cut between UTF-8 characters. */
const char *log_path(const char *path, char *out, size_t size);

#endif
