/* SPDX-License-Identifier: MIT */
/*
 * The stdio relay of `berth exec` and `berth shell`: one poll loop over berth's stdio, the
 * process's pty master or pipes, a signalfd and the process's pidfd.
 *
 * Our own ends (pty master, pipes) are non-blocking, so a process that stops reading its
 * input while flooding its output can never deadlock the relay. berth's stdio stays as the
 * caller set it up (changing O_NONBLOCK there would change it for the shell around us): it
 * is read only after poll says so, and written with blocking writes, which is the
 * back-pressure a slow reader of our stdout should cause.
 */
#include "exec-session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define BUF_SIZE 65536

/* Signals forwarded to the process; SIGWINCH is handled, not forwarded. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static int env_set(char ***env, size_t *n, const char *kv)
{
	size_t kl = strcspn(kv, "=");
	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*env)[i], kv, kl) && (*env)[i][kl] == '=') {
			char *d = strdup(kv);
			if (!d)
				return -ENOMEM;
			free((*env)[i]);
			(*env)[i] = d;
			return 0;
		}
	char **nv = realloc(*env, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*env = nv;
	if (!(nv[*n] = strdup(kv)))
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

static void env_unset(char **env, size_t *n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < *n; i++)
		if (!strncmp(env[i], key, kl) && env[i][kl] == '=') {
			free(env[i]);
			memmove(env + i, env + i + 1, (*n - i) * sizeof(char *));
			(*n)--;
			return;
		}
}

static int env_setf(char ***env, size_t *n, const char *k, const char *v)
{
	_cleanup_free_ char *kv = NULL;
	if (asprintf(&kv, "%s=%s", k, v) < 0)
		return -ENOMEM;
	return env_set(env, n, kv);
}

int exec_env_build(const machine_user *u, bool tty, char *const *extra, size_t n_extra, char ***out,
		   berth_err *e)
{
	*out = NULL;
	_cleanup_strv_ char **env = calloc(1, sizeof(char *));
	size_t n = 0;
	if (!env)
		return berr(e, -ENOMEM, "Out of memory building the environment");
	int r = env_setf(&env, &n, "PATH", DEFAULT_PATH);
	if (!r)
		r = env_setf(&env, &n, "HOME", u->home[0] ? u->home : "/");
	if (!r && u->name[0])
		r = env_setf(&env, &n, "USER", u->name);
	if (!r && u->name[0])
		r = env_setf(&env, &n, "LOGNAME", u->name);
	if (!r)
		r = env_setf(&env, &n, "SHELL", u->shell[0] ? u->shell : "/bin/sh");
	if (!r)
		r = env_setf(&env, &n, "LANG", "C.UTF-8");
	if (!r && tty) {
		const char *term = getenv("TERM");
		r = env_setf(&env, &n, "TERM", term && *term ? term : "xterm");
	}
	for (size_t i = 0; !r && i < n_extra; i++) {
		const char *kv = extra[i];
		size_t kl = strcspn(kv, "=");
		if (kl == 0)
			return berr(e, -EINVAL,
				    "The environment setting '%s' has no name; give -e NAME=VALUE "
				    "or -e NAME",
				    kv);
		if (kv[kl] == '=') {
			r = env_set(&env, &n, kv);
			continue;
		}
		const char *host = getenv(kv);
		if (host)
			r = env_setf(&env, &n, kv, host);
		else
			env_unset(env, &n, kv);
	}
	if (r < 0)
		return berr(e, r, "Out of memory building the environment");
	*out = TAKE_PTR(env);
	return 0;
}

int exec_failure_status(int code)
{
	return code == -ENOENT ? 127 : code == -EACCES ? 126 : 125;
}

/* ---- the relay --------------------------------------------------------------------------- */

typedef struct stream {
	int from, to; /* -1 when closed */
	char *buf;
	size_t len, off; /* pending bytes buf[off..len) */
	bool eof;	 /* `from` reached EOF; close `to` once the buffer is written */
	bool own_from;	 /* close `from` when done (not berth's stdio, not the pty master) */
	bool own_to;	 /* close `to` when done */
} stream;

typedef struct session {
	int master; /* pty master, or -1 */
	bool raw;   /* host terminal in raw mode */
	struct termios saved;
	int term_fd;	  /* host terminal for raw mode and window size, or -1 */
	stream in;	  /* berth stdin -> process (pipe or pty master) */
	stream out;	  /* process stdout (or the pty master) -> berth stdout */
	stream err;	  /* process stderr -> berth stderr (no pty only) */
	bool send_eof;	  /* pty and stdin not a terminal: send VEOF at stdin's EOF */
	sigset_t ignored; /* signals berth was started ignoring (nohup): not forwarded */
} session;

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void copy_winsize(const session *s)
{
	struct winsize ws;
	if (s->master >= 0 && s->term_fd >= 0 && ioctl(s->term_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(s->master, TIOCSWINSZ, &ws);
}

static void stream_close_from(stream *st)
{
	if (st->from >= 0 && st->own_from)
		close(st->from);
	st->from = -1;
}

static void stream_close_to(stream *st)
{
	if (st->to >= 0 && st->own_to)
		close(st->to);
	st->to = -1;
}

/* The reader of st went away (EPIPE, a closed terminal): stop the stream, so the process
 * sees its output end close, as it would locally. */
static void stream_abort(stream *st)
{
	st->len = st->off = 0;
	stream_close_to(st);
	stream_close_from(st);
}

/* Write pending bytes to st->to: fully to a blocking fd, until EAGAIN to a non-blocking. */
static void stream_flush(stream *st)
{
	while (st->to >= 0 && st->off < st->len) {
		ssize_t n = write(st->to, st->buf + st->off, st->len - st->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			stream_abort(st);
			return;
		}
		st->off += (size_t)n;
	}
	if (st->off == st->len)
		st->off = st->len = 0;
	if (st->eof && st->len == 0)
		stream_close_to(st);
}

/* Read once from st->from into the empty buffer. Returns false when nothing came. */
static bool stream_fill(stream *st)
{
	if (st->from < 0 || st->len)
		return false;
	ssize_t n;
	do
		n = read(st->from, st->buf, BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return false;
	if (n <= 0) { /* EOF, or EIO from a pty master whose slave is closed everywhere */
		st->eof = true;
		stream_close_from(st);
		return false;
	}
	st->len = (size_t)n;
	st->off = 0;
	return true;
}

static void restore_terminal(session *s)
{
	if (s->raw) {
		tcsetattr(s->term_fd, TCSADRAIN, &s->saved);
		s->raw = false;
	}
}

/* The pty master is shared by two streams: once the output side is done with it (EIO: no
 * slave left; or nobody reads our stdout), hang it up, which sends SIGHUP to the session
 * in the machine as closing a terminal window does. */
static void master_check(session *s)
{
	if (s->master >= 0 && s->out.from < 0) {
		close(s->master);
		s->master = -1;
		s->in.to = -1;
		s->in.len = s->in.off = 0;
	}
}

static int session_setup(session *s, const rt_machine *m, const exec_request *r, rt_exec_opts *o,
			 int child_fds[3], berth_err *e)
{
	if (r->tty) {
		int slave;
		int rc = rt_pty_open(m, r->user->uid, &s->master, &slave, e);
		if (rc < 0)
			return rc;
		child_fds[0] = child_fds[1] = child_fds[2] = slave;
		for (int fd = 0; fd < 3 && s->term_fd < 0; fd++)
			if (isatty(fd))
				s->term_fd = fd;
		copy_winsize(s);
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s->saved) == 0) {
			struct termios raw = s->saved;
			cfmakeraw(&raw);
			if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) {
				s->raw = true;
				s->term_fd = STDIN_FILENO;
			}
		}
		set_nonblock(s->master);
		s->out.from = s->master;
		s->out.to = STDOUT_FILENO;
		if (r->stdin_open) {
			s->in.from = STDIN_FILENO;
			s->in.to = s->master;
			s->send_eof = !isatty(STDIN_FILENO);
		}
		o->tty = true;
	} else {
		int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
		for (int i = 0; i < 3; i++) {
			if (i == 0 && !r->stdin_open)
				continue;
			if (pipe2(p[i], O_CLOEXEC) < 0) {
				int rc =
				    berr_errno(e, -errno, "Cannot create a pipe for the process");
				for (int j = 0; j < i; j++) {
					if (p[j][0] >= 0)
						close(p[j][0]);
					if (p[j][1] >= 0)
						close(p[j][1]);
				}
				return rc;
			}
			/* A larger pipe means fewer wake-ups for large outputs (best effort). */
			fcntl(p[i][1], F_SETPIPE_SZ, 1 << 20);
		}
		if (r->stdin_open) {
			child_fds[0] = p[0][0];
			s->in.from = STDIN_FILENO;
			s->in.to = p[0][1];
			s->in.own_to = true;
			set_nonblock(p[0][1]);
		}
		child_fds[1] = p[1][1];
		child_fds[2] = p[2][1];
		s->out.from = p[1][0];
		s->out.own_from = true;
		s->out.to = STDOUT_FILENO;
		s->err.from = p[2][0];
		s->err.own_from = true;
		s->err.to = STDERR_FILENO;
		set_nonblock(p[1][0]);
		set_nonblock(p[2][0]);
	}
	o->stdin_fd = child_fds[0];
	o->stdout_fd = child_fds[1];
	o->stderr_fd = child_fds[2];
	return 0;
}

static void close_child_fds(int child_fds[3])
{
	for (int i = 0; i < 3; i++) {
		if (child_fds[i] < 0)
			continue;
		for (int j = i + 1; j < 3; j++)
			if (child_fds[j] == child_fds[i])
				child_fds[j] = -1;
		close(child_fds[i]);
		child_fds[i] = -1;
	}
}

static void session_close(session *s)
{
	restore_terminal(s);
	stream *all[] = {&s->in, &s->out, &s->err};
	for (size_t i = 0; i < 3; i++) {
		stream_close_from(all[i]);
		stream_close_to(all[i]);
		free(all[i]->buf);
	}
	if (s->master >= 0)
		close(s->master);
	s->master = -1;
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Forward what berth received to the process; SIGWINCH copies the window size. */
static void handle_signals(session *s, int sfd, int pidfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if ((int)si.ssi_signo == SIGWINCH)
			copy_winsize(s);
		else if (pidfd >= 0 && !sigismember(&s->ignored, (int)si.ssi_signo))
			pidfd_signal(pidfd, (int)si.ssi_signo);
	}
}

/* Pipe or pty input reached EOF: a pipe gets closed by stream_flush; a pty gets the
 * terminal's end-of-file character when stdin is not a terminal (what a typed Ctrl-D
 * does), else stdin is simply no longer read. */
static void input_eof(session *s)
{
	stream *st = &s->in;
	if (s->master < 0 || st->to < 0)
		return;
	if (!s->send_eof) {
		st->to = -1;
		return;
	}
	struct termios t;
	st->buf[0] = tcgetattr(s->master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
	st->len = 1;
	st->off = 0;
	st->eof = false;
	s->send_eof = false;
}

/* Drain what the process wrote before it exited: read until nothing is left (a pty master
 * flushes its pending input before it says EAGAIN) and write it out. */
static void drain(stream *st)
{
	for (;;) {
		stream_flush(st);
		if (st->len || !stream_fill(st))
			break;
	}
	stream_flush(st);
}

static int relay(session *s, int sfd, int pidfd, pid_t pid, int *exit_code, berth_err *e)
{
	stream *all[] = {&s->in, &s->out, &s->err};
	for (;;) {
		struct pollfd p[5];
		stream *owner[5] = {0};
		nfds_t n = 0;
		p[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		for (size_t i = 0; i < 3; i++) {
			stream *st = all[i];
			if (st->len && st->to >= 0) {
				owner[n] = st;
				p[n++] = (struct pollfd){.fd = st->to, .events = POLLOUT};
			} else if (!st->len && st->from >= 0 && st->to >= 0) {
				owner[n] = st;
				p[n++] = (struct pollfd){.fd = st->from, .events = POLLIN};
			}
		}
		int k = poll(p, n, -1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return berr_errno(e, -errno, "Cannot wait for the process in the machine");
		if (p[0].revents)
			handle_signals(s, sfd, pidfd);
		for (nfds_t i = 2; i < n; i++) {
			stream *st = owner[i];
			if (!p[i].revents)
				continue;
			if (p[i].events & POLLOUT) {
				if (p[i].revents & POLLERR)
					stream_abort(st);
				else
					stream_flush(st);
			} else {
				stream_fill(st);
				if (st == &s->in && st->eof)
					input_eof(s);
				stream_flush(st);
			}
			master_check(s);
		}
		if (p[1].revents) {
			int st = 0;
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				drain(&s->out);
				drain(&s->err);
				*exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				return 0;
			}
		}
	}
}

int exec_session_run(const rt_machine *m, const exec_request *r, int *exit_code, berth_err *e)
{
	*exit_code = 125;
	session s = {.master = -1, .term_fd = -1};
	s.in = s.out = s.err = (stream){.from = -1, .to = -1};
	int child_fds[3] = {-1, -1, -1};
	rt_exec_opts o = {
	    .argv = r->argv,
	    .env = r->env,
	    .uid = r->user->uid,
	    .gid = r->user->gid,
	    .groups = r->user->groups,
	    .n_groups = r->user->n_groups,
	    .cwd = r->cwd,
	};

	/* Signals first, so none arriving from here on is lost or kills us in raw mode. */
	sigset_t mask, old;
	sigemptyset(&mask);
	sigemptyset(&s.ignored);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) {
		struct sigaction sa;
		sigaddset(&mask, forwarded[i]);
		/* Blocked signals reach the signalfd even when ignored; keep nohup's meaning. */
		if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&s.ignored, forwarded[i]);
	}
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, &old);
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	int rc = 0;
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	_cleanup_close_ int pidfd = -1;
	pid_t pid = -1;
	if (sfd < 0) {
		rc = berr_errno(e, -errno, "Cannot set up signal handling");
		goto out;
	}
	s.in.buf = malloc(BUF_SIZE);
	s.out.buf = malloc(BUF_SIZE);
	s.err.buf = malloc(BUF_SIZE);
	if (!s.in.buf || !s.out.buf || !s.err.buf) {
		rc = berr(e, -ENOMEM, "Out of memory");
		goto out;
	}
	rc = session_setup(&s, m, r, &o, child_fds, e);
	if (rc < 0)
		goto out;
	rc = rt_exec(m, &o, &pid, e);
	close_child_fds(child_fds);
	if (rc < 0)
		goto out;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		rc = berr_errno(e, -errno, "Cannot watch the process in the machine");
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	rc = relay(&s, sfd, pidfd, pid, exit_code, e);
	if (rc < 0) {
		pidfd_signal(pidfd, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
out:
	close_child_fds(child_fds);
	session_close(&s);
	/* Signals that came after the process ended were meant for it, not for berth. */
	if (sfd >= 0)
		handle_signals(&s, sfd, -1);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
