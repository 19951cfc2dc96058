/* A server's limit on sessions at login: which refusals say it, and how long to wait before
 * connecting again. A limit per address (ftpd --max-per-ip, vsftpd max_per_ip, pure-ftpd -C)
 * still counts a session ftpc has just closed with QUIT until the server has seen it go, so a
 * connection opened at once after may be turned away although ftpc holds no other. */
#ifndef FTPC_CONNLIMIT_H
#define FTPC_CONNLIMIT_H

#include <stdbool.h>

/* The refusal (code, text: a greeting other than 220, or the reply to USER or PASS) says the
 * server has too many sessions (from this address, for this user, or in all), not that the
 * login is wrong or that the server is shutting down. */
bool ftpc_reply_says_too_many(int code, const char *text);

/* The wait before connecting again after the attempt-th refusal of that kind (1 for the
 * first), growing; -1 when ftpc should give up: a few seconds in all. */
long ftpc_limit_retry_delay_ms(int attempt);

/* Attempts in all when every one is refused: the first and the retries. */
int ftpc_limit_attempts(void);

#endif
