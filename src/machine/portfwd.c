/* SPDX-License-Identifier: MIT */
/*
 * Auto-forwarding, as Lima and OrbStack do it: a TCP port a nat machine starts listening on
 * becomes reachable at 127.0.0.1:PORT on the host within about a second, and stops being
 * forwarded when the machine stops listening.
 *
 * pasta's own "-t auto" binds every address of the host (and cannot be combined with
 * published ports that change the port number), so berth forwards by itself. The forwarder
 * is a child of the monitor, in the host's network namespace: it reads the machine's
 * /proc/PID/net/tcp and tcp6 every second, binds 127.0.0.1:PORT for each listening port
 * (skipping ports published with -p and ports the host uses already), and relays each
 * connection to a socket made in the machine's network namespace by a helper process that
 * joined it (and the machine's user namespace, so this works for a regular user too) and
 * hands sockets back over a unix socket. Listeners bound to one specific address other than
 * loopback's 127.0.0.1 or ::1 (e.g. systemd-resolved's 127.0.0.53) are not forwarded.
 */
#include "pasta.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "console.h"
#include "runtime.h"
#include "udpfwd.h"

#define FWD_MAX_PORTS 128
#define FWD_MAX_CONNS 256
#define FWD_BUF 65536
#define FWD_SCAN_MS 1000

typedef struct fwd_port {
	uint16_t port;
	int fd;			/* listening on the host's 127.0.0.1 */
	int family;		/* of the machine's listener */
	unsigned char addr[16]; /* where to connect inside */
	bool seen;
} fwd_port;

typedef struct fwd_dir {
	char *buf;
	size_t off, len;
	bool eof;  /* the source reached its end */
	bool shut; /* the sink was shut down for writing */
} fwd_dir;

typedef struct fwd_conn {
	int a, b; /* host client, machine side */
	bool connecting;
	fwd_dir ab, ba;
} fwd_conn;

typedef struct fwd {
	pid_t init_pid;
	int log_fd;
	int helper; /* SOCK_SEQPACKET to the helper in the machine's network namespace */
	const machine_net_opts *o;
	fwd_port ports[FWD_MAX_PORTS];
	size_t n_ports;
	fwd_conn conns[FWD_MAX_CONNS];
	size_t n_conns;
	unsigned char failed[65536 / 8]; /* ports already reported as not forwardable */
	udpfwd udp;			 /* published UDP ports (udpfwd.c) */
} fwd;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A line in the console log, in the monitor's format. */
static size_t console_line(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static size_t console_line(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = console_line_v(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void say(fwd *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(fwd *f, const char *fmt, ...)
{
	if (f->log_fd < 0)
		return;
	char msg[448], buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t n = console_line(buf, sizeof(buf), "network: %s", msg);
	if (n && write(f->log_fd, buf, n) < 0)
		return;
}

/* ---- the helper inside the machine's network namespace ---------------------------------- */

static int join_ns(pid_t pid, const char *ns, int type)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return setns(fd, type) < 0 ? -errno : 0;
}

/* Requests are one byte (the address family, 4 or 6, plus 0x80 for a UDP socket); answers
 * one byte (0 or an errno) with the socket attached. */
static _Noreturn void helper_main(pid_t init_pid, int sock)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "berth-portfwd-n"); /* not the monitor's name in ps and pgrep */
	char self[64], target[64];
	snprintf(self, sizeof(self), "/proc/self/ns/user");
	snprintf(target, sizeof(target), "/proc/%d/ns/user", (int)init_pid);
	struct stat a, b;
	/* Join the machine's user namespace first when it is not ours: a regular user owns
	 * it and may then join its network namespace. */
	if (stat(self, &a) == 0 && stat(target, &b) == 0 && a.st_ino != b.st_ino &&
	    join_ns(init_pid, "user", CLONE_NEWUSER) < 0 && geteuid() != 0)
		_exit(1);
	if (join_ns(init_pid, "net", CLONE_NEWNET) < 0)
		_exit(1);
	for (;;) {
		unsigned char fam;
		ssize_t n = recv(sock, &fam, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		int type = fam & 0x80 ? SOCK_DGRAM : SOCK_STREAM;
		int s = socket((fam & 0x7f) == 6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
		unsigned char code = s < 0 ? (unsigned char)errno : 0;
		if (rt_send_fd(sock, &code, 1, s) < 0)
			_exit(0);
		if (s >= 0)
			close(s);
	}
}

/* A TCP socket in the machine's network namespace, or a negative errno. */
static int inside_socket(fwd *f, int family, int type)
{
	unsigned char fam = (family == AF_INET6 ? 6 : 4) | (type == SOCK_DGRAM ? 0x80 : 0);
	if (send(f->helper, &fam, 1, MSG_NOSIGNAL) != 1)
		return -EPIPE;
	unsigned char code = 0;
	int s = -1;
	if (rt_recv_fd(f->helper, &code, 1, &s) != 1) {
		if (s >= 0)
			close(s);
		return -EPIPE;
	}
	if (code || s < 0)
		return code ? -(int)code : -EPIPE;
	return s;
}

static int inside_socket_cb(void *arg, int family, int type)
{
	return inside_socket(arg, family, type);
}

/* ---- scanning /proc/PID/net/tcp{,6} ----------------------------------------------------- */

static bool is_published(const fwd *f, uint16_t port)
{
	for (size_t i = 0; i < f->o->n_publish; i++)
		if (!f->o->publish[i].udp && f->o->publish[i].host_port == port)
			return true;
	return false;
}

static fwd_port *find_port(fwd *f, uint16_t port)
{
	for (size_t i = 0; i < f->n_ports; i++)
		if (f->ports[i].port == port)
			return &f->ports[i];
	return NULL;
}

static void forward_port(fwd *f, uint16_t port, int family, const unsigned char *addr)
{
	fwd_port *p = find_port(f, port);
	if (p) {
		/* Prefer IPv4 inside when the machine listens on both. */
		if (family == AF_INET && p->family == AF_INET6) {
			p->family = AF_INET;
			memcpy(p->addr, addr, 4);
		}
		p->seen = true;
		return;
	}
	bool reported = f->failed[port / 8] & (1u << (port % 8));
	if (f->n_ports == FWD_MAX_PORTS || is_published(f, port))
		return;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 128) < 0) {
		int err = errno;
		if (s >= 0)
			close(s);
		if (!reported)
			say(f,
			    "the machine listens on TCP port %u, but 127.0.0.1:%u cannot be bound "
			    "on the host (%s); not forwarded",
			    port, port, strerror(err));
		f->failed[port / 8] |= (unsigned char)(1u << (port % 8));
		return;
	}
	f->failed[port / 8] &= (unsigned char)~(1u << (port % 8));
	p = &f->ports[f->n_ports++];
	*p = (fwd_port){.port = port, .fd = s, .family = family, .seen = true};
	memcpy(p->addr, addr, family == AF_INET ? 4 : 16);
	say(f, "forwarding 127.0.0.1:%u on the host to the machine's TCP port %u", port, port);
}

/* Parse one /proc/net/tcp{,6} table and forward every listening port in it. */
static void scan_table(fwd *f, const char *file, int family)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/net/%s", (int)f->init_pid, file);
	_cleanup_fclose_ FILE *fp = fopen(p, "re");
	if (!fp)
		return;
	char line[512];
	if (!fgets(line, sizeof(line), fp))
		return;
	while (fgets(line, sizeof(line), fp)) {
		char local[64];
		unsigned port, state;
		if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &port,
			   &state) != 3 ||
		    state != 0x0A || port == 0 || port > 65535)
			continue;
		/* The address is the kernel's words in host byte order, printed in hex. */
		unsigned char addr[16] = {0};
		size_t len = family == AF_INET ? 4 : 16;
		if (strlen(local) != len * 2)
			continue;
		for (size_t w = 0; w < len / 4; w++) {
			unsigned v;
			char word[9];
			memcpy(word, local + w * 8, 8);
			word[8] = 0;
			sscanf(word, "%x", &v);
			memcpy(addr + w * 4, &v, 4);
		}
		static const unsigned char any[16] = {0};
		static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
						      0, 0, 0, 0, 0, 0, 0, 1};
		if (family == AF_INET) {
			uint32_t a;
			memcpy(&a, addr, 4);
			if (a == htonl(INADDR_ANY))
				a = htonl(INADDR_LOOPBACK);
			else if (a != htonl(INADDR_LOOPBACK))
				continue;
			memcpy(addr, &a, 4);
		} else {
			if (!memcmp(addr, any, 16))
				memcpy(addr, lo6, 16);
			else if (memcmp(addr, lo6, 16))
				continue;
		}
		forward_port(f, (uint16_t)port, family, addr);
	}
}

static void scan(fwd *f)
{
	for (size_t i = 0; i < f->n_ports; i++)
		f->ports[i].seen = false;
	scan_table(f, "tcp", AF_INET);
	scan_table(f, "tcp6", AF_INET6);
	for (size_t i = f->n_ports; i-- > 0;) {
		if (f->ports[i].seen)
			continue;
		say(f, "the machine stopped listening on TCP port %u; no longer forwarded",
		    f->ports[i].port);
		close(f->ports[i].fd);
		f->ports[i] = f->ports[--f->n_ports];
	}
}

/* ---- relaying --------------------------------------------------------------------------- */

static void conn_close(fwd *f, size_t i)
{
	fwd_conn *c = &f->conns[i];
	close(c->a);
	close(c->b);
	free(c->ab.buf);
	free(c->ba.buf);
	f->conns[i] = f->conns[--f->n_conns];
}

static void accept_conn(fwd *f, fwd_port *p)
{
	int a = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (a < 0)
		return;
	if (f->n_conns == FWD_MAX_CONNS) {
		close(a);
		return;
	}
	int b = inside_socket(f, p->family, SOCK_STREAM);
	if (b < 0) {
		close(a);
		return;
	}
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	int r;
	if (p->family == AF_INET) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->port)};
		memcpy(&sa.sin_addr, p->addr, 4);
		r = connect(b, (struct sockaddr *)&sa, sizeof(sa));
	} else {
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(p->port)};
		memcpy(&sa.sin6_addr, p->addr, 16);
		r = connect(b, (struct sockaddr *)&sa, sizeof(sa));
	}
	char *ab = malloc(FWD_BUF), *ba = malloc(FWD_BUF);
	if ((r < 0 && errno != EINPROGRESS) || !ab || !ba) {
		free(ab);
		free(ba);
		close(a);
		close(b);
		return;
	}
	f->conns[f->n_conns++] =
	    (fwd_conn){.a = a, .b = b, .connecting = r < 0, .ab = {.buf = ab}, .ba = {.buf = ba}};
}

/* Move data from src to dst through d; false when the connection is done for. */
static bool pump(fwd_dir *d, int src, int dst, short src_ev)
{
	if (!d->eof && d->len == 0 && (src_ev & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(src, d->buf, FWD_BUF);
		if (n > 0) {
			d->off = 0;
			d->len = (size_t)n;
		} else if (n == 0) {
			d->eof = true;
		} else if (errno != EAGAIN && errno != EINTR) {
			return false;
		}
	}
	if (d->len) {
		ssize_t n = send(dst, d->buf + d->off, d->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			d->off += (size_t)n;
			d->len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return false;
		}
	}
	if (d->eof && d->len == 0 && !d->shut) {
		shutdown(dst, SHUT_WR);
		d->shut = true;
	}
	return true;
}

static _Noreturn void forwarder_main(fwd *f)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "berth-portfwd");
	int64_t next_scan = 0;
	struct pollfd
	    p[FWD_MAX_PORTS + 2 * FWD_MAX_CONNS + 1 + MACHINE_PUBLISH_MAX + UDPFWD_MAX_SESSIONS];
	for (;;) {
		int64_t now = mono_ms();
		if (now >= next_scan) {
			if (kill(f->init_pid, 0) < 0 && errno == ESRCH)
				_exit(0);
			if (!f->o->isolated) /* an isolated machine's ports are its own */
				scan(f);
			next_scan = now + FWD_SCAN_MS;
		}
		size_t n = 0;
		p[n++] = (struct pollfd){.fd = f->helper, .events = 0};
		size_t port0 = n;
		for (size_t i = 0; i < f->n_ports; i++)
			p[n++] = (struct pollfd){.fd = f->ports[i].fd, .events = POLLIN};
		size_t conn0 = n;
		for (size_t i = 0; i < f->n_conns; i++) {
			fwd_conn *c = &f->conns[i];
			short ea = 0, eb = 0;
			if (c->connecting) {
				eb = POLLOUT;
			} else {
				if (!c->ab.eof && !c->ab.len)
					ea |= POLLIN;
				if (c->ab.len)
					eb |= POLLOUT;
				if (!c->ba.eof && !c->ba.len)
					eb |= POLLIN;
				if (c->ba.len)
					ea |= POLLOUT;
			}
			p[n++] = (struct pollfd){.fd = c->a, .events = ea};
			p[n++] = (struct pollfd){.fd = c->b, .events = eb};
		}
		size_t udp0 = n;
		n += udpfwd_pollfds(&f->udp, p + n);
		int tmo = (int)(next_scan - mono_ms());
		int k = poll(p, n, tmo < 0 ? 0 : tmo);
		if (k < 0 && errno != EINTR)
			_exit(1);
		if (k <= 0)
			continue;
		if (p[0].revents & (POLLHUP | POLLERR))
			_exit(0); /* the helper is gone: the machine's namespace is */
		udpfwd_handle(&f->udp, p + udp0, inside_socket_cb, f, mono_ms());
		/* Connections first (indices shift when one closes; walk backwards). */
		for (size_t i = f->n_conns; i-- > 0;) {
			fwd_conn *c = &f->conns[i];
			short ra = p[conn0 + 2 * i].revents, rb = p[conn0 + 2 * i + 1].revents;
			if (c->connecting) {
				if (!(rb & (POLLOUT | POLLERR | POLLHUP)))
					continue;
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(c->b, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					conn_close(f, i);
					continue;
				}
				c->connecting = false;
				continue;
			}
			if (!pump(&c->ab, c->a, c->b, ra) || !pump(&c->ba, c->b, c->a, rb) ||
			    (c->ab.shut && c->ba.shut))
				conn_close(f, i);
		}
		for (size_t i = 0; i < f->n_ports && port0 + i < conn0; i++)
			if (p[port0 + i].revents & POLLIN)
				accept_conn(f, &f->ports[i]);
	}
}

int portfwd_start(const machine_net_opts *o, pid_t init_pid, int log_fd, net_child *c, berth_err *e)
{
	c->pid = 0;
	c->pidfd = -1;
	/* The host's side of published UDP ports, bound here so that a taken one fails now;
	 * the forwarder inherits them (the monitor keeps none). */
	static fwd f;
	int r = udpfwd_bind(&f.udp, o, e);
	if (r < 0)
		return r;
	pid_t pid = fork();
	if (pid < 0) {
		udpfwd_close(&f.udp);
		return berr_errno(e, -errno, "Cannot start the port forwarder");
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_IGN);
		/* Keep only the log: none of the monitor's sockets, ptys or locks. */
		int log = log_fd >= 0 ? fcntl(log_fd, F_DUPFD_CLOEXEC, 100) : -1;
		for (int fd = 3; fd < 100; fd++) {
			bool keep = false;
			for (size_t i = 0; i < f.udp.n_ports; i++)
				keep |= f.udp.ports[i].fd == fd;
			if (!keep)
				close(fd);
		}
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
			_exit(1);
		pid_t h = fork();
		if (h < 0)
			_exit(1);
		if (h == 0) {
			close(sp[0]);
			if (log >= 0)
				close(log);
			helper_main(init_pid, sp[1]);
		}
		close(sp[1]);
		f.init_pid = init_pid;
		f.log_fd = log;
		f.helper = sp[0];
		f.o = o;
		forwarder_main(&f);
	}
	udpfwd_close(&f.udp);
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}
