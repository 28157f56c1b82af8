/* dbfile: opening the database file safely and checking its schema version (see dbfile.h).
 * The file is created by us (O_EXCL, O_NOFOLLOW, 0600) before sqlite opens it, so neither a
 * symlink nor a file planted in a world-writable directory can redirect the writes. */
#include "db/dbfile.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define COMPANION_SUFFIXES                                                                         \
    {                                                                                              \
        "-wal", "-shm", "-journal"                                                                 \
    }

int owdb_schema_version(void)
{
    static int version = -1;
    if (version < 0) {
        const char *p = strstr(ow_schema_sql, "PRAGMA user_version");
        version = 0;
        if (p && (p = strchr(p, '='))) {
            char *end;
            long v = strtol(p + 1, &end, 10);
            /* "= N;" in 32 bits (user_version's size); anything else leaves 0, as no pragma does */
            if (end != p + 1 && *end == ';' && v >= 0 && v <= INT32_MAX)
                version = (int)v;
        }
    }
    return version;
}

int owdb_exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

int64_t owdb_query_int(sqlite3 *db, const char *sql, int64_t fallback)
{
    sqlite3_stmt *st = NULL;
    int64_t v = fallback;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* user_version and whether the captures table exists; -1 when the file is not readable as
 * an SQLite database. */
static int read_schema_facts(sqlite3 *db, const char *name, int *version, int *tables,
                             bool *has_captures)
{
    char sql[256];
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof sql, "PRAGMA \"%s\".user_version", name);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), COALESCE(SUM(name = 'captures'), 0) FROM \"%s\".sqlite_master "
             "WHERE type = 'table'",
             name);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    *tables = sqlite3_column_int(st, 0);
    *has_captures = sqlite3_column_int(st, 1) > 0;
    sqlite3_finalize(st);
    return 0;
}

int owdb_check_schema(sqlite3 *db, const char *name, const char *label, char *err, size_t errlen)
{
    int version = 0, tables = 0, want = owdb_schema_version();
    bool has_captures = false;
    if (read_schema_facts(db, name, &version, &tables, &has_captures) < 0) {
        snprintf(err, errlen, "%s: cannot read it as an SQLite database: %s", label,
                 sqlite3_errmsg(db));
        return -1;
    }
    if (version == want && has_captures)
        return 0;
    if (version == 0 && !has_captures) {
        snprintf(err, errlen, "%s: not an orphanwatch database (%s)", label,
                 tables ? "it has other tables" : "it is empty");
        return -1;
    }
    if (version == want) {
        snprintf(err, errlen, "%s: not an orphanwatch database (no captures table)", label);
        return -1;
    }
    snprintf(err, errlen,
             "%s: database schema version %d is %s than this orphanwatch's schema version %d; %s",
             label, version, version < want ? "older" : "newer", want,
             version < want ? "read it with the orphanwatch that wrote it, or capture again"
                            : "use a newer orphanwatch to read it");
    return -1;
}

/* The directory of path is writable by others (a /tmp-like place where files get planted). */
static bool dir_is_shared(const char *path)
{
    struct stat dst;
    char *copy = strdup(path);
    int rc = copy ? stat(dirname(copy), &dst) : -1;
    free(copy);
    return rc == 0 && (dst.st_mode & S_IWOTH);
}

/* Refuses a path that is a symlink or not a regular file, or a file owned by someone else in
 * a directory others may write to (where they could have planted it). */
static int check_existing(const char *path, bool must_exist, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT && !must_exist)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s: refusing to write through a symbolic link", path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: refusing to write: not a regular file", path);
        return -1;
    }
    if (dir_is_shared(path) && st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "%s: refusing to write: the file belongs to uid %u, not to us, and its "
                 "directory is writable by others (it may have been planted there)",
                 path, (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}

static int check_companions(const char *path, char *err, size_t errlen)
{
    static const char *const suffixes[] = COMPANION_SUFFIXES;
    char name[4096];
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        if (snprintf(name, sizeof name, "%s%s", path, suffixes[i]) >= (int)sizeof name) {
            snprintf(err, errlen, "%s: path too long", path);
            return -1;
        }
        if (check_existing(name, false, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static bool want_chown(const owdb_options *o)
{
    return o && o->chown_to_owner && geteuid() == 0;
}

/* In a directory others can write, creates the -wal and -shm files ourselves (0600, O_EXCL)
 * so nobody can slip one in between our checks and sqlite's open. Existing ones were checked. */
static int claim_companions(const char *path, const owdb_options *o, char *err, size_t errlen)
{
    static const char *const suffixes[] = {"-wal", "-shm"};
    char name[4096];
    if (!dir_is_shared(path))
        return 0;
    for (size_t i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create: %s", name, strerror(errno));
            return -1;
        }
        if (fd >= 0 && want_chown(o) && fchown(fd, o->owner, o->group) != 0) {
            snprintf(err, errlen, "%s: chown: %s", name, strerror(errno));
            close(fd);
            return -1;
        }
        if (fd >= 0)
            close(fd); /* before sqlite opens it: no POSIX lock of its can be dropped */
    }
    return 0;
}

/* Creates the file (0600) or opens the existing one after the checks. Returns the fd. */
static int open_db_fd(const char *path, bool must_create, bool *created, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    *created = fd >= 0;
    if (fd >= 0) {
        if (fchmod(fd, 0600) != 0) { /* the umask may only have narrowed it; be exact */
            snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        return fd;
    }
    if (errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (must_create) {
        snprintf(err, errlen, "%s: already exists (choose a new file)", path);
        return -1;
    }
    if (check_existing(path, true, err, errlen) < 0)
        return -1;
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return fd;
}

/* The path still names the inode we checked (nobody swapped it before sqlite opened it). */
static bool same_inode(const char *path, int fd)
{
    struct stat a, b;
    return lstat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino && S_ISREG(a.st_mode);
}

void owdb_file_chown_companions(const char *path, const owdb_options *o)
{
    static const char *const suffixes[] = {"-wal", "-shm"};
    char name[4096];
    if (!want_chown(o))
        return;
    /* by path with AT_SYMLINK_NOFOLLOW: opening them would drop sqlite's POSIX locks */
    for (size_t i = 0; i < 2; i++)
        if (snprintf(name, sizeof name, "%s%s", path, suffixes[i]) < (int)sizeof name)
            (void)fchownat(AT_FDCWD, name, o->owner, o->group, AT_SYMLINK_NOFOLLOW);
}

/* An empty new file is fine; anything else must be an orphanwatch db of our version. */
static int check_before_writing(owdb_file *f, const char *path, char *err, size_t errlen)
{
    int version = 0, tables = 0;
    bool has_captures = false;
    if (read_schema_facts(f->db, "main", &version, &tables, &has_captures) < 0) {
        snprintf(err, errlen, "%s: cannot read it as an SQLite database: %s", path,
                 sqlite3_errmsg(f->db));
        return -1;
    }
    if (version == 0 && tables == 0)
        return 0;
    return owdb_check_schema(f->db, "main", path, err, errlen);
}

static int configure(owdb_file *f, const char *path, const owdb_options *o, char *err,
                     size_t errlen)
{
    int busy = o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : OWDB_DEFAULT_BUSY_TIMEOUT_MS;
    sqlite3_busy_timeout(f->db, busy);
    sqlite3_extended_result_codes(f->db, 1);
    if (check_before_writing(f, path, err, errlen) < 0 ||
        owdb_exec(f->db, "PRAGMA journal_mode=WAL", path, err, errlen) < 0 ||
        owdb_exec(f->db, "PRAGMA synchronous=NORMAL", path, err, errlen) < 0 ||
        /* a page cache big enough that a transaction does not spill and rewrite the same
         * index pages again and again (8 MB; memory stays bounded) */
        owdb_exec(f->db, "PRAGMA cache_size=-8192", path, err, errlen) < 0 ||
        /* INSERT OR REPLACE keeps a statement journal per row: in memory (one row's pages),
         * not in a temporary file (that was 470,000 writes for a 1 GB capture) */
        owdb_exec(f->db, "PRAGMA temp_store=MEMORY", path, err, errlen) < 0)
        return -1;
    /* IF NOT EXISTS throughout: on an existing file this only adds what is missing. One
     * transaction: the WAL gets each schema page once, not once per statement. */
    if (owdb_exec(f->db, "BEGIN IMMEDIATE", path, err, errlen) < 0)
        return -1;
    if (owdb_exec(f->db, ow_schema_sql, path, err, errlen) < 0 ||
        owdb_exec(f->db, "COMMIT", path, err, errlen) < 0) {
        sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Process-wide SQLite settings, made once before the library's first use. Memory statistics
 * are off: they put a global mutex around every allocation SQLite makes, and nothing here
 * reads them. If something already initialised the library, the call fails harmlessly. */
static void configure_library(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void library_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_library);
}

static int open_sqlite(owdb_file *f, const char *path, unsigned flags, char *err, size_t errlen)
{
    char uri[4200];
    library_once();
    /* NOMUTEX: no thread-safety mutex taken by every bind, step and reset. The connection is
     * used by one thread at a time: the writer's packet thread (open, commit at close) and its
     * writing thread (a batch) meet only in batch_worker's hand-over (db/batch_worker.c), which
     * orders them; the merge has one thread. */
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
    if (flags & OWDB_FILE_ATTACH_URI) {
        /* the main file is still opened by its plain path, through a URI naming it exactly */
        if (owdb_file_uri(path, "", uri, sizeof uri) < 0) {
            snprintf(err, errlen, "%s: path too long", path);
            return -1;
        }
        path = uri;
        oflags |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(path, &f->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, f->db ? sqlite3_errmsg(f->db) : "out of memory");
        return -1;
    }
    if (!same_inode(f->path, f->fd)) {
        snprintf(err, errlen, "%s: the file was replaced while it was being opened", path);
        return -1;
    }
    return 0;
}

/* Undoes a creation that failed half-way: the file and whatever sqlite made beside it. */
static void remove_created(const char *path)
{
    static const char *const suffixes[] = COMPANION_SUFFIXES;
    char name[4096];
    unlink(path);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (snprintf(name, sizeof name, "%s%s", path, suffixes[i]) < (int)sizeof name)
            unlink(name);
}

/* The writer lock, held on f->fd until it is closed: flock(LOCK_EX), which readers probe
 * (owdb_writer_alive, db/alive.c). A reader's probe holds a shared lock for an instant, so a
 * refusal is retried for a moment; only a lock still held after it refuses. 0, or -1 when
 * another writer holds it. Sets f->locked when we hold it. */
static int take_writer_lock(owdb_file *f)
{
    for (int i = 0; i < 50; i++) {
        if (flock(f->fd, LOCK_EX | LOCK_NB) == 0) {
            f->locked = true;
            return 0;
        }
        if (errno != EWOULDBLOCK)
            return 0;
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL); /* 2 ms; 100 ms in all */
    }
    return -1;
}

int owdb_file_open(const char *path, unsigned flags, const owdb_options *o, owdb_file *f, char *err,
                   size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    if (!path || !*path) {
        snprintf(err, errlen, "no database path given");
        return -1;
    }
    if (check_companions(path, err, errlen) < 0)
        return -1;
    f->fd = open_db_fd(path, flags & OWDB_FILE_MUST_CREATE, &f->created, err, errlen);
    if (f->fd < 0)
        return -1;
    if (want_chown(o) && f->created && fchown(f->fd, o->owner, o->group) != 0) {
        snprintf(err, errlen, "%s: chown: %s", path, strerror(errno));
        goto fail;
    }
    /* only a held lock refuses; a filesystem without flock (ENOLCK) goes on unlocked */
    if (take_writer_lock(f) < 0) {
        snprintf(err, errlen, "%s: another orphanwatch is writing to this database", path);
        goto fail;
    }
    if (claim_companions(path, o, err, errlen) < 0 ||
        open_sqlite(f, path, flags, err, errlen) < 0 || configure(f, path, o, err, errlen) < 0)
        goto fail;
    owdb_file_chown_companions(path, o);
    return 0;
fail:
    owdb_file_close(f);
    if (f->created)
        remove_created(path);
    return -1;
}

/* The new file VACUUM INTO writes: made by us (O_EXCL, 0600, the original's owner) so it cannot
 * be one planted beforehand. Returns its descriptor, or -1. */
static int create_compact_target(const owdb_file *f, const char *tmp, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    if (fchmod(fd, 0600) != 0 || fstat(f->fd, &st) != 0 ||
        (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0)) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

static int vacuum_into(sqlite3 *db, const char *tmp, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Makes the rename itself durable. */
static void sync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int dfd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(copy);
}

int owdb_file_sync(const owdb_file *f)
{
    char wal[4096];
    int rc = fsync(f->fd);
    if (snprintf(wal, sizeof wal, "%s-wal", f->path) >= (int)sizeof wal)
        return -1;
    int fd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0)
            rc = -1;
        close(fd);
    }
    return rc;
}

int owdb_file_compact_into(owdb_file *f, char *err, size_t errlen)
{
    char tmp[4096];
    if (dir_is_shared(f->path)) {
        snprintf(err, errlen, "%s: its directory is writable by others", f->path);
        return -1;
    }
    if (snprintf(tmp, sizeof tmp, "%s%s", f->path, OWDB_COMPACT_SUFFIX) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", f->path);
        return -1;
    }
    int fd = create_compact_target(f, tmp, err, errlen);
    if (fd < 0)
        return -1;
    bool ok = vacuum_into(f->db, tmp, err, errlen) == 0;
    if (ok && (!same_inode(tmp, fd) || fsync(fd) != 0)) {
        snprintf(err, errlen, "%s: replaced or not written while compacting", tmp);
        ok = false;
    }
    if (ok && rename(tmp, f->path) != 0) {
        snprintf(err, errlen, "%s: rename: %s", tmp, strerror(errno));
        ok = false;
    }
    if (ok)
        sync_dir_of(f->path);
    else if (same_inode(tmp, fd))
        unlink(tmp);
    close(fd);
    return ok ? 0 : -1;
}

bool owdb_compact_fits(uint64_t size, uint64_t avail)
{
    return avail >= OWDB_COMPACT_ROOM_MARGIN && avail - OWDB_COMPACT_ROOM_MARGIN >= size;
}

int owdb_file_space(const owdb_file *f, uint64_t *size, uint64_t *avail, char *err, size_t errlen)
{
    struct stat st;
    struct statvfs vfs;
    if (fstat(f->fd, &st) != 0 || fstatvfs(f->fd, &vfs) != 0) {
        snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
        return -1;
    }
    *size = (uint64_t)st.st_size;
    *avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    return 0;
}

/* Empty, or its first bytes are SQLite's header or zeros (page 1 is often written last). */
static bool looks_like_partial_copy(int fd)
{
    static const char header[16] = "SQLite format 3";
    static const char zeros[16];
    char head[16];
    ssize_t n = pread(fd, head, sizeof head, 0);
    return n == 0 || (n == (ssize_t)sizeof head && (memcmp(head, header, sizeof head) == 0 ||
                                                    memcmp(head, zeros, sizeof head) == 0));
}

/* name is a leftover of packing the database described by db (see dbfile.h); a copy's
 * content is checked too (a journal's header has no fixed shape). */
static bool is_our_leftover(const char *name, const struct stat *db, bool copy)
{
    struct stat st;
    int fd = open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    bool ours = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
                (st.st_uid == db->st_uid || st.st_uid == geteuid()) && st.st_dev == db->st_dev &&
                (!copy || looks_like_partial_copy(fd));
    close(fd);
    return ours;
}

int owdb_file_remove_stale_compact(const owdb_file *f, char *err, size_t errlen)
{
    char tmp[4096], journal[4200];
    struct stat db, st;
    if (!f->locked || dir_is_shared(f->path) || fstat(f->fd, &db) != 0 ||
        snprintf(tmp, sizeof tmp, "%s%s", f->path, OWDB_COMPACT_SUFFIX) >= (int)sizeof tmp ||
        lstat(tmp, &st) != 0)
        return 0;
    snprintf(journal, sizeof journal, "%s-journal", tmp);
    if (!is_our_leftover(tmp, &db, true)) {
        snprintf(err, errlen,
                 "%s: left alone: not a packed copy orphanwatch left behind (packing, when "
                 "asked for, is done in place instead)",
                 tmp);
        return -1;
    }
    if (unlink(tmp) != 0) {
        snprintf(err, errlen, "%s: cannot remove the unfinished packed copy: %s", tmp,
                 strerror(errno));
        return -1;
    }
    if (is_our_leftover(journal, &db, false))
        unlink(journal);
    snprintf(err, errlen, "%s: removed an unfinished packed copy (a packing was killed)", tmp);
    return 1;
}

int owdb_remove_stale_compact(const char *path, char *err, size_t errlen)
{
    owdb_file f = {.fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), .path = path};
    struct stat st;
    if (f.fd < 0)
        return 0;
    f.locked = fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode) && flock(f.fd, LOCK_EX | LOCK_NB) == 0;
    int rc = f.locked ? owdb_file_remove_stale_compact(&f, err, errlen) : 0;
    close(f.fd); /* and with it the lock */
    return rc;
}

int owdb_file_uri(const char *path, const char *query, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(out, outlen, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < outlen; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f) {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    int w = snprintf(out + n, outlen - n, "%s", query);
    return n + 4 < outlen && w >= 0 && (size_t)w < outlen - n ? 0 : -1;
}

void owdb_file_close(owdb_file *f)
{
    if (f->db)
        sqlite3_close_v2(f->db);
    f->db = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

sqlite3 *owdb_open_readonly(const char *path, char *err, size_t errlen)
{
    struct stat st;
    sqlite3 *db = NULL;
    if (!path || stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path ? path : "(null)", strerror(path ? errno : EINVAL));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, OWDB_DEFAULT_BUSY_TIMEOUT_MS);
    if (owdb_check_schema(db, "main", path, err, errlen) < 0 ||
        owdb_exec(db, "PRAGMA query_only=1", path, err, errlen) < 0) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}
