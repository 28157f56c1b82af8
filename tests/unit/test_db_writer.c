/* test_db_writer: the SQLite writer. Records written through the sink come back as rows of
 * the schema (read through owdb_open_readonly); the file is 0600; symlinks, planted files
 * and other schema versions are refused with clear messages; re-emitting replaces; session
 * ids and User-Agents are stored once and referred to by ids that re-emits keep (a websocket
 * written before its session's row gets a stub row); a re-opened file appends a capture with
 * fresh ids; commits follow the interval; a locked database, a full disk (1 MB tmpfs, as
 * root) and a kill -9 lose rows but never the file. */
#include "db/db.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    if (snprintf(out, len, "%s/%s", dir, name) >= (int)len)
        abort();
}

/* ---- records ---- */

static ow_flow make_flow(uint64_t id, bool v6)
{
    ow_flow f;
    memset(&f, 0, sizeof f);
    f.id = id;
    ow_addr_parse(v6 ? "fd7a:115c:a1e0:0:0:0:0:2" : "100.64.0.2", &f.client);
    ow_addr_parse(v6 ? "fd7a:115c:a1e0::1" : "100.64.0.1", &f.server);
    f.client_port = 40000 + (uint16_t)id;
    f.server_port = 5006;
    f.first_ts = 1714550400.25;
    f.last_ts = 1714550410.5;
    f.syn_seen = true;
    f.health.dir[OW_DIR_S2C].retrans_segments = 7;
    f.health.dir[OW_DIR_S2C].rto_count = 3;
    f.health.dir[OW_DIR_S2C].rto_series[0] = 0.25;
    f.health.dir[OW_DIR_S2C].rto_series[1] = 0.5;
    f.health.dir[OW_DIR_S2C].max_seg = 1228;
    f.health.dir[OW_DIR_C2S].mss = 1240;
    f.health.dir[OW_DIR_C2S].wscale = -1;
    f.health.dir[OW_DIR_S2C].wscale = 7;
    f.health.dir[OW_DIR_C2S].fin = true;
    f.health.dir[OW_DIR_C2S].fin_ts = 1714550410.0;
    f.health.rtt = 0.042;
    return f;
}

static void emit_conn(const ow_record_sink *s, const ow_flow *f)
{
    ow_conn_rec r = {.id = (int64_t)f->id,
                     .flow = f,
                     .close = "fin",
                     .kind = "http",
                     .bytes = {420, 99000},
                     .requests = 2};
    s->conn(s->ctx, &r);
}

static void emit_http(const ow_record_sink *s, int64_t id, int64_t conn, int64_t page)
{
    ow_http_rec r = {.id = id,
                     .conn_id = conn,
                     .kind = id == 1 ? "page" : "static",
                     .req_ts = 1714550400.5,
                     .method = "GET",
                     .target = "/sliders?visit=1",
                     .host = "100.64.0.1:5006",
                     .user_agent = "curl/8",
                     .status = id == 1 ? 200 : 0,
                     .content_length = -1,
                     .last_byte_acked = -1,
                     .page_load_id = page,
                     .session_id = "sessABC"};
    s->http(s->ctx, &r);
}

static void emit_ws_of(const ow_record_sink *s, int64_t id, int64_t conn, const char *sid)
{
    ow_ws_rec r = {.id = id,
                   .conn_id = conn,
                   .http_id = 2,
                   .page_load_id = 1,
                   .session_id = sid,
                   .upgrade_ts = 1714550401.0,
                   .status = 101,
                   .path = "/sliders/ws",
                   .subprotocol_ok = true,
                   .messages = {3, 70},
                   .msg_counts_json = "{\"ACK\":1}",
                   .close_code = {1001, -1}};
    s->ws(s->ctx, &r);
}

static void emit_ws(const ow_record_sink *s, int64_t id, int64_t conn)
{
    emit_ws_of(s, id, conn, "sessABC");
}

static void emit_bokeh(const ow_record_sink *s, int64_t id, int64_t ws)
{
    ow_bokeh_rec r = {.id = id,
                      .ws_id = ws,
                      .ts = 1714550401.0 + id * 0.01,
                      .dir = 1,
                      .msgtype = "PATCH-DOC",
                      .msgid = "p1",
                      .size = 100};
    s->bokeh(s->ctx, &r);
}

static void emit_page_of(const ow_record_sink *s, int64_t id, ow_outcome o, ow_verdict v,
                         size_t n_evidence, const char *summary, const char *sid, const char *ua)
{
    static ow_addr client, server;
    static const ow_evidence ev[3] = {
        {1, 2, "static stalled"}, {0, 0, "no websocket"}, {1, 0, "rto x3"}};
    ow_addr_parse("fd7a:115c:a1e0::2", &client);
    ow_addr_parse("fd7a:115c:a1e0::1", &server);
    ow_page_rec r = {.id = id,
                     .http_id = 1,
                     .conn_id = 1,
                     .session_id = sid,
                     .client = &client,
                     .server = &server,
                     .client_port = 40001,
                     .server_port = 5006,
                     .path = "/sliders?visit=1",
                     .app = "/sliders",
                     .user_agent = ua,
                     .started = 1714550400.5 + id,
                     .status = 200,
                     .ttfb = -1,
                     .ttlb = 0.2,
                     .outcome = o,
                     .verdict = v,
                     .confidence = 0.9,
                     .summary = summary,
                     .evidence = ev,
                     .n_evidence = n_evidence};
    s->page(s->ctx, &r);
}

static void emit_page(const ow_record_sink *s, int64_t id, ow_outcome o, ow_verdict v,
                      size_t n_evidence, const char *summary)
{
    emit_page_of(s, id, o, v, n_evidence, summary, "sessABC", NULL);
}

static void emit_capture(const ow_record_sink *s)
{
    capture_stats st = {
        .packets = 1234, .bytes = 567890, .first_ts = 1714550400.0, .last_ts = 1714550500.0};
    ow_capture_rec r = {.id = 1,
                        .source = "x.pcap",
                        .end_reason = "eof",
                        .linktypes = "RAW",
                        .grace = 15,
                        .counters_json = "{\"gaps\":2}",
                        .stats = &st};
    s->capture(s->ctx, &r);
}

static void emit_session_of(const ow_record_sink *s, const char *sid, double last_ts,
                            const char *outcome)
{
    ow_session_rec r = {.session_id = sid,
                        .first_ts = 1714550400.5,
                        .last_ts = last_ts,
                        .page_loads = 1,
                        .websockets = 1,
                        .outcome = outcome};
    s->session(s->ctx, &r);
}

static void emit_session(const ow_record_sink *s)
{
    emit_session_of(s, "sessABC", 1714550402, "connected");
}

/* Writes one of everything; flows must outlive the calls. */
static void emit_all(const ow_record_sink *s)
{
    ow_flow f1 = make_flow(1, true), f2 = make_flow(2, false);
    f2.health.dir[OW_DIR_S2C].rto_count = 0; /* no timeouts: no series */
    emit_capture(s);
    emit_conn(s, &f1);
    emit_conn(s, &f2);
    emit_http(s, 1, 1, 1);
    emit_http(s, 2, 2, 1);
    emit_ws(s, 1, 2);
    for (int i = 1; i <= 70; i++)
        emit_bokeh(s, i, 1);
    emit_page(s, 1, OW_OUTCOME_ORPHAN, OW_VERDICT_SCRIPT_STALLED, 3, "stalled");
    emit_session(s);
}

/* ---- tests ---- */

static ow_db *create_ok(const char *path, const owdb_options *o)
{
    char err[512] = "";
    ow_db *db = owdb_create(path, o, err, sizeof err);
    if (!db)
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
    CHECK(db != NULL);
    return db;
}

static void check_rows(const char *path)
{
    char err[512];
    sqlite3 *db = owdb_open_readonly(path, err, sizeof err);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM connections"), 2);
    CHECK_EQ_STR(text_of(db, "SELECT client FROM connections WHERE id = 1"), "fd7a:115c:a1e0::2");
    CHECK_EQ_INT(count(db, "SELECT family FROM connections WHERE id = 1"), 6);
    CHECK_EQ_INT(count(db, "SELECT retrans_s2c FROM connections WHERE id = 1"), 7);
    CHECK_EQ_STR(text_of(db, "SELECT rto_series_s2c FROM connections WHERE id = 1"), "[0.25,0.5]");
    CHECK_EQ_INT(count(db, "SELECT rto_series_s2c IS NULL FROM connections WHERE id = 2"), 1);
    CHECK_EQ_INT(count(db, "SELECT wscale_c IS NULL AND wscale_s = 7 FROM connections"), 1);
    CHECK_EQ_INT(count(db, "SELECT fin_c2s IS NOT NULL AND rst_c2s IS NULL FROM connections"), 1);
    CHECK_EQ_INT(count(db, "SELECT status IS NULL FROM http_exchanges WHERE id = 2"), 1);
    CHECK_EQ_INT(count(db, "SELECT content_length IS NULL FROM http_exchanges WHERE id = 1"), 1);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM bokeh_messages"), OWDB_DEFAULT_MAX_BOKEH_MSGS);
    CHECK_EQ_INT(count(db, "SELECT messages_s2c FROM websockets"), 70);
    CHECK_EQ_INT(count(db, "SELECT close_code_s2c IS NULL FROM websockets"), 1);
    CHECK_EQ_STR(text_of(db, "SELECT verdict FROM page_loads"), "script_stalled");
    CHECK_EQ_STR(text_of(db, "SELECT outcome FROM page_loads"), "orphan");
    CHECK_EQ_INT(count(db, "SELECT ttfb IS NULL FROM page_loads"), 1);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM evidence WHERE page_load_id = 1"), 3);
    CHECK_EQ_INT(count(db, "SELECT http_id IS NULL FROM evidence WHERE seq = 1"), 1);
    CHECK_EQ_INT(count(db, "SELECT packets FROM captures WHERE id = 1"), 1234);
    CHECK_EQ_STR(text_of(db, "SELECT end_reason FROM captures"), "eof");
    CHECK_EQ_STR(text_of(db, "SELECT outcome FROM sessions"), "connected");
    /* texts by reference: the websocket (written before the session's row, in the same batch)
     * and the page load name the one sessions row; the exchanges' User-Agent is one row */
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM sessions"), 1);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM websockets w JOIN page_loads p ON p.session_ref "
                           "= w.session_ref JOIN sessions s ON s.id = w.session_ref WHERE "
                           "s.session_id = 'sessABC' AND s.first_ts = 1714550400.5"),
                 1);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM user_agents"), 1);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM http_exchanges h JOIN user_agents u ON "
                           "u.id = h.ua_ref WHERE u.user_agent = 'curl/8'"),
                 2);
    CHECK_EQ_INT(count(db, "SELECT COUNT(*) FROM page_loads WHERE ua_ref IS NULL"), 1);
    sqlite3_close(db);
}

static void test_write_and_read(void)
{
    char path[128];
    struct stat st;
    path_in(path, sizeof path, tmpdir, "basic.db");
    mode_t old = umask(0);
    ow_db *db = create_ok(path, NULL);
    umask(old);
    if (!db)
        return;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    emit_all(owdb_sink(db));
    CHECK_EQ_INT(owdb_commit(db), 0);
    const owdb_stats *s = owdb_get_stats(db);
    /* 1 capture + 2 conns + 2 http + 1 ws + 64 bokeh + 1 page + 3 evidence + 1 session */
    CHECK_EQ_INT(s->rows_written, 75);
    CHECK_EQ_INT(s->rows_failed, 0);
    CHECK_EQ_INT(s->bokeh_skipped, 6);
    CHECK_EQ_STR(s->last_error, "");
    owdb_close(db);
    check_rows(path);
    path_in(path, sizeof path, tmpdir, "basic.db-wal");
    CHECK(access(path, F_OK) != 0); /* closed: one self-contained file */
}

static void test_reemit_replaces(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, "reemit.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    emit_page(s, 1, OW_OUTCOME_PENDING, OW_VERDICT_NONE, 3, NULL);
    emit_page(s, 1, OW_OUTCOME_ORPHAN, OW_VERDICT_PMTU_BLACKHOLE, 1, "black hole");
    owdb_close(db);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads"), 1);
    CHECK_EQ_STR(text_of(r, "SELECT verdict FROM page_loads"), "pmtu_blackhole");
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM evidence"), 1);
    sqlite3_close(r);
}

/* A reply names its stored request by id (reqid text only when the request is not stored);
 * an empty msgid or reqid is stored as NULL. */
static void test_bokeh_replies(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, "replies.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    const ow_bokeh_rec msgs[] = {
        {.id = 1, .ws_id = 1, .dir = 1, .msgtype = "ACK", .msgid = "p1", .reqid = ""},
        {.id = 2, .ws_id = 1, .dir = 0, .msgtype = "PULL-DOC-REQ", .msgid = "AB12"},
        {.id = 3,
         .ws_id = 1,
         .dir = 1,
         .msgtype = "PULL-DOC-REPLY",
         .msgid = "p2",
         .reqid = "AB12"},
        {.id = 4, .ws_id = 1, .dir = 1, .msgtype = "OK", .msgid = "p3", .reqid = "GONE"},
        {.id = 5, .ws_id = 2, .dir = 1, .msgtype = "OK", .msgid = "", .reqid = "AB12"},
    };
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++)
        s->bokeh(s->ctx, &msgs[i]);
    owdb_close(db);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_INT(count(r, "SELECT reply_to FROM bokeh_messages WHERE id = 3"), 2);
    CHECK_EQ_INT(count(r, "SELECT reqid IS NULL FROM bokeh_messages WHERE id = 3"), 1);
    CHECK_EQ_STR(text_of(r, "SELECT reqid FROM bokeh_messages WHERE id = 4"), "GONE");
    CHECK_EQ_INT(count(r, "SELECT reply_to IS NULL FROM bokeh_messages WHERE id = 4"), 1);
    /* another websocket's request is not this one's */
    CHECK_EQ_STR(text_of(r, "SELECT reqid FROM bokeh_messages WHERE id = 5"), "AB12");
    CHECK_EQ_INT(count(r, "SELECT msgid IS NULL FROM bokeh_messages WHERE id = 5"), 1);
    CHECK_EQ_INT(count(r, "SELECT reqid IS NULL FROM bokeh_messages WHERE id = 1"), 1);
    sqlite3_close(r);
}

/* With compact, closing a file this writer created packs it: same rows, fewer pages than the
 * same writes left as written (rows replaced after their commit leave pages part-empty). */
static int64_t write_churn(const char *name, bool compact, int64_t *pages)
{
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, name);
    owdb_options o = {.compact = compact};
    ow_db *db = create_ok(path, &o);
    if (!db)
        return -1;
    const ow_record_sink *s = owdb_sink(db);
    for (int round = 0; round < 2; round++) {
        for (int64_t id = 1; id <= 400; id++)
            emit_page(s, (id * 7919) % 400 + 1, round ? OW_OUTCOME_ORPHAN : OW_OUTCOME_PENDING,
                      round ? OW_VERDICT_PMTU_BLACKHOLE : OW_VERDICT_NONE, round ? 3 : 0,
                      round ? "a longer summary written when the page load is decided" : NULL);
        owdb_commit(db);
    }
    owdb_close(db);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return -1;
    *pages = count(r, "PRAGMA page_count");
    int64_t n = count(r, "SELECT COUNT(*) FROM page_loads WHERE verdict = 'pmtu_blackhole'") +
                count(r, "SELECT COUNT(*) FROM evidence");
    sqlite3_close(r);
    return n;
}

static void test_compact(void)
{
    int64_t loose_pages = 0, packed_pages = 0;
    CHECK_EQ_INT(write_churn("loose.db", false, &loose_pages), 1600);
    CHECK_EQ_INT(write_churn("packed.db", true, &packed_pages), 1600);
    CHECK(packed_pages > 0 && packed_pages < loose_pages);
}

static void test_reopen_appends(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, "basic.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    CHECK_EQ_INT(owdb_capture_id(db), 2);
    emit_all(owdb_sink(db));
    owdb_close(db);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM captures"), 2);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM connections WHERE capture_id = 2"), 2);
    CHECK_EQ_INT(count(r, "SELECT MIN(id) FROM connections WHERE capture_id = 2"), 3);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads"), 2);
    /* references follow the shifted ids */
    CHECK_EQ_INT(count(r, "SELECT http_id FROM page_loads WHERE capture_id = 2"), 3);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM evidence WHERE page_load_id = 2 AND "
                          "connection_id = 3"),
                 2);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM bokeh_messages b JOIN websockets w ON "
                          "w.id = b.websocket_id WHERE w.id = 2"),
                 OWDB_DEFAULT_MAX_BOKEH_MSGS);
    /* the second capture's rows name the session and User-Agent rows the first one made */
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM sessions"), 1);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM user_agents"), 1);
    CHECK_EQ_INT(count(r, "SELECT COUNT(DISTINCT session_ref) FROM (SELECT session_ref FROM "
                          "page_loads UNION ALL SELECT session_ref FROM websockets) WHERE "
                          "session_ref = (SELECT id FROM sessions WHERE session_id = 'sessABC')"),
                 1);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads WHERE session_ref IS NULL"), 0);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM websockets WHERE session_ref IS NULL"), 0);
    sqlite3_close(r);
}

/* Session ids and User-Agents are stored once (sessions, user_agents) and referred to by id;
 * a session's row keeps its id when re-emitted; a websocket committed before any record of
 * its session gets a stub row (NULL first_ts) that the session record then fills in. */
static void test_interned_texts(void)
{
    static const char ua[] = "Mozilla/5.0 (X11; Linux x86_64) test";
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, "interned.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    ow_flow f1 = make_flow(1, true), f2 = make_flow(2, false);
    emit_capture(s);
    emit_conn(s, &f1);
    emit_conn(s, &f2);
    emit_http(s, 1, 1, 1); /* User-Agent curl/8 */
    emit_ws_of(s, 1, 2, "sessWS");
    CHECK_EQ_INT(owdb_commit(db), 0); /* a batch with the websocket, no page or session yet */
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r) {
        owdb_close(db);
        return;
    }
    int64_t ws_sess = count(r, "SELECT session_ref FROM websockets WHERE id = 1");
    CHECK(ws_sess > 0);
    CHECK_EQ_STR(text_of(r, "SELECT s.session_id FROM websockets w JOIN sessions s ON "
                            "s.id = w.session_ref WHERE w.id = 1"),
                 "sessWS");
    CHECK_EQ_INT(count(r, "SELECT first_ts IS NULL FROM sessions WHERE session_id = 'sessWS'"),
                 1); /* the stub */
    CHECK_EQ_STR(text_of(r, "SELECT u.user_agent FROM http_exchanges h JOIN user_agents u ON "
                            "u.id = h.ua_ref WHERE h.id = 1"),
                 "curl/8");

    /* two page loads with one User-Agent: the websocket's session and another one */
    emit_page_of(s, 1, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL, "sessWS", ua);
    emit_page_of(s, 2, OW_OUTCOME_ORPHAN, OW_VERDICT_UNKNOWN, 1, "none", "sessP2", ua);
    emit_session_of(s, "sessWS", 1714550402, "connected");
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM user_agents WHERE user_agent = "
                          "'Mozilla/5.0 (X11; Linux x86_64) test'"),
                 1);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM user_agents"), 2);
    CHECK_EQ_INT(count(r, "SELECT COUNT(DISTINCT ua_ref) FROM page_loads"), 1);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads p JOIN user_agents u ON "
                          "u.id = p.ua_ref WHERE u.user_agent = "
                          "'Mozilla/5.0 (X11; Linux x86_64) test'"),
                 2);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM sessions"), 2);
    CHECK_EQ_INT(count(r, "SELECT session_ref FROM page_loads WHERE id = 1"), ws_sess);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads p JOIN websockets w ON "
                          "w.session_ref = p.session_ref WHERE p.id = 1 AND w.id = 1"),
                 1);
    CHECK_EQ_INT(count(r, "SELECT id FROM sessions WHERE session_id = 'sessWS'"), ws_sess);
    CHECK_EQ_INT(count(r, "SELECT first_ts = 1714550400.5 AND outcome = 'connected' FROM "
                          "sessions WHERE session_id = 'sessWS'"),
                 1); /* the stub filled in */
    CHECK_EQ_STR(text_of(r, "SELECT s.session_id FROM page_loads p JOIN sessions s ON "
                            "s.id = p.session_ref WHERE p.id = 2"),
                 "sessP2");
    CHECK_EQ_INT(count(r, "SELECT first_ts IS NULL FROM sessions WHERE session_id = 'sessP2'"),
                 1); /* no session record yet: a stub */
    int64_t p2_sess = count(r, "SELECT session_ref FROM page_loads WHERE id = 2");
    CHECK(p2_sess > 0 && p2_sess != ws_sess);

    /* re-emitted sessions (upserts), page load and websocket: every id stays */
    emit_session_of(s, "sessWS", 1714550500, "orphan");
    emit_session_of(s, "sessP2", 1714550600, "orphan");
    emit_page_of(s, 1, OW_OUTCOME_ORPHAN, OW_VERDICT_UNKNOWN, 1, "late", "sessWS", ua);
    emit_ws_of(s, 1, 2, "sessWS");
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM sessions"), 2);
    CHECK_EQ_INT(count(r, "SELECT id FROM sessions WHERE session_id = 'sessWS'"), ws_sess);
    CHECK_EQ_INT(count(r, "SELECT id FROM sessions WHERE session_id = 'sessP2'"), p2_sess);
    CHECK_EQ_INT(count(r, "SELECT last_ts = 1714550500 AND outcome = 'orphan' FROM sessions "
                          "WHERE session_id = 'sessWS'"),
                 1);
    CHECK_EQ_INT(count(r, "SELECT first_ts IS NOT NULL FROM sessions WHERE id = (SELECT "
                          "session_ref FROM page_loads WHERE id = 2)"),
                 1);
    CHECK_EQ_INT(count(r, "SELECT session_ref FROM page_loads WHERE id = 1"), ws_sess);
    CHECK_EQ_INT(count(r, "SELECT session_ref FROM websockets WHERE id = 1"), ws_sess);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM user_agents"), 2);
    const owdb_stats *st = owdb_get_stats(db);
    CHECK_EQ_INT(st->rows_failed, 0);
    sqlite3_close(r);
    owdb_close(db);
}

static void expect_refused(const char *path, const char *needle)
{
    char err[512] = "";
    ow_db *db = owdb_create(path, NULL, err, sizeof err);
    CHECK(db == NULL);
    owdb_close(db);
    if (!strstr(err, needle))
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, needle);
    CHECK(strstr(err, needle) != NULL);
}

static void test_refusals(void)
{
    char path[128], target[128], dir[128];
    path_in(target, sizeof target, tmpdir, "victim");
    path_in(path, sizeof path, tmpdir, "link.db");
    CHECK(symlink(target, path) == 0);
    expect_refused(path, "symbolic link");
    CHECK(access(target, F_OK) != 0); /* nothing was created through the link */
    path_in(path, sizeof path, tmpdir, "fifo.db");
    CHECK(mkfifo(path, 0600) == 0);
    expect_refused(path, "not a regular file");
    path_in(path, sizeof path, tmpdir, "x.db-wal"); /* a planted companion */
    CHECK(symlink(target, path) == 0);
    path_in(path, sizeof path, tmpdir, "x.db");
    expect_refused(path, "symbolic link");
    if (geteuid() != 0) {
        printf("note: not root: the planted-file check (a file of another user in a "
               "world-writable directory) is not run\n");
        return;
    }
    path_in(dir, sizeof dir, tmpdir, "sticky");
    CHECK(mkdir(dir, 0777) == 0 && chmod(dir, 01777) == 0);
    path_in(path, sizeof path, dir, "planted.db");
    int fd = open(path, O_CREAT | O_WRONLY, 0666);
    CHECK(fd >= 0 && fchown(fd, 65534, 65534) == 0);
    close(fd);
    expect_refused(path, "belongs to uid 65534");
}

static void make_foreign_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static void expect_open_error(const char *path, const char *a, const char *b)
{
    char err[512] = "", want[64];
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r == NULL);
    sqlite3_close(r);
    CHECK(strstr(err, a) != NULL && strstr(err, b) != NULL);
    snprintf(want, sizeof want, "%d", owdb_schema_version());
    CHECK(strstr(err, want) != NULL || strstr(a, "not an") != NULL);
    expect_refused(path, a);
}

static void test_schema_versions(void)
{
    char path[128], err[512];
    CHECK(owdb_schema_version() >= 1);
    path_in(path, sizeof path, tmpdir, "newer.db");
    make_foreign_db(path, "CREATE TABLE captures(id INTEGER PRIMARY KEY); PRAGMA user_version=99");
    expect_open_error(path, "schema version 99", "newer");
    path_in(path, sizeof path, tmpdir, "older.db");
    make_foreign_db(path, "CREATE TABLE captures(id INTEGER PRIMARY KEY); PRAGMA user_version=0");
    expect_open_error(path, "schema version 0", "older");
    path_in(path, sizeof path, tmpdir, "other.db");
    make_foreign_db(path, "CREATE TABLE t(x)");
    expect_open_error(path, "not an orphanwatch database", "other tables");
    path_in(path, sizeof path, tmpdir, "missing.db");
    CHECK(owdb_open_readonly(path, err, sizeof err) == NULL && strstr(err, "No such file"));
}

/* A file of this schema version written before an index was added (page_loads_duration came
 * later without a version change) is read as it is, and gains the index when next written. */
static void test_index_added_on_reopen(void)
{
    char path[128], err[512];
    const char *has = "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'page_loads_duration'";
    path_in(path, sizeof path, tmpdir, "older_indexes.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    emit_page(owdb_sink(db), 1, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    owdb_close(db);
    sqlite3 *w = NULL;
    CHECK(sqlite3_open(path, &w) == SQLITE_OK);
    CHECK(sqlite3_exec(w, "DROP INDEX page_loads_duration", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(w);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_INT(count(r, has), 0);
        CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads"), 1);
        sqlite3_close(r);
    }
    if (!(db = create_ok(path, NULL)))
        return;
    owdb_close(db);
    r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_INT(count(r, has), 1);
        CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads INDEXED BY page_loads_duration "
                              "WHERE COALESCE(first_ws_ts - started, ttlb, -1.0) > -2"),
                     1);
        sqlite3_close(r);
    }
}

static void test_second_writer_refused(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "twice.db");
    ow_db *db = create_ok(path, NULL);
    expect_refused(path, "another orphanwatch");
    owdb_close(db);
}

/* A row is visible to another connection only after the interval's commit. */
static void test_commit_interval(void)
{
    char path[128], err[512];
    owdb_options o = {.commit_interval_ms = 80};
    path_in(path, sizeof path, tmpdir, "interval.db");
    ow_db *db = create_ok(path, &o);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    emit_page(s, 1, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    s->tick(s->ctx, 0);
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads"), 0);
    sleep_ms(120);
    s->tick(s->ctx, 0); /* hands the batch to the writing thread, which commits it */
    int64_t seen = 0;
    for (int i = 0; i < 200 && seen == 0; i++, sleep_ms(10))
        seen = count(r, "SELECT COUNT(*) FROM page_loads");
    CHECK_EQ_INT(seen, 1);
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(owdb_get_stats(db)->commits, 1);
    sqlite3_close(r);
    owdb_close(db);
}

/* Records missing a required field (a caller's bug) are lost, counted in rows_failed with a
 * message naming the record, and writing goes on. They were counted into the writing thread's
 * stats from the packet thread (a data race), and not named. */
static void test_incomplete_records(void)
{
    char path[128];
    path_in(path, sizeof path, tmpdir, "incomplete.db");
    ow_db *db = create_ok(path, NULL);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    ow_conn_rec c = {.id = 1, .flow = NULL, .close = "fin", .kind = "http"};
    ow_session_rec se = {.session_id = NULL, .page_loads = 1};
    ow_packet_file_rec pf = {.file = NULL, .packets = 3};
    s->conn(s->ctx, &c);
    s->session(s->ctx, &se);
    s->packet_file(s->ctx, &pf);
    emit_page(s, 1, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    CHECK_EQ_INT(owdb_commit(db), 0);
    const owdb_stats *st = owdb_get_stats(db);
    CHECK_EQ_INT(st->rows_failed, 3);
    CHECK(strstr(st->last_error, "packet file: internal") != NULL);
    CHECK(st->rows_written >= 1); /* the page load after them */
    owdb_close(db);
}

/* Another connection holds the write lock: the held rows fail when written, with a clear
 * message; then writing recovers. */
static void test_locked(void)
{
    char path[128];
    owdb_options o = {.commit_interval_ms = 50, .busy_timeout_ms = 100};
    sqlite3 *other = NULL;
    path_in(path, sizeof path, tmpdir, "locked.db");
    ow_db *db = create_ok(path, &o);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    CHECK(sqlite3_open(path, &other) == SQLITE_OK);
    CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    emit_page(s, 1, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    emit_page(s, 2, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    const owdb_stats *st = owdb_get_stats(db);
    CHECK_EQ_INT(st->rows_failed, 0); /* held, not yet written */
    CHECK_EQ_INT(owdb_commit(db), -1);
    CHECK_EQ_INT(st->rows_failed, 2);
    CHECK(strstr(st->last_error, "locked by another writer") != NULL);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    sleep_ms(80);
    emit_page(s, 3, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
    CHECK_EQ_INT(owdb_commit(db), 0);
    CHECK_EQ_INT(st->rows_written, 1);
    owdb_close(db);
}

/* kill -9 after a commit: the committed rows survive, the file is sound. */
static void test_killed(void)
{
    char path[128], err[512];
    path_in(path, sizeof path, tmpdir, "killed.db");
    pid_t pid = fork();
    if (pid == 0) {
        ow_db *db = owdb_create(path, NULL, err, sizeof err);
        if (!db)
            _exit(3);
        for (int i = 1; i <= 10; i++)
            emit_page(owdb_sink(db), i, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
        owdb_commit(db);
        for (int i = 11; i <= 15; i++)
            emit_page(owdb_sink(db), i, OW_OUTCOME_CONNECTED, OW_VERDICT_NONE, 0, NULL);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads"), 10);
    CHECK_EQ_STR(text_of(r, "PRAGMA integrity_check"), "ok");
    sqlite3_close(r);
}

static void test_chown(void)
{
    char path[128], wal[140];
    struct stat st;
    if (geteuid() != 0) {
        printf("note: not root: chown_to_owner is not tested\n");
        return;
    }
    owdb_options o = {.owner = 65534, .group = 65534, .chown_to_owner = true};
    path_in(path, sizeof path, tmpdir, "owned.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    ow_db *db = create_ok(path, &o);
    if (!db)
        return;
    CHECK(stat(path, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
    CHECK(stat(wal, &st) == 0 && st.st_uid == 65534);
    owdb_close(db);
}

/* Writes pages with long summaries, committing often, until the disk is full. */
static void fill_disk(ow_db *db)
{
    static char summary[4096];
    memset(summary, 'x', sizeof summary - 1);
    const ow_record_sink *s = owdb_sink(db);
    const owdb_stats *st = owdb_get_stats(db);
    for (int i = 1; i <= 5000 && st->rows_failed < 50; i++) {
        emit_page(s, i, OW_OUTCOME_ORPHAN, OW_VERDICT_UNKNOWN, 1, summary);
        if (i % 10 == 0)
            owdb_commit(db);
    }
}

static void test_disk_full(void)
{
    char dir[128], path[160], err[512];
    if (geteuid() != 0) {
        printf("note: not root: the full-disk test (needs a 1 MB tmpfs mount) is skipped\n");
        return;
    }
    path_in(dir, sizeof dir, tmpdir, "full");
    CHECK(mkdir(dir, 0700) == 0);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        printf("note: cannot mount a tmpfs here (%s): the full-disk test is skipped\n",
               strerror(errno));
        return;
    }
    path_in(path, sizeof path, dir, "full.db");
    ow_db *db = create_ok(path, NULL);
    if (db) {
        fill_disk(db);
        const owdb_stats *st = owdb_get_stats(db);
        CHECK(st->rows_failed > 0);
        CHECK(st->rows_written > 0);
        CHECK(strstr(st->last_error, "full") != NULL);
        owdb_close(db);
        sqlite3 *r = NULL;
        CHECK(sqlite3_open(path, &r) == SQLITE_OK);
        CHECK_EQ_STR(text_of(r, "PRAGMA integrity_check"), "ok");
        CHECK(count(r, "SELECT COUNT(*) FROM page_loads") > 0);
        sqlite3_close(r);
    }
    (void)err;
    CHECK(umount(dir) == 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_writer.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_write_and_read();
    test_reemit_replaces();
    test_bokeh_replies();
    test_compact();
    test_reopen_appends();
    test_interned_texts();
    test_refusals();
    test_schema_versions();
    test_index_added_on_reopen();
    test_second_writer_refused();
    test_commit_interval();
    test_locked();
    test_incomplete_records();
    test_killed();
    test_chown();
    test_disk_full();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "note: could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_writer");
}
