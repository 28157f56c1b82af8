/* Correlator unit test: what the record rows say and when they are emitted again.
 *  - a connection's row is emitted again when anything in it changed (its flow's health,
 *    its times, its byte and request counts), and not when it would come out the same
 *    (a page load refreshes the rows of its open connections at every evaluation), at the
 *    next tick (conn_mark): several events between two ticks make one row, of the state at
 *    the tick, and a connection that closes before the tick emits its final rows only;
 *  - a websocket row's message and opcode counts as JSON, including long message types
 *    that differ only in their last byte and more types than there are slots;
 *  - a connection that begins with a TLS record is kind tls and counted, nothing else. */
#include "correlate/correlator.h"
#include "tests/unit/test_b64url.h"
#include "tests/unit/test_flow.h"
#include "tests/unit/test_ws_frame.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

#define MAX_CONN_ROWS 64

static struct conn_row {
    int64_t id;
    char close[16], kind[16];
    uint64_t bytes[2];
    uint32_t requests;
    double last_ts;
    uint64_t retrans_s2c;
} conn_rows[MAX_CONN_ROWS];
static int n_conn_rows;
static char ws_msg_counts[1024], ws_opcodes[512];
static int n_ws_rows;

static void rec_conn(void *ctx, const ow_conn_rec *r)
{
    (void)ctx;
    if (n_conn_rows == MAX_CONN_ROWS)
        return;
    struct conn_row *c = &conn_rows[n_conn_rows++];
    c->id = r->id;
    snprintf(c->close, sizeof c->close, "%s", r->close);
    snprintf(c->kind, sizeof c->kind, "%s", r->kind);
    c->bytes[0] = r->bytes[0];
    c->bytes[1] = r->bytes[1];
    c->requests = r->requests;
    c->last_ts = r->flow->last_ts;
    c->retrans_s2c = r->flow->health.dir[OW_DIR_S2C].retrans_segments;
}

static void rec_ws(void *ctx, const ow_ws_rec *r)
{
    (void)ctx;
    n_ws_rows++;
    snprintf(ws_msg_counts, sizeof ws_msg_counts, "%s", r->msg_counts_json);
    snprintf(ws_opcodes, sizeof ws_opcodes, "%s", r->opcode_counts_json);
}

/* Rows of one connection so far; the last one in *last. */
static int rows_of(int64_t id, const struct conn_row **last)
{
    int n = 0;
    *last = NULL;
    for (int i = 0; i < n_conn_rows; i++)
        if (conn_rows[i].id == id)
            n++, *last = &conn_rows[i];
    return n;
}

static correlator *new_correlator(const ow_flow_sink **s)
{
    correlator_opts o;
    correlator_default_opts(&o);
    static ow_record_sink out = {.conn = rec_conn, .ws = rec_ws};
    correlator *c = correlator_new(&o, &out);
    *s = correlator_flow_sink(c);
    n_conn_rows = n_ws_rows = 0;
    return c;
}

static void feed(const ow_flow_sink *s, ow_flow *f, int dir, const void *d, size_t n, double ts)
{
    f->last_ts = ts; /* as capture/ keeps it */
    CHECK_EQ_INT(s->on_data(s->ctx, f, dir, d, n, ts), n);
}

static void feed_str(const ow_flow_sink *s, ow_flow *f, int dir, const char *str, double ts)
{
    feed(s, f, dir, str, strlen(str), ts);
}

/* One Bokeh message (header, metadata, content) of this type, as one text frame each. */
static size_t bokeh_message(uint8_t *out, const char *type, bool from_client)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    char header[128];
    snprintf(header, sizeof header, "{\"msgid\":\"m1\",\"msgtype\":\"%s\"}", type);
    const char *parts[3] = {header, "{}", "{}"};
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += ws_test_frame(out + n, 1, true, false, from_client ? key : NULL,
                           (const uint8_t *)parts[i], strlen(parts[i]));
    return n;
}

static void send_bokeh(const ow_flow_sink *s, ow_flow *f, const char *type, int dir, double ts)
{
    uint8_t buf[512];
    feed(s, f, dir, buf, bokeh_message(buf, type, dir == 0), ts);
}

/* The tick capture/ gives after each batch of packets. */
static void tick(const ow_flow_sink *s, double ts)
{
    s->on_tick(s->ctx, ts);
}

/* A page whose token names session sid served on flow page (opened at t, answered at t+0.1);
 * token receives the token. Returns the response's length. */
static size_t serve_page(const ow_flow_sink *s, ow_flow *page, const char *sid, double t,
                         char token[512])
{
    char body[1024], resp[1400];
    test_session_token(sid, 1795637146, token);
    snprintf(body, sizeof body,
             "<html><script>const render_items = [{\"token\":\"%s\"}];</script></html>", token);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    s->on_open(s->ctx, page, t);
    feed_str(s, page, 0, "GET /app HTTP/1.1\r\nHost: h\r\n\r\n", t);
    feed_str(s, page, 1, resp, t + 0.1);
    return strlen(resp);
}

/* The websocket carrying that token opened on flow ws at t and upgraded (101 at t+0.01). */
static void upgrade_ws(const ow_flow_sink *s, ow_flow *ws, const char *token, double t)
{
    char req[1024];
    s->on_open(s->ctx, ws, t);
    snprintf(req, sizeof req,
             "GET /app/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: bokeh, %s\r\n\r\n",
             token);
    feed_str(s, ws, 0, req, t);
    feed_str(s, ws, 1,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Protocol: bokeh\r\n\r\n",
             t + 0.01);
}

/* The page's connection stays open (keep-alive) while its websocket talks: every websocket
 * event evaluates the page load, which refreshes the page connection's row. Only a change
 * makes a new row. */
static void test_conn_row_only_when_changed(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    char token[512];
    ow_flow *page = test_new_flow(1, 40001), *ws = test_new_flow(2, 40002);
    size_t resp_len = serve_page(s, page, "sessA", 10.0, token);
    const struct conn_row *last;
    CHECK_EQ_INT(rows_of(1, &last), 1); /* opened */
    CHECK_EQ_STR(last->kind, "other");

    /* the upgrade links the websocket: the page's row has changed since it opened */
    upgrade_ws(s, ws, token, 11.0);
    CHECK_EQ_INT(rows_of(1, &last), 1); /* refreshed at the tick */
    tick(s, 11.01);
    CHECK_EQ_INT(rows_of(1, &last), 2);
    CHECK_EQ_STR(last->kind, "http");
    CHECK_EQ_STR(last->close, "open");
    CHECK_EQ_INT(last->requests, 1);
    CHECK_EQ_INT(last->bytes[1], resp_len);

    /* ACK: evaluated again, the page connection unchanged: no row */
    send_bokeh(s, ws, "ACK", 1, 11.1);
    tick(s, 11.1);
    CHECK_EQ_INT(rows_of(1, &last), 2);

    /* the page connection's health moved (a retransmission seen, a later packet): a row */
    page->health.dir[OW_DIR_S2C].retrans_segments = 3;
    page->last_ts = 11.15;
    send_bokeh(s, ws, "PULL-DOC-REPLY", 1, 11.2);
    tick(s, 11.2);
    CHECK_EQ_INT(rows_of(1, &last), 3);
    CHECK_EQ_INT(last->retrans_s2c, 3);
    CHECK(last->last_ts == 11.15);

    /* nothing moved: the first PATCH-DOC evaluates again, no row */
    send_bokeh(s, ws, "PATCH-DOC", 0, 11.3);
    tick(s, 11.3);
    CHECK_EQ_INT(rows_of(1, &last), 3);

    /* only the time of the last packet moved: a row */
    page->last_ts = 11.35;
    uint8_t close[16];
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n = ws_test_frame(close, 8, true, false, key, (const uint8_t *)"\x03\xe8", 2);
    feed(s, ws, 0, close, n, 11.4);
    tick(s, 11.4);
    CHECK_EQ_INT(rows_of(1, &last), 4);
    CHECK(last->last_ts == 11.35);

    /* a second request on the page connection (keep-alive): counts moved, a row at the
     * next evaluation (the websocket's end) */
    feed_str(s, page, 0, "GET /favicon.ico HTTP/1.1\r\nHost: h\r\n\r\n", 11.5);
    feed_str(s, page, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 11.6);
    int before = rows_of(1, &last);
    s->on_close(s->ctx, ws, OW_CLOSE_FIN, 12.0);
    tick(s, 12.0);
    CHECK_EQ_INT(rows_of(1, &last), before + 1);
    CHECK_EQ_INT(last->requests, 2);
    CHECK_EQ_STR(last->close, "open");

    /* the close is a change of its own, even with nothing else moved */
    s->on_close(s->ctx, page, OW_CLOSE_FIN, 12.0);
    CHECK_EQ_INT(rows_of(1, &last), before + 2);
    CHECK_EQ_STR(last->close, "fin");
    CHECK_EQ_INT(rows_of(2, &last), 2); /* the websocket's: opened, closed */
    CHECK_EQ_STR(last->kind, "websocket");
    free(page);
    free(ws);
    correlator_free(c);
}

/* Events between two ticks (a websocket's ACK, PULL-DOC-REPLY and first PATCH-DOC, each
 * moving the page connection's health) make one websocket row and one page connection row at
 * the tick, of the state then; connections closed before the tick emit their final rows and
 * nothing more at the tick. */
static void test_rows_at_the_tick(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    char token[512];
    ow_flow *page = test_new_flow(5, 40005), *ws = test_new_flow(6, 40006);
    serve_page(s, page, "sessT", 20.0, token);
    upgrade_ws(s, ws, token, 21.0);
    tick(s, 21.01);
    const struct conn_row *last;
    int page_rows = rows_of(5, &last), ws_rows = n_ws_rows;
    CHECK(ws_rows >= 1); /* the upgrade's row comes at once */

    const char *types[3] = {"ACK", "PULL-DOC-REPLY", "PATCH-DOC"};
    for (int i = 0; i < 3; i++) {
        page->health.dir[OW_DIR_S2C].retrans_segments = (uint64_t)i + 1;
        page->last_ts = 21.1 + i * 0.1;
        send_bokeh(s, ws, types[i], i == 2 ? 0 : 1, 21.1 + i * 0.1);
    }
    CHECK_EQ_INT(rows_of(5, &last), page_rows); /* nothing until the tick */
    CHECK_EQ_INT(n_ws_rows, ws_rows);
    tick(s, 21.4);
    CHECK_EQ_INT(rows_of(5, &last), page_rows + 1);
    CHECK(last && last->retrans_s2c == 3 && last->last_ts == 21.3);
    CHECK_EQ_INT(n_ws_rows, ws_rows + 1);
    CHECK_EQ_STR(ws_msg_counts, "{\"ACK\":1,\"PULL-DOC-REPLY\":1,\"PATCH-DOC\":1}");

    /* marked again (a close frame, the page's health), then both connections close */
    page->health.dir[OW_DIR_S2C].retrans_segments = 4;
    page->last_ts = 21.5;
    uint8_t close[16];
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n = ws_test_frame(close, 8, true, false, key, (const uint8_t *)"\x03\xe8", 2);
    feed(s, ws, 0, close, n, 21.5);
    s->on_close(s->ctx, ws, OW_CLOSE_FIN, 21.6);
    s->on_close(s->ctx, page, OW_CLOSE_FIN, 21.6);
    int closed_rows = rows_of(5, &last), closed_ws = n_ws_rows;
    CHECK(last && strcmp(last->close, "fin") == 0 && last->retrans_s2c == 4);
    CHECK_EQ_INT(closed_ws, ws_rows + 2); /* the websocket's final row */
    tick(s, 22.0);
    CHECK_EQ_INT(rows_of(5, &last), closed_rows);
    CHECK_EQ_INT(n_ws_rows, closed_ws);
    free(page);
    free(ws);
    correlator_free(c);
}

/* Message counts by type (first seen first; the last slot takes the types beyond the slots)
 * and frame counts by opcode. */
static void test_ws_counts_json(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    ow_flow *f = test_new_flow(3, 40003);
    s->on_open(s->ctx, f, 1.0);
    feed_str(s, f, 0,
             "GET /app/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n",
             1.0);
    feed_str(
        s, f, 1,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        1.01);
    /* 31-byte types (a slot's whole room) that differ only in their last byte */
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", *b = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01235";
    send_bokeh(s, f, a, 1, 1.1);
    send_bokeh(s, f, b, 1, 1.2);
    send_bokeh(s, f, a, 0, 1.3);
    send_bokeh(s, f, "ACK", 1, 1.4);
    char type[8];
    for (int i = 0; i < 12; i++) { /* 9 more fill the slots, the rest go to the last */
        snprintf(type, sizeof type, "T%d", i);
        send_bokeh(s, f, type, 1, 1.5 + i * 0.01);
    }
    send_bokeh(s, f, "ACK", 1, 1.7);
    uint8_t buf[64];
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n = ws_test_frame(buf, 9, true, false, key, (const uint8_t *)"p", 1); /* ping */
    n += ws_test_frame(buf + n, 8, true, false, key, (const uint8_t *)"\x03\xe8", 2);
    feed(s, f, 0, buf, n, 1.8);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 2.0);
    CHECK(n_ws_rows >= 2);
    CHECK_EQ_STR(ws_msg_counts, "{\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\":2,"
                                "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01235\":1,\"ACK\":2,\"T0\":1,"
                                "\"T1\":1,\"T2\":1,\"T3\":1,\"T4\":1,\"T5\":1,\"T6\":1,\"T7\":1,"
                                "\"T8\":4}");
    CHECK_EQ_STR(ws_opcodes, "{\"1\":51,\"8\":1,\"9\":1}");
    free(f);
    correlator_free(c);
}

/* HTTPS on the port: the connection's row says tls from the tick after its first bytes, the
 * capture's counters count it, and nothing of it is an HTTP error, a request, or a websocket
 * (even picked up mid-stream, where application data could pass for websocket frames). */
static void test_tls_connection(void)
{
    const ow_flow_sink *s;
    correlator *c = new_correlator(&s);
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    static const uint8_t data[] = {0x17, 0x03, 0x03, 0x00, 0x04, 0x81, 0x02, 'h', 'i'};
    ow_flow *f = test_new_flow(4, 40004), *m = test_new_flow(5, 40005);
    s->on_open(s->ctx, f, 1.0);
    feed(s, f, 0, hello, sizeof hello, 1.0);
    feed(s, f, 1, data, sizeof data, 1.1);
    feed_str(s, f, 0, "GET /app HTTP/1.1\r\nHost: h\r\n\r\n", 1.2);
    tick(s, 1.3);
    const struct conn_row *last;
    CHECK(rows_of(4, &last) >= 2);
    CHECK_EQ_STR(last->kind, "tls");
    CHECK_EQ_INT(last->requests, 0);
    m->midstream = true;
    s->on_open(s->ctx, m, 2.0);
    feed(s, m, 1, data, sizeof data, 2.0);
    tick(s, 2.1);
    CHECK(rows_of(5, &last) >= 2);
    CHECK_EQ_STR(last->kind, "tls");
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->tls_connections, 2);
    CHECK_EQ_INT(st->http_errors + st->http_requests + st->ws_midstream + st->ws_upgrades, 0);
    char json[2048];
    json[correlator_stats_json(c, json, sizeof json - 1)] = 0;
    CHECK(strstr(json, "\"tls_connections\":2") != NULL);
    CHECK_EQ_INT(n_ws_rows, 0);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, 3.0);
    s->on_close(s->ctx, m, OW_CLOSE_FIN, 3.0);
    free(f);
    free(m);
    correlator_free(c);
}

int main(void)
{
    test_conn_row_only_when_changed();
    test_rows_at_the_tick();
    test_ws_counts_json();
    test_tls_connection();
    TEST_MAIN_END("correlate_rows");
}
