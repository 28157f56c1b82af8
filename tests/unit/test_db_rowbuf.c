/* Unit tests for db/rowbuf.c: held rows replaced in place, text keys, children, growth. */
#include "db/rowbuf.h"
#include "testlib.h"
#include <stdio.h>

static const rb_value *value(const rowbuf *b, const rb_row *r, size_t i)
{
    return &b->values[r->first_value + i];
}

static void test_replace_in_place(void)
{
    rowbuf b;
    rowbuf_init(&b);
    rb_row *r = rowbuf_begin(&b, 1, 10, NULL);
    rowbuf_int(&b, r, 1, 100);
    rowbuf_text(&b, r, 2, "first");
    r = rowbuf_begin(&b, 1, 11, NULL);
    rowbuf_int(&b, r, 1, 200);
    r = rowbuf_begin(&b, 2, 10, NULL); /* same key, other statement: another row */
    rowbuf_real(&b, r, 1, 1.5);
    r = rowbuf_begin(&b, 1, 10, NULL); /* again: replaces the first, keeps its place */
    rowbuf_int(&b, r, 1, 101);
    rowbuf_null(&b, r, 2);
    rowbuf_text(&b, r, 3, "third");
    CHECK_EQ_INT(b.n_rows, 3);
    CHECK(r == &b.rows[0]);
    CHECK_EQ_INT(b.rows[0].n_values, 3);
    CHECK_EQ_INT(value(&b, &b.rows[0], 0)->v.i, 101);
    CHECK_EQ_INT(value(&b, &b.rows[0], 1)->type, RB_NULL);
    CHECK_EQ_STR(rowbuf_value_text(&b, value(&b, &b.rows[0], 2)), "third");
    CHECK_EQ_INT(value(&b, &b.rows[1], 0)->v.i, 200);
    CHECK(value(&b, &b.rows[2], 0)->v.d == 1.5);
    CHECK(!b.failed);
    rowbuf_free(&b);
}

static void test_unkeyed_and_text_keys(void)
{
    rowbuf b;
    rowbuf_init(&b);
    rowbuf_int(&b, rowbuf_begin(&b, 1, 0, NULL), 1, 1);
    rowbuf_int(&b, rowbuf_begin(&b, 1, 0, NULL), 1, 2); /* key 0: never replaced */
    rowbuf_int(&b, rowbuf_begin(&b, 3, 0, "session-a"), 1, 3);
    rowbuf_int(&b, rowbuf_begin(&b, 3, 0, "session-b"), 1, 4);
    rowbuf_int(&b, rowbuf_begin(&b, 3, 0, "session-a"), 1, 5);
    CHECK_EQ_INT(b.n_rows, 4);
    CHECK_EQ_INT(value(&b, &b.rows[2], 0)->v.i, 5);
    CHECK_EQ_INT(value(&b, &b.rows[3], 0)->v.i, 4);
    rowbuf_free(&b);
}

static void test_children_replaced_with_parent(void)
{
    rowbuf b;
    rowbuf_init(&b);
    rb_row *p = rowbuf_begin(&b, 1, 7, NULL);
    rowbuf_int(&b, p, 1, 7);
    for (int i = 0; i < 3; i++)
        rowbuf_int(&b, rowbuf_begin_child(&b, p, 2), 1, i);
    CHECK_EQ_INT(p->n_children, 3);
    rowbuf_int(&b, rowbuf_begin(&b, 1, 8, NULL), 1, 8);
    p = rowbuf_begin(&b, 1, 7, NULL);
    rowbuf_int(&b, p, 1, 70);
    rb_row *c = rowbuf_begin_child(&b, p, 2);
    rowbuf_text(&b, c, 1, "only");
    CHECK_EQ_INT(p->n_children, 1);
    CHECK_EQ_STR(rowbuf_value_text(&b, value(&b, &b.children[p->first_child], 0)), "only");
    CHECK(rowbuf_begin_child(&b, NULL, 2) == NULL);
    CHECK(b.failed);
    rowbuf_free(&b);
}

static void test_growth_and_clear(void)
{
    rowbuf b;
    rowbuf_init(&b);
    for (int round = 0; round < 2; round++) {
        for (int64_t k = 1; k <= 50000; k++)
            rowbuf_int(&b, rowbuf_begin(&b, (int)(k % 3), k, NULL), 1, k);
        for (int64_t k = 1; k <= 50000; k += 2)
            rowbuf_int(&b, rowbuf_begin(&b, (int)(k % 3), k, NULL), 1, -k);
        CHECK_EQ_INT(b.n_rows, 50000);
        CHECK_EQ_INT(value(&b, &b.rows[0], 0)->v.i, -1);
        CHECK_EQ_INT(value(&b, &b.rows[1], 0)->v.i, 2);
        CHECK_EQ_INT(value(&b, &b.rows[49998], 0)->v.i, -49999);
        CHECK(rowbuf_bytes(&b) > 50000 * sizeof(rb_value));
        rowbuf_clear(&b);
        CHECK_EQ_INT(b.n_rows, 0);
    }
    /* a bad parameter index marks the row as not to be written */
    rb_row *r = rowbuf_begin(&b, 1, 1, NULL);
    rowbuf_int(&b, r, 0, 1);
    CHECK(r->dead);
    rowbuf_free(&b);
}

int main(void)
{
    test_replace_in_place();
    test_unkeyed_and_text_keys();
    test_children_replaced_with_parent();
    test_growth_and_clear();
    TEST_MAIN_END("test_db_rowbuf");
}
