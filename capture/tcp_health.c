/* tcp_health: measures what the packets say about one connection's transport (tcp_health.h)
 * from every segment, retransmissions included, before reassembly. This is what tells a
 * path-MTU black hole (full-size segments retransmitted with back-off and never acknowledged
 * while small ones pass) from a healthy or a slowly recovering transfer. State per direction
 * is bounded: see tcp_track.h. */
#include "capture/tcp_track.h"
#include <string.h>

/* Small steps of every packet's path, kept inline in it (the compiler would call them). */
#define PER_PACKET static inline __attribute__((always_inline))

static uint32_t u32max(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

void tcp_track_init(tcp_track *t, tcp_health *h)
{
    memset(t, 0, sizeof *t);
    memset(h, 0, sizeof *h);
    h->dir[0].wscale = h->dir[1].wscale = -1;
    t->d[0].peer_wscale = t->d[1].peer_wscale = -1;
}

/* Data end as far as acknowledgement counts it: a FIN's sequence number is not data. */
static uint32_t data_clamp(const track_dir *t, uint32_t seq)
{
    return t->fin_sent && ow_seq_lt(t->fin_seq, seq) ? t->fin_seq : seq;
}

/* Bytes sent and not yet acknowledged, kept in track_dir.outstanding and (as the health's
 * unacked_bytes, which readers see after each packet) in dh: note_outstanding runs after every
 * change of seq_known, snd_una, snd_max, fin_sent or fin_seq. */
PER_PACKET void note_outstanding(track_dir *t, tcp_dir_health *dh)
{
    uint32_t n = 0;
    if (t->seq_known) {
        uint32_t una = data_clamp(t, t->snd_una), max = data_clamp(t, t->snd_max);
        n = ow_seq_lt(una, max) ? max - una : 0;
    }
    t->outstanding = n;
    dh->unacked_bytes = n;
}

static uint32_t outstanding(const track_dir *t)
{
    return t->outstanding;
}

static void update_stall(const track_dir *t, tcp_dir_health *dh, double ts)
{
    if (outstanding(t) == 0 || t->stall_ref_ts <= 0)
        return;
    double stall = ts - t->stall_ref_ts;
    if (stall > dh->longest_stall) {
        dh->longest_stall = stall;
        dh->stall_start_ts = t->stall_ref_ts;
    }
}

static void note_options(tcp_dir_health *dh, const ow_tcp_seg *s)
{
    if (s->mss)
        dh->mss = s->mss;
    if (s->wscale >= 0)
        dh->wscale = s->wscale;
    if (s->sack_permitted)
        dh->sack_permitted = true;
}

/* The bytes the peer lets this direction have in flight, kept in track_dir.peer_window: runs
 * after every change of peer_win, peer_win_known or peer_wscale. Once judged (both known), a
 * window stays judged: neither goes back to unknown. */
PER_PACKET void note_peer_window(track_dir *td)
{
    bool judged = td->peer_win_known && td->peer_wscale >= 0;
    td->peer_window = judged ? (uint64_t)td->peer_win << td->peer_wscale : 0;
}

/* The window the receiver of direction d advertises is scaled by its own shift, which only
 * applies when both SYNs announced window scaling (RFC 7323). The options change only here, at
 * a SYN, so each direction keeps the shift its peer's windows take (track_dir.peer_wscale). */
static void note_window_scaling(tcp_track *t, const tcp_health *h)
{
    bool both = h->dir[0].wscale >= 0 && h->dir[1].wscale >= 0;
    for (int d = 0; d < 2; d++) {
        t->d[d].peer_wscale = both ? h->dir[!d].wscale : -1;
        note_peer_window(&t->d[d]);
    }
}

static void handshake(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    track_dir *td = &t->d[dir];
    tcp_dir_health *dh = &h->dir[dir];
    note_options(dh, s);
    note_window_scaling(t, h);
    if (!(s->flags & OW_TH_ACK)) {
        if (dir == OW_DIR_C2S) {
            h->syn_count++;
            if (h->syn_ts == 0)
                h->syn_ts = ts;
            t->last_syn_ts = ts;
        }
    } else if (!h->synack_seen) {
        h->synack_seen = true;
        h->synack_ts = ts;
    }
    /* The SYN takes one sequence number; data starts after it. */
    td->seq_known = true;
    td->snd_una = td->snd_max = s->seq + 1;
    note_outstanding(td, dh);
}

static void note_handshake_ack(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    if (dir != OW_DIR_C2S || !h->synack_seen || h->ack_ts != 0 || (s->flags & OW_TH_SYN))
        return;
    h->ack_ts = ts;
    if (t->last_syn_ts > 0 && h->synack_ts >= t->last_syn_ts && ts >= h->synack_ts)
        h->rtt = (h->synack_ts - t->last_syn_ts) + (ts - h->synack_ts);
}

static uint32_t seg_end(const track_seg *g)
{
    return g->seq + g->len;
}

/* What an acknowledged segment says, as it leaves the list. */
PER_PACKET void record_acked(tcp_dir_health *dh, const track_seg *g)
{
    bool once = g->sends == 1 && !g->retrans && !g->superseded;
    if (g->smaller_resend)
        dh->recovered_smaller = true;
    if (once)
        dh->max_seg_acked = u32max(dh->max_seg_acked, g->len);
    if (dh->recovered_smaller && (once || g->smaller_resend))
        dh->seg_after_recovery = u32max(dh->seg_after_recovery, g->len);
}

/* With the list in order (see track_dir.segs_unordered), the segments ack covers are a prefix
 * of it unless ack lies about 2^31 away, where the wrap-safe comparison can turn around inside
 * the list: then the whole list is looked at. */
static bool acked_are_prefix(const track_dir *td, uint32_t ack)
{
    if (td->segs_unordered)
        return false;
    uint32_t first = seg_end(&td->seg[0]);
    uint32_t span = seg_end(&td->seg[td->nseg - 1]) - first; /* < OW_TRACK_SPAN_MAX */
    uint32_t u = first - ack;
    return !(u < (1u << 31) && u + span >= (1u << 31));
}

/* Segments whose end the peer acknowledged leave the list (in list order); what they say is
 * recorded. */
static void segments_acked(track_dir *td, tcp_dir_health *dh, uint32_t ack)
{
    if (td->nseg == 0)
        return;
    int k = 0;
    if (acked_are_prefix(td, ack)) {
        while (k < td->nseg && ow_seq_le(seg_end(&td->seg[k]), ack))
            record_acked(dh, &td->seg[k++]);
        td->nseg = (uint8_t)(td->nseg - k);
        if (k > 0 && td->nseg > 0) /* (most ACKs cover the whole list) */
            memmove(&td->seg[0], &td->seg[k], (size_t)td->nseg * sizeof td->seg[0]);
    } else {
        for (int i = 0; i < td->nseg; i++) {
            if (ow_seq_le(seg_end(&td->seg[i]), ack))
                record_acked(dh, &td->seg[i]);
            else
                td->seg[k++] = td->seg[i];
        }
        td->nseg = (uint8_t)k;
    }
    if (td->nseg == 0)
        td->segs_unordered = false;
}

/* window_full counts the sender reaching the peer's window; a window not judged (peer_window
 * 0) never was full, so window_full_now stays false there as it always was. */
static inline void window_state(track_dir *td, tcp_dir_health *dh)
{
    uint64_t window = td->peer_window;
    uint32_t inflight = outstanding(td);
    bool full = window > 0 && inflight >= window;
    if (full && !td->window_full_now)
        dh->window_full++;
    td->window_full_now = full;
}

/* The peer (sending direction !dir) acknowledged ack for the data of direction dir. */
static void receive_ack(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    track_dir *td = &t->d[dir];
    tcp_dir_health *dh = &h->dir[dir];
    dh->sack_blocks += s->n_sack;
    if (!(s->flags & OW_TH_RST)) {
        bool zero = s->win == 0;
        if (zero && !td->zero_window_now)
            dh->zero_windows++;
        td->zero_window_now = zero;
    }
    if (!td->seq_known) { /* nothing seen from this direction yet (mid-stream pick-up) */
        td->seq_known = true;
        td->snd_una = td->snd_max = s->ack;
        note_outstanding(td, dh);
    }
    bool pure = s->payload_wirelen == 0 && !(s->flags & (OW_TH_SYN | OW_TH_FIN | OW_TH_RST));
    if (ow_seq_lt(td->snd_una, s->ack)) {
        if (ow_seq_lt(td->snd_max, s->ack)) /* acknowledges bytes the capture never saw */
            td->snd_max = s->ack;
        uint32_t from = data_clamp(td, td->snd_una), to = data_clamp(td, s->ack);
        if (ow_seq_lt(from, to))
            dh->acked_bytes += to - from;
        td->snd_una = s->ack;
        note_outstanding(td, dh);
        segments_acked(td, dh, s->ack);
        update_stall(td, dh, ts);
        td->stall_ref_ts = outstanding(td) ? ts : 0;
        td->last_progress_ts = ts;
    } else if (pure && s->ack == td->snd_una && td->peer_win_known && s->win == td->peer_win &&
               outstanding(td) > 0) {
        dh->dup_acks++;
    }
    td->last_ack_rx_ts = ts;
    if (!(s->flags & OW_TH_SYN)) {
        td->peer_win = s->win;
        td->peer_win_known = true;
        note_peer_window(td);
    }
    window_state(td, dh);
}

static int find_seg(const track_dir *td, uint32_t seq, uint32_t len)
{
    for (int i = 0; i < td->nseg; i++)
        if (td->seg[i].seq == seq && td->seg[i].len == len)
            return i;
    return -1;
}

/* A retransmission of part of a range earlier sent in a larger, still unacknowledged
 * segment: that larger one was lost (it no longer counts as acknowledged once ACKs cover its
 * range). Returns true when the sender is trying smaller segments after a timeout or after
 * retransmitting the larger one. */
static bool supersede_larger(track_dir *td, uint32_t seq, uint32_t len, bool timed_out)
{
    bool smaller = false;
    for (int i = 0; i < td->nseg; i++) {
        track_seg *g = &td->seg[i];
        if (g->len <= len || !ow_seq_lt(seq, g->seq + g->len) || !ow_seq_lt(g->seq, seq + len))
            continue;
        g->superseded = true;
        smaller |= g->sends >= 2 || timed_out;
    }
    return smaller;
}

/* Keeps track_dir.segs_unordered true once the list's ends stop rising (within
 * OW_TRACK_SPAN_MAX of the first one). */
static void note_order(track_dir *td, uint32_t end)
{
    if (td->nseg == 0) {
        td->segs_unordered = false;
        return;
    }
    if (td->segs_unordered)
        return;
    uint32_t first = seg_end(&td->seg[0]);
    uint32_t d = end - first, last = seg_end(&td->seg[td->nseg - 1]) - first;
    if (d < last || d >= OW_TRACK_SPAN_MAX)
        td->segs_unordered = true;
}

static inline void add_seg(track_dir *td, uint32_t seq, uint32_t len, bool retrans, bool smaller,
                           double ts)
{
    /* Full: keep the oldest (they decide retransmissions and losses) and replace the newest. */
    if (td->nseg == OW_TRACK_SEGS)
        td->nseg--;
    note_order(td, seq + len);
    td->seg[td->nseg++] = (track_seg){.seq = seq,
                                      .len = len,
                                      .sends = retrans ? 2 : 1,
                                      .retrans = retrans,
                                      .smaller_resend = smaller,
                                      .last_ts = ts};
}

static void note_timeout(track_dir *td, tcp_dir_health *dh, uint32_t seq, uint32_t len, double ts)
{
    bool oldest = ow_seq_le(seq, td->snd_una) && ow_seq_lt(td->snd_una, seq + len);
    double quiet_since =
        td->last_data_ts > td->last_ack_rx_ts ? td->last_data_ts : td->last_ack_rx_ts;
    double silence = ts - quiet_since;
    if (!oldest || quiet_since <= 0 || silence < OW_RTO_MIN_SILENCE)
        return;
    if (dh->rto_count < OW_RTO_SERIES_MAX)
        dh->rto_series[dh->rto_count] = silence;
    dh->rto_count++;
    td->last_rto_ts = ts;
}

static void send_data(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    track_dir *td = &t->d[dir];
    tcp_dir_health *dh = &h->dir[dir];
    uint32_t len = s->payload_wirelen;
    dh->segments++;
    dh->bytes += len;
    dh->max_seg = u32max(dh->max_seg, len);
    if (!td->seq_known) {
        td->seq_known = true;
        td->snd_una = td->snd_max = s->seq;
        note_outstanding(td, dh);
    }
    bool retrans = ow_seq_lt(s->seq, td->snd_max);
    if (retrans) {
        dh->retrans_segments++;
        dh->retrans_bytes += len;
        if (len > dh->max_seg_acked)
            dh->lost_retrans++;
        note_timeout(td, dh, s->seq, len, ts);
        int i = find_seg(td, s->seq, len);
        if (i >= 0) {
            track_seg *g = &td->seg[i];
            if (g->sends < UINT16_MAX)
                g->sends++;
            g->last_ts = ts;
            if (g->sends >= 3) /* sent, then retransmitted twice, never acknowledged */
                dh->max_seg_lost = u32max(dh->max_seg_lost, g->len);
        } else if (ow_seq_lt(td->snd_una, s->seq + len)) {
            bool smaller = supersede_larger(td, s->seq, len, dh->rto_count > 0);
            add_seg(td, s->seq, len, true, smaller, ts);
        }
    } else {
        add_seg(td, s->seq, len, false, false, ts);
    }
    if (outstanding(td) == 0)
        td->stall_ref_ts = ts;
    if (ow_seq_lt(td->snd_max, s->seq + len)) {
        td->snd_max = s->seq + len;
        note_outstanding(td, dh);
    }
    td->last_data_ts = ts;
    dh->max_in_flight = u32max(dh->max_in_flight, outstanding(td));
    window_state(td, dh);
}

static void endings(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    tcp_dir_health *dh = &h->dir[dir];
    if ((s->flags & OW_TH_FIN) && !dh->fin) {
        dh->fin = true;
        dh->fin_ts = ts;
        t->d[dir].fin_sent = true;
        t->d[dir].fin_seq = s->seq + s->payload_wirelen;
        note_outstanding(&t->d[dir], dh);
    }
    if ((s->flags & OW_TH_RST) && !dh->rst) {
        dh->rst = true;
        dh->rst_ts = ts;
    }
}

/* The ongoing stalls as of ts (unacked_bytes is kept by note_outstanding). */
static inline void stalls_so_far(tcp_track *t, tcp_health *h, double ts)
{
    for (int d = 0; d < 2; d++)
        update_stall(&t->d[d], &h->dir[d], ts);
}

void tcp_track_finish(tcp_track *t, tcp_health *h, double ts)
{
    stalls_so_far(t, h, ts);
}

void tcp_track_segment(tcp_track *t, tcp_health *h, int dir, const ow_tcp_seg *s, double ts)
{
    if (h->last_ts > 0 && ts - h->last_ts > h->max_idle)
        h->max_idle = ts - h->last_ts;
    if (ts > h->last_ts)
        h->last_ts = ts;
    if (s->flags & OW_TH_SYN)
        handshake(t, h, dir, s, ts);
    if (s->flags & OW_TH_ACK) {
        note_handshake_ack(t, h, dir, s, ts);
        receive_ack(t, h, !dir, s, ts);
    }
    if (s->payload_wirelen > 0 && !(s->flags & OW_TH_SYN))
        send_data(t, h, dir, s, ts);
    endings(t, h, dir, s, ts);
    stalls_so_far(t, h, ts);
}
