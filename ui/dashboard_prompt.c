/* dashboard_prompt: the one-line prompt at the bottom for the filter (f) and the incremental
 * search (/), and the filter language: "client:ADDR app:/PATH verdict:NAME outcome:NAME",
 * where a bare word is taken as a verdict or outcome name when it is one, a client when it is
 * an address, else an app; checked like `orphanwatch query` options (query_filter_check).
 * The search re-queries the list on every key. */
#include "ui/dashboard_int.h"
#include "capture/addr.h"
#include "correlate/outcome.h"
#include "db/query.h"
#include <curses.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static const char *const filter_keys[] = {"client", "app", "verdict", "outcome"};

/* The field of q a filter key sets, NULL for an unknown key. */
static char *filter_field(dash_query *q, const char *key)
{
    char *fields[] = {q->client, q->app, q->verdict, q->outcome};
    for (size_t i = 0; i < sizeof filter_keys / sizeof filter_keys[0]; i++)
        if (strcmp(key, filter_keys[i]) == 0)
            return fields[i];
    return strcmp(key, "path") == 0 ? q->app : NULL;
}

/* What a bare word most likely names. */
static const char *guess_key(const char *w)
{
    ow_addr a;
    if (strcmp(w, "none") == 0 || ow_verdict_from_name(w) >= 0)
        return "verdict";
    if (ow_outcome_from_name(w) >= 0)
        return "outcome";
    return ow_addr_parse(w, &a) ? "client" : "app";
}

int dash_query_parse_filter(dash_query *q, const char *text, char *err, size_t errlen)
{
    dash_query t = *q;
    t.client[0] = t.app[0] = t.verdict[0] = t.outcome[0] = '\0';
    char buf[DASH_INPUT_MAX + 1];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        /* key:value or key=value; "fd7a::1" alone is a bare word (no known key before ':') */
        char key[16] = "", *val = w, *field;
        size_t kl = strcspn(w, ":=");
        if (w[kl] && kl > 0 && kl < sizeof key) {
            memcpy(key, w, kl);
            key[kl] = '\0';
            if (filter_field(&t, key))
                val = w + kl + 1;
            else if (w[kl] == '=') {
                snprintf(err, errlen, "unknown filter '%s': use client, app, verdict or outcome",
                         key);
                return -1;
            }
        }
        if (val == w)
            snprintf(key, sizeof key, "%s", guess_key(w));
        field = filter_field(&t, key);
        snprintf(field, DASH_FIELD, "%s", val);
    }
    /* The names and the address are checked as `orphanwatch query` checks them. */
    query_filter f = {.client = t.client[0] ? t.client : NULL,
                      .app = t.app[0] ? t.app : NULL,
                      .verdict = t.verdict[0] ? t.verdict : NULL,
                      .outcome = t.outcome[0] ? t.outcome : NULL};
    char client[DASH_FIELD];
    if (query_filter_check(&f, client, sizeof client, err, errlen) < 0)
        return -1;
    if (f.client)
        snprintf(t.client, sizeof t.client, "%s", f.client);
    *q = t;
    return 0;
}

void dash_query_describe(const dash_query *q, bool filters_only, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < outsz)                                                                             \
            o += (size_t)snprintf(out + o, outsz - o, __VA_ARGS__);                                \
    } while (0)
    if (!filters_only && q->orphans_only)
        ADD("%sorphans", o ? " " : "");
    if (q->client[0])
        ADD("%sclient:%s", o ? " " : "", q->client);
    if (q->app[0])
        ADD("%sapp:%s", o ? " " : "", q->app);
    if (q->verdict[0])
        ADD("%sverdict:%s", o ? " " : "", q->verdict);
    if (q->outcome[0])
        ADD("%soutcome:%s", o ? " " : "", q->outcome);
    if (!filters_only && q->search[0])
        ADD("%s/%s", o ? " " : "", q->search);
#undef ADD
}

void dash_prompt_open(dashboard *d, enum dash_prompt_kind kind)
{
    dash_prompt *p = &d->prompt;
    p->kind = kind;
    if (kind == DASH_PROMPT_SEARCH) {
        snprintf(p->saved, sizeof p->saved, "%s", d->q.search);
        snprintf(p->buf, sizeof p->buf, "%s", d->q.search);
    } else {
        dash_query_describe(&d->q, true, p->buf, sizeof p->buf);
    }
    p->len = strlen(p->buf);
    d->redraw = true;
}

static void search_changed(dashboard *d)
{
    snprintf(d->q.search, sizeof d->q.search, "%s", d->prompt.buf);
    dash_query_changed(d);
    d->list.total = -1; /* counted when the prompt closes */
}

static void finish(dashboard *d, bool accept)
{
    dash_prompt *p = &d->prompt;
    char err[160];
    if (p->kind == DASH_PROMPT_FILTER && accept) {
        if (dash_query_parse_filter(&d->q, p->buf, err, sizeof err) < 0)
            dash_message(d, "%s", err);
        dash_query_changed(d);
    } else if (p->kind == DASH_PROMPT_SEARCH && !accept) {
        snprintf(d->q.search, sizeof d->q.search, "%s", p->saved);
        dash_query_changed(d);
    }
    p->kind = DASH_PROMPT_NONE;
    d->redraw = true;
}

static void backspace(dash_prompt *p)
{
    while (p->len > 0) { /* drop one UTF-8 character: continuation bytes, then its lead */
        unsigned char c = (unsigned char)p->buf[--p->len];
        if ((c & 0xC0) != 0x80)
            break;
    }
    p->buf[p->len] = '\0';
}

void dash_prompt_key(dashboard *d, int key, bool is_char)
{
    dash_prompt *p = &d->prompt;
    bool changed = false;
    if (is_char && key == 27) {
        finish(d, false);
        return;
    }
    if ((is_char && (key == '\r' || key == '\n')) || (!is_char && key == KEY_ENTER)) {
        finish(d, true);
        return;
    }
    if ((!is_char && key == KEY_BACKSPACE) || (is_char && (key == 127 || key == 8))) {
        backspace(p);
        changed = true;
    } else if (is_char && key == 21) { /* Ctrl-U */
        p->len = 0, p->buf[0] = '\0';
        changed = true;
    } else if (is_char && key >= 32 && key != 127 && !(key >= 0x80 && key < 0xA0)) {
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, (wchar_t)key, &st);
        if (n != (size_t)-1 && p->len + n < sizeof p->buf) {
            memcpy(p->buf + p->len, mb, n);
            p->len += n;
            p->buf[p->len] = '\0';
            changed = true;
        }
    }
    if (changed && p->kind == DASH_PROMPT_SEARCH)
        search_changed(d);
    d->redraw = true;
}

void dash_prompt_draw(dashboard *d, int y)
{
    const char *label = d->prompt.kind == DASH_PROMPT_SEARCH ? "Search: " : "Filter: ";
    dash_fill(d, y, 0, d->cols, A_NORMAL);
    int x = dash_put(d, y, 0, label, d->cols, A_BOLD);
    /* Show the end of a long input, so the cursor stays visible. */
    const char *s = d->prompt.buf;
    int room = d->cols - x - 1;
    while (*s && dash_text_width(s, d->utf8) > room)
        s++;
    while ((*s & 0xC0) == 0x80)
        s++;
    x += dash_put(d, y, x, s, room, A_NORMAL);
    dash_put(d, y, x, " ", 1, A_REVERSE);
    if (d->prompt.kind == DASH_PROMPT_FILTER && x + 4 < d->cols && !d->prompt.buf[0])
        dash_put(d, y, x + 2, "client:ADDR app:/PATH verdict:NAME outcome:NAME (empty clears)",
                 d->cols - x - 3, A_DIM);
}
