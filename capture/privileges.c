/* privileges: dropping root after the capture handle is open (see privileges.h). */
#include "capture/privileges.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int parse_id(const char *s, unsigned long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

int ow_privileges_target(const char *user, uid_t *uid, gid_t *gid)
{
    unsigned long id;
    struct passwd *pw = NULL;
    if (user) {
        pw = parse_id(user, &id) == 0 ? getpwuid((uid_t)id) : getpwnam(user);
        if (!pw) return -1;
    } else if (parse_id(getenv("SUDO_UID"), &id) == 0 && id != 0) {
        unsigned long g;
        *uid = (uid_t)id;
        *gid = parse_id(getenv("SUDO_GID"), &g) == 0 ? (gid_t)g : (gid_t)id;
        return 0;
    } else if (!(pw = getpwnam("nobody"))) {
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

static int capabilities_cleared(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int ok = 1;
    if (!f) return 1; /* no /proc: nothing to check against */
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7))
            ok &= strspn(line + 7, " \t0") == strlen(line + 7) - 1;
    fclose(f);
    return ok;
}

int ow_drop_privileges(const char *user, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    if (geteuid() != 0) return 0;
    if (ow_privileges_target(user, &uid, &gid) != 0) {
        snprintf(err, errlen, "cannot drop privileges: no such user '%s'", user ? user : "nobody");
        return -1;
    }
    struct passwd *pw = getpwuid(uid);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    int rc = pw ? initgroups(pw->pw_name, gid) : setgroups(1, &gid);
    if (rc != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
        snprintf(err, errlen, "cannot drop privileges to uid %u: %s", (unsigned)uid,
                 strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "privileges could be regained after dropping them; refusing to run");
        return -1;
    }
    if (uid != 0 && !capabilities_cleared()) {
        snprintf(err, errlen, "capabilities remain after dropping privileges; refusing to run");
        return -1;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return 0;
}
