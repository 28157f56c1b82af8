/* base64: bounded decoding of standard and URL-safe base64 (see base64.h), and the length of
 * a run of URL-safe characters (a session token's alphabet). */
#include "decode/base64.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* The flag bits that, all set in a character's code, put it outside the alphabet. */
static unsigned outside_mask(ow_b64_alphabet alphabet)
{
    return alphabet == OW_B64_STD ? URL : alphabet == OW_B64_URL ? STD : N;
}

static int sextet(unsigned char c, unsigned outside)
{
    unsigned code = sextet_code[c];
    return (code & outside) == outside ? -1 : (int)(code & 0x3f);
}

/* Whole groups of four characters into three bytes while they fit: the same result as the
 * bit-by-bit loop, four times fewer steps (a session token is a kilobyte or more). Returns
 * the characters consumed, or SIZE_MAX on a character outside the alphabet. */
static size_t decode_groups(const unsigned char *s, size_t n, unsigned outside, uint8_t *dst,
                            size_t cap, size_t *out)
{
    size_t i = 0, o = *out;
    for (; n - i >= 4 && cap - o >= 3; i += 4, o += 3) {
        unsigned a = sextet_code[s[i]], b = sextet_code[s[i + 1]], c = sextet_code[s[i + 2]],
                 d = sextet_code[s[i + 3]];
        if ((a & outside) == outside || (b & outside) == outside || (c & outside) == outside ||
            (d & outside) == outside)
            return SIZE_MAX;
        uint32_t v = (a & 0x3f) << 18 | (b & 0x3f) << 12 | (c & 0x3f) << 6 | (d & 0x3f);
        dst[o] = (uint8_t)(v >> 16);
        dst[o + 1] = (uint8_t)(v >> 8);
        dst[o + 2] = (uint8_t)v;
    }
    *out = o;
    return i;
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
    unsigned outside = outside_mask(alphabet);
    size_t i = decode_groups((const unsigned char *)src, n, outside, dst, cap, &out);
    if (i == SIZE_MAX)
        return -1;
    uint32_t acc = 0; /* a whole number of groups done: no bits pending */
    int bits = 0;
    for (; i < n; i++) {
        int v = sextet((unsigned char)src[i], outside);
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
#if defined(__SSE2__)
/* Bytes of v that are unsigned-less-or-equal to max, as a vector of 0xff / 0. */
static __m128i at_most(__m128i v, char max)
{
    return _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(max)), v);
}

/* The offset of the first character outside the URL-safe alphabet among the sixteen at p, or
 * 16 when there is none. A letter is a byte whose value with bit 0x20 set is 'a'..'z'. */
static unsigned url_run_of_16(const char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i ok = at_most(_mm_sub_epi8(lower, _mm_set1_epi8('a')), 'z' - 'a');
    ok = _mm_or_si128(ok, at_most(_mm_sub_epi8(v, _mm_set1_epi8('0')), '9' - '0'));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    unsigned outside = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
    return outside ? (unsigned)__builtin_ctz(outside) : 16;
}
#endif

size_t ow_b64_url_run(const char *src, size_t n)
{
    size_t i = 0;
    if (!src)
        return 0;
#if defined(__SSE2__)
    while (n - i >= 16) {
        unsigned k = url_run_of_16(src + i);
        i += k;
        if (k < 16)
            return i;
    }
#endif
    while (i < n && (sextet_code[(unsigned char)src[i]] & STD) == 0)
        i++;
    return i;
}
#undef STD
#undef URL
#undef N
