/* alive: is a writer alive on a database file, and the end reason readers show (see db.h).
 * The writer holds flock(LOCK_EX) on its own descriptor of the file for its whole life
 * (db/dbfile.c); the kernel drops it with the process, however that ends (exit, kill -9, a
 * crash; a power loss ends every process). A reader probes with flock(LOCK_SH | LOCK_NB) and
 * unlocks at once: shared, so readers probing together never see each other as a writer.
 * flock locks are apart from the POSIX (fcntl) locks SQLite takes on Linux, so neither
 * disturbs the other; but close() of any descriptor of the file drops every POSIX lock this
 * process holds on it (SQLite's included, e.g. a reader's SHARED lock, or the writer's own when
 * `live` draws its dashboard). So the probe's descriptor is opened once per file and kept open
 * for the life of the process: it holds no lock between probes. (WAL, which the writer uses,
 * needs a local filesystem anyway, where flock is not emulated with POSIX locks.) */
#include "db/db.h"
#include "db/dbfile.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_FILES 16 /* files probed in one process; more: "cannot tell" */

static struct {
    dev_t dev;
    ino_t ino;
    int fd;
} probes[PROBE_FILES];
static int nprobes;
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;

/* The kept descriptor of path's file, opened read-only the first time; -1 when it cannot be. */
static int probe_fd(const char *path)
{
    struct stat st, fst;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    for (int i = 0; i < nprobes; i++)
        if (probes[i].dev == st.st_dev && probes[i].ino == st.st_ino)
            return probes[i].fd;
    if (nprobes == PROBE_FILES)
        return -1;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &fst) != 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
        close(fd); /* replaced between stat and open: not the file sqlite has open */
        return -1;
    }
    probes[nprobes].dev = st.st_dev;
    probes[nprobes].ino = st.st_ino;
    probes[nprobes++].fd = fd;
    return fd;
}

int owdb_writer_alive(const char *path)
{
    if (!path || !*path) /* sqlite's name of an in-memory or temporary database */
        return -1;
    pthread_mutex_lock(&probe_mu);
    int alive = -1, fd = probe_fd(path);
    if (fd >= 0) {
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
            flock(fd, LOCK_UN); /* at once: a writer starting now must get its lock */
            alive = 0;
        } else if (errno == EWOULDBLOCK) {
            alive = 1;
        } /* else (ENOLCK: no flock here; the writer went on unlocked): cannot tell */
    }
    pthread_mutex_unlock(&probe_mu);
    return alive;
}

const char *owdb_end_reason(sqlite3 *db, int64_t capture_id, const char *stored)
{
    if (!stored || strcmp(stored, "running") != 0 || !db)
        return stored;
    int alive = owdb_writer_alive(sqlite3_db_filename(db, "main"));
    if (alive < 0)
        return stored; /* cannot tell: what the row says */
    if (alive == 0)
        return "killed";
    /* a live writer fills only the newest row: an older 'running' one lost its writer */
    return capture_id < owdb_query_int(db, "SELECT MAX(id) FROM captures", capture_id) ? "killed"
                                                                                       : stored;
}
