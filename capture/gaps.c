/* gaps: capture gaps in a reassembled stream. When the receiver acknowledges bytes the
 * capture never saw (kernel drops, snap length), libnids would wait for them forever; when
 * its out-of-order queue passes 64 KB it drops the whole queue. So the hole is filled with a
 * zero-filled segment fed to libnids: the callback (nids_glue.c) cuts exactly those bytes out
 * of the stream and tells the sink on_gap instead, before the bytes after the hole. A hole
 * larger than GAP_FILL_MAX is not filled: libnids follows the stream again past it. The data
 * fed beyond libnids' in-order point is tracked (a few ranges per direction) so only the true
 * holes are filled and queued data is still delivered. */
#include "capture/nids_priv.h"

#define NIDS_QUEUE_LIMIT  65535      /* libnids prunes an out-of-order queue above this */
#define NIDS_SKB_OVERHEAD 184        /* libnids' accounting per queued packet (16 + sk_buff 168) */
#define GAP_FILL_STEPS    64         /* holes filled per acknowledgement at most */
#define GAP_FILL_MAX      (1u << 20) /* a larger hole restarts libnids past it, unfilled */
#define IP_TCP_HLEN       40

/* ---- out-of-order data libnids holds, as capture/ fed it ---- */

static void prune_seen(flow_reasm *r, uint32_t exp)
{
    int k = 0;
    for (int i = 0; i < r->nseen; i++)
        if (ow_seq_lt(exp, r->seen[i].end))
            r->seen[k++] = r->seen[i];
    r->nseen = (uint8_t)k;
}

static void merge_closest(flow_reasm *r)
{
    int best = -1, other = -1;
    uint32_t best_gap = UINT32_MAX;
    for (int i = 0; i < r->nseen; i++)
        for (int j = 0; j < r->nseen; j++) {
            if (i == j || ow_seq_lt(r->seen[j].start, r->seen[i].end))
                continue;
            uint32_t gap = r->seen[j].start - r->seen[i].end;
            if (gap < best_gap) {
                best_gap = gap;
                best = i;
                other = j;
            }
        }
    if (best < 0)
        best = 0, other = 1;
    r->seen[best].end = ow_seq_max(r->seen[best].end, r->seen[other].end);
    r->seen[other] = r->seen[--r->nseen];
}

void gaps_note_seen(flow_reasm *r, uint32_t start, uint32_t end)
{
    for (int i = 0; i < r->nseen; i++) {
        seq_range *g = &r->seen[i];
        if (ow_seq_le(start, g->end) && ow_seq_le(g->start, end)) { /* overlaps or touches */
            if (ow_seq_lt(start, g->start))
                g->start = start;
            g->end = ow_seq_max(g->end, end);
            return;
        }
    }
    if (r->nseen == OW_SEEN_RANGES)
        merge_closest(r);
    r->seen[r->nseen++] = (seq_range){start, end};
}

/* ---- gap filling ---- */

/* A hole too large to fill: libnids forgets the stream and follows it again from the far side
 * of the hole (a synthesized handshake at the current sequence numbers). The sink is told
 * about the hole here; bytes it left unconsumed in either direction are dropped with it. */
static void resync(capture *c, ow_flow_int *f, int dir, uint32_t from, uint32_t to)
{
    struct tcp_stream *s = f->nids;
    uint32_t other = nids_expected_seq(s, !dir);
    flow_reasm *r = &f->rs[dir];
    r->gap = (seq_range){from, to};
    r->gap_announced = false;
    gaps_announce(c, f, dir);
    s->user = NULL;
    f->nids = NULL;
    nids_free_tcp_stream(s);
    f->rs[0].nseen = f->rs[1].nseen = 0;
    uint32_t client_next = dir == OW_DIR_C2S ? to : other;
    uint32_t server_next = dir == OW_DIR_C2S ? other : to;
    nids_synth_handshake(c, f, client_next - 1, server_next - 1);
}

static void fill_gap(capture *c, ow_flow_int *f, int dir, uint32_t start, uint32_t len)
{
    flow_reasm *r = &f->rs[dir];
    r->gap = (seq_range){start, start + len};
    r->gap_active = true;
    r->gap_announced = false;
    uint32_t ack = nids_sender_half(f->nids, dir)->ack_seq;
    nids_feed(c, f, dir, start, ack, OW_TH_ACK, NULL, len);
    r->gap_active = false; /* cut synchronously by the callback, or refused by libnids */
}

/* Fills the holes in direction dir up to sequence number limit, leaving libnids' queued
 * out-of-order data in place so it is delivered. */
void gaps_fill_until(capture *c, ow_flow_int *f, int dir, uint32_t limit)
{
    flow_reasm *r = &f->rs[dir];
    for (int step = 0; step < GAP_FILL_STEPS && f->nids; step++) {
        if (nids_sender_finished(f->nids, dir))
            return;
        uint32_t exp = nids_expected_seq(f->nids, dir);
        if (!ow_seq_lt(exp, limit))
            return;
        prune_seen(r, exp);
        uint32_t end = limit;
        for (int i = 0; i < r->nseen; i++)
            if (ow_seq_lt(r->seen[i].start, end))
                end = r->seen[i].start;
        if (!ow_seq_lt(exp, end)) { /* libnids refused what was fed there: forget it */
            r->nseen = 0;
            end = limit;
        }
        if (end - exp > GAP_FILL_MAX) {
            resync(c, f, dir, exp, end);
            return;
        }
        fill_gap(c, f, dir, exp, end - exp);
    }
}

/* Before queueing out-of-order data that would push libnids' queue past its limit (libnids
 * would then drop the whole queue), fill the holes before it. */
void gaps_make_room(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    uint32_t exp = nids_expected_seq(f->nids, dir);
    if (!ow_seq_lt(exp, s->seq))
        return;
    uint32_t ip_len = IP_TCP_HLEN + s->payload_caplen;
    uint32_t truesize = ((ip_len + 16 + 15) & ~15u) + NIDS_SKB_OVERHEAD;
    if ((uint32_t)nids_receiver_half(f->nids, dir)->rmem_alloc + truesize <= NIDS_QUEUE_LIMIT)
        return;
    gaps_fill_until(c, f, dir, s->seq);
}

void gaps_flush(capture *c, ow_flow_int *f)
{
    for (int dir = 0; dir < 2 && f->nids; dir++) {
        flow_reasm *r = &f->rs[dir];
        if (r->nseen == 0)
            continue;
        uint32_t limit = r->seen[0].end;
        for (int i = 1; i < r->nseen; i++)
            limit = ow_seq_max(limit, r->seen[i].end);
        gaps_fill_until(c, f, dir, limit);
        r->nseen = 0;
    }
}

void gaps_announce(capture *c, ow_flow_int *f, int dir)
{
    flow_reasm *r = &f->rs[dir];
    if (r->gap_announced)
        return;
    r->gap_announced = true;
    uint32_t len = r->gap.end - r->gap.start;
    bool continues = r->last_gap_valid && r->last_gap_end == r->gap.start;
    r->last_gap_valid = true;
    r->last_gap_end = r->gap.end;
    if (!continues) { /* one hole filled in two steps is one gap */
        f->pub.gaps[dir]++;
        c->stats.gaps++;
    }
    f->pub.gap_bytes[dir] += len;
    c->stats.gap_bytes += len;
    nids_sink_gap(c, f, dir, len);
}
