/* Shared run context: deferred frees and messages. */
#include "ctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bars.h"
#include "progress.h"

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
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}

void ftpc_out(ftpc_ctx *ctx, const char *fmt, ...)
{
    /* Bars on the same terminal would be left above the line, or drawn over it. */
    if (ctx->bars != NULL && isatty(ctx->out_fd) == 1)
        ftpc_bars_step_aside(ctx->bars);
    va_list ap;
    va_start(ap, fmt);
    if (ctx->out_fd == STDOUT_FILENO) {
        /* through stdio, in order with whatever else the command printed there */
        vprintf(fmt, ap);
        putchar('\n');
        fflush(stdout);
    } else {
        char line[2048];
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        if (n >= 0) {
            size_t len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
            line[len++] = '\n';
            for (size_t off = 0; off < len;) {
                ssize_t w = write(ctx->out_fd, line + off, len - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
    }
    va_end(ap);
}
