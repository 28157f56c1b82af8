/* nids_glue: TCP reassembly through libnids, fed packet by packet from capture/'s own loop.
 * Each packet is rebuilt as a clean IPv4 packet under the flow's stand-in addresses
 * (standin.c): valid header checksum, no IP options, TCP options only on SYNs (window scale 14,
 * so libnids' window check never drops data), window 65535, no URG (urgent bytes would vanish
 * from the stream), TCP checksum not checked; payloads larger than an IPv4 packet are split.
 * The headers are written over the captured frame's own, right before its payload, when the
 * frame has room (no copy of the payload); otherwise the packet is built in a buffer.
 * A connection whose SYN (or SYN-ACK) the capture missed gets a synthesized handshake from the
 * sequence numbers of its first packets, so libnids follows it anyway. The callback maps each
 * stream back to its flow and hands the sink every unconsumed byte (nids_discard keeps the
 * rest), cutting out gap filler (gaps.c); a sink leaving more than max_stream_buffer bytes
 * unconsumed loses them as a gap (counted in buffer_overflows). */
#include "capture/nids_priv.h"
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define IP_HLEN           20
#define TCP_HLEN          20
#define SYN_OPTS_LEN      4 /* window scale 14 + end of options */
#define NIDS_BUF_SIZE     65536
#define NIDS_MAX_PAYLOAD  (65535u - IP_HLEN - TCP_HLEN - SYN_OPTS_LEN)
#define NIDS_WARN_LOG_MAX 5

static capture *g_cap; /* libnids is process-global: one capture at a time */

static ow_flow_int *flow_of_stream(capture *c, struct tcp_stream *s)
{
    if (s->user)
        return s->user;
    return standin_flow(c, s->addr.saddr, s->addr.source, s->addr.dest);
}

/* ---- building packets for libnids ---- */

/* The header checksum of the IPv4 header nids_feed_one builds: the one's complement sum of
 * its 16-bit words, of which only the total length and the addresses vary (version/IHL 0x4500,
 * DF 0x4000, TTL 64 and protocol 6; identification and checksum 0). */
static uint16_t ipv4_checksum(uint16_t total, uint32_t src, uint32_t dst)
{
    uint32_t sum = 0x4500u + 0x4000u + 0x4006u + total;
    sum += (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline void put16_be(uint8_t *p, uint16_t v)
{
    v = htons(v);
    memcpy(p, &v, sizeof v);
}

static inline void put32_be(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, sizeof v);
}

/* What every packet's headers start as: the fields nids_feed_one does not set. */
static const uint8_t header_template[IP_HLEN + TCP_HLEN + SYN_OPTS_LEN] = {
    0x45, 0, 0,  0, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0,    0,    0, 0, 0, 0, /* IPv4, DF */
    0,    0, 0,  0, 0, 0, 0,    0, 0,  0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, /* TCP */
    3,    3, 14, 0, /* SYN only: window scale 14, end of options */
};

/* Inlined into both packet builders (in the frame, in nids_buf): they run for every packet
 * libnids is given. */
#define HOT static inline __attribute__((always_inline))

/* Writes the IPv4 and TCP headers of one segment of len payload bytes at b; returns their
 * length (the payload goes right after them). */
HOT uint32_t put_headers(uint8_t *b, const ow_flow_int *f, int dir, uint32_t seq, uint32_t ack,
                         uint8_t flags, uint32_t len)
{
    bool syn = flags & OW_TH_SYN;
    uint32_t tcp_hlen = TCP_HLEN + (syn ? SYN_OPTS_LEN : 0);
    uint32_t total = IP_HLEN + tcp_hlen + len;
    if (syn)
        memcpy(b, header_template, IP_HLEN + TCP_HLEN + SYN_OPTS_LEN);
    else
        memcpy(b, header_template, IP_HLEN + TCP_HLEN);
    bool from_client = dir == OW_DIR_C2S;
    uint32_t src = standin_addr(f, from_client), dst = standin_addr(f, !from_client);
    put16_be(b + 2, (uint16_t)total);
    put16_be(b + 10, ipv4_checksum((uint16_t)total, src, dst));
    put32_be(b + 12, src);
    put32_be(b + 16, dst);
    uint8_t *t = b + IP_HLEN;
    put16_be(t, from_client ? f->pub.client_port : f->pub.server_port);
    put16_be(t + 2, from_client ? f->pub.server_port : f->pub.client_port);
    put32_be(t + 4, seq);
    put32_be(t + 8, ack);
    t[12] = (uint8_t)((tcp_hlen / 4) << 4);
    t[13] = flags & (OW_TH_FIN | OW_TH_SYN | OW_TH_RST | OW_TH_PSH | OW_TH_ACK);
    return IP_HLEN + tcp_hlen;
}

#ifdef OW_NIDS_DIRECT
/* libnids' TCP entry and its timeout check: exported by libnids.so/.a (1.26) but declared only
 * in its private tcp.h. CMakeLists.txt links a probe of both before defining OW_NIDS_DIRECT;
 * test_capture_nids_direct compares this path with nids_pcap_handler's. */
void process_tcp(u_char *data, int skblen);
void tcp_check_timeouts(struct timeval *now);

/* The buffer size libnids' own path accounts for an IP packet (gen_ip_frag_proc in libnids.c):
 * its queue is pruned by these, so they must be the same. */
static int nids_skblen(uint32_t ip_total)
{
    int n = (int)ip_total + 16 + nids_params.dev_addon;
    return ((n + 15) & ~15) + nids_params.sk_buff_size;
}

/* What nids_pcap_handler does with the packets built here, without the steps that cannot
 * change them: the link layer (raw IPv4), the IPv4 header checks (put_headers writes a valid
 * header, no options), IP defragmentation (never a fragment: capture/ reassembles, and an
 * unfragmented packet leaves the defragmenter's state alone) and the protocol switch. That is
 * 5 % of the packet thread (callgrind, 1 GB capture). */
static void nids_ip_direct(struct pcap_pkthdr *h, const uint8_t *pkt, uint32_t total)
{
    if (nids_tcp_timeouts)
        tcp_check_timeouts(&h->ts);
    nids_last_pcap_header = h;
    nids_last_pcap_data = (u_char *)(uintptr_t)pkt;
    process_tcp((u_char *)(uintptr_t)pkt, nids_skblen(total));
}
#endif

HOT void hand_to_nids(capture *c, const uint8_t *pkt, uint32_t total)
{
    /* libnids' closing timeouts must see time move forward: with a clock going back it can
     * register a second timeout for one stream, which then fires on a freed stream. */
    if (timercmp(&c->pkt_tv, &c->nids_tv, >))
        c->nids_tv = c->pkt_tv;
    struct pcap_pkthdr h = {.ts = c->nids_tv, .caplen = total, .len = total};
#ifdef OW_NIDS_DIRECT
    if (!c->nids_via_handler) {
        nids_ip_direct(&h, pkt, total);
        return;
    }
#endif
    nids_pcap_handler(NULL, &h, (u_char *)(uintptr_t)pkt);
}

/* One segment from direction dir; payload NULL means zero bytes (a gap filler). */
void nids_feed_one(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                   const uint8_t *payload, uint32_t len)
{
    uint8_t *b = c->nids_buf;
    uint32_t hlen = put_headers(b, f, dir, seq, ack, flags, len);
    if (payload)
        memcpy(b + hlen, payload, len);
    else
        memset(b + hlen, 0, len);
    hand_to_nids(c, b, hlen + len);
}

/* A payload inside the frame being handled goes to libnids where it is: its headers are
 * rebuilt over the frame's own, just before it (see capture.frame), instead of copying it. */
static bool feed_in_frame(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack,
                          uint8_t flags, const uint8_t *payload, uint32_t len)
{
    const raw_packet *fr = c->frame;
    uint32_t hlen = IP_HLEN + TCP_HLEN + ((flags & OW_TH_SYN) ? SYN_OPTS_LEN : 0);
    if (!fr || !payload || len > NIDS_MAX_PAYLOAD)
        return false;
    uintptr_t start = (uintptr_t)fr->data, at = (uintptr_t)payload;
    if (at < start + hlen || at - start + len > fr->caplen)
        return false;
    uint8_t *b = (uint8_t *)(at - hlen);
    put_headers(b, f, dir, seq, ack, flags, len);
    hand_to_nids(c, b, hlen + len);
    return true;
}

/* A segment of any size: split so each piece fits an IPv4 packet; FIN goes on the last. */
void nids_feed(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
               const uint8_t *payload, uint32_t len)
{
    if (feed_in_frame(c, f, dir, seq, ack, flags, payload, len))
        return;
    uint32_t off = 0;
    do {
        uint32_t n = len - off > NIDS_MAX_PAYLOAD ? NIDS_MAX_PAYLOAD : len - off;
        bool last = off + n == len;
        uint8_t fl = last ? flags : (uint8_t)(flags & ~(OW_TH_FIN | OW_TH_PSH));
        nids_feed_one(c, f, dir, seq + off, ack, fl, payload ? payload + off : NULL, n);
        off += n;
    } while (off < len);
}

void nids_synth_handshake(capture *c, ow_flow_int *f, uint32_t client_isn, uint32_t server_isn)
{
    nids_feed_one(c, f, OW_DIR_C2S, client_isn, 0, OW_TH_SYN, NULL, 0);
    nids_feed_one(c, f, OW_DIR_S2C, server_isn, client_isn + 1, OW_TH_SYN | OW_TH_ACK, NULL, 0);
    nids_feed_one(c, f, OW_DIR_C2S, client_isn + 1, server_isn + 1, OW_TH_ACK, NULL, 0);
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
            if (dir != OW_DIR_C2S)
                return false;
            if (ns && ns->client.first_data_seq != s->seq + 1) /* a new connection */
                nids_free_tcp_stream(ns);
            return true;
        }
        if (dir != OW_DIR_S2C)
            return false;
        if (!ns) { /* SYN missed: give libnids the one the SYN-ACK answers */
            nids_feed_one(c, f, OW_DIR_C2S, s->ack - 1, 0, OW_TH_SYN, NULL, 0);
            f->pub.midstream = true;
        }
        return true;
    }
    if ((s->flags & OW_TH_RST) || !(s->flags & OW_TH_ACK))
        return false;
    if (ns && ns->client.state == TCP_SYN_SENT && ns->server.state == TCP_SYN_RECV &&
        dir == OW_DIR_C2S && s->ack == ns->server.seq)
        return true; /* the handshake's last ACK */
    if (ns)          /* a SYN whose SYN-ACK the capture missed */
        nids_free_tcp_stream(ns);
    uint32_t client_next = dir == OW_DIR_C2S ? s->seq : s->ack;
    uint32_t server_next = dir == OW_DIR_C2S ? s->ack : s->seq;
    f->pub.midstream = true;
    nids_synth_handshake(c, f, client_next - 1, server_next - 1);
    return true;
}

/* A bare ACK in mid-stream changes nothing libnids passes on: it moves the sender's ack_seq,
 * which bounds the data libnids accepts from the peer (ack_seq + window; our stand-in
 * handshake makes the window 1 GB), confirms a FIN already delivered, and may prune an
 * out-of-order queue. So it is not fed while both halves are established with nothing queued
 * out of order, and only while the skipped ACKs stay well inside that window: libnids then
 * behaves exactly as if it had been fed. A third of a bulk transfer's packets are such ACKs. */
#define BARE_ACK_SKIP_MAX (1u << 28) /* bytes the ACK may run ahead of libnids' ack_seq */
static bool bare_ack_unneeded(struct tcp_stream *ns, int dir, const ow_tcp_seg *s)
{
    if ((s->flags & (OW_TH_SYN | OW_TH_FIN | OW_TH_RST | OW_TH_ACK)) != OW_TH_ACK ||
        s->payload_wirelen > 0 || s->payload_caplen > 0)
        return false;
    struct half_stream *snd = nids_sender_half(ns, dir), *rcv = nids_receiver_half(ns, dir);
    return snd->state == TCP_ESTABLISHED && rcv->state == TCP_ESTABLISHED && !snd->list &&
           !rcv->list && (uint32_t)(s->ack - snd->ack_seq) < BARE_ACK_SKIP_MAX;
}

void nids_glue_packet(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    if (!f->nids) {
        if (!prepare_unfollowed(c, f, dir, s))
            return;
    } else {
        if (s->flags & OW_TH_ACK)
            gaps_fill_acked(c, f, !dir, s->ack);
        if (f->nids && s->payload_caplen > 0)
            gaps_make_room(c, f, dir, s);
        if (f->nids && (s->flags & OW_TH_RST))
            gaps_flush(c, f);
        if (f->nids && bare_ack_unneeded(f->nids, dir, s))
            return;
    }
    uint8_t flags = s->flags;
    if (s->payload_caplen < s->payload_wirelen) /* the FIN lies beyond the captured bytes */
        flags &= (uint8_t)~OW_TH_FIN;
    bool followed = f->nids != NULL;
    uint32_t exp = followed ? nids_expected_seq(f->nids, dir) : 0;
    nids_feed(c, f, dir, s->seq, s->ack, flags, s->payload, s->payload_caplen);
    flow_reasm *r = &f->rs[dir];
    if (followed && f->nids && s->payload_caplen > 0 && ow_seq_lt(exp, s->seq))
        gaps_note_seen(r, s->seq, s->seq + s->payload_caplen);
    if (s->payload_wirelen > 0) {
        uint32_t end = s->seq + s->payload_wirelen;
        if (!r->data_seen || ow_seq_lt(r->data_end, end))
            r->data_end = end;
        r->data_seen = true;
    }
}

void nids_glue_release(capture *c, ow_flow_int *f)
{
    if (f->nids)
        gaps_flush(c, f);
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
    if (ns)
        nids_free_tcp_stream(ns);
}

/* ---- the libnids callback ---- */

static size_t sink_data(capture *c, ow_flow_int *f, int dir, const uint8_t *data, size_t len)
{
    const ow_flow_sink *k = c->sink;
    if (!k || !k->on_data)
        return len;
    size_t used = k->on_data(k->ctx, &f->pub, dir, data, len, c->pkt_ts);
    return used > len ? len : used;
}

void nids_sink_gap(capture *c, ow_flow_int *f, int dir, uint64_t len)
{
    const ow_flow_sink *k = c->sink;
    if (k && k->on_gap)
        k->on_gap(k->ctx, &f->pub, dir, len, c->pkt_ts);
}

/* Offers the unconsumed bytes of one direction to the sink, cutting out gap filler. */
static void deliver(capture *c, ow_flow_int *f, struct tcp_stream *s, int dir)
{
    struct half_stream *h = nids_receiver_half(s, dir);
    const uint8_t *data = (const uint8_t *)h->data;
    uint32_t n = (uint32_t)(h->count - h->offset);
    uint32_t base = nids_sender_half(s, dir)->first_data_seq + (uint32_t)h->offset;
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
            if (used < want && !gap)
                break;
            pos = stop; /* bytes left before a gap cannot be continued: dropped */
        }
        if (gap) {
            gaps_announce(c, f, dir);
            pos = ge < n ? (uint32_t)ge : n;
        }
    }
    if (n - pos > c->opts.max_stream_buffer) {
        c->stats.buffer_overflows++;
        nids_sink_gap(c, f, dir, n - pos);
        pos = n;
    }
    nids_discard(s, (int)pos);
}

static int close_how(const ow_flow_int *f, int nids_state)
{
    const tcp_health *h = &f->pub.health;
    if (nids_state == NIDS_RESET)
        return OW_CLOSE_RST;
    if (nids_state == NIDS_CLOSE || (h->dir[0].fin && h->dir[1].fin))
        return OW_CLOSE_FIN;
    return OW_CLOSE_TIMEOUT;
}

static void on_nids_tcp(struct tcp_stream *s, void **param)
{
    (void)param;
    capture *c = g_cap;
    ow_flow_int *f = c ? flow_of_stream(c, s) : NULL;
    if (!f)
        return;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        if (f->state != FLOW_ACTIVE)
            return; /* not collected: libnids lets the stream go */
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
    if (type == NIDS_WARN_SCAN)
        return "port scan";
    if (errnum >= 0 && errnum < (int)(sizeof tcp / sizeof tcp[0]))
        return tcp[errnum];
    return "unknown warning";
}

static void on_nids_warning(int type, int errnum, struct ip *iph, void *data)
{
    capture *c = g_cap;
    if (!c)
        return;
    c->stats.nids_refused++;
    if (c->nids_warnings_logged >= NIDS_WARN_LOG_MAX)
        return;
    c->nids_warnings_logged++;
    char a[OW_ADDR_STRLEN] = "?", b[OW_ADDR_STRLEN] = "?";
    unsigned cp = 0, sp = 0;
    if (type == NIDS_WARN_TCP && iph && data) {
        const struct tcphdr *th = data;
        ow_flow_int *f =
            standin_flow(c, iph->ip_src.s_addr, ntohs(th->th_sport), ntohs(th->th_dport));
        if (!f)
            f = standin_flow(c, iph->ip_dst.s_addr, ntohs(th->th_dport), ntohs(th->th_sport));
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
        if (dead)
            pcap_close(dead);
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
    nids_hash_init();
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
    if (c->nids_pcap)
        pcap_close(c->nids_pcap);
    c->nids_pcap = NULL;
    free(c->nids_buf);
    c->nids_buf = NULL;
}
