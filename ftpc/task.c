/* The life of a task: what it owns is allocated to fit and freed with it, as a mirror or a glob
 * plans one task per file, all of them before the first transfer. */
#include "task.h"

#include <stdlib.h>

void ftpc_task_init(ftpc_task *t, ftpc_task_kind kind)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
}

void ftpc_task_release(ftpc_task *t)
{
    free(t->listing);
    t->listing = NULL;
    t->listing_len = 0;
}
