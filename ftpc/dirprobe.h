/* Telling a directory from a file on a server whose listing does not (NLST, no MLSD): after
 * SIZE or RETR refused a name that a pattern matched, CWD into it says whether it is a
 * directory, and a CWD back to where PWD said the connection was leaves the connection as it
 * was, so that it can run the next task. */
#ifndef FTPC_DIRPROBE_H
#define FTPC_DIRPROBE_H

#include "conn.h"
#include "status.h"
#include "url.h"

typedef enum {
    FTPC_PROBE_NOT_DIR,  /* CWD refused: whatever it is, it is no directory */
    FTPC_PROBE_UNKNOWN,  /* CWD refused, but so is CWD to where the connection is: no answer */
    FTPC_PROBE_DIR,      /* a directory; the connection is back where it was */
    FTPC_PROBE_DIR_LOST, /* a directory, but the connection could not go back: do not reuse it */
    FTPC_PROBE_FAILED,   /* the connection died (err says why) */
} ftpc_probe_result;

typedef void (*ftpc_dirprobe_cb)(void *ud, ftpc_probe_result r, const ftpc_err *err);

/* Embedded in its user, so that nothing is freed inside the connection's callbacks. */
typedef struct ftpc_dirprobe {
    ftpc_conn *c;
    char path[FTPC_URL_PATH_MAX];
    char back[FTPC_URL_PATH_MAX]; /* PWD's answer; "" when it gave none */
    int step;
    ftpc_dirprobe_cb cb;
    void *ud;
} ftpc_dirprobe;

/* Takes c over (it must be ready, or become ready) and calls cb once with the answer; the
 * caller then takes c back with ftpc_conn_set_owner. */
void ftpc_dirprobe_run(ftpc_dirprobe *p, ftpc_conn *c, const char *path, ftpc_dirprobe_cb cb,
                       void *ud);

/* The directory of a 257 reply: the first quoted string, "" standing for one quote. */
bool ftpc_parse_pwd(const char *text, char *out, size_t out_size);

#endif
