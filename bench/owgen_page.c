/* owgen_page.c: one generated Bokeh page load and its connections. A page load is a small
 * state machine driven by its connections' events (HTML received, a script received, websocket
 * done, a transfer stuck): it opens the static-script connections, the websocket, the favicon
 * request and finally closes everything, following the failure cause chosen for it. The
 * sequences mimic bokeh-wire.md 4.4 and the real captures in shared/captures. */
#include "owgen.h"

#include <stdlib.h>
#include <string.h>

const char *const cause_names[CAUSE_COUNT] = {
    "healthy",       "pmtu_blackhole", "slow_pmtu_recovery", "ws_refused", "no_scripts_fetched",
    "script_failed", "client_gone",    "token_expired"};
const char *const cause_outcomes[CAUSE_COUNT] = {"connected", "orphan", "connected", "ws_refused",
                                                 "orphan",    "orphan", "orphan",    "ws_no_doc"};

static const char *const user_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36",
};
#define N_UA (sizeof user_agents / sizeof user_agents[0])
static const char *const languages[] = {"en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8",
                                        "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "en-GB,en;q=0.9"};
#define N_LANG (sizeof languages / sizeof languages[0])
#define HTML_ACCEPT                                                                                \
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;"  \
    "q=0.8,application/signed-exchange;v=b3;q=0.7"
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define TORNADO      "Server: TornadoServer/6.2\r\n"
#define TOKEN_EXPIRY 300
#define MAX_HEADERS  12

static int64_t ms(int64_t v)
{
    return v * NS_PER_MS;
}

static int64_t between(page *pg, int64_t lo, int64_t hi)
{
    return rng_range(&pg->r, lo, hi);
}

/* ------------------------------------------------------------------ request headers */
typedef struct hdrs {
    const char *name[MAX_HEADERS];
    const char *val[MAX_HEADERS];
    int n;
} hdrs;

static void hdr(hdrs *h, const char *name, const char *val)
{
    if (h->n < MAX_HEADERS) {
        h->name[h->n] = name;
        h->val[h->n] = val;
        h->n++;
    }
}

static void hdrs_request(gbuf *out, const char *line, const hdrs *h)
{
    gb_printf(out, "%s\r\n", line);
    for (int i = 0; i < h->n; i++)
        gb_printf(out, "%s: %s\r\n", h->name[i], h->val[i]);
    gb_puts(out, "\r\n");
}

static void json_str(gbuf *out, const char *s)
{
    gb_puts(out, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            gb_put(out, "\\", 1);
        gb_put(out, s, 1);
    }
    gb_puts(out, "\"");
}

/* Python json.dumps of Tornado's header dict: ", " and ": " separators. */
static void hdrs_json(gbuf *out, const hdrs *h)
{
    gb_puts(out, "{");
    for (int i = 0; i < h->n; i++) {
        if (i)
            gb_puts(out, ", ");
        json_str(out, h->name[i]);
        gb_puts(out, ": ");
        json_str(out, h->val[i]);
    }
    gb_puts(out, "}");
}

static const char *ua_of(page *pg)
{
    if (pg->kind == 1)
        return "curl/7.88.1";
    if (pg->kind == 2)
        return "kube-probe/1.29";
    return user_agents[pg->cl->ua];
}

static void page_request(page *pg, gbuf *req)
{
    hdrs h = {0};
    char line[160];
    snprintf(line, sizeof line, "GET /%s?visit=%d HTTP/1.1", app_name(), pg->visit);
    hdr(&h, "Host", pg->host);
    if (pg->kind == 0) {
        hdr(&h, "Connection", "keep-alive");
        hdr(&h, "Upgrade-Insecure-Requests", "1");
        hdr(&h, "User-Agent", ua_of(pg));
        hdr(&h, "Accept", HTML_ACCEPT);
        hdr(&h, "Accept-Encoding", "gzip, deflate");
        hdr(&h, "Accept-Language", languages[pg->cl->lang]);
    } else {
        hdr(&h, "User-Agent", ua_of(pg));
        hdr(&h, "Accept", "*/*");
        if (pg->kind == 2)
            hdr(&h, "Connection", "close");
    }
    hdrs_request(req, line, &h);
    hdrs_json(&pg->headers_json, &h);
}

/* ------------------------------------------------------------------ responses */
static void date_at(page *pg, char out[40], int64_t t)
{
    (void)pg;
    http_date(out, t / NS_PER_S);
}

static void html_response(page *pg, gbuf *resp, int64_t t)
{
    char root[37], json_id[37], date[40], etag[41];
    uint8_t digest[20];
    random_uuid4(&pg->r, root);
    random_uuid4(&pg->r, json_id);
    gbuf body = {0};
    gb_puts(&body, "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n"
                   "    <title>Bokeh Application</title>\n    <style>\n      html, body {\n"
                   "        box-sizing: border-box;\n        display: flow-root;\n"
                   "        height: 100%;\n        margin: 0;\n        padding: 0;\n      }\n"
                   "    </style>\n");
    for (int i = 0; i < N_STATIC; i++) {
        int missing = pg->cause == CAUSE_SCRIPT_FAILED && i == pg->failed_static;
        gb_printf(&body,
                  "    <script type=\"text/javascript\" src=\"/static/js/%s?v=%s\"></script>\n",
                  static_names[i], missing ? "None" : static_hashes[i]);
    }
    gb_printf(
        &body,
        "    <script type=\"text/javascript\">\n        Bokeh.set_log_level(\"info\");\n"
        "    </script>\n  </head>\n  <body>\n    <div id=\"%s\" data-root-id=\"p1049\" "
        "style=\"display: contents;\"></div>\n  \n    <script type=\"application/json\" "
        "id=\"%s\">\n      {}\n    </script>\n    <script type=\"text/javascript\">\n"
        "      (function() {\n        const fn = function() {\n"
        "          Bokeh.safely(function() {\n            (function(root) {\n"
        "              function embed_document(root) {\n"
        "              const docs_json = document.getElementById('%s').textContent;\n"
        "              const render_items = [{\"token\":\"%.*s\",\"roots\":{\"p1049\":\"%s\"},"
        "\"root_ids\":[\"p1049\"],\"use_for_title\":true}];\n"
        "              root.Bokeh.embed.embed_items(docs_json, render_items);\n"
        "              }\n              if (root.Bokeh !== undefined) {\n"
        "                embed_document(root);\n              } else {\n"
        "                let attempts = 0;\n"
        "                const timer = setInterval(function(root) {\n"
        "                  if (root.Bokeh !== undefined) {\n"
        "                    clearInterval(timer);\n                    embed_document(root);\n"
        "                  } else {\n                    attempts++;\n"
        "                    if (attempts > 100) {\n"
        "                      clearInterval(timer);\n"
        "                      console.log(\"Bokeh: ERROR: Unable to run BokehJS code "
        "because BokehJS library is missing\");\n                    }\n"
        "                  }\n                }, 10, root)\n              }\n"
        "            })(window);\n          });\n        };\n"
        "        if (document.readyState != \"loading\") fn();\n"
        "        else document.addEventListener(\"DOMContentLoaded\", fn);\n      })();\n"
        "    </script>\n  </body>\n</html>",
        root, json_id, json_id, (int)pg->token.len, (const char *)pg->token.p, root);
    /* Tornado's Etag is the SHA-1 of the body; a random one costs nothing and no decoder can
     * tell the difference without the body's hash */
    for (int i = 0; i < 20; i++)
        digest[i] = (uint8_t)rng_below(&pg->r, 256);
    hex_lower(etag, digest, 20);
    date_at(pg, date, t);
    gb_printf(resp,
              "HTTP/1.1 200 OK\r\n" TORNADO "Content-Type: text/html\r\nDate: %s\r\n"
              "Etag: \"%s\"\r\nContent-Length: %zu\r\n\r\n",
              date, etag, body.len);
    gb_put(resp, body.p, body.len);
    gb_free(&body);
}

static void static_request(page *pg, gbuf *req, int i)
{
    int missing = pg->cause == CAUSE_SCRIPT_FAILED && i == pg->failed_static;
    gb_printf(req,
              "GET /static/js/%s?v=%s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n"
              "User-Agent: %s\r\nAccept: */*\r\nReferer: %s\r\nAccept-Encoding: gzip, deflate\r\n"
              "Accept-Language: %s\r\n\r\n",
              static_names[i], missing ? "None" : static_hashes[i], pg->host, ua_of(pg), pg->url,
              languages[pg->cl->lang]);
}

static int static_response(page *pg, gbuf *head, int i, int64_t t)
{
    char date[40], lm[40], exp[40];
    date_at(pg, date, t);
    if (pg->cause == CAUSE_SCRIPT_FAILED && i == pg->failed_static) {
        gb_printf(head,
                  "HTTP/1.1 404 Not Found\r\n" TORNADO "Content-Type: text/html; charset=UTF-8\r\n"
                  "Date: %s\r\nContent-Length: %zu\r\n\r\n" NOT_FOUND_BODY,
                  date, strlen(NOT_FOUND_BODY));
        return 404;
    }
    http_date(lm, pg->g->start_epoch - 86400 * 3 - 1234);
    http_date(exp, t / NS_PER_S + 315360000);
    uint32_t len;
    static_body(i, &len);
    gb_printf(head,
              "HTTP/1.1 200 OK\r\n" TORNADO "Content-Type: text/javascript\r\nDate: %s\r\n"
              "Accept-Ranges: bytes\r\nEtag: \"%s\"\r\nLast-Modified: %s\r\nExpires: %s\r\n"
              "Cache-Control: max-age=315360000\r\nContent-Length: %u\r\n\r\n",
              date, static_hashes[i], lm, exp, len);
    return 200;
}

static void note(conn *c, const char *s)
{
    size_t used = strlen(c->note);
    snprintf(c->note + used, sizeof c->note - used, "%s%s", used ? ", " : "", s);
}

/* GET one script on c and receive it (or its 404). */
static void add_static(page *pg, conn *c, int i, int64_t delay, int64_t t_est)
{
    gbuf req = {0}, head = {0};
    static_request(pg, &req, i);
    int status = static_response(pg, &head, i, t_est);
    st_cdata(c, delay, conn_put(c, req.p, req.len), TAG_REQ);
    span body = {0};
    if (status == 200) {
        uint32_t len;
        const uint8_t *p = static_body(i, &len);
        body = span_ext(p, len);
    }
    st_sdata(c, ms(1) + between(pg, 0, ms(2)), conn_put(c, head.p, head.len), body, TAG_RESP,
             status);
    st_notify(c, 0, EV_STATIC_DONE);
    char n[64];
    snprintf(n, sizeof n, "/static/js/%s%s", static_names[i], status == 404 ? " (404)" : "");
    note(c, n);
    gb_free(&req);
    gb_free(&head);
}

static void add_favicon(page *pg, conn *c, int64_t t_est)
{
    gbuf req = {0}, head = {0};
    char date[40];
    gb_printf(
        &req,
        "GET /favicon.ico HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\nUser-Agent: %s\r\n"
        "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\n"
        "Referer: %s\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: %s\r\n\r\n",
        pg->host, ua_of(pg), pg->url, languages[pg->cl->lang]);
    date_at(pg, date, t_est);
    gb_printf(&head,
              "HTTP/1.1 200 OK\r\n" TORNADO "Content-Type: image/x-icon\r\nDate: %s\r\n"
              "Transfer-Encoding: chunked\r\n\r\n",
              date);
    uint32_t flen;
    const uint8_t *fav = favicon_chunked(&flen);
    st_cdata(c, 0, conn_put(c, req.p, req.len), TAG_REQ);
    st_sdata(c, ms(1), conn_put(c, head.p, head.len), span_ext(fav, flen), TAG_RESP, 200);
    note(c, "/favicon.ico");
    gb_free(&req);
    gb_free(&head);
}

/* ------------------------------------------------------------------ connections */
conn *page_spawn(page *pg, int role, int64_t t0, int path)
{
    if (pg->nconns >= PAGE_MAX_CONNS) {
        fprintf(stderr, "owgen: too many connections in one page load\n");
        exit(1);
    }
    conn *c = malloc(sizeof *c);
    if (!c) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    conn_init(c, pg->g, pg, role, t0);
    c->index = pg->nconns;
    c->path = path;
    pg->conns[pg->nconns++] = c;
    pg->live++;
    return c;
}

void conn_wake(conn *c, int64_t t)
{
    if (c->done)
        return;
    if (!c->parked) {
        c->wake_t = t; /* not parked yet: its next park is skipped */
        return;
    }
    c->parked = 0;
    if (t > c->t)
        c->t = t;
    gen_conn_ready(c->g, c);
}

void conn_close_at(conn *c, int64_t t)
{
    if (!c->parked)
        return;
    c->parked = 0;
    c->si = c->close_si >= 0 ? c->close_si : c->nsteps;
    if (t > c->t)
        c->t = t;
    gen_conn_ready(c->g, c);
}

void page_close_all(page *pg, int64_t t)
{
    if (pg->close_t == 0 || t < pg->close_t)
        pg->close_t = t;
    for (int i = 0; i < pg->nconns; i++)
        if (pg->conns[i]->parked)
            conn_close_at(pg->conns[i], pg->close_t);
}

static int path_for(page *pg, int index)
{
    if (pg->cause == CAUSE_SLOW_PMTU)
        return PATH_SLOW;
    if (pg->cause == CAUSE_PMTU_BLACKHOLE && index == pg->bh_index)
        return PATH_BLACKHOLE;
    return PATH_OK;
}

static void ws_upgrade_request(page *pg, gbuf *req, char accept[32])
{
    uint8_t key[16], digest[20];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)rng_below(&pg->r, 256);
    gbuf k64 = {0}, cat = {0}, acc = {0};
    b64std(&k64, key, 16);
    gb_put(&cat, k64.p, k64.len);
    gb_puts(&cat, WS_GUID);
    sha1(cat.p, cat.len, digest);
    b64std(&acc, digest, 20);
    snprintf(accept, 32, "%.*s", (int)acc.len, (const char *)acc.p);
    gb_printf(req,
              "GET /%s/ws?visit=%d HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
              "Pragma: no-cache\r\nCache-Control: no-cache\r\nUser-Agent: %s\r\n"
              "Upgrade: websocket\r\nOrigin: http://%s\r\nSec-WebSocket-Version: 13\r\n"
              "Accept-Encoding: gzip, deflate\r\nAccept-Language: %s\r\nSec-WebSocket-Key: %.*s\r\n"
              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
              "Sec-WebSocket-Protocol: bokeh, %.*s\r\n\r\n",
              app_name(), pg->visit, pg->host, ua_of(pg), pg->host, languages[pg->cl->lang],
              (int)k64.len, (const char *)k64.p, (int)pg->token.len, (const char *)pg->token.p);
    gb_free(&k64);
    gb_free(&cat);
    gb_free(&acc);
}

static step *server_msg(conn *c, int64_t delay, gbuf *frames, int nframes, int noack)
{
    step *s = st_sdata(c, delay, conn_put(c, frames->p, frames->len), (span){0}, TAG_NONE, 0);
    s->wsf[WS_TEXT] = (uint16_t)nframes;
    s->noack = (uint8_t)noack;
    frames->len = 0;
    return s;
}

static step *client_msg(conn *c, int64_t delay, gbuf *frames, int nframes, int noack)
{
    step *s = st_cdata(c, delay, conn_put(c, frames->p, frames->len), TAG_NONE);
    s->wsf[WS_TEXT] = (uint16_t)nframes;
    s->noack = (uint8_t)noack;
    frames->len = 0;
    return s;
}

static void text(gbuf *frames, int client, const char *json, ow_rng *r)
{
    if (client)
        ws_client_frame(frames, WS_TEXT, json, strlen(json), r);
    else
        ws_server_frame(frames, WS_TEXT, json, strlen(json));
}

static const char *const initial_patches[4] = {
    "{\"events\":[{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1005\"},\"attr\":\"start\","
    "\"new\":-2.950000000000003},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1005\"},"
    "\"attr\":\"end\",\"new\":61.95}]}",
    "{\"events\":[{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1006\"},\"attr\":\"start\","
    "\"new\":-1.1464391905134481},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1006\"},"
    "\"attr\":\"end\",\"new\":1.1017646884488843}]}",
    "{\"events\":[{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1004\"},\"attr\":\"inner_width\","
    "\"new\":634},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1004\"},\"attr\":\"inner_"
    "height\","
    "\"new\":251},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1004\"},\"attr\":\"outer_width\","
    "\"new\":700},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1004\"},\"attr\":\"outer_"
    "height\","
    "\"new\":300}]}",
    ("{\"events\":[{\"kind\":\"MessageSent\",\"msg_type\":\"bokeh_event\",\"msg_data\":{"
     "\"type\":\"event\",\"name\":\"document_ready\",\"values\":{\"type\":\"map\"}}}]}"),
};

/* The websocket after a successful upgrade: ACK, PULL-DOC, the browser's first PATCH-DOCs
 * (each answered OK), the stream, and the browser's close 1001 when the tab goes away. */
static void ws_session(page *pg, conn *c)
{
    gbuf f = {0}, j = {0};
    char req_id[33];
    c->msgid = 1051;
    gb_printf(&j, "{\"msgid\": \"p%u\", \"msgtype\": \"ACK\"}", c->msgid++);
    text(&f, 0, (const char *)j.p, NULL);
    server_msg(c, 100 * NS_PER_US, &f, 1, 1);
    text(&f, 0, "{}", NULL);
    text(&f, 0, "{}", NULL);
    server_msg(c, 50 * NS_PER_US, &f, 2, 0);
    random_msgid(&pg->r, req_id);
    j.len = 0;
    gb_printf(&j, "{\"msgid\":\"%s\",\"msgtype\":\"PULL-DOC-REQ\"}", req_id);
    text(&f, 1, (const char *)j.p, &pg->r);
    client_msg(c, ms(2) + between(pg, 0, ms(4)), &f, 1, 1);
    text(&f, 1, "{}", &pg->r);
    client_msg(c, 400 * NS_PER_US, &f, 1, 1);
    text(&f, 1, "{}", &pg->r);
    client_msg(c, 400 * NS_PER_US, &f, 1, 0);
    j.len = 0;
    gb_printf(&j, "{\"msgid\": \"p%u\", \"msgtype\": \"PULL-DOC-REPLY\", \"reqid\": \"%s\"}",
              c->msgid++, req_id);
    text(&f, 0, (const char *)j.p, NULL);
    server_msg(c, ms(8) + between(pg, 0, ms(7)), &f, 1, 1);
    uint32_t doc_len;
    const uint8_t *doc = pull_doc_content(&doc_len);
    text(&f, 0, "{}", NULL);
    ws_server_frame(&f, WS_TEXT, doc, doc_len);
    server_msg(c, 300 * NS_PER_US, &f, 2, 0);
    for (int i = 0; i < 4; i++) {
        random_msgid(&pg->r, req_id);
        j.len = 0;
        gb_printf(&j, "{\"msgid\":\"%s\",\"msgtype\":\"PATCH-DOC\"}", req_id);
        text(&f, 1, (const char *)j.p, &pg->r);
        text(&f, 1, "{}", &pg->r);
        text(&f, 1, initial_patches[i], &pg->r);
        client_msg(c, i == 0 ? ms(30) + between(pg, 0, ms(30)) : between(pg, ms(5), ms(20)), &f, 3,
                   0);
        j.len = 0;
        gb_printf(&j, "{\"msgid\": \"p%u\", \"msgtype\": \"OK\", \"reqid\": \"%s\"}", c->msgid++,
                  req_id);
        text(&f, 0, (const char *)j.p, NULL);
        text(&f, 0, "{}", NULL);
        text(&f, 0, "{}", NULL);
        server_msg(c, ms(1) + between(pg, 0, ms(2)), &f, 3, 0);
    }
    if (pg->g->stream_ns > 0)
        st_stream(c, 0, pg->g->stream_ns);
    static const uint8_t going_away[2] = {0x03, 0xe9}; /* 1001 */
    ws_client_frame(&f, WS_CLOSE, going_away, 2, &pg->r);
    step *s = st_cdata(c, between(pg, ms(5), ms(50)), conn_put(c, f.p, f.len), TAG_NONE);
    s->wsf[WS_CLOSE] = 1;
    f.len = 0;
    ws_server_frame(&f, WS_CLOSE, going_away, 2);
    s = st_sdata(c, between(pg, 300 * NS_PER_US, ms(1)), conn_put(c, f.p, f.len), (span){0},
                 TAG_NONE, 0);
    s->wsf[WS_CLOSE] = 1;
    s->noack = 1;
    st_sfin(c, between(pg, 200 * NS_PER_US, 500 * NS_PER_US));
    st_notify(c, 0, EV_WS_DONE);
    gb_free(&f);
    gb_free(&j);
}

enum ws_mode { WS_NORMAL, WS_REFUSED, WS_EXPIRED };

static void spawn_ws(page *pg, int64_t t, int mode)
{
    conn *c = page_spawn(pg, ROLE_WS, t, path_for(pg, -1));
    gbuf req = {0}, resp = {0};
    char accept[32], date[40];
    ws_upgrade_request(pg, &req, accept);
    date_at(pg, date, t);
    st_handshake(c, 0);
    st_cdata(c, between(pg, 500 * NS_PER_US, ms(1)), conn_put(c, req.p, req.len), TAG_REQ);
    char n[96];
    snprintf(n, sizeof n, "/%s/ws?visit=%d [ws%s]", app_name(), pg->visit,
             mode == WS_REFUSED ? " 403" : "");
    note(c, n);
    pg->ws_spawned = 1;
    pg->ws_open_t = t;
    if (mode == WS_REFUSED) {
        gb_printf(&resp,
                  "HTTP/1.1 403 Forbidden\r\n" TORNADO "Content-Type: text/html; charset=UTF-8\r\n"
                  "Date: %s\r\nContent-Length: %zu\r\n\r\n" WS_REFUSED_BODY,
                  date, strlen(WS_REFUSED_BODY));
        st_sdata(c, between(pg, 500 * NS_PER_US, ms(2)), conn_put(c, resp.p, resp.len), (span){0},
                 TAG_RESP, 403);
        st_notify(c, 0, EV_WS_DONE);
        st_cfin(c, between(pg, ms(1), ms(3)));
    } else {
        gb_printf(&resp,
                  "HTTP/1.1 101 Switching Protocols\r\n" TORNADO "Date: %s\r\n"
                  "Sec-Websocket-Protocol: bokeh\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-Websocket-Accept: %s\r\n\r\n",
                  date, accept);
        step *s = st_sdata(c, between(pg, ms(1), ms(5)), conn_put(c, resp.p, resp.len), (span){0},
                           TAG_RESP, 101);
        s->noack = 1;
        if (mode == WS_EXPIRED) {
            gbuf f = {0};
            ws_server_frame(&f, WS_CLOSE, NULL, 0); /* 88 00: ProtocolError, token expired */
            s = st_sdata(c, between(pg, 200 * NS_PER_US, 500 * NS_PER_US), conn_put(c, f.p, f.len),
                         (span){0}, TAG_NONE, 0);
            s->wsf[WS_CLOSE] = 1;
            f.len = 0;
            ws_client_frame(&f, WS_CLOSE, NULL, 0, &pg->r);
            s = st_cdata(c, 100 * NS_PER_US, conn_put(c, f.p, f.len), TAG_NONE);
            s->wsf[WS_CLOSE] = 1;
            s->noack = 1;
            st_sfin(c, between(pg, 100 * NS_PER_US, 300 * NS_PER_US));
            st_notify(c, 0, EV_WS_DONE);
            gb_free(&f);
        } else {
            ws_session(pg, c);
        }
    }
    gb_free(&req);
    gb_free(&resp);
    gen_conn_ready(pg->g, c);
}

/* A static-script connection: handshake, (wait for the HTML if preconnected), one script,
 * then idle until the page closes; the last one also carries the favicon request. */
static conn *spawn_static(page *pg, int i, int64_t t, int preconnected, int favicon)
{
    conn *c = page_spawn(pg, ROLE_STATIC, t, path_for(pg, i));
    st_handshake(c, 0);
    if (preconnected)
        st_park(c);
    add_static(pg, c, i, preconnected ? 0 : 500 * NS_PER_US, t);
    st_park(c);
    if (favicon) {
        pg->fav = c;
        add_favicon(pg, c, t);
        st_park(c);
    }
    st_cfin(c, 0);
    gen_conn_ready(pg->g, c);
    return c;
}

/* ------------------------------------------------------------------ events */
static int64_t expired_ws_time(page *pg, int64_t t)
{
    int64_t expiry_ns = (pg->mint_epoch + TOKEN_EXPIRY) * NS_PER_S;
    int64_t late = expiry_ns + between(pg, ms(5000), ms(90000));
    return late > t ? late : t;
}

static void kill_page(page *pg, conn *from, int64_t t)
{
    pg->kill_t = t;
    for (int i = 0; i < pg->nconns; i++) /* packets already queued past the kill */
        if (pg->conns[i] != from)
            gen_conn_killed(pg->g, pg->conns[i]);
    page_close_all(pg, pg->kill_t);
}

static void on_html_done(page *pg, int64_t t, conn *from)
{
    pg->html_done_t = t;
    if (pg->kind != 0)
        return;
    if (pg->cause == CAUSE_CLIENT_GONE && !pg->cold) { /* gone before the websocket */
        kill_page(pg, from, t + between(pg, ms(5), ms(50)));
        return;
    }
    if (pg->cold) {
        for (int i = 0; i < pg->nconns; i++) /* the preconnected socket gets bokeh-gl */
            if (pg->conns[i]->role == ROLE_STATIC)
                conn_wake(pg->conns[i], t + between(pg, ms(18), ms(25)));
        for (int i = 2; i < N_STATIC; i++)
            spawn_static(pg, i, t + between(pg, ms(20), ms(30)), 0, i == N_STATIC - 1);
    } else if (pg->cause != CAUSE_CLIENT_GONE) {
        int64_t tws = t + between(pg, ms(120), ms(400));
        if (pg->cause == CAUSE_TOKEN_EXPIRED)
            spawn_ws(pg, expired_ws_time(pg, tws), WS_EXPIRED);
        else
            spawn_ws(pg, tws, pg->cause == CAUSE_WS_REFUSED ? WS_REFUSED : WS_NORMAL);
    }
}

/* The client of a cold client_gone page load vanishes (tab killed, laptop closed) halfway
 * through the largest script; every connection of the page is reset from then on. (A warm one
 * goes just after the HTML arrived: see on_html_done.) */
void page_server_sends(page *pg, conn *c, uint32_t len, int64_t t)
{
    if (!pg->kill_armed)
        return;
    conn *victim = pg->fav;
    if (c != victim || len < 2 * c->mss)
        return;
    int64_t transfer = (int64_t)(len + len / c->mss * c->hdr_len) * 8 * NS_PER_S / pg->bw_bps;
    int64_t two_segs = (int64_t)2 * (c->mss + c->hdr_len) * 8 * NS_PER_S / pg->bw_bps;
    pg->kill_armed = 0;
    kill_page(pg, c, t + (transfer / 2 > two_segs ? transfer / 2 : two_segs));
}

static void on_all_statics(page *pg, int64_t t)
{
    int64_t tws = t + between(pg, ms(300), ms(450));
    if (pg->fav) /* Chromium asks for the favicon once the scripts are in */
        conn_wake(pg->fav, tws - between(pg, ms(1), ms(5)));
    switch (pg->cause) {
    case CAUSE_SCRIPT_FAILED: /* bokeh.min.js missing: BokehJS never runs, no websocket */
        page_close_all(pg, t + between(pg, ms(8000), ms(20000)));
        break;
    case CAUSE_CLIENT_GONE:
        break;
    case CAUSE_TOKEN_EXPIRED:
        spawn_ws(pg, expired_ws_time(pg, tws), WS_EXPIRED);
        break;
    default:
        spawn_ws(pg, tws, pg->cause == CAUSE_WS_REFUSED ? WS_REFUSED : WS_NORMAL);
    }
}

void page_event(page *pg, int event, int64_t t, conn *from)
{
    switch (event) {
    case EV_HTML_DONE:
        on_html_done(pg, t, from);
        break;
    case EV_STATIC_DONE:
        if (++pg->statics_done == N_STATIC)
            on_all_statics(pg, t);
        break;
    case EV_WS_DONE:
        if (pg->cause == CAUSE_WS_REFUSED)
            page_close_all(pg, t + between(pg, ms(5000), ms(20000)));
        else
            page_close_all(pg, t + between(pg, ms(2), ms(20)));
        break;
    case EV_STUCK:
        page_close_all(pg, pg->t0 + between(pg, ms(15000), ms(40000)));
        break;
    default:
        break;
    }
}

void page_conn_done(page *pg, conn *c)
{
    (void)c;
    if (--pg->live == 0)
        gen_page_done(pg->g, pg);
}

void page_free(page *pg)
{
    for (int i = 0; i < pg->nconns; i++) {
        conn_free(pg->conns[i]);
        free(pg->conns[i]);
    }
    gb_free(&pg->token);
    gb_free(&pg->headers_json);
    free(pg->truth_text);
    free(pg);
}

/* ------------------------------------------------------------------ page start */
static client *pick_client(gen *g, page *pg, int family)
{
    uint32_t start = rng_below(&pg->r, (uint32_t)g->nclients);
    if (family != 4 && family != 6)
        return &g->clients[start];
    for (int k = 0; k < g->nclients; k++) {
        client *cl = &g->clients[(start + (uint32_t)k) % (uint32_t)g->nclients];
        if (cl->v6 == (family == 6))
            return cl;
    }
    return &g->clients[start];
}

static void build_page_conn(page *pg)
{
    gbuf req = {0}, resp = {0};
    page_request(pg, &req);
    int64_t t_resp = pg->t0 + pg->rtt + pg->app_ns;
    make_token(&pg->token, pg->session_id, pg->mint_epoch + TOKEN_EXPIRY,
               (const char *)pg->headers_json.p, pg->visit);
    html_response(pg, &resp, t_resp);
    conn *a = page_spawn(pg, ROLE_PAGE, pg->t0, path_for(pg, 0));
    st_handshake(a, 0);
    st_cdata(a, ms(1) + between(pg, 0, ms(2)), conn_put(a, req.p, req.len), TAG_REQ);
    st_sdata(a, pg->app_ns, conn_put(a, resp.p, resp.len), (span){0}, TAG_RESP, 200);
    st_notify(a, 0, EV_HTML_DONE);
    char n[96];
    snprintf(n, sizeof n, "/%s?visit=%d", app_name(), pg->visit);
    note(a, n);
    if (pg->kind == 1) {
        st_cfin(a, 300 * NS_PER_US);
    } else if (pg->kind == 2) {
        st_sfin(a, 200 * NS_PER_US); /* Connection: close */
    } else {
        if (pg->cold)
            add_static(pg, a, 0, between(pg, ms(15), ms(30)), t_resp);
        st_park(a);
        st_cfin(a, 0);
    }
    gen_conn_ready(pg->g, a);
    gb_free(&req);
    gb_free(&resp);
    if (pg->kind != 0)
        return;
    /* Chromium opens a second socket early: with a cold cache it carries bokeh-gl, with a warm
     * one no request at all */
    int64_t tp = pg->t0 + between(pg, ms(8), ms(15));
    if (pg->cold) {
        spawn_static(pg, 1, tp, 1, 0);
    } else {
        conn *p = page_spawn(pg, ROLE_PRECONNECT, tp, PATH_OK);
        st_handshake(p, 0);
        st_park(p);
        st_cfin(p, 0);
        note(p, "no request");
        gen_conn_ready(pg->g, p);
    }
}

static void count_page(gen *g, page *pg)
{
    g->n.pages++;
    g->n.pages_by_cause[pg->cause]++;
    if (pg->cold)
        g->n.cold++;
    else
        g->n.warm++;
    if (pg->cl->v6)
        g->n.v6_pages++;
}

void page_start(gen *g, int64_t t0, int visit, int cause, int cache, int family)
{
    page *pg = calloc(1, sizeof *pg);
    if (!pg) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    pg->g = g;
    pg->visit = visit;
    pg->cause = cause;
    pg->t0 = t0;
    rng_seed(&pg->r, g->seed * 0x100000001b3ULL ^ (0x9e3779b97f4a7c15ULL * (uint64_t)visit));
    pg->cl = pick_client(g, pg, family);
    pg->kind = cause == CAUSE_NO_SCRIPTS ? 1 + (int)rng_below(&pg->r, 2) : 0;
    if (pg->kind != 0)
        pg->cold = 1;
    else if (cache >= 0)
        pg->cold = cache;
    else
        pg->cold = !pg->cl->warm || rng_unit(&pg->r) < g->cold_share;
    if (cause == CAUSE_SCRIPT_FAILED)
        pg->cold = 1;
    pg->failed_static = 0;
    pg->bh_index = pg->cold ? (int)rng_below(&pg->r, N_STATIC) : 0;
    pg->rtt = between(pg, ms(2), ms(30));
    pg->bw_bps = between(pg, 50000000, 400000000);
    pg->app_ns = between(pg, ms(15), ms(120));
    if (pg->cl->v6)
        snprintf(pg->host, sizeof pg->host, "[fd7a:115c:a1e0::1]:5006");
    else
        snprintf(pg->host, sizeof pg->host, "100.64.0.1:5006");
    snprintf(pg->url, sizeof pg->url, "http://%s/%s?visit=%d", pg->host, app_name(), visit);
    random_alnum(&pg->r, pg->session_id, 44);
    pg->mint_epoch = (t0 + pg->rtt + pg->app_ns) / NS_PER_S;
    if (pg->kind == 0 && pg->cold &&
        (cause == CAUSE_HEALTHY || cause == CAUSE_SLOW_PMTU || cause == CAUSE_WS_REFUSED ||
         cause == CAUSE_TOKEN_EXPIRED))
        pg->cl->warm = 1; /* the scripts are in the browser's cache from now on */
    pg->kill_armed = cause == CAUSE_CLIENT_GONE && pg->cold; /* see page_server_sends */
    count_page(g, pg);
    if (g->fifo_tail)
        g->fifo_tail->next = pg;
    else
        g->fifo_head = pg;
    g->fifo_tail = pg;
    build_page_conn(pg);
}

/* A browser-less favicon GET long after the last page load, so that every page load's grace
 * time has passed inside the capture (as in the shared captures). Not a page load. */
void page_start_tail(gen *g, int64_t t0)
{
    page *pg = calloc(1, sizeof *pg);
    if (!pg) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    pg->g = g;
    pg->visit = 0;
    pg->cause = -1;
    pg->kind = 1;
    pg->t0 = t0;
    rng_seed(&pg->r, g->seed ^ 0x7a11);
    pg->cl = &g->clients[0];
    pg->rtt = ms(5);
    pg->bw_bps = 100000000;
    snprintf(pg->host, sizeof pg->host, "100.64.0.1:5006");
    conn *c = page_spawn(pg, ROLE_TAIL, t0, PATH_OK);
    gbuf req = {0}, head = {0};
    char date[40];
    gb_printf(&req,
              "GET /favicon.ico HTTP/1.1\r\nHost: %s\r\nUser-Agent: curl/7.88.1\r\n"
              "Accept: */*\r\n\r\n",
              pg->host);
    http_date(date, t0 / NS_PER_S);
    gb_printf(&head,
              "HTTP/1.1 200 OK\r\n" TORNADO "Content-Type: image/x-icon\r\nDate: %s\r\n"
              "Transfer-Encoding: chunked\r\n\r\n",
              date);
    uint32_t flen;
    const uint8_t *fav = favicon_chunked(&flen);
    st_handshake(c, 0);
    st_cdata(c, ms(1), conn_put(c, req.p, req.len), TAG_REQ);
    st_sdata(c, ms(1), conn_put(c, head.p, head.len), span_ext(fav, flen), TAG_RESP, 200);
    st_cfin(c, 300 * NS_PER_US);
    gb_free(&req);
    gb_free(&head);
    gen_conn_ready(g, c);
}
