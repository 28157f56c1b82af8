/* strmap: a small open-addressing hash map from byte-string keys to pointers, used by the
 * correlator to find page loads by id, session id, client and page URL. Keys are copied. */
#ifndef OW_STRMAP_H
#define OW_STRMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
    char *key; /* NULL: empty; STRMAP_TOMBSTONE: deleted */
    size_t key_len;
    uint64_t hash;
    void *value;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap, used, live;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
void *strmap_get(const strmap *m, const void *key, size_t len);
/* Inserts or replaces. Returns false only when out of memory. */
bool strmap_put(strmap *m, const void *key, size_t len, void *value);
/* Removes the key if it maps to value (or to anything when value is NULL). */
void strmap_del(strmap *m, const void *key, size_t len, const void *value);
size_t strmap_count(const strmap *m);
#endif
