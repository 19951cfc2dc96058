/* ftpc: an event-driven FTP client. */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "shell.h"
#include "stdfd.h"
#include "status.h"
#include "stress_opts.h"

#ifndef FTP_VERSION
#define FTP_VERSION "0"
#endif

/* The stop flag, the one global a signal handler sets. */
static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int main(int argc, char **argv)
{
    /* Only the character type: it decides whether bars may use Unicode blocks. */
    setlocale(LC_CTYPE, "");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Past a file size limit (ulimit -f) a write fails with EFBIG, which the download
     * reports, and the run's other files go on; SIGXFSZ would end ftpc without a word. */
    sigaction(SIGXFSZ, &sa, NULL);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    ftpc_cli cli;
    char err[512];
    if (ftpc_cli_parse(argc, argv, &cli, err, sizeof(err)) < 0) {
        fprintf(stderr, "ftpc: %s\nTry 'ftpc --help' for more information.\n", err);
        ftpc_cli_free(&cli);
        return FTPC_EXIT_USAGE;
    }
    /* After the parse, which tells a closed standard input for put - as such, and before the
     * first socket, which would take a closed descriptor's number. */
    if (stdfd_reserve() < 0) {
        ftpc_cli_free(&cli);
        return FTPC_EXIT_LOCAL;
    }
    if (cli.show_help) {
        if (cli.command != NULL && strcmp(cli.command, "stress") == 0)
            stress_opts_usage(stdout); /* ftpc -h stress: as ftpc stress --help */
        else if (cli.command == NULL || !ftpc_cli_command_help(stdout, cli.command))
            ftpc_cli_usage(stdout);
        ftpc_cli_free(&cli);
        return FTPC_OK;
    }
    if (cli.show_version) {
        printf("ftpc %s\n", FTP_VERSION);
        ftpc_cli_free(&cli);
        return FTPC_OK;
    }
    if (cli.shell) {
        int src = ftpc_shell_run(&cli, &stop_flag);
        ftpc_cli_free(&cli);
        return src;
    }
    int rc = ftpc_cli_run(&cli, &stop_flag);
    ftpc_cli_free(&cli);
    return rc;
}
