/* owgen_conn.c: one TCP connection of a generated page load, seen on the server. A connection
 * is a list of steps (handshake, client data, server data, notify, park, FIN, websocket
 * stream) run one after the other; each step yields packets in time order, so the scheduler
 * can merge all live connections by the time of their next packet. Server data follows the
 * connection's path: normal (client ACKs every 2 segments one RTT later), black hole (segments
 * over 1200 bytes never arrive: RTO back-off retransmissions, never acknowledged) or slow
 * recovery (the same stall, then MTU probing re-sends the data in 1076-1196-byte packets). */
#include "owgen.h"

#include <stdlib.h>
#include <string.h>

#define BLACKHOLE_LIMIT 1200 /* packets larger than this vanish on a faulty path */
#define INIT_CWND_SEGS  11   /* what Linux sends before the first ACK (seen: 13508 bytes) */
#define BH_RETRANSMITS  8    /* RTO retransmissions shown for a black-holed connection */
#define RTO_MIN_NS      (200 * NS_PER_MS)
#define SERVER_ACK_NS   (20 * NS_PER_US)
#define TICK_NS         (200 * NS_PER_MS)
#define PING_PERIOD_NS  (37 * NS_PER_S)
#define SYN_WIN_CLIENT  64480
#define SYN_WIN_SERVER  65084
#define WSCALE          10
#define MAX_IP_PAYLOAD  65535

/* ------------------------------------------------------------------ construction */
void conn_init(conn *c, gen *g, page *pg, int role, int64_t t0)
{
    memset(c, 0, sizeof *c);
    c->g = g;
    c->pg = pg;
    c->role = role;
    c->serial = g->serial++;
    c->heap_pos = -1;
    c->t = t0;
    c->close_si = -1;
    client *cl = pg->cl;
    c->cport = (uint16_t)cl->next_port;
    cl->next_port += 2 + 2 * rng_below(&pg->r, 8);
    if (cl->next_port > 60999)
        cl->next_port = 32768 + (cl->next_port - 61000);
    c->c_isn = (uint32_t)rng_next(&pg->r);
    c->s_isn = (uint32_t)rng_next(&pg->r);
    c->c_tsbase = (uint32_t)rng_next(&pg->r);
    c->s_tsbase = (uint32_t)rng_next(&pg->r);
    c->c_ipid = (uint16_t)rng_next(&pg->r);
    c->s_ipid = (uint16_t)rng_next(&pg->r);
    c->c_flow = (uint32_t)rng_next(&pg->r) & 0xfffff;
    c->s_flow = (uint32_t)rng_next(&pg->r) & 0xfffff;
    c->hdr_len = (cl->v6 ? 40u : 20u) + 32u;
    c->mss = (cl->v6 ? 1220u : 1240u) - 12u; /* MSS option minus the timestamp option */
    g->n.conns++;
}

span conn_put(conn *c, const void *p, size_t n)
{
    span s = {NULL, (uint32_t)c->data.len, (uint32_t)n};
    gb_put(&c->data, p, n);
    return s;
}

span conn_puts(conn *c, const char *s)
{
    return conn_put(c, s, strlen(s));
}

span span_ext(const uint8_t *p, uint32_t n)
{
    span s = {p, 0, n};
    return s;
}

static const uint8_t *span_ptr(conn *c, span s)
{
    return s.ext ? s.ext : c->data.p + s.off;
}

step *st_add(conn *c, int kind, int64_t delay)
{
    if (c->nsteps >= CONN_MAX_STEPS) {
        fprintf(stderr, "owgen: too many steps on one connection\n");
        exit(1);
    }
    step *s = &c->steps[c->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)kind;
    s->delay = delay;
    return s;
}

void st_handshake(conn *c, int64_t delay)
{
    st_add(c, ST_HANDSHAKE, delay);
}

step *st_cdata(conn *c, int64_t delay, span a, int tag)
{
    step *s = st_add(c, ST_CDATA, delay);
    s->a = a;
    s->tag = (uint8_t)tag;
    return s;
}

step *st_sdata(conn *c, int64_t delay, span a, span b, int tag, int status)
{
    step *s = st_add(c, ST_SDATA, delay);
    s->a = a;
    s->b = b;
    s->tag = (uint8_t)tag;
    s->status = (uint16_t)status;
    return s;
}

void st_notify(conn *c, int64_t delay, int event)
{
    st_add(c, ST_NOTIFY, delay)->event = event;
}

void st_park(conn *c)
{
    st_add(c, ST_PARK, 0);
}

void st_cfin(conn *c, int64_t delay)
{
    c->close_si = c->nsteps;
    st_add(c, ST_CFIN, delay);
}

void st_sfin(conn *c, int64_t delay)
{
    c->close_si = c->nsteps;
    st_add(c, ST_SFIN, delay);
}

void st_stream(conn *c, int64_t delay, int64_t dur)
{
    st_add(c, ST_STREAM, delay)->dur = dur;
}

void conn_free(conn *c)
{
    gb_free(&c->data);
    gb_free(&c->tick_data);
}

/* ------------------------------------------------------------------ packet queue */
static pkt *qpush(conn *c, int64_t t, int dir, int flags)
{
    if (c->qn >= CONN_QMAX) {
        fprintf(stderr, "owgen: connection queue overflow\n");
        exit(1);
    }
    if (c->qh > 0 && c->qh + c->qn >= CONN_QMAX) {
        memmove(c->q, c->q + c->qh, (size_t)c->qn * sizeof(pkt));
        c->qh = 0;
    }
    int pos = c->qh + c->qn; /* insertion sort by time, stable */
    while (pos > c->qh && c->q[pos - 1].t > t) {
        c->q[pos] = c->q[pos - 1];
        pos--;
    }
    c->qn++;
    pkt *p = &c->q[pos];
    memset(p, 0, sizeof *p);
    p->t = t;
    p->dir = (uint8_t)dir;
    p->flags = (uint8_t)flags;
    return p;
}

static void pkt_payload(pkt *p, const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen,
                        uint32_t off, uint32_t n)
{
    /* bytes [off, off+n) of the concatenation a|b */
    (void)blen;
    if (off < alen) {
        uint32_t n1 = alen - off < n ? alen - off : n;
        p->p1 = a + off;
        p->l1 = n1;
        if (n > n1) {
            p->p2 = b;
            p->l2 = n - n1;
        }
    } else {
        p->p1 = b + (off - alen);
        p->l1 = n;
    }
}

static int64_t wire_ns(conn *c, uint32_t bytes)
{
    return (int64_t)bytes * 8 * NS_PER_S / c->pg->bw_bps;
}

/* ------------------------------------------------------------------ bulk (lazy) transfers */
static uint32_t super_mss(conn *c, uint32_t mss)
{
    uint32_t room = MAX_IP_PAYLOAD - (c->pg->cl->v6 ? 32u : 52u);
    return room / mss * mss;
}

static void bulk_begin(conn *c, const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen,
                       uint32_t start_off, uint32_t mss1, uint32_t boundary, uint32_t mss2,
                       int64_t t)
{
    bulk *k = &c->bk;
    k->active = 1;
    k->a = a;
    k->alen = alen;
    k->b = b;
    k->blen = blen;
    k->len = alen + blen;
    k->off = start_off;
    k->mss1 = mss1;
    k->boundary = boundary;
    k->mss2 = mss2;
    k->nseg = 0;
    k->seg_t = t;
    k->ack_head = k->ack_n = 0;
}

static void bulk_push_ack(bulk *k, int64_t t, uint32_t v)
{
    uint32_t i = (k->ack_head + k->ack_n) % ACK_RING;
    k->ack_t[i] = t;
    k->ack_v[i] = v;
    k->ack_n++;
}

static int bulk_next(conn *c, pkt *out)
{
    bulk *k = &c->bk;
    int have_seg = k->off < k->len;
    if (!have_seg && k->ack_n == 0)
        return 0;
    if (have_seg && k->ack_n == ACK_RING && k->seg_t < k->ack_t[k->ack_head])
        k->seg_t = k->ack_t[k->ack_head]; /* receive window full: wait for an ACK */
    int take_seg = have_seg && (k->ack_n == 0 || k->seg_t <= k->ack_t[k->ack_head]);
    memset(out, 0, sizeof *out);
    if (take_seg) {
        uint32_t mss = k->off < k->boundary ? k->mss1 : k->mss2;
        if (k->off < k->boundary && k->off + mss > k->boundary)
            mss = k->boundary - k->off;
        uint32_t n = k->len - k->off < mss ? k->len - k->off : mss;
        out->t = k->seg_t;
        out->dir = DIR_S2C;
        out->flags = F_ACK | (k->off + n == k->len ? F_PSH : 0);
        out->seq_explicit = 1;
        out->seq = k->seq0 + k->off;
        pkt_payload(out, k->a, k->alen, k->b, k->blen, k->off, n);
        if (k->off + n == k->len)
            out->completes = (uint8_t)(c->step_open_idx + 1);
        k->off += n;
        k->nseg++;
        int every = c->g->superpackets ? 1 : 2;
        if (!k->noack && (k->nseg % (uint32_t)every == 0 || k->off == k->len))
            bulk_push_ack(k, k->seg_t + c->pg->rtt, k->seq0 + k->off);
        k->seg_t += wire_ns(c, n + c->hdr_len);
        return 1;
    }
    out->t = k->ack_t[k->ack_head];
    out->dir = DIR_C2S;
    out->flags = F_ACK;
    out->ack_explicit = 1;
    out->ack = k->ack_v[k->ack_head];
    k->ack_head = (k->ack_head + 1) % ACK_RING;
    k->ack_n--;
    return 1;
}

static void count_step(conn *c, step *s);

/* ------------------------------------------------------------------ lossy server data */
typedef struct flight {
    int64_t first_t, last_t;
    uint32_t bytes;
} flight;

/* The first window of a transfer on a black-holed path: the segments are captured (the
 * capture is on the server, before the drop) but only those of at most 1200 bytes arrive;
 * the client answers those with a duplicate ACK carrying a SACK block. */
static flight lossy_flight(conn *c, const uint8_t *a, uint32_t alen, const uint8_t *b,
                           uint32_t blen, uint32_t seq0, int64_t t)
{
    flight f = {t, t, 0};
    uint32_t len = alen + blen;
    uint32_t nsegs = 0;
    for (uint32_t off = 0; off < len && nsegs < INIT_CWND_SEGS; nsegs++) {
        uint32_t mss = c->mss;
        if (c->g->superpackets && nsegs == 0)
            mss = c->mss * (INIT_CWND_SEGS - 1);
        uint32_t n = len - off < mss ? len - off : mss;
        pkt *p = qpush(c, t, DIR_S2C, F_ACK | (off + n == len ? F_PSH : 0));
        p->seq_explicit = 1;
        p->seq = seq0 + off;
        pkt_payload(p, a, alen, b, blen, off, n);
        if (off + n == len) /* all of it is in the capture, though maybe never delivered */
            p->completes = (uint8_t)(c->step_open_idx + 1);
        if (n + c->hdr_len <= BLACKHOLE_LIMIT) {
            pkt *d = qpush(c, t + c->pg->rtt, DIR_C2S, F_ACK);
            d->ack_explicit = 1;
            d->ack = seq0;
            d->sack = 1;
            d->sle = seq0 + off;
            d->sre = seq0 + off + n;
        }
        f.last_t = t;
        off += n;
        f.bytes = off;
        t += wire_ns(c, n + c->hdr_len);
    }
    return f;
}

static void lossy_retransmits(conn *c, const uint8_t *a, uint32_t alen, const uint8_t *b,
                              uint32_t blen, uint32_t seq0, int64_t first_t, int count)
{
    int64_t rto = RTO_MIN_NS + c->pg->rtt;
    uint32_t n = alen + blen < c->mss ? alen + blen : c->mss; /* the first unacked segment */
    for (int k = 0; k < count; k++) {
        int64_t t = first_t + rto * ((2LL << k) - 1);
        pkt *p = qpush(c, t, DIR_S2C, F_ACK);
        p->seq_explicit = 1;
        p->seq = seq0;
        pkt_payload(p, a, alen, b, blen, 0, n);
    }
}

static void blackhole_begin(conn *c, const uint8_t *a, uint32_t alen, const uint8_t *b,
                            uint32_t blen, int64_t t)
{
    uint32_t seq0 = c->s_nxt;
    flight f = lossy_flight(c, a, alen, b, blen, seq0, t);
    lossy_retransmits(c, a, alen, b, blen, seq0, f.first_t, BH_RETRANSMITS);
    /* the user gives up: the browser closes the connection; the server ACKs the FIN but keeps
     * retransmitting its unacknowledged data */
    int64_t fin_t = c->pg->close_t > f.last_t ? c->pg->close_t : f.last_t + NS_PER_MS;
    pkt *fin = qpush(c, fin_t, DIR_C2S, F_FIN | F_ACK);
    fin->ack_explicit = 1;
    fin->ack = seq0;
    qpush(c, fin_t + SERVER_ACK_NS, DIR_S2C, F_ACK);
    c->stuck = 1;
    c->si = c->nsteps; /* nothing after this: the transfer never completes */
    snprintf(c->note + strlen(c->note), sizeof c->note - strlen(c->note), " BLACK-HOLED");
}

static void slow_begin(conn *c, step *s, int64_t t)
{
    const uint8_t *a = span_ptr(c, s->a), *b = s->b.len ? span_ptr(c, s->b) : NULL;
    uint32_t seq0 = c->s_nxt;
    flight f = lossy_flight(c, a, s->a.len, b, s->b.len, seq0, t);
    int nrto = 3 + (int)rng_below(&c->pg->r, 2); /* stall of 3.0 or 6.2 s (3 or 4 RTOs) */
    lossy_retransmits(c, a, s->a.len, b, s->b.len, seq0, f.first_t, nrto);
    int64_t rto = RTO_MIN_NS + c->pg->rtt;
    c->bk.seq0 = seq0;
    c->bk.noack = 0;
    /* MTU probing: first the lost window again in 1076-byte packets, then 1178-1196 */
    uint32_t small = 1076 - c->hdr_len;
    uint32_t probe = (uint32_t)rng_range(&c->pg->r, 1178, 1196) - c->hdr_len;
    c->phase = 1;
    c->bk.boundary = f.bytes;
    c->bk.mss1 = small;
    c->bk.mss2 = c->g->superpackets ? super_mss(c, probe) : probe;
    c->bk.seg_t = f.first_t + rto * ((2LL << nrto) - 1);
    c->mss = probe;
    c->recovered = 1;
    snprintf(c->note + strlen(c->note), sizeof c->note - strlen(c->note), " SLOW-RECOVERY");
}

/* ------------------------------------------------------------------ websocket stream */
static void put_u(gbuf *b, uint64_t v)
{
    char s[24];
    int n = 0;
    do {
        s[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 23);
    gb_reserve(b, (size_t)n);
    for (int i = n - 1; i >= 0; i--)
        b->p[b->len++] = (uint8_t)s[i];
    b->p[b->len] = 0;
}

static void put_fixed(gbuf *b, int64_t milli)
{
    if (milli < 0) {
        gb_put(b, "-", 1);
        milli = -milli;
    }
    put_u(b, (uint64_t)(milli / 1000));
    char frac[5] = {'.', (char)('0' + milli / 100 % 10), (char)('0' + milli / 10 % 10),
                    (char)('0' + milli % 10), 0};
    gb_put(b, frac, 4);
}

static void server_text(conn *c, gbuf *frames, const gbuf *json)
{
    ws_server_frame(frames, WS_TEXT, json->p, json->len);
    c->g->n.ws_frames[WS_TEXT]++;
}

/* One 200 ms tick of a streaming app: a PATCH-DOC with two binary buffers (ColumnsStreamed)
 * and a text PATCH-DOC (ModelChanged). Returns the frames in c->tick_data. */
static void stream_server_patch(conn *c, gbuf *out)
{
    static gbuf j; /* scratch, reused (single-threaded) */
    j.len = 0;
    uint32_t id = c->msgid;
    c->msgid += 4;
    gb_puts(&j, "{\"msgid\": \"p");
    put_u(&j, id);
    gb_puts(&j, "\", \"msgtype\": \"PATCH-DOC\", \"num_buffers\": 2}");
    server_text(c, out, &j);
    j.len = 0;
    gb_puts(&j, "{}");
    server_text(c, out, &j);
    j.len = 0;
    gb_puts(&j, "{\"events\":[{\"kind\":\"ColumnsStreamed\",\"model\":{\"id\":\"p1001\"},\"attr\":"
                "\"data\",\"data\":{\"type\":\"map\",\"entries\":[[\"x\",{\"type\":\"ndarray\","
                "\"array\":{\"type\":\"bytes\",\"data\":{\"id\":\"p");
    put_u(&j, id + 1);
    gb_puts(&j, "\"}},\"shape\":[5],\"dtype\":\"float64\",\"order\":\"little\"}],[\"y\",{\"type\":"
                "\"ndarray\",\"array\":{\"type\":\"bytes\",\"data\":{\"id\":\"p");
    put_u(&j, id + 2);
    gb_puts(&j, "\"}},\"shape\":[5],\"dtype\":\"float64\",\"order\":\"little\"}]]},\"rollover\":"
                "500}]}");
    server_text(c, out, &j);
    for (int buf = 0; buf < 2; buf++) {
        j.len = 0;
        gb_puts(&j, "{\"id\": \"p");
        put_u(&j, id + 1 + (uint32_t)buf);
        gb_puts(&j, "\"}");
        server_text(c, out, &j);
        double v[5];
        for (int i = 0; i < 5; i++)
            v[i] = buf == 0 ? (double)(c->tick * 5 + (uint32_t)i)
                            : (double)(rng_below(&c->pg->r, 2000)) / 1000.0 - 1.0;
        ws_server_frame(out, WS_BINARY, v, sizeof v);
        c->g->n.ws_frames[WS_BINARY]++;
    }
    j.len = 0;
    gb_puts(&j, "{\"msgid\": \"p");
    put_u(&j, id + 3);
    gb_puts(&j, "\", \"msgtype\": \"PATCH-DOC\"}");
    server_text(c, out, &j);
    j.len = 0;
    gb_puts(&j, "{}");
    server_text(c, out, &j);
    j.len = 0;
    gb_puts(&j, "{\"events\":[{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1048\"},\"attr\":"
                "\"text\",\"new\":\"Updates: ");
    put_u(&j, c->tick + 1);
    gb_puts(&j, "\"}]}");
    server_text(c, out, &j);
}

/* BokehJS syncing an auto-ranged axis back to the server, and the server's OK. */
static void stream_client_patch(conn *c, gbuf *cl, gbuf *sv)
{
    static gbuf j; /* scratch, reused (single-threaded) */
    j.len = 0;
    char msgid[33];
    random_msgid(&c->pg->r, msgid);
    gb_printf(&j, "{\"msgid\":\"%s\",\"msgtype\":\"PATCH-DOC\"}", msgid);
    ws_client_frame(cl, WS_TEXT, j.p, j.len, &c->pg->r);
    ws_client_frame(cl, WS_TEXT, "{}", 2, &c->pg->r);
    j.len = 0;
    int64_t end = (int64_t)(c->tick * 5 + 60) * 1050;
    gb_puts(&j, "{\"events\":[{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1005\"},\"attr\":"
                "\"start\",\"new\":");
    put_fixed(&j, -end / 20);
    gb_puts(&j, "},{\"kind\":\"ModelChanged\",\"model\":{\"id\":\"p1005\"},\"attr\":\"end\","
                "\"new\":");
    put_fixed(&j, end);
    gb_puts(&j, "}]}");
    ws_client_frame(cl, WS_TEXT, j.p, j.len, &c->pg->r);
    c->g->n.ws_frames[WS_TEXT] += 3;
    j.len = 0;
    gb_puts(&j, "{\"msgid\": \"p");
    put_u(&j, c->msgid++);
    gb_printf(&j, "\", \"msgtype\": \"OK\", \"reqid\": \"%s\"}", msgid);
    ws_server_frame(sv, WS_TEXT, j.p, j.len);
    ws_server_frame(sv, WS_TEXT, "{}", 2);
    ws_server_frame(sv, WS_TEXT, "{}", 2);
    c->g->n.ws_frames[WS_TEXT] += 3;
}

static void q_data(conn *c, int64_t t, int dir, const uint8_t *p, uint32_t n, int completes)
{
    uint32_t off = 0;
    for (int guard = 0; off < n && guard < 64; guard++) {
        uint32_t m = n - off < c->mss ? n - off : c->mss;
        pkt *d = qpush(c, t, dir, F_ACK | (off + m == n ? F_PSH : 0));
        d->p1 = p + off;
        d->l1 = m;
        off += m;
        if (off == n)
            d->completes = (uint8_t)completes;
        t += wire_ns(c, m + c->hdr_len);
    }
}

static int stream_tick(conn *c)
{
    if (c->tick_t >= c->stream_end)
        return 0;
    int64_t t = c->tick_t > c->t ? c->tick_t : c->t;
    int64_t rtt = c->pg->rtt;
    gbuf *d = &c->tick_data;
    d->len = 0;
    size_t ping_off = 0, ping_len = 0, pong_off = 0, pong_len = 0;
    if (c->next_ping_t <= t) { /* the server-wide keep-alive timer fired */
        char num[16];
        int nl = snprintf(num, sizeof num, "%u", c->ping_no++);
        ping_off = d->len;
        ws_server_frame(d, WS_PING, num, (size_t)nl);
        ping_len = d->len - ping_off;
        pong_off = d->len;
        ws_client_frame(d, WS_PONG, num, (size_t)nl, &c->pg->r);
        pong_len = d->len - pong_off;
        c->g->n.ws_frames[WS_PING]++;
        c->g->n.ws_frames[WS_PONG]++;
        c->next_ping_t += PING_PERIOD_NS;
    }
    size_t sv_off = d->len;
    stream_server_patch(c, d);
    size_t sv_len = d->len - sv_off;
    size_t cl_off = 0, cl_len = 0, ok_off = 0, ok_len = 0;
    int client_patch = c->tick % 2 == 1;
    if (client_patch) {
        static gbuf cl, ok; /* scratch, reused (single-threaded) */
        cl.len = ok.len = 0;
        stream_client_patch(c, &cl, &ok);
        cl_off = d->len;
        gb_put(d, cl.p, cl.len);
        cl_len = cl.len;
        ok_off = d->len;
        gb_put(d, ok.p, ok.len);
        ok_len = ok.len;
    }
    /* all payload is in place: now the packets may point into it */
    if (ping_len) {
        q_data(c, t, DIR_S2C, d->p + ping_off, (uint32_t)ping_len, 0);
        q_data(c, t + rtt, DIR_C2S, d->p + pong_off, (uint32_t)pong_len, 0);
        t += NS_PER_MS;
    }
    q_data(c, t, DIR_S2C, d->p + sv_off, (uint32_t)sv_len, 0);
    qpush(c, t + rtt, DIR_C2S, F_ACK);
    if (client_patch) {
        int64_t tc = t + rtt + 2 * NS_PER_MS;
        q_data(c, tc, DIR_C2S, d->p + cl_off, (uint32_t)cl_len, 0);
        q_data(c, tc + 2 * NS_PER_MS, DIR_S2C, d->p + ok_off, (uint32_t)ok_len, 0);
        qpush(c, tc + 2 * NS_PER_MS + rtt, DIR_C2S, F_ACK);
    }
    c->tick++;
    c->tick_t += TICK_NS + rng_range(&c->pg->r, 0, 3 * NS_PER_MS);
    return 1;
}

/* ------------------------------------------------------------------ steps */
static void count_step(conn *c, step *s)
{
    counts *n = &c->g->n;
    if (s->tag == TAG_REQ)
        n->http_requests++;
    if (s->tag == TAG_RESP) {
        n->http_responses++;
        if (s->status == 101)
            n->http_101++;
        else if (s->status == 200)
            n->http_200++;
        else if (s->status == 403)
            n->http_403++;
        else if (s->status == 404)
            n->http_404++;
    }
    for (int i = 0; i < 11; i++)
        n->ws_frames[i] += s->wsf[i];
}

static int server_data_is_big(conn *c, step *s)
{
    uint32_t len = s->a.len + s->b.len;
    uint32_t first = len < c->mss ? len : c->mss;
    return first + c->hdr_len > BLACKHOLE_LIMIT;
}

static void begin_sdata(conn *c, step *s, int64_t t)
{
    const uint8_t *a = span_ptr(c, s->a), *b = s->b.len ? span_ptr(c, s->b) : NULL;
    int big = server_data_is_big(c, s);
    page_server_sends(c->pg, c, s->a.len + s->b.len, t);
    if (c->path == PATH_BLACKHOLE && big && !c->stuck) {
        page_event(c->pg, EV_STUCK, t, c);
        blackhole_begin(c, a, s->a.len, b, s->b.len, t);
        return;
    }
    if (c->path == PATH_SLOW && big && !c->recovered) {
        slow_begin(c, s, t);
        return;
    }
    uint32_t mss = c->g->superpackets ? super_mss(c, c->mss) : c->mss;
    c->bk.seq0 = c->s_nxt;
    c->bk.noack = s->noack;
    bulk_begin(c, a, s->a.len, b, s->b.len, 0, mss, 0, mss, t);
}

static void begin_step(conn *c, step *s)
{
    int64_t t = c->t + s->delay;
    int64_t rtt = c->pg->rtt;
    c->phase = 0;
    switch (s->kind) {
    case ST_HANDSHAKE:
        qpush(c, t, DIR_C2S, F_SYN);
        qpush(c, t + SERVER_ACK_NS, DIR_S2C, F_SYN | F_ACK);
        qpush(c, t + SERVER_ACK_NS + rtt, DIR_C2S, F_ACK);
        break;
    case ST_CDATA:
        q_data(c, t, DIR_C2S, span_ptr(c, s->a), s->a.len, c->step_open_idx + 1);
        if (!s->noack)
            qpush(c, t + wire_ns(c, s->a.len + c->hdr_len) + SERVER_ACK_NS, DIR_S2C, F_ACK);
        break;
    case ST_SDATA:
        begin_sdata(c, s, t);
        break;
    case ST_CFIN:
        qpush(c, t, DIR_C2S, F_FIN | F_ACK);
        qpush(c, t + 150 * NS_PER_US, DIR_S2C, F_FIN | F_ACK);
        qpush(c, t + 150 * NS_PER_US + rtt, DIR_C2S, F_ACK);
        break;
    case ST_SFIN:
        qpush(c, t, DIR_S2C, F_FIN | F_ACK);
        qpush(c, t + rtt, DIR_C2S, F_FIN | F_ACK);
        qpush(c, t + rtt + SERVER_ACK_NS, DIR_S2C, F_ACK);
        break;
    case ST_STREAM: {
        c->stream_end = t + s->dur;
        c->tick_t = t + 150 * NS_PER_MS;
        int64_t since = t - c->g->server_start;
        c->next_ping_t = c->g->server_start + (since / PING_PERIOD_NS + 1) * PING_PERIOD_NS;
        c->t = t;
        break;
    }
    default:
        break;
    }
}

/* More packets for a step that runs in phases. Returns 1 if packets were added. */
static int continue_step(conn *c, step *s)
{
    if (s->kind == ST_SDATA && c->phase == 1) {
        const uint8_t *a = span_ptr(c, s->a), *b = s->b.len ? span_ptr(c, s->b) : NULL;
        bulk *k = &c->bk;
        bulk_begin(c, a, s->a.len, b, s->b.len, 0, k->mss1, k->boundary, k->mss2,
                   k->seg_t > c->t ? k->seg_t : c->t);
        c->phase = 2;
        return 1;
    }
    if (s->kind == ST_STREAM)
        return stream_tick(c);
    return 0;
}

/* If the page's client is gone by the time of the pending packet, replace it by the client's
 * reset. Returns 0 if the connection never existed (no SYN yet) and simply ends. */
int conn_apply_kill(conn *c)
{
    page *pg = c->pg;
    if (pg->kill_t == 0 || c->killed || c->pending.t < pg->kill_t)
        return 1;
    c->killed = 1;
    c->qn = 0;
    c->bk.active = 0;
    c->step_open = 0;
    c->si = c->nsteps;
    c->parked = 0;
    if (c->c_nxt == 0) {
        c->done = 1;
        return 0;
    }
    int64_t t = pg->kill_t > c->last_emit_t ? pg->kill_t : c->last_emit_t;
    memset(&c->pending, 0, sizeof c->pending);
    c->pending.t = t;
    c->pending.dir = DIR_C2S;
    c->pending.flags = F_RST;
    snprintf(c->note + strlen(c->note), sizeof c->note - strlen(c->note), " RESET");
    return 1;
}

static int take_pending(conn *c)
{
    if (!conn_apply_kill(c))
        return 0;
    c->t = c->pending.t;
    return 1;
}

int conn_next(conn *c)
{
    for (int guard = 0; guard < 4 * CONN_MAX_STEPS + 16; guard++) {
        if (c->qn > 0) {
            c->pending = c->q[c->qh++];
            c->qn--;
            if (c->qn == 0)
                c->qh = 0;
            return take_pending(c);
        }
        if (c->bk.active) {
            if (bulk_next(c, &c->pending))
                return take_pending(c);
            c->bk.active = 0;
        }
        if (c->step_open) {
            step *s = &c->steps[c->step_open - 1];
            if (continue_step(c, s))
                continue;
            c->step_open = 0;
        }
        if (c->done)
            return 0;
        if (c->si >= c->nsteps) {
            c->done = 1;
            return 0;
        }
        int idx = c->si++;
        step *s = &c->steps[idx];
        if (s->kind == ST_NOTIFY) {
            int64_t t = c->t + s->delay;
            c->t = t;
            page_event(c->pg, s->event, t, c);
            continue;
        }
        if (s->kind == ST_PARK) {
            if (c->wake_t > 0) { /* woken before it got here */
                if (c->wake_t > c->t)
                    c->t = c->wake_t;
                c->wake_t = 0;
                continue;
            }
            if (c->pg->close_t > 0) { /* the page is being closed: go straight to the FIN */
                c->si = c->close_si >= 0 ? c->close_si : c->nsteps;
                if (c->pg->close_t > c->t)
                    c->t = c->pg->close_t;
                continue;
            }
            c->parked = 1;
            return 0;
        }
        c->step_open_idx = idx;
        begin_step(c, s);
        c->step_open = idx + 1;
    }
    fprintf(stderr, "owgen: connection made no progress\n");
    exit(1);
}

/* ------------------------------------------------------------------ packet bytes */
static void put16be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put32le_(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static const uint8_t server_v4[4] = {100, 64, 0, 1};
static const uint8_t server_v6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0,
                                      0,    0,    0,    0,    0,    0,    0, 1};

static uint32_t seq_after(uint32_t a, uint32_t b) /* max in sequence space */
{
    return (int32_t)(a - b) > 0 ? a : b;
}

static uint32_t client_window(uint32_t acked)
{
    uint32_t w = 63 + (acked > (4u << 20) ? (4u << 20) : acked) / 8192;
    return w;
}

void conn_emit(conn *c)
{
    pkt *p = &c->pending;
    gen *g = c->g;
    int v6 = c->pg->cl->v6;
    int c2s = p->dir == DIR_C2S;
    uint32_t plen = p->l1 + p->l2;
    uint32_t optlen = (p->flags & F_SYN) ? 20 : (p->flags & F_RST) ? 0 : p->sack ? 24 : 12;
    uint32_t tcplen = 20 + optlen + plen;
    uint32_t iphl = v6 ? 40 : 20;
    uint32_t l2 = g->linktype == LT_EN10MB ? 14 : 0;
    uint32_t caplen = l2 + iphl + tcplen;
    uint8_t *r = pcap_reserve(&g->out, 16 + caplen);
    int64_t us = p->t / NS_PER_US;
    put32le_(r, (uint32_t)(us / 1000000));
    put32le_(r + 4, (uint32_t)(us % 1000000));
    put32le_(r + 8, caplen);
    put32le_(r + 12, caplen);
    uint8_t *e = r + 16;
    const uint8_t *caddr = c->pg->cl->addr;
    if (l2) {
        uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x01};
        uint8_t cmac[6] = {
            0x02, 0x42, 0, caddr[v6 ? 13 : 1], caddr[v6 ? 14 : 2], caddr[v6 ? 15 : 3]};
        memcpy(e, c2s ? smac : cmac, 6);
        memcpy(e + 6, c2s ? cmac : smac, 6);
        put16be(e + 12, v6 ? 0x86dd : 0x0800);
    }
    uint8_t *ip = e + l2;
    uint8_t *tcp = ip + iphl;
    /* sequence numbers */
    uint32_t *my_nxt = c2s ? &c->c_nxt : &c->s_nxt;
    uint32_t peer_nxt = c2s ? c->s_nxt : c->c_nxt;
    uint32_t seq = p->seq_explicit ? p->seq : *my_nxt;
    uint32_t end = seq + plen + ((p->flags & F_SYN) ? 1 : 0) + ((p->flags & F_FIN) ? 1 : 0);
    *my_nxt = seq_after(end, *my_nxt);
    uint32_t ack = p->ack_explicit ? p->ack : peer_nxt;
    uint32_t my_isn = c2s ? c->c_isn : c->s_isn, peer_isn = c2s ? c->s_isn : c->c_isn;
    /* IP */
    if (v6) {
        put32be(ip, 0x60000000u | (c2s ? c->c_flow : c->s_flow));
        put16be(ip + 4, tcplen);
        ip[6] = 6;
        ip[7] = 64;
        memcpy(ip + 8, c2s ? caddr : server_v6, 16);
        memcpy(ip + 24, c2s ? server_v6 : caddr, 16);
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        put16be(ip + 2, iphl + tcplen);
        put16be(ip + 4, c2s ? c->c_ipid++ : c->s_ipid++);
        put16be(ip + 6, (p->flags & F_RST) ? 0 : 0x4000);
        ip[8] = 64;
        ip[9] = 6;
        ip[10] = ip[11] = 0;
        memcpy(ip + 12, c2s ? caddr : server_v4, 4);
        memcpy(ip + 16, c2s ? server_v4 : caddr, 4);
        uint16_t ics = csum_fold(csum_partial(ip, 20, 0));
        memcpy(ip + 10, &ics, 2);
    }
    /* TCP */
    put16be(tcp, c2s ? c->cport : 5006);
    put16be(tcp + 2, c2s ? 5006 : c->cport);
    put32be(tcp + 4, my_isn + seq);
    int has_ack = (p->flags & F_ACK) != 0;
    put32be(tcp + 8, has_ack ? peer_isn + ack : 0);
    tcp[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    tcp[13] = p->flags;
    uint32_t win;
    if (p->flags & F_RST)
        win = 0;
    else if (p->flags & F_SYN)
        win = c2s ? SYN_WIN_CLIENT : SYN_WIN_SERVER;
    else
        win = c2s ? client_window(ack) : 64;
    put16be(tcp + 14, win);
    tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
    uint32_t tsval = (c2s ? c->c_tsbase : c->s_tsbase) + (uint32_t)(p->t / NS_PER_MS);
    uint32_t tsecr = c2s ? c->s_tsval : c->c_tsval;
    if (p->flags == F_SYN)
        tsecr = 0;
    uint8_t *o = tcp + 20;
    if (p->flags & F_SYN) {
        uint8_t syn[20] = {2, 4, 0, 0, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, WSCALE};
        put16be(syn + 2, v6 ? 1220 : 1240);
        put32be(syn + 8, tsval);
        put32be(syn + 12, tsecr);
        memcpy(o, syn, 20);
    } else if (optlen >= 12) {
        o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
        put32be(o + 4, tsval);
        put32be(o + 8, tsecr);
        if (p->sack) {
            o[12] = 1, o[13] = 1, o[14] = 5, o[15] = 10;
            put32be(o + 16, peer_isn + p->sle);
            put32be(o + 20, peer_isn + p->sre);
        }
    }
    if (!(p->flags & F_RST)) {
        if (c2s)
            c->c_tsval = tsval;
        else
            c->s_tsval = tsval;
    }
    uint8_t *pl = tcp + 20 + optlen;
    if (p->l1)
        memcpy(pl, p->p1, p->l1);
    if (p->l2)
        memcpy(pl + p->l1, p->p2, p->l2);
    if (!g->out.offload) {
        uint8_t ph[40];
        uint32_t sum;
        if (v6) {
            memcpy(ph, ip + 8, 32);
            put32be(ph + 32, tcplen);
            put32be(ph + 36, 6);
            sum = csum_partial(ph, 40, 0);
        } else {
            memcpy(ph, ip + 12, 8);
            ph[8] = 0;
            ph[9] = 6;
            put16be(ph + 10, tcplen);
            sum = csum_partial(ph, 12, 0);
        }
        uint16_t tcs = csum_fold(csum_partial(tcp, tcplen, sum));
        memcpy(tcp + 16, &tcs, 2);
    }
    pcap_commit(&g->out, 16 + caplen);
    if (p->completes) {
        step *s = &c->steps[p->completes - 1];
        if (!s->counted) {
            s->counted = 1;
            count_step(c, s);
        }
    }
    c->last_emit_t = p->t;
    if (p->t > g->last_t)
        g->last_t = p->t;
}
