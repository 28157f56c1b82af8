/* dashboard_text: turning untrusted database strings into safe terminal text, and the small
 * formatters the dashboard prints with (sparklines, clock times, durations, counts). Pure
 * functions: no curses, no database. Every string that reaches the terminal passes through
 * dash_text_fit, so an escape sequence in a User-Agent or a URL can never reach it. */
#include "ui/dashboard_int.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* Decodes one UTF-8 sequence strictly. Returns bytes consumed (>= 1); *cp = 0xFFFD when the
 * sequence is invalid (overlong, surrogate, out of range, truncated). */
static int utf8_next(const unsigned char *p, uint32_t *cp)
{
    unsigned c = p[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) { /* also stops at the NUL */
            *cp = 0xFFFD;
            return i;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : v;
    return len;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}

/* What a code point becomes on screen: 0 = dropped, else the code point to print
 * (possibly '?' or ' ') and its width in *w. */
static uint32_t cp_display(uint32_t cp, bool utf8, int *w)
{
    *w = 1;
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return ' ';
    if (is_control(cp))
        return 0;
    if (cp < 0x80)
        return cp;
    if (!utf8 || cp == 0xFFFD)
        return '?';
    int cw = wcwidth((wchar_t)cp);
    if (cw == 0)
        return 0; /* combining and zero-width: dropped so columns stay exact */
    if (cw < 0)
        return '?';
    *w = cw;
    return cp;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int dash_text_width(const char *s, bool utf8)
{
    int cols = 0, w;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        if (cp_display(cp, utf8, &w))
            cols += w;
    }
    return cols;
}

int dash_text_fit(char *out, size_t outsz, const char *in, int maxcols, bool utf8)
{
    if (outsz == 0)
        return 0;
    out[0] = '\0';
    if (maxcols <= 0)
        return 0;
    int total = dash_text_width(in, utf8);
    int budget = total <= maxcols ? maxcols : maxcols - 1; /* room for the ellipsis */
    size_t o = 0;
    int cols = 0, w;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    while (*p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        uint32_t shown = cp_display(cp, utf8, &w);
        if (!shown)
            continue;
        if (cols + w > budget || o + 4 + 3 + 1 > outsz)
            break;
        o += utf8_put(out + o, shown);
        cols += w;
    }
    if (total > maxcols && o + 3 + 1 <= outsz) {
        o += utf8 ? utf8_put(out + o, 0x2026) : utf8_put(out + o, '~');
        cols++;
    }
    out[o] = '\0';
    return cols;
}

void dash_sparkline(char *out, size_t outsz, const long *vals, int n, bool utf8)
{
    static const char *const blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char ascii[] = "_.-=#";
    int levels = utf8 ? 8 : 5;
    long max = 0;
    for (int i = 0; i < n; i++)
        if (vals[i] > max)
            max = vals[i];
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *cell;
        char one[2] = {' ', '\0'};
        if (vals[i] <= 0) {
            cell = one;
        } else {
            long lv = (long)((double)vals[i] * levels / (double)max + 0.999999) - 1;
            if (lv < 0)
                lv = 0;
            if (lv >= levels)
                lv = levels - 1;
            if (utf8) {
                cell = blocks[lv];
            } else {
                one[0] = ascii[lv];
                cell = one;
            }
        }
        size_t l = strlen(cell);
        if (o + l + 1 > outsz)
            break;
        memcpy(out + o, cell, l);
        o += l;
    }
    if (outsz)
        out[o] = '\0';
}

void dash_fmt_clock(char *out, size_t outsz, double ts, bool with_date)
{
    if (ts <= 0) {
        snprintf(out, outsz, "%s--:--:--", with_date ? "----------  " : "");
        return;
    }
    time_t t = (time_t)ts;
    struct tm tm;
    localtime_r(&t, &tm);
    if (with_date)
        strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
    else
        strftime(out, outsz, "%H:%M:%S", &tm);
}

void dash_fmt_dur(char *out, size_t outsz, double s)
{
    if (!(s >= 0)) /* negative or NaN */
        snprintf(out, outsz, "-");
    else if (s < 1.0)
        snprintf(out, outsz, "%dms", (int)(s * 1000.0 + 0.5));
    else if (s < 60.0)
        snprintf(out, outsz, "%.1fs", s);
    else if (s < 3600.0)
        snprintf(out, outsz, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else if (s < 86400.0)
        snprintf(out, outsz, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s < 1e9)
        snprintf(out, outsz, "%dd%02dh", (int)(s / 86400), (int)(s / 3600) % 24);
    else
        snprintf(out, outsz, "long");
}

void dash_fmt_count(char *out, size_t outsz, long long v)
{
    char digits[32];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = snprintf(digits, sizeof digits, "%llu", u);
    char tmp[48];
    size_t o = 0;
    if (v < 0)
        tmp[o++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    snprintf(out, outsz, "%s", tmp);
}

void dash_fmt_bytes(char *out, size_t outsz, long long v)
{
    if (v < 0)
        snprintf(out, outsz, "-");
    else if (v < 1024)
        snprintf(out, outsz, "%lld B", v);
    else if (v < 1024LL * 1024)
        snprintf(out, outsz, "%.1f KB", v / 1024.0);
    else if (v < 1024LL * 1024 * 1024)
        snprintf(out, outsz, "%.1f MB", v / (1024.0 * 1024.0));
    else
        snprintf(out, outsz, "%.1f GB", v / (1024.0 * 1024.0 * 1024.0));
}

/* Appends the sanitised code point at p to line; returns its width (0 when dropped). */
static int line_push(char *line, size_t *len, size_t cap, const unsigned char **p, bool utf8)
{
    uint32_t cp;
    int w;
    *p += utf8_next(*p, &cp);
    uint32_t shown = cp_display(cp, utf8, &w);
    if (!shown || *len + 5 > cap)
        return 0;
    *len += utf8_put(line + *len, shown);
    line[*len] = '\0';
    return w;
}

/* Width of the word starting at p (up to a space or the end). */
static int word_width(const unsigned char *p, bool utf8)
{
    int cols = 0, w;
    while (*p && *p != ' ') {
        uint32_t cp;
        p += utf8_next(p, &cp);
        if (cp_display(cp, utf8, &w))
            cols += w;
    }
    return cols;
}

int dash_wrap(const char *text, int width, bool utf8, void (*emit)(void *, const char *), void *ctx)
{
    enum { CAP = 4096 };
    char line[CAP];
    size_t len = 0;
    int cols = 0, lines = 0;
    if (width < 1)
        width = 1;
    line[0] = '\0';
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            if (cols > 0 && cols < width && line[len - 1] != ' ' && len + 2 < CAP) {
                line[len++] = ' ', line[len] = '\0';
                cols++;
            }
            continue;
        }
        int ww = word_width(p, utf8);
        if (cols > 0 && cols + ww > width && ww <= width) {
            while (len > 0 && line[len - 1] == ' ')
                line[--len] = '\0';
            emit(ctx, line), lines++;
            len = 0, cols = 0, line[0] = '\0';
        }
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            if (cols >= width) { /* a word longer than the width: hard cut */
                emit(ctx, line), lines++;
                len = 0, cols = 0, line[0] = '\0';
            }
            const unsigned char *q = p;
            uint32_t cp;
            int w;
            utf8_next(q, &cp);
            cp_display(cp, utf8, &w);
            if (cols > 0 && cols + w > width) {
                emit(ctx, line), lines++;
                len = 0, cols = 0, line[0] = '\0';
            }
            cols += line_push(line, &len, CAP, &p, utf8);
        }
    }
    while (len > 0 && line[len - 1] == ' ')
        line[--len] = '\0';
    if (len > 0 || lines == 0)
        emit(ctx, line), lines++;
    return lines;
}
