/* rowbuf: rows waiting to be written, replaced in place when put again (see rowbuf.h). */
#include "db/rowbuf.h"
#include <stdlib.h>
#include <string.h>

void rowbuf_init(rowbuf *b)
{
    memset(b, 0, sizeof *b);
}

void rowbuf_free(rowbuf *b)
{
    free(b->rows);
    free(b->children);
    free(b->values);
    free(b->text);
    free(b->slots);
    rowbuf_init(b);
}

void rowbuf_clear(rowbuf *b)
{
    b->n_rows = b->n_children = b->n_values = b->text_len = 0;
    if (b->slots)
        memset(b->slots, 0, b->n_slots * sizeof *b->slots);
    b->failed = false;
}

size_t rowbuf_bytes(const rowbuf *b)
{
    return b->n_rows * sizeof *b->rows + b->n_children * sizeof *b->children +
           b->n_values * sizeof *b->values + b->text_len + b->n_slots * sizeof *b->slots;
}

/* Makes room for one more of an array's elements; false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 256;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static uint64_t key_hash(int stmt, int64_t key, const char *text, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)stmt;
    h = (h ^ (uint64_t)key) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static bool same_key(const rowbuf *b, const rb_row *r, int stmt, int64_t key, const char *text,
                     size_t len)
{
    return r->stmt == stmt && r->key == key && r->key_len == len &&
           (len == 0 || memcmp(b->text + r->key_text, text, len) == 0);
}

static bool rehash(rowbuf *b)
{
    size_t n = b->n_slots ? b->n_slots * 2 : 1024;
    size_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < b->n_rows; i++) {
        const rb_row *r = &b->rows[i];
        if (r->key == 0 && r->key_len == 0)
            continue;
        size_t at = key_hash(r->stmt, r->key, b->text + r->key_text, r->key_len) & (n - 1);
        while (s[at])
            at = (at + 1) & (n - 1);
        s[at] = i + 1;
    }
    free(b->slots);
    b->slots = s;
    b->n_slots = n;
    return true;
}

/* The slot holding (stmt, key, text), or the free slot where it would go. */
static size_t *find_slot(rowbuf *b, int stmt, int64_t key, const char *text, size_t len)
{
    size_t mask = b->n_slots - 1, at = key_hash(stmt, key, text, len) & mask;
    while (b->slots[at] && !same_key(b, &b->rows[b->slots[at] - 1], stmt, key, text, len))
        at = (at + 1) & mask;
    return &b->slots[at];
}

static bool add_text(rowbuf *b, const char *s, size_t len, size_t *off)
{
    if (b->text_len + len + 1 > b->text_cap) {
        size_t ncap = b->text_cap ? b->text_cap : 4096;
        while (ncap < b->text_len + len + 1)
            ncap *= 2;
        char *p = realloc(b->text, ncap);
        if (!p)
            return false;
        b->text = p;
        b->text_cap = ncap;
    }
    memcpy(b->text + b->text_len, s, len);
    b->text[b->text_len + len] = 0;
    *off = b->text_len;
    b->text_len += len + 1;
    return true;
}

static void restart_row(rowbuf *b, rb_row *r)
{
    r->first_value = b->n_values;
    r->n_values = 0;
    r->first_child = b->n_children;
    r->n_children = 0;
    r->dead = false;
}

rb_row *rowbuf_begin(rowbuf *b, int stmt, int64_t key, const char *key_text)
{
    size_t len = key_text ? strlen(key_text) : 0;
    bool keyed = key != 0 || len != 0;
    if (keyed && (b->n_rows + 1) * 2 > b->n_slots && !rehash(b))
        goto oom;
    size_t *slot = keyed ? find_slot(b, stmt, key, key_text, len) : NULL;
    if (slot && *slot) {
        rb_row *r = &b->rows[*slot - 1];
        restart_row(b, r);
        return r;
    }
    if (!grow((void **)&b->rows, &b->cap_rows, b->n_rows, sizeof *b->rows))
        goto oom;
    rb_row *r = &b->rows[b->n_rows];
    *r = (rb_row){.stmt = stmt, .key = key, .key_len = len};
    if (len && !add_text(b, key_text, len, &r->key_text))
        goto oom;
    restart_row(b, r);
    if (slot)
        *slot = b->n_rows + 1;
    b->n_rows++;
    return r;
oom:
    b->failed = true;
    return NULL;
}

rb_row *rowbuf_begin_child(rowbuf *b, rb_row *parent, int stmt)
{
    if (!parent ||
        !grow((void **)&b->children, &b->cap_children, b->n_children, sizeof *b->children)) {
        b->failed = true;
        return NULL;
    }
    if (parent->n_children == 0)
        parent->first_child = b->n_children;
    rb_row *c = &b->children[b->n_children++];
    *c = (rb_row){.stmt = stmt};
    c->first_value = b->n_values;
    parent->n_children++;
    return c;
}

rb_value *rowbuf_add_value_slow(rowbuf *b, rb_row *r, int param, int type)
{
    if (!r)
        return NULL;
    if (param <= 0 || param > UINT16_MAX ||
        !grow((void **)&b->values, &b->cap_values, b->n_values, sizeof *b->values)) {
        r->dead = true; /* incomplete: never written */
        b->failed = true;
        return NULL;
    }
    return rowbuf_add_value(b, r, param, type); /* room now */
}

void rowbuf_text_slow(rowbuf *b, rb_row *r, int param, const char *s, size_t len)
{
    size_t off;
    if (len > UINT32_MAX || !add_text(b, s, len, &off)) {
        if (r)
            r->dead = true;
        b->failed = true;
        return;
    }
    rb_value *v = rowbuf_add_value(b, r, param, RB_TEXT);
    if (v) {
        v->v.text = off;
        v->len = (uint32_t)len;
    }
}
