/* blind_spots: what a capture could not see or follow, in words (see the header). */
#include "ui/blind_spots.h"
#include "db/db.h"
#include "ui/format.h"
#include <stdarg.h>
#include <string.h>

/* The counters a line may name: captures.counters keys (capture/ and correlate/ make them). */
enum {
    K_TRUNCATED,
    K_GAPS,
    K_GAP_BYTES,
    K_NIDS_REFUSED,
    K_STREAMS_EVICTED,
    K_PAGE_LOADS_EVICTED,
    K_BUFFER_OVERFLOWS,
    K_HTTP_PENDING_OVERFLOW,
    K_BAD_IP,
    K_BAD_TCP,
    K_NOT_SERVER_PORT,
    K_STREAMS,
    K_DB_ROWS_FAILED,
    K_INFLATE_BUDGET_SKIPPED,
    K_HTTP_ERRORS,
    K_WS_ERRORS,
    K_BOKEH_ERRORS,
    K_TIME_BACKWARDS,
    K_MAX_BACKWARDS_MS,
    K_DUPLICATES,
    K_FILES_CUT,
    K_TLS_CONNECTIONS,
    K_COUNT
};
static const char *const key_names[K_COUNT] = {
    [K_TRUNCATED] = "truncated",
    [K_GAPS] = "gaps",
    [K_GAP_BYTES] = "gap_bytes",
    [K_NIDS_REFUSED] = "nids_refused",
    [K_STREAMS_EVICTED] = "streams_evicted",
    [K_PAGE_LOADS_EVICTED] = "page_loads_evicted",
    [K_BUFFER_OVERFLOWS] = "buffer_overflows",
    [K_HTTP_PENDING_OVERFLOW] = "http_pending_overflow",
    [K_BAD_IP] = "bad_ip",
    [K_BAD_TCP] = "bad_tcp",
    [K_NOT_SERVER_PORT] = "not_server_port",
    [K_STREAMS] = "streams",
    [K_DB_ROWS_FAILED] = "db_rows_failed",
    [K_INFLATE_BUDGET_SKIPPED] = "inflate_budget_skipped",
    [K_HTTP_ERRORS] = "http_errors",
    [K_WS_ERRORS] = "ws_errors",
    [K_BOKEH_ERRORS] = "bokeh_errors",
    [K_TIME_BACKWARDS] = "time_backwards",
    [K_MAX_BACKWARDS_MS] = "max_backwards_ms",
    [K_DUPLICATES] = "duplicates",
    [K_FILES_CUT] = "files_cut",
    [K_TLS_CONNECTIONS] = "tls_connections",
};

typedef struct totals {
    long long captures, packets, kernel_drops, if_drops;
    bool all_live; /* every capture counted was a live one */
    long long k[K_COUNT];
    bool have[K_COUNT]; /* the counter is in a row's JSON (else its rule says nothing) */
    char ports[128];    /* the server ports of the captures, as their rows name them */
} totals;

typedef struct emitter {
    blind_spot_fn fn;
    void *ctx;
    int n;
} emitter;

__attribute__((format(printf, 2, 3))) static void say(emitter *e, const char *fmt, ...)
{
    char line[BLIND_SPOT_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    e->fn(e->ctx, line);
    e->n++;
}

static int read_columns(sqlite3 *db, sqlite3_int64 capture_id, totals *t)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT COALESCE(SUM(packets), 0), COALESCE(SUM(kernel_drops), 0), "
                           "COALESCE(SUM(if_drops), 0), COALESCE(group_concat(DISTINCT "
                           "server_ports), ''), COUNT(*), COALESCE(MIN(live), 0) "
                           "FROM captures WHERE ?1 = 0 OR id = ?1",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, capture_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        t->packets = sqlite3_column_int64(s, 0);
        t->kernel_drops = sqlite3_column_int64(s, 1);
        t->if_drops = sqlite3_column_int64(s, 2);
        const unsigned char *p = sqlite3_column_text(s, 3);
        snprintf(t->ports, sizeof t->ports, "%s", p ? (const char *)p : "");
        t->captures = sqlite3_column_int64(s, 4);
        t->all_live = sqlite3_column_int(s, 5) != 0;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

int blind_spots_counters(sqlite3 *db, sqlite3_int64 capture_id, blind_spot_counter_fn fn, void *ctx)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT j.key, CASE WHEN j.key LIKE 'max^_%' ESCAPE '^' THEN MAX(j.value) ELSE "
            "SUM(j.value) END FROM captures c, json_each(CASE WHEN "
            "json_valid(c.counters) THEN c.counters ELSE '{}' END) j "
            "WHERE (?1 = 0 OR c.id = ?1) AND j.type = 'integer' GROUP BY j.key "
            "ORDER BY MIN(j.id)",
            -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, capture_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        if (key)
            fn(ctx, key, sqlite3_column_int64(s, 1));
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void keep_counter(void *ctx, const char *key, long long value)
{
    totals *t = ctx;
    for (int i = 0; i < K_COUNT; i++)
        if (strcmp(key, key_names[i]) == 0) {
            t->k[i] = value;
            t->have[i] = true;
        }
}

/* ---------------------------------------------------------------- the lines */

static void on_storage(emitter *e, const totals *t)
{
    if (t->k[K_DB_ROWS_FAILED] > 0)
        say(e,
            "%lld rows could not be written to this database (the disk was full or failed; "
            "said on stderr at the time): what they held is missing here.",
            t->k[K_DB_ROWS_FAILED]);
}

static void on_drops(emitter *e, const totals *t)
{
    long long d = t->kernel_drops + t->if_drops;
    if (d <= 0)
        return;
    say(e,
        "%lld packets were dropped before orphanwatch saw them (%lld by the kernel, %lld by the "
        "interface): what they carried is missing, so transfers can look stalled or cut short. "
        "Give the capture a larger buffer (-B MB) or a narrower filter.",
        d, t->kernel_drops, t->if_drops);
}

static void on_truncated(emitter *e, const totals *t)
{
    if (t->k[K_TRUNCATED] <= 0)
        return;
    char b[32];
    format_bytes((double)t->k[K_GAP_BYTES], b, sizeof b);
    say(e,
        "%lld of %lld packets were cut short by the snap length they were captured with: %s of "
        "TCP stream content is missing (%lld gaps), so the HTTP, WebSocket and Bokeh decoding "
        "cannot see into them and page loads or websockets go unseen. Capture whole packets "
        "(tcpdump -s 0; orphanwatch live does).",
        t->k[K_TRUNCATED], t->packets, b, t->k[K_GAPS]);
}

static void on_gaps(emitter *e, const totals *t)
{
    if (t->k[K_GAPS] <= 0 || t->k[K_TRUNCATED] > 0) /* the snap length's gaps: said above */
        return;
    char b[32];
    format_bytes((double)t->k[K_GAP_BYTES], b, sizeof b);
    say(e,
        "%lld gaps in TCP streams: %s of stream content the capture never saw (dropped, or lost "
        "before the capture point). The decoders picked up after each; what fell in them is "
        "unknown.",
        t->k[K_GAPS], b);
}

static void on_time_backwards(emitter *e, const totals *t)
{
    if (t->k[K_TIME_BACKWARDS] <= 0)
        return;
    say(e,
        "%lld packets came over a second earlier than packets read before them (by up to "
        "%.1f s): a file whose packets are out of time order, or a clock step (several files "
        "are merged in time). Page loads and websockets on either side of such a step may not "
        "be tied together: put the file in order first (reordercap IN.pcap OUT.pcap).",
        t->k[K_TIME_BACKWARDS], (double)t->k[K_MAX_BACKWARDS_MS] / 1000.0);
}

static void on_no_server_traffic(emitter *e, const totals *t)
{
    if (t->packets <= 0 && t->all_live) {
        say(e,
            "No packet to or from port %s was captured. Is the Bokeh server on another port "
            "(-p PORT)? Behind a proxy or `tailscale serve`, its traffic on this interface goes "
            "to the proxy's port, encrypted: capture behind the proxy, where it is plain (often "
            "-i lo -p 5006).",
            t->ports);
        return;
    }
    if (t->packets <= 0) {
        say(e, "No packet was read: the capture is empty, or the filter matched none.");
        return;
    }
    if (t->k[K_STREAMS] > 0 || !t->have[K_STREAMS]) /* no counters: nothing to say */
        return;
    if (t->k[K_NOT_SERVER_PORT] > 0)
        say(e,
            "None of the %lld packets was TCP to or from port %s (%lld TCP packets on other "
            "ports): is the Bokeh server on another port? Name it with -p PORT.",
            t->packets, t->ports, t->k[K_NOT_SERVER_PORT]);
    else
        say(e, "None of the %lld packets carried a TCP connection to port %s.", t->packets,
            t->ports);
}

static void on_tls(emitter *e, const totals *t)
{
    long long n = t->k[K_TLS_CONNECTIONS];
    if (n <= 0)
        return;
    say(e,
        "%lld connection%s to port %s %s encrypted (TLS): orphanwatch reads plain HTTP only, so "
        "no page load or websocket in %s can be seen. When a TLS proxy or `tailscale serve` "
        "is in front of the Bokeh server, capture behind it, where the traffic is plain: the "
        "interface and port the proxy forwards to (often lo and 5006: -i lo -p 5006).",
        n, n == 1 ? "" : "s", t->ports, n == 1 ? "was" : "were", n == 1 ? "it" : "them");
}

/* Limits reached and parts refused: one counter each, said after its count. */
static const struct {
    int key;
    const char *text;
} limit_lines[] = {
    {K_STREAMS_EVICTED, "TCP connections stopped being followed: more were open at once "
                        "than --max-streams allows. Their page loads or websockets may be "
                        "missing."},
    {K_NIDS_REFUSED, "packets were refused by TCP reassembly (libnids; its warnings were "
                     "on stderr)."},
    {K_PAGE_LOADS_EVICTED, "page loads were decided early: more were waiting for their "
                           "websocket than --max-page-loads holds."},
    {K_BUFFER_OVERFLOWS, "times a stream held more undecoded bytes than "
                         "--max-stream-buffer: the bytes past it were skipped."},
    {K_HTTP_PENDING_OVERFLOW, "pipelined HTTP requests were not kept: too many were "
                              "waiting for answers."},
    {K_DUPLICATES, "packets were captured twice (the same packet again at once: an "
                   "interface and its bridge under -i any, a mirror port, overlapping files): "
                   "each was analysed once, not counted as a retransmission or a duplicate "
                   "ACK."},
    {K_INFLATE_BUDGET_SKIPPED, "compressed websocket messages were not decoded: too many "
                               "compressed websockets were open at once."},
};

static void on_limits(emitter *e, const totals *t)
{
    for (size_t i = 0; i < sizeof limit_lines / sizeof limit_lines[0]; i++)
        if (t->k[limit_lines[i].key] > 0)
            say(e, "%lld %s", t->k[limit_lines[i].key], limit_lines[i].text);
}

static void on_files_cut(emitter *e, const totals *t)
{
    long long n = t->k[K_FILES_CUT];
    if (n == 1)
        say(e, "A capture file ends inside a packet (copied while it was written, or its writer "
               "was stopped): the packet it ends in was not read.");
    else if (n > 1)
        say(e,
            "%lld capture files end inside a packet (copied while they were written, or their "
            "writer was stopped): the packet each ends in was not read.",
            n);
}

static void on_malformed(emitter *e, const totals *t)
{
    long long bad = t->k[K_BAD_IP] + t->k[K_BAD_TCP];
    if (bad > 0)
        say(e, "%lld packets with malformed IP or TCP headers were skipped.", bad);
    long long undecoded = t->k[K_HTTP_ERRORS] + t->k[K_WS_ERRORS] + t->k[K_BOKEH_ERRORS];
    if (undecoded > 0)
        say(e,
            "%lld messages could not be decoded (%lld HTTP, %lld WebSocket, %lld Bokeh): "
            "malformed, or cut by a gap.",
            undecoded, t->k[K_HTTP_ERRORS], t->k[K_WS_ERRORS], t->k[K_BOKEH_ERRORS]);
}

int blind_spots_each(sqlite3 *db, sqlite3_int64 capture_id, blind_spot_fn fn, void *ctx)
{
    totals t;
    memset(&t, 0, sizeof t);
    if (read_columns(db, capture_id, &t) < 0 ||
        blind_spots_counters(db, capture_id, keep_counter, &t) < 0)
        return -1; /* sqlite3_errmsg(db) says why */
    emitter e = {fn, ctx, 0};
    if (t.captures == 0)
        return 0; /* nothing captured into this file (yet) */
    on_storage(&e, &t);
    on_drops(&e, &t);
    on_truncated(&e, &t);
    on_gaps(&e, &t);
    on_time_backwards(&e, &t);
    on_no_server_traffic(&e, &t);
    on_tls(&e, &t);
    on_limits(&e, &t);
    on_files_cut(&e, &t);
    on_malformed(&e, &t);
    return e.n;
}

typedef struct printer {
    FILE *out;
    const char *prefix;
} printer;

static void print_line(void *ctx, const char *line)
{
    printer *p = ctx;
    fprintf(p->out, "%s%s\n", p->prefix, line);
}

int blind_spots_print(sqlite3 *db, sqlite3_int64 capture_id, FILE *out, const char *prefix)
{
    printer p = {out, prefix};
    return blind_spots_each(db, capture_id, print_line, &p);
}

void blind_spots_warn_file(const char *path)
{
    char err[512];
    sqlite3 *db = owdb_open_readonly(path, err, sizeof err);
    if (!db) { /* a full disk can refuse even a reader (its shared-memory file) */
        fprintf(stderr, "orphanwatch: the capture row of %s could not be read back: %s\n", path,
                err);
        return;
    }
    sqlite3_stmt *s = NULL;
    sqlite3_int64 newest = 0;
    if (sqlite3_prepare_v2(db, "SELECT MAX(id) FROM captures", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        newest = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (newest > 0 && blind_spots_print(db, newest, stderr, "orphanwatch: warning: ") < 0)
        fprintf(stderr, "orphanwatch: reading the capture counters of %s: %s\n", path,
                sqlite3_errmsg(db));
    sqlite3_close(db);
}
