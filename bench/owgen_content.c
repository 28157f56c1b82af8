/* owgen_content.c: the bytes owgen puts inside TCP: Bokeh static bundles (cheap filler of the
 * real sizes), the favicon, the PULL-DOC-REPLY document, session tokens (bokeh-wire.md 2.1),
 * WebSocket frames (RFC 6455), and the small helpers they need: random numbers, buffers,
 * base64, SHA-1, HTTP dates. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "owgen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

/* ------------------------------------------------------------------ random numbers */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(ow_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(ow_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(ow_rng *r, uint32_t n)
{
    return n ? (uint32_t)((rng_next(r) >> 32) * n >> 32) : 0;
}

int64_t rng_range(ow_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

double rng_unit(ow_rng *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ buffers */
/* Room for extra bytes plus the NUL that always follows the contents. */
void gb_reserve(gbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

void gb_put(gbuf *b, const void *p, size_t n)
{
    gb_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

void gb_puts(gbuf *b, const char *s)
{
    gb_put(b, s, strlen(s));
}

void gb_printf(gbuf *b, const char *fmt, ...)
{
    gb_reserve(b, 256);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) { /* did not fit: once more with room */
        gb_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void gb_free(gbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ encodings and hashes */
static void b64_any(gbuf *out, const uint8_t *p, size_t n, const char *alpha, int pad)
{
    gb_reserve(out, (n + 2) / 3 * 4 + 1);
    char *o = (char *)out->p + out->len;
    size_t i = 0, k = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[k++] = alpha[v >> 18];
        o[k++] = alpha[(v >> 12) & 63];
        o[k++] = alpha[(v >> 6) & 63];
        o[k++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[k++] = alpha[v >> 18];
        o[k++] = alpha[(v >> 12) & 63];
        if (pad) {
            o[k++] = '=';
            o[k++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[k++] = alpha[v >> 18];
        o[k++] = alpha[(v >> 12) & 63];
        o[k++] = alpha[(v >> 6) & 63];
        if (pad)
            o[k++] = '=';
    }
    out->len += k;
    out->p[out->len] = 0;
}

void b64url(gbuf *out, const uint8_t *p, size_t n)
{
    b64_any(out, p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 0);
}

void b64std(gbuf *out, const uint8_t *p, size_t n)
{
    b64_any(out, p, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1);
}

static uint32_t rol32(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(uint32_t h[5], const uint8_t *blk)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
               (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1(const uint8_t *p, size_t n, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        sha1_block(h, p + i);
    uint8_t tail[128] = {0};
    size_t rest = n - i;
    memcpy(tail, p + i, rest);
    tail[rest] = 0x80;
    size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        tail[tlen - 1 - k] = (uint8_t)(bits >> (8 * k));
    sha1_block(h, tail);
    if (tlen == 128)
        sha1_block(h, tail + 64);
    for (int k = 0; k < 5; k++) {
        out[4 * k] = (uint8_t)(h[k] >> 24);
        out[4 * k + 1] = (uint8_t)(h[k] >> 16);
        out[4 * k + 2] = (uint8_t)(h[k] >> 8);
        out[4 * k + 3] = (uint8_t)h[k];
    }
}

void hex_lower(char *out, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = 0;
}

void http_date(char out[40], int64_t epoch)
{
    time_t tt = (time_t)epoch;
    struct tm tm;
    gmtime_r(&tt, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday & 7], tm.tm_mday,
             mons[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void random_alnum(ow_rng *r, char *out, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = al[rng_below(r, 62)];
    out[n] = 0;
}

void random_uuid4(ow_rng *r, char out[37])
{
    static const char hx[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[k++] = '-';
        uint32_t v = rng_below(r, 16);
        if (i == 12)
            v = 4;
        if (i == 16)
            v = 8 + (v & 3);
        out[k++] = hx[v];
    }
    out[k] = 0;
}

void random_msgid(ow_rng *r, char out[33])
{
    static const char hx[] = "0123456789ABCDEF";
    for (int i = 0; i < 32; i++) {
        uint32_t v = rng_below(r, 16);
        if (i == 12)
            v = 4;
        if (i == 16)
            v = 8 + (v & 3);
        out[i] = hx[v];
    }
    out[32] = 0;
}

/* ------------------------------------------------------------------ static files */
const char *const static_names[N_STATIC] = {"bokeh.min.js", "bokeh-gl.min.js",
                                            "bokeh-widgets.min.js", "bokeh-tables.min.js",
                                            "bokeh-mathjax.min.js"};
/* Tornado's ?v= (SHA-512 hex) of the Bokeh 3.6.0 bundles, as a real server sends them. */
const char *const static_hashes[N_STATIC] = {
    "de958ab1870cd066dba119c34f40c5e1ca4af9c0d31988f4020e6c49a056838b8968f69e29f359fb6dae256aed0"
    "26344b1797302c230126c662521f0895deb32",
    "674dcea77483f8996a069d63e07657e6f744a37d10997e93f172179a5ba5d1c9d7621815eeb5bd909aa463644476c"
    "1382f6254b9f387002e9ccfa6e640ddf0bb",
    "fbdc924ac6c91fc9327f170e493da343090822b9951b2eaec18e0a2a4811fc5960912ede4066d269976232f7acfcc"
    "5b21a36b40b14d357c113cad957eb9cb3a7",
    "676e60ffbaef467a0f8e2321dd663a259b7d45834cb8f2b27597650b8bb80ec0288acae28a58fffa5d504d54d3a99"
    "ae27a03b20ad03eec4aa18bf8c8cfb4ec4b",
    "18d539de4fd5f9333f0d92a17f1639fa2d54d634271e563aff29cf543f2d731d546fc1a9f5d15417b3a51367890c7"
    "5cf092517f8232376562052b0e0c60be9dd",
};
static const uint32_t static_sizes[N_STATIC] = {1091563, 211022, 311821, 301216, 1785889};
#define SMALL_STATIC_DIVISOR 64

static struct {
    uint8_t *body[N_STATIC];
    uint32_t size[N_STATIC];
    gbuf favicon, doc;
    char app[64];
    z_stream z;
    int z_ready;
} C;

/* JavaScript-looking filler: cheap to make, compresses like text, exact size. */
static uint8_t *make_js_filler(const char *name, uint32_t size)
{
    uint8_t *p = malloc(size + 1);
    if (!p) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    const char *head = "'use strict';\n";
    uint32_t k = 0;
    for (; head[k] && k < size; k++)
        p[k] = (uint8_t)head[k];
    char line[128];
    for (uint32_t n = 0; k < size; n++) {
        int len = snprintf(line, sizeof line,
                           "/* %s %u */ function f%u(a,b){return a*%u+b|0}var v%u=f%u(%u,1);\n",
                           name, n, n, n % 97 + 1, n, n, n & 255);
        for (int i = 0; i < len && k < size; i++)
            p[k++] = (uint8_t)line[i];
    }
    return p;
}

static void make_favicon(void)
{
    gbuf ico = {0};
    /* ICONDIR + 3 entries, then pixel filler */
    static const uint8_t dir[] = {0, 0, 1,    0,    3, 0, 48, 48, 0, 0, 1, 0, 32, 0, 0xa8, 0x25,
                                  0, 0, 54,   0,    0, 0, 32, 32, 0, 0, 1, 0, 32, 0, 0xa8, 0x10,
                                  0, 0, 0xde, 0x25, 0, 0, 16, 16, 0, 0, 1, 0, 32, 0, 0x68, 4,
                                  0, 0, 0x86, 0x36, 0, 0};
    gb_put(&ico, dir, sizeof dir);
    for (uint32_t i = 0; ico.len < FAVICON_SIZE; i++) {
        uint8_t px[4] = {(uint8_t)(0x55 + (i % 7)), (uint8_t)(0x80 + (i % 13)), 0xe6,
                         (uint8_t)(i % 5 ? 0xff : 0x00)};
        gb_put(&ico, px, FAVICON_SIZE - ico.len < 4 ? FAVICON_SIZE - ico.len : 4);
    }
    gb_printf(&C.favicon, "%x\r\n", FAVICON_SIZE);
    gb_put(&C.favicon, ico.p, ico.len);
    gb_puts(&C.favicon, "\r\n0\r\n\r\n");
    gb_free(&ico);
}

static void put_f64_b64(gbuf *doc, int which)
{
    uint8_t raw[60 * 8];
    for (int i = 0; i < 60; i++) {
        /* x: 0..59; y: a smooth wave from a cheap polynomial (no libm needed) */
        double v = which == 0 ? (double)i : (double)((i * 37) % 120 - 60) / 60.0;
        memcpy(raw + 8 * i, &v, 8);
    }
    b64std(doc, raw, sizeof raw);
}

/* A PULL-DOC-REPLY document shaped like a real streaming app's (Column, Div, Figure, ...). */
static void make_doc(void)
{
    gbuf *d = &C.doc;
    gb_printf(d,
              "{\"doc\":{\"version\":\"3.6.0\",\"title\":\"%s\",\"roots\":[{\"type\":\"object\","
              "\"name\":\"Column\",\"id\":\"p1049\",\"attributes\":{\"children\":[{\"type\":"
              "\"object\",\"name\":\"Div\",\"id\":\"p1048\",\"attributes\":{\"text\":\"Updates: "
              "0\"}},{\"type\":\"object\",\"name\":\"Figure\",\"id\":\"p1004\",\"attributes\":{"
              "\"width\":700,\"height\":300,\"x_range\":{\"type\":\"object\",\"name\":"
              "\"DataRange1d\",\"id\":\"p1005\"},\"y_range\":{\"type\":\"object\",\"name\":"
              "\"DataRange1d\",\"id\":\"p1006\"},\"x_scale\":{\"type\":\"object\",\"name\":"
              "\"LinearScale\",\"id\":\"p1014\"},\"y_scale\":{\"type\":\"object\",\"name\":"
              "\"LinearScale\",\"id\":\"p1015\"},\"title\":{\"type\":\"object\",\"name\":\"Title\","
              "\"id\":\"p1007\",\"attributes\":{\"text\":\"%s\"}},\"renderers\":[{\"type\":"
              "\"object\",\"name\":\"GlyphRenderer\",\"id\":\"p1045\",\"attributes\":{\"data_"
              "source\":{\"type\":\"object\",\"name\":\"ColumnDataSource\",\"id\":\"p1001\","
              "\"attributes\":{\"selected\":{\"type\":\"object\",\"name\":\"Selection\",\"id\":"
              "\"p1002\",\"attributes\":{\"indices\":[],\"line_indices\":[]}},\"selection_policy\":"
              "{\"type\":\"object\",\"name\":\"UnionRenderers\",\"id\":\"p1003\"},\"data\":{"
              "\"type\":\"map\",\"entries\":[[\"x\",{\"type\":\"ndarray\",\"array\":{\"type\":"
              "\"bytes\",\"data\":\"",
              C.app, C.app);
    put_f64_b64(d, 0);
    gb_puts(d, "\"},\"shape\":[60],\"dtype\":\"float64\",\"order\":\"little\"}],[\"y\",{\"type\":"
               "\"ndarray\",\"array\":{\"type\":\"bytes\",\"data\":\"");
    put_f64_b64(d, 1);
    gb_puts(
        d,
        "\"},\"shape\":[60],\"dtype\":\"float64\",\"order\":\"little\"}]]}}},\"view\":{\"type\":"
        "\"object\",\"name\":\"CDSView\",\"id\":\"p1046\",\"attributes\":{\"filter\":{\"type\":"
        "\"object\",\"name\":\"AllIndices\",\"id\":\"p1047\"}}},\"glyph\":{\"type\":\"object\","
        "\"name\":\"Line\",\"id\":\"p1042\",\"attributes\":{\"x\":{\"type\":\"field\",\"field\":"
        "\"x\"},\"y\":{\"type\":\"field\",\"field\":\"y\"},\"line_color\":\"#1f77b4\"}},"
        "\"nonselection_glyph\":{\"type\":\"object\",\"name\":\"Line\",\"id\":\"p1043\","
        "\"attributes\":{\"x\":{\"type\":\"field\",\"field\":\"x\"},\"y\":{\"type\":\"field\","
        "\"field\":\"y\"},\"line_color\":\"#1f77b4\",\"line_alpha\":0.1}},\"muted_glyph\":{"
        "\"type\":\"object\",\"name\":\"Line\",\"id\":\"p1044\",\"attributes\":{\"x\":{\"type\":"
        "\"field\",\"field\":\"x\"},\"y\":{\"type\":\"field\",\"field\":\"y\"},\"line_color\":"
        "\"#1f77b4\",\"line_alpha\":0.2}}}}],\"toolbar\":{\"type\":\"object\",\"name\":"
        "\"Toolbar\",\"id\":\"p1013\",\"attributes\":{\"tools\":[{\"type\":\"object\",\"name\":"
        "\"PanTool\",\"id\":\"p1026\"},{\"type\":\"object\",\"name\":\"WheelZoomTool\",\"id\":"
        "\"p1027\",\"attributes\":{\"renderers\":\"auto\"}},{\"type\":\"object\",\"name\":"
        "\"BoxZoomTool\",\"id\":\"p1028\",\"attributes\":{\"overlay\":{\"type\":\"object\","
        "\"name\":\"BoxAnnotation\",\"id\":\"p1029\",\"attributes\":{\"syncable\":false,"
        "\"line_color\":\"black\",\"line_alpha\":1.0,\"line_width\":2,\"line_dash\":[4,4],"
        "\"fill_color\":\"lightgrey\",\"fill_alpha\":0.5,\"level\":\"overlay\",\"visible\":false,"
        "\"left\":{\"type\":\"number\",\"value\":\"nan\"},\"right\":{\"type\":\"number\","
        "\"value\":\"nan\"},\"top\":{\"type\":\"number\",\"value\":\"nan\"},\"bottom\":{\"type\":"
        "\"number\",\"value\":\"nan\"},\"left_units\":\"canvas\",\"right_units\":\"canvas\","
        "\"top_units\":\"canvas\",\"bottom_units\":\"canvas\"}}}},{\"type\":\"object\",\"name\":"
        "\"SaveTool\",\"id\":\"p1036\"},{\"type\":\"object\",\"name\":\"ResetTool\",\"id\":"
        "\"p1037\"},{\"type\":\"object\",\"name\":\"HelpTool\",\"id\":\"p1038\"}]}},\"left\":[{"
        "\"type\":\"object\",\"name\":\"LinearAxis\",\"id\":\"p1021\",\"attributes\":{\"ticker\":"
        "{\"type\":\"object\",\"name\":\"BasicTicker\",\"id\":\"p1022\",\"attributes\":{"
        "\"mantissas\":[1,2,5]}},\"formatter\":{\"type\":\"object\",\"name\":"
        "\"BasicTickFormatter\",\"id\":\"p1023\"},\"major_label_policy\":{\"type\":\"object\","
        "\"name\":\"AllLabels\",\"id\":\"p1024\"}}}],\"below\":[{\"type\":\"object\",\"name\":"
        "\"LinearAxis\",\"id\":\"p1016\",\"attributes\":{\"ticker\":{\"type\":\"object\","
        "\"name\":\"BasicTicker\",\"id\":\"p1017\",\"attributes\":{\"mantissas\":[1,2,5]}},"
        "\"formatter\":{\"type\":\"object\",\"name\":\"BasicTickFormatter\",\"id\":\"p1018\"},"
        "\"major_label_policy\":{\"type\":\"object\",\"name\":\"AllLabels\",\"id\":\"p1019\"}}}],"
        "\"center\":[{\"type\":\"object\",\"name\":\"Grid\",\"id\":\"p1020\",\"attributes\":{"
        "\"axis\":{\"id\":\"p1016\"}}},{\"type\":\"object\",\"name\":\"Grid\",\"id\":\"p1025\","
        "\"attributes\":{\"dimension\":1,\"axis\":{\"id\":\"p1021\"}}}]}}]}}]}}");
}

void content_init(int small_static, const char *app)
{
    snprintf(C.app, sizeof C.app, "%s", app);
    for (int i = 0; i < N_STATIC; i++) {
        C.size[i] = small_static ? static_sizes[i] / SMALL_STATIC_DIVISOR : static_sizes[i];
        C.body[i] = make_js_filler(static_names[i], C.size[i]);
    }
    make_favicon();
    make_doc();
}

void content_free(void)
{
    for (int i = 0; i < N_STATIC; i++)
        free(C.body[i]);
    gb_free(&C.favicon);
    gb_free(&C.doc);
    if (C.z_ready)
        deflateEnd(&C.z);
}

const uint8_t *static_body(int i, uint32_t *len)
{
    *len = C.size[i];
    return C.body[i];
}

const uint8_t *favicon_chunked(uint32_t *len)
{
    *len = (uint32_t)C.favicon.len;
    return C.favicon.p;
}

const uint8_t *pull_doc_content(uint32_t *len)
{
    *len = (uint32_t)C.doc.len;
    return C.doc.p;
}

const char *app_name(void)
{
    return C.app;
}

/* ------------------------------------------------------------------ token */
static void zlib9(gbuf *out, const uint8_t *p, size_t n)
{
    if (!C.z_ready) {
        memset(&C.z, 0, sizeof C.z);
        if (deflateInit(&C.z, 9) != Z_OK) {
            fprintf(stderr, "owgen: deflateInit failed\n");
            exit(1);
        }
        C.z_ready = 1;
    } else {
        deflateReset(&C.z);
    }
    size_t bound = deflateBound(&C.z, (uLong)n);
    gb_reserve(out, bound);
    C.z.next_in = (Bytef *)p;
    C.z.avail_in = (uInt)n;
    C.z.next_out = out->p + out->len;
    C.z.avail_out = (uInt)bound;
    if (deflate(&C.z, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "owgen: deflate failed\n");
        exit(1);
    }
    out->len += bound - C.z.avail_out;
    out->p[out->len] = 0;
}

void make_token(gbuf *out, const char *session_id, int64_t expiry, const char *headers_json,
                int visit)
{
    gbuf extra = {0}, z = {0}, zb = {0}, js = {0}, vb = {0};
    char vs[16];
    int vn = snprintf(vs, sizeof vs, "%d", visit);
    b64url(&vb, (const uint8_t *)vs, (size_t)vn);
    gb_printf(&extra,
              "{\"headers\": %s, \"cookies\": {}, \"arguments\": {\"visit\": [{\"bytes\": "
              "\"%.*s\"}]}}",
              headers_json, (int)vb.len, (const char *)vb.p);
    zlib9(&z, extra.p, extra.len);
    b64url(&zb, z.p, z.len);
    gb_printf(&js, "{\"session_id\": \"%s\", \"session_expiry\": %lld, \"__bk__zlib_\": \"%.*s\"}",
              session_id, (long long)expiry, (int)zb.len, (const char *)zb.p);
    b64url(out, js.p, js.len);
    gb_free(&extra);
    gb_free(&z);
    gb_free(&zb);
    gb_free(&js);
    gb_free(&vb);
}

/* ------------------------------------------------------------------ websocket frames */
static void ws_header(gbuf *b, int opcode, size_t n, int masked)
{
    uint8_t h[10];
    size_t k = 0;
    h[k++] = (uint8_t)(0x80 | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        h[k++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        h[k++] = (uint8_t)(m | 126);
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    } else {
        h[k++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--)
            h[k++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    gb_put(b, h, k);
}

void ws_server_frame(gbuf *b, int opcode, const void *p, size_t n)
{
    ws_header(b, opcode, n, 0);
    gb_put(b, p, n);
}

void ws_client_frame(gbuf *b, int opcode, const void *p, size_t n, ow_rng *r)
{
    ws_header(b, opcode, n, 1);
    uint32_t key32 = (uint32_t)rng_next(r);
    uint8_t key[4] = {(uint8_t)(key32 >> 24), (uint8_t)(key32 >> 16), (uint8_t)(key32 >> 8),
                      (uint8_t)key32};
    gb_put(b, key, 4);
    gb_reserve(b, n);
    const uint8_t *src = p;
    for (size_t i = 0; i < n; i++)
        b->p[b->len + i] = src[i] ^ key[i & 3];
    b->len += n;
    b->p[b->len] = 0;
}
