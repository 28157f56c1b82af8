/* fuzz_bokeh: libFuzzer target for decode/bokeh.h (and base64.h, json_scan.h underneath).
 * The input is used four ways: as a token, as a page to search for tokens (each one found is
 * decoded too), as Sec-WebSocket-Protocol and request-target values, and as a sequence of
 * WebSocket messages for the Bokeh message assembler (split at 0xff bytes; the first byte of a
 * part says binary or text and how much of it was "kept"). Checked: results stay inside the
 * input, ids are NUL-terminated within their array, counts and sizes add up, json_plain_run
 * stops at the first quote, backslash or control byte, and a second assembler fed only the
 * bytes bokeh_stream_keep asks for gives the same results. */
#include "decode/base64.h"
#include "decode/bokeh.h"
#include "decode/json_scan.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_token(const char *t, size_t n)
{
    bokeh_token_info info;
    int rc = bokeh_token_decode(t, n, &info);
    if (rc != 0 && rc != -1)
        abort();
    if (memchr(info.session_id, 0, sizeof info.session_id) == NULL)
        abort();
    if (rc == 0 && info.signed_token != (memchr(t, '.', n) != NULL))
        abort();
}

static void check_find(const char *s, size_t n)
{
    bokeh_found f[8];
    size_t k = bokeh_find_tokens(s, n, f, 8);
    if (bokeh_find_tokens(s, n, NULL, 0) != k)
        abort();
    for (size_t i = 0; i < k && i < 8; i++) {
        if (f[i].start < s || f[i].len == 0 || f[i].start + f[i].len > s + n)
            abort();
        if (i > 0 && f[i].start <= f[i - 1].start)
            abort();
        check_token(f[i].start, f[i].len);
    }
}

static void check_values(const char *s, size_t n)
{
    const char *p;
    size_t len;
    if (bokeh_parse_subprotocol(s, n, &p, &len) == 0 &&
        (p < s || len == 0 || p + len > s + n || memchr(p, ',', len)))
        abort();
    if (bokeh_query_session_id(s, n, &p, &len) == 0 && (p < s || len == 0 || p + len > s + n))
        abort();
    char out[40];
    bool tr;
    size_t olen;
    int rc = json_find_string(s, n, "msgtype", out, sizeof out, &olen, &tr);
    if (rc < JSON_BAD || rc > JSON_ENDED || olen >= sizeof out || strlen(out) > olen)
        abort();
    int64_t v;
    json_find_int(s, n, "num_buffers", &v);
    uint8_t b[64];
    if (ow_b64_decode(s, n, OW_B64_ANY, b, sizeof b, &olen) >= 0 && olen > sizeof b)
        abort();
    size_t run = json_plain_run(s, n);
    for (size_t i = 0; i <= run && i < n; i++)
        if ((i < run) != ((unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\'))
            abort();
}

static bool same_msg(const bokeh_msg *a, const bokeh_msg *b)
{
    return !strcmp(a->msgtype, b->msgtype) && !strcmp(a->msgid, b->msgid) &&
           !strcmp(a->reqid, b->reqid) && a->num_buffers == b->num_buffers && a->size == b->size &&
           a->content_size == b->content_size;
}

static void check_stream(const uint8_t *d, size_t n)
{
    bokeh_stream s, lean; /* lean: fed only what bokeh_stream_keep asks for */
    bokeh_stream_init(&s);
    bokeh_stream_init(&lean);
    uint64_t completed = 0, errors = 0, fed = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *end = memchr(d + i, 0xff, n - i);
        size_t part = end ? (size_t)(end - (d + i)) : n - i;
        if (part > 0) {
            uint8_t ctl = d[i];
            const uint8_t *msg = d + i + 1;
            size_t kept = part - 1;
            uint64_t total = kept + ((ctl >> 1) & 7) * 1000ull;
            bokeh_msg m, lm;
            size_t want = bokeh_stream_keep(&lean, ctl & 1);
            int lrc = bokeh_stream_feed(&lean, ctl & 1, msg, kept < want ? kept : want, total, &lm);
            int rc = bokeh_stream_feed(&s, ctl & 1, msg, kept, total, &m);
            if (lrc != rc || (rc == 1 && !same_msg(&m, &lm)) || lean.state != s.state ||
                lean.errors != s.errors || !same_msg(&lean.cur, &s.cur))
                abort();
            if (rc == 1) {
                completed++;
                if (!memchr(m.msgtype, 0, sizeof m.msgtype) ||
                    !memchr(m.msgid, 0, sizeof m.msgid) || !memchr(m.reqid, 0, sizeof m.reqid) ||
                    m.msgtype[0] == 0 || m.size < m.content_size || m.size > fed + total)
                    abort();
            } else if (rc == -1) {
                errors++;
            } else if (rc != 0) {
                abort();
            }
            fed += total;
        }
        i += part + 1;
    }
    if (s.messages != completed || s.errors != errors)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_token(s, size);
    check_find(s, size);
    check_values(s, size);
    check_stream(data, size);
    return 0;
}
