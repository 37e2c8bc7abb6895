/* SPDX-License-Identifier: MIT */
/*
 * berth setup-user: delegating cgroup subtrees and /dev/net/tun to a regular user, and the
 * checks rootless machines make against it. See delegation.h for the scheme.
 */
#include "delegation.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"
#include "runtime.h"

#define TUN_PATH "/dev/net/tun"
#define ACL_XATTR "system.posix_acl_access"

/* ---- small file helpers ------------------------------------------------------------------ */

static int read_text(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int write_text(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(s);
	return write(fd, s, len) == (ssize_t)len ? 0 : -errno;
}

/* ---- cgroups ----------------------------------------------------------------------------- */

/* The hierarchies a machine needs: cgroup2 and the v1 ones carrying a controller berth sets
 * limits with or that systemd manages. */
static bool wanted(const rt_cg_hier *h)
{
	if (h->v2 || !strcmp(h->controllers, "name=systemd"))
		return true;
	static const char *const want[] = {"cpu", "cpuacct", "cpuset", "memory", "pids"};
	char x[160];
	snprintf(x, sizeof(x), ",%s,", h->controllers);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char pat[32];
		snprintf(pat, sizeof(pat), ",%s,", want[i]);
		if (strstr(x, pat))
			return true;
	}
	return false;
}

static bool is_cpuset(const rt_cg_hier *h)
{
	char x[160];
	snprintf(x, sizeof(x), ",%s,", h->controllers);
	return !h->v2 && strstr(x, ",cpuset,");
}

/* A new v1 cpuset level takes no process until it has cpus and mems: copy the parent's. */
static void cpuset_fill(const char *dir)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char p[PATH_MAX + 32], cur[4096], v[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		if (read_text(p, cur, sizeof(cur)) < 0 || (cur[0] && cur[0] != '\n'))
			continue;
		char pp[PATH_MAX + 32];
		snprintf(pp, sizeof(pp), "%s/%s", parent, files[i]);
		if (read_text(pp, v, sizeof(v)) == 0)
			write_text(p, v);
	}
}

/* Enable for the children of a cgroup2 directory the controllers it has of cpu, memory,
 * pids. */
static void v2_enable(const char *dir)
{
	char p[PATH_MAX + 32], avail[512];
	snprintf(p, sizeof(p), "%s/cgroup.controllers", dir);
	if (read_text(p, avail, sizeof(avail)) < 0)
		return;
	char x[520];
	snprintf(x, sizeof(x), " %s ", avail);
	for (char *q = x; *q; q++)
		if (*q == '\n')
			*q = ' ';
	static const char *const want[] = {"cpu", "memory", "pids"};
	snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char pat[32], op[32];
		snprintf(pat, sizeof(pat), " %s ", want[i]);
		snprintf(op, sizeof(op), "+%s", want[i]);
		if (strstr(x, pat))
			write_text(p, op);
	}
}

/* mkdir (0755) when missing; *created says whether it was. */
static int ensure_dir(const char *dir, bool *created)
{
	*created = mkdir(dir, 0755) == 0;
	if (!*created && errno != EEXIST)
		return -errno;
	return 0;
}

/* Hand dir and its membership files (never its limit files) to uid:gid. *changed is set
 * when an owner changed. */
static int delegate_dir(const char *dir, uid_t uid, gid_t gid, bool *changed)
{
	static const char *const files[] = {".",
					    "cgroup.procs",
					    "tasks",
					    "cgroup.clone_children",
					    "cgroup.threads",
					    "cgroup.subtree_control"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		struct stat st;
		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (st.st_uid == uid && st.st_gid == gid)
			continue;
		if (chown(p, uid, gid) < 0)
			return -errno;
		*changed = true;
	}
	return 0;
}

/* The mounted hierarchies (as root every one is listed). */
static int hierarchies(rt_cgroup *cg, berth_err *e)
{
	return rt_cgroup_open("probe", DELEGATION_BASE, cg, e);
}

static int setup_cgroups(const char *user, uid_t uid, gid_t gid, json_t *list, bool *changed,
			 berth_err *e)
{
	rt_cgroup cg;
	int r = hierarchies(&cg, e);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cg.n; i++) {
		const rt_cg_hier *h = &cg.h[i];
		if (!wanted(h))
			continue;
		char base[PATH_MAX], dir[PATH_MAX];
		snprintf(base, sizeof(base), "%s%s", h->mount, DELEGATION_BASE);
		if (snprintf(dir, sizeof(dir), "%s/%s", base, user) >= (int)sizeof(dir))
			return berr(e, -ENAMETOOLONG, "The cgroup path for user '%s' is too long",
				    user);
		bool created = false;
		r = ensure_dir(base, &created);
		if (r == 0) {
			*changed |= created;
			if (is_cpuset(h))
				cpuset_fill(base);
			if (h->v2)
				v2_enable(base);
			r = ensure_dir(dir, &created);
		}
		if (r < 0)
			return berr_errno(e, r, "Cannot create the cgroup %s for user '%s'", dir,
					  user);
		*changed |= created;
		if (is_cpuset(h))
			cpuset_fill(dir);
		if (h->v2)
			v2_enable(dir);
		r = delegate_dir(dir, uid, gid, changed);
		if (r < 0)
			return berr_errno(e, r, "Cannot hand the cgroup %s to user '%s'", dir,
					  user);
		bool seen = false;
		size_t k;
		json_t *v;
		json_array_foreach(list, k, v) seen |= !strcmp(json_string_value(v) ?: "", dir);
		if (!seen)
			json_array_append_new(list, json_string(dir));
	}
	return 0;
}

/* Only what setup-user makes: /sys/fs/cgroup/.../berth-user/<user>. */
static bool ours(const char *dir, const char *user)
{
	char suffix[300];
	snprintf(suffix, sizeof(suffix), "%s/%s", DELEGATION_BASE, user);
	size_t dl = dir ? strlen(dir) : 0, sl = strlen(suffix);
	return dir && !strncmp(dir, "/sys/fs/cgroup/", 15) && dl >= sl &&
	       !strcmp(dir + dl - sl, suffix) && !strstr(dir, "/../");
}

static int undo_cgroups(const char *user, json_t *list, berth_err *e)
{
	size_t k;
	json_t *v;
	json_array_foreach(list, k, v)
	{
		const char *dir = json_string_value(v);
		if (!ours(dir, user))
			continue;
		if (rt_cgroup_dir_populated(dir))
			return berr(e, -EBUSY,
				    "User '%s' still has processes in the cgroup %s (running "
				    "machines?); stop them with 'berth stop' as that user first",
				    user, dir);
	}
	json_array_foreach(list, k, v)
	{
		const char *dir = json_string_value(v);
		if (!ours(dir, user))
			continue;
		size_t dl = strlen(dir);
		int r = rt_cgroup_dir_remove(dir);
		if (r < 0)
			return berr_errno(e, r, "Cannot remove the cgroup %s of user '%s'", dir,
					  user);
		/* berth-user goes too when no other user is left in it. */
		char base[PATH_MAX];
		snprintf(base, sizeof(base), "%.*s", (int)(dl - strlen(user) - 1), dir);
		(void)rmdir(base);
	}
	return 0;
}

/* ---- /dev/net/tun: a POSIX access ACL entry ---------------------------------------------- */

enum {
	ACL_USER_OBJ = 1,
	ACL_USER = 2,
	ACL_GROUP_OBJ = 4,
	ACL_GROUP = 8,
	ACL_MASK = 16,
	ACL_OTHER = 32
};
#define ACL_VERSION 2
#define ACL_MAX 64

typedef struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
} acl_ent;

/* The file's access ACL: its xattr, or the three entries its mode stands for. */
static int acl_read(const char *path, const struct stat *st, acl_ent *a, size_t *n)
{
	unsigned char buf[4 + ACL_MAX * 8];
	ssize_t len = getxattr(path, ACL_XATTR, buf, sizeof(buf));
	*n = 0;
	if (len < 0 && (errno == ENODATA || errno == EOPNOTSUPP)) {
		a[(*n)++] = (acl_ent){ACL_USER_OBJ, (st->st_mode >> 6) & 7, UINT32_MAX};
		a[(*n)++] = (acl_ent){ACL_GROUP_OBJ, (st->st_mode >> 3) & 7, UINT32_MAX};
		a[(*n)++] = (acl_ent){ACL_OTHER, st->st_mode & 7, UINT32_MAX};
		return 0;
	}
	if (len < 4 || (len - 4) % 8)
		return len < 0 ? -errno : -EBADMSG;
	uint32_t ver;
	memcpy(&ver, buf, 4);
	if (le32toh(ver) != ACL_VERSION)
		return -EBADMSG;
	for (ssize_t off = 4; off < len && *n < ACL_MAX; off += 8) {
		uint16_t tag, perm;
		uint32_t id;
		memcpy(&tag, buf + off, 2);
		memcpy(&perm, buf + off + 2, 2);
		memcpy(&id, buf + off + 4, 4);
		a[(*n)++] = (acl_ent){le16toh(tag), le16toh(perm), le32toh(id)};
	}
	return 0;
}

static int acl_cmp(const void *x, const void *y)
{
	const acl_ent *a = x, *b = y;
	if (a->tag != b->tag)
		return a->tag < b->tag ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Write the ACL back: sorted, with the mask the named entries need; an ACL with no named
 * entries is dropped and the mode carries it again. */
static int acl_write(const char *path, const struct stat *st, acl_ent *a, size_t n)
{
	bool named = false;
	uint16_t mask = 0, group_obj = 0;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (a[i].tag == ACL_MASK)
			continue;
		if (a[i].tag == ACL_USER || a[i].tag == ACL_GROUP)
			named = true;
		if (a[i].tag == ACL_USER || a[i].tag == ACL_GROUP || a[i].tag == ACL_GROUP_OBJ)
			mask |= a[i].perm;
		if (a[i].tag == ACL_GROUP_OBJ)
			group_obj = a[i].perm;
		a[w++] = a[i];
	}
	n = w;
	if (!named) {
		if (removexattr(path, ACL_XATTR) < 0 && errno != ENODATA)
			return -errno;
		mode_t mode = (st->st_mode & 07707) | (mode_t)(group_obj << 3);
		return chmod(path, mode) < 0 ? -errno : 0;
	}
	a[n++] = (acl_ent){ACL_MASK, mask, UINT32_MAX};
	qsort(a, n, sizeof(*a), acl_cmp);
	unsigned char buf[4 + ACL_MAX * 8];
	uint32_t ver = htole32(ACL_VERSION);
	memcpy(buf, &ver, 4);
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = htole16(a[i].tag), perm = htole16(a[i].perm);
		uint32_t id = htole32(a[i].id);
		memcpy(buf + 4 + 8 * i, &tag, 2);
		memcpy(buf + 4 + 8 * i + 2, &perm, 2);
		memcpy(buf + 4 + 8 * i + 4, &id, 4);
	}
	return setxattr(path, ACL_XATTR, buf, 4 + 8 * n, 0) < 0 ? -errno : 0;
}

/* Fills tun: {"path", "granted": bool (berth added the entry, now or before),
 * "reason"}. */
static int setup_tun(const char *user, uid_t uid, json_t *tun, bool *changed, berth_err *e)
{
	json_object_set_new(tun, "path", json_string(TUN_PATH));
	struct stat st;
	if (stat(TUN_PATH, &st) < 0) {
		json_object_set_new(tun, "reason", json_string("missing"));
		return 0;
	}
	if ((st.st_mode & 0006) == 0006) {
		json_object_set_new(tun, "reason", json_string("world read-write"));
		return 0;
	}
	acl_ent a[ACL_MAX + 1];
	size_t n;
	int r = acl_read(TUN_PATH, &st, a, &n);
	if (r < 0)
		return berr_errno(e, r, "Cannot read the access ACL of %s", TUN_PATH);
	bool has = false;
	uint16_t mask = 7;
	for (size_t i = 0; i < n; i++) {
		if (a[i].tag == ACL_USER && a[i].id == uid && (a[i].perm & 6) == 6)
			has = true;
		if (a[i].tag == ACL_MASK)
			mask = a[i].perm;
	}
	if (has && (mask & 6) == 6) {
		json_object_set_new(tun, "reason", json_string("user has an ACL entry"));
		return 0;
	}
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (a[i].tag == ACL_USER && a[i].id == uid) {
			a[i].perm |= 6;
			found = true;
		}
	if (!found && n < ACL_MAX)
		a[n++] = (acl_ent){ACL_USER, 6, uid};
	r = acl_write(TUN_PATH, &st, a, n);
	if (r == -EOPNOTSUPP)
		return berr(e, r,
			    "The filesystem of %s does not support POSIX ACLs, so user '%s' cannot "
			    "be given access to it alone; make it world read-write (chmod 0666 %s, "
			    "as most distributions ship it) instead",
			    TUN_PATH, user, TUN_PATH);
	if (r < 0)
		return berr_errno(e, r, "Cannot give user '%s' access to %s", user, TUN_PATH);
	json_object_set_new(tun, "granted", json_true());
	*changed = true;
	return 0;
}

static int undo_tun(const char *user, uid_t uid, berth_err *e)
{
	struct stat st;
	if (stat(TUN_PATH, &st) < 0)
		return 0;
	acl_ent a[ACL_MAX + 1];
	size_t n, w = 0;
	int r = acl_read(TUN_PATH, &st, a, &n);
	if (r < 0)
		return berr_errno(e, r, "Cannot read the access ACL of %s", TUN_PATH);
	for (size_t i = 0; i < n; i++)
		if (!(a[i].tag == ACL_USER && a[i].id == uid))
			a[w++] = a[i];
	if (w == n)
		return 0;
	r = acl_write(TUN_PATH, &st, a, w);
	if (r < 0)
		return berr_errno(e, r, "Cannot take the access to %s from user '%s' back",
				  TUN_PATH, user);
	return 0;
}

/* ---- the state file ---------------------------------------------------------------------- */

static int state_path(const char *user, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s.json", DELEGATION_STATE_DIR, user) >= (int)len
		   ? -ENAMETOOLONG
		   : 0;
}

static int state_save(const char *user, json_t *j, berth_err *e)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	state_path(user, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	static const char *const dirs[] = {"/var/lib/berth", DELEGATION_STATE_DIR};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create %s", dirs[i]);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || json_dumpfd(j, fd, JSON_INDENT(2)) < 0 || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		return berr_errno(e, r ? r : -EIO, "Cannot record the set-up of user '%s' in %s",
				  user, path);
	}
	return 0;
}

/* ---- setup-user -------------------------------------------------------------------------- */

int delegation_setup(const char *user, bool undo, json_t **report, berth_err *e)
{
	*report = NULL;
	if (geteuid() != 0)
		return berr(
		    e, -EPERM,
		    "setup-user changes host cgroups and device permissions, so it must run "
		    "as root: sudo berth setup-user %s",
		    user);
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return berr(e, -ENOENT, "There is no user called '%s' on this host", user);
	if (pw.pw_uid == 0)
		return berr(e, -EINVAL, "User '%s' is root, which needs no set-up to run machines",
			    user);
	if (strchr(user, '/') || user[0] == '.')
		return berr(e, -EINVAL, "'%s' cannot name a cgroup directory", user);
	char path[PATH_MAX];
	if (state_path(user, path, sizeof(path)) < 0)
		return berr(e, -ENAMETOOLONG, "The user name '%s' is too long", user);
	json_error_t jerr;
	_cleanup_json_ json_t *state = json_load_file(path, 0, &jerr);
	if (!state && access(path, F_OK) == 0)
		return berr(e, -EBADMSG, "Cannot read %s (%s); remove it and run setup-user again",
			    path, jerr.text);
	int r;
	if (undo) {
		if (!state) {
			*report = json_pack("{s:s,s:I,s:b,s:[]}", "user", user, "uid",
					    (json_int_t)pw.pw_uid, "changed", 0, "cgroups");
			return 0;
		}
		r = undo_cgroups(user, json_object_get(state, "cgroups"), e);
		if (r < 0)
			return r;
		if (json_is_true(json_object_get(json_object_get(state, "tun"), "granted"))) {
			r = undo_tun(user, pw.pw_uid, e);
			if (r < 0)
				return r;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return berr_errno(e, -errno, "Cannot remove %s", path);
		*report = json_pack("{s:s,s:I,s:b,s:O}", "user", user, "uid", (json_int_t)pw.pw_uid,
				    "changed", 1, "cgroups",
				    json_object_get(state, "cgroups") ?: json_array());
		return 0;
	}
	json_t *list = json_object_get(state, "cgroups");
	_cleanup_json_ json_t *cgroups = json_is_array(list) ? json_copy(list) : json_array();
	bool changed = false;
	r = setup_cgroups(user, pw.pw_uid, pw.pw_gid, cgroups, &changed, e);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *tun = json_object();
	r = setup_tun(user, pw.pw_uid, tun, &changed, e);
	if (r < 0)
		return r;
	/* Granted before by berth: still berth's to take back. */
	if (json_is_true(json_object_get(json_object_get(state, "tun"), "granted")))
		json_object_set_new(tun, "granted", json_true());
	if (!json_object_get(tun, "granted"))
		json_object_set_new(tun, "granted", json_false());
	json_t *j = json_pack("{s:s,s:I,s:I,s:O,s:O}", "user", user, "uid", (json_int_t)pw.pw_uid,
			      "gid", (json_int_t)pw.pw_gid, "cgroups", cgroups, "tun", tun);
	r = state_save(user, j, e);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	json_object_set_new(j, "changed", json_boolean(changed));
	*report = j;
	return 0;
}

/* ---- what rootless machines use ---------------------------------------------------------- */

static bool user_name(char *out, size_t len)
{
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return false;
	snprintf(out, len, "%s", pw.pw_name);
	return true;
}

void delegation_parent(const berth_ctx *ctx, char *out, size_t len)
{
	char user[256];
	if (!user_name(user, sizeof(user)))
		snprintf(user, sizeof(user), "%u", (unsigned)geteuid());
	/* The default root of a regular user, as main.c works it out. */
	_cleanup_free_ char *def = NULL, *real = realpath(ctx->root, NULL);
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (xdg && *xdg == '/') {
		if (asprintf(&def, "%s/berth", xdg) < 0)
			def = NULL;
	} else if (home && *home && asprintf(&def, "%s/.local/share/berth", home) < 0) {
		def = NULL;
	}
	_cleanup_free_ char *real_def = def ? realpath(def, NULL) : NULL;
	const char *path = real ? real : ctx->root;
	if (real_def && !strcmp(path, real_def)) {
		snprintf(out, len, "%s/%s", DELEGATION_BASE, user);
		return;
	}
	char d[DIGEST_STR_LEN];
	sha256_buf(path, strlen(path), d);
	snprintf(out, len, "%s/%s/r-%.12s", DELEGATION_BASE, user, digest_hex(d));
}

int delegation_require(const char *name, const char *parent, berth_err *e)
{
	char user[256];
	if (!user_name(user, sizeof(user)))
		snprintf(user, sizeof(user), "%u", (unsigned)geteuid());
	rt_cgroup cg;
	berth_err why = {0};
	int r = rt_cgroup_open(name, parent, &cg, &why);
	bool managed = false;
	for (size_t i = 0; r == 0 && i < cg.n; i++)
		managed |= cg.h[i].v2 || !strcmp(cg.h[i].controllers, "name=systemd");
	if (r == 0 && managed)
		return 0;
	/* Set up, but from outside: the cgroup2 containment rule on a cgroup2-only host. */
	char v2dir[PATH_MAX];
	snprintf(v2dir, sizeof(v2dir), "/sys/fs/cgroup%s/%s", DELEGATION_BASE, user);
	struct stat st;
	if (stat(v2dir, &st) == 0 && st.st_uid == geteuid() &&
	    access("/sys/fs/cgroup/cgroup.procs", F_OK) == 0)
		return berr(
		    e, -EACCES,
		    "Machine '%s' cannot get a cgroup: %s is delegated to user '%s', but "
		    "cgroup v2 lets a process into it only from inside it, and this session "
		    "is outside; run berth from a shell moved into it (as root: echo PID > "
		    "%s/cgroup.procs, or a login that places sessions there)",
		    name, v2dir, user, v2dir);
	return berr(
	    e, -EACCES,
	    "Machine '%s' needs a cgroup subtree its init can manage, and user '%s' may not "
	    "create cgroups here; run 'sudo berth setup-user %s' once (and again after a "
	    "host reboot)",
	    name, user, user);
}
