/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What a regular user needs from root before it can run machines (berth setup-user), and
 * the checks rootless machines make against it.
 *
 * Cgroups: in every mounted hierarchy a machine needs (v1 cpu, cpuacct, cpuset, memory,
 * pids, name=systemd, and cgroup2), root makes <mount>/berth-user/NAME owned by the user:
 * the directory and its process-membership files (cgroup.procs, tasks,
 * cgroup.clone_children; cgroup.threads and cgroup.subtree_control on cgroup2), never its
 * limit files, so the user sets limits only on the machines' cgroups below it and cannot
 * raise the limits root puts on berth-user/NAME. cgroup2 parents get the cpu, memory and
 * pids controllers enabled for their children; a v1 cpuset parent gets its parent's cpus
 * and mems. A rootless machine's cgroup parent is /berth-user/NAME (the default root) or
 * /berth-user/NAME/r-<hash of the root's path> (any other root).
 *
 * cgroup2 lets a process into a cgroup only when it may write cgroup.procs of the common
 * ancestor of its own cgroup and the target, so the cgroup2 parent serves only processes
 * already inside it (placed there at login, as pam_cgfs does). Elsewhere a rootless machine
 * on a hybrid host uses the v1 hierarchies alone (its systemd runs in legacy mode); a
 * cgroup2-only host needs the user's session inside the subtree.
 *
 * /dev/net/tun (user-mode networking): when it is not world read-write, the user gets an
 * entry "user:NAME:rw-" in its POSIX access ACL: the least privilege that works (no group
 * or mode change for anyone else).
 *
 * What was done is recorded in /var/lib/berth/users/NAME.json (root-owned, 0600), so
 * `--undo` removes exactly that. Neither cgroup directories nor the device ACL survive a
 * host reboot (cgroupfs and devtmpfs are rebuilt), so setup-user is re-run after one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "context.h"
#include "error.h"

#define DELEGATION_BASE "/berth-user"
#define DELEGATION_STATE_DIR "/var/lib/berth/users"

/*
 * Set the user up (undo false) or remove what an earlier set-up recorded (undo true).
 * Root only. *report (caller decrefs) says what was done: {"user", "uid", "cgroups": [...],
 * "tun": {...}, "changed": bool}.
 */
int delegation_setup(const char *user, bool undo, json_t **report, berth_err *e);

/* A rootless machine's cgroup parent for the root ctx->root (see above). */
void delegation_parent(const berth_ctx *ctx, char *out, size_t len);

/* For a non-root caller: 0 when the machine `name` can get a cgroup its init can manage
 * under `parent`, else a sentence naming 'sudo berth setup-user USER'. */
int delegation_require(const char *name, const char *parent, berth_err *e);
