/* FTP reply codes with names, a reply writer for servers and a reply parser for clients. */
#ifndef FTP_REPLY_H
#define FTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum ftp_code {
    FTP_RESTART_MARKER = 110,
    FTP_READY_SOON = 120,
    FTP_DATA_ALREADY_OPEN = 125,
    FTP_FILE_STATUS_OK = 150,
    FTP_CMD_OK = 200,
    FTP_CMD_SUPERFLUOUS = 202,
    FTP_SYSTEM_STATUS = 211,
    FTP_DIR_STATUS = 212,
    FTP_FILE_STATUS = 213,
    FTP_HELP = 214,
    FTP_SYSTEM_TYPE = 215,
    FTP_READY = 220,
    FTP_GOODBYE = 221,
    FTP_TRANSFER_OK = 226,
    FTP_PASV_OK = 227,
    FTP_EPSV_OK = 229,
    FTP_LOGIN_OK = 230,
    FTP_AUTH_OK = 234,
    FTP_FILE_ACTION_OK = 250,
    FTP_PATH_CREATED = 257,
    FTP_NEED_PASSWORD = 331,
    FTP_NEED_ACCOUNT = 332,
    FTP_PENDING_MORE = 350,
    FTP_SERVICE_UNAVAILABLE = 421,
    FTP_CANT_OPEN_DATA = 425,
    FTP_TRANSFER_ABORTED = 426,
    FTP_FILE_BUSY = 450,
    FTP_LOCAL_ERROR = 451,
    FTP_INSUFFICIENT_STORAGE = 452,
    FTP_SYNTAX_ERROR = 500,
    FTP_ARG_SYNTAX_ERROR = 501,
    FTP_NOT_IMPLEMENTED = 502,
    FTP_BAD_SEQUENCE = 503,
    FTP_PARAM_NOT_IMPLEMENTED = 504,
    FTP_NOT_LOGGED_IN = 530,
    FTP_FILE_UNAVAILABLE = 550,
    FTP_PAGE_TYPE_UNKNOWN = 551,
    FTP_EXCEEDED_STORAGE = 552,
    FTP_BAD_FILENAME = 553,
};

/* Appends "CODE text\r\n". A CR inside the text goes out as CR NUL (RFC 2640 3.1) and an LF
 * as a space, so neither ends the line; a 0xFF byte (Telnet's IAC) goes out doubled, as
 * RFC 854 carries it as data. All or nothing: returns 0, or -1 (ENOBUFS) when the buffer
 * cannot hold it. */
int ftp_reply(buf *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As ftp_reply, for a text already formatted: the len bytes at text. All or nothing: returns
 * 0, or -1 (ENOBUFS) when the buffer cannot hold it. */
int ftp_reply_text(buf *out, int code, const char *text, size_t len);
/* Multi-line reply from text whose lines are separated by '\n': "CODE-first", " middle"...,
 * "CODE last". A single line gives a single-line reply. All or nothing, as ftp_reply. */
int ftp_reply_lines(buf *out, int code, const char *text);
/* The most bytes one line of len text bytes takes in a reply (code, separator, the text as
 * sent, CRLF), for callers that must keep a long reply within a buffer. */
size_t ftp_reply_line_size(const char *text, size_t len);
/* Writes `path` into out as RFC 959 wants inside a 257 reply: each '"' doubled.
 * Returns 0, or -1 if out_size is too small. */
int ftp_quote_path(const char *path, char *out, size_t out_size);

/* Client side: an incremental reply parser. */
typedef struct ftp_reply_parser {
    int code;        /* code of the multi-line reply being read, 0 when between replies */
    size_t text_len; /* bytes gathered in text */
} ftp_reply_parser;

typedef struct ftp_reply_msg {
    int code;
    /* Lines joined by '\n', each without its code prefix; truncated beyond this. It holds a
     * 257 reply's longest path: 4095 bytes with every '"' doubled. */
    char text[9 * 1024];
} ftp_reply_msg;

/* Appends a command line and CRLF with every 0xFF byte doubled (Telnet IAC), as a server that
 * reads Telnet undoubles it. The line holds no LF, and no CR either: the CR NUL it would go as
 * reads, on a server that does not take it as RFC 2640 says, as a name cut short at the NUL,
 * another file's name. The caller refuses both. All or nothing: returns 0, or -1 (ENOBUFS)
 * when the buffer cannot hold it. */
int ftp_command_put(buf *out, const char *line);

/* Takes lines from `in` until a complete reply (single or multi-line) is gathered; a doubled
 * 0xFF in its text counts as one byte, and CR NUL as a CR.
 * Returns 1 with *msg filled, 0 when more input is needed, -1 on a malformed reply (a line
 * that does not start with a code outside a multi-line reply) or a line longer than in's bound. */
int ftp_reply_next(ftp_reply_parser *p, buf *in, ftp_reply_msg *msg);

#endif
