/* SPDX-License-Identifier: MIT */
/*
 * The machine's file system: the root (an overlay of layer directories under the machine's
 * upper directory, or one flattened directory), then /dev, /proc, /sys, cgroups, /run,
 * /tmp, /run/host and binds, then pivot_root.
 *
 * Every target inside the machine's root is opened with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) and mounted on through /proc/self/fd, so a hostile image (say
 * /dev -> /etc) cannot redirect a mount outside its root.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

/* ---- the root ---------------------------------------------------------------------------- */

static int clone_tree(const char *path, int userns_fd, bool ro, berth_err *e)
{
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return berr_errno(e, -errno, "Cannot open '%s' for the machine's root", path);
	struct mount_attr a = {0};
	if (userns_fd >= 0) {
		a.attr_set |= MOUNT_ATTR_IDMAP;
		a.userns_fd = (uint64_t)userns_fd;
	}
	if (ro)
		a.attr_set |= MOUNT_ATTR_RDONLY;
	if (a.attr_set && mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0) {
		int r = -errno;
		close(fd);
		if (userns_fd >= 0 && (r == -EINVAL || r == -EOPNOTSUPP))
			return berr(e, r,
				    "The file system of '%s' does not support idmapped mounts, "
				    "which a machine root shared between machines needs; use a "
				    "flattened copy of the image instead",
				    path);
		return berr_errno(e, r, "Cannot prepare '%s' for the machine's root", path);
	}
	return fd;
}

static int set_layer(int fsfd, const char *key, int fd, const char *path, berth_err *e)
{
	if (fsconfig(fsfd, FSCONFIG_SET_FD, key, NULL, fd) == 0)
		return 0;
	int r = -errno;
	/* Kernels before 6.13 take layers only as paths; the fd's magic link is one. */
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if (r == -EINVAL && fsconfig(fsfd, FSCONFIG_SET_STRING, key, p, 0) == 0)
		return 0;
	return berr_errno(e, r, "The kernel refused '%s' as an overlay %s for the machine's root",
			  path, key);
}

static int overlay_error(int fsfd, int r, berth_err *e)
{
	/* The kernel explains overlay refusals in the fs context's log. */
	char msg[512];
	ssize_t n = read(fsfd, msg, sizeof(msg) - 1);
	if (n > 0) {
		msg[n] = 0;
		msg[strcspn(msg, "\n")] = 0;
		return berr(e, r, "Cannot mount the machine's overlay root (kernel: %s)", msg);
	}
	return berr_errno(e, r, "Cannot mount the machine's overlay root");
}

static int build_upper(int fsfd, const rt_rootfs *rf, int userns_fd, berth_err *e);

int rt_rootfs_build(const rt_rootfs *rf, int userns_fd, berth_err *e)
{
	if (!rf->lower)
		return clone_tree(rf->dir, userns_fd, false, e);
	if (rf->n_lower == 0 || !rf->upper || !rf->work)
		return berr(e, -EINVAL,
			    "An overlay root needs layers, an upper and a work directory");
	/* upper and work must be on one mount: idmap their common parent once. */
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", rf->upper);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return berr(e, -EINVAL, "The upper directory '%s' needs a parent directory",
			    rf->upper);
	*slash = 0;
	size_t pl = strlen(parent);
	if (strncmp(rf->work, parent, pl) || rf->work[pl] != '/' || strchr(rf->work + pl + 1, '/'))
		return berr(e, -EINVAL,
			    "The overlay work directory '%s' must be a sibling of the upper "
			    "directory '%s'",
			    rf->work, rf->upper);
	_cleanup_close_ int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return berr_errno(e, -errno, "This kernel has no overlay file system");
	/* The detached layer mounts must stay open until the overlay exists: closing one
	 * dissolves it, and overlayfs then refuses it at FSCONFIG_CMD_CREATE. */
	_cleanup_free_ int *lfds = calloc(rf->n_lower, sizeof(int));
	if (!lfds)
		return berr(e, -ENOMEM, "Out of memory");
	size_t nl = 0;
	int r = 0;
	for (; nl < rf->n_lower && r == 0; nl++) {
		lfds[nl] = clone_tree(rf->lower[nl], userns_fd, true, e);
		if (lfds[nl] < 0) {
			r = lfds[nl];
			break;
		}
		r = set_layer(fsfd, "lowerdir+", lfds[nl], rf->lower[nl], e);
	}
	if (r == 0)
		r = build_upper(fsfd, rf, userns_fd, e);
	for (size_t i = 0; i < nl; i++)
		if (lfds[i] >= 0)
			close(lfds[i]);
	return r;
}

/* Upper and work directories, then create and mount the overlay. */
static int build_upper(int fsfd, const rt_rootfs *rf, int userns_fd, berth_err *e)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", rf->upper);
	char *slash = strrchr(parent, '/');
	*slash = 0;
	size_t pl = strlen(parent);
	int r;
	/* The upper directory is not idmapped: overlayfs creates its work files with the
	 * mounter's credentials (host root), which an idmapped upper cannot represent
	 * (EOVERFLOW). So the upper directory holds host ids: the machine's root is its id
	 * map's host root (rt_spawn hands a fresh upper directory to it). */
	_cleanup_close_ int pfd = clone_tree(parent, -1, false, e);
	if (pfd < 0)
		return pfd;
	_cleanup_close_ int ufd = openat(pfd, slash + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int wfd = openat(pfd, rf->work + pl + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0 || wfd < 0)
		return berr_errno(e, -errno,
				  "Cannot open the machine's upper and work directories "
				  "'%s' and '%s'",
				  rf->upper, rf->work);
	r = set_layer(fsfd, "upperdir", ufd, rf->upper, e);
	if (r == 0)
		r = set_layer(fsfd, "workdir", wfd, rf->work, e);
	/* Without an idmap (mounted inside the machine's user namespace) trusted.* xattrs are
	 * out of reach: use user.* ones. */
	if (r == 0 && userns_fd < 0)
		fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0);
	if (r < 0)
		return r;
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return overlay_error(fsfd, -errno, e);
	int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return overlay_error(fsfd, -errno, e);
	return mfd;
}

/* rm -r for the probe's scratch directory (which it created itself). Empty directories go
 * first without being opened: overlayfs leaves work/work with mode 000. */
static void rm_rf_at(int dfd, const char *name)
{
	if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return;
	if (errno == ENOTDIR) {
		unlinkat(dfd, name, 0);
		return;
	}
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_rf_at(fd, de->d_name);
	if (d)
		closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

int rt_overlay_check(const char *scratch_dir, const rt_idmap *m, berth_err *e)
{
	char base[PATH_MAX], l[PATH_MAX + 8], u[PATH_MAX + 8], w[PATH_MAX + 8];
	snprintf(base, sizeof(base), "%s/.berth-overlay-check-XXXXXX", scratch_dir);
	if (!mkdtemp(base))
		return berr_errno(e, -errno, "Cannot create a scratch directory in '%s'",
				  scratch_dir);
	snprintf(l, sizeof(l), "%s/l", base);
	snprintf(u, sizeof(u), "%s/u", base);
	snprintf(w, sizeof(w), "%s/w", base);
	int r = 0;
	if (mkdir(l, 0755) < 0 || mkdir(u, 0755) < 0 || mkdir(w, 0755) < 0) {
		r = berr_errno(e, -errno, "Cannot create directories in '%s'", base);
		goto out;
	}
	const char *lower[] = {l};
	rt_rootfs rf = {.lower = lower, .n_lower = 1, .upper = u, .work = w};
	if (!m->helpers) {
		int ns = rt_userns_fd(m, e);
		if (ns < 0) {
			r = ns;
			goto out;
		}
		int fd = rt_rootfs_build(&rf, ns, e);
		close(ns);
		if (fd < 0)
			r = fd;
		else
			close(fd);
		goto out;
	}
	/* Caller is not root: the overlay is mounted inside the machine's user namespace. */
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0) {
		r = berr_errno(e, -errno, "Cannot create a pipe");
		goto out;
	}
	if (pipe2(down, O_CLOEXEC) < 0) {
		r = berr_errno(e, -errno, "Cannot create a pipe");
		close(up[0]);
		close(up[1]);
		goto out;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		char c = unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ? 'E' : 'U';
		if (write(up[1], &c, 1) != 1 || c == 'E')
			_exit(2);
		/* The parent writes the maps, then says so. */
		if (read(down[0], &c, 1) != 1)
			_exit(2);
		berth_err ce = {0};
		int fd = -1;
		if (setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0)
			fd = rt_rootfs_build(&rf, -1, &ce);
		_exit(fd >= 0 ? 0 : 1);
	}
	close(up[1]);
	close(down[0]);
	char c = 0;
	if (pid < 0 || read(up[0], &c, 1) != 1 || c != 'U')
		r = berr(e, -EPERM, "Cannot create a user namespace to try an overlay root");
	else
		r = rt_idmap_write(pid, m, e);
	if (r == 0 && write(down[1], "g", 1) != 1)
		r = berr_errno(e, -errno, "Cannot reach the overlay probe process");
	close(up[0]);
	close(down[1]);
	if (pid > 0) {
		int st;
		if (r < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			r = berr(
			    e, -EOPNOTSUPP,
			    "An overlay root cannot be mounted in a user namespace here (needs "
			    "Linux 5.11 or later); use a flattened copy of the image instead");
	}
out:;
	_cleanup_close_ int sfd = open(scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd >= 0)
		rm_rf_at(sfd, strrchr(base, '/') + 1);
	return r;
}

/* ---- paths inside the machine's root ----------------------------------------------------- */

enum { AT_DIR, AT_FILE, AT_ANY };

/* Open (creating when missing, as a directory or an empty file) a path inside root as an
 * O_PATH fd, resolved with RESOLVE_IN_ROOT so symlinks stay inside. */
static int open_in_root(int rootfd, const char *path, int kind, mode_t mode)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd >= 0 || errno != ENOENT || kind == AT_ANY)
		return fd >= 0 ? fd : -errno;
	/* Create the missing component(s): parent first. */
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	const char *name = slash ? slash + 1 : parent;
	int pfd;
	if (slash && slash != parent) {
		*slash = 0;
		pfd = open_in_root(rootfd, parent, AT_DIR, 0755);
	} else {
		pfd = dup(rootfd);
	}
	if (pfd < 0)
		return pfd < 0 && pfd != -1 ? pfd : -errno;
	/* O_PATH fds cannot create: reopen the parent as a directory through its fd. */
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
	int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(pfd);
	if (dfd < 0)
		return -errno;
	int r;
	if (kind == AT_DIR)
		r = mkdirat(dfd, name, mode) < 0 && errno != EEXIST ? -errno : 0;
	else {
		int f = openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
		r = f < 0 ? -errno : 0;
		if (f >= 0)
			close(f);
	}
	if (r == 0) {
		fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		r = fd < 0 ? -errno : fd;
	}
	close(dfd);
	return r;
}

/* mount(2) onto an O_PATH fd (and from one when src_fd >= 0). */
static int mount_fd(const char *src, int src_fd, int target_fd, const char *type,
		    unsigned long flags, const char *data)
{
	char s[64], t[64];
	snprintf(t, sizeof(t), "/proc/self/fd/%d", target_fd);
	if (src_fd >= 0)
		snprintf(s, sizeof(s), "/proc/self/fd/%d", src_fd), src = s;
	return mount(src, t, type, flags, data) < 0 ? -errno : 0;
}

static int make_ro(int target_fd, bool recursive)
{
	struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
	return mount_setattr(target_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a,
			     sizeof(a)) < 0
		   ? -errno
		   : 0;
}

typedef struct mctx {
	int root;
	const char *root_path;
	berth_err *e;
} mctx;

/* Mount a fresh file system at path inside the root (created as a directory). */
static int fs_at(mctx *m, const char *path, const char *type, unsigned long flags, const char *data)
{
	_cleanup_close_ int fd = open_in_root(m->root, path, AT_DIR, 0755);
	if (fd < 0)
		return berr_errno(m->e, fd, "Cannot create '%s' in the machine's root", path);
	int r = mount_fd(type, -1, fd, type, flags, data);
	if (r < 0)
		return berr_errno(m->e, r, "Cannot mount %s on '%s' in the machine", type, path);
	return 0;
}

/* Bind host path src onto path inside the root (created like src: file or directory). */
static int bind_at(mctx *m, const char *src, int src_fd, const char *path, bool ro, bool optional)
{
	struct stat st;
	int sr = src_fd >= 0 ? fstat(src_fd, &st) : stat(src, &st);
	if (sr < 0 && !optional && (errno == EACCES || errno == EPERM))
		return berr_errno(m->e, -errno,
				  "Cannot bind '%s' into the machine: the machine's root (not host "
				  "root) cannot reach it; make it and the directories above it "
				  "searchable by others (chmod o+x)",
				  src);
	if (sr < 0)
		return optional
			   ? 0
			   : berr_errno(m->e, -errno, "Cannot bind '%s' into the machine", src);
	_cleanup_close_ int fd = open_in_root(m->root, path, S_ISDIR(st.st_mode) ? AT_DIR : AT_FILE,
					      S_ISDIR(st.st_mode) ? 0755 : 0644);
	if (fd < 0) {
		if (optional)
			return 0;
		return berr_errno(m->e, fd, "Cannot create '%s' in the machine's root", path);
	}
	/* An fd opened before the mount namespace was unshared points at a mount of the old
	 * namespace, which cannot be bound here: bind its path, found in this namespace's copy. */
	char linked[PATH_MAX];
	if (src_fd >= 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", src_fd);
		ssize_t n = readlink(p, linked, sizeof(linked) - 1);
		if (n <= 0 || linked[0] != '/')
			return berr_errno(m->e, n < 0 ? -errno : -EINVAL,
					  "Cannot find the path of the file to bind on '%s'", path);
		linked[n] = 0;
		src = linked;
	}
	int r = mount_fd(src, -1, fd, NULL, MS_BIND | MS_REC, NULL);
	if (r == 0 && ro) {
		_cleanup_close_ int again = open_in_root(m->root, path, AT_ANY, 0);
		r = again < 0 ? again : make_ro(again, true);
	}
	if (r < 0 && !optional)
		return berr_errno(m->e, r, "Cannot bind '%s' on '%s' in the machine", src, path);
	return 0;
}

/* Hide a path that exists in the machine's /proc or /sys (crun's and nspawn's masks). */
static int mask(mctx *m, const char *path)
{
	_cleanup_close_ int fd = open_in_root(m->root, path, AT_ANY, 0);
	if (fd < 0)
		return 0; /* not on this kernel */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return 0;
	int r = S_ISDIR(st.st_mode) ? mount_fd("tmpfs", -1, fd, "tmpfs", MS_RDONLY, "mode=555")
				    : mount_fd("/dev/null", -1, fd, NULL, MS_BIND, NULL);
	if (r < 0)
		return berr_errno(m->e, r, "Cannot mask '%s' in the machine", path);
	return 0;
}

static int ro_self(mctx *m, const char *path)
{
	_cleanup_close_ int fd = open_in_root(m->root, path, AT_ANY, 0);
	if (fd < 0)
		return 0;
	int r = mount_fd(NULL, fd, fd, NULL, MS_BIND | MS_REC, NULL);
	if (r == 0) {
		_cleanup_close_ int again = open_in_root(m->root, path, AT_ANY, 0);
		r = again < 0 ? again : make_ro(again, true);
	}
	if (r < 0)
		return berr_errno(m->e, r, "Cannot make '%s' read-only in the machine", path);
	return 0;
}

static int setup_proc(mctx *m)
{
	int r = fs_at(m, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	static const char *const ro[] = {"/proc/sys", "/proc/sysrq-trigger",
					 "/proc/irq", "/proc/bus",
					 "/proc/fs",  "/proc/asound"};
	static const char *const masked[] = {
	    "/proc/kcore",	 "/proc/keys",	      "/proc/latency_stats", "/proc/timer_list",
	    "/proc/timer_stats", "/proc/sched_debug", "/proc/acpi",	     "/proc/scsi"};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(ro); i++)
		r = ro_self(m, ro[i]);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(masked); i++)
		r = mask(m, masked[i]);
	return r;
}

static int setup_sys(mctx *m, const rt_config *c, const rt_cgroup *cg)
{
	int r;
	if (c->private_network) {
		r = fs_at(m, "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	} else {
		/* A fresh sysfs needs a network namespace of our own: bind the host's. */
		r = bind_at(m, "/sys", -1, "/sys", true, false);
	}
	static const char *const masked[] = {"/sys/firmware", "/sys/kernel/security",
					     "/sys/fs/selinux"};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(masked); i++)
		r = mask(m, masked[i]);
	if (r == 0)
		r = rt_cgroup_mount_inside(cg, m->root_path, m->e);
	return r;
}

static int symlink_in(mctx *m, const char *target, const char *path)
{
	_cleanup_close_ int dev = open_in_root(m->root, "/dev", AT_DIR, 0755);
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", dev);
	_cleanup_close_ int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (symlinkat(target, dfd, path + 5) < 0 && errno != EEXIST))
		return berr_errno(m->e, -errno, "Cannot create '%s' in the machine", path);
	return 0;
}

static int setup_dev(mctx *m, int console_fd)
{
	int r = fs_at(m, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=4m");
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(nodes); i++) {
		char host[32], in[32];
		snprintf(host, sizeof(host), "/dev/%s", nodes[i]);
		snprintf(in, sizeof(in), "/dev/%s", nodes[i]);
		r = bind_at(m, host, -1, in, false, false);
	}
	if (r == 0)
		r = fs_at(m, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  "newinstance,ptmxmode=0666,mode=620,gid=5");
	if (r == 0)
		r = symlink_in(m, "pts/ptmx", "/dev/ptmx");
	if (r == 0)
		r = fs_at(m, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	if (r == 0 && fs_at(m, "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		berr_clear(m->e); /* optional: kernels without POSIX message queues */
	static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
					       {"/proc/self/fd/0", "/dev/stdin"},
					       {"/proc/self/fd/1", "/dev/stdout"},
					       {"/proc/self/fd/2", "/dev/stderr"},
					       {"/proc/kcore", "/dev/core"}};
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(links); i++)
		r = symlink_in(m, links[i][0], links[i][1]);
	if (r == 0 && console_fd >= 0)
		r = bind_at(m, NULL, console_fd, "/dev/console", false, false);
	return r;
}

static int setup_run(mctx *m, const rt_config *c, int *notify_fd)
{
	int r = fs_at(m, "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=20%");
	if (r == 0)
		r = fs_at(m, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	if (r < 0)
		return r;
	_cleanup_close_ int hostdir = open_in_root(m->root, "/run/host", AT_DIR, 0755);
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", hostdir);
	_cleanup_close_ int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hostdir < 0 || dfd < 0)
		return berr_errno(m->e, -errno, "Cannot create /run/host in the machine");
	/* systemd's container interface: /run/host/container-manager names the manager. */
	_cleanup_close_ int f =
	    openat(dfd, "container-manager", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (f < 0 || write(f, "berth\n", 6) != 6)
		return berr_errno(m->e, -errno, "Cannot write /run/host/container-manager");
	if (c->berth_init) {
		r = bind_at(m, c->berth_init, -1, RT_BERTH_INIT_PATH, true, false);
		if (r < 0)
			return r;
	}
	if (c->notify) {
		/* Bound relative to /run/host: the absolute path may not fit in sun_path. */
		int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "notify"};
		int cwd = open(".", O_PATH | O_CLOEXEC);
		if (s < 0 || cwd < 0 || fchdir(dfd) < 0 ||
		    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = berr_errno(m->e, -errno,
				       "Cannot create the notify socket in the machine");
			if (s >= 0)
				close(s);
		} else {
			*notify_fd = s;
		}
		if (cwd >= 0) {
			if (fchdir(cwd) < 0 && r == 0)
				r = berr_errno(m->e, -errno,
					       "Cannot return to the working directory");
			close(cwd);
		}
	}
	if (r == 0)
		r = ro_self(m, "/run/host");
	return r;
}

int rt_mounts_setup(const rt_config *c, const rt_cgroup *cg, int root_fd, int *notify_fd,
		    berth_err *e)
{
	const char *mp = c->rootfs.mountpoint;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return berr_errno(e, -errno, "Cannot make the machine's mount namespace private");
	_cleanup_close_ int built = -1;
	if (root_fd < 0) {
		built = rt_rootfs_build(&c->rootfs, -1, e);
		if (built < 0)
			return built;
		root_fd = built;
	}
	if (move_mount(root_fd, "", AT_FDCWD, mp, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return berr_errno(e, -errno, "Cannot attach the machine's root at '%s'", mp);
	mctx m = {.root_path = mp, .e = e};
	m.root = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m.root < 0)
		return berr_errno(e, -errno, "Cannot open the machine's root at '%s'", mp);
	int r = setup_dev(&m, c->console_fd);
	if (r == 0)
		r = setup_proc(&m);
	if (r == 0)
		r = setup_sys(&m, c, cg);
	if (r == 0)
		r = setup_run(&m, c, notify_fd);
	for (size_t i = 0; r == 0 && i < c->n_binds; i++)
		r = bind_at(&m, c->binds[i].src, -1, c->binds[i].dst, c->binds[i].ro, false);
	if (r == 0) {
		/* pivot_root(".", "."): the old root ends up on top of the new one, and is
		 * detached right away (pivot_root(2), "NOTES"). */
		if (fchdir(m.root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
		    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
			r = berr_errno(e, -errno, "Cannot switch to the machine's root");
	}
	close(m.root);
	return r;
}
