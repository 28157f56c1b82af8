/* json_scan: finds top-level members of a small JSON object and reads their string or
 * integer values (see json_scan.h). Every step checks the end of the data. Runs of plain
 * string characters are scanned and copied eight bytes at a time, the byte ending a run found
 * within its word. Member names and skipped strings without escapes (the common case) are
 * taken where they lie, without a copy; only a name with an escape is unescaped. */
#include "decode/json_scan.h"
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define JSON_KEY_MAX 64 /* keys looked up are short; longer keys never match */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of \uXXXX at c->p. Returns JSON_FOUND, JSON_CUT or JSON_BAD. */
static int read_hex4(cursor *c, unsigned *v)
{
    if (c->end - c->p < 4)
        return JSON_CUT;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(c->p[i]);
        if (d < 0)
            return JSON_BAD;
        *v = (*v << 4) | (unsigned)d;
    }
    c->p += 4;
    return JSON_FOUND;
}

typedef struct sink {
    char *out;
    size_t cap, len;
    bool truncated;
} sink;

/* Appends n bytes if they all fit (keeping room for the NUL); a code point is never split. */
static void put(sink *s, const char *b, size_t n)
{
    if (s->truncated || !s->out || s->cap == 0 || s->len + n > s->cap - 1) {
        s->truncated = true;
        return;
    }
    memcpy(s->out + s->len, b, n);
    s->len += n;
}

/* Appends a run of plain string bytes: as many as fit, as if put one at a time. */
static void put_run(sink *s, const char *b, size_t n)
{
    if (n == 0)
        return;
    if (s->truncated || !s->out || s->cap == 0) {
        s->truncated = true;
        return;
    }
    size_t room = s->cap - 1 - s->len;
    if (n > room) {
        n = room;
        s->truncated = true;
    }
    memcpy(s->out + s->len, b, n);
    s->len += n;
}

static void put_utf8(sink *s, unsigned cp)
{
    char b[4];
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp;
        put(s, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        put(s, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        put(s, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        put(s, b, 4);
    }
}

/* \uXXXX, with a following low surrogate joined to a high one. c->p is after the 'u'. */
static int unicode_escape(cursor *c, sink *s)
{
    unsigned hi;
    int rc = read_hex4(c, &hi);
    if (rc != JSON_FOUND)
        return rc;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (c->end - c->p < 2)
            return JSON_CUT;
        if (c->p[0] == '\\' && c->p[1] == 'u') {
            cursor look = {c->p + 2, c->end};
            unsigned lo;
            rc = read_hex4(&look, &lo);
            if (rc == JSON_CUT)
                return JSON_CUT;
            if (rc == JSON_FOUND && lo >= 0xDC00 && lo <= 0xDFFF) {
                c->p = look.p;
                put_utf8(s, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
                return JSON_FOUND;
            }
        }
    }
    put_utf8(s, hi); /* a lone surrogate becomes U+FFFD */
    return JSON_FOUND;
}

static int simple_escape(char e, sink *s)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *at = memchr(from, e, sizeof from - 1);
    if (!at)
        return JSON_BAD;
    put(s, &to[at - from], 1);
    return JSON_FOUND;
}

#define BYTES_1 0x0101010101010101ull /* a byte value repeated in all eight bytes */
#define BYTES_H 0x8080808080808080ull

/* Is any of the eight bytes of w a quote, a backslash or a control character? (The classic
 * "has a zero byte" and "has a byte less than n" tests: exact as a yes/no answer.) */
static bool word_ends_plain(uint64_t w)
{
    uint64_t q = w ^ (BYTES_1 * '"'), b = w ^ (BYTES_1 * '\\');
    uint64_t hits = ((q - BYTES_1) & ~q) | ((b - BYTES_1) & ~b) | ((w - BYTES_1 * 0x20) & ~w);
    return (hits & BYTES_H) != 0;
}

static bool is_plain(unsigned char ch)
{
    return ch >= 0x20 && ch != '"' && ch != '\\';
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define OW_JSON_LE 1
/* The first quote, backslash or control byte of a word that has one (word_ends_plain): on a
 * little-endian machine the lowest flagged byte of the tests is exact (a borrow only runs
 * upwards from a byte that is flagged for real). */
static unsigned first_stop_byte(uint64_t w)
{
    uint64_t q = w ^ (BYTES_1 * '"'), b = w ^ (BYTES_1 * '\\');
    uint64_t hits = ((q - BYTES_1) & ~q) | ((b - BYTES_1) & ~b) | ((w - BYTES_1 * 0x20) & ~w);
    return (unsigned)__builtin_ctzll(hits & BYTES_H) / 8;
}
#endif

#if defined(__SSE2__)
/* The offset of the first quote, backslash or control byte among the sixteen bytes at p, or 16
 * when there is none. (Control: max(byte, 0x1f) == 0x1f, an unsigned byte <= 0x1f.) */
static unsigned first_stop_of_16(const char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i ctl = _mm_set1_epi8(0x1f);
    __m128i stop =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
    unsigned mask = (unsigned)_mm_movemask_epi8(stop);
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

/* The end of the run of plain string bytes starting at p (at most end): sixteen bytes at a
 * time where SSE2 is there, then eight, then one. */
static const char *plain_run_end(const char *p, const char *end)
{
#if defined(__SSE2__)
    while (end - p >= 16) {
        unsigned k = first_stop_of_16(p);
        if (k < 16)
            return p + k;
        p += 16;
    }
#endif
    uint64_t w;
    while (end - p >= 8) {
        memcpy(&w, p, sizeof w);
        if (word_ends_plain(w)) {
#ifdef OW_JSON_LE
            return p + first_stop_byte(w);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && is_plain((unsigned char)*p))
        p++;
    return p;
}

/* String body at c->p (just after the opening quote) up to the closing quote, unescaped into
 * s (which may have no buffer: then it only skips). Leaves c->p after the closing quote. */
static int read_string(cursor *c, sink *s)
{
    for (;;) {
        const char *run = c->p;
        c->p = plain_run_end(c->p, c->end);
        put_run(s, run, (size_t)(c->p - run));
        if (c->p == c->end)
            return JSON_CUT;
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"')
            return JSON_FOUND;
        if (ch != '\\')
            return JSON_BAD; /* a control character */
        if (c->p == c->end)
            return JSON_CUT;
        char e = *c->p++;
        int rc = e == 'u' ? unicode_escape(c, s) : simple_escape(e, s);
        if (rc != JSON_FOUND)
            return rc;
    }
}

/* Skips a string body (c->p just after the opening quote); leaves c->p after the closing
 * quote. A run of plain bytes up to the quote needs no more than finding it. */
static int skip_string(cursor *c)
{
    const char *e = plain_run_end(c->p, c->end);
    if (e < c->end && *e == '"') {
        c->p = e + 1;
        return JSON_FOUND;
    }
    c->p = e; /* an escape, a control character or the end: the general way from there */
    sink none = {0};
    return read_string(c, &none);
}

static bool ends_scalar(char ch)
{
    return ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\t' || ch == '\n' ||
           ch == '\r';
}

/* Bytes that matter while counting brackets: strings and brackets. */
static const bool structural[256] = {
    ['"'] = true, ['{'] = true, ['['] = true, ['}'] = true, [']'] = true};

/* Skips any value. Objects and arrays by bracket counting (strings inside respected). */
static int skip_value(cursor *c)
{
    if (c->p == c->end)
        return JSON_CUT;
    if (*c->p == '"') {
        c->p++;
        return skip_string(c);
    }
    if (*c->p != '{' && *c->p != '[') {
        const char *start = c->p;
        while (c->p < c->end && !ends_scalar(*c->p) && *c->p != ':' && *c->p != '"')
            c->p++;
        if (c->p == c->end)
            return JSON_CUT;
        return c->p > start ? JSON_FOUND : JSON_BAD;
    }
    size_t depth = 0;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') {
            int rc = skip_string(c);
            if (rc != JSON_FOUND)
                return rc;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                return JSON_FOUND;
        }
        while (c->p < c->end && !structural[(unsigned char)*c->p])
            c->p++;
    }
    return JSON_CUT;
}

/* A member name as read: where it lies in the data when it has no escape, else unescaped
 * into a buffer of JSON_KEY_MAX bytes (truncated: it did not fit, so it names no key). */
typedef struct name_ref {
    const char *s;
    size_t len;
    bool truncated;
} name_ref;

/* The name at p (just after its opening quote), as read_string into a sink of JSON_KEY_MAX
 * bytes would give it. Returns the position after its closing quote, or NULL with *rc saying
 * why there is none. */
static const char *read_name(const char *p, const char *end, char buf[JSON_KEY_MAX], name_ref *name,
                             int *rc)
{
    const char *e = plain_run_end(p, end);
    if (e < end && *e == '"') {
        size_t n = (size_t)(e - p);
        *name = (name_ref){p, n, n > JSON_KEY_MAX - 1};
        return e + 1;
    }
    cursor c = {p, end};
    sink s = {buf, JSON_KEY_MAX, 0, false};
    *rc = read_string(&c, &s);
    *name = (name_ref){buf, s.len, s.truncated};
    return *rc == JSON_FOUND ? c.p : NULL;
}

/* Skips the value at p (inside the data). Returns where it ends, or NULL with *rc saying why
 * it does not. A string without escapes is only looked through for its closing quote. */
static const char *skip_value_at(const char *p, const char *end, int *rc)
{
    if (*p == '"') {
        const char *e = plain_run_end(p + 1, end);
        if (e < end && *e == '"')
            return e + 1;
    }
    cursor c = {p, end};
    *rc = skip_value(&c);
    return *rc == JSON_FOUND ? c.p : NULL;
}

/* Is the member name the key? (A name never holds a NUL: the key's NUL ends the loop.) */
static bool name_is(const name_ref *name, const char *key)
{
    if (!key || name->truncated)
        return false;
    size_t i = 0;
    for (; i < name->len; i++)
        if (key[i] != name->s[i])
            return false;
    return key[i] == '\0';
}

/* Marks the wanted keys that are still open and named name as found, with their value at
 * offset at. Returns how many are still open. A key whose first byte differs (the NUL for an
 * empty name) is passed over at once. */
static size_t match_member(const name_ref *name, size_t at, json_member *want, size_t n,
                           size_t open)
{
    char first = name->len ? name->s[0] : '\0';
    for (size_t i = 0; i < n; i++) {
        const char *key = want[i].key;
        if (want[i].rc == JSON_FOUND || !key || key[0] != first || !name_is(name, key))
            continue;
        want[i].rc = JSON_FOUND;
        want[i].at = at;
        open--;
    }
    return open;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static const char *ws_end(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* Walks the members of the top-level object at c->p until every wanted key is found (their rc
 * is preset to anything but JSON_FOUND; open of them). Returns JSON_FOUND then (c->p at the
 * value of the last one found), else how the walk ended: JSON_ABSENT, JSON_ENDED or JSON_BAD,
 * what a search for any key still open gives (c->p is not moved then). */
static int walk_members(cursor *c, const char *buf, json_member *want, size_t n, size_t open)
{
    const char *p = ws_end(c->p, c->end), *end = c->end;
    if (p == end)
        return JSON_ENDED;
    if (*p++ != '{')
        return JSON_BAD;
    p = ws_end(p, end);
    if (p < end && *p == '}')
        return JSON_ABSENT;
    for (;;) {
        char unescaped[JSON_KEY_MAX];
        name_ref name;
        int rc = JSON_BAD;
        p = ws_end(p, end);
        if (p == end)
            return JSON_ENDED;
        if (*p++ != '"')
            return JSON_BAD;
        if (!(p = read_name(p, end, unescaped, &name, &rc)))
            return rc == JSON_CUT ? JSON_ENDED : rc;
        p = ws_end(p, end);
        if (p == end)
            return JSON_ENDED;
        if (*p++ != ':')
            return JSON_BAD;
        p = ws_end(p, end);
        if (p == end)
            return JSON_ENDED;
        open = match_member(&name, (size_t)(p - buf), want, n, open);
        if (open == 0) {
            c->p = p;
            return JSON_FOUND;
        }
        if (!(p = skip_value_at(p, end, &rc)))
            return rc == JSON_CUT ? JSON_ENDED : rc;
        p = ws_end(p, end);
        if (p == end)
            return JSON_ENDED;
        char sep = *p++;
        if (sep == '}')
            return JSON_ABSENT;
        if (sep != ',')
            return JSON_BAD;
    }
}

void json_find_members(const char *buf, size_t len, json_member *want, size_t n)
{
    if (!want)
        return;
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        want[i].rc = buf && want[i].key ? JSON_ENDED : JSON_BAD;
        want[i].at = 0;
        open += want[i].rc == JSON_ENDED;
    }
    if (open == 0)
        return;
    cursor c = {buf, buf + len};
    int end = walk_members(&c, buf, want, n, open);
    for (size_t i = 0; i < n; i++)
        if (want[i].rc == JSON_ENDED && want[i].key)
            want[i].rc = end;
}

/* Moves c to the value of key in the top-level object. Returns JSON_FOUND (c->p at the value),
 * JSON_ABSENT, JSON_ENDED or JSON_BAD. */
static int seek_key(cursor *c, const char *key)
{
    json_member one = {key, JSON_ENDED, 0};
    return walk_members(c, c->p, &one, 1, 1);
}

/* The string value at c->p (inside the data) into out, as json_find_string reports it. */
static int string_value(cursor *c, char *out, size_t cap, size_t *out_len, bool *truncated)
{
    sink s = {out, cap, 0, false};
    int rc;
    if (c->p == c->end) {
        rc = JSON_CUT;
    } else if (*c->p != '"') {
        rc = JSON_BAD;
    } else {
        const char *e = plain_run_end(++c->p, c->end);
        if (e < c->end && *e == '"') { /* no escape: the run is the string */
            put_run(&s, c->p, (size_t)(e - c->p));
            c->p = e + 1;
            rc = JSON_FOUND;
        } else {
            rc = read_string(c, &s);
        }
    }
    if (out && cap)
        out[s.len] = 0;
    if (out_len)
        *out_len = s.len;
    if (truncated)
        *truncated = s.truncated;
    return rc;
}

/* The integer value at c->p, as json_find_int reports it. */
static int int_value(cursor *c, int64_t *value)
{
    bool neg = c->p < c->end && *c->p == '-';
    if (neg)
        c->p++;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    const char *digits = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p++ - '0');
        if (v > (limit - d) / 10)
            return JSON_BAD;
        v = v * 10 + d;
    }
    if (c->p == digits)
        return c->p == c->end ? JSON_CUT : JSON_BAD;
    if (c->p < c->end && !ends_scalar(*c->p))
        return JSON_BAD; /* a fraction, exponent or junk: not an integer */
    if (value)
        *value = !neg ? (int64_t)v : v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
    return c->p == c->end ? JSON_CUT : JSON_FOUND;
}

/* What json_find_string reports besides a result when there is no string value. */
static void no_string(char *out, size_t cap, size_t *out_len, bool *truncated)
{
    if (out && cap)
        out[0] = 0;
    if (out_len)
        *out_len = 0;
    if (truncated)
        *truncated = false;
}

int json_find_string(const char *buf, size_t len, const char *key, char *out, size_t cap,
                     size_t *out_len, bool *truncated)
{
    cursor c = {buf, buf ? buf + len : buf};
    int rc = buf && key ? seek_key(&c, key) : JSON_BAD;
    if (rc == JSON_FOUND)
        return string_value(&c, out, cap, out_len, truncated);
    no_string(out, cap, out_len, truncated);
    return rc;
}

int json_find_int(const char *buf, size_t len, const char *key, int64_t *value)
{
    cursor c = {buf, buf ? buf + len : buf};
    int rc = buf && key ? seek_key(&c, key) : JSON_BAD;
    return rc == JSON_FOUND ? int_value(&c, value) : rc;
}

int json_has_key(const char *buf, size_t len, const char *key)
{
    cursor c = {buf, buf ? buf + len : buf};
    return buf && key ? seek_key(&c, key) : JSON_BAD;
}

int json_string_at(const char *buf, size_t len, size_t at, char *out, size_t cap, size_t *out_len,
                   bool *truncated)
{
    if (!buf) {
        no_string(out, cap, out_len, truncated);
        return JSON_BAD;
    }
    cursor c = {buf + (at < len ? at : len), buf + len};
    return string_value(&c, out, cap, out_len, truncated);
}

int json_int_at(const char *buf, size_t len, size_t at, int64_t *value)
{
    if (!buf)
        return JSON_BAD;
    cursor c = {buf + (at < len ? at : len), buf + len};
    return int_value(&c, value);
}

size_t json_plain_run(const char *s, size_t len)
{
    return s ? (size_t)(plain_run_end(s, s + len) - s) : 0;
}
