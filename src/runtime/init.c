/* SPDX-License-Identifier: MIT */
/*
 * Init detection and each init's stop signal.
 *
 * Stop signals, from each init's own source:
 *  - systemd: SIGRTMIN+3 starts halt.target (systemd(1), "Signals"); in a container halting
 *    means PID 1 exits. systemd-nspawn and LXC use the same signal.
 *  - sysvinit: SIGINT runs the inittab "ctrlaltdel" action (init(8)); Debian's inittab runs
 *    "shutdown -t1 -a -r now" there, whose final reboot(2) ends PID 1 of a pid namespace.
 *    SIGPWR runs the "powerwait" action, which depends on a UPS script most images lack.
 *  - busybox init: SIGUSR2 = poweroff, SIGUSR1 = halt, SIGTERM = reboot (init/init.c,
 *    halt_reboot_pwoff()); poweroff runs the inittab "shutdown" actions, kills everything
 *    and calls reboot(2), which ends PID 1 of a pid namespace.
 *  - openrc-init: SIGTERM (and SIGPWR) run "openrc shutdown" then halt; SIGINT reboots
 *    (src/openrc-init/openrc-init.c, signal_handler()).
 *  - berth-init: SIGRTMIN+3 like systemd (SIGTERM works too).
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"

int rt_init_stop_signal(rt_init_kind kind)
{
	switch (kind) {
	case RT_INIT_SYSVINIT:
		return SIGINT;
	case RT_INIT_BUSYBOX:
		return SIGUSR2;
	case RT_INIT_OPENRC:
		return SIGTERM;
	case RT_INIT_SYSTEMD:
	case RT_INIT_BERTH:
	case RT_INIT_NONE:
	default:
		return SIGRTMIN + 3;
	}
}

const char *rt_init_name(rt_init_kind kind)
{
	static const char *const names[] = {
	    [RT_INIT_NONE] = "none",	     [RT_INIT_SYSTEMD] = "systemd",
	    [RT_INIT_SYSVINIT] = "sysvinit", [RT_INIT_OPENRC] = "openrc-init",
	    [RT_INIT_BUSYBOX] = "busybox",   [RT_INIT_BERTH] = "berth-init",
	};
	return (unsigned)kind < ARRAY_SIZE(names) ? names[kind] : "unknown";
}

/* ---- a read-only resolver over overlay layers -------------------------------------------- */

typedef struct layers {
	int fd[64];
	size_t n;
} layers;

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

static bool is_opaque(int dirfd, const char *name)
{
	char v[4];
	static const char *const attrs[] = {"trusted.overlay.opaque", "user.overlay.opaque"};
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(attrs); i++) {
		ssize_t n = fgetxattr(fd, attrs[i], v, sizeof(v));
		if (n == 1 && v[0] == 'y')
			return true;
	}
	return false;
}

/*
 * Resolve an absolute path inside the layered root to the top-most layer holding it, as
 * overlayfs would merge them: a whiteout hides the name in the layers below, an opaque
 * directory or a non-directory hides the directory's contents below it. Symlinks are
 * followed inside the root (at most 40 times). On success out_path is the resolved
 * absolute path, *layer the layer index and *st its stat.
 */
static int resolve(const layers *L, const char *path, char *out_path, size_t out_size,
		   size_t *layer, struct stat *st)
{
	char todo[PATH_MAX], done[PATH_MAX] = "";
	int links = 0;
	size_t limit = L->n, pos = 0;
	if (strlen(path) >= sizeof(todo))
		return -ENAMETOOLONG;
	strcpy(todo, path);
	for (;;) {
		while (todo[pos] == '/')
			pos++;
		if (!todo[pos])
			break;
		size_t end = pos;
		while (todo[end] && todo[end] != '/')
			end++;
		char comp[NAME_MAX + 1];
		if (end - pos > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, todo + pos, end - pos);
		comp[end - pos] = 0;
		pos = end;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			/* Restart from the root with the parent, so the layer limit is right. */
			char *slash = strrchr(done, '/');
			if (slash)
				*slash = 0;
			char rest[PATH_MAX];
			if (snprintf(rest, sizeof(rest), "%s/%s", done, todo + pos) >=
			    (int)sizeof(rest))
				return -ENAMETOOLONG;
			strcpy(todo, rest);
			done[0] = 0;
			pos = 0;
			limit = L->n;
			continue;
		}
		char cand[PATH_MAX];
		if (snprintf(cand, sizeof(cand), "%s/%s", done, comp) >= (int)sizeof(cand))
			return -ENAMETOOLONG;
		bool found = false;
		for (size_t i = 0; i < limit && !found; i++) {
			if (fstatat(L->fd[i], cand + 1, st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (is_whiteout(st))
				return -ENOENT;
			*layer = i;
			found = true;
		}
		if (!found)
			return -ENOENT;
		if (S_ISLNK(st->st_mode)) {
			if (++links > 40)
				return -ELOOP;
			char target[PATH_MAX], rest[PATH_MAX];
			ssize_t tl =
			    readlinkat(L->fd[*layer], cand + 1, target, sizeof(target) - 1);
			if (tl <= 0)
				return -ENOENT;
			target[tl] = 0;
			int w =
			    target[0] == '/'
				? snprintf(rest, sizeof(rest), "%s%s", target, todo + pos)
				: snprintf(rest, sizeof(rest), "%s/%s%s", done, target, todo + pos);
			if (w >= (int)sizeof(rest))
				return -ENAMETOOLONG;
			strcpy(todo, rest);
			done[0] = 0;
			pos = 0;
			limit = L->n;
			continue;
		}
		strcpy(done, cand);
		if (!S_ISDIR(st->st_mode)) {
			if (todo[pos])
				return -ENOTDIR;
			continue;
		}
		/* Which layers still contribute below this directory. */
		struct stat ls;
		for (size_t j = *layer; j < limit; j++) {
			if (fstatat(L->fd[j], cand + 1, &ls, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (!S_ISDIR(ls.st_mode)) {
				limit = j;
				break;
			}
			if (is_opaque(L->fd[j], cand + 1)) {
				limit = j + 1;
				break;
			}
		}
	}
	if (!done[0])
		strcpy(done, "/");
	if (strlen(done) >= out_size)
		return -ENAMETOOLONG;
	strcpy(out_path, done);
	if (fstatat(L->fd[*layer], done[1] ? done + 1 : ".", st, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	return 0;
}

/* Search the first 8 MiB of a regular file for a marker string. */
static bool file_contains(int fd, const char *marker)
{
	size_t ml = strlen(marker);
	char buf[65536 + 64];
	size_t keep = 0;
	off_t total = 0;
	while (total < (8 << 20)) {
		ssize_t n = read(fd, buf + keep, sizeof(buf) - keep);
		if (n <= 0)
			return false;
		size_t len = keep + (size_t)n;
		if (memmem(buf, len, marker, ml))
			return true;
		keep = ml - 1 < len ? ml - 1 : len;
		memmove(buf, buf + len - keep, keep);
		total += n;
	}
	return false;
}

static rt_init_kind classify(const layers *L, size_t layer, const char *resolved)
{
	const char *base = strrchr(resolved, '/');
	base = base ? base + 1 : resolved;
	if (!strcmp(base, "systemd"))
		return RT_INIT_SYSTEMD;
	if (!strcmp(base, "busybox"))
		return RT_INIT_BUSYBOX;
	if (!strcmp(base, "openrc-init"))
		return RT_INIT_OPENRC;
	/* A regular /sbin/init: look at what it is. */
	static const struct {
		const char *marker;
		rt_init_kind kind;
	} markers[] = {
	    {"BusyBox v", RT_INIT_BUSYBOX},	{"OpenRC init", RT_INIT_OPENRC},
	    {"SYSTEMD_", RT_INIT_SYSTEMD},	{"INIT_VERSION=sysvinit", RT_INIT_SYSVINIT},
	    {"/run/initctl", RT_INIT_SYSVINIT}, {"/dev/initctl", RT_INIT_SYSVINIT},
	};
	for (size_t i = 0; i < ARRAY_SIZE(markers); i++) {
		_cleanup_close_ int fd =
		    openat(L->fd[layer], resolved + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return RT_INIT_NONE;
		if (file_contains(fd, markers[i].marker))
			return markers[i].kind;
	}
	return RT_INIT_NONE;
}

static bool executable(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & 0111);
}

int rt_init_detect(const char *const *dirs, size_t n, rt_init_info *out, berth_err *e)
{
	memset(out, 0, sizeof(*out));
	out->kind = RT_INIT_NONE;
	layers L = {.n = 0};
	int r = 0;
	if (n > ARRAY_SIZE(L.fd))
		return berr(e, -E2BIG, "A root of %zu layers is more than the %zu berth supports",
			    n, ARRAY_SIZE(L.fd));
	for (size_t i = 0; i < n; i++) {
		L.fd[i] = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (L.fd[i] < 0) {
			r = berr_errno(e, -errno, "Cannot open root filesystem layer '%s'",
				       dirs[i]);
			goto out;
		}
		L.n = i + 1;
	}
	/* Candidates in the order a kernel would try them (init=/sbin/init first), then the
	 * places systemd and openrc-init live when no /sbin/init points at them. */
	static const char *const candidates[] = {
	    "/sbin/init",	    "/usr/sbin/init",
	    "/lib/systemd/systemd", "/usr/lib/systemd/systemd",
	    "/sbin/openrc-init",    "/usr/sbin/openrc-init",
	};
	for (size_t c = 0; c < ARRAY_SIZE(candidates); c++) {
		char resolved[PATH_MAX];
		size_t layer;
		struct stat st;
		if (resolve(&L, candidates[c], resolved, sizeof(resolved), &layer, &st) < 0 ||
		    !executable(&st))
			continue;
		rt_init_kind k = classify(&L, layer, resolved);
		if (k == RT_INIT_NONE)
			continue;
		out->kind = k;
		/* Exec the path the kernel would, so argv[0] stays "init" where it was. */
		snprintf(out->path, sizeof(out->path), "%s", candidates[c]);
		break;
	}
	out->stop_signal = rt_init_stop_signal(out->kind);
	static const char *const openrc[] = {"/sbin/openrc", "/usr/sbin/openrc",
					     "/sbin/openrc-run"};
	for (size_t c = 0; c < ARRAY_SIZE(openrc); c++) {
		char resolved[PATH_MAX];
		size_t layer;
		struct stat st;
		if (resolve(&L, openrc[c], resolved, sizeof(resolved), &layer, &st) == 0 &&
		    executable(&st))
			out->openrc = true;
	}
out:
	for (size_t i = 0; i < L.n; i++)
		close(L.fd[i]);
	return r;
}
