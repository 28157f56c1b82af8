/* nids_glue: TCP reassembly through libnids, fed packet by packet from capture/'s own loop.
 *
 * Every flow is presented to libnids under a stand-in IPv4 address pair taken from reserved
 * space (240.0.0.0/4), numbered by the flow's slot: client 240.0.0.0 + 2*slot, server +1.
 * IPv6 flows thereby go through libnids (which knows only IPv4), no stand-in can collide with
 * another flow, and the callback maps a stream back to its flow (the sink only ever sees the
 * real addresses). Each packet is rebuilt as a clean IPv4 packet for libnids: valid header
 * checksum, no IP options, TCP options only on SYNs (window scale 14, so libnids' window check
 * never drops data), window 65535, no URG (urgent bytes would vanish from the stream), TCP
 * checksum not checked. Payloads larger than an IPv4 packet holds are split.
 *
 * What libnids cannot do by itself, done here:
 * - mid-stream pick-up: a handshake (SYN, SYN-ACK, ACK) is synthesized from the sequence
 *   numbers of the first packets so libnids follows a connection whose SYN was never seen;
 * - capture gaps: when the receiver acknowledges bytes the capture never saw, or libnids'
 *   out-of-order queue would overflow (it drops the whole queue past 64 KB), the hole is
 *   filled with a zero-filled segment; the callback cuts those bytes out of the stream and
 *   tells the sink on_gap instead;
 * - bounded buffering: a sink that leaves more than max_stream_buffer bytes unconsumed loses
 *   them as a gap (counted in buffer_overflows). */
#include "capture/capture_priv.h"
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <nids.h>
#include <stdlib.h>
#include <string.h>

#define STANDIN_BASE          0xF0000000u /* 240.0.0.0/4 */
#define IP_HLEN               20
#define TCP_HLEN              20
#define SYN_OPTS_LEN          4 /* window scale 14 + end of options */
#define NIDS_BUF_SIZE         65536
#define NIDS_MAX_PAYLOAD      (65535u - IP_HLEN - TCP_HLEN - SYN_OPTS_LEN)
#define NIDS_QUEUE_LIMIT      65535 /* libnids prunes an out-of-order queue above this */
#define NIDS_SKB_OVERHEAD     184   /* libnids' accounting per queued packet (16 + sk_buff 168) */
#define GAP_FILL_STEPS        64    /* holes filled per acknowledgement at most */
#define GAP_FILL_MAX          (1u << 20) /* a larger hole restarts libnids past it, unfilled */
#define NIDS_WARN_LOG_MAX     5
#define LIBNIDS_FIN_SENT      120 /* libnids' half_stream state once the FIN was delivered */
#define LIBNIDS_FIN_CONFIRMED 121

static capture *g_cap; /* libnids is process-global: one capture at a time */

static uint32_t standin(const ow_flow_int *f, int client_side)
{
    return STANDIN_BASE + 2 * f->slot + (client_side ? 0 : 1);
}

static void standin_tuple(const ow_flow_int *f, struct tuple4 *t)
{
    memset(t, 0, sizeof *t);
    t->saddr = htonl(standin(f, 1));
    t->daddr = htonl(standin(f, 0));
    t->source = f->pub.client_port;
    t->dest = f->pub.server_port;
}

static ow_flow_int *flow_of_addr(capture *c, uint32_t saddr_net, uint16_t sport, uint16_t dport)
{
    uint32_t a = ntohl(saddr_net);
    if ((a & 0xF0000000u) != STANDIN_BASE) return NULL;
    uint32_t off = a - STANDIN_BASE;
    ow_flow_int *f = ft_by_slot(&c->flows, off / 2);
    if (!f) return NULL;
    bool client = (off & 1) == 0;
    uint16_t own = client ? f->pub.client_port : f->pub.server_port;
    uint16_t peer = client ? f->pub.server_port : f->pub.client_port;
    return own == sport && peer == dport ? f : NULL;
}

static ow_flow_int *flow_of_stream(capture *c, struct tcp_stream *s)
{
    if (s->user) return s->user;
    return flow_of_addr(c, s->addr.saddr, s->addr.source, s->addr.dest);
}

/* ---- building packets for libnids ---- */

static uint16_t ip_checksum(const uint8_t *h, int len)
{
    uint32_t sum = 0;
    for (int i = 0; i < len; i += 2)
        sum += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One segment from direction dir; payload NULL means zero bytes (a gap filler). */
static void feed_one(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                     const uint8_t *payload, uint32_t len)
{
    uint8_t *b = c->nids_buf;
    bool syn = flags & OW_TH_SYN;
    uint32_t tcp_hlen = TCP_HLEN + (syn ? SYN_OPTS_LEN : 0);
    uint32_t total = IP_HLEN + tcp_hlen + len;
    memset(b, 0, IP_HLEN + tcp_hlen);
    b[0] = 0x45;
    ow_put16(b + 2, (uint16_t)total);
    ow_put16(b + 6, 0x4000); /* DF, never a fragment */
    b[8] = 64;
    b[9] = 6;
    bool from_client = dir == OW_DIR_C2S;
    ow_put32(b + 12, standin(f, from_client));
    ow_put32(b + 16, standin(f, !from_client));
    ow_put16(b + 10, ip_checksum(b, IP_HLEN));
    uint8_t *t = b + IP_HLEN;
    ow_put16(t, from_client ? f->pub.client_port : f->pub.server_port);
    ow_put16(t + 2, from_client ? f->pub.server_port : f->pub.client_port);
    ow_put32(t + 4, seq);
    ow_put32(t + 8, ack);
    t[12] = (uint8_t)((tcp_hlen / 4) << 4);
    t[13] = flags & (OW_TH_FIN | OW_TH_SYN | OW_TH_RST | OW_TH_PSH | OW_TH_ACK);
    ow_put16(t + 14, 0xFFFF);
    if (syn) {
        t[20] = 3; /* window scale */
        t[21] = 3;
        t[22] = 14;
        t[23] = 0;
    }
    if (payload)
        memcpy(t + tcp_hlen, payload, len);
    else
        memset(t + tcp_hlen, 0, len);
    struct pcap_pkthdr h = {.ts = c->pkt_tv, .caplen = total, .len = total};
    nids_pcap_handler(NULL, &h, b);
}

/* A segment of any size: split so each piece fits an IPv4 packet; FIN goes on the last. */
static void feed(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                 const uint8_t *payload, uint32_t len)
{
    uint32_t off = 0;
    do {
        uint32_t n = len - off > NIDS_MAX_PAYLOAD ? NIDS_MAX_PAYLOAD : len - off;
        bool last = off + n == len;
        uint8_t fl = last ? flags : (uint8_t)(flags & ~(OW_TH_FIN | OW_TH_PSH));
        feed_one(c, f, dir, seq + off, ack, fl, payload ? payload + off : NULL, n);
        off += n;
    } while (off < len);
}

static void synth_handshake(capture *c, ow_flow_int *f, uint32_t client_isn, uint32_t server_isn)
{
    feed_one(c, f, OW_DIR_C2S, client_isn, 0, OW_TH_SYN, NULL, 0);
    feed_one(c, f, OW_DIR_S2C, server_isn, client_isn + 1, OW_TH_SYN | OW_TH_ACK, NULL, 0);
    feed_one(c, f, OW_DIR_C2S, client_isn + 1, server_isn + 1, OW_TH_ACK, NULL, 0);
}

/* ---- libnids' view of a direction ---- */

static struct half_stream *sender_half(struct tcp_stream *s, int dir)
{
    return dir == OW_DIR_C2S ? &s->client : &s->server;
}

/* libnids' "client" half holds what the client receives, i.e. server->client data. */
static struct half_stream *receiver_half(struct tcp_stream *s, int dir)
{
    return dir == OW_DIR_C2S ? &s->server : &s->client;
}

/* The next sequence number libnids expects in direction dir (URG is never passed on). */
static uint32_t expected_seq(struct tcp_stream *s, int dir)
{
    return sender_half(s, dir)->first_data_seq + (uint32_t)receiver_half(s, dir)->count +
           (uint32_t)receiver_half(s, dir)->urg_count;
}

static bool sender_finished(struct tcp_stream *s, int dir)
{
    int st = sender_half(s, dir)->state;
    return st == LIBNIDS_FIN_SENT || st == LIBNIDS_FIN_CONFIRMED;
}

/* ---- out-of-order data libnids holds, as capture/ fed it ---- */

static void prune_seen(flow_reasm *r, uint32_t exp)
{
    int k = 0;
    for (int i = 0; i < r->nseen; i++)
        if (ow_seq_lt(exp, r->seen[i].end)) r->seen[k++] = r->seen[i];
    r->nseen = (uint8_t)k;
}

static void merge_closest(flow_reasm *r)
{
    int best = -1, other = -1;
    uint32_t best_gap = UINT32_MAX;
    for (int i = 0; i < r->nseen; i++)
        for (int j = 0; j < r->nseen; j++) {
            if (i == j || ow_seq_lt(r->seen[j].start, r->seen[i].end)) continue;
            uint32_t gap = r->seen[j].start - r->seen[i].end;
            if (gap < best_gap) {
                best_gap = gap;
                best = i;
                other = j;
            }
        }
    if (best < 0) best = 0, other = 1;
    r->seen[best].end = ow_seq_max(r->seen[best].end, r->seen[other].end);
    r->seen[other] = r->seen[--r->nseen];
}

static void note_seen(flow_reasm *r, uint32_t start, uint32_t end)
{
    for (int i = 0; i < r->nseen; i++) {
        seq_range *g = &r->seen[i];
        if (ow_seq_le(start, g->end) && ow_seq_le(g->start, end)) { /* overlaps or touches */
            if (ow_seq_lt(start, g->start)) g->start = start;
            g->end = ow_seq_max(g->end, end);
            return;
        }
    }
    if (r->nseen == OW_SEEN_RANGES) merge_closest(r);
    r->seen[r->nseen++] = (seq_range){start, end};
}

/* ---- gap filling ---- */

static void announce_gap(capture *c, ow_flow_int *f, int dir);

/* A hole too large to fill: libnids forgets the stream and follows it again from the far side
 * of the hole (a synthesized handshake at the current sequence numbers). The sink is told
 * about the hole here; bytes it left unconsumed in either direction are dropped with it. */
static void resync(capture *c, ow_flow_int *f, int dir, uint32_t from, uint32_t to)
{
    struct tcp_stream *s = f->nids;
    uint32_t other = expected_seq(s, !dir);
    flow_reasm *r = &f->rs[dir];
    r->gap = (seq_range){from, to};
    r->gap_announced = false;
    announce_gap(c, f, dir);
    s->user = NULL;
    f->nids = NULL;
    nids_free_tcp_stream(s);
    f->rs[0].nseen = f->rs[1].nseen = 0;
    uint32_t client_next = dir == OW_DIR_C2S ? to : other;
    uint32_t server_next = dir == OW_DIR_C2S ? other : to;
    synth_handshake(c, f, client_next - 1, server_next - 1);
}

static void fill_gap(capture *c, ow_flow_int *f, int dir, uint32_t start, uint32_t len)
{
    flow_reasm *r = &f->rs[dir];
    r->gap = (seq_range){start, start + len};
    r->gap_active = true;
    r->gap_announced = false;
    uint32_t ack = sender_half(f->nids, dir)->ack_seq;
    feed(c, f, dir, start, ack, OW_TH_ACK, NULL, len);
    r->gap_active = false; /* cut synchronously by the callback, or refused by libnids */
}

/* Fills the holes in direction dir up to sequence number limit, leaving libnids' queued
 * out-of-order data in place so it is delivered. */
static void fill_until(capture *c, ow_flow_int *f, int dir, uint32_t limit)
{
    flow_reasm *r = &f->rs[dir];
    for (int step = 0; step < GAP_FILL_STEPS && f->nids; step++) {
        if (sender_finished(f->nids, dir)) return;
        uint32_t exp = expected_seq(f->nids, dir);
        if (!ow_seq_lt(exp, limit)) return;
        prune_seen(r, exp);
        uint32_t end = limit;
        for (int i = 0; i < r->nseen; i++)
            if (ow_seq_lt(r->seen[i].start, end)) end = r->seen[i].start;
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

/* The peer acknowledged ack for direction dir: bytes up to there exist even if unseen. An
 * acknowledgement beyond all data seen may include a FIN the capture missed, so its last
 * sequence number is only filled once later data shows it was a byte. */
static void fill_acked(capture *c, ow_flow_int *f, int dir, uint32_t ack)
{
    const track_dir *td = &f->track.d[dir];
    const flow_reasm *r = &f->rs[dir];
    uint32_t limit = ack;
    if (td->fin_sent && ow_seq_lt(td->fin_seq, ack))
        limit = td->fin_seq;
    else if (!td->fin_sent && (!r->data_seen || ow_seq_lt(r->data_end, ack)))
        limit = ack - 1;
    fill_until(c, f, dir, limit);
}

/* Before queueing out-of-order data that would push libnids' queue past its limit (libnids
 * would then drop the whole queue), fill the holes before it. */
static void make_room(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    uint32_t exp = expected_seq(f->nids, dir);
    if (!ow_seq_lt(exp, s->seq)) return;
    uint32_t ip_len = IP_HLEN + TCP_HLEN + s->payload_caplen;
    uint32_t truesize = ((ip_len + 16 + 15) & ~15u) + NIDS_SKB_OVERHEAD;
    if ((uint32_t)receiver_half(f->nids, dir)->rmem_alloc + truesize <= NIDS_QUEUE_LIMIT) return;
    fill_until(c, f, dir, s->seq);
}

static void flush_out_of_order(capture *c, ow_flow_int *f)
{
    for (int dir = 0; dir < 2 && f->nids; dir++) {
        flow_reasm *r = &f->rs[dir];
        if (r->nseen == 0) continue;
        uint32_t limit = r->seen[0].end;
        for (int i = 1; i < r->nseen; i++)
            limit = ow_seq_max(limit, r->seen[i].end);
        fill_until(c, f, dir, limit);
        r->nseen = 0;
    }
}

/* ---- feeding a captured segment ---- */

/* Not yet followed by libnids: decides whether the segment goes to libnids as it is, after a
 * synthesized handshake, or not at all. */
static bool prepare_unfollowed(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    struct tuple4 t;
    standin_tuple(f, &t);
    struct tcp_stream *ns = nids_find_tcp_stream(&t);
    if (s->flags & OW_TH_SYN) {
        if (!(s->flags & OW_TH_ACK)) {
            if (dir != OW_DIR_C2S) return false;
            if (ns && ns->client.first_data_seq != s->seq + 1) /* a new connection */
                nids_free_tcp_stream(ns);
            return true;
        }
        if (dir != OW_DIR_S2C) return false;
        if (!ns) { /* SYN missed: give libnids the one the SYN-ACK answers */
            feed_one(c, f, OW_DIR_C2S, s->ack - 1, 0, OW_TH_SYN, NULL, 0);
            f->pub.midstream = true;
        }
        return true;
    }
    if ((s->flags & OW_TH_RST) || !(s->flags & OW_TH_ACK)) return false;
    if (ns && ns->client.state == TCP_SYN_SENT && ns->server.state == TCP_SYN_RECV &&
        dir == OW_DIR_C2S && s->ack == ns->server.seq)
        return true; /* the handshake's last ACK */
    if (ns)          /* a SYN whose SYN-ACK the capture missed */
        nids_free_tcp_stream(ns);
    uint32_t client_next = dir == OW_DIR_C2S ? s->seq : s->ack;
    uint32_t server_next = dir == OW_DIR_C2S ? s->ack : s->seq;
    f->pub.midstream = true;
    synth_handshake(c, f, client_next - 1, server_next - 1);
    return true;
}

void nids_glue_packet(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    if (!f->nids) {
        if (!prepare_unfollowed(c, f, dir, s)) return;
    } else {
        if (s->flags & OW_TH_ACK) fill_acked(c, f, !dir, s->ack);
        if (f->nids && s->payload_caplen > 0) make_room(c, f, dir, s);
        if (f->nids && (s->flags & OW_TH_RST)) flush_out_of_order(c, f);
    }
    uint8_t flags = s->flags;
    if (s->payload_caplen < s->payload_wirelen) /* the FIN lies beyond the captured bytes */
        flags &= (uint8_t)~OW_TH_FIN;
    bool followed = f->nids != NULL;
    uint32_t exp = followed ? expected_seq(f->nids, dir) : 0;
    feed(c, f, dir, s->seq, s->ack, flags, s->payload, s->payload_caplen);
    flow_reasm *r = &f->rs[dir];
    if (followed && f->nids && s->payload_caplen > 0 && ow_seq_lt(exp, s->seq))
        note_seen(r, s->seq, s->seq + s->payload_caplen);
    if (s->payload_wirelen > 0) {
        uint32_t end = s->seq + s->payload_wirelen;
        if (!r->data_seen || ow_seq_lt(r->data_end, end)) r->data_end = end;
        r->data_seen = true;
    }
}

void nids_glue_release(capture *c, ow_flow_int *f)
{
    if (f->nids) flush_out_of_order(c, f);
    if (f->nids) {
        struct tcp_stream *s = f->nids;
        s->user = NULL;
        f->nids = NULL;
        nids_free_tcp_stream(s);
        return;
    }
    struct tuple4 t;
    standin_tuple(f, &t);
    struct tcp_stream *ns = nids_find_tcp_stream(&t);
    if (ns) nids_free_tcp_stream(ns);
}

/* ---- the libnids callback ---- */

static size_t sink_data(capture *c, ow_flow_int *f, int dir, const uint8_t *data, size_t len)
{
    const ow_flow_sink *k = c->sink;
    if (!k || !k->on_data) return len;
    size_t used = k->on_data(k->ctx, &f->pub, dir, data, len, c->pkt_ts);
    return used > len ? len : used;
}

static void sink_gap(capture *c, ow_flow_int *f, int dir, uint64_t len)
{
    const ow_flow_sink *k = c->sink;
    if (k && k->on_gap) k->on_gap(k->ctx, &f->pub, dir, len, c->pkt_ts);
}

static void announce_gap(capture *c, ow_flow_int *f, int dir)
{
    flow_reasm *r = &f->rs[dir];
    if (r->gap_announced) return;
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
    sink_gap(c, f, dir, len);
}

/* Offers the unconsumed bytes of one direction to the sink, cutting out gap filler. */
static void deliver(capture *c, ow_flow_int *f, struct tcp_stream *s, int dir)
{
    struct half_stream *h = receiver_half(s, dir);
    const uint8_t *data = (const uint8_t *)h->data;
    uint32_t n = (uint32_t)(h->count - h->offset);
    uint32_t base = sender_half(s, dir)->first_data_seq + (uint32_t)h->offset;
    flow_reasm *r = &f->rs[dir];
    uint32_t pos = 0;
    while (pos < n) {
        int64_t gs = 0, ge = 0;
        bool gap = false;
        if (r->gap_active) {
            gs = (int32_t)(r->gap.start - base);
            ge = gs + (int64_t)(r->gap.end - r->gap.start);
            gap = ge > pos && gs < n;
        }
        uint32_t stop = gap ? (gs > pos ? (uint32_t)gs : pos) : n;
        if (stop > pos) {
            uint32_t want = stop - pos;
            uint32_t used = (uint32_t)sink_data(c, f, dir, data + pos, want);
            pos += used;
            if (used < want && !gap) break;
            pos = stop; /* bytes left before a gap cannot be continued: dropped */
        }
        if (gap) {
            announce_gap(c, f, dir);
            pos = ge < n ? (uint32_t)ge : n;
        }
    }
    if (n - pos > c->opts.max_stream_buffer) {
        c->stats.buffer_overflows++;
        sink_gap(c, f, dir, n - pos);
        pos = n;
    }
    nids_discard(s, (int)pos);
}

static int close_how(const ow_flow_int *f, int nids_state)
{
    const tcp_health *h = &f->pub.health;
    if (nids_state == NIDS_RESET) return OW_CLOSE_RST;
    if (nids_state == NIDS_CLOSE || (h->dir[0].fin && h->dir[1].fin)) return OW_CLOSE_FIN;
    return OW_CLOSE_TIMEOUT;
}

static void on_nids_tcp(struct tcp_stream *s, void **param)
{
    (void)param;
    capture *c = g_cap;
    ow_flow_int *f = c ? flow_of_stream(c, s) : NULL;
    if (!f) return;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        if (f->state != FLOW_ACTIVE) return; /* not collected: libnids lets the stream go */
        s->client.collect++;
        s->server.collect++;
        s->user = f;
        f->nids = s;
        if (f->pub.midstream && !f->counted_midstream) {
            f->counted_midstream = true;
            c->stats.midstream_recovered++;
        }
        capture_flow_opened(c, f);
        return;
    case NIDS_DATA:
        if (s->server.count_new)
            deliver(c, f, s, OW_DIR_C2S);
        else if (s->client.count_new)
            deliver(c, f, s, OW_DIR_S2C);
        return;
    case NIDS_CLOSE:
    case NIDS_RESET:
    case NIDS_TIMED_OUT:
        s->user = NULL;
        f->nids = NULL;
        capture_flow_closed(c, f, close_how(f, s->nids_state));
        return;
    default:
        return;
    }
}

/* ---- libnids set-up ---- */

static const char *warning_text(int type, int errnum)
{
    static const char *tcp[] = {"undefined",
                                "oversized IP packet",
                                "invalid fragment list",
                                "overlapping fragments",
                                "invalid IP header",
                                "source routed",
                                "too many TCP streams",
                                "invalid TCP header",
                                "out-of-order queue over 64 KB dropped",
                                "invalid TCP flags"};
    if (type == NIDS_WARN_SCAN) return "port scan";
    if (errnum >= 0 && errnum < (int)(sizeof tcp / sizeof tcp[0])) return tcp[errnum];
    return "unknown warning";
}

static void on_nids_warning(int type, int errnum, struct ip *iph, void *data)
{
    capture *c = g_cap;
    if (!c) return;
    c->stats.nids_refused++;
    if (c->nids_warnings_logged >= NIDS_WARN_LOG_MAX) return;
    c->nids_warnings_logged++;
    char a[OW_ADDR_STRLEN] = "?", b[OW_ADDR_STRLEN] = "?";
    unsigned cp = 0, sp = 0;
    if (type == NIDS_WARN_TCP && iph && data) {
        const struct tcphdr *th = data;
        ow_flow_int *f =
            flow_of_addr(c, iph->ip_src.s_addr, ntohs(th->th_sport), ntohs(th->th_dport));
        if (!f) f = flow_of_addr(c, iph->ip_dst.s_addr, ntohs(th->th_dport), ntohs(th->th_sport));
        if (f) {
            ow_addr_str(&f->pub.client, a, sizeof a);
            ow_addr_str(&f->pub.server, b, sizeof b);
            cp = f->pub.client_port;
            sp = f->pub.server_port;
        }
    }
    fprintf(stderr, "orphanwatch: libnids: %s (connection %s:%u -> %s:%u)%s\n",
            warning_text(type, errnum), a, cp, b, sp,
            c->nids_warnings_logged == NIDS_WARN_LOG_MAX ? "; further warnings only counted" : "");
}

static void on_nids_no_mem(char *where)
{
    fprintf(stderr, "orphanwatch: out of memory in libnids (%s)\n", where ? where : "?");
    exit(3);
}

bool nids_glue_init(capture *c, char *err, size_t errlen)
{
    if (g_cap) {
        snprintf(err, errlen, "only one capture can be open at a time (libnids is global)");
        return false;
    }
    c->nids_buf = malloc(NIDS_BUF_SIZE);
    pcap_t *dead = pcap_open_dead(DLT_RAW, 65535);
    if (!c->nids_buf || !dead) {
        if (dead) pcap_close(dead);
        snprintf(err, errlen, "out of memory setting up libnids");
        return false;
    }
    c->nids_pcap = dead;
    /* libnids follows at most 3/4 of its table: size it so it never evicts on its own. */
    nids_params.n_tcp_streams = (c->opts.max_streams + 2) / 3 * 4 + 4;
    nids_params.n_hosts = 64; /* its defragmenter stays idle: capture/ reassembles */
    nids_params.scan_num_hosts = 0;
    nids_params.syslog = on_nids_warning;
    nids_params.no_mem = on_nids_no_mem;
    nids_params.tcp_workarounds = 1;
    nids_params.one_loop_less = 0;
    nids_params.multiproc = 0;
    nids_params.pcap_filter = NULL;
    nids_params.filename = NULL;
    nids_params.device = NULL;
    nids_params.pcap_desc = dead;
    if (!nids_init()) {
        snprintf(err, errlen, "libnids: %s", nids_errbuf);
        nids_params.pcap_desc = NULL;
        return false;
    }
    /* Checksums are never checked: captures on the sending host carry offloaded ones. */
    static struct nids_chksum_ctl no_checksums = {0, 0, NIDS_DONT_CHKSUM, 0};
    nids_register_chksum_ctl(&no_checksums, 1);
    nids_register_tcp(on_nids_tcp);
    g_cap = c;
    return true;
}

void nids_glue_exit(capture *c)
{
    if (g_cap == c) {
        nids_unregister_tcp(on_nids_tcp);
        nids_exit();
        nids_params.pcap_desc = NULL;
        g_cap = NULL;
    }
    if (c->nids_pcap) pcap_close(c->nids_pcap);
    c->nids_pcap = NULL;
    free(c->nids_buf);
    c->nids_buf = NULL;
}
