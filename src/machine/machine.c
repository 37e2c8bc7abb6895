/* SPDX-License-Identifier: MIT */
/*
 * Machine names, state directories, config.json/state.json, the default machine, and
 * reading a machine's current state (trusting recorded pids only when they are still the
 * same processes in this boot).
 */
#include "machine-internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const status_names[] = {
    [MACHINE_CREATED] = "created",   [MACHINE_STARTING] = "starting", [MACHINE_RUNNING] = "running",
    [MACHINE_STOPPING] = "stopping", [MACHINE_STOPPED] = "stopped",
};

const char *machine_status_name(machine_status s)
{
	return (unsigned)s < ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

static machine_status status_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(status_names); i++)
		if (!strcmp(s, status_names[i]))
			return (machine_status)i;
	return MACHINE_STOPPED;
}

static const char *const init_mode_names[] = {
    [MACHINE_INIT_AUTO] = "auto",
    [MACHINE_INIT_IMAGE] = "image",
    [MACHINE_INIT_BUILTIN] = "builtin",
};

const char *machine_init_mode_name(machine_init_mode m)
{
	return (unsigned)m < ARRAY_SIZE(init_mode_names) ? init_mode_names[m] : "auto";
}

int machine_init_mode_parse(const char *s, machine_init_mode *out)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(init_mode_names); i++)
		if (!strcmp(s, init_mode_names[i])) {
			*out = (machine_init_mode)i;
			return 0;
		}
	return -EINVAL;
}

int machine_name_valid(const char *name, berth_err *e)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= 63 && name[n - 1] != '-' && name[0] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		     name[i] == '-';
	if (ok)
		return 0;
	char shown[80];
	size_t k = 0;
	for (size_t i = 0; name && name[i] && k + 4 < sizeof(shown); i++)
		shown[k++] = isprint((unsigned char)name[i]) ? name[i] : '?';
	shown[k] = 0;
	return berr(e, -EINVAL,
		    "'%s' is not a valid machine name: use 1 to 63 lowercase letters, digits and "
		    "'-', not starting or ending with '-' (it becomes the machine's hostname)",
		    shown);
}

char *machine_dir(const berth_ctx *ctx, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/machines/%s", ctx->root, name) < 0)
		return NULL;
	return p;
}

bool machine_exists(const berth_ctx *ctx, const char *name)
{
	berth_err ignore = {0};
	if (machine_name_valid(name, &ignore) < 0)
		return false;
	_cleanup_free_ char *d = machine_dir(ctx, name);
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", d ? d : "", MACHINE_CONFIG);
	return d && access(p, F_OK) == 0;
}

int machine_dir_open(const berth_ctx *ctx, const char *name, berth_err *e)
{
	int r = machine_name_valid(name, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *d = machine_dir(ctx, name);
	if (!d)
		return berr(e, -ENOMEM, "Out of memory");
	int fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return berr(e, -ENOENT,
			    "There is no machine called '%s'; 'berth ls -a' lists them and 'berth "
			    "create %s IMAGE' makes one",
			    name, name);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot open the state of machine '%s' (%s)", name, d);
	if (faccessat(fd, MACHINE_CONFIG, F_OK, 0) < 0) {
		close(fd);
		return berr(e, -ENOENT,
			    "Machine '%s' is incomplete (no %s): it is being created or its "
			    "creation failed; remove it with 'berth rm -f %s'",
			    name, MACHINE_CONFIG, name);
	}
	return fd;
}

int machine_config_load(const berth_ctx *ctx, const char *name, json_t **config, berth_err *e)
{
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	int r = json_load_at(dfd, MACHINE_CONFIG, config, e);
	if (r == -ENOENT)
		return berr(e, r, "Machine '%s' has no %s", name, MACHINE_CONFIG);
	return r;
}

int machine_config_save(const berth_ctx *ctx, const char *name, json_t *config, berth_err *e)
{
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	return json_save_at(dfd, MACHINE_CONFIG, config, e);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int machine_list(const berth_ctx *ctx, char ***names, berth_err *e)
{
	*names = NULL;
	char *d = NULL;
	if (asprintf(&d, "%s/machines", ctx->root) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_closedir_ DIR *dir = opendir(d);
	if (!dir && errno != ENOENT) {
		int r = berr_errno(e, -errno, "Cannot list the machines in %s", d);
		free(d);
		return r;
	}
	free(d);
	size_t n = 0, cap = 8;
	char **v = calloc(cap + 1, sizeof(char *));
	if (!v)
		return berr(e, -ENOMEM, "Out of memory");
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || !machine_exists(ctx, de->d_name))
			continue;
		if (n == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof(char *));
			if (!nv)
				goto oom;
			v = nv;
			cap *= 2;
		}
		if (!(v[n] = strdup(de->d_name)))
			goto oom;
		v[++n] = NULL;
	}
	v[n] = NULL;
	qsort(v, n, sizeof(char *), cmp_str);
	*names = v;
	return (int)n;
oom:
	strvfreep(&v);
	return berr(e, -ENOMEM, "Out of memory");
}

int machine_default_get(const berth_ctx *ctx, char **name, berth_err *e)
{
	*name = NULL;
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/default", ctx->root) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : berr_errno(e, -errno, "Cannot read %s", p);
	char buf[128];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	berth_err ignore = {0};
	if (!buf[0] || machine_name_valid(buf, &ignore) < 0)
		return 0;
	*name = strdup(buf);
	return *name ? 0 : berr(e, -ENOMEM, "Out of memory");
}

int machine_default_set(const berth_ctx *ctx, const char *name, berth_err *e)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/default", ctx->root) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	if (!name) {
		if (unlink(p) < 0 && errno != ENOENT)
			return berr_errno(e, -errno, "Cannot clear the default machine (%s)", p);
		return 0;
	}
	int r = machine_name_valid(name, e);
	if (r < 0)
		return r;
	_cleanup_close_ int rfd = open(ctx->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return berr_errno(e, -errno, "Cannot open the state directory %s", ctx->root);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".default.%d.tmp", (int)getpid());
	_cleanup_close_ int fd =
	    openat(rfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot set the default machine (%s)", p);
	if (dprintf(fd, "%s\n", name) < 0 || fsync(fd) < 0 || renameat(rfd, tmp, rfd, "default")) {
		r = berr_errno(e, -errno, "Cannot set the default machine (%s)", p);
		unlinkat(rfd, tmp, 0);
		return r;
	}
	return 0;
}

int machine_resolve_name(const berth_ctx *ctx, const char *name, char **out, berth_err *e)
{
	*out = NULL;
	if (name) {
		int r = machine_name_valid(name, e);
		if (r < 0)
			return r;
		*out = strdup(name);
		return *out ? 0 : berr(e, -ENOMEM, "Out of memory");
	}
	int r = machine_default_get(ctx, out, e);
	if (r < 0)
		return r;
	if (!*out)
		return berr(e, -ENOENT,
			    "No machine name was given and there is no default machine; give a "
			    "NAME or choose the default with 'berth default NAME'");
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static rt_init_kind init_kind_parse(const char *s)
{
	static const rt_init_kind kinds[] = {RT_INIT_NONE,   RT_INIT_SYSTEMD, RT_INIT_SYSVINIT,
					     RT_INIT_OPENRC, RT_INIT_BUSYBOX, RT_INIT_BERTH};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(s, rt_init_name(kinds[i])))
			return kinds[i];
	return RT_INIT_NONE;
}

int machine_info_load(const berth_ctx *ctx, const char *name, machine_info *info, berth_err *e)
{
	memset(info, 0, sizeof(*info));
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	_cleanup_json_ json_t *cfg = NULL, *st = NULL;
	int r = json_load_at(dfd, MACHINE_CONFIG, &cfg, e);
	if (r < 0)
		return r == -ENOENT ? berr(e, r, "Machine '%s' has no %s", name, MACHINE_CONFIG)
				    : r;
	r = json_load_at(dfd, MACHINE_STATE, &st, e);
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(info->name, sizeof(info->name), "%s", name);
	snprintf(info->image, sizeof(info->image), "%s", jstr(cfg, "image"));
	snprintf(info->image_digest, sizeof(info->image_digest), "%s", jstr(cfg, "image_digest"));
	snprintf(info->cgroup_parent, sizeof(info->cgroup_parent), "%s",
		 jstr(cfg, "cgroup_parent"));
	json_t *init = json_object_get(cfg, "init_detected");
	info->init_kind = init_kind_parse(jstr(init, "kind"));
	snprintf(info->init_path, sizeof(info->init_path), "%s", jstr(init, "path"));
	if (!st) {
		info->status = MACHINE_CREATED;
		return 0;
	}
	/* What the last start actually booted wins over what create detected. */
	json_t *sinit = json_object_get(st, "init");
	if (json_is_object(sinit)) {
		info->init_kind = init_kind_parse(jstr(sinit, "kind"));
		snprintf(info->init_path, sizeof(info->init_path), "%s", jstr(sinit, "path"));
	}
	info->status = status_parse(jstr(st, "status"));
	info->started_at = jint(st, "started_at");
	if (info->status == MACHINE_STOPPED || info->status == MACHINE_CREATED)
		return 0;
	char boot[64];
	host_boot_id(boot);
	pid_t mpid = (pid_t)jint(st, "monitor_pid");
	uint64_t mstart = (uint64_t)jint(st, "monitor_start");
	bool alive = !strcmp(boot, jstr(st, "boot_id")) && proc_same(mpid, mstart);
	if (!alive) {
		info->status = MACHINE_STOPPED;
		info->stale = true;
		return 0;
	}
	info->monitor_pid = mpid;
	info->monitor_start = mstart;
	info->init_pid = (pid_t)jint(st, "init_pid");
	info->init_start = (uint64_t)jint(st, "init_start");
	if (info->status == MACHINE_RUNNING && !proc_same(info->init_pid, info->init_start)) {
		/* The init is gone and the monitor is recording it right now. */
		info->status = MACHINE_STOPPING;
		info->init_pid = 0;
	}
	return 0;
}

int machine_attach(const berth_ctx *ctx, const char *name, machine_info *info, rt_machine *m,
		   berth_err *e)
{
	memset(m, 0, sizeof(*m));
	m->pid = -1;
	m->pidfd = m->notify_fd = -1;
	int r = machine_info_load(ctx, name, info, e);
	if (r < 0)
		return r;
	if (info->status == MACHINE_STARTING)
		return berr(e, -ESRCH,
			    "Machine '%s' is still starting; wait for 'berth start %s' to finish",
			    name, name);
	if (info->status != MACHINE_RUNNING)
		return berr(e, -ESRCH,
			    "Machine '%s' is not running; start it with 'berth start %s'", name,
			    name);
	r = rt_machine_attach(info->init_pid, name,
			      info->cgroup_parent[0] ? info->cgroup_parent : NULL, m, e);
	if (r < 0)
		return r;
	/* The pidfd is open: if the pid still has the recorded start time, it is the init. */
	if (!proc_same(info->init_pid, info->init_start)) {
		rt_machine_release(m);
		return berr(e, -ESRCH,
			    "Machine '%s' stopped just now; start it with 'berth start %s'", name,
			    name);
	}
	return 0;
}

/* Clean up after a monitor that died (SIGKILL, host reboot) while the caller holds the
 * machine's lock. */
int machine_reap_locked(int dfd, const machine_info *info, berth_err *e)
{
	if (!info->stale)
		return 0;
	rt_cgroup cg;
	int r =
	    rt_cgroup_open(info->name, info->cgroup_parent[0] ? info->cgroup_parent : NULL, &cg, e);
	if (r == 0)
		r = rt_cgroup_destroy(&cg, e);
	if (r < 0)
		return berr_prefix(e, "Cannot clean up after machine '%s', whose monitor died",
				   info->name);
	/* The monitor's empty mount point (only ever an empty directory on the host). */
	_cleanup_json_ json_t *st = NULL;
	berth_err ignore = {0};
	if (json_load_at(dfd, MACHINE_STATE, &st, &ignore) == 0) {
		const char *mp = json_string_value(json_object_get(st, "mountpoint"));
		if (mp && strstr(mp, "/mnt-"))
			rmdir(mp);
	}
	return state_update(dfd,
			    json_pack("{s:s,s:i,s:i,s:i,s:i,s:I,s:s}", "status", "stopped",
				      "monitor_pid", 0, "monitor_start", 0, "init_pid", 0,
				      "init_start", 0, "stopped_at", (json_int_t)time(NULL), "exit",
				      "the monitor died; leftovers were cleaned up"),
			    e);
}

int machine_reap_stale(const berth_ctx *ctx, const char *name, berth_err *e)
{
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int lock = machine_lock_fd(dfd, false, e);
	if (lock == -EWOULDBLOCK)
		return 0;
	if (lock < 0)
		return lock;
	machine_info info;
	int r = machine_info_load(ctx, name, &info, e);
	if (r < 0 || !info.stale)
		return r;
	r = machine_reap_locked(dfd, &info, e);
	return r < 0 ? r : 1;
}

int machine_parse_size(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	double mult = 1;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't':
	case 'T':
		mult = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	case 'b':
	case 'B':
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	double b = v * mult;
	if (b > 9.0e18)
		return -ERANGE;
	*out = (int64_t)b;
	return 0;
}

int machine_parse_cpus(const char *s, int64_t *millis)
{
	if (!s || !*s)
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || !isfinite(v) || v > 1e6)
		return -EINVAL;
	*millis = (int64_t)(v * 1000 + 0.5);
	if (v > 0 && *millis == 0)
		return -ERANGE;
	return 0;
}
