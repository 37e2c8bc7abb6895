/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Keep-id for a regular user's machines (keepid.c): the image's files, unpacked as the
 * user, are handed to the machine's root once, so that the user's own ids can be kept
 * inside and the shared home has the right owner both ways.
 */
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "runtime.h"

/*
 * As the regular user owning a machine, with k its keep-id map (uid and gid: the user's
 * ids, the same inside and out): hand every lower layer directory the user still owns, and
 * on the machine's first start its own root (upper directory or full copy; NULL: none), to
 * the machine's root. machine_dfd is the machine's state directory.
 */
int keepid_prepare(const rt_idmap *k, uint32_t uid, uint32_t gid, int machine_dfd,
		   const char *const *lower, size_t n_lower, const char *own_root, berth_err *e);

/* Remove name (in dirfd), which holds files of the user's subordinate ids, as root of a
 * user namespace with all of them (a regular user only). */
int keepid_rm_foreign(int dirfd, const char *name, berth_err *e);
