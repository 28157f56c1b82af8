/* test_decode_bokeh_token_fast: the one-go ways of the token search and the token decode give
 * what the general ways (kept here as references, as they were written before the one-go
 * ways) give. ow_b64_url_run against a byte-by-byte loop on every byte value and on runs that
 * end at each offset of the sixteen-byte blocks. bokeh_token_decode against the full decode
 * and JSON walk, on token texts just inside and just outside the shape Bokeh writes (ids of
 * every length near the limits, escapes, 17 to 20 digit expiries, minus signs, other spacing,
 * other third keys, a space or nothing after the third key's colon, trailing bytes), each cut
 * at every length, with '=' padding, a signature, or a byte outside the alphabet put in at
 * several places. bokeh_find_tokens against the byte loop on random pages made of pieces of
 * tokens, keys, quotes and backslashes. */
#include "decode/base64.h"
#include "decode/bokeh.h"
#include "decode/json_scan.h"
#include "tests/unit/test_b64url.h"
#include "tests/unit/testlib.h"
#include <stdio.h>
#include <stdlib.h>

/* ---- references: the general ways ---- */

static bool ref_is_url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static size_t ref_url_run(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && ref_is_url_char((unsigned char)s[i]))
        i++;
    return i;
}

#define REF_DECODE_CHARS 4096

static int ref_token_decode(const char *tok, size_t len, bokeh_token_info *out)
{
    bokeh_token_info info;
    memset(&info, 0, sizeof info);
    *out = info;
    if (!tok || len == 0)
        return -1;
    const char *dot = memchr(tok, '.', len);
    size_t body = dot ? (size_t)(dot - tok) : len;
    info.signed_token = dot != NULL;
    bool whole = body <= REF_DECODE_CHARS;
    size_t n = whole ? body : REF_DECODE_CHARS;
    if (n % 4 == 1)
        n--;
    static uint8_t json[REF_DECODE_CHARS / 4 * 3];
    size_t json_len = 0;
    if (n == 0 || ow_b64_decode(tok, n, OW_B64_URL, json, sizeof json, &json_len) < 0)
        return -1;
    const char *j = (const char *)json;
    bool id_cut = false;
    int rc = json_find_string(j, json_len, "session_id", info.session_id, sizeof info.session_id,
                              NULL, &id_cut);
    if (rc == JSON_CUT && !whole)
        id_cut = true;
    else if (rc != JSON_FOUND)
        return -1;
    info.session_id_truncated = id_cut;
    int64_t expiry = 0;
    if (json_find_int(j, json_len, "session_expiry", &expiry) == JSON_FOUND) {
        info.has_expiry = true;
        info.expiry = expiry;
    }
    json_member f[] = {{.key = "__bk__zlib_"}, {.key = "headers"}, {.key = "cookies"}};
    json_find_members(j, json_len, f, 3);
    info.has_extra_payload =
        f[0].rc == JSON_FOUND || f[1].rc == JSON_FOUND || f[2].rc == JSON_FOUND;
    *out = info;
    return 0;
}

static bool ref_is_token_char(char c)
{
    return ref_is_url_char((unsigned char)c) || c == '.' || c == '=';
}

static bool ref_is_id_char(char c)
{
    return (unsigned char)c >= 0x20 && c != '"' && c != '\\';
}

static size_t ref_value_start(const char *buf, size_t len, size_t at, bool escaped)
{
    while (at < len && (buf[at] == ' ' || buf[at] == '\t'))
        at++;
    if (at >= len || buf[at] != ':')
        return 0;
    at++;
    while (at < len && (buf[at] == ' ' || buf[at] == '\t'))
        at++;
    if (escaped) {
        if (at >= len || buf[at] != '\\')
            return 0;
        at++;
    }
    if (at >= len || buf[at] != '"')
        return 0;
    return at + 1;
}

static size_t ref_value_length(const char *buf, size_t len, size_t at, bool escaped, bool token)
{
    size_t i = at;
    while (i < len && (token ? ref_is_token_char(buf[i]) : ref_is_id_char(buf[i])))
        i++;
    if (i >= len)
        return 0;
    bool closed = escaped ? buf[i] == '\\' && i + 1 < len && buf[i + 1] == '"' : buf[i] == '"';
    return closed ? i - at : 0;
}

static bool ref_match(const char *buf, size_t len, size_t q, const char *key, bool token,
                      bokeh_found *f)
{
    size_t key_len = strlen(key);
    bool escaped = q > 0 && buf[q - 1] == '\\';
    size_t at = q + 1;
    if (len - at < key_len || memcmp(buf + at, key, key_len) != 0)
        return false;
    at += key_len;
    if (escaped) {
        if (at >= len || buf[at] != '\\')
            return false;
        at++;
    }
    if (at >= len || buf[at] != '"')
        return false;
    size_t v = ref_value_start(buf, len, at + 1, escaped);
    if (!v)
        return false;
    size_t n = ref_value_length(buf, len, v, escaped, token);
    if (!n)
        return false;
    *f = (bokeh_found){buf + v, n, token};
    return true;
}

static size_t ref_find_tokens(const char *buf, size_t len, bokeh_found *out, size_t max)
{
    size_t count = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            break;
        bokeh_found f;
        size_t at = (size_t)(q - buf);
        if (ref_match(buf, len, at, "token", true, &f) ||
            ref_match(buf, len, at, "sessionid", false, &f)) {
            if (count < max)
                out[count] = f;
            count++;
            p = f.start + f.len;
        } else {
            p = q + 1;
        }
    }
    return count;
}

/* ---- the alphabet run ---- */

static void test_url_run(void)
{
    char s[80];
    int bad = 0;
    for (int c = 0; c < 256; c++) /* each byte value at each place of two blocks and a tail */
        for (size_t at = 0; at < 40; at++) {
            memset(s, 'Q', sizeof s);
            s[at] = (char)c;
            for (size_t n = at; n <= 40; n += 3)
                bad += ow_b64_url_run(s, n) != ref_url_run(s, n);
        }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ow_b64_url_run(NULL, 5), 0);
    CHECK_EQ_INT(ow_b64_url_run("abc", 0), 0);
}

/* ---- token decode ---- */

static int compare_decode(const char *tok, size_t len)
{
    bokeh_token_info a, b;
    memset(&a, 0x5a, sizeof a);
    int ra = bokeh_token_decode(tok, len, &a);
    int rb = ref_token_decode(tok, len, &b);
    bool same = ra == rb && strcmp(a.session_id, b.session_id) == 0 &&
                a.session_id_truncated == b.session_id_truncated && a.has_expiry == b.has_expiry &&
                a.expiry == b.expiry && a.signed_token == b.signed_token &&
                a.has_extra_payload == b.has_extra_payload;
    if (!same)
        fprintf(stderr, "  token %.*s: rc %d/%d id \"%s\"/\"%s\"\n", (int)(len < 120 ? len : 120),
                tok, ra, rb, a.session_id, b.session_id);
    return same ? 0 : 1;
}

/* The JSON text, its token, and the token cut at every length, padded, signed and spoiled. */
static int check_json(const char *json)
{
    static char tok[8192], t2[8300];
    size_t n = test_b64url(json, strlen(json), tok);
    int bad = 0;
    for (size_t k = 0; k <= n; k++)
        bad += compare_decode(tok, k);
    snprintf(t2, sizeof t2, "%s==", tok);
    bad += compare_decode(t2, strlen(t2));
    snprintf(t2, sizeof t2, "%s=", tok);
    bad += compare_decode(t2, strlen(t2));
    snprintf(t2, sizeof t2, "%s.c2lnbmF0dXJl", tok);
    bad += compare_decode(t2, strlen(t2));
    static const char spoilers[] = "=+/.!\x80 ";
    for (size_t at = 0; at < n; at += n / 7 + 1)
        for (size_t i = 0; i < sizeof spoilers - 1; i++) {
            memcpy(t2, tok, n + 1);
            t2[at] = spoilers[i];
            bad += compare_decode(t2, n);
        }
    return bad;
}

static void test_token_decode(void)
{
    static const char *const heads[] = {
        "{\"session_id\": \"%s\", \"session_expiry\": %s}",
        ("{\"session_id\": \"%s\", \"session_expiry\": %s, \"__bk__zlib_\": "
         "\"eNqrVgpKTc4vSlGyUlAqLU4tUqoFAFz0Bzc\"}"), /* one element, split in two lines */
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"__bk__zlib_\":  \"eN\"}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"__bk__zlib_\": 5}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"__bk__zlib_\": ",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"__bk__zlib_\":\"x\"}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"headers\": {}, \"cookies\": {}}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"x\": 1}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s}trailing",
        "{\"session_id\": \"%s\", \"session_expiry\": %s }",
        "{\"session_id\":\"%s\",\"session_expiry\":%s}",
        "{\"session_id\": \"%s\",  \"session_expiry\": %s}",
        "{ \"session_id\": \"%s\", \"session_expiry\": %s}",
        "{\"session_id\": \"%s\", \"session_expiry\": %s, \"session_id\": \"other\"}",
        "{\"session_expiry\": %s, \"session_id\": \"%s\"}",
    };
    static const char *const expiries[] = {"1795635862",
                                           "0",
                                           "007",
                                           "-5",
                                           "1.5",
                                           "12345678901234567",
                                           "123456789012345678",
                                           "1234567890123456789",
                                           "9223372036854775807",
                                           "9223372036854775808",
                                           "1e3",
                                           "\"7\"",
                                           ""};
    static const size_t id_lens[] = {0, 1, 43, 44, 54, 55, 56, 100, 120, 140, 254, 255, 256, 300};
    static const char *const odd_ids[] = {"a\\\"b", "caf\\u00e9", "tab\there", "x\\\\y"};
    char id[400], json[1024];
    int bad = 0;
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        bool swapped = strncmp(heads[h], "{\"session_expiry", 16) == 0;
        for (size_t e = 0; e < sizeof expiries / sizeof expiries[0]; e++) {
            for (size_t l = 0; l < sizeof id_lens / sizeof id_lens[0] + 4; l++) {
                if (l < sizeof id_lens / sizeof id_lens[0]) {
                    for (size_t i = 0; i < id_lens[l]; i++)
                        id[i] = "AbCdEfGh0123456789xyz"[i % 21];
                    id[id_lens[l]] = 0;
                } else {
                    snprintf(id, sizeof id, "%s", odd_ids[l - sizeof id_lens / sizeof id_lens[0]]);
                }
                if (swapped)
                    snprintf(json, sizeof json, heads[h], expiries[e], id);
                else
                    snprintf(json, sizeof json, heads[h], id, expiries[e]);
                bad += check_json(json);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* A token longer than the general way decodes, in the shape. */
    static char big[9000];
    strcpy(big, "{\"session_id\": \"abc\", \"session_expiry\": 12, \"__bk__zlib_\": \"");
    size_t n = strlen(big);
    memset(big + n, 'z', 6000);
    strcpy(big + n + 6000, "\"}");
    CHECK_EQ_INT(check_json(big), 0);
}

/* ---- token search ---- */

static int compare_find(const char *page, size_t len)
{
    bokeh_found a[8], b[8];
    size_t na = bokeh_find_tokens(page, len, a, 8), nb = ref_find_tokens(page, len, b, 8);
    int bad = na != nb;
    for (size_t i = 0; !bad && i < na && i < 8; i++)
        bad += a[i].start != b[i].start || a[i].len != b[i].len || a[i].is_token != b[i].is_token;
    return bad;
}

static void test_find_tokens(void)
{
    static const char *const pieces[] = {"\"token\":\"",
                                         "\\\"token\\\":\\\"",
                                         "\"token\" : \"",
                                         "\"sessionid\":\"",
                                         "\"sessionid\": \"",
                                         "\\\"sessionid\\\": \\\"",
                                         "\"tok",
                                         "\"s",
                                         "\"t",
                                         "\"",
                                         "\\",
                                         "\\\"",
                                         "eyJzZXNzaW9uX2lkIjogI",
                                         "abcdefghijklmnopqrstuvwxyz0123456789",
                                         "-_",
                                         ".",
                                         "=",
                                         "token",
                                         "sessionid",
                                         " ",
                                         ":",
                                         "<script>",
                                         "é",
                                         "\x01",
                                         "\"text/javascript\"",
                                         "\"style\"",
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                         "\"token\":\"token\":\"abc\""};
    const size_t np = sizeof pieces / sizeof pieces[0];
    static char page[4096];
    int bad = 0;
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        int count = 1 + rand() % 40;
        for (int i = 0; i < count; i++) {
            const char *p = pieces[(size_t)rand() % np];
            size_t n = strlen(p);
            if (len + n >= sizeof page)
                break;
            memcpy(page + len, p, n);
            len += n;
        }
        for (size_t cut = len; cut + 40 >= len && cut > 0; cut--)
            bad += compare_find(page, cut);
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_url_run();
    test_token_decode();
    test_find_tokens();
    TEST_MAIN_END("test_decode_bokeh_token_fast");
}
