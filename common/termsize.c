#include "termsize.h"

#include <stdlib.h>
#include <string.h>
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

bool term_redraw_signal(int sig, void (*fn)(int), struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    return sigaction(sig, &sa, old) == 0;
}
