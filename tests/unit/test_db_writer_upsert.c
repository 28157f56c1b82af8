/* test_db_writer_upsert: a record written again (INSERT ... ON CONFLICT DO UPDATE for
 * connections, websockets and Bokeh messages) leaves the row a single write of its last version
 * leaves, every column included (values that become NULL, texts that become shorter); a NULL
 * value bound after a row that had one is NULL (the writer binds no NULLs); client and server
 * addresses come out as ow_addr_str writes them through the writer's cache of formatted
 * addresses, for IPv4 and IPv6 addresses that share their first bytes and for more addresses
 * than the cache holds; the writer's connection takes no SQLite mutex (SQLITE_OPEN_NOMUTEX); rows
 * whose statement journals are megabytes are written. */
#include "db/writer_priv.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static ow_db *create_ok(const char *name, char *path, size_t len)
{
    char err[512] = "";
    snprintf(path, len, "%s/%s", tmpdir, name);
    ow_db *db = owdb_create(path, NULL, err, sizeof err);
    if (!db)
        fprintf(stderr, "  owdb_create(%s): %s\n", path, err);
    CHECK(db != NULL);
    return db;
}

/* Version v (1: every optional value present, 2: most of them absent) of connection id. */
static void emit_conn(const ow_record_sink *s, int64_t id, int v)
{
    ow_flow f;
    memset(&f, 0, sizeof f);
    f.client.family = f.server.family = 4;
    memcpy(f.client.bytes, (uint8_t[]){10, 0, 0, (uint8_t)id}, 4);
    memcpy(f.server.bytes, (uint8_t[]){192, 168, 1, 1}, 4);
    f.client_port = (uint16_t)(40000 + id);
    f.server_port = 5006;
    f.first_ts = 1714550400.25;
    f.last_ts = 1714550400.25 + v;
    tcp_dir_health *c = &f.health.dir[OW_DIR_C2S], *sv = &f.health.dir[OW_DIR_S2C];
    c->wscale = sv->wscale = -1;
    if (v == 1) {
        f.health.rtt = 0.0125;
        c->mss = sv->mss = 1460;
        c->wscale = 7;
        sv->rto_count = 2;
        sv->rto_series[0] = 0.2;
        sv->rto_series[1] = 0.4;
        sv->stall_start_ts = 1714550401.5;
        c->fin = sv->rst = true;
        c->fin_ts = 1714550402.0;
        sv->rst_ts = 1714550403.0;
        sv->retrans_segments = 9;
    }
    ow_conn_rec r = {.id = id,
                     .flow = &f,
                     .close = v == 1 ? "fin" : "rst",
                     .kind = v == 1 ? "websocket" : "http",
                     .bytes = {100u * v, 200u * v},
                     .requests = (uint32_t)v};
    s->conn(s->ctx, &r);
}

static void emit_ws(const ow_record_sink *s, int64_t id, int v)
{
    ow_ws_rec r = {.id = id,
                   .conn_id = id,
                   .http_id = v == 1 ? id : 0,
                   .page_load_id = v == 1 ? id : 0,
                   .session_id = v == 1 ? "sessUpsertLong" : NULL,
                   .upgrade_ts = 1714550400.5,
                   .status = v == 1 ? 101 : 0,
                   .reason = v == 1 ? "Switching Protocols" : "S",
                   .path = "/app/ws",
                   .msg_counts_json = v == 1 ? "{\"ACK\":1}" : NULL,
                   .ack_ts = v == 1 ? 1714550401.0 : 0,
                   .close_code = {v == 1 ? 1000 : -1, -1},
                   .frames = {3u * v, 4u * v}};
    s->ws(s->ctx, &r);
}

static void emit_bokeh(const ow_record_sink *s, int64_t id, int v)
{
    ow_bokeh_rec r = {.id = id,
                      .ws_id = 1,
                      .ts = 1714550401.0 + v,
                      .dir = v - 1,
                      .msgtype = v == 1 ? "PULL-DOC-REQ" : "ACK",
                      .msgid = v == 1 ? "m1" : "",
                      .reqid = id == 2 ? "m1" : NULL,
                      .size = 10u * v,
                      .num_buffers = (uint32_t)v};
    s->bokeh(s->ctx, &r);
}

/* Every row of table t as text, in id order. */
static char *dump(const char *path, const char *table)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    char sql[128];
    sqlite3_str *out = sqlite3_str_new(NULL);
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY id", table);
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                int type = sqlite3_column_type(st, i);
                const unsigned char *text = sqlite3_column_text(st, i);
                sqlite3_str_appendf(out, "%s=%d:%s|", sqlite3_column_name(st, i), type,
                                    text ? (const char *)text : "");
            }
            sqlite3_str_appendf(out, "\n");
        }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return sqlite3_str_finish(out);
}

/* File A writes version 1 and then, in a later transaction, version 2 of the same records; file
 * B writes only version 2. In the same batch, a row without the optional values follows one
 * with them (ids 2 and 3). Both files must hold the same rows. */
static void test_rewrite_equals_single_write(void)
{
    char pa[128], pb[128];
    ow_db *a = create_ok("a.db", pa, sizeof pa), *b = create_ok("b.db", pb, sizeof pb);
    if (!a || !b) {
        owdb_close(a);
        owdb_close(b);
        return;
    }
    CHECK(sqlite3_db_mutex(a->file.db) == NULL); /* opened with SQLITE_OPEN_NOMUTEX */
    const ow_record_sink *sa = owdb_sink(a), *sb = owdb_sink(b);
    emit_conn(sa, 1, 1);
    emit_ws(sa, 1, 1);
    emit_bokeh(sa, 1, 1);
    emit_bokeh(sa, 2, 1);
    CHECK_EQ_INT(owdb_commit(a), 0);
    emit_conn(sa, 1, 2);
    emit_ws(sa, 1, 2);
    emit_bokeh(sa, 1, 2);
    emit_bokeh(sa, 2, 2);
    const ow_record_sink *both[2] = {sa, sb};
    for (int i = 0; i < 2; i++) {
        emit_conn(both[i], 2, 1);
        emit_conn(both[i], 3, 2);
        emit_ws(both[i], 2, 1);
        emit_ws(both[i], 3, 2);
    }
    emit_conn(sb, 1, 2);
    emit_ws(sb, 1, 2);
    emit_bokeh(sb, 1, 1); /* the request the reply names, as in A */
    emit_bokeh(sb, 1, 2);
    emit_bokeh(sb, 2, 2);
    CHECK_EQ_INT(owdb_commit(a), 0);
    CHECK_EQ_INT(owdb_commit(b), 0);
    CHECK_EQ_INT((int)owdb_get_stats(a)->rows_failed, 0);
    owdb_close(a);
    owdb_close(b);
    static const char *const tables[] = {"connections", "websockets", "bokeh_messages"};
    for (int i = 0; i < 3; i++) {
        char *da = dump(pa, tables[i]), *db = dump(pb, tables[i]);
        CHECK(da && db && strlen(da) > 0);
        if (da && db && strcmp(da, db) != 0)
            fprintf(stderr, "  %s differs:\nA:\n%s\nB:\n%s\n", tables[i], da, db);
        CHECK(da && db && strcmp(da, db) == 0);
        sqlite3_free(da);
        sqlite3_free(db);
    }
    sqlite3 *c = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(pa, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    /* version 2 took the values away: NULL, not version 1's */
    CHECK_EQ_INT(count(c, "SELECT COUNT(*) FROM connections WHERE id = 1 AND rtt IS NULL AND "
                          "mss_c IS NULL AND fin_c2s IS NULL AND rto_series_s2c IS NULL AND "
                          "close = 'rst'"),
                 1);
    CHECK_EQ_INT(count(c, "SELECT COUNT(*) FROM connections WHERE id = 3 AND rtt IS NULL AND "
                          "wscale_c IS NULL AND rst_s2c IS NULL"),
                 1);
    CHECK_EQ_INT(count(c, "SELECT COUNT(*) FROM websockets WHERE id = 1 AND session_ref IS NULL "
                          "AND status IS NULL AND http_id IS NULL AND reason = 'S'"),
                 1);
    /* message 1 no longer carries msgid m1: message 2 (reply_to 1 before) keeps its reqid */
    CHECK_EQ_INT(count(c, "SELECT COUNT(*) FROM bokeh_messages WHERE id = 2 AND msgid IS NULL "
                          "AND msgtype = 'ACK' AND reply_to IS NULL AND reqid = 'm1'"),
                 1);
    sqlite3_close(c);
}

/* Connections with many addresses, IPv4 and IPv6 alike in their first four bytes, each written
 * twice (the second time from the cache, or after its slot went to another address). */
static void test_address_texts(void)
{
    char path[128];
    ow_db *db = create_ok("addr.db", path, sizeof path);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    enum { N = 700 };
    static ow_flow flows[N];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            ow_flow *f = &flows[i];
            memset(f, 0, sizeof *f);
            f->client.family = i % 3 == 0 ? 6 : 4;
            memset(f->client.bytes, i % 3 == 0 ? 0x11 : 0xee, 16); /* v4: bytes past 4 unused */
            f->client.bytes[0] = 10;
            f->client.bytes[2] = (uint8_t)(i >> 8);
            f->client.bytes[3] = (uint8_t)i;
            if (f->client.family == 6)
                f->client.bytes[15] = (uint8_t)(i * 7);
            f->server = f->client;
            f->server.bytes[1] = 1;
            f->health.dir[0].wscale = f->health.dir[1].wscale = -1;
            ow_conn_rec r = {.id = i + 1, .flow = f, .close = "end", .kind = "other"};
            s->conn(s->ctx, &r);
            if (i % 97 == 0)
                CHECK_EQ_INT(owdb_commit(db), 0);
        }
    CHECK_EQ_INT(owdb_commit(db), 0);
    sqlite3 *c = db->file.db; /* the writing thread is idle */
    sqlite3_stmt *st = NULL;
    int rows = 0, bad = 0;
    CHECK_EQ_INT(sqlite3_prepare_v2(c, "SELECT id, client, server FROM connections", -1, &st, NULL),
                 SQLITE_OK);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int i = sqlite3_column_int(st, 0) - 1;
        char want[OW_ADDR_STRLEN];
        rows++;
        if (i < 0 || i >= N ||
            strcmp((const char *)sqlite3_column_text(st, 1),
                   ow_addr_str(&flows[i].client, want, sizeof want)) != 0 ||
            strcmp((const char *)sqlite3_column_text(st, 2),
                   ow_addr_str(&flows[i].server, want, sizeof want)) != 0)
            bad++;
    }
    sqlite3_finalize(st);
    CHECK_EQ_INT(rows, N);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT((int)count(c, "SELECT COUNT(*) FROM connections WHERE client LIKE '%:%'"),
                 (N + 2) / 3);
    owdb_close(db);
}

static void emit_page(const ow_record_sink *s, int64_t id, const char *summary, int outcome)
{
    static const ow_addr client = {.family = 4, .bytes = {10, 9, 8, 7}};
    ow_evidence ev[2] = {{.conn_id = 1, .text = summary}, {.http_id = 1, .text = "second"}};
    ow_page_rec r = {.id = id,
                     .session_id = "sessJournal",
                     .client = &client,
                     .path = "/app?x=1",
                     .app = "app",
                     .started = 1714550400.0 + (double)id,
                     .ttfb = -1,
                     .ttlb = -1,
                     .outcome = (ow_outcome)outcome,
                     .summary = summary,
                     .evidence = ev,
                     .n_evidence = 2};
    s->page(s->ctx, &r);
}

/* Page loads (statements with triggers, so with a statement journal) rewritten with texts of
 * megabytes inside one transaction, among many others: every row and rollup comes out right.
 * (With temp_store=FILE and a statement journal spilled to a file past
 * SQLITE_CONFIG_STMTJRNL_SPILL, this SQLite failed these rows as "disk full".) */
static void test_large_statement_journal(void)
{
    char path[128];
    ow_db *db = create_ok("journal.db", path, sizeof path);
    if (!db)
        return;
    const ow_record_sink *s = owdb_sink(db);
    size_t big = (size_t)3 << 20;
    char *text = malloc(big + 1);
    if (!text) {
        owdb_close(db);
        return;
    }
    for (int round = 0; round < 3; round++) {
        memset(text, 'a' + round, big);
        text[big - (size_t)round * 1000] = 0;
        for (int64_t id = 1; id <= 300; id++)
            emit_page(s, id, id % 50 == 7 ? text : "short", 1 + (int)((id + round) % 4));
        CHECK_EQ_INT(owdb_commit(db), 0);
    }
    CHECK_EQ_INT((int)owdb_get_stats(db)->rows_failed, 0);
    if (owdb_get_stats(db)->last_error[0])
        fprintf(stderr, "  last error: %s\n", owdb_get_stats(db)->last_error);
    sqlite3 *c = db->file.db; /* the writing thread is idle */
    CHECK_EQ_INT((int)count(c, "SELECT COUNT(*) FROM page_loads"), 300);
    CHECK_EQ_INT((int)count(c, "SELECT COUNT(*) FROM page_loads WHERE length(summary) = 3143728 "
                               "AND substr(summary, 1, 1) = 'c'"),
                 6);
    CHECK_EQ_INT((int)count(c, "SELECT COUNT(*) FROM evidence WHERE length(text) = 3143728"), 6);
    CHECK_EQ_INT((int)count(c, "SELECT SUM(n) FROM rollup_outcomes"), 300);
    CHECK_EQ_INT((int)count(c,
                            "SELECT COUNT(*) FROM (SELECT app, outcome, COUNT(*) AS n FROM "
                            "page_loads GROUP BY 1, 2) p JOIN rollup_outcomes r ON r.app = p.app "
                            "AND r.outcome = p.outcome AND r.n = p.n"),
                 4);
    CHECK_EQ_INT((int)count(c, "SELECT n FROM rollup_clients"), 300);
    free(text);
    owdb_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_upsert.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_rewrite_equals_single_write();
    test_address_texts();
    test_large_statement_journal();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", tmpdir);
    TEST_MAIN_END("test_db_writer_upsert");
}
