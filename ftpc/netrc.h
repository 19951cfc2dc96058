/* ~/.netrc: "machine NAME login USER password PW" entries, a "default" entry, "account"
 * (ignored) and "macdef" blocks (skipped, up to the next empty line). Tokens are separated by
 * white space; a token may be "double quoted" with backslash escapes. */
#ifndef FTPC_NETRC_H
#define FTPC_NETRC_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ftpc_netrc_entry {
    char login[256];
    char password[256];
    bool has_login, has_password;
    int bad_line; /* with -2: the line of a quoted token without its closing quote */
} ftpc_netrc_entry;

/* Finds the entry for host (case-insensitive) in the netrc text; when want_login is not NULL,
 * only an entry for that login matches. The first matching "machine" wins, else "default".
 * Returns 1 with *out filled, 0 when nothing matches, -2 (out->bad_line set) when a quoted
 * token has no closing quote on its line: then nothing in the text is used. */
int ftpc_netrc_find(const char *text, const char *host, const char *want_login,
                    ftpc_netrc_entry *out);

/* ftpc_netrc_find on the file at path (at most 1 MiB is read). Returns 1, 0, -2, or -1 when
 * the file cannot be read. */
int ftpc_netrc_lookup(const char *path, const char *host, const char *want_login,
                      ftpc_netrc_entry *out);

/* Asks for a password on the controlling terminal without echo. Returns 0 with the line in
 * out, or -1 when there is no terminal (or the read was interrupted). */
int ftpc_prompt_password(const char *prompt, char *out, size_t out_size);

#endif
