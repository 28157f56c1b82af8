/* correlator: the flow sink that capture/ feeds, the maps that tie page loads to sessions,
 * clients and URLs, ticks of capture time, and the end of a capture (see correlator.h). */
#include "correlate/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_INTERVAL_S 0.5 /* how often pending page loads are checked against the clock */

void correlator_default_opts(correlator_opts *o)
{
    *o = (correlator_opts){.grace = OW_DEFAULT_GRACE_S,
                           .max_page_loads = OW_DEFAULT_MAX_PAGE_LOADS,
                           .max_page_body = OW_DEFAULT_MAX_PAGE_BODY,
                           .max_ws_message = WS_DEFAULT_MAX_MESSAGE,
                           .max_bokeh_stored = OW_DEFAULT_MAX_BOKEH_STORED,
                           .max_inflaters = OW_DEFAULT_MAX_INFLATERS};
}

/* The websocket parsers count skipped messages in the budget; the stats follow it after each
 * call that may have run them. */
static void sync_budget_stats(correlator *c)
{
    c->stats.inflate_budget_skipped = c->inflaters.skipped;
}

static void sink_open(void *ctx, ow_flow *f, double ts)
{
    correlator *c = ctx;
    c->now = ts;
    conn_open(c, f, ts);
}

static size_t sink_data(void *ctx, ow_flow *f, int dir, const uint8_t *data, size_t len, double ts)
{
    correlator *c = ctx;
    c->now = ts;
    size_t used = conn_data(c, f, dir, data, len, ts);
    sync_budget_stats(c);
    return used;
}

static void sink_gap(void *ctx, ow_flow *f, int dir, uint64_t len, double ts)
{
    correlator *c = ctx;
    c->now = ts;
    conn_gap(c, f, dir, len, ts);
    sync_budget_stats(c);
}

static void sink_close(void *ctx, ow_flow *f, int how, double ts)
{
    correlator *c = ctx;
    c->now = ts;
    conn_close(c, f, how, ts);
    sync_budget_stats(c);
}

static void sink_tick(void *ctx, double now)
{
    correlator *c = ctx;
    if (now > c->now)
        c->now = now;
    if (c->now - c->last_sweep >= SWEEP_INTERVAL_S) {
        c->last_sweep = c->now;
        pages_tick(c, c->now, false);
    }
    conn_flush_marked(c); /* before the writer's tick, which may commit */
    if (c->out.tick)
        c->out.tick(c->out.ctx, c->now);
}

correlator *correlator_new(const correlator_opts *o, const ow_record_sink *out)
{
    correlator *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (o)
        c->opts = *o;
    else
        correlator_default_opts(&c->opts);
    if (c->opts.grace <= 0)
        c->opts.grace = OW_DEFAULT_GRACE_S;
    if (!c->opts.max_page_loads)
        c->opts.max_page_loads = OW_DEFAULT_MAX_PAGE_LOADS;
    if (!c->opts.max_page_body)
        c->opts.max_page_body = OW_DEFAULT_MAX_PAGE_BODY;
    if (!c->opts.max_ws_message)
        c->opts.max_ws_message = WS_DEFAULT_MAX_MESSAGE;
    if (!c->opts.max_inflaters)
        c->opts.max_inflaters = OW_DEFAULT_MAX_INFLATERS;
    ow_inflate_budget_init(&c->inflaters, c->opts.max_inflaters);
    if (out)
        c->out = *out;
    c->sink = (ow_flow_sink){.ctx = c,
                             .on_open = sink_open,
                             .on_data = sink_data,
                             .on_gap = sink_gap,
                             .on_close = sink_close,
                             .on_tick = sink_tick};
    strmap_init(&c->page_by_id);
    strmap_init(&c->page_by_session);
    strmap_init(&c->page_by_url);
    strmap_init(&c->page_by_client);
    strmap_init(&c->conn_by_id);
    return c;
}

const ow_flow_sink *correlator_flow_sink(correlator *c)
{
    return &c->sink;
}

void correlator_finish(correlator *c, double end_ts)
{
    if (end_ts > c->now)
        c->now = end_ts;
    pages_tick(c, c->now, true);
    conn_flush_marked(c);
    if (c->out.tick)
        c->out.tick(c->out.ctx, c->now);
}

const correlator_stats *correlator_get_stats(const correlator *c)
{
    return &c->stats;
}

size_t correlator_stats_json(const correlator *c, char *buf, size_t cap)
{
    const correlator_stats *s = &c->stats;
    const struct {
        const char *name;
        uint64_t v;
    } f[] = {
        {"connections", s->connections},
        {"http_requests", s->http_requests},
        {"http_responses", s->http_responses},
        {"http_errors", s->http_errors},
        {"http_unpaired", s->http_unpaired},
        {"ws_upgrades", s->ws_upgrades},
        {"ws_messages", s->ws_messages},
        {"ws_errors", s->ws_errors},
        {"bokeh_messages", s->bokeh_messages},
        {"bokeh_errors", s->bokeh_errors},
        {"page_loads", s->page_loads},
        {"tokens_bad", s->tokens_bad},
        {"page_body_truncated", s->page_body_truncated},
        {"inflate_errors", s->inflate_errors},
        {"page_loads_evicted", s->page_loads_evicted},
        {"statics_unlinked", s->statics_unlinked},
        {"ws_without_page", s->ws_without_page},
        {"ws_midstream", s->ws_midstream},
        {"content_gaps", s->gaps},
        {"bokeh_not_stored", s->bokeh_not_stored},
        {"http_pending_overflow", s->http_pending_overflow},
        {"ws_truncated", s->ws_truncated},
        {"inflate_budget_skipped", s->inflate_budget_skipped},
        {"tls_connections", s->tls_connections},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof f / sizeof *f && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%llu", i ? "," : "", f[i].name,
                              (unsigned long long)f[i].v);
    return n < cap ? n : cap;
}

void correlator_free(correlator *c)
{
    if (!c)
        return;
    pages_free(c);
    strmap_free(&c->page_by_id);
    strmap_free(&c->page_by_session);
    strmap_free(&c->page_by_url);
    strmap_free(&c->page_by_client);
    strmap_free(&c->conn_by_id);
    free(c);
}
