/* Telling a client that closed its control connection from one that only shut its sending
 * side. Both send the same FIN: a read sees the end of input either way, and the client that
 * half-closed ("HASH f; QUIT" through nc -N or a script's here-document) still reads the
 * replies. TCP tells them apart only once data reaches the peer: a socket closed whole answers
 * it with a reset (Linux, the BSDs and Windows alike). A keepalive probe carries no data and is
 * answered alike by both, so it cannot tell.
 *
 * The probe is one byte of TCP urgent data, a Telnet Data Mark (the byte a Telnet Synch sends
 * urgent). A receiver that has not asked for urgent data inline (SO_OOBINLINE, which no
 * common FTP client sets; BSD ftp does, and sends no HASH) never reads it: its stream stays
 * byte for byte what the server replies. A middlebox that clears the URG flag would put it in
 * the stream. The probe goes to every client whose input ends or hangs up behind
 * "HASH f; QUIT", a half-closed one still reading included (ftpd.8 says so). */
#ifndef PEERPROBE_H
#define PEERPROBE_H

#include <stdbool.h>

/* Sends the probe on connected TCP socket fd without blocking. Returns 0, or -1 with errno
 * (EAGAIN: the send buffer is full, and the bytes in it will do as a probe). */
int peerprobe_send(int fd);
/* True when the connection of fd was reset (by the peer's answer to data, the probe's or a
 * reply's): nothing sent on it can be read any more. */
bool peerprobe_reset(int fd);

#endif
