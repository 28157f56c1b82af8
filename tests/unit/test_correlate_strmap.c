/* test_correlate_strmap: the correlator's string map against a plain array doing the same puts,
 * gets and deletes (random keys of 0 to 40 bytes, some sharing prefixes), and its size under
 * churn: keys that come and go with a few hundred live at a time (as page loads do) keep the
 * table at the size those live keys need, however many have passed through. Before the rebuild
 * at the live keys' size, the table only doubled and grew past 100,000 slots here. */
#include "correlate/strmap.h"
#include "tests/unit/testlib.h"
#include <stdio.h>
#include <stdlib.h>

#define POOL 600

typedef struct ref_entry {
    char key[48];
    size_t len;
    void *value; /* NULL: absent */
} ref_entry;

static ref_entry pool[POOL];

/* Key 0 is empty, every seventh shares the prefix "/app/static/", the others are random
 * letters; all distinct. */
static void make_pool(void)
{
    for (int i = 0; i < POOL; i++) {
        ref_entry *e = &pool[i];
        e->value = NULL;
        if (i == 0) {
            e->len = 0;
        } else if (i % 7 == 0) {
            e->len = (size_t)snprintf(e->key, sizeof e->key, "/app/static/%04d", i);
        } else {
            e->len = tl_below(40) + 1;
            for (size_t k = 0; k < e->len; k++)
                e->key[k] = (char)('a' + tl_below(26));
        }
        for (int j = 0; j < i; j++)
            if (pool[j].len == e->len && memcmp(pool[j].key, e->key, e->len) == 0)
                e->len = (size_t)snprintf(e->key, sizeof e->key, "distinct-%d", i);
    }
}

static void test_against_reference(void)
{
    strmap m;
    strmap_init(&m);
    tl_seed(20261127);
    make_pool();
    size_t live = 0;
    for (int step = 0; step < 200000; step++) {
        ref_entry *e = &pool[tl_below(POOL)];
        unsigned op = tl_below(10);
        if (op < 4) {
            void *v = (void *)(uintptr_t)(step + 1);
            CHECK(strmap_put(&m, e->key, e->len, v));
            live += e->value == NULL;
            e->value = v;
        } else if (op < 7) {
            if (strmap_get(&m, e->key, e->len) != e->value)
                CHECK(strmap_get(&m, e->key, e->len) == e->value);
        } else if (op < 9) {
            strmap_del(&m, e->key, e->len, NULL);
            live -= e->value != NULL;
            e->value = NULL;
        } else { /* deleting under another value leaves the key */
            strmap_del(&m, e->key, e->len, (void *)(uintptr_t)0xdead);
            if (strmap_get(&m, e->key, e->len) != e->value)
                CHECK(strmap_get(&m, e->key, e->len) == e->value);
        }
        if (strmap_count(&m) != live)
            CHECK_EQ_INT(strmap_count(&m), live);
    }
    int wrong = 0;
    for (int i = 0; i < POOL; i++)
        wrong += strmap_get(&m, pool[i].key, pool[i].len) != pool[i].value;
    CHECK_EQ_INT(wrong, 0);
    CHECK(m.cap <= 2048); /* at most 600 live: rebuilt at 2048 slots at most */
    strmap_free(&m);
}

static void test_churn_keeps_size(void)
{
    strmap m;
    strmap_init(&m);
    enum { LIVE = 300, PASSING = 100000 };
    char key[32];
    size_t largest = 0;
    for (int i = 0; i < PASSING; i++) {
        int n = snprintf(key, sizeof key, "page-%d", i);
        CHECK(strmap_put(&m, key, (size_t)n, (void *)(uintptr_t)(i + 1)));
        if (i >= LIVE) {
            n = snprintf(key, sizeof key, "page-%d", i - LIVE);
            strmap_del(&m, key, (size_t)n, NULL);
        }
        if (m.cap > largest)
            largest = m.cap;
    }
    CHECK_EQ_INT(strmap_count(&m), LIVE);
    CHECK(largest <= 1024); /* 301 live keys: 1024 slots, never more */
    int n = snprintf(key, sizeof key, "page-%d", PASSING - 1);
    CHECK(strmap_get(&m, key, (size_t)n) == (void *)(uintptr_t)PASSING);
    n = snprintf(key, sizeof key, "page-%d", PASSING - LIVE - 1);
    CHECK(strmap_get(&m, key, (size_t)n) == NULL);
    strmap_free(&m);
}

int main(void)
{
    test_against_reference();
    test_churn_keeps_size();
    TEST_MAIN_END("test_correlate_strmap");
}
