/* SPDX-License-Identifier: MIT */
/*
 * berth-init: PID 1 for machines whose image has no init of its own, and (later) the agent
 * inside a VM. A static binary (musl), bound into the machine at /run/host/berth-init.
 *
 *   berth-init [--ready-fd N] [--ready-file PATH] [--stop-timeout SECS]
 *              [--exit-with-command] [-- COMMAND [ARG...]]
 *
 * It reaps every orphan, runs COMMAND when given (the machine keeps running when it exits,
 * unless --exit-with-command), reports readiness once COMMAND is started, and shuts down
 * on SIGTERM, SIGRTMIN+3 (systemd's halt signal, which berth sends to every init), SIGINT,
 * SIGPWR or SIGUSR2: SIGTERM to every process, a bounded wait (--stop-timeout, default 10
 * seconds), SIGKILL to what is left, reap, exit.
 *
 * Readiness goes to each of: $NOTIFY_SOCKET ("READY=1", the sd_notify protocol), the fd of
 * --ready-fd ("READY=1\n", then closed) and the file of --ready-file (default
 * /run/berth-init.ready, written when /run exists).
 *
 * Only libc: it is built with `musl-gcc -static -Os` so it runs in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* systemd's halt signal, SIGRTMIN+3 as glibc (and so systemd and berth) count it. musl
 * reserves one more real-time signal than glibc, so its SIGRTMIN+3 is a different number. */
#define SIG_HALT (32 + 2 + 3)

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, "berth-init: ", 12);
	w = write(2, buf, (size_t)n);
	(void)w;
}

static void usage(void)
{
	say("usage: berth-init [--ready-fd N] [--ready-file PATH] [--stop-timeout SECS] "
	    "[--exit-with-command] [-- COMMAND [ARG...]]");
	exit(2);
}

static void notify_socket(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (sendto(s, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		say("cannot notify %s: %s", path, strerror(errno));
	close(s);
}

static void report_ready(int ready_fd, const char *ready_file)
{
	notify_socket("READY=1\nSTATUS=berth-init running\n");
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "READY=1\n", 8);
		(void)w;
		close(ready_fd);
	}
	if (ready_file) {
		int fd =
		    open(ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			ssize_t w = write(fd, "ready\n", 6);
			(void)w;
			close(fd);
		}
	}
}

static void on_signal(int sig)
{
	(void)sig; /* never runs: every signal stays blocked and is taken by sigwaitinfo() */
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reap every exited child; returns -1 when no child is left. Records cmd's status. */
static int reap(pid_t cmd, int *cmd_status, int *cmd_done)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p == 0)
			return 0;
		if (p < 0)
			return errno == ECHILD ? -1 : 0;
		if (p == cmd) {
			*cmd_status = st;
			*cmd_done = 1;
		}
	}
}

static void signal_all(int sig, pid_t cmd)
{
	/* kill(-1) reaches every process of the machine only when we are its PID 1; outside
	 * a pid namespace it would reach the whole host, so then only COMMAND is signalled. */
	if (getpid() == 1)
		kill(-1, sig);
	else if (cmd > 0)
		kill(cmd, sig);
}

static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

int main(int argc, char **argv)
{
	int ready_fd = -1, exit_with_cmd = 0;
	long stop_timeout = 10;
	const char *ready_file = NULL;
	int ready_file_set = 0;
	char **cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			cmd = i + 1 < argc ? argv + i + 1 : NULL;
			break;
		} else if (!strcmp(a, "--ready-fd") && i + 1 < argc) {
			ready_fd = atoi(argv[++i]);
		} else if (!strcmp(a, "--ready-file") && i + 1 < argc) {
			ready_file = argv[++i];
			ready_file_set = 1;
		} else if (!strcmp(a, "--stop-timeout") && i + 1 < argc) {
			stop_timeout = atol(argv[++i]);
		} else if (!strcmp(a, "--exit-with-command")) {
			exit_with_cmd = 1;
		} else {
			usage();
		}
	}
	if (stop_timeout < 0)
		stop_timeout = 0;
	struct stat st;
	if (!ready_file_set && stat("/run", &st) == 0 && S_ISDIR(st.st_mode))
		ready_file = "/run/berth-init.ready";
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1); /* still reap orphans when run by hand */

	/* The kernel drops signals whose action is SIG_DFL before they reach the PID 1 of a pid
	 * namespace, even blocked ones: give every catchable signal a handler, then take them
	 * synchronously with sigwaitinfo(). */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	struct sigaction sa = {.sa_handler = on_signal};
	sigfillset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);

	pid_t cmd_pid = -1;
	int cmd_status = 0, cmd_done = 0;
	if (cmd) {
		cmd_pid = fork();
		if (cmd_pid < 0) {
			say("cannot fork: %s", strerror(errno));
			return 1;
		}
		if (cmd_pid == 0) {
			struct sigaction dfl = {.sa_handler = SIG_DFL};
			for (int s = 1; s < NSIG; s++)
				if (s != SIGKILL && s != SIGSTOP)
					sigaction(s, &dfl, NULL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			execvp(cmd[0], cmd);
			say("cannot run %s: %s", cmd[0], strerror(errno));
			_exit(errno == ENOENT ? 127 : 126);
		}
	}
	report_ready(ready_fd, ready_file);

	int shutdown_sig = 0;
	while (!shutdown_sig) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			reap(cmd_pid, &cmd_status, &cmd_done);
			if (cmd_done && exit_with_cmd)
				shutdown_sig = SIGCHLD;
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT || sig == SIGPWR || sig == SIGUSR2 ||
		    sig == SIG_HALT)
			shutdown_sig = sig;
	}
	notify_socket("STOPPING=1\n");
	if (shutdown_sig != SIGCHLD)
		say("shutting down (signal %d)", shutdown_sig);
	signal_all(SIGTERM, cmd_pid);
	signal_all(SIGCONT, cmd_pid);
	long long deadline = now_ms() + stop_timeout * 1000;
	int killed = 0;
	for (;;) {
		if (reap(cmd_pid, &cmd_status, &cmd_done) < 0)
			break;
		if (getpid() != 1 && cmd_done)
			break; /* not PID 1: only COMMAND was ours to wait for */
		long long left = deadline - now_ms();
		if (left <= 0) {
			if (killed)
				break; /* SIGKILL could not finish them (D state): give up */
			say("processes still running after %ld s, killing them", stop_timeout);
			signal_all(SIGKILL, cmd_pid);
			killed = 1;
			deadline = now_ms() + 5000;
			continue;
		}
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigtimedwait(&chld, NULL, &ts);
	}
	if (ready_file)
		unlink(ready_file);
	return cmd_done && exit_with_cmd ? exit_code(cmd_status) : 0;
}
