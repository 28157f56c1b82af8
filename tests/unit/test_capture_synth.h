/* test_capture_synth: helpers for capture/ unit tests: write small pcap files of hand-made
 * TCP/IPv4 (RAW link type) segments, and a sink that records what capture/ delivers
 * (bytes per direction, gaps, opens/closes) into a table of flows. Header-only. */
#ifndef OW_TEST_CAPTURE_SYNTH_H
#define OW_TEST_CAPTURE_SYNTH_H
#include "capture/capture.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- writing a pcap ---- */

typedef struct synth_pcap {
    FILE *f;
    char path[64];
    double t;
} synth_pcap;

static void synth_put32le(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static int synth_open(synth_pcap *s, int linktype)
{
    snprintf(s->path, sizeof s->path, "/tmp/ow_synth_XXXXXX");
    int fd = mkstemp(s->path);
    if (fd < 0)
        return -1;
    s->f = fdopen(fd, "wb");
    s->t = 1700000000.0;
    synth_put32le(s->f, 0xa1b2c3d4);
    uint8_t ver[4] = {2, 0, 4, 0};
    fwrite(ver, 1, 4, s->f);
    synth_put32le(s->f, 0);
    synth_put32le(s->f, 0);
    synth_put32le(s->f, 262144);
    synth_put32le(s->f, (uint32_t)linktype);
    return 0;
}

static void synth_record(synth_pcap *s, const uint8_t *data, uint32_t caplen, uint32_t len)
{
    uint32_t sec = (uint32_t)s->t;
    synth_put32le(s->f, sec);
    synth_put32le(s->f, (uint32_t)((s->t - sec) * 1e6 + 0.5));
    synth_put32le(s->f, caplen);
    synth_put32le(s->f, len);
    fwrite(data, 1, caplen, s->f);
}

static void synth_close(synth_pcap *s)
{
    if (s->f)
        fclose(s->f);
    s->f = NULL;
}

enum { S_FIN = 1, S_SYN = 2, S_RST = 4, S_PSH = 8, S_ACK = 16 };

typedef struct synth_seg {
    uint32_t src, dst; /* host order IPv4 */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;           /* 0: 65535 */
    bool zero_window;       /* advertise 0 */
    const uint8_t *payload; /* NULL: payload_len bytes of 'x' */
    uint32_t payload_len;
    uint32_t snap;  /* 0: whole packet captured; else captured bytes */
    uint16_t mss;   /* SYN options when non-zero */
    int8_t wscale;  /* -1 none */
    uint16_t ip_id; /* IPv4 identification (0 unless given) */
} synth_seg;

static void synth_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void synth_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes one TCP/IPv4 packet (RAW link type) at time s->t. */
static void synth_tcp(synth_pcap *s, const synth_seg *g)
{
    static uint8_t pkt[70000];
    uint32_t opt = (g->mss ? 4 : 0) + (g->wscale >= 0 ? 4 : 0);
    uint32_t th = 20 + opt, total = 20 + th + g->payload_len;
    memset(pkt, 0, 40 + opt);
    pkt[0] = 0x45;
    synth_be16(pkt + 2, (uint16_t)(total > 65535 ? 0 : total));
    synth_be16(pkt + 4, g->ip_id);
    pkt[8] = 64;
    pkt[9] = 6;
    synth_be32(pkt + 12, g->src);
    synth_be32(pkt + 16, g->dst);
    uint8_t *t = pkt + 20;
    synth_be16(t, g->sport);
    synth_be16(t + 2, g->dport);
    synth_be32(t + 4, g->seq);
    synth_be32(t + 8, g->ack);
    t[12] = (uint8_t)((th / 4) << 4);
    t[13] = g->flags;
    synth_be16(t + 14, g->zero_window ? 0 : g->win ? g->win : 65535);
    uint8_t *o = t + 20;
    if (g->mss) {
        o[0] = 2, o[1] = 4;
        synth_be16(o + 2, g->mss);
        o += 4;
    }
    if (g->wscale >= 0) {
        o[0] = 1, o[1] = 3, o[2] = 3, o[3] = (uint8_t)g->wscale;
        o += 4;
    }
    if (g->payload)
        memcpy(t + th, g->payload, g->payload_len);
    else
        memset(t + th, 'x', g->payload_len);
    uint32_t cap = g->snap && g->snap < total ? g->snap : total;
    synth_record(s, pkt, cap, total);
}

/* ---- a recording sink ---- */

#define REC_MAX_FLOWS 1024
#define REC_KEEP      4096 /* first bytes kept per direction */

typedef struct rec_flow {
    const ow_flow *f; /* valid until closed */
    uint64_t id;
    ow_addr client, server;
    uint16_t cport, sport;
    uint64_t bytes[2], gaps[2], gap_bytes[2];
    size_t max_offer[2];   /* largest len offered in one on_data */
    uint64_t flow_gaps[2]; /* f->gaps at close */
    uint8_t head[2][REC_KEEP];
    uint32_t nhead[2];
    int opened, closed, close_how;
    double close_ts;
    int events[2][8]; /* 'd' data / 'g' gap order, first 8 per direction */
    int nevents[2];
    bool midstream, syn_seen;
    tcp_health health; /* as at close */
} rec_flow;

typedef struct rec_sink {
    rec_flow flows[REC_MAX_FLOWS];
    int n;
    int ticks;
    double last_tick;
    bool dump;              /* print one line per flow at close */
    uint32_t consume_limit; /* 0: consume all; else consume at most this many per call */
    bool consume_nothing;
} rec_sink;

static rec_flow *rec_find(rec_sink *r, const ow_flow *f)
{
    for (int i = r->n - 1; i >= 0; i--)
        if (r->flows[i].f == f && !r->flows[i].closed)
            return &r->flows[i];
    return NULL;
}

static void rec_event(rec_flow *x, int dir, int what)
{
    if (x->nevents[dir] < 8)
        x->events[dir][x->nevents[dir]++] = what;
}

static void rec_open(void *ctx, ow_flow *f, double ts)
{
    rec_sink *r = ctx;
    (void)ts;
    if (r->n == REC_MAX_FLOWS)
        return;
    rec_flow *x = &r->flows[r->n++];
    memset(x, 0, sizeof *x);
    x->f = f;
    x->id = f->id;
    x->client = f->client;
    x->server = f->server;
    x->cport = f->client_port;
    x->sport = f->server_port;
    x->opened = 1;
}

static size_t rec_data(void *ctx, ow_flow *f, int dir, const uint8_t *d, size_t len, double ts)
{
    rec_sink *r = ctx;
    (void)ts;
    rec_flow *x = rec_find(r, f);
    size_t use = r->consume_limit && len > r->consume_limit ? r->consume_limit : len;
    if (r->consume_nothing)
        use = 0;
    if (!x)
        return use;
    if (len > x->max_offer[dir])
        x->max_offer[dir] = len;
    for (size_t i = 0; i < use && x->nhead[dir] < REC_KEEP; i++)
        x->head[dir][x->nhead[dir]++] = d[i];
    x->bytes[dir] += use;
    rec_event(x, dir, 'd');
    return use;
}

static void rec_gap(void *ctx, ow_flow *f, int dir, uint64_t len, double ts)
{
    rec_sink *r = ctx;
    (void)ts;
    rec_flow *x = rec_find(r, f);
    if (!x)
        return;
    x->gaps[dir]++;
    x->gap_bytes[dir] += len;
    rec_event(x, dir, 'g');
}

static const char *rec_how_name(int how)
{
    switch (how) {
    case OW_CLOSE_FIN:
        return "fin";
    case OW_CLOSE_RST:
        return "rst";
    case OW_CLOSE_TIMEOUT:
        return "timeout";
    case OW_CLOSE_END:
        return "end";
    default:
        return "?";
    }
}

static void rec_close(void *ctx, ow_flow *f, int how, double ts)
{
    rec_sink *r = ctx;
    rec_flow *x = rec_find(r, f);
    if (!x)
        return;
    x->closed = 1;
    x->close_how = how;
    x->close_ts = ts;
    x->midstream = f->midstream;
    x->syn_seen = f->syn_seen;
    x->health = f->health;
    x->flow_gaps[0] = f->gaps[0];
    x->flow_gaps[1] = f->gaps[1];
    if (r->dump) {
        char c[OW_ADDR_STRLEN], s[OW_ADDR_STRLEN];
        printf("flow %s %u %s %u c2s %llu s2c %llu gaps %llu %llu gap_bytes %llu %llu close %s%s\n",
               ow_addr_str(&f->client, c, sizeof c), f->client_port,
               ow_addr_str(&f->server, s, sizeof s), f->server_port,
               (unsigned long long)x->bytes[0], (unsigned long long)x->bytes[1],
               (unsigned long long)f->gaps[0], (unsigned long long)f->gaps[1],
               (unsigned long long)f->gap_bytes[0], (unsigned long long)f->gap_bytes[1],
               rec_how_name(how), f->midstream ? " midstream" : "");
    }
    x->f = NULL;
}

static void rec_tick(void *ctx, double now)
{
    rec_sink *r = ctx;
    r->ticks++;
    r->last_tick = now;
}

static ow_flow_sink rec_sink_iface(rec_sink *r)
{
    return (ow_flow_sink){.ctx = r,
                          .on_open = rec_open,
                          .on_data = rec_data,
                          .on_gap = rec_gap,
                          .on_close = rec_close,
                          .on_tick = rec_tick};
}

/* Runs capture with options o over its file with the recording sink; returns capture_run's
 * result (-9 if the file could not be opened) and copies the stats. */
static int rec_run_opts(const capture_opts *o, rec_sink *r, capture_stats *stats, char *err,
                        size_t errlen)
{
    capture *c = capture_open(o, err, errlen);
    if (!c)
        return -9;
    ow_flow_sink k = rec_sink_iface(r);
    int rc = capture_run(c, &k, NULL, err, errlen);
    if (stats)
        *stats = *capture_get_stats(c);
    capture_close(c, &k);
    return rc;
}

static inline int rec_run(const char *path, rec_sink *r, capture_stats *stats, char *err,
                          size_t errlen)
{
    capture_opts o = {.file = path};
    return rec_run_opts(&o, r, stats, err, errlen);
}

#endif
