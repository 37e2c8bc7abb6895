/* SPDX-License-Identifier: MIT */
/*
 * rt-run: boot a root filesystem with the runtime core, by hand. Not part of `make check`.
 *
 *   rt-run [--name NAME] (--dir DIR | --lower DIR... --upper DIR --work DIR)
 *          [--init auto|builtin|PATH] [--memory BYTES] [--cpus MILLI] [--pids N]
 *          [--wait-ready SECS] [--exec CMD]... [--exec-tty CMD] [--parallel N]
 *          [--set-memory BYTES] [--cgroup-parent PATH]
 *          [--stats] [--reclaim] [--hold] [--stop-timeout SECS] [--console]
 *   rt-run --check-overlay DIR     (can a machine's overlay root live on DIR's file system?)
 *
 * Boots the root (init detected unless --init), waits for readiness (sd_notify), runs each
 * --exec CMD as `/bin/sh -c CMD` inside as root, prints stats, then stops the machine with
 * its init's stop signal (--exec '!PATH' runs PATH without a shell; --parallel N runs
 * the first --exec N times at once) (SIGKILL after --stop-timeout) and removes its cgroup. --hold
 * waits for a line on stdin before stopping. --console copies the machine's console to stderr. Exit
 * status: 0 when every step worked and every --exec exited 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

#define MAX_LIST 32

static void die(const char *what, const berth_err *e)
{
	fprintf(stderr, "rt-run: %s: %s\n", what, e->msg);
	exit(125);
}

static int run_exec(const rt_machine *m, const char *cmd, bool tty)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	if (cmd[0] == '!') { /* "!PATH": run PATH itself, no shell */
		argv[0] = (char *)cmd + 1;
		argv[1] = NULL;
	}
	rt_exec_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = 1, .stderr_fd = 2};
	int master = -1, slave = -1;
	berth_err e = {0};
	if (tty) {
		if (rt_pty_open(m, 0, &master, &slave, &e) < 0)
			die("pty", &e);
		o.stdin_fd = o.stdout_fd = o.stderr_fd = slave;
		o.tty = true;
	}
	pid_t pid;
	if (rt_exec(m, &o, &pid, &e) < 0) {
		fprintf(stderr, "rt-run: exec '%s': %s\n", cmd, e.msg);
		return e.code == -ENOENT ? 127 : e.code == -EACCES ? 126 : 125;
	}
	if (tty) {
		close(slave);
		char buf[4096];
		ssize_t n;
		while ((n = read(master, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		close(master);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 125;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fprintf(stderr, "rt-run: exec '%s' exited %d\n", cmd, code);
	return code;
}

static void print_stats(const rt_machine *m)
{
	rt_stats s;
	berth_err e = {0};
	if (rt_cgroup_stats(&m->cg, &s, &e) < 0)
		die("stats", &e);
	printf("stats: memory=%llu anon=%llu file=%llu cpu_usec=%llu pids=%llu "
	       "memory_limit=%lld cpu_millis=%lld pids_limit=%lld\n",
	       (unsigned long long)s.memory, (unsigned long long)s.anon, (unsigned long long)s.file,
	       (unsigned long long)s.cpu_usec, (unsigned long long)s.pids,
	       (long long)s.memory_limit, (long long)s.cpu_millis, (long long)s.pids_limit);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *name = "rt-test", *dir = NULL, *upper = NULL, *work = NULL, *init = "auto";
	const char *lower[MAX_LIST], *execs[MAX_LIST];
	bool exec_tty[MAX_LIST];
	size_t n_lower = 0, n_exec = 0;
	rt_limits lim = {0, 0, 0};
	long long set_memory = -1;
	int wait_ready = -1, stop_timeout = 30; /* -1: 120 s for inits that notify, else 0 */
	int parallel = 0;
	const char *cgroup_parent = NULL;
	bool stats = false, reclaim = false, hold = false, console = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(s) (!strcmp(a, s) && v && ++i)
		if (OPT("--name"))
			name = v;
		else if (OPT("--dir"))
			dir = v;
		else if (OPT("--lower") && n_lower < MAX_LIST)
			lower[n_lower++] = v;
		else if (OPT("--upper"))
			upper = v;
		else if (OPT("--work"))
			work = v;
		else if (OPT("--init"))
			init = v;
		else if (OPT("--memory"))
			lim.memory = atoll(v);
		else if (OPT("--cpus"))
			lim.cpu_millis = atoll(v);
		else if (OPT("--pids"))
			lim.pids = atoll(v);
		else if (OPT("--wait-ready"))
			wait_ready = atoi(v);
		else if (OPT("--stop-timeout"))
			stop_timeout = atoi(v);
		else if (OPT("--exec") && n_exec < MAX_LIST)
			exec_tty[n_exec] = false, execs[n_exec++] = v;
		else if (OPT("--exec-tty") && n_exec < MAX_LIST)
			exec_tty[n_exec] = true, execs[n_exec++] = v;
		else if (OPT("--cgroup-parent"))
			cgroup_parent = v;
		else if (OPT("--parallel"))
			parallel = atoi(v);
		else if (OPT("--set-memory"))
			set_memory = atoll(v);
		else if (!strcmp(a, "--stats"))
			stats = true;
		else if (!strcmp(a, "--reclaim"))
			reclaim = true;
		else if (!strcmp(a, "--hold"))
			hold = true;
		else if (!strcmp(a, "--console"))
			console = true;
		else if (OPT("--check-overlay")) {
			berth_err ce = {0};
			rt_idmap cm;
			if (rt_idmap_for_caller(0, &cm, &ce) < 0 ||
			    rt_overlay_check(v, &cm, &ce) < 0) {
				printf("overlay unusable: %s\n", ce.msg);
				return 1;
			}
			printf("overlay usable in %s\n", v);
			return 0;
		} else {
			fprintf(stderr,
				"rt-run: bad argument '%s' (see the comment at the top of "
				"tests/runtime/rt-run.c)\n",
				a);
			return 2;
		}
	}
	if (!dir && !(n_lower && upper && work)) {
		fprintf(stderr,
			"rt-run: give --dir DIR or --lower DIR... --upper DIR --work DIR\n");
		return 2;
	}
	berth_err e = {0};
	rt_idmap map;
	if (rt_idmap_for_caller(0, &map, &e) < 0)
		die("id map", &e);

	/* Layers for detection: upper first, then the lower ones. */
	const char *layers[MAX_LIST + 1];
	size_t nl = 0;
	if (dir)
		layers[nl++] = dir;
	else {
		layers[nl++] = upper;
		for (size_t i = 0; i < n_lower; i++)
			layers[nl++] = lower[i];
	}
	rt_init_info info;
	if (rt_init_detect(layers, nl, &info, &e) < 0)
		die("init detection", &e);
	printf("detected init: %s at %s (stop signal %d)%s\n", rt_init_name(info.kind),
	       info.path[0] ? info.path : "-", info.stop_signal, info.openrc ? ", OpenRC" : "");
	char *init_argv[4] = {NULL};
	int stop_signal = info.stop_signal;
	if (!strcmp(init, "builtin") || (!strcmp(init, "auto") && info.kind == RT_INIT_NONE)) {
		init_argv[0] = RT_BERTH_INIT_PATH;
		stop_signal = rt_init_stop_signal(RT_INIT_BERTH);
	} else if (!strcmp(init, "auto")) {
		init_argv[0] = info.path;
	} else {
		init_argv[0] = (char *)init;
	}

	/* systemd and berth-init send READY=1; busybox, sysvinit and openrc-init do not. */
	if (wait_ready < 0)
		wait_ready = stop_signal == rt_init_stop_signal(RT_INIT_BERTH) &&
				     (!strcmp(init_argv[0], RT_BERTH_INIT_PATH) ||
				      info.kind == RT_INIT_SYSTEMD)
				 ? 120
				 : 0;
	char mp[] = "/tmp/rt-run-root-XXXXXX";
	if (!mkdtemp(mp)) {
		perror("mkdtemp");
		return 125;
	}
	int console_master = -1, console_slave = -1;
	pid_t relay = -1;
	if (console) {
		console_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (console_master < 0 || grantpt(console_master) || unlockpt(console_master)) {
			perror("pty");
			return 125;
		}
		console_slave = open(ptsname(console_master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	rt_config c = {
	    .name = name,
	    .rootfs = {.lower = dir ? NULL : lower,
		       .n_lower = n_lower,
		       .upper = upper,
		       .work = work,
		       .dir = dir,
		       .mountpoint = mp},
	    .idmap = &map,
	    .argv = init_argv,
	    .berth_init = BERTH_INIT_BUILD_PATH,
	    .console_fd = console_slave,
	    .limits = lim,
	    .notify = true,
	    .cgroup_parent = cgroup_parent,
	};
	rt_machine m;
	if (rt_spawn(&c, &m, &e) < 0) {
		rmdir(mp);
		die("spawn", &e);
	}
	if (console) {
		close(console_slave);
		relay = fork();
		if (relay == 0) {
			char buf[4096];
			ssize_t n;
			while ((n = read(console_master, buf, sizeof(buf))) > 0)
				if (write(2, buf, (size_t)n) < 0)
					break;
			_exit(0);
		}
	}
	printf("machine '%s' started: init pid %d, cgroup %s\n", name, (int)m.pid, m.cg.h[0].path);
	fflush(stdout);
	int failures = 0;
	char status[256] = "";
	int r = wait_ready > 0
		    ? rt_machine_wait_ready(&m, wait_ready * 1000, status, sizeof(status), &e)
		    : 0;
	if (wait_ready <= 0)
		printf("not waiting for readiness\n");
	else if (r == 0)
		printf("ready%s%s\n", status[0] ? ": " : "", status);
	else {
		printf("not ready: %s\n", r == -ETIMEDOUT ? "timed out" : e.msg);
		failures++;
		berr_clear(&e);
	}
	fflush(stdout);
	for (size_t i = 0; i < n_exec; i++)
		if (run_exec(&m, execs[i], exec_tty[i]) != 0)
			failures++;
	if (parallel > 0 && n_exec > 0) {
		/* N execs at once of the first --exec, each from its own process. */
		pid_t kids[256];
		int np = parallel < 256 ? parallel : 256, bad = 0;
		for (int i = 0; i < np; i++) {
			kids[i] = fork();
			if (kids[i] == 0)
				_exit(run_exec(&m, execs[0], false));
		}
		for (int i = 0; i < np; i++) {
			int st;
			if (kids[i] < 0 || waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				bad++;
		}
		printf("parallel: %d of %d execs failed\n", bad, np);
		failures += bad;
	}
	if (stats)
		print_stats(&m);
	if (set_memory >= 0) {
		rt_limits l = RT_LIMITS_UNCHANGED;
		l.memory = set_memory;
		if (rt_cgroup_set_limits(&m.cg, &l, &e) < 0) {
			fprintf(stderr, "rt-run: set memory: %s\n", e.msg);
			failures++;
			berr_clear(&e);
		}
		print_stats(&m);
	}
	if (reclaim) {
		uint64_t freed;
		if (rt_cgroup_reclaim(&m.cg, &freed, &e) < 0) {
			fprintf(stderr, "rt-run: reclaim: %s\n", e.msg);
			failures++;
			berr_clear(&e);
		} else
			printf("reclaimed %llu bytes\n", (unsigned long long)freed);
		print_stats(&m);
	}
	if (hold) {
		printf("holding; press Enter to stop\n");
		fflush(stdout);
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			clearerr(stdin);
	}
	int st = 0;
	r = rt_machine_stop(&m, stop_signal, stop_timeout * 1000, &st, &e);
	if (r < 0) {
		fprintf(stderr, "rt-run: stop: %s\n", e.msg);
		failures++;
		berr_clear(&e);
	} else {
		printf("init exited: %s %d\n", WIFSIGNALED(st) ? "signal" : "status",
		       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	if (rt_cgroup_destroy(&m.cg, &e) < 0) {
		fprintf(stderr, "rt-run: cgroup: %s\n", e.msg);
		failures++;
	}
	rt_machine_release(&m);
	if (relay > 0) {
		close(console_master);
		kill(relay, SIGTERM);
		waitpid(relay, NULL, 0);
	}
	rmdir(mp);
	return failures ? 1 : 0;
}
