/* Shared run context: deferred frees and messages. */
#include "ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bars.h"
#include "progress.h"
#include "stdsink.h"

static void before_sleep_cb(ev_loop *loop, void *ud)
{
    ftpc_ctx_flush(ud);
}

void ftpc_ctx_init(ftpc_ctx *ctx, ev_loop *loop, const ftpc_opts *opts)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->loop = loop;
    ctx->opts = opts;
    ctx->out_fd = STDOUT_FILENO;
    ev_set_before_sleep(loop, before_sleep_cb, ctx);
}

void ftpc_ctx_defer(ftpc_ctx *ctx, ftpc_defer *d, void (*fn)(void *p), void *p)
{
    if (d->queued)
        return;
    d->queued = 1;
    d->fn = fn;
    d->p = p;
    d->next = ctx->deferred;
    ctx->deferred = d;
}

void ftpc_ctx_flush(ftpc_ctx *ctx)
{
    /* A free function may queue more (an operation releasing its connection). */
    while (ctx->deferred != NULL) {
        ftpc_defer *list = ctx->deferred;
        ctx->deferred = NULL;
        while (list != NULL) {
            ftpc_defer *next = list->next;
            list->fn(list->p);
            list = next;
        }
    }
}

void ftpc_msg(ftpc_ctx *ctx, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    /* A message is one line, and names in it come from the server: a control character (an
     * escape sequence in a file name, say) must not reach the terminal. */
    line[len] = '\0';
    progress_sanitize(line, sizeof(line), line);
    len = strlen(line);
    if (ctx != NULL && ctx->bars != NULL) {
        ftpc_bars_message(ctx->bars, line);
        return;
    }
    line[len++] = '\n';
    /* waits for a reader who is behind, as the display does, until an interrupt */
    (void)ftpc_stdsink_write_msg(STDERR_FILENO, line, len, ctx != NULL ? ctx->stop : NULL);
}

void ftpc_out(ftpc_ctx *ctx, const char *fmt, ...)
{
    bool tty = isatty(ctx->out_fd) == 1;
    /* Bars on the same terminal would be left above the line, or drawn over it. */
    if (ctx->bars != NULL && tty)
        ftpc_bars_step_aside(ctx->bars);
    va_list ap;
    va_start(ap, fmt);
    char small[2048], *line = small;
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(small)) { /* a long path: the whole of it, not a cut one */
        line = malloc((size_t)n + 1);
        if (line == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    /* The names in a line are the server's (a dry run's plan): on a terminal a control
     * character, a C1 CSI among them, would drive it, as in ls; into a file or a pipe they
     * stay as they came. */
    if (tty)
        progress_sanitize(line, (size_t)n + 1, line);
    size_t len = strlen(line);
    if (ctx->out_fd == STDOUT_FILENO) {
        /* through stdio, in order with whatever else the command printed there */
        fwrite(line, 1, len, stdout);
        putchar('\n');
        fflush(stdout);
    } else {
        line[len] = '\n'; /* over the NUL: written by length */
        for (size_t off = 0; off < len + 1;) {
            ssize_t w = write(ctx->out_fd, line + off, len + 1 - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    if (line != small)
        free(line);
}
