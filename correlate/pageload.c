/* pageload: the page loads of a capture. A page load is born when a served page (or an
 * autoload.js) carries a Bokeh session token; the static fetches its client makes are linked
 * to it (by Referer, else by client and time), and so are the websockets that carry its
 * session id. Its outcome is decided when a websocket tells, or when its grace time ends;
 * decided page loads stay linkable for OW_PAGE_RETAIN_S, then leave memory. */
#include "correlate/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATIC_LINK_WINDOW_S 120.0 /* a static fetch without Referer joins a page this recent */

static void key_for_id(int64_t id, char out[8])
{
    memcpy(out, &id, 8);
}

page_load *page_find(correlator *c, int64_t id)
{
    char k[8];
    key_for_id(id, k);
    return strmap_get(&c->page_by_id, k, 8);
}

static size_t client_key(const ow_addr *a, char *out)
{
    out[0] = (char)a->family;
    memcpy(out + 1, a->bytes, 16);
    return 17;
}

static size_t url_key(const ow_addr *a, const char *target, char *out, size_t cap)
{
    size_t n = client_key(a, out), tl = strlen(target);
    if (tl > cap - n)
        tl = cap - n;
    /* a key with its length: NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
    memcpy(out + n, target, tl);
    return n + tl;
}

void session_emit(correlator *c, const char *sid, double ts, const page_load *p, const ws_state *ws)
{
    if (!c->out.session || !sid || !sid[0])
        return;
    ow_session_rec r = {.session_id = sid,
                        .first_ts = p ? p->started : ts,
                        .last_ts = ts,
                        .page_loads = p ? 1 : 0,
                        .websockets = p ? p->ws_total : 1,
                        .token_expiry = p    ? p->token_expiry
                                        : ws ? ws->token_expiry
                                             : 0,
                        .outcome = p ? ow_outcome_name(p->outcome) : "websocket_only"};
    c->out.session(c->out.ctx, &r);
}

void page_emit(correlator *c, page_load *p)
{
    p->dirty = false;
    if (!c->out.page)
        return;
    for (int i = 0; i < p->n_evidence; i++)
        p->evidence[i].text = p->evidence_text[i];
    ow_page_rec r = {
        .id = p->id,
        .http_id = p->http_id,
        .conn_id = p->conn_id,
        .session_id = p->session_id,
        .client = &p->client,
        .server = &p->server,
        .client_port = p->client_port,
        .server_port = p->server_port,
        .host = p->host,
        .path = p->path,
        .app = p->app,
        .user_agent = p->user_agent,
        .started = p->started,
        .status = p->status,
        .resp_bytes = p->resp_bytes,
        .ttfb = p->ttfb,
        .ttlb = p->ttlb,
        .token_expiry = p->token_expiry,
        .static_count = p->static_count,
        .static_failed = p->static_failed,
        .static_bytes = p->static_bytes,
        .websockets = p->ws_total,
        .first_ws_ts = p->first_ws_ts,
        .outcome = p->outcome,
        .verdict = p->verdict,
        .confidence = p->confidence,
        .summary = p->summary,
        .advice = p->advice,
        .decided_ts = p->decided_ts,
        .evidence = p->evidence,
        .n_evidence = (size_t)p->n_evidence,
    };
    c->out.page(c->out.ctx, &r);
    session_emit(c, p->session_id, c->now, p, NULL);
}

/* ---------------------------------------------------------------- outcomes */

/* The outcome the page's websockets give; *when is the time it became true: now for what a
 * packet told, upgrade + grace for a websocket that never asked for its document. */
static ow_outcome outcome_from_websockets(const correlator *c, const page_load *p, bool final,
                                          bool *waiting, double *when)
{
    ow_outcome best = OW_OUTCOME_PENDING;
    *waiting = false;
    *when = c->now;
    for (int i = 0; i < p->n_ws; i++) {
        const page_ws *w = &p->ws[i];
        if (!w->same_server)
            continue;
        if (w->status == 101 && w->doc)
            return OW_OUTCOME_CONNECTED;
        if (w->status == 101) {
            if (w->closed || final)
                best = OW_OUTCOME_WS_NO_DOC;
            else if (c->now - w->upgrade_ts > c->opts.grace) {
                best = OW_OUTCOME_WS_NO_DOC;
                *when = w->upgrade_ts + c->opts.grace;
            } else
                *waiting = true;
        } else if (best == OW_OUTCOME_PENDING) {
            best = OW_OUTCOME_WS_REFUSED;
        }
    }
    if (*waiting || best != OW_OUTCOME_WS_NO_DOC)
        *when = c->now;
    return best;
}

static double grace_deadline(const correlator *c, const page_load *p)
{
    double from = p->started;
    if (p->resp_end_ts > from)
        from = p->resp_end_ts;
    return from + c->opts.grace;
}

/* A connection of the page that is still open (a black-holed one keeps retransmitting for
 * many minutes) has moved on since its snapshot: take its health as it is now, and refresh its
 * row so readers see the same evidence. */
static void refresh_open_resources(correlator *c, page_load *p)
{
    int64_t done[PAGE_MAX_RESOURCES];
    int n_done = 0;
    for (int i = 0; i < p->n_res; i++) {
        page_resource *r = &p->res[i];
        conn_state *cs = conn_find(c, r->conn_id);
        if (!cs)
            continue;
        health_brief_from(&r->health, cs, 0);
        bool seen = false;
        for (int j = 0; j < n_done; j++)
            seen |= done[j] == r->conn_id;
        if (!seen) {
            done[n_done++] = r->conn_id;
            conn_emit_progress(c, cs);
        }
    }
}

/* Decides (or re-decides) the outcome and the verdict; emits the row when it changed. */
static void page_evaluate(correlator *c, page_load *p, bool final)
{
    refresh_open_resources(c, p);
    bool waiting;
    double when; /* decided when the deadline passed, not when a tick noticed: ticks follow the
                  * capture's batches, and a decision must not depend on them */
    ow_outcome o = outcome_from_websockets(c, p, final, &waiting, &when);
    if (o == OW_OUTCOME_PENDING && !waiting) {
        if (c->now >= grace_deadline(c, p)) {
            o = OW_OUTCOME_ORPHAN;
            when = grace_deadline(c, p);
        } else if (final)
            o = OW_OUTCOME_UNDECIDED;
    }
    if (o != p->outcome) {
        p->outcome = o;
        p->decided_ts = o == OW_OUTCOME_PENDING ? 0 : when;
        p->dirty = true;
    }
    if (p->outcome != OW_OUTCOME_PENDING) {
        ow_verdict before = p->verdict;
        int n_before = p->n_evidence;
        verdict_decide(c, p, final);
        if (p->verdict != before || p->n_evidence != n_before)
            p->dirty = true;
    }
    if (p->dirty)
        page_emit(c, p);
}

/* ---------------------------------------------------------------- life cycle */

static void page_unlink(correlator *c, page_load *p)
{
    char k[8 + 17 + 1024];
    key_for_id(p->id, k);
    strmap_del(&c->page_by_id, k, 8, p);
    strmap_del(&c->page_by_session, p->session_id, strlen(p->session_id), p);
    strmap_del(&c->page_by_client, k, client_key(&p->client, k), p);
    strmap_del(&c->page_by_url, k, url_key(&p->client, p->path, k, sizeof k), p);
    if (p->prev)
        p->prev->next = p->next;
    else
        c->pages_head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        c->pages_tail = p->prev;
    c->n_pages--;
}

static void page_retire(correlator *c, page_load *p, bool final)
{
    page_evaluate(c, p, final);
    page_unlink(c, p);
    free(p);
}

static void page_insert(correlator *c, page_load *p)
{
    char k[8 + 17 + 1024];
    if (c->n_pages >= c->opts.max_page_loads && c->pages_head) {
        c->stats.page_loads_evicted++;
        page_retire(c, c->pages_head, true);
    }
    key_for_id(p->id, k);
    strmap_put(&c->page_by_id, k, 8, p);
    strmap_put(&c->page_by_session, p->session_id, strlen(p->session_id), p);
    strmap_put(&c->page_by_client, k, client_key(&p->client, k), p);
    strmap_put(&c->page_by_url, k, url_key(&p->client, p->path, k, sizeof k), p);
    p->prev = c->pages_tail;
    if (c->pages_tail)
        c->pages_tail->next = p;
    else
        c->pages_head = p;
    c->pages_tail = p;
    c->n_pages++;
}

static void conn_add_page_ref(conn_state *cs, int64_t page_id)
{
    for (int i = 0; i < cs->n_page_refs; i++)
        if (cs->page_refs[i] == page_id)
            return;
    if (cs->n_page_refs == CONN_MAX_PAGE_REFS) { /* keep the newest */
        memmove(cs->page_refs, cs->page_refs + 1,
                sizeof cs->page_refs[0] * (CONN_MAX_PAGE_REFS - 1));
        cs->n_page_refs--;
    }
    cs->page_refs[cs->n_page_refs++] = page_id;
}

static void resource_path(char *dst, size_t cap, const char *target)
{
    copy_bounded(dst, cap, target, strcspn(target, "?#"));
}

static int add_resource(page_load *p, conn_state *cs, exchange *x, bool is_page)
{
    if (p->n_res == PAGE_MAX_RESOURCES) {
        p->resources_dropped++;
        return -1;
    }
    page_resource *r = &p->res[p->n_res];
    memset(r, 0, sizeof *r);
    r->http_id = x->id;
    r->conn_id = (int64_t)cs->flow->id;
    r->is_page = is_page;
    r->req_ts = x->req_ts;
    r->content_length = -1;
    r->client_port = cs->flow->client_port;
    resource_path(r->path, sizeof r->path, x->target);
    health_brief_from(&r->health, cs, 0);
    return p->n_res++;
}

/* What the page load remembers of one fetch's response. */
static void resource_from_exchange(page_resource *r, const exchange *x)
{
    r->has_response = x->has_response;
    r->ended = x->ended;
    r->complete = x->complete;
    r->status = x->status;
    r->content_length = x->content_length;
    r->body_bytes = x->resp_body_bytes;
    r->resp_ts = x->resp_ts;
    r->end_ts = x->resp_end_ts;
    r->end_offset = x->end_offset;
}

static void app_from_path(char *app, size_t cap, const char *path)
{
    size_t n = strcspn(path, "?#");
    if (n >= 12 && strncmp(path + n - 12, "/autoload.js", 12) == 0)
        n -= 12;
    while (n > 1 && path[n - 1] == '/')
        n--;
    copy_bounded(app, cap, path, n);
}

static page_load *page_new(correlator *c, conn_state *cs, exchange *x, const char *sid,
                           int64_t expiry)
{
    page_load *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, PAGE_LOAD_ZEROED);
    const ow_flow *f = cs->flow;
    p->id = ++c->next_page_id;
    p->http_id = x->id;
    p->conn_id = (int64_t)f->id;
    copy_bounded(p->session_id, sizeof p->session_id, sid, strlen(sid));
    p->client = f->client;
    p->server = f->server;
    p->client_port = f->client_port;
    p->server_port = f->server_port;
    copy_bounded(p->host, sizeof p->host, x->host, strlen(x->host));
    copy_bounded(p->path, sizeof p->path, x->target, strlen(x->target));
    app_from_path(p->app, sizeof p->app, x->target);
    copy_bounded(p->user_agent, sizeof p->user_agent, x->user_agent, strlen(x->user_agent));
    p->started = x->req_ts;
    p->status = x->status;
    p->resp_bytes = x->resp_body_bytes;
    p->ttfb = x->has_response ? x->resp_ts - x->req_ts : -1;
    p->ttlb = x->ended ? x->resp_end_ts - x->req_ts : -1;
    p->resp_end_ts = x->ended && x->complete ? x->resp_end_ts : 0;
    p->token_expiry = expiry;
    p->outcome = OW_OUTCOME_PENDING;
    p->created_ts = c->now;
    int ri = add_resource(p, cs, x, true);
    if (ri >= 0)
        resource_from_exchange(&p->res[ri], x);
    return p;
}

void page_from_tokens(correlator *c, conn_state *cs, exchange *x)
{
    bokeh_found found[8];
    size_t n = bokeh_find_tokens((const char *)x->body, x->body_len, found, 8);
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++) {
        char sid[BOKEH_SESSION_ID_MAX];
        int64_t expiry = 0;
        if (found[i].is_token) {
            bokeh_token_info info;
            if (bokeh_token_decode(found[i].start, found[i].len, &info) != 0) {
                c->stats.tokens_bad++;
                continue;
            }
            memcpy(sid, info.session_id, sizeof sid);
            expiry = info.has_expiry ? info.expiry : 0;
        } else {
            copy_bounded(sid, sizeof sid, found[i].start, found[i].len);
        }
        page_load *dup = strmap_get(&c->page_by_session, sid, strlen(sid));
        if (dup && dup->http_id == x->id)
            continue; /* the same token twice in one page: one page load */
        page_load *p = page_new(c, cs, x, sid, expiry);
        if (!p)
            return;
        c->stats.page_loads++;
        page_insert(c, p);
        if (!x->page_load_id) {
            x->page_load_id = p->id;
            x->res_index = 0;
            const char *kind = strcmp(x->kind, "autoload") ? "page" : "autoload";
            copy_bounded(x->kind, sizeof x->kind, kind, strlen(kind));
        }
        conn_add_page_ref(cs, p->id);
        page_emit(c, p);
    }
}

/* The page a static fetch belongs to: by Referer (exact page URL from this client), else
 * the newest page from the same client served by the same server within the window. */
static page_load *page_for_static(correlator *c, conn_state *cs, const exchange *x)
{
    char k[17 + 1024];
    const ow_flow *f = cs->flow;
    const char *ref = x->referer;
    const char *scheme = strstr(ref, "://");
    if (scheme) {
        const char *path = strchr(scheme + 3, '/');
        if (path) {
            page_load *p = strmap_get(&c->page_by_url, k, url_key(&f->client, path, k, sizeof k));
            if (p)
                return p;
        }
    }
    page_load *p = strmap_get(&c->page_by_client, k, client_key(&f->client, k));
    if (p && x->req_ts - p->started < STATIC_LINK_WINDOW_S && ow_addr_eq(&p->server, &f->server))
        return p;
    return NULL;
}

void page_link_static(correlator *c, conn_state *cs, exchange *x)
{
    page_load *p = page_for_static(c, cs, x);
    if (!p) {
        c->stats.statics_unlinked++;
        return;
    }
    x->page_load_id = p->id;
    x->res_index = add_resource(p, cs, x, false);
    if (strcmp(x->kind, "favicon"))
        p->static_count++;
    conn_add_page_ref(cs, p->id);
}

void page_update_resource(correlator *c, conn_state *cs, exchange *x)
{
    page_load *p = page_find(c, x->page_load_id);
    if (!p)
        return;
    bool is_static = strcmp(x->kind, "static") == 0;
    if (x->res_index >= 0 && x->res_index < p->n_res && p->res[x->res_index].http_id == x->id) {
        page_resource *r = &p->res[x->res_index];
        bool first_end = !r->ended && x->ended;
        resource_from_exchange(r, x);
        health_brief_from(&r->health, cs, 0);
        if (first_end && is_static) {
            p->static_bytes += x->resp_body_bytes;
            if (x->status >= 400 || !x->complete)
                p->static_failed++;
        }
    }
    if (x->id == p->http_id) { /* the page itself: times and sizes */
        p->resp_bytes = x->resp_body_bytes;
        p->ttlb = x->ended ? x->resp_end_ts - x->req_ts : -1;
        p->resp_end_ts = x->ended && x->complete ? x->resp_end_ts : 0;
    }
}

void page_refresh_conn(correlator *c, conn_state *cs, int close_how)
{
    for (int i = 0; i < cs->n_page_refs; i++) {
        page_load *p = page_find(c, cs->page_refs[i]);
        if (!p)
            continue;
        for (int j = 0; j < p->n_res; j++) {
            page_resource *r = &p->res[j];
            if (r->conn_id != (int64_t)cs->flow->id)
                continue;
            health_brief_from(&r->health, cs, close_how);
            if (!r->ended && r->has_response) /* cut short by the close */
                r->end_ts = c->now;
        }
        if (p->outcome != OW_OUTCOME_PENDING)
            page_evaluate(c, p, false);
    }
}

/* ---------------------------------------------------------------- websockets */

static page_ws *page_ws_slot(page_load *p, int64_t ws_id)
{
    for (int i = 0; i < p->n_ws; i++)
        if (p->ws[i].ws_id == ws_id)
            return &p->ws[i];
    return NULL;
}

void page_link_ws(correlator *c, conn_state *cs, ws_state *ws)
{
    const ow_flow *f = cs->flow;
    page_load *p = ws->session_id[0]
                       ? strmap_get(&c->page_by_session, ws->session_id, strlen(ws->session_id))
                       : NULL;
    if (!p) {
        c->stats.ws_without_page++;
        session_emit(c, ws->session_id, cs->now, NULL, ws);
        return;
    }
    bool same = ow_addr_eq(&p->server, &f->server) && p->server_port == f->server_port;
    if (same)
        ws->page_load_id = p->id;
    p->ws_total++;
    if (!p->first_ws_ts)
        p->first_ws_ts = ws->upgrade_ts;
    if (p->n_ws < PAGE_MAX_WS) {
        page_ws *w = &p->ws[p->n_ws++];
        memset(w, 0, sizeof *w);
        w->ws_id = ws->id;
        w->conn_id = (int64_t)f->id;
        w->status = ws->status;
        w->upgrade_ts = ws->upgrade_ts;
        w->same_server = same;
        w->server = f->server;
        w->server_port = f->server_port;
        w->client_port = f->client_port;
        w->close_code[0] = w->close_code[1] = -1;
        w->closed = ws->status != 101;
        copy_bounded(w->path, sizeof w->path, ws->path, strlen(ws->path));
        copy_bounded(w->origin, sizeof w->origin, ws->origin, strlen(ws->origin));
    }
    p->dirty = true;
    page_evaluate(c, p, false);
}

void page_update_ws(correlator *c, ws_state *ws, const ow_flow *f)
{
    page_load *p = ws->session_id[0]
                       ? strmap_get(&c->page_by_session, ws->session_id, strlen(ws->session_id))
                       : NULL;
    page_ws *w = p ? page_ws_slot(p, ws->id) : NULL;
    if (!w)
        return;
    w->ack = ws->ack_ts != 0;
    w->doc = ws->pull_doc_ts != 0;
    w->pull_doc_ts = ws->pull_doc_ts;
    w->client_patch_docs = ws->client_patch_docs;
    w->close_code[0] = ws->close_code[0];
    w->close_code[1] = ws->close_code[1];
    w->close_ts = ws->close_ts;
    if (ws->close_ts || f->health.dir[0].fin || f->health.dir[1].fin || f->health.dir[0].rst ||
        f->health.dir[1].rst)
        w->closed = true;
    page_evaluate(c, p, false);
}

/* ---------------------------------------------------------------- time */

/* Pages are listed in the order they were found. Only the newest ones can still be pending
 * or due a render check: walk back from the tail while they are that recent. Old decided
 * ones leave from the head. Each tick costs what is recent, not what is retained. */
#define TICK_WINDOW_EXTRA_S 30.0

void pages_tick(correlator *c, double now, bool final)
{
    page_load *p, *prev, *next;
    if (final) {
        for (p = c->pages_head; p; p = next) {
            next = p->next;
            page_retire(c, p, true);
        }
        return;
    }
    for (p = c->pages_tail; p && now - p->created_ts <= c->opts.grace + TICK_WINDOW_EXTRA_S;
         p = prev) {
        prev = p->prev;
        /* two different reasons to evaluate: NOLINTBEGIN(bugprone-branch-clone) */
        if (p->outcome == OW_OUTCOME_PENDING && now >= grace_deadline(c, p))
            page_evaluate(c, p, false);
        else if (p->outcome == OW_OUTCOME_CONNECTED && p->verdict == OW_VERDICT_NONE &&
                 p->decided_ts && now - p->decided_ts > 5.0 && now - p->decided_ts < 7.0)
            page_evaluate(c, p, false); /* render check once the client had time to patch */
        /* NOLINTEND(bugprone-branch-clone) */
    }
    while ((p = c->pages_head) && now - p->created_ts > OW_PAGE_RETAIN_S) {
        if (p->outcome == OW_OUTCOME_PENDING) /* no tick reached it in time: decide now */
            page_evaluate(c, p, false);
        page_retire(c, p, false);
    }
}

void pages_free(correlator *c)
{
    page_load *p = c->pages_head, *next;
    for (; p; p = next) {
        next = p->next;
        free(p);
    }
    c->pages_head = c->pages_tail = NULL;
    c->n_pages = 0;
}
