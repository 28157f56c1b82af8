/* base64: bounded decoding of standard and URL-safe base64 (see base64.h). */
#include "decode/base64.h"

/* The sextet of each character (low 6 bits), with STD: only in the standard alphabet, URL:
 * only in the URL-safe one, N: in neither. */
#define STD 0x40
#define URL 0x80
#define N   (STD | URL)
/* clang-format off */
static const uint8_t sextet_code[256] = {
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N, STD | 62,  N, URL | 62,  N, STD | 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  N,  N,  N,  N,  N,  N,
     N,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,  N,  N,  N,  N, URL | 63,
     N, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
     N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,  N,
};
/* clang-format on */

static int sextet(unsigned char c, ow_b64_alphabet alphabet)
{
    unsigned code = sextet_code[c];
    if ((code & N) && (code == N || ((code & STD) && alphabet == OW_B64_URL) ||
                       ((code & URL) && alphabet == OW_B64_STD)))
        return -1;
    return (int)(code & 0x3f);
}
#undef STD
#undef URL
#undef N

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
