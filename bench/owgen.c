/* owgen.c: owgen's command line, the time-ordered scheduler that interleaves all live
 * connections of all page loads into one pcap, and the ground truth (JSON in the format of
 * shared/captures/NAME.json) plus a summary of what was written (HTTP messages, websocket frames)
 * for checking a decoder against. Build: cc -O2 -o owgen bench/owgen*.c -lz */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "owgen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_START_EPOCH 1795635562LL /* 2026-11-25, like the shared captures */
#define DEFAULT_PAGE_LOADS  100
#define TAIL_GAP_NS         (20 * NS_PER_S)
#define MAX_CLIENTS         60000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: owgen [options] -o FILE.pcap\n"
            "Deterministic, seeded generator of Bokeh server traffic as seen on the server's\n"
            "tailscale0 (server 100.64.0.1 / fd7a:115c:a1e0::1 port 5006).\n"
            "  -o FILE               output pcap ('-' for stdout)\n"
            "  --truth FILE.json     ground truth (format of shared/captures/*.json)\n"
            "  --seed N              random seed (default 1)\n"
            "  --page-loads N        number of page loads (default 100, or the plan's length)\n"
            "  --target-bytes SIZE   keep starting page loads until the file reaches SIZE\n"
            "                        (K/M/G suffixes, powers of 1024; e.g. 10M, 1G, 4G)\n"
            "  --clients N           distinct clients (default 40: ~10,000 page loads per GB)\n"
            "  --v6-share F          share of IPv6 clients (default 0.25)\n"
            "  --fail-share F        share of failing page loads (default 0.05)\n"
            "  --cold-share F        chance that a returning browser has an empty cache "
            "(default 0)\n"
            "  --stream-seconds S    websocket streaming time per page load (default 10)\n"
            "  --interval S          mean time between page load starts (default 0.5)\n"
            "  --start EPOCH         time of the first packet (default %lld)\n"
            "  --linktype raw|en10mb pcap link type (default raw, like tailscale0)\n"
            "  --offload             leave TCP checksums zero (checksum offload)\n"
            "  --superpackets        64 KB TSO segments instead of MTU-sized ones\n"
            "  --small-static        static JS files 1/64 of their real size\n"
            "  --app NAME            app path (default dashboard)\n"
            "  --plan LIST           explicit page loads, comma separated CAUSE[:cold|:warm]"
            "[:v4|:v6]\n"
            "                        CAUSE: healthy pmtu_blackhole slow_pmtu_recovery ws_refused\n"
            "                        no_scripts_fetched script_failed client_gone token_expired\n"
            "  --quiet               no summary on stderr\n",
            (long long)DEFAULT_START_EPOCH);
}

/* ------------------------------------------------------------------ heap of connections */
static int conn_before(const conn *a, const conn *b)
{
    if (a->pending.t != b->pending.t)
        return a->pending.t < b->pending.t;
    return a->serial < b->serial;
}

static void heap_set(gen *g, int i, conn *c)
{
    g->heap[i] = c;
    c->heap_pos = i;
}

static void sift_up(gen *g, int i)
{
    conn *c = g->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!conn_before(c, g->heap[parent]))
            break;
        heap_set(g, i, g->heap[parent]);
        i = parent;
    }
    heap_set(g, i, c);
}

static void sift_down(gen *g, int i)
{
    conn *c = g->heap[i];
    for (int guard = 0; guard < 64; guard++) { /* depth of a binary heap */
        int l = 2 * i + 1, best = i;
        conn *bc = c;
        if (l < g->heap_n && conn_before(g->heap[l], bc))
            best = l, bc = g->heap[l];
        if (l + 1 < g->heap_n && conn_before(g->heap[l + 1], bc))
            best = l + 1, bc = g->heap[l + 1];
        if (best == i)
            break;
        heap_set(g, i, bc);
        i = best;
    }
    heap_set(g, i, c);
}

void heap_push(gen *g, conn *c)
{
    if (g->heap_n == g->heap_cap) {
        g->heap_cap = g->heap_cap ? g->heap_cap * 2 : 1024;
        g->heap = realloc(g->heap, (size_t)g->heap_cap * sizeof *g->heap);
        if (!g->heap) {
            fprintf(stderr, "owgen: out of memory\n");
            exit(1);
        }
    }
    heap_set(g, g->heap_n++, c);
    sift_up(g, c->heap_pos);
}

void heap_remove(gen *g, conn *c)
{
    int i = c->heap_pos;
    c->heap_pos = -1;
    conn *last = g->heap[--g->heap_n];
    if (i == g->heap_n)
        return;
    heap_set(g, i, last);
    sift_up(g, i);
    sift_down(g, last->heap_pos);
}

void gen_conn_ready(gen *g, conn *c)
{
    if (conn_next(c)) {
        if (c->heap_pos < 0) {
            heap_push(g, c);
        } else {
            sift_up(g, c->heap_pos);
            sift_down(g, c->heap_pos);
        }
        return;
    }
    if (c->heap_pos >= 0)
        heap_remove(g, c);
    if (c->done)
        page_conn_done(c->pg, c);
}

void gen_conn_killed(gen *g, conn *c)
{
    if (c->heap_pos < 0 || c->done)
        return;
    if (conn_apply_kill(c)) {
        c->t = c->pending.t;
        sift_up(g, c->heap_pos);
        sift_down(g, c->heap_pos);
        return;
    }
    heap_remove(g, c);
    page_conn_done(c->pg, c);
}

/* ------------------------------------------------------------------ ground truth */
static const char *role_name(int role)
{
    static const char *const names[] = {"page", "static", "websocket", "preconnect", "tail"};
    return role >= 0 && role <= ROLE_TAIL ? names[role] : "?";
}

static void write_truth_page(page *pg, FILE *f)
{
    int c = pg->cause;
    int rendered = c == CAUSE_HEALTHY || c == CAUSE_SLOW_PMTU;
    int ws_opened = rendered || c == CAUSE_TOKEN_EXPIRED;
    static const char *const kinds[] = {"chromium", "curl", "curl"};
    fprintf(f, "   \"visit\": %d,\n   \"client\": \"%s\",\n   \"client_kind\": \"%s\",\n",
            pg->visit, pg->cl->text, kinds[pg->kind]);
    fprintf(f, "   \"cache\": \"%s\",\n   \"url\": \"%s\",\n", pg->cold ? "cold" : "warm", pg->url);
    int64_t started_us = (pg->t0 - 2 * NS_PER_MS) / NS_PER_US;
    fprintf(f, "   \"started_at\": %lld.%06lld,\n", (long long)(started_us / 1000000),
            (long long)(started_us % 1000000));
    fprintf(f, "   \"session_id\": \"%s\",\n", pg->session_id);
    fprintf(f, "   \"rendered\": %s,\n   \"websocket_opened\": %s,\n", rendered ? "true" : "false",
            ws_opened ? "true" : "false");
    fprintf(f, "   \"expected_outcome\": \"%s\",\n", cause_outcomes[c]);
    if (c == CAUSE_HEALTHY)
        fprintf(f, "   \"expected_cause\": null,\n");
    else
        fprintf(f, "   \"expected_cause\": \"%s\",\n", cause_names[c]);
    fprintf(f, "   \"connections\": [");
    int first = 1;
    for (int i = 0; i < pg->nconns; i++) {
        conn *k = pg->conns[i];
        if (k->c_nxt == 0)
            continue; /* never opened (the client was gone before) */
        const char *fault = k->stuck       ? "\"blackhole\""
                            : k->recovered ? "\"slow_recovery\""
                            : k->killed    ? "\"reset\""
                                           : "null";
        fprintf(f, "%s{\"port\": %u, \"role\": \"%s\", \"fault\": %s}", first ? "" : ", ", k->cport,
                role_name(k->role), fault);
        first = 0;
    }
    fprintf(f, "],\n   \"notes\": \"owgen: cause=%s rtt_ms=%.1f bw_mbps=%lld; pcap connections:",
            c == CAUSE_HEALTHY ? "none" : cause_names[c], (double)pg->rtt / NS_PER_MS,
            (long long)(pg->bw_bps / 1000000));
    for (int i = 0; i < pg->nconns; i++) {
        conn *k = pg->conns[i];
        if (k->c_nxt == 0)
            continue;
        fprintf(f, " port %u: %s;", k->cport, k->note);
    }
    fprintf(f, "\"\n  }");
}

/* The page's record is rendered as soon as it is done and its connections are freed; the
 * text waits in the FIFO until all earlier page loads are done (truth is in visit order). */
static void render_truth(page *pg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        perror("owgen: open_memstream");
        exit(1);
    }
    write_truth_page(pg, f);
    fclose(f);
    pg->truth_text = text;
}

static void write_truth_head(gen *g)
{
    FILE *f = g->truth;
    const char *base = strrchr(g->out_path, '/');
    fprintf(f, "{\n \"capture\": \"%s\",\n", base ? base + 1 : g->out_path);
    fprintf(f,
            " \"description\": \"Synthetic capture made by owgen (bench/owgen.c), seed %llu: "
            "Bokeh 3.6 server traffic on tailscale0 from many interleaved page loads; each "
            "page load's expected outcome and cause are below.\",\n",
            (unsigned long long)g->seed);
    fprintf(f, " \"link_type\": \"%s\",\n", g->linktype == LT_RAW ? "RAW" : "EN10MB");
    fprintf(f,
            " \"server\": {\n  \"ipv4\": \"100.64.0.1\",\n  \"ipv6\": \"fd7a:115c:a1e0::1\",\n"
            "  \"port\": 5006,\n  \"bokeh_version\": \"3.6.0\",\n  \"args\": \"%s.py --port "
            "5006 --allow-websocket-origin=*\"\n },\n",
            g->app);
    fprintf(f, " \"network\": {\n  \"tsfwd_flags\": \"synthetic: --blackhole-over 1200 on "
               "pmtu_blackhole and slow_pmtu_recovery page loads\",\n"
               "  \"server_tcp_mtu_probing\": null\n },\n \"page_loads\": [");
    g->truth_first = 1;
}

static void write_truth_tail(gen *g)
{
    FILE *f = g->truth;
    counts *n = &g->n;
    fprintf(f,
            "\n ],\n \"generator\": {\n  \"seed\": %llu,\n  \"superpackets\": %s,\n"
            "  \"offload\": %s,\n  \"small_static\": %s,\n  \"stream_seconds\": %.3f,\n",
            (unsigned long long)g->seed, g->superpackets ? "true" : "false",
            g->offload ? "true" : "false", g->small_static ? "true" : "false",
            (double)g->stream_ns / NS_PER_S);
    fprintf(f,
            "  \"counts\": {\n   \"packets\": %llu,\n   \"bytes\": %llu,\n"
            "   \"tcp_connections\": %llu,\n   \"page_loads\": %llu,\n",
            (unsigned long long)g->out.packets, (unsigned long long)g->out.bytes,
            (unsigned long long)n->conns, (unsigned long long)n->pages);
    fprintf(f,
            "   \"http_requests\": %llu,\n   \"http_responses\": %llu,\n"
            "   \"http_101\": %llu,\n   \"http_200\": %llu,\n   \"http_403\": %llu,\n"
            "   \"http_404\": %llu,\n",
            (unsigned long long)n->http_requests, (unsigned long long)n->http_responses,
            (unsigned long long)n->http_101, (unsigned long long)n->http_200,
            (unsigned long long)n->http_403, (unsigned long long)n->http_404);
    fprintf(f,
            "   \"ws_frames\": {\"text\": %llu, \"binary\": %llu, \"close\": %llu, "
            "\"ping\": %llu, \"pong\": %llu}\n  },\n",
            (unsigned long long)n->ws_frames[WS_TEXT], (unsigned long long)n->ws_frames[WS_BINARY],
            (unsigned long long)n->ws_frames[WS_CLOSE], (unsigned long long)n->ws_frames[WS_PING],
            (unsigned long long)n->ws_frames[WS_PONG]);
    fprintf(f, "  \"note\": \"counts are what the capture holds: HTTP messages and websocket "
               "frames whose last byte was sent at least once (a black-holed response that fit in "
               "the first window counts), to compare with a decoder such as tshark\"\n }\n}\n");
}

void gen_page_done(gen *g, page *pg)
{
    if (pg->cause < 0) { /* the tail request: not a page load */
        page_free(pg);
        return;
    }
    pg->done = 1;
    if (g->truth)
        render_truth(pg);
    for (int i = 0; i < pg->nconns; i++) {
        conn_free(pg->conns[i]);
        free(pg->conns[i]);
    }
    pg->nconns = 0;
    for (int guard = 0; g->fifo_head && g->fifo_head->done && guard < 1000000; guard++) {
        page *h = g->fifo_head;
        g->fifo_head = h->next;
        if (!g->fifo_head)
            g->fifo_tail = NULL;
        if (g->truth && h->truth_text) {
            fprintf(g->truth, "%s\n  {\n%s", g->truth_first ? "" : ",", h->truth_text);
            g->truth_first = 0;
        }
        page_free(h);
    }
}

/* ------------------------------------------------------------------ options */
static uint64_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1ULL << 10;
    else if (*end == 'm' || *end == 'M')
        mul = 1ULL << 20;
    else if (*end == 'g' || *end == 'G')
        mul = 1ULL << 30;
    else if (*end == 't' || *end == 'T')
        mul = 1ULL << 40;
    return v > 0 ? (uint64_t)(v * (double)mul) : 0;
}

static int cause_from_name(const char *s, size_t n)
{
    for (int i = 0; i < CAUSE_COUNT; i++)
        if (strlen(cause_names[i]) == n && strncmp(cause_names[i], s, n) == 0)
            return i;
    return -1;
}

static int parse_plan(gen *g, const char *spec)
{
    const char *p = spec;
    for (int guard = 0; *p && guard < 256; guard++) {
        if (g->plan_n >= 256)
            return -1;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        if (len >= sizeof item)
            return -1;
        memcpy(item, p, len);
        item[len] = 0;
        char *colon = strchr(item, ':');
        size_t clen = colon ? (size_t)(colon - item) : len;
        int cause = cause_from_name(item, clen);
        if (cause < 0)
            return -1;
        int cache = -1, family = -1;
        for (char *q = colon; q && *q;) {
            q++;
            char *next = strchr(q, ':');
            size_t ql = next ? (size_t)(next - q) : strlen(q);
            if (ql == 4 && strncmp(q, "cold", 4) == 0)
                cache = 1;
            else if (ql == 4 && strncmp(q, "warm", 4) == 0)
                cache = 0;
            else if (ql == 2 && strncmp(q, "v4", 2) == 0)
                family = 4;
            else if (ql == 2 && strncmp(q, "v6", 2) == 0)
                family = 6;
            else
                return -1;
            q = next;
        }
        g->plan_cause[g->plan_n] = cause;
        g->plan_cache[g->plan_n] = cache;
        g->plan_family[g->plan_n] = family;
        g->plan_n++;
        p = end ? end + 1 : p + len;
    }
    return g->plan_n > 0 ? 0 : -1;
}

static int parse_args(gen *g, int argc, char **argv)
{
    g->seed = 1;
    g->nclients = 40;
    g->v6_share = 0.25;
    g->fail_share = 0.05;
    g->stream_ns = 10 * NS_PER_S;
    g->interval_s = 0.5;
    g->start_epoch = DEFAULT_START_EPOCH;
    g->linktype = LT_RAW;
    g->app = "dashboard";
    g->page_loads = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--offload")) {
            g->offload = 1, takes = 0;
        } else if (!strcmp(a, "--superpackets")) {
            g->superpackets = 1, takes = 0;
        } else if (!strcmp(a, "--small-static")) {
            g->small_static = 1, takes = 0;
        } else if (!strcmp(a, "--quiet")) {
            g->quiet = 1, takes = 0;
        } else if (!v) {
            fprintf(stderr, "owgen: %s needs a value\n", a);
            return -1;
        } else if (!strcmp(a, "-o")) {
            g->out_path = v;
        } else if (!strcmp(a, "--truth")) {
            g->truth_path = v;
        } else if (!strcmp(a, "--seed")) {
            g->seed = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--page-loads")) {
            g->page_loads = atoi(v);
        } else if (!strcmp(a, "--target-bytes")) {
            g->target_bytes = parse_size(v);
        } else if (!strcmp(a, "--clients")) {
            g->nclients = atoi(v);
        } else if (!strcmp(a, "--v6-share")) {
            g->v6_share = atof(v);
        } else if (!strcmp(a, "--fail-share")) {
            g->fail_share = atof(v);
        } else if (!strcmp(a, "--cold-share")) {
            g->cold_share = atof(v);
        } else if (!strcmp(a, "--stream-seconds")) {
            g->stream_ns = (int64_t)(atof(v) * NS_PER_S);
        } else if (!strcmp(a, "--interval")) {
            g->interval_s = atof(v);
        } else if (!strcmp(a, "--start")) {
            g->start_epoch = strtoll(v, NULL, 10);
        } else if (!strcmp(a, "--app")) {
            g->app = v;
        } else if (!strcmp(a, "--linktype")) {
            if (!strcmp(v, "raw"))
                g->linktype = LT_RAW;
            else if (!strcmp(v, "en10mb"))
                g->linktype = LT_EN10MB;
            else {
                fprintf(stderr, "owgen: --linktype raw|en10mb\n");
                return -1;
            }
        } else if (!strcmp(a, "--plan")) {
            if (parse_plan(g, v) != 0) {
                fprintf(stderr, "owgen: bad --plan '%s'\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "owgen: unknown option %s\n", a);
            return -1;
        }
        i += takes;
    }
    if (!g->out_path) {
        fprintf(stderr, "owgen: -o FILE is required\n");
        return -1;
    }
    if (g->nclients < 1 || g->nclients > MAX_CLIENTS || g->v6_share < 0 || g->v6_share > 1 ||
        g->fail_share < 0 || g->fail_share > 1 || g->interval_s <= 0 || g->stream_ns < 0 ||
        strlen(g->app) == 0 || strlen(g->app) > 40 || strpbrk(g->app, "/?\"\\ ")) {
        fprintf(stderr, "owgen: option out of range\n");
        return -1;
    }
    if (g->page_loads < 0)
        g->page_loads = g->target_bytes ? 0 : g->plan_n ? g->plan_n : DEFAULT_PAGE_LOADS;
    return 0;
}

/* ------------------------------------------------------------------ clients */
static void make_clients(gen *g)
{
    g->clients = calloc((size_t)g->nclients, sizeof *g->clients);
    if (!g->clients) {
        fprintf(stderr, "owgen: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < g->nclients; i++) {
        client *cl = &g->clients[i];
        /* clients 0 and 1 are one of each family (when both are wanted) so a plan can ask */
        if (i == 0)
            cl->v6 = g->v6_share >= 1.0;
        else if (i == 1)
            cl->v6 = g->v6_share > 0.0;
        else
            cl->v6 = rng_unit(&g->r) < g->v6_share;
        int host = i + 2;
        if (cl->v6) {
            static const uint8_t pfx[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
            memcpy(cl->addr, pfx, 6);
            cl->addr[14] = (uint8_t)(host >> 8);
            cl->addr[15] = (uint8_t)host;
            snprintf(cl->text, sizeof cl->text, "fd7a:115c:a1e0::%x", host);
        } else {
            cl->addr[0] = 100;
            cl->addr[1] = 64 + (uint8_t)(host / 65536);
            cl->addr[2] = (uint8_t)(host / 256);
            cl->addr[3] = (uint8_t)host;
            snprintf(cl->text, sizeof cl->text, "%u.%u.%u.%u", cl->addr[0], cl->addr[1],
                     cl->addr[2], cl->addr[3]);
        }
        cl->ua = (int)rng_below(&g->r, 5);
        cl->lang = (int)rng_below(&g->r, 4);
        cl->next_port = 32768 + rng_below(&g->r, 28000) / 2 * 2;
    }
}

/* ------------------------------------------------------------------ main loop */
static double ln_approx(double x) /* natural log without libm (x > 0) */
{
    int e = 0;
    for (int guard = 0; x > 2.0 && guard < 2100; guard++)
        x /= 2.0, e++;
    for (int guard = 0; x < 1.0 && guard < 2100; guard++)
        x *= 2.0, e--;
    double y = (x - 1.0) / (x + 1.0), y2 = y * y, sum = 0, term = y;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= y2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

static int64_t next_gap(gen *g)
{
    double u = rng_unit(&g->r);
    double gap = -ln_approx(1.0 - u) * g->interval_s;
    if (gap > 20 * g->interval_s)
        gap = 20 * g->interval_s;
    return (int64_t)(gap * NS_PER_S) + NS_PER_MS;
}

static void choose_page(gen *g, int visit, int *cause, int *cache, int *family)
{
    if (g->plan_n) {
        int k = (visit - 1) % g->plan_n;
        *cause = g->plan_cause[k];
        *cache = g->plan_cache[k];
        *family = g->plan_family[k];
        return;
    }
    *cache = -1;
    *family = -1;
    *cause = CAUSE_HEALTHY;
    if (rng_unit(&g->r) < g->fail_share)
        *cause = 1 + (int)rng_below(&g->r, CAUSE_COUNT - 1);
}

static int may_start_page(gen *g, int started)
{
    if (g->page_loads > 0 && started >= g->page_loads)
        return 0;
    if (g->target_bytes && g->out.bytes >= g->target_bytes)
        return 0;
    return 1;
}

static void run(gen *g)
{
    int64_t next_page = g->start_epoch * NS_PER_S + 100 * NS_PER_MS;
    int started = 0;
    int tail_done = 0;
    for (uint64_t guard = 0; guard < (1ULL << 40); guard++) {
        int can_start = may_start_page(g, started);
        if (can_start && (g->heap_n == 0 || next_page <= g->heap[0]->pending.t)) {
            int cause, cache, family;
            started++;
            choose_page(g, started, &cause, &cache, &family);
            page_start(g, next_page, started, cause, cache, family);
            next_page += next_gap(g);
            continue;
        }
        if (g->heap_n == 0) {
            if (tail_done)
                break;
            page_start_tail(g, g->last_t + TAIL_GAP_NS);
            tail_done = 1;
            continue;
        }
        conn *c = g->heap[0];
        conn_emit(c);
        gen_conn_ready(g, c);
    }
}

int main(int argc, char **argv)
{
    static gen g;
    if (parse_args(&g, argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    rng_seed(&g.r, g.seed);
    g.server_start = g.start_epoch * NS_PER_S - (int64_t)rng_below(&g.r, 37000) * NS_PER_MS;
    content_init(g.small_static, g.app);
    make_clients(&g);
    if (pcap_open(&g.out, g.out_path, g.linktype, g.offload) != 0) {
        perror(g.out_path);
        return 1;
    }
    if (g.truth_path) {
        g.truth = fopen(g.truth_path, "w");
        if (!g.truth) {
            perror(g.truth_path);
            return 1;
        }
        write_truth_head(&g);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(&g);
    if (pcap_close(&g.out) != 0) {
        perror(g.out_path);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (g.truth) {
        write_truth_tail(&g);
        if (fclose(g.truth) != 0) {
            perror(g.truth_path);
            return 1;
        }
    }
    if (!g.quiet) {
        counts *n = &g.n;
        fprintf(stderr,
                "owgen: %llu page loads (%llu cold, %llu warm, %llu v6), %llu connections, "
                "%llu packets, %.1f MB in %.2f s (%.0f MB/s)\n",
                (unsigned long long)n->pages, (unsigned long long)n->cold,
                (unsigned long long)n->warm, (unsigned long long)n->v6_pages,
                (unsigned long long)n->conns, (unsigned long long)g.out.packets,
                (double)g.out.bytes / 1e6, secs, secs > 0 ? (double)g.out.bytes / 1e6 / secs : 0);
        fprintf(stderr, "owgen: causes:");
        for (int i = 0; i < CAUSE_COUNT; i++)
            fprintf(stderr, " %s=%llu", cause_names[i], (unsigned long long)n->pages_by_cause[i]);
        fprintf(
            stderr,
            "\nowgen: http requests=%llu responses=%llu (101=%llu 403=%llu 404=%llu); ws "
            "frames text=%llu binary=%llu close=%llu ping=%llu pong=%llu\n",
            (unsigned long long)n->http_requests, (unsigned long long)n->http_responses,
            (unsigned long long)n->http_101, (unsigned long long)n->http_403,
            (unsigned long long)n->http_404, (unsigned long long)n->ws_frames[WS_TEXT],
            (unsigned long long)n->ws_frames[WS_BINARY], (unsigned long long)n->ws_frames[WS_CLOSE],
            (unsigned long long)n->ws_frames[WS_PING], (unsigned long long)n->ws_frames[WS_PONG]);
    }
    content_free();
    free(g.clients);
    free(g.heap);
    return 0;
}
