/* test_decode_base64: ow_b64_decode against a plain one-character-at-a-time reference written
 * here from RFC 4648 (sections 4 and 5), on known vectors and on random inputs of every
 * alphabet, length, capacity and kind of damage (a character of the other alphabet, one of
 * neither, padding in the middle, a lone final character). Same return value, same length,
 * same bytes (what is written on an error is unspecified), nothing past the capacity. */
#include "decode/base64.h"
#include "tests/unit/testlib.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int ref_value(char c, ow_b64_alphabet a)
{
    const char *p;
    if (c && (a != OW_B64_URL) && (p = strchr(std_chars, c)))
        return (int)(p - std_chars);
    if (c && (a != OW_B64_STD) && (p = strchr(url_chars, c)))
        return (int)(p - url_chars);
    return -1;
}

static int ref_decode(const char *s, size_t n, ow_b64_alphabet a, uint8_t *dst, size_t cap,
                      size_t *out_len)
{
    size_t pad = 0, out = 0;
    *out_len = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if ((pad && (n % 4 == 0 || (n + pad) % 4 != 0)) || n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = ref_value(s[i], a);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out == cap) {
                *out_len = out;
                return 1;
            }
            dst[out++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out_len = out;
    return 0;
}

static void check_same(const char *s, size_t n, ow_b64_alphabet a, size_t cap)
{
    uint8_t got[256], want[256];
    size_t got_len = 999, want_len = 999;
    memset(got, 0xAA, sizeof got);
    memset(want, 0xAA, sizeof want);
    int rg = ow_b64_decode(s, n, a, got, cap, &got_len);
    int rw = ref_decode(s, n, a, want, cap, &want_len);
    bool past_cap = false; /* nothing written beyond the capacity */
    for (size_t i = cap; i < sizeof got; i++)
        past_cap |= got[i] != 0xAA;
    if (rg != rw || got_len != want_len || memcmp(got, want, got_len) != 0 || past_cap) {
        fprintf(stderr, "  differs on \"%.*s\" alphabet %d cap %zu: %d/%zu, reference %d/%zu\n",
                (int)n, s, (int)a, cap, rg, got_len, rw, want_len);
        CHECK(0);
    } else {
        CHECK(1);
    }
}

static void test_vectors(void)
{
    uint8_t out[16];
    size_t n = 0;
    CHECK_EQ_INT(ow_b64_decode("Zm9vYmFy", 8, OW_B64_STD, out, sizeof out, &n), 0);
    CHECK(n == 6 && memcmp(out, "foobar", 6) == 0);
    CHECK_EQ_INT(ow_b64_decode("Zm9vYg==", 8, OW_B64_STD, out, sizeof out, &n), 0);
    CHECK(n == 4 && memcmp(out, "foob", 4) == 0);
    CHECK_EQ_INT(ow_b64_decode("-_-_", 4, OW_B64_URL, out, sizeof out, &n), 0);
    CHECK(n == 3 && out[0] == 0xFB && out[1] == 0xFF && out[2] == 0xBF);
    CHECK_EQ_INT(ow_b64_decode("-_-_", 4, OW_B64_STD, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("+/+/", 4, OW_B64_URL, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("+/-_", 4, OW_B64_ANY, out, sizeof out, &n), 0);
    CHECK_EQ_INT(ow_b64_decode("Zm9vYmFy", 8, OW_B64_STD, out, 4, &n), 1); /* fills up */
    CHECK(n == 4 && memcmp(out, "foob", 4) == 0);
    CHECK_EQ_INT(ow_b64_decode("Zm9v!mFy", 8, OW_B64_STD, out, sizeof out, &n), -1);
}

static void test_random(void)
{
    static const char damage[] = "+/-_=!. \n\x80";
    const ow_b64_alphabet alphabets[] = {OW_B64_STD, OW_B64_URL, OW_B64_ANY};
    char s[300];
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        ow_b64_alphabet a = alphabets[round % 3];
        const char *chars = a == OW_B64_URL ? url_chars : std_chars;
        size_t n = (size_t)(rand() % 260);
        for (size_t i = 0; i < n; i++)
            s[i] = chars[rand() % 64];
        if (n && round % 4 == 1) /* one damaged character anywhere */
            s[rand() % (int)n] = damage[rand() % (int)(sizeof damage - 1)];
        if (n > 2 && round % 4 == 2) { /* padding, sometimes where it cannot be */
            s[n - 1] = '=';
            if (rand() % 2)
                s[n - 2] = '=';
        }
        size_t cap = round % 5 == 0 ? (size_t)(rand() % 200) : 256;
        check_same(s, n, a, cap);
    }
}

int main(void)
{
    test_vectors();
    test_random();
    TEST_MAIN_END("test_decode_base64");
}
