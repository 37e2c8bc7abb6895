/* SPDX-License-Identifier: MIT */
/*
 * Running a process in a running machine, and ptys in the machine's own devpts.
 *
 * The caller forks a helper that joins PID 1's cgroups (while it still has host
 * privileges), then the machine's namespaces in one setns(pidfd, ...) call, then clones
 * the target with CLONE_PARENT: the target is inside the machine's pid namespace yet a
 * child of the caller, who can waitpid() it. The helper sends the target's pid and exits.
 * The target reports a failure before execve as an errno on a close-on-exec pipe.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t read_all(int fd, void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, (char *)buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

/* Where a process run in the machine goes in hierarchy h: PID 1's cgroup when it is inside
 * the machine's cgroup (so a systemd-managed tree gets no process in an inner node), else
 * the machine's cgroup. pid1_cgroup is PID 1's /proc/PID/cgroup. */
static void cgroup_target(const rt_cg_hier *h, const char *pid1_cgroup, char *out, size_t size)
{
	char rel[PATH_MAX];
	size_t tl = strlen(h->path);
	if (rt_cgroup_proc_path(pid1_cgroup, h, rel, sizeof(rel)) < 0 ||
	    (size_t)snprintf(out, size, "%s%s", h->mount, rel) >= size ||
	    strncmp(out, h->path, tl) || (out[tl] != '/' && out[tl]))
		snprintf(out, size, "%s", h->path);
}

/* Join the machine's cgroup (see cgroup_target) in every hierarchy; but the cgroup2 one
 * when skip_v2: the helper was created there (exec_helper_fork). */
static int join_cgroups(const rt_machine *m, const char *pid1_cgroup, bool skip_v2)
{
	char self[32];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	for (size_t i = 0; i < m->cg.n; i++) {
		const rt_cg_hier *h = &m->cg.h[i];
		if (skip_v2 && h->v2)
			continue;
		char target[PATH_MAX];
		cgroup_target(h, pid1_cgroup, target, sizeof(target));
		char procs[PATH_MAX + 16];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", target);
		int w = rt_write_file(procs, self);
		if (w < 0 && strcmp(target, h->path)) {
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", h->path);
			w = rt_write_file(procs, self);
		}
		if (w < 0)
			return w;
	}
	return 0;
}

/*
 * fork() for the helper, but on cgroup2 right into the machine's cgroup: clone3 with
 * CLONE_INTO_CGROUP moves nothing, and so, unlike writing cgroup.procs, never waits for the
 * kernel's cgroup lock, which after a quiet spell costs an RCU grace period (10 to 20 ms on
 * a virtualised host) on every exec. *in_cgroup says whether it went there; where clone3 or
 * the flag is refused it is an ordinary fork and the helper moves itself.
 */
static pid_t exec_helper_fork(const rt_machine *m, const char *pid1_cgroup, bool *in_cgroup)
{
	*in_cgroup = false;
	for (size_t i = 0; i < m->cg.n; i++) {
		if (!m->cg.h[i].v2)
			continue;
		char target[PATH_MAX];
		cgroup_target(&m->cg.h[i], pid1_cgroup, target, sizeof(target));
		_cleanup_close_ int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			break;
		struct clone_args args = {.exit_signal = SIGCHLD};
		long pid = rt_clone3(&args, fd, in_cgroup);
		if (pid >= 0)
			return (pid_t)pid;
		break;
	}
	return fork();
}

static _Noreturn void target_fail(int errpipe, int err)
{
	int v = err;
	if (write_all(errpipe, &v, sizeof(v)) < 0)
		_exit(125);
	_exit(err == ENOENT ? 127 : err == EACCES ? 126 : 125);
}

static const char *env_get(char *const *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
			return env[i] + kl + 1;
	return NULL;
}

static _Noreturn void exec_target(const rt_exec_opts *o, char *const *env, bool own_net,
				  int errpipe)
{
	int fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
	int null = -1;
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			continue;
		if (null < 0)
			null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			target_fail(errpipe, errno);
		fds[i] = null;
	}
	/* Move sources out of 0..2 first so dup2 below cannot clobber them. */
	for (int i = 0; i < 3; i++)
		if (fds[i] < 3 && fds[i] != i) {
			int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (d < 0)
				target_fail(errpipe, errno);
			fds[i] = d;
		}
	for (int i = 0; i < 3; i++)
		if (fds[i] != i && dup2(fds[i], i) < 0)
			target_fail(errpipe, errno);
		else if (fds[i] == i)
			fcntl(i, F_SETFD, 0);
	/* Nothing of the caller's leaks into the machine (the error pipe closes on exec). */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	if (setsid() < 0)
		target_fail(errpipe, errno);
	if (o->tty && ioctl(0, TIOCSCTTY, 0) < 0)
		target_fail(errpipe, errno);
	if (rt_caps_bound(own_net) < 0)
		target_fail(errpipe, errno);
	berth_err ignore = {0};
	if (rt_rlimits_apply(rt_default_rlimits, rt_n_default_rlimits, &ignore) < 0)
		target_fail(errpipe, -ignore.code);
	gid_t groups[64];
	size_t ng = o->n_groups < 64 ? o->n_groups : 64;
	for (size_t i = 0; i < ng; i++)
		groups[i] = o->groups[i];
	if (setgroups(ng, groups) < 0 && !(errno == EPERM && ng == 0))
		target_fail(errpipe, errno);
	if (setresgid(o->gid, o->gid, o->gid) < 0 || setresuid(o->uid, o->uid, o->uid) < 0)
		target_fail(errpipe, errno);
	const char *home = env_get(env, "HOME");
	if (!(o->cwd && chdir(o->cwd) == 0) && !(home && chdir(home) == 0) && chdir("/") < 0)
		target_fail(errpipe, errno);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	const char *cmd = o->argv[0];
	if (strchr(cmd, '/')) {
		execve(cmd, o->argv, env);
		target_fail(errpipe, errno);
	}
	/* PATH search with the machine's PATH, not the caller's. */
	const char *path = env_get(env, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	int err = ENOENT;
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		char full[PATH_MAX];
		if (snprintf(full, sizeof(full), "%.*s/%s", (int)len, len ? p : ".", cmd) <
		    (int)sizeof(full)) {
			execve(full, o->argv, env);
			if (errno == EACCES)
				err = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR)
				target_fail(errpipe, errno);
		}
		p += len;
		if (*p == ':')
			p++;
	}
	target_fail(errpipe, err);
}

int rt_exec(const rt_machine *m, const rt_exec_opts *o, pid_t *pid, berth_err *e)
{
	*pid = -1;
	if (!o->argv || !o->argv[0])
		return berr(e, -EINVAL, "No command given to run in the machine");
	static char *const default_env[] = {"PATH=" DEFAULT_PATH, "HOME=/root", "TERM=xterm",
					    "container=berth", NULL};
	char *const *env = o->env ? o->env : default_env;
	char pid1_cgroup[8192], p1[64];
	snprintf(p1, sizeof(p1), "/proc/%d/cgroup", (int)m->pid);
	ssize_t cl = rt_read_file(p1, pid1_cgroup, sizeof(pid1_cgroup));
	if (cl < 0)
		return berr_errno(e, (int)cl, "Cannot join the machine's cgroup (init process %d)",
				  (int)m->pid);
	int pidpipe[2], errpipe[2];
	if (pipe2(pidpipe, O_CLOEXEC) < 0)
		return berr_errno(e, -errno, "Cannot create a pipe");
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		int r = -errno;
		close(pidpipe[0]);
		close(pidpipe[1]);
		return berr_errno(e, r, "Cannot create a pipe");
	}
	bool in_cgroup = false;
	pid_t helper = exec_helper_fork(m, pid1_cgroup, &in_cgroup);
	if (helper < 0) {
		int r = -errno;
		close(pidpipe[0]);
		close(pidpipe[1]);
		close(errpipe[0]);
		close(errpipe[1]);
		return berr_errno(e, r, "Cannot fork");
	}
	if (helper == 0) {
		close(pidpipe[0]);
		close(errpipe[0]);
		int step = 1, err = 0;
		int jr = join_cgroups(m, pid1_cgroup, in_cgroup);
		if (jr < 0)
			err = -jr;
		int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
			    CLONE_NEWIPC | CLONE_NEWCGROUP | (m->own_net ? CLONE_NEWNET : 0);
		if (!err && (step = 2, setns(m->pidfd, flags) < 0))
			err = errno;
		pid_t t = -1;
		if (!err) {
			step = 3;
			t = (pid_t)syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
			if (t == 0) {
				close(pidpipe[1]);
				exec_target(o, env, m->own_net, errpipe[1]);
			}
			if (t < 0)
				err = errno;
		}
		int msg[3] = {t, step, err};
		_exit(write_all(pidpipe[1], msg, sizeof(msg)) < 0 ? 1 : 0);
	}
	close(pidpipe[1]);
	close(errpipe[1]);
	int msg[3] = {-1, 0, EIO};
	ssize_t n = read_all(pidpipe[0], msg, sizeof(msg));
	close(pidpipe[0]);
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	int r = 0;
	if (n != (ssize_t)sizeof(msg) || msg[0] <= 0) {
		static const char *const what[] = {"", "join the machine's cgroup",
						   "enter the machine's namespaces",
						   "start a process in the machine"};
		int step = msg[1] >= 1 && msg[1] <= 3 ? msg[1] : 3;
		r = berr_errno(e, -(msg[2] ? msg[2] : EIO), "Cannot %s (init process %d)",
			       what[step], (int)m->pid);
		close(errpipe[0]);
		return r;
	}
	pid_t t = msg[0];
	int err = 0;
	n = read_all(errpipe[0], &err, sizeof(err));
	close(errpipe[0]);
	if (n == (ssize_t)sizeof(err) && err) {
		while (waitpid(t, NULL, 0) < 0 && errno == EINTR)
			;
		if (err == ENOENT)
			return berr(e, -ENOENT, "'%s' was not found in the machine", o->argv[0]);
		if (err == EACCES)
			return berr(e, -EACCES, "'%s' in the machine is not executable",
				    o->argv[0]);
		return berr_errno(e, -err, "Cannot run '%s' in the machine", o->argv[0]);
	}
	*pid = t;
	return 0;
}

int rt_pty_open(const rt_machine *m, uint32_t uid, int *master, int *slave, berth_err *e)
{
	*master = *slave = -1;
	char p[64];
	/* The machine's /dev/ptmx is a symlink to pts/ptmx: open its devpts directly. */
	snprintf(p, sizeof(p), "/proc/%d/root/dev/pts/ptmx", (int)m->pid);
	int mfd = open(p, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (mfd < 0)
		return berr_errno(e, -errno, "Cannot open a pty in the machine (init process %d)",
				  (int)m->pid);
	int unlock = 0;
	if (ioctl(mfd, TIOCSPTLCK, &unlock) < 0) {
		int r = -errno;
		close(mfd);
		return berr_errno(e, r, "Cannot unlock the machine's pty");
	}
	int sfd = ioctl(mfd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0) {
		int r = -errno;
		close(mfd);
		return berr_errno(e, r, "Cannot open the machine's pty slave");
	}
	int64_t hu = rt_idmap_to_host(m->idmap.uid, m->idmap.n_uid, uid);
	int64_t hg = rt_idmap_to_host(m->idmap.gid, m->idmap.n_gid, 5);
	if (hu >= 0 && fchown(sfd, (uid_t)hu, hg >= 0 ? (gid_t)hg : (gid_t)-1) < 0 &&
	    errno != EPERM) {
		int r = -errno;
		close(mfd);
		close(sfd);
		return berr_errno(e, r, "Cannot hand the pty to user %u in the machine", uid);
	}
	*master = mfd;
	*slave = sfd;
	return 0;
}
