/* test_capture_reasm: reassembly through libnids on hand-made connections: pick-up without a
 * SYN, a missed SYN-ACK, capture gaps (announced before the bytes after them, filler never
 * delivered as data), a hole too large to fill, libnids' out-of-order queue limit, a sink that
 * consumes part or nothing (bytes offered again, memory bounded), resets, refused connections,
 * port reuse, eviction and idle timeouts. */
#include "tests/unit/test_capture_synth.h"
#include "tests/unit/testlib.h"

#define CLIENT 0x64400002u
#define SERVER 0x64400001u

typedef struct conn {
    synth_pcap *p;
    uint16_t cport;
    uint32_t c, s; /* next sequence numbers */
} conn;

static void seg(conn *k, int from_client, uint8_t flags, uint32_t seq, uint32_t ack,
                const uint8_t *payload, uint32_t len)
{
    synth_seg g = {.src = from_client ? CLIENT : SERVER,
                   .dst = from_client ? SERVER : CLIENT,
                   .sport = from_client ? k->cport : 5006,
                   .dport = from_client ? 5006 : k->cport,
                   .seq = seq,
                   .ack = ack,
                   .flags = flags,
                   .payload = payload,
                   .payload_len = len,
                   .wscale = -1};
    synth_tcp(k->p, &g);
}

static void handshake(conn *k)
{
    seg(k, 1, S_SYN, k->c - 1, 0, NULL, 0);
    seg(k, 0, S_SYN | S_ACK, k->s - 1, k->c, NULL, 0);
    seg(k, 1, S_ACK, k->c, k->s, NULL, 0);
}

/* Server sends len bytes of the counting pattern (byte i of the stream = i % 251). */
static uint8_t pattern[200000];

static void server_sends(conn *k, uint32_t off, uint32_t len)
{
    seg(k, 0, S_ACK, k->s + off, k->c, pattern + off, len);
}

static void client_acks(conn *k, uint32_t off)
{
    seg(k, 1, S_ACK, k->c, k->s + off, NULL, 0);
}

static bool is_pattern(const uint8_t *d, uint32_t n, uint32_t from)
{
    for (uint32_t i = 0; i < n; i++)
        if (d[i] != pattern[from + i])
            return false;
    return true;
}

static rec_sink sink;

static int run(synth_pcap *p, capture_opts *o, capture_stats *st)
{
    synth_close(p);
    char err[256];
    capture_opts def = {0};
    if (!o)
        o = &def;
    o->file = p->path;
    int rc = rec_run_opts(o, &sink, st, err, sizeof err);
    unlink(p->path);
    return rc;
}

static void start(synth_pcap *p)
{
    memset(&sink, 0, sizeof sink);
    CHECK(synth_open(p, 101) == 0);
}

static void midstream_pickup(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42000, 5000, 90000};
    client_acks(&k, 0); /* the first packet seen: no handshake */
    server_sends(&k, 0, 1000);
    server_sends(&k, 1000, 500);
    client_acks(&k, 1500);
    seg(&k, 1, S_ACK | S_PSH, k.c, k.s + 1500, (const uint8_t *)"GET", 3);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    CHECK_EQ_INT(sink.n, 1);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 1500);
    CHECK(is_pattern(x->head[1], x->nhead[1], 0));
    CHECK_EQ_INT(x->bytes[OW_DIR_C2S], 3);
    CHECK_EQ_INT(x->cport, 42000); /* client decided by the server port */
    CHECK(x->midstream);
    CHECK(!x->syn_seen);
    CHECK_EQ_INT(st.streams_without_syn, 1);
    CHECK_EQ_INT(st.midstream_recovered, 1);
    CHECK_EQ_INT(x->close_how, OW_CLOSE_END);
}

static void synack_missed(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42002, 7000, 30000};
    seg(&k, 1, S_SYN, k.c - 1, 0, NULL, 0); /* the SYN-ACK never made it into the capture */
    client_acks(&k, 0);
    server_sends(&k, 0, 800);
    client_acks(&k, 800);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    CHECK_EQ_INT(sink.n, 1);
    CHECK_EQ_INT(sink.flows[0].bytes[OW_DIR_S2C], 800);
    CHECK(sink.flows[0].syn_seen);
    CHECK(sink.flows[0].midstream);
    CHECK_EQ_INT(st.streams_without_syn, 0);
}

/* A segment missing from the capture, acknowledged by the client: the sink hears of the gap
 * before the bytes after it, and never sees the filler. */
static void gap_acknowledged(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42004, 100, 200};
    handshake(&k);
    server_sends(&k, 0, 1000);
    /* [1000, 2000) lost by the capture */
    server_sends(&k, 2000, 1000);
    client_acks(&k, 3000);
    server_sends(&k, 3000, 500);
    client_acks(&k, 3500);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 2500);
    CHECK_EQ_INT(x->gaps[OW_DIR_S2C], 1);
    CHECK_EQ_INT(x->flow_gaps[OW_DIR_S2C], 1);
    CHECK_EQ_INT(x->gap_bytes[OW_DIR_S2C], 1000);
    CHECK_EQ_INT(st.gaps, 1);
    CHECK_EQ_INT(st.gap_bytes, 1000);
    CHECK(x->nevents[1] >= 3 && x->events[1][0] == 'd' && x->events[1][1] == 'g' &&
          x->events[1][2] == 'd');
    CHECK(is_pattern(x->head[1], 1000, 0));
    CHECK(is_pattern(x->head[1] + 1000, 1500, 2000)); /* no zeros in between */
    CHECK_EQ_INT(st.nids_refused, 0);
}

/* 2 MB never seen, then the transfer goes on: libnids is restarted past the hole. */
static void huge_gap(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42006, 100, 200};
    handshake(&k);
    server_sends(&k, 0, 1000);
    client_acks(&k, 1000);
    uint32_t far = 2000000;
    client_acks(&k, far);
    seg(&k, 0, S_ACK, k.s + far, k.c, pattern, 700);
    seg(&k, 1, S_ACK, k.c, k.s + far + 700, NULL, 0);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 1700);
    CHECK_EQ_INT(x->gap_bytes[OW_DIR_S2C], far - 1000);
    CHECK_EQ_INT(x->flow_gaps[OW_DIR_S2C], 1); /* announced in two steps, one hole */
    CHECK_EQ_INT(sink.n, 1);                   /* the same connection, opened once */
}

/* A lost segment followed by more than libnids' 64 KB out-of-order limit, no ACK yet: the
 * hole is filled before libnids would drop its whole queue. */
static void queue_pressure(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42008, 100, 200};
    handshake(&k);
    server_sends(&k, 0, 1000);
    for (uint32_t off = 2000; off < 2000 + 100 * 1000; off += 1000)
        server_sends(&k, off, 1000);
    client_acks(&k, 102000);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 101000);
    CHECK_EQ_INT(x->gap_bytes[OW_DIR_S2C], 1000);
    CHECK_EQ_INT(st.nids_refused, 0);
}

/* The sink takes at most 100 bytes per call: the rest is offered again first. */
static void partial_consumer(void)
{
    synth_pcap p;
    start(&p);
    sink.consume_limit = 100;
    conn k = {&p, 42010, 100, 200};
    handshake(&k);
    for (uint32_t i = 0; i < 5; i++)
        server_sends(&k, i * 150, 150);
    client_acks(&k, 750);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 500);
    CHECK(is_pattern(x->head[1], 500, 0));
    CHECK_EQ_INT(x->max_offer[1], 350); /* 250 left over + 100... grows by 50 per segment */
}

/* A sink that never consumes: capped by max_stream_buffer, the rest dropped as a gap. */
static void sink_never_consumes(void)
{
    synth_pcap p;
    start(&p);
    sink.consume_nothing = true;
    conn k = {&p, 42012, 100, 200};
    handshake(&k);
    for (uint32_t off = 0; off < 100000; off += 1000)
        server_sends(&k, off, 1000);
    client_acks(&k, 100000);
    capture_opts o = {.max_stream_buffer = 16384};
    capture_stats st;
    CHECK_EQ_INT(run(&p, &o, &st), 0);
    rec_flow *x = &sink.flows[0];
    CHECK(x->max_offer[1] <= 16384 + 1000);
    CHECK(st.buffer_overflows >= 5);
    CHECK(x->gaps[1] >= 5); /* on_gap told the sink each time */
}

static void reset_and_refused(void)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42014, 100, 200};
    handshake(&k);
    server_sends(&k, 0, 100);
    seg(&k, 1, S_RST, k.c, 0, NULL, 0);
    conn r = {&p, 42016, 500, 600};
    seg(&r, 1, S_SYN, r.c - 1, 0, NULL, 0);
    seg(&r, 0, S_RST | S_ACK, 0, r.c, NULL, 0); /* connection refused */
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    CHECK_EQ_INT(sink.n, 2);
    CHECK_EQ_INT(sink.flows[0].close_how, OW_CLOSE_RST);
    CHECK_EQ_INT(sink.flows[0].bytes[1], 100);
    CHECK_EQ_INT(sink.flows[1].close_how, OW_CLOSE_RST);
    CHECK_EQ_INT(sink.flows[1].health.syn_count, 1);
    CHECK(!sink.flows[1].health.synack_seen);
    CHECK(sink.flows[1].health.dir[OW_DIR_S2C].rst);
}

static void port_reuse(void)
{
    synth_pcap p;
    start(&p);
    for (int i = 0; i < 2; i++) {
        conn k = {&p, 42018, 1000u + 100000u * (uint32_t)i, 5000};
        handshake(&k);
        server_sends(&k, 0, 10 + (uint32_t)i);
        seg(&k, 0, S_ACK | S_FIN, k.s + 10 + (uint32_t)i, k.c, NULL, 0);
        seg(&k, 1, S_ACK | S_FIN, k.c, k.s + 11 + (uint32_t)i, NULL, 0);
        seg(&k, 0, S_ACK, k.s + 11 + (uint32_t)i, k.c + 1, NULL, 0);
        p.t += 1;
    }
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    CHECK_EQ_INT(sink.n, 2);
    CHECK_EQ_INT(sink.flows[0].bytes[1], 10);
    CHECK_EQ_INT(sink.flows[1].bytes[1], 11);
    CHECK_EQ_INT(sink.flows[0].close_how, OW_CLOSE_FIN);
    CHECK_EQ_INT(sink.flows[1].close_how, OW_CLOSE_FIN);
    CHECK(sink.flows[0].id != sink.flows[1].id);
}

static void eviction_and_timeouts(void)
{
    synth_pcap p;
    start(&p);
    for (uint16_t i = 0; i < 3; i++) { /* three connections, room for two */
        conn k = {&p, (uint16_t)(42100 + i), 100, 200};
        handshake(&k);
        server_sends(&k, 0, 10);
        p.t += 1;
    }
    conn h = {&p, 42200, 100, 200}; /* half-closed, then silence */
    handshake(&h);
    seg(&h, 0, S_ACK | S_FIN, h.s, h.c, NULL, 0);
    p.t += 4000; /* past every idle limit */
    conn late = {&p, 42201, 100, 200};
    handshake(&late);
    capture_opts o = {.max_streams = 2};
    capture_stats st;
    CHECK_EQ_INT(run(&p, &o, &st), 0);
    CHECK(st.streams_evicted >= 2);
    int timeouts = 0, fins = 0, fin_port = 0;
    for (int i = 0; i < sink.n; i++) {
        timeouts += sink.flows[i].close_how == OW_CLOSE_TIMEOUT;
        if (sink.flows[i].close_how == OW_CLOSE_FIN)
            fins++, fin_port = sink.flows[i].cport;
    }
    CHECK(timeouts >= 2);
    CHECK_EQ_INT(fins, 1); /* the half-closed one: a FIN, then silence, counts as closed */
    CHECK_EQ_INT(fin_port, 42200);
    CHECK_EQ_INT(sink.n, 5);
    CHECK(sink.ticks >= 2);
}

/* Timestamps going back: libnids registers a second closing timeout for a stream when
 * another stream's earlier timeout sits before the first in its list; the stale one fires
 * later on the freed stream, by then reused by another connection, and closes that one (or
 * corrupts libnids' stream pool). libnids is fed a clock that never goes back, so the later
 * connection lives on. */
static void fin_both(conn *k, uint32_t data)
{
    seg(k, 1, S_ACK | S_FIN, k->c, k->s + data, NULL, 0);
    seg(k, 0, S_ACK | S_FIN, k->s + data + 100, k->c + 1, NULL, 0); /* out of order */
}

static void clock_going_back(void)
{
    synth_pcap p;
    start(&p);
    double t0 = 1700000000.0;
    p.t = t0 + 100;
    conn a = {&p, 42300, 100, 200};
    handshake(&a);
    server_sends(&a, 0, 100);
    fin_both(&a, 100); /* libnids: closing timeout at +110 */
    p.t = t0 + 75;
    conn x = {&p, 42302, 300, 400};
    handshake(&x);
    fin_both(&x, 0); /* closing timeout at +85, ahead of a's */
    p.t = t0 + 50;
    seg(&a, 0, S_ACK | S_FIN, a.s + 200, a.c + 1, NULL, 0); /* a second one for a, at +60 */
    p.t = t0 + 62;
    conn b = {&p, 42301, 1000, 2000}; /* takes the stream a's timeout at +60 freed */
    handshake(&b);
    p.t = t0 + 111;
    server_sends(&b, 0, 300);
    client_acks(&b, 300);
    p.t = t0 + 112;
    server_sends(&b, 300, 200);
    client_acks(&b, 500);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    rec_flow *x_b = NULL;
    for (int i = 0; i < sink.n; i++)
        if (sink.flows[i].cport == 42301)
            x_b = &sink.flows[i];
    CHECK(x_b != NULL);
    if (x_b) {
        CHECK_EQ_INT(x_b->bytes[OW_DIR_S2C], 500);
        CHECK_EQ_INT(x_b->close_how, OW_CLOSE_END);
    }
}

/* A bulk download acknowledged by bare ACKs (which need not reach libnids in mid-stream), then
 * a close: every byte delivered, and the close seen at the last ACK, not at the capture's end;
 * also with the server's FIN captured before its last data segment. */
static void bare_acks_then_close(bool fin_early)
{
    synth_pcap p;
    start(&p);
    conn k = {&p, 42400, 100, 200};
    handshake(&k);
    const uint32_t n = 150, seg_len = 1000, total = n * seg_len;
    for (uint32_t i = 0; i < n; i++) {
        if (!(fin_early && i == n - 1))
            server_sends(&k, i * seg_len, seg_len);
        if (i % 2) /* never past a segment the client has not got */
            client_acks(&k, fin_early && i == n - 1 ? i * seg_len : (i + 1) * seg_len);
        p.t += 0.001;
    }
    seg(&k, 0, S_ACK | S_FIN, k.s + total, k.c, NULL, 0);
    if (fin_early) {
        client_acks(&k, (n - 1) * seg_len); /* a duplicate ACK for the hole */
        server_sends(&k, (n - 1) * seg_len, seg_len);
    }
    seg(&k, 1, S_ACK | S_FIN, k.c, k.s + total + 1, NULL, 0);
    p.t += 0.5;
    double last_ack = p.t;
    seg(&k, 0, S_ACK, k.s + total + 1, k.c + 1, NULL, 0);
    p.t += 100; /* something else goes on: the capture ends much later */
    conn other = {&p, 42401, 100, 200};
    handshake(&other);
    capture_stats st;
    CHECK_EQ_INT(run(&p, NULL, &st), 0);
    CHECK_EQ_INT(sink.n, 2);
    rec_flow *x = &sink.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], total);
    CHECK(is_pattern(x->head[1], x->nhead[1], 0));
    CHECK_EQ_INT(x->close_how, OW_CLOSE_FIN);
    CHECK(x->close_ts > last_ack - 0.001 && x->close_ts < last_ack + 0.001);
    CHECK_EQ_INT(x->gaps[OW_DIR_S2C], 0);
}

int main(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i % 251);
    midstream_pickup();
    synack_missed();
    gap_acknowledged();
    huge_gap();
    queue_pressure();
    partial_consumer();
    sink_never_consumes();
    reset_and_refused();
    port_reuse();
    eviction_and_timeouts();
    clock_going_back();
    bare_acks_then_close(false);
    bare_acks_then_close(true);
    TEST_MAIN_END("test_capture_reasm");
}
