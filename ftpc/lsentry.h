/* ls of a path that names a file the server leaves out of its own listing (vsftpd) or
 * refuses to list (pure-ftpd): the path's entry, taken from its directory's listing
 * (lsentry.c). */
#ifndef FTPC_LSENTRY_H
#define FTPC_LSENTRY_H

#include <signal.h>
#include <stdbool.h>

#include "task.h"

/* Runs t alone to its end where the ls ran (the one-shot's runner; the shell's connection,
 * whose directory a relative path is taken from), its failure said as that ls's would be,
 * but not a refusal when t->quiet_refusal. Returns FTPC_OK when t ran to its end (t->err
 * says how), else the exit status of what stopped it (said). */
typedef int (*ftpc_ls_run_fn)(void *ud, ftpc_task *t);

/* For an ls (t, run to its end) of a path that may name a file its listing left out: lists
 * the path's directory with run and, when it holds an entry of that name that is not a
 * directory, prints it as the listing would have (LIST: its line; NLST: the path) and
 * returns true. False when there is none, or it could not be learnt (only a failure of that
 * listing other than a refusal is said), or printed (*stop set while standard output's
 * reader was behind, or another failed write). */
bool ftpc_ls_entry(const ftpc_task *t, ftpc_ls_run_fn run, void *ud, volatile sig_atomic_t *stop);

#endif
