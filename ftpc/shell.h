/* The interactive shell: `ftpc ftp://host[/dir]` or `ftpc` alone. One control connection
 * stays open for cd, pwd, ls, quote and the file commands; transfers (get, put, mget, mput,
 * reget, reput, mirror) run the one-shot machinery with the same progress display, in the
 * foreground or (-b) in the background while the prompt stays usable. On a terminal the line
 * is edited with libedit (history, Tab completion of commands and paths); otherwise commands
 * are read line by line, so scripts work. */
#ifndef FTPC_SHELL_H
#define FTPC_SHELL_H

#include <signal.h>

#include "cli.h"

/* Runs the shell with the settings of cli (cli->shell set; cli->shell_url, when not NULL, is
 * opened first). Returns the exit status: that of the first failed command, else 0. */
int ftpc_shell_run(ftpc_cli *cli, volatile sig_atomic_t *stop);

#endif
