/* The FTP command line parser: incremental and bounded.
 *
 * It reads lines out of the control connection's input buffer. It accepts CRLF and bare LF,
 * strips Telnet IAC sequences (IAC IAC stands for a 0xFF byte), and refuses a line longer than
 * the input buffer's bound without ever growing memory: the rest of such a line is discarded up
 * to its LF.
 */
#ifndef FTP_PARSE_H
#define FTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define FTP_LINE_MAX 4096 /* bytes in one command line, CRLF included */
#define FTP_VERB_MAX 15

typedef enum { FTP_PARSE_NEED_MORE = 0, FTP_PARSE_CMD, FTP_PARSE_TOO_LONG } ftp_parse_result;

typedef struct ftp_parser {
    bool discarding; /* inside an over-long line, dropping bytes up to its LF */
} ftp_parser;

typedef struct ftp_cmd {
    char verb[FTP_VERB_MAX + 1]; /* upper-cased; "" for an empty or blank line */
    bool verb_too_long;          /* the first word was longer than FTP_VERB_MAX */
    const char *arg;             /* text after the first space ("" if none); points into line */
    bool has_arg;                /* a space followed the verb (arg may still be "") */
    bool has_nul;                /* the line held a NUL byte not after a CR (verb/arg stop at it) */
} ftp_cmd;

/* Takes the next command out of `in`. On FTP_PARSE_CMD the line (CR/LF and IAC removed, CR NUL
 * made a CR, NUL-terminated) is copied into `line` (line_cap >= FTP_LINE_MAX + 1) and cmd points
 * into it. FTP_PARSE_TOO_LONG is returned once per over-long line, as soon as it is detected (the
 * buffer is full without an LF); the remainder is discarded silently. */
ftp_parse_result ftp_parse_next(ftp_parser *p, buf *in, ftp_cmd *cmd, char *line, size_t line_cap);

/* Splits an already complete line (no CR/LF) into cmd; line is modified in place. Leading
 * spaces are skipped, so " NOOP" is NOOP and a line of spaces has the empty verb "". */
void ftp_parse_line(char *line, ftp_cmd *cmd);

#endif
