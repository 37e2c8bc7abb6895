/* SPDX-License-Identifier: MIT */
#pragma once
/* What the monitor boots, from a machine's config.json (boot.c). */
#include <jansson.h>

#include "error.h"
#include "host-access.h"
#include "host-user.h"
#include "runtime.h"

typedef struct boot_plan {
	char *dir, *mountpoint;
	char **lower; /* overlay: layer directories, top-most first */
	size_t n_lower;
	char *upper, *work;
	char *flat; /* or a flattened copy */
	rt_init_info init;
	char *argv[2];
	char *berth_init; /* host path of berth-init (bound into every machine) */
	rt_idmap idmap;
	rt_limits limits;
	char cgroup_parent[256];
	/* The host user made inside (has_user), and what is shared of the host. */
	bool has_user, keep_id;
	host_user user;
	rt_user rt_user;
	host_binds binds;
} boot_plan;

int boot_plan_load(const char *root, const char *name, json_t *cfg, boot_plan *p, berth_err *e);
/* The runtime configuration for a plan (pointers into p). */
void boot_plan_config(const boot_plan *p, const char *name, int console_fd, rt_config *c);
void boot_plan_free(boot_plan *p);
/* What must happen on disk before the plan can boot: a regular user's keep-id hand-over of
 * the image's files (keepid.h). */
int boot_plan_prepare(const boot_plan *p, int machine_dfd, berth_err *e);

/* Limits saved in a config.json ("limits": {memory, cpu_millis, pids}; 0 = none). */
int machine_limits_from_json(json_t *cfg, rt_limits *l);
