/* test_decode_bokeh_fast: the Bokeh assembler's one-go ways give what its general way gives.
 * A header in Bokeh's shape is read straight into the message, and a buffer id in Bokeh's
 * shape ({"id": "<id>"}) is taken without the header test or the JSON walk. Each text is fed
 * as is and with a space in front (which only the general way takes), cut at every length, in
 * every state of the assembler (expecting a header, metadata, content, a buffer id, a buffer,
 * resynchronising); results, states, counts and sizes must agree. The texts are just outside
 * the shapes: num_buffers of 9 and 10 digits, leading zeros, an empty msgtype, escapes, other
 * spacing, trailing bytes, ids that contain "msgtype", buffer ids with a second key, cut ones.
 * And messages one after another in one stream: nothing of one is left in the next. */
#include "decode/bokeh.h"
#include "tests/unit/testlib.h"
#include <stdio.h>
#include <stdlib.h>

static const char *const texts[] = {
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 2}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 0}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 001}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 999999999}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 0000000001}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 4294967295}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 4294967296}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 99999999999999999999}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": -1}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1.0}",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1 }",
    "{\"msgid\": \"p1\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 1}garbage",
    "{\"msgid\": \"p1\", \"msgtype\": \"\", \"num_buffers\": 1}",
    "{\"msgid\": \"\", \"msgtype\": \"OK\"}",
    "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": \"\"}",
    "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": \"r\\u0041\"}",
    "{\"msgid\": \"p\\\"1\", \"msgtype\": \"OK\"}",
    "{\"msgid\": \"p1\", \"msgtype\": \"O\\nK\"}",
    "{\"msgid\":\"j1\",\"msgtype\":\"ACK\",\"num_buffers\":1,\"reqid\":\"x\"}",
    "{\"msgid\": \"p1\", \"msgtype\": \"OK\", \"reqid\": \"r\", \"reqid\": \"s\"}",
    "{\"msgid\": 12, \"msgtype\": \"OK\"}",
    "{\"id\": \"p1\"}",
    "{\"id\":\"0\"}",
    "{\"id\": \"\"}",
    "{\"id\": \"msgtype\"}",
    "{\"id\": \"p1\"} ",
    "{\"id\": \"p1\"}}",
    "{\"id\":  \"p1\"}",
    "{\"id\": \"p\\\"1\"}",
    "{\"id\": \"p1\", \"msgtype\": \"OK\", \"msgid\": \"p9\"}",
    "{\"id\": \"p1\", \"x\": 1}",
    "{\"id\": 5}",
    "{\"id\": \"p\x01\"}",
    "{\"idx\": \"p1\"}",
    "{\"msgtype\": \"OK\", \"msgid\": \"p3\"}",
    "{}",
    "{\"events\":[{\"kind\":\"ModelChanged\",\"msgtype\":\"X\"}]}",
};
#define NTEXTS (sizeof texts / sizeof texts[0])

/* Texts and binary parts that bring a new assembler to each state. */
static const char *const lead[][4] = {
    {NULL},                                                               /* expecting a header */
    {"{\"msgid\": \"a\", \"msgtype\": \"X\", \"num_buffers\": 1}", NULL}, /* metadata */
    {"{\"msgid\": \"a\", \"msgtype\": \"X\", \"num_buffers\": 1}", "{}", NULL},       /* content */
    {"{\"msgid\": \"a\", \"msgtype\": \"X\", \"num_buffers\": 1}", "{}", "{}", NULL}, /* id */
    {"{\"msgid\": \"a\", \"msgtype\": \"X\", \"num_buffers\": 1}", "{}", "{}", "[]"}, /* buffer */
    {"[]", NULL}, /* resynchronising */
};

typedef struct side {
    bokeh_stream s;
    int rc;
    bokeh_msg out;
} side;

static void feed(side *x, bool binary, const char *t, size_t kept, uint64_t total)
{
    memset(&x->out, 0, sizeof x->out);
    x->rc = bokeh_stream_feed(&x->s, binary, (const uint8_t *)t, kept, total, &x->out);
}

static void same(const side *a, const side *b, uint64_t size_diff)
{
    CHECK_EQ_INT(a->rc, b->rc);
    CHECK_EQ_INT(a->s.state, b->s.state);
    CHECK_EQ_INT(a->s.errors, b->s.errors);
    CHECK_EQ_INT(a->s.messages, b->s.messages);
    CHECK_EQ_INT(a->s.buffers_left, b->s.buffers_left);
    CHECK_EQ_STR(a->s.cur.msgtype, b->s.cur.msgtype);
    CHECK_EQ_STR(a->s.cur.msgid, b->s.cur.msgid);
    CHECK_EQ_STR(a->s.cur.reqid, b->s.cur.reqid);
    CHECK_EQ_INT(a->s.cur.num_buffers, b->s.cur.num_buffers);
    CHECK(a->s.cur.size + size_diff == b->s.cur.size);
    if (a->rc == 1) {
        CHECK_EQ_STR(a->out.msgtype, b->out.msgtype);
        CHECK(a->out.size + size_diff == b->out.size);
        CHECK(!memcmp(&a->out, &a->s.cur, sizeof a->out)); /* s->cur is the message */
    }
}

/* In state st, text t cut to kept bytes (of its n), then a tail that completes a message:
 * the as-is side (a) and the spaced side (b) agree at each step. The spaced side's message
 * is one byte larger for each of its texts counted in it. */
static void run(int st, const char *t, size_t kept)
{
    side a, b;
    bokeh_stream_init(&a.s);
    bokeh_stream_init(&b.s);
    for (int i = 0; i < 4 && lead[st][i]; i++) {
        const char *l = lead[st][i];
        bool binary = l[0] == '[';
        feed(&a, binary, l, strlen(l), strlen(l));
        feed(&b, binary, l, strlen(l), strlen(l));
    }
    char spaced[600];
    size_t n = strlen(t);
    snprintf(spaced, sizeof spaced, " %s", t);
    int state_before = a.s.state;
    feed(&a, false, t, kept, n);
    feed(&b, false, spaced, kept + 1, n + 1);
    /* b's message counts its one spaced text when t started it (metadata next) or was
     * counted as a later text part (metadata, content or buffer id expected), unless t
     * looked like a header and failed (the message is then cleared: size 0) */
    uint64_t diff =
        a.s.state == 1 || (state_before >= 1 && state_before <= 3 && a.s.cur.size) ? 1 : 0;
    same(&a, &b, diff);
    static const char *const tail[] = {"{}", "{}", "{\"id\": \"q\"}", "[]", "{\"id\":\"r\"}", "[]"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) {
        bool binary = tail[i][0] == '[';
        feed(&a, binary, tail[i], strlen(tail[i]), strlen(tail[i]) + 3);
        feed(&b, binary, tail[i], strlen(tail[i]), strlen(tail[i]) + 3);
        if (!a.s.cur.size)
            diff = 0;       /* a text where a header was expected cleared the message */
        same(&a, &b, diff); /* (no header in the tail: the same message or none) */
    }
}

static void test_every_state_and_cut(void)
{
    for (int st = 0; st < (int)(sizeof lead / sizeof lead[0]); st++)
        for (size_t i = 0; i < NTEXTS; i++)
            for (size_t kept = 0; kept <= strlen(texts[i]); kept++)
                run(st, texts[i], kept);
}

/* Plain expectations for the edges of the header's one-go way. */
static void test_header_edges(void)
{
    static const struct {
        const char *t;
        int rc;
        uint32_t nb;
    } cases[] = {
        {"{\"msgid\": \"p1\", \"msgtype\": \"X\", \"num_buffers\": 999999999}", 0, 999999999u},
        {"{\"msgid\": \"p1\", \"msgtype\": \"X\", \"num_buffers\": 4294967295}", 0, 4294967295u},
        {"{\"msgid\": \"p1\", \"msgtype\": \"X\", \"num_buffers\": 4294967296}", -1, 0},
        {"{\"msgid\": \"p1\", \"msgtype\": \"X\", \"num_buffers\": 0000000007}", 0, 7},
        {"{\"msgid\": \"p1\", \"msgtype\": \"\", \"num_buffers\": 1}", -1, 0},
        {"{\"msgid\": \"\", \"msgtype\": \"X\"}", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bokeh_stream s;
        bokeh_stream_init(&s);
        const char *t = cases[i].t;
        int rc = bokeh_stream_feed(&s, false, (const uint8_t *)t, strlen(t), strlen(t), NULL);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc == 0)
            CHECK_EQ_INT(s.cur.num_buffers, cases[i].nb);
    }
}

/* A buffer id in the shape and one that also names a msgtype: only the second restarts. */
static void test_buffer_id(void)
{
    bokeh_stream s;
    bokeh_stream_init(&s);
    const char *parts[] = {"{\"msgid\": \"a\", \"msgtype\": \"X\", \"num_buffers\": 2}", "{}", "{}",
                           "{\"id\": \"msgtype\"}"};
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)parts[i], strlen(parts[i]),
                                       strlen(parts[i]), NULL),
                     0);
    CHECK_EQ_INT(bokeh_stream_feed(&s, true, NULL, 0, 8, NULL), 0);
    const char *hdr = "{\"id\": \"p1\", \"msgtype\": \"Y\", \"msgid\": \"b\"}";
    CHECK_EQ_INT(bokeh_stream_feed(&s, false, (const uint8_t *)hdr, strlen(hdr), strlen(hdr), NULL),
                 -1);
    CHECK_EQ_STR(s.cur.msgtype, "Y");
    CHECK_EQ_INT(s.errors, 1);
}

/* Messages one after another in one stream, headers as is (the one-go way) and spaced (the
 * general way): after each part every field of the message agrees, so nothing of an earlier
 * message (a longer msgtype or msgid, a reqid, a content size) is left in a later one. */
static void test_fields_of_each_message(void)
{
    static const char *const headers[] = {
        ("{\"msgid\": \"p1-long-message-id\", \"msgtype\": \"PULL-DOC-REPLY\", \"reqid\": "
         "\"abcdef\"}"),
        "{\"msgid\": \"p2\", \"msgtype\": \"OK\"}",
        "{\"msgid\": \"p3\", \"msgtype\": \"OK\", \"reqid\": \"xyz\", \"num_buffers\": 1}",
        "{\"msgid\": \"p4\", \"msgtype\": \"OK\", \"reqid\": \"\"}",
        "{\"msgid\": \"p5\", \"msgtype\": \"PATCH-DOC\"}",
    };
    side a, b;
    bokeh_stream_init(&a.s);
    bokeh_stream_init(&b.s);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char spaced[200];
        size_t n = strlen(headers[i]);
        snprintf(spaced, sizeof spaced, " %s", headers[i]);
        feed(&a, false, headers[i], n, n);
        feed(&b, false, spaced, n + 1, n + 1);
        CHECK_EQ_INT(a.s.cur.content_size, b.s.cur.content_size);
        same(&a, &b, 1);
        const char *const rest[] = {"{}", "{\"events\": []}", "{\"id\": \"q\"}", "[]"};
        for (size_t k = 0; k < (a.s.cur.num_buffers ? 4u : 2u); k++) {
            bool binary = rest[k][0] == '[';
            feed(&a, binary, rest[k], strlen(rest[k]), strlen(rest[k]) + 10 * i);
            feed(&b, binary, rest[k], strlen(rest[k]), strlen(rest[k]) + 10 * i);
            CHECK_EQ_INT(a.s.cur.content_size, b.s.cur.content_size);
            same(&a, &b, 1);
        }
        CHECK_EQ_INT(a.rc, 1); /* the message completed */
    }
}

int main(void)
{
    test_every_state_and_cut();
    test_header_edges();
    test_buffer_id();
    test_fields_of_each_message();
    TEST_MAIN_END("test_decode_bokeh_fast");
}
