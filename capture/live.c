/* live: capturing on an interface (tailscale0 RAW, `any` SLL2, Ethernet): opening it with a
 * kernel buffer and a BPF filter for the server ports, clear messages when that fails, kernel
 * drop counters, and the interface list. Not immediate mode: on Linux that means TPACKET_V2,
 * one ring slot per packet sized for the snap length (256 KB: a 32 MB ring held 128 packets
 * and dropped under load); buffered TPACKET_V3 blocks are handed over at the latest after
 * LIVE_TIMEOUT_MS, which is soon enough for verdicts due at a grace deadline. */
#include "capture/capture_priv.h"
#include "capture/filter.h"
#include "capture/packet.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define LIVE_TIMEOUT_MS 100

static void activation_error(pcap_t *p, int rc, const char *iface, char *err, size_t errlen)
{
    switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
        snprintf(err, errlen,
                 "%s: permission denied: live capture needs root or CAP_NET_RAW (run with sudo; "
                 "privileges are dropped after opening)",
                 iface);
        break;
    case PCAP_ERROR_NO_SUCH_DEVICE:
        snprintf(err, errlen, "%s: no such interface (`orphanwatch interfaces` lists them): %s",
                 iface, pcap_geterr(p));
        break;
    case PCAP_ERROR_IFACE_NOT_UP:
        snprintf(err, errlen, "%s: the interface is down", iface);
        break;
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        snprintf(err, errlen, "%s: no permission for promiscuous mode (drop --promisc)", iface);
        break;
    default:
        snprintf(err, errlen, "%s: cannot capture: %s", iface, pcap_geterr(p));
    }
}

/* libpcap's words when the socket's interface is taken down or deleted */
static bool says_gone(const char *msg)
{
    return strstr(msg, "went down") || strstr(msg, "disappeared");
}

/* The kernel says at once that the interface went away, but hands over the ring block being
 * filled only when its timer (LIVE_TIMEOUT_MS) retires it: its packets were lost (seen: 543
 * of 3013 written just before the device went). Wait for that block once. */
bool src_live_gone(pkt_source *s, const char *msg)
{
    if (!s->live || s->gone || !says_gone(msg))
        return false;
    s->gone = true;
    snprintf(s->gone_msg, sizeof s->gone_msg, "%s", msg);
    struct timespec wait = {0, 3L * LIVE_TIMEOUT_MS * 1000000L};
    nanosleep(&wait, NULL);
    return true;
}

void src_live_error(const char *iface, char *err, size_t errlen)
{
    char why[PCAP_ERRBUF_SIZE];
    snprintf(why, sizeof why, "%s", err);
    bool gone = says_gone(why);
    snprintf(err, errlen, "%s: %s%s", iface, why,
             gone ? " (a TUN device such as tailscale0 goes away when tailscaled stops or "
                    "restarts); "
                    "orphanwatch gave up root after opening it and cannot open it again: "
                    "start it again once the interface is back, or run it under a supervisor "
                    "that restarts it (systemd: Restart=on-failure)"
                  : "");
}

int src_open_live(pkt_source *s, const capture_opts *o, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(o->iface, ebuf);
    if (!p) {
        snprintf(err, errlen, "%s: cannot open: %s", o->iface, ebuf);
        return -1;
    }
    pcap_set_snaplen(p, o->snaplen);
    pcap_set_promisc(p, o->promisc ? 1 : 0);
    pcap_set_timeout(p, LIVE_TIMEOUT_MS);
    pcap_set_buffer_size(p, o->buffer_mb * 1024 * 1024);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        activation_error(p, rc, o->iface, err, errlen);
        pcap_close(p);
        return -1;
    }
    if (rc > 0)
        fprintf(stderr, "orphanwatch: %s: warning: %s\n", o->iface, pcap_statustostr(rc));
    s->pcap = p;
    s->live = true;
    s->dlt = pcap_datalink(p);
    if (!ow_link_supported(s->dlt)) {
        char d[160];
        src_describe_dlt(s->dlt, d, sizeof d);
        snprintf(err, errlen, "%s: unsupported %s", o->iface, d);
        src_close(s);
        return -1;
    }
    if (capfilter_set(p, o, err, errlen) < 0 || pcap_setnonblock(p, 1, ebuf) < 0) {
        if (!*err)
            snprintf(err, errlen, "%s: %s", o->iface, ebuf);
        src_close(s);
        return -1;
    }
    return 0;
}

void capture_refresh_stats(capture *c)
{
    struct pcap_stat ps;
    if (!c->src.live || !c->src.pcap || pcap_stats(c->src.pcap, &ps) < 0)
        return;
    c->stats.kernel_drops = ps.ps_drop;
    c->stats.if_drops = ps.ps_ifdrop;
}

static void print_addresses(FILE *out, const pcap_if_t *d)
{
    for (const pcap_addr_t *a = d->addresses; a; a = a->next) {
        if (!a->addr)
            continue;
        char buf[INET6_ADDRSTRLEN];
        const void *raw = NULL;
        if (a->addr->sa_family == AF_INET)
            raw = &((const struct sockaddr_in *)(const void *)a->addr)->sin_addr;
        else if (a->addr->sa_family == AF_INET6)
            raw = &((const struct sockaddr_in6 *)(const void *)a->addr)->sin6_addr;
        if (raw && inet_ntop(a->addr->sa_family, raw, buf, sizeof buf))
            fprintf(out, " %s", buf);
    }
}

int capture_list_interfaces(FILE *out, char *err, size_t errlen)
{
    pcap_if_t *all = NULL;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    if (pcap_findalldevs(&all, ebuf) < 0) {
        snprintf(err, errlen, "cannot list interfaces: %s", ebuf);
        return -1;
    }
    for (const pcap_if_t *d = all; d; d = d->next) {
        fprintf(out, "%-16s %s%s%s", d->name, (d->flags & PCAP_IF_UP) ? "up" : "down",
                (d->flags & PCAP_IF_RUNNING) ? ",running" : "",
                (d->flags & PCAP_IF_LOOPBACK) ? ",loopback" : "");
        print_addresses(out, d);
        if (d->description)
            fprintf(out, "  (%s)", d->description);
        fputc('\n', out);
    }
    pcap_freealldevs(all);
    return 0;
}
