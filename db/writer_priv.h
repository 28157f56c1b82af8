/* writer_priv: what the writer's three parts share (internal to db/). writer.c opens the file,
 * prepares the statements and closes; writer_rows.c, on the packet thread, turns each record
 * into a held row and hands full batches over; writer_flush.c, on the writing thread, steps
 * the held rows into SQLite inside transactions. */
#ifndef OW_DB_WRITER_PRIV_H
#define OW_DB_WRITER_PRIV_H
#include "db/batch_worker.h"
#include "db/db.h"
#include "db/dbfile.h"
#include "db/rowbuf.h"
#include <time.h>

#ifndef OW_VERSION
#define OW_VERSION "unknown"
#endif

enum stmt_id {
    ST_CAPTURE,
    ST_CONN,
    ST_HTTP,
    ST_WS,
    ST_BOKEH,
    ST_BOKEH_ROOM,
    ST_BOKEH_COUNT,
    ST_PAGE,
    ST_EVIDENCE_DEL,
    ST_EVIDENCE,
    ST_SESSION,
    ST_SESSION_STUB,
    ST_UA_STUB,
    ST_PACKET_FILE,
    ST_CAPTURE_FILE,
    ST_PAGE_MOVE, /* staged rows into the file (see owdb_staged) */
    ST_PAGE_CLEAR,
    ST_HTTP_MOVE,
    ST_HTTP_CLEAR,
    ST_COUNT
};

/* Rows of the tables with triggers are staged: while a batch is written they go to a
 * temporary table of the same columns ("stage_" and the table's name, in memory), and at the
 * batch's end one INSERT OR REPLACE ... SELECT moves them into the file. Row by row, each
 * insert ran the triggers in frames of their own and copied every page it touched into a
 * statement journal (see writer.c insert_sql); one statement per batch does both once. The
 * triggers are written so that the order of rows does not matter (db/schema.sql), and the
 * stored rows are the same. */
typedef struct staged_table {
    enum stmt_id row, move, clear;
    const char *table;
} staged_table;
#define STAGED_COUNT 2
extern const staged_table owdb_staged[STAGED_COUNT];

/* Text stored once (db/schema.sql, "*_ref" columns): an insert writes the column as the id of
 * the text's row, found by the parameter the text is bound to; the writing thread makes sure
 * that row exists first (the stub statement). */
enum { INTERN_SESSION, INTERN_UA, INTERN_COUNT };
typedef struct owdb_interned_text {
    const char *column, *param, *expr;
    enum stmt_id stub;
} owdb_interned_text;
extern const owdb_interned_text owdb_interned[INTERN_COUNT];

/* id offsets: a record's id plus the largest id the table held when the file was opened */
typedef struct id_offsets {
    int64_t conn, http, ws, bokeh, page;
} id_offsets;

#define OWDB_MAGIC 0x6f776462u /* "owdb": marks a live writer behind a sink's ctx */

#define PARAM_CACHE 4096 /* a power of two; ~200 (statement, name) pairs are used */
typedef struct param_slot {
    int stmt;
    const char *name;
    int index;
} param_slot;
/* A record binds its columns in the same order every time: the n-th name bound to a
 * statement is remembered with its index, so the next row finds it by one comparison. */
#define PARAM_SEQ 96 /* names remembered per statement (connections bind 62) */
typedef struct param_seq_slot {
    const char *name;
    int index;
} param_seq_slot;

/* Packet thread: addresses already formatted (connections and page loads name the same few
 * clients and servers again and again). Direct-mapped by address. */
#define ADDR_TEXT_CACHE 256 /* a power of two */
typedef struct addr_text_slot {
    ow_addr addr; /* family 0: free */
    uint8_t len;
    char text[OW_ADDR_STRLEN];
} addr_text_slot;

/* Rows are held (and re-emitted ones replaced) until the batch reaches this size or a commit
 * is due; then the batch goes to the writing thread while the next one fills. Live
 * (never_stall), while that thread is still busy (a checkpoint's fsync, a slow disk), the
 * packet thread keeps filling rather than wait, up to ROWBUF_MAX_BYTES: a stall there would
 * drop packets. A file read waits instead (less memory). */
#define ROWBUF_FLUSH_BYTES ((size_t)2 << 20)
#define ROWBUF_MAX_BYTES   ((size_t)8 << 20)

enum { BATCH_COMMIT = 1 }; /* the batch ends with a COMMIT */

/* Writing thread: texts known to have their row in the file (sessions, user_agents), so a row
 * naming one needs no stub INSERT. Direct-mapped; a text longer than INTERN_CACHE_MAX_LEN is
 * never cached. Emptied when a transaction is rolled back (its stubs are gone). */
#define INTERN_CACHE         4096 /* slots per kind of text, a power of two */
#define INTERN_CACHE_MAX_LEN 1024
typedef struct intern_slot {
    char *text; /* NULL: free */
    uint32_t len;
} intern_slot;

/* Writing thread: per websocket, a bound on its stored Bokeh messages (the count read from the
 * file when the slot was taken, plus every message written since), so that the bound query
 * runs only when the bound reaches the limit. Direct-mapped by websocket id. */
#define BOKEH_COUNT_CACHE 4096 /* a power of two */
typedef struct bokeh_count_slot {
    int64_t ws_id; /* 0: free */
    uint64_t stored_max;
} bokeh_count_slot;

/* A statement's parameter names, copied at prepare time: looked up without SQLite. */
typedef struct param_names {
    char **name; /* name[i] is parameter i + 1 */
    int n;
} param_names;

/* Two threads: the packet thread holds records as rows (rows[filling], param_cache/_seq, the
 * held_* fields, next_commit); the writing thread owns the SQLite connection while a batch is
 * out (in_txn .. stats). They meet only in batch_worker hand-overs, where the snapshot that
 * owdb_get_stats returns is refreshed. */
struct ow_db {
    uint32_t magic;
    owdb_file file;
    char *path;
    owdb_options opt;
    ow_record_sink sink;
    sqlite3_stmt *st[ST_COUNT];
    param_names params[ST_COUNT];
    int intern_param[ST_COUNT][INTERN_COUNT]; /* parameter index of each interned text, or 0 */
    int64_t capture_id;
    id_offsets off;
    /* packet thread */
    param_slot param_cache[PARAM_CACHE];
    param_seq_slot param_seq[ST_COUNT][PARAM_SEQ];
    addr_text_slot addr_texts[ADDR_TEXT_CACHE];
    rowbuf rows[2]; /* the batch being filled and the one being written */
    int filling;
    double next_commit;   /* monotonic seconds */
    bool unsynced;        /* owdb_commit_last turned fsyncs off (sync_packed_only) */
    uint64_t held_lost;   /* rows that could not be held */
    char held_error[200]; /* why, "" when never */
    owdb_stats snapshot;  /* stats as of the last hand-over */
    batch_worker worker;
    /* writing thread */
    bool in_txn;
    uint64_t pending_rows;              /* rows in the open transaction */
    uint64_t staged_rows[STAGED_COUNT]; /* rows in each stage table, not yet moved */
    double last_commit;                 /* monotonic seconds */
    double blocked_until;               /* after "locked by another writer": fail fast until then */
    int batch_result; /* of the last batch: 0, or -1 when a row or the commit failed */
    owdb_stats stats;
    intern_slot intern_cache[INTERN_COUNT][INTERN_CACHE];
    bokeh_count_slot bokeh_counts[BOKEH_COUNT_CACHE];
};

/* Binds by parameter name (":column") into a held row; a name the statement lacks is
 * remembered as an error. */
typedef struct binder {
    ow_db *db;
    rowbuf *rb; /* the batch being filled */
    int stmt;
    unsigned pos; /* names bound so far */
    rb_row *row;
    const char *bad;
} binder;

static inline double owdb_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* writer_rows.c (packet thread) */
void owdb_init_sink(ow_db *db);
/* Parameter index (1-based) of name in statement stmt, 0 when it has none. */
int owdb_param_index(const ow_db *db, int stmt, const char *name);

/* writer_flush.c (writing thread): one batch of held rows, and a COMMIT with BATCH_COMMIT. */
void owdb_write_batch(void *ctx, void *batch, int flags);
/* Frees the writing thread's caches (at close, the thread stopped). */
void owdb_flush_caches_free(ow_db *db);
extern const char *const owdb_stmt_what[ST_COUNT];

#endif
