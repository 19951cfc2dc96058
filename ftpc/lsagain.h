/* An ls of one path, asked again where its first answer may not be the server's last word
 * (lsagain.c): the one-shot ls of one path (run.c) and the shell's ls and dir. */
#ifndef FTPC_LSAGAIN_H
#define FTPC_LSAGAIN_H

#include "lsentry.h"
#include "status.h"
#include "task.h"

/* t: the ls, run to its end by run with relist_ok and quiet_refusal set. Asks again, with
 * run, as the listing and the reply call for, and returns the exit status of the ls. When
 * that is not FTPC_OK and why->status is, why->msg is the failure for the caller to say: a
 * refusal of t that quiet_refusal held back, or of path/, or the interrupt (*stop) that
 * ended the printing of its entry. Other failures were said. */
int ftpc_ls_again(const ftpc_task *t, ftpc_ls_run_fn run, void *ud, volatile sig_atomic_t *stop,
                  ftpc_err *why);

#endif
