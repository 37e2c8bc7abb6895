/* SPDX-License-Identifier: MIT */
/*
 * The machine's cgroup, on cgroup v1 (legacy), hybrid and v2 (unified) hosts.
 *
 * One directory "berth-NAME" per mounted hierarchy, under the caller's own cgroup (or a
 * given parent). Limits go to whichever hierarchy carries the controller. The hierarchies
 * the machine's init manages itself (cgroup2, and v1 name=systemd) are delegated to the
 * machine's root as the cgroup v2 delegation rules describe: the directory and the
 * process-membership files, never the limit files, so a machine cannot raise its limits.
 */
#include "runtime-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

static const char *const v1_controllers[] = {
    "cpuset",  "cpu",	     "cpuacct",	 "blkio",   "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids",   "rdma",	 "misc",
};

/* Keep only controller names (and name=...) from v1 super options, in their order. */
static void v1_controllers_of(const char *opts, char *out, size_t size)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", opts);
	out[0] = 0;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool keep = !strncmp(t, "name=", 5);
		for (size_t i = 0; !keep && i < ARRAY_SIZE(v1_controllers); i++)
			keep = !strcmp(t, v1_controllers[i]);
		if (!keep)
			continue;
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s", len ? "," : "", t);
	}
}

/* Same controller set, in any order. */
static bool same_set(const char *a, const char *b)
{
	char x[256], y[256];
	snprintf(x, sizeof(x), ",%s,", a);
	snprintf(y, sizeof(y), ",%s,", b);
	size_t na = 0, nb = 0;
	char *save = NULL;
	for (char *t = strtok_r(x + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char pat[140];
		snprintf(pat, sizeof(pat), ",%s,", t);
		if (!strstr(y, pat))
			return false;
		na++;
	}
	for (const char *p = b; *p; p++)
		nb += *p == ',';
	return *b && na == nb + 1;
}

/* Caller's cgroup path for a hierarchy, from /proc/self/cgroup. */
static int own_path(const char *self, bool v2, const char *ctrls, char *out, size_t size)
{
	char buf[8192];
	snprintf(buf, sizeof(buf), "%s", self);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		bool match = v2 ? (!strcmp(line, "0:") && c1[1] == 0) : same_set(c1 + 1, ctrls);
		if (match) {
			snprintf(out, size, "%s", c2 + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* Whether a process of the calling (non-root) user may make dir and move itself into it:
 * the nearest existing ancestor of dir is writable, and on cgroup2 the calling process may
 * write cgroup.procs of the common ancestor of its own cgroup `own` and dir (the cgroup v2
 * containment rule: a delegated subtree is usable only from a process already inside it). */
static bool may_use(const char *mount, const char *dir, const char *own, bool v2)
{
	char p[600];
	snprintf(p, sizeof(p), "%s", dir);
	size_t ml = strlen(mount);
	struct stat st;
	while (stat(p, &st) < 0) {
		char *slash = strrchr(p, '/');
		if (errno != ENOENT || !slash || (size_t)(slash - p) < ml)
			return false;
		*slash = 0;
	}
	if (faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) < 0)
		return false;
	if (!v2)
		return true;
	/* The common ancestor: the longest prefix of both that ends at a path component. */
	size_t i = 0, common = 0;
	for (; own[i] && own[i] == dir[i]; i++)
		if (own[i] == '/')
			common = i;
	if ((own[i] == 0 || own[i] == '/') && (dir[i] == 0 || dir[i] == '/'))
		common = i;
	if (common < ml)
		common = ml;
	snprintf(p, sizeof(p), "%.*s/cgroup.procs", (int)common, dir);
	return faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0;
}

int rt_cgroup_proc_path(const char *proc_cgroup, const rt_cg_hier *h, char *out, size_t size)
{
	return own_path(proc_cgroup, h->v2, h->controllers, out, size);
}

int rt_cgroup_open(const char *name, const char *parent, rt_cgroup *cg, berth_err *e)
{
	memset(cg, 0, sizeof(*cg));
	char self[8192];
	ssize_t r = rt_read_file("/proc/self/cgroup", self, sizeof(self));
	if (r < 0)
		return berr_errno(e, (int)r, "Cannot read /proc/self/cgroup");
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return berr_errno(e, -errno, "Cannot read /proc/self/mountinfo");
	char *line = NULL;
	size_t cap = 0;
	bool unified_root = false, unified_sub = false;
	while (getline(&line, &cap, f) > 0 && cg->n < RT_CG_MAX_HIER) {
		char root[512], mnt[512], type[64], opts[512];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %511s", type, opts) != 2)
			continue;
		bool v2 = !strcmp(type, "cgroup2");
		if (!v2 && strcmp(type, "cgroup"))
			continue;
		rt_cg_hier h = {.v2 = v2};
		if (!v2)
			v1_controllers_of(opts, h.controllers, sizeof(h.controllers));
		/* One entry per hierarchy: the same hierarchy can be mounted twice. */
		bool dup = false;
		for (size_t i = 0; i < cg->n; i++)
			dup |= cg->h[i].v2 == v2 && !strcmp(cg->h[i].controllers, h.controllers);
		if (dup || (!v2 && !h.controllers[0]))
			continue;
		char own[512];
		if (own_path(self, v2, h.controllers, own, sizeof(own)) < 0)
			continue;
		const char *rel = own;
		size_t rl = strlen(root);
		if (strcmp(root, "/") && !strncmp(own, root, rl))
			rel = own + rl;
		const char *own_rel = rel;
		if (parent)
			rel = parent;
		if (snprintf(h.mount, sizeof(h.mount), "%s", mnt) >= (int)sizeof(h.mount))
			continue;
		int w = snprintf(h.path, sizeof(h.path), "%s%s%sberth-%s", mnt, rel,
				 rel[0] && rel[strlen(rel) - 1] == '/' ? "" : "/", name);
		if (w >= (int)sizeof(h.path))
			return berr(e, -ENAMETOOLONG,
				    "The cgroup path for machine '%s' is too long", name);
		/* A regular user's machine uses only the hierarchies it may use (see
		 * may_use): those delegated to it. */
		char own_full[1100];
		snprintf(own_full, sizeof(own_full), "%s%s", mnt,
			 strcmp(own_rel, "/") ? own_rel : "");
		if (geteuid() != 0 && !may_use(h.mount, h.path, own_full, v2))
			continue;
		unified_root |= v2 && !strcmp(mnt, "/sys/fs/cgroup");
		unified_sub |= v2 && strcmp(mnt, "/sys/fs/cgroup");
		cg->h[cg->n++] = h;
	}
	free(line);
	if (cg->n == 0 && geteuid() != 0)
		return berr(e, -EACCES,
			    "No cgroup hierarchy on this host is delegated to user id %u, so "
			    "machine '%s' cannot have a cgroup of its own; root must delegate a "
			    "subtree first",
			    (unsigned)geteuid(), name);
	if (cg->n == 0)
		return berr(e, -ENOENT,
			    "No cgroup hierarchy is mounted; mount cgroup2 on /sys/fs/cgroup to "
			    "run machines");
	cg->mode = unified_root ? RT_CG_UNIFIED : unified_sub ? RT_CG_HYBRID : RT_CG_LEGACY;
	return 0;
}

static bool has_ctrl(const rt_cg_hier *h, const char *c)
{
	char x[160], pat[40];
	snprintf(x, sizeof(x), ",%s,", h->controllers);
	snprintf(pat, sizeof(pat), ",%s,", c);
	return strstr(x, pat) != NULL;
}

/* Directory holding a controller's files: its v1 hierarchy, else cgroup2 when the
 * controller is enabled there. NULL when the host has no such controller. */
static const char *ctrl_dir(const rt_cgroup *cg, const char *c)
{
	for (size_t i = 0; i < cg->n; i++)
		if (!cg->h[i].v2 && has_ctrl(&cg->h[i], c))
			return cg->h[i].path;
	for (size_t i = 0; i < cg->n; i++) {
		if (!cg->h[i].v2)
			continue;
		char p[600], list[512];
		snprintf(p, sizeof(p), "%s/cgroup.controllers", cg->h[i].path);
		if (rt_read_file(p, list, sizeof(list)) < 0)
			continue;
		char x[520], pat[40];
		snprintf(x, sizeof(x), " %s ", list);
		for (char *q = x; *q; q++)
			if (*q == '\n')
				*q = ' ';
		snprintf(pat, sizeof(pat), " %s ", c);
		if (strstr(x, pat))
			return cg->h[i].path;
	}
	return NULL;
}

static bool is_v2_dir(const rt_cgroup *cg, const char *dir)
{
	for (size_t i = 0; i < cg->n; i++)
		if (cg->h[i].path == dir)
			return cg->h[i].v2;
	return false;
}

static int write_at(const char *dir, const char *file, const char *val)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return rt_write_file(p, val);
}

static int read_at(const char *dir, const char *file, char *buf, size_t size)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	ssize_t r = rt_read_file(p, buf, size);
	return r < 0 ? (int)r : 0;
}

/* mkdir -p for a cgroup directory; new cpuset v1 levels inherit cpus and mems. */
static int mkdir_cgroup(const rt_cg_hier *h)
{
	char buf[sizeof(h->path)];
	snprintf(buf, sizeof(buf), "%s", h->path);
	size_t ml = strlen(h->mount);
	for (char *p = buf + ml + 1;; p++) {
		bool last = *p == 0;
		if (!last && *p != '/')
			continue;
		*p = 0;
		bool created = mkdir(buf, 0755) == 0;
		if (!created && errno != EEXIST)
			return -errno;
		/* A v1 cpuset without cpus or mems takes no process: fill empty levels
		 * (new ones, and parents someone created without them) from their parent. */
		if (!h->v2 && has_ctrl(h, "cpuset")) {
			char parent[sizeof(buf)], v[4096], cur[16];
			snprintf(parent, sizeof(parent), "%s", buf);
			*strrchr(parent, '/') = 0;
			static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
			for (size_t i = 0; i < ARRAY_SIZE(files); i++)
				if (read_at(buf, files[i], cur, sizeof(cur)) == 0 &&
				    (cur[0] == 0 || cur[0] == '\n') &&
				    read_at(parent, files[i], v, sizeof(v)) == 0)
					write_at(buf, files[i], v);
		}
		(void)created;
		if (last)
			break;
		*p = '/';
	}
	return 0;
}

/* On cgroup2, enable the controllers the limits need in the parent's subtree_control. */
static void enable_v2_controllers(const rt_cg_hier *h)
{
	char parent[sizeof(h->path)], avail[512];
	snprintf(parent, sizeof(parent), "%s", h->path);
	*strrchr(parent, '/') = 0;
	if (read_at(parent, "cgroup.controllers", avail, sizeof(avail)) < 0)
		return;
	static const char *const want[] = {"cpu", "memory", "pids"};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char x[520], pat[40], op[40];
		snprintf(x, sizeof(x), " %s ", avail);
		for (char *q = x; *q; q++)
			if (*q == '\n')
				*q = ' ';
		snprintf(pat, sizeof(pat), " %s ", want[i]);
		snprintf(op, sizeof(op), "+%s", want[i]);
		if (strstr(x, pat))
			write_at(parent, "cgroup.subtree_control", op); /* checked via ctrl_dir */
	}
}

int rt_cgroup_create(const rt_cgroup *cg, const rt_limits *l, berth_err *e)
{
	for (size_t i = 0; i < cg->n; i++) {
		int r = mkdir_cgroup(&cg->h[i]);
		/* A machine going away at the same moment may remove an empty parent level
		 * between our mkdirs (see rt_cgroup_destroy): build the path again. */
		for (int again = 0; r == -ENOENT && again < 5; again++)
			r = mkdir_cgroup(&cg->h[i]);
		if (r < 0)
			return berr_errno(e, r, "Cannot create the machine's cgroup %s",
					  cg->h[i].path);
		if (cg->h[i].v2)
			enable_v2_controllers(&cg->h[i]);
	}
	return l ? rt_cgroup_set_limits(cg, l, e) : 0;
}

int rt_cgroup_enter(const rt_cgroup *cg, pid_t pid, bool skip_v2, berth_err *e)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", (int)pid);
	for (size_t i = 0; i < cg->n; i++) {
		if (skip_v2 && cg->h[i].v2)
			continue;
		int r = write_at(cg->h[i].path, "cgroup.procs", v);
		if (r < 0)
			return berr_errno(e, r, "Cannot move process %d into cgroup %s", (int)pid,
					  cg->h[i].path);
	}
	return 0;
}

int rt_cgroup_open_v2_dir(const rt_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		if (cg->h[i].v2) {
			int fd = open(cg->h[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			return fd < 0 ? -errno : fd;
		}
	return -ENOENT;
}

int rt_cgroup_delegate(const rt_cgroup *cg, uid_t uid, gid_t gid, berth_err *e)
{
	static const char *const files[] = {
	    ".",     "cgroup.procs",	      "cgroup.threads",	  "cgroup.subtree_control",
	    "tasks", "cgroup.clone_children", "notify_on_release"};
	for (size_t i = 0; i < cg->n; i++) {
		const rt_cg_hier *h = &cg->h[i];
		if (!h->v2 && strcmp(h->controllers, "name=systemd"))
			continue;
		for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
			char p[700];
			snprintf(p, sizeof(p), "%s/%s", h->path, files[f]);
			if (chown(p, uid, gid) < 0 && errno != ENOENT)
				return berr_errno(e, -errno,
						  "Cannot delegate cgroup file %s to the "
						  "machine's root",
						  p);
		}
	}
	return 0;
}

static int set_one(const rt_cgroup *cg, const char *ctrl, const char *what, int64_t value,
		   berth_err *e)
{
	if (value < 0)
		return 0;
	const char *dir = ctrl_dir(cg, ctrl);
	if (!dir) {
		if (value == 0)
			return 0;
		if (geteuid() != 0)
			return berr(e, -EOPNOTSUPP,
				    "The '%s' cgroup controller is not delegated to this user (uid "
				    "%u), so the machine's %s limit cannot be applied; have root "
				    "delegate it (berth setup-user) or drop the limit",
				    ctrl, (unsigned)geteuid(), what);
		return berr(e, -EOPNOTSUPP,
			    "This host has no '%s' cgroup controller available for the machine, so "
			    "its %s limit cannot be set; enable the controller or drop the limit",
			    ctrl, what);
	}
	bool v2 = is_v2_dir(cg, dir);
	char v[64], v2buf[64];
	int r = 0;
	if (!strcmp(ctrl, "memory")) {
		if (v2) {
			snprintf(v, sizeof(v), value ? "%lld" : "max", (long long)value);
			r = write_at(dir, "memory.max", v);
		} else {
			snprintf(v, sizeof(v), "%lld", value ? (long long)value : -1LL);
			r = write_at(dir, "memory.limit_in_bytes", v);
		}
	} else if (!strcmp(ctrl, "cpu")) {
		long long quota = value ? (long long)value * 100 : -1; /* period 100ms */
		if (v2) {
			if (quota < 0)
				snprintf(v2buf, sizeof(v2buf), "max 100000");
			else
				snprintf(v2buf, sizeof(v2buf), "%lld 100000", quota);
			r = write_at(dir, "cpu.max", v2buf);
		} else {
			r = write_at(dir, "cpu.cfs_period_us", "100000");
			snprintf(v, sizeof(v), "%lld", quota);
			if (r == 0)
				r = write_at(dir, "cpu.cfs_quota_us", v);
		}
	} else {
		snprintf(v, sizeof(v), value ? "%lld" : "max", (long long)value);
		r = write_at(dir, "pids.max", v);
	}
	if (r == -EBUSY && !strcmp(ctrl, "memory"))
		return berr(e, r,
			    "The machine uses more memory than the new limit of %lld bytes and the "
			    "kernel could not reclaim enough; stop some of its work or choose a "
			    "higher limit",
			    (long long)value);
	if (r < 0)
		return berr_errno(e, r, "Cannot set the machine's %s limit in %s", what, dir);
	return 0;
}

int rt_cgroup_set_limits(const rt_cgroup *cg, const rt_limits *l, berth_err *e)
{
	int r = set_one(cg, "memory", "memory", l->memory, e);
	if (r == 0)
		r = set_one(cg, "cpu", "CPU", l->cpu_millis, e);
	if (r == 0)
		r = set_one(cg, "pids", "process", l->pids, e);
	return r;
}

/* Value of "key N" in a flat keyed file (memory.stat, cpu.stat). */
static bool keyed(const char *text, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			*out = strtoull(p + kl + 1, NULL, 10);
			return true;
		}
	}
	return false;
}

static uint64_t read_u64(const char *dir, const char *file, int64_t max_means)
{
	char v[64];
	if (!dir || read_at(dir, file, v, sizeof(v)) < 0)
		return 0;
	if (!strncmp(v, "max", 3))
		return (uint64_t)max_means;
	return strtoull(v, NULL, 10);
}

int rt_cgroup_stats(const rt_cgroup *cg, rt_stats *st, berth_err *e)
{
	memset(st, 0, sizeof(*st));
	char text[16384];
	const char *mem = ctrl_dir(cg, "memory");
	if (mem) {
		bool v2 = is_v2_dir(cg, mem);
		st->memory = read_u64(mem, v2 ? "memory.current" : "memory.usage_in_bytes", 0);
		if (read_at(mem, "memory.stat", text, sizeof(text)) < 0)
			return berr_errno(e, -errno, "Cannot read the memory statistics in %s",
					  mem);
		keyed(text, v2 ? "anon" : "total_rss", &st->anon);
		keyed(text, v2 ? "file" : "total_cache", &st->file);
		uint64_t lim = read_u64(mem, v2 ? "memory.max" : "memory.limit_in_bytes", 0);
		/* v1 reports "no limit" as a huge page-aligned number. */
		st->memory_limit = lim >= (UINT64_C(1) << 62) ? 0 : (int64_t)lim;
	}
	const char *cpu = ctrl_dir(cg, "cpuacct");
	if (cpu) {
		st->cpu_usec = read_u64(cpu, "cpuacct.usage", 0) / 1000;
	} else {
		for (size_t i = 0; i < cg->n; i++)
			if (cg->h[i].v2 &&
			    read_at(cg->h[i].path, "cpu.stat", text, sizeof(text)) == 0)
				keyed(text, "usage_usec", &st->cpu_usec);
	}
	const char *c = ctrl_dir(cg, "cpu");
	if (c && is_v2_dir(cg, c)) {
		char v[64];
		if (read_at(c, "cpu.max", v, sizeof(v)) == 0 && strncmp(v, "max", 3))
			st->cpu_millis =
			    strtoll(v, NULL, 10) * 1000 /
			    (strtoll(strchr(v, ' ') ? strchr(v, ' ') : "100000", NULL, 10)
				 ?: 100000);
	} else if (c) {
		long long q = (long long)read_u64(c, "cpu.cfs_quota_us", 0);
		char v[64];
		if (read_at(c, "cpu.cfs_quota_us", v, sizeof(v)) == 0)
			q = strtoll(v, NULL, 10);
		long long p = (long long)read_u64(c, "cpu.cfs_period_us", 0);
		st->cpu_millis = q > 0 && p > 0 ? q * 1000 / p : 0;
	}
	const char *pids = ctrl_dir(cg, "pids");
	st->pids = read_u64(pids, "pids.current", 0);
	st->pids_limit = (int64_t)read_u64(pids, "pids.max", 0);
	return 0;
}

int rt_cgroup_reclaim(const rt_cgroup *cg, uint64_t *freed, berth_err *e)
{
	*freed = 0;
	const char *mem = ctrl_dir(cg, "memory");
	if (!mem)
		return berr(e, -EOPNOTSUPP,
			    "This host has no memory cgroup controller, so the machine's memory "
			    "cannot be reclaimed");
	bool v2 = is_v2_dir(cg, mem);
	const char *usage_file = v2 ? "memory.current" : "memory.usage_in_bytes";
	uint64_t before = read_u64(mem, usage_file, 0);
	int r = 0;
	if (v2) {
		char v[32];
		snprintf(v, sizeof(v), "%llu", (unsigned long long)before);
		r = write_at(mem, "memory.reclaim", v);
		/* EAGAIN: the kernel reclaimed what it could but less than asked. */
		if (r == -EAGAIN)
			r = 0;
		if (r < 0)
			return berr_errno(e, r, "Cannot reclaim memory through %s/memory.reclaim",
					  mem);
	} else {
		char text[16384], orig[64];
		if (read_at(mem, "memory.stat", text, sizeof(text)) < 0 ||
		    read_at(mem, "memory.limit_in_bytes", orig, sizeof(orig)) < 0)
			return berr_errno(e, -errno, "Cannot read the memory state of %s", mem);
		uint64_t rss = 0, mapped = 0;
		keyed(text, "total_rss", &rss);
		keyed(text, "total_mapped_file", &mapped);
		/* Keep the working set plus headroom, so running programs do not hit the
		 * temporary limit while it is in place. */
		uint64_t floor = rss + mapped + (UINT64_C(32) << 20);
		uint64_t lo = floor, hi = before;
		/* Try the floor first; when the kernel cannot get there (EBUSY), halve the
		 * distance a few times. Each attempt reclaims on its way. */
		for (int i = 0; i < 6 && lo < hi; i++) {
			char v[32];
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lo);
			int w = write_at(mem, "memory.limit_in_bytes", v);
			if (w == 0)
				break;
			if (w != -EBUSY) {
				r = berr_errno(
				    e, w, "Cannot lower the memory limit in %s to reclaim", mem);
				break;
			}
			lo += (hi - lo) / 2;
		}
		orig[strcspn(orig, "\n")] = 0;
		int w = write_at(mem, "memory.limit_in_bytes", orig);
		if (w < 0 && r == 0)
			r = berr_errno(e, w, "Cannot restore the memory limit %s in %s", orig, mem);
		if (r < 0)
			return r;
	}
	uint64_t after = read_u64(mem, usage_file, 0);
	*freed = before > after ? before - after : 0;
	return 0;
}

bool rt_cgroup_dir_populated(const char *dir)
{
	char procs[64];
	if (read_at(dir, "cgroup.procs", procs, sizeof(procs)) == 0 && procs[0])
		return true;
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) < (int)sizeof(sub) &&
		    rt_cgroup_dir_populated(sub))
			return true;
	}
	return false;
}

bool rt_cgroup_populated(const rt_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++)
		if (rt_cgroup_dir_populated(cg->h[i].path))
			return true;
	return false;
}

/* SIGKILL every process listed in dir/cgroup.procs and below. Never PID 1 or ourselves. */
static void kill_tree(const char *dir)
{
	char procs[65536];
	if (read_at(dir, "cgroup.procs", procs, sizeof(procs)) == 0) {
		for (char *p = procs; *p;) {
			long pid = strtol(p, &p, 10);
			if (pid > 1 && pid != getpid())
				kill((pid_t)pid, SIGKILL);
			while (*p == '\n')
				p++;
			if (*p && (*p < '0' || *p > '9'))
				break;
		}
	}
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		kill_tree(sub);
	}
}

int rt_cgroup_dir_remove(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		int s = rt_cgroup_dir_remove(sub);
		if (s < 0 && r == 0)
			r = s;
	}
	if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

static int rm_tree_in_userns(void *path)
{
	return rt_cgroup_dir_remove(path);
}

/* A regular user's machine owns its delegated cgroup as a subordinate id (keep-id moves
 * its root there), so what its init made below it goes as root of a user namespace. */
static int rm_tree_as_machine_root(const char *path)
{
	rt_idmap map;
	berth_err ignore = {0};
	int r = rt_idmap_for_caller(0, &map, &ignore);
	return r < 0 ? r : rt_userns_run(&map, rm_tree_in_userns, (void *)path, &ignore);
}

int rt_cgroup_destroy(const rt_cgroup *cg, berth_err *e)
{
	for (size_t i = 0; i < cg->n; i++) {
		const rt_cg_hier *h = &cg->h[i];
		if (h->v2 && write_at(h->path, "cgroup.kill", "1") == 0)
			continue;
		kill_tree(h->path);
	}
	/* Dying processes leave their cgroups asynchronously: retry for up to 5 s. */
	for (size_t i = 0; i < cg->n; i++) {
		int r = 0;
		for (int attempt = 0; attempt < 500; attempt++) {
			r = rt_cgroup_dir_remove(cg->h[i].path);
			if (r != -EBUSY)
				break;
			if (attempt % 50 == 49)
				kill_tree(cg->h[i].path);
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
		}
		if ((r == -EACCES || r == -EPERM) && geteuid() != 0)
			r = rm_tree_as_machine_root(cg->h[i].path);
		if (r < 0)
			return berr_errno(e, r, "Cannot remove the machine's cgroup %s",
					  cg->h[i].path);
		/* The parent level goes too when nothing else is in it (a per-root level
		 * left empty by its last machine); one still in use stays (EBUSY). */
		char parent[sizeof(cg->h[i].path)];
		snprintf(parent, sizeof(parent), "%s", cg->h[i].path);
		char *slash = strrchr(parent, '/');
		if (slash && (size_t)(slash - parent) > strlen(cg->h[i].mount)) {
			*slash = 0;
			(void)rmdir(parent);
		}
	}
	return 0;
}

int rt_cgroup_mount_inside(const rt_cgroup *cg, const char *root, berth_err *e)
{
	char target[PATH_MAX];
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	snprintf(target, sizeof(target), "%s/sys/fs/cgroup", root);
	if (cg->mode == RT_CG_UNIFIED) {
		if (mount("cgroup2", target, "cgroup2", fl, NULL) < 0)
			return berr_errno(e, -errno, "Cannot mount cgroup2 in the machine");
		return 0;
	}
	if (mount("tmpfs", target, "tmpfs", fl, "mode=755") < 0)
		return berr_errno(e, -errno,
				  "Cannot mount a tmpfs on /sys/fs/cgroup in the machine");
	for (size_t i = 0; i < cg->n; i++) {
		const rt_cg_hier *h = &cg->h[i];
		const char *base = strrchr(h->mount, '/');
		base = base ? base + 1 : h->mount;
		char dir[PATH_MAX];
		if (snprintf(dir, sizeof(dir), "%s/%s", target, base) >= (int)sizeof(dir))
			return berr(e, -ENAMETOOLONG, "The cgroup path %s is too long", h->mount);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create %s in the machine", dir);
		int r;
		if (h->v2) {
			r = mount("cgroup2", dir, "cgroup2", fl, NULL);
		} else {
			/* The init manages name=systemd; the controllers are read-only inside. */
			bool sd = !strcmp(h->controllers, "name=systemd");
			r = mount("cgroup", dir, "cgroup", fl | (sd ? 0 : MS_RDONLY),
				  h->controllers);
			/* cpu,cpuacct: also reachable as cpu and cpuacct */
			if (r == 0 && strchr(base, ',')) {
				char names[sizeof(h->mount)];
				snprintf(names, sizeof(names), "%s", base);
				char *save = NULL;
				for (char *t = strtok_r(names, ",", &save); t;
				     t = strtok_r(NULL, ",", &save)) {
					char link[PATH_MAX];
					if (snprintf(link, sizeof(link), "%s/%s", target, t) >=
					    (int)sizeof(link))
						continue;
					if (symlinkat(base, AT_FDCWD, link) < 0 && errno != EEXIST)
						return berr_errno(e, -errno, "Cannot create %s",
								  link);
				}
			}
		}
		if (r < 0)
			return berr_errno(e, -errno,
					  "Cannot mount the cgroup hierarchy '%s' in the "
					  "machine",
					  h->v2 ? "cgroup2" : h->controllers);
	}
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY | fl, "mode=755") < 0)
		return berr_errno(e, -errno, "Cannot make /sys/fs/cgroup read-only in the machine");
	return 0;
}
