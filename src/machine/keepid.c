/* SPDX-License-Identifier: MIT */
/*
 * Keep-id for a regular user's machines: ownership right both ways without privileges.
 *
 * A regular user's machine maps inside 0 to the user and 1..65535 to their subordinate
 * ids; its layers are unpacked as the user, so every image file is the user's on disk and
 * root's inside. Keeping the user's ids inside (inside uid U is host uid U, so the shared
 * home is theirs in the machine and what the machine user writes there is theirs on the
 * host) moves inside 0 to the subordinate id U had (rt_idmap_keep_id), and the image's
 * files must follow it: they are handed, once, from the user to that id, as root of a user
 * namespace with the keep-id map (as podman's chown of rootless storage does). Idmapped
 * mounts would avoid it, but only the host's root may idmap a host filesystem.
 *
 * Layers are shared between machines and images: a layer whose directory the user still
 * owns has not been handed over; the directory itself goes last, so an interrupted hand-over
 * is finished by the next start. A machine's own upper directory (or full copy) is handed
 * over once, at its first start after create, recorded by KEEPID_DONE in its state
 * directory, because later the machine user's own files are the user's on purpose.
 * Directories made by the machine user are never touched again.
 */
#include "keepid.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "inroot.h"

#define KEEPID_DONE "keepid-done"

typedef struct shift_args {
	const char *path;
	uint32_t uid, gid; /* the user's ids as they appear inside (keep-id: the same) */
} shift_args;

/* Hand name (in dirfd) and, for a directory, everything below it over: what the user owns
 * becomes root's. Depth first, so the directory itself goes last. Never follows symlinks
 * and never leaves the file system it started on. */
static int shift_at(int dirfd, const char *name, const shift_args *a, dev_t dev, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_dev != dev)
		return 0;
	if (S_ISDIR(st.st_mode)) {
		if (depth > 512)
			return -ELOOP;
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		_cleanup_closedir_ DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				int r = shift_at(fd, de->d_name, a, dev, depth + 1);
				if (r < 0)
					return r;
			}
	}
	bool own_uid = st.st_uid == a->uid, own_gid = st.st_gid == a->gid;
	if (!own_uid && !own_gid)
		return 0;
	if (fchownat(dirfd, name, own_uid ? 0 : (uid_t)-1, own_gid ? 0 : (gid_t)-1,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* chown clears the set-id bits of files: give them back. */
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) &&
	    fchmodat(dirfd, name, st.st_mode & 07777, 0) < 0)
		return -errno;
	return 0;
}

static int shift_in_userns(void *arg)
{
	const shift_args *a = arg;
	struct stat st;
	if (lstat(a->path, &st) < 0)
		return -errno;
	return shift_at(AT_FDCWD, a->path, a, st.st_dev, 0);
}

/* Hand tree path over from the user to the machine's root (k: the keep-id map). */
static int shift_tree(const rt_idmap *k, const char *path, uint32_t uid, uint32_t gid, berth_err *e)
{
	shift_args a = {path, uid, gid};
	int r = rt_userns_run(k, shift_in_userns, &a, e);
	if (r < 0 && !e->code)
		berr_errno(e, r,
			   "Cannot hand %s to the machine's root in a user namespace with its "
			   "id map; check /etc/subuid and /etc/subgid",
			   path);
	return r;
}

int keepid_prepare(const rt_idmap *k, uint32_t uid, uint32_t gid, int machine_dfd,
		   const char *const *lower, size_t n_lower, const char *own_root, berth_err *e)
{
	uid_t me = geteuid();
	for (size_t i = 0; i < n_lower; i++) {
		struct stat st;
		if (lstat(lower[i], &st) < 0)
			return berr_errno(e, -errno, "Cannot read layer %s", lower[i]);
		if (st.st_uid != me)
			continue; /* handed over already */
		int r = shift_tree(k, lower[i], uid, gid, e);
		if (r < 0)
			return r;
	}
	if (!own_root || faccessat(machine_dfd, KEEPID_DONE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	int r = shift_tree(k, own_root, uid, gid, e);
	if (r < 0)
		return r;
	_cleanup_close_ int fd =
	    openat(machine_dfd, KEEPID_DONE, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot record the machine's keep-id hand-over");
	return 0;
}

typedef struct rm_args {
	int dirfd;
	const char *name;
} rm_args;

static int rm_in_userns(void *arg)
{
	const rm_args *a = arg;
	return inroot_rm_rf(a->dirfd, a->name);
}

int keepid_rm_foreign(int dirfd, const char *name, berth_err *e)
{
	if (geteuid() == 0)
		return berr(e, -EPERM, "Cannot remove %s", name);
	rt_idmap map;
	int r = rt_idmap_for_caller(0, &map, e);
	if (r < 0)
		return r;
	rm_args a = {dirfd, name};
	r = rt_userns_run(&map, rm_in_userns, &a, e);
	if (r < 0 && !e->code)
		berr_errno(e, r,
			   "Cannot remove %s, even as root of a user namespace with this user's "
			   "subordinate ids",
			   name);
	return r;
}
