/* The life of a task: what it owns is allocated to fit and freed with it, as a mirror or a glob
 * plans one task per file, all of them before the first transfer. */
#include "task.h"

#include <stdarg.h>
#include <stdlib.h>

/* What a string not set holds: no allocation, so it is never freed. */
static const char unset[] = "";
/* The message of a failure whose own message found no memory: not freed either. */
static const char no_memory[] = "out of memory";

static void free_string(const char **field)
{
    if (*field != unset && *field != no_memory)
        free((char *)*field); /* set by ftpc_task_set: its own copy */
    *field = unset;
}

void ftpc_task_init(ftpc_task *t, ftpc_task_kind kind)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->display = t->remote = t->local = t->arg = t->err.msg = unset;
    t->src_sha256 = t->held_note = unset;
}

void ftpc_task_release(ftpc_task *t)
{
    free_string(&t->display);
    free_string(&t->remote);
    free_string(&t->local);
    free_string(&t->arg);
    free_string(&t->err.msg);
    free_string(&t->src_sha256);
    free_string(&t->held_note);
    free(t->listing);
    t->listing = NULL;
    t->listing_len = 0;
}

char *ftpc_task_set(const char **field, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        return NULL;
    free_string(field);
    *field = copy;
    return copy;
}

/* t->err.msg: a copy of msg, or no_memory. */
static void set_msg(ftpc_task *t, const char *msg)
{
    if (ftpc_task_set(&t->err.msg, msg) == NULL) {
        free_string(&t->err.msg);
        t->err.msg = no_memory;
    }
}

void ftpc_task_fail(ftpc_task *t, int status, const char *fmt, ...)
{
    ftpc_err e;
    va_list ap;
    va_start(ap, fmt);
    ftpc_err_vset(&e, status, fmt, ap);
    va_end(ap);
    ftpc_task_set_err(t, &e);
}

void ftpc_task_set_err(ftpc_task *t, const ftpc_err *e)
{
    t->err.status = e->status;
    set_msg(t, e->msg);
}

void ftpc_task_get_err(const ftpc_task *t, ftpc_err *e)
{
    e->status = t->err.status;
    snprintf(e->msg, sizeof(e->msg), "%s", t->err.msg);
}

void ftpc_task_set_status(ftpc_task *t, int status)
{
    t->err.status = status;
    if (status == 0)
        free_string(&t->err.msg);
}

void ftpc_task_err_append(ftpc_task *t, const char *more)
{
    char msg[FTPC_ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s%s", t->err.msg, more);
    set_msg(t, msg);
}

int ftpc_task_set_display_url(ftpc_task *t, const ftpc_url *u)
{
    char shown[FTPC_TASK_DISPLAY_MAX];
    ftpc_url_display(u, shown, sizeof(shown));
    return ftpc_task_set(&t->display, shown) != NULL ? 0 : -1;
}

void ftpc_task_unset(const char **field)
{
    free_string(field);
}

void ftpc_task_strip_slashes(const char **field)
{
    size_t n = strlen(*field);
    if (n > 1 && (*field)[n - 1] == '/') {
        char *p = (char *)*field; /* not unset: that has no '/' */
        while (n > 1 && p[n - 1] == '/')
            p[--n] = '\0';
    }
}

int ftpc_task_into_dir(ftpc_task *t, const char *name)
{
    /* name may be part of t->remote (a put from standard input is named after its target) */
    char remote[FTPC_URL_PATH_MAX], display[FTPC_TASK_DISPLAY_MAX];
    int n = snprintf(remote, sizeof(remote), "%s/%s", t->remote, name);
    int d = snprintf(display, sizeof(display), "%s/%s", t->display, name);
    if (n < 0 || (size_t)n >= sizeof(remote))
        return -1;
    bool new_display = d >= 0 && (size_t)d < sizeof(display);
    char *r = strdup(remote);
    char *s = new_display ? strdup(display) : NULL;
    if (r == NULL || (new_display && s == NULL)) {
        free(r);
        free(s);
        return -1;
    }
    free_string(&t->remote);
    t->remote = r;
    if (new_display) {
        free_string(&t->display);
        t->display = s;
    }
    return 0;
}
