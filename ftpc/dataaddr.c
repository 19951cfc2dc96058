/* 227/229 parsing and EPRT/PORT formatting. */
#include "dataaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

int ftpc_parse_epsv(const char *text)
{
    const char *open = strchr(text, '(');
    if (open == NULL)
        return -1;
    char d = open[1];
    /* RFC 2428: the delimiter is any printable ASCII character other than a digit. */
    if (d < 33 || d > 126 || (d >= '0' && d <= '9'))
        return -1;
    if (open[2] != d || open[3] != d)
        return -1;
    const char *p = open + 4;
    long port = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 6) {
        port = port * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != d || port < 1 || port > 65535)
        return -1;
    return (int)port;
}

int ftpc_parse_pasv(const char *text, struct sockaddr_storage *ss)
{
    /* Servers differ in what surrounds the numbers; take the first run of six. */
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            continue;
        unsigned v[6];
        int used = 0;
        if (sscanf(p, "%u,%u,%u,%u,%u,%u%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &used) ==
                6 &&
            used > 0) {
            int ok = 1;
            for (int i = 0; i < 6; i++)
                if (v[i] > 255)
                    ok = 0;
            int port = (int)(v[4] * 256 + v[5]);
            if (!ok || port == 0)
                return -1;
            struct sockaddr_in *sin = (struct sockaddr_in *)ss;
            memset(ss, 0, sizeof(*ss));
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t)port);
            sin->sin_addr.s_addr = htonl((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]);
            return port;
        }
        /* Skip the rest of this number so "227 Entering ... (" digits are not retried. */
        while (p[1] >= '0' && p[1] <= '9')
            p++;
    }
    return -1;
}

int ftpc_format_eprt(const struct sockaddr_storage *ss, char *out, size_t out_size)
{
    char host[64];
    int proto;
    if (ss->ss_family == AF_INET) {
        proto = 1;
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, host, sizeof(host));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            proto = 1;
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
        } else {
            proto = 2;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        }
    } else {
        return -1;
    }
    int n = snprintf(out, out_size, "|%d|%s|%d|", proto, host, net_port(ss));
    return n > 0 && (size_t)n < out_size ? 0 : -1;
}

int ftpc_format_port(const struct sockaddr_storage *ss, char *out, size_t out_size)
{
    const unsigned char *a;
    if (ss->ss_family == AF_INET) {
        a = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
    } else if (ss->ss_family == AF_INET6 &&
               IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)ss)->sin6_addr)) {
        a = &((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr[12];
    } else {
        return -1;
    }
    int port = net_port(ss);
    int n =
        snprintf(out, out_size, "%u,%u,%u,%u,%d,%d", a[0], a[1], a[2], a[3], port >> 8, port & 255);
    return n > 0 && (size_t)n < out_size ? 0 : -1;
}
