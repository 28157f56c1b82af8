/* test_capture_basic: the offline path end to end: a hand-made connection (handshake, data
 * both ways, FIN) and the shared healthy-v4 capture reach the sink with the right bytes in
 * the right direction, every packet counted in one outcome.
 * `test_capture_basic --dump FILE [PORT...]` prints one line per connection (for
 * tests/integration/capture_tshark.sh), `--live IFACE SECONDS PORT` the same from a live
 * capture, `--interfaces` the interface list (tests/integration/capture_live.py). */
#include "capture/privileges.h"
#include "tests/unit/test_capture_synth.h"
#include <poll.h>
#include <time.h>
#include "tests/unit/testlib.h"

#define CLIENT 0x64400002u /* 100.64.0.2 */
#define SERVER 0x64400001u /* 100.64.0.1 */

static uint64_t outcomes(const capture_stats *s)
{
    return s->non_ip + s->truncated + s->files_cut + s->bad_ip + s->fragments + s->non_tcp +
           s->not_server_port + s->bad_tcp + s->tcp_packets;
}

static int dump(int argc, char **argv)
{
    capture_opts o = {.file = argv[2]};
    for (int i = 3; i < argc && o.n_server_ports < OW_MAX_SERVER_PORTS; i++)
        o.server_ports[o.n_server_ports++] = (uint16_t)atoi(argv[i]);
    char err[512];
    capture *c = capture_open(&o, err, sizeof err);
    if (!c) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    static rec_sink r;
    r.dump = true;
    ow_flow_sink k = rec_sink_iface(&r);
    int rc = capture_run(c, &k, NULL, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "error: %s\n", err);
    capture_stats st = *capture_get_stats(c);
    capture_close(c, &k);
    printf("stats packets %llu tcp %llu truncated %llu fragments %llu reassembled %llu "
           "non_ip %llu bad_ip %llu bad_tcp %llu non_tcp %llu other_port %llu streams %llu "
           "without_syn %llu midstream %llu gaps %llu gap_bytes %llu overflows %llu "
           "nids_refused %llu ipv4 %llu ipv6 %llu\n",
           (unsigned long long)st.packets, (unsigned long long)st.tcp_packets,
           (unsigned long long)st.truncated, (unsigned long long)st.fragments,
           (unsigned long long)st.reassembled, (unsigned long long)st.non_ip,
           (unsigned long long)st.bad_ip, (unsigned long long)st.bad_tcp,
           (unsigned long long)st.non_tcp, (unsigned long long)st.not_server_port,
           (unsigned long long)st.streams, (unsigned long long)st.streams_without_syn,
           (unsigned long long)st.midstream_recovered, (unsigned long long)st.gaps,
           (unsigned long long)st.gap_bytes, (unsigned long long)st.buffer_overflows,
           (unsigned long long)st.nids_refused, (unsigned long long)st.ipv4,
           (unsigned long long)st.ipv6);
    return rc < 0 ? 1 : 0;
}

/* --live IFACE SECONDS PORT: captures live (dropping root right after opening), waiting on
 * capture_get_fd and handling packets with capture_poll, then prints what --dump prints. */
static int live(char **argv)
{
    capture_opts o = {.iface = argv[2], .n_server_ports = 1};
    o.server_ports[0] = (uint16_t)atoi(argv[4]);
    char err[512];
    capture *c = capture_open(&o, err, sizeof err);
    if (!c) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    if (ow_drop_privileges(NULL, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        capture_close(c, NULL);
        return 3;
    }
    printf("uid %d fd %d\n", (int)getuid(), capture_get_fd(c));
    fflush(stdout);
    static rec_sink r;
    r.dump = true;
    ow_flow_sink k = rec_sink_iface(&r);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int polls = 0, handled = 0;
    double seconds = atof(argv[3]);
    do {
        struct pollfd pfd = {.fd = capture_get_fd(c), .events = POLLIN};
        poll(&pfd, 1, 100);
        int n = capture_poll(c, &k, 64, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "error: %s\n", err);
            break;
        }
        handled += n;
        polls++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    capture_refresh_stats(c);
    const capture_stats *st = capture_get_stats(c);
    printf("live polls %d handled %d packets %llu kernel_drops %llu linktype %d ticks %d\n", polls,
           handled, (unsigned long long)st->packets, (unsigned long long)st->kernel_drops,
           st->n_linktypes ? st->linktypes[0] : -1, r.ticks);
    fflush(stdout);
    capture_close(c, &k);
    return 0;
}

/* One connection: handshake, request, two response segments, FIN both ways. */
static void synthetic_connection(void)
{
    synth_pcap p;
    CHECK(synth_open(&p, 101) == 0);
    synth_seg g = {.src = CLIENT, .dst = SERVER, .sport = 40000, .dport = 5006, .wscale = -1};
    const char *req = "GET / HTTP/1.1\r\n\r\n", *resp = "HTTP/1.1 200 OK\r\n\r\nhello";
    g.seq = 1000, g.flags = S_SYN, g.mss = 1200, g.wscale = 7;
    synth_tcp(&p, &g);
    synth_seg a = {.src = SERVER, .dst = CLIENT, .sport = 5006, .dport = 40000, .wscale = 7};
    a.seq = 5000, a.ack = 1001, a.flags = S_SYN | S_ACK, a.mss = 1200;
    p.t += 0.01;
    synth_tcp(&p, &a);
    g.mss = 0, g.wscale = -1, a.mss = 0, a.wscale = -1;
    g.seq = 1001, g.ack = 5001, g.flags = S_ACK;
    p.t += 0.01;
    synth_tcp(&p, &g);
    g.flags = S_ACK | S_PSH, g.payload = (const uint8_t *)req,
    g.payload_len = (uint32_t)strlen(req);
    synth_tcp(&p, &g);
    a.seq = 5001, a.ack = 1001 + g.payload_len, a.flags = S_ACK;
    a.payload = (const uint8_t *)resp, a.payload_len = 10;
    p.t += 0.01;
    synth_tcp(&p, &a);
    a.seq += 10, a.payload = (const uint8_t *)resp + 10,
                 a.payload_len = (uint32_t)strlen(resp) - 10;
    synth_tcp(&p, &a);
    a.seq += a.payload_len, a.payload_len = 0, a.flags = S_ACK | S_FIN;
    synth_tcp(&p, &a);
    g.seq += g.payload_len, g.payload_len = 0, g.ack = a.seq + 1, g.flags = S_ACK | S_FIN;
    p.t += 0.01;
    synth_tcp(&p, &g);
    a.seq += 1, a.ack = g.seq + 1, a.flags = S_ACK;
    synth_tcp(&p, &a);
    synth_close(&p);

    static rec_sink r;
    memset(&r, 0, sizeof r);
    capture_stats st;
    char err[256];
    CHECK_EQ_INT(rec_run(p.path, &r, &st, err, sizeof err), 0);
    unlink(p.path);
    CHECK_EQ_INT(r.n, 1);
    rec_flow *x = &r.flows[0];
    CHECK_EQ_INT(x->bytes[OW_DIR_C2S], strlen(req));
    CHECK_EQ_INT(x->bytes[OW_DIR_S2C], strlen(resp));
    CHECK(x->nhead[0] >= 4 && memcmp(x->head[0], "GET ", 4) == 0);
    CHECK(x->nhead[1] >= 8 && memcmp(x->head[1], "HTTP/1.1", 8) == 0);
    CHECK_EQ_INT(x->cport, 40000);
    CHECK_EQ_INT(x->sport, 5006);
    CHECK(x->closed);
    CHECK_EQ_INT(x->close_how, OW_CLOSE_FIN);
    CHECK(x->syn_seen);
    CHECK(!x->midstream);
    CHECK_EQ_INT(x->health.dir[OW_DIR_C2S].mss, 1200);
    CHECK_EQ_INT(x->health.dir[OW_DIR_S2C].wscale, 7);
    CHECK(x->health.rtt > 0.019 && x->health.rtt < 0.021);
    CHECK_EQ_INT(st.packets, 9);
    CHECK_EQ_INT(st.tcp_packets, 9);
    CHECK_EQ_INT(outcomes(&st), st.packets);
    CHECK_EQ_INT(st.streams, 1);
    CHECK_EQ_INT(st.gaps, 0);
    CHECK(r.ticks >= 1);
}

static void healthy_capture(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/healthy-v4.pcap", dir);
    static rec_sink r;
    memset(&r, 0, sizeof r);
    capture_stats st;
    char err[256];
    CHECK_EQ_INT(rec_run(path, &r, &st, err, sizeof err), 0);
    CHECK_EQ_INT(r.n, 36); /* healthy-v4.json: 36 TCP connections */
    CHECK_EQ_INT(st.streams, 36);
    CHECK_EQ_INT(st.packets, 16659);
    CHECK_EQ_INT(outcomes(&st), st.packets);
    CHECK_EQ_INT(st.gaps, 0);
    CHECK_EQ_INT(st.nids_refused, 0);
    CHECK_EQ_INT(st.streams_without_syn, 0);
    CHECK(st.first_ts > 1.7e9 && st.last_ts > st.first_ts);
    CHECK(r.ticks >= (int)(st.last_ts - st.first_ts) - 1);
    int requests = 0, responses = 0, closed = 0;
    uint64_t s2c = 0;
    for (int i = 0; i < r.n; i++) {
        rec_flow *x = &r.flows[i];
        closed += x->closed;
        s2c += x->bytes[OW_DIR_S2C];
        if (x->bytes[OW_DIR_C2S] >= 4)
            requests += memcmp(x->head[0], "GET ", 4) == 0;
        if (x->bytes[OW_DIR_S2C] >= 9)
            responses += memcmp(x->head[1], "HTTP/1.1 ", 9) == 0;
        CHECK_EQ_INT(x->sport, 5006);
        CHECK(x->syn_seen);
    }
    CHECK_EQ_INT(closed, 36);
    CHECK(requests >= 30); /* every connection but the idle preconnects carries a GET */
    CHECK_EQ_INT(requests, responses);
    CHECK(s2c > 14000000); /* 4 cold loads of ~3.7 MB of scripts */
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--dump") == 0)
        return dump(argc, argv);
    if (argc >= 5 && strcmp(argv[1], "--live") == 0)
        return live(argv);
    if (argc >= 2 && strcmp(argv[1], "--interfaces") == 0) {
        char err[256];
        return capture_list_interfaces(stdout, err, sizeof err) == 0 ? 0 : 1;
    }
    synthetic_connection();
    const char *dir = tl_captures_dir();
    if (dir)
        healthy_capture(dir);
    TEST_MAIN_END("test_capture_basic");
}
