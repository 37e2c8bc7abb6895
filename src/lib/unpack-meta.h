/* SPDX-License-Identifier: MIT */
#pragma once
#include <archive_entry.h>
#include <stdbool.h>
#include <time.h>
#include "error.h"

/*
 * Metadata of one tar entry applied to what the unpacker made for it: through fd when
 * it has one, else to the symlink pfd/name without following it. entry names the tar
 * entry in error sentences.
 */

/* atime/mtime for utimensat (UTIME_OMIT where unset); *have is false when neither is. */
void meta_times(struct archive_entry *ent, struct timespec ts[2], bool *have);

/* chown to the entry's uid:gid. Without chown_required (rootless: ownership comes from the
 * id map) EPERM and EINVAL are ignored. */
int meta_owner(struct archive_entry *ent, int fd, int pfd, const char *name, bool chown_required,
	       const char *entry, berth_err *e);

/* The entry's xattrs, except security.selinux and overlayfs' own. Without privileged,
 * trusted.* and security.* that the kernel refuses are ignored; user.* on symlinks always is. Call
 * after meta_owner: chown drops security.capability. */
int meta_xattrs(struct archive_entry *ent, int fd, int pfd, const char *name, bool privileged,
		const char *entry, berth_err *e);
