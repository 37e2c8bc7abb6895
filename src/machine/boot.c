/* SPDX-License-Identifier: MIT */
/*
 * What the monitor boots, worked out from config.json: the root (overlay of the image's
 * layer directories under upper/, or the flattened rootfs/), the init (detected again at
 * every start, since the machine may have installed or removed one), the id map, the
 * limits and the cgroup parent.
 */
#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "keepid.h"
#include "machine-internal.h"

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t jint(json_t *o, const char *k, int64_t def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static bool hex_id(const char *s)
{
	size_t n = strlen(s);
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int machine_limits_from_json(json_t *cfg, rt_limits *l)
{
	json_t *lim = json_object_get(cfg, "limits");
	l->memory = jint(lim, "memory", 0);
	l->cpu_millis = jint(lim, "cpu_millis", 0);
	l->pids = jint(lim, "pids", 0);
	return 0;
}

/* The host user (with its ids kept: keep-id) and the binds of home, mounts and agent. */
static int boot_plan_host(boot_plan *p, const char *name, json_t *cfg, berth_err *e)
{
	p->has_user = host_user_from_json(json_object_get(cfg, "host_user"), &p->user);
	if (p->has_user) {
		/* Keep-id: the user's ids are the same inside. As root they are in the map
		 * already; a regular user's own ids move from inside 0 to their place, and the
		 * image's files follow inside 0 (keepid.c) before the machine starts. */
		int r = rt_idmap_keep_id(&p->idmap, p->user.uid, p->user.uid, p->user.gid,
					 p->user.gid, e);
		if (r < 0)
			return r;
		p->keep_id = true;
		host_user_rt(&p->user, !host_home_shared(cfg), &p->rt_user);
	}
	return host_binds_from_config(name, cfg, &p->binds, e);
}

int boot_plan_load(const char *root, const char *name, json_t *cfg, boot_plan *p, berth_err *e)
{
	memset(p, 0, sizeof(*p));
	int r = 0;
	if (asprintf(&p->dir, "%s/machines/%s", root, name) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	/* The machine's root attaches to an empty directory inside its own mount namespace,
	 * as the machine's root user, who cannot search the 0700 state directories. */
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	_cleanup_free_ char *base = NULL;
	if (geteuid() == 0)
		base = strdup("/run/berth");
	else if (xdg && *xdg == '/')
		r = asprintf(&base, "%s/berth", xdg) < 0 ? -ENOMEM : 0;
	else
		r = asprintf(&base, "/tmp/berth-%u", (unsigned)geteuid()) < 0 ? -ENOMEM : 0;
	if (!base || asprintf(&p->mountpoint, "%s/mnt-%s-XXXXXX", base, name) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	if (mkdir(base, 0711) < 0 && errno != EEXIST)
		return berr_errno(e, -errno, "Cannot create %s", base);
	struct stat bst;
	if (lstat(base, &bst) < 0 || !S_ISDIR(bst.st_mode) || bst.st_uid != geteuid())
		return berr(e, -EPERM, "%s is not a directory of this user's; remove it", base);
	chmod(base, 0711);
	if (!mkdtemp(p->mountpoint))
		return berr_errno(e, -errno, "Cannot create a mount point under %s", base);
	chmod(p->mountpoint, 0755);
	const char *rootfs = jstr(cfg, "rootfs");
	/* Layers for init detection: the machine's own changes first. */
	const char *detect[130];
	size_t nd = 0;
	if (!strcmp(rootfs, "copy")) {
		if (asprintf(&p->flat, "%s/rootfs", p->dir) < 0)
			return berr(e, -ENOMEM, "Out of memory");
		detect[nd++] = p->flat;
	} else {
		json_t *layers = json_object_get(cfg, "layers");
		size_t n = json_array_size(layers);
		if (!json_is_array(layers) || n == 0 || n > 128)
			return berr(e, -EBADMSG,
				    "Machine '%s' has no usable layer list in its config.json; "
				    "create it again",
				    name);
		if (asprintf(&p->upper, "%s/upper", p->dir) < 0 ||
		    asprintf(&p->work, "%s/work", p->dir) < 0)
			return berr(e, -ENOMEM, "Out of memory");
		p->lower = calloc(n, sizeof(char *));
		if (!p->lower)
			return berr(e, -ENOMEM, "Out of memory");
		detect[nd++] = p->upper;
		for (size_t i = 0; i < n; i++) {
			const char *id = json_string_value(json_array_get(layers, i));
			if (!id || !hex_id(id))
				return berr(e, -EBADMSG,
					    "Machine '%s' names a bad layer in its config.json",
					    name);
			if (asprintf(&p->lower[i], "%s/layers/%s/diff", root, id) < 0)
				return berr(e, -ENOMEM, "Out of memory");
			p->n_lower = i + 1;
			struct stat st;
			if (stat(p->lower[i], &st) < 0)
				return berr(
				    e, -ENOENT,
				    "Layer %.12s of machine '%s' is missing from the store "
				    "(%s); was the store pruned by hand? Pull or import its "
				    "image '%s' again",
				    id, name, p->lower[i], jstr(cfg, "image"));
			detect[nd++] = p->lower[i];
		}
	}
	r = rt_init_detect(detect, nd, &p->init, e);
	if (r < 0)
		return r;
	machine_init_mode mode = MACHINE_INIT_AUTO;
	machine_init_mode_parse(jstr(cfg, "init"), &mode);
	bool builtin = mode == MACHINE_INIT_BUILTIN ||
		       (mode == MACHINE_INIT_AUTO && p->init.kind == RT_INIT_NONE);
	if (mode == MACHINE_INIT_IMAGE && p->init.kind == RT_INIT_NONE)
		return berr(e, -ENOENT,
			    "Machine '%s' was made to boot its image's init (--init image), but "
			    "its root has no init any more; install one in it or create it with "
			    "--init auto",
			    name);
	p->berth_init = machine_helper_path(BERTH_INIT_BIN);
	if (builtin) {
		if (!p->berth_init)
			return berr(e, -ENOENT,
				    "berth-init, which machine '%s' boots as its init, is not "
				    "installed next to berth or in its libexec directory",
				    name);
		p->init.kind = RT_INIT_BERTH;
		snprintf(p->init.path, sizeof(p->init.path), "%s", RT_BERTH_INIT_PATH);
		p->init.stop_signal = rt_init_stop_signal(RT_INIT_BERTH);
	}
	p->argv[0] = p->init.path;
	p->argv[1] = NULL;
	machine_limits_from_json(cfg, &p->limits);
	snprintf(p->cgroup_parent, sizeof(p->cgroup_parent), "%s", jstr(cfg, "cgroup_parent"));
	int64_t slot = jint(cfg, "idmap_slot", 0);
	if (slot < 0 || slot > 4095)
		return berr(e, -EBADMSG, "Machine '%s' has a bad idmap_slot in its config.json",
			    name);
	r = rt_idmap_for_caller((unsigned)slot, &p->idmap, e);
	if (r < 0)
		return r;
	return boot_plan_host(p, name, cfg, e);
}

void boot_plan_config(const boot_plan *p, const char *name, int console_fd, rt_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	if (p->flat) {
		c->rootfs.dir = p->flat;
	} else {
		c->rootfs.lower = (const char *const *)p->lower;
		c->rootfs.n_lower = p->n_lower;
		c->rootfs.upper = p->upper;
		c->rootfs.work = p->work;
	}
	c->rootfs.mountpoint = p->mountpoint;
	c->idmap = &p->idmap;
	c->argv = (char *const *)p->argv;
	c->berth_init = p->berth_init;
	c->console_fd = console_fd;
	c->limits = p->limits;
	c->cgroup_parent = p->cgroup_parent[0] ? p->cgroup_parent : NULL;
	c->notify = true;
	c->binds = p->binds.b;
	c->n_binds = p->binds.n;
	c->user = p->has_user ? &p->rt_user : NULL;
}

void boot_plan_free(boot_plan *p)
{
	for (size_t i = 0; i < p->n_lower; i++)
		free(p->lower[i]);
	free(p->lower);
	free(p->dir);
	free(p->mountpoint);
	free(p->upper);
	free(p->work);
	free(p->flat);
	free(p->berth_init);
	memset(p, 0, sizeof(*p));
}

int boot_plan_prepare(const boot_plan *p, int machine_dfd, berth_err *e)
{
	if (!p->keep_id || geteuid() == 0)
		return 0;
	return keepid_prepare(&p->idmap, p->user.uid, p->user.gid, machine_dfd,
			      (const char *const *)p->lower, p->n_lower,
			      p->upper ? p->upper : p->flat, e);
}
