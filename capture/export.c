/* export: the packets of some connections, out of capture files (see export.h). Each frame
 * is decoded with the same link-layer, IP and TCP decoders the capture path uses; frames that
 * are not TCP (nor IP fragments, TCP only once reassembled) are not copied. */
#include "capture/export.h"
#include "capture/compressed.h"
#include "capture/packet.h"
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool conn_matches(const ow_conn_key *k, const ow_ip *ip, const ow_tcp_seg *t, double ts)
{
    if (ts < k->first_ts - OW_EXPORT_SLACK_S || ts > k->last_ts + OW_EXPORT_SLACK_S)
        return false;
    bool c2s = ow_addr_eq(&ip->src, &k->client) && ow_addr_eq(&ip->dst, &k->server) &&
               t->sport == k->client_port && t->dport == k->server_port;
    bool s2c = ow_addr_eq(&ip->src, &k->server) && ow_addr_eq(&ip->dst, &k->client) &&
               t->sport == k->server_port && t->dport == k->client_port;
    return c2s || s2c;
}

static bool packet_wanted(int dlt, const struct pcap_pkthdr *h, const uint8_t *frame,
                          const ow_conn_key *conns, size_t n)
{
    ow_l3 l3;
    ow_ip ip;
    ow_tcp_seg tcp;
    if (ow_link_decode(dlt, frame, h->caplen, h->len, &l3) != OW_PKT_OK)
        return false;
    enum ow_pkt_verdict v = l3.version == 6 ? ow_ipv6_decode(&l3, &ip) : ow_ipv4_decode(&l3, &ip);
    if (v != OW_PKT_OK || ow_tcp_decode(&ip, &tcp) != OW_PKT_OK)
        return false;
    double ts = (double)h->ts.tv_sec + h->ts.tv_usec / 1e6;
    for (size_t i = 0; i < n; i++)
        if (conn_matches(&conns[i], &ip, &tcp, ts))
            return true;
    return false;
}

static pcap_t *open_source(const char *src, char *err, size_t errlen)
{
    pcap_t *p = compressed_pcap_open(src, err, errlen); /* a gzip one as `read` reads it */
    if (!p)
        return NULL;
    int dlt = pcap_datalink(p);
    if (!ow_link_supported(dlt)) {
        snprintf(err, errlen, "%s: unsupported link type %s", src,
                 pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
        pcap_close(p);
        return NULL;
    }
    return p;
}

/* Copies the packets of p that belong to conns into d; returns how many. */
static long copy_wanted(pcap_t *p, const char *src, pcap_dumper_t *d, const ow_conn_key *conns,
                        size_t n)
{
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *frame;
    long written = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &frame)) == 1) {
        if (packet_wanted(dlt, h, frame, conns, n)) {
            pcap_dump((u_char *)d, h, frame);
            written++;
        }
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "orphanwatch: %s: %s (exported what came before)\n", src, pcap_geterr(p));
    return written;
}

/* The files after the first, into the first one's dumper; -1 when one cannot be read. */
static long copy_others(const char *const *srcs, size_t n_src, int dlt, pcap_dumper_t *d,
                        const ow_conn_key *conns, size_t n, char *err, size_t errlen)
{
    long written = 0;
    for (size_t i = 1; i < n_src; i++) {
        pcap_t *p = open_source(srcs[i], err, errlen);
        if (!p)
            return -1;
        if (pcap_datalink(p) != dlt) {
            snprintf(err, errlen, "%s: another link type than %s", srcs[i], srcs[0]);
            pcap_close(p);
            return -1;
        }
        written += copy_wanted(p, srcs[i], d, conns, n);
        pcap_close(p);
    }
    return written;
}

long ow_export_packets(const char *const *srcs, size_t n_src, const ow_conn_key *conns, size_t n,
                       const char *out, char *err, size_t errlen)
{
    if (n_src == 0) {
        snprintf(err, errlen, "no capture file to export from");
        return -1;
    }
    pcap_t *p = open_source(srcs[0], err, errlen);
    if (!p)
        return -1;
    pcap_dumper_t *d = pcap_dump_open(p, out);
    if (!d) {
        snprintf(err, errlen, "%s: %s", out, pcap_geterr(p));
        pcap_close(p);
        return -1;
    }
    long written = copy_wanted(p, srcs[0], d, conns, n);
    long others = copy_others(srcs, n_src, pcap_datalink(p), d, conns, n, err, errlen);
    written = others < 0 ? -1 : written + others;
    if (pcap_dump_flush(d) != 0 && written >= 0) {
        snprintf(err, errlen, "%s: write failed", out);
        written = -1;
    }
    pcap_dump_close(d);
    pcap_close(p);
    if (written < 0 && n_src > 1)
        unlink(out);
    return written;
}
