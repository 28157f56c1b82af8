/* db: the orphanwatch SQLite database. The writer is a record sink (correlate/records.h) that
 * stores every record as a row of db/schema.sql; readers open the file read-only with the
 * schema version checked. Ids of a re-opened database continue after the rows already there,
 * so every capture run appended to one file keeps unique ids. */
#ifndef OW_DB_H
#define OW_DB_H
#include "correlate/records.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OWDB_DEFAULT_COMMIT_INTERVAL_MS 1000
#define OWDB_DEFAULT_MAX_BOKEH_MSGS     64
#define OWDB_DEFAULT_BUSY_TIMEOUT_MS    2000
/* Packing (owdb_options.compact) writes a copy beside the file: it is done only when the
 * filesystem has the file's size plus this margin free; a file larger than the notice size is
 * announced on stderr first (it takes seconds). */
#define OWDB_COMPACT_ROOM_MARGIN  (16ull << 20)
#define OWDB_COMPACT_NOTICE_BYTES (64ull << 20)

/* The schema text compiled in from db/schema.sql. */
extern const char ow_schema_sql[];

typedef struct ow_db ow_db;

typedef struct owdb_options {
    int commit_interval_ms; /* <= 0: OWDB_DEFAULT_COMMIT_INTERVAL_MS (wall-clock time) */
    uid_t owner;            /* with chown_to_owner, when running as root */
    gid_t group;
    bool chown_to_owner;          /* give the db and its -wal/-shm files to owner/group */
    size_t max_bokeh_msgs_per_ws; /* 0: OWDB_DEFAULT_MAX_BOKEH_MSGS; beyond: counted only */
    int busy_timeout_ms;          /* <= 0: OWDB_DEFAULT_BUSY_TIMEOUT_MS; then a clear error */
    bool never_stall; /* live: while the writing thread is busy, keep holding rows (up to a
                       * bound) instead of waiting for it */
    bool compact;     /* owdb_close rebuilds a file this writer created (VACUUM): rows written
                       * as records end leave pages part-empty; read and live pack them */
    /* read: the end of a file this writer created and packs (owdb_commit_last's commit, the
     * checkpoint and leaving WAL mode) is not fsynced, two syncs of the whole file; the packed
     * copy that replaces it is, before the rename, and a file left unpacked is synced at
     * close. A power cut in those last steps (about 0.1 s) can leave the file unreadable:
     * read the capture again. A killed process leaves it consistent either way. Live keeps
     * every step synced. */
    bool sync_packed_only;
    /* Optional: asked every thousand SQLite steps while packing (and once before it);
     * nonzero stops the packing and leaves the file complete, unpacked. Runs on the thread
     * calling owdb_close; reading a sig_atomic_t a signal handler sets is the intended use. */
    int (*compact_stop)(void *ctx);
    void *compact_stop_ctx;
} owdb_options;

typedef struct owdb_stats {
    uint64_t rows_written; /* rows committed */
    uint64_t rows_failed;  /* rows lost: failed inserts and rolled-back transactions */
    uint64_t commits, commit_failures;
    uint64_t bokeh_skipped; /* Bokeh messages beyond max_bokeh_msgs_per_ws (not stored) */
    char last_error[256];   /* the last failure, "" when none */
} owdb_stats;

/* The schema version of this build (PRAGMA user_version in db/schema.sql). */
int owdb_schema_version(void);

/* Creates the file (mode 0600) or re-opens an orphanwatch database of this schema version and
 * starts a new capture row in it. Refuses symlinks, non-regular files, a file planted by
 * another user in a directory others can write, another orphanwatch writing the same file,
 * and other schema versions. NULL options: defaults. Returns NULL with a message in err. */
ow_db *owdb_create(const char *path, const owdb_options *o, char *err, size_t errlen);
/* The record sink that writes into db (valid until owdb_close). */
const ow_record_sink *owdb_sink(ow_db *db);
/* Writes the held rows and commits them now. 0 on success (or nothing to do), -1 when a
 * row or the commit failed (counted in the stats, last_error says why). */
int owdb_commit(ow_db *db);
/* The last rows of a run, committed as by owdb_commit; after it, only commits and owdb_close
 * (see sync_packed_only). */
int owdb_commit_last(ow_db *db);
/* The id of the captures row this writer fills. */
int64_t owdb_capture_id(const ow_db *db);
/* The writer's counters as of the last hand-over to its writing thread (every commit
 * interval, every held batch, owdb_commit). */
const owdb_stats *owdb_get_stats(const ow_db *db);
/* Final commit, checkpoint (the file is left in rollback-journal mode, self-contained),
 * close. NULL is ignored. */
void owdb_close(ow_db *db);

/* Opens an orphanwatch database read-only (SQLITE_OPEN_READONLY and PRAGMA query_only),
 * checking the schema version: a database of an older or newer schema gets a message naming
 * both versions. Returns NULL with a message in err. Close with sqlite3_close. */
sqlite3 *owdb_open_readonly(const char *path, char *err, size_t errlen);

/* Whether a writer (owdb_create, until owdb_close or its process dies) holds the database file
 * at path: 1 alive, 0 none, -1 cannot tell (unreadable file, no flock on this filesystem). Takes
 * no lock a writer would wait for (a shared flock for an instant) and keeps one read-only
 * descriptor per probed file open for the life of the process (closing it would drop SQLite's
 * POSIX locks on the file). Thread-safe. */
int owdb_writer_alive(const char *path);

#define OWDB_COMPACT_SUFFIX "-compacting" /* path + this: the packed copy made at the end */

/* Removes the packed copy (path + OWDB_COMPACT_SUFFIX) a killed packing left beside the
 * database at path, as owdb_create does for the file it opens, under the same conditions: no
 * orphanwatch writes to path now (its writer lock is free), the directory is not writable by
 * others, and the copy is provably one orphanwatch left. For databases no run will write again
 * (live's timestamped default names), and not one this process has open (closing the probe's
 * descriptor would drop SQLite's POSIX locks on it). 1 removed (err says what), 0 nothing
 * there or path in use, -1 something else by that name, left alone (err says so). */
int owdb_remove_stale_compact(const char *path, char *err, size_t errlen);

/* The end reason readers show for capture capture_id of db whose row says stored: "killed"
 * when it says "running" but no writer holds the file (kill -9, a crash, a power loss) or a
 * newer capture row exists, else stored. The one place readers decide it (report, dashboard,
 * ow_end_reason() in SQL); the database is not changed. Returns stored or a static string. */
const char *owdb_end_reason(sqlite3 *db, int64_t capture_id, const char *stored);

/* Merges the orphanwatch databases inputs[0..n-1] into out (created, mode 0600; it must not
 * exist): every row is copied with its ids shifted so they stay unique, then page loads that
 * are orphans in one input while a websocket carrying their session exists in another are
 * given the verdict ws_elsewhere with evidence. Summary counts go to the optional result. */
typedef struct owdb_merge_result {
    int64_t captures, page_loads, connections, websockets;
    int64_t ws_elsewhere; /* orphan page loads re-labelled ws_elsewhere */
} owdb_merge_result;
int owdb_merge(const char *out, const char *const *inputs, int n, owdb_merge_result *res, char *err,
               size_t errlen);

#endif
