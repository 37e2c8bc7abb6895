/* SPDX-License-Identifier: MIT */
/*
 * Running a function as root of a user namespace with a machine's id map, the way
 * `podman unshare` does: a regular user's machine leaves files owned by its subordinate
 * ids, which the user can remove only from inside such a namespace.
 */
#include "runtime-internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

int rt_userns_run(const rt_idmap *m, int (*fn)(void *arg), void *arg, berth_err *e)
{
	_cleanup_close_ int ns = rt_userns_fd(m, e);
	if (ns < 0)
		return ns;
	pid_t pid = fork();
	if (pid < 0)
		return berr_errno(e, -errno, "Cannot fork");
	if (pid == 0) {
		/* One thread (a fresh fork): setns into a user namespace is allowed. */
		if (setns(ns, CLONE_NEWUSER) < 0)
			_exit(255);
		int r = fn(arg);
		_exit(r < 0 ? (-r > 254 ? 254 : -r) : 0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return berr_errno(e, -errno, "Cannot wait for the user namespace helper");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 255)
		return berr(e, -EPERM, "Cannot enter a user namespace with the machine's id map");
	if (!WIFEXITED(st))
		return berr(e, -EIO, "The user namespace helper was killed by signal %d",
			    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -WEXITSTATUS(st);
}
