/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Users inside a running machine: who `berth exec -u USER` and `berth shell` run as.
 *
 * The machine's /etc/passwd and /etc/group are read through its root as its init sees it
 * (/proc/PID/root, then openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in
 * the machine can never make berth read a host file. Their content is hostile: lines are
 * bounded, fields validated, and a malformed line is skipped like glibc's nss_files does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define MACHINE_USER_MAX_GROUPS 64

typedef struct machine_user {
	uint32_t uid, gid;
	char name[64];	 /* "" when the user has no passwd entry (a bare uid) */
	char home[256];	 /* from passwd; "/" when unknown */
	char shell[256]; /* from passwd when it exists in the machine; else /bin/sh */
	uint32_t groups[MACHINE_USER_MAX_GROUPS]; /* supplementary groups (from /etc/group) */
	size_t n_groups;
} machine_user;

/*
 * Resolve spec inside the machine whose init is init_pid: "NAME", "UID", "NAME:GROUP",
 * "UID:GID" (a group may be a name or a number). NULL means root. A name that is not in
 * the machine's /etc/passwd (or a group not in /etc/group) is an error with a sentence; a
 * numeric uid without a passwd entry is allowed (home "/", no supplementary groups), as
 * docker and podman allow it. Root (NULL, "root", 0) always resolves, with home /root when
 * the machine's /etc/passwd lacks it, so a machine with a broken passwd can be repaired.
 * Ids must be below 65536 (the machine's id map).
 */
int machine_user_resolve(pid_t init_pid, const char *spec, machine_user *u, berth_err *e);

/* Whether path (absolute) is a directory in the machine (resolved inside its root). */
bool machine_path_is_dir(pid_t init_pid, const char *path);
/* Whether path (absolute) exists in the machine (resolved inside its root). */
bool machine_path_exists(pid_t init_pid, const char *path);
