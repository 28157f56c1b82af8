/* rowbuf: the rows waiting to be written, held as parameter values until the writer steps
 * them into SQLite. A row is keyed by its statement and its record's id (or a text key); a row
 * put again under the same key replaces the earlier version where it stands, so a record the
 * correlator re-emits many times between two flushes costs one INSERT. A row may carry child
 * rows (a page load's evidence) that are replaced with it. Plain memory, no SQLite: the writer
 * owns the statements; this only remembers values in order. */
#ifndef OW_ROWBUF_H
#define OW_ROWBUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { RB_NULL, RB_INT, RB_REAL, RB_TEXT };

typedef struct rb_value {
    uint16_t param; /* the statement's parameter index (1-based) */
    uint8_t type;   /* RB_* */
    uint32_t len;   /* RB_TEXT: bytes at text */
    union {
        int64_t i;
        double d;
        size_t text; /* RB_TEXT: offset in the text arena */
    } v;
} rb_value;

typedef struct rb_row {
    int stmt;                 /* the writer's statement id */
    int64_t key;              /* record id (0: never replaced) */
    size_t key_text, key_len; /* a text key (sessions), else key_len 0 */
    size_t first_value, n_values;
    size_t first_child, n_children; /* rows in the children array */
    bool dead;                      /* a value could not be kept: the row is not written */
} rb_row;

typedef struct rowbuf {
    rb_row *rows, *children;
    size_t n_rows, cap_rows, n_children, cap_children;
    rb_value *values;
    size_t n_values, cap_values;
    char *text;
    size_t text_len, text_cap;
    size_t *slots; /* open-addressing index over rows: row index + 1, 0 free */
    size_t n_slots;
    bool failed; /* out of memory: rows were lost (the writer counts them) */
} rowbuf;

void rowbuf_init(rowbuf *b);
void rowbuf_free(rowbuf *b);
/* Forgets every row (keeps the memory for the next batch). */
void rowbuf_clear(rowbuf *b);
/* Bytes held by the current batch (rows, values and text): the writer flushes past a bound. */
size_t rowbuf_bytes(const rowbuf *b);

/* Starts a row; a live row with the same (stmt, key[, key_text]) is replaced where it stands
 * (key 0: always a new row). Returns the row, or NULL when out of memory. */
rb_row *rowbuf_begin(rowbuf *b, int stmt, int64_t key, const char *key_text);
/* Starts a child of parent (the row begun last): its values follow. NULL when out of memory. */
rb_row *rowbuf_begin_child(rowbuf *b, rb_row *parent, int stmt);
/* Values of the row begun last (the child, after rowbuf_begin_child). A value that cannot be
 * kept (no row, a bad parameter, memory) makes its row dead. */
/* rowbuf_text (NULL s: a NULL value), rowbuf_text_len (a text whose length is known; s[len]
 * need not be 0), rowbuf_null, rowbuf_int and rowbuf_real: below, inline (one per bound
 * column). */

/* The next value of row r (rowbuf_add_value); its slow path grows the array or marks the row
 * dead (NULL). */
rb_value *rowbuf_add_value_slow(rowbuf *b, rb_row *r, int param, int type);
static inline rb_value *rowbuf_add_value(rowbuf *b, rb_row *r, int param, int type)
{
    if (!r || param <= 0 || param > UINT16_MAX || b->n_values >= b->cap_values)
        return rowbuf_add_value_slow(b, r, param, type);
    rb_value *v = &b->values[b->n_values++];
    v->param = (uint16_t)param;
    v->type = (uint8_t)type;
    v->len = 0;
    r->n_values++;
    return v;
}

static inline void rowbuf_null(rowbuf *b, rb_row *r, int param)
{
    rowbuf_add_value(b, r, param, RB_NULL);
}

static inline void rowbuf_int(rowbuf *b, rb_row *r, int param, int64_t i)
{
    rb_value *v = rowbuf_add_value(b, r, param, RB_INT);
    if (v)
        v->v.i = i;
}

static inline void rowbuf_real(rowbuf *b, rb_row *r, int param, double d)
{
    rb_value *v = rowbuf_add_value(b, r, param, RB_REAL);
    if (v)
        v->v.d = d;
}

/* rowbuf_text_len's slow path: grows the text arena or the values, or marks the row dead. */
void rowbuf_text_slow(rowbuf *b, rb_row *r, int param, const char *s, size_t len);
static inline void rowbuf_text_len(rowbuf *b, rb_row *r, int param, const char *s, size_t len)
{
    if (!r || param <= 0 || param > UINT16_MAX || len > UINT32_MAX ||
        b->n_values >= b->cap_values || len + 1 > b->text_cap - b->text_len) {
        rowbuf_text_slow(b, r, param, s, len);
        return;
    }
    memcpy(b->text + b->text_len, s, len);
    b->text[b->text_len + len] = 0;
    rb_value *v = &b->values[b->n_values++];
    v->param = (uint16_t)param;
    v->type = RB_TEXT;
    v->len = (uint32_t)len;
    v->v.text = b->text_len;
    b->text_len += len + 1;
    r->n_values++;
}

static inline void rowbuf_text(rowbuf *b, rb_row *r, int param, const char *s)
{
    if (s)
        rowbuf_text_len(b, r, param, s, strlen(s));
    else
        rowbuf_null(b, r, param);
}

/* The text of a value. */
static inline const char *rowbuf_value_text(const rowbuf *b, const rb_value *v)
{
    return b->text + v->v.text;
}

#endif
