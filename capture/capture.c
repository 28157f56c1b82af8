/* capture: the packet loop. Each packet goes link layer -> IP (fragments reassembled) -> TCP
 * -> its flow (created on the first packet) -> TCP health -> libnids (nids_glue.c), and is
 * counted in exactly one outcome. Flows end by FIN/RST (through libnids), by timeouts and
 * eviction (here), or at capture_close; the sink sees each open and close exactly once. With
 * --keep-packets, each server-port TCP packet is also written as it came (packet_keep.c). A
 * stream's clock is judged in stream_clock.c. */
#include "capture/capture_priv.h"
#include "capture/files.h"
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RUN_BATCH         4096 /* packets between two looks at *stop */
#define LIVE_IDLE_WAIT_MS 200  /* live: longest wait for a packet before the clock advances */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void apply_defaults(capture_opts *o)
{
    if (o->n_server_ports <= 0) {
        o->n_server_ports = 1;
        o->server_ports[0] = OW_DEFAULT_SERVER_PORT;
    }
    if (o->n_server_ports > OW_MAX_SERVER_PORTS)
        o->n_server_ports = OW_MAX_SERVER_PORTS;
    if (o->snaplen <= 0)
        o->snaplen = OW_DEFAULT_SNAPLEN;
    if (o->buffer_mb <= 0)
        o->buffer_mb = OW_DEFAULT_BUFFER_MB;
    if (o->max_streams <= 0)
        o->max_streams = OW_DEFAULT_MAX_STREAMS;
    if (o->max_streams > OW_MAX_STREAMS_LIMIT)
        o->max_streams = OW_MAX_STREAMS_LIMIT;
    if (o->max_stream_buffer == 0)
        o->max_stream_buffer = OW_DEFAULT_MAX_STREAM_BUFFER;
}

static void set_server_port_bits(capture *c)
{
    for (int i = 0; i < c->opts.n_server_ports; i++) {
        uint16_t port = c->opts.server_ports[i];
        c->server_port_bits[port / 64] |= 1ull << (port % 64);
    }
}

/* Several files: copied, put in reading order and merged (files.h); the first is opts.file. */
static int open_files(capture *c, const capture_opts *o, char *err, size_t errlen)
{
    int n = 1 + o->n_more_files;
    c->files = calloc((size_t)n, sizeof *c->files);
    c->files_first_ts = calloc((size_t)n, sizeof *c->files_first_ts);
    if (!c->files || !c->files_first_ts) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->n_files = n;
    for (int i = 0; i < n; i++) {
        const char *path = i ? o->more_files[i - 1] : o->file;
        struct stat st;
        if (strcmp(path, "-") == 0) {
            snprintf(err, errlen, "standard input (-) cannot be read with other files");
            return -1;
        }
        /* files are put in order by their first packets, read before: a pipe's would be gone */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            snprintf(err, errlen,
                     "%s is not a regular file (a pipe?): only regular files can be read with "
                     "other files; read it alone",
                     path);
            return -1;
        }
    }
    for (int i = 0; i < n; i++)
        if (!(c->files[i] = strdup(i ? o->more_files[i - 1] : o->file))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    if (files_order(c->files, n, c->files_first_ts, &c->opts, err, errlen) < 0)
        return -1;
    c->opts.file = c->files[0];
    c->merge = files_merge_open(c->files, c->files_first_ts, n, &c->opts, err, errlen);
    return c->merge ? 0 : -1;
}

/* Standard input or a named file that is not a regular file (a pipe, a FIFO, a terminal):
 * read once, as its writer gives it (standard input redirected from a file is a file). */
static bool is_stream(const char *path)
{
    struct stat st;
    int rc = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(path, &st);
    return rc == 0 && !S_ISREG(st.st_mode);
}

capture *capture_open(const capture_opts *o, char *err, size_t errlen)
{
    if (!o || (!o->file && !o->iface)) {
        snprintf(err, errlen, "no capture source: give a file or an interface");
        return NULL;
    }
    capture *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->opts = *o;
    apply_defaults(&c->opts);
    set_server_port_bits(c);
    c->file_copy = dup_or_null(o->file);
    c->iface_copy = dup_or_null(o->iface);
    c->bpf_copy = dup_or_null(o->bpf);
    c->opts.file = c->file_copy;
    c->opts.iface = c->iface_copy;
    c->opts.bpf = c->bpf_copy;
    c->opts.more_files = NULL;
    c->opts.n_more_files = 0;
    if (o->file && o->n_more_files > 0 && open_files(c, o, err, errlen) < 0) {
        capture_close(c, NULL);
        return NULL;
    }
    c->name = strdup(c->opts.file ? c->opts.file : o->iface);
    if (!c->name || !ft_init(&c->flows, (uint32_t)c->opts.max_streams) || !frag_init(&c->frags)) {
        snprintf(err, errlen, "out of memory for %d flows", c->opts.max_streams);
        capture_close(c, NULL);
        return NULL;
    }
    c->from_stream = o->file && !c->merge && is_stream(o->file);
    c->stream_min_lag = INFINITY;
    int rc = c->merge  ? 0
             : o->file ? src_open_file(&c->src, &c->opts, err, errlen)
                       : src_open_live(&c->src, &c->opts, err, errlen);
    if (rc < 0 || !nids_glue_init(c, err, errlen) ||
        (o->keep_dir && !(c->keep = pk_open(&c->opts, &c->stats, err, errlen)))) {
        capture_close(c, NULL);
        return NULL;
    }
    return c;
}

/* ---- flow life cycle ---- */

static bool worth_telling(const ow_flow_int *f)
{
    /* Established, or at least a connection attempt; a lone stray packet is not a connection. */
    return f->sink_opened || f->pub.syn_seen || f->pub.health.synack_seen;
}

void capture_flow_opened(capture *c, ow_flow_int *f)
{
    if (f->sink_opened)
        return;
    f->sink_opened = true;
    if (c->sink && c->sink->on_open)
        c->sink->on_open(c->sink->ctx, &f->pub, c->pkt_ts > 0 ? c->pkt_ts : f->pub.first_ts);
}

void capture_flow_closed(capture *c, ow_flow_int *f, int how)
{
    if (f->state == FLOW_CLOSED)
        return;
    f->state = FLOW_CLOSED;
    tcp_track_finish(&f->track, &f->pub.health, f->pub.last_ts);
    if (!worth_telling(f))
        return;
    capture_flow_opened(c, f);
    if (c->sink && c->sink->on_close)
        c->sink->on_close(c->sink->ctx, &f->pub, how, c->now > 0 ? c->now : f->pub.last_ts);
}

/* capture/ ends a flow itself (timeout, eviction, reset, end of capture). */
static void end_flow(capture *c, ow_flow_int *f, int how)
{
    if (f->state == FLOW_CLOSED)
        return;
    nids_glue_release(c, f); /* may close it through libnids (a queued FIN delivered) */
    capture_flow_closed(c, f, how);
}

static int ending_how(const ow_flow_int *f, int otherwise)
{
    const tcp_health *h = &f->pub.health;
    if (h->dir[0].rst || h->dir[1].rst)
        return OW_CLOSE_RST;
    if (h->dir[0].fin && h->dir[1].fin)
        return OW_CLOSE_FIN;
    return otherwise;
}

static void evict_oldest(capture *c)
{
    ow_flow_int *o = ft_oldest(&c->flows);
    if (!o)
        return;
    if (o->state == FLOW_ACTIVE) {
        c->stats.streams_evicted++;
        end_flow(c, o, OW_CLOSE_TIMEOUT);
    }
    ft_remove(&c->flows, o);
}

/* Timeouts, oldest flows first; stops at the first flow too recent for any of them. */
static void expire_flows(capture *c)
{
    double now = c->now;
    ow_flow_int *f = ft_oldest(&c->flows), *prev;
    for (; f; f = prev) {
        prev = f->lprev;
        double idle = now - f->pub.last_ts;
        if (idle < OW_FIN_LINGER)
            break;
        if (f->state == FLOW_CLOSED) {
            if (idle >= OW_CLOSED_LINGER)
                ft_remove(&c->flows, f);
            continue;
        }
        const tcp_health *h = &f->pub.health;
        bool fin_both = h->dir[0].fin && h->dir[1].fin, fin_one = h->dir[0].fin || h->dir[1].fin;
        if (fin_both || (fin_one && idle >= OW_HALF_CLOSED_IDLE))
            end_flow(c, f, OW_CLOSE_FIN);
        else if (h->dir[0].rst || h->dir[1].rst)
            end_flow(c, f, OW_CLOSE_RST);
        else if (idle >= OW_FLOW_IDLE_TIMEOUT || (!f->sink_opened && idle >= OW_HANDSHAKE_IDLE))
            end_flow(c, f, OW_CLOSE_TIMEOUT);
    }
}

void capture_tick(capture *c)
{
    expire_flows(c);
    pk_tick(c->keep);
    if (c->merge)
        c->stats.files_open_max = (uint64_t)files_merge_open_max(c->merge);
    c->last_tick = c->now;
    if (c->sink && c->sink->on_tick)
        c->sink->on_tick(c->sink->ctx, c->now);
}

/* ---- one TCP segment ---- */

static bool is_server_port(const capture *c, uint16_t port)
{
    return (c->server_port_bits[port / 64] >> (port % 64)) & 1;
}

static bool is_syn(const ow_tcp_seg *s)
{
    return (s->flags & (OW_TH_SYN | OW_TH_ACK)) == OW_TH_SYN;
}

/* Client = SYN sender; without a SYN, the side not on a server port. */
static bool source_is_client(const capture *c, const ow_tcp_seg *s)
{
    if (s->flags & OW_TH_SYN)
        return !(s->flags & OW_TH_ACK);
    return !is_server_port(c, s->sport) || is_server_port(c, s->dport);
}

/* A SYN on a known 4-tuple: a retry (same initial sequence number), or a new connection
 * reusing the ports. */
static bool starts_new_connection(const ow_flow_int *f, int dir, const ow_tcp_seg *s)
{
    if (f->state == FLOW_CLOSED)
        return true;
    if (dir != OW_DIR_C2S)
        return false;
    return !f->pub.syn_seen || s->seq != f->syn_seq;
}

static ow_flow_int *flow_for(capture *c, const ow_ip *ip, const ow_tcp_seg *s, int *dir)
{
    ow_flow_int *f = ft_lookup(&c->flows, &ip->src, s->sport, &ip->dst, s->dport, dir);
    if (f && is_syn(s) && starts_new_connection(f, *dir, s)) {
        end_flow(c, f, ending_how(f, OW_CLOSE_TIMEOUT));
        ft_remove(&c->flows, f);
        f = NULL;
    }
    if (f)
        return f;
    if (ft_full(&c->flows))
        evict_oldest(c);
    bool client = source_is_client(c, s);
    f = client ? ft_insert(&c->flows, &ip->src, s->sport, &ip->dst, s->dport)
               : ft_insert(&c->flows, &ip->dst, s->dport, &ip->src, s->sport);
    if (!f)
        return NULL;
    *dir = client ? OW_DIR_C2S : OW_DIR_S2C;
    f->pub.id = ++c->next_flow_id;
    f->pub.first_ts = f->pub.last_ts = c->pkt_ts;
    tcp_track_init(&f->track, &f->pub.health);
    c->stats.streams++;
    if (!is_syn(s))
        c->stats.streams_without_syn++;
    return f;
}

/* What tells a segment from another: sequence and ACK as they are, the rest multiplied by an
 * odd constant (a bijection), so segments equal in sequence and ACK never share a signature
 * unless equal in everything, and others only by chance (2^-64). */
static uint64_t segment_sig(const ow_ip *ip, const ow_tcp_seg *s)
{
    uint64_t rest = (uint64_t)s->payload_wirelen << 32 | (uint64_t)ip->ip_id << 16 | s->csum;
    rest ^= (uint64_t)s->flags << 56;
    return ((uint64_t)s->seq << 32 | s->ack) ^ (rest * 0x9E3779B97F4A7C15ull);
}

/* Whether a segment without data and without an IP id (IPv6 has none; IPv4 may send 0) can
 * be judged a copy by its signature. A host does send the same ACK or RST twice at once (RSTs
 * of id 0 back to back are in the shared captures; a receiver without D-SACK answers a train
 * of spurious retransmissions with one ACK again and again), and without an id nothing tells
 * those from a copy. Two cases can be told: a SYN (no stack sends it again within
 * OW_DUPLICATE_S: its timer starts at 200 ms or more), and any segment of a connection whose
 * packets with data or an id were already seen twice (a capture that doubles a connection
 * doubles all of it). */
static bool judged_without_id(const ow_flow_int *f, const ow_tcp_seg *s)
{
    return f->copied || (s->flags & OW_TH_SYN);
}

/* Whether s is one of the last segments seen in its direction once more (OW_DUPLICATE_S); if
 * not, it joins them. */
static bool captured_twice(ow_flow_int *f, int dir, const ow_ip *ip, const ow_tcp_seg *s, double ts)
{
    if (s->payload_wirelen == 0 && ip->ip_id == 0 && !judged_without_id(f, s))
        return false;
    flow_last_seg *ring = f->last_seg[dir];
    uint64_t sig = segment_sig(ip, s);
    for (int i = 0; i < FLOW_LAST_SEGS; i++)
        if (ring[i].sig == sig && ring[i].ts > 0 && ts >= ring[i].ts &&
            ts - ring[i].ts <= OW_DUPLICATE_S)
            return f->copied = true;
    uint8_t *at = &f->last_seg_at[dir];
    ring[*at] = (flow_last_seg){sig, ts};
    *at = (uint8_t)((*at + 1) % FLOW_LAST_SEGS);
    return false;
}

static void handle_tcp(capture *c, const ow_ip *ip, const ow_tcp_seg *s)
{
    int dir;
    ow_flow_int *f = flow_for(c, ip, s, &dir);
    if (!f)
        return;
    if (captured_twice(f, dir, ip, s, c->pkt_ts)) {
        c->stats.duplicates++;
        return;
    }
    ft_touch(&c->flows, f);
    if (c->pkt_ts > f->pub.last_ts)
        f->pub.last_ts = c->pkt_ts;
    if (is_syn(s) && dir == OW_DIR_C2S && !f->pub.syn_seen) {
        f->pub.syn_seen = true;
        f->syn_seq = s->seq;
    }
    tcp_track_segment(&f->track, &f->pub.health, dir, s, c->pkt_ts);
    if (f->state == FLOW_CLOSED)
        return; /* a late packet of a finished connection */
    nids_glue_packet(c, f, dir, s);
    if ((s->flags & OW_TH_RST) && f->state == FLOW_ACTIVE)
        end_flow(c, f, OW_CLOSE_RST);
}

/* ---- one packet ---- */

static void count_verdict(capture_stats *st, enum ow_pkt_verdict v)
{
    switch (v) {
    case OW_PKT_NON_IP:
        st->non_ip++;
        break;
    case OW_PKT_TRUNCATED:
        st->truncated++;
        break;
    case OW_PKT_BAD_IP:
        st->bad_ip++;
        break;
    case OW_PKT_NON_TCP:
        st->non_tcp++;
        break;
    case OW_PKT_BAD_TCP:
        st->bad_tcp++;
        break;
    case OW_PKT_FRAGMENT:
        st->fragments++;
        break;
    case OW_PKT_OK:
        break;
    }
}

/* Inlined into handle_packet (every packet) and handle_reassembled: no call, and no saving of
 * registers, per packet. */
static inline __attribute__((always_inline)) void handle_ip(capture *c, const ow_ip *ip,
                                                            bool counted)
{
    ow_tcp_seg s;
    enum ow_pkt_verdict v = ip->proto == 6 ? ow_tcp_decode(ip, &s) : OW_PKT_NON_TCP;
    if (v != OW_PKT_OK) {
        if (!counted)
            count_verdict(&c->stats, v);
        return;
    }
    if (!is_server_port(c, s.sport) && !is_server_port(c, s.dport)) {
        if (!counted)
            c->stats.not_server_port++;
        return;
    }
    if (!counted && c->keep) /* a reassembled datagram's fragments are not kept */
        pk_packet(c->keep, c->frame->dlt, &c->frame->tv, c->frame->caplen, c->frame->wirelen,
                  c->frame->data);
    if (!counted) {
        if (s.payload_caplen < s.payload_wirelen)
            c->stats.truncated++;
        else
            c->stats.tcp_packets++;
    }
    handle_tcp(c, ip, &s);
}

/* A reassembled datagram, already counted as a fragment. */
static __attribute__((noinline)) void handle_reassembled(capture *c, const ow_ip *whole)
{
    handle_ip(c, whole, true);
}

/* A fragment completes a datagram: it goes on. */
static void handle_fragment(capture *c, const ow_ip *frag, int version)
{
    ow_ip whole;
    if (frag_add(&c->frags, frag, c->pkt_ts, &whole) != FRAG_DONE)
        return;
    c->stats.reassembled++;
    if (version == 6) {
        ow_ip inner = whole;
        if (ow_ipv6_walk(whole.proto, whole.l4, whole.l4_caplen, whole.l4_wirelen, &inner) !=
            OW_PKT_OK)
            return;
        handle_reassembled(c, &inner);
    } else {
        handle_reassembled(c, &whole);
    }
}

static void note_linktype(capture_stats *st, int dlt)
{
    if (st->n_linktypes > 0 && st->linktypes[0] == dlt)
        return; /* nearly always: one link type per capture */
    for (int i = 0; i < st->n_linktypes; i++)
        if (st->linktypes[i] == dlt)
            return;
    if (st->n_linktypes < (int)(sizeof st->linktypes / sizeof st->linktypes[0]))
        st->linktypes[st->n_linktypes++] = dlt;
}

static void note_backwards(capture_stats *st, double step)
{
    st->time_backwards++;
    uint64_t ms = (uint64_t)(step * 1000.0);
    if (ms > st->max_backwards_ms)
        st->max_backwards_ms = ms;
}

static void handle_packet(capture *c, const raw_packet *p)
{
    capture_stats *st = &c->stats;
    st->packets++;
    st->bytes += p->wirelen;
    if (st->first_ts == 0 || p->ts < st->first_ts)
        st->first_ts = p->ts;
    if (p->ts > st->last_ts)
        st->last_ts = p->ts;
    note_linktype(st, p->dlt);
    c->frame = p;
    c->pkt_ts = p->ts;
    c->pkt_tv = p->tv;
    if (p->ts > c->now)
        c->now = p->ts;
    else if (p->ts < c->now - OW_BACKWARDS_S)
        note_backwards(st, c->now - p->ts);
    if (c->now >= c->last_tick + OW_TICK_INTERVAL)
        capture_tick(c);

    ow_l3 l3;
    enum ow_pkt_verdict v = ow_link_decode(p->dlt, p->data, p->caplen, p->wirelen, &l3);
    if (v != OW_PKT_OK) {
        count_verdict(st, v);
        return;
    }
    ow_ip ip;
    if (l3.version == 4) {
        st->ipv4++;
        v = ow_ipv4_decode(&l3, &ip);
    } else {
        st->ipv6++;
        v = ow_ipv6_decode(&l3, &ip);
    }
    if (v == OW_PKT_FRAGMENT) {
        st->fragments++;
        handle_fragment(c, &ip, l3.version);
        return;
    }
    if (v != OW_PKT_OK && v != OW_PKT_NON_TCP) {
        count_verdict(st, v);
        return;
    }
    handle_ip(c, &ip, false);
}

/* ---- running ---- */

static int read_some(capture *c, int max_packets, volatile sig_atomic_t *stop, char *err,
                     size_t errlen)
{
    int handled = 0;
    while (max_packets <= 0 || handled < max_packets) {
        if (stop && *stop && !stream_drains(c))
            return handled;
        raw_packet p;
        int rc = c->merge ? files_merge_next(c->merge, &p, err, errlen)
                          : src_next(&c->src, &p, err, errlen);
        if (rc == SRC_PACKET) {
            handle_packet(c, &p);
            if (c->from_stream)
                stream_clock_note_read(c, p.ts);
            handled++;
            continue;
        }
        if (rc == SRC_NONE)
            return handled;
        if (stop && *stop && !stream_drains(c)) /* the signal interrupted a blocked read (a
                                                   pipe): stopped, no error */
            return handled;
        if (rc == SRC_TRUNCATED) { /* the cut record is a packet, counted as the file's cut */
            c->stats.packets++;
            c->stats.files_cut++;
            bool more = c->merge && files_merge_more(c->merge);
            fprintf(stderr, "orphanwatch: %s: the file ends inside a packet (%s); %s\n",
                    c->merge ? files_merge_name(c->merge) : c->name, err,
                    more ? "going on with the other files" : "stopping there");
            if (more)
                continue;
        }
        if (rc == SRC_TRUNCATED || rc == SRC_EOF)
            return handled > 0 ? handled : SRC_EOF;
        if (c->merge) { /* name the file */
            char why[400];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "%s: %s", files_merge_name(c->merge), why);
        } else if (c->src.live) {
            src_live_error(c->name, err, errlen);
        }
        return SRC_ERROR;
    }
    return handled;
}

/* Live: capture time also advances while nothing arrives (grace timers must fire). */
static void live_clock(capture *c)
{
    struct timeval tv;
    double wall = capture_wall_clock(&tv);
    if (wall > c->now) {
        c->now = wall;
        c->pkt_ts = wall;
        c->pkt_tv = tv;
    }
}

static void wait_for_packets(capture *c)
{
    int fd = capture_get_fd(c);
    if (fd < 0) {
        struct timespec ts = {0, LIVE_IDLE_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
        return;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    poll(&pfd, 1, LIVE_IDLE_WAIT_MS);
}

int capture_run(capture *c, const ow_flow_sink *sink, volatile sig_atomic_t *stop, char *err,
                size_t errlen)
{
    c->sink = sink;
    c->stop = stop;
    if (c->from_stream)
        c->src.hooks = stream_clock_hooks(c);
    bool whole = false; /* read to its end: not stopped, or drained to it */
    for (;;) {
        if (stop && *stop && !stream_drains(c))
            break;
        int rc = read_some(c, RUN_BATCH, stop, err, errlen);
        if (rc == SRC_ERROR)
            return -1;
        whole = rc == SRC_EOF && !(stop && *stop && c->drain_over);
        if (rc == SRC_EOF || (rc == 0 && !c->src.live))
            break;
        if (c->src.live) {
            if (rc == 0)
                wait_for_packets(c);
            live_clock(c);
        }
        if (rc > 0 || c->now >= c->last_tick + OW_TICK_INTERVAL)
            capture_tick(c); /* after each batch */
    }
    stream_clock_ended(c, whole);
    capture_tick(c);
    return 0;
}

int capture_poll(capture *c, const ow_flow_sink *sink, int max_packets, char *err, size_t errlen)
{
    c->sink = sink;
    int rc = read_some(c, max_packets, NULL, err, errlen);
    if (rc == SRC_ERROR)
        return -1;
    if (c->src.live)
        live_clock(c);
    if (c->now > 0)
        capture_tick(c);
    return rc == SRC_EOF ? -2 : rc;
}

int capture_get_fd(capture *c)
{
    if (!c->src.live || !c->src.pcap)
        return -1;
    return pcap_get_selectable_fd(c->src.pcap);
}

void capture_close(capture *c, const ow_flow_sink *sink)
{
    if (!c)
        return;
    c->sink = sink;
    if (c->nids_buf) {
        /* Oldest first, so the sink sees connections end in the order they went quiet. */
        for (ow_flow_int *f = ft_oldest(&c->flows); f; f = f->lprev)
            if (f->state == FLOW_ACTIVE)
                end_flow(c, f, ending_how(f, OW_CLOSE_END));
    }
    nids_glue_exit(c);
    pk_close(c->keep);
    ft_destroy(&c->flows);
    frag_destroy(&c->frags);
    src_close(&c->src);
    files_merge_close(c->merge);
    for (int i = 0; c->files && i < c->n_files; i++)
        free(c->files[i]);
    free(c->files);
    free(c->files_first_ts);
    free(c->file_copy);
    free(c->iface_copy);
    free(c->bpf_copy);
    free(c->name);
    free(c);
}

const capture_stats *capture_get_stats(const capture *c)
{
    return &c->stats;
}

const char *capture_source_name(const capture *c)
{
    return c->name;
}

int capture_source_count(const capture *c)
{
    return c->files ? c->n_files : 1;
}

const char *capture_source_at(const capture *c, int i)
{
    if (!c->files)
        return i == 0 ? (c->opts.file ? c->opts.file : c->opts.iface) : NULL;
    return i >= 0 && i < c->n_files ? c->files[i] : NULL;
}

bool capture_source_span(const capture *c, int i, double *first_ts, double *last_ts,
                         uint64_t *packets)
{
    if (c->src.live || i < 0 || i >= capture_source_count(c))
        return false;
    if (!c->merge) { /* one file, or a stream: the capture's own times */
        *first_ts = c->stats.first_ts;
        *last_ts = c->stats.last_ts;
        *packets = c->stats.packets;
        return c->stats.packets > 0;
    }
    files_merge_span(c->merge, i, last_ts, packets);
    *first_ts = c->files_first_ts[i];
    return *packets > 0;
}

bool capture_is_live(const capture *c)
{
    return c->src.live;
}
