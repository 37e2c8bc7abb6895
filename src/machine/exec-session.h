/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * An interactive or piped process in a running machine, relayed to berth's own stdio.
 *
 * With a pty: a pty pair in the machine's devpts; the host terminal goes into raw mode
 * (restored on every way out, signals included), the window size is copied at start and on
 * SIGWINCH, and keys such as Ctrl-C reach the process through the pty. Without one: three
 * pipes, so stdin EOF closes the process's stdin and output streams without loss, and the
 * host's own files or terminal never enter the machine. Either way SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to berth are forwarded to the process.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "runtime.h"
#include "users.h"

typedef struct exec_request {
	char *const *argv;
	char *const *env; /* full environment (exec_env_build) */
	const machine_user *user;
	const char *cwd; /* NULL: the user's home */
	bool tty;	 /* allocate a pty */
	bool stdin_open; /* relay berth's stdin (else the process gets /dev/null) */
} exec_request;

/*
 * The environment of a process run as u: PATH (a sane default), HOME, USER, LOGNAME,
 * SHELL from u; LANG=C.UTF-8; TERM from the host when tty (else none); then each of
 * extra[] ("K=V" adds or overrides; "K" alone copies the host's K when set, else drops K).
 * Caller frees the vector with strv freeing (_cleanup_strv_).
 */
int exec_env_build(const machine_user *u, bool tty, char *const *extra, size_t n_extra, char ***out,
		   berth_err *e);

/*
 * Run the request in machine m and relay until the process exits and its output is
 * drained. *exit_code: its status (0..255), or 128+N when signal N killed it. Fails (with a
 * sentence) only for berth's own failures and for a command that cannot run: -ENOENT (not
 * found), -EACCES (not executable), as rt_exec reports them.
 */
int exec_session_run(const rt_machine *m, const exec_request *r, int *exit_code, berth_err *e);

/* The CLI exit status for a failed exec_session_run: 127, 126 or 125. */
int exec_failure_status(int code);
