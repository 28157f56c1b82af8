/* strmap: open addressing with linear probing and tombstones (see strmap.h). When live keys
 * and tombstones fill three quarters of the slots, the table is rebuilt without tombstones at
 * the size its live keys need (at most half full): the correlator's maps see every page load
 * come and go, and a table that only doubled grew to thousands of slots, mostly tombstones, for
 * a few hundred live keys (each lookup then a cache miss). */
#include "correlate/strmap.h"
#include <stdlib.h>
#include <string.h>

static char tombstone_key;
#define STRMAP_TOMBSTONE (&tombstone_key)

static uint64_t hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

void strmap_init(strmap *m)
{
    memset(m, 0, sizeof *m);
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    strmap_init(m);
}

static strmap_slot *find_slot(const strmap *m, const void *key, size_t len, uint64_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
        strmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != STRMAP_TOMBSTONE && s->hash == h && s->key_len == len &&
            memcmp(s->key, key, len) == 0)
            return s;
    }
    return NULL;
}

#define STRMAP_MIN_CAP 64

/* The slots a table of live keys is rebuilt with: a power of two, at most half full. */
static size_t capacity_for(size_t live)
{
    size_t cap = STRMAP_MIN_CAP;
    while (cap < (live + 1) * 2)
        cap *= 2;
    return cap;
}

static bool rebuild(strmap *m, size_t ncap)
{
    strmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        strmap_slot *s = &m->slots[i];
        if (!s->key || s->key == STRMAP_TOMBSTONE)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->live;
    return true;
}

void *strmap_get(const strmap *m, const void *key, size_t len)
{
    strmap_slot *s = find_slot(m, key, len, hash_bytes(key, len));
    return s ? s->value : NULL;
}

bool strmap_put(strmap *m, const void *key, size_t len, void *value)
{
    uint64_t h = hash_bytes(key, len);
    strmap_slot *s = find_slot(m, key, len, h);
    if (s) {
        s->value = value;
        return true;
    }
    if ((m->used + 1) * 4 >= m->cap * 3 && !rebuild(m, capacity_for(m->live)))
        return false;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, key, len);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (strmap_slot){copy, len, h, value};
    m->live++;
    return true;
}

void strmap_del(strmap *m, const void *key, size_t len, const void *value)
{
    strmap_slot *s = find_slot(m, key, len, hash_bytes(key, len));
    if (!s || (value && s->value != value))
        return;
    free(s->key);
    s->key = STRMAP_TOMBSTONE;
    s->value = NULL;
    m->live--;
}

size_t strmap_count(const strmap *m)
{
    return m->live;
}
