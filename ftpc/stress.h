/* `ftpc stress`: many simulated FTP clients in one process, every byte verified, with a
 * live view and a report (text, JSON, CSV). The pieces: stress_opts (command line),
 * stress_client (the per-client state machine), stress_content (deterministic content),
 * stress_stats (latency histograms, error counts), stress_view, stress_report. */
#ifndef FTPC_STRESS_H
#define FTPC_STRESS_H

#include <signal.h>

/* Runs `ftpc stress` with argv[0] = "stress". Returns the exit status. *stop is polled a few
 * times a second (a signal handler sets it): the run then ends, reports, and deletes its
 * uploads within a few seconds; a second signal exits at once (its handler is replaced). */
int ftpc_stress_main(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
