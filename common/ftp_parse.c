/* The FTP command line parser.
 *
 * A line ends at the first LF in the buffer. Telnet sequences are removed after the line is cut,
 * so an LF inside a Telnet sequence (an option byte of 10, or an IAC SB ... IAC SE block) still
 * ends the line; real clients never send either, and cutting first keeps the scan a memchr().
 *
 * A NUL byte does not end a line (that would let one line smuggle a second command); it stays
 * in the copied line, so the verb or argument seen by the caller, being C strings, end at the
 * first NUL and the rest of the line up to its LF is ignored. The one exception is CR NUL,
 * Telnet's carriage return that is not a line end: it is how a pathname carries a CR (RFC 2640
 * section 3.1), and it becomes that CR.
 */
#include "ftp_parse.h"

#include <string.h>

enum {
    TELNET_SE = 240,
    TELNET_SB = 250,
    TELNET_WILL = 251,
    TELNET_DONT = 254,
    TELNET_IAC = 255,
};

/* Copies raw[0..n) into out without Telnet sequences; returns the bytes written (<= n). */
static size_t strip_telnet(const unsigned char *raw, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (raw[i] != TELNET_IAC) {
            out[o++] = (char)raw[i++];
            continue;
        }
        if (n - i < 2) { /* a lone IAC at the end of the line */
            i = n;
            break;
        }
        unsigned char c = raw[i + 1];
        if (c == TELNET_IAC) {
            out[o++] = (char)TELNET_IAC;
            i += 2;
        } else if (c >= TELNET_WILL && c <= TELNET_DONT) {
            /* option negotiation: IAC WILL/WONT/DO/DONT <option> */
            i = n - i < 3 ? n : i + 3;
        } else if (c == TELNET_SB) {
            /* subnegotiation up to IAC SE; an IAC IAC inside it is data, not the end */
            size_t j = i + 2;
            i = n;
            while (j + 1 < n) {
                if (raw[j] == TELNET_IAC) {
                    if (raw[j + 1] == TELNET_SE) {
                        i = j + 2;
                        break;
                    }
                    j += 2;
                } else {
                    j++;
                }
            }
        } else {
            /* any other two-byte command: IP, DM, AYT, NOP, a stray SE ... */
            i += 2;
        }
    }
    return o;
}

/* Turns each CR NUL in line[0..n) into a CR; returns the new length. */
static size_t unpad_cr(char *line, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        line[o++] = line[i];
        if (line[i] == '\r' && i + 1 < n && line[i + 1] == '\0')
            i++;
    }
    return o;
}

void ftp_parse_line(char *line, ftp_cmd *cmd)
{
    /* Leading spaces are dropped rather than refused: some clients and scripts indent
     * commands, and taking the verb as the first word is what most servers do. Without this
     * the verb would be "" and the line would read as an empty command. */
    while (*line == ' ')
        line++;
    size_t w = 0;
    while (line[w] != '\0' && line[w] != ' ')
        w++;
    size_t keep = w < FTP_VERB_MAX ? w : FTP_VERB_MAX;
    for (size_t i = 0; i < keep; i++) {
        char c = line[i];
        /* ASCII only: the locale must not change which command a byte names. */
        cmd->verb[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    cmd->verb[keep] = '\0';
    cmd->verb_too_long = w > FTP_VERB_MAX;
    cmd->has_nul = false;
    if (line[w] == ' ') {
        /* Only the one separating space goes: RFC 959 pathnames may begin or end with
         * spaces. */
        cmd->has_arg = true;
        cmd->arg = line + w + 1;
    } else {
        cmd->has_arg = false;
        cmd->arg = line + w; /* the terminating NUL: "" */
    }
}

ftp_parse_result ftp_parse_next(ftp_parser *p, buf *in, ftp_cmd *cmd, char *line, size_t line_cap)
{
    for (;;) {
        size_t len = buf_len(in);
        if (len == 0)
            return FTP_PARSE_NEED_MORE;
        const char *head = buf_head(in);
        const char *lf = memchr(head, '\n', len);

        if (p->discarding) {
            if (lf == NULL) {
                buf_clear(in);
                return FTP_PARSE_NEED_MORE;
            }
            buf_consume(in, (size_t)(lf - head) + 1);
            p->discarding = false;
            continue;
        }

        if (lf == NULL) {
            if (!buf_full(in))
                return FTP_PARSE_NEED_MORE;
            /* Full without an LF: the line cannot be complete within the bound. Report it now,
             * not when its LF finally arrives, so the client hears about it at once. */
            buf_clear(in);
            p->discarding = true;
            return FTP_PARSE_TOO_LONG;
        }

        size_t raw_len = (size_t)(lf - head);
        /* The stripped line is never longer than the raw one, so this check is exact enough;
         * it only matters when the input buffer's bound exceeds line_cap. */
        if (raw_len >= line_cap) {
            buf_consume(in, raw_len + 1);
            return FTP_PARSE_TOO_LONG;
        }
        size_t n = strip_telnet((const unsigned char *)head, raw_len, line);
        buf_consume(in, raw_len + 1);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        n = unpad_cr(line, n);
        line[n] = '\0';
        ftp_parse_line(line, cmd);
        /* A NUL would silently shorten a path into another one; the caller refuses it. */
        cmd->has_nul = memchr(line, '\0', n) != NULL;
        return FTP_PARSE_CMD;
    }
}
