/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle: create (state directory, overlay or flattened root, init detection, image
 * hold), start (launch the monitor and wait until the machine is ready), stop (through the
 * monitor's control socket) and remove.
 *
 * The machine's lock file orders them: start takes it without waiting and hands it to the
 * monitor, which holds it until the machine is down, so of two concurrent starts one wins
 * and the other is told the machine is running or starting.
 */
#include "machine-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "delegation.h"
#include "digest.h"
#include "host-user.h"
#include "image.h"
#include "inroot.h"
#include "keepid.h"
#include "layers.h"
#include "store.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where the machine's cgroup goes. As root: /berth for the default root, and a directory
 * per other root under it (/berth/r-<hash of the root's path>), so machines of the same
 * name in two roots (tests, CI jobs side by side) never share a cgroup. A regular user's
 * machines go below the subtree 'berth setup-user' delegated to it (delegation.h). */
static void cgroup_parent_for(const berth_ctx *ctx, char *out, size_t len)
{
	if (geteuid() != 0) {
		delegation_parent(ctx, out, len);
		return;
	}
	_cleanup_free_ char *real = realpath(ctx->root, NULL);
	const char *path = real ? real : ctx->root;
	if (!strcmp(path, "/var/lib/berth")) {
		snprintf(out, len, "%s", "/berth");
		return;
	}
	char d[DIGEST_STR_LEN];
	sha256_buf(path, strlen(path), d);
	snprintf(out, len, "/berth/r-%.12s", digest_hex(d));
}

/* The lowest id-map slot no other machine uses (callers hold machines/.lock). */
static unsigned free_slot(const berth_ctx *ctx)
{
	_cleanup_strv_ char **names = NULL;
	berth_err ignore = {0};
	if (machine_list(ctx, &names, &ignore) < 0 || !names)
		return 0;
	for (unsigned slot = 0; slot < 4096; slot++) {
		bool used = false;
		for (char **n = names; *n && !used; n++) {
			_cleanup_json_ json_t *cfg = NULL;
			if (machine_config_load(ctx, *n, &cfg, &ignore) < 0) {
				berr_clear(&ignore);
				continue;
			}
			json_t *s = json_object_get(cfg, "idmap_slot");
			used = json_is_integer(s) && json_integer_value(s) == (json_int_t)slot;
		}
		if (!used)
			return slot;
	}
	return 0;
}

static int create_dirs(int dfd, const char *const *names, size_t n, berth_err *e)
{
	for (size_t i = 0; i < n; i++)
		if (mkdirat(dfd, names[i], 0700) < 0 && errno != EEXIST)
			return berr_errno(e, -errno, "Cannot create the machine's %s directory",
					  names[i]);
	return 0;
}

/* The machine's hostname is its name: systemd and other inits set it from /etc/hostname,
 * which images often carry from the host they were built on. Written into the machine's
 * own layer (or copy) through in-root lookups, so a hostile /etc symlink stays inside. */
static int write_hostname(int dfd, const char *rootdir, const char *name, const rt_idmap *map,
			  berth_err *e)
{
	/* upper/ holds host ids (the machine's, through its id map); a flattened copy holds
	 * the image's own ids, presented through an idmapped mount. */
	int64_t uid = 0, gid = 0;
	if (!map->helpers && !strcmp(rootdir, "upper")) {
		uid = rt_idmap_to_host(map->uid, map->n_uid, 0);
		gid = rt_idmap_to_host(map->gid, map->n_gid, 0);
		if (uid < 0 || gid < 0)
			return berr(e, -EINVAL, "The machine's id map does not map its root");
	}
	bool own = !map->helpers;
	_cleanup_close_ int root = openat(dfd, rootdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return berr_errno(e, -errno, "Cannot open the machine's %s directory", rootdir);
	_cleanup_close_ int etc = inroot_mkdirs(root, "etc", 0755, NULL, NULL);
	if (etc < 0)
		return 0; /* no usable /etc: the runtime's hostname stays */
	unlinkat(etc, "hostname", 0);
	_cleanup_close_ int fd =
	    openat(etc, "hostname", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || dprintf(fd, "%s\n", name) < 0)
		return berr_errno(e, -errno, "Cannot write the machine's /etc/hostname");
	if (own && (fchown(fd, (uid_t)uid, (gid_t)gid) < 0 ||
		    (!strcmp(rootdir, "upper") && fchown(etc, (uid_t)uid, (gid_t)gid) < 0)))
		return berr_errno(e, -errno, "Cannot hand /etc/hostname to the machine's root");
	return 0;
}

/* Root filesystem: an empty upper/ over the image's layers, or a flattened copy. Fills
 * "rootfs", "layers" and "init_detected" in cfg. */
static int prepare_root(const berth_ctx *ctx, berth_store *s, stored_image *img,
			const machine_create_opts *o, const char *dir, int dfd, unsigned slot,
			json_t *cfg, berth_err *e)
{
	int r = image_unpack(ctx, s, &img->manifest, &img->config, 0, NULL, e);
	if (r < 0)
		return r;
	char(*chains)[DIGEST_STR_LEN] = NULL;
	r = image_chain_ids(&img->config, &chains, e);
	if (r < 0)
		return r;
	size_t n = img->config.n_diff_ids;
	json_t *layers = json_array();
	for (size_t i = n; i-- > 0;) /* top-most first */
		json_array_append_new(layers, json_string(chains[i] + strlen("sha256:")));
	json_object_set_new(cfg, "layers", layers);

	rt_idmap map;
	r = rt_idmap_for_caller(slot, &map, e);
	if (r < 0) {
		free(chains);
		return r;
	}
	const char *detect[130];
	size_t nd = 0;
	char *paths[130] = {0};
	berth_err why = {0};
	static const char *const overlay_dirs[] = {"upper", "work"};
	r = create_dirs(dfd, overlay_dirs, ARRAY_SIZE(overlay_dirs), e);
	/* upper/ is the machine's root directory: everyone must be able to search it. */
	if (r == 0 && fchmodat(dfd, "upper", 0755, 0) < 0)
		r = berr_errno(e, -errno, "Cannot set the mode of the machine's upper directory");
	if (r == 0 && rt_overlay_check(dir, &map, &why) == 0) {
		json_object_set_new(cfg, "rootfs", json_string("overlay"));
		if (asprintf(&paths[nd], "%s/upper", dir) < 0)
			goto oom;
		detect[nd] = paths[nd];
		nd++;
		for (size_t i = n; i-- > 0 && nd < ARRAY_SIZE(paths);) {
			if (asprintf(&paths[nd], "%s/layers/%s/diff", ctx->root,
				     chains[i] + strlen("sha256:")) < 0)
				goto oom;
			detect[nd] = paths[nd];
			nd++;
		}
	} else if (r == 0) {
		berth_warn(ctx,
			   "Overlay is unusable here (%s); machine '%s' gets a full copy of "
			   "its image",
			   why.msg, o->name);
		unlinkat(dfd, "upper", AT_REMOVEDIR);
		unlinkat(dfd, "work", AT_REMOVEDIR);
		json_object_set_new(cfg, "rootfs", json_string("copy"));
		if (mkdirat(dfd, "rootfs", 0755) < 0) {
			r = berr_errno(e, -errno, "Cannot create the machine's rootfs directory");
		} else {
			_cleanup_close_ int rfd =
			    openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			r = rfd < 0 ? berr_errno(e, -errno, "Cannot open the machine's rootfs")
				    : image_flatten(ctx, s, &img->manifest, &img->config, rfd, e);
		}
		if (r == 0) {
			if (asprintf(&paths[0], "%s/rootfs", dir) < 0)
				goto oom;
			detect[0] = paths[0];
			nd = 1;
		}
	}
	rt_init_info init = {0};
	if (r == 0)
		r = write_hostname(dfd, nd > 1 ? "upper" : "rootfs", o->name, &map, e);
	if (r == 0)
		r = rt_init_detect(detect, nd, &init, e);
	if (r == 0 && o->init == MACHINE_INIT_IMAGE && init.kind == RT_INIT_NONE)
		r = berr(e, -ENOENT,
			 "Image %s has no init (no systemd, sysvinit, OpenRC or busybox init was "
			 "found), so machine '%s' cannot boot it with --init image; use --init "
			 "auto or builtin to boot berth-init instead",
			 o->image, o->name);
	if (r == 0)
		json_object_set_new(
		    cfg, "init_detected",
		    json_pack("{s:s,s:s}", "kind", rt_init_name(init.kind), "path", init.path));
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(paths[i]);
	free(chains);
	return r;
oom:
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(paths[i]);
	free(chains);
	return berr(e, -ENOMEM, "Out of memory");
}

/* The host user, home, mounts, agent and isolation into a new machine's config. */
static int host_access_config(const machine_create_opts *o, json_t *cfg, berth_err *e)
{
	host_user u;
	bool found = false;
	home_mode home = o->home_set ? o->home : o->isolated ? HOME_NONE : HOME_RW;
	if (o->isolated && (home != HOME_NONE || o->n_mounts > 0))
		return berr(e, -EINVAL,
			    "An --isolated machine shares nothing with the host; drop --home and "
			    "--mount, or drop --isolated");
	if (o->isolated && o->net.mode == MACHINE_NET_HOST)
		return berr(e, -EINVAL,
			    "An --isolated machine cannot share the host's network; drop "
			    "--network host (it gets its own network, nat) or drop --isolated");
	int r = host_user_detect(&u, &found, e);
	if (r < 0)
		return r;
	if (found)
		json_object_set_new(cfg, "host_user", host_user_to_json(&u));
	for (size_t i = 0; i < o->n_mounts; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(o->mounts[i].dst, o->mounts[j].dst))
				return berr(e, -EINVAL,
					    "Two mounts go to %s in the machine; give each mount "
					    "its own destination",
					    o->mounts[i].dst);
	json_t *mounts = json_array();
	for (size_t i = 0; i < o->n_mounts; i++)
		json_array_append_new(mounts, host_mount_to_json(&o->mounts[i]));
	json_object_set_new(cfg, "home", json_string(home_mode_name(home)));
	json_object_set_new(cfg, "mounts", mounts);
	json_object_set_new(cfg, "isolated", json_boolean(o->isolated));
	json_object_set_new(cfg, "ssh_agent", json_boolean(!o->isolated));
	return 0;
}

int machine_create(const berth_ctx *ctx, const machine_create_opts *o, berth_err *e)
{
	int r = machine_name_valid(o->name, e);
	if (r < 0)
		return r;
	berth_store s;
	r = store_open(ctx->root, &s, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *digest = NULL, *ref = NULL, *mdir = NULL, *dir = NULL, *def = NULL;
	berth_err ignore = {0};
	_cleanup_close_ int mfd = -1, lfd = -1, dfd = -1;
	_cleanup_json_ json_t *cfg = NULL;
	stored_image img = {0};
	r = store_resolve(&s, o->image, &digest, &ref, e);
	if (r == -ENOENT) {
		berr_clear(e);
		r = berr(
		    e, -ENOENT,
		    "Image %s is not in the store; get it with 'berth image pull %s' or 'berth "
		    "image import PATH --tag %s'",
		    o->image, o->image, o->image);
	}
	if (r < 0)
		goto out_store;
	r = stored_image_load(&s, digest, &img, e);
	if (r < 0)
		goto out_store;
	if (asprintf(&mdir, "%s/machines", ctx->root) < 0 || !(dir = machine_dir(ctx, o->name))) {
		r = berr(e, -ENOMEM, "Out of memory");
		goto out_img;
	}
	if (mkdir(mdir, 0700) < 0 && errno != EEXIST) {
		r = berr_errno(e, -errno, "Cannot create %s", mdir);
		goto out_img;
	}
	mfd = open(mdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		r = berr_errno(e, -errno, "Cannot open %s", mdir);
		goto out_img;
	}
	/* One create at a time picks id-map slots. */
	lfd = openat(mfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		r = berr_errno(e, -errno, "Cannot lock %s", mdir);
		goto out_img;
	}
	if (mkdirat(mfd, o->name, 0700) < 0) {
		r = errno == EEXIST ? berr(e, -EEXIST,
					   "A machine called '%s' already exists; pick another "
					   "name or remove it with 'berth rm %s'",
					   o->name, o->name)
				    : berr_errno(e, -errno, "Cannot create %s", dir);
		goto out_img;
	}
	dfd = openat(mfd, o->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned slot = free_slot(ctx);
	char cg_parent[sizeof(((machine_info *)0)->cgroup_parent)];
	cgroup_parent_for(ctx, cg_parent, sizeof(cg_parent));
	if (geteuid() != 0 && (r = delegation_require(o->name, cg_parent, e)) < 0) {
		rm_rf_at(mfd, o->name, &ignore);
		goto out_img;
	}
	cfg = json_pack("{s:s,s:s,s:s,s:I,s:s,s:{s:I,s:I,s:I},s:i,s:s}", "name", o->name, "image",
			ref ? ref : o->image, "image_digest", digest, "created_at",
			(json_int_t)time(NULL), "init", machine_init_mode_name(o->init), "limits",
			"memory", (json_int_t)(o->limits.memory > 0 ? o->limits.memory : 0),
			"cpu_millis",
			(json_int_t)(o->limits.cpu_millis > 0 ? o->limits.cpu_millis : 0), "pids",
			(json_int_t)(o->limits.pids > 0 ? o->limits.pids : 0), "idmap_slot",
			(int)slot, "cgroup_parent", cg_parent);
	if (dfd < 0 || !cfg)
		r = dfd < 0 ? berr_errno(e, -errno, "Cannot open %s", dir)
			    : berr(e, -ENOMEM, "Out of memory");
	if (r == 0)
		r = host_access_config(o, cfg, e);
	if (r == 0)
		r = network_config_add(cfg, &o->net, e);
	if (r == 0)
		r = prepare_root(ctx, &s, &img, o, dir, dfd, slot, cfg, e);
	if (r == 0) {
		char holder[96];
		snprintf(holder, sizeof(holder), "machine-%s", o->name);
		r = store_hold_set(&s, holder, digest, e);
	}
	/* config.json last: a machine without one is incomplete. */
	if (r == 0)
		r = json_save_at(dfd, MACHINE_CONFIG, cfg, e);
	if (r < 0) {
		rm_rf_at(mfd, o->name, &ignore);
		goto out_img;
	}
	if (machine_default_get(ctx, &def, &ignore) == 0 && (!def || !machine_exists(ctx, def)))
		machine_default_set(ctx, o->name, &ignore);
out_img:
	stored_image_free(&img);
out_store:
	store_close(&s);
	return r;
}

static _Noreturn void exec_monitor(const char *monitor, const char *root, const char *name,
				   int lock_fd, int ready_fd, int timeout_ms)
{
	if (setsid() < 0)
		_exit(127);
	pid_t pid = fork();
	if (pid != 0)
		_exit(pid < 0 ? 127 : 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	if (chdir("/") < 0)
		_exit(127);
	umask(0022);
	/* Both survive exec; the monitor marks them close-on-exec for the machine. */
	fcntl(lock_fd, F_SETFD, 0);
	fcntl(ready_fd, F_SETFD, 0);
	char lfd[16], rfd[16], tmo[24];
	snprintf(lfd, sizeof(lfd), "%d", lock_fd);
	snprintf(rfd, sizeof(rfd), "%d", ready_fd);
	snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[] = {(char *)monitor, (char *)root, (char *)name, lfd, rfd, tmo, NULL};
	execv(monitor, argv);
	_exit(127);
}

/* Read the monitor's one-line report ("ok" or "error SENTENCE") until it closes the pipe. */
static int wait_report(int fd, int dfd, const char *name, int64_t deadline, berth_err *e)
{
	char buf[16384];
	size_t len = 0;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return berr(
			    e, -ETIMEDOUT,
			    "Machine '%s' did not report whether it started; see 'berth logs "
			    "%s'",
			    name, name);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || (len += (size_t)k) == sizeof(buf) - 1)
			break;
	}
	buf[len] = 0;
	if (!strncmp(buf, "ok", 2))
		return 0;
	if (!strncmp(buf, "error ", 6)) {
		while (len > 6 && buf[len - 1] == '\n')
			buf[--len] = 0;
		return berr(e, -EIO, "%s", buf + 6);
	}
	_cleanup_free_ char *tail = console_tail(dfd, 10);
	return berr(e, -EIO, "The monitor of machine '%s' exited without saying why%s%s", name,
		    tail && *tail ? "; the last console lines:\n" : "", tail ? tail : "");
}

int machine_start(const berth_ctx *ctx, const char *name, int timeout_ms, berth_err *e)
{
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	_cleanup_close_ int lock = machine_lock_fd(dfd, false, e);
	if (lock == -EWOULDBLOCK) {
		machine_info info;
		berth_err ignore = {0};
		machine_info_load(ctx, name, &info, &ignore);
		if (info.status == MACHINE_RUNNING)
			return berr(e, -EALREADY, "Machine '%s' is already running", name);
		return berr(e, -EALREADY,
			    "Machine '%s' is already starting (or stopping): another berth command "
			    "is working on it",
			    name);
	}
	if (lock < 0)
		return lock;
	machine_info info;
	int r = machine_info_load(ctx, name, &info, e);
	if (r < 0)
		return r;
	r = machine_reap_locked(dfd, &info, e);
	if (r < 0)
		return r;
	if (geteuid() != 0 && info.cgroup_parent[0] &&
	    (r = delegation_require(name, info.cgroup_parent, e)) < 0)
		return r;
	_cleanup_free_ char *monitor = machine_helper_path(MONITOR_BIN);
	if (!monitor)
		return berr(e, -ENOENT,
			    "berth-monitor is not installed next to berth or in its libexec "
			    "directory; reinstall berth");
	_cleanup_free_ char *root = realpath(ctx->root, NULL);
	if (!root)
		return berr_errno(e, -errno, "Cannot resolve the state directory %s", ctx->root);
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return berr_errno(e, -errno, "Cannot create a pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(pp[0]);
		close(pp[1]);
		return berr_errno(e, -errno, "Cannot start the monitor of machine '%s'", name);
	}
	if (pid == 0) {
		close(pp[0]);
		exec_monitor(monitor, root, name, lock, pp[1], timeout_ms);
	}
	close(pp[1]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* The monitor holds the lock now (the same open file); ours goes. */
	close(TAKE_FD(lock));
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 24 * 3600 * 1000) + 60000;
	r = wait_report(pp[0], dfd, name, deadline, e);
	close(pp[0]);
	return r;
}

/* Wait until nobody holds the machine's lock (the monitor exited), up to timeout_ms. */
static int wait_unlocked(int dfd, int timeout_ms, berth_err *e)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int fd = machine_lock_fd(dfd, false, e);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (fd != -EWOULDBLOCK)
			return fd;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int machine_stop(const berth_ctx *ctx, const char *name, int timeout_ms, bool force,
		 bool *was_running, berth_err *e)
{
	*was_running = false;
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd < 0)
		return dfd;
	machine_info info;
	int r = machine_info_load(ctx, name, &info, e);
	if (r < 0)
		return r;
	if (info.stale)
		return machine_reap_stale(ctx, name, e) < 0 ? e->code : 0;
	if (info.status == MACHINE_CREATED || info.status == MACHINE_STOPPED)
		return 0;
	*was_running = true;
	struct sockaddr_un sa;
	unsigned len;
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || control_sockaddr(dfd, &sa, &len) < 0)
		return berr_errno(e, -errno, "Cannot create a socket");
	if (connect(s, (struct sockaddr *)&sa, len) == 0) {
		char req[64];
		int n = snprintf(req, sizeof(req), "stop %d %d", timeout_ms, force ? 1 : 0);
		if (send(s, req, (size_t)n, MSG_NOSIGNAL) == n) {
			struct pollfd p = {.fd = s, .events = POLLIN};
			int wait = (timeout_ms > 0 ? timeout_ms : 0) + 60000;
			char reply[64];
			while (poll(&p, 1, wait) < 0 && errno == EINTR)
				;
			if (recv(s, reply, sizeof(reply), MSG_DONTWAIT) < 0 && errno == EAGAIN)
				return berr(e, -ETIMEDOUT,
					    "Machine '%s' did not stop; its monitor (process %d) "
					    "does not answer",
					    name, (int)info.monitor_pid);
		}
	}
	/* Connection refused or closed: the monitor is exiting; wait for it to let go. */
	r = wait_unlocked(dfd, 30000, e);
	if (r == -ETIMEDOUT)
		return berr(e, r,
			    "Machine '%s' did not stop within %d seconds after it was asked to; "
			    "see 'berth logs %s'",
			    name, timeout_ms / 1000 + 30, name);
	return r;
}

/* A regular user's machine directory holds files of its subordinate ids, which the user
 * removes as root of a user namespace with them (as podman unshare). */
static int rm_machine_dir(int mfd, const char *name, berth_err *e)
{
	int r = rm_rf_at(mfd, name, e);
	if (r >= 0 || geteuid() == 0)
		return r;
	berr_clear(e);
	return keepid_rm_foreign(mfd, name, e);
}

int machine_remove(const berth_ctx *ctx, const char *name, bool force, berth_err *e)
{
	_cleanup_close_ int dfd = machine_dir_open(ctx, name, e);
	if (dfd == -ENOENT && machine_name_valid(name, NULL) == 0) {
		/* An incomplete machine (a failed create) can be removed too. */
		_cleanup_free_ char *d = machine_dir(ctx, name);
		struct stat st;
		if (d && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) {
			berr_clear(e);
			dfd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
	}
	if (dfd < 0)
		return e->code ? e->code : berr_errno(e, -errno, "Cannot open machine '%s'", name);
	_cleanup_close_ int lock = machine_lock_fd(dfd, false, e);
	if (lock == -EWOULDBLOCK) {
		if (!force)
			return berr(
			    e, -EBUSY,
			    "Machine '%s' is running; stop it first with 'berth stop %s' or "
			    "remove it anyway with 'berth rm -f %s'",
			    name, name, name);
		bool was;
		int r = machine_stop(ctx, name, 0, true, &was, e);
		if (r < 0)
			return r;
		lock = machine_lock_fd(dfd, true, e);
	}
	if (lock < 0)
		return lock;
	machine_info info;
	berth_err ignore = {0};
	if (machine_info_load(ctx, name, &info, &ignore) == 0) {
		int r = machine_reap_locked(dfd, &info, e);
		if (r < 0)
			return r;
	}
	berth_store s;
	int r = store_open(ctx->root, &s, e);
	if (r < 0)
		return r;
	char holder[96];
	snprintf(holder, sizeof(holder), "machine-%s", name);
	r = store_hold_release(&s, holder, e);
	if (r == -ENOENT) {
		berr_clear(e);
		r = 0;
	}
	store_close(&s);
	if (r < 0)
		return r;
	_cleanup_free_ char *mdir = NULL;
	if (asprintf(&mdir, "%s/machines", ctx->root) < 0)
		return berr(e, -ENOMEM, "Out of memory");
	_cleanup_close_ int mfd = open(mdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return berr_errno(e, -errno, "Cannot open %s", mdir);
	r = rm_machine_dir(mfd, name, e);
	if (r < 0)
		return berr_prefix(e, "Cannot remove machine '%s'", name);
	_cleanup_free_ char *def = NULL;
	if (machine_default_get(ctx, &def, &ignore) == 0 && def && !strcmp(def, name))
		machine_default_set(ctx, NULL, &ignore);
	return 0;
}
