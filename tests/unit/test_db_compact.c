/* test_db_compact: packing a finished database (owdb_options.compact). In a private directory
 * the packed copy is written beside the file and renamed over it (a new inode, mode 0600, the
 * original's owner, nothing left beside it); where that cannot be done (a directory others can
 * write, a file already in the way) the file is packed in place instead, and nothing of anyone
 * else's is touched. Either way the rows are all there and the file has no free pages. */
#include "db/db.h"
#include "db/dbfile.h"
#include "tests/unit/test_db_churn.h"
#include "tests/unit/test_sql.h"
#include "tests/unit/testlib.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES 300

static char tmpdir[64];

/* The churn (test_db_churn.h) closed with compact; *created: the inode the writer created. */
static bool write_churn(const char *path, bool compact, const owdb_options *base, ino_t *created)
{
    owdb_options o = base ? *base : (owdb_options){0};
    o.compact = compact;
    *created = write_churn_pages(path, &o, PAGES);
    return *created != 0;
}

static int64_t page_count(const char *path)
{
    char err[512];
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    int64_t n = r ? count(r, "PRAGMA page_count") : -1;
    sqlite3_close(r);
    return n;
}

/* Complete, packed (no free page, fewer pages than the same writes left loose), 0600, and
 * nothing left beside it. */
static void check_packed(const char *path, int64_t loose_pages)
{
    char err[512], beside[200];
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    snprintf(beside, sizeof beside, "%s%s", path, OWDB_COMPACT_SUFFIX);
    CHECK(access(beside, F_OK) != 0);
    sqlite3 *r = owdb_open_readonly(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_EQ_STR(text_of(r, "PRAGMA integrity_check"), "ok");
    CHECK_EQ_INT(count(r, "SELECT COUNT(*) FROM page_loads WHERE summary LIKE 'a longer%'"), PAGES);
    CHECK_EQ_INT(count(r, "SELECT n FROM rollup_outcomes"), PAGES);
    CHECK_EQ_INT(count(r, "PRAGMA freelist_count"), 0);
    CHECK_EQ_INT(count(r, "PRAGMA user_version"), owdb_schema_version());
    CHECK_EQ_STR(text_of(r, "PRAGMA journal_mode"), "delete");
    sqlite3_close(r);
    int64_t pages = page_count(path);
    CHECK(pages > 0 && pages < loose_pages);
}

/* The same writes left loose, for the page count to beat. */
static int64_t loose_pages(void)
{
    char path[128];
    ino_t ino;
    path_in(path, sizeof path, tmpdir, "loose.db");
    if (!write_churn(path, false, NULL, &ino))
        return -1;
    return page_count(path);
}

/* A private directory: packed into a new file renamed over the created one. */
static void test_renamed_over(int64_t loose)
{
    char path[128];
    ino_t created = 0;
    path_in(path, sizeof path, tmpdir, "packed.db");
    CHECK(write_churn(path, true, NULL, &created));
    CHECK(created != 0 && inode_of(path) != 0 && inode_of(path) != created);
    check_packed(path, loose);
}

/* Something already named like the packed copy: left alone; the file is packed in place. */
static void test_name_taken(int64_t loose)
{
    char path[128], beside[200];
    ino_t created = 0;
    path_in(path, sizeof path, tmpdir, "taken.db");
    snprintf(beside, sizeof beside, "%s%s", path, OWDB_COMPACT_SUFFIX);
    FILE *f = fopen(beside, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("not ours to touch", f);
    fclose(f);
    CHECK(write_churn(path, true, NULL, &created));
    CHECK(inode_of(path) == created);
    size_t len = 0;
    char *kept = tl_read_file(beside, &len);
    CHECK(kept && strcmp(kept, "not ours to touch") == 0);
    free(kept);
    unlink(beside);
    check_packed(path, loose);
}

/* A directory others can write (sqlite would make the packed copy's journal there by name):
 * packed in place. */
static void test_shared_directory(int64_t loose)
{
    char dir[128], path[160];
    ino_t created = 0;
    path_in(dir, sizeof dir, tmpdir, "shared");
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 01777) == 0);
    path_in(path, sizeof path, dir, "shared.db");
    CHECK(write_churn(path, true, NULL, &created));
    CHECK(inode_of(path) == created);
    check_packed(path, loose);
}

/* Root writing for a user: the packed file is the user's, as the created one was. */
static void test_owner_kept(int64_t loose)
{
    char path[128];
    struct stat st;
    ino_t created = 0;
    if (geteuid() != 0) {
        printf("note: not root: the packed file's owner is not tested\n");
        return;
    }
    owdb_options o = {.owner = 65534, .group = 65534, .chown_to_owner = true};
    path_in(path, sizeof path, tmpdir, "owned.db");
    CHECK(write_churn(path, true, &o, &created));
    CHECK(inode_of(path) != created);
    CHECK(stat(path, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534);
    check_packed(path, loose);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ow_test_db_compact.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    int64_t loose = loose_pages();
    CHECK(loose > 0);
    test_renamed_over(loose);
    test_name_taken(loose);
    test_shared_directory(loose);
    test_owner_kept(loose);
    TEST_MAIN_END("test_db_compact");
}
