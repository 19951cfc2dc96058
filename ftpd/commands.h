/* Command dispatch: a table of { name, handler, flags, permission }. Login, argument and
 * permission checks happen here once, not in each handler. */
#ifndef COMMANDS_H
#define COMMANDS_H

#include "ftp_parse.h"
#include "session.h"

void commands_dispatch(session *s, const ftp_cmd *cmd);
/* "HELP" text: the implemented commands, eight a line. */
void commands_help_text(char *out, size_t out_size);

#endif
