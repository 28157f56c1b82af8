/* test_capture_nids_direct: libnids' TCP layer fed directly (nids_glue.c, OW_NIDS_DIRECT)
 * delivers exactly what its public entry, nids_pcap_handler, delivers. Every file is read
 * twice, once each way, into a sink that digests every callback in order (flow, direction,
 * bytes, gap lengths, close reasons, times); the digests and the counts must be equal. Files:
 * a synthetic capture built to reach libnids' less common paths (reordering, retransmissions,
 * a hole, more than 64 KB queued out of order, which makes libnids prune by the buffer sizes
 * the direct path computes, a reset, a FIN), the bundled sample and the shared captures when
 * ORPHANWATCH_CAPTURES names them. Also: libnids files its streams under our hash
 * (nids_hash.c) when the build says it does, i.e. the symbol interposition took effect. */
#include "capture/nids_priv.h"
#include "tests/unit/test_capture_synth.h"
#include "tests/unit/testlib.h"
#include <dirent.h>

#define CLIENT 0x64400002u
#define SERVER 0x64400001u

/* ---- a digesting sink ---- */

typedef struct digest_sink {
    uint64_t h;
    uint64_t opens, closes, gaps, bytes;
} digest_sink;

static void mix(digest_sink *k, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        k->h = (k->h ^ b[i]) * 0x100000001b3ULL;
}

static void mix_u64(digest_sink *k, uint64_t v)
{
    mix(k, &v, sizeof v);
}

static void mix_event(digest_sink *k, int what, const ow_flow *f, int dir, double ts)
{
    mix_u64(k, (uint64_t)what);
    mix_u64(k, f->id);
    mix_u64(k, (uint64_t)dir);
    mix(k, &ts, sizeof ts);
}

static void dg_open(void *ctx, ow_flow *f, double ts)
{
    digest_sink *k = ctx;
    k->opens++;
    mix_event(k, 'o', f, 0, ts);
}

static size_t dg_data(void *ctx, ow_flow *f, int dir, const uint8_t *d, size_t len, double ts)
{
    digest_sink *k = ctx;
    k->bytes += len;
    mix_event(k, 'd', f, dir, ts);
    mix_u64(k, len);
    mix(k, d, len);
    return len;
}

static void dg_gap(void *ctx, ow_flow *f, int dir, uint64_t len, double ts)
{
    digest_sink *k = ctx;
    k->gaps++;
    mix_event(k, 'g', f, dir, ts);
    mix_u64(k, len);
}

static void dg_close(void *ctx, ow_flow *f, int how, double ts)
{
    digest_sink *k = ctx;
    k->closes++;
    mix_event(k, 'c', f, how, ts);
    mix_u64(k, f->gaps[0] + 3 * f->gaps[1]);
}

/* Reads path through capture/, libnids fed by its public entry or directly. */
static bool digest_file(const char *path, bool via_handler, digest_sink *k, capture_stats *st)
{
    memset(k, 0, sizeof *k);
    k->h = 0xcbf29ce484222325ULL;
    capture_opts o = {.file = path};
    char err[256] = "";
    capture *cap = capture_open(&o, err, sizeof err);
    if (!cap) {
        fprintf(stderr, "  %s: %s\n", path, err);
        return false;
    }
    cap->nids_via_handler = via_handler;
    ow_flow_sink s = {
        .ctx = k, .on_open = dg_open, .on_data = dg_data, .on_gap = dg_gap, .on_close = dg_close};
    int rc;
    while ((rc = capture_poll(cap, &s, 1000, err, sizeof err)) > 0)
        ;
    *st = *capture_get_stats(cap);
    capture_close(cap, &s);
    return rc == -2;
}

static void same_both_ways(const char *path, uint64_t min_bytes)
{
    digest_sink a, b;
    capture_stats sa, sb;
    CHECK(digest_file(path, false, &a, &sa));
    CHECK(digest_file(path, true, &b, &sb));
    CHECK(a.h == b.h);
    CHECK_EQ_INT(a.opens, b.opens);
    CHECK_EQ_INT(a.closes, b.closes);
    CHECK_EQ_INT(a.gaps, b.gaps);
    CHECK_EQ_INT(a.bytes, b.bytes);
    CHECK_EQ_INT(sa.nids_refused, sb.nids_refused);
    CHECK(a.bytes >= min_bytes); /* the file was read, not an empty pass */
    if (a.h != b.h)
        fprintf(stderr, "  %s: digests differ (%llu vs %llu bytes)\n", path,
                (unsigned long long)a.bytes, (unsigned long long)b.bytes);
}

/* ---- the synthetic capture ---- */

static uint8_t pattern[200000];

static void seg(synth_pcap *p, int from_client, uint16_t cport, uint8_t flags, uint32_t seq,
                uint32_t ack, uint32_t off, uint32_t len)
{
    synth_seg g = {.src = from_client ? CLIENT : SERVER,
                   .dst = from_client ? SERVER : CLIENT,
                   .sport = from_client ? cport : 5006,
                   .dport = from_client ? 5006 : cport,
                   .seq = seq,
                   .ack = ack,
                   .flags = flags,
                   .payload = len ? pattern + off : NULL,
                   .payload_len = len,
                   .wscale = -1};
    synth_tcp(p, &g);
    p->t += 0.001;
}

static void handshake(synth_pcap *p, uint16_t cport, uint32_t c, uint32_t s)
{
    seg(p, 1, cport, S_SYN, c - 1, 0, 0, 0);
    seg(p, 0, cport, S_SYN | S_ACK, s - 1, c, 0, 0);
    seg(p, 1, cport, S_ACK, c, s, 0, 0);
    seg(p, 1, cport, S_ACK | S_PSH, c, s, 0, 200);
}

static void write_synthetic(synth_pcap *p)
{
    uint32_t c = 7000, s = 900000, m = 1400;
    /* 1: reordered, retransmitted, then closed by FINs */
    handshake(p, 41001, c, s);
    seg(p, 0, 41001, S_ACK, s + m, c + 200, m, m);
    seg(p, 0, 41001, S_ACK, s, c + 200, 0, m);
    seg(p, 0, 41001, S_ACK, s, c + 200, 0, m); /* retransmission */
    seg(p, 0, 41001, S_ACK, s + 2 * m, c + 200, 2 * m, 700);
    seg(p, 0, 41001, S_ACK | S_FIN, s + 2 * m + 700, c + 200, 0, 0);
    seg(p, 1, 41001, S_ACK | S_FIN, c + 200, s + 2 * m + 701, 0, 0);
    seg(p, 0, 41001, S_ACK, s + 2 * m + 701, c + 201, 0, 0);
    /* 2: a hole, with > 64 KB queued behind it (libnids prunes), then a reset */
    handshake(p, 41002, c, s);
    seg(p, 0, 41002, S_ACK, s, c + 200, 0, m);
    for (uint32_t off = 2 * m; off < 2 * m + 100 * m; off += m)
        seg(p, 0, 41002, S_ACK, s + off, c + 200, off % 150000, m);
    seg(p, 1, 41002, S_RST, c + 200, 0, 0, 0);
    /* 3: a hole the peer acknowledges (filled as a gap), then left open */
    handshake(p, 41003, c, s);
    seg(p, 0, 41003, S_ACK, s, c + 200, 0, m);
    seg(p, 0, 41003, S_ACK, s + 2 * m, c + 200, 2 * m, m);
    seg(p, 1, 41003, S_ACK, c + 200, s + 3 * m, 0, 0);
    seg(p, 0, 41003, S_ACK, s + 3 * m, c + 200, 3 * m, m);
}

static void synthetic(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 7 % 253);
    synth_pcap p;
    CHECK(synth_open(&p, 101) == 0);
    write_synthetic(&p);
    synth_close(&p);
    same_both_ways(p.path, 100000);
    unlink(p.path);
}

static void shared_captures(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".pcap") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        same_both_ways(path, 1000);
        n++;
    }
    closedir(d);
    CHECK(n > 0);
}

#ifdef OW_NIDS_HASH
/* The bucket of a stream is its flow's slot, from either end's stand-in address; any other
 * tuple gets a bucket libnids can hold (below 2^24). */
static void stream_buckets(void)
{
    const uint32_t slots[] = {0, 1, 77, 65535, OW_MAX_STREAMS_LIMIT - 1};
    int right = 0;
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++) {
        uint32_t client = htonl(STANDIN_BASE + 2 * slots[i]), server = htonl(ntohl(client) + 1);
        right += mkhash(client, 40000, server, 5006) == slots[i];
        right += mkhash(server, 5006, client, 40000) == slots[i];
    }
    CHECK_EQ_INT(right, 10);
    int below = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t a = tl_random(), b = tl_random();
        if ((ntohl(a) & 0xF0000000u) == STANDIN_BASE)
            a ^= htonl(0x80000000u); /* not a stand-in */
        below += mkhash(a, (unsigned short)tl_random(), b, (unsigned short)tl_random()) < 1u << 24;
    }
    CHECK_EQ_INT(below, 10000);
}
#endif

int main(void)
{
#ifndef OW_NIDS_DIRECT
    fprintf(stderr, "  libnids' TCP entry is not used directly in this build: both reads take "
                    "nids_pcap_handler\n");
#endif
#ifdef OW_NIDS_HASH
    stream_buckets();
    uint64_t calls = nids_hash_calls;
#endif
    synthetic();
#ifdef OW_NIDS_HASH
    CHECK(nids_hash_calls > calls + 100); /* libnids called ours, not its own mkhash */
#else
    fprintf(stderr, "  libnids keeps its own stream hash in this build\n");
#endif
    const char *src = getenv("OW_SOURCE_DIR");
    char sample[1024];
    snprintf(sample, sizeof sample, "%s/tests/data/sample.pcap", src ? src : ".");
    same_both_ways(sample, 100000);
    const char *dir = tl_captures_dir();
    if (dir)
        shared_captures(dir);
    else
        fprintf(stderr, "  shared captures not compared: ORPHANWATCH_CAPTURES is not set\n");
    TEST_MAIN_END("capture_nids_direct");
}
