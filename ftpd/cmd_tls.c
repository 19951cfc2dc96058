/* AUTH PBSZ PROT CCC (RFC 2228, RFC 4217). */
#include <string.h>
#include <strings.h>

#include "commands_int.h"
#include "ftps.h"
#include "server.h"

void cmd_auth(session *s, const char *arg)
{
    if (!s->srv->tls_ctx) {
        session_reply(s, FTP_NOT_IMPLEMENTED, "AUTH not available: TLS is not enabled.");
        return;
    }
    if (s->flags & SF_TLS) {
        session_reply(s, FTP_BAD_SEQUENCE, "Already protected by TLS.");
        return;
    }
    if (s->state != SESS_LOGIN) {
        session_reply(s, FTP_BAD_SEQUENCE, "AUTH must come before the login.");
        return;
    }
    /* TLS and TLS-C: the control connection only. SSL and TLS-P, from the drafts before
     * RFC 4217, protect data connections too, which clients that send them expect. */
    bool tls = strcasecmp(arg, "TLS") == 0 || strcasecmp(arg, "TLS-C") == 0;
    bool ssl = strcasecmp(arg, "SSL") == 0 || strcasecmp(arg, "TLS-P") == 0;
    if (!tls && !ssl) {
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "AUTH %s not supported; use AUTH TLS.", arg);
        return;
    }
    /* Whatever the client sent after AUTH in plain text must not count as sent under TLS
     * (the STARTTLS command injection of CVE-2011-0411). */
    if (!buf_empty(&s->in)) {
        session_log(s, "dropping %zu bytes sent after AUTH before the TLS handshake",
                    buf_len(&s->in));
        buf_clear(&s->in);
    }
    s->parser.discarding = false;
    /* Nor does what was chosen in clear before AUTH (USER, OPTS): anyone on the path could
     * have sent it (as a server forgets all it learnt before STARTTLS, RFC 3207 4.2). */
    s->flags &= ~(SF_USER_GIVEN | SF_CLNT_SEEN); /* the CLNT under TLS is the one to log */
    session_default_opts(s);
    s->flags |= SF_TLS | SF_TLS_PENDING; /* input waits; the handshake starts after the 234 */
    if (ssl)
        s->flags |= SF_PROT_P | SF_PBSZ;
    s->last_activity = ev_now(s->srv->loop);
    session_reply(s, FTP_AUTH_OK, "AUTH %s successful: proceed with the TLS handshake.",
                  tls ? "TLS" : "SSL");
}

void cmd_pbsz(session *s, const char *arg)
{
    if (!(s->flags & SF_TLS)) {
        session_reply(s, FTP_BAD_SEQUENCE, "PBSZ needs a TLS connection: send AUTH TLS first.");
        return;
    }
    /* A decimal integer (RFC 2228), digits only: strtoul would also take "-1" and " +5". */
    if (!arg[0] || strspn(arg, "0123456789") != strlen(arg)) {
        session_reply(s, FTP_ARG_SYNTAX_ERROR, "PBSZ: expected a number.");
        return;
    }
    /* TLS has no protection buffer: the size is always 0 (RFC 4217 section 8). */
    s->flags |= SF_PBSZ;
    session_reply(s, FTP_CMD_OK, "PBSZ=0");
}

void cmd_prot(session *s, const char *arg)
{
    if (!(s->flags & SF_TLS)) {
        session_reply(s, FTP_BAD_SEQUENCE, "PROT needs a TLS connection: send AUTH TLS first.");
        return;
    }
    /* PBSZ should come first (RFC 4217), but some clients skip it: be lenient, as vsftpd. */
    if (strcasecmp(arg, "P") == 0) {
        s->flags |= SF_PROT_P;
        session_reply(s, FTP_PROT_OK, "Protection level set to Private.");
    } else if (strcasecmp(arg, "C") == 0) {
        s->flags &= ~SF_PROT_P;
        session_reply(s, FTP_PROT_OK, "Protection level set to Clear.");
    } else if (strcasecmp(arg, "S") == 0 || strcasecmp(arg, "E") == 0) {
        session_reply(s, FTP_PROT_UNSUPPORTED, "PROT %s not supported: use P or C.", arg);
    } else {
        session_reply(s, FTP_PARAM_NOT_IMPLEMENTED, "PROT %s not understood: use P or C.", arg);
    }
}

void cmd_ccc(session *s, const char *arg)
{
    /* A CCC that is not itself protected gets 533 (RFC 2228). One that is would drop to plain
     * text mid-session and expose the commands that follow: refused, as vsftpd and most
     * servers do. */
    if (!(s->flags & SF_TLS))
        session_reply(s, FTP_CMD_PROT_DENIED, "CCC needs a TLS-protected control connection.");
    else
        session_reply(s, FTP_POLICY_DENIED, "CCC refused: the control connection stays protected.");
}
