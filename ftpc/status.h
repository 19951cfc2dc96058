/* Exit codes and the error record every ftpc operation reports through. */
#ifndef FTPC_STATUS_H
#define FTPC_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in ftpc(1) and --help. The numbers are part of the interface. */
enum {
    FTPC_OK = 0,
    FTPC_EXIT_USAGE = 2,   /* bad command line */
    FTPC_EXIT_CONNECT = 3, /* cannot resolve, connect, or the server refused service */
    FTPC_EXIT_LOGIN = 4,   /* login refused */
    FTPC_EXIT_REMOTE = 5,  /* remote file missing, permission denied, remote operation refused */
    FTPC_EXIT_LOCAL = 6,   /* local file could not be read, created or written */
    FTPC_EXIT_XFER = 7,    /* transfer interrupted: connection lost, timeout, signal */
    FTPC_EXIT_VERIFY =
        8, /* size or HASH of the result differs from the source, stress byte check */
    /* TLS was asked for and could not be had: the server refused AUTH TLS, PBSZ or PROT, its
     * certificate failed verification (or --pin), or the TLS handshake failed. Never retried. */
    FTPC_EXIT_TLS = 9,
};

#define FTPC_ERR_MSG_MAX 1536 /* a longer message is cut in its middle */

/* What went wrong: an exit code and a message that says what ftpc was doing and quotes the
 * server's reply where there was one. */
typedef struct ftpc_err {
    int status;
    char msg[FTPC_ERR_MSG_MAX];
} ftpc_err;

/* s into out[size]; a string too long keeps its start and its end (where a message's reason
 * is) around "...", cut between UTF-8 characters. */
void ftpc_fit_middle(char *out, size_t size, const char *s);
/* A message too long for e->msg is cut in its middle (ftpc_fit_middle). */
void ftpc_err_set(ftpc_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ftpc_err_set with the arguments as a va_list. */
void ftpc_err_vset(ftpc_err *e, int status, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The exit code for a failed reply to a file or directory command: 5 for permanent errors
 * and busy/storage refusals, 4 for 530, 7 for transient 4xx (421, 425, 426, 451). */
int ftpc_status_for_reply(int code);

/* Whether a failure with this status may succeed when tried again (connect failures,
 * interrupted transfers). */
int ftpc_status_transient(int status);

/* Whether a 451 reply's text to a RETR of remote after REST says the restart is what it
 * refuses (ProFTPD: "451 NAME: Restart not permitted, try again"). The word is looked for
 * after the file's name where the text echoes it as "NAME:": "451 restart.bin: Too many open
 * files" is a passing error, whose bytes kept must not be thrown away. */
bool ftpc_reply_refuses_restart(const char *text, const char *remote);

/* Copies reply text into out for quoting: lines joined by " / ", control characters
 * replaced, truncated with "...". Returns out. */
char *ftpc_quote_reply(int code, const char *text, char *out, size_t out_size);

/* The size in a 213 reply to SIZE: a decimal number and nothing else ("213 12abc" or
 * "213 0x4b0" is not one). Returns it, or -1 when the reply is not a size ftpc can trust. */
int64_t ftpc_parse_size_reply(const char *text);

/* The size a 150 reply to RETR announces, as ftpd, vsftpd and ProFTPD do: "150 Opening BINARY mode
 * data connection for f.bin (3000000 bytes)." (the last such "(N bytes)" in text). Returns it,
 * or -1 when there is none. */
int64_t ftpc_parse_announced_size(const char *text);

#endif
