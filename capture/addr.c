/* addr: text conversion and comparison of ow_addr (see addr.h). The text form is written
 * here, byte for byte what glibc's inet_ntop writes (its sprintf calls cost more than the
 * rows they name: the writer formats both endpoints of every connection row). */
#include "capture/addr.h"
#include <arpa/inet.h>
#include <string.h>

/* Appends the decimal form of v (0..255); returns the new end. */
static char *put_dec8(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
        v %= 100;
        *p++ = (char)('0' + v / 10);
    } else if (v >= 10) {
        *p++ = (char)('0' + v / 10);
    }
    *p++ = (char)('0' + v % 10);
    return p;
}

/* Dotted quad of b[0..3] at p; returns the new end (no NUL). */
static char *put_ipv4(char *p, const uint8_t *b)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_dec8(p, b[i]);
    }
    return p;
}

/* Lower-case hex of v without leading zeros (as "%x"); returns the new end. */
static char *put_hex16(char *p, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 12;
    while (shift > 0 && !(v >> shift))
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *p++ = digits[(v >> shift) & 0xF];
    return p;
}

/* inet_ntop6's rules: the longest run of two or more zero words (the first of equal ones)
 * becomes "::"; ::a.b.c.d and ::ffff:a.b.c.d end in a dotted quad. Returns the new end. */
static char *put_ipv6(char *p, const uint8_t *b)
{
    unsigned w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (unsigned)b[(size_t)i * 2] << 8 | b[(size_t)i * 2 + 1];
    int best = -1, best_len = 0, cur = -1, cur_len = 0;
    for (int i = 0; i <= 8; i++) {
        if (i < 8 && w[i] == 0) {
            if (cur < 0)
                cur = i, cur_len = 0;
            cur_len++;
        } else if (cur >= 0) {
            if (best < 0 || cur_len > best_len)
                best = cur, best_len = cur_len;
            cur = -1;
        }
    }
    if (best >= 0 && best_len < 2)
        best = -1;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i)
            *p++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
            return put_ipv4(p, b + 12);
        p = put_hex16(p, w[i]);
    }
    if (best >= 0 && best + best_len == 8)
        *p++ = ':';
    return p;
}

char *ow_addr_str(const ow_addr *a, char *out, size_t outlen)
{
    char tmp[OW_ADDR_STRLEN];
    char *end = a->family == 6 ? put_ipv6(tmp, a->bytes) : put_ipv4(tmp, a->bytes);
    size_t n = (size_t)(end - tmp);
    if (n < outlen) {
        memcpy(out, tmp, n);
        out[n] = 0;
    } else if (outlen) {
        out[0] = 0; /* does not fit: empty, as when inet_ntop refused */
    }
    return out;
}

bool ow_addr_parse(const char *s, ow_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->bytes) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->bytes) == 1) {
        out->family = 6;
        return true;
    }
    return false;
}
