/* Correlator unit test: synthetic connections fed through the flow sink the way capture/
 * would, checking the page-load rows: a healthy load (page, statics linked by Referer,
 * websocket with ACK + PULL-DOC), an orphan after the grace time, an undecided load at the
 * end of the capture, a refused websocket, a health check that fetched nothing, and a
 * websocket that never asked for its document (each decided when its time ran out). */
#include "correlate/correlator.h"
#include "tests/unit/test_b64url.h"
#include "tests/unit/test_flow.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

#define MAX_PAGES 32

typedef struct seen_page {
    int64_t id;
    char session[128], verdict[32], outcome[16];
    uint32_t statics, websockets;
    double decided_ts;
    char path[128];
} seen_page;

static seen_page pages[MAX_PAGES];
static int n_pages;
static int ws_rows, http_rows, bokeh_rows;
static char bokeh_seen[512];      /* "dir:msgtype " per stored Bokeh message, in order */
static char last_msg_counts[256]; /* msg_counts of the last websocket row */
static int linked_http_with_host, unlinked_http_without_host;

static void rec_page(void *ctx, const ow_page_rec *r)
{
    int i;
    for (i = 0; i < n_pages && pages[i].id != r->id; i++)
        ;
    if (i == n_pages && n_pages < MAX_PAGES)
        n_pages++;
    seen_page *p = &pages[i];
    p->id = r->id;
    snprintf(p->session, sizeof p->session, "%s", r->session_id);
    snprintf(p->outcome, sizeof p->outcome, "%s", ow_outcome_name(r->outcome));
    snprintf(p->verdict, sizeof p->verdict, "%s",
             ow_verdict_name(r->verdict) ? ow_verdict_name(r->verdict) : "");
    snprintf(p->path, sizeof p->path, "%s", r->path);
    p->statics = r->static_count;
    p->websockets = r->websockets;
    p->decided_ts = r->decided_ts;
}
static void rec_ws(void *ctx, const ow_ws_rec *r)
{
    ws_rows++;
    snprintf(last_msg_counts, sizeof last_msg_counts, "%s",
             r->msg_counts_json ? r->msg_counts_json : "");
}
static void rec_http(void *ctx, const ow_http_rec *r)
{
    http_rows++;
    /* a page's fetches leave the Host to the page; others keep it */
    linked_http_with_host += r->page_load_id > 0 && r->host != NULL;
    unlinked_http_without_host += r->page_load_id <= 0 && r->host == NULL;
}
static void rec_bokeh(void *ctx, const ow_bokeh_rec *r)
{
    bokeh_rows++;
    size_t n = strlen(bokeh_seen);
    snprintf(bokeh_seen + n, sizeof bokeh_seen - n, "%d:%s ", r->dir, r->msgtype);
}

static const seen_page *find_page(const char *session)
{
    for (int i = 0; i < n_pages; i++)
        if (!strcmp(pages[i].session, session))
            return &pages[i];
    return NULL;
}

/* ---- building blocks: tokens, frames, flows ---- */

static size_t ws_frame(uint8_t *out, int opcode, const char *payload, size_t len, bool mask)
{
    size_t o = 0;
    out[o++] = (uint8_t)(0x80 | opcode);
    out[o++] = (uint8_t)((mask ? 0x80 : 0) | len); /* payloads here are < 126 bytes */
    const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    if (mask)
        memcpy(out + o, key, 4), o += 4;
    for (size_t i = 0; i < len; i++)
        out[o + i] = (uint8_t)payload[i] ^ (mask ? key[i % 4] : 0);
    return o + len;
}

static size_t ws_text(uint8_t *out, const char *s, bool mask)
{
    return ws_frame(out, 1, s, strlen(s), mask);
}

static void feed(const ow_flow_sink *s, ow_flow *f, int dir, const void *data, size_t len,
                 double ts)
{
    size_t used = s->on_data(s->ctx, f, dir, data, len, ts);
    CHECK_EQ_INT(used, len);
}

static void feed_str(const ow_flow_sink *s, ow_flow *f, int dir, const char *str, double ts)
{
    feed(s, f, dir, str, strlen(str), ts);
}

static void page_load(const ow_flow_sink *s, uint64_t id, const char *sid, double t, const char *ua,
                      int visit)
{
    char token[512], resp[2048], body[1024], req[512];
    test_session_token(sid, (long)t + 300, token);
    snprintf(body, sizeof body,
             "<html><head><script src=\"/static/js/bokeh.min.js?v=1\"></script></head><body>"
             "<script>const render_items = [{\"token\":\"%s\",\"roots\":{\"p1050\":\"x\"}}];"
             "</script></body></html>",
             token);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\nServer: TornadoServer/6.2\r\nContent-Type: text/html\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    snprintf(req, sizeof req,
             "GET /app?visit=%d HTTP/1.1\r\nHost: 100.64.0.1:5006\r\nUser-Agent: %s\r\n\r\n", visit,
             ua);
    ow_flow *f = test_new_flow(id, (uint16_t)(40000 + id));
    s->on_open(s->ctx, f, t);
    feed_str(s, f, 0, req, t);
    feed_str(s, f, 1, resp, t + 0.5);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, t + 0.6);
    free(f);
}

static void static_fetch(const ow_flow_sink *s, uint64_t id, double t, int visit)
{
    char req[512];
    snprintf(req, sizeof req,
             "GET /static/js/bokeh.min.js?v=1 HTTP/1.1\r\nHost: 100.64.0.1:5006\r\n"
             "Referer: http://100.64.0.1:5006/app?visit=%d\r\n\r\n",
             visit);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\n"
                       "Content-Length: 10\r\n\r\n0123456789";
    ow_flow *f = test_new_flow(id, (uint16_t)(40000 + id));
    s->on_open(s->ctx, f, t);
    feed_str(s, f, 0, req, t);
    feed_str(s, f, 1, resp, t + 0.1);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, t + 0.2);
    free(f);
}

/* The upgrade request of a websocket carrying sid, on a new connection. */
static ow_flow *ws_request(const ow_flow_sink *s, uint64_t id, const char *sid, double t, int visit)
{
    char token[512], req[1024];
    test_session_token(sid, (long)t + 300, token);
    snprintf(req, sizeof req,
             "GET /app/ws?visit=%d HTTP/1.1\r\nHost: 100.64.0.1:5006\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n"
             "Origin: http://100.64.0.1:5006\r\nSec-WebSocket-Protocol: bokeh, %s\r\n\r\n",
             visit, token);
    ow_flow *f = test_new_flow(id, (uint16_t)(40000 + id));
    s->on_open(s->ctx, f, t);
    feed_str(s, f, 0, req, t);
    return f;
}

/* The server's 101 and its ACK. */
static void ws_accept(const ow_flow_sink *s, ow_flow *f, double t)
{
    uint8_t buf[1024];
    size_t n = (size_t)snprintf((char *)buf, sizeof buf,
                                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-Websocket-Protocol: bokeh\r\n\r\n");
    n += ws_text(buf + n, "{\"msgid\": \"p1051\", \"msgtype\": \"ACK\"}", false);
    n += ws_text(buf + n, "{}", false);
    n += ws_text(buf + n, "{}", false);
    feed(s, f, 1, buf, n, t);
}

static void websocket(const ow_flow_sink *s, uint64_t id, const char *sid, double t, int status,
                      int visit)
{
    uint8_t buf[1024];
    size_t n;
    ow_flow *f = ws_request(s, id, sid, t, visit);
    if (status != 101) {
        feed_str(s, f, 1,
                 "HTTP/1.1 403 Forbidden\r\nContent-Length: 35\r\n\r\n"
                 "Cross origin websockets not allowed",
                 t + 0.01);
        s->on_close(s->ctx, f, OW_CLOSE_FIN, t + 0.02);
        free(f);
        return;
    }
    ws_accept(s, f, t + 0.01);
    n = ws_text(buf, "{\"msgid\":\"6E4B\",\"msgtype\":\"PULL-DOC-REQ\"}", true);
    n += ws_text(buf + n, "{}", true);
    n += ws_text(buf + n, "{}", true);
    feed(s, f, 0, buf, n, t + 0.02);
    n = ws_text(buf, "{\"msgid\": \"p1052\", \"msgtype\": \"PULL-DOC-REPLY\", \"reqid\": \"6E4B\"}",
                false);
    n += ws_text(buf + n, "{}", false);
    n += ws_text(buf + n, "{\"doc\":{}}", false);
    feed(s, f, 1, buf, n, t + 0.03);
    n = ws_text(buf, "{\"msgid\":\"7A\",\"msgtype\":\"PATCH-DOC\"}", true);
    n += ws_text(buf + n, "{}", true);
    n += ws_text(buf + n, "{\"events\":[]}", true);
    feed(s, f, 0, buf, n, t + 0.1);
    /* repeats (counted, not stored), then a late new type (stored) */
    n = ws_text(buf, "{\"msgid\":\"7B\",\"msgtype\":\"PATCH-DOC\"}", true);
    n += ws_text(buf + n, "{}", true);
    n += ws_text(buf + n, "{\"events\":[]}", true);
    feed(s, f, 0, buf, n, t + 0.2);
    for (int i = 0; i < 2; i++) {
        n = ws_text(buf,
                    i ? "{\"msgid\":\"p1054\",\"msgtype\":\"OK\",\"reqid\":\"7B\"}"
                      : "{\"msgid\":\"p1053\",\"msgtype\":\"OK\",\"reqid\":\"7A\"}",
                    false);
        n += ws_text(buf + n, "{}", false);
        n += ws_text(buf + n, "{}", false);
        feed(s, f, 1, buf, n, t + 0.3 + i * 0.1);
    }
    n = ws_text(buf, "{\"msgid\":\"p1055\",\"msgtype\":\"ERROR\",\"reqid\":\"7B\"}", false);
    n += ws_text(buf + n, "{}", false);
    n += ws_text(buf + n, "{\"text\":\"x\"}", false);
    feed(s, f, 1, buf, n, t + 0.6);
    n = ws_frame(buf, 8, "\x03\xe9", 2, true);
    feed(s, f, 0, buf, n, t + 5);
    s->on_close(s->ctx, f, OW_CLOSE_FIN, t + 5.1);
    free(f);
}

/* A websocket upgraded (101, the server's ACK) that never asks for its document; left open. */
static ow_flow *websocket_without_doc(const ow_flow_sink *s, uint64_t id, const char *sid, double t,
                                      int visit)
{
    ow_flow *f = ws_request(s, id, sid, t, visit);
    ws_accept(s, f, t + 0.01);
    return f;
}

int main(void)
{
    ow_record_sink out = {.page = rec_page, .ws = rec_ws, .http = rec_http, .bokeh = rec_bokeh};
    correlator_opts o;
    correlator_default_opts(&o);
    correlator *c = correlator_new(&o, &out);
    const ow_flow_sink *s = correlator_flow_sink(c);
    const char *chrome = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0";
    double t = 1795636846.0;

    /* 1: healthy */
    page_load(s, 1, "HealthySessionAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", t, chrome, 1);
    static_fetch(s, 2, t + 0.7, 1);
    websocket(s, 3, "HealthySessionAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", t + 1.0, 101, 1);
    /* stored: the first of each type in each direction; every message counted */
    CHECK_EQ_STR(bokeh_seen, "1:ACK 0:PULL-DOC-REQ 1:PULL-DOC-REPLY 0:PATCH-DOC 1:OK 1:ERROR ");
    CHECK(strstr(last_msg_counts, "\"PATCH-DOC\":2") != NULL);
    CHECK(strstr(last_msg_counts, "\"OK\":2") != NULL);
    CHECK_EQ_INT(correlator_get_stats(c)->bokeh_not_stored, 2);
    /* an unlinked fetch (no Referer, no page) keeps its Host */
    {
        ow_flow *f = test_new_flow(20, 40020);
        s->on_open(s->ctx, f, t + 2);
        feed_str(s, f, 0, "GET /favicon.ico HTTP/1.1\r\nHost: 100.64.0.1:5006\r\n\r\n", t + 2);
        feed_str(s, f, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", t + 2.1);
        s->on_close(s->ctx, f, OW_CLOSE_FIN, t + 2.2);
        free(f);
    }
    /* 2: refused */
    page_load(s, 4, "RefusedSessionBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", t + 10, chrome, 2);
    static_fetch(s, 5, t + 10.7, 2);
    websocket(s, 6, "RefusedSessionBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", t + 11, 403, 2);
    /* 3: health check, nothing after the page */
    page_load(s, 7, "ProbeSessionCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", t + 20, "kube-probe/1.29", 3);
    /* 4: scripts fetched, never a websocket */
    page_load(s, 8, "NoWebsocketDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD", t + 21, chrome, 4);
    static_fetch(s, 9, t + 21.7, 4);
    s->on_tick(s->ctx, t + 30);
    const seen_page *p = find_page("ProbeSessionCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC");
    CHECK(p && !strcmp(p->outcome, "pending")); /* grace not over yet */
    s->on_tick(s->ctx, t + 40);
    CHECK(p && !strcmp(p->outcome, "orphan")); /* decided by time, not by the end */
    /* (regression) decided when its grace ended (response at t + 20.5, grace 15 s), not when
     * the tick at t + 40 noticed: ticks follow the capture's batches of packets */
    CHECK(p && p->decided_ts > t + 35.5 - 1e-6 && p->decided_ts < t + 35.5 + 1e-6);
    /* 6 (regression): a script connection black-holed and still open at the grace deadline.
     * Its health changes after the response head was decoded; the verdict at the deadline
     * must see it (it used to wait for the connection to close). */
    {
        page_load(s, 11, "BlackholeSessionFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", t + 41, chrome, 6);
        char req[256];
        snprintf(req, sizeof req,
                 "GET /static/js/bokeh-gl.min.js?v=1 HTTP/1.1\r\nHost: 100.64.0.1:5006\r\n"
                 "Referer: http://100.64.0.1:5006/app?visit=6\r\n\r\n");
        ow_flow *f = test_new_flow(12, 40012);
        s->on_open(s->ctx, f, t + 41.5);
        feed_str(s, f, 0, req, t + 41.5);
        feed_str(s, f, 1,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\n"
                 "Content-Length: 211022\r\n\r\n0123",
                 t + 41.6);
        /* 7: a websocket that never asks for its document, open past its grace */
        page_load(s, 13, "NoDocSessionGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG", t + 41.7, chrome, 7);
        ow_flow *nd =
            websocket_without_doc(s, 14, "NoDocSessionGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG", t + 42, 7);
        tcp_dir_health *h = &f->health.dir[OW_DIR_S2C]; /* what capture measures later */
        h->max_seg_lost = 1228;
        h->lost_retrans = 6;
        h->unacked_bytes = 13508;
        h->longest_stall = 12;
        s->on_tick(s->ctx, t + 60);
        const seen_page *bp = find_page("BlackholeSessionFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
        CHECK(bp && !strcmp(bp->outcome, "orphan"));
        CHECK(bp && !strcmp(bp->verdict, "pmtu_blackhole"));
        /* decided when its websocket's grace ended (upgrade at t + 42), not at the tick */
        const seen_page *np = find_page("NoDocSessionGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGGG");
        CHECK(np && !strcmp(np->outcome, "ws_no_doc"));
        CHECK(np && np->decided_ts > t + 57 - 1e-6 && np->decided_ts < t + 57 + 1e-6);
        s->on_close(s->ctx, nd, OW_CLOSE_FIN, t + 60.5);
        free(nd);
        s->on_close(s->ctx, f, OW_CLOSE_RST, t + 61);
        free(f);
    }
    /* 5: served just before the end: undecided */
    page_load(s, 10, "LateSessionEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE", t + 61, chrome, 5);
    correlator_finish(c, t + 66);

    CHECK_EQ_INT(n_pages, 7);
    p = find_page("HealthySessionAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_STR(p->outcome, "connected");
        CHECK_EQ_STR(p->verdict, "");
        CHECK_EQ_INT(p->statics, 1);
        CHECK_EQ_INT(p->websockets, 1);
        CHECK_EQ_STR(p->path, "/app?visit=1");
    }
    p = find_page("RefusedSessionBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    CHECK(p && !strcmp(p->outcome, "ws_refused") && !strcmp(p->verdict, "ws_refused"));
    p = find_page("ProbeSessionCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC");
    CHECK(p && !strcmp(p->outcome, "orphan") && !strcmp(p->verdict, "no_scripts_fetched"));
    p = find_page("NoWebsocketDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD");
    CHECK(p && !strcmp(p->outcome, "orphan") && !strcmp(p->verdict, "ws_never_attempted"));
    p = find_page("LateSessionEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE");
    CHECK(p && !strcmp(p->outcome, "undecided"));
    CHECK_EQ_INT(ws_rows > 0, 1);
    CHECK(bokeh_rows >= 4); /* ACK, PULL-DOC-REQ, PULL-DOC-REPLY, PATCH-DOC */
    CHECK(http_rows >= 9);
    CHECK_EQ_INT(linked_http_with_host, 0);
    CHECK_EQ_INT(unlinked_http_without_host, 0);
    const correlator_stats *st = correlator_get_stats(c);
    CHECK_EQ_INT(st->page_loads, 7);
    CHECK_EQ_INT(st->ws_upgrades, 3);
    correlator_free(c);
    TEST_MAIN_END("test_correlate_pageload");
}
