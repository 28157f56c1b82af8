/* privileges: dropping root after the live capture is open (see privileges.h). */
#include "capture/privileges.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FALLBACK_USER "nobody"

static bool parse_id(const char *s, unsigned long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 0x7FFFFFFFul)
        return false;
    *out = v;
    return true;
}

static int lookup_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    unsigned long n;
    if (!pw && parse_id(user, &n))
        pw = getpwuid((uid_t)n);
    if (pw) {
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
        return 0;
    }
    if (parse_id(user, &n)) { /* a numeric uid without a passwd entry: its own group id */
        *uid = (uid_t)n;
        *gid = (gid_t)n;
        return 0;
    }
    snprintf(err, errlen, "unknown user \"%s\"", user);
    return -1;
}

static int resolve(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    unsigned long su, sg;
    if (user && *user) {
        if (lookup_user(user, uid, gid, err, errlen) < 0)
            return -1;
    } else if (parse_id(getenv("SUDO_UID"), &su) && su != 0) {
        *uid = (uid_t)su;
        *gid = parse_id(getenv("SUDO_GID"), &sg) ? (gid_t)sg : (gid_t)su;
    } else if (lookup_user(FALLBACK_USER, uid, gid, err, errlen) < 0) {
        return -1;
    }
    if (*uid == 0 || *gid == 0) {
        snprintf(err, errlen,
                 "refusing to keep running as root (user \"%s\"): name another "
                 "account with --user",
                 user && *user ? user : "root");
        return -1;
    }
    return 0;
}

int ow_privileges_target(const char *user, uid_t *uid, gid_t *gid)
{
    char err[160];
    return resolve(user, uid, gid, err, sizeof err);
}

static int set_groups(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    struct passwd *pw = getpwuid(uid);
    bool nobody = pw && strcmp(pw->pw_name, FALLBACK_USER) == 0;
    int rc = pw && !nobody ? initgroups(pw->pw_name, gid) : setgroups(0, NULL);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set supplementary groups: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int ow_privileges_can_write_dir(uid_t uid, gid_t gid, const char *dir)
{
    if (geteuid() != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char err[160];
        bool as_user = set_groups(uid, gid, err, sizeof err) == 0 &&
                       setresgid(gid, gid, gid) == 0 && setresuid(uid, uid, uid) == 0;
        _exit(!as_user ? 2 : access(dir, W_OK | X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
        return -1;
    return WEXITSTATUS(status) == 0;
}

/* CapEff | CapPrm from /proc/self/status; -1 when they cannot be read. */
static long long remaining_caps(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long caps = 0;
    int seen = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0) {
            caps |= strtoll(line + 7, NULL, 16);
            seen++;
        }
    fclose(f);
    return seen == 2 ? caps : -1;
}

static int verify_dropped(uid_t uid, gid_t gid, char *err, size_t errlen)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0 || r != uid || e != uid ||
        s != uid || rg != gid || eg != gid || sg != gid) {
        snprintf(err, errlen, "user or group ids did not change as asked");
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        snprintf(err, errlen, "root could be regained after dropping privileges");
        return -1;
    }
    long long caps = remaining_caps();
    if (caps != 0) {
        snprintf(err, errlen, "capabilities remain after dropping privileges (%llx)", caps);
        return -1;
    }
    return 0;
}

int ow_drop_privileges(const char *user, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        snprintf(err, errlen, "not running as root: privileges left as they are");
        return 0;
    }
    uid_t uid;
    gid_t gid;
    if (resolve(user, &uid, &gid, err, errlen) < 0)
        return -1;
    if (set_groups(uid, gid, err, errlen) < 0)
        return -1;
    if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
        snprintf(err, errlen, "cannot switch to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    /* Capabilities go with the uid change (no KEEPCAPS); setuid programs cannot give any
     * back. */
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core dumps of captured traffic */
    return verify_dropped(uid, gid, err, errlen);
}
