/* Correlator regression tests for hostile input (found by tests/integration/hostile_inputs.py
 * and secrets_default.py): a token-bearing query value at the very end of a full-size target
 * is redacted without writing past the target buffer; the Referer's query is redacted too;
 * unanswered pipelined requests are bounded (HTTP_MAX_PENDING kept, the rest counted); a
 * websocket frame declaring 2^62 bytes that the connection never delivers is counted as a
 * truncated message when the connection ends; beyond max_inflaters, a compressed websocket
 * message is not inflated but counted (inflate_budget_skipped) and shows in the row's errors;
 * an empty Content-Length value is none (-1), not digits read from the body behind the head or
 * past the end of the data (found by fuzz_correlate). */
#include "correlate/correlator.h"
#include "decode/http.h"
#include "tests/unit/test_flow.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_ROWS 256

static struct http_row {
    int64_t id;
    char target[2048], referer[1024], host[256];
    size_t target_len;
    int64_t content_length; /* from the latest row of the exchange */
} rows[MAX_ROWS];
static int n_rows;

static void rec_http(void *ctx, const ow_http_rec *r)
{
    (void)ctx;
    for (int i = 0; i < n_rows; i++)
        if (rows[i].id == r->id) {
            rows[i].content_length = r->content_length;
            return; /* updated rows of an exchange: the first one counts, but for the length */
        }
    if (n_rows >= MAX_ROWS)
        return;
    struct http_row *h = &rows[n_rows++];
    h->id = r->id;
    h->target_len = strlen(r->target);
    snprintf(h->target, sizeof h->target, "%s", r->target);
    snprintf(h->referer, sizeof h->referer, "%s", r->referer ? r->referer : "");
    snprintf(h->host, sizeof h->host, "%s", r->host ? r->host : "");
    h->content_length = r->content_length;
}

static correlator *new_correlator(const ow_flow_sink **s)
{
    correlator_opts o;
    correlator_default_opts(&o);
    static ow_record_sink out = {.http = rec_http};
    correlator *c = correlator_new(&o, &out);
    *s = correlator_flow_sink(c);
    n_rows = 0;
    return c;
}

static void feed(const ow_flow_sink *s, ow_flow *f, int dir, const void *d, size_t n, double ts)
{
    s->on_data(s->ctx, f, dir, d, n, ts);
}

/* A target of exactly the kept length (1023 bytes) that ends in "&key=": the redaction must
 * stay inside the buffer, and the Host kept after it must be intact. */
static void test_redaction_at_buffer_end(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    char target[1024];
    size_t n = (size_t)snprintf(target, sizeof target, "/app?x=");
    memset(target + n, 'a', 1023 - n - strlen("&key="));
    strcpy(target + 1023 - strlen("&key="), "&key=");
    CHECK_EQ_INT(strlen(target), 1023);
    char req[4096];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: host.example\r\nReferer: http://h/app?bokeh-token=SECRET1"
             "&z=1\r\n\r\n",
             target);
    ow_flow *f = test_new_flow(1, 40001);
    s->on_open(s->ctx, f, 1.0);
    feed(s, f, 0, req, strlen(req), 1.0);
    const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    feed(s, f, 1, resp, strlen(resp), 1.1);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 1.2);
    CHECK(n_rows >= 1);
    if (n_rows >= 1) {
        CHECK(rows[0].target_len <= 1023);
        CHECK(rows[0].target_len >= 5 && !strcmp(rows[0].target + rows[0].target_len - 5, "&key="));
        CHECK_EQ_STR(rows[0].host, "host.example");
        CHECK_EQ_STR(rows[0].referer, "http://h/app?bokeh-token=REDACTED&z=1");
    }
    free(f);
    correlator_free(c);
}

/* Short and long values in the middle of a query. */
static void test_redaction_values(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    const char *req = "GET /app?a=1&bokeh-token=SECRETTOKEN789&token=x&b=2&password=&c HTTP/1.1\r\n"
                      "Host: h\r\n\r\n";
    ow_flow *f = test_new_flow(2, 40002);
    s->on_open(s->ctx, f, 1.0);
    feed(s, f, 0, req, strlen(req), 1.0);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 1.2);
    CHECK(n_rows >= 1);
    if (n_rows >= 1)
        CHECK_EQ_STR(rows[0].target,
                     "/app?a=1&bokeh-token=REDACTED&token=REDACTED&b=2&password=REDACTED&c");
    free(f);
    correlator_free(c);
}

/* Names as the server reads them: percent-encoded and mixed-case secret keys are redacted;
 * a name that only contains one, or a bad escape, is not. */
static void test_redaction_encoded_names(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    const char *req = "GET /app?%74oken=S1&Bokeh%2dToken=S2&PASS%57ORD=S3&mytoken=v&to%zken=w"
                      "&token%=x&%=y&=z HTTP/1.1\r\nHost: h\r\n\r\n";
    ow_flow *f = test_new_flow(4, 40004);
    s->on_open(s->ctx, f, 1.0);
    feed(s, f, 0, req, strlen(req), 1.0);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 1.2);
    CHECK(n_rows >= 1);
    if (n_rows >= 1)
        CHECK_EQ_STR(rows[n_rows - 1].target,
                     "/app?%74oken=REDACTED&Bokeh%2dToken=REDACTED&PASS%57ORD=REDACTED&mytoken=v"
                     "&to%zken=w&token%=x&%=y&=z");
    free(f);
    correlator_free(c);
}

/* 1000 requests, never answered: HTTP_MAX_PENDING kept (and reported at close), the others
 * only counted. */
static void test_pipelined_requests_bounded(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    ow_flow *f = test_new_flow(3, 40003);
    s->on_open(s->ctx, f, 1.0);
    const char *req = "GET /static/x.js HTTP/1.1\r\nHost: h\r\n\r\n";
    for (int i = 0; i < 1000; i++)
        feed(s, f, 0, req, strlen(req), 1.0 + i * 1e-4);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 2.0);
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->http_requests, 1000);
    CHECK_EQ_INT(st->http_pending_overflow, 1000 - HTTP_MAX_PENDING);
    CHECK_EQ_INT(n_rows, HTTP_MAX_PENDING);
    char json[2048];
    size_t n = correlator_stats_json(c, json, sizeof json - 1);
    json[n] = 0;
    CHECK(strstr(json, "\"http_pending_overflow\":936") != NULL);
    free(f);
    correlator_free(c);
}

/* The client's upgrade request fed at 1.0; the server's 101 written into buf, for the caller
 * to send with the frames after it. Returns its length. */
static size_t ws_upgrade(const ow_flow_sink *s, ow_flow *f, uint8_t *buf, size_t cap)
{
    const char *req =
        "GET /app/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n";
    feed(s, f, 0, req, strlen(req), 1.0);
    return (size_t)snprintf((char *)buf, cap,
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\n\r\n");
}

/* 101, then a server frame declaring 2^62 bytes of which 100 arrive: at the end of the
 * connection the message is delivered truncated and counted. */
static void test_ws_cut_by_end_counted(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    ow_flow *f = test_new_flow(4, 40004);
    s->on_open(s->ctx, f, 1.0);
    uint8_t buf[512];
    size_t n = ws_upgrade(s, f, buf, sizeof buf);
    buf[n++] = 0x82; /* FIN, binary */
    buf[n++] = 127;
    uint64_t len = 1ull << 62;
    for (int i = 7; i >= 0; i--)
        buf[n++] = (uint8_t)(len >> (8 * i));
    memset(buf + n, 'x', 100);
    n += 100;
    feed(s, f, 1, buf, n, 1.1);
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->ws_upgrades, 1);
    CHECK_EQ_INT(st->ws_truncated, 0);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 2.0);
    CHECK_EQ_INT(st->ws_messages, 1);
    CHECK_EQ_INT(st->ws_truncated, 1);
    free(f);
    correlator_free(c);
}

/* Websocket rows: the latest errors count of each websocket id. */
static struct {
    int64_t id;
    uint32_t errors;
    uint64_t messages[2];
} ws_rows[8];
static int n_ws_rows;

static void rec_ws(void *ctx, const ow_ws_rec *r)
{
    (void)ctx;
    int i = 0;
    while (i < n_ws_rows && ws_rows[i].id != r->id)
        i++;
    if (i == n_ws_rows && n_ws_rows < 8)
        ws_rows[n_ws_rows++].id = r->id;
    if (i < 8) {
        ws_rows[i].errors = r->errors;
        ws_rows[i].messages[0] = r->messages[0];
        ws_rows[i].messages[1] = r->messages[1];
    }
}

/* A websocket that negotiates permessage-deflate, then one compressed server message. */
static void deflate_ws_with_message(const ow_flow_sink *s, ow_flow *f, double ts)
{
    s->on_open(s->ctx, f, ts);
    const char *req =
        "GET /app/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    feed(s, f, 0, req, strlen(req), ts);
    uint8_t buf[512];
    size_t n = (size_t)snprintf((char *)buf, sizeof buf,
                                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    const char *msg = "{\"msgtype\":\"ACK\"}";
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = (Bytef *)(uintptr_t)msg;
    zs.avail_in = (uInt)strlen(msg);
    zs.next_out = buf + n + 2;
    zs.avail_out = (uInt)(sizeof buf - n - 2);
    deflate(&zs, Z_SYNC_FLUSH);
    size_t clen = sizeof buf - n - 2 - zs.avail_out - 4; /* without the 00 00 ff ff tail */
    deflateEnd(&zs);
    buf[n] = 0xc1; /* FIN, RSV1, text */
    buf[n + 1] = (uint8_t)clen;
    feed(s, f, 1, buf, n + 2 + clen, ts + 0.1);
}

/* max_inflaters 1: the first websocket inflates, the second's message is skipped, counted and
 * an error of its row; when the first closes, a third websocket inflates again. */
static void test_inflater_budget_counted(void)
{
    correlator_opts o;
    correlator_default_opts(&o);
    CHECK_EQ_INT(o.max_inflaters, OW_DEFAULT_MAX_INFLATERS);
    o.max_inflaters = 1;
    static ow_record_sink out = {.ws = rec_ws};
    n_ws_rows = 0;
    correlator *c = correlator_new(&o, &out);
    const ow_flow_sink *s = correlator_flow_sink(c);
    ow_flow *f1 = test_new_flow(10, 41001), *f2 = test_new_flow(11, 41002),
            *f3 = test_new_flow(12, 41003);
    deflate_ws_with_message(s, f1, 1.0);
    deflate_ws_with_message(s, f2, 2.0);
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->ws_upgrades, 2);
    CHECK_EQ_INT(st->ws_messages, 2);
    CHECK_EQ_INT(st->inflate_budget_skipped, 1);
    CHECK_EQ_INT(st->ws_errors, 1);
    CHECK_EQ_INT(st->ws_truncated, 1);
    s->on_close(s->ctx, f1, OW_CLOSE_FIN, 3.0);
    s->on_close(s->ctx, f2, OW_CLOSE_FIN, 3.0);
    CHECK_EQ_INT(n_ws_rows, 2);
    if (n_ws_rows == 2) {
        CHECK_EQ_INT(ws_rows[0].errors, 0);
        CHECK_EQ_INT(ws_rows[1].errors, 1);
    }
    deflate_ws_with_message(s, f3, 4.0);
    s->on_close(s->ctx, f3, OW_CLOSE_FIN, 5.0);
    CHECK_EQ_INT(st->inflate_budget_skipped, 1);
    CHECK_EQ_INT(st->ws_errors, 1);
    CHECK_EQ_INT(st->ws_messages, 3);
    char json[2048];
    size_t n = correlator_stats_json(c, json, sizeof json - 1);
    json[n] = 0;
    CHECK(strstr(json, "\"inflate_budget_skipped\":1") != NULL);
    free(f1);
    free(f2);
    free(f3);
    correlator_free(c);
}

/* A server message that a gap ends is the server's: it was counted on the direction fed last
 * (here the client's, which had just sent a frame). */
static void test_ws_gap_ends_message_in_its_direction(void)
{
    correlator_opts o;
    correlator_default_opts(&o);
    static ow_record_sink out = {.ws = rec_ws};
    n_ws_rows = 0;
    correlator *c = correlator_new(&o, &out);
    const ow_flow_sink *s = correlator_flow_sink(c);
    ow_flow *f = test_new_flow(13, 41004);
    s->on_open(s->ctx, f, 1.0);
    uint8_t buf[512];
    size_t n = ws_upgrade(s, f, buf, sizeof buf);
    buf[n++] = 0x82; /* FIN, binary, 200 bytes of which 100 arrive */
    buf[n++] = 126;
    buf[n++] = 0;
    buf[n++] = 200;
    memset(buf + n, 'x', 100);
    n += 100;
    feed(s, f, 1, buf, n, 1.1);
    const uint8_t ping[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}; /* masked text "hi" */
    feed(s, f, 0, ping, sizeof ping, 1.2);
    s->on_gap(s->ctx, f, 1, 100, 1.3);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 2.0);
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->ws_messages, 2);
    CHECK_EQ_INT(n_ws_rows, 1);
    if (n_ws_rows == 1) {
        CHECK_EQ_INT(ws_rows[0].messages[OW_DIR_C2S], 1);
        CHECK_EQ_INT(ws_rows[0].messages[OW_DIR_S2C], 1);
    }
    free(f);
    correlator_free(c);
}

/* A response head with an empty Content-Length, then body digits ending the data (a buffer of
 * exactly its size, not NUL-terminated, as capture/ hands it over): the length is none; it was
 * read with strtoll in place, which skipped the line ends, took the body's digits and read on
 * past the end of the buffer. */
static void test_empty_content_length(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    ow_flow *f = test_new_flow(6, 40006);
    s->on_open(s->ctx, f, 1.0);
    const char *req = "GET /static/x.js HTTP/1.1\r\nHost: h\r\n\r\n";
    feed(s, f, 0, req, strlen(req), 1.0);
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n12345";
    char *data = malloc(sizeof resp - 1);
    if (data) {
        memcpy(data, resp, sizeof resp - 1);
        feed(s, f, 1, data, sizeof resp - 1, 1.1);
        free(data);
    }
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 1.2);
    CHECK_EQ_INT(n_rows, 1);
    if (n_rows == 1)
        CHECK_EQ_INT(rows[0].content_length, -1);
    free(f);
    correlator_free(c);
}

int main(void)
{
    test_redaction_at_buffer_end();
    test_redaction_values();
    test_redaction_encoded_names();
    test_pipelined_requests_bounded();
    test_ws_cut_by_end_counted();
    test_inflater_budget_counted();
    test_ws_gap_ends_message_in_its_direction();
    test_empty_content_length();
    TEST_MAIN_END("correlate_hostile");
}
