/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Machines: persistent system containers made from images. This layer owns a machine's
 * state directory and its lifecycle; the runtime core (src/runtime/runtime.h) does the
 * namespaces, mounts, cgroups and init.
 *
 * <root>/machines/NAME/
 *   config.json   what `create` and `set` decided: image ref and manifest digest, limits,
 *                 init mode and detected init, creation time. Written atomically.
 *   state.json    written by the monitor: status, monitor and init pids (with their start
 *                 times from /proc/PID/stat, so a recycled pid is never trusted), started-at.
 *   upper/ work/  the machine's own overlay directories (or rootfs/: a flattened copy when
 *                 overlay is unusable). Everything the machine changes lives here.
 *   console.log   the console output, appended by the monitor (bounded, rotated).
 *   control.sock  the monitor's control socket (stop, status).
 *   lock          flock held by the monitor for its whole life; start/stop/rm take it.
 * <root>/default  the name of the default machine (used when a verb's NAME is omitted).
 * A running machine holds its image in the store (store_hold_set "machine-NAME"), so
 * `image prune` never collects what it uses.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "context.h"
#include "error.h"
#include "host-access.h"
#include "network.h"
#include "runtime.h"

typedef enum machine_status {
	MACHINE_CREATED = 0, /* never started */
	MACHINE_STARTING,
	MACHINE_RUNNING,
	MACHINE_STOPPING,
	MACHINE_STOPPED,
} machine_status;

typedef struct machine_info {
	char name[64];
	char image[512]; /* normalised reference it was created from */
	char image_digest[72];
	machine_status status;
	pid_t monitor_pid, init_pid; /* 0 when not running */
	char cgroup_parent[256];     /* as passed to rt_spawn/rt_machine_attach; "" = NULL */
	rt_init_kind init_kind;
	/* Extensions to the first contract. */
	uint64_t monitor_start, init_start; /* start times (/proc/PID/stat field 22) */
	bool stale;			    /* state.json said running, but its monitor is gone */
	int64_t started_at;		    /* unix time of the last start, 0 when never started */
	char init_path[256];
} machine_info;

/* Names: 1-63 characters [a-z0-9-], starting with a letter or digit, not ending in '-'
 * (a valid hostname label). The error says this rule. */
int machine_name_valid(const char *name, berth_err *e);

/* NAME as given, or the default machine when name is NULL; fails with a sentence naming
 * 'berth default NAME' when there is none. Caller frees. */
int machine_resolve_name(const berth_ctx *ctx, const char *name, char **out, berth_err *e);

/* Read a machine's config and current state (checking that the pids recorded are still
 * the same processes; a dead monitor means stopped). -ENOENT with a sentence when there is
 * no such machine. */
int machine_info_load(const berth_ctx *ctx, const char *name, machine_info *info, berth_err *e);

/* Attach to a running machine for exec: -ESRCH with a sentence ("Machine X is not running;
 * start it with 'berth start X'") when it is not running. */
int machine_attach(const berth_ctx *ctx, const char *name, machine_info *info, rt_machine *m,
		   berth_err *e);

/* ---- beyond the first contract: state, config and lifecycle (machine.c, state.c,
 * lifecycle.c, resources.c) ------------------------------------------------------------- */

typedef enum machine_init_mode {
	MACHINE_INIT_AUTO = 0, /* the image's init when it has one, else berth-init */
	MACHINE_INIT_IMAGE,    /* the image's init; create fails when there is none */
	MACHINE_INIT_BUILTIN,  /* always berth-init */
} machine_init_mode;

const char *machine_status_name(machine_status s);
const char *machine_init_mode_name(machine_init_mode m);
int machine_init_mode_parse(const char *s, machine_init_mode *out);

/* <root>/machines/NAME (caller frees). */
char *machine_dir(const berth_ctx *ctx, const char *name);

/* Whether a machine with this name exists (its config.json is there). */
bool machine_exists(const berth_ctx *ctx, const char *name);

/* config.json and state.json of a machine, as JSON (caller decrefs). state: NULL when the
 * machine never started. */
int machine_config_load(const berth_ctx *ctx, const char *name, json_t **config, berth_err *e);
int machine_config_save(const berth_ctx *ctx, const char *name, json_t *config, berth_err *e);

/* Names of every machine, sorted (caller frees with strv cleanup). */
int machine_list(const berth_ctx *ctx, char ***names, berth_err *e);

/* The default machine's name (NULL when none is set) and setting it (NULL clears). */
int machine_default_get(const berth_ctx *ctx, char **name, berth_err *e);
int machine_default_set(const berth_ctx *ctx, const char *name, berth_err *e);

/* A running machine's state left behind by a killed monitor or a host reboot: kill the
 * machine's cgroup leftovers and record it stopped. Takes the machine's lock without
 * waiting; does nothing when someone holds it. 1 when it cleaned up, else 0. */
int machine_reap_stale(const berth_ctx *ctx, const char *name, berth_err *e);

typedef struct machine_create_opts {
	const char *name, *image;
	machine_init_mode init;
	rt_limits limits; /* 0: no limit */
	/* What the machine sees of the host (host-access.h). home_set: --home was given. */
	home_mode home;
	bool home_set, isolated;
	const host_mount *mounts;
	size_t n_mounts;
	machine_net_opts net; /* --network and -p (network.h) */
} machine_create_opts;
int machine_create(const berth_ctx *ctx, const machine_create_opts *o, berth_err *e);

/* Start: launch the monitor and wait until the machine is ready or timeout_ms passed.
 * -EALREADY with a sentence when it is running or another start is under way. */
int machine_start(const berth_ctx *ctx, const char *name, int timeout_ms, berth_err *e);
/* Stop: the init's own stop signal (SIGKILL at once with force), SIGKILL after
 * timeout_ms. Returns 0 also when the machine was not running (*was_running false). */
int machine_stop(const berth_ctx *ctx, const char *name, int timeout_ms, bool force,
		 bool *was_running, berth_err *e);
/* Remove a machine: its state directory and its hold on the image. A running machine
 * needs force (it is stopped first, with SIGKILL). */
int machine_remove(const berth_ctx *ctx, const char *name, bool force, berth_err *e);

/* Limits: saved in config.json and applied at once when running. Fields < 0 unchanged. */
int machine_set_limits(const berth_ctx *ctx, const char *name, const rt_limits *l, bool *applied,
		       berth_err *e);
int machine_stats(const berth_ctx *ctx, const char *name, rt_stats *st, berth_err *e);
int machine_reclaim(const berth_ctx *ctx, const char *name, uint64_t *freed, berth_err *e);

/* What `set` changes of the host sharing (sharing.c): home mode, mounts added (replacing a
 * mount to the same destination) and removed (by destination or source). Takes effect at
 * the next start; *running tells whether the machine runs now. */
typedef struct machine_sharing_change {
	bool home_set;
	home_mode home;
	const host_mount *add;
	size_t n_add;
	char *const *remove;
	size_t n_remove;
} machine_sharing_change;
int machine_set_sharing(const berth_ctx *ctx, const char *name, const machine_sharing_change *c,
			bool *running, berth_err *e);

/* Everything about a machine as JSON (berth inspect); caller decrefs. */
int machine_inspect(const berth_ctx *ctx, const char *name, json_t **out, berth_err *e);

/* Parse "2G", "512M", "1.5G", "1073741824" (binary units) and "2", "0.5" CPUs. */
int machine_parse_size(const char *s, int64_t *out);
int machine_parse_cpus(const char *s, int64_t *millis);
