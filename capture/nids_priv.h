/* nids_priv: what the libnids glue's three files share: stand-in addresses (standin.c),
 * segments fed to libnids and libnids' view of one direction of a stream (nids_glue.c), and
 * capture gaps filled and announced (gaps.c). Internal to capture/. */
#ifndef OW_CAPTURE_NIDS_PRIV_H
#define OW_CAPTURE_NIDS_PRIV_H
#include "capture/capture_priv.h"
#include <nids.h>

#define LIBNIDS_FIN_SENT      120 /* libnids' half_stream state once the FIN was delivered */
#define LIBNIDS_FIN_CONFIRMED 121

/* standin.c */
uint32_t standin_addr(const ow_flow_int *f, int client_side);
void standin_tuple(const ow_flow_int *f, struct tuple4 *t);
/* The flow whose stand-in address is saddr_net (network order), or NULL. */
ow_flow_int *standin_flow(capture *c, uint32_t saddr_net, uint16_t sport, uint16_t dport);

/* nids_glue.c: one segment from direction dir as a clean IPv4 packet (payload NULL: zeros) */
void nids_feed_one(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
                   const uint8_t *payload, uint32_t len);
/* the same for any length: split so each piece fits an IPv4 packet, FIN on the last */
void nids_feed(capture *c, ow_flow_int *f, int dir, uint32_t seq, uint32_t ack, uint8_t flags,
               const uint8_t *payload, uint32_t len);
void nids_synth_handshake(capture *c, ow_flow_int *f, uint32_t client_isn, uint32_t server_isn);
void nids_sink_gap(capture *c, ow_flow_int *f, int dir, uint64_t len);

/* gaps.c */
/* Data fed to libnids beyond the bytes it has in order (so holes can be told from it). */
void gaps_note_seen(flow_reasm *r, uint32_t start, uint32_t end);
/* The peer acknowledged ack for direction dir: holes up to there are filled. */
void gaps_fill_acked(capture *c, ow_flow_int *f, int dir, uint32_t ack);
/* Before out-of-order data that would overflow libnids' queue: holes before it filled. */
void gaps_make_room(capture *c, ow_flow_int *f, int dir, const ow_tcp_seg *s);
/* Delivers what libnids holds out of order (holes filled), before a reset or the end. */
void gaps_flush(capture *c, ow_flow_int *f);
/* Counts the gap being cut out of direction dir and tells the sink (once per gap). */
void gaps_announce(capture *c, ow_flow_int *f, int dir);

/* libnids' view of one direction of a stream */

static inline struct half_stream *nids_sender_half(struct tcp_stream *s, int dir)
{
    return dir == OW_DIR_C2S ? &s->client : &s->server;
}

/* libnids' "client" half holds what the client receives, i.e. server->client data. */
static inline struct half_stream *nids_receiver_half(struct tcp_stream *s, int dir)
{
    return dir == OW_DIR_C2S ? &s->server : &s->client;
}

/* The next sequence number libnids expects in direction dir (URG is never passed on). */
static inline uint32_t nids_expected_seq(struct tcp_stream *s, int dir)
{
    return nids_sender_half(s, dir)->first_data_seq + (uint32_t)nids_receiver_half(s, dir)->count +
           (uint32_t)nids_receiver_half(s, dir)->urg_count;
}

static inline bool nids_sender_finished(struct tcp_stream *s, int dir)
{
    /* half_stream.state is a plain char: read as a byte, whatever char's signedness */
    int st = (unsigned char)nids_sender_half(s, dir)->state;
    return st == LIBNIDS_FIN_SENT || st == LIBNIDS_FIN_CONFIRMED;
}

#endif
