/* privileges: root is needed only to open the capture. Right after, orphanwatch becomes an
 * ordinary user for good: --user, else the user behind sudo (SUDO_UID/SUDO_GID), else nobody;
 * supplementary groups replaced, real/effective/saved ids changed, no capability kept, no way
 * back (no_new_privs). */
#ifndef OW_PRIVILEGES_H
#define OW_PRIVILEGES_H
#include <stddef.h>
#include <sys/types.h>

/* Who we will become: user (a name or a number) when given, else SUDO_UID/SUDO_GID, else
 * nobody. 0, or -1 when the user does not exist or is root. */
int ow_privileges_target(const char *user, uid_t *uid, gid_t *gid);
/* Whether uid/gid may create files in dir, asked in a child process that becomes them (its
 * supplementary groups, permissions and ACLs all apply): 1 yes, 0 no, -1 when it cannot be
 * told (not root, or no child). Before dropping: a file the dropped process must make there
 * (a database's packed copy, its journal) would otherwise fail later, half-way through. */
int ow_privileges_can_write_dir(uid_t uid, gid_t gid, const char *dir);
/* Drops root for good, then checks that root cannot be regained and CapEff/CapPrm are 0.
 * 0 when dropped, or when not running as root (nothing to drop: a note is left in err);
 * -1 with a message in err (the caller must stop). */
int ow_drop_privileges(const char *user, char *err, size_t errlen);
#endif
