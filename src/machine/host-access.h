/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * What a machine can see of the host's files (host-access.c): the host user's home (rw, ro
 * or not shared), extra mounts (--mount SRC:DST[:ro]), the SSH agent socket, and
 * --isolated, which shares none of them. Decided at `create`, changed with `set`, saved in
 * config.json:
 *   "home": "rw"|"ro"|"none", "mounts": [{"source","destination","ro"}],
 *   "isolated": bool, "ssh_agent": bool
 * and applied by the monitor at every start.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "runtime.h"

typedef enum home_mode { HOME_RW = 0, HOME_RO, HOME_NONE } home_mode;
int home_mode_parse(const char *s, home_mode *out);
const char *home_mode_name(home_mode m);

/* Where the host's SSH agent socket appears in a machine ($SSH_AUTH_SOCK there). */
#define MACHINE_SSH_AGENT_PATH "/run/berth/ssh-agent.sock"

#define HOST_MOUNTS_MAX 32

typedef struct host_mount {
	char src[4096]; /* absolute, symlinks resolved */
	char dst[4096]; /* absolute, normalised, inside the machine */
	bool ro;
} host_mount;

/* Parse "SRC:DST[:ro|:rw]": SRC must exist on the host (resolved to a real path), DST be an
 * absolute path that is not /, /proc, /sys, /dev or /run/host (or below them). */
int host_mount_parse(const char *spec, host_mount *m, berth_err *e);
/* Mounts from/to config.json's "mounts" array. */
json_t *host_mount_to_json(const host_mount *m);
int host_mounts_from_json(json_t *arr, host_mount *out, size_t max, size_t *n, berth_err *e);

/* The binds a start makes (pointers into the struct; valid while it lives). */
typedef struct host_binds {
	host_mount m[HOST_MOUNTS_MAX + 2];
	rt_bind b[HOST_MOUNTS_MAX + 2];
	size_t n;
	bool ssh_agent; /* the agent socket is among them */
} host_binds;

/*
 * Work out a start's binds from config.json: the host user's home at the same path (unless
 * home is none, the machine is isolated or there is no host user), every mount, and the
 * SSH agent socket of the environment when ssh_agent is on and $SSH_AUTH_SOCK is a socket.
 * A home or mount source that has gone from the host fails with a sentence saying which
 * and how to change it.
 */
int host_binds_from_config(const char *name, json_t *cfg, host_binds *hb, berth_err *e);

/* Whether the machine's host user gets a home made inside (the host's is not bound). */
bool host_home_shared(json_t *cfg);

/* host_access for inspect: exactly what the machine sees of the host. */
json_t *host_access_inspect(json_t *cfg, bool running, bool agent_bound);

/* The path in the machine of host path cwd when it lies in a shared directory (caller
 * frees), else NULL. */
char *host_path_in_machine(json_t *cfg, const char *cwd);
