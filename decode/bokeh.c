/* bokeh: the Bokeh server protocol as a sniffer sees it (shared reference bokeh-wire.md
 * sections 2-4): session tokens and the session id and expiry inside them, tokens in page
 * HTML / autoload.js and in Sec-WebSocket-Protocol, the legacy bokeh-session-id query, and
 * Bokeh messages assembled from WebSocket messages. The compressed headers/cookies payload of
 * a token (__bk__zlib_) is only detected, never decoded. Tokens, headers and buffer ids in the
 * exact shapes Bokeh writes are read without the general JSON walk (same results; any other
 * text goes the general way). */
#include "decode/bokeh.h"
#include "decode/base64.h"
#include "decode/json_scan.h"
#include <stdio.h>
#include <string.h>

/* Base64 characters of a token decoded at most: the id and expiry come first in the JSON, so
 * this bounds the work and the stack buffer for a token of any length. */
#define BOKEH_TOKEN_DECODE_CHARS 4096
#define BOKEH_HEADER_MAX         4096 /* texts longer than this are never taken for a header */
#define BOKEH_HEADER_MIN         13   /* {"msgtype":"" is the shortest text with a msgtype string */

#if defined(__GNUC__)
#define NOT_INLINE __attribute__((noinline)) /* rare ways kept out of the common one's frame */
#else
#define NOT_INLINE
#endif

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

static bool token_fast(const char *tok, size_t n, bokeh_token_info *info);

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
    if (n > 0 && token_fast(tok, n, &info)) {
        if (out)
            *out = info;
        return 0;
    }
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

/* The end of a run of token characters (the URL-safe alphabet, '.' and '=') from at. */
static size_t token_run_end(const char *buf, size_t len, size_t at)
{
    for (;;) {
        at += ow_b64_url_run(buf + at, len - at);
        if (at >= len || (buf[at] != '.' && buf[at] != '='))
            return at;
        at++;
    }
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
    if (token)
        i = token_run_end(buf, len, at);
    else
        while (i < len && is_id_char(buf[i]))
            i++;
    if (i >= len)
        return 0;
    bool closed = escaped ? buf[i] == '\\' && i + 1 < len && buf[i + 1] == '"' : buf[i] == '"';
    return closed ? i - at : 0;
}

/* Is there `"<key>"` (or `\"<key>\"`) at the quote buf[q], followed by a quoted value? */
static bool match_member(const char *buf, size_t len, size_t q, const char *key, size_t key_len,
                         bool token, bokeh_found *f)
{
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

/* Can the quote buf[q] open "token" or "sessionid"? Most quotes of a page are let go on the
 * byte after them. */
static bool may_start_key(const char *buf, size_t len, size_t q)
{
    return q + 1 < len && (buf[q + 1] == 't' || buf[q + 1] == 's');
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
        if (may_start_key(buf, len, at) &&
            (match_member(buf, len, at, "token", 5, true, &f) ||
             match_member(buf, len, at, "sessionid", 9, false, &f))) {
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

/* ---- the shapes Bokeh writes (fast paths) ----
 * Bokeh's Python and BokehJS write a header and a buffer id in a fixed shape: keys in a fixed
 * order, ", " and ": " (Python) or "," and ":" (JS) between them, strings without escapes.
 * For a text of exactly that shape the answers of the general JSON functions are known
 * without them; anything else (other spacing or order, escapes, a cut) goes the general way. */

typedef struct shape {
    const char *base, *p, *end;
} shape;

static inline bool shape_lit(shape *s, const char *lit, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* `"name":` and the one space Python writes after it. */
static inline bool shape_name(shape *s, const char *quoted_colon, size_t n)
{
    if (!shape_lit(s, quoted_colon, n))
        return false;
    if (s->p < s->end && *s->p == ' ')
        s->p++;
    return true;
}

/* A string without escapes: *at is where it starts (its opening quote), *len its length. */
static inline bool shape_string(shape *s, size_t *at, size_t *len)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    size_t n = json_plain_run(s->p + 1, (size_t)(s->end - s->p - 1));
    const char *close = s->p + 1 + n;
    if (close >= s->end || *close != '"')
        return false;
    *at = (size_t)(s->p - s->base);
    *len = n;
    s->p = close + 1;
    return true;
}

static inline bool shape_digits(shape *s, size_t *at)
{
    const char *d = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    *at = (size_t)(d - s->base);
    return s->p > d;
}

/* After a member: 1 for ',' (and Python's space: another member follows), 0 for the '}' that
 * ends the object, -1 for anything else. */
static inline int shape_next(shape *s)
{
    if (shape_lit(s, "}", 1))
        return 0;
    if (!shape_lit(s, ",", 1))
        return -1;
    if (s->p < s->end && *s->p == ' ')
        s->p++;
    return 1;
}

#define NAME(lit) (lit), sizeof(lit) - 1

/* Where the header's values are: as json_find_members gives them (f), and, for the shape,
 * the lengths of the string values (all without escapes). */
typedef struct header_keys {
    json_member f[HK_COUNT];
    bool shaped;
    size_t len[HK_COUNT];
} header_keys;

/* {"msgid": "<id>", "msgtype": "<type>"[, "reqid": "<id>"][, "num_buffers": <digits>]}
 * Fills k->f (keys already set) as json_find_members would: the keys present found where
 * their values start, the others absent (the object ended). Returns false, k untouched, for
 * any other text. */
static bool header_shape(const char *j, size_t kept, header_keys *k)
{
    if (!j)
        return false;
    shape s = {j, j, j + kept};
    size_t at[HK_COUNT] = {0}, len[HK_COUNT] = {0};
    bool have[HK_COUNT] = {[HK_MSGTYPE] = true, [HK_MSGID] = true};
    if (!shape_lit(&s, "{", 1) || !shape_name(&s, NAME("\"msgid\":")) ||
        !shape_string(&s, &at[HK_MSGID], &len[HK_MSGID]) || shape_next(&s) != 1 ||
        !shape_name(&s, NAME("\"msgtype\":")) ||
        !shape_string(&s, &at[HK_MSGTYPE], &len[HK_MSGTYPE]))
        return false;
    int more = shape_next(&s);
    if (more == 1 && shape_name(&s, NAME("\"reqid\":"))) {
        if (!shape_string(&s, &at[HK_REQID], &len[HK_REQID]))
            return false;
        have[HK_REQID] = true;
        more = shape_next(&s);
    }
    if (more == 1 && shape_name(&s, NAME("\"num_buffers\":"))) {
        if (!shape_digits(&s, &at[HK_NUM_BUFFERS]))
            return false;
        have[HK_NUM_BUFFERS] = true;
        more = shape_next(&s);
    }
    if (more != 0)
        return false;
    for (int i = 0; i < HK_COUNT; i++) {
        k->f[i].rc = have[i] ? JSON_FOUND : JSON_ABSENT;
        k->f[i].at = at[i];
        k->len[i] = len[i];
    }
    k->shaped = true;
    return true;
}

/* A buffer id {"id": ...}: does the text have a top-level "id" key (json_has_key)? */
static bool has_id_key(const uint8_t *data, size_t kept)
{
    const char *j = (const char *)data;
    if (j) {
        shape s = {j, j, j + kept};
        if (shape_name(&s, NAME("{\"id\":")) && s.p < s.end && *s.p != ' ' && *s.p != '\t' &&
            *s.p != '\n' && *s.p != '\r')
            return true; /* the value starts here: found, whatever it is */
    }
    return json_has_key(j, kept, "id") == JSON_FOUND;
}

/* A buffer id in the shape Bokeh writes, {"id": "<id>"} or {"id":"<id>"}, the id without
 * escapes, making up the whole text (its kept bytes): it has an "id" key (has_id_key) and no
 * other, so it holds no msgtype and is no header (looks_like_header). */
static bool buffer_id_shape(const uint8_t *data, size_t kept)
{
    const char *j = (const char *)data;
    if (!j)
        return false;
    shape s = {j, j, j + kept};
    size_t at, len;
    return shape_name(&s, NAME("{\"id\":")) && shape_string(&s, &at, &len) &&
           shape_lit(&s, "}", 1) && s.p == s.end;
}

/* A string value without escapes, len long at j[at] (its opening quote), read as
 * json_string_at would: as much as fits in dst. */
static size_t plain_value(const char *j, size_t at, size_t len, char *dst, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    if (!j)
        n = 0; /* (never: a shape is only found in data) */
    else
        memcpy(dst, j + at + 1, n);
    dst[n] = 0;
    return n;
}

/* A header in the shape header_shape takes, read straight into m: what scan_header and
 * header_from_scan make of it (the values' first bytes, reqid empty when absent), without the
 * intermediate scan, each field written once (the bytes past a string's NUL are not cleared).
 * True when the text is such a header and valid: a msgtype that is not empty and num_buffers,
 * if there, of at most nine digits (any longer, or any other text: false, m untouched, and the
 * general way decides). */
static bool header_fast(const uint8_t *data, size_t kept, uint64_t total, bokeh_msg *m)
{
    const char *j = (const char *)data;
    if (!j)
        return false;
    shape s = {j, j, j + kept};
    size_t id_at, id_len, type_at, type_len, req_at = 0, req_len = 0;
    if (!shape_lit(&s, "{", 1) || !shape_name(&s, NAME("\"msgid\":")) ||
        !shape_string(&s, &id_at, &id_len) || shape_next(&s) != 1 ||
        !shape_name(&s, NAME("\"msgtype\":")) || !shape_string(&s, &type_at, &type_len) ||
        type_len == 0)
        return false;
    uint32_t nb = 0;
    int more = shape_next(&s);
    if (more == 1 && shape_name(&s, NAME("\"reqid\":"))) {
        if (!shape_string(&s, &req_at, &req_len))
            return false;
        more = shape_next(&s);
    }
    if (more == 1 && shape_name(&s, NAME("\"num_buffers\":"))) {
        const char *d = s.p;
        while (s.p < s.end && *s.p >= '0' && *s.p <= '9')
            nb = nb * 10 + (uint32_t)(*s.p++ - '0');
        if (s.p == d || s.p - d > 9)
            return false; /* (nine digits cannot overflow) */
        more = shape_next(&s);
    }
    if (more != 0)
        return false;
    plain_value(j, type_at, type_len, m->msgtype, sizeof m->msgtype);
    plain_value(j, id_at, id_len, m->msgid, sizeof m->msgid);
    plain_value(j, req_at, req_len, m->reqid, sizeof m->reqid); /* (empty when absent) */
    m->num_buffers = nb;
    m->size = total;
    m->content_size = 0;
    return true;
}

/* ---- tokens in the shape Bokeh writes ----
 * Python's json.dumps writes a token's JSON as {"session_id": "<id>", "session_expiry": <int>}
 * or with , "__bk__zlib_": "<B64U>" after the expiry (bokeh-wire.md 2.1). When the decoded
 * text starts that way (the id without escapes and short enough not to be cut, the expiry of at
 * most 18 digits), the general way's answers lie in that start: the id and the expiry are its
 * first two members, and the third key is found as soon as its name, colon and a first byte of
 * value are there. Only that start is decoded; the rest is only checked to be in the alphabet
 * (as the general way's decoding would check it). */

/* Base64 characters decoded for the shape: first 120 bytes of JSON (a generated 44-character
 * id and what follows it), then, if that was not enough, up to 192 (ids of about 100 bytes). */
#define BOKEH_TOKEN_SHAPE_FIRST 160
#define BOKEH_TOKEN_SHAPE_CHARS 256

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The shape on the decoded start j[0..n) into *info (its id, expiry and extra payload). */
static bool token_shape(const char *j, size_t n, bokeh_token_info *info)
{
    shape s = {j, j, j + n};
    size_t id_at, id_len;
    if (!shape_lit(&s, NAME("{\"session_id\": ")) || !shape_string(&s, &id_at, &id_len) ||
        id_len >= sizeof info->session_id || !shape_lit(&s, NAME(", \"session_expiry\": ")))
        return false;
    const char *digits = s.p;
    int64_t expiry = 0;
    while (s.p < s.end && *s.p >= '0' && *s.p <= '9' && s.p - digits < 18)
        expiry = expiry * 10 + (*s.p++ - '0');
    if (s.p == digits)
        return false;
    bool extra = !shape_lit(&s, "}", 1);
    if (extra &&
        !(shape_lit(&s, NAME(", \"__bk__zlib_\": ")) && s.p < s.end && !is_json_space(*s.p)))
        return false;
    plain_value(j, id_at, id_len, info->session_id, sizeof info->session_id);
    info->session_id_truncated = false;
    info->has_expiry = true;
    info->expiry = expiry;
    info->has_extra_payload = extra;
    return true;
}

/* The token's first n base64 characters (the general way decodes that many) read in the shape
 * into *info; false, with the general way to decide, for a token of any other kind. The start
 * is decoded in two steps (the first a whole number of groups: together they decode as one). */
static bool token_fast(const char *tok, size_t n, bokeh_token_info *info)
{
    if (ow_b64_url_run(tok, n) != n)
        return false; /* padding or a byte outside the alphabet */
    uint8_t json[BOKEH_TOKEN_SHAPE_CHARS / 4 * 3];
    size_t done = 0, json_len = 0;
    for (size_t upto = BOKEH_TOKEN_SHAPE_FIRST;; upto = BOKEH_TOKEN_SHAPE_CHARS) {
        size_t stop = n < upto ? n : upto, got = 0;
        if (ow_b64_decode(tok + done, stop - done, OW_B64_URL, json + json_len,
                          sizeof json - json_len, &got) != 0)
            return false;
        json_len += got;
        done = stop;
        if (token_shape((const char *)json, json_len, info))
            return true;
        if (done == n || upto == BOKEH_TOKEN_SHAPE_CHARS)
            return false;
    }
}

#undef NAME

/* ---- headers ---- */

/* Header field k (see header_id), from where the scan found it. */
static int header_field(const char *j, size_t kept, const header_keys *k, int i, char *dst,
                        size_t cap)
{
    if (k->shaped && k->f[i].rc == JSON_FOUND) {
        plain_value(j, k->f[i].at, k->len[i], dst, cap);
        return JSON_FOUND;
    }
    return header_id(j, kept, &k->f[i], dst, cap);
}

/* A header text's keys, found in one pass, and its msgtype value: enough to tell whether a
 * text is a header (looks_like_header) and, if it is, to read the rest of it. */
typedef struct header_scan {
    header_keys k;
    int msgtype_rc; /* of json_string_at on the msgtype value (or the key's own rc) */
    size_t msgtype_len;
    char msgtype[sizeof(((bokeh_msg *)0)->msgtype)];
} header_scan;

static void scan_header(const uint8_t *data, size_t kept, header_scan *h)
{
    const char *j = (const char *)data;
    h->k.f[HK_MSGTYPE] = (json_member){.key = "msgtype"};
    h->k.f[HK_MSGID] = (json_member){.key = "msgid"};
    h->k.f[HK_REQID] = (json_member){.key = "reqid"};
    h->k.f[HK_NUM_BUFFERS] = (json_member){.key = "num_buffers"};
    h->k.shaped = false;
    json_member *f = h->k.f;
    h->msgtype[0] = 0;
    h->msgtype_len = 0;
    if (!header_shape(j, kept, &h->k))
        json_find_members(j, kept, f, HK_COUNT);
    h->msgtype_rc = f[HK_MSGTYPE].rc;
    bool truncated;
    if (h->k.shaped)
        h->msgtype_len =
            plain_value(j, f[HK_MSGTYPE].at, h->k.len[HK_MSGTYPE], h->msgtype, sizeof h->msgtype);
    else if (h->msgtype_rc == JSON_FOUND)
        h->msgtype_rc = json_string_at(j, kept, f[HK_MSGTYPE].at, h->msgtype, sizeof h->msgtype,
                                       &h->msgtype_len, &truncated);
}

/* The header of scan h (of a text, possibly only its first kept bytes) into m. Returns 0 or
 * -1. */
static int header_from_scan(const uint8_t *data, size_t kept, uint64_t total, const header_scan *h,
                            bokeh_msg *m)
{
    const char *j = (const char *)data;
    const json_member *f = h->k.f;
    bool cut = kept < total;
    memset(m, 0, sizeof *m);
    memcpy(m->msgtype, h->msgtype, h->msgtype_len + 1); /* a cut or bad value's start too */
    if (h->msgtype_rc != JSON_FOUND || m->msgtype[0] == 0)
        return -1;
    int rc = header_field(j, kept, &h->k, HK_MSGID, m->msgid, sizeof m->msgid);
    if (rc == JSON_BAD || rc == JSON_ABSENT || (rc == JSON_ENDED && !cut))
        return -1;
    rc = header_field(j, kept, &h->k, HK_REQID, m->reqid, sizeof m->reqid);
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

/* Does the text contain "msgtype" (as memmem would find it)? Looks for its 'g', a letter
 * rare in Bokeh texts, with memchr; after a few false hits memmem takes over. */
static bool has_msgtype_bytes(const uint8_t *data, size_t kept)
{
    static const char key[] = "msgtype";
    enum { KEY_LEN = sizeof key - 1, G_AT = 2, HITS_BEFORE_MEMMEM = 8 };
    if (kept < KEY_LEN)
        return false;
    size_t last = kept - KEY_LEN + G_AT; /* the last place the 'g' of a whole key can be */
    for (size_t at = G_AT, hits = 0; at <= last; hits++) {
        if (hits == HITS_BEFORE_MEMMEM)
            return memmem(data + at - G_AT, kept - (at - G_AT), key, KEY_LEN) != NULL;
        const uint8_t *g = memchr(data + at, 'g', last + 1 - at);
        if (!g)
            return false;
        size_t i = (size_t)(g - data);
        if (memcmp(data + i - G_AT, key, KEY_LEN) == 0)
            return true;
        at = i + 1;
    }
    return false;
}

/* Can the text hold a top-level "msgtype" key? Its name is in the data as is, or written with
 * at least one \u escape. A cheap test that rules out most metadata and content texts. */
static bool may_name_msgtype(const uint8_t *data, size_t kept)
{
    return has_msgtype_bytes(data, kept) || has_u_escape(data, kept);
}

/* Does the text look like a header (a msgtype string at the top level of a text no longer
 * than BOKEH_HEADER_MAX; a shorter one than BOKEH_HEADER_MIN has no room for it)? If so, *h is
 * its scan, ready for header_from_scan. */
static bool looks_like_header(const uint8_t *data, size_t kept, header_scan *h)
{
    if (!data || kept < BOKEH_HEADER_MIN || kept > BOKEH_HEADER_MAX ||
        !may_name_msgtype(data, kept))
        return false;
    scan_header(data, kept, h);
    return h->msgtype_rc == JSON_FOUND;
}

void bokeh_stream_init(bokeh_stream *s)
{
    if (s) {
        memset(s, 0, sizeof *s);
        s->state = BK_HEADER;
    }
}

static int start_scanned(bokeh_stream *s, const uint8_t *data, size_t kept, uint64_t total,
                         const header_scan *h)
{
    if (header_from_scan(data, kept, total, h, &s->cur) != 0)
        return -1;
    s->buffers_left = s->cur.num_buffers;
    s->state = BK_METADATA;
    return 0;
}

/* A header of any shape: the general scan (kept out of bokeh_stream_feed's own frame). */
static NOT_INLINE int start_general(bokeh_stream *s, const uint8_t *data, size_t kept,
                                    uint64_t total)
{
    header_scan h;
    scan_header(data, kept, &h);
    return start_scanned(s, data, kept, total, &h);
}

static NOT_INLINE int start_message(bokeh_stream *s, const uint8_t *data, size_t kept,
                                    uint64_t total)
{
    if (!header_fast(data, kept, total, &s->cur))
        return start_general(s, data, kept, total);
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

/* A header (scanned as h) where a later part was expected: the message before it lost parts. */
static int restart(bokeh_stream *s, const uint8_t *data, size_t kept, uint64_t total,
                   const header_scan *h)
{
    s->errors++;
    if (start_scanned(s, data, kept, total, h) != 0)
        s->state = BK_RESYNC;
    return -1;
}

/* Can a text of kept bytes be a header at all (the first test of looks_like_header)? */
static inline bool header_sized(const uint8_t *data, size_t kept)
{
    return data && kept >= BOKEH_HEADER_MIN && kept <= BOKEH_HEADER_MAX;
}

/* A text where a later part was expected: when it looks like a header, the message before it
 * lost parts and this one starts (restart; true), else false with nothing changed. */
static NOT_INLINE bool header_instead(bokeh_stream *s, const uint8_t *data, size_t kept,
                                      uint64_t total)
{
    header_scan h;
    if (!looks_like_header(data, kept, &h))
        return false;
    restart(s, data, kept, total, &h);
    return true;
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
    if (s->state == BK_BUFFER_ID && buffer_id_shape(data, kept)) {
        s->cur.size += total; /* no header, and has_id_key holds */
        s->state = BK_BUFFER;
        return 0;
    }
    if (header_sized(data, kept) && header_instead(s, data, kept, total))
        return -1;
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
        if (!has_id_key(data, kept) && kept == total)
            return protocol_error(s);
        s->state = BK_BUFFER;
        return 0;
    }
}

/* While resynchronising: a text that looks like a header starts a message. */
static NOT_INLINE int resync_part(bokeh_stream *s, bool binary, const uint8_t *data, size_t kept,
                                  uint64_t total)
{
    header_scan h;
    if (!binary && looks_like_header(data, kept, &h))
        start_scanned(s, data, kept, total, &h);
    return 0;
}

/* Where a binary buffer is expected. */
static int buffer_part(bokeh_stream *s, bool binary, const uint8_t *data, size_t kept,
                       uint64_t total, bokeh_msg *out)
{
    if (!binary) {
        if (header_sized(data, kept) && header_instead(s, data, kept, total))
            return -1;
        return protocol_error(s);
    }
    s->cur.size += total;
    if (--s->buffers_left == 0)
        return complete(s, out);
    s->state = BK_BUFFER_ID;
    return 0;
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
        return resync_part(s, binary, data, kept, total);
    case BK_HEADER:
        if (binary || start_message(s, data, kept, total) != 0)
            return protocol_error(s);
        return 0;
    case BK_BUFFER:
        return buffer_part(s, binary, data, kept, total, out);
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
