/* vsftpd lists a path that names nothing as an empty directory (226 Directory send OK), so
 * ls of a missing directory looked like ls of an empty one. An empty listing of a path given
 * without a trailing / is asked again as path/, which vsftpd answers with "failed to open
 * directory" (a failure, xfer.c) when there is no such directory; only empty listings pay
 * for the second question. So does a listing that was the path's own entry as a directory,
 * vsftpd's answer for one it cannot open (xfer_selfline.c). A path that is no directory
 * either may name a file vsftpd did not list, and one whose listing was refused a file
 * pure-ftpd's NLST would not list: its directory's listing tells (lsentry.c). The shell's
 * ls asks the same questions on its own connection, from its directory, as the one-shot ls
 * asks on a connection of its runner. */
#include "lsagain.h"

#include <stdlib.h>
#include <string.h>

/* The entry was not printed: the refusal stands, unless an interrupt ended its printing. */
static int no_entry(const ftpc_task *t, const ftpc_task *refused, volatile sig_atomic_t *stop,
                    ftpc_err *why)
{
    if (stop != NULL && *stop) {
        ftpc_err_set(why, FTPC_EXIT_XFER, "%s: interrupted", t->display);
        return FTPC_EXIT_XFER;
    }
    ftpc_task_get_err(refused, why);
    return refused->err.status;
}

int ftpc_ls_again(const ftpc_task *t, ftpc_ls_run_fn run, void *ud, volatile sig_atomic_t *stop,
                  ftpc_err *why)
{
    why->status = FTPC_OK;
    why->msg[0] = '\0';
    size_t n = strlen(t->remote);
    bool named = n > 0 && t->remote[n - 1] != '/';
    if (t->kind != FTPC_T_LS || t->capture)
        return t->err.status;
    if (t->err.status == FTPC_EXIT_REMOTE) {
        if (named && t->out_written == 0 && ftpc_ls_entry(t, run, ud, stop))
            return FTPC_OK;
        return no_entry(t, t, stop, why);
    }
    if (t->err.status != FTPC_OK || (t->bytes != 0 && !t->listed_itself) || !named ||
        n + 1 >= FTPC_URL_PATH_MAX)
        return t->err.status;
    ftpc_task *again = calloc(1, sizeof(*again));
    if (again == NULL) {
        ftpc_err_set(why, FTPC_EXIT_LOCAL, "out of memory");
        return FTPC_EXIT_LOCAL;
    }
    ftpc_task_init(again, FTPC_T_LS);
    again->ep = t->ep;
    again->long_list = t->long_list;
    char path[FTPC_URL_PATH_MAX];
    snprintf(path, sizeof(path), "%s/", t->remote);
    char shown[FTPC_TASK_DISPLAY_MAX];
    int d = snprintf(shown, sizeof(shown), "%s/", t->display);
    if (d < 0 || (size_t)d >= sizeof(shown))
        snprintf(shown, sizeof(shown), "%s", t->display); /* no room for the '/' */
    if (ftpc_task_set(&again->remote, path) == NULL ||
        ftpc_task_set(&again->display, shown) == NULL) {
        ftpc_task_release(again);
        free(again);
        ftpc_err_set(why, FTPC_EXIT_LOCAL, "out of memory");
        return FTPC_EXIT_LOCAL;
    }
    /* A refusal of path/ after an empty listing may be a file vsftpd did not list
     * (lsentry.c): said only when the path's directory does not hold it either. */
    bool empty = !t->listed_itself;
    again->quiet_refusal = empty;
    int status = run(ud, again);
    if (status == FTPC_OK)
        status = again->err.status;
    if (status == FTPC_EXIT_REMOTE && empty) {
        if (ftpc_ls_entry(t, run, ud, stop))
            status = FTPC_OK;
        else
            status = no_entry(t, again, stop, why);
    }
    ftpc_task_release(again);
    free(again);
    return status;
}
