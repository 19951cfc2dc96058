/* The final report of ftpc stress: human text, JSON (--json) and CSV (--csv). */
#ifndef FTPC_STRESS_REPORT_H
#define FTPC_STRESS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "stress_client.h"

typedef struct stress_result {
    const char *target; /* the URL without password */
    int clients, clients_requested;
    double duration_s;
    long iterations; /* per client, 0 when the run was timed */
    uint64_t seed;
    const stress_stats *st;
    const stress_vfail *vfail;
    int nvfail;
    uint64_t unfinished;
    int never_in;      /* clients that never logged in (connects or logins that never completed) */
    int never_started; /* clients the run ended before their first connect */
    double cpu_user_s, cpu_sys_s;
    long peak_rss_kib;
    int exit_status;
    long max_errors;             /* --max-errors, -1 when not given */
    const char *mix;             /* "login=1,get=4,put=2,list=1" */
    const unsigned *mix_weights; /* by stress_op; NULL: every operation is in the mix */
    const char *size;            /* "65536" or "1024-4194304" */
    int tls, compress;
    const char *setup_error; /* why the set-up failed; "" when it did not */
    /* No client ran (the set-up failed or was interrupted): what the set-up took, and the
     * fixture bytes it moved (not the workload: the rates would read 0 B/s over 0 s). */
    bool no_run;
    double setup_s;
    uint64_t setup_bytes;
    const char *interrupted; /* "setup", "run", or NULL */
} stress_result;

void stress_report_text(FILE *f, const stress_result *r);
void stress_report_json(FILE *f, const stress_result *r);
void stress_report_csv(FILE *f, const stress_result *r);

#endif
