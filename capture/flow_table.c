/* flow_table: hash table of TCP connections by real 4-tuple, slots, LRU (see flow_table.h).
 * A lookup first tries the flow the previous lookup found; IPv4 connections (nearly all) are
 * hashed and compared as two words, addresses and ports; IPv6 ones as the ports' word first,
 * then each address as two words. */
#include "capture/flow_table.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t load64(const uint8_t *b)
{
    uint64_t w;
    memcpy(&w, b, sizeof w);
    return w;
}

/* IPv6 (and anything not IPv4) eight bytes at a time; the table's seed keeps it
 * unpredictable. */
static uint32_t endpoint_hash(const ow_addr *a, uint16_t port, uint32_t seed)
{
    uint64_t h = ((uint64_t)seed << 32) ^ ((uint64_t)a->family << 16) ^ port;
    for (int i = 0; i < 2; i++) {
        h = (h ^ load64(a->bytes + (size_t)i * 8)) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* An IPv4 connection's key: both addresses in one word, both ports in another. */
static uint64_t v4_addrs(const ow_addr *a, const ow_addr *b)
{
    return (uint64_t)ow_load32_host(a->bytes) << 32 | ow_load32_host(b->bytes);
}

static uint32_t port_pair(uint16_t pa, uint16_t pb)
{
    return (uint32_t)pa << 16 | pb;
}

static uint64_t v4_endpoint_mix(uint32_t addr, uint16_t port, uint64_t seed)
{
    uint64_t h = (((uint64_t)addr << 16 | port) ^ seed) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline uint32_t v4_pair_hash(const flow_table *t, uint32_t a, uint16_t pa, uint32_t b,
                                    uint16_t pb)
{
    uint64_t seed = (uint64_t)t->seed << 32 | t->seed;
    uint64_t h = v4_endpoint_mix(a, pa, seed) + v4_endpoint_mix(b, pb, seed);
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h >> 32);
}

static inline uint64_t v6_endpoint_mix(const ow_addr *a, uint16_t port, uint64_t seed)
{
    uint64_t h = (load64(a->bytes) ^ seed) * 0x9E3779B97F4A7C15ull;
    h = (h ^ load64(a->bytes + 8) ^ port) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline uint32_t v6_pair_hash(const flow_table *t, const ow_addr *a, uint16_t pa,
                                    const ow_addr *b, uint16_t pb)
{
    uint64_t seed = (uint64_t)t->seed << 32 | t->seed;
    uint64_t h = v6_endpoint_mix(a, pa, seed) + v6_endpoint_mix(b, pb, seed);
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h >> 32);
}

static bool both_v6(const ow_addr *a, const ow_addr *b)
{
    return a->family == 6 && b->family == 6;
}

/* Symmetric: both directions of a connection land in the same bucket. */
static uint32_t pair_hash(const flow_table *t, const ow_addr *a, uint16_t pa, const ow_addr *b,
                          uint16_t pb)
{
    if (a->family == 4 && b->family == 4) /* the common case, in a few instructions */
        return v4_pair_hash(t, ow_load32_host(a->bytes), pa, ow_load32_host(b->bytes), pb);
    if (both_v6(a, b))
        return v6_pair_hash(t, a, pa, b, pb);
    uint32_t h = endpoint_hash(a, pa, t->seed) + endpoint_hash(b, pb, t->seed);
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

/* Frees the arrays and zeroes the table, which holds no flow any more. */
static void free_arrays(flow_table *t)
{
    free(t->buckets);
    free(t->slots);
    free(t->free_slots);
    memset(t, 0, sizeof *t);
}

bool ft_init(flow_table *t, uint32_t max_flows)
{
    memset(t, 0, sizeof *t);
    if (max_flows == 0)
        max_flows = 1;
    t->nbuckets = 1024;
    while (t->nbuckets < max_flows && t->nbuckets < (1u << 30))
        t->nbuckets <<= 1;
    /* arrays of pointers to flows, sized by the type: bugprone-sizeof-expression takes
     * `sizeof *t->buckets` (a pointer to a struct) for a mistake */
    t->buckets = calloc(t->nbuckets, sizeof(ow_flow_int *));
    t->slots = calloc(max_flows, sizeof(ow_flow_int *));
    t->free_slots = malloc(max_flows * sizeof *t->free_slots);
    if (!t->buckets || !t->slots || !t->free_slots) {
        free_arrays(t); /* no flow yet */
        return false;
    }
    t->nslots = t->nfree = max_flows;
    for (uint32_t i = 0; i < max_flows; i++)
        t->free_slots[i] = max_flows - 1 - i; /* slot 0 handed out first */
    t->seed = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)t;
    return true;
}

void ft_destroy(flow_table *t)
{
    ow_flow_int *next;
    for (ow_flow_int *f = t->lru_head; f; f = next) { /* every flow is on the LRU list */
        next = f->lnext;
        free(f);
    }
    free_arrays(t);
}

static bool endpoint_eq(const ow_addr *a, uint16_t pa, const ow_addr *b, uint16_t pb)
{
    return pa == pb && ow_addr_eq(a, b);
}

/* Is f the connection between src:sport and dst:dport? Sets *dir when it is. */
static bool flow_is(const ow_flow_int *f, const ow_addr *src, uint16_t sport, const ow_addr *dst,
                    uint16_t dport, int *dir)
{
    const ow_flow *p = &f->pub;
    if (endpoint_eq(&p->client, p->client_port, src, sport) &&
        endpoint_eq(&p->server, p->server_port, dst, dport)) {
        *dir = OW_DIR_C2S;
        return true;
    }
    if (endpoint_eq(&p->server, p->server_port, src, sport) &&
        endpoint_eq(&p->client, p->client_port, dst, dport)) {
        *dir = OW_DIR_S2C;
        return true;
    }
    return false;
}

/* Is f the IPv4 connection whose key in the packet's direction is addrs/ports? */
static bool v4_flow_is(const ow_flow_int *f, uint64_t addrs, uint32_t ports, int *dir)
{
    if (!f->key_v4)
        return false;
    if (f->key_addrs == addrs && f->key_ports == ports) {
        *dir = OW_DIR_C2S;
        return true;
    }
    if (f->key_addrs == (addrs << 32 | addrs >> 32) &&
        f->key_ports == (ports << 16 | ports >> 16)) {
        *dir = OW_DIR_S2C;
        return true;
    }
    return false;
}

static ow_flow_int *v4_lookup(flow_table *t, const ow_addr *src, uint16_t sport, const ow_addr *dst,
                              uint16_t dport, int *dir)
{
    uint64_t addrs = v4_addrs(src, dst);
    uint32_t ports = port_pair(sport, dport);
    if (t->last && v4_flow_is(t->last, addrs, ports, dir))
        return t->last;
    uint32_t h =
        v4_pair_hash(t, ow_load32_host(src->bytes), sport, ow_load32_host(dst->bytes), dport);
    for (ow_flow_int *f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext) {
        if (f->hash == h && v4_flow_is(f, addrs, ports, dir)) {
            t->last = f;
            return f;
        }
    }
    return NULL;
}

static bool v6_addr_eq(const ow_addr *a, const ow_addr *b)
{
    return load64(a->bytes) == load64(b->bytes) && load64(a->bytes + 8) == load64(b->bytes + 8);
}

/* Is f the IPv6 connection between src and dst whose ports in the packet's direction are
 * ports? Sets *dir when it is. */
static bool v6_flow_is(const ow_flow_int *f, const ow_addr *src, const ow_addr *dst, uint32_t ports,
                       int *dir)
{
    if (!f->key_v6)
        return false;
    const ow_flow *p = &f->pub;
    if (f->key_ports == ports && v6_addr_eq(&p->client, src) && v6_addr_eq(&p->server, dst)) {
        *dir = OW_DIR_C2S;
        return true;
    }
    if (f->key_ports == (ports << 16 | ports >> 16) && v6_addr_eq(&p->server, src) &&
        v6_addr_eq(&p->client, dst)) {
        *dir = OW_DIR_S2C;
        return true;
    }
    return false;
}

static __attribute__((noinline)) ow_flow_int *v6_lookup(flow_table *t, const ow_addr *src,
                                                        uint16_t sport, const ow_addr *dst,
                                                        uint16_t dport, int *dir)
{
    uint32_t ports = port_pair(sport, dport);
    if (t->last && v6_flow_is(t->last, src, dst, ports, dir))
        return t->last;
    uint32_t h = v6_pair_hash(t, src, sport, dst, dport);
    for (ow_flow_int *f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext) {
        if (f->hash == h && v6_flow_is(f, src, dst, ports, dir)) {
            t->last = f;
            return f;
        }
    }
    return NULL;
}

static __attribute__((noinline)) ow_flow_int *any_lookup(flow_table *t, const ow_addr *src,
                                                         uint16_t sport, const ow_addr *dst,
                                                         uint16_t dport, int *dir)
{
    if (t->last && flow_is(t->last, src, sport, dst, dport, dir))
        return t->last; /* most packets belong to the connection of the packet before */
    uint32_t h = pair_hash(t, src, sport, dst, dport);
    for (ow_flow_int *f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext) {
        if (f->hash == h && flow_is(f, src, sport, dst, dport, dir)) {
            t->last = f;
            return f;
        }
    }
    return NULL;
}

ow_flow_int *ft_lookup(flow_table *t, const ow_addr *src, uint16_t sport, const ow_addr *dst,
                       uint16_t dport, int *dir)
{
    if (src->family == 4 && dst->family == 4)
        return v4_lookup(t, src, sport, dst, dport, dir);
    if (both_v6(src, dst))
        return v6_lookup(t, src, sport, dst, dport, dir);
    return any_lookup(t, src, sport, dst, dport, dir);
}

bool ft_full(const flow_table *t)
{
    return t->nfree == 0;
}

static void lru_unlink(flow_table *t, ow_flow_int *f)
{
    if (f->lprev)
        f->lprev->lnext = f->lnext;
    else
        t->lru_head = f->lnext;
    if (f->lnext)
        f->lnext->lprev = f->lprev;
    else
        t->lru_tail = f->lprev;
    f->lprev = f->lnext = NULL;
}

static void lru_push_head(flow_table *t, ow_flow_int *f)
{
    f->lprev = NULL;
    f->lnext = t->lru_head;
    if (t->lru_head)
        t->lru_head->lprev = f;
    t->lru_head = f;
    if (!t->lru_tail)
        t->lru_tail = f;
}

ow_flow_int *ft_insert(flow_table *t, const ow_addr *client, uint16_t cport, const ow_addr *server,
                       uint16_t sport)
{
    if (t->nfree == 0)
        return NULL;
    ow_flow_int *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->pub.client = *client;
    f->pub.server = *server;
    f->pub.client_port = cport;
    f->pub.server_port = sport;
    f->hash = pair_hash(t, client, cport, server, sport);
    f->key_ports = port_pair(cport, sport);
    if (client->family == 4 && server->family == 4) {
        f->key_v4 = true;
        f->key_addrs = v4_addrs(client, server);
    }
    f->key_v6 = both_v6(client, server);
    uint32_t b = f->hash & (t->nbuckets - 1);
    f->hnext = t->buckets[b];
    t->buckets[b] = f;
    f->slot = t->free_slots[--t->nfree];
    t->slots[f->slot] = f;
    lru_push_head(t, f);
    return f;
}

void ft_remove(flow_table *t, ow_flow_int *f)
{
    if (t->last == f)
        t->last = NULL;
    ow_flow_int **pp = &t->buckets[f->hash & (t->nbuckets - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(t, f);
    t->slots[f->slot] = NULL;
    t->free_slots[t->nfree++] = f->slot;
    free(f);
}

void ft_touch(flow_table *t, ow_flow_int *f)
{
    if (t->lru_head == f)
        return;
    lru_unlink(t, f);
    lru_push_head(t, f);
}

ow_flow_int *ft_by_slot(const flow_table *t, uint32_t slot)
{
    return slot < t->nslots ? t->slots[slot] : NULL;
}
