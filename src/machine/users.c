/* SPDX-License-Identifier: MIT */
/*
 * Users inside a running machine, from its own /etc/passwd and /etc/group read through the
 * init's root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
 */
#include "users.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "inroot.h"

/* /etc/passwd and /etc/group larger than this are not believed. */
#define DB_MAX (16u << 20)
#define ID_LIMIT 65536u /* ids a machine sees (its id map) */

static int open_root(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Read a regular file of the machine into a NUL-terminated buffer. -ENOENT when absent. */
static int read_db(int root, const char *path, char **out)
{
	*out = NULL;
	_cleanup_close_ int fd = inroot_open(root, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > DB_MAX)
		return -EFBIG;
	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > DB_MAX)
				return -EFBIG;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*out = TAKE_PTR(buf);
	return 0;
}

/* A decimal id below ID_LIMIT, the whole string. */
static bool parse_id(const char *s, uint32_t *out)
{
	if (!*s || strlen(s) > 10)
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v >= ID_LIMIT)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Split line (modified in place) at ':' into exactly n fields; false when malformed. */
static bool split_fields(char *line, char **f, size_t n)
{
	size_t i = 0;
	f[i++] = line;
	for (char *p = line; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false; /* control characters: not a line nss_files would accept */
		if (*p == ':') {
			if (i == n)
				return false;
			*p = 0;
			f[i++] = p + 1;
		}
	}
	return i == n;
}

typedef struct pw_entry {
	const char *name, *home, *shell;
	uint32_t uid, gid;
} pw_entry;

/* Walk the lines of db (modifying it); call fn for each well-formed one until it returns
 * true. Returns whether any call did. */
static bool each_line(char *db, size_t n_fields, bool (*fn)(char **f, void *opaque), void *opaque)
{
	for (char *line = db; line && *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		char *f[8];
		if (*line != '#' && *line != '+' && *line != '-' &&
		    split_fields(line, f, n_fields) && fn(f, opaque))
			return true;
		line = eol ? eol + 1 : NULL;
	}
	return false;
}

typedef struct pw_query {
	const char *name; /* match by name, or */
	uint32_t uid;	  /* by uid when name is NULL */
	pw_entry out;
} pw_query;

static bool pw_match(char **f, void *opaque)
{
	pw_query *q = opaque;
	uint32_t uid, gid;
	if (!f[0][0] || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
		return false;
	if (q->name ? strcmp(f[0], q->name) : uid != q->uid)
		return false;
	q->out = (pw_entry){.name = f[0], .home = f[5], .shell = f[6], .uid = uid, .gid = gid};
	return true;
}

typedef struct gr_query {
	const char *name; /* group by name (for "user:group"), or */
	uint32_t gid;	  /* found gid */
	bool found;
	const char *member; /* collect the groups listing this user */
	uint32_t primary;
	machine_user *u;
} gr_query;

static bool gr_match(char **f, void *opaque)
{
	gr_query *q = opaque;
	uint32_t gid;
	if (!f[0][0] || !parse_id(f[2], &gid))
		return false;
	if (q->name) {
		if (strcmp(f[0], q->name))
			return false;
		q->gid = gid;
		q->found = true;
		return true;
	}
	if (gid == q->primary || q->u->n_groups >= MACHINE_USER_MAX_GROUPS)
		return false;
	for (char *m = f[3]; *m;) {
		size_t len = strcspn(m, ",");
		if (len == strlen(q->member) && !strncmp(m, q->member, len)) {
			for (size_t i = 0; i < q->u->n_groups; i++)
				if (q->u->groups[i] == gid)
					return false;
			q->u->groups[q->u->n_groups++] = gid;
			break;
		}
		m += len;
		if (*m == ',')
			m++;
	}
	return false;
}

static bool is_exec_file(int root, const char *path)
{
	if (path[0] != '/')
		return false;
	_cleanup_close_ int fd = inroot_open(root, path, O_PATH);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static void copy_field(char *dst, size_t size, const char *src, const char *fallback)
{
	if (!src || !*src || strlen(src) >= size)
		src = fallback;
	snprintf(dst, size, "%s", src);
}

int machine_user_resolve(pid_t init_pid, const char *spec, machine_user *u, berth_err *e)
{
	memset(u, 0, sizeof(*u));
	const char *s = spec && *spec ? spec : "root";
	if (strlen(s) >= 256)
		return berr(e, -EINVAL, "The user '%.40s...' is too long", s);
	char user[256], *group = NULL;
	snprintf(user, sizeof(user), "%s", s);
	char *colon = strchr(user, ':');
	if (colon) {
		*colon = 0;
		group = colon + 1;
		if (!*group)
			return berr(e, -EINVAL,
				    "The user '%s' has an empty group after ':'; give USER, UID, "
				    "USER:GROUP or UID:GID",
				    s);
	}
	if (!*user)
		return berr(e, -EINVAL,
			    "The user '%s' has no user name or id; give USER, UID, "
			    "USER:GROUP or UID:GID",
			    s);

	_cleanup_close_ int root = open_root(init_pid);
	if (root < 0)
		return berr_errno(e, root, "Cannot open the root of the machine (init process %d)",
				  (int)init_pid);
	_cleanup_free_ char *passwd = NULL, *grp = NULL;
	int r = read_db(root, "/etc/passwd", &passwd);
	if (r < 0 && r != -ENOENT)
		return berr_errno(e, r, "Cannot read /etc/passwd in the machine");
	r = read_db(root, "/etc/group", &grp);
	if (r < 0 && r != -ENOENT)
		return berr_errno(e, r, "Cannot read /etc/group in the machine");

	uint32_t id;
	bool numeric = parse_id(user, &id);
	pw_query q = {.name = numeric ? NULL : user, .uid = numeric ? id : 0};
	bool found = passwd && each_line(passwd, 7, pw_match, &q);
	if (!found && !strcmp(user, "root")) {
		/* Root always exists, even in a machine whose /etc/passwd is gone or broken:
		 * that is how one repairs it. */
		numeric = true;
		id = 0;
	}
	if (!found && !numeric) {
		if (strspn(user, "0123456789") == strlen(user))
			return berr(e, -EINVAL,
				    "The user id %s is outside the machine's ids (0 to %u)", user,
				    ID_LIMIT - 1);
		return berr(e, -ENOENT,
			    "There is no user '%s' in the machine's /etc/passwd; create it in "
			    "the machine or give a numeric uid",
			    user);
	}
	if (found) {
		u->uid = q.out.uid;
		u->gid = q.out.gid;
		copy_field(u->name, sizeof(u->name), q.out.name, "");
		copy_field(u->home, sizeof(u->home), q.out.home[0] == '/' ? q.out.home : NULL, "/");
		copy_field(u->shell, sizeof(u->shell),
			   is_exec_file(root, q.out.shell) ? q.out.shell : NULL, "/bin/sh");
	} else {
		u->uid = id;
		u->gid = id;
		snprintf(u->home, sizeof(u->home), "%s", id == 0 ? "/root" : "/");
		if (id == 0)
			snprintf(u->name, sizeof(u->name), "root");
		snprintf(u->shell, sizeof(u->shell), "/bin/sh");
	}
	if (group) {
		uint32_t gid;
		if (parse_id(group, &gid)) {
			u->gid = gid;
		} else {
			/* /etc/group was split in place by nothing yet: search a copy per query. */
			_cleanup_free_ char *copy = grp ? strdup(grp) : NULL;
			gr_query g = {.name = group};
			if (grp && !copy)
				return berr(e, -ENOMEM, "Out of memory reading /etc/group");
			if (!copy || !each_line(copy, 4, gr_match, &g))
				return berr(e, -ENOENT,
					    "There is no group '%s' in the machine's /etc/group; "
					    "give a numeric gid or an existing group",
					    group);
			u->gid = g.gid;
		}
	}
	/* Supplementary groups: only for a named user with its own primary group (docker
	 * does the same; an explicit group replaces them). */
	if (u->name[0] && !group && grp) {
		gr_query g = {.member = u->name, .primary = u->gid, .u = u};
		each_line(grp, 4, gr_match, &g);
	}
	return 0;
}

/* Whether path (absolute) opens with flags inside the machine's root. */
static bool path_opens(pid_t init_pid, const char *path, int flags)
{
	if (!path || path[0] != '/')
		return false;
	_cleanup_close_ int root = open_root(init_pid);
	if (root < 0)
		return false;
	_cleanup_close_ int fd = inroot_open(root, path, flags);
	return fd >= 0;
}

bool machine_path_is_dir(pid_t init_pid, const char *path)
{
	return path_opens(init_pid, path, O_PATH | O_DIRECTORY);
}

bool machine_path_exists(pid_t init_pid, const char *path)
{
	return path_opens(init_pid, path, O_PATH);
}
