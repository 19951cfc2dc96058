/* Warnings said once per condition (warnonce.h). */
#include "warnonce.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void warnonce_begin(warnonce *w)
{
    pthread_mutex_lock(&w->lock);
    w->n_now = 0;
}

static bool said_before(const warnonce *w, const char *text)
{
    for (size_t i = 0; i < w->n_said; i++)
        if (strcmp(w->said[i], text) == 0)
            return true;
    return false;
}

void warnonce_warn(warnonce *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) { /* out of memory: said as it is, every time */
        va_start(ap, fmt);
        char line[1024];
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        log_warn("%s", line);
        return;
    }
    if (!said_before(w, text))
        log_warn("%s", text);
    if (w->n_now < WARNONCE_MAX)
        w->now[w->n_now++] = text;
    else
        free(text);
}

void warnonce_end(warnonce *w)
{
    for (size_t i = 0; i < w->n_said; i++)
        free(w->said[i]);
    memcpy(w->said, w->now, w->n_now * sizeof w->now[0]);
    w->n_said = w->n_now;
    w->n_now = 0;
    pthread_mutex_unlock(&w->lock);
}
