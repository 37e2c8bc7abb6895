/* SPDX-License-Identifier: MIT */
/*
 * berth-monitor: the small per-machine process that owns a running machine (like conmon).
 *
 *   berth-monitor ROOT NAME LOCK_FD READY_FD TIMEOUT_MS
 *
 * Started by `berth start` already daemonized (own session, stdio on /dev/null), with the
 * machine's lock held on LOCK_FD for its whole life. It boots the machine's init with a pty
 * as the console, appends the console output to console.log, writes state.json, serves
 * control.sock and, when the init exits, removes the machine's cgroup (and with it every
 * process left inside) and records the machine stopped.
 *
 * Readiness goes to READY_FD as one line, "ok" or "error <sentence>": systemd and berth-init
 * report READY=1 on the machine's notify socket; other inits are ready when their first
 * process is up. A machine not ready within TIMEOUT_MS is stopped and the error carries the
 * last console lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "cleanup.h"
#include "console.h"
#include "machine-internal.h"
#include "network.h"
#include "pasta.h"

#define MAX_CLIENTS 32
/* Inits without sd_notify: ready when PID 1 has a child, or has run this long. */
#define PLAIN_INIT_GRACE_MS 2000
#define DEFAULT_STOP_MS 10000
#define TIMEOUT_STOP_MS 3000

typedef struct client {
	int fd;
	bool waiting; /* asked to stop: answered once the machine is down */
} client;

typedef struct monitor {
	const char *root, *name;
	int dirfd;
	console_log log;
	rt_machine m;
	int master, slave;
	int listen_fd, sig_fd, ready_fd;
	client clients[MAX_CLIENTS];
	size_t n_clients;
	bool ready, stopping;
	int64_t spawned_at, ready_deadline, kill_deadline;
	int stop_signal;
	rt_init_kind kind;
	char status_text[256];
	char mountpoint[512];
	machine_net_opts net;
	net_child pasta, fwd;	 /* nat: pasta and the port forwarder, children of ours */
	rt_cgroup_warmup warmup; /* runs from the monitor's start until the first boot */
	char fail[sizeof(((berth_err *)0)->msg) + 8192];
} monitor;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(monitor *mo, const char *line)
{
	if (mo->ready_fd < 0)
		return;
	size_t len = strlen(line);
	while (len > 0) {
		ssize_t w = write(mo->ready_fd, line, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		line += w;
		len -= (size_t)w;
	}
	close(mo->ready_fd);
	mo->ready_fd = -1;
}

/* Fail the start: the sentence plus the last console lines. */
static void report_failure(monitor *mo, const char *sentence)
{
	char *tail = console_tail(mo->dirfd, 40);
	char *msg = NULL;
	/* Keep the monitor's own lines out of the quoted console: they repeat the sentence. */
	if (tail) {
		size_t w = 0, kept = 0;
		char *save = NULL;
		char *lines[40];
		for (char *l = strtok_r(tail, "\n", &save); l && kept < 40;
		     l = strtok_r(NULL, "\n", &save))
			if (strncmp(l, "[berth ", 7) && *l)
				lines[kept++] = l;
		size_t first = kept > 15 ? kept - 15 : 0;
		for (size_t i = first; i < kept; i++) {
			size_t len = strlen(lines[i]);
			memmove(tail + w, lines[i], len);
			w += len;
			tail[w++] = '\n';
		}
		if (w)
			w--;
		tail[w] = 0;
	}
	if (tail && *tail) {
		if (asprintf(&msg,
			     "error %s. The machine's last console lines:\n%s\n(all of it: "
			     "'berth logs %s')\n",
			     sentence, tail, mo->name) < 0)
			msg = NULL;
	} else if (asprintf(&msg, "error %s; the machine wrote nothing to its console\n",
			    sentence) < 0) {
		msg = NULL;
	}
	report(mo, msg ? msg : "error The machine failed to start\n");
	free(msg);
	free(tail);
}

static void save_state(monitor *mo, json_t *fields)
{
	berth_err e = {0};
	if (state_update(mo->dirfd, fields, &e) < 0)
		console_log_say(&mo->log, "cannot record the machine's state: %s", e.msg);
}

static void drain_console(monitor *mo)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(mo->master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		console_log_write(&mo->log, buf, (size_t)n);
	}
}

/* Read sd_notify datagrams; true when READY=1 came (became_ready is the caller's, after
 * every line, so a STATUS= in the same batch is in the log line). */
static bool drain_notify(monitor *mo)
{
	char buf[4097];
	bool ready = false;
	for (;;) {
		ssize_t n = recv(mo->m.notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ready;
		buf[n] = 0;
		char *save = NULL;
		for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (!strcmp(l, "READY=1") && !mo->ready && !mo->stopping)
				ready = true;
			else if (!strncmp(l, "STATUS=", 7)) {
				snprintf(mo->status_text, sizeof(mo->status_text), "%s", l + 7);
			}
		}
	}
}

static bool init_has_child(pid_t pid)
{
	char p[64], buf[64];
	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf));
	return n > 0 && buf[0] >= '0' && buf[0] <= '9';
}

static void became_ready(monitor *mo)
{
	mo->ready = true;
	mo->ready_deadline = INT64_MAX;
	console_log_say(&mo->log, "machine %s is running%s%s", mo->name,
			mo->status_text[0] ? ": " : "", mo->status_text);
	save_state(mo,
		   json_pack("{s:s,s:s}", "status", "running", "ready_status", mo->status_text));
	report(mo, "ok\n");
}

static void begin_stop(monitor *mo, int timeout_ms, bool force)
{
	berth_err e = {0};
	int64_t deadline = force ? 0 : now_ms() + (timeout_ms < 0 ? DEFAULT_STOP_MS : timeout_ms);
	if (mo->stopping) {
		if (deadline < mo->kill_deadline)
			mo->kill_deadline = deadline;
		return;
	}
	mo->stopping = true;
	mo->kill_deadline = deadline;
	save_state(mo, json_pack("{s:s}", "status", "stopping"));
	if (force) {
		console_log_say(&mo->log, "killing machine %s", mo->name);
		rt_machine_kill(&mo->m, SIGKILL, &e);
	} else {
		console_log_say(&mo->log, "stopping machine %s (signal %d, SIGKILL after %d ms)",
				mo->name, mo->stop_signal, timeout_ms);
		rt_machine_kill(&mo->m, mo->stop_signal, &e);
	}
}

static void drop_client(monitor *mo, size_t i)
{
	close(mo->clients[i].fd);
	mo->clients[i] = mo->clients[--mo->n_clients];
}

static void client_request(monitor *mo, size_t i)
{
	char buf[256];
	ssize_t n = recv(mo->clients[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(mo, i);
		return;
	}
	buf[n] = 0;
	int timeout = -1, force = 0;
	if (sscanf(buf, "stop %d %d", &timeout, &force) >= 1) {
		mo->clients[i].waiting = true;
		begin_stop(mo, timeout, force != 0);
		return;
	}
	if (!strncmp(buf, "status", 6)) {
		const char *s = mo->stopping ? "stopping\n"
				: mo->ready  ? "running\n"
					     : "starting\n";
		send(mo->clients[i].fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
	} else {
		send(mo->clients[i].fd, "error unknown request\n", 22, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	drop_client(mo, i);
}

static void accept_client(monitor *mo)
{
	int fd = accept4(mo->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	/* Only the machine's owner (or root) may control it. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid()) || mo->n_clients == MAX_CLIENTS) {
		close(fd);
		return;
	}
	mo->clients[mo->n_clients++] = (client){.fd = fd};
}

static int listen_control(monitor *mo, berth_err *e)
{
	struct sockaddr_un sa;
	unsigned len;
	if (control_sockaddr(mo->dirfd, &sa, &len) < 0)
		return berr(e, -ENAMETOOLONG, "The control socket path is too long");
	unlinkat(mo->dirfd, MACHINE_CONTROL, 0);
	mo->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (mo->listen_fd < 0)
		return berr_errno(e, -errno, "Cannot create the control socket");
	mode_t old = umask(0077);
	int r = bind(mo->listen_fd, (struct sockaddr *)&sa, len);
	umask(old);
	if (r < 0 || listen(mo->listen_fd, 16) < 0)
		return berr_errno(e, -errno, "Cannot listen on the machine's control socket");
	return 0;
}

static int open_console(monitor *mo, berth_err *e)
{
	mo->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (mo->master < 0 || grantpt(mo->master) < 0 || unlockpt(mo->master) < 0)
		return berr_errno(e, -errno, "Cannot create the machine's console pty");
	char name[128];
	if (ptsname_r(mo->master, name, sizeof(name)) != 0)
		return berr_errno(e, -errno, "Cannot name the machine's console pty");
	mo->slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (mo->slave < 0)
		return berr_errno(e, -errno, "Cannot open the machine's console pty %s", name);
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	ioctl(mo->slave, TIOCSWINSZ, &ws);
	return 0;
}

/* How PID 1 ended. In a pid namespace the kernel turns the init's reboot(2) into its death
 * by a signal: SIGINT for halt and power-off, SIGHUP for restart. */
static void exit_text(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT)
		snprintf(buf, len, "the init halted the machine");
	else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP)
		snprintf(buf, len, "the init rebooted the machine");
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "the init was killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "the init exited with status %d", WEXITSTATUS(st));
}

/* Stop the machine's network helpers (after its init ended, or when it failed to start). */
static void net_stop(monitor *mo)
{
	if (mo->fwd.pid > 0 || mo->pasta.pid > 0)
		console_log_say(&mo->log, "network: stopping pasta and the port forwarder");
	net_child_stop(&mo->fwd);
	net_child_stop(&mo->pasta);
}

/* Kill a machine that failed to start, reap its init and remove its cgroup. */
static void machine_kill_now(monitor *mo, berth_err *e)
{
	int st;
	rt_machine_kill(&mo->m, SIGKILL, e);
	rt_machine_wait(&mo->m, -1, &st, e);
	rt_cgroup_destroy(&mo->m.cg, e);
	rt_machine_release(&mo->m);
}

/* Whether the machine's init still runs (without reaping it). */
/* Whether the init still runs after up to grace_ms: an exiting process gives up its
 * namespaces before it becomes a zombie, so one whose namespaces just vanished may still
 * look alive for a moment. */
static bool init_alive(monitor *mo, int grace_ms)
{
	struct pollfd p = {.fd = mo->m.pidfd, .events = POLLIN};
	while (poll(&p, 1, grace_ms) < 0 && errno == EINTR)
		;
	siginfo_t si = {0};
	if (waitid(P_PIDFD, (id_t)mo->m.pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid == 0;
}

/* nat: connect the machine's network namespace with pasta and follow its listening ports.
 * A pasta that cannot start fails the start, with nothing left running. */
static int net_start(monitor *mo, berth_err *e)
{
	mo->pasta = mo->fwd = (net_child){.pid = 0, .pidfd = -1};
	if (mo->net.mode != MACHINE_NET_NAT) {
		console_log_say(&mo->log, "network: %s",
				mo->net.mode == MACHINE_NET_HOST
				    ? "the host's network namespace"
				    : "own network namespace, loopback only");
		return 0;
	}
	char desc[1024];
	int r = pasta_start(&mo->net, mo->m.pid, &mo->pasta, desc, sizeof(desc), e);
	if (r < 0 && !init_alive(mo, 500)) {
		/* The init ended before pasta could join it: that is the failure to report,
		 * and the main loop does, with the console. */
		console_log_say(&mo->log, "network: not connected, the init ended first");
		berr_clear(e);
		return 0;
	}
	if (r < 0) {
		berth_err ignore = {0};
		machine_kill_now(mo, &ignore);
		return r;
	}
	console_log_say(&mo->log, "network: nat through pasta (process %d): %s", (int)mo->pasta.pid,
			desc);
	bool udp = false;
	for (size_t i = 0; i < mo->net.n_publish; i++)
		udp |= mo->net.publish[i].udp;
	if (mo->net.isolated && !udp)
		return 0;
	berth_err fe = {0};
	if (portfwd_start(&mo->net, mo->m.pid, mo->log.fd, &mo->fwd, &fe) < 0) {
		if (udp) { /* published ports are promised: fail the start */
			berth_err ignore = {0};
			net_child_stop(&mo->pasta);
			machine_kill_now(mo, &ignore);
			*e = fe;
			return fe.code ? fe.code : -EIO;
		}
		console_log_say(&mo->log,
				"network: ports the machine listens on are not forwarded: %s",
				fe.msg);
	} else {
		console_log_say(&mo->log, "network: %s (process %d)",
				mo->net.isolated ? "relaying published UDP ports"
						 : "forwarding ports the machine listens on to "
						   "127.0.0.1, relaying published UDP ports",
				(int)mo->fwd.pid);
	}
	return 0;
}

/* Whether the machine has its own copy of the image file rel (in its overlay's upper
 * directory); a full copy of the image can't tell, so it says yes. */
static bool image_file_changed(const boot_plan *p, const char *rel)
{
	if (!p->upper)
		return true;
	_cleanup_close_ int dfd = open(p->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	return dfd < 0 || fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

static int boot(monitor *mo, int timeout_ms, berth_err *e)
{
	json_t *cfg = NULL;
	int r = json_load_at(mo->dirfd, MACHINE_CONFIG, &cfg, e);
	if (r < 0)
		return r == -ENOENT ? berr(e, r, "Machine '%s' has no config.json", mo->name) : r;
	/* The plan is large (host bind paths): on the heap, so that its pages go back to the
	 * system once booted instead of staying in the monitor's stack for its whole life. */
	_cleanup_free_ boot_plan *plan = malloc(sizeof(*plan));
	if (!plan) {
		json_decref(cfg);
		return berr(e, -ENOMEM, "Out of memory for the boot plan of machine '%s'",
			    mo->name);
	}
	r = boot_plan_load(mo->root, mo->name, cfg, plan, e);
	if (r >= 0)
		r = network_config_load(cfg, &mo->net, e);
	if (r >= 0)
		r = boot_plan_prepare(plan, mo->dirfd, e);
	json_decref(cfg);
	if (plan->mountpoint && !strstr(plan->mountpoint, "XXXXXX")) {
		snprintf(mo->mountpoint, sizeof(mo->mountpoint), "%s", plan->mountpoint);
		save_state(mo, json_pack("{s:s}", "mountpoint", plan->mountpoint));
	}
	if (r >= 0)
		r = open_console(mo, e);
	if (r < 0) {
		boot_plan_free(plan);
		return r;
	}
	mo->kind = plan->init.kind;
	mo->stop_signal = plan->init.stop_signal;
	console_log_say(&mo->log, "starting machine %s: init %s (%s)", mo->name,
			rt_init_name(plan->init.kind), plan->init.path);
	rt_config c;
	boot_plan_config(plan, mo->name, mo->slave, &c);
	c.private_network = mo->net.mode != MACHINE_NET_HOST;
	_cleanup_free_ char *resolv = network_resolv_conf(mo->net.mode);
	c.resolv_conf = resolv;
	c.resolv_conf_replace_image = !image_file_changed(plan, "etc/resolv.conf");
	rt_cgroup_warmup_finish(&mo->warmup);
	r = rt_spawn(&c, &mo->m, e);
	if (r >= 0)
		r = net_start(mo, e);
	if (r >= 0) {
		mo->spawned_at = now_ms();
		mo->ready_deadline = timeout_ms > 0 ? mo->spawned_at + timeout_ms : INT64_MAX;
		save_state(mo, json_pack("{s:s,s:i,s:I,s:{s:s,s:s}}", "status", "starting",
					 "init_pid", (int)mo->m.pid, "init_start",
					 (json_int_t)proc_start_time(mo->m.pid), "init", "kind",
					 rt_init_name(mo->kind), "path", plan->init.path));
	}
	boot_plan_free(plan);
	return r;
}

/* Run the machine until its init ends. Returns true when the init asked for a reboot
 * (and nobody asked berth to stop it): the caller boots it again. */
static bool run(monitor *mo, int timeout_ms)
{
	bool exited = false;
	int status = 0;
	while (!exited) {
		int64_t now = now_ms();
		if (!mo->ready && !mo->stopping && mo->kind != RT_INIT_SYSTEMD &&
		    mo->kind != RT_INIT_BERTH &&
		    (init_has_child(mo->m.pid) || now - mo->spawned_at >= PLAIN_INIT_GRACE_MS))
			became_ready(mo);
		if (!mo->ready && !mo->stopping && now >= mo->ready_deadline) {
			char s[256];
			snprintf(s, sizeof(s),
				 "Machine '%s' did not become ready within %d seconds (its %s init "
				 "never reported it); it was stopped. Give it longer with "
				 "--timeout SECS",
				 mo->name, (timeout_ms + 999) / 1000, rt_init_name(mo->kind));
			console_log_say(&mo->log, "%s", s);
			report_failure(mo, s);
			/* It never got going: a short grace for its stop signal, then SIGKILL. */
			begin_stop(mo, TIMEOUT_STOP_MS, false);
		}
		if (mo->stopping && now >= mo->kill_deadline) {
			berth_err e = {0};
			console_log_say(&mo->log, "the init did not stop in time; killing it");
			rt_machine_kill(&mo->m, SIGKILL, &e);
			mo->kill_deadline = INT64_MAX;
		}
		int64_t wake = INT64_MAX;
		if (!mo->ready && !mo->stopping) {
			wake = mo->ready_deadline;
			if (mo->kind != RT_INIT_SYSTEMD && mo->kind != RT_INIT_BERTH)
				wake = now + 50;
		}
		if (mo->stopping && mo->kill_deadline < wake)
			wake = mo->kill_deadline;
		int tmo = wake == INT64_MAX ? -1 : wake <= now ? 0 : (int)(wake - now);

		struct pollfd p[6 + MAX_CLIENTS];
		size_t n = 0;
		p[n++] = (struct pollfd){.fd = mo->master, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = mo->m.notify_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = mo->m.pidfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = mo->listen_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = mo->sig_fd, .events = POLLIN};
		for (size_t i = 0; i < mo->n_clients; i++)
			p[n++] = (struct pollfd){.fd = mo->clients[i].fd, .events = POLLIN};
		size_t pasta_i = n;
		p[n++] = (struct pollfd){.fd = mo->pasta.pid > 0 ? mo->pasta.pidfd : -1,
					 .events = POLLIN};
		int k = poll(p, n, tmo);
		if (k < 0 && errno != EINTR)
			break;
		if (k <= 0)
			continue;
		if (p[0].revents & POLLIN)
			drain_console(mo);
		if (p[1].revents & POLLIN) {
			if (drain_notify(mo))
				became_ready(mo);
		}
		if (p[3].revents & POLLIN)
			accept_client(mo);
		if (p[4].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(mo->sig_fd, &si, sizeof(si)) == sizeof(si))
				begin_stop(mo, DEFAULT_STOP_MS, false);
		}
		/* Clients that already asked to stop only wait; others may send a request. */
		for (size_t i = mo->n_clients; i-- > 0;) {
			if (mo->clients[i].waiting) {
				char b;
				if (p[5 + i].revents & (POLLHUP | POLLERR) ||
				    ((p[5 + i].revents & POLLIN) &&
				     recv(mo->clients[i].fd, &b, 1, MSG_DONTWAIT) == 0))
					drop_client(mo, i);
			} else if (p[5 + i].revents & (POLLIN | POLLHUP | POLLERR)) {
				client_request(mo, i);
			}
		}
		int pst;
		if ((p[pasta_i].revents & POLLIN) && net_child_exited(&mo->pasta, &pst)) {
			char why[128];
			exit_text(pst, why, sizeof(why));
			console_log_say(&mo->log,
					"network: pasta ended (%s); the machine has no network now",
					why + strlen("the init "));
		}
		if (p[2].revents & POLLIN) {
			berth_err e = {0};
			if (rt_machine_wait(&mo->m, 0, &status, &e) == 0)
				exited = true;
		}
	}
	drain_console(mo);
	net_stop(mo);
	if (exited && mo->ready && !mo->stopping && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGHUP) {
		berth_err e = {0};
		int r = rt_cgroup_destroy(&mo->m.cg, &e);
		if (r == 0) {
			console_log_say(&mo->log, "machine %s is rebooting", mo->name);
			rt_machine_release(&mo->m);
			return true;
		}
		console_log_say(&mo->log, "cannot reboot: %s", e.msg);
	}
	char why[128];
	exit_text(status, why, sizeof(why));
	if (!mo->ready && mo->ready_fd >= 0) {
		char s[512];
		snprintf(s, sizeof(s), "Machine '%s' stopped before it was ready: %s", mo->name,
			 why);
		report_failure(mo, s);
	}
	berth_err e = {0};
	if (rt_cgroup_destroy(&mo->m.cg, &e) < 0)
		console_log_say(&mo->log, "cannot remove the machine's cgroup: %s", e.msg);
	console_log_say(&mo->log, "machine %s stopped: %s", mo->name, why);
	unlinkat(mo->dirfd, MACHINE_CONTROL, 0);
	if (mo->mountpoint[0])
		rmdir(mo->mountpoint);
	save_state(mo, json_pack("{s:s,s:i,s:i,s:i,s:i,s:I,s:s}", "status", "stopped",
				 "monitor_pid", 0, "monitor_start", 0, "init_pid", 0, "init_start",
				 0, "stopped_at", (json_int_t)time(NULL), "exit", why));
	for (size_t i = 0; i < mo->n_clients; i++)
		if (mo->clients[i].waiting)
			send(mo->clients[i].fd, "ok\n", 3, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (mo->n_clients)
		drop_client(mo, 0);
	rt_machine_release(&mo->m);
	return false;
}

/* Boot the machine again after a reboot from inside: a fresh console pty, init and cgroup;
 * the upper directory (everything the machine wrote) stays. */
static int reboot_machine(monitor *mo, int timeout_ms, berth_err *e)
{
	if (mo->master >= 0)
		close(mo->master);
	if (mo->slave >= 0)
		close(mo->slave);
	mo->master = mo->slave = -1;
	if (mo->mountpoint[0])
		rmdir(mo->mountpoint);
	mo->mountpoint[0] = 0;
	mo->ready = false;
	mo->status_text[0] = 0;
	return boot(mo, timeout_ms, e);
}

static int start_failed(monitor *mo, const berth_err *e)
{
	rt_cgroup_warmup_finish(&mo->warmup);
	console_log_say(&mo->log, "machine %s failed to start: %s", mo->name, e->msg);
	unlinkat(mo->dirfd, MACHINE_CONTROL, 0);
	if (mo->mountpoint[0])
		rmdir(mo->mountpoint);
	save_state(mo, json_pack("{s:s,s:i,s:i,s:I,s:s}", "status", "stopped", "monitor_pid", 0,
				 "monitor_start", 0, "stopped_at", (json_int_t)time(NULL), "exit",
				 e->msg));
	report_failure(mo, e->msg);
	return 125;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "berth-monitor is started by 'berth start'; it is not meant to be "
				"run by hand\n");
		return 125;
	}
	monitor mo = {.root = argv[1],
		      .name = argv[2],
		      .ready_fd = atoi(argv[4]),
		      .master = -1,
		      .slave = -1,
		      .listen_fd = -1,
		      .m = {.pid = -1, .pidfd = -1, .notify_fd = -1}};
	int lock_fd = atoi(argv[3]);
	int timeout_ms = atoi(argv[5]);
	berth_err e = {0};
	/* A fixed threshold: large blocks (the boot plan) are always mapped on their own and
	 * given back when freed, also after a reboot from inside (glibc would otherwise raise
	 * the threshold after the first free and keep the next one in the heap). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	/* One arena: the cgroup warm-up thread's few allocations would otherwise get an arena
	 * of their own that outlives the thread. */
	mallopt(M_ARENA_MAX, 1);
	signal(SIGPIPE, SIG_IGN);
	/* The lock and the ready pipe must not leak into the machine. */
	fcntl(lock_fd, F_SETFD, FD_CLOEXEC);
	fcntl(mo.ready_fd, F_SETFD, FD_CLOEXEC);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	mo.sig_fd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	/* With the signals above blocked, so that the thread leaves them to the signalfd. */
	rt_cgroup_warmup_start(&mo.warmup);

	char d[4096];
	snprintf(d, sizeof(d), "%s/machines/%s", mo.root, mo.name);
	mo.dirfd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mo.dirfd < 0) {
		report(&mo, "error The machine's state directory vanished\n");
		return 125;
	}
	if (console_log_open(&mo.log, mo.dirfd) < 0)
		mo.log.fd = -1;
	char boot_id[64];
	host_boot_id(boot_id);
	save_state(&mo, json_pack("{s:s,s:i,s:I,s:i,s:i,s:s,s:I,s:n,s:s}", "status", "starting",
				  "monitor_pid", (int)getpid(), "monitor_start",
				  (json_int_t)proc_start_time(getpid()), "init_pid", 0,
				  "init_start", 0, "boot_id", boot_id, "started_at",
				  (json_int_t)time(NULL), "init", "exit", ""));
	int r = listen_control(&mo, &e);
	if (r >= 0)
		r = boot(&mo, timeout_ms, &e);
	if (r < 0)
		return start_failed(&mo, &e);
	while (run(&mo, timeout_ms)) {
		r = reboot_machine(&mo, timeout_ms, &e);
		if (r < 0) {
			close(lock_fd);
			return start_failed(&mo, &e);
		}
	}
	console_log_close(&mo.log);
	close(lock_fd);
	return 0;
}
