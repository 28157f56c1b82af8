/* test_capture_nids_feed: what libnids is given. A segment's payload is handed over inside the
 * captured frame (its headers rebuilt over the frame's own) when the frame has room before it,
 * otherwise copied behind rebuilt headers; a payload larger than an IPv4 packet is split. Each
 * way, the bytes delivered must be the stream, and the rebuilt IPv4 header must be exact: the
 * stand-in addresses, the length and a valid header checksum. */
#include "capture/capture_priv.h"
#include "tests/unit/test_capture_synth.h"
#include "tests/unit/testlib.h"

#define CLIENT 0x64400002u
#define SERVER 0x64400001u
#define BIG    69000u /* more than one IPv4 packet: fed to libnids in two pieces */

static uint8_t pattern[BIG + 4000];

static void seg(synth_pcap *p, int from_client, uint8_t flags, uint32_t seq, uint32_t ack,
                const uint8_t *payload, uint32_t len)
{
    synth_seg g = {.src = from_client ? CLIENT : SERVER,
                   .dst = from_client ? SERVER : CLIENT,
                   .sport = from_client ? 43000 : 5006,
                   .dport = from_client ? 5006 : 43000,
                   .seq = seq,
                   .ack = ack,
                   .flags = flags,
                   .payload = payload,
                   .payload_len = len,
                   .wscale = -1};
    synth_tcp(p, &g);
}

/* A sink checking every delivered byte against the pattern. */
typedef struct check_sink {
    uint64_t bytes[2], wrong[2], gaps;
    int opened, closed;
} check_sink;

static void ck_open(void *ctx, ow_flow *f, double ts)
{
    (void)f, (void)ts;
    ((check_sink *)ctx)->opened++;
}

static size_t ck_data(void *ctx, ow_flow *f, int dir, const uint8_t *d, size_t len, double ts)
{
    (void)f, (void)ts;
    check_sink *k = ctx;
    for (size_t i = 0; i < len; i++)
        k->wrong[dir] += d[i] != pattern[k->bytes[dir] + i];
    k->bytes[dir] += len;
    return len;
}

static void ck_gap(void *ctx, ow_flow *f, int dir, uint64_t len, double ts)
{
    (void)f, (void)dir, (void)len, (void)ts;
    ((check_sink *)ctx)->gaps++;
}

static void ck_close(void *ctx, ow_flow *f, int how, double ts)
{
    (void)f, (void)how, (void)ts;
    ((check_sink *)ctx)->closed++;
}

static uint16_t get16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int main(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i % 251);
    synth_pcap p;
    CHECK(synth_open(&p, 101) == 0); /* RAW: exactly 40 header bytes before each payload */
    uint32_t c = 1000, s = 500000;
    seg(&p, 1, S_SYN, c - 1, 0, NULL, 0);
    seg(&p, 0, S_SYN | S_ACK, s - 1, c, NULL, 0);
    seg(&p, 1, S_ACK, c, s, NULL, 0);
    seg(&p, 1, S_ACK | S_PSH, c, s, pattern, 300); /* in the frame */
    seg(&p, 0, S_ACK, s, c + 300, pattern, 1000);  /* in the frame */
    seg(&p, 0, S_ACK, s + 1000, c + 300, pattern + 1000, 3000);
    seg(&p, 0, S_ACK, s + 4000, c + 300, pattern + 4000, BIG); /* split, copied */
    synth_close(&p);

    capture_opts o = {.file = p.path};
    char err[256] = "";
    capture *cap = capture_open(&o, err, sizeof err);
    CHECK(cap != NULL);
    if (!cap) {
        fprintf(stderr, "  %s\n", err);
        unlink(p.path);
        TEST_MAIN_END("capture_nids_feed");
    }
    check_sink r = {0};
    ow_flow_sink k = {
        .ctx = &r, .on_open = ck_open, .on_data = ck_data, .on_gap = ck_gap, .on_close = ck_close};
    while (capture_poll(cap, &k, 100, err, sizeof err) > 0)
        ;
    /* the last packet libnids was given is the second piece of the big segment, copied */
    const uint8_t *b = cap->nids_buf;
    uint32_t piece = BIG - (65535u - 40u - 4u);
    CHECK_EQ_INT(b[0], 0x45);
    CHECK_EQ_INT(get16(b + 2), 40 + piece);
    CHECK_EQ_INT(get16(b + 6), 0x4000);
    CHECK_EQ_INT(b[8], 64);
    CHECK_EQ_INT(b[9], 6);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += get16(b + i);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    CHECK_EQ_INT(sum, 0xFFFF);                      /* a valid header checksum */
    CHECK_EQ_INT(get32(b + 12) >> 28, 0xF);         /* stand-in addresses, 240.0.0.0/4 */
    CHECK_EQ_INT(get32(b + 16), get32(b + 12) - 1); /* server to client: client is even */
    CHECK_EQ_INT(get16(b + 20), 5006);
    CHECK_EQ_INT(get16(b + 22), 43000);
    CHECK_EQ_INT(get32(b + 24), s + 4000 + (BIG - piece));
    CHECK_EQ_INT(get32(b + 28), c + 300);
    CHECK_EQ_INT(b[32], 0x50);
    CHECK_EQ_INT(b[33], S_ACK);
    CHECK_EQ_INT(get16(b + 34), 0xFFFF);
    CHECK_EQ_INT(get16(b + 36), 0);
    CHECK(memcmp(b + 40, pattern + 4000 + BIG - piece, piece) == 0);
    capture_close(cap, &k);
    unlink(p.path);

    CHECK_EQ_INT(r.opened, 1);
    CHECK_EQ_INT(r.closed, 1);
    CHECK_EQ_INT(r.bytes[OW_DIR_C2S], 300);
    CHECK_EQ_INT(r.bytes[OW_DIR_S2C], 4000 + BIG);
    CHECK_EQ_INT(r.wrong[OW_DIR_C2S], 0);
    CHECK_EQ_INT(r.wrong[OW_DIR_S2C], 0);
    CHECK_EQ_INT(r.gaps, 0);
    TEST_MAIN_END("capture_nids_feed");
}
