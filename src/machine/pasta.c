/* SPDX-License-Identifier: MIT */
/*
 * pasta (Debian's passt package) connects a nat machine's network namespace to the host's:
 * a tap interface with the host's address and routes inside, TCP/UDP/ICMP through host
 * sockets outside. berth runs it in the foreground as a child of the monitor:
 *
 *   pasta --foreground --quiet --config-net -t SPEC|none -u SPEC|none -T none -U none
 *         --dns-forward NETWORK_DNS_ADDR [--no-map-gw] [--runas 0:0] INIT_PID
 *
 * -T/-U none: nothing bound in the machine on the host's behalf, so every port in it stays
 * the machine's own. The host's loopback is reached at the gateway address (pasta maps
 * it) unless the machine is isolated (--no-map-gw). As root, pasta would drop to nobody,
 * who cannot join the machine's user namespace, so it keeps uid 0 (it still drops every
 * capability it does not need and confines itself with seccomp).
 */
#include "pasta.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

#define PASTA_READY_MS 10000

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* pasta in $PATH or the usual directories; caller frees. */
static char *find_pasta(void)
{
	const char *env = getenv("PATH");
	char path[4096];
	snprintf(path, sizeof(path), "%s%s/usr/bin:/usr/sbin:/bin:/sbin", env ? env : "",
		 env && *env ? ":" : "");
	char *save = NULL;
	for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (*d != '/')
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/pasta", d) < 0)
			return NULL;
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* The start of /proc/PID/net/NAME (NUL-terminated) into buf; false when unreadable or empty. */
static bool proc_net_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/net/%s", (int)pid, name);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return true;
}

/* Whether the namespace of pid has an IPv4 default route (pasta configured it). */
static bool has_default_route(pid_t pid)
{
	char buf[8192];
	if (!proc_net_read(pid, "route", buf, sizeof(buf)))
		return false;
	char *save = NULL;
	strtok_r(buf, "\n", &save); /* header */
	for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char ifname[32];
		unsigned dest;
		if (sscanf(l, "%31s %x", ifname, &dest) == 2 && dest == 0)
			return true;
	}
	return false;
}

/* Whether the namespace of pid has an interface other than lo (IPv6-only hosts). */
static bool has_interface(pid_t pid)
{
	char buf[4096];
	if (!proc_net_read(pid, "if_inet6", buf, sizeof(buf)))
		return false;
	/* Lines end in the interface name; a global address on a non-lo interface. */
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char addr[40], ifname[32];
		unsigned idx, plen, scope, flags;
		if (sscanf(l, "%39s %x %x %x %x %31s", addr, &idx, &plen, &scope, &flags, ifname) ==
			6 &&
		    strcmp(ifname, "lo") && scope == 0)
			return true;
	}
	return false;
}

/* What pasta wrote, without its complaints about a missing syslog, as one line. */
static void pasta_message(int fd, char *out, size_t len)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	out[0] = 0;
	if (n <= 0)
		return;
	buf[n] = 0;
	size_t w = 0;
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "Failed to send", 14) || !*l)
			continue;
		int k = snprintf(out + w, len - w, "%s%s", w ? "; " : "", l);
		if (k < 0 || (size_t)k >= len - w)
			break;
		w += (size_t)k;
	}
}

static void add_arg(char **argv, size_t *n, size_t max, char *s)
{
	if (*n + 1 < max)
		argv[(*n)++] = s;
}

int pasta_start(const machine_net_opts *o, pid_t init_pid, net_child *c, char *desc,
		size_t desc_len, berth_err *e)
{
	c->pid = 0;
	c->pidfd = -1;
	_cleanup_free_ char *pasta = find_pasta();
	if (!pasta)
		return berr(e, -ENOENT,
			    "The machine's network (--network nat) needs pasta, which is not "
			    "installed; install Debian's passt package (apt-get install passt) or "
			    "create the machine with --network host");
	/* Published ports: one -t/-u per port, "IP/HOSTPORT:PORT". */
	char specs[MACHINE_PUBLISH_MAX][80];
	char *argv[32 + 2 * MACHINE_PUBLISH_MAX];
	size_t n = 0, max = sizeof(argv) / sizeof(argv[0]);
	char pidarg[16];
	snprintf(pidarg, sizeof(pidarg), "%d", (int)init_pid);
	add_arg(argv, &n, max, pasta);
	add_arg(argv, &n, max, "--foreground");
	add_arg(argv, &n, max, "--quiet");
	add_arg(argv, &n, max, "--config-net");
	/* Published UDP ports are the port forwarder's (udpfwd.c). */
	size_t ntcp = 0;
	for (size_t i = 0; i < o->n_publish; i++) {
		const machine_publish *p = &o->publish[i];
		if (p->udp)
			continue;
		snprintf(specs[i], sizeof(specs[i]), "%s/%u:%u", p->host_ip, p->host_port, p->port);
		add_arg(argv, &n, max, "-t");
		add_arg(argv, &n, max, specs[i]);
		ntcp++;
	}
	if (!ntcp) {
		add_arg(argv, &n, max, "-t");
		add_arg(argv, &n, max, "none");
	}
	add_arg(argv, &n, max, "-u");
	add_arg(argv, &n, max, "none");
	add_arg(argv, &n, max, "-T");
	add_arg(argv, &n, max, "none");
	add_arg(argv, &n, max, "-U");
	add_arg(argv, &n, max, "none");
	add_arg(argv, &n, max, "--dns-forward");
	add_arg(argv, &n, max, NETWORK_DNS_ADDR);
	if (o->isolated)
		add_arg(argv, &n, max, "--no-map-gw");
	if (geteuid() == 0) {
		add_arg(argv, &n, max, "--runas");
		add_arg(argv, &n, max, "0:0");
	}
	add_arg(argv, &n, max, pidarg);
	argv[n] = NULL;

	size_t w = 0;
	desc[0] = 0;
	for (size_t i = 1; i < n && w < desc_len; i++) {
		int k = snprintf(desc + w, desc_len - w, "%s%s", i > 1 ? " " : "", argv[i]);
		if (k < 0)
			break;
		w += (size_t)k;
	}

	/* pasta's messages go to an anonymous file: read when it fails, never a full pipe. */
	_cleanup_close_ int out = memfd_create("pasta-output", MFD_CLOEXEC);
	if (out < 0)
		return berr_errno(e, -errno, "Cannot create a file for pasta's messages");
	pid_t pid = fork();
	if (pid < 0)
		return berr_errno(e, -errno, "Cannot start pasta");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execv(argv[0], argv);
		_exit(127);
	}
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t deadline = mono_ms() + PASTA_READY_MS;
	for (;;) {
		int st;
		pid_t w2 = waitpid(pid, &st, WNOHANG);
		if (w2 == pid) {
			c->pid = 0;
			if (c->pidfd >= 0)
				close(c->pidfd);
			c->pidfd = -1;
			char msg[1024];
			pasta_message(out, msg, sizeof(msg));
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && !msg[0])
				return berr(e, -ENOEXEC, "Cannot run %s", pasta);
			return berr(e, -EIO,
				    "pasta, which connects the machine's network, failed: %s",
				    msg[0] ? msg : "it exited without saying why");
		}
		if (has_default_route(init_pid) || has_interface(init_pid))
			return 0;
		if (mono_ms() >= deadline) {
			char msg[1024];
			pasta_message(out, msg, sizeof(msg));
			net_child_stop(c);
			return berr(
			    e, -ETIMEDOUT,
			    "pasta did not set up the machine's network within %d seconds%s%s",
			    PASTA_READY_MS / 1000, msg[0] ? ": " : "", msg);
		}
		/* pasta configures the interface within a few ms: look often, it is two reads. */
		sleep_ms(1);
	}
}

void net_child_stop(net_child *c)
{
	if (c->pid <= 0)
		return;
	/* Our own child, not reaped yet: its pid cannot have been reused. */
	kill(c->pid, SIGTERM);
	int st;
	for (int i = 0; i < 200; i++) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid)
			goto done;
		sleep_ms(5);
	}
	kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
done:
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
}

bool net_child_exited(net_child *c, int *status)
{
	if (c->pid <= 0 || waitpid(c->pid, status, WNOHANG) != c->pid)
		return false;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pid = 0;
	c->pidfd = -1;
	return true;
}
