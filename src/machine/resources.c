/* SPDX-License-Identifier: MIT */
/*
 * A machine's resources while it runs: limits (saved in config.json and applied to the
 * running machine's cgroup at once), usage statistics and reclaiming memory now.
 */
#include "machine-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "cleanup.h"

/* The running machine's cgroup; -ESRCH with a sentence when it is not running. */
static int running_cgroup(const berth_ctx *ctx, const char *name, const char *verb, rt_cgroup *cg,
			  berth_err *e)
{
	machine_info info;
	int r = machine_info_load(ctx, name, &info, e);
	if (r < 0)
		return r;
	if (info.status != MACHINE_RUNNING && info.status != MACHINE_STARTING)
		return berr(e, -ESRCH,
			    "Machine '%s' is not running, so there is nothing to %s; start it "
			    "with 'berth start %s'",
			    name, verb, name);
	return rt_cgroup_open(name, info.cgroup_parent[0] ? info.cgroup_parent : NULL, cg, e);
}

int machine_set_limits(const berth_ctx *ctx, const char *name, const rt_limits *l, bool *applied,
		       berth_err *e)
{
	*applied = false;
	_cleanup_json_ json_t *cfg = NULL;
	int r = machine_config_load(ctx, name, &cfg, e);
	if (r < 0)
		return r;
	machine_info info;
	r = machine_info_load(ctx, name, &info, e);
	if (r < 0)
		return r;
	/* Apply first: a limit the kernel refuses (e.g. below current usage) is not saved. */
	if (info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING) {
		rt_cgroup cg;
		r = rt_cgroup_open(name, info.cgroup_parent[0] ? info.cgroup_parent : NULL, &cg, e);
		if (r == 0)
			r = rt_cgroup_set_limits(&cg, l, e);
		if (r < 0)
			return berr_prefix(e, "Cannot change the limits of running machine '%s'",
					   name);
		*applied = true;
	}
	rt_limits cur;
	machine_limits_from_json(cfg, &cur);
	if (l->memory >= 0)
		cur.memory = l->memory;
	if (l->cpu_millis >= 0)
		cur.cpu_millis = l->cpu_millis;
	if (l->pids >= 0)
		cur.pids = l->pids;
	json_object_set_new(cfg, "limits",
			    json_pack("{s:I,s:I,s:I}", "memory", (json_int_t)cur.memory,
				      "cpu_millis", (json_int_t)cur.cpu_millis, "pids",
				      (json_int_t)cur.pids));
	return machine_config_save(ctx, name, cfg, e);
}

int machine_stats(const berth_ctx *ctx, const char *name, rt_stats *st, berth_err *e)
{
	rt_cgroup cg;
	int r = running_cgroup(ctx, name, "measure", &cg, e);
	return r < 0 ? r : rt_cgroup_stats(&cg, st, e);
}

int machine_reclaim(const berth_ctx *ctx, const char *name, uint64_t *freed, berth_err *e)
{
	rt_cgroup cg;
	int r = running_cgroup(ctx, name, "reclaim", &cg, e);
	return r < 0 ? r : rt_cgroup_reclaim(&cg, freed, e);
}
