/* tsfwd: a Tailscale-like userspace forwarder for the test tailnet. It opens one TUN device
 * named tailscale0 inside each of two network namespaces (server and client) and copies IP
 * packets between them, optionally injecting faults on the way: a path-MTU black hole
 * (server->client packets longer than N bytes vanish silently, on all or on a hash-selected
 * fraction of TCP connections), seeded random loss, and a fixed one-way delay.
 *
 * With --vnet it opens the TUNs with IFF_VNET_HDR and turns on checksum/TSO offload
 * (TUNSETOFFLOAD), as Tailscale >= 1.36 does: the kernel then hands the forwarder TCP
 * super-packets of up to 64 KB with partial checksums, and tcpdump on tailscale0 sees them.
 * Each packet is passed to the other TUN with its virtio_net_hdr intact, so the receiving
 * kernel accepts it as one GSO packet.
 *
 * Test-harness tool, not part of orphanwatch. Build: cc -std=c11 -O2 -Wall -Wextra. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TUN_PATH        "/dev/net/tun"
#define DEFAULT_IFNAME  "tailscale0"
#define VNET_HDR_LEN    ((int)sizeof(struct virtio_net_hdr))
#define MAX_PACKET      (65535 + 64)          /* largest IP packet plus a vnet header */
#define QUEUE_MAX_PKTS  16384                 /* per direction, only with --delay */
#define QUEUE_MAX_BYTES (64u * 1024u * 1024u) /* per direction, only with --delay */
#define MAX_DROP_LOGS   2000                  /* -v log lines about drops, then silence */
#define VNET_TXQUEUELEN 1000                  /* TUN txqueue in --vnet mode */
#define READY_WAIT_MS   100                   /* poll timeout when idle (signal checks) */
#define PROTO_TCP       6

enum dir { DIR_S2C = 0, DIR_C2S = 1, DIR_COUNT };
static const char *const dir_names[DIR_COUNT] = {"server->client", "client->server"};

struct options {
    const char *server_ns, *client_ns, *ifname, *ready_file;
    int vnet, stats, verbose, txqueuelen;
    long blackhole_over; /* 0 = off */
    double blackhole_fraction, loss;
    uint64_t seed;
    long delay_ms;
};

struct counters {
    unsigned long long packets, bytes, gso_packets, max_len;
    unsigned long long drop_blackhole, drop_loss, drop_queue, drop_write, drop_short;
};

struct queued {
    struct queued *next;
    uint64_t due_ns;
    size_t len;
    unsigned char data[];
};

struct queue {
    struct queued *head, *tail;
    size_t count, bytes;
};

struct forwarder {
    struct options opt;
    int fd[2]; /* [0] = server TUN, [1] = client TUN */
    struct counters cnt[DIR_COUNT];
    struct queue q[DIR_COUNT];
    uint64_t rng;
    unsigned drop_logs;
};

static volatile sig_atomic_t stop_requested, stats_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_stats(int sig)
{
    (void)sig;
    stats_requested = 1;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tsfwd: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64: seeds the loss PRNG and mixes connection hashes */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double next_uniform(uint64_t *state)
{
    *state = mix64(*state);
    return (double)(*state >> 11) / 9007199254740992.0; /* [0, 1) */
}

static void usage(FILE *out)
{
    fputs("usage: tsfwd --server-ns NS --client-ns NS [options]\n"
          "  --server-ns NS          namespace (name under /run/netns, or a path) of the server\n"
          "  --client-ns NS          namespace of the client\n"
          "  --ifname NAME           TUN name in both namespaces (default tailscale0)\n"
          "  --vnet                  IFF_VNET_HDR + TUNSETOFFLOAD(CSUM|TSO4|TSO6): 64 KB "
          "super-packets\n"
          "  --txqueuelen N          TUN txqueuelen (default: kernel's, 1000 with --vnet)\n"
          "  --blackhole-over N      drop server->client packets longer than N bytes, silently\n"
          "  --blackhole-fraction F  ... only on a hash-selected fraction F of TCP connections\n"
          "  --seed S                seed for --blackhole-fraction and --loss (default 1)\n"
          "  --loss P                drop each packet (both directions) with probability P\n"
          "  --delay MS              one-way delay for every packet, both directions\n"
          "  --ready-file PATH       write \"<pid>\" there once both TUNs exist\n"
          "  --stats                 print counters on exit (and on SIGUSR1)\n"
          "  -v, --verbose           log dropped packets (at most 2000 lines)\n",
          out);
}

static double parse_double(const char *s, const char *what, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi)
        die("bad %s '%s' (expected %g..%g)", what, s, lo, hi);
    return v;
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die("bad %s '%s' (expected %ld..%ld)", what, s, lo, hi);
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    enum {
        O_SNS = 256,
        O_CNS,
        O_IF,
        O_VNET,
        O_TXQ,
        O_BH,
        O_BHF,
        O_SEED,
        O_LOSS,
        O_DELAY,
        O_READY,
        O_STATS
    };
    static const struct option longopts[] = {
        {"server-ns", required_argument, 0, O_SNS},
        {"client-ns", required_argument, 0, O_CNS},
        {"ifname", required_argument, 0, O_IF},
        {"vnet", no_argument, 0, O_VNET},
        {"txqueuelen", required_argument, 0, O_TXQ},
        {"blackhole-over", required_argument, 0, O_BH},
        {"blackhole-fraction", required_argument, 0, O_BHF},
        {"seed", required_argument, 0, O_SEED},
        {"loss", required_argument, 0, O_LOSS},
        {"delay", required_argument, 0, O_DELAY},
        {"ready-file", required_argument, 0, O_READY},
        {"stats", no_argument, 0, O_STATS},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->ifname = DEFAULT_IFNAME;
    o->blackhole_fraction = 1.0;
    o->seed = 1;
    int c;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case O_SNS:
            o->server_ns = optarg;
            break;
        case O_CNS:
            o->client_ns = optarg;
            break;
        case O_IF:
            o->ifname = optarg;
            break;
        case O_VNET:
            o->vnet = 1;
            break;
        case O_TXQ:
            o->txqueuelen = (int)parse_long(optarg, "txqueuelen", 1, 1000000);
            break;
        case O_BH:
            o->blackhole_over = parse_long(optarg, "blackhole-over", 20, 65535);
            break;
        case O_BHF:
            o->blackhole_fraction = parse_double(optarg, "blackhole-fraction", 0.0, 1.0);
            break;
        case O_SEED:
            o->seed = (uint64_t)parse_long(optarg, "seed", 0, 0x7fffffffL);
            break;
        case O_LOSS:
            o->loss = parse_double(optarg, "loss", 0.0, 1.0);
            break;
        case O_DELAY:
            o->delay_ms = parse_long(optarg, "delay", 0, 60000);
            break;
        case O_READY:
            o->ready_file = optarg;
            break;
        case O_STATS:
            o->stats = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || !o->server_ns || !o->client_ns) {
        usage(stderr);
        exit(2);
    }
    if (strlen(o->ifname) >= IFNAMSIZ)
        die("interface name too long: %s", o->ifname);
    if (o->vnet && !o->txqueuelen)
        o->txqueuelen = VNET_TXQUEUELEN;
}

/* ---- TUN setup ---- */

static int open_netns(const char *ns)
{
    char path[512];
    if (strchr(ns, '/'))
        snprintf(path, sizeof path, "%s", ns);
    else
        snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("cannot open network namespace %s: %s", path, strerror(errno));
    return fd;
}

static void set_txqueuelen(const char *ifname, int qlen)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        die("socket: %s", strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_qlen = qlen;
    if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
        die("SIOCSIFTXQLEN %s: %s", ifname, strerror(errno));
    close(s);
}

/* Creates the TUN inside namespace `ns` (the device lives in the namespace of the thread that
 * issues TUNSETIFF), then returns to the original namespace. */
static int open_tun_in(const char *ns, const struct options *o)
{
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0)
        die("cannot open /proc/self/ns/net: %s", strerror(errno));
    int target = open_netns(ns);
    if (setns(target, CLONE_NEWNET) < 0)
        die("setns %s: %s", ns, strerror(errno));
    int fd = open(TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        die("open %s: %s", TUN_PATH, strerror(errno));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (o->vnet ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", o->ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        die("TUNSETIFF %s in %s: %s", o->ifname, ns, strerror(errno));
    if (o->vnet) {
        int hdrlen = VNET_HDR_LEN;
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdrlen) < 0)
            die("TUNSETVNETHDRSZ: %s", strerror(errno));
        unsigned long offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        if (ioctl(fd, TUNSETOFFLOAD, offload) < 0)
            die("TUNSETOFFLOAD: %s", strerror(errno));
    }
    if (o->txqueuelen)
        set_txqueuelen(o->ifname, o->txqueuelen);
    if (setns(home, CLONE_NEWNET) < 0)
        die("setns back: %s", strerror(errno));
    close(target);
    close(home);
    return fd;
}

static void write_ready_file(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
        die("cannot write %s: %s", tmp, strerror(errno));
    if (rename(tmp, path) < 0)
        die("rename %s: %s", path, strerror(errno));
}

/* ---- packet inspection ---- */

struct pkt_info {
    int ipver, proto;
    size_t ip_len;      /* IP packet length as seen on the TUN (a super-packet may be 64 KB) */
    size_t segment_len; /* largest wire segment it stands for (== ip_len without GSO) */
    const unsigned char *src, *dst;
    size_t addr_len;
    uint16_t sport, dport;
    int has_ports;
};

static uint16_t be16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Fills `pi` from an IP packet; returns 0 if it is not a parseable IPv4/IPv6 packet. */
static int inspect_ip(const unsigned char *p, size_t len, struct pkt_info *pi)
{
    memset(pi, 0, sizeof *pi);
    pi->ip_len = pi->segment_len = len;
    if (len < 1)
        return 0;
    size_t l4off;
    pi->ipver = p[0] >> 4;
    if (pi->ipver == 4) {
        if (len < 20 || (p[0] & 0x0f) < 5 || (size_t)(p[0] & 0x0f) * 4 > len)
            return 0;
        l4off = (size_t)(p[0] & 0x0f) * 4;
        pi->proto = p[9];
        pi->src = p + 12;
        pi->dst = p + 16;
        pi->addr_len = 4;
        if ((be16(p + 6) & 0x3fff) != 0) /* a fragment: no ports to hash */
            return 1;
    } else if (pi->ipver == 6) {
        if (len < 40)
            return 0;
        l4off = 40;
        pi->proto = p[6]; /* extension headers are not followed: then no ports */
        pi->src = p + 8;
        pi->dst = p + 24;
        pi->addr_len = 16;
    } else {
        return 0;
    }
    if (pi->proto == PROTO_TCP && len >= l4off + 20) {
        pi->sport = be16(p + l4off);
        pi->dport = be16(p + l4off + 2);
        pi->has_ports = 1;
    }
    return 1;
}

/* With GSO the TUN packet stands for several wire segments of (headers + gso_size) bytes. */
static void apply_gso(const struct virtio_net_hdr *vh, const unsigned char *ip, size_t len,
                      struct pkt_info *pi)
{
    if ((vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE || !vh->gso_size)
        return;
    size_t l4off = pi->ipver == 4 ? (size_t)(ip[0] & 0x0f) * 4 : 40;
    size_t hdrs = l4off + 20;
    if (pi->proto == PROTO_TCP && len >= l4off + 20)
        hdrs = l4off + (size_t)(ip[l4off + 12] >> 4) * 4;
    size_t seg = hdrs + vh->gso_size;
    pi->segment_len = seg < len ? seg : len;
}

/* ---- fault injection ---- */

static uint64_t connection_hash(const struct pkt_info *pi, uint64_t seed)
{
    /* server->client packets only: src is the server end. FNV-1a, then a final mix. */
    uint64_t h = 1469598103934665603ull ^ mix64(seed);
    unsigned char ports[5] = {(unsigned char)pi->proto, (unsigned char)(pi->sport >> 8),
                              (unsigned char)pi->sport, (unsigned char)(pi->dport >> 8),
                              (unsigned char)pi->dport};
    for (size_t i = 0; i < pi->addr_len; i++)
        h = (h ^ pi->src[i]) * 1099511628211ull;
    for (size_t i = 0; i < pi->addr_len; i++)
        h = (h ^ pi->dst[i]) * 1099511628211ull;
    for (size_t i = 0; i < sizeof ports; i++)
        h = (h ^ ports[i]) * 1099511628211ull;
    return mix64(h);
}

static int blackholed(const struct forwarder *fw, enum dir d, const struct pkt_info *pi)
{
    const struct options *o = &fw->opt;
    if (d != DIR_S2C || !o->blackhole_over || pi->segment_len <= (size_t)o->blackhole_over)
        return 0;
    if (o->blackhole_fraction >= 1.0)
        return 1;
    if (pi->proto != PROTO_TCP || !pi->has_ports)
        return 0;
    double u = (double)(connection_hash(pi, o->seed) >> 11) / 9007199254740992.0;
    return u < o->blackhole_fraction;
}

static void format_addr(char *out, size_t n, const struct pkt_info *pi, const unsigned char *a,
                        uint16_t port)
{
    if (pi->addr_len == 4) {
        snprintf(out, n, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
        return;
    }
    size_t k = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < 16 && k < n; i += 2)
        k += (size_t)snprintf(out + k, n - k, "%s%x", i ? ":" : "", be16(a + i));
    if (k < n)
        snprintf(out + k, n - k, "]:%u", port);
}

static void log_drop(struct forwarder *fw, enum dir d, const struct pkt_info *pi, const char *why)
{
    if (!fw->opt.verbose || fw->drop_logs >= MAX_DROP_LOGS)
        return;
    char s[64], t[64];
    format_addr(s, sizeof s, pi, pi->src, pi->sport);
    format_addr(t, sizeof t, pi, pi->dst, pi->dport);
    fprintf(stderr, "tsfwd: drop (%s) %s proto %d %s -> %s len %zu seg %zu\n", why, dir_names[d],
            pi->proto, s, t, pi->ip_len, pi->segment_len);
    if (++fw->drop_logs == MAX_DROP_LOGS)
        fprintf(stderr, "tsfwd: further drops are not logged\n");
}

/* ---- delay queue ---- */

static int enqueue(struct queue *q, const unsigned char *data, size_t len, uint64_t due)
{
    if (q->count >= QUEUE_MAX_PKTS || q->bytes + len > QUEUE_MAX_BYTES)
        return -1;
    struct queued *e = malloc(sizeof *e + len);
    if (!e)
        return -1;
    e->next = NULL;
    e->due_ns = due;
    e->len = len;
    memcpy(e->data, data, len);
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->count++;
    q->bytes += len;
    return 0;
}

static void write_out(struct forwarder *fw, enum dir d, const unsigned char *data, size_t len)
{
    int out = fw->fd[d == DIR_S2C ? 1 : 0];
    ssize_t n = write(out, data, len);
    if (n != (ssize_t)len)
        fw->cnt[d].drop_write++;
}

static void flush_due(struct forwarder *fw, uint64_t now)
{
    for (int d = 0; d < DIR_COUNT; d++) {
        struct queue *q = &fw->q[d];
        while (q->head && q->head->due_ns <= now) {
            struct queued *e = q->head;
            write_out(fw, (enum dir)d, e->data, e->len);
            q->head = e->next;
            if (!q->head)
                q->tail = NULL;
            q->count--;
            q->bytes -= e->len;
            free(e);
        }
    }
}

static int next_timeout_ms(const struct forwarder *fw, uint64_t now)
{
    uint64_t best = UINT64_MAX;
    for (int d = 0; d < DIR_COUNT; d++)
        if (fw->q[d].head && fw->q[d].head->due_ns < best)
            best = fw->q[d].head->due_ns;
    if (best == UINT64_MAX)
        return READY_WAIT_MS;
    if (best <= now)
        return 0;
    uint64_t ms = (best - now + 999999) / 1000000;
    return ms > READY_WAIT_MS ? READY_WAIT_MS : (int)ms;
}

/* ---- forwarding ---- */

static void handle_packet(struct forwarder *fw, enum dir d, const unsigned char *buf, size_t n)
{
    struct counters *c = &fw->cnt[d];
    size_t hdr = fw->opt.vnet ? (size_t)VNET_HDR_LEN : 0;
    if (n <= hdr) {
        c->drop_short++;
        return;
    }
    const unsigned char *ip = buf + hdr;
    size_t iplen = n - hdr;
    struct pkt_info pi;
    inspect_ip(ip, iplen, &pi);
    if (hdr) {
        struct virtio_net_hdr vh;
        memcpy(&vh, buf, sizeof vh);
        if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE)
            c->gso_packets++;
        apply_gso(&vh, ip, iplen, &pi);
    }
    if (blackholed(fw, d, &pi)) {
        c->drop_blackhole++;
        log_drop(fw, d, &pi, "blackhole");
        return;
    }
    if (fw->opt.loss > 0 && next_uniform(&fw->rng) < fw->opt.loss) {
        c->drop_loss++;
        log_drop(fw, d, &pi, "loss");
        return;
    }
    c->packets++;
    c->bytes += iplen;
    if (iplen > c->max_len)
        c->max_len = iplen;
    if (fw->opt.delay_ms > 0) {
        uint64_t due = now_ns() + (uint64_t)fw->opt.delay_ms * 1000000u;
        if (enqueue(&fw->q[d], buf, n, due) < 0)
            c->drop_queue++;
        return;
    }
    write_out(fw, d, buf, n);
}

static void print_stats(const struct forwarder *fw)
{
    for (int d = 0; d < DIR_COUNT; d++) {
        const struct counters *c = &fw->cnt[d];
        fprintf(stderr,
                "tsfwd: %s: %llu packets %llu bytes (max %llu, gso %llu); dropped: blackhole "
                "%llu loss %llu queue %llu write %llu short %llu\n",
                dir_names[d], c->packets, c->bytes, c->max_len, c->gso_packets, c->drop_blackhole,
                c->drop_loss, c->drop_queue, c->drop_write, c->drop_short);
    }
}

/* Reads everything available on one TUN (bounded per wakeup so neither side starves). */
static int drain(struct forwarder *fw, enum dir d, unsigned char *buf)
{
    int in = fw->fd[d == DIR_S2C ? 0 : 1];
    for (int i = 0; i < 256; i++) {
        ssize_t n = read(in, buf, MAX_PACKET);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            fprintf(stderr, "tsfwd: read %s: %s\n", dir_names[d], strerror(errno));
            return -1;
        }
        if (n == 0)
            return -1;
        handle_packet(fw, d, buf, (size_t)n);
    }
    return 0;
}

static int run(struct forwarder *fw)
{
    static unsigned char buf[MAX_PACKET];
    struct pollfd p[2] = {{fw->fd[0], POLLIN, 0}, {fw->fd[1], POLLIN, 0}};
    while (!stop_requested) {
        if (stats_requested) {
            stats_requested = 0;
            print_stats(fw);
        }
        int r = poll(p, 2, next_timeout_ms(fw, now_ns()));
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "tsfwd: poll: %s\n", strerror(errno));
            return 1;
        }
        if (r > 0) {
            if ((p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) ||
                (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)))
                return 1;
            if ((p[0].revents & POLLIN) && drain(fw, DIR_S2C, buf) < 0)
                return 1;
            if ((p[1].revents & POLLIN) && drain(fw, DIR_C2S, buf) < 0)
                return 1;
        }
        flush_due(fw, now_ns());
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct forwarder fw;
    parse_args(argc, argv, &fw.opt);
    fw.rng = mix64(fw.opt.seed ^ 0x5eed5eedull);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_stats;
    sigaction(SIGUSR1, &sa, NULL);

    fw.fd[0] = open_tun_in(fw.opt.server_ns, &fw.opt);
    fw.fd[1] = open_tun_in(fw.opt.client_ns, &fw.opt);
    if (fw.opt.ready_file)
        write_ready_file(fw.opt.ready_file);
    fprintf(stderr,
            "tsfwd: forwarding %s <-> %s (%s%s), blackhole-over %ld fraction %g seed %llu loss %g "
            "delay %ld ms\n",
            fw.opt.server_ns, fw.opt.client_ns, fw.opt.ifname, fw.opt.vnet ? ", vnet+TSO" : "",
            fw.opt.blackhole_over, fw.opt.blackhole_fraction, (unsigned long long)fw.opt.seed,
            fw.opt.loss, fw.opt.delay_ms);
    int rc = run(&fw);
    if (fw.opt.stats)
        print_stats(&fw);
    close(fw.fd[0]);
    close(fw.fd[1]);
    return rc;
}
