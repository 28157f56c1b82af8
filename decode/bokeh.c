/* bokeh: the Bokeh server protocol as a sniffer sees it (shared reference bokeh-wire.md
 * sections 2-4): session tokens and the session id and expiry inside them, tokens in page
 * HTML / autoload.js and in Sec-WebSocket-Protocol, the legacy bokeh-session-id query, and
 * Bokeh messages assembled from WebSocket messages. The compressed headers/cookies payload of
 * a token (__bk__zlib_) is only detected, never decoded. */
#include "decode/bokeh.h"
#include "decode/base64.h"
#include "decode/json_scan.h"
#include <stdio.h>
#include <string.h>

/* Base64 characters of a token decoded at most: the id and expiry come first in the JSON, so
 * this bounds the work and the stack buffer for a token of any length. */
#define BOKEH_TOKEN_DECODE_CHARS 4096
#define BOKEH_HEADER_MAX         4096 /* texts longer than this are never taken for a header */

/* ---- tokens ---- */

static bool has_extra_payload(const char *json, size_t len)
{
    json_member f[] = {{.key = "__bk__zlib_"}, {.key = "headers"}, {.key = "cookies"}};
    json_find_members(json, len, f, sizeof f / sizeof f[0]);
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].rc == JSON_FOUND)
            return true;
    return false;
}

int bokeh_token_decode(const char *tok, size_t len, bokeh_token_info *out)
{
    bokeh_token_info info;
    memset(&info, 0, sizeof info);
    if (out)
        *out = info;
    if (!tok || len == 0)
        return -1;
    const char *dot = memchr(tok, '.', len);
    size_t body = dot ? (size_t)(dot - tok) : len;
    info.signed_token = dot != NULL;
    bool whole = body <= BOKEH_TOKEN_DECODE_CHARS;
    size_t n = whole ? body : BOKEH_TOKEN_DECODE_CHARS;
    if (n % 4 == 1)
        n--; /* a cut token: a lone last character carries no whole byte */
    uint8_t json[BOKEH_TOKEN_DECODE_CHARS / 4 * 3];
    size_t json_len = 0;
    if (n == 0 || ow_b64_decode(tok, n, OW_B64_URL, json, sizeof json, &json_len) < 0)
        return -1;
    const char *j = (const char *)json;
    bool id_cut = false;
    int rc = json_find_string(j, json_len, "session_id", info.session_id, sizeof info.session_id,
                              NULL, &id_cut);
    if (rc == JSON_CUT && !whole)
        id_cut = true; /* an id longer than what is decoded: keep its start */
    else if (rc != JSON_FOUND)
        return -1;
    info.session_id_truncated = id_cut;
    int64_t expiry = 0;
    if (json_find_int(j, json_len, "session_expiry", &expiry) == JSON_FOUND) {
        info.has_expiry = true;
        info.expiry = expiry;
    }
    info.has_extra_payload = has_extra_payload(j, json_len);
    if (out)
        *out = info;
    return 0;
}

static bool is_token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '=';
}

static bool is_id_char(char c)
{
    return (unsigned char)c >= 0x20 && c != '"' && c != '\\';
}

/* After the key's closing quote at buf[at]: optional spaces, ':', spaces, the opening quote.
 * The quotes are `"` or, inside a JS string, `\"`. Returns the value's offset or 0. */
static size_t value_start(const char *buf, size_t len, size_t at, bool escaped)
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

/* The value (token alphabet, or any printable id) up to its closing quote; 0 if none. */
static size_t value_length(const char *buf, size_t len, size_t at, bool escaped, bool token)
{
    size_t i = at;
    while (i < len && (token ? is_token_char(buf[i]) : is_id_char(buf[i])))
        i++;
    if (i >= len)
        return 0;
    bool closed = escaped ? buf[i] == '\\' && i + 1 < len && buf[i + 1] == '"' : buf[i] == '"';
    return closed ? i - at : 0;
}

/* Is there `"<key>"` (or `\"<key>\"`) at the quote buf[q], followed by a quoted value? */
static bool match_member(const char *buf, size_t len, size_t q, const char *key, bool token,
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
    size_t v = value_start(buf, len, at + 1, escaped);
    if (!v)
        return false;
    size_t n = value_length(buf, len, v, escaped, token);
    if (!n)
        return false;
    f->start = buf + v;
    f->len = n;
    f->is_token = token;
    return true;
}

size_t bokeh_find_tokens(const char *buf, size_t len, bokeh_found *out, size_t max)
{
    size_t count = 0;
    if (!buf)
        return 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            break;
        bokeh_found f;
        size_t at = (size_t)(q - buf);
        if (match_member(buf, len, at, "token", true, &f) ||
            match_member(buf, len, at, "sessionid", false, &f)) {
            if (count < max && out)
                out[count] = f;
            count++;
            p = f.start + f.len;
        } else {
            p = q + 1;
        }
    }
    return count;
}

/* ---- WebSocket upgrade ---- */

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

int bokeh_parse_subprotocol(const char *value, size_t len, const char **tok, size_t *tok_len)
{
    if (!value)
        return -1;
    const char *end = value + len;
    const char *comma = memchr(value, ',', len);
    if (!comma || memchr(comma + 1, ',', (size_t)(end - comma - 1)))
        return -1; /* exactly two items */
    const char *a = value, *ae = comma, *b = comma + 1, *be = end;
    trim(&a, &ae);
    trim(&b, &be);
    if (ae - a != 5 || memcmp(a, "bokeh", 5) != 0 || be == b)
        return -1;
    if (tok)
        *tok = b;
    if (tok_len)
        *tok_len = (size_t)(be - b);
    return 0;
}

int bokeh_query_session_id(const char *target, size_t len, const char **id, size_t *id_len)
{
    static const char name[] = "bokeh-session-id=";
    if (!target)
        return -1;
    const char *end = target + len;
    const char *hash = memchr(target, '#', len);
    if (hash)
        end = hash;
    const char *q = memchr(target, '?', (size_t)(end - target));
    if (!q)
        return -1;
    for (const char *arg = q + 1; arg < end;) {
        const char *amp = memchr(arg, '&', (size_t)(end - arg));
        const char *arg_end = amp ? amp : end;
        size_t n = (size_t)(arg_end - arg);
        if (n > sizeof name - 1 && memcmp(arg, name, sizeof name - 1) == 0) {
            if (id)
                *id = arg + sizeof name - 1;
            if (id_len)
                *id_len = n - (sizeof name - 1);
            return 0;
        }
        arg = arg_end + 1;
    }
    return -1;
}

/* ---- messages ---- */

enum { BK_HEADER, BK_METADATA, BK_CONTENT, BK_BUFFER_ID, BK_BUFFER, BK_RESYNC };

/* The header keys, looked up in one pass. */
enum { HK_MSGTYPE, HK_MSGID, HK_REQID, HK_NUM_BUFFERS, HK_COUNT };

/* An integer id cut before its first digit ("-" or nothing) has no value to show. */
static bool int_started(const char *j, size_t n, size_t at)
{
    if (at < n && j[at] == '-')
        at++;
    return at < n && j[at] >= '0' && j[at] <= '9';
}

/* A header field that is a string (or, from old servers, an integer), found as f; reads it
 * into dst as json_find_string (then json_find_int) would. Returns their result. */
static int header_id(const char *j, size_t n, const json_member *f, char *dst, size_t cap)
{
    if (f->rc != JSON_FOUND) {
        if (cap)
            dst[0] = 0;
        return f->rc;
    }
    bool truncated;
    int rc = json_string_at(j, n, f->at, dst, cap, NULL, &truncated);
    if (rc == JSON_BAD) {
        int64_t v;
        rc = json_int_at(j, n, f->at, &v);
        if (rc == JSON_FOUND || (rc == JSON_CUT && int_started(j, n, f->at)))
            snprintf(dst, cap, "%lld", (long long)v);
    }
    return rc;
}

/* Parses a header text (possibly only its first kept bytes) into m. Returns 0 or -1. */
static int parse_header(const uint8_t *data, size_t kept, uint64_t total, bokeh_msg *m)
{
    const char *j = (const char *)data;
    bool cut = kept < total;
    memset(m, 0, sizeof *m);
    json_member f[HK_COUNT] = {
        [HK_MSGTYPE] = {.key = "msgtype"},
        [HK_MSGID] = {.key = "msgid"},
        [HK_REQID] = {.key = "reqid"},
        [HK_NUM_BUFFERS] = {.key = "num_buffers"},
    };
    json_find_members(j, kept, f, HK_COUNT);
    bool truncated;
    int rc = f[HK_MSGTYPE].rc;
    if (rc == JSON_FOUND)
        rc = json_string_at(j, kept, f[HK_MSGTYPE].at, m->msgtype, sizeof m->msgtype, NULL,
                            &truncated);
    if (rc != JSON_FOUND || m->msgtype[0] == 0)
        return -1;
    rc = header_id(j, kept, &f[HK_MSGID], m->msgid, sizeof m->msgid);
    if (rc == JSON_BAD || rc == JSON_ABSENT || (rc == JSON_ENDED && !cut))
        return -1;
    rc = header_id(j, kept, &f[HK_REQID], m->reqid, sizeof m->reqid);
    if (rc == JSON_BAD)
        return -1;
    int64_t nb = 0;
    rc = f[HK_NUM_BUFFERS].rc;
    if (rc == JSON_FOUND)
        rc = json_int_at(j, kept, f[HK_NUM_BUFFERS].at, &nb);
    if (rc == JSON_BAD || rc == JSON_CUT || (rc == JSON_FOUND && (nb < 0 || nb > UINT32_MAX)))
        return -1;
    m->num_buffers = rc == JSON_FOUND ? (uint32_t)nb : 0;
    m->size = total;
    return 0;
}

/* Is there a \u escape (a backslash followed by u) in the text? */
static bool has_u_escape(const uint8_t *data, size_t kept)
{
    const uint8_t *p = data, *end = data + kept;
    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL && ++p < end)
        if (*p == 'u')
            return true;
    return false;
}

/* Can the text hold a top-level "msgtype" key? Its name is in the data as is, or written with
 * at least one \u escape. A cheap test that rules out most metadata and content texts. */
static bool may_name_msgtype(const uint8_t *data, size_t kept)
{
    static const char key[] = "msgtype";
    return memmem(data, kept, key, sizeof key - 1) != NULL || has_u_escape(data, kept);
}

static bool looks_like_header(const uint8_t *data, size_t kept)
{
    char msgtype[32];
    bool truncated;
    return data && kept <= BOKEH_HEADER_MAX && may_name_msgtype(data, kept) &&
           json_find_string((const char *)data, kept, "msgtype", msgtype, sizeof msgtype, NULL,
                            &truncated) == JSON_FOUND;
}

void bokeh_stream_init(bokeh_stream *s)
{
    if (s) {
        memset(s, 0, sizeof *s);
        s->state = BK_HEADER;
    }
}

static int start_message(bokeh_stream *s, const uint8_t *data, size_t kept, uint64_t total)
{
    if (parse_header(data, kept, total, &s->cur) != 0)
        return -1;
    s->buffers_left = s->cur.num_buffers;
    s->state = BK_METADATA;
    return 0;
}

static int protocol_error(bokeh_stream *s)
{
    s->errors++;
    s->state = BK_RESYNC;
    return -1;
}

/* A header where a later part was expected: the message before it lost parts. */
static int restart(bokeh_stream *s, const uint8_t *data, size_t kept, uint64_t total)
{
    s->errors++;
    if (start_message(s, data, kept, total) != 0)
        s->state = BK_RESYNC;
    return -1;
}

static int complete(bokeh_stream *s, bokeh_msg *out)
{
    s->messages++;
    s->state = BK_HEADER;
    if (out)
        *out = s->cur;
    return 1;
}

/* The text parts after the header: metadata, content, buffer ids. */
static int text_part(bokeh_stream *s, const uint8_t *data, size_t kept, uint64_t total,
                     bokeh_msg *out)
{
    if (looks_like_header(data, kept))
        return restart(s, data, kept, total);
    s->cur.size += total;
    switch (s->state) {
    case BK_METADATA:
        s->state = BK_CONTENT;
        return 0;
    case BK_CONTENT:
        s->cur.content_size = total;
        if (s->buffers_left == 0)
            return complete(s, out);
        s->state = BK_BUFFER_ID;
        return 0;
    default: /* BK_BUFFER_ID */
        if (json_has_key((const char *)data, kept, "id") != JSON_FOUND && kept == total)
            return protocol_error(s);
        s->state = BK_BUFFER;
        return 0;
    }
}

int bokeh_stream_feed(bokeh_stream *s, bool binary, const uint8_t *data, size_t kept,
                      uint64_t total, bokeh_msg *out)
{
    if (!s)
        return -1;
    if (!data)
        kept = 0;
    if (kept > total)
        total = kept;
    switch (s->state) {
    case BK_RESYNC:
        if (!binary && looks_like_header(data, kept))
            start_message(s, data, kept, total);
        return 0;
    case BK_HEADER:
        if (binary || start_message(s, data, kept, total) != 0)
            return protocol_error(s);
        return 0;
    case BK_BUFFER:
        if (!binary) {
            if (looks_like_header(data, kept))
                return restart(s, data, kept, total);
            return protocol_error(s);
        }
        s->cur.size += total;
        if (--s->buffers_left == 0)
            return complete(s, out);
        s->state = BK_BUFFER_ID;
        return 0;
    case BK_METADATA:
    case BK_CONTENT:
    case BK_BUFFER_ID:
        if (binary)
            return protocol_error(s);
        return text_part(s, data, kept, total, out);
    default:
        return protocol_error(s);
    }
}
