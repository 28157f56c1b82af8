/* verdict: why a page load did not end well, from what the wire showed. Rules are checked
 * most specific first; each verdict carries a confidence, the evidence rows it rests on (what
 * a network engineer would point at in Wireshark) and advice in plain words.
 * Transport signatures come from the health of every connection the page load used (the
 * page itself and each static fetch), measured by capture/tcp_health.c. */
#include "correlate/internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define STALL_MIN_S   1.0 /* a transfer standing still this long is a stall */
#define CUT_STALL_S   2.0 /* no server bytes for this long before a cut: stalled */
#define RENDER_WAIT_S 5.0 /* after PULL-DOC-REPLY the browser patches within this */

static void evidence(page_load *p, int64_t conn_id, int64_t http_id, const char *fmt, ...)
{
    if (p->n_evidence == PAGE_MAX_EVIDENCE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->evidence_text[p->n_evidence], EVIDENCE_TEXT_MAX, fmt, ap);
    va_end(ap);
    p->evidence[p->n_evidence].conn_id = conn_id;
    p->evidence[p->n_evidence].http_id = http_id;
    p->n_evidence++;
}

static void set_verdict(page_load *p, ow_verdict v, double confidence, const char *summary)
{
    p->verdict = v;
    p->confidence = confidence;
    copy_bounded(p->summary, sizeof p->summary, summary, strlen(summary));
}

static void advise(page_load *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->advice, sizeof p->advice, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- transport signatures */

/* Full-size segments retransmitted again and again, never acknowledged, data left unacked. */
static bool blackholed(const health_brief *h)
{
    return h->max_seg_lost > 0 && h->lost_retrans >= 2 && !h->recovered_smaller && h->unacked > 0;
}

/* The sender got through only after shrinking its segments, following a stall. */
static bool recovered_after_stall(const health_brief *h)
{
    return h->recovered_smaller && h->longest_stall >= STALL_MIN_S;
}

static const char *res_name(const page_resource *r)
{
    return r->is_page ? "the page HTML" : r->path;
}

static uint32_t mss_suggestion(const page_load *p, uint32_t lost)
{
    uint32_t best = 0;
    for (int i = 0; i < p->n_res; i++) {
        const health_brief *h = &p->res[i].health;
        if (h->seg_after_recovery > best)
            best = h->seg_after_recovery;
    }
    if (!best && lost > 200)
        best = (lost - lost / 8) / 10 * 10;
    return best ? best : 1100;
}

static void pmtu_advice(page_load *p, uint32_t lost)
{
    uint32_t mss = mss_suggestion(p, lost);
    unsigned overhead = p->server.family == 6 ? 60 : 40;
    advise(p,
           "Packets above about %u bytes are dropped between server and client without an "
           "ICMP 'too big' reply. Clamp the TCP MSS on the tunnel: `sudo iptables -t mangle -A "
           "POSTROUTING -o tailscale0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss %u` "
           "(ip6tables likewise), or lower the MTU: `sudo ip link set dev tailscale0 mtu %u`. "
           "`sysctl -w net.ipv4.tcp_mtu_probing=1` lets the server recover, but only after "
           "seconds-long stalls.",
           mss + overhead, mss, mss + overhead);
}

static bool check_blackhole(page_load *p)
{
    int hits = 0;
    uint32_t lost = 0;
    for (int i = 0; i < p->n_res; i++) {
        const page_resource *r = &p->res[i];
        const health_brief *h = &r->health;
        if (!blackholed(h))
            continue;
        hits++;
        if (h->max_seg_lost > lost)
            lost = h->max_seg_lost;
        evidence(p, r->conn_id, r->http_id,
                 "%s (client port %u): %u-byte server segments retransmitted %u times over "
                 "%.1f s and never acknowledged; %llu bytes left unacknowledged (when the page "
                 "was judged; the timeline has the connection's final counts)",
                 res_name(r), r->client_port, h->max_seg_lost, h->lost_retrans, h->longest_stall,
                 (unsigned long long)h->unacked);
        if (h->max_seg_acked)
            evidence(p, r->conn_id, r->http_id,
                     "on the same connection segments of up to %u bytes were acknowledged",
                     h->max_seg_acked);
        else if (h->client_fin_ts || h->client_rst_ts)
            evidence(p, r->conn_id, r->http_id,
                     "small packets still got through: the client's request, ACKs and its "
                     "%s reached the server",
                     h->client_rst_ts ? "reset" : "FIN");
    }
    if (!hits)
        return false;
    char sum[256];
    snprintf(sum, sizeof sum,
             "path-MTU black hole: %d connection%s of this page stalled on %u-byte segments "
             "that never arrived, so BokehJS never ran and no websocket was opened",
             hits, hits > 1 ? "s" : "", lost);
    set_verdict(p, OW_VERDICT_PMTU_BLACKHOLE, 0.9, sum);
    pmtu_advice(p, lost);
    return true;
}

static bool check_slow_recovery(page_load *p)
{
    double worst = 0;
    uint32_t lost = 0;
    for (int i = 0; i < p->n_res; i++) {
        const page_resource *r = &p->res[i];
        const health_brief *h = &r->health;
        if (!recovered_after_stall(h))
            continue;
        if (h->longest_stall > worst)
            worst = h->longest_stall;
        if (h->max_seg_lost > lost)
            lost = h->max_seg_lost;
        evidence(p, r->conn_id, r->http_id,
                 "%s (client port %u): stalled %.1f s while %u-byte segments went "
                 "unacknowledged, then re-sent as segments of at most %u bytes that got through",
                 res_name(r), r->client_port, h->longest_stall, h->max_seg_lost,
                 h->seg_after_recovery);
    }
    if (worst < STALL_MIN_S)
        return false;
    char sum[256];
    snprintf(sum, sizeof sum,
             "connected after a %.1f s stall: the server's TCP recovered from a path-MTU black "
             "hole only by shrinking its segments (MTU probing)",
             worst);
    set_verdict(p, OW_VERDICT_SLOW_PMTU_RECOVERY, 0.85, sum);
    pmtu_advice(p, lost);
    return true;
}

/* ---------------------------------------------------------------- HTTP-level causes */

static bool check_script_failed(page_load *p)
{
    for (int i = 0; i < p->n_res; i++) {
        const page_resource *r = &p->res[i];
        if (r->is_page || !strstr(r->path, ".js"))
            continue;
        bool reset = r->health.server_rst_ts && !r->complete;
        if (r->status < 400 && !reset)
            continue;
        if (reset)
            evidence(p, r->conn_id, r->http_id, "GET %s was reset by the server mid-response",
                     r->path);
        else
            evidence(p, r->conn_id, r->http_id, "GET %s answered %d", r->path, r->status);
        char sum[256];
        snprintf(sum, sizeof sum, "a required script failed (%s %s): BokehJS could not start",
                 r->path, reset ? "reset" : "error status");
        set_verdict(p, OW_VERDICT_SCRIPT_FAILED, 0.9, sum);
        advise(p,
               "Check that the server serves %s (a wrong --prefix, a proxy path rewrite or a "
               "missing static file gives 404; the server log names the file).",
               r->path);
        return true;
    }
    return false;
}

static bool client_closed(const health_brief *h)
{
    return h->client_fin_ts || h->client_rst_ts;
}

static bool check_client_gone(page_load *p)
{
    const page_resource *r = p->n_res ? &p->res[0] : NULL;
    if (!r || !r->is_page || r->complete || !client_closed(&r->health))
        return false;
    evidence(p, r->conn_id, r->http_id,
             "the client %s the page connection (port %u) before the page was complete "
             "(%llu bytes of it received)",
             r->health.client_rst_ts ? "reset" : "closed", r->client_port,
             (unsigned long long)r->body_bytes);
    set_verdict(p, OW_VERDICT_CLIENT_GONE, 0.8,
                "the client went away while the page was still loading");
    advise(p,
           "Nothing on the server to fix if this is rare (closed tab, navigation). If it is "
           "frequent, compare with the page's time to first byte (%.2f s): slow app code "
           "makes users leave.",
           p->ttfb > 0 ? p->ttfb : 0.0);
    return true;
}

static bool check_script_stalled(page_load *p, double now)
{
    for (int i = 0; i < p->n_res; i++) {
        const page_resource *r = &p->res[i];
        if (r->is_page || r->complete || !strstr(r->path, ".js"))
            continue;
        double last =
            r->health.server_last_data_ts > r->req_ts ? r->health.server_last_data_ts : r->req_ts;
        double end = r->end_ts ? r->end_ts : now;
        double client_end =
            r->health.client_rst_ts ? r->health.client_rst_ts : r->health.client_fin_ts;
        if (client_end && client_end < end)
            end = client_end; /* how long the client waited */
        if (end - last < CUT_STALL_S)
            continue;
        evidence(p, r->conn_id, r->http_id,
                 "GET %s: %llu of %lld bytes arrived, then nothing from the server for %.1f s",
                 r->path, (unsigned long long)r->body_bytes, (long long)r->content_length,
                 end - last);
        char sum[256];
        snprintf(sum, sizeof sum, "the download of %s stalled part-way", r->path);
        set_verdict(p, OW_VERDICT_SCRIPT_STALLED, 0.75, sum);
        advise(p,
               "The server stopped sending %s: check the server's load and any proxy in "
               "front of it; the transport showed no packet loss pattern.",
               r->path);
        return true;
    }
    for (int i = 0; i < p->n_res; i++) { /* cut short by the client while data flowed */
        const page_resource *r = &p->res[i];
        if (r->is_page || r->complete || !client_closed(&r->health))
            continue;
        evidence(p, r->conn_id, r->http_id, "the client %s the connection fetching %s",
                 r->health.client_rst_ts ? "reset" : "closed", r->path);
        set_verdict(p, OW_VERDICT_CLIENT_GONE, 0.7,
                    "the client went away while its scripts were downloading");
        advise(p, "Nothing to fix on the server if rare (closed tab, navigation).");
        return true;
    }
    return false;
}

/* The client reset its connections soon after the page (tab closed, navigation away)
 * before any websocket: it left rather than failed to connect. */
static bool check_client_reset(page_load *p, double grace)
{
    for (int i = 0; i < p->n_res; i++) {
        const page_resource *r = &p->res[i];
        double rst = r->health.client_rst_ts;
        if (!rst || rst - p->started > grace)
            continue;
        evidence(p, r->conn_id, r->http_id,
                 "the client reset its connection (port %u) %.2f s after the page request, "
                 "with no websocket opened",
                 r->client_port, rst - p->started);
        set_verdict(p, OW_VERDICT_CLIENT_GONE, 0.75,
                    "the client went away (reset its connections) before opening the websocket");
        advise(p, "Nothing on the server to fix if this is rare (closed tab, navigation).");
        return true;
    }
    return false;
}

static bool non_browser(const char *ua)
{
    static const char *const bots[] = {
        "curl/",  "wget",    "python", "go-http-client", "kube-probe", "elb-healthchecker",
        "bot",    "crawler", "spider", "httpie",         "java/",      "okhttp",
        "libwww", "monitor", "uptime", "prometheus",     "slack",      "preview"};
    if (!ua[0])
        return true;
    for (size_t i = 0; i < sizeof bots / sizeof *bots; i++)
        if (strcasestr(ua, bots[i]))
            return true;
    return !strstr(ua, "Mozilla/");
}

static bool check_no_scripts(page_load *p)
{
    if (p->static_count || p->ws_total)
        return false;
    bool bot = non_browser(p->user_agent);
    evidence(p, p->conn_id, p->http_id,
             "page served (%d, %llu bytes) to User-Agent \"%s\"; no script fetch and no "
             "websocket followed from %s",
             p->status, (unsigned long long)p->resp_bytes,
             p->user_agent[0] ? p->user_agent : "(none)", bot ? "this client" : "this browser");
    set_verdict(p, OW_VERDICT_NO_SCRIPTS_FETCHED, bot ? 0.9 : 0.6,
                bot ? "a non-browser client (health check, crawler or script) fetched the page "
                      "and nothing else"
                    : "the browser fetched the page and nothing after it (closed tab, prefetch, "
                      "link preview)");
    advise(p,
           "Every GET of the app page creates a Bokeh session and runs the app code. Point "
           "health checks at %s/metadata or /favicon.ico instead, which create no session.",
           p->app);
    return true;
}

static bool check_ws_elsewhere(page_load *p)
{
    for (int i = 0; i < p->n_ws; i++) {
        const page_ws *w = &p->ws[i];
        if (w->same_server)
            continue;
        char srv[OW_ADDR_STRLEN];
        ow_addr_str(&w->server, srv, sizeof srv);
        evidence(p, w->conn_id, 0,
                 "a websocket carrying this session went to %s port %u (status %d), not to the "
                 "server that created the session",
                 srv, w->server_port, w->status);
        set_verdict(p, OW_VERDICT_WS_ELSEWHERE, 0.9,
                    "the websocket for this session reached another server node");
        advise(p, "The page and its websocket must reach the same Bokeh process: enable sticky "
                  "sessions on the load balancer, or run a single process per port.");
        return true;
    }
    return false;
}

static bool check_ws_never(page_load *p)
{
    if (!p->static_count || p->ws_total || p->static_failed)
        return false;
    evidence(p, p->conn_id, p->http_id,
             "the client fetched %u scripts (%llu bytes), all complete, then opened no websocket",
             p->static_count, (unsigned long long)p->static_bytes);
    set_verdict(p, OW_VERDICT_WS_NEVER_ATTEMPTED, 0.7,
                "the scripts arrived but the browser never opened the websocket");
    advise(p, "Look in the browser console: a proxy or extension blocking websockets, mixed "
              "content (https page, ws: URL) or a script error before the embed code ran.");
    return true;
}

/* ---------------------------------------------------------------- websocket outcomes */

static const page_ws *first_ws(const page_load *p, int status_101)
{
    for (int i = 0; i < p->n_ws; i++)
        if (p->ws[i].same_server && ((p->ws[i].status == 101) == status_101))
            return &p->ws[i];
    return NULL;
}

static void verdict_refused(page_load *p)
{
    const page_ws *w = first_ws(p, 0);
    if (!w)
        return;
    evidence(p, w->conn_id, 0,
             "websocket upgrade %s from port %u answered %d %.1f s after the page request; "
             "Origin: %s",
             w->path, w->client_port, w->status, w->upgrade_ts - p->started,
             w->origin[0] ? w->origin : "(none)");
    set_verdict(p, OW_VERDICT_WS_REFUSED, 0.95,
                "the server refused the websocket upgrade, so the page stayed blank");
    if (w->status == 403)
        advise(p,
               "Bokeh refuses websocket origins that are not allowed. Start the server with "
               "--allow-websocket-origin=%s (the host the browser used), or set "
               "BOKEH_ALLOW_WS_ORIGIN. A 403 can also mean an invalid or unsigned session "
               "id/token (--session-ids).",
               p->host[0] ? p->host : "HOST:PORT");
    else
        advise(p,
               "The upgrade got HTTP %d: a proxy in front of the server must pass "
               "'Upgrade: websocket' and 'Connection: Upgrade' through.",
               w->status);
}

static void verdict_no_doc(page_load *p)
{
    const page_ws *w = first_ws(p, 1);
    if (!w)
        return;
    bool expired = p->token_expiry && (int64_t)w->upgrade_ts >= p->token_expiry;
    if (!w->ack && (expired || w->close_code[OW_DIR_S2C] == 0)) {
        evidence(p, w->conn_id, 0,
                 "websocket opened (101) and the server closed it at once (%s), before any ACK",
                 w->close_code[OW_DIR_S2C] == 0 ? "empty close frame" : "no close frame");
        if (p->token_expiry)
            evidence(p, w->conn_id, 0,
                     "the session token expired at %lld; the upgrade came at %.0f (%+.0f s)",
                     (long long)p->token_expiry, w->upgrade_ts,
                     w->upgrade_ts - (double)p->token_expiry);
        set_verdict(p, OW_VERDICT_TOKEN_EXPIRED, expired ? 0.9 : 0.5,
                    "the websocket came after the session token had expired");
        advise(p,
               "The page's scripts took longer than the token lifetime (%.0f s from page to "
               "websocket). Fix what delayed them, or raise --session-token-expiration.",
               w->upgrade_ts - p->started);
        return;
    }
    evidence(p, w->conn_id, 0, "websocket opened (101) but no document was pulled%s",
             w->ack ? " (ACK seen)" : " (no ACK)");
    set_verdict(p, OW_VERDICT_UNKNOWN, 0.4, "the websocket opened but never pulled a document");
    advise(p, "Check the server log for 'Uncaught exception' or protocol errors around %.0f.",
           w->upgrade_ts);
}

static bool check_render_failed(page_load *p, double now, bool final)
{
    for (int i = 0; i < p->n_ws; i++) {
        const page_ws *w = &p->ws[i];
        if (!w->same_server || !w->doc || w->client_patch_docs)
            continue;
        if (!w->closed && !final && now - w->pull_doc_ts < RENDER_WAIT_S)
            return false;
        evidence(p, w->conn_id, 0,
                 "PULL-DOC-REPLY sent at +%.2f s; the browser never sent a PATCH-DOC "
                 "(document_ready) afterwards",
                 w->pull_doc_ts - p->started);
        set_verdict(p, OW_VERDICT_RENDER_FAILED, 0.7,
                    "the document reached the browser but it never reported it rendered");
        advise(p, "Look in the browser console for 'could not resolve type' or 'Error rendering "
                  "Bokeh items': usually a plugin script (widgets, tables) or a custom model "
                  "failed to load.");
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- the decision */

void verdict_decide(correlator *c, page_load *p, bool final)
{
    p->verdict = OW_VERDICT_NONE;
    p->confidence = 0;
    p->summary[0] = p->advice[0] = 0;
    p->n_evidence = 0;
    switch (p->outcome) {
    case OW_OUTCOME_CONNECTED:
        if (!check_slow_recovery(p))
            check_render_failed(p, c->now, final);
        return;
    case OW_OUTCOME_WS_REFUSED:
        verdict_refused(p);
        return;
    case OW_OUTCOME_WS_NO_DOC:
        verdict_no_doc(p);
        return;
    case OW_OUTCOME_ORPHAN:
    case OW_OUTCOME_UNDECIDED:
        break;
    default:
        return;
    }
    if (check_ws_elsewhere(p) || check_blackhole(p) || check_script_failed(p) ||
        check_client_gone(p) || check_script_stalled(p, c->now) ||
        check_client_reset(p, c->opts.grace))
        return;
    if (p->outcome == OW_OUTCOME_UNDECIDED)
        return; /* the client may still come: absence is not yet evidence */
    if (check_no_scripts(p) || check_ws_never(p))
        return;
    evidence(p, p->conn_id, p->http_id,
             "page served (%d), %u scripts fetched (%u failed), no websocket for the session",
             p->status, p->static_count, p->static_failed);
    set_verdict(p, OW_VERDICT_UNKNOWN, 0.3, "no websocket followed and the wire shows no cause");
    advise(p, "Compare with the browser console and the server log for this session id.");
}
