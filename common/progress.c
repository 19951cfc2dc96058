/* Rate estimation and progress formatting. */
#include "progress.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

void progress_rate_init(progress_rate *r, long long now_ms, uint64_t bytes)
{
    memset(r, 0, sizeof(*r));
    r->t[0] = now_ms;
    r->b[0] = bytes;
    r->head = 0;
    r->count = 1;
    r->latest = bytes;
    r->latest_t = now_ms;
}

void progress_rate_update(progress_rate *r, long long now_ms, uint64_t bytes)
{
    if (bytes < r->latest || now_ms < r->latest_t)
        return;
    r->latest = bytes;
    r->latest_t = now_ms;
    /* One sample per PROGRESS_SAMPLE_MS keeps the ring covering the whole window no matter
     * how often the caller reports (a fast transfer reports every read). */
    if (now_ms - r->t[r->head] < PROGRESS_SAMPLE_MS)
        return;
    r->head = (r->head + 1) % PROGRESS_SAMPLES;
    r->t[r->head] = now_ms;
    r->b[r->head] = bytes;
    if (r->count < PROGRESS_SAMPLES)
        r->count++;
}

double progress_rate_bps(const progress_rate *r, long long now_ms)
{
    return progress_rate_bps_within(r, now_ms, PROGRESS_WINDOW_MS);
}

double progress_rate_bps_within(const progress_rate *r, long long now_ms, long long window_ms)
{
    if (window_ms > PROGRESS_WINDOW_MS)
        window_ms = PROGRESS_WINDOW_MS;
    if (r->count == 0)
        return 0.0;
    if (now_ms < r->latest_t)
        now_ms = r->latest_t;
    /* The oldest sample still inside the window; if even the newest is older than the window
     * (a long stall), measure from it: the rate then decays as now moves on. */
    size_t oldest = (r->head + PROGRESS_SAMPLES - (r->count - 1)) % PROGRESS_SAMPLES;
    size_t pick = r->head;
    for (size_t k = 0; k < r->count; k++) {
        size_t i = (oldest + k) % PROGRESS_SAMPLES;
        if (now_ms - r->t[i] <= window_ms) {
            pick = i;
            break;
        }
    }
    long long span = now_ms - r->t[pick];
    if (span < PROGRESS_RATE_FIRST_MS)
        return 0.0;
    return (double)(r->latest - r->b[pick]) * 1000.0 / (double)span;
}

long progress_eta(uint64_t remaining, double bps)
{
    if (!(bps > 0.0))
        return -1;
    double s = (double)remaining / bps;
    if (s > 1e9)
        return -1;
    /* Rounded up without libm (common/ links no math library); s >= 0 here. */
    long whole = (long)s;
    return (double)whole < s ? whole + 1 : whole;
}

char *progress_size_str(uint64_t bytes, char *out, size_t out_size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1000) {
        snprintf(out, out_size, "%u B", (unsigned)bytes);
        return out;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    /* Switch units at 1000 rather than 1024 so the number never needs four digits; the
     * rounding checks use the printed value ("999.96" would print as "1000"). */
    while (u + 1 < sizeof(units) / sizeof(units[0]) && v >= 999.5) {
        v /= 1024.0;
        u++;
    }
    if (v < 9.995)
        snprintf(out, out_size, "%.2f %s", v, units[u]);
    else if (v < 99.95)
        snprintf(out, out_size, "%.1f %s", v, units[u]);
    else
        snprintf(out, out_size, "%.0f %s", v, units[u]);
    return out;
}

char *progress_rate_str(double bps, char *out, size_t out_size)
{
    char size[24];
    uint64_t b = 0;
    if (bps > 0.0)
        b = bps >= 1.8e19 ? UINT64_MAX : (uint64_t)(bps + 0.5);
    snprintf(out, out_size, "%s/s", progress_size_str(b, size, sizeof(size)));
    return out;
}

char *progress_duration_str(long seconds, char *out, size_t out_size)
{
    if (seconds < 0)
        snprintf(out, out_size, "--:--");
    else if (seconds < 3600)
        snprintf(out, out_size, "%ld:%02ld", seconds / 60, seconds % 60);
    else if (seconds < 100L * 3600)
        snprintf(out, out_size, "%ld:%02ld:%02ld", seconds / 3600, seconds / 60 % 60, seconds % 60);
    else
        snprintf(out, out_size, "%ldd %02ldh", seconds / 86400, seconds / 3600 % 24);
    return out;
}

char *progress_elapsed_str(long long ms, char *out, size_t out_size)
{
    if (ms < 0)
        ms = 0;
    if (ms < 95) /* a small file's: "117 KiB in 0.0 s (3.90 MiB/s)" read as no time at all */
        snprintf(out, out_size, "%.3f s", (double)ms / 1000.0);
    else if (ms < 59950)
        snprintf(out, out_size, "%.1f s", (double)ms / 1000.0);
    else
        progress_duration_str((long)((ms + 500) / 1000), out, out_size);
    return out;
}

/* Clamps *cells to >= 0; false (out emptied) when out cannot hold that many cells. */
static bool bar_fits(char *out, size_t out_size, int *cells, progress_bar_style style)
{
    if (*cells < 0)
        *cells = 0;
    size_t per = style == PROGRESS_BAR_UNICODE ? 3 : 1;
    if (out_size < per * (size_t)*cells + 1) {
        if (out_size > 0)
            out[0] = '\0';
        return false;
    }
    return true;
}

size_t progress_bar_busy(char *out, size_t out_size, int cells, uint64_t phase,
                         progress_bar_style style)
{
    if (!bar_fits(out, out_size, &cells, style))
        return 0;
    int block = cells / 5 < 3 ? 3 : cells / 5 > 12 ? 12 : cells / 5;
    if (block > cells)
        block = cells;
    uint64_t span = (uint64_t)(cells - block);
    uint64_t at = 0;
    if (span > 0) {
        uint64_t p = phase % (2 * span);
        at = p <= span ? p : 2 * span - p;
    }
    size_t pos = 0;
    for (int i = 0; i < cells; i++) {
        bool in = (uint64_t)i >= at && (uint64_t)i < at + (uint64_t)block;
        if (!in)
            out[pos++] = ' ';
        else if (style == PROGRESS_BAR_UNICODE) {
            memcpy(out + pos, "\u2588", 3);
            pos += 3;
        } else
            out[pos++] = (uint64_t)i == at                         ? '<'
                         : (uint64_t)i == at + (uint64_t)block - 1 ? '>'
                                                                   : '=';
    }
    out[pos] = '\0';
    return pos;
}

size_t progress_bar(char *out, size_t out_size, int cells, double fraction,
                    progress_bar_style style)
{
    if (!bar_fits(out, out_size, &cells, style))
        return 0;
    if (!(fraction > 0.0))
        fraction = 0.0;
    if (fraction > 1.0)
        fraction = 1.0;

    size_t pos = 0;
    if (style == PROGRESS_BAR_UNICODE) {
        /* U+2588 FULL BLOCK and U+2589..U+258F, seven to one eighths of a block. */
        static const char *const eighths[] = {"",       "\u258f", "\u258e", "\u258d",
                                              "\u258c", "\u258b", "\u258a", "\u2589"};
        long total8 = (long)(fraction * cells * 8.0); /* >= 0, so truncation floors */
        int full = (int)(total8 / 8);
        int part = (int)(total8 % 8);
        int i = 0;
        for (; i < full; i++) {
            memcpy(out + pos, "\u2588", 3);
            pos += 3;
        }
        if (i < cells && part > 0) {
            size_t n = strlen(eighths[part]);
            memcpy(out + pos, eighths[part], n);
            pos += n;
            i++;
        }
        for (; i < cells; i++)
            out[pos++] = ' ';
    } else {
        int full = (int)(fraction * cells);
        int i = 0;
        for (; i < full; i++)
            out[pos++] = '=';
        /* The arrow head marks the moving edge until the bar is complete. */
        if (i < cells && fraction > 0.0) {
            out[pos++] = '>';
            i++;
        }
        for (; i < cells; i++)
            out[pos++] = ' ';
    }
    out[pos] = '\0';
    return pos;
}

int progress_percent(uint64_t done, uint64_t total)
{
    if (total == 0 || done >= total)
        return 100;
    /* done * 100 may overflow for exabyte totals; the double is exact enough for a percent. */
    int p = (int)((double)done * 100.0 / (double)total);
    if (p > 99)
        p = 99; /* 100 only when actually complete */
    if (p < 0)
        p = 0;
    return p;
}

/* wcwidth answers only in a locale whose character set it knows: under C or POSIX (a
 * container's default, and ftpd's, which sets no locale) it fails for every character past
 * ASCII, though the terminal is most likely UTF-8 and a combining mark there takes no cell.
 * A C.UTF-8 locale object, made once, answers then. */
static locale_t utf8_locale = (locale_t)0;
static pthread_once_t utf8_locale_once = PTHREAD_ONCE_INIT;

static void utf8_locale_make(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Made once for all threads (ftpd's recovery thread logs while the main one draws the live
 * view): a second thread must wait for it, not take the guesses while it is being made. */
static int utf8_wcwidth(uint32_t cp)
{
    pthread_once(&utf8_locale_once, utf8_locale_make);
    locale_t utf8 = utf8_locale;
    if (utf8 == (locale_t)0)
        return -1;
    locale_t was = uselocale(utf8);
    int w = wcwidth((wchar_t)cp);
    uselocale(was);
    return w;
}

size_t progress_char_cells(const char *s, size_t *len)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0xC0 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x3F >> (n - 1)));
    for (size_t i = 1; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) { /* cut short: one byte, one cell */
            n = 1;
            cp = 0xFFFD;
            break;
        }
        cp = (cp << 6) | ((unsigned char)s[i] & 0x3F);
    }
    *len = n;
    if (cp < 0x80)
        return 1;
    int w = wcwidth((wchar_t)cp);
    if (w < 0)
        w = utf8_wcwidth(cp);
    if (w < 0)
        return cp >= 0x1100 ? 2 : 1;
    return (size_t)w;
}

#define TAB_WIDTH 8 /* the terminals' default tab stops */

size_t progress_text_rows(const char *s, size_t n, size_t cols, bool *at_margin)
{
    if (cols == 0)
        cols = 1;
    size_t rows = 1, col = 0, len;
    const char *end = s + n;
    for (const char *p = s; p < end; p += len) {
        if (*p == '\x1b') { /* CSI: clear line, colour, cursor moves */
            len = 1;
            if (p + len < end && p[len] == '[')
                len++;
            while (p + len < end && !(p[len] >= '@' && p[len] <= '~'))
                len++;
            if (p + len < end)
                len++;
            continue;
        }
        if (*p == '\t') { /* a log line may hold one (client text): it moves, never wraps */
            size_t stop = (col / TAB_WIDTH + 1) * TAB_WIDTH;
            if (col < cols)
                col = stop < cols ? stop : cols - 1;
            len = 1;
            continue;
        }
        size_t w = progress_char_cells(p, &len);
        if (p + len > end)
            len = (size_t)(end - p);
        if (col > 0 && col + w > cols) {
            rows++;
            col = 0;
        }
        col += w;
    }
    if (at_margin != NULL)
        *at_margin = col >= cols;
    return rows;
}

size_t progress_cells(const char *s)
{
    size_t n = 0, len;
    for (; *s != '\0'; s += len)
        n += progress_char_cells(s, &len);
    return n;
}

size_t progress_fit_prefix(const char *s, size_t cells, size_t *used)
{
    size_t n = 0, len;
    const char *p = s;
    while (*p != '\0') {
        size_t cw = progress_char_cells(p, &len);
        if (n + cw > cells)
            break;
        n += cw;
        p += len;
    }
    *used = n;
    return (size_t)(p - s);
}

/* The length of the well-formed UTF-8 sequence at s (its code point to *cp), 0 when s does
 * not start one: a stray continuation byte, a sequence cut short, an overlong form, a
 * surrogate or a value past U+10FFFF. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range (RFC 3629's table) */
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    uint32_t v = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

/* Code points a terminal acts on rather than shows: C0 and C1 controls (U+009B is CSI to a
 * terminal that takes 8-bit controls, xterm among them, even in UTF-8), the line and
 * paragraph separators, and the bidirectional embeddings, overrides and isolates, which
 * reorder what follows them on the line ("evil\u202Egnp.exe" shows as "evilexe.png", and a
 * progress line's numbers after it run backwards). */
static bool acts_on_terminal(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void progress_sanitize(char *dst, size_t dst_size, const char *src)
{
    if (dst_size == 0)
        return;
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    while (*s != '\0') {
        uint32_t cp;
        size_t n = utf8_decode(s, &cp);
        /* A byte that is not part of a character would show as one cell or none, depending
         * on the terminal, and 0x9B alone is CSI to a terminal not in UTF-8: one '?' each. */
        bool mark = n == 0 || acts_on_terminal(cp);
        size_t out = mark ? 1 : n;
        if (o + out + 1 > dst_size)
            break; /* whole characters only */
        if (mark)
            dst[o] = '?';
        else
            memmove(dst + o, s, n); /* dst may be src: o never passes the read position */
        o += out;
        s += n == 0 ? 1 : n;
    }
    dst[o] = '\0';
}

bool progress_log_plain(const char *s, size_t avail, size_t *len)
{
    unsigned char seq[5] = {0};
    memcpy(seq, s, avail < 4 ? avail : 4); /* bounded: the text need not end in a NUL */
    uint32_t cp;
    size_t n = utf8_decode(seq, &cp);
    *len = n == 0 ? 1 : n;
    return n != 0 && !acts_on_terminal(cp) && cp != '\\';
}
