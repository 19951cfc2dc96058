#include "dataarg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

/* Reads 1..max_digits decimal digits at *p (no sign, no space) into *v, moving *p past them. */
static bool read_number(const char **p, int max_digits, unsigned long *v)
{
    const char *s = *p;
    unsigned long n = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > max_digits)
            return false;
        n = n * 10 + (unsigned long)(*s - '0');
        s++;
    }
    if (digits == 0)
        return false;
    *p = s;
    *v = n;
    return true;
}

static void set_ipv4(struct sockaddr_storage *out, const struct in_addr *a, unsigned port)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_addr = *a;
    sin->sin_port = htons((uint16_t)port);
}

dataarg_result dataarg_port(const char *arg, struct sockaddr_storage *out)
{
    unsigned long v[6];
    const char *p = arg;
    for (int i = 0; i < 6; i++) {
        if (!read_number(&p, 3, &v[i]) || v[i] > 255)
            return DATAARG_SYNTAX;
        if (*p != (i < 5 ? ',' : '\0'))
            return DATAARG_SYNTAX;
        p++;
    }
    struct in_addr a = {htonl((uint32_t)(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]))};
    set_ipv4(out, &a, (unsigned)(v[4] * 256 + v[5]));
    return DATAARG_OK;
}

dataarg_result dataarg_eprt(const char *arg, struct sockaddr_storage *out)
{
    char d = arg[0];
    if (d < 33 || d > 126)
        return DATAARG_SYNTAX;
    const char *p = arg + 1;
    unsigned long proto;
    if (!read_number(&p, 3, &proto) || *p != d)
        return DATAARG_SYNTAX;
    p++;
    const char *end = strchr(p, d);
    char host[INET6_ADDRSTRLEN];
    if (!end || end == p || (size_t)(end - p) >= sizeof host)
        return DATAARG_SYNTAX;
    memcpy(host, p, (size_t)(end - p));
    host[end - p] = '\0';
    p = end + 1;
    unsigned long port;
    if (!read_number(&p, 5, &port) || port < 1 || port > 65535 || p[0] != d || p[1] != '\0')
        return DATAARG_SYNTAX;
    if (proto != 1 && proto != 2)
        return DATAARG_PROTO;

    if (proto == 1) {
        struct in_addr a;
        if (inet_pton(AF_INET, host, &a) != 1)
            return DATAARG_SYNTAX;
        set_ipv4(out, &a, (unsigned)port);
        return DATAARG_OK;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return DATAARG_SYNTAX;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        struct in_addr a;
        memcpy(&a, &a6.s6_addr[12], sizeof a);
        set_ipv4(out, &a, (unsigned)port);
        return DATAARG_OK;
    }
    memset(out, 0, sizeof *out);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = a6;
    sin6->sin6_port = htons((uint16_t)port);
    return DATAARG_OK;
}
