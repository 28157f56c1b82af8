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
#define STANDIN_BASE 0xF0000000u /* 240.0.0.0/4 */
/* The stand-in address (host order) of one side of flow f. */
static inline uint32_t standin_addr(const ow_flow_int *f, int client_side)
{
    return STANDIN_BASE + 2 * f->slot + (client_side ? 0 : 1);
}
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

/* nids_hash.c: keys the hash libnids' stream table uses (when it is ours: OW_NIDS_HASH) */
void nids_hash_init(void);
#ifdef OW_NIDS_HASH
extern uint64_t nids_hash_calls; /* times libnids called it (tests: it is the one used) */
unsigned int mkhash(unsigned int src, unsigned short sport, unsigned int dest,
                    unsigned short dport);
#endif

/* gaps.c */
/* Data fed to libnids beyond the bytes it has in order (so holes can be told from it). */
void gaps_note_seen(flow_reasm *r, uint32_t start, uint32_t end);
/* Fills the holes in direction dir up to sequence number limit (libnids' queued out-of-order
 * data stays, so it is delivered). */
void gaps_fill_until(capture *c, ow_flow_int *f, int dir, uint32_t limit);
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

/* gaps.c, inline: it runs for every acknowledgement and nearly always has nothing to do.
 * The peer acknowledged ack for direction dir: bytes up to there exist even if unseen. An
 * acknowledgement beyond all data seen may include a FIN the capture missed, so its last
 * sequence number is only filled once later data shows it was a byte. */
static inline void gaps_fill_acked(capture *c, ow_flow_int *f, int dir, uint32_t ack)
{
    const track_dir *td = &f->track.d[dir];
    const flow_reasm *r = &f->rs[dir];
    uint32_t limit = ack;
    if (td->fin_sent && ow_seq_lt(td->fin_seq, ack))
        limit = td->fin_seq;
    else if (!td->fin_sent && (!r->data_seen || ow_seq_lt(r->data_end, ack)))
        limit = ack - 1;
    if (f->nids && ow_seq_lt(nids_expected_seq(f->nids, dir), limit))
        gaps_fill_until(c, f, dir, limit);
}

#endif
