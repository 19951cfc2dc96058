/* C0 controls but the line ends and tabs, DEL, the C1 controls in UTF-8 (U+0080..U+009F, 0xC2
 * 0x80..0x9F: U+009B is CSI to xterm even in UTF-8) and a byte 0x80..0x9F outside any
 * character (CSI itself to a terminal not in UTF-8) become '?'. A pair cut by the chunk's end
 * loses its second byte in the next chunk, which leaves no control. */
#include "shield.h"

void ftpc_shield_text(ftpc_shield *s, char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (s->need > 0 && c >= 0x80 && c <= 0xbf) {
            s->need--;
            if (s->c2 && c <= 0x9f) { /* U+0080..U+009F */
                p[i] = '?';
                if (i > 0)
                    p[i - 1] = '?';
            }
            s->c2 = false;
            continue;
        }
        s->need = 0; /* a character cut short ends here */
        s->c2 = c == 0xc2;
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c >= 0x80 && c <= 0x9f))
            p[i] = '?'; /* 0x80-0x9F alone: a C1 control to a terminal not in UTF-8 */
        else if (c >= 0xc2 && c <= 0xf4)
            s->need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    }
}
