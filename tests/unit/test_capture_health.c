/* test_capture_health: TCP health (tcp_health.h) from hand-made segment sequences (a healthy
 * transfer, a path-MTU black hole, recovery in smaller segments, dup ACKs, zero window) and
 * on the shared captures: black-holed connections in blackhole-half.pcap must show full-size
 * segments lost and retransmitted with back-off, the healthy ones full-size segments
 * acknowledged; in mtu-probing-recovers.pcap every connection recovers in smaller segments
 * after a multi-second stall. `test_capture_health --dump FILE` prints the health per flow. */
#include "tests/unit/test_capture_synth.h"
#include "tests/unit/testlib.h"

#define CLIENT 0x64400002u
#define SERVER 0x64400001u
#define MSS    1228

static void print_health(const rec_flow *x)
{
    const tcp_health *h = &x->health;
    printf("flow %u syn %u synack %d rtt %.4f idle %.2f\n", x->cport, h->syn_count, h->synack_seen,
           h->rtt, h->max_idle);
    for (int d = 0; d < 2; d++) {
        const tcp_dir_health *t = &h->dir[d];
        printf("  %s mss %u ws %d seg %llu bytes %llu retr %llu/%llu max %u acked %u lost %u "
               "lostre %u stall %.2f@%.2f rec %d after %u rto %u [",
               d ? "s2c" : "c2s", t->mss, t->wscale, (unsigned long long)t->segments,
               (unsigned long long)t->bytes, (unsigned long long)t->retrans_segments,
               (unsigned long long)t->retrans_bytes, t->max_seg, t->max_seg_acked, t->max_seg_lost,
               t->lost_retrans, t->longest_stall,
               t->stall_start_ts > 0 ? t->stall_start_ts - h->syn_ts : 0, t->recovered_smaller,
               t->seg_after_recovery, t->rto_count);
        for (uint32_t i = 0; i < t->rto_count && i < OW_RTO_SERIES_MAX; i++)
            printf("%s%.2f", i ? " " : "", t->rto_series[i]);
        printf("] acked %llu unacked %llu dup %u sack %u zw %u wfull %u infl %u fin %d rst %d\n",
               (unsigned long long)t->acked_bytes, (unsigned long long)t->unacked_bytes,
               t->dup_acks, t->sack_blocks, t->zero_windows, t->window_full, t->max_in_flight,
               t->fin, t->rst);
    }
}

static rec_sink *run_file(const char *path, capture_stats *st)
{
    static rec_sink r;
    memset(&r, 0, sizeof r);
    char err[256];
    int rc = rec_run(path, &r, st, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "capture of %s failed: %s\n", path, err);
    CHECK_EQ_INT(rc, 0);
    return &r;
}

static const rec_flow *flow_by_port(const rec_sink *r, uint16_t port)
{
    for (int i = 0; i < r->n; i++)
        if (r->flows[i].cport == port)
            return &r->flows[i];
    return NULL;
}

/* ---- synthetic sequences ---- */

typedef struct conv {
    synth_pcap p;
    uint32_t cseq, sseq; /* next sequence numbers */
    uint16_t cport;
} conv;

static void conv_start(conv *v, uint16_t cport)
{
    CHECK(synth_open(&v->p, 101) == 0);
    v->cport = cport;
    v->cseq = 100;
    v->sseq = 9000;
    synth_seg g = {.src = CLIENT,
                   .dst = SERVER,
                   .sport = cport,
                   .dport = 5006,
                   .seq = v->cseq,
                   .flags = S_SYN,
                   .mss = 1240,
                   .wscale = 7};
    synth_tcp(&v->p, &g);
    v->p.t += 0.010;
    synth_seg a = {.src = SERVER,
                   .dst = CLIENT,
                   .sport = 5006,
                   .dport = cport,
                   .seq = v->sseq,
                   .ack = v->cseq + 1,
                   .flags = S_SYN | S_ACK,
                   .mss = 1240,
                   .wscale = 7};
    synth_tcp(&v->p, &a);
    v->p.t += 0.010;
    v->cseq++, v->sseq++;
    synth_seg k = {.src = CLIENT,
                   .dst = SERVER,
                   .sport = cport,
                   .dport = 5006,
                   .seq = v->cseq,
                   .ack = v->sseq,
                   .flags = S_ACK,
                   .wscale = -1};
    synth_tcp(&v->p, &k);
    k.flags = S_ACK | S_PSH, k.payload_len = 300; /* the request */
    synth_tcp(&v->p, &k);
    v->cseq += 300;
}

/* Server data segment at offset off from the server's first data byte (IPv4 id id). */
static void server_data_id(conv *v, uint32_t off, uint32_t len, uint16_t id)
{
    synth_seg a = {.src = SERVER,
                   .dst = CLIENT,
                   .sport = 5006,
                   .dport = v->cport,
                   .seq = v->sseq + off,
                   .ack = v->cseq,
                   .flags = S_ACK,
                   .payload_len = len,
                   .wscale = -1,
                   .win = 500,
                   .ip_id = id};
    synth_tcp(&v->p, &a);
}

static void server_data(conv *v, uint32_t off, uint32_t len)
{
    server_data_id(v, off, len, 0);
}

static void client_ack_id(conv *v, uint32_t off, uint16_t win, uint16_t id)
{
    synth_seg k = {.src = CLIENT,
                   .dst = SERVER,
                   .sport = v->cport,
                   .dport = 5006,
                   .seq = v->cseq,
                   .ack = v->sseq + off,
                   .flags = S_ACK,
                   .wscale = -1,
                   .win = win ? win : 500,
                   .ip_id = id};
    synth_tcp(&v->p, &k);
}

static void client_ack(conv *v, uint32_t off, uint16_t win)
{
    client_ack_id(v, off, win, 0);
}

static const rec_flow *conv_run(conv *v, capture_stats *st)
{
    synth_close(&v->p);
    rec_sink *r = run_file(v->p.path, st);
    unlink(v->p.path);
    CHECK_EQ_INT(r->n, 1);
    return r->n ? &r->flows[0] : NULL;
}

/* Four full-size segments, all acknowledged: max_seg_acked is the full size, no loss. */
static void synthetic_healthy(void)
{
    conv v;
    conv_start(&v, 41000);
    for (int i = 0; i < 4; i++)
        server_data(&v, (uint32_t)i * MSS, MSS);
    v.p.t += 0.02;
    client_ack(&v, 2 * MSS, 0);
    client_ack(&v, 4 * MSS, 0);
    capture_stats st;
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
    CHECK_EQ_INT(s->segments, 4);
    CHECK_EQ_INT(s->bytes, 4 * MSS);
    CHECK_EQ_INT(s->max_seg, MSS);
    CHECK_EQ_INT(s->max_seg_acked, MSS);
    CHECK_EQ_INT(s->max_seg_lost, 0);
    CHECK_EQ_INT(s->retrans_segments, 0);
    CHECK_EQ_INT(s->acked_bytes, 4 * MSS);
    CHECK_EQ_INT(s->unacked_bytes, 0);
    CHECK_EQ_INT(s->max_in_flight, 4 * MSS);
    CHECK_EQ_INT(s->mss, 1240);
    CHECK_EQ_INT(x->health.syn_count, 1);
    CHECK(x->health.synack_seen);
    CHECK(x->health.rtt > 0.019 && x->health.rtt < 0.0201);
    CHECK_EQ_INT(x->health.dir[OW_DIR_C2S].bytes, 300);
    CHECK_EQ_INT(x->health.dir[OW_DIR_C2S].acked_bytes, 300);
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 4 * MSS);
}

/* A black hole: a small segment gets through, the full-size ones are retransmitted with
 * back-off (0.2, 0.4, 0.8, 1.6 s) and never acknowledged. */
static void synthetic_blackhole(void)
{
    conv v;
    conv_start(&v, 41002);
    server_data(&v, 0, 500);
    v.p.t += 0.01;
    client_ack(&v, 500, 0);
    v.p.t += 0.001;
    for (int i = 0; i < 3; i++)
        server_data(&v, 500 + (uint32_t)i * MSS, MSS);
    double rto = 0.2;
    for (int i = 0; i < 4; i++) {
        v.p.t += rto;
        server_data(&v, 500, MSS); /* the oldest unacknowledged segment again */
        rto *= 2;
    }
    capture_stats st;
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
    CHECK_EQ_INT(s->max_seg, MSS);
    CHECK_EQ_INT(s->max_seg_acked, 500);
    CHECK_EQ_INT(s->max_seg_lost, MSS);
    CHECK_EQ_INT(s->retrans_segments, 4);
    CHECK_EQ_INT(s->lost_retrans, 4);
    CHECK_EQ_INT(s->rto_count, 4);
    CHECK(s->rto_series[0] > 0.19 && s->rto_series[0] < 0.21);
    CHECK(s->rto_series[3] > 1.59 && s->rto_series[3] < 1.61);
    CHECK(s->longest_stall > 2.9);
    CHECK(s->stall_start_ts > 0);
    CHECK_EQ_INT(s->unacked_bytes, 3 * MSS);
    CHECK_EQ_INT(s->acked_bytes, 500);
    CHECK(!s->recovered_smaller);
    CHECK_EQ_INT(x->close_how, OW_CLOSE_END);
}

/* Recovery: after the full-size segment timed out twice, the same bytes go out in smaller
 * segments that are acknowledged, and new data follows at the smaller size. */
static void synthetic_recovery(void)
{
    conv v;
    conv_start(&v, 41004);
    server_data(&v, 0, MSS);
    server_data(&v, MSS, MSS);
    v.p.t += 0.2;
    server_data(&v, 0, MSS);
    v.p.t += 0.4;
    server_data(&v, 0, MSS);
    v.p.t += 0.8;
    server_data(&v, 0, 1076); /* MTU probing: smaller */
    server_data(&v, 1076, MSS - 1076);
    v.p.t += 0.01;
    client_ack(&v, MSS, 0);
    server_data(&v, MSS, 1076);
    server_data(&v, MSS + 1076, MSS - 1076);
    server_data(&v, 2 * MSS, 1190);
    v.p.t += 0.01;
    client_ack(&v, 2 * MSS + 1190, 0);
    capture_stats st;
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
    CHECK(s->recovered_smaller);
    CHECK_EQ_INT(s->seg_after_recovery, 1190);
    CHECK_EQ_INT(s->max_seg_lost, MSS);
    CHECK(s->longest_stall > 1.39);
    CHECK_EQ_INT(s->rto_count, 3);
    CHECK_EQ_INT(s->unacked_bytes, 0);
    CHECK_EQ_INT(s->acked_bytes, 2 * MSS + 1190);
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], 2 * MSS + 1190);
}

/* Receiver behaviour: duplicate ACKs, a SACK block, a zero window, and the window filling. */
static void synthetic_receiver(void)
{
    conv v;
    conv_start(&v, 41006);
    for (int i = 0; i < 3; i++)
        server_data(&v, (uint32_t)i * 1000, 1000);
    v.p.t += 0.01;
    client_ack(&v, 1000, 0);
    client_ack(&v, 1000, 0);
    client_ack(&v, 1000, 0);
    synth_seg k = {.src = CLIENT,
                   .dst = SERVER,
                   .sport = v.cport,
                   .dport = 5006,
                   .seq = v.cseq,
                   .ack = v.sseq + 3000,
                   .flags = S_ACK,
                   .wscale = -1,
                   .zero_window = true};
    synth_tcp(&v.p, &k);
    v.p.t += 0.3;
    client_ack(&v, 3000, 16); /* 16 << 7 = 2048 bytes of window */
    server_data(&v, 3000, 1024);
    server_data(&v, 4024, 1024);
    capture_stats st;
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
    CHECK_EQ_INT(s->dup_acks, 2);
    CHECK_EQ_INT(s->zero_windows, 1);
    CHECK_EQ_INT(s->window_full, 1);
    CHECK_EQ_INT(s->max_in_flight, 3000);
    CHECK_EQ_INT(s->wscale, 7);
    CHECK(x->health.max_idle > 0.29);
}

/* ---- the shared captures ---- */

static const uint16_t blackholed[] = {49686, 49702, 49318, 35392, 35054, 41570, 46700, 34712};

static bool is_blackholed(uint16_t port)
{
    for (size_t i = 0; i < sizeof blackholed / sizeof blackholed[0]; i++)
        if (blackholed[i] == port)
            return true;
    return false;
}

static void blackhole_capture(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/blackhole-half.pcap", dir);
    capture_stats st;
    rec_sink *r = run_file(path, &st);
    int black = 0, healthy_full = 0;
    for (int i = 0; i < r->n; i++) {
        const rec_flow *x = &r->flows[i];
        const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
        if (is_blackholed(x->cport)) {
            black++;
            CHECK(s->max_seg_lost >= 1228);
            CHECK(s->lost_retrans >= 5);
            CHECK(s->longest_stall >= 3.0);
            CHECK(s->unacked_bytes > 0);
            CHECK(s->rto_count >= 3);
            CHECK(s->max_seg_acked < 1228);
            CHECK(!s->recovered_smaller);
            /* RTO back-off: each timeout waits longer than the one before */
            CHECK(s->rto_count < 2 || s->rto_series[1] > s->rto_series[0] * 1.5);
        } else if (s->bytes > 100000) {
            healthy_full += s->max_seg_acked == 1228;
            CHECK_EQ_INT(s->max_seg_acked, 1228);
            CHECK_EQ_INT(s->max_seg_lost, 0);
            CHECK(s->retrans_segments <= 3);
            CHECK_EQ_INT(s->unacked_bytes, 0);
        }
    }
    CHECK_EQ_INT(black, 8);
    CHECK(healthy_full >= 10);
    const rec_flow *x = flow_by_port(r, 49686); /* "STALLED 0/13508 B acked" */
    CHECK(x != NULL);
    if (x) {
        CHECK_EQ_INT(x->health.dir[OW_DIR_S2C].acked_bytes, 0);
        CHECK(x->health.dir[OW_DIR_S2C].retrans_segments >= 8);
    }
}

static void mtu_probing_capture(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/mtu-probing-recovers.pcap", dir);
    capture_stats st;
    rec_sink *r = run_file(path, &st);
    int recovered = 0, with_data = 0;
    for (int i = 0; i < r->n; i++) {
        const tcp_dir_health *s = &r->flows[i].health.dir[OW_DIR_S2C];
        if (s->max_seg < 1228)
            continue; /* nothing full-size sent: nothing to recover from */
        with_data++;
        recovered += s->recovered_smaller;
        CHECK(s->recovered_smaller);
        CHECK(s->seg_after_recovery >= 1076 && s->seg_after_recovery <= 1196);
        CHECK(s->longest_stall >= 3.0);
        CHECK(s->max_seg_lost >= 1228);
        CHECK(s->rto_count >= 3);
        CHECK_EQ_INT(s->unacked_bytes, 0);
    }
    CHECK(with_data >= 20);
    CHECK_EQ_INT(recovered, with_data);
}

static void healthy_capture(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/healthy-v4.pcap", dir);
    capture_stats st;
    rec_sink *r = run_file(path, &st);
    for (int i = 0; i < r->n; i++) {
        const tcp_health *h = &r->flows[i].health;
        CHECK_EQ_INT(h->syn_count, 1);
        CHECK(h->rtt > 0 && h->rtt < 0.5);
        CHECK_EQ_INT(h->dir[OW_DIR_S2C].max_seg_lost, 0);
        CHECK_EQ_INT(h->dir[OW_DIR_S2C].rto_count, 0);
        CHECK(!h->dir[OW_DIR_S2C].recovered_smaller);
        if (h->dir[OW_DIR_S2C].bytes > 100000)
            CHECK_EQ_INT(h->dir[OW_DIR_S2C].max_seg_acked, 1228);
    }
}

static void data_id(conv *v, uint32_t off, uint16_t id)
{
    server_data_id(v, off, 1000, id);
}

static void ack_id(conv *v, uint32_t off, uint16_t id)
{
    client_ack_id(v, off, 0, id);
}

/* Packets captured twice (duplicates) against what the host did send twice: a data copy at
 * once; one after three other segments (a burst merged from two files); not one 300 us later
 * (a retransmission); a pure ACK's copy (same IPv4 id) but not the same ACK with another id
 * (the host's own repeat: a duplicate ACK); an ACK of id 0 again at once, since this
 * connection was already seen twice. */
static void synthetic_copies(void)
{
    conv v;
    conv_start(&v, 41000);
    v.p.t += 0.01;
    data_id(&v, 0, 10);
    v.p.t += 1e-6;
    data_id(&v, 0, 10); /* copy */
    for (uint16_t i = 1; i <= 4; i++) {
        v.p.t += 10e-6;
        data_id(&v, 1000u * i, (uint16_t)(10 + i));
    }
    v.p.t += 10e-6;
    data_id(&v, 1000, 11); /* copy, after three other segments */
    v.p.t += 300e-6;
    data_id(&v, 4000, 14); /* the same 300 us on: a retransmission */
    v.p.t += 0.01;
    ack_id(&v, 4000, 20); /* acknowledges 4000 of 5000 */
    v.p.t += 1e-6;
    ack_id(&v, 4000, 20); /* copy */
    v.p.t += 1e-6;
    ack_id(&v, 4000, 21); /* sent again: a duplicate ACK */
    v.p.t += 1e-6;
    ack_id(&v, 4000, 0);
    v.p.t += 1e-6;
    ack_id(&v, 4000, 0); /* id 0 (as IPv6): a copy, in a connection already seen twice */
    capture_stats st;
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    const tcp_dir_health *s = &x->health.dir[OW_DIR_S2C];
    CHECK_EQ_INT(st.duplicates, 4);
    CHECK_EQ_INT(s->segments, 6); /* five, and the retransmission */
    CHECK_EQ_INT(s->retrans_segments, 1);
    CHECK_EQ_INT(s->dup_acks, 2);
}

/* Segments without data or id (all of IPv6's): in a connection never seen twice, the same
 * ACK at once is what the host sent (a duplicate ACK), not a copy; a SYN at once is a copy
 * (no stack retries a SYN within 200 us), and the handshake counts one SYN. */
static void synthetic_copies_without_id(void)
{
    conv v;
    synth_seg syn = {.src = CLIENT,
                     .dst = SERVER,
                     .sport = 41010,
                     .dport = 5006,
                     .seq = 100,
                     .flags = S_SYN,
                     .mss = 1240,
                     .wscale = 7};
    CHECK(synth_open(&v.p, 101) == 0);
    synth_tcp(&v.p, &syn);
    v.p.t += 1e-6;
    synth_tcp(&v.p, &syn); /* copy */
    synth_close(&v.p);
    capture_stats st;
    rec_sink *r = run_file(v.p.path, &st);
    unlink(v.p.path);
    CHECK_EQ_INT(r->n, 1);
    if (r->n)
        CHECK_EQ_INT(r->flows[0].health.syn_count, 1);
    CHECK_EQ_INT(st.duplicates, 1);

    conv_start(&v, 41011);
    v.p.t += 0.01;
    data_id(&v, 0, 0);
    data_id(&v, 1000, 0);
    v.p.t += 0.01;
    ack_id(&v, 1000, 0);
    v.p.t += 1e-6;
    ack_id(&v, 1000, 0); /* the same ACK at once: the host's, a duplicate ACK */
    const rec_flow *x = conv_run(&v, &st);
    if (!x)
        return;
    CHECK_EQ_INT(st.duplicates, 0);
    CHECK_EQ_INT(x->health.dir[OW_DIR_S2C].dup_acks, 1);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--dump") == 0) {
        capture_stats st;
        rec_sink *r = run_file(argv[2], &st);
        for (int i = 0; i < r->n; i++)
            print_health(&r->flows[i]);
        return 0;
    }
    synthetic_healthy();
    synthetic_blackhole();
    synthetic_recovery();
    synthetic_receiver();
    synthetic_copies();
    synthetic_copies_without_id();
    const char *dir = tl_captures_dir();
    if (dir) {
        blackhole_capture(dir);
        mtu_probing_capture(dir);
        healthy_capture(dir);
    }
    TEST_MAIN_END("test_capture_health");
}
