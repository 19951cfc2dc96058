/* Telling a refusal for too many sessions from the other ones, and the waits between tries. */
#include "connlimit.h"

#include <string.h>
#include <strings.h>

/* 0.25 + 0.5 + 1 + 2 s: long enough for a server to notice sessions that have just closed
 * (vsftpd counts them until their process has been reaped), short enough that a session
 * really held elsewhere ends the run within seconds. */
static const long retry_delays_ms[] = {250, 500, 1000, 2000};

#define NDELAYS ((int)(sizeof(retry_delays_ms) / sizeof(retry_delays_ms[0])))

/* What the servers say:
 *   ftpd      421 Too many connections from your address. / 421 Too many users, try again later.
 *   vsftpd    421 There are too many connections from your internet address.
 *             421 There are too many connected users, please try later.
 *   pure-ftpd 421 Too many connections (2) from this IP
 *             421 10 users (the maximum) are already logged in, sorry
 *             421 I can't accept more than 2 connections as the same user
 *   ProFTPD   530 Sorry, the maximum number of clients (2) from your host are already connected.
 * and what must not be taken for it: ftpd's "421 Too many login failures, closing.",
 * pure-ftpd's "Too many authentication failures", a shutdown's or an idle timeout's 421. */
bool ftpc_reply_says_too_many(int code, const char *text)
{
    if (code != 421 && code != 530)
        return false;
    if (strcasestr(text, "fail") != NULL)
        return false;
    bool many = strcasestr(text, "too many") != NULL || strcasestr(text, "maximum") != NULL ||
                strcasestr(text, "more than") != NULL;
    bool sessions = strcasestr(text, "connect") != NULL || strcasestr(text, "session") != NULL ||
                    strcasestr(text, "user") != NULL || strcasestr(text, "client") != NULL ||
                    strcasestr(text, "logged in") != NULL;
    return many && sessions;
}

long ftpc_limit_retry_delay_ms(int attempt)
{
    if (attempt < 1 || attempt > NDELAYS)
        return -1;
    return retry_delays_ms[attempt - 1];
}

int ftpc_limit_attempts(void)
{
    return NDELAYS + 1;
}
