/* test_decode_bokeh: Bokeh session tokens (decode/bokeh.c, with base64.c and json_scan.c):
 * decoding real tokens from the shared captures against their ground truth and two real
 * tokens kept here, synthetic tokens (signed, escaped ids, no expiry, cut, huge, not a token),
 * finding tokens in page HTML and autoload.js, the Sec-WebSocket-Protocol value, the legacy
 * query, and assembling Bokeh messages from WebSocket messages. */
#include "decode/base64.h"
#include "decode/bokeh.h"
#include "decode/json_scan.h"
#include "tests/unit/test_b64url.h"
#include "tests/unit/testlib.h"
#include <dirent.h>
#include <stdlib.h>

/* ---- helpers ---- */

static int decode_str(const char *tok, bokeh_token_info *info)
{
    return bokeh_token_decode(tok, strlen(tok), info);
}

/* ---- real tokens ---- */

/* From healthy-v4.pcap, visit 1 (page HTML and WS upgrade; 780 chars, carries __bk__zlib_). */
static const char REAL1[] =
    "eyJzZXNzaW9uX2lkIjogIkIwSGJYRHJGcjlIZUJaT0x3cGI2d3N4Tmo0SHVNNHExVFVSZjlWMURFZHEyIiwgInNlc3"
    "Npb25fZXhwaXJ5IjogMTc5NTYzNTg2MiwgIl9fYmtfX3psaWJfIjogImVOcGRVVjFQQWpFUV9DdE5ud0R2TThDQkVC"
    "NElNV0tBQjBXaWlUR21sS1ZVZXUxeDdlRUo0Yl9iSGhnXzBwZnRkSFptdW52RUd5QXJ5RFh1b1NNZUsyMXNnZU1vQ3"
    "BKV0VBVnhyeDFGQ2ZZUUhpa3BnUnF1cENOc0FUS2ZDTDRIOTdiSVdHNUZfRHVwZ1JZNS1BLXdLMEFiWFdsVkRBMjVQ"
    "MlFnS19tWk9uQWhTTmdPSWxSN2p1TS1tbkpabEtqc0ptOUpxNDZHV1NiZ0NaWVRic0oyc3hNMEUxU2JqQjluVXc4Sn"
    "ZnVjBDM1NyNm1oc2t3dlFlclRKVlFwaDNFNXNZbnZRbkt4SnppLXR6bjVJS1dTVnRZSFNoQnVUQ285WUUwNkotMUZZ"
    "T3VTcV9JLW1vcjhiUk1HMXgxUENJSHd2eGFVaWU3Ni1sQi13ekw3UlRES3ZFVGFxcHU0ZktjMlpoSlVQSmQwUXlhQ1"
    "9IeXliRmEzekU4LV9rVlN0dUdRdUp6dnd6RU1yV0F0aTRCZG5hdHNMYS1ZNElQM0YzQU41RG9sUGxrV1YybktvbHVt"
    "dUpHZEZhb2QtM3U2ZWEtNkc4SExFeTA5VHNmRHNIcDllVDZjdnN5T2tuZyJ9";
static const char REAL1_ID[] = "B0HbXDrFr9HeBZOLwpb6wsxNj4HuM4q1TURf9V1DEdq2";
static const int64_t REAL1_EXPIRY = 1795635862;

/* From healthcheck-curl.pcap, visit 1 (a kube-probe GET; 380 chars). */
static const char REAL2[] =
    "eyJzZXNzaW9uX2lkIjogIkhGbDZ2ZVhKa3RvV3Job0RVRzdDeXE0ZDA1OEM4TWk0RkprcnhLMlRrRHRVIiwgInNlc3"
    "Npb25fZXhwaXJ5IjogMTc5NTYzNjk4OSwgIl9fYmtfX3psaWJfIjogImVOcXJWc3BJVFV4SkxTcFdzbEtvVnZMSUx5"
    "NEJNcFFNRFF6MHpFejBEUFFNclV3TkRNeVVkQlNVUW90VGkzUWQwMVB6d0FxeVM1TlNkUXVLOHBOUzlRMzFqQ3hCQ2"
    "h5VGsxTUx3SkphLWxwS3RVQ1I1UHo4N014VXNNa2dibUpSZW1rdVVEX0VxckxNNGt5UTZ1aHFwYVRLRXJBcUpkOUFw"
    "ZHJZMmxvQUlhTXJVQSJ9";
static const char REAL2_ID[] = "HFl6veXJktoWrhoDUG7Cyq4d058C8Mi4FJkrxK2TkDtU";
static const int64_t REAL2_EXPIRY = 1795636989;

static void test_real_tokens(void)
{
    bokeh_token_info t;
    CHECK_EQ_INT(strlen(REAL1), 780);
    CHECK_EQ_INT(decode_str(REAL1, &t), 0);
    CHECK_EQ_STR(t.session_id, REAL1_ID);
    CHECK(t.has_expiry && t.expiry == REAL1_EXPIRY);
    CHECK(t.has_extra_payload && !t.signed_token && !t.session_id_truncated);
    CHECK_EQ_INT(decode_str(REAL2, &t), 0);
    CHECK_EQ_STR(t.session_id, REAL2_ID);
    CHECK(t.has_expiry && t.expiry == REAL2_EXPIRY);
    CHECK(t.has_extra_payload);

    /* Every cut of a real token either fails or gives the whole id; never a partial id, and
     * an expiry only when it is complete. */
    int ok = 0, bad_id = 0, bad_expiry = 0;
    for (size_t n = 0; n <= strlen(REAL1); n++) {
        if (bokeh_token_decode(REAL1, n, &t) != 0)
            continue;
        ok++;
        bad_id += strcmp(t.session_id, REAL1_ID) != 0;
        bad_expiry += t.has_expiry && t.expiry != REAL1_EXPIRY;
    }
    CHECK(ok > 600);
    CHECK_EQ_INT(bad_id, 0);
    CHECK_EQ_INT(bad_expiry, 0);
    CHECK_EQ_INT(bokeh_token_decode(REAL1, 40, &t), -1); /* cut inside the id */
}

/* ---- tokens in the shared captures, against the manifests ---- */

#define MAX_LOADS 64
typedef struct manifest {
    char id[MAX_LOADS][BOKEH_SESSION_ID_MAX];
    double started[MAX_LOADS];
    int found[MAX_LOADS];
    int n;
} manifest;

/* Minimal reading of NAME.json: each "started_at": X, then the next "session_id": "ID". */
static void read_manifest(const char *text, manifest *m)
{
    memset(m, 0, sizeof *m);
    const char *p = text;
    while (m->n < MAX_LOADS && (p = strstr(p, "\"started_at\": ")) != NULL) {
        m->started[m->n] = strtod(p + 14, NULL);
        const char *s = strstr(p, "\"session_id\": \"");
        if (!s)
            break;
        s += 15;
        const char *e = strchr(s, '"');
        if (!e || (size_t)(e - s) >= BOKEH_SESSION_ID_MAX)
            break;
        memcpy(m->id[m->n], s, (size_t)(e - s));
        m->n++;
        p = e;
    }
}

static bool is_tok_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static void scan_capture(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *pcap = tl_read_file(path, &len);
    snprintf(path + strlen(path) - 5, 6, ".json");
    char *json = tl_read_file(path, NULL);
    CHECK(pcap && json);
    if (!pcap || !json) {
        free(pcap);
        free(json);
        return;
    }
    static manifest m;
    read_manifest(json, &m);
    CHECK(m.n > 0);
    static const char prefix[] = "eyJzZXNzaW9uX2lkIjogI";
    int tokens = 0, decoded = 0, defaults = 0, unknown = 0, implausible = 0;
    for (char *p = pcap; (p = memmem(p, len - (size_t)(p - pcap), prefix, 21)) != NULL;) {
        size_t n = 0;
        while (p + n < pcap + len && is_tok_char(p[n]))
            n++;
        tokens++;
        bokeh_token_info t;
        if (bokeh_token_decode(p, n, &t) == 0) {
            decoded++;
            int at = -1;
            for (int i = 0; i < m.n; i++)
                if (strcmp(m.id[i], t.session_id) == 0)
                    at = i;
            if (at >= 0) {
                m.found[at]++;
                double d = (double)t.expiry - m.started[at];
                implausible += !t.has_expiry || d < -86400 || d > 86400;
            } else if (strcmp(t.session_id, "default") == 0 && !t.has_expiry) {
                defaults++; /* BokehJS's DEFAULT_TOKEN inside bokeh.min.js */
            } else {
                unknown++;
                fprintf(stderr, "  %s: decoded unknown session id '%s'\n", name, t.session_id);
            }
        }
        p += n ? n : 1;
    }
    int missing = 0;
    for (int i = 0; i < m.n; i++)
        if (!m.found[i]) {
            missing++;
            fprintf(stderr, "  %s: session %s not found in any token\n", name, m.id[i]);
        }
    printf("  %s: %d tokens, %d decoded (%d BokehJS default), %d sessions, %d cut too early\n",
           name, tokens, decoded, defaults, m.n, tokens - decoded);
    CHECK(decoded > 0);
    CHECK_EQ_INT(unknown, 0);
    CHECK_EQ_INT(implausible, 0);
    CHECK_EQ_INT(missing, 0);
    free(pcap);
    free(json);
}

static void test_capture_tokens(void)
{
    const char *dir = tl_captures_dir();
    if (!dir) {
        printf("  captures absent: real-capture token checks skipped, the rest runs\n");
        return;
    }
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int pcaps = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".pcap") == 0) {
            pcaps++;
            scan_capture(dir, e->d_name);
        }
    }
    closedir(d);
    CHECK(pcaps > 0);
}

/* ---- synthetic tokens ---- */

static void test_synthetic_tokens(void)
{
    static char tok[8192], json[4096];
    bokeh_token_info t;

    /* Signed: B64U(JSON) "." 43-char signature. */
    const char *j = "{\"session_id\": \"abc\", \"session_expiry\": 1700000000}";
    size_t n = test_b64url(j, strlen(j), tok);
    strcpy(tok + n, ".Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV");
    CHECK_EQ_INT(decode_str(tok, &t), 0);
    CHECK_EQ_STR(t.session_id, "abc");
    CHECK(t.signed_token && t.has_expiry && t.expiry == 1700000000 && !t.has_extra_payload);

    /* A user-chosen id with escapes: \" and \u00e9 and a surrogate pair. */
    j = "{\"session_id\": \"my \\\"id\\\" caf\\u00e9 \\ud83d\\ude00\", \"session_expiry\": 5}";
    test_b64url(j, strlen(j), tok);
    CHECK_EQ_INT(decode_str(tok, &t), 0);
    CHECK_EQ_STR(t.session_id, "my \"id\" caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(t.has_expiry && t.expiry == 5);

    /* No expiry: BokehJS's own DEFAULT_TOKEN. */
    CHECK_EQ_INT(decode_str("eyJzZXNzaW9uX2lkIjogImRlZmF1bHQifQ", &t), 0);
    CHECK_EQ_STR(t.session_id, "default");
    CHECK(!t.has_expiry && !t.signed_token);

    /* 2.x tokens: headers and cookies as plain keys count as the extra payload. */
    j = "{\"session_id\": \"x\", \"session_expiry\": 1, \"headers\": {\"A\": \"b\"}, "
        "\"cookies\": {}}";
    test_b64url(j, strlen(j), tok);
    CHECK_EQ_INT(decode_str(tok, &t), 0);
    CHECK(t.has_extra_payload);

    /* Not tokens. */
    const char *nots[] = {
        "",    "hello", "!!!!",        "eyJzZXNzaW9uX2lkIjogI$$$",
        "e30", "W10",   "eyJhIjogMX0", "eyJzZXNzaW9uX2lkIjogNX0" /* {"session_id": 5} */};
    for (size_t i = 0; i < sizeof nots / sizeof nots[0]; i++)
        CHECK_EQ_INT(decode_str(nots[i], &t), -1);
    CHECK_EQ_INT(bokeh_token_decode(NULL, 5, &t), -1);
    CHECK_EQ_INT(decode_str(".sig", &t), -1);

    /* Cut right after the id: the id without expiry. */
    j = "{\"session_id\": \"abcdef\", \"session_expiry\": 1700000000}";
    n = test_b64url(j, strlen(j), tok);
    CHECK_EQ_INT(bokeh_token_decode(tok, 32, &t), 0); /* 24 bytes: the id and its quote */
    CHECK_EQ_STR(t.session_id, "abcdef");
    CHECK(!t.has_expiry);
    CHECK_EQ_INT(bokeh_token_decode(tok, 28, &t), -1); /* 21 bytes: inside the id */

    /* An id longer than BOKEH_SESSION_ID_MAX is cut and flagged. */
    strcpy(json, "{\"session_id\": \"");
    for (int i = 0; i < 400; i++)
        strcat(json, "\\u00e9");
    strcat(json, "\", \"session_expiry\": 7}");
    test_b64url(json, strlen(json), tok);
    CHECK_EQ_INT(decode_str(tok, &t), 0);
    CHECK(t.session_id_truncated);
    CHECK_EQ_INT(strlen(t.session_id), 254); /* 127 whole two-byte characters */
    CHECK(t.has_expiry && t.expiry == 7);
}

static void test_huge_tokens(void)
{
    /* 4 MB: a normal head, then a giant __bk__zlib_ value. */
    const size_t big = 4u << 20;
    char *tok = malloc(big + 1);
    const char *head =
        "{\"session_id\": \"huge\", \"session_expiry\": 1795635862, \"__bk__zlib_\": \"";
    size_t n = test_b64url(head, strlen(head), tok); /* 72 bytes: a multiple of 3, no tail */
    CHECK_EQ_INT(strlen(head) % 3, 0);
    memset(tok + n, 'Z', big - n);
    tok[big] = 0;
    bokeh_token_info t;
    CHECK_EQ_INT(bokeh_token_decode(tok, big, &t), 0);
    CHECK_EQ_STR(t.session_id, "huge");
    CHECK(t.has_expiry && t.expiry == 1795635862 && t.has_extra_payload);
    /* A huge id: the start is kept and flagged. */
    head = "{ \"session_id\":  \""; /* 18 bytes: the base64 of what follows stays aligned */
    n = test_b64url(head, strlen(head), tok);
    for (size_t i = n; i < big; i++)
        tok[i] = "YWJj"[(i - n) % 4]; /* "abc" again and again */
    CHECK_EQ_INT(bokeh_token_decode(tok, big, &t), 0);
    CHECK(t.session_id_truncated && strlen(t.session_id) == BOKEH_SESSION_ID_MAX - 1);
    CHECK(!t.has_expiry);
    /* Pure garbage of the same size. */
    memset(tok, 'A', big);
    CHECK_EQ_INT(bokeh_token_decode(tok, big, &t), -1);
    free(tok);
}

/* ---- finding tokens ---- */

static void test_find_tokens(void)
{
    /* A page modelled on bokeh-wire.md 1.3. */
    char page[4096];
    snprintf(
        page, sizeof page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\n"
        "<title>Bokeh Application</title>\n"
        "<script type=\"text/javascript\" src=\"/static/js/bokeh.min.js?v=de958ab1\"></script>\n"
        "<script type=\"text/javascript\">Bokeh.set_log_level(\"info\");</script>\n"
        "</head><body>\n"
        "<div id=\"b7a2\" data-root-id=\"p1050\" style=\"display: contents;\"></div>\n"
        "<script type=\"application/json\" id=\"c4f1\">{}</script>\n"
        "<script type=\"text/javascript\">\n(function() {\n  const fn = function() {\n"
        "    Bokeh.safely(function() {\n      (function(root) {\n        function "
        "embed_document(root) {\n"
        "        const docs_json = document.getElementById('c4f1').textContent;\n"
        "        const render_items = [{\"token\":\"%s\",\"roots\":{\"p1050\":\"b7a2\"},"
        "\"root_ids\":[\"p1050\"],\"use_for_title\":true}];\n"
        "        root.Bokeh.embed.embed_items(docs_json, render_items);\n"
        "        }\n      })(window);\n    });\n  };\n})();\n</script>\n</body></html>\n",
        REAL2);
    bokeh_found f[4];
    CHECK_EQ_INT(bokeh_find_tokens(page, strlen(page), f, 4), 1);
    CHECK(f[0].is_token && f[0].len == strlen(REAL2) && memcmp(f[0].start, REAL2, f[0].len) == 0);

    /* autoload.js: the render items sit inside a JS string, quotes escaped. */
    char js[4096];
    snprintf(js, sizeof js,
             "(function(root) {\n  const docs_json = '{}';\n"
             "  const render_items = JSON.parse('[{\\\"token\\\":\\\"%s\\\",\\\"elementid\\\":"
             "\\\"e1\\\",\\\"use_for_title\\\":false}]');\n"
             "  root.Bokeh.embed.embed_items(docs_json, render_items, \"/app\", "
             "\"http://host:5006/app\");\n})(this);\n",
             REAL1);
    CHECK_EQ_INT(bokeh_find_tokens(js, strlen(js), f, 4), 1);
    CHECK(f[0].is_token && f[0].len == strlen(REAL1) && memcmp(f[0].start, REAL1, f[0].len) == 0);
    bokeh_token_info t;
    CHECK_EQ_INT(bokeh_token_decode(f[0].start, f[0].len, &t), 0);
    CHECK_EQ_STR(t.session_id, REAL1_ID);

    /* Legacy 1.x page: plaintext session id; plus spacing variants and non-matches. */
    const char *legacy = "var render_items = [{\"docid\":\"d1\",\"elementid\":\"e1\","
                         "\"modelid\":\"1001\",\"sessionid\":\"AbC123xyz\"}];"
                         " {\"token\" : \"eyJzZXNzaW9uX2lkIjogImRlZmF1bHQifQ\"}"
                         " \"token\":\"has space\" \"token\":\"unterminated";
    size_t k = bokeh_find_tokens(legacy, strlen(legacy), f, 4);
    CHECK_EQ_INT(k, 2);
    CHECK(!f[0].is_token && f[0].len == 9 && memcmp(f[0].start, "AbC123xyz", 9) == 0);
    CHECK(f[1].is_token && f[1].len == 34);

    /* More tokens than room: all are counted, only max are filled. */
    char many[2048] = "";
    for (int i = 0; i < 10; i++)
        strcat(many, "{\"token\":\"eyJzZXNzaW9uX2lkIjogImRlZmF1bHQifQ\"} ");
    CHECK_EQ_INT(bokeh_find_tokens(many, strlen(many), f, 4), 10);
    CHECK_EQ_INT(bokeh_find_tokens(many, strlen(many), NULL, 0), 10);
    /* A token cut by the end of the buffer is not reported. */
    CHECK_EQ_INT(bokeh_find_tokens(many, 30, f, 4), 0);
}

/* ---- upgrade values ---- */

static void test_subprotocol(void)
{
    const char *tok;
    size_t n;
    const char *v = "bokeh, eyJabc";
    CHECK_EQ_INT(bokeh_parse_subprotocol(v, strlen(v), &tok, &n), 0);
    CHECK(n == 6 && memcmp(tok, "eyJabc", 6) == 0);
    v = "bokeh,eyJabc"; /* Python client: no space */
    CHECK_EQ_INT(bokeh_parse_subprotocol(v, strlen(v), &tok, &n), 0);
    CHECK(n == 6 && memcmp(tok, "eyJabc", 6) == 0);
    v = "  bokeh ,\teyJabc  ";
    CHECK_EQ_INT(bokeh_parse_subprotocol(v, strlen(v), &tok, &n), 0);
    CHECK(n == 6 && memcmp(tok, "eyJabc", 6) == 0);
    const char *bad[] = {"bokeh",   "eyJabc",        "bokeh, eyJ, x", "foo, eyJabc",
                         "bokeh, ", "Bokeh, eyJabc", "bokehx, eyJ",   ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(bokeh_parse_subprotocol(bad[i], strlen(bad[i]), &tok, &n), -1);
}

static void test_query(void)
{
    const char *id;
    size_t n;
    const char *t = "/app/ws?bokeh-protocol-version=1.0&bokeh-session-id=Xy12&visit=3";
    CHECK_EQ_INT(bokeh_query_session_id(t, strlen(t), &id, &n), 0);
    CHECK(n == 4 && memcmp(id, "Xy12", 4) == 0);
    t = "/app/ws?bokeh-session-id=abc";
    CHECK_EQ_INT(bokeh_query_session_id(t, strlen(t), &id, &n), 0);
    CHECK(n == 3 && memcmp(id, "abc", 3) == 0);
    const char *bad[] = {"/app/ws", "/app/ws?x-bokeh-session-id=a",
                         "/app/ws?bokeh-session-id=", "/app/bokeh-session-id=a",
                         "/app/ws?a=1#bokeh-session-id=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(bokeh_query_session_id(bad[i], strlen(bad[i]), &id, &n), -1);
}

/* ---- json_scan and base64 directly ---- */

static void test_json_scan(void)
{
    const char *j = "{\"a\": {\"msgtype\": \"no\", \"x\": [1, \"]}\"]}, \"msgtype\": \"OK\", "
                    "\"n\": -12, \"f\": 1.5}";
    char out[16];
    bool tr;
    size_t n;
    CHECK_EQ_INT(json_find_string(j, strlen(j), "msgtype", out, sizeof out, &n, &tr), JSON_FOUND);
    CHECK_EQ_STR(out, "OK");
    int64_t v;
    CHECK_EQ_INT(json_find_int(j, strlen(j), "n", &v), JSON_FOUND);
    CHECK_EQ_INT(v, -12);
    CHECK_EQ_INT(json_find_int(j, strlen(j), "f", &v), JSON_BAD);
    CHECK_EQ_INT(json_find_int(j, strlen(j), "zz", &v), JSON_ABSENT);
    CHECK_EQ_INT(json_find_int(j, 20, "n", &v), JSON_ENDED);
    CHECK_EQ_INT(json_find_string(j, strlen(j), "n", out, sizeof out, &n, &tr), JSON_BAD);
    CHECK_EQ_INT(json_find_string("[1]", 3, "a", out, sizeof out, &n, &tr), JSON_BAD);
    CHECK_EQ_INT(json_find_string("{\"a\": \"abc", 10, "a", out, sizeof out, &n, &tr), JSON_CUT);
    CHECK_EQ_STR(out, "abc");
    CHECK_EQ_INT(json_find_int("{\"a\": 99999999999999999999}", 27, "a", &v), JSON_BAD);
    CHECK_EQ_INT(json_find_int("{\"a\": -9223372036854775808}", 27, "a", &v), JSON_FOUND);
    CHECK(v == INT64_MIN);
    CHECK_EQ_INT(json_find_string("{\"a\": \"\\u0000\\x\"}", 17, "a", out, sizeof out, &n, &tr),
                 JSON_BAD);
    CHECK_EQ_INT(json_find_string("{\"a\": \"\\u0000\"}", 15, "a", out, sizeof out, &n, &tr),
                 JSON_FOUND);
    CHECK_EQ_STR(out, "\xef\xbf\xbd");
    CHECK_EQ_INT(
        json_find_string("{\"a\": \"0123456789abcdefXYZ\"}", 28, "a", out, sizeof out, &n, &tr),
        JSON_FOUND);
    CHECK(tr && n == 15 && strlen(out) == 15);
}

/* json_find_members gives, key by key, what json_has_key gives, in one pass; json_string_at and
 * json_int_at read the values it found as json_find_string and json_find_int do. */
static void test_json_members(void)
{
    const char *docs[] = {
        "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": 7, \"num_buffers\": 2}",
        "{\"a\": {\"msgtype\": \"no\"}, \"msgtype\": \"ACK\", \"msgtype\": \"2nd\"}",
        "{\"msg\\u0074ype\": \"E\\u00e9\\ud83d\\ude00\", \"msgid\": \"x\\\"y\\\\z\"}",
        "{\"msgid\": \"p1\", \"msgtype\": \"O",
        "{\"msgid\": \"p1\", \"reqid\": [1, \"]\"], \"num_buffers\": 12",
        "{\"msgid\": \"p1\" \"msgtype\": \"OK\"}",
        "{\"msgid\": \"p1\", \"msgtype\": \"OK\"} trailing",
        "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": -",
        "{}",
        "",
        "[1]",
        "{\"msgid\": 1.5, \"msgtype\": \"\\x\"}",
        "{\"msgid\": \"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
    };
    const char *keys[] = {"msgtype", "msgid", "reqid", "num_buffers", "zz", ""};
    enum { NK = sizeof keys / sizeof keys[0] };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        size_t len = strlen(docs[d]);
        for (size_t cut = 0; cut <= len; cut++) {
            json_member f[NK];
            for (size_t k = 0; k < NK; k++)
                f[k].key = keys[k];
            json_find_members(docs[d], cut, f, NK);
            for (size_t k = 0; k < NK; k++) {
                CHECK_EQ_INT(f[k].rc, json_has_key(docs[d], cut, keys[k]));
                if (f[k].rc != JSON_FOUND)
                    continue;
                CHECK(f[k].at < cut);
                char a[8], b[8];
                size_t an, bn;
                bool at, bt;
                int rc = json_find_string(docs[d], cut, keys[k], a, sizeof a, &an, &at);
                CHECK_EQ_INT(json_string_at(docs[d], cut, f[k].at, b, sizeof b, &bn, &bt), rc);
                CHECK(an == bn && at == bt && strcmp(a, b) == 0);
                int64_t av = 5, bv = 5;
                rc = json_find_int(docs[d], cut, keys[k], &av);
                CHECK_EQ_INT(json_int_at(docs[d], cut, f[k].at, &bv), rc);
                CHECK(av == bv);
            }
        }
    }
    json_member one = {.key = "a"};
    json_find_members(NULL, 5, &one, 1);
    CHECK_EQ_INT(one.rc, JSON_BAD);
    json_member none = {.key = NULL};
    json_find_members("{\"a\": 1}", 8, &none, 1);
    CHECK_EQ_INT(none.rc, JSON_BAD);
    char out[4] = "zzz";
    CHECK_EQ_INT(json_string_at("{\"a\": \"b\"}", 10, 10, out, sizeof out, NULL, NULL), JSON_CUT);
    CHECK_EQ_STR(out, "");
    int64_t v;
    CHECK_EQ_INT(json_int_at("{\"a\": 12", 8, 6, &v), JSON_CUT);
    CHECK(v == 12);
}

/* Strings longer than a machine word, with escapes and control characters at every offset:
 * the word-at-a-time scan stops exactly where the byte-at-a-time one would. */
static void test_json_long_strings(void)
{
    for (size_t at = 0; at < 40; at++) {
        for (int kind = 0; kind < 4; kind++) {
            char doc[80], out[64];
            size_t n;
            bool tr;
            memset(doc, 'x', sizeof doc);
            memcpy(doc, "{\"a\": \"", 7);
            char *body = doc + 7;
            static const char special[] = {'"', '\\', '\x1f', '\x7f'};
            body[at] = special[kind];
            if (kind == 1)
                body[at + 1] = 'n';
            body[44] = '"';
            body[45] = '}';
            size_t len = 7 + 46;
            int rc = json_find_string(doc, len, "a", out, sizeof out, &n, &tr);
            if (kind == 0) {
                CHECK_EQ_INT(rc, JSON_FOUND);
                CHECK_EQ_INT(n, at);
            } else if (kind == 1) {
                CHECK_EQ_INT(rc, JSON_FOUND);
                CHECK_EQ_INT(n, 43);
                CHECK(out[at] == '\n');
            } else if (kind == 2) {
                CHECK_EQ_INT(rc, JSON_BAD);
                CHECK_EQ_INT(n, at);
            } else {
                CHECK_EQ_INT(rc, JSON_FOUND); /* DEL is an ordinary character */
                CHECK_EQ_INT(n, 44);
            }
            for (size_t cap = 1; cap < 50; cap += 7) {
                rc = json_find_string(doc, len, "a", out, cap, &n, &tr);
                CHECK(n < cap && strlen(out) == n);
            }
        }
    }
}

static void test_base64(void)
{
    uint8_t out[16];
    size_t n;
    CHECK_EQ_INT(ow_b64_decode("aGVsbG8", 7, OW_B64_URL, out, sizeof out, &n), 0);
    CHECK(n == 5 && memcmp(out, "hello", 5) == 0);
    CHECK_EQ_INT(ow_b64_decode("aGVsbG8=", 8, OW_B64_STD, out, sizeof out, &n), 0);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(ow_b64_decode("-_-_", 4, OW_B64_URL, out, sizeof out, &n), 0);
    CHECK(n == 3 && out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
    CHECK_EQ_INT(ow_b64_decode("-_-_", 4, OW_B64_STD, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("+/+/", 4, OW_B64_URL, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("+/+/", 4, OW_B64_ANY, out, sizeof out, &n), 0);
    CHECK_EQ_INT(ow_b64_decode("aGVsb", 5, OW_B64_URL, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("aG=s", 4, OW_B64_URL, out, sizeof out, &n), -1);
    CHECK_EQ_INT(ow_b64_decode("aGVsbG8gd29ybGQ", 15, OW_B64_URL, out, 4, &n), 1);
    CHECK(n == 4 && memcmp(out, "hell", 4) == 0);
    CHECK_EQ_INT(ow_b64_decoded_max(15), 11);
}

/* ---- message assembly ---- */

static int feed_text(bokeh_stream *s, const char *t, bokeh_msg *m)
{
    return bokeh_stream_feed(s, false, (const uint8_t *)t, strlen(t), strlen(t), m);
}

static int feed_binary(bokeh_stream *s, size_t n, bokeh_msg *m)
{
    static uint8_t buf[64];
    return bokeh_stream_feed(s, true, buf, n < sizeof buf ? n : sizeof buf, n, m);
}

static void test_messages(void)
{
    bokeh_stream s;
    bokeh_msg m;
    bokeh_stream_init(&s);

    /* ACK as the server sends it first. */
    const char *ack = "{\"msgid\": \"p1051\", \"msgtype\": \"ACK\"}";
    CHECK_EQ_INT(feed_text(&s, ack, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 1);
    CHECK_EQ_STR(m.msgtype, "ACK");
    CHECK_EQ_STR(m.msgid, "p1051");
    CHECK_EQ_STR(m.reqid, "");
    CHECK_EQ_INT(m.num_buffers, 0);
    CHECK_EQ_INT(m.size, strlen(ack) + 4);
    CHECK_EQ_INT(m.content_size, 2);

    /* PULL-DOC-REQ in the browser's compact format. */
    CHECK_EQ_INT(feed_text(&s,
                           "{\"msgid\":\"6E4B8753F06147178FA49157928876FD\","
                           "\"msgtype\":\"PULL-DOC-REQ\"}",
                           &m),
                 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 1);
    CHECK_EQ_STR(m.msgtype, "PULL-DOC-REQ");
    CHECK_EQ_STR(m.msgid, "6E4B8753F06147178FA49157928876FD");

    /* PATCH-DOC with two buffers: text id + binary, twice. */
    const char *hdr = "{\"msgid\": \"p1070\", \"msgtype\": \"PATCH-DOC\", \"reqid\": \"A1\", "
                      "\"num_buffers\": 2}";
    const char *content = "{\"events\":[{\"kind\":\"ColumnsStreamed\",\"data\":{\"x\":{\"id\":"
                          "\"p1060\"}}}]}";
    CHECK_EQ_INT(feed_text(&s, hdr, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, content, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"id\": \"p1060\"}", &m), 0);
    CHECK_EQ_INT(feed_binary(&s, 800, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"id\": \"p1061\"}", &m), 0);
    CHECK_EQ_INT(feed_binary(&s, 1600, &m), 1);
    CHECK_EQ_STR(m.msgtype, "PATCH-DOC");
    CHECK_EQ_STR(m.reqid, "A1");
    CHECK_EQ_INT(m.num_buffers, 2);
    CHECK_EQ_INT(m.content_size, strlen(content));
    CHECK_EQ_INT(m.size, strlen(hdr) + 2 + strlen(content) + 2 * 15 + 800 + 1600);
    CHECK_EQ_INT(s.messages, 3);
    CHECK_EQ_INT(s.errors, 0);

    /* Wrong order: a text where the binary buffer belongs, then recovery on the next header. */
    hdr = "{\"msgid\": \"p1080\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}";
    CHECK_EQ_INT(feed_text(&s, hdr, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"events\":[]}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"id\": \"0\"}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"id\": \"1\"}", &m), -1);
    CHECK_EQ_INT(s.errors, 1);
    CHECK_EQ_INT(feed_binary(&s, 10, &m), 0); /* skipped while resynchronising */
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0); /* not a header: skipped */
    CHECK_EQ_INT(
        feed_text(&s, "{\"msgid\": \"p1090\", \"msgtype\": \"OK\", \"reqid\": \"B2\"}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 1);
    CHECK_EQ_STR(m.msgtype, "OK");
    CHECK_EQ_STR(m.reqid, "B2");
    CHECK_EQ_INT(s.errors, 1);

    /* A binary frame as header, and a header that does not parse. */
    CHECK_EQ_INT(feed_binary(&s, 8, &m), -1);
    CHECK_EQ_INT(feed_text(&s, ack, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 1);
    CHECK_EQ_INT(feed_text(&s, "{\"msgid\": \"p1\", \"msgtype\": ACK}", &m), -1);
    CHECK_EQ_INT(feed_text(&s, "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": -1}", &m),
                 0); /* still resynchronising: a bad header is skipped quietly */
    CHECK_EQ_INT(s.errors, 3);

    /* A header arriving where a later part was expected: error, and it starts a new message. */
    bokeh_stream_init(&s);
    CHECK_EQ_INT(feed_text(&s, ack, &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{\"msgid\": \"p2\", \"msgtype\": \"OK\", \"reqid\": \"r\"}", &m),
                 -1);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 1);
    CHECK_EQ_STR(m.msgid, "p2");

    /* A header delivered truncated: parse what was kept. */
    bokeh_stream_init(&s);
    const char *full =
        "{\"msgid\": \"p1052\", \"msgtype\": \"PULL-DOC-REPLY\", \"reqid\": \"6E4B\"}";
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)full, 50, strlen(full), &m), 0);
    CHECK_EQ_INT(feed_text(&s, "{}", &m), 0);
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)"{\"doc\"", 6, 5000000, &m), 1);
    CHECK_EQ_STR(m.msgtype, "PULL-DOC-REPLY");
    CHECK_EQ_INT(m.content_size, 5000000);
    CHECK_EQ_INT(m.size, strlen(full) + 2 + 5000000);
    CHECK_EQ_INT(s.errors, 0);

    /* A numeric msgid cut before its first digit has no value (not stack garbage). */
    bokeh_stream_init(&s);
    const char *cut_id = "{\"msgtype\": \"OK\", \"msgid\": -";
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)cut_id, strlen(cut_id), 500, &m), 0);
    CHECK_EQ_STR(s.cur.msgid, "");
    const char *cut_num = "{\"msgtype\": \"OK\", \"msgid\": 12";
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)"{}", 2, 2, &m), 0);
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)"{}", 2, 2, &m), 1);
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)cut_num, strlen(cut_num), 500, &m),
                 0);
    CHECK_EQ_STR(s.cur.msgid, "12");
}

int main(void)
{
    test_real_tokens();
    test_capture_tokens();
    test_synthetic_tokens();
    test_huge_tokens();
    test_find_tokens();
    test_subprotocol();
    test_query();
    test_json_scan();
    test_json_members();
    test_json_long_strings();
    test_base64();
    test_messages();
    TEST_MAIN_END("test_decode_bokeh");
}
