/* query_timeline: every event of one page load in time order, with times relative to the
 * page request: the page request and response, each fetch that belongs to it (status, bytes,
 * completeness, the retransmissions of its connection), each websocket (upgrade, Bokeh
 * messages, close) and the outcome with its verdict, evidence and advice. Also finds the page
 * load from a unique prefix of its session id. */
#include "db/query.h"
#include "db/query_build.h"
#include <stdio.h>
#include <string.h>

/* Rows: ts, ord (tie order), seq, event, detail. ?1 is the page load id. */
static const char timeline_sql[] =
    "WITH pl AS (SELECT p.*, (SELECT session_id FROM sessions WHERE id = p.session_ref) AS "
    "  session_id, (SELECT user_agent FROM user_agents WHERE id = p.ua_ref) AS user_agent "
    "  FROM page_loads p WHERE id = ?1), "
    "ws AS (SELECT w.* FROM websockets w WHERE w.page_load_id = ?1 UNION "
    "  SELECT w.* FROM websockets w, pl WHERE w.session_ref = pl.session_ref), "
    "last AS (SELECT MAX(t) AS t FROM (SELECT pl.started AS t FROM pl UNION ALL "
    "  SELECT COALESCE(h.resp_end_ts, h.resp_ts, h.req_ts) FROM http_exchanges h "
    "  WHERE h.page_load_id = ?1 UNION ALL SELECT COALESCE(end_ts, close_ts, upgrade_ts) FROM "
    "ws)), "
    "ev(ts, ord, seq, event, detail) AS ("
    /* the page request and its response */
    "SELECT pl.started, 0, 0, 'page request', printf('%s %s (host %s) from %s port %d to %s:%d, "
    "user agent %s', COALESCE(h.method, 'GET'), COALESCE(h.target, pl.path), "
    "  COALESCE(pl.host, '?'), pl.client, pl.client_port, pl.server, pl.server_port, "
    "  COALESCE(pl.user_agent, '(none)')) "
    "  FROM pl LEFT JOIN http_exchanges h ON h.id = pl.http_id "
    "UNION ALL SELECT COALESCE(h.resp_ts, pl.started + pl.ttfb), 1, 0, 'page response', "
    "  printf('%s %s, %d bytes%s, ttfb %.3f s, ttlb %s, session %s', COALESCE(pl.status, '-'), "
    "  COALESCE(h.reason, ''), COALESCE(pl.resp_bytes, 0), "
    "  CASE h.complete WHEN 0 THEN ' (incomplete)' ELSE '' END, COALESCE(pl.ttfb, 0), "
    "  CASE WHEN pl.ttlb IS NULL THEN '-' ELSE printf('%.3f s', pl.ttlb) END, "
    "  COALESCE(pl.session_id, '-')) "
    "  FROM pl LEFT JOIN http_exchanges h ON h.id = pl.http_id "
    "  WHERE COALESCE(h.resp_ts, pl.started + pl.ttfb) IS NOT NULL "
    /* the fetches that belong to the page */
    "UNION ALL SELECT h.req_ts, 2, h.id, COALESCE(h.kind, 'other') || ' fetch', "
    "  printf('%s %s -> %s, %d bytes%s, %s, connection %d (retransmissions s2c %d, "
    "timeouts %d, longest stall %.3f s)', COALESCE(h.method, '?'), COALESCE(h.target, '?'), "
    "  COALESCE(h.status, 'no response'), COALESCE(h.resp_body_bytes, 0), "
    "  CASE WHEN h.content_length IS NOT NULL THEN printf(' of %d', h.content_length) ELSE '' END, "
    "  CASE h.complete WHEN 1 THEN 'complete' ELSE 'incomplete' END || CASE WHEN h.resp_end_ts "
    "  IS NULL THEN '' ELSE printf(' in %.3f s', h.resp_end_ts - h.req_ts) END, h.connection_id, "
    "  COALESCE(c.retrans_s2c, 0), "
    "  COALESCE(c.rto_s2c, 0), COALESCE(c.longest_stall_s2c, 0)) "
    "  FROM http_exchanges h, pl LEFT JOIN connections c ON c.id = h.connection_id "
    "  WHERE h.page_load_id = ?1 AND h.id IS NOT pl.http_id AND COALESCE(h.kind, '') <> "
    "'websocket' "
    /* websockets */
    "UNION ALL SELECT w.upgrade_ts, 3, w.id, 'websocket upgrade', "
    "  printf('%s -> %s %s on %s:%d (connection %d), subprotocol %s, deflate %s%s', "
    "  COALESCE(w.path, '?'), COALESCE(w.status, 'no response'), COALESCE(w.reason, ''), "
    "  COALESCE(c.server, '?'), COALESCE(c.server_port, 0), w.connection_id, "
    "  CASE w.subprotocol_ok WHEN 1 THEN 'ok' ELSE 'missing' END, "
    "  CASE w.deflate WHEN 1 THEN 'on' ELSE 'off' END, "
    "  CASE w.midstream WHEN 1 THEN ', picked up mid-stream' ELSE '' END) "
    "  FROM ws w LEFT JOIN connections c ON c.id = w.connection_id "
    "UNION ALL SELECT m.ts, 4, m.id, CASE m.dir WHEN 0 THEN 'bokeh C->S' ELSE 'bokeh S->C' END, "
    "  printf('%s msgid %s%s, %d bytes%s', COALESCE(m.msgtype, '?'), COALESCE(m.msgid, '?'), "
    "  COALESCE(' reqid ' || COALESCE(m.reqid, (SELECT r.msgid FROM bokeh_messages r WHERE "
    "  r.websocket_id = m.websocket_id AND r.id = m.reply_to)), ''), COALESCE(m.size, 0), "
    "  CASE WHEN m.num_buffers > 0 THEN printf(', %d buffers', m.num_buffers) ELSE '' END) "
    "  FROM bokeh_messages m JOIN ws w ON m.websocket_id = w.id "
    "UNION ALL SELECT COALESCE(w.close_ts, w.end_ts), 5, w.id, 'websocket end', "
    "  printf('close code c2s %s, s2c %s%s; messages c2s %d, s2c %d (%d stored)', "
    "  COALESCE(w.close_code_c2s, '-'), COALESCE(w.close_code_s2c, '-'), "
    "  CASE WHEN COALESCE(w.close_reason, '') = '' THEN '' ELSE ' reason ' || "
    "quote(w.close_reason) "
    "  END, "
    "  COALESCE(w.messages_c2s, 0), "
    "  COALESCE(w.messages_s2c, 0), (SELECT COUNT(*) FROM bokeh_messages m "
    "  WHERE m.websocket_id = w.id)) FROM ws w WHERE COALESCE(w.close_ts, w.end_ts) IS NOT NULL "
    /* the conclusion */
    "UNION ALL SELECT COALESCE(pl.decided_ts, last.t), 6, 0, 'outcome', "
    "  pl.outcome || CASE WHEN pl.verdict IS NULL THEN '' ELSE printf(', verdict %s "
    "(confidence %.2f): %s', pl.verdict, COALESCE(pl.confidence, 0), COALESCE(pl.summary, '')) "
    "  END FROM pl, last "
    "UNION ALL SELECT COALESCE(pl.decided_ts, last.t), 7, e.seq, 'evidence', e.text "
    "  FROM evidence e, pl, last WHERE e.page_load_id = ?1 "
    "UNION ALL SELECT COALESCE(pl.decided_ts, last.t), 8, 0, 'advice', pl.advice "
    "  FROM pl, last WHERE pl.advice IS NOT NULL) "
    "SELECT ow_time(ev.ts) AS time, round(ev.ts - pl.started, 3) AS rel_s, ev.event, ev.detail "
    "FROM ev, pl ORDER BY ev.ts IS NULL, ev.ts, ev.ord, ev.seq";

int query_prepare_timeline(sqlite3 *db, int64_t page_id, sqlite3_stmt **out, char *err,
                           size_t errlen)
{
    if (sqlite3_prepare_v2(db, timeline_sql, -1, out, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "timeline query failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(*out);
        *out = NULL;
        return -1;
    }
    sqlite3_bind_int64(*out, 1, page_id);
    return 0;
}

/* Session ids (distinct) starting with prefix, up to max + 1 of them; -1 on error. */
static int prefix_candidates(sqlite3 *db, const char *prefix, sqlite3_str *list, int max)
{
    sqlite3_stmt *st = NULL;
    /* a range on the session index: every id with this prefix sorts inside it */
    const char *sql = "SELECT s.session_id FROM sessions s WHERE s.session_id >= ?1 AND "
                      "s.session_id < ?1 || char(1114111) AND EXISTS (SELECT 1 FROM page_loads "
                      "WHERE session_ref = s.id) ORDER BY s.session_id LIMIT ?2";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max + 1);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n < max)
            sqlite3_str_appendf(list, "\n  %s", sqlite3_column_text(st, 0));
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

static int latest_page_of(sqlite3 *db, const char *session_id, int64_t *page_id)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT id FROM page_loads WHERE session_ref = (SELECT id FROM sessions "
                      "WHERE session_id = ?1) ORDER BY started DESC, id DESC LIMIT 1";
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *page_id = sqlite3_column_int64(st, 0);
            rc = 0;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int query_find_page_load(sqlite3 *db, const char *prefix, int64_t *page_id, char *err,
                         size_t errlen)
{
    if (!prefix || !*prefix) {
        snprintf(err, errlen, "timeline needs a session id (or a unique prefix of one)");
        return -1;
    }
    sqlite3_str *list = sqlite3_str_new(db);
    int n = prefix_candidates(db, prefix, list, QUERY_MAX_CANDIDATES);
    char *text = sqlite3_str_finish(list);
    int rc = -1;
    if (n < 0)
        snprintf(err, errlen, "timeline query failed: %s", sqlite3_errmsg(db));
    else if (n == 0)
        snprintf(err, errlen, "no page load has a session id starting with '%s'", prefix);
    else if (n > QUERY_MAX_CANDIDATES)
        snprintf(err, errlen,
                 "session id prefix '%s' is ambiguous; it matches more than %d session ids, "
                 "among them:%s",
                 prefix, QUERY_MAX_CANDIDATES, text ? text : "");
    else if (n > 1)
        snprintf(err, errlen, "session id prefix '%s' is ambiguous; it matches %d session ids:%s",
                 prefix, n, text ? text : "");
    else
        rc = 0;
    if (rc == 0) {
        /* the single candidate is in the list: "\n  ID" */
        rc = latest_page_of(db, text + 3, page_id);
        if (rc < 0)
            snprintf(err, errlen, "no page load for session '%s'", text + 3);
    }
    sqlite3_free(text);
    return rc;
}
