/* test_capture_privileges: who privileges are dropped to (--user, sudo's caller, nobody),
 * refusals (unknown user, root), and, when the test runs as root, a real drop in a child
 * process: ids changed everywhere, root not regained, no capabilities left; and whether the
 * user dropped to can make files in a directory (asked as that user: its own, 0700 root's,
 * 1777, without the write bit, missing). */
#include "capture/privileges.h"
#include "tests/unit/testlib.h"
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void resolve_targets(void)
{
    uid_t u;
    gid_t g;
    struct passwd *nobody = getpwnam("nobody");
    unsetenv("SUDO_UID");
    unsetenv("SUDO_GID");
    if (nobody) {
        CHECK_EQ_INT(ow_privileges_target(NULL, &u, &g), 0);
        CHECK_EQ_INT(u, nobody->pw_uid);
        CHECK_EQ_INT(ow_privileges_target("nobody", &u, &g), 0);
        CHECK_EQ_INT(g, nobody->pw_gid);
    }
    setenv("SUDO_UID", "1234", 1);
    setenv("SUDO_GID", "2345", 1);
    CHECK_EQ_INT(ow_privileges_target(NULL, &u, &g), 0);
    CHECK_EQ_INT(u, 1234);
    CHECK_EQ_INT(g, 2345);
    CHECK_EQ_INT(ow_privileges_target("4321", &u, &g), 0); /* --user wins */
    CHECK_EQ_INT(u, 4321);
    unsetenv("SUDO_UID");
    unsetenv("SUDO_GID");
    CHECK_EQ_INT(ow_privileges_target("no-such-user-xyz", &u, &g), -1);
    CHECK_EQ_INT(ow_privileges_target("root", &u, &g), -1);
    CHECK_EQ_INT(ow_privileges_target("0", &u, &g), -1);
}

static void real_drop(void)
{
    char err[256];
    if (geteuid() != 0) {
        CHECK_EQ_INT(ow_drop_privileges(NULL, err, sizeof err), 0);
        CHECK(strstr(err, "not running as root") != NULL);
        printf("note: not root: the real drop is not exercised\n");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int rc = ow_drop_privileges("nobody", err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "drop failed: %s\n", err);
            _exit(2);
        }
        struct passwd *nobody = getpwnam("nobody");
        bool ok = nobody && getuid() == nobody->pw_uid && geteuid() == nobody->pw_uid &&
                  setuid(0) != 0 && getgroups(0, NULL) == 0;
        _exit(ok ? 0 : 3);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

/* Whether the user dropped to can make files in a directory, asked as that user. */
static void writable_as(void)
{
    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() != 0 || !nobody) {
        if (geteuid() != 0)
            CHECK_EQ_INT(ow_privileges_can_write_dir(1234, 1234, "/tmp"), -1);
        printf("note: not root (or no user nobody): asking as another user is not exercised\n");
        return;
    }
    char root_only[] = "/tmp/ow-priv-XXXXXX";
    CHECK(mkdtemp(root_only) != NULL); /* 0700, root's */
    uid_t u = nobody->pw_uid;
    gid_t g = nobody->pw_gid;
    CHECK_EQ_INT(ow_privileges_can_write_dir(u, g, root_only), 0);
    CHECK_EQ_INT(ow_privileges_can_write_dir(u, g, "/tmp"), 1); /* 1777 */
    CHECK_EQ_INT(ow_privileges_can_write_dir(u, g, "/no/such/dir"), 0);
    CHECK(chown(root_only, u, g) == 0);
    CHECK_EQ_INT(ow_privileges_can_write_dir(u, g, root_only), 1); /* nobody's own */
    CHECK(chmod(root_only, 0500) == 0);
    CHECK_EQ_INT(ow_privileges_can_write_dir(u, g, root_only), 0); /* no write bit */
    CHECK(geteuid() == 0);                                         /* the caller stays root */
    rmdir(root_only);
}

int main(void)
{
    resolve_targets();
    real_drop();
    writable_as();
    TEST_MAIN_END("test_capture_privileges");
}
