/* SPDX-License-Identifier: MIT */
/*
 * Everything about a machine as one JSON document (berth inspect): configuration, current
 * state, paths on the host, limits, init, cgroup, and what the machine can see of the host.
 */
#include "machine-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "cleanup.h"
#include "host-access.h"
#include "users.h"

static json_t *path_join(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", a, b) < 0)
		return json_null();
	json_t *j = json_string(p);
	free(p);
	return j ? j : json_null();
}

int machine_inspect(const berth_ctx *ctx, const char *name, json_t **out, berth_err *e)
{
	*out = NULL;
	machine_info info;
	int r = machine_info_load(ctx, name, &info, e);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_t *cfg = NULL, *st = NULL;
	r = json_load_at(dfd, MACHINE_CONFIG, &cfg, e);
	if (r < 0)
		return r;
	berth_err ignore = {0};
	json_load_at(dfd, MACHINE_STATE, &st, &ignore);
	_cleanup_free_ char *dir = machine_dir(ctx, name);
	_cleanup_free_ char *def = NULL;
	machine_default_get(ctx, &def, &ignore);
	if (!dir)
		return berr(e, -ENOMEM, "Out of memory");

	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(name));
	json_object_set_new(j, "status", json_string(machine_status_name(info.status)));
	json_object_set_new(j, "default", json_boolean(def && !strcmp(def, name)));
	json_object_set_new(
	    j, "image",
	    json_pack("{s:s,s:s}", "reference", info.image, "digest", info.image_digest));
	const char *mode = json_string_value(json_object_get(cfg, "init"));
	json_object_set_new(j, "init",
			    json_pack("{s:s,s:s,s:s,s:i}", "mode", mode ? mode : "auto", "kind",
				      rt_init_name(info.init_kind), "path", info.init_path,
				      "stop_signal", rt_init_stop_signal(info.init_kind)));
	rt_limits l;
	machine_limits_from_json(cfg, &l);
	json_object_set_new(j, "limits",
			    json_pack("{s:I,s:I,s:I}", "memory", (json_int_t)l.memory, "cpu_millis",
				      (json_int_t)l.cpu_millis, "pids", (json_int_t)l.pids));
	json_object_set_new(j, "processes",
			    json_pack("{s:i,s:i}", "monitor_pid", (int)info.monitor_pid, "init_pid",
				      (int)info.init_pid));

	json_t *paths = json_object();
	json_object_set_new(paths, "state_dir", json_string(dir));
	const char *rootfs = json_string_value(json_object_get(cfg, "rootfs"));
	if (rootfs && !strcmp(rootfs, "copy")) {
		json_object_set_new(paths, "rootfs", path_join(dir, "rootfs"));
	} else {
		json_object_set_new(paths, "upper", path_join(dir, "upper"));
		json_object_set_new(paths, "work", path_join(dir, "work"));
		json_t *layers = json_array();
		json_t *ids = json_object_get(cfg, "layers");
		for (size_t i = 0; i < json_array_size(ids); i++) {
			const char *id = json_string_value(json_array_get(ids, i));
			char *p = NULL;
			if (id && asprintf(&p, "%s/layers/%s/diff", ctx->root, id) >= 0) {
				json_array_append_new(layers, json_string(p));
				free(p);
			}
		}
		json_object_set_new(paths, "layers", layers);
	}
	json_object_set_new(paths, "console_log", path_join(dir, MACHINE_CONSOLE));
	json_object_set_new(paths, "control_socket", path_join(dir, MACHINE_CONTROL));
	json_object_set_new(j, "paths", paths);

	json_t *cgroups = json_array();
	if (info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING) {
		rt_cgroup cg;
		if (rt_cgroup_open(name, info.cgroup_parent[0] ? info.cgroup_parent : NULL, &cg,
				   &ignore) == 0)
			for (size_t i = 0; i < cg.n; i++)
				json_array_append_new(cgroups, json_string(cg.h[i].path));
	}
	json_object_set_new(j, "cgroups", cgroups);
	/* What the machine sees of the host: user, home, mounts, SSH agent (and network). */
	bool running = info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING;
	json_t *access = host_access_inspect(
	    cfg, running, running && machine_path_exists(info.init_pid, MACHINE_SSH_AGENT_PATH));
	json_object_set_new(access, "network", network_inspect_json(cfg));
	json_object_set_new(j, "host_access", access);
	json_object_set(j, "config", cfg);
	json_object_set_new(j, "state", st ? json_incref(st) : json_null());
	*out = j;
	return 0;
}
