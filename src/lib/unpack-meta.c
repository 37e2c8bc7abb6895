/* SPDX-License-Identifier: MIT */
#include "unpack-meta.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

void meta_times(struct archive_entry *ent, struct timespec ts[2], bool *have)
{
	bool m = archive_entry_mtime_is_set(ent), a = archive_entry_atime_is_set(ent);
	long mn = archive_entry_mtime_nsec(ent), an = archive_entry_atime_nsec(ent);
	if (mn < 0 || mn > 999999999)
		mn = 0;
	if (an < 0 || an > 999999999)
		an = 0;
	ts[1] =
	    m ? (struct timespec){archive_entry_mtime(ent), mn} : (struct timespec){0, UTIME_OMIT};
	ts[0] = a ? (struct timespec){archive_entry_atime(ent), an} : ts[1];
	*have = m || a;
}

int meta_owner(struct archive_entry *ent, int fd, int pfd, const char *name, bool chown_required,
	       const char *entry, berth_err *e)
{
	la_int64_t uid = archive_entry_uid(ent), gid = archive_entry_gid(ent);
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return berr(e, -EINVAL,
			    "Layer entry '%s' has an owner %lld:%lld outside the valid id range; "
			    "the image is corrupt",
			    entry, (long long)uid, (long long)gid);
	int r = fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
			: fchownat(pfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
	if (r < 0 && !(!chown_required && (errno == EPERM || errno == EINVAL)))
		return berr_errno(e, -errno, "Cannot set owner %lld:%lld of layer entry '%s'",
				  (long long)uid, (long long)gid, entry);
	return 0;
}

static bool xattr_skipped(const char *name)
{
	/* SELinux labels belong to the host's policy; overlay's own attributes inside a layer
	 * could redirect lookups, so they never come from an image. */
	return !strcmp(name, "security.selinux") || !strncmp(name, "trusted.overlay.", 16) ||
	       !strncmp(name, "user.overlay.", 13);
}

int meta_xattrs(struct archive_entry *ent, int fd, int pfd, const char *name, bool privileged,
		const char *entry, berth_err *e)
{
	if (archive_entry_xattr_reset(ent) <= 0)
		return 0;
	char proc[64 + NAME_MAX];
	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, name);
	const char *xn;
	const void *val;
	size_t size;
	while (archive_entry_xattr_next(ent, &xn, &val, &size) == ARCHIVE_OK) {
		if (!xn || !*xn || xattr_skipped(xn))
			continue;
		int r =
		    fd >= 0 ? fsetxattr(fd, xn, val, size, 0) : lsetxattr(proc, xn, val, size, 0);
		if (r == 0)
			continue;
		/* user.* is not allowed on symlinks; trusted.* and security.* (file capabilities)
		 * need privilege that an unprivileged unpack outside a user namespace lacks */
		if (errno == EPERM && (fd < 0 || (!privileged && (!strncmp(xn, "trusted.", 8) ||
								  !strncmp(xn, "security.", 9)))))
			continue;
		return berr_errno(
		    e, -errno, "Cannot set extended attribute '%s' on layer entry '%s'", xn, entry);
	}
	return 0;
}
