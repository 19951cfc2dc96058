/* The shell's history: libedit's history list, kept in $XDG_STATE_HOME/ftpc/history when
 * XDG_STATE_HOME is set, else in ~/.ftpc_history (mode 0600), at most 1000 lines, saved after
 * every command so a crash or a closed terminal loses nothing. Lines that carry a password
 * (user NAME PASSWORD, a URL with user:password@) are not kept. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "localdir.h"
#include "shell_int.h"

#define HIST_SIZE 1000

static int history_path(char *out, size_t size)
{
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg != NULL && xdg[0] == '/') {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/ftpc", xdg);
        /* XDG: a missing state directory (a fresh ~/.local/state) is created, 0700 */
        if (ftpc_mkdir_p_mode(dir, 0700) < 0)
            return -1;
        n = snprintf(out, size, "%s/history", dir);
    } else if (home != NULL && home[0] != '\0') {
        n = snprintf(out, size, "%s/.ftpc_history", home);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

void sh_hist_init(shell *sh)
{
    HistEvent ev;
    sh->hist = history_init();
    if (sh->hist == NULL)
        return;
    history(sh->hist, &ev, H_SETSIZE, HIST_SIZE);
    history(sh->hist, &ev, H_SETUNIQUE, 1);
    if (history_path(sh->hist_file, sizeof(sh->hist_file)) < 0) {
        sh->hist_file[0] = '\0';
        return;
    }
    history(sh->hist, &ev, H_LOAD, sh->hist_file);
}

bool sh_line_has_password(const char *line)
{
    char **w = NULL;
    int n = sh_split(line, &w, NULL);
    bool secret = false;
    if (n >= 3 && strcmp(w[0], "user") == 0)
        secret = true;
    if (n >= 2 && strcmp(w[0], "quote") == 0) {
        /* quote PASS x, or quote "PASS x": the words are joined into the command */
        const char *c = w[1] + strspn(w[1], " \t");
        if ((strncasecmp(c, "PASS", 4) == 0 || strncasecmp(c, "ACCT", 4) == 0) &&
            (n >= 3 || c[4] == ' ' || c[4] == '\t'))
            secret = true;
    }
    for (int i = 0; i < n && !secret; i++) {
        const char *s = strstr(w[i], "://");
        if (s == NULL)
            continue;
        const char *at = strchr(s + 3, '@');
        const char *slash = strchr(s + 3, '/');
        const char *colon = strchr(s + 3, ':');
        if (at != NULL && (slash == NULL || at < slash) && colon != NULL && colon < at)
            secret = true;
    }
    if (n < 0)
        secret = strstr(line, "user") != NULL || strchr(line, '@') != NULL ||
                 strcasestr(line, "PASS") != NULL || strcasestr(line, "ACCT") != NULL;
    sh_words_free(w, n > 0 ? n : 0);
    return secret;
}

void sh_hist_add(shell *sh, const char *line)
{
    if (sh->hist == NULL)
        return;
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || sh_line_has_password(p))
        return;
    HistEvent ev;
    history(sh->hist, &ev, H_ENTER, line);
    if (sh->hist_file[0] == '\0')
        return;
    /* Created private before libedit writes it (it keeps an existing file's mode). */
    int fd = open(sh->hist_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    history(sh->hist, &ev, H_SAVE, sh->hist_file);
}

void sh_hist_free(shell *sh)
{
    if (sh->hist != NULL)
        history_end(sh->hist);
    sh->hist = NULL;
}
