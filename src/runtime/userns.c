/* SPDX-License-Identifier: MIT */
/*
 * User namespace id maps.
 *
 * Machine root is never host root. As root, berth maps inside ids 0..65535 onto its own
 * host range starting at RT_ROOT_RANGE_START (0x10000000): /etc/subuid ranges handed out
 * by useradd start at 100000 and grow by 65536 per user, so 0x10000000 (268435456) leaves
 * room for ~4000 users before any overlap, and the overflow ids (65534) and -1 are far
 * away. As any other user, inside 0 is the user itself and 1..65535 come from the user's
 * /etc/subuid and /etc/subgid ranges, written with the setuid helpers newuidmap/newgidmap
 * (package uidmap), the way rootless podman does it.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

int rt_subid_parse(const char *text, const char *user, uint32_t id, rt_idmap_range *out, size_t max)
{
	size_t n = 0;
	const char *p = text;
	while (*p && n < max) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *line = p;
		p = eol ? eol + 1 : p + len;
		/* name:start:count, no spaces; comments and blank lines skipped. */
		if (len == 0 || line[0] == '#')
			continue;
		const char *c1 = memchr(line, ':', len);
		if (!c1)
			continue;
		const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
		if (!c2)
			continue;
		size_t name_len = (size_t)(c1 - line);
		size_t start_len = (size_t)(c2 - c1 - 1);
		size_t count_len = len - (size_t)(c2 + 1 - line);
		if (count_len > 0 && line[len - 1] == '\r')
			count_len--;
		uint32_t start, count, owner;
		if (!parse_u32(c1 + 1, start_len, &start) ||
		    !parse_u32(c2 + 1, count_len, &count) || count == 0 ||
		    (uint64_t)start + count > (uint64_t)UINT32_MAX + 1)
			continue;
		if (name_len == 0)
			continue;
		bool match = (user && strlen(user) == name_len && !memcmp(line, user, name_len)) ||
			     (parse_u32(line, name_len, &owner) && owner == id);
		if (!match)
			continue;
		out[n++] = (rt_idmap_range){.inside = 0, .outside = start, .count = count};
	}
	return (int)n;
}

int64_t rt_idmap_to_host(const rt_idmap_range *r, size_t n, uint32_t inside)
{
	for (size_t i = 0; i < n; i++)
		if (inside >= r[i].inside && (uint64_t)inside < (uint64_t)r[i].inside + r[i].count)
			return (int64_t)r[i].outside + (inside - r[i].inside);
	return -1;
}

/* Fill ranges[] as: inside 0 -> self, then 1..RT_IDMAP_SIZE-1 from sub[] in order. */
static int fill_caller_map(uint32_t self, const rt_idmap_range *sub, int nsub, rt_idmap_range *out,
			   size_t *nout)
{
	size_t n = 0;
	out[n++] = (rt_idmap_range){0, self, 1};
	uint32_t next = 1;
	for (int i = 0; i < nsub && next < RT_IDMAP_SIZE && n < RT_IDMAP_MAX; i++) {
		uint32_t take = sub[i].count;
		if (take > RT_IDMAP_SIZE - next)
			take = RT_IDMAP_SIZE - next;
		out[n++] = (rt_idmap_range){next, sub[i].outside, take};
		next += take;
	}
	*nout = n;
	return next == RT_IDMAP_SIZE ? 0 : -ERANGE;
}

static int caller_ranges(const char *file, const char *name, uint32_t id, rt_idmap_range *out,
			 size_t *nout, berth_err *e)
{
	char text[65536];
	ssize_t r = rt_read_file(file, text, sizeof(text));
	if (r < 0)
		return berr_errno(e, (int)r,
				  "Cannot read %s for the subordinate ids of user '%s'; add a "
				  "range with 'usermod --add-subuids 100000-165535 --add-subgids "
				  "100000-165535 %s'",
				  file, name, name);
	rt_idmap_range sub[RT_IDMAP_MAX];
	int nsub = rt_subid_parse(text, name, id, sub, RT_IDMAP_MAX);
	if (fill_caller_map(id, sub, nsub, out, nout) < 0)
		return berr(e, -ERANGE,
			    "User '%s' needs %u subordinate ids in %s for a machine but has fewer; "
			    "add a range with 'usermod --add-subuids 100000-165535 --add-subgids "
			    "100000-165535 %s'",
			    name, RT_IDMAP_SIZE - 1, file, name);
	return 0;
}

int rt_idmap_for_caller(unsigned slot, rt_idmap *m, berth_err *e)
{
	memset(m, 0, sizeof(*m));
	uid_t uid = geteuid();
	if (uid == 0) {
		uint64_t start = (uint64_t)RT_ROOT_RANGE_START + (uint64_t)slot * RT_IDMAP_SIZE;
		if (start + RT_IDMAP_SIZE > UINT32_MAX)
			return berr(e, -ERANGE, "Id map slot %u is beyond the 32-bit id space",
				    slot);
		m->uid[0] = m->gid[0] = (rt_idmap_range){0, (uint32_t)start, RT_IDMAP_SIZE};
		m->n_uid = m->n_gid = 1;
		return 0;
	}
	struct passwd pw, *pwp = NULL;
	char buf[4096];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
		return berr(
		    e, -ENOENT,
		    "User id %u has no entry in the user database, so its /etc/subuid range "
		    "cannot be found; add the user with useradd",
		    (unsigned)uid);
	int r = caller_ranges("/etc/subuid", pw.pw_name, uid, m->uid, &m->n_uid, e);
	if (r < 0)
		return r;
	r = caller_ranges("/etc/subgid", pw.pw_name, uid, m->gid, &m->n_gid, e);
	if (r < 0)
		return r;
	/* newgidmap maps the primary gid for inside 0 (as rootless podman does). */
	m->gid[0].outside = getegid();
	m->helpers = true;
	return 0;
}

static void format_map(const rt_idmap_range *r, size_t n, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && off < size; i++) {
		int w = snprintf(buf + off, size - off, "%u %u %u\n", r[i].inside, r[i].outside,
				 r[i].count);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static int run_helper(const char *helper, pid_t pid, const rt_idmap_range *r, size_t n,
		      berth_err *e)
{
	char args[RT_IDMAP_MAX * 3][16], pidbuf[16];
	char *argv[RT_IDMAP_MAX * 3 + 3];
	size_t a = 0;
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	argv[a++] = (char *)helper;
	argv[a++] = pidbuf;
	for (size_t i = 0; i < n; i++) {
		snprintf(args[3 * i], 16, "%u", r[i].inside);
		snprintf(args[3 * i + 1], 16, "%u", r[i].outside);
		snprintf(args[3 * i + 2], 16, "%u", r[i].count);
		argv[a++] = args[3 * i];
		argv[a++] = args[3 * i + 1];
		argv[a++] = args[3 * i + 2];
	}
	argv[a] = NULL;
	pid_t child = fork();
	if (child < 0)
		return berr_errno(e, -errno, "Cannot fork to run %s", helper);
	if (child == 0) {
		execvp(helper, argv);
		_exit(127);
	}
	int st;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return berr_errno(e, -errno, "Cannot wait for %s", helper);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return berr(e, -ENOENT,
			    "%s was not found; install Debian's 'uidmap' package to run machines "
			    "as a regular user",
			    helper);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return berr(e, -EPERM,
			    "%s refused the machine's id map (see its message above); check the "
			    "caller's ranges in /etc/subuid and /etc/subgid",
			    helper);
	return 0;
}

int rt_idmap_write(pid_t pid, const rt_idmap *m, berth_err *e)
{
	if (m->helpers) {
		int r = run_helper("newuidmap", pid, m->uid, m->n_uid, e);
		return r < 0 ? r : run_helper("newgidmap", pid, m->gid, m->n_gid, e);
	}
	char path[64], map[RT_IDMAP_MAX * 40];
	format_map(m->uid, m->n_uid, map, sizeof(map));
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	int r = rt_write_file(path, map);
	if (r < 0)
		return berr_errno(e, r, "Cannot write the machine's uid map to %s", path);
	format_map(m->gid, m->n_gid, map, sizeof(map));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	r = rt_write_file(path, map);
	if (r < 0)
		return berr_errno(e, r, "Cannot write the machine's gid map to %s", path);
	return 0;
}

int rt_userns_fd(const rt_idmap *m, berth_err *e)
{
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0)
		return berr_errno(e, -errno, "Cannot create a pipe");
	if (pipe2(down, O_CLOEXEC) < 0) {
		int r = -errno;
		close(up[0]);
		close(up[1]);
		return berr_errno(e, r, "Cannot create a pipe");
	}
	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		return berr_errno(e, r, "Cannot fork");
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		char c = unshare(CLONE_NEWUSER) < 0 ? 'E' : 'U';
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		/* Wait until the parent has written the maps and opened the namespace. */
		while (read(down[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	int fd = -1, r = 0;
	char c = 0, path[64];
	ssize_t n;
	do
		n = read(up[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != 'U') {
		r = berr(e, -EPERM,
			 "Cannot create a user namespace; check that user namespaces are enabled "
			 "(sysctl user.max_user_namespaces)");
		goto out;
	}
	r = rt_idmap_write(pid, m, e);
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = berr_errno(e, -errno, "Cannot open %s", path);
out:
	close(up[0]);
	close(down[1]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return fd >= 0 ? fd : r;
}

/* The host id of inside id i after swapping: inside `in` gets `host`, and the inside id
 * that had `host` before (if any) gets what `in` had. */
static int64_t swapped(const rt_idmap_range *r, size_t n, uint32_t in, uint32_t host,
		       int64_t holder, uint32_t i)
{
	if (i == in)
		return host;
	if (holder >= 0 && i == (uint32_t)holder)
		return rt_idmap_to_host(r, n, in);
	return rt_idmap_to_host(r, n, i);
}

static int keep_one(rt_idmap_range *r, size_t *n, uint32_t in, uint32_t host)
{
	if (in >= RT_IDMAP_SIZE)
		return -ERANGE;
	int64_t holder = -1;
	for (size_t k = 0; k < *n; k++)
		if (host >= r[k].outside && (uint64_t)host < (uint64_t)r[k].outside + r[k].count)
			holder = (int64_t)r[k].inside + (host - r[k].outside);
	rt_idmap_range out[RT_IDMAP_MAX];
	size_t no = 0;
	for (uint32_t i = 0; i < RT_IDMAP_SIZE; i++) {
		int64_t h = swapped(r, *n, in, host, holder, i);
		if (h < 0)
			continue;
		if (no > 0 && out[no - 1].inside + out[no - 1].count == i &&
		    (int64_t)out[no - 1].outside + out[no - 1].count == h) {
			out[no - 1].count++;
			continue;
		}
		if (no == RT_IDMAP_MAX)
			return -E2BIG;
		out[no++] = (rt_idmap_range){i, (uint32_t)h, 1};
	}
	memcpy(r, out, no * sizeof(*out));
	*n = no;
	return 0;
}

int rt_idmap_keep_id(rt_idmap *m, uint32_t uid, uint32_t host_uid, uint32_t gid, uint32_t host_gid,
		     berth_err *e)
{
	rt_idmap t = *m;
	if (keep_one(t.uid, &t.n_uid, uid, host_uid) < 0 ||
	    keep_one(t.gid, &t.n_gid, gid, host_gid) < 0)
		return berr(e, -ERANGE,
			    "Cannot map the host user's ids %u:%u into the machine: they must be "
			    "below %u and the id map may have at most %d ranges",
			    uid, gid, RT_IDMAP_SIZE, RT_IDMAP_MAX);
	*m = t;
	return 0;
}
