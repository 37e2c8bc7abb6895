/* SPDX-License-Identifier: MIT */
/*
 * Booting a machine: cgroup, namespaces, id maps, root, PID 1; and waiting for it.
 *
 * Parent and child talk over a SOCK_SEQPACKET pair:
 *   child  <- parent: "go" (+ the root as a detached mount when the parent built it), sent
 *                     once the id maps are written and the child is in its cgroup;
 *   parent <- child:  { 0 } (+ the notify socket) right before execve, or { -errno, text }
 *                     when a step failed; EOF (close-on-exec) means execve succeeded.
 * The cgroup namespace is unshared only after the parent has moved the child into the
 * machine's cgroup, so the machine's cgroup is its cgroup root.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

typedef struct child_msg {
	int code;
	char text[sizeof(((berth_err *)0)->msg)];
} child_msg;

static _Noreturn void child_fail(int sock, berth_err *e, int code)
{
	child_msg msg = {.code = e->code ? e->code : code};
	snprintf(msg.text, sizeof(msg.text), "%s", e->msg[0] ? e->msg : "Machine setup failed");
	rt_send_fd(sock, &msg, sizeof(msg), -1);
	_exit(1);
}

static bool env_has(char *const *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
			return true;
	return false;
}

static _Noreturn void child_main(const rt_config *c, const rt_cgroup *cg, int sock)
{
	berth_err e = {0};
	char go;
	int root_fd = -1, notify_fd = -1;
	ssize_t n = rt_recv_fd(sock, &go, 1, &root_fd);
	if (n != 1)
		_exit(1); /* the parent gave up; it reports why */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		child_fail(sock, &e, berr_errno(&e, -errno, "Cannot become root in the machine"));
	/* Refused when newgidmap set "deny": then there is nothing to drop anyway. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		child_fail(sock, &e, berr_errno(&e, -errno, "Cannot clear supplementary groups"));
	/* A regular user's machine: its root hands itself its cgroup and console (the user
	 * cannot give them to a subordinate id; root of the machine's user namespace can). */
	if (c->idmap->helpers) {
		if (rt_cgroup_delegate(cg, 0, 0, &e) < 0)
			child_fail(sock, &e, e.code);
		if (c->console_fd >= 0 && fchown(c->console_fd, 0, (gid_t)-1) < 0)
			child_fail(sock, &e,
				   berr_errno(&e, -errno,
					      "Cannot hand the console to the machine's root"));
	}
	if (unshare(CLONE_NEWCGROUP) < 0)
		child_fail(sock, &e, berr_errno(&e, -errno, "Cannot create the cgroup namespace"));
	if (sethostname(c->name, strlen(c->name)) < 0)
		child_fail(sock, &e,
			   berr_errno(&e, -errno, "Cannot set the hostname to '%s'", c->name));
	if (rt_mounts_setup(c, cg, root_fd, &notify_fd, &e) < 0)
		child_fail(sock, &e, e.code);
	if (root_fd >= 0)
		close(root_fd);
	if (c->user && rt_user_setup(c->user, &e) < 0)
		child_fail(sock, &e, e.code);
	if (rt_resolv_conf_setup(c->resolv_conf, c->resolv_conf_replace_image, &e) < 0)
		child_fail(sock, &e, e.code);
	const rt_rlimit *rl = c->rlimits ? c->rlimits : rt_default_rlimits;
	size_t nrl = c->rlimits ? c->n_rlimits : rt_n_default_rlimits;
	if (rt_rlimits_apply(rl, nrl, &e) < 0)
		child_fail(sock, &e, e.code);
	if (rt_caps_bound(c->private_network) < 0)
		child_fail(sock, &e,
			   berr_errno(&e, -errno, "Cannot limit the machine's capabilities"));
	if (setsid() < 0)
		child_fail(sock, &e, berr_errno(&e, -errno, "Cannot start a session"));
	int io = c->console_fd;
	if (io >= 0) {
		if (ioctl(io, TIOCSCTTY, 0) < 0)
			child_fail(sock, &e,
				   berr_errno(&e, -errno,
					      "Cannot make the console the "
					      "controlling terminal"));
	} else {
		io = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (io < 0)
			child_fail(sock, &e, berr_errno(&e, -errno, "Cannot open /dev/null"));
	}
	for (int fd = 0; fd < 3; fd++)
		if (io != fd && dup2(io, fd) < 0)
			child_fail(sock, &e, berr_errno(&e, -errno, "Cannot set up standard I/O"));
	/* Nothing of the caller's leaks into the machine. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);

	char *env[256];
	size_t ne = 0;
	static char *const defaults[] = {
	    "container=berth", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    "TERM=vt220", "HOME=/root"};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		char key[32];
		snprintf(key, sizeof(key), "%.*s", (int)strcspn(defaults[i], "="), defaults[i]);
		if (!env_has(c->env, key))
			env[ne++] = defaults[i];
	}
	if (c->notify && !env_has(c->env, "NOTIFY_SOCKET"))
		env[ne++] = "NOTIFY_SOCKET=" RT_NOTIFY_PATH;
	for (size_t i = 0; c->env && c->env[i] && ne < ARRAY_SIZE(env) - 1; i++)
		env[ne++] = c->env[i];
	env[ne] = NULL;

	child_msg ok = {.code = 0};
	if (rt_send_fd(sock, &ok, sizeof(ok), notify_fd) < 0)
		_exit(1);
	if (notify_fd >= 0)
		close(notify_fd);
	execve(c->argv[0], c->argv, env);
	int err = -errno;
	child_fail(sock, &e,
		   berr_errno(&e, err,
			      err == -ENOENT ? "The machine's init '%s' does not exist in its root"
					     : "Cannot execute the machine's init '%s'",
			      c->argv[0]));
}

/* Clone the machine's first process; with a cgroup2 directory fd, right into that cgroup
 * (rt_clone3). *in_cgroup says whether it went there. */
static pid_t clone_machine(uint64_t flags, int cgroup_fd, int *pidfd, bool *in_cgroup)
{
	struct clone_args args = {
	    .flags = flags | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)pidfd,
	    .exit_signal = SIGCHLD,
	};
	long pid = rt_clone3(&args, cgroup_fd, in_cgroup);
	if (pid >= 0 || errno != ENOSYS)
		return (pid_t)pid;
	/* Kernels before 5.3: clone, then a pidfd (5.3 too; else none). */
	pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid > 0)
		*pidfd = rt_pidfd_open((pid_t)pid);
	return (pid_t)pid;
}

static int host_root(const rt_idmap_range *r, size_t n, uint32_t inside, int64_t *out, berth_err *e)
{
	*out = rt_idmap_to_host(r, n, inside);
	if (*out < 0)
		return berr(e, -EINVAL, "The machine's id map does not map id %u", inside);
	return 0;
}

static void abort_child(pid_t pid, int pidfd)
{
	if (pidfd >= 0)
		rt_pidfd_send_signal(pidfd, SIGKILL);
	else if (pid > 1)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int rt_spawn(const rt_config *c, rt_machine *m, berth_err *e)
{
	memset(m, 0, sizeof(*m));
	m->pid = -1;
	m->pidfd = m->notify_fd = -1;
	if (!c->name || !c->name[0] || !c->argv || !c->argv[0] || c->argv[0][0] != '/' ||
	    !c->idmap || !c->rootfs.mountpoint || (!c->rootfs.lower && !c->rootfs.dir))
		return berr(e, -EINVAL,
			    "A machine needs a name, a root, an id map and an absolute "
			    "init path");
	m->idmap = *c->idmap;
	m->own_net = c->private_network;
	int64_t uid0 = -1, gid0 = -1, tty_gid = -1;
	_cleanup_close_ int root_fd = -1, cgroup_fd = -1;
	int r = host_root(m->idmap.uid, m->idmap.n_uid, 0, &uid0, e);
	if (r == 0)
		r = host_root(m->idmap.gid, m->idmap.n_gid, 0, &gid0, e);
	if (r == 0)
		r = host_root(m->idmap.gid, m->idmap.n_gid, 5, &tty_gid, e);
	if (r < 0)
		return r;
	r = rt_cgroup_open(c->name, c->cgroup_parent, &m->cg, e);
	if (r < 0)
		return r;
	/* Same name, same cgroup: a machine of that name still running must not be reused
	 * (nor killed by this one's cleanup). */
	if (rt_cgroup_populated(&m->cg))
		return berr(e, -EBUSY,
			    "Machine '%s' already has processes in its cgroup %s; it is still "
			    "running, stop it first",
			    c->name, m->cg.h[0].path);
	r = rt_cgroup_create(&m->cg, &c->limits, e);
	if (r < 0) {
		berth_err ignore = {0};
		rt_cgroup_destroy(&m->cg, &ignore);
		return r;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = berr_errno(e, -errno, "Cannot create a socket pair");
		goto fail;
	}
	uint64_t flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	if (c->private_network)
		flags |= CLONE_NEWNET;
	int pidfd = -1;
	bool in_cgroup = false;
	cgroup_fd = rt_cgroup_open_v2_dir(&m->cg);
	pid_t pid = clone_machine(flags, cgroup_fd, &pidfd, &in_cgroup);
	if (pid < 0) {
		r = berr_errno(e, -errno, "Cannot create the machine's namespaces");
		close(sp[0]);
		close(sp[1]);
		goto fail;
	}
	if (pid == 0) {
		close(sp[0]);
		child_main(c, &m->cg, sp[1]);
	}
	close(sp[1]);
	m->pid = pid;
	m->pidfd = pidfd;
	r = rt_idmap_write(pid, &m->idmap, e);
	if (r == 0)
		r = rt_cgroup_enter(&m->cg, pid, in_cgroup, e);
	/* With the setuid helpers' map the machine's root may be a subordinate id, which only
	 * the machine's own root can hand things to: the child does it (child_main). */
	if (r == 0 && !m->idmap.helpers)
		r = rt_cgroup_delegate(&m->cg, (uid_t)uid0, (gid_t)gid0, e);
	if (r == 0 && c->console_fd >= 0 && !m->idmap.helpers &&
	    fchown(c->console_fd, (uid_t)uid0, (gid_t)tty_gid) < 0)
		r = berr_errno(e, -errno, "Cannot hand the console to the machine's root");
	/* A fresh upper directory (still the caller's) becomes the machine root's: it is the
	 * root directory of the merged tree. */
	struct stat ust;
	if (r == 0 && !m->idmap.helpers && c->rootfs.lower && stat(c->rootfs.upper, &ust) == 0 &&
	    ust.st_uid == geteuid() && chown(c->rootfs.upper, (uid_t)uid0, (gid_t)gid0) < 0)
		r = berr_errno(e, -errno,
			       "Cannot hand the upper directory '%s' to the machine's root",
			       c->rootfs.upper);
	if (r == 0 && !m->idmap.helpers) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
		_cleanup_close_ int ns = open(p, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			r = berr_errno(e, -errno, "Cannot open the machine's user namespace");
		else
			r = root_fd = rt_rootfs_build(&c->rootfs, ns, e);
	}
	if (r >= 0)
		r = rt_send_fd(sp[0], "g", 1, root_fd);
	if (r < 0) {
		if (!e->code)
			berr_errno(e, r, "Cannot start the machine's init");
		goto fail_child;
	}
	child_msg msg;
	int nfd = -1;
	ssize_t n = rt_recv_fd(sp[0], &msg, sizeof(msg), &nfd);
	if (n <= 0 || msg.code < 0) {
		if (nfd >= 0)
			close(nfd);
		r = n <= 0 ? berr(e, -EIO,
				  "The machine's setup process died before starting its "
				  "init")
			   : berr(e, msg.code, "%s", msg.text);
		goto fail_child;
	}
	m->notify_fd = nfd;
	n = rt_recv_fd(sp[0], &msg, sizeof(msg), &nfd);
	if (nfd >= 0)
		close(nfd);
	if (n > 0) {
		r = berr(e, msg.code < 0 ? msg.code : -EIO, "%s", msg.text);
		goto fail_child;
	}
	close(sp[0]);
	return 0;
fail_child:
	close(sp[0]);
	abort_child(pid, pidfd);
	rt_machine_release(m);
	m->pid = -1;
fail:;
	berth_err ignore = {0};
	rt_cgroup_destroy(&m->cg, &ignore);
	return r;
}

static int read_map(pid_t pid, const char *file, rt_idmap_range *r, size_t *n)
{
	char p[64], text[4096];
	snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
	ssize_t len = rt_read_file(p, text, sizeof(text));
	if (len < 0)
		return (int)len;
	*n = 0;
	for (char *s = text; *s && *n < RT_IDMAP_MAX;) {
		unsigned a, b, c;
		int used = 0;
		if (sscanf(s, " %u %u %u%n", &a, &b, &c, &used) != 3)
			break;
		r[(*n)++] = (rt_idmap_range){a, b, c};
		s += used;
	}
	return 0;
}

int rt_machine_attach(pid_t pid, const char *name, const char *cgroup_parent, rt_machine *m,
		      berth_err *e)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
	m->notify_fd = -1;
	m->pidfd = rt_pidfd_open(pid);
	if (m->pidfd < 0)
		return berr_errno(e, m->pidfd, "Machine '%s' has no running init (process %d)",
				  name, (int)pid);
	int r = read_map(pid, "uid_map", m->idmap.uid, &m->idmap.n_uid);
	if (r == 0)
		r = read_map(pid, "gid_map", m->idmap.gid, &m->idmap.n_gid);
	if (r < 0) {
		rt_machine_release(m);
		return berr_errno(e, r, "Cannot read the id map of machine '%s'", name);
	}
	m->idmap.helpers = geteuid() != 0;
	struct stat a, b;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/net", (int)pid);
	m->own_net = stat(p, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino != b.st_ino;
	r = rt_cgroup_open(name, cgroup_parent, &m->cg, e);
	if (r < 0)
		rt_machine_release(m);
	return r;
}

int rt_machine_kill(const rt_machine *m, int sig, berth_err *e)
{
	int r = rt_pidfd_send_signal(m->pidfd, sig);
	if (r == -ESRCH)
		return 0; /* already gone */
	if (r < 0)
		return berr_errno(e, r, "Cannot signal the machine's init (process %d)",
				  (int)m->pid);
	return 0;
}

int rt_machine_wait(rt_machine *m, int timeout_ms, int *status, berth_err *e)
{
	struct pollfd p = {.fd = m->pidfd, .events = POLLIN};
	int n;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return berr_errno(e, -errno, "Cannot wait for the machine's init");
	if (n == 0)
		return -ETIMEDOUT;
	int st = 0;
	pid_t w;
	do
		w = waitpid(m->pid, &st, 0);
	while (w < 0 && errno == EINTR);
	/* Not our child (attached from another process): it exited, status unknown. */
	if (status)
		*status = w == m->pid ? st : 0;
	return 0;
}

int rt_machine_stop(rt_machine *m, int stop_signal, int timeout_ms, int *status, berth_err *e)
{
	int r = rt_machine_kill(m, stop_signal, e);
	if (r < 0)
		return r;
	r = rt_machine_wait(m, timeout_ms, status, e);
	if (r != -ETIMEDOUT)
		return r;
	r = rt_machine_kill(m, SIGKILL, e);
	return r < 0 ? r : rt_machine_wait(m, -1, status, e);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rt_machine_wait_ready(rt_machine *m, int timeout_ms, char *status_out, size_t status_len,
			  berth_err *e)
{
	if (m->notify_fd < 0)
		return berr(e, -EINVAL, "The machine was started without a notify socket");
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline == INT64_MAX ? -1 : deadline - now_ms();
		if (deadline != INT64_MAX && left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = m->notify_fd, .events = POLLIN},
				      {.fd = m->pidfd, .events = POLLIN}};
		int n = poll(p, 2, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_errno(e, -errno, "Cannot wait for the machine to become ready");
		if (p[0].revents & POLLIN) {
			char buf[4097];
			ssize_t len = recv(m->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			if (len <= 0)
				continue;
			buf[len] = 0;
			bool ready = false;
			char *save = NULL;
			for (char *l = strtok_r(buf, "\n", &save); l;
			     l = strtok_r(NULL, "\n", &save)) {
				if (!strcmp(l, "READY=1"))
					ready = true;
				else if (!strncmp(l, "STATUS=", 7) && status_out && status_len)
					snprintf(status_out, status_len, "%s", l + 7);
			}
			if (ready)
				return 0;
			continue;
		}
		if (p[1].revents & POLLIN)
			return berr(e, -ESRCH, "The machine's init exited before it was ready");
	}
}

void rt_machine_release(rt_machine *m)
{
	if (m->pidfd >= 0)
		close(m->pidfd);
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	m->pidfd = m->notify_fd = -1;
}
