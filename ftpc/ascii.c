/* TYPE A line-end conversion (see ascii.h). */
#include "ascii.h"

#include <string.h>

size_t ftpc_ascii_to_wire(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '\n')
            out[o++] = '\r';
        out[o++] = in[i];
    }
    return o;
}

size_t ftpc_ascii_from_wire(bool *cr, const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (*cr) {
            *cr = false;
            if (ch != '\n')
                out[o++] = '\r';
        }
        if (ch == '\r') {
            *cr = true;
            continue;
        }
        out[o++] = ch;
    }
    return o;
}

size_t ftpc_ascii_from_wire_end(bool *cr, char *out)
{
    if (!*cr)
        return 0;
    *cr = false;
    out[0] = '\r';
    return 1;
}
