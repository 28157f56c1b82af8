/* dbfile: opening the database file safely (internal to db/). Creation with mode 0600, the
 * refusals that stop a symlink or planted-file attack, the writer's lock, the schema version
 * check and the schema itself. Shared by the writer and the merge. */
#ifndef OW_DBFILE_H
#define OW_DBFILE_H
#include "db/db.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct owdb_file {
    sqlite3 *db;
    int fd;       /* our descriptor of the db file: holds the writer lock; closed last */
    bool created; /* the file did not exist before */
    bool locked;  /* we hold the writer lock (flock; not on a filesystem without it) */
    const char *path;
} owdb_file;

#define OWDB_FILE_MUST_CREATE 1u /* refuse an existing file */
#define OWDB_FILE_ATTACH_URI  2u /* let ATTACH take file: URIs (for mode=ro) */

/* Opens path read-write for writing (creating it when missing), takes the writer lock,
 * checks or installs the schema, sets WAL and synchronous=NORMAL. flags: OWDB_FILE_*.
 * Returns 0, or -1 with a message in err (nothing left open). */
int owdb_file_open(const char *path, unsigned flags, const owdb_options *o, owdb_file *f, char *err,
                   size_t errlen);
/* "file:PATH" + query (e.g. "?mode=ro") with the path percent-encoded where URIs need it.
 * 0, or -1 when it does not fit. */
int owdb_file_uri(const char *path, const char *query, char *out, size_t outlen);
/* Closes sqlite first, then the descriptor (which must outlive sqlite's POSIX locks). */
void owdb_file_close(owdb_file *f);
/* Gives the -wal and -shm files (when present) to owner/group, never following symlinks. */
void owdb_file_chown_companions(const char *path, const owdb_options *o);

/* Packs the finished database (VACUUM INTO a new file beside it, path + OWDB_COMPACT_SUFFIX,
 * made 0600 with the original's owner) and renames the packed file over path: no rollback
 * journal of the whole file, as an in-place VACUUM writes. The caller no longer writes; its
 * connection still reads the old file until closed. Not done in a directory others can write
 * (sqlite would create the new file's journal there by name). 0, or -1 with err and path left
 * as it was (the caller may VACUUM in place instead). */
int owdb_file_compact_into(owdb_file *f, char *err, size_t errlen);
/* fsyncs the database file and its WAL, if one is beside it (what a writer that ran with
 * fsyncs off leaves must be durable when it closes). 0, or -1 with errno. */
int owdb_file_sync(const owdb_file *f);
/* Whether a packed copy of a size-byte file fits in avail free bytes with
 * OWDB_COMPACT_ROOM_MARGIN to spare. */
bool owdb_compact_fits(uint64_t size, uint64_t avail);
/* The file's size and the bytes an unprivileged writer may still use on its filesystem
 * (statvfs f_bavail). 0, or -1 with err. */
int owdb_file_space(const owdb_file *f, uint64_t *size, uint64_t *avail, char *err, size_t errlen);
/* Removes the packed copy (path + OWDB_COMPACT_SUFFIX, and its -journal) a packing killed
 * before its rename left behind. Only while we hold the writer lock (no packing of this file
 * can be running), in a directory others cannot write, and only a file of ours: regular, mode
 * 0600, owned like the database or by us, empty or starting like an SQLite file (or zeros).
 * 1 removed (err says what), 0 nothing there, -1 something else by that name, left alone
 * (err says so). */
int owdb_file_remove_stale_compact(const owdb_file *f, char *err, size_t errlen);

/* Checks that schema `name` (main, or an attached name) of db is an orphanwatch database of
 * this build's schema version. label names the file in messages. 0 or -1 with err. */
int owdb_check_schema(sqlite3 *db, const char *name, const char *label, char *err, size_t errlen);
/* sqlite3_exec with the message copied to err ("what: sqlite message"). 0 or -1. */
int owdb_exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen);
/* The single integer a query returns, or fallback when it returns nothing or fails. */
int64_t owdb_query_int(sqlite3 *db, const char *sql, int64_t fallback);

#endif
