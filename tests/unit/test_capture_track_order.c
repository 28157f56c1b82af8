/* test_capture_track_order: TCP health's segment list takes a fast path while the segments'
 * ends rise along it (an acknowledgement then covers a prefix of the list). Random segment
 * streams (in order, reordered, retransmitted, near sequence wrap, acknowledgements about
 * 2^31 away) go through two trackers, one of them forced onto the general path before every
 * segment: the health figures and the lists must stay identical. */
#include "capture/tcp_track.h"
#include "testlib.h"
#include <stdlib.h>
#include <string.h>

static bool same_list(const track_dir *a, const track_dir *b)
{
    if (a->nseg != b->nseg)
        return false;
    for (int i = 0; i < a->nseg; i++) {
        const track_seg *x = &a->seg[i], *y = &b->seg[i];
        if (x->seq != y->seq || x->len != y->len || x->sends != y->sends ||
            x->retrans != y->retrans || x->smaller_resend != y->smaller_resend ||
            x->superseded != y->superseded || x->last_ts != y->last_ts)
            return false;
    }
    return a->snd_una == b->snd_una && a->snd_max == b->snd_max && a->outstanding == b->outstanding;
}

static bool same_health(const tcp_health *a, const tcp_health *b)
{
    for (int d = 0; d < 2; d++) {
        const tcp_dir_health *x = &a->dir[d], *y = &b->dir[d];
        if (x->segments != y->segments || x->bytes != y->bytes ||
            x->retrans_segments != y->retrans_segments || x->max_seg_acked != y->max_seg_acked ||
            x->max_seg_lost != y->max_seg_lost || x->lost_retrans != y->lost_retrans ||
            x->recovered_smaller != y->recovered_smaller ||
            x->seg_after_recovery != y->seg_after_recovery || x->acked_bytes != y->acked_bytes ||
            x->unacked_bytes != y->unacked_bytes || x->longest_stall != y->longest_stall ||
            x->rto_count != y->rto_count || x->dup_acks != y->dup_acks ||
            x->window_full != y->window_full || x->max_in_flight != y->max_in_flight)
            return false;
    }
    return true;
}

/* One random conversation of n segments; mode picks the kind of disorder. */
static bool run_one(int mode, int n, int *fast_seen)
{
    tcp_track ta, tb;
    tcp_health ha, hb;
    tcp_track_init(&ta, &ha);
    tcp_track_init(&tb, &hb);
    uint32_t isn = mode == 3 ? 0xFFFFF000u - tl_random() % 4096 : tl_random();
    uint32_t next = isn + 1, acked = isn + 1;
    double ts = 1000.0;
    ow_tcp_seg syn = {.seq = isn, .flags = OW_TH_SYN | OW_TH_ACK, .wscale = -1};
    tcp_track_segment(&ta, &ha, OW_DIR_S2C, &syn, ts);
    tcp_track_segment(&tb, &hb, OW_DIR_S2C, &syn, ts);
    for (int i = 0; i < n; i++) {
        ts += (tl_random() % 100) / 1000.0;
        ow_tcp_seg s = {.wscale = -1, .win = 65535};
        uint32_t r = tl_random() % 100;
        int dir;
        if (r < 55) { /* server data, sometimes a retransmission or a resend in pieces */
            dir = OW_DIR_S2C;
            uint32_t len = 1 + tl_random() % 3000;
            s.flags = OW_TH_ACK;
            s.seq = next;
            if (mode >= 1 && tl_random() % 5 == 0) /* back into what was sent */
                s.seq = next - tl_random() % 8000;
            if (mode >= 2 && tl_random() % 7 == 0) /* ahead of it (a capture hole) */
                s.seq = next + tl_random() % 20000;
            s.payload_wirelen = s.payload_caplen = len;
            if (ow_seq_lt(next, s.seq + len))
                next = s.seq + len;
        } else { /* client acknowledgement */
            dir = OW_DIR_C2S;
            s.flags = OW_TH_ACK;
            uint32_t span = next - acked;
            s.ack = acked + (span ? tl_random() % (span + 1) : 0);
            if (mode == 4 && tl_random() % 6 == 0) /* about 2^31 away, either side */
                s.ack = acked + (1u << 31) + tl_random() % 40000 - 20000;
            if (ow_seq_lt(acked, s.ack) && ow_seq_le(s.ack, next))
                acked = s.ack;
            s.win = (uint16_t)(tl_random() % 4 ? 65535 : tl_random() % 65536);
        }
        tb.d[0].segs_unordered = tb.d[1].segs_unordered = true; /* the general path */
        if (!ta.d[OW_DIR_S2C].segs_unordered && ta.d[OW_DIR_S2C].nseg > 1)
            (*fast_seen)++;
        tcp_track_segment(&ta, &ha, dir, &s, ts);
        tcp_track_segment(&tb, &hb, dir, &s, ts);
        if (!same_list(&ta.d[0], &tb.d[0]) || !same_list(&ta.d[1], &tb.d[1]) ||
            !same_health(&ha, &hb) || memcmp(&ha, &hb, sizeof ha) != 0) {
            fprintf(stderr, "  mode %d: trackers differ after segment %d\n", mode, i);
            return false;
        }
    }
    return true;
}

static void random_streams(void)
{
    for (int mode = 0; mode <= 4; mode++) {
        tl_seed(0x9E3779B97F4A7C15ull * (uint64_t)(mode + 1));
        int fast_seen = 0, ok = 0, runs = 300;
        for (int r = 0; r < runs; r++)
            ok += run_one(mode, 400, &fast_seen);
        CHECK_EQ_INT(ok, runs);
        CHECK(fast_seen > 0); /* the fast path was taken */
    }
}

/* A stream in order: the list stays ordered and an ACK takes the acknowledged prefix. */
static void in_order_prefix(void)
{
    tcp_track t;
    tcp_health h;
    tcp_track_init(&t, &h);
    ow_tcp_seg s = {.flags = OW_TH_ACK, .wscale = -1, .win = 100};
    for (uint32_t i = 0; i < 10; i++) {
        s.seq = 0xFFFFFF00u + i * 100; /* across the wrap */
        s.payload_wirelen = s.payload_caplen = 100;
        tcp_track_segment(&t, &h, OW_DIR_S2C, &s, 1.0 + i);
    }
    CHECK_EQ_INT(t.d[OW_DIR_S2C].nseg, 10);
    CHECK(!t.d[OW_DIR_S2C].segs_unordered);
    ow_tcp_seg a = {.flags = OW_TH_ACK, .wscale = -1, .win = 100, .ack = 0xFFFFFF00u + 450};
    tcp_track_segment(&t, &h, OW_DIR_C2S, &a, 20.0);
    CHECK_EQ_INT(t.d[OW_DIR_S2C].nseg, 6); /* four whole segments acknowledged */
    CHECK_EQ_INT(t.d[OW_DIR_S2C].seg[0].seq, 0xFFFFFF00u + 400);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].max_seg_acked, 100);
    /* a retransmission of older data makes it unordered until the list empties */
    s.seq = 0xFFFFFF00u + 420;
    s.payload_wirelen = s.payload_caplen = 50;
    tcp_track_segment(&t, &h, OW_DIR_S2C, &s, 21.0);
    CHECK(t.d[OW_DIR_S2C].segs_unordered);
    a.ack = 0xFFFFFF00u + 1000;
    tcp_track_segment(&t, &h, OW_DIR_C2S, &a, 22.0);
    CHECK_EQ_INT(t.d[OW_DIR_S2C].nseg, 0);
    CHECK(!t.d[OW_DIR_S2C].segs_unordered);
}

int main(void)
{
    in_order_prefix();
    random_streams();
    TEST_MAIN_END("capture_track_order");
}
