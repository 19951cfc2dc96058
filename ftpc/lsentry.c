/* vsftpd (Debian's 3.0.3, as seen) matches the last part of a LIST/NLST path against the
 * entries of its directory, but an entry that is a link by the name of what it resolves
 * to, resolved from the session's directory rather than the listed one: ls of a link in the
 * login directory (lnf -> file.txt), or of a name that also resolves there, gets an empty
 * listing and "226 Directory send OK", and lnf/ then "failed to open directory". The link
 * is there all the same in its directory's listing (LIST lists every entry, a link as
 * "lnf -> file.txt"), so ls takes its line from there, as ls -l prints a link. A
 * directory's line is not taken: an empty listing of one (or of a link to one) is what is
 * in it, and one vsftpd cannot open fails (xfer_selfline.c). pure-ftpd (1.0.50) lists
 * directories only with NLST: of a file, or of a link, it says "550 Can't check for file
 * existence", as of a name that is not there; and its LIST of a dangling link is empty (it
 * stats what the link points to). Its LIST of the directory lists both, so a refused ls of
 * a path is looked up the same way. Only an ls that failed so pays for the directory's
 * listing, which is taken with LIST even where the server has MLSD: that has no ls -l line
 * to print; and where the server has MLST, only one whose MLST found an entry that is not a
 * directory, and wants its ls -l line (xfer_lsentry.c). */
#include "lsentry.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmode.h"
#include "shield.h"
#include "stdsink.h"

/* Written as a file is, waiting for the reader (nothing else runs meanwhile: the one-shot ls
 * is alone, the shell's transfers run in threads of their own), until an interrupt
 * (stdsink.h). */
static bool write_all(const char *p, size_t n, volatile sig_atomic_t *stop)
{
    return ftpc_stdsink_write_msg(STDOUT_FILENO, p, n, stop);
}

/* The line, and its line end, to standard output; a terminal gets no control characters. */
static bool print_line(const char *p, size_t n, volatile sig_atomic_t *stop)
{
    char *line = malloc(n + 1);
    if (line == NULL)
        return false;
    memcpy(line, p, n);
    line[n] = '\n';
    if (isatty(STDOUT_FILENO)) {
        ftpc_shield s = {0};
        ftpc_shield_text(&s, line, n);
    }
    bool ok = write_all(line, n + 1, stop);
    free(line);
    return ok;
}

bool ftpc_ls_entry(const ftpc_task *t, ftpc_ls_run_fn run, void *ud, volatile sig_atomic_t *stop)
{
    const char *slash = strrchr(t->remote, '/');
    if (slash != NULL && slash[1] == '\0')
        return false;
    switch (t->ls_mlst) {
    case FTPC_LS_MLST_NONE:
    case FTPC_LS_MLST_DIR:
        return false;
    case FTPC_LS_MLST_OTHER:
        if (!t->long_list)
            return print_line(t->remote, strlen(t->remote), stop);
        break;
    default:
        break;
    }
    ftpc_task *dir = calloc(1, sizeof(*dir));
    if (dir == NULL)
        return false;
    ftpc_task_init(dir, FTPC_T_LS);
    dir->ep = t->ep;
    dir->capture = true;
    dir->capture_lines = true;
    dir->long_list = true;
    dir->quiet_refusal = true;
    /* "a/b" -> "a/", "/b" -> "/", "b" -> "" (the login directory). With its '/': LIST of a
     * file a lists a, whose line would pass for the entry of a/a. */
    int dl = slash == NULL ? 0 : (int)(slash - t->remote) + 1;
    char path[FTPC_URL_PATH_MAX];
    snprintf(path, sizeof(path), "%.*s", dl, t->remote);
    const char *ds = strrchr(t->display, '/');
    int dd = ds != NULL ? (int)(ds - t->display) + 1 : (int)strlen(t->display);
    char shown[FTPC_TASK_DISPLAY_MAX];
    snprintf(shown, sizeof(shown), "%.*s", dd, t->display);
    bool found = false;
    if (ftpc_task_set(&dir->remote, path) != NULL && ftpc_task_set(&dir->display, shown) != NULL &&
        run(ud, dir) == FTPC_OK && dir->err.status == FTPC_OK && !dir->listing_mlsd &&
        dir->listing != NULL) {
        size_t n = 0;
        const char *l = ftpc_rlist_entry_line(dir->listing, t->remote, &n);
        if (l != NULL)
            found = t->long_list ? print_line(l, n, stop)
                                 : print_line(t->remote, strlen(t->remote), stop);
    }
    ftpc_task_release(dir);
    free(dir);
    return found;
}
