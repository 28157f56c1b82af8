/* owgen.h: shared declarations of owgen, the deterministic, seeded generator of Bokeh server
 * traffic as seen on the server's tailscale0 (pcap, link type RAW or EN10MB). It feeds the
 * benchmark (bench/run), the bundled sample (bench/make_sample.sh) and the tshark integration
 * test. Files: owgen.c (command line, scheduler, ground truth), owgen_page.c (page-load
 * scenarios), owgen_conn.c (TCP connection engine: handshake, segments, ACKs, loss, teardown),
 * owgen_pcap.c (packet bytes, checksums, buffered pcap writer), owgen_content.c (HTTP, HTML,
 * Bokeh token, WebSocket frames, hashes, encodings, random numbers). */
#ifndef OWGEN_H
#define OWGEN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

/* ------------------------------------------------------------------ random numbers */
typedef struct ow_rng {
    uint64_t s[4];
} ow_rng;
void rng_seed(ow_rng *r, uint64_t seed);
uint64_t rng_next(ow_rng *r);
uint32_t rng_below(ow_rng *r, uint32_t n);            /* 0 .. n-1 */
int64_t rng_range(ow_rng *r, int64_t lo, int64_t hi); /* lo .. hi inclusive */
double rng_unit(ow_rng *r);                           /* [0, 1) */

/* ------------------------------------------------------------------ byte buffers */
typedef struct gbuf {
    uint8_t *p;
    size_t len, cap;
} gbuf;
void gb_reserve(gbuf *b, size_t extra);
void gb_put(gbuf *b, const void *p, size_t n);
void gb_puts(gbuf *b, const char *s);
void gb_printf(gbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gb_free(gbuf *b);

/* ------------------------------------------------------------------ content (owgen_content.c) */
#define N_STATIC        5
#define FAVICON_SIZE    15086
#define NOT_FOUND_BODY  "<html><title>404: Not Found</title><body>404: Not Found</body></html>"
#define WS_REFUSED_BODY "Cross origin websockets not allowed"

enum ws_opcode { WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

extern const char *const static_names[N_STATIC];
extern const char *const static_hashes[N_STATIC];
void content_init(int small_static, const char *app);
void content_free(void);
const uint8_t *static_body(int i, uint32_t *len);
const uint8_t *favicon_chunked(uint32_t *len); /* chunked body: "3aee\r\n" ... "0\r\n\r\n" */
const uint8_t *pull_doc_content(uint32_t *len);
const char *app_name(void);

void b64url(gbuf *out, const uint8_t *p, size_t n); /* URL-safe, '=' stripped */
void b64std(gbuf *out, const uint8_t *p, size_t n); /* standard, padded */
void sha1(const uint8_t *p, size_t n, uint8_t out[20]);
void hex_lower(char *out, const uint8_t *p, size_t n);
void http_date(char out[40], int64_t epoch);
void random_alnum(ow_rng *r, char *out, size_t n);
void random_uuid4(ow_rng *r, char out[37]);
void random_msgid(ow_rng *r, char out[33]); /* BokehJS msgid: 32 upper hex, UUIDv4 bits */
/* Bokeh session token for a page request: B64U({"session_id", "session_expiry",
 * "__bk__zlib_": B64U(zlib9({"headers", "cookies", "arguments"}))}). headers_json is the
 * already formatted JSON object of request headers; visit is the ?visit= argument. */
void make_token(gbuf *out, const char *session_id, int64_t expiry, const char *headers_json,
                int visit);
void ws_server_frame(gbuf *b, int opcode, const void *p, size_t n);
void ws_client_frame(gbuf *b, int opcode, const void *p, size_t n, ow_rng *r);

/* ------------------------------------------------------------------ pcap output (owgen_pcap.c) */
enum linktype { LT_RAW = 101, LT_EN10MB = 1 };

typedef struct pcap_out {
    int fd;
    uint8_t *buf;
    size_t len, cap;
    uint64_t bytes;   /* bytes written so far, header included */
    uint64_t packets; /* packets written */
    int linktype;
    int offload; /* leave TCP checksums zero */
} pcap_out;
int pcap_open(pcap_out *o, const char *path, int linktype, int offload);
int pcap_close(pcap_out *o);
uint8_t *pcap_reserve(pcap_out *o, size_t n); /* contiguous room for one record */
void pcap_commit(pcap_out *o, size_t n);
uint32_t csum_partial(const uint8_t *p, size_t n, uint32_t sum);
uint16_t csum_fold(uint64_t sum);

/* ------------------------------------------------------------------ connections (owgen_conn.c) */
typedef struct gen gen;
typedef struct page page;
typedef struct conn conn;

enum step_kind {
    ST_HANDSHAKE, /* SYN, SYN-ACK, ACK */
    ST_CDATA,     /* client data, server ACK */
    ST_SDATA,     /* server data, client ACK every 2 segments (or loss, per the path) */
    ST_NOTIFY,    /* tell the page an event happened (no packet) */
    ST_PARK,      /* wait until the page wakes or closes the connection */
    ST_CFIN,      /* client FIN, server FIN, client ACK */
    ST_SFIN,      /* server FIN, client FIN, server ACK */
    ST_STREAM,    /* websocket stream: server PATCH-DOCs with buffers, client PATCH-DOCs, pings */
};

/* What a step carries, counted into the summary once all its bytes were sent. */
enum step_tag { TAG_NONE, TAG_REQ, TAG_RESP };

enum path_fault { PATH_OK, PATH_BLACKHOLE, PATH_SLOW };

typedef struct span {
    const uint8_t *ext; /* global data, or NULL: offset into the connection's data buffer */
    uint32_t off, len;
} span;

typedef struct step {
    uint8_t kind, tag, noack, counted;
    uint16_t status;  /* TAG_RESP: HTTP status */
    int event;        /* ST_NOTIFY */
    int64_t delay;    /* ns after the previous step's last packet */
    int64_t dur;      /* ST_STREAM: duration */
    span a, b;        /* payload: a then b */
    uint16_t wsf[11]; /* websocket frames by opcode carried by this step */
} step;

enum pkt_dir { DIR_C2S = 0, DIR_S2C = 1 };
enum tcp_flags { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16 };

typedef struct pkt {
    int64_t t;
    uint8_t dir, flags;
    uint8_t seq_explicit, ack_explicit, sack;
    uint8_t completes; /* 1 + index of the step whose last payload byte this packet carries */
    uint32_t seq, ack; /* relative to the sender's/receiver's ISN when explicit */
    uint32_t sle, sre; /* SACK block, relative */
    const uint8_t *p1, *p2;
    uint32_t l1, l2;
} pkt;

#define CONN_MAX_STEPS 48
#define CONN_QMAX      64
#define ACK_RING       256

/* Lazy bulk transfer: server segments at the path rate, client ACKs one RTT later. */
typedef struct bulk {
    int active;
    const uint8_t *a, *b;
    uint32_t alen, blen, len;
    uint32_t mss1, mss2, boundary; /* segment payload below / above boundary */
    uint32_t off;                  /* next segment offset */
    uint32_t nseg;                 /* segments sent in this transfer */
    int64_t seg_t;                 /* time of the next segment */
    int64_t ack_t[ACK_RING];
    uint32_t ack_v[ACK_RING];
    uint32_t ack_head, ack_n;
    uint32_t seq0; /* relative sequence number of offset 0 */
    int noack;     /* the client does not ACK (its next packet will) */
} bulk;

enum conn_role { ROLE_PAGE, ROLE_STATIC, ROLE_WS, ROLE_PRECONNECT, ROLE_TAIL };

struct conn {
    gen *g;
    page *pg;
    int role, index; /* index in the page's conns[] */
    uint64_t serial; /* tie-break for equal times: deterministic order */
    int heap_pos;    /* -1 when not in the heap */
    int64_t t;       /* time of the last packet made (ns) */
    pkt pending;     /* next packet, ordered in the heap by pending.t */
    step steps[CONN_MAX_STEPS];
    int nsteps, si, close_si, step_open, step_open_idx, phase;
    pkt q[CONN_QMAX];
    int qh, qn;
    bulk bk;
    /* stream state */
    int64_t stream_end, tick_t, next_ping_t;
    uint32_t tick, ping_no, msgid;
    gbuf tick_data;
    /* tcp */
    uint16_t cport;
    uint32_t c_isn, s_isn, c_nxt, s_nxt; /* relative next sequence numbers */
    uint32_t c_tsbase, s_tsbase, c_tsval, s_tsval;
    uint16_t c_ipid, s_ipid;
    uint32_t c_flow, s_flow;
    uint32_t mss;    /* current server segment payload */
    uint32_t s_rcvd; /* server bytes the client acknowledged (for the window) */
    int path, recovered, parked, done, killed, stuck;
    int64_t last_emit_t; /* time of the last packet written */
    int64_t wake_t;      /* a wake that came before the connection parked */
    uint32_t hdr_len;    /* IP + TCP(with timestamps) header bytes */
    gbuf data;           /* this connection's payloads */
    char note[160];      /* requests carried, for the ground-truth notes */
};

void conn_init(conn *c, gen *g, page *pg, int role, int64_t t0);
span conn_put(conn *c, const void *p, size_t n);
span conn_puts(conn *c, const char *s);
span span_ext(const uint8_t *p, uint32_t n);
step *st_add(conn *c, int kind, int64_t delay);
void st_handshake(conn *c, int64_t delay);
step *st_cdata(conn *c, int64_t delay, span a, int tag);
step *st_sdata(conn *c, int64_t delay, span a, span b, int tag, int status);
void st_notify(conn *c, int64_t delay, int event);
void st_park(conn *c);
void st_cfin(conn *c, int64_t delay);
void st_sfin(conn *c, int64_t delay);
void st_stream(conn *c, int64_t delay, int64_t dur);
int conn_next(conn *c);       /* 1: pending packet set; 0: parked or done */
int conn_apply_kill(conn *c); /* client gone: pending becomes a RST; 0 if never opened */
void conn_emit(conn *c);      /* write the pending packet */
void conn_free(conn *c);

/* ------------------------------------------------------------------ pages (owgen_page.c) */
enum cause {
    CAUSE_HEALTHY,
    CAUSE_PMTU_BLACKHOLE,
    CAUSE_SLOW_PMTU,
    CAUSE_WS_REFUSED,
    CAUSE_NO_SCRIPTS,
    CAUSE_SCRIPT_FAILED,
    CAUSE_CLIENT_GONE,
    CAUSE_TOKEN_EXPIRED,
    CAUSE_COUNT
};
extern const char *const cause_names[CAUSE_COUNT];
extern const char *const cause_outcomes[CAUSE_COUNT];

enum page_event { EV_HTML_DONE, EV_STATIC_DONE, EV_WS_DONE, EV_STUCK };

typedef struct client {
    int v6;
    uint8_t addr[16];
    char text[48];
    int ua, lang;
    int warm;
    uint32_t next_port;
} client;

#define PAGE_MAX_CONNS 8

struct page {
    gen *g;
    int visit, cause, cold, kind; /* kind: 0 chromium, 1 curl, 2 kube-probe */
    client *cl;
    ow_rng r;
    int64_t t0, close_t, kill_t, html_done_t, ws_open_t;
    int64_t rtt, bw_bps, app_ns;
    int64_t mint_epoch;
    char session_id[48];
    gbuf token, headers_json;
    char host[64], url[192];
    conn *conns[PAGE_MAX_CONNS];
    conn *fav; /* the connection that will carry the favicon request */
    int nconns, live, statics_done, statics_expected, bh_index, ws_spawned;
    int failed_static, kill_armed;
    int done;
    char *truth_text; /* rendered ground-truth record, once done */
    char note[256];
    page *next; /* completion FIFO */
};

void page_start(gen *g, int64_t t0, int visit, int cause, int cache, int family);
void page_start_tail(gen *g, int64_t t0);
void page_event(page *pg, int event, int64_t t, conn *from);
void page_server_sends(page *pg, conn *c, uint32_t len, int64_t t);
void page_conn_done(page *pg, conn *c);
void page_free(page *pg);
conn *page_spawn(page *pg, int role, int64_t t0, int path);
void page_close_all(page *pg, int64_t t);
void conn_wake(conn *c, int64_t t);
void conn_close_at(conn *c, int64_t t);

/* ------------------------------------------------------------------ generator (owgen.c) */
typedef struct counts {
    uint64_t http_requests, http_responses, http_101, http_200, http_403, http_404;
    uint64_t ws_frames[11];
    uint64_t conns, pages, pages_by_cause[CAUSE_COUNT], cold, warm, v6_pages;
} counts;

struct gen {
    /* options */
    uint64_t seed;
    int page_loads;        /* 0: unlimited (until target bytes) */
    uint64_t target_bytes; /* 0: none */
    int nclients;
    double v6_share, fail_share, cold_share, interval_s;
    int64_t stream_ns;
    int64_t start_epoch;
    int linktype, offload, superpackets, small_static;
    const char *out_path, *truth_path, *app;
    int plan_n;
    int plan_cause[256], plan_cache[256], plan_family[256];
    int quiet;
    /* state */
    ow_rng r;
    pcap_out out;
    client *clients;
    int64_t now;
    uint64_t serial;
    int64_t server_start; /* keep-alive ping phase */
    conn **heap;
    int heap_n, heap_cap;
    page *fifo_head, *fifo_tail;
    FILE *truth;
    int truth_first;
    counts n;
    int64_t last_t;
};

void heap_push(gen *g, conn *c);
void heap_remove(gen *g, conn *c);
void gen_conn_ready(gen *g, conn *c);  /* compute the next packet and (re)insert in the heap */
void gen_conn_killed(gen *g, conn *c); /* its client is gone: its queued packet becomes a RST */
void gen_page_done(gen *g, page *pg);

#endif
