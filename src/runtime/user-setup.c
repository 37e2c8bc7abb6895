/* SPDX-License-Identifier: MIT */
/*
 * The host user inside a machine: a passwd, group and shadow entry, membership of the sudo
 * (or wheel) group with passwordless sudo where sudo exists, and a home directory when the
 * host's is not shared in.
 *
 * Runs in the machine's own namespaces as its root, right before the init starts, so files
 * get the machine's ownership and nothing outside its root can be reached. It is
 * idempotent: an entry already there is left as it is, so a user the machine changed
 * (a new shell, a password) keeps the change. The files are replaced atomically (a
 * temporary file renamed over the old one, which also replaces a symlink instead of
 * writing through it), keeping their mode and owner.
 */
#include "runtime-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define DB_MAX (16u << 20)
#define SKEL_FILE_MAX (1u << 20)

/* The whole of a regular file (not through a symlink), NUL-terminated; *text NULL when it
 * does not exist. */
static int read_db(const char *path, char **text, size_t *len, struct stat *st)
{
	*text = NULL;
	*len = 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size > DB_MAX)
		return -EINVAL;
	char *buf = malloc((size_t)st->st_size + 2);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st->st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	*text = buf;
	*len = got;
	return 0;
}

/* The line of text whose first field is key (NULL when none); *line_len its length. */
static const char *find_line(const char *text, const char *key, size_t *line_len)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > kl && !strncmp(p, key, kl) && p[kl] == ':') {
			*line_len = len;
			return p;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* Whether a line has a field n (0-based) equal to value, fields split by ':'. */
static bool field_is(const char *line, size_t len, int n, const char *value)
{
	const char *p = line, *end = line + len;
	for (int i = 0; i < n; i++) {
		p = memchr(p, ':', (size_t)(end - p));
		if (!p)
			return false;
		p++;
	}
	const char *q = memchr(p, ':', (size_t)(end - p));
	size_t fl = q ? (size_t)(q - p) : (size_t)(end - p);
	return fl == strlen(value) && !strncmp(p, value, fl);
}

/* Append line (with its newline) to the database at path, creating it with mode when it
 * does not exist. */
static int append_line(const char *path, const char *text, size_t len, const struct stat *st,
		       const char *line, mode_t mode)
{
	size_t ll = strlen(line);
	bool nl = len > 0 && text[len - 1] != '\n';
	_cleanup_free_ char *out = malloc(len + ll + 2);
	if (!out)
		return -ENOMEM;
	memcpy(out, text ? text : "", len);
	size_t n = len;
	if (nl)
		out[n++] = '\n';
	memcpy(out + n, line, ll);
	n += ll;
	return rt_write_file_atomic(path, out, n, text ? st->st_mode : mode, text ? st->st_uid : 0,
				    text ? st->st_gid : 0);
}

static int ensure_passwd(const rt_user *u, const char *shell, berth_err *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len, ll;
	struct stat st;
	int r = read_db("/etc/passwd", &text, &len, &st);
	if (r < 0)
		return berr_errno(e, r, "Cannot read the machine's /etc/passwd");
	if (text && find_line(text, u->name, &ll))
		return 0;
	char line[1024];
	snprintf(line, sizeof(line), "%s:x:%u:%u:%s:%s:%s\n", u->name, u->uid, u->gid,
		 u->gecos ? u->gecos : "", u->home, shell);
	r = append_line("/etc/passwd", text, len, &st, line, 0644);
	return r < 0
		   ? berr_errno(e, r, "Cannot add user '%s' to the machine's /etc/passwd", u->name)
		   : 0;
}

static int ensure_shadow(const rt_user *u, berth_err *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len, ll;
	struct stat st;
	int r = read_db("/etc/shadow", &text, &len, &st);
	if (r < 0)
		return berr_errno(e, r, "Cannot read the machine's /etc/shadow");
	/* No shadow file (busybox images): the passwd entry's "x" is all there is. */
	if (!text || find_line(text, u->name, &ll))
		return 0;
	char line[256];
	/* A locked password: sudo works without one, logins with a password do not. */
	snprintf(line, sizeof(line), "%s:!:%ld:0:99999:7:::\n", u->name,
		 (long)(time(NULL) / 86400));
	r = append_line("/etc/shadow", text, len, &st, line, 0640);
	return r < 0
		   ? berr_errno(e, r, "Cannot add user '%s' to the machine's /etc/shadow", u->name)
		   : 0;
}

/* The group with gid u->gid exists (else a group named after the user is added); the user
 * is a member of admin_group when that group exists. */
static int ensure_groups(const rt_user *u, const char *admin_group, bool *admin, berth_err *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len, ll;
	struct stat st;
	*admin = false;
	int r = read_db("/etc/group", &text, &len, &st);
	if (r < 0)
		return berr_errno(e, r, "Cannot read the machine's /etc/group");
	char gid[16];
	snprintf(gid, sizeof(gid), "%u", u->gid);
	bool have_gid = false;
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (field_is(p, l, 2, gid))
			have_gid = true;
		p = eol ? eol + 1 : NULL;
	}
	if (!have_gid) {
		char line[256];
		snprintf(line, sizeof(line), "%s:x:%u:\n", u->name, u->gid);
		r = append_line("/etc/group", text, len, &st, line, 0644);
		if (r < 0)
			return berr_errno(e, r, "Cannot add group %u to the machine's /etc/group",
					  u->gid);
		free(text);
		text = NULL;
		r = read_db("/etc/group", &text, &len, &st);
		if (r < 0 || !text)
			return berr_errno(e, r < 0 ? r : -ENOENT,
					  "Cannot read the machine's /etc/group");
	}
	const char *g = admin_group ? find_line(text, admin_group, &ll) : NULL;
	if (!g)
		return 0;
	*admin = true;
	/* Members: the fourth field, comma separated. */
	const char *members = g;
	for (int i = 0; i < 3 && members; i++) {
		members = memchr(members, ':', ll - (size_t)(members - g));
		if (members)
			members++;
	}
	if (!members)
		return 0; /* a malformed line: leave it */
	size_t ml = ll - (size_t)(members - g), nl = strlen(u->name);
	for (const char *m = members; m < members + ml;) {
		const char *c = memchr(m, ',', (size_t)(members + ml - m));
		size_t l = c ? (size_t)(c - m) : (size_t)(members + ml - m);
		if (l == nl && !strncmp(m, u->name, nl))
			return 0;
		m = c ? c + 1 : members + ml;
	}
	size_t at = (size_t)(g - text) + ll; /* end of the admin group's line */
	_cleanup_free_ char *out = malloc(len + nl + 2);
	if (!out)
		return berr(e, -ENOMEM, "Out of memory");
	memcpy(out, text, at);
	size_t n = at;
	if (ml > 0)
		out[n++] = ',';
	memcpy(out + n, u->name, nl);
	n += nl;
	memcpy(out + n, text + at, len - at);
	n += len - at;
	r = rt_write_file_atomic("/etc/group", out, n, st.st_mode, st.st_uid, st.st_gid);
	return r < 0 ? berr_errno(e, r, "Cannot add user '%s' to group %s in the machine", u->name,
				  admin_group)
		     : 0;
}

static int ensure_sudoers(const rt_user *u, berth_err *e)
{
	struct stat st;
	if (lstat("/etc/sudoers.d", &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/etc/sudoers.d/berth-%s", u->name);
	if (lstat(path, &st) == 0)
		return 0;
	/* sudoers.d skips files with a '.' in their name: keep the name plain. */
	for (char *p = path + strlen("/etc/sudoers.d/"); *p; p++)
		if (*p == '.')
			*p = '_';
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "# Made by berth: the host user may use sudo without a password.\n"
			 "%s ALL=(ALL:ALL) NOPASSWD: ALL\n",
			 u->name);
	int r = rt_write_file_atomic(path, line, (size_t)n, 0440, 0, 0);
	return r < 0 ? berr_errno(e, r, "Cannot write %s in the machine", path) : 0;
}

/* Copy the regular files directly in /etc/skel into a new home. */
static void copy_skel(const rt_user *u)
{
	_cleanup_closedir_ DIR *d = opendir("/etc/skel");
	if (!d)
		return;
	_cleanup_close_ int home = open(u->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (home < 0)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		_cleanup_close_ int in =
		    openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		struct stat st;
		if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size > SKEL_FILE_MAX)
			continue;
		_cleanup_close_ int out =
		    openat(home, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			   st.st_mode & 0777);
		if (out < 0)
			continue;
		char buf[65536];
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		if (fchown(out, u->uid, u->gid) < 0) {
			/* Left owned by root: readable, which is what matters for a skeleton. */
		}
	}
}

static int ensure_home(const rt_user *u, berth_err *e)
{
	struct stat st;
	if (lstat(u->home, &st) == 0)
		return 0;
	/* Parents as root, the home itself as the user's. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", u->home);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create %s in the machine", p);
		*s = '/';
	}
	if (mkdir(u->home, 0755) < 0)
		return berr_errno(e, -errno, "Cannot create the home directory %s in the machine",
				  u->home);
	if (chown(u->home, u->uid, u->gid) < 0)
		return berr_errno(e, -errno, "Cannot give %s to user '%s' in the machine", u->home,
				  u->name);
	copy_skel(u);
	return 0;
}

bool rt_user_valid(const rt_user *u)
{
	if (!u->name || !*u->name || strlen(u->name) > 32 || !u->home || u->home[0] != '/' ||
	    !u->shell || u->shell[0] != '/' || u->uid == 0 || u->uid >= RT_IDMAP_SIZE ||
	    u->gid >= RT_IDMAP_SIZE)
		return false;
	for (const char *p = u->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' ||
		      (*p == '$' && !p[1])))
			return false;
	if (u->name[0] == '-' || u->name[0] == '.')
		return false;
	const char *fields[] = {u->home, u->shell, u->gecos ? u->gecos : ""};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (strlen(fields[i]) > 255 || strpbrk(fields[i], ":\n\r"))
			return false;
	return !strstr(u->home, "/../") && strcmp(u->home, "/");
}

int rt_user_setup(const rt_user *u, berth_err *e)
{
	if (!rt_user_valid(u))
		return berr(e, -EINVAL,
			    "The host user '%s' cannot be made in the machine: its name, ids, home "
			    "or shell do not fit a passwd entry",
			    u->name ? u->name : "");
	/* The host's shell when the machine has it, else /bin/sh. */
	const char *shell = access(u->shell, X_OK) == 0 ? u->shell : "/bin/sh";
	bool admin = false;
	int r = ensure_passwd(u, shell, e);
	if (r == 0)
		r = ensure_shadow(u, e);
	if (r == 0) {
		struct stat st;
		bool has_sudo = lstat("/etc/sudoers", &st) == 0;
		const char *group = NULL;
		if (has_sudo) {
			_cleanup_free_ char *text = NULL;
			size_t len, ll;
			if (read_db("/etc/group", &text, &len, &st) == 0 && text)
				group = find_line(text, "sudo", &ll)	? "sudo"
					: find_line(text, "wheel", &ll) ? "wheel"
									: NULL;
		}
		r = ensure_groups(u, group, &admin, e);
		if (r == 0 && has_sudo)
			r = ensure_sudoers(u, e);
	}
	if (r == 0 && u->make_home)
		r = ensure_home(u, e);
	return r;
}
