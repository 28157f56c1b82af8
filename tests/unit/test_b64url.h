/* test_b64url: base64url without padding (RFC 4648 section 5), and a Bokeh session token made
 * with it, for the tests that put tokens on the wire. Header-only (each test is one program). */
#ifndef OW_TEST_B64URL_H
#define OW_TEST_B64URL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Encodes in[0..n) into out (room for 4 * n / 3 + 4 bytes), NUL-terminated; returns the length. */
static inline size_t test_b64url(const char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = a[v & 63];
    }
    out[o] = 0;
    return o;
}

/* A session token as Bokeh writes it: base64url of {"session_id": ..., "session_expiry": ...}
 * (out: room for 400 bytes). */
static inline void test_session_token(const char *sid, long expiry, char *out)
{
    char json[256];
    snprintf(json, sizeof json, "{\"session_id\": \"%s\", \"session_expiry\": %ld}", sid, expiry);
    test_b64url(json, strlen(json), out);
}
#endif
