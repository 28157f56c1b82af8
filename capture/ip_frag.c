/* ip_frag: IPv4/IPv6 fragment reassembly (see ip_frag.h). */
#include "capture/ip_frag.h"
#include <stdlib.h>
#include <string.h>

typedef struct frag_piece {
    uint32_t start, end; /* payload byte range [start, end) on the wire */
} frag_piece;

struct frag_dgram {
    bool used;
    ow_addr src, dst;
    uint32_t id;
    uint8_t proto; /* from the first fragment (offset 0) */
    bool have_first;
    double first_ts;
    uint32_t total;               /* 0 until the last fragment is seen */
    uint32_t received;            /* payload bytes held (pieces never overlap) */
    uint32_t captured_prefix_end; /* first byte missing from the capture (snap length) */
    uint8_t npieces;
    frag_piece pieces[OW_FRAG_MAX_PIECES];
    uint8_t *buf; /* OW_FRAG_MAX_PAYLOAD bytes, allocated while in use */
};

bool frag_init(frag_table *t)
{
    memset(t, 0, sizeof *t);
    t->d = calloc(OW_FRAG_MAX_DATAGRAMS, sizeof *t->d);
    if (!t->d) {
        frag_destroy(t);
        return false;
    }
    return true;
}

static void release(frag_dgram *d)
{
    free(d->buf);
    memset(d, 0, sizeof *d);
}

void frag_destroy(frag_table *t)
{
    if (t->d)
        for (int i = 0; i < OW_FRAG_MAX_DATAGRAMS; i++)
            release(&t->d[i]);
    free(t->d);
    free(t->done);
    memset(t, 0, sizeof *t);
}

static frag_dgram *find_or_make(frag_table *t, const ow_ip *ip, double now)
{
    frag_dgram *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < OW_FRAG_MAX_DATAGRAMS; i++) {
        frag_dgram *d = &t->d[i];
        if (d->used && now - d->first_ts > OW_FRAG_TIMEOUT) {
            t->dropped++;
            release(d);
        }
        if (!d->used) {
            if (!free_slot)
                free_slot = d;
            continue;
        }
        if (d->id == ip->frag_id && ow_addr_eq(&d->src, &ip->src) &&
            ow_addr_eq(&d->dst, &ip->dst) && (ip->src.family == 6 || d->proto == ip->proto))
            return d;
        if (!oldest || d->first_ts < oldest->first_ts)
            oldest = d;
    }
    frag_dgram *d = free_slot;
    if (!d) {
        t->dropped++;
        release(oldest);
        d = oldest;
    }
    d->buf = malloc(OW_FRAG_MAX_PAYLOAD);
    if (!d->buf)
        return NULL;
    d->used = true;
    d->src = ip->src;
    d->dst = ip->dst;
    d->id = ip->frag_id;
    d->proto = ip->proto;
    d->first_ts = now;
    d->captured_prefix_end = OW_FRAG_MAX_PAYLOAD;
    return d;
}

/* False when the piece overlaps one already held with different bytes (the datagram is
 * then dropped); an exact duplicate is accepted and ignored (*dup). */
static bool check_overlap(const frag_dgram *d, uint32_t start, uint32_t end, const uint8_t *data,
                          uint32_t caplen, bool *dup)
{
    *dup = false;
    for (int i = 0; i < d->npieces; i++) {
        const frag_piece *p = &d->pieces[i];
        if (end <= p->start || start >= p->end)
            continue;
        if (p->start == start && p->end == end &&
            memcmp(d->buf + start, data, caplen < end - start ? caplen : end - start) == 0) {
            *dup = true;
            return true;
        }
        return false;
    }
    return true;
}

static bool add_piece(frag_dgram *d, const ow_ip *ip)
{
    uint32_t start = ip->frag_offset, wire = ip->l4_wirelen;
    if (wire == 0 || wire > OW_FRAG_MAX_PAYLOAD || start > OW_FRAG_MAX_PAYLOAD - wire ||
        (ip->frag_more && wire % 8))
        return false;
    uint32_t end = start + wire;
    if (!ip->frag_more) {
        if (d->total && d->total != end)
            return false;
        for (int i = 0; i < d->npieces; i++)
            if (d->pieces[i].end > end)
                return false;
        d->total = end;
    }
    if (d->total && end > d->total)
        return false;
    bool dup;
    uint32_t caplen = ip->l4_caplen < wire ? ip->l4_caplen : wire;
    if (!check_overlap(d, start, end, ip->l4, caplen, &dup))
        return false;
    if (dup)
        return true;
    if (d->npieces == OW_FRAG_MAX_PIECES)
        return false;
    memcpy(d->buf + start, ip->l4, caplen);
    if (caplen < wire) { /* the capture cut this fragment short */
        memset(d->buf + start + caplen, 0, wire - caplen);
        if (start + caplen < d->captured_prefix_end)
            d->captured_prefix_end = start + caplen;
    }
    d->pieces[d->npieces++] = (frag_piece){start, end};
    d->received += wire;
    if (start == 0) {
        d->have_first = true;
        d->proto = ip->proto;
    }
    return true;
}

enum frag_result frag_add(frag_table *t, const ow_ip *ip, double now, ow_ip *out)
{
    frag_dgram *d = find_or_make(t, ip, now);
    if (!d)
        return FRAG_DROPPED;
    if (!add_piece(d, ip)) {
        t->dropped++;
        release(d);
        return FRAG_DROPPED;
    }
    if (!d->total || d->received != d->total || !d->have_first)
        return FRAG_HELD;
    free(t->done); /* the whole datagram's buffer becomes the output */
    t->done = d->buf;
    d->buf = NULL;
    memset(out, 0, sizeof *out);
    out->src = d->src;
    out->dst = d->dst;
    out->proto = d->proto;
    out->l4 = t->done;
    out->l4_wirelen = d->total;
    out->l4_caplen = d->captured_prefix_end < d->total ? d->captured_prefix_end : d->total;
    release(d);
    return FRAG_DONE;
}
