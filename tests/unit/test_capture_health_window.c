/* test_capture_health_window: the receiver's window scale TCP health keeps from the handshake
 * (each direction's data is limited by the window its peer advertises, scaled by the peer's
 * own shift, and only when both SYNs announced scaling; a repeated SYN rescales the window
 * already advertised), and unacked_bytes as readers see it
 * right after each segment, without tcp_track_finish. */
#include "capture/tcp_track.h"
#include "testlib.h"

enum { ISN_C = 1000, ISN_S = 50000 };

static void seg(tcp_track *t, tcp_health *h, int dir, ow_tcp_seg s, double ts)
{
    tcp_track_segment(t, h, dir, &s, ts);
}

/* Handshake with the given shifts (-1: the option absent). */
static void handshake(tcp_track *t, tcp_health *h, int client_ws, int server_ws)
{
    tcp_track_init(t, h);
    seg(t, h, OW_DIR_C2S,
        (ow_tcp_seg){.seq = ISN_C, .flags = OW_TH_SYN, .wscale = (int8_t)client_ws, .win = 100},
        1.0);
    seg(t, h, OW_DIR_S2C,
        (ow_tcp_seg){.seq = ISN_S,
                     .ack = ISN_C + 1,
                     .flags = OW_TH_SYN | OW_TH_ACK,
                     .wscale = (int8_t)server_ws,
                     .win = 100},
        1.1);
    seg(t, h, OW_DIR_C2S,
        (ow_tcp_seg){
            .seq = ISN_C + 1, .ack = ISN_S + 1, .flags = OW_TH_ACK, .wscale = -1, .win = 100},
        1.2);
}

/* The server sends 3 segments of 100 bytes (300 in flight) against a client window of 100. */
static uint32_t server_fills(int client_ws, int server_ws)
{
    tcp_track t;
    tcp_health h;
    handshake(&t, &h, client_ws, server_ws);
    for (uint32_t i = 0; i < 3; i++) {
        ow_tcp_seg s = {.seq = ISN_S + 1 + i * 100,
                        .ack = ISN_C + 1,
                        .flags = OW_TH_ACK,
                        .wscale = -1,
                        .win = 100,
                        .payload_wirelen = 100,
                        .payload_caplen = 100};
        seg(&t, &h, OW_DIR_S2C, s, 2.0 + i);
        CHECK_EQ_INT(h.dir[OW_DIR_S2C].unacked_bytes, (i + 1) * 100);
    }
    return h.dir[OW_DIR_S2C].window_full;
}

static void window_scale_from_handshake(void)
{
    /* without scaling on both sides the window is not judged (its scale is unknown) */
    CHECK_EQ_INT(server_fills(-1, -1), 0);
    CHECK_EQ_INT(server_fills(1, -1), 0);
    CHECK_EQ_INT(server_fills(-1, 4), 0);
    CHECK_EQ_INT(server_fills(1, 4), 1); /* the client's shift: 100 << 1 = 200 <= 300 */
    CHECK_EQ_INT(server_fills(2, 0), 0); /* 100 << 2 = 400 > 300 */
    CHECK_EQ_INT(server_fills(0, 2), 1); /* the server's own shift does not apply */
}

/* A repeated SYN announcing another shift rescales the window already advertised. */
static void window_rescaled_by_repeated_syn(void)
{
    tcp_track t;
    tcp_health h;
    handshake(&t, &h, 1, 4); /* the client's ACK advertised 100 << 1 */
    seg(&t, &h, OW_DIR_C2S, (ow_tcp_seg){.seq = ISN_C, .flags = OW_TH_SYN, .wscale = 3, .win = 100},
        1.5); /* now 100 << 3 = 800 */
    for (uint32_t i = 0; i < 3; i++) {
        ow_tcp_seg s = {.seq = ISN_S + 1 + i * 100,
                        .ack = ISN_C + 1,
                        .flags = OW_TH_ACK,
                        .wscale = -1,
                        .win = 100,
                        .payload_wirelen = 100,
                        .payload_caplen = 100};
        seg(&t, &h, OW_DIR_S2C, s, 2.0 + i);
    }
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].window_full, 0);
    CHECK_EQ_INT(h.dir[OW_DIR_C2S].wscale, 3);
}

/* unacked_bytes follows each ACK and the FIN without tcp_track_finish. */
static void unacked_after_each_segment(void)
{
    tcp_track t;
    tcp_health h;
    handshake(&t, &h, 7, 7);
    ow_tcp_seg d = {.seq = ISN_S + 1,
                    .ack = ISN_C + 1,
                    .flags = OW_TH_ACK,
                    .wscale = -1,
                    .win = 100,
                    .payload_wirelen = 500,
                    .payload_caplen = 500};
    seg(&t, &h, OW_DIR_S2C, d, 2.0);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].unacked_bytes, 500);
    ow_tcp_seg a = {
        .seq = ISN_C + 1, .ack = ISN_S + 201, .flags = OW_TH_ACK, .wscale = -1, .win = 100};
    seg(&t, &h, OW_DIR_C2S, a, 2.1);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].unacked_bytes, 300);
    ow_tcp_seg fin = {.seq = ISN_S + 501,
                      .ack = ISN_C + 1,
                      .flags = OW_TH_ACK | OW_TH_FIN,
                      .wscale = -1,
                      .win = 100};
    seg(&t, &h, OW_DIR_S2C, fin, 2.2);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].unacked_bytes, 300); /* the FIN is no data */
    a.ack = ISN_S + 502;
    seg(&t, &h, OW_DIR_C2S, a, 2.3);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].unacked_bytes, 0);
    CHECK_EQ_INT(h.dir[OW_DIR_S2C].acked_bytes, 500);
}

int main(void)
{
    window_scale_from_handshake();
    window_rescaled_by_repeated_syn();
    unacked_after_each_segment();
    TEST_MAIN_END("capture_health_window");
}
