#include "peerprobe.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define TELNET_DM 0xF2 /* RFC 854: Data Mark, the data part of a Synch */

int peerprobe_send(int fd)
{
    const unsigned char dm = TELNET_DM;
    return send(fd, &dm, 1, MSG_OOB | MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : -1;
}

bool peerprobe_reset(int fd)
{
    /* The state, not SO_ERROR: reading that clears the error the next write would report. */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || len < sizeof ti.tcpi_state)
        return false;
    return ti.tcpi_state == TCP_CLOSE;
}
