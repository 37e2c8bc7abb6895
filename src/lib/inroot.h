/* SPDX-License-Identifier: MIT */
#pragma once
#include <sys/types.h>

/*
 * Paths inside a root directory that may hold hostile symlinks (an unpacked layer, a
 * machine's root). Every lookup goes through openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS), so ".." and absolute symlinks stop at the root, and every
 * change is made with *at() calls on one final component relative to a resolved
 * directory fd, never following it. Functions return fds or negative errnos; callers
 * turn those into sentences that name the path.
 */

/* Open path ("" = the root itself) with flags (O_CLOEXEC is added). */
int inroot_open(int root, const char *path, int flags);

/* Normalise a tar-style relative path: leading '/', empty and '.' components dropped;
 * "" is the root. -EPERM when a component is "..", -ENOMEM. */
int inroot_normalize(const char *raw, char **out);

/* Create the missing directories of path one component at a time (mkdirat relative to the
 * resolved parent, then fchmod(mode), so the umask does not apply), calling made() with
 * each directory created. Returns an fd of path; a component that exists but is not a
 * directory (or is a symlink leading nowhere inside the root) gives -ENOTDIR. */
int inroot_mkdirs(int root, const char *path, mode_t mode,
		  int (*made)(const char *path, void *opaque), void *opaque);

/* Delete name under dirfd and everything below it, never following symlinks. Missing is
 * not an error. */
int inroot_rm_rf(int dirfd, const char *name);
