/* The command line: one-shot commands (get, put, ls, cat, rm, mkdir, rmdir, mv) with their
 * options, turned into a list of tasks, and the run of those tasks on one loop. */
#ifndef FTPC_CLI_H
#define FTPC_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ctx.h"
#include "endpoint.h"
#include "opts.h"
#include "task.h"

/* get/cat of a URL whose last component is a pattern, expanded when the run starts. */
typedef struct ftpc_glob_req {
    size_t at; /* the expanded tasks go before tasks[at] */
    ftpc_task_kind kind;
    ftpc_url url; /* with credentials filled in */
    ftpc_endpoint *ep;
    char dir[FTPC_URL_PATH_MAX]; /* the path up to and including the last '/' ("" for none) */
    char pattern[FTPC_URL_PATH_MAX];
} ftpc_glob_req;

typedef struct ftpc_cli {
    ftpc_opts opts;
    const char *command;
    ftpc_task *tasks;
    size_t ntasks;
    int nfiles; /* tasks that are file transfers (for the total line) */
    ftpc_endpoint *endpoints;
    int show_help, show_version;
    const char *output;     /* -o */
    const char *output_dir; /* -O */
    int long_list, parents;
    bool create_dirs;       /* put --create-dirs: mkdir -p the target's directory first */
    const char *netrc_file; /* --netrc-file; NULL: $NETRC, else ~/.netrc */
    int no_netrc;
    bool netrc_warned; /* a warning about the netrc file was given (once a run) */
    int no_glob;
    bool to_stdout; /* get/cat output goes to standard output */
    ftpc_glob_req *globs;
    size_t nglobs;
    bool listing_cut; /* a glob's listing was cut short by the server (exit status 5) */
    /* mirror [-R] */
    bool mirror, mirror_reverse, only_newer, mirror_delete, dry_run;
    bool no_perms;   /* mirror --no-perms: leave modes as the target makes them */
    char **excludes; /* --exclude patterns (point into argv) */
    size_t nexcludes;
    char **includes; /* --include patterns (point into argv) */
    size_t nincludes;
    const char *mirror_dir; /* the local directory */
    ftpc_url mirror_url;    /* the remote directory, credentials filled in */
    ftpc_endpoint *mirror_ep;
    /* stress: its own command line (argv[0] = "stress"), parsed by ftpc_stress_main */
    int stress_argc;
    char **stress_argv;
    /* No command, or a URL alone: the interactive shell (shell.h), opening shell_url. */
    bool shell;
    const char *shell_url;
    char **shell_opts; /* the options given (point into argv), passed on to transfers */
    int shell_nopts;
} ftpc_cli;

/* Parses argv. Returns 0, or -1 with a message in err (a usage error, exit code 2). */
int ftpc_cli_parse(int argc, char **argv, ftpc_cli *cli, char *err, size_t err_size);

/* The long option name (without "--") stands for, as ftpc_cli_parse reads it: the option
 * itself or the only one it begins; *takes_value says whether it takes a value. NULL when
 * it is no option or begins several. */
const char *ftpc_cli_long_option(const char *name, bool *takes_value);
void ftpc_cli_free(ftpc_cli *cli);

/* Sets t->local for a download of the remote file name under the -o/-O settings ("-" for
 * standard output). Returns 0, -1 when the name is unusable ("", ".", "..") or too long,
 * -2 when the local name has the form of ftpc's part files (ftpc_part_like), or -3 when out
 * of memory. */
int ftpc_cli_get_target(const ftpc_cli *cli, ftpc_task *t, const char *name, bool to_stdout);

/* Runs the parsed tasks; returns the exit code. *stop is polled after every loop iteration
 * (a signal handler sets it). */
int ftpc_cli_run(ftpc_cli *cli, volatile sig_atomic_t *stop);
/* The core of ftpc_cli_run on a context the caller set up (loop, bars): glob expansion, then
 * the mirror or the tasks. Returns the exit code; the caller drains and frees. */
int ftpc_cli_exec(ftpc_cli *cli, ftpc_ctx *ctx, volatile sig_atomic_t *stop);
/* Completes the credentials of u as the command line does (netrc, else a password prompt). */
void ftpc_cli_fill_credentials(ftpc_cli *cli, ftpc_url *u);

void ftpc_cli_usage(FILE *f);
/* ftpc COMMAND --help: that command's usage and options. false for a command it does not
 * know (the caller then prints the whole help). */
bool ftpc_cli_command_help(FILE *f, const char *command);

#endif
