/* The job runner: runs a list of tasks with at most N at once, each on its own control
 * connection. A finished task's idle connection is reused by the next task for the same
 * endpoint. A task that fails transiently (connect failure, interrupted transfer) is tried
 * again after a back-off that doubles each time (--retry, --retry-delay), and a transfer
 * tried again resumes where it stopped. A task whose connection the server turned away while
 * others of the runner's were in (a limit on connections) waits for one of those instead, and
 * the endpoint keeps that number as its limit. */
#ifndef FTPC_JOBS_H
#define FTPC_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "task.h"

typedef struct ftpc_runner ftpc_runner;

/* A runner for n tasks (which must outlive it), jobs at once (>= 1); tasks already marked
 * finished are skipped (their result counts). NULL when out of memory. */
ftpc_runner *ftpc_runner_new(ftpc_ctx *ctx, ftpc_task *tasks, size_t n, int jobs);
/* Starts the first tasks; the rest follow from the loop. */
void ftpc_runner_start(ftpc_runner *r);
/* Every task has its final result. */
bool ftpc_runner_finished(const ftpc_runner *r);
/* Abandons what is running (partial downloads stay for a resume); unfinished tasks get
 * FTPC_EXIT_XFER with reason. */
void ftpc_runner_stop(ftpc_runner *r, const char *reason);
/* Sends QUIT on idle connections (they close themselves) and frees the runner. */
void ftpc_runner_free(ftpc_runner *r);
/* The exit code: that of the first failed task in command-line order, else 0. */
int ftpc_runner_status(const ftpc_runner *r);

#endif
