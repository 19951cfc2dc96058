/* Default settings. */
#include "opts.h"

#include <string.h>

void ftpc_opts_defaults(ftpc_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->jobs = 1;
    o->retries = 0;
    o->retry_delay_ms = 1000;
    o->timeout_ms = 30000;
    o->progress = FTPC_PROGRESS_AUTO;
    o->verify = true;
    o->netrc_shown = "~/.netrc";
}
