/* test_decode_bokeh_shape: the Bokeh message assembler's fast ways and what it reads.
 * bokeh_stream_keep (nothing of a binary part, all of a text) and a message whose buffers are
 * fed with 0 bytes kept; headers and buffer ids in the shapes Bokeh writes (read without the
 * general JSON walk) give what the general walk gives, checked against the same texts with a
 * leading space (which only the general walk takes); headers with escapes, integer ids, other
 * spacing or order, duplicates, cuts and bad values; texts that only look like headers; a header
 * split across WebSocket fragments and TCP reads; json_plain_run. */
#include "decode/bokeh.h"
#include "decode/json_scan.h"
#include "decode/ws.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>

static int feed_text(bokeh_stream *s, const char *t, bokeh_msg *m)
{
    return bokeh_stream_feed(s, false, (const uint8_t *)t, strlen(t), strlen(t), m);
}

/* ---- what the assembler reads ---- */

static void test_keep(void)
{
    bokeh_stream s;
    bokeh_msg m;
    bokeh_stream_init(&s);
    const char *parts[] = {"{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}",
                           "{}", "{\"events\":[]}", "{\"id\": \"p2\"}"};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            CHECK_EQ_INT(bokeh_stream_keep(&s, true), 0);
            CHECK(bokeh_stream_keep(&s, false) == SIZE_MAX);
            CHECK_EQ_INT(feed_text(&s, parts[i], &m), 0);
        }
        CHECK_EQ_INT(bokeh_stream_keep(&s, true), 0);
        /* the binary buffer with nothing kept: only its size counts */
        CHECK_EQ_INT(bokeh_stream_feed(&s, true, (const uint8_t *)"", 0, 4000, &m), 1);
        CHECK_EQ_STR(m.msgtype, "PATCH-DOC");
        CHECK_EQ_INT(m.num_buffers, 1);
        size_t texts = 0;
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            texts += strlen(parts[i]);
        CHECK_EQ_INT(m.size, texts + 4000);
    }
    /* a binary part is read in no state: kept or not, the same results */
    static const uint8_t bin[8] = "{\"id\":1";
    for (int state_texts = 0; state_texts < 5; state_texts++) {
        bokeh_stream a, b;
        bokeh_msg ma, mb;
        bokeh_stream_init(&a);
        bokeh_stream_init(&b);
        for (int i = 0; i < state_texts; i++) {
            feed_text(&a, parts[i], &ma);
            feed_text(&b, parts[i], &mb);
        }
        int ra = bokeh_stream_feed(&a, true, bin, sizeof bin, 100, &ma);
        int rb = bokeh_stream_feed(&b, true, NULL, 0, 100, &mb);
        CHECK_EQ_INT(ra, rb);
        CHECK(a.state == b.state && a.errors == b.errors && a.messages == b.messages &&
              a.cur.size == b.cur.size);
    }
}

/* ---- shapes ---- */

typedef struct parsed {
    int rc; /* of the header feed: 0 parsed, -1 error (from BK_HEADER) */
    bokeh_msg cur;
    uint64_t errors;
} parsed;

static parsed header(const char *t, size_t kept, uint64_t total)
{
    bokeh_stream s;
    bokeh_msg m;
    bokeh_stream_init(&s);
    parsed p;
    p.rc = bokeh_stream_feed(&s, false, (const uint8_t *)t, kept, total, &m);
    p.cur = s.cur;
    p.errors = s.errors;
    return p;
}

/* The text parsed as is and with a space in front (the general JSON walk) agree. */
static void same_both_ways(const char *t)
{
    char spaced[512];
    snprintf(spaced, sizeof spaced, " %s", t);
    size_t n = strlen(t);
    for (size_t cut = 0; cut <= n; cut++) {
        parsed a = header(t, cut, n), b = header(spaced, cut + 1, n + 1);
        CHECK_EQ_INT(a.rc, b.rc);
        CHECK_EQ_INT(a.errors, b.errors);
        CHECK(!memcmp(a.cur.msgtype, b.cur.msgtype, sizeof a.cur.msgtype));
        CHECK(!memcmp(a.cur.msgid, b.cur.msgid, sizeof a.cur.msgid));
        CHECK(!memcmp(a.cur.reqid, b.cur.reqid, sizeof a.cur.reqid));
        CHECK_EQ_INT(a.cur.num_buffers, b.cur.num_buffers);
        if (a.rc == 0)
            CHECK_EQ_INT(a.cur.size + 1, b.cur.size);
    }
}

static void expect(const char *t, int rc, const char *type, const char *id, const char *req,
                   uint32_t nb)
{
    parsed p = header(t, strlen(t), strlen(t));
    CHECK_EQ_INT(p.rc, rc);
    if (rc == 0) {
        CHECK_EQ_STR(p.cur.msgtype, type);
        CHECK_EQ_STR(p.cur.msgid, id);
        CHECK_EQ_STR(p.cur.reqid, req);
        CHECK_EQ_INT(p.cur.num_buffers, nb);
    }
    same_both_ways(t);
}

static void test_header_shapes(void)
{
    /* as Python and BokehJS write them */
    expect("{\"msgid\": \"p1051\", \"msgtype\": \"ACK\"}", 0, "ACK", "p1051", "", 0);
    expect("{\"msgid\":\"6E4B8753F06147178FA49157928876FD\",\"msgtype\":\"PULL-DOC-REQ\"}", 0,
           "PULL-DOC-REQ", "6E4B8753F06147178FA49157928876FD", "", 0);
    expect("{\"msgid\": \"p5\", \"msgtype\": \"OK\", \"reqid\": \"6E4B\"}", 0, "OK", "p5", "6E4B",
           0);
    expect("{\"msgid\": \"p7\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 2}", 0, "PATCH-DOC",
           "p7", "", 2);
    expect("{\"msgid\": \"p7\", \"msgtype\": \"PATCH-DOC\", \"reqid\": \"r\", \"num_buffers\": 3}",
           0, "PATCH-DOC", "p7", "r", 3);
    expect("{\"msgid\":\"a\",\"msgtype\":\"B\",\"reqid\":\"c\",\"num_buffers\":0}", 0, "B", "a",
           "c", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\"} trailing bytes", 0, "OK", "p1", "", 0);
    /* long values: cut to the fields' sizes, as before */
    expect("{\"msgid\": \"0123456789012345678901234567890123456789012345678901234567890123456789\","
           " \"msgtype\": \"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\"}",
           0, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
           "012345678901234567890123456789012345678901234567890123456789012", "", 0);
    /* other shapes: the general way */
    expect("{\"msgid\" : \"p1\", \"msgtype\": \"OK\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgtype\": \"OK\", \"msgid\": \"p1\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgid\":  \"p1\", \"msgtype\": \"OK\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgid\": \"p1\",\n \"msgtype\": \"OK\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": 1, \"reqid\": \"x\"}", 0,
           "OK", "p1", "x", 1);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"extra\": [1, {\"a\": \"}\"}]}", 0, "OK",
           "p1", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"msgtype\": \"ACK\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgid\": 1001, \"msgtype\": \"OK\", \"reqid\": -5}", 0, "OK", "1001", "-5", 0);
    /* escapes, in values and in names */
    expect("{\"msgid\": \"p\\u0031\", \"msgtype\": \"A\\\"B\"}", 0, "A\"B", "p1", "", 0);
    expect("{\"msgid\": \"p1\", \"msg\\u0074ype\": \"OK\"}", 0, "OK", "p1", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"\\u00e9t\\u00e9\"}", 0, "\xc3\xa9t\xc3\xa9", "p1",
           "", 0);
    /* bad ones */
    expect("{\"msgid\": \"p1\", \"msgtype\": \"\"}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": ACK}", -1, "", "", "", 0);
    expect("{\"msgtype\": \"OK\"}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": -1}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": 4294967296}", -1, "", "", "",
           0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": 99999999999999999999}", -1,
           "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": 1.5}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"num_buffers\": \"2\"}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": {}}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\", \"msgtype\": \"O\x01K\"}", -1, "", "", "", 0);
    expect("{\"msgid\": \"p1\" \"msgtype\": \"OK\"}", -1, "", "", "", 0);
    expect("[\"msgid\", \"msgtype\"]", -1, "", "", "", 0);
    /* every cut of a shaped header, and a cut one that still parses */
    same_both_ways("{\"msgid\": \"p7\", \"msgtype\": \"PATCH-DOC\", \"reqid\": \"r\", "
                   "\"num_buffers\": 3}");
    const char *t = "{\"msgid\": \"p9\", \"msgtype\": \"PULL-DOC-REPLY\", \"reqid\": \"6E4B87\"}";
    parsed p = header(t, strlen(t) - 4, 100000);
    CHECK_EQ_INT(p.rc, 0);
    CHECK_EQ_STR(p.cur.msgtype, "PULL-DOC-REPLY");
    CHECK_EQ_STR(p.cur.reqid, "6E4B");
}

/* Buffer ids: {"id": ...} is found at once, anything else as json_has_key says. A complete
 * text without an "id" key is an error; a cut one is not. */
static void test_buffer_ids(void)
{
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"{\"id\": \"p1060\"}", 0},
        {"{\"id\":\"0\"}", 0},
        {"{\"id\": 1}", 0},
        {"{\"id\":[1,2]}", 0},
        {" {\"id\": \"x\"}", 0},
        {"{ \"id\": \"x\"}", 0},
        {"{\"id\" : \"x\"}", 0},
        {"{\"id\":  \"x\"}", 0},
        {"{\"id\":\n\"x\"}", 0},
        {"{\"idx\": \"x\"}", -1},
        {"{\"i\\u0064\": \"x\"}", 0},
        {"{\"a\": 1, \"id\": 2}", 0},
        {"{\"id\": ", -1},
        {"{\"id\":", -1},
        {"{}", -1},
        {"{\"id\"}", -1},
        {"{\"ID\": 1}", -1},
    };
    const char *hdr = "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bokeh_stream s;
        bokeh_msg m;
        bokeh_stream_init(&s);
        feed_text(&s, hdr, &m);
        feed_text(&s, "{}", &m);
        feed_text(&s, "{}", &m);
        CHECK_EQ_INT(feed_text(&s, cases[i].text, &m), cases[i].rc);
        /* the same text cut (total larger): never an error */
        bokeh_stream_init(&s);
        feed_text(&s, hdr, &m);
        feed_text(&s, "{}", &m);
        feed_text(&s, "{}", &m);
        const char *t = cases[i].text;
        CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)t, strlen(t), strlen(t) + 9, &m),
                     0);
    }
}

/* Texts after the header that contain "msgtype" (many 'g's before it, escapes, nested) are
 * headers only when msgtype is a top-level string. */
static void test_looks_like_header(void)
{
    char content[600];
    int n = snprintf(content, sizeof content, "{\"g\": \"");
    for (int i = 0; i < 40; i++)
        content[n++] = 'g';
    snprintf(content + n, sizeof content - (size_t)n,
             "\", \"msgtype\": \"OK\", \"msgid\": \"p3\"}");
    static const struct {
        const char *text;
        bool header;
    } cases[] = {
        {"{\"doc\": {\"msgtype\": \"OK\", \"msgid\": \"p2\"}}", false},
        {"{\"events\": [\"msgtype\"]}", false},
        {"msgtype", false},
        {"{\"msgtype\"", false},
        {"{\"msg\\u0074ype\": \"OK\", \"msgid\": \"p2\"}", true},
        {"{\"x\": \"\\u0041\", \"msgtype\": \"OK\", \"msgid\": \"p2\"}", true},
        {"{\"msgid\": \"p2\", \"msgtype\": \"OK\"}", true},
        {"{\"msgid\": \"p2\", \"msgtype\": \"\"}", true}, /* a header, a bad one */
        {"{\"msgtype\":\"\"", true}, /* the shortest text with a msgtype string */
        {"{\"msgtype\":\"", false},
        {"{}", false},
        {"{\"gggggggggggggggggggg\": 1, \"msgtype\": \"OK\", \"msgid\": \"p4\"}", true},
    };
    const char *hdr = "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\"}";
    for (size_t i = 0; i <= sizeof cases / sizeof cases[0]; i++) {
        const char *t = i < sizeof cases / sizeof cases[0] ? cases[i].text : content;
        bool is_header = i < sizeof cases / sizeof cases[0] ? cases[i].header : true;
        bokeh_stream s;
        bokeh_msg m;
        bokeh_stream_init(&s);
        feed_text(&s, hdr, &m);
        /* in the metadata slot: a header there restarts (an error) */
        CHECK_EQ_INT(feed_text(&s, t, &m), is_header ? -1 : 0);
        CHECK_EQ_INT(s.errors, is_header ? 1 : 0);
    }
    /* one over BOKEH's header limit (4096 bytes) is never taken for a header */
    static char big[5000];
    n = snprintf(big, sizeof big, "{\"msgid\": \"p2\", \"msgtype\": \"OK\", \"pad\": \"");
    memset(big + n, 'x', sizeof big - (size_t)n - 3);
    memcpy(big + sizeof big - 3, "\"}", 3);
    bokeh_stream s;
    bokeh_msg m;
    bokeh_stream_init(&s);
    feed_text(&s, hdr, &m);
    CHECK_EQ_INT(feed_text(&s, big, &m), 0);
    CHECK_EQ_INT(s.errors, 0);
}

/* ---- through the WebSocket parser ---- */

typedef struct pipe {
    bokeh_stream s;
    bokeh_msg last;
    int done, errors;
} pipe_;

static size_t pipe_keep(void *ctx, int opcode)
{
    return bokeh_stream_keep(&((pipe_ *)ctx)->s, opcode == WS_OP_BINARY);
}

static void pipe_message(void *ctx, int opcode, const uint8_t *data, size_t kept, uint64_t total,
                         bool compressed, bool truncated)
{
    pipe_ *p = ctx;
    int rc = bokeh_stream_feed(&p->s, opcode == WS_OP_BINARY, data, kept, total, &p->last);
    p->done += rc == 1;
    p->errors += rc < 0;
}

static size_t put_frame(uint8_t *out, int opcode, bool fin, const char *s, size_t len)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    out[n++] = (uint8_t)len; /* < 126 here */
    memcpy(out + n, s, len);
    return n + len;
}

/* A header in three fragments (a ping between two), and every TCP split of the stream. */
static void test_split_header(void)
{
    const char *hdr = "{\"msgid\": \"p77\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}";
    uint8_t b[512];
    size_t n = put_frame(b, WS_OP_TEXT, false, hdr, 20);
    n += put_frame(b + n, WS_OP_PING, true, "0", 1);
    n += put_frame(b + n, WS_OP_CONT, false, hdr + 20, 15);
    n += put_frame(b + n, WS_OP_CONT, true, hdr + 35, strlen(hdr) - 35);
    n += put_frame(b + n, WS_OP_TEXT, true, "{}", 2);
    n += put_frame(b + n, WS_OP_TEXT, true, "{\"e\":1}", 7);
    n += put_frame(b + n, WS_OP_TEXT, true, "{\"id\": \"0\"}", 11);
    n += put_frame(b + n, WS_OP_BINARY, true, "0123456789abcdef", 16);
    for (size_t cut = 0; cut <= n; cut++) {
        pipe_ pp = {0};
        bokeh_stream_init(&pp.s);
        ws_callbacks cb = {.ctx = &pp, .on_message = pipe_message, .message_keep = pipe_keep};
        ws_parser *w = ws_parser_new(&cb, false, false, false, 0, NULL);
        ws_parser_feed(w, b, cut);
        ws_parser_feed(w, b + cut, n - cut);
        CHECK_EQ_INT(pp.done, 1);
        CHECK_EQ_INT(pp.errors, 0);
        CHECK_EQ_STR(pp.last.msgtype, "PATCH-DOC");
        CHECK_EQ_STR(pp.last.msgid, "p77");
        CHECK_EQ_INT(pp.last.num_buffers, 1);
        CHECK_EQ_INT(pp.last.size, strlen(hdr) + 2 + 7 + 11 + 16);
        ws_parser_free(w);
    }
}

/* ---- json_plain_run ---- */

static void test_plain_run(void)
{
    char buf[80];
    for (size_t len = 0; len < 40; len++)
        for (size_t at = 0; at <= len; at++) {
            static const char stops[] = {'"', '\\', 0x00, 0x1f};
            for (size_t s = 0; s < sizeof stops; s++) {
                memset(buf, 'a', len);
                if (len)
                    buf[len - 1] = (char)0xe9; /* high bytes are plain */
                if (at < len)
                    buf[at] = stops[s];
                CHECK_EQ_INT(json_plain_run(buf, len), at);
            }
        }
    CHECK_EQ_INT(json_plain_run(NULL, 5), 0);
}

int main(void)
{
    test_keep();
    test_header_shapes();
    test_buffer_ids();
    test_looks_like_header();
    test_split_header();
    test_plain_run();
    TEST_MAIN_END("test_decode_bokeh_shape");
}
