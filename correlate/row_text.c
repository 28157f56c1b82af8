/* row_text: text taken from the wire into rows. Control bytes never reach a row (each becomes
 * '?', so a terminal showing the report cannot be driven by a client's bytes), fields are cut
 * at their buffer's capacity, and credentials in a query string (Bokeh's token, access keys)
 * are kept by name only unless the user asked to store secrets. */
#include "correlate/internal.h"
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static bool is_control(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

#if defined(__SSE2__)
/* The offset of the first control byte (below 0x20, or DEL) among the sixteen at p, or 16. */
static unsigned first_control_of_16(const char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i low = _mm_set1_epi8(0x1f);
    __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
    ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    unsigned mask = (unsigned)_mm_movemask_epi8(ctl);
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

/* How many of the n bytes at s come before the first control byte (n when none does). */
static size_t text_run(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    while (n - i >= 16) {
        unsigned k = first_control_of_16(s + i);
        i += k;
        if (k < 16)
            return i;
    }
#endif
    while (i < n && !is_control((unsigned char)s[i]))
        i++;
    return i;
}

/* No control bytes in rows: each becomes '?'. The runs between them are copied whole. */
void copy_bounded(char *dst, size_t cap, const char *src, size_t len)
{
    if (!cap)
        return;
    if (!src)
        len = 0;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len;) {
        size_t run = text_run(src + i, len - i);
        memmove(dst + i, src + i, run); /* (src may be dst itself) */
        i += run;
        if (i < len)
            dst[i++] = '?';
    }
    dst[len] = 0;
}

void copy_header(char *dst, size_t cap, const http_head *h, const char *name)
{
    const http_header *hd = http_find_header(h, name);
    copy_bounded(dst, cap, hd ? hd->value : NULL, hd ? hd->value_len : 0);
}

/* Token-bearing query values are credentials: keep their names only. A name is matched as
 * the server reads it: percent-decoded ("%74oken" is "token"), case-insensitively. */
#define REDACTED      "REDACTED"
#define QUERY_KEY_MAX 32 /* longer names are no secret key's */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool is_secret_key(const char *arg, size_t len)
{
    static const char *const secret_keys[] = {"bokeh-token", "token",    "access_token",
                                              "auth",        "password", "key"};
    char key[QUERY_KEY_MAX] = "";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        char ch = arg[i];
        if (ch == '%' && i + 2 < len && (hi = hex_value(arg[i + 1])) >= 0 &&
            (lo = hex_value(arg[i + 2])) >= 0)
            ch = (char)(hi << 4 | lo), i += 2;
        if (n == sizeof key)
            return false;
        key[n++] = (char)tolower((unsigned char)ch);
    }
    for (size_t i = 0; i < sizeof secret_keys / sizeof *secret_keys; i++)
        if (strlen(secret_keys[i]) == n && memcmp(secret_keys[i], key, n) == 0)
            return true;
    return false;
}

/* The value is replaced in place within the buffer's capacity cap; when the replacement does
 * not fit, the rest of the string is cut after it (never written past cap). */
static void redact_value(char *target, size_t cap, char *val)
{
    const size_t rlen = sizeof REDACTED - 1;
    size_t vlen = strcspn(val, "&");
    size_t at = (size_t)(val - target), tail = strlen(val + vlen);
    if (at + rlen + tail + 1 <= cap) {
        memmove(val + rlen, val + vlen, tail + 1);
        memcpy(val, REDACTED, rlen);
    } else if (at + rlen + 1 <= cap) {
        memcpy(val, REDACTED, rlen + 1);
    } else {
        *val = 0;
    }
}

void redact_query(char *target, size_t cap)
{
    char *q = strchr(target, '?');
    while (q) {
        char *arg = q + 1;
        size_t len = strcspn(arg, "=&");
        if (arg[len] == '=' && is_secret_key(arg, len))
            redact_value(target, cap, arg + len + 1);
        q = strchr(arg, '&');
    }
}
