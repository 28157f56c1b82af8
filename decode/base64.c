/* base64: bounded decoding of standard and URL-safe base64 (see base64.h). */
#include "decode/base64.h"

static int sextet(unsigned char c, ow_b64_alphabet alphabet)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if ((c == '+' || c == '/') && alphabet != OW_B64_URL)
        return c == '+' ? 62 : 63;
    if ((c == '-' || c == '_') && alphabet != OW_B64_STD)
        return c == '-' ? 62 : 63;
    return -1;
}

size_t ow_b64_decoded_max(size_t n)
{
    return n / 4 * 3 + n % 4 * 3 / 4;
}

/* Padding: up to two '=' at the very end, and the data before them not a multiple of 4. */
static int strip_padding(const char *src, size_t *n)
{
    size_t pad = 0;
    while (*n > 0 && src[*n - 1] == '=' && pad < 2) {
        (*n)--;
        pad++;
    }
    if (pad && (*n % 4 == 0 || (*n + pad) % 4 != 0))
        return -1;
    return 0;
}

int ow_b64_decode(const char *src, size_t n, ow_b64_alphabet alphabet, uint8_t *dst, size_t cap,
                  size_t *out_len)
{
    size_t out = 0;
    if (out_len)
        *out_len = 0;
    if (!src || strip_padding(src, &n) != 0 || n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sextet((unsigned char)src[i], alphabet);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out == cap) {
                if (out_len)
                    *out_len = out;
                return 1;
            }
            dst[out++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (out_len)
        *out_len = out;
    return 0;
}
