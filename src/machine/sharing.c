/* SPDX-License-Identifier: MIT */
/*
 * `berth set NAME home=... mount=... unmount=...`: change what a machine shares of the host.
 * Saved in config.json; the monitor applies it at the next start (a running machine's
 * mounts are not changed under it).
 */
#include "machine-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "host-access.h"

int machine_set_sharing(const berth_ctx *ctx, const char *name, const machine_sharing_change *c,
			bool *running, berth_err *e)
{
	*running = false;
	_cleanup_json_ json_t *cfg = NULL;
	int r = machine_config_load(ctx, name, &cfg, e);
	if (r < 0)
		return r;
	bool isolated = json_is_true(json_object_get(cfg, "isolated"));
	if (isolated && ((c->home_set && c->home != HOME_NONE) || c->n_add > 0))
		return berr(e, -EINVAL,
			    "Machine '%s' is isolated and shares nothing with the host; create a "
			    "machine without --isolated to share files",
			    name);
	if (c->home_set && c->home != HOME_NONE && !json_object_get(cfg, "host_user"))
		return berr(e, -EINVAL,
			    "Machine '%s' has no host user (it was made by root without sudo), so "
			    "there is no home to share; use mount=SRC:DST instead",
			    name);
	json_t *old = json_object_get(cfg, "mounts");
	host_mount *m = calloc(HOST_MOUNTS_MAX, sizeof(*m));
	if (!m)
		return berr(e, -ENOMEM, "Out of memory");
	size_t n = 0;
	r = json_is_array(old) ? host_mounts_from_json(old, m, HOST_MOUNTS_MAX, &n, e) : 0;
	for (size_t i = 0; r == 0 && i < c->n_remove; i++) {
		size_t k = 0;
		bool found = false;
		for (size_t j = 0; j < n; j++) {
			if (!strcmp(m[j].dst, c->remove[i]) || !strcmp(m[j].src, c->remove[i]))
				found = true;
			else
				m[k++] = m[j];
		}
		n = k;
		if (!found)
			r = berr(e, -ENOENT,
				 "Machine '%s' has no mount at %s; 'berth inspect %s' lists its "
				 "mounts",
				 name, c->remove[i], name);
	}
	for (size_t i = 0; r == 0 && i < c->n_add; i++) {
		size_t j = 0;
		while (j < n && strcmp(m[j].dst, c->add[i].dst))
			j++;
		if (j == n && n == HOST_MOUNTS_MAX) {
			r = berr(e, -E2BIG, "A machine takes at most %d mounts", HOST_MOUNTS_MAX);
			break;
		}
		m[j] = c->add[i]; /* a mount to the same destination replaces the old one */
		if (j == n)
			n++;
	}
	if (r == 0) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, host_mount_to_json(&m[i]));
		json_object_set_new(cfg, "mounts", arr);
		if (c->home_set)
			json_object_set_new(cfg, "home", json_string(home_mode_name(c->home)));
		r = machine_config_save(ctx, name, cfg, e);
	}
	free(m);
	if (r < 0)
		return r;
	machine_info info;
	berth_err ignore = {0};
	if (machine_info_load(ctx, name, &info, &ignore) == 0)
		*running = info.status == MACHINE_RUNNING || info.status == MACHINE_STARTING;
	return 0;
}
