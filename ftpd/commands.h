/* Command dispatch: a table of { name, handler, flags, permission }. Login, argument and
 * permission checks happen here once, not in each handler. */
#ifndef COMMANDS_H
#define COMMANDS_H

#include <stdbool.h>

#include "ftp_parse.h"
#include "session.h"

void commands_dispatch(session *s, const ftp_cmd *cmd);
/* "HELP" text: the implemented commands, eight a line. */
void commands_help_text(char *out, size_t out_size);
/* "HELP verb": the syntax line of the command verb names (any case), with *name set to its
 * canonical spelling; NULL when no such command is implemented. */
const char *commands_syntax(const char *verb, const char **name);
/* True for a command known to the protocol but deliberately not offered (ACCT, SITE, ...). */
bool commands_not_implemented(const char *verb);
/* When s's address is banned for failed logins (--login-ban): replies code (530 to USER or
 * PASS, 421 when the ban begins), closes the session after the reply and returns true; else
 * false. */
bool login_banned(session *s, int code);

#endif
