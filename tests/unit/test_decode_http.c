/* test_decode_http: the HTTP/1.x head parser and connection state machine (decode/http.h):
 * head syntax, body framing, pairing, upgrade, gaps, resync, hostile input, and that every
 * split of a stream gives the same events as the unsplit stream. */
#include "decode/http.h"
#include "tests/unit/testlib.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- an event recorder: every callback appends a line to a log ---- */

#define LOG_CAP   (1 << 18)
#define BODY_SHOW 160

typedef struct rec {
    char log[LOG_CAP];
    size_t len;
    bool want;                    /* what on_request / on_response return */
    uint64_t body_hash[2];        /* FNV-1a of the current message's delivered body */
    uint64_t body_seen[2];        /* bytes delivered through on_body */
    char body_text[2][BODY_SHOW]; /* its first bytes */
    int requests, responses, interims, upgrades, errors, ends, incomplete, tls;
    bool last_ws; /* upgrade_websocket of the last request */
} rec;

static void logf_(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(rec *r, const char *fmt, ...)
{
    if (r->len >= LOG_CAP - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->len, LOG_CAP - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < LOG_CAP - r->len ? (size_t)n : LOG_CAP - 1 - r->len;
}

static bool cb_request(void *ctx, const http_head *h, const http_request_info *info)
{
    rec *r = ctx;
    r->requests++;
    r->last_ws = info->upgrade_websocket;
    logf_(r, "REQ %s %.*s 1.%d #%u ws=%d hdrs=%zu\n", info->method, (int)h->target_len, h->target,
          h->minor_version, info->index, info->upgrade_websocket, h->num_headers);
    return r->want;
}

static bool cb_response(void *ctx, const http_head *h, const http_request_info *req)
{
    rec *r = ctx;
    r->responses++;
    logf_(r, "RESP %d \"%.*s\" req=%d %s\n", h->status, (int)h->reason_len, h->reason,
          req ? (int)req->index : -1, req ? req->method : "-");
    return r->want;
}

static void cb_interim(void *ctx, const http_head *h)
{
    rec *r = ctx;
    r->interims++;
    logf_(r, "INTERIM %d\n", h->status);
}

static void cb_body(void *ctx, int dir, const uint8_t *data, size_t len)
{
    rec *r = ctx;
    for (size_t i = 0; i < len; i++) {
        if (r->body_seen[dir] < BODY_SHOW - 1)
            r->body_text[dir][r->body_seen[dir]] = (char)data[i];
        r->body_seen[dir]++;
        r->body_hash[dir] = (r->body_hash[dir] ^ data[i]) * 1099511628211ull;
    }
}

static void cb_end(void *ctx, int dir, uint64_t body_bytes, bool complete)
{
    rec *r = ctx;
    size_t shown = r->body_seen[dir] < BODY_SHOW - 1 ? (size_t)r->body_seen[dir] : BODY_SHOW - 1;
    r->ends++;
    r->incomplete += !complete;
    logf_(r, "END %s bytes=%llu complete=%d seen=%llu hash=%016llx body=[%.*s]\n",
          dir == HTTP_DIR_REQUEST ? "req" : "resp", (unsigned long long)body_bytes, complete,
          (unsigned long long)r->body_seen[dir], (unsigned long long)r->body_hash[dir], (int)shown,
          r->body_text[dir]);
    r->body_seen[dir] = 0;
    r->body_hash[dir] = 1469598103934665603ull;
}

static void cb_upgrade(void *ctx, const http_request_info *req)
{
    rec *r = ctx;
    r->upgrades++;
    logf_(r, "UPGRADE req=%d\n", req ? (int)req->index : -1);
}

static void cb_error(void *ctx, int dir, const char *why)
{
    rec *r = ctx;
    r->errors++;
    logf_(r, "ERROR %s %s\n", dir == HTTP_DIR_REQUEST ? "req" : "resp", why);
}

static void cb_tls(void *ctx, int dir)
{
    rec *r = ctx;
    r->tls++;
    logf_(r, "TLS %s\n", dir == HTTP_DIR_REQUEST ? "req" : "resp");
}

/* ---- a caller like the real one: keeps unconsumed bytes and re-offers them ---- */

typedef struct caller {
    http_conn conn;
    rec r;
    uint8_t *buf[2];
    size_t len[2], cap[2], max_len[2];
} caller;

static caller *caller_new(bool want)
{
    caller *k = calloc(1, sizeof *k);
    http_callbacks cb = {&k->r,  cb_request, cb_response, cb_interim, cb_body,
                         cb_end, cb_upgrade, cb_error,    cb_tls};
    k->r.want = want;
    k->r.body_hash[0] = k->r.body_hash[1] = 1469598103934665603ull;
    http_conn_init(&k->conn, &cb);
    return k;
}

static void caller_free(caller *k)
{
    free(k->buf[0]);
    free(k->buf[1]);
    free(k);
}

static void caller_feed(caller *k, int dir, const void *data, size_t n)
{
    if (k->len[dir] + n > k->cap[dir]) {
        size_t cap = (k->len[dir] + n) * 2 + 64;
        k->buf[dir] = realloc(k->buf[dir], cap);
        k->cap[dir] = cap;
    }
    if (n)
        memcpy(k->buf[dir] + k->len[dir], data, n);
    k->len[dir] += n;
    if (k->len[dir] > k->max_len[dir])
        k->max_len[dir] = k->len[dir];
    size_t used = http_conn_feed(&k->conn, dir, k->buf[dir], k->len[dir]);
    if (used > k->len[dir]) {
        CHECK(used <= k->len[dir]);
        used = k->len[dir];
    }
    memmove(k->buf[dir], k->buf[dir] + used, k->len[dir] - used);
    k->len[dir] -= used;
}

static void caller_feed_str(caller *k, int dir, const char *s)
{
    caller_feed(k, dir, s, strlen(s));
}

static void caller_gap(caller *k, int dir, uint64_t len)
{
    k->len[dir] = 0; /* what was held precedes the hole */
    http_conn_gap(&k->conn, dir, len);
}

static void caller_eof(caller *k, int dir)
{
    http_conn_eof(&k->conn, dir);
}

static bool log_has(const caller *k, const char *needle)
{
    return strstr(k->r.log, needle) != NULL;
}

static int log_count(const caller *k, const char *needle)
{
    int n = 0;
    for (const char *p = k->r.log; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

#define REQ_DIR  HTTP_DIR_REQUEST
#define RESP_DIR HTTP_DIR_RESPONSE

/* ================= head parser ================= */

static void test_parse_request(void)
{
    const char *req = "GET /bserve_test?visit=1 HTTP/1.1\r\n"
                      "Host: 100.64.0.1:5006\r\n"
                      "Accept:  text/html  \r\n"
                      "X-Empty:\r\n"
                      "\r\n";
    http_head h;
    int n = http_parse_request_head(req, strlen(req), &h);
    CHECK_EQ_INT(n, (int)strlen(req));
    CHECK_EQ_INT(h.head_len, strlen(req));
    CHECK_EQ_INT(h.method_len, 3);
    CHECK(memcmp(h.method, "GET", 3) == 0);
    CHECK_EQ_INT(h.target_len, strlen("/bserve_test?visit=1"));
    CHECK(memcmp(h.target, "/bserve_test?visit=1", h.target_len) == 0);
    CHECK_EQ_INT(h.minor_version, 1);
    CHECK_EQ_INT(h.num_headers, 3);
    CHECK_EQ_INT(h.headers[1].value_len, 9); /* OWS trimmed on both sides */
    CHECK(memcmp(h.headers[1].value, "text/html", 9) == 0);
    CHECK_EQ_INT(h.headers[2].value_len, 0);
    /* every proper prefix needs more */
    int need = 0;
    for (size_t i = 0; i < strlen(req); i++)
        need += http_parse_request_head(req, i, &h) == HTTP_NEED_MORE;
    CHECK_EQ_INT(need, (int)strlen(req));
    /* bytes after the head do not change its length */
    char longer[512];
    snprintf(longer, sizeof longer, "%sBODY", req);
    CHECK_EQ_INT(http_parse_request_head(longer, strlen(longer), &h), (int)strlen(req));
    /* HTTP/1.0 */
    const char *r10 = "POST /x HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    CHECK_EQ_INT(http_parse_request_head(r10, strlen(r10), &h), (int)strlen(r10));
    CHECK_EQ_INT(h.minor_version, 0);
}

static void test_parse_response(void)
{
    http_head h;
    const char *r = "HTTP/1.1 200 OK\r\nServer: TornadoServer/6.2\r\n\r\n";
    CHECK_EQ_INT(http_parse_response_head(r, strlen(r), &h), (int)strlen(r));
    CHECK_EQ_INT(h.status, 200);
    CHECK_EQ_INT(h.reason_len, 2);
    CHECK(memcmp(h.reason, "OK", 2) == 0);
    const char *noreason = "HTTP/1.1 204\r\n\r\n";
    CHECK_EQ_INT(http_parse_response_head(noreason, strlen(noreason), &h), (int)strlen(noreason));
    CHECK_EQ_INT(h.status, 204);
    CHECK_EQ_INT(h.reason_len, 0);
    const char *emptyreason = "HTTP/1.0 404 \r\n\r\n";
    CHECK_EQ_INT(http_parse_response_head(emptyreason, strlen(emptyreason), &h),
                 (int)strlen(emptyreason));
    CHECK_EQ_INT(h.status, 404);
    CHECK_EQ_INT(h.reason_len, 0);
    CHECK_EQ_INT(h.minor_version, 0);
    const char *spaced = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    CHECK_EQ_INT(http_parse_response_head(spaced, strlen(spaced), &h), (int)strlen(spaced));
    CHECK_EQ_INT(h.reason_len, strlen("Switching Protocols"));
}

static void test_parse_bare_lf_and_leading_lines(void)
{
    http_head h;
    const char *lf = "GET / HTTP/1.1\nHost: a\nX: b\n\n";
    CHECK_EQ_INT(http_parse_request_head(lf, strlen(lf), &h), (int)strlen(lf));
    CHECK_EQ_INT(h.num_headers, 2);
    CHECK_EQ_INT(h.headers[1].value_len, 1);
    CHECK(h.headers[1].value[0] == 'b');
    const char *mixed = "HTTP/1.1 200 OK\nA: 1\r\n\n";
    CHECK_EQ_INT(http_parse_response_head(mixed, strlen(mixed), &h), (int)strlen(mixed));
    const char *lead = "\r\n\nGET / HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(http_parse_request_head(lead, strlen(lead), &h), (int)strlen(lead));
    CHECK_EQ_INT(h.method_len, 3);
    CHECK(http_parse_request_head("\r\n\r\n", 4, &h) == HTTP_NEED_MORE);
    CHECK(http_parse_request_head("\rX", 2, &h) == HTTP_ERROR);
}

static void test_parse_folding(void)
{
    http_head h;
    const char *f = "GET / HTTP/1.1\r\n"
                    "X-Long: first\r\n"
                    " second\r\n"
                    "\tthird  \r\n"
                    "X-Empty:\r\n"
                    "   late\r\n"
                    "Host: h\r\n\r\n";
    CHECK_EQ_INT(http_parse_request_head(f, strlen(f), &h), (int)strlen(f));
    CHECK_EQ_INT(h.num_headers, 3);
    const http_header *x = http_find_header(&h, "x-long");
    CHECK(x != NULL);
    if (x) {
        const char *want = "first\r\n second\r\n\tthird";
        CHECK_EQ_INT(x->value_len, strlen(want));
        CHECK(memcmp(x->value, want, strlen(want)) == 0);
    }
    const http_header *e = http_find_header(&h, "X-EMPTY");
    CHECK(e && e->value_len == 4 && memcmp(e->value, "late", 4) == 0);
    /* a continuation with no header before it */
    const char *bad = "GET / HTTP/1.1\r\n folded\r\n\r\n";
    CHECK_EQ_INT(http_parse_request_head(bad, strlen(bad), &h), HTTP_ERROR);
}

static void test_find_header_and_tokens(void)
{
    http_head h;
    const char *r = "GET /ws HTTP/1.1\r\nHOST: a\r\nconnection: keep-alive, Upgrade\r\n"
                    "Upgrade: WebSocket\r\nhost: second\r\n\r\n";
    CHECK(http_parse_request_head(r, strlen(r), &h) > 0);
    const http_header *host = http_find_header(&h, "Host");
    CHECK(host && host->value_len == 1 && host->value[0] == 'a'); /* the first match */
    const http_header *conn = http_find_header(&h, "CONNECTION");
    CHECK(conn != NULL);
    CHECK(http_find_header(&h, "Hos") == NULL);
    CHECK(http_find_header(&h, "Cookie") == NULL);
    if (conn) {
        CHECK(http_value_has_token(conn->value, conn->value_len, "upgrade"));
        CHECK(http_value_has_token(conn->value, conn->value_len, "Keep-Alive"));
        CHECK(!http_value_has_token(conn->value, conn->value_len, "keep"));
        CHECK(!http_value_has_token(conn->value, conn->value_len, "close"));
    }
    const char *v = " ,  , close ,";
    CHECK(http_value_has_token(v, strlen(v), "close"));
    CHECK(!http_value_has_token(v, strlen(v), ""));
    CHECK(!http_value_has_token("upgradex", 8, "upgrade"));
    CHECK(!http_value_has_token(NULL, 0, "upgrade"));
}

static void test_parse_errors(void)
{
    http_head h;
    const char *bad_status[] = {"HTTP/1.1 20 OK\r\n\r\n",      "HTTP/1.1 2000 OK\r\n\r\n",
                                "HTTP/2 200 OK\r\n\r\n",       "HTTP/1.2 200 OK\r\n\r\n",
                                "HTTX/1.1 200 OK\r\n\r\n",     "HTTP/1.1 abc OK\r\n\r\n",
                                "HTTP/1.1 099 OK\r\n\r\n",     "HTTP/1.1200 OK\r\n\r\n",
                                "HTTP/1.1 200 O\001K\r\n\r\n", "HTTP/1.1 200 OK\r\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad_status / sizeof *bad_status; i++) {
        int rc = http_parse_response_head(bad_status[i], strlen(bad_status[i]), &h);
        if (rc != HTTP_ERROR)
            fprintf(stderr, "  accepted bad status line #%zu\n", i);
        CHECK_EQ_INT(rc, HTTP_ERROR);
    }
    const char *bad_req[] = {"GET /\r\n\r\n",
                             "GET  HTTP/1.1\r\n\r\n",
                             "G(T / HTTP/1.1\r\n\r\n",
                             "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                             "GET / HTTP/1.1\r\n: a\r\n\r\n",
                             "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                             "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n",
                             "GET / HTTP/1.1 \r\n\r\n",
                             "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"};
    for (size_t i = 0; i < sizeof bad_req / sizeof *bad_req; i++) {
        int rc = http_parse_request_head(bad_req[i], strlen(bad_req[i]), &h);
        if (rc != HTTP_ERROR)
            fprintf(stderr, "  accepted bad request #%zu\n", i);
        CHECK_EQ_INT(rc, HTTP_ERROR);
    }
    /* a NUL inside a header value */
    const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    CHECK_EQ_INT(http_parse_request_head(nul, sizeof nul - 1, &h), HTTP_ERROR);
}

/* A head of n header lines "X-Hi: v". */
static char *many_headers(size_t n, size_t *len)
{
    size_t cap = 64 + n * 16;
    char *s = malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "GET /many HTTP/1.1\r\n");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "X-H%zu: v\r\n", i % 1000);
    o += (size_t)snprintf(s + o, cap - o, "\r\n");
    *len = o;
    return s;
}

/* A valid request head of exactly `size` bytes (one long header value). */
static char *head_of_size(size_t size)
{
    const char *pre = "GET / HTTP/1.1\r\nX: ";
    size_t fill = size - strlen(pre) - 4;
    char *s = malloc(size);
    memcpy(s, pre, strlen(pre));
    memset(s + strlen(pre), 'b', fill);
    memcpy(s + strlen(pre) + fill, "\r\n\r\n", 4);
    return s;
}

static void test_parse_limits(void)
{
    http_head h;
    size_t len;
    char *ok = many_headers(HTTP_MAX_HEADERS, &len);
    CHECK_EQ_INT(http_parse_request_head(ok, len, &h), (int)len);
    CHECK_EQ_INT(h.num_headers, HTTP_MAX_HEADERS);
    free(ok);
    char *over = many_headers(HTTP_MAX_HEADERS + 1, &len);
    CHECK_EQ_INT(http_parse_request_head(over, len, &h), HTTP_ERROR);
    free(over);
    char *huge = many_headers(10000, &len);
    CHECK_EQ_INT(http_parse_request_head(huge, len, &h), HTTP_ERROR);
    free(huge);
    /* one 1 MB header line: need more below the limit, error at and above it */
    size_t big = 1 << 20;
    char *line = malloc(big + 64);
    size_t o = (size_t)snprintf(line, 64, "GET / HTTP/1.1\r\nX-Big: ");
    memset(line + o, 'a', big);
    memcpy(line + o + big, "\r\n\r\n", 4);
    CHECK_EQ_INT(http_parse_request_head(line, HTTP_MAX_HEAD_BYTES - 1, &h), HTTP_NEED_MORE);
    CHECK_EQ_INT(http_parse_request_head(line, HTTP_MAX_HEAD_BYTES, &h), HTTP_ERROR);
    CHECK_EQ_INT(http_parse_request_head(line, o + big + 4, &h), HTTP_ERROR);
    free(line);
    /* a head of exactly HTTP_MAX_HEAD_BYTES is accepted, one byte more is not */
    char *exact = head_of_size(HTTP_MAX_HEAD_BYTES);
    CHECK_EQ_INT(http_parse_request_head(exact, HTTP_MAX_HEAD_BYTES, &h), HTTP_MAX_HEAD_BYTES);
    free(exact);
    char *over1 = head_of_size(HTTP_MAX_HEAD_BYTES + 1);
    CHECK_EQ_INT(http_parse_request_head(over1, HTTP_MAX_HEAD_BYTES + 1, &h), HTTP_ERROR);
    CHECK_EQ_INT(http_parse_request_head(over1, HTTP_MAX_HEAD_BYTES - 1, &h), HTTP_NEED_MORE);
    free(over1);
}

/* ================= connection: framing ================= */

static void test_conn_keepalive(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    caller_feed_str(k, REQ_DIR, "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    CHECK_EQ_INT(k->r.requests, 2);
    CHECK_EQ_INT(k->r.responses, 2);
    CHECK(log_has(k, "RESP 200 \"OK\" req=0 GET\n"));
    CHECK(log_has(k, "body=[hello]"));
    CHECK(log_has(k, "END req bytes=3 complete=1 seen=3"));
    CHECK(log_has(k, "RESP 201 \"Created\" req=1 POST\n"));
    CHECK_EQ_INT(k->r.incomplete, 0);
    CHECK_EQ_INT(k->r.ends, 4);
    CHECK_EQ_INT(k->len[0] + k->len[1], 0);
    CHECK_EQ_INT(k->conn.requests, 2);
    CHECK_EQ_INT(k->conn.responses, 2);
    CHECK_EQ_INT(k->conn.pend_count, 0);
    caller_free(k);
}

static void test_conn_pipelined(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(k->r.requests, 3);
    CHECK_EQ_INT(k->conn.pend_count, 3);
    CHECK_EQ_INT(k->r.responses, 0);
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nA1"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" /* HEAD: no body */
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nC3");
    CHECK_EQ_INT(k->r.responses, 3);
    CHECK(log_has(k, "req=0 GET\n"));
    CHECK(log_has(k, "req=1 HEAD\nEND resp bytes=0 complete=1"));
    CHECK(log_has(k, "req=2 GET\n"));
    CHECK(log_has(k, "body=[A1]"));
    CHECK(log_has(k, "body=[C3]"));
    CHECK_EQ_INT(k->conn.pend_count, 0);
    CHECK_EQ_INT(k->r.errors, 0);
    caller_free(k);
}

static void test_conn_no_body_statuses(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
                    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK_EQ_INT(k->r.responses, 3);
    CHECK_EQ_INT(log_count(k, "END resp bytes=0 complete=1"), 2);
    CHECK(log_has(k, "RESP 200 \"OK\" req=2"));
    CHECK(log_has(k, "body=[ok]"));
    CHECK_EQ_INT(k->r.errors, 0);
    caller_free(k);
}

static void test_conn_continue(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK_EQ_INT(k->r.interims, 1);
    CHECK_EQ_INT(k->r.responses, 0);
    CHECK_EQ_INT(k->conn.pend_count, 1); /* the real response still follows */
    caller_feed_str(k, REQ_DIR, "data");
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 103 Early Hints\r\nLink: </s.js>\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK_EQ_INT(k->r.interims, 2);
    CHECK_EQ_INT(k->r.responses, 1);
    CHECK(log_has(k, "INTERIM 100\n"));
    CHECK(log_has(k, "RESP 200 \"OK\" req=0 POST"));
    CHECK(log_has(k, "END req bytes=4 complete=1 seen=4"));
    CHECK_EQ_INT(k->r.ends, 2); /* interims have no END */
    caller_free(k);
}

static void test_conn_upgrade(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "GET /bserve_test/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    CHECK(k->r.last_ws);
    const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n\r\n\x81\x05hello";
    size_t head = strlen("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\n\r\n");
    size_t used = http_conn_feed(&k->conn, RESP_DIR, (const uint8_t *)resp, head + 7);
    CHECK_EQ_INT(used, head); /* the websocket frame is left to the caller */
    CHECK_EQ_INT(k->r.upgrades, 1);
    CHECK(k->conn.upgraded);
    CHECK(log_has(k, "RESP 101 \"Switching Protocols\" req=0 GET\nEND resp bytes=0 complete=1 "));
    CHECK(log_has(k, "UPGRADE req=0\n"));
    CHECK_EQ_INT(http_conn_feed(&k->conn, RESP_DIR, (const uint8_t *)"\x81\x05hello", 7), 0);
    CHECK_EQ_INT(http_conn_feed(&k->conn, REQ_DIR, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18),
                 0);
    size_t before = k->r.len;
    http_conn_gap(&k->conn, REQ_DIR, 10);
    http_conn_eof(&k->conn, REQ_DIR);
    http_conn_eof(&k->conn, RESP_DIR);
    CHECK_EQ_INT(k->r.len, before); /* nothing more from HTTP */
    caller_free(k);
}

static void test_conn_connect_tunnel(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03garbage");
    caller_feed_str(k, REQ_DIR, "\x16\x03\x01 client hello GET / HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(k->r.responses, 1);
    CHECK_EQ_INT(k->r.requests, 1); /* the tunnel content is not parsed */
    CHECK_EQ_INT(k->r.errors, 0);
    CHECK_EQ_INT(k->len[0] + k->len[1], 0); /* consumed */
    CHECK(log_has(k, "RESP 200 \"Connection established\" req=0 CONNECT\nEND resp bytes=0 "
                     "complete=1"));
    /* a refused CONNECT is an ordinary response */
    caller *r = caller_new(true);
    caller_feed_str(r, REQ_DIR, "CONNECT x:1 HTTP/1.1\r\n\r\n");
    caller_feed_str(r, RESP_DIR, "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 1\r\n\r\nz");
    caller_feed_str(r, REQ_DIR, "GET /next HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(r->r.requests, 2);
    CHECK(log_has(r, "body=[z]"));
    caller_free(r);
    caller_free(k);
}

static void test_conn_chunked(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR, "GET /c HTTP/1.1\r\n\r\n");
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\nContent-Length: 3\r\n"
                    "\r\n"
                    "5;name=value;x=\"q\"\r\nhello\r\n"
                    "A \r\n, world!!!\r\n"
                    "000\r\n"
                    "Expires: never\r\nX-Trailer: 1\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
    CHECK(log_has(k, "END resp bytes=15 complete=1 seen=15 hash="));
    CHECK(log_has(k, "body=[hello, world!!!]"));
    CHECK_EQ_INT(k->r.responses, 2); /* the second (unpaired) response follows the trailers */
    CHECK(log_has(k, "req=-1 -"));
    CHECK_EQ_INT(k->r.errors, 0);
    /* a chunked request body, with bare LFs */
    caller_feed_str(k, REQ_DIR, "POST /p HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
    CHECK(log_has(k, "END req bytes=3 complete=1 seen=3"));
    CHECK_EQ_INT(k->len[0] + k->len[1], 0);
    caller_free(k);
}

static void test_conn_until_close(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR, "GET / HTTP/1.0\r\n\r\n");
    caller_feed_str(k, RESP_DIR, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\n"); /* just body bytes now */
    CHECK_EQ_INT(k->r.ends, 1);                          /* the request only */
    caller_eof(k, RESP_DIR);
    CHECK(log_has(k, "END resp bytes=20 complete=1 seen=20"));
    CHECK_EQ_INT(k->r.responses, 1);
    /* Transfer-Encoding without chunked in a response: until close */
    caller *t = caller_new(false);
    caller_feed_str(t, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n12345");
    caller_eof(t, RESP_DIR);
    CHECK(log_has(t, "END resp bytes=5 complete=1 seen=0"));
    caller_free(t);
    caller_free(k);
}

static void test_conn_body_not_wanted(void)
{
    caller *k = caller_new(false);
    caller_feed_str(k, REQ_DIR, "POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\nsecret");
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4\r\nabcd\r\n0\r\n\r\n");
    CHECK(log_has(k, "END req bytes=6 complete=1 seen=0"));
    CHECK(log_has(k, "END resp bytes=4 complete=1 seen=0"));
    caller_free(k);
}

static void test_conn_bad_content_length(void)
{
    const char *bad[] = {"abc", "-5", "5, 6", "99999999999999999999", "", "0x10", "+4", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        caller *k = caller_new(true);
        char resp[256];
        caller_feed_str(k, REQ_DIR, "GET / HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\nbodybody\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                 bad[i]);
        caller_feed_str(k, RESP_DIR, resp);
        CHECK_EQ_INT(k->r.errors, 1);
        CHECK(log_has(k, "ERROR resp invalid response body framing\nEND resp bytes=0 complete=0"));
        CHECK(log_has(k, "RESP 200 \"OK\" req=1 GET\nEND resp bytes=2 complete=1")); /* resync */
        CHECK_EQ_INT(k->conn.errors, 1);
        caller_free(k);
    }
    /* conflicting headers; identical repeats are fine */
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR,
                    "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
    CHECK(log_has(k, "ERROR req invalid request body framing"));
    caller *ok = caller_new(true);
    caller_feed_str(ok, REQ_DIR,
                    "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\ncontent-length: 3\r\n\r\nabc");
    CHECK(log_has(ok, "END req bytes=3 complete=1"));
    CHECK_EQ_INT(ok->r.errors, 0);
    /* a request with a Transfer-Encoding that is not chunked cannot be framed */
    caller *te = caller_new(true);
    caller_feed_str(te, REQ_DIR, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    CHECK_EQ_INT(te->r.errors, 1);
    caller_free(te);
    caller_free(ok);
    caller_free(k);
}

static void test_conn_chunk_errors(void)
{
    /* overflowing hex: error, message cut short, resync on the next response */
    caller *k = caller_new(true);
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "10000000000000000\r\nxx\r\n"
                    "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(log_has(k, "ERROR resp chunk size overflows 64 bits\nEND resp bytes=0 complete=0"));
    CHECK(log_has(k, "RESP 204"));
    CHECK_EQ_INT(k->r.responses, 2);
    /* 2^64-1 is a valid (endless) chunk: framed, cut short at eof */
    caller *m = caller_new(false);
    caller_feed_str(m, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "ffffffffffffffff\r\nsome data");
    CHECK_EQ_INT(m->r.errors, 0);
    CHECK_EQ_INT(m->conn.dir[RESP_DIR].remaining, UINT64_MAX - 9);
    caller_eof(m, RESP_DIR);
    CHECK(log_has(m, "END resp bytes=9 complete=0"));
    /* garbage instead of a chunk size; a missing CRLF after data */
    caller *g = caller_new(true);
    caller_feed_str(g, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    caller_feed_str(g, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nabX\r\n");
    caller_feed_str(g, RESP_DIR,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nab\r\r\n0\r\n\r\n");
    CHECK_EQ_INT(g->r.errors, 3);
    CHECK_EQ_INT(log_count(g, "chunk data not followed by a line end"), 2);
    CHECK(log_has(g, "chunk-size line without a size"));
    CHECK(log_has(g, "chunk data not followed by a line end"));
    CHECK_EQ_INT(g->r.responses, 3);
    /* endless leading zeros / endless extension: an error after HTTP's line limit */
    caller *z = caller_new(true);
    caller_feed_str(z, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    char zeros[1000];
    memset(zeros, '0', sizeof zeros);
    for (int i = 0; i < 10; i++)
        caller_feed(z, RESP_DIR, zeros, sizeof zeros);
    CHECK(log_has(z, "chunk-size line too long"));
    CHECK_EQ_INT(z->r.errors, 1);
    CHECK(z->len[RESP_DIR] == 0); /* resync consumes */
    caller_free(z);
    caller_free(g);
    caller_free(m);
    caller_free(k);
}

static void test_conn_endless_chunked(void)
{
    caller *k = caller_new(false);
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    char piece[4096 + 16];
    int n = snprintf(piece, sizeof piece, "1000;e=1\r\n");
    memset(piece + n, 'x', 4096);
    memcpy(piece + n + 4096, "\r\n", 2);
    for (int i = 0; i < 2500; i++) /* ~10 MB, never ending */
        caller_feed(k, RESP_DIR, piece, (size_t)n + 4098);
    CHECK_EQ_INT(k->conn.dir[RESP_DIR].body_bytes, 2500ull * 4096);
    CHECK(k->max_len[RESP_DIR] <= sizeof piece); /* nothing accumulates */
    caller_eof(k, RESP_DIR);
    CHECK(log_has(k, "END resp bytes=10240000 complete=0"));
    caller_free(k);
}

/* ================= connection: gaps, resync, hostile input ================= */

static void test_conn_gap_in_body(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    caller_gap(k, RESP_DIR, 4);
    caller_feed_str(k, RESP_DIR, "hij");
    CHECK(log_has(k, "END resp bytes=10 complete=0 seen=6"));
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(log_has(k, "RESP 200 \"OK\" req=1 GET\nEND resp bytes=2 complete=1"));
    /* a gap inside chunk data keeps the framing */
    caller *c = caller_new(true);
    caller_feed_str(c, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab");
    caller_gap(c, RESP_DIR, 3);
    caller_feed_str(c, RESP_DIR, "fgh\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    CHECK(log_has(c, "END resp bytes=8 complete=0 seen=5"));
    CHECK(log_has(c, "RESP 204"));
    CHECK_EQ_INT(c->r.errors, 0);
    /* a gap that ends exactly at the end of a body */
    caller *e = caller_new(true);
    caller_feed_str(e, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
    caller_gap(e, RESP_DIR, 2);
    caller_feed_str(e, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nq");
    CHECK(log_has(e, "END resp bytes=4 complete=0"));
    CHECK(log_has(e, "body=[q]"));
    CHECK_EQ_INT(e->r.responses, 2);
    caller_free(e);
    caller_free(c);
    caller_free(k);
}

static void test_conn_gap_resync(void)
{
    caller *k = caller_new(true);
    /* a gap in the middle of a head: the rest is skipped up to the next request line */
    caller_feed_str(k, REQ_DIR, "GET /first HTTP/1.1\r\nHo");
    caller_gap(k, REQ_DIR, 100);
    caller_feed_str(k, REQ_DIR,
                    "kie: a=b\r\nAccept: */*\r\n\r\nxGET /no HTTP/1.1\r\n"
                    "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_EQ_INT(k->r.requests, 1);
    CHECK(log_has(k, "REQ GET /next 1.1 #0"));
    CHECK_EQ_INT(k->r.errors, 0); /* a gap is not malformed input */
    CHECK_EQ_INT(k->len[REQ_DIR], 0);
    /* a gap past the end of a body: the next response is found by resync */
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na");
    caller_gap(k, RESP_DIR, 50);
    caller_feed_str(k, RESP_DIR, "tail of something\r\nHTTP/1.1 304 Not Modified\r\n\r\n");
    CHECK(log_has(k, "END resp bytes=3 complete=0"));
    CHECK(log_has(k, "RESP 304"));
    /* a gap in an until-close body ends it and resyncs */
    caller *u = caller_new(true);
    caller_feed_str(u, RESP_DIR, "HTTP/1.0 200 OK\r\n\r\nabc");
    caller_gap(u, RESP_DIR, 7);
    caller_feed_str(u, RESP_DIR, "more\nHTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    CHECK(log_has(u, "END resp bytes=10 complete=0"));
    CHECK(log_has(u, "RESP 404"));
    /* a gap in a chunk-size line */
    caller *c = caller_new(true);
    caller_feed_str(c, RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1");
    caller_gap(c, RESP_DIR, 2);
    caller_feed_str(c, RESP_DIR, "\r\n0123456789abcdef\r\nHTTP/1.1 200 OK\r\n\r\n");
    CHECK(log_has(c, "END resp bytes=0 complete=0"));
    CHECK_EQ_INT(c->r.responses, 2);
    caller_free(c);
    caller_free(u);
    caller_free(k);
}

static void test_conn_malformed_resync(void)
{
    caller *k = caller_new(true);
    caller_feed_str(k, REQ_DIR, "GARBAGE\x01\x02 line\r\nmore garbage\r\nGET /ok HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(k->r.errors, 1); /* once per error */
    CHECK(log_has(k, "ERROR req malformed request head\nREQ GET /ok"));
    CHECK_EQ_INT(k->len[REQ_DIR], 0);
    /* a status line that is not one */
    caller_feed_str(k, RESP_DIR,
                    "HTTP/1.1 2xx OK\r\nContent-Length: 2\r\n\r\nok\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
    CHECK_EQ_INT(k->r.errors, 2);
    CHECK(log_has(k, "ERROR resp malformed response head\nRESP 200 \"OK\" req=0 GET\n"));
    CHECK(log_has(k, "body=[OK]"));
    /* binary garbage with no line end is refused early, not held until the size limit */
    caller *b = caller_new(true);
    uint8_t junk[40] = {0x01, 0x03, 0x01, 0x00, 0x23, 0x01};
    caller_feed(b, REQ_DIR, junk, sizeof junk);
    CHECK_EQ_INT(b->r.errors, 1);
    CHECK_EQ_INT(b->r.tls, 0);
    CHECK_EQ_INT(b->len[REQ_DIR], 0);
    /* a truncated head at eof is reported */
    caller *t = caller_new(true);
    caller_feed_str(t, REQ_DIR, "GET /cut HTTP/1.1\r\nHost: x\r\n");
    caller_eof(t, REQ_DIR);
    CHECK(log_has(t, "ERROR req head cut short by the end of the stream"));
    caller_free(t);
    caller_free(b);
    caller_free(k);
}

/* HTTPS on the port: the client's first bytes are a TLS record (a ClientHello: handshake 22,
 * legacy version 3.1). Nothing is parsed, nothing is an error, everything is consumed. */
static void test_conn_tls(void)
{
    const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    const uint8_t server[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03};
    const uint8_t app[] = {0x17, 0x03, 0x03, 0x00, 0x20, 'G', 'E', 'T', ' ', '/', 0x0d, 0x0a};
    caller *k = caller_new(true);
    caller_feed(k, REQ_DIR, hello, 4); /* four bytes cannot tell: kept */
    CHECK_EQ_INT(k->len[REQ_DIR], 4);
    CHECK_EQ_INT(k->r.tls + k->r.errors, 0);
    caller_feed(k, REQ_DIR, hello + 4, sizeof hello - 4);
    CHECK_EQ_INT(k->r.tls, 1);
    CHECK(log_has(k, "TLS req"));
    CHECK_EQ_INT(k->len[REQ_DIR], 0);
    caller_feed(k, RESP_DIR, server, sizeof server);
    caller_feed(k, REQ_DIR, app, sizeof app);
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    caller_gap(k, RESP_DIR, 100);
    caller_eof(k, REQ_DIR);
    caller_eof(k, RESP_DIR);
    CHECK_EQ_INT(k->len[REQ_DIR] + k->len[RESP_DIR], 0);
    CHECK_EQ_INT(k->r.tls, 1);
    CHECK_EQ_INT(k->r.errors + k->r.requests + k->r.responses + k->r.ends, 0);
    caller_free(k);

    /* picked up mid-stream: the server's application data comes first */
    caller *m = caller_new(true);
    caller_feed(m, RESP_DIR, app, sizeof app);
    CHECK(log_has(m, "TLS resp"));
    CHECK_EQ_INT(m->r.errors, 0);
    caller_free(m);

    /* a TLS-looking record after HTTP is not a TLS connection: an error, as any garbage */
    caller *h = caller_new(true);
    caller_feed_str(h, REQ_DIR, "GET / HTTP/1.1\r\n\r\n");
    caller_feed(h, REQ_DIR, hello, sizeof hello);
    CHECK_EQ_INT(h->r.tls, 0);
    CHECK_EQ_INT(h->r.requests, 1);
    CHECK_EQ_INT(h->r.errors, 1);
    caller_free(h);

    /* the sniffing itself: type 20-23, version 3.0-3.4, length 1 to 2^14 + 2048 */
    const uint8_t v34[] = {0x17, 0x03, 0x04, 0x48, 0x00}, v35[] = {0x17, 0x03, 0x05, 0, 1};
    const uint8_t t24[] = {0x18, 0x03, 0x03, 0, 1}, t19[] = {0x13, 0x03, 0x03, 0, 1};
    const uint8_t v2[] = {0x16, 0x02, 0x00}, big[] = {0x17, 0x03, 0x03, 0x48, 0x01};
    const uint8_t none[] = {0x16, 0x03, 0x01, 0x00, 0x00};
    CHECK_EQ_INT(http_tls_sniff(v34, 5), 1);
    CHECK_EQ_INT(http_tls_sniff(v35, 5), 0);
    CHECK_EQ_INT(http_tls_sniff(t24, 5), 0);
    CHECK_EQ_INT(http_tls_sniff(t19, 5), 0);
    CHECK_EQ_INT(http_tls_sniff(big, 5), 0);  /* longer than any record */
    CHECK_EQ_INT(http_tls_sniff(none, 5), 0); /* empty */
    CHECK_EQ_INT(http_tls_sniff(v2, 2), 0);
    CHECK_EQ_INT(http_tls_sniff(v35, 3), 0);
    CHECK_EQ_INT(http_tls_sniff(v34, 4), -1);
    CHECK_EQ_INT(http_tls_sniff(v34, 2), -1);
    CHECK_EQ_INT(http_tls_sniff((const uint8_t *)"GET", 3), 0);
    CHECK_EQ_INT(http_tls_sniff((const uint8_t *)"G", 1), 0);
    CHECK_EQ_INT(http_tls_sniff(v34, 0), -1);
}

static void test_conn_hostile_heads(void)
{
    /* 10,000 headers arriving in segments: one error, then the next request is found */
    size_t len;
    char *huge = many_headers(10000, &len);
    caller *k = caller_new(true);
    for (size_t o = 0; o < len; o += 1400)
        caller_feed(k, REQ_DIR, huge + o, len - o < 1400 ? len - o : 1400);
    caller_feed_str(k, REQ_DIR, "GET /after HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(k->r.errors, 1);
    CHECK(log_has(k, "ERROR req more than HTTP_MAX_HEADERS headers\nREQ GET /after"));
    CHECK(k->max_len[REQ_DIR] < HTTP_MAX_HEAD_BYTES + 1400); /* bounded by the head limit */
    free(huge);
    /* a 1 MB header line: refused at the size limit; the caller's buffer stays bounded */
    caller *b = caller_new(true);
    caller_feed_str(b, REQ_DIR, "GET / HTTP/1.1\r\nX-Big: ");
    char a[1400];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 750; i++)
        caller_feed(b, REQ_DIR, a, sizeof a);
    caller_feed_str(b, REQ_DIR, "\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(b->r.errors, 1);
    CHECK(log_has(b, "ERROR req head longer than HTTP_MAX_HEAD_BYTES\nREQ GET /after"));
    CHECK(b->max_len[REQ_DIR] < HTTP_MAX_HEAD_BYTES + sizeof a);
    /* negative and huge Content-Length requests */
    caller *n = caller_new(true);
    caller_feed_str(n, REQ_DIR,
                    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"
                    "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"
                    "GET /fine HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(n->r.errors, 2);
    CHECK(log_has(n, "REQ GET /fine"));
    caller_free(n);
    caller_free(b);
    caller_free(k);
}

static void test_conn_pairing_edges(void)
{
    /* picked up mid-stream: a response with no request */
    caller *k = caller_new(true);
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    CHECK(log_has(k, "RESP 200 \"OK\" req=-1 -\n"));
    /* more pipelined requests than the ring holds: counted, never overwritten */
    caller *p = caller_new(false);
    for (int i = 0; i < HTTP_MAX_PENDING + 6; i++)
        caller_feed_str(p, REQ_DIR, "GET /p HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(p->conn.pend_count, HTTP_MAX_PENDING);
    CHECK_EQ_INT(p->conn.pending_overflow, 6);
    for (int i = 0; i < HTTP_MAX_PENDING + 1; i++)
        caller_feed_str(p, RESP_DIR, "HTTP/1.1 204 No Content\r\n\r\n");
    char want[64];
    snprintf(want, sizeof want, "req=%d GET", HTTP_MAX_PENDING - 1);
    CHECK(log_has(p, want));
    CHECK(log_has(p, "RESP 204 \"No Content\" req=-1 -"));
    CHECK_EQ_INT(p->conn.pend_count, 0);
    /* empty lines between pipelined messages are tolerated */
    caller *e = caller_new(true);
    caller_feed_str(e, REQ_DIR,
                    "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nz\r\n\r\nGET /b HTTP/1.1"
                    "\r\n\r\n");
    CHECK_EQ_INT(e->r.requests, 2);
    CHECK_EQ_INT(e->r.errors, 0);
    /* endless empty lines are consumed, not held */
    caller *n = caller_new(true);
    for (int i = 0; i < 50000; i++)
        caller_feed_str(n, REQ_DIR, i % 2 ? "\r\n" : "\n");
    caller_feed_str(n, REQ_DIR, "GET /late HTTP/1.1\r\n\r\n");
    CHECK(log_has(n, "REQ GET /late"));
    CHECK_EQ_INT(n->r.errors, 0);
    CHECK(n->max_len[REQ_DIR] < 64);
    caller_free(n);
    caller_free(e);
    caller_free(p);
    caller_free(k);
}

/* ================= every split point ================= */

typedef struct segment {
    int dir;
    const char *text;
} segment;

typedef struct run_result {
    char *log;
    size_t left[2];
    int events;
} run_result;

/* Feeds the segments in order; the one holding global offset `split` (if inside) is fed in two
 * pieces, or every segment one byte at a time when `bytewise`. */
static run_result run_stream(const segment *segs, size_t nseg, size_t split, bool bytewise)
{
    caller *k = caller_new(true);
    size_t base = 0;
    for (size_t i = 0; i < nseg; i++) {
        size_t n = strlen(segs[i].text);
        if (bytewise) {
            for (size_t j = 0; j < n; j++)
                caller_feed(k, segs[i].dir, segs[i].text + j, 1);
        } else if (split > base && split < base + n) {
            caller_feed(k, segs[i].dir, segs[i].text, split - base);
            caller_feed(k, segs[i].dir, segs[i].text + (split - base), n - (split - base));
        } else {
            caller_feed(k, segs[i].dir, segs[i].text, n);
        }
        base += n;
    }
    caller_eof(k, REQ_DIR);
    caller_eof(k, RESP_DIR);
    run_result r = {strdup(k->r.log), {k->len[0], k->len[1]}, k->r.requests + k->r.responses};
    caller_free(k);
    return r;
}

static void check_every_split(const char *name, const segment *segs, size_t nseg,
                              int expect_messages)
{
    size_t total = 0;
    for (size_t i = 0; i < nseg; i++)
        total += strlen(segs[i].text);
    run_result whole = run_stream(segs, nseg, 0, false);
    CHECK_EQ_INT(whole.events, expect_messages);
    int mismatches = 0;
    for (size_t split = 0; split <= total + 1; split++) {
        bool bytewise = split == total + 1;
        run_result r = run_stream(segs, nseg, split, bytewise);
        bool same = strcmp(r.log, whole.log) == 0 && r.left[0] == whole.left[0] &&
                    r.left[1] == whole.left[1];
        if (!same && mismatches++ == 0)
            fprintf(stderr, "  %s: split %zu%s differs:\n--- whole\n%s--- split\n%s", name, split,
                    bytewise ? " (byte by byte)" : "", whole.log, r.log);
        free(r.log);
    }
    CHECK_EQ_INT(mismatches, 0);
    free(whole.log);
}

static void test_every_split(void)
{
    const segment keepalive[] = {
        {REQ_DIR, "GET /bserve_test?visit=1 HTTP/1.1\r\nHost: 100.64.0.1:5006\r\n"
                  "Connection: keep-alive\r\n\r\n"},
        {RESP_DIR, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Folded: a\r\n b\r\n\r\n"
                   "7;ext=1\r\n<html>\n\r\n"
                   "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                   "0\r\nX-Checksum: 42\r\n\r\n"},
        {REQ_DIR, "POST /bserve_test/upload HTTP/1.1\r\nContent-Length: 11\r\n"
                  "Expect: 100-continue\r\n\r\n"},
        {RESP_DIR, "HTTP/1.1 100 Continue\r\n\r\n"},
        {REQ_DIR, "hello world"},
        {RESP_DIR, "HTTP/1.1 201 Created\nContent-Length: 2\n\nok"},
    };
    check_every_split("keep-alive chunked", keepalive, sizeof keepalive / sizeof *keepalive, 4);

    const segment pipelined[] = {
        {REQ_DIR, "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                  "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
                  "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"},
        {RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                   "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
                   "HTTP/1.1 200 OK\r\n\r\nuntil close"},
    };
    check_every_split("pipelined", pipelined, sizeof pipelined / sizeof *pipelined, 6);

    const segment hostile[] = {
        {REQ_DIR, "GET /x HTTP/1.1\r\nBad Header\r\n\r\nnoise\r\nGET /y HTTP/1.1\r\n\r\n"
                  "\x16\x03\x01\x02garbage\nPUT /z HTTP/1.1\r\nContent-Length: 1\r\n\r\nZ"},
        {RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nHTTP/1.1 200 OK\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\nHTTP/1.1 204 No\r\n\r\n"
                   "HTTP/1.1 101 Switching\r\n\r\n\x81\x02hi websocket"},
    };
    check_every_split("hostile", hostile, sizeof hostile / sizeof *hostile, 6);
}

/* ================= fuzz scripts (tests/fuzz/fuzz_http.c) ================= */

/* Runs a fuzz_http script (flags, op count, ops, payload) through a caller, each segment whole or
 * one byte at a time; returns the event log. Same meaning as in the fuzz target. */
static char *run_fuzz_script(const uint8_t *d, size_t size, bool bytewise, size_t left[2])
{
    caller *k = caller_new(true);
    size_t nops = size >= 2 ? d[1] : 0;
    if (size < 2)
        size = 2;
    if (nops > size - 2)
        nops = size - 2;
    const uint8_t *ops = d + 2, *pay = d + 2 + nops;
    size_t npay = size - 2 - nops, pos = 0, scale = (size_t)1 << (2 * (d[0] & 3));
    for (size_t i = 0; i <= nops; i++) {
        uint8_t op = i < nops ? ops[i] : 0;
        int kind = op & 7, dir = (op >> 3) & 1;
        size_t seg[2][2] = {{0, 0}, {0, 0}}; /* per direction: offset, length */
        if (i == nops) {
            size_t rest = npay - pos;
            seg[0][0] = pos, seg[0][1] = rest / 2;
            seg[1][0] = pos + rest / 2, seg[1][1] = rest - rest / 2;
        } else if (kind < 6) {
            size_t n = ((size_t)(op >> 3) + 1) * scale;
            n = n < npay - pos ? n : npay - pos;
            seg[kind < 3 ? 0 : 1][0] = pos, seg[kind < 3 ? 0 : 1][1] = n;
            pos += n;
        } else if (kind == 6) {
            caller_gap(k, dir, (op >> 4) == 15 ? (uint64_t)1 << 62 : (uint64_t)(op >> 4) * 7 + 1);
            continue;
        } else {
            caller_eof(k, dir);
            continue;
        }
        for (int sd = 0; sd < 2; sd++) {
            if (i < nops && sd != (kind < 3 ? 0 : 1))
                continue;
            const uint8_t *p = pay + seg[sd][0];
            size_t n = seg[sd][1], off = 0;
            do { /* an empty segment still re-offers what the caller holds */
                size_t piece = bytewise ? (n - off < 1 ? n - off : 1) : n;
                caller_feed(k, sd, p + off, piece);
                off += piece;
            } while (off < n);
        }
    }
    caller_eof(k, REQ_DIR);
    caller_eof(k, RESP_DIR);
    left[0] = k->len[0], left[1] = k->len[1];
    char *log = strdup(k->r.log);
    caller_free(k);
    return log;
}

static void check_fuzz_script(const char *name, const uint8_t *d, size_t size)
{
    size_t lw[2], lb[2];
    char *whole = run_fuzz_script(d, size, false, lw);
    char *bytes = run_fuzz_script(d, size, true, lb);
    bool same = strcmp(whole, bytes) == 0 && lw[0] == lb[0] && lw[1] == lb[1];
    if (!same)
        fprintf(stderr, "  %s: byte-by-byte run differs\n--- whole\n%s--- bytewise\n%s", name,
                whole, bytes);
    CHECK(same);
    free(whole);
    free(bytes);
}

/* Inputs the fuzzer found (both were split-invariance differences around an empty segment: a
 * repeated eof reported a truncated head twice; bytes held by the caller turned into tunnel
 * bytes after the other direction's "200" to CONNECT). */
static const char fuzz_crash_eof_twice[] =
    "\x00\x0e\xf8\xf8\x98\xfb\xfb\xfb\xfb\x33\xf8\xe8\xc3\xff\xff\xff\x6b\x20\xfb\x4b\x47\x45"
    "\x54\x20\x2f\x62\x73\x65\x72\x76\x65\x5f\x74\x65\x00\x0e\xf8\xf8\x98\xfb\xfb\xfb\xfb\x33"
    "\xf8\xe8\xc3\x20\x4b\xfb\x47\x45\x54\x20\x2f\x62\x73\x65\x72\x76\x65\x5f\x74\x65\x73\x74"
    "\x3f\x76\x69\x73\x69\x74\x3d\x31\x20\x48\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x48\x6f\x73"
    "\x74\x3a\x20\x31\x30\x30\x2e\x36\x34\x50\x41\x54\x2e\x30\x2e\x31\x3a\x35\x30\x30\x36\x0d"
    "\x0a\x43\x6f\x6e\x6e\x65\x63\x74\x69\x6f\x6e\x3a\x20\x6b\x65\x65\x70\x2d\x61\x6c\x69\x00"
    "\x76\x65\x0d\x0a\x0e\x00\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30\x30\x20\x4f"
    "\x4b\x0d\x0a\x54\x72\x61\x6e\x73\x66\x65\x72\x2d\x45\x6e\x63\x6f\x64\x69\x6e\x67\x3a\x20"
    "\x63\x68\x75\x73\x74\x3f\x76\x69\x73\x69\x74\x3d\x31\x20\x48\x54\x54\x50\x2f\x31\x2e\x31"
    "\x0d\x0a\x48\x6f\x73\x74\x3a\x20\x31\x30\x30\x2e\x36\x34\x2e\x30\x2e\x31\x3a\x35\x30\x30"
    "\x36\x0d\x0a\x43\x6f\x6e\x6b\x6e\x6e\x65\x63\x65\x64\x0d\x74\x69\x6f\x0a\x6e";
static const char fuzz_crash_tunnel_held_bytes[] =
    "\x3e\x06\xf8\xd0\xfb\x33\x48\x33\x43\x4f\x4e\x4e\x45\x43\x54\x20\x67\xff\xff\xff\xff\xff"
    "\xff\x3a\x34\x34\x33\x20\x48\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x48\x6f\x73\x74\x23\x3a"
    "\x74\x69\x6f\x6e\x20\x65\x73\x74\x61\x62\x3e\x20\x20\xe0\xe1\x31\x2e\x31\x0d\x0a\x0a\x43"
    "\x6f\x6e\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x74\x65"
    "\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x61\x62\x63\x48\x54\x54"
    "\x0a\x43\x0d\x0a\x20\x4f\x4b\x54\x54\x50\x2f\x90\x69\x54\x0a\x43\x0d\x0a\x20\x20\x20\x20"
    "\xff\xff\xff\x3e\x20\x20\x20\x20\x20\x20\x20\x20\x2c\x0d\x0a\x0d\x0a\x16\x03\x01\x00\x05"
    "\x68\x65\x6c\x06\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20\x2f"
    "\x63\x20\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20\x48\x54\x54"
    "\x50\x2f\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30\x30\x20"
    "\x4f\x4b\x0d\x0a\x43\x6f\x6e\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d"
    "\x0a\x0d\x0a\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x61"
    "\x62\x63\x48\x54\x54\x0a\x43\x0d\x0a\x20\xfd\xbe\x90\x69\x16\x03\x01\x00\x05\x68\x65\x6c"
    "\x06\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20\x2f\x63\x20\x48"
    "\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20\x48\x54\x54\x50"
    "\x2f\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30\x30\x20\x4f"
    "\x4b\x0d\x0a\x43\x6f\x6e\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a"
    "\x0d\x0a\x74\x65\x6e\x74\x2d\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x74\x65\x6e\x74"
    "\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x61\x62\x63\x48\x54\x54\x0a\x43"
    "\x0d\x0a\x20\xfd\xbe\x90\x69\x54\x0a\x43\x0d\x0a\x20\x20\x20\x20\xff\xff\xff\x3e\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x2c\x0d\x0a\x0d\x0a\x16\x03\x01\x00\x05\x68\x65\x6c\x06\x00\x6c"
    "\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\xbe\x90\x69\x54\x0a\x43\x0d\x0a\x20\x20\x20"
    "\x20\xff\xff\xff\x3e\x20\x20\x20\x20\x20\x20\x20\x20\x2c\x0d\x0a\x0d\x0a\x16\x03\x01\x00"
    "\x05\x68\x65\x6c\x06\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20"
    "\x2f\x63\x20\x48\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20"
    "\x48\x54\x54\x50\x2f\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32"
    "\x30\x30\x20\x4f\x4b\x0d\x0a\x43\x6f\x6e\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a"
    "\x20\x33\x0d\x0a\x0d\x0a\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a"
    "\x0d\x0a\x61\x62\x63\x48\x54\x54\x0a\x43\x0d\x0a\x20\xfd\xbe\x90\x69\x16\x03\x01\x00\x05"
    "\x68\x65\x6c\x06\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20\x2f"
    "\x63\x20\x48\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20\x48"
    "\x54\x54\x50\x2f\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30"
    "\x30\x20\x4f\x4b\x43\x6f\x6e\x74\x65\x6e\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d"
    "\x0a\x74\x65\x6e\x74\x2d\xfd\xbe\x90\x69\x54\x0a\x43\x0d\x0a\x20\x20\x20\x20\xff\xff\xff"
    "\x3e\x20\x20\x20\x20\x20\x20\x20\x20\x2c\x0d\x0a\x0d\x0a\x16\x03\x01\x00\x05\x68\x65\x6c"
    "\x06\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20\x2f\x63\x20\x48"
    "\x54\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20\x48\x54\x54\x50"
    "\x2f\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30\x30\x20\x4f"
    "\x4b\x0d\x0a\x43\x6f\x6e\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a"
    "\x0d\x0a\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x61\x62"
    "\x63\x48\x54\x54\x0a\x43\x0d\x0a\x20\xfd\xbe\x90\x69\x16\x03\x01\x00\x05\x68\x65\x6c\x06"
    "\x00\x6c\x91\xe9\xfc\xfc\xff\xfd\xbe\x90\x69\x0d\x0a\x47\x45\x54\x20\x2f\x63\x20\x48\x54"
    "\x54\x50\x2f\x31\x2e\x31\x0d\x0a\x0d\x0a\x47\x45\x54\x20\x2f\x64\x20\x48\x54\x54\x50\x2f"
    "\x31\x2e\x30\x0d\x0a\x0d\x0a\x48\x54\x54\x50\x2f\x31\x2e\x31\x20\x32\x30\x30\x20\x4f\x4b"
    "\x43\x6f\x6e\x74\x65\x6e\x4c\x68\x3a\x20\x33\x0d\x0a\x0d\x0a\x74\x65\x6e\x74\x2d";

static void test_fuzz_regressions(void)
{
    check_fuzz_script("eof twice", (const uint8_t *)fuzz_crash_eof_twice,
                      sizeof fuzz_crash_eof_twice - 1);
    check_fuzz_script("tunnel held bytes", (const uint8_t *)fuzz_crash_tunnel_held_bytes,
                      sizeof fuzz_crash_tunnel_held_bytes - 1);
    /* the same, as readable scenarios */
    caller *k = caller_new(true);
    caller_feed_str(k, RESP_DIR, "HTTP/1.1 200 OK\r\nContent-Le");
    caller_eof(k, RESP_DIR);
    caller_eof(k, RESP_DIR);
    caller_feed(k, RESP_DIR, "", 0); /* re-offer what is held */
    caller_eof(k, RESP_DIR);
    CHECK_EQ_INT(log_count(k, "head cut short"), 1);
    caller *t = caller_new(true);
    caller_feed_str(t, REQ_DIR, "CONNECT h:443 HTTP/1.1\r\n\r\nGET /d HTTP");
    CHECK_EQ_INT(t->len[REQ_DIR], 11);
    caller_feed_str(t, RESP_DIR, "HTTP/1.1 200 OK\r\n\r\n");
    caller_feed(t, REQ_DIR, "", 0);
    CHECK_EQ_INT(t->len[REQ_DIR], 0); /* tunnel bytes now */
    CHECK_EQ_INT(t->r.requests, 1);
    CHECK_EQ_INT(t->r.errors, 0);
    caller_free(t);
    caller_free(k);
    /* the seed corpus, when the source tree is known */
    const char *src = getenv("OW_SOURCE_DIR");
    const char *seeds[] = {"keepalive-chunked.txt", "pipelined.txt",  "upgrade.txt",
                           "connect.txt",           "gap-resync.txt", "bokeh-page.txt"};
    for (size_t i = 0; src && i < sizeof seeds / sizeof *seeds; i++) {
        char path[4096];
        size_t len;
        snprintf(path, sizeof path, "%s/tests/fuzz/corpus/http/%s", src, seeds[i]);
        char *d = tl_read_file(path, &len);
        CHECK(d != NULL);
        if (d)
            check_fuzz_script(seeds[i], (const uint8_t *)d, len);
        free(d);
    }
}

/* ================= a Bokeh page load ================= */

static void test_bokeh_page(void)
{
    const char *req =
        "GET /bserve_test?visit=1 HTTP/1.1\r\n"
        "Host: 100.64.0.1:5006\r\n"
        "Connection: keep-alive\r\n"
        "Upgrade-Insecure-Requests: 1\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.6099.28 Safari/537.36\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
        "Accept-Encoding: gzip, deflate\r\n"
        "Accept-Language: en-US,en;q=0.9\r\n"
        "Cookie: _xsrf=2|abcdef|0123|1700000000\r\n"
        "\r\n";
    const char *body = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>Bokeh Application</title>\n"
                       "<script type=\"text/javascript\" "
                       "src=\"static/js/bokeh.min.js?v=3.6.0\"></script>\n"
                       "</head>\n<body>\n<script type=\"application/json\" id=\"p1001\">"
                       "{\"token\":\"eyJzZXNzaW9uX2lkIjoiYWJjIn0\"}</script>\n</body>\n</html>\n";
    char resp[2048];
    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\n"
             "Server: TornadoServer/6.2\r\n"
             "Content-Type: text/html\r\n"
             "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
             "Etag: \"5d41402abc4b2a76b9719d911017c592\"\r\n"
             "Content-Length: %zu\r\n"
             "\r\n%s",
             strlen(body), body);
    caller *k = caller_new(true);
    /* as Tailscale delivers it: MTU-sized pieces, response split mid-body */
    caller_feed_str(k, REQ_DIR, req);
    caller_feed(k, RESP_DIR, resp, 200);
    caller_feed(k, RESP_DIR, resp + 200, strlen(resp) - 200);
    CHECK_EQ_INT(k->r.requests, 1);
    CHECK_EQ_INT(k->r.responses, 1);
    CHECK(log_has(k, "REQ GET /bserve_test?visit=1 1.1 #0 ws=0 hdrs=8\n"));
    CHECK(log_has(k, "RESP 200 \"OK\" req=0 GET\n"));
    char end[128];
    snprintf(end, sizeof end, "END resp bytes=%zu complete=1 seen=%zu", strlen(body), strlen(body));
    CHECK(log_has(k, end));
    CHECK(log_has(k, "body=[<!DOCTYPE html>"));
    CHECK_EQ_INT(k->r.errors, 0);
    CHECK_EQ_INT(k->len[0] + k->len[1], 0);
    /* the server header, looked up through the parser directly */
    http_head h;
    CHECK(http_parse_response_head(resp, strlen(resp), &h) > 0);
    const http_header *srv = http_find_header(&h, "server");
    CHECK(srv && srv->value_len == strlen("TornadoServer/6.2") &&
          memcmp(srv->value, "TornadoServer/6.2", srv->value_len) == 0);
    caller_free(k);
}

int main(void)
{
    test_parse_request();
    test_parse_response();
    test_parse_bare_lf_and_leading_lines();
    test_parse_folding();
    test_find_header_and_tokens();
    test_parse_errors();
    test_parse_limits();
    test_conn_keepalive();
    test_conn_pipelined();
    test_conn_no_body_statuses();
    test_conn_continue();
    test_conn_upgrade();
    test_conn_connect_tunnel();
    test_conn_chunked();
    test_conn_until_close();
    test_conn_body_not_wanted();
    test_conn_bad_content_length();
    test_conn_chunk_errors();
    test_conn_endless_chunked();
    test_conn_gap_in_body();
    test_conn_gap_resync();
    test_conn_malformed_resync();
    test_conn_tls();
    test_conn_hostile_heads();
    test_conn_pairing_edges();
    test_every_split();
    test_bokeh_page();
    test_fuzz_regressions();
    TEST_MAIN_END("test_decode_http");
}
