#include "termsize.h"

#include <stdlib.h>
#include <sys/ioctl.h>

static int env_at_least(const char *name, int min, int fallback)
{
    const char *s = getenv(name);
    int v = s != NULL ? atoi(s) : 0;
    return v > min ? v : fallback;
}

term_size term_size_of(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return (term_size){.cols = ws.ws_col,
                           .rows = ws.ws_row > 0 ? ws.ws_row : TERM_DEFAULT_ROWS};
    return (term_size){.cols = env_at_least("COLUMNS", TERM_MIN_COLS, TERM_DEFAULT_COLS),
                       .rows = env_at_least("LINES", TERM_MIN_ROWS, TERM_DEFAULT_ROWS)};
}
